"""Rights requests (access, correction, deletion) handled like complaints: told at
once, answered within 30 days, extended only with reasons before then (three months
at most in all), refused only with reasons and the route to complain, alerted when
overdue.

Deletion keeps the erasure rules of ``consent.erasure`` through the preferences
services: identifiers stay suppressed as keyed hashes and the grace period applies.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from backoffice.roles import COMPLIANCE_OFFICER, SUPERVISOR
from complaints.deadlines import get_policy
from complaints.models import RightsRequest, RightsRequestMessage
from consent.errors import ApplicationError
from consent.identifiers import mask
from consent.ledger import Actor
from consent.models import ContactPoint, Customer

MSG_DETAILS_REQUIRED = _("Tell us what is wrong and what it should say.")
MSG_NOT_OPEN = _("This request is no longer open.")
MSG_ALREADY_EXTENDED = _("This request has already been extended.")
MSG_EXTENSION_TOO_LATE = _(
    "The extension notice must be sent before the 30 days end; this request is "
    "already due."
)
MSG_EXTENSION_TOO_LONG = _("Three months in all is the most a request can take.")
MSG_REASONS_REQUIRED = _("Give the reasons; the customer will read them.")
MSG_OUTCOME_REQUIRED = _("Say what was done; the customer will read it.")


def _end_of_day(day) -> datetime:
    return datetime.combine(
        day, time(23, 59, 59), tzinfo=timezone.get_current_timezone()
    )


def _after(start: datetime, days: int) -> datetime:
    return _end_of_day(timezone.localtime(start).date() + timedelta(days=days))


def _when(value: datetime) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d")


def _language(customer: Customer) -> str:
    return customer.preferred_language or settings.LANGUAGE_CODE


def _recipient(customer: Customer) -> tuple[str, str] | None:
    points = [
        cp
        for cp in customer.contact_points.all()
        if cp.status == ContactPoint.Status.ACTIVE
        and cp.removed_at is None
        and cp.verified_at is not None
        and cp.kind in ("email", "phone")
        and cp.address_encrypted
    ]
    points.sort(key=lambda cp: (cp.kind != "email", cp.created_at))
    return (points[0].address, points[0].kind) if points else None


def _notify(
    request: RightsRequest, *, kind: str, subject: str, body: str, actor
) -> RightsRequestMessage:
    """Store the notice (the portal shows it) and send it after commit. The address
    is read now: a deletion may erase it before the send runs."""
    recipient = _recipient(request.customer)
    message = RightsRequestMessage.objects.create(
        request=request,
        kind=kind,
        subject=subject,
        body=body,
        author=str(actor),
        recipient=mask(recipient[1], recipient[0]) if recipient else "",
    )
    if recipient is None:
        message.sent_at = timezone.now()  # the portal is the only channel
        message.save(update_fields=["sent_at"])
        return message
    to, address_kind = recipient
    message_id = message.pk

    def send() -> None:
        from consent.tasks import send_message_task

        send_message_task.delay(
            to=to,
            kind=address_kind,
            subject=subject,
            body=body,
            purpose=f"rights_{kind}",
        )
        RightsRequestMessage.objects.filter(pk=message_id, sent_at=None).update(
            sent_at=timezone.now()
        )

    transaction.on_commit(send)
    return message


def _complaint_route(policy_code: str) -> str:
    """Where a customer can complain about how we handled their request."""
    portal = settings.SITE_BASE_URL.rstrip("/") + "/complaints/new/"
    ours = gettext(
        "If you disagree, you can complain to us in the self-service portal "
        "(%(url)s) or by contacting us."
    ) % {"url": portal}
    if policy_code == "uk":
        regulator = gettext(
            "You can also complain to the Information Commissioner's Office: "
            "ico.org.uk/make-a-complaint, 0303 123 1113."
        )
    elif policy_code == "us":
        regulator = gettext(
            "You can also submit a complaint to the Consumer Financial Protection "
            "Bureau at www.consumerfinance.gov/complaint or by calling "
            "(855) 411-2372."
        )
    else:
        regulator = gettext(
            "You can also complain to the authorities that protect personal "
            "information (the Cyberspace Administration's reporting centre, "
            "12377) or to the banking regulator's hotline 12378, or go to court."
        )
    return f"{ours} {regulator}"


def _reference(request: RightsRequest) -> str:
    return f"RR-{timezone.localtime(request.received_at):%Y}-{request.pk:06d}"


def _lock(request: RightsRequest) -> RightsRequest:
    fresh = RightsRequest.objects.select_for_update().get(pk=request.pk)
    request.__dict__.update(fresh.__dict__)
    return request


def _require_open(request: RightsRequest) -> None:
    if not request.is_open:
        raise ApplicationError(MSG_NOT_OPEN, code="not_open")


@transaction.atomic
def rights_request_create(
    *, customer: Customer, kind: str, details: str = "", actor: Actor | str
) -> RightsRequest:
    """Record the request and acknowledge it at once. An open request of the same
    kind is returned instead of a second one."""
    kind = RightsRequest.Kind(kind)
    details = (details or "").strip()
    if kind == RightsRequest.Kind.CORRECTION and not details:
        raise ValidationError({"details": MSG_DETAILS_REQUIRED}, code="required")
    Customer.objects.select_for_update().filter(pk=customer.pk).first()
    existing = RightsRequest.objects.open().filter(customer=customer, kind=kind).first()
    if existing is not None:
        return existing
    now = timezone.now()
    request = RightsRequest(
        customer=customer,
        kind=kind,
        details=details,
        received_at=now,
        acknowledged_at=now,
        due_at=_after(now, settings.RIGHTS_REQUEST_DAYS),
    )
    if kind == RightsRequest.Kind.DELETION:
        from preferences.services import erasure_request_create

        request.erasure_request = erasure_request_create(customer=customer)
    request.full_clean(exclude=("reference",))
    request.save()
    request.reference = _reference(request)
    request.save(update_fields=["reference"])
    with translation.override(_language(customer)):
        subject = gettext("We received your request %(reference)s") % {
            "reference": request.reference
        }
        body = gettext(
            "We received your request (%(kind)s) on %(received)s, reference "
            "%(reference)s. We will answer by %(due)s. You can follow it in the "
            "self-service portal."
        ) % {
            "kind": kind.label,
            "received": _when(now),
            "reference": request.reference,
            "due": _when(request.due_at),
        }
    _notify(
        request,
        kind=RightsRequestMessage.Kind.ACKNOWLEDGEMENT,
        subject=subject,
        body=body,
        actor=actor,
    )
    return request


@transaction.atomic
def rights_request_assign(*, request: RightsRequest, user) -> RightsRequest:
    _lock(request)
    _require_open(request)
    request.assignee = user
    request.save(update_fields=["assignee"])
    return request


@transaction.atomic
def rights_request_extend(
    *, request: RightsRequest, reason: str, days: int, user
) -> RightsRequest:
    """More time, told to the customer with reasons before the 30 days end; the
    whole may not pass three months."""
    _lock(request)
    _require_open(request)
    if not (reason or "").strip():
        raise ValidationError({"reason": MSG_REASONS_REQUIRED}, code="required")
    if request.status == RightsRequest.Status.EXTENDED:
        raise ApplicationError(MSG_ALREADY_EXTENDED, code="already_extended")
    now = timezone.now()
    if now > request.due_at:
        raise ApplicationError(MSG_EXTENSION_TOO_LATE, code="too_late")
    new_due = request.due_at + timedelta(days=days)
    if days < 1 or new_due > _after(
        request.received_at, settings.RIGHTS_REQUEST_MAX_DAYS
    ):
        raise ValidationError({"days": MSG_EXTENSION_TOO_LONG}, code="too_long")
    request.due_at = new_due
    request.status = RightsRequest.Status.EXTENDED
    request.extension_reason = reason.strip()
    request.extended_at = now
    request.save(update_fields=["due_at", "status", "extension_reason", "extended_at"])
    with translation.override(_language(request.customer)):
        subject = gettext("More time needed for your request %(reference)s") % {
            "reference": request.reference
        }
        body = gettext(
            "We need more time to answer your request %(reference)s, because: "
            "%(reason)s We will answer by %(due)s."
        ) % {
            "reference": request.reference,
            "reason": request.extension_reason,
            "due": _when(request.due_at),
        }
    _notify(
        request,
        kind=RightsRequestMessage.Kind.EXTENSION,
        subject=subject,
        body=body,
        actor=Actor.staff(user),
    )
    return request


@transaction.atomic
def rights_request_refuse(
    *, request: RightsRequest, reasons: str, user
) -> RightsRequest:
    """Refuse with reasons and the route to complain, both shown to the customer."""
    _lock(request)
    _require_open(request)
    if not (reasons or "").strip():
        raise ValidationError({"reasons": MSG_REASONS_REQUIRED}, code="required")
    request.status = RightsRequest.Status.REFUSED
    request.refusal_reasons = reasons.strip()
    request.closed_at = timezone.now()
    request.save(update_fields=["status", "refusal_reasons", "closed_at"])
    if request.erasure_request_id:
        from preferences.models import ErasureRequest
        from preferences.services import erasure_request_decline

        erasure = request.erasure_request
        if erasure.status == ErasureRequest.Status.PENDING:
            erasure_request_decline(
                request=erasure, staff_user=user, note=request.refusal_reasons[:300]
            )
    with translation.override(_language(request.customer)):
        subject = gettext("Your request %(reference)s: our answer") % {
            "reference": request.reference
        }
        body = "\n\n".join(
            [
                gettext("We cannot carry out your request (%(kind)s).")
                % {"kind": request.get_kind_display()},
                gettext("Our reasons: %(reasons)s")
                % {"reasons": request.refusal_reasons},
                _complaint_route(get_policy().code),
            ]
        )
    _notify(
        request,
        kind=RightsRequestMessage.Kind.REFUSAL,
        subject=subject,
        body=body,
        actor=Actor.staff(user),
    )
    return request


@transaction.atomic
def rights_request_complete(
    *, request: RightsRequest, outcome: str, user
) -> RightsRequest:
    """Carry out the request and tell the customer. A deletion runs the erasure
    after the notice is addressed (the address is gone afterwards)."""
    _lock(request)
    _require_open(request)
    outcome = (outcome or "").strip()
    if not outcome:
        raise ValidationError({"outcome": MSG_OUTCOME_REQUIRED}, code="required")
    request.status = RightsRequest.Status.COMPLETED
    request.outcome = outcome
    request.closed_at = timezone.now()
    request.save(update_fields=["status", "outcome", "closed_at"])
    with translation.override(_language(request.customer)):
        subject = gettext("Your request %(reference)s is done") % {
            "reference": request.reference
        }
        lines = [
            gettext("We have carried out your request (%(kind)s).")
            % {"kind": request.get_kind_display()},
            outcome,
        ]
        if request.kind == RightsRequest.Kind.ACCESS:
            lines.append(
                gettext(
                    "Your data is in the self-service portal under My data: %(url)s"
                )
                % {"url": settings.SITE_BASE_URL.rstrip("/") + "/account/my-data/"}
            )
        lines.append(_complaint_route(get_policy().code))
        body = "\n\n".join(lines)
    _notify(
        request,
        kind=RightsRequestMessage.Kind.COMPLETION,
        subject=subject,
        body=body,
        actor=Actor.staff(user),
    )
    if request.kind == RightsRequest.Kind.DELETION and request.erasure_request_id:
        from preferences.models import ErasureRequest
        from preferences.services import erasure_request_carry_out

        erasure = request.erasure_request
        if erasure.status == ErasureRequest.Status.PENDING:
            erasure_request_carry_out(request=erasure, staff_user=user)
    return request


@transaction.atomic
def rights_requests_overdue_run(*, now: datetime | None = None) -> list[RightsRequest]:
    """Alert supervisors and compliance officers once per overdue request."""
    from consent.tasks import send_message_task

    now = now or timezone.now()
    overdue = list(
        RightsRequest.objects.overdue(now)
        .filter(overdue_alerted_at__isnull=True)
        .select_for_update()
    )
    if not overdue:
        return []
    RightsRequest.objects.filter(pk__in=[r.pk for r in overdue]).update(
        overdue_alerted_at=now
    )
    addresses = list(
        get_user_model()
        .objects.filter(
            is_active=True, groups__name__in=(SUPERVISOR, COMPLIANCE_OFFICER)
        )
        .exclude(email="")
        .values_list("email", flat=True)
        .distinct()
    )
    for request in overdue:
        # References and kinds only: no personal data in staff alerts.
        subject = gettext("Rights request %(reference)s is overdue") % {
            "reference": request.reference
        }
        body = gettext(
            "Rights request %(reference)s (%(kind)s) was due %(due)s and is not "
            "answered. Open the rights requests queue in the back office."
        ) % {
            "reference": request.reference,
            "kind": request.get_kind_display(),
            "due": _when(request.due_at),
        }
        for address in addresses:
            transaction.on_commit(
                lambda a=address, s=subject, b=body: send_message_task.delay(
                    to=a, kind="staff", subject=s, body=b, purpose="rights_overdue"
                )
            )
    return overdue
