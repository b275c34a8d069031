"""The customer's own addresses: add with a code, confirm, remove."""

from __future__ import annotations

from django.core.cache import cache

from consent import services as consent_services
from consent.errors import ApplicationError
from consent.ledger import Actor, Evidence
from consent.models import (
    ConsentEvent,
    ContactPoint,
    Customer,
)
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
    )
    return contact_point


def _check_send_allowed_preview(target: CodeTarget, ip: str) -> None:
    if any(
        (cache.get(k) or 0) >= CODES_PER_HOUR
        for k in _send_keys(target.blind_index, ip)
    ):
        raise ApplicationError(MSG_TOO_MANY_CODES, code="throttled")


def contact_point_code_resend(*, contact_point: ContactPoint, ip: str) -> None:
    one_time_code_issue(
        purpose=OneTimeCode.Purpose.VERIFY_CONTACT,
        target=CodeTarget(kind=contact_point.kind, normalised=contact_point.address),
        ip=ip,
        contact_point=contact_point,
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
