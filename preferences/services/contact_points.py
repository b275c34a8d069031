"""The customer's own addresses: add with a code, confirm, remove.

Double opt-in: a new address carries nothing until its holder confirms it, by the
code in the portal or the link in the same message. Addresses staff or an import
add get the same request, sent by the bank on its own.
"""

from __future__ import annotations

import logging

from django.core.cache import cache
from django.utils.translation import gettext_lazy as _

from consent import services as consent_services
from consent.errors import ApplicationError
from consent.ledger import Actor, Evidence
from consent.models import (
    ConsentEvent,
    ContactPoint,
    Customer,
)
from preferences import confirm_links
from preferences.models import (
    OneTimeCode,
)
from preferences.services._common import (
    CODES_PER_HOUR,
    MSG_LAST_VERIFIED,
    MSG_TOO_MANY_CODES,
    _send_keys,
)
from preferences.services.codes import (
    CodeTarget,
    one_time_code_check,
    one_time_code_issue,
)

logger = logging.getLogger(__name__)

MSG_ALREADY_CONFIRMED = _("This address is already confirmed.")
CONFIRMABLE_KINDS = ("phone", "email")

# --- contact points ---


def contact_point_add_and_send(
    *, customer: Customer, target: CodeTarget, ip: str, evidence: Evidence
) -> ContactPoint:
    """Add an unverified address and send it a code to prove it."""
    _check_send_allowed_preview(target, ip)
    contact_point = consent_services.contact_point_add(
        customer=customer,
        kind=target.kind,
        address=target.normalised,
        source=ConsentEvent.Source.PORTAL,
        actor=Actor.customer(customer),
        evidence=evidence,
    )
    one_time_code_issue(
        purpose=OneTimeCode.Purpose.VERIFY_CONTACT,
        target=target,
        ip=ip,
        contact_point=contact_point,
        confirm_url=confirm_links.confirm_url(contact_point),
    )
    return contact_point


def _check_send_allowed_preview(target: CodeTarget, ip: str) -> None:
    if any(
        (cache.get(k) or 0) >= CODES_PER_HOUR
        for k in _send_keys(target.blind_index, ip)
    ):
        raise ApplicationError(MSG_TOO_MANY_CODES, code="throttled")


def _confirmation_send(*, contact_point: ContactPoint, ip: str | None) -> None:
    if contact_point.is_verified or contact_point.status != ContactPoint.Status.ACTIVE:
        raise ApplicationError(MSG_ALREADY_CONFIRMED, code="already_confirmed")
    one_time_code_issue(
        purpose=OneTimeCode.Purpose.VERIFY_CONTACT,
        target=CodeTarget(kind=contact_point.kind, normalised=contact_point.address),
        ip=ip,
        contact_point=contact_point,
        confirm_url=confirm_links.confirm_url(contact_point),
    )


def contact_point_code_resend(*, contact_point: ContactPoint, ip: str) -> None:
    """Send a fresh code and link to an address waiting for confirmation (the same
    throttles as every code)."""
    _confirmation_send(contact_point=contact_point, ip=ip)


def contact_point_confirmation_request(*, contact_point_id: int) -> bool:
    """Ask the holder of an address staff or an import added to confirm it. Returns
    whether a request went out (not for a confirmed, removed or flagged address,
    nor past the hourly limit of codes for it)."""
    contact_point = (
        ContactPoint.objects.filter(
            pk=contact_point_id,
            removed_at__isnull=True,
            verified_at__isnull=True,
            kind__in=CONFIRMABLE_KINDS,
            customer__status=Customer.Status.ACTIVE,
        )
        .select_related("customer")
        .first()
    )
    if contact_point is None:
        return False
    try:
        _confirmation_send(contact_point=contact_point, ip=None)
    except ApplicationError as exc:
        logger.info("confirmation request not sent: %s", exc.code)
        return False
    return True


def contact_point_link_confirm(*, token: str, evidence: Evidence) -> ContactPoint:
    """The holder opened the link sent to the address: it is confirmed. Raises
    ``confirm_links.InvalidConfirmLink`` for a bad, old or spent link."""
    contact_point = confirm_links.confirm_target(token)
    return consent_services.contact_point_verify(
        contact_point=contact_point,
        source=ConsentEvent.Source.PORTAL,
        actor=Actor.public("confirm_link"),
        evidence=Evidence(
            ip=evidence.ip,
            user_agent=evidence.user_agent,
            request_id=evidence.request_id,
            extra=(*evidence.extra, ("proof", "link_to_address")),
        ),
    )


def contact_point_code_confirm(
    *, contact_point: ContactPoint, code: str, ip: str, evidence: Evidence
) -> ContactPoint:
    one_time_code_check(
        purpose=OneTimeCode.Purpose.VERIFY_CONTACT,
        blind_index=contact_point.blind_index,
        code=code,
        ip=ip,
    )
    return consent_services.contact_point_verify(
        contact_point=contact_point,
        source=ConsentEvent.Source.PORTAL,
        actor=Actor.customer(contact_point.customer),
        evidence=evidence,
    )


def contact_point_remove_own(
    *, contact_point: ContactPoint, evidence: Evidence
) -> ContactPoint:
    customer = contact_point.customer
    others = (
        customer.contact_points.filter(
            removed_at__isnull=True,
            verified_at__isnull=False,
            status=ContactPoint.Status.ACTIVE,
            kind__in=("phone", "email"),
        )
        .exclude(pk=contact_point.pk)
        .exists()
    )
    if contact_point.is_verified and not others:
        raise ApplicationError(MSG_LAST_VERIFIED, code="last_verified")
    return consent_services.contact_point_remove(
        contact_point=contact_point,
        source=ConsentEvent.Source.PORTAL,
        actor=Actor.customer(customer),
        evidence=evidence,
    )
