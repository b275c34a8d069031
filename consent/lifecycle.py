"""Customer life events that end marketing for good."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from consent.errors import ApplicationError
from consent.ledger import Actor, Evidence
from consent.models import ConsentEvent, Customer
from consent.services import consent_opt_out_all
from consent.unit import consent_change

MSG_NOT_ACTIVE = _("Only an active customer can be recorded as deceased.")


def customer_mark_deceased(
    *, customer: Customer, actor: Actor, evidence: Evidence | None = None
) -> Customer:
    """Record a confirmed death: every marketing message stops at once and for good.

    The stop is written to the ledger as a staff opt-out-all; the deceased status
    then makes ``consent_grant`` refuse any later grant and keeps the portal closed,
    so nobody can restart marketing for this customer.
    """
    evidence = evidence or Evidence(extra=(("reason", "deceased"),))
    with consent_change(
        actor=actor, source=ConsentEvent.Source.STAFF, evidence=evidence
    ) as change:
        if change.lock(customer).get(customer.pk) != Customer.Status.ACTIVE:
            raise ApplicationError(MSG_NOT_ACTIVE, code="customer_inactive")
        consent_opt_out_all(
            customer=customer,
            source=ConsentEvent.Source.STAFF,
            actor=actor,
            evidence=evidence,
            change=change,
        )
        customer.status = Customer.Status.DECEASED
        customer.save(update_fields=["status"])
    return customer
