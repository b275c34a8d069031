"""Customer life events that end marketing for good."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from consent.errors import ApplicationError
from consent.ledger import Actor, Evidence, lock_head
from consent.models import Customer
from consent.services import consent_opt_out_all, contactability_refresh_customer

MSG_NOT_ACTIVE = _("Only an active customer can be recorded as deceased.")


@transaction.atomic
def customer_mark_deceased(
    *, customer: Customer, actor: Actor, evidence: Evidence | None = None
) -> Customer:
    """Record a confirmed death: every marketing message stops at once and for good.

    The stop is written to the ledger as a staff opt-out-all; the deceased status
    then makes ``consent_grant`` refuse any later grant and keeps the portal closed,
    so nobody can restart marketing for this customer.
    """
    customer.refresh_from_db(fields=["status"])
    if customer.status != Customer.Status.ACTIVE:
        raise ApplicationError(MSG_NOT_ACTIVE, code="customer_inactive")
    consent_opt_out_all(
        customer=customer,
        source="staff",
        actor=actor,
        evidence=evidence or Evidence(extra=(("reason", "deceased"),)),
    )
    head = lock_head()
    customer.status = Customer.Status.DECEASED
    customer.save(update_fields=["status"])
    contactability_refresh_customer(head=head, customer=customer)
    return customer
