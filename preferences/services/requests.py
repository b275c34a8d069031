""" "Not me" reports, erasure requests and next-of-kin reports."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from consent import crypto
from consent import services as consent_services
from consent.errors import ApplicationError
from consent.identifiers import mask
from consent.ledger import Actor, Evidence
from consent.models import (
    ConsentEvent,
    Customer,
)
from consent.unit import ConsentChange, consent_change
from preferences.models import (
    CarePause,
    ErasureRequest,
    NextOfKinReport,
    NotMeReport,
    OneTimeCode,
)
from preferences.services._common import (
    MSG_NOK_IDENTIFY,
    MSG_NOK_NO_CUSTOMER,
    MSG_PAUSE_END,
    MSG_REQUEST_DONE,
    _incr,
)
from preferences.services.codes import (
    CodeTarget,
    one_time_code_check,
    one_time_code_issue,
)
from preferences.services.contact_rules import care_pause_cancel, care_pause_start

# --- not me ---


def not_me_start(*, target: CodeTarget, ip: str) -> None:
    """Anyone may prove they hold a number, customer or not."""
    one_time_code_issue(purpose=OneTimeCode.Purpose.NOT_ME, target=target, ip=ip)


def not_me_finish(
    *, target: CodeTarget, code: str, ip: str, evidence: Evidence
) -> NotMeReport:
    """After the code: mark every contact point with this address ``not_me`` at once
    (one transaction), or keep an unknown address suppressed for staff review; the
    same flow as a "not me" SMS reply (``consent.services.identifier_mark_not_me``)."""
    blind_index = target.blind_index
    one_time_code_check(
        purpose=OneTimeCode.Purpose.NOT_ME, blind_index=blind_index, code=code, ip=ip
    )
    actor = Actor.public("not_me_page")
    result = consent_services.identifier_mark_not_me(
        kind=target.kind,
        address=target.normalised,
        source=ConsentEvent.Source.PORTAL,
        actor=actor,
        evidence=evidence,
        via="portal",
    )
    return result.report


def not_me_report_open(
    *, kind: str, normalised: str, blind_index: str, contact_points: int, via: str
) -> NotMeReport:
    """The correction task of a "not me" (portal page or reply): staff review
    whether the customer record needs correcting. Registered as a consent hook. A
    report still waiting for staff is not opened twice for the same address."""
    waiting = NotMeReport.objects.filter(
        blind_index=blind_index, reviewed_at__isnull=True
    ).first()
    if waiting is not None:
        return waiting
    return NotMeReport.objects.create(
        kind=kind,
        blind_index=blind_index,
        masked=mask(kind, normalised),
        contact_points=contact_points,
    )


@transaction.atomic
def not_me_report_review(*, report: NotMeReport, staff_user) -> NotMeReport:
    report.reviewed_at = timezone.now()
    report.reviewed_by = staff_user.get_username()
    report.save(update_fields=["reviewed_at", "reviewed_by"])
    return report


# --- erasure and next of kin ---


def erasure_request_create(*, customer: Customer) -> ErasureRequest:
    pending = customer.erasure_requests.filter(status=ErasureRequest.Status.PENDING)
    return pending.first() or ErasureRequest.objects.create(customer=customer)


@transaction.atomic
def erasure_request_carry_out(*, request: ErasureRequest, staff_user) -> ErasureRequest:
    """Staff carry out a pending erasure through ``consent.erasure``."""
    from consent.erasure import customer_erase

    request = ErasureRequest.objects.select_for_update().get(pk=request.pk)
    if request.status != ErasureRequest.Status.PENDING:
        raise ApplicationError(MSG_REQUEST_DONE, code="already_processed")
    customer_erase(customer=request.customer)
    request.status = ErasureRequest.Status.DONE
    request.processed_at = timezone.now()
    request.processed_by = staff_user.get_username()
    request.save(update_fields=["status", "processed_at", "processed_by"])
    return request


@transaction.atomic
def erasure_request_decline(
    *, request: ErasureRequest, staff_user, note: str
) -> ErasureRequest:
    request = ErasureRequest.objects.select_for_update().get(pk=request.pk)
    if request.status != ErasureRequest.Status.PENDING:
        raise ApplicationError(MSG_REQUEST_DONE, code="already_processed")
    request.status = ErasureRequest.Status.REJECTED
    request.processed_at = timezone.now()
    request.processed_by = staff_user.get_username()
    request.staff_note = note
    request.save(update_fields=["status", "processed_at", "processed_by", "staff_note"])
    return request


REPORTS_PER_HOUR = 5
MSG_TOO_MANY_REPORTS = _(
    "Too many reports were sent from this connection. Please try again in an hour."
)


def next_of_kin_report_allowed(*, ip: str) -> None:
    """A public form that queues work for staff: a few reports per hour per IP."""
    key = f"portal:nok:ip:{ip}"
    if (cache.get(key) or 0) >= REPORTS_PER_HOUR:
        raise ApplicationError(MSG_TOO_MANY_REPORTS, code="throttled")
    _incr(key, timedelta(hours=1))


NOK_ACTOR = Actor.public("next_of_kin_report")
# How long a death report holds marketing at most while staff check it (a care
# pause runs at most a year).
DEATH_REPORT_HOLD = timedelta(days=365)


def _report_evidence(
    report: NextOfKinReport, base: Evidence | None, **more
) -> Evidence:
    base = base or Evidence()
    extra = {
        "next_of_kin_report": str(report.pk),
        "report_kind": report.kind,
        "relationship": report.relationship,
        **more,
    }
    return replace(base, extra=tuple(sorted({**dict(base.extra), **extra}.items())))


def _hold_start(
    *,
    report: NextOfKinReport,
    change: ConsentChange,
    actor: Actor | str,
    source: str,
    evidence: Evidence,
) -> None:
    """Hold marketing for the reported customer at once, through a care pause that
    keeps at least what the customer's own running pause held (and remembers it,
    to bring it back if staff reject the report)."""
    customer = report.customer
    if customer is None or report.hold_id is not None:
        return
    if change.lock(customer).get(customer.pk) != Customer.Status.ACTIVE:
        return
    now = change.now
    running = (
        CarePause.objects.active_at(now)
        .filter(customer=customer)
        .order_by("-ends_at")
        .first()
    )
    if report.kind == NextOfKinReport.Kind.DEATH:
        ends_at, reason = now + DEATH_REPORT_HOLD, CarePause.Reason.DEATH_REPORT
    else:
        ends_at, reason = report.pause_until, report.pause_reason
    scope = CarePause.Scope.MARKETING
    if running is not None:
        ends_at = max(ends_at, running.ends_at)
        if running.holds_collections:
            scope = CarePause.Scope.MARKETING_COLLECTIONS
    report.hold = care_pause_start(
        customer=customer,
        ends_at=ends_at,
        scope=scope,
        reason=reason,
        actor=actor,
        source=source,
        evidence=evidence,
        change=change,
    )
    report.replaced_pause = running
    report.save(update_fields=["hold", "replaced_pause"])


def _hold_undo(
    *, report: NextOfKinReport, change: ConsentChange, actor: Actor, evidence: Evidence
) -> None:
    """End the report's hold if it still runs, and bring back the customer's own
    pause it replaced (if that had not ended by now). A pause the customer set
    since the report is theirs and stays."""
    hold = report.hold
    if hold is None:
        return
    customer = report.customer
    change.lock(customer)
    hold.refresh_from_db()
    now = change.now
    if hold.cancelled_at is not None or hold.ends_at <= now:
        return
    care_pause_cancel(
        customer=customer,
        actor=actor,
        source=ConsentEvent.Source.STAFF,
        evidence=evidence,
        change=change,
        why="next_of_kin_report_rejected",
    )
    earlier = report.replaced_pause
    if earlier is not None and earlier.ends_at > now:
        care_pause_start(
            customer=customer,
            ends_at=earlier.ends_at,
            scope=earlier.scope,
            reason=earlier.reason,
            actor=actor,
            source=ConsentEvent.Source.STAFF,
            evidence=replace(
                evidence,
                extra=tuple(
                    sorted((*evidence.extra, ("restored_pause", str(earlier.pk))))
                ),
            ),
            change=change,
        )


def next_of_kin_report_create(
    *,
    customer_ref: str,
    identifier: CodeTarget | None,
    deceased_name: str,
    reporter_name: str,
    reporter_contact: str,
    relationship: str,
    document_reference: str = "",
    kind: str = NextOfKinReport.Kind.DEATH,
    pause_until: datetime | None = None,
    pause_reason: str = "",
    evidence: Evidence | None = None,
) -> NextOfKinReport:
    """Queue a death report (or a care-pause request) for staff, and hold marketing
    for the matched customer at once. Personal details are stored encrypted."""
    if not customer_ref and identifier is None:
        raise ValidationError(MSG_NOK_IDENTIFY, code="nok_identify")
    if kind == NextOfKinReport.Kind.CARE_PAUSE:
        now = timezone.now()
        if pause_until is None or not now < pause_until <= now + timedelta(days=366):
            raise ValidationError({"until": MSG_PAUSE_END}, code="pause_end")
    customer = None
    if customer_ref:
        customer = Customer.objects.filter(external_ref=customer_ref).first()
    if customer is None and identifier is not None:
        matches = list(
            Customer.objects.filter(
                contact_points__blind_index=identifier.blind_index
            ).distinct()[:2]
        )
        customer = matches[0] if len(matches) == 1 else None
    report = NextOfKinReport(
        kind=kind,
        customer_ref=customer_ref,
        identifier_index=identifier.blind_index if identifier else "",
        identifier_masked=identifier.masked if identifier else "",
        deceased_name_encrypted=crypto.encrypt(deceased_name),
        reporter_name_encrypted=crypto.encrypt(reporter_name),
        reporter_contact_encrypted=crypto.encrypt(reporter_contact),
        relationship=relationship,
        document_reference_encrypted=crypto.encrypt(document_reference),
        pause_until=pause_until if kind == NextOfKinReport.Kind.CARE_PAUSE else None,
        pause_reason=pause_reason if kind == NextOfKinReport.Kind.CARE_PAUSE else "",
        customer=customer,
    )
    report.full_clean()
    source = ConsentEvent.Source.PORTAL
    with consent_change(actor=NOK_ACTOR, source=source, evidence=evidence) as change:
        report.save()
        _hold_start(
            report=report,
            change=change,
            actor=NOK_ACTOR,
            source=source,
            evidence=_report_evidence(report, evidence),
        )
    return report


def next_of_kin_report_hold(*, report: NextOfKinReport, staff_user) -> NextOfKinReport:
    """Staff matched a pending report to its customer: hold marketing now."""
    actor = Actor.staff(staff_user)
    source = ConsentEvent.Source.STAFF
    with consent_change(actor=actor, source=source) as change:
        report = NextOfKinReport.objects.select_for_update().get(pk=report.pk)
        if report.status == NextOfKinReport.Status.PENDING:
            _hold_start(
                report=report,
                change=change,
                actor=actor,
                source=source,
                evidence=_report_evidence(report, None, matched_by=actor.ident),
            )
    return report


def _decide(report: NextOfKinReport, staff_user, status: str) -> None:
    report.status = status
    report.processed_at = timezone.now()
    report.processed_by = staff_user.get_username()
    report.save(update_fields=["status", "processed_at", "processed_by"])


def next_of_kin_report_confirm(
    *, report: NextOfKinReport, staff_user
) -> NextOfKinReport:
    """Staff checked the report. A death: the customer is recorded as deceased
    (marketing stops for good). A care pause: the pause stays as asked."""
    from consent.lifecycle import customer_mark_deceased

    actor = Actor.staff(staff_user)
    with consent_change(actor=actor, source=ConsentEvent.Source.STAFF) as change:
        report = NextOfKinReport.objects.select_for_update().get(pk=report.pk)
        if report.status != NextOfKinReport.Status.PENDING:
            raise ApplicationError(MSG_REQUEST_DONE, code="already_processed")
        if report.customer is None:
            raise ApplicationError(MSG_NOK_NO_CUSTOMER, code="no_customer")
        if report.kind == NextOfKinReport.Kind.DEATH:
            customer_mark_deceased(
                customer=report.customer,
                actor=actor,
                evidence=Evidence(
                    extra=(("reason", "deceased"), ("report", str(report.pk)))
                ),
            )
        else:
            _hold_start(
                report=report,
                change=change,
                actor=actor,
                source=ConsentEvent.Source.STAFF,
                evidence=_report_evidence(report, None, decision="confirmed"),
            )
        _decide(report, staff_user, NextOfKinReport.Status.CONFIRMED)
    return report


def next_of_kin_report_reject(
    *, report: NextOfKinReport, staff_user
) -> NextOfKinReport:
    """Staff could not confirm the report: its hold ends and the customer's earlier
    choices apply again (their own pause comes back), with a ledger row."""
    actor = Actor.staff(staff_user)
    with consent_change(actor=actor, source=ConsentEvent.Source.STAFF) as change:
        report = NextOfKinReport.objects.select_for_update().get(pk=report.pk)
        if report.status != NextOfKinReport.Status.PENDING:
            raise ApplicationError(MSG_REQUEST_DONE, code="already_processed")
        _hold_undo(
            report=report,
            change=change,
            actor=actor,
            evidence=_report_evidence(report, None, decision="rejected"),
        )
        _decide(report, staff_user, NextOfKinReport.Status.REJECTED)
    return report
