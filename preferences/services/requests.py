""""Not me" reports, erasure requests and next-of-kin reports."""

from __future__ import annotations

from datetime import timedelta

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
from preferences.models import (
    ErasureRequest,
    NextOfKinReport,
    NotMeReport,
    OneTimeCode,
)
from preferences.services._common import (
    MSG_NOK_IDENTIFY,
    MSG_NOK_NO_CUSTOMER,
    MSG_REQUEST_DONE,
    _incr,
)
from preferences.services.codes import (
    CodeTarget,
    one_time_code_check,
    one_time_code_issue,
)

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


def next_of_kin_report_create(
    *,
    customer_ref: str,
    identifier: CodeTarget | None,
    deceased_name: str,
    reporter_name: str,
    reporter_contact: str,
    relationship: str,
    document_reference: str,
) -> NextOfKinReport:
    """Queue a death report for staff. Personal details are stored encrypted."""
    if not customer_ref and identifier is None:
        raise ValidationError(MSG_NOK_IDENTIFY, code="nok_identify")
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
        customer_ref=customer_ref,
        identifier_index=identifier.blind_index if identifier else "",
        identifier_masked=identifier.masked if identifier else "",
        deceased_name_encrypted=crypto.encrypt(deceased_name),
        reporter_name_encrypted=crypto.encrypt(reporter_name),
        reporter_contact_encrypted=crypto.encrypt(reporter_contact),
        relationship=relationship,
        document_reference_encrypted=crypto.encrypt(document_reference),
        customer=customer,
    )
    report.full_clean()
    report.save()
    return report


@transaction.atomic
def next_of_kin_report_confirm(
    *, report: NextOfKinReport, staff_user
) -> NextOfKinReport:
    """Staff checked the document: the customer is recorded as deceased."""
    from consent.lifecycle import customer_mark_deceased

    report = NextOfKinReport.objects.select_for_update().get(pk=report.pk)
    if report.status != NextOfKinReport.Status.PENDING:
        raise ApplicationError(MSG_REQUEST_DONE, code="already_processed")
    if report.customer is None:
        raise ApplicationError(MSG_NOK_NO_CUSTOMER, code="no_customer")
    customer_mark_deceased(
        customer=report.customer,
        actor=Actor.staff(staff_user),
        evidence=Evidence(extra=(("reason", "deceased"), ("report", str(report.pk)))),
    )
    report.status = NextOfKinReport.Status.CONFIRMED
    report.processed_at = timezone.now()
    report.processed_by = staff_user.get_username()
    report.save(update_fields=["status", "processed_at", "processed_by"])
    return report


@transaction.atomic
def next_of_kin_report_reject(
    *, report: NextOfKinReport, staff_user
) -> NextOfKinReport:
    report = NextOfKinReport.objects.select_for_update().get(pk=report.pk)
    if report.status != NextOfKinReport.Status.PENDING:
        raise ApplicationError(MSG_REQUEST_DONE, code="already_processed")
    report.status = NextOfKinReport.Status.REJECTED
    report.processed_at = timezone.now()
    report.processed_by = staff_user.get_username()
    report.save(update_fields=["status", "processed_at", "processed_by"])
    return report
