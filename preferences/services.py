"""Every write the portal makes. Preference changes lock the ledger head and refresh
contactability in the same transaction, so the feed shows them when the request
returns; consent changes go through ``consent.services``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from consent import crypto
from consent import services as consent_services
from consent.errors import ApplicationError
from consent.identifiers import guess_kind, mask, normalise
from consent.ledger import Actor, Evidence, lock_head
from consent.models import (
    Channel,
    ConsentEvent,
    ConsentState,
    ContactPoint,
    Customer,
    NoticeVersion,
    Topic,
)
from preferences.models import (
    CarePause,
    ErasureRequest,
    FrequencyCap,
    NextOfKinReport,
    NotMeReport,
    OneTimeCode,
    Preference,
)

CODE_TTL = timedelta(minutes=10)
CODES_PER_HOUR = 5
WRONG_CODES_BEFORE_LOCK = 5
LOCK_TIME = timedelta(minutes=15)

MSG_TOO_MANY_CODES = _(
    "Too many codes were asked for. Please wait an hour before asking for a new one."
)
MSG_LOCKED = _(
    "Too many wrong codes. For your security, please wait 15 minutes and try again."
)
MSG_CODE_WRONG = _("This code is not correct. Check the latest message and try again.")
MSG_CODE_EXPIRED = _("This code has expired. Ask for a new one.")
MSG_NOTICE_OUTDATED = _(
    "The consent wording has changed since the page was shown. "
    "Please read it again and save."
)
MSG_LAST_VERIFIED = _(
    "You cannot remove your only verified phone number or e-mail address: you need "
    "it to sign in."
)
MSG_PAUSE_END = _("The end date must be after today and within one year.")
MSG_NOK_IDENTIFY = _("Give the customer reference or the phone number or e-mail.")
MSG_NOK_NO_CUSTOMER = _("Choose the customer this report is about first.")
MSG_REQUEST_DONE = _("This request was already processed.")


# --- throttling (cache) ---


def _incr(key: str, timeout: timedelta) -> int:
    cache.add(key, 0, int(timeout.total_seconds()))
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, int(timeout.total_seconds()))
        return 1


def _send_keys(blind_index: str, ip: str) -> list[str]:
    return [f"portal:codes:id:{blind_index}", f"portal:codes:ip:{ip}"]


def _fail_keys(blind_index: str, ip: str) -> list[str]:
    return [f"portal:fails:id:{blind_index}", f"portal:fails:ip:{ip}"]


def _lock_key(fail_key: str) -> str:
    return fail_key.replace(":fails:", ":lock:")


def _check_send_allowed(blind_index: str, ip: str) -> None:
    if any((cache.get(k) or 0) >= CODES_PER_HOUR for k in _send_keys(blind_index, ip)):
        raise ApplicationError(MSG_TOO_MANY_CODES, code="throttled")
    for key in _send_keys(blind_index, ip):
        _incr(key, timedelta(hours=1))


def _check_not_locked(blind_index: str, ip: str) -> None:
    if any(cache.get(_lock_key(k)) for k in _fail_keys(blind_index, ip)):
        raise ApplicationError(MSG_LOCKED, code="locked")


def _register_failure(blind_index: str, ip: str) -> None:
    for key in _fail_keys(blind_index, ip):
        if _incr(key, LOCK_TIME) >= WRONG_CODES_BEFORE_LOCK:
            cache.set(_lock_key(key), 1, int(LOCK_TIME.total_seconds()))
            cache.delete(key)


# --- one-time codes ---


def _code_hash(blind_index: str, code: str) -> str:
    return salted_hmac("preferences.one_time_code", f"{blind_index}:{code}").hexdigest()


@dataclass(frozen=True)
class CodeTarget:
    """An address a code goes to: its kind, normalised value and blind index."""

    kind: str
    normalised: str

    @property
    def blind_index(self) -> str:
        return ContactPoint.index_for(self.kind, self.normalised)

    @property
    def masked(self) -> str:
        return mask(self.kind, self.normalised)

    @classmethod
    def parse(cls, raw: str, kind: str | None = None) -> CodeTarget:
        """Raises ValidationError (invalid phone or e-mail) before anything is sent."""
        kind = kind or guess_kind(raw)
        return cls(kind=kind, normalised=normalise(kind, raw))


def one_time_code_issue(
    *,
    purpose: str,
    target: CodeTarget,
    ip: str,
    deliver: bool = True,
    contact_point: ContactPoint | None = None,
) -> None:
    """Count the request against the throttles, then (if ``deliver``) store a fresh
    code's hash and send the code. Callers pass ``deliver=False`` for addresses that
    may not sign in, so the answer looks the same either way."""
    blind_index = target.blind_index
    _check_send_allowed(blind_index, ip)
    if not deliver:
        return
    code = f"{secrets.randbelow(10**6):06d}"
    now = timezone.now()
    OneTimeCode.objects.filter(
        blind_index=blind_index, purpose=purpose, used_at__isnull=True
    ).update(expires_at=now)
    OneTimeCode.objects.create(
        purpose=purpose,
        blind_index=blind_index,
        contact_point=contact_point,
        code_hash=_code_hash(blind_index, code),
        created_at=now,
        expires_at=now + CODE_TTL,
    )
    from consent.tasks import send_message_task

    send_message_task.delay(
        to=target.normalised,
        kind=target.kind,
        subject=gettext("Your verification code"),
        body=gettext(
            "Your verification code is %(code)s. It is valid for 10 minutes. "
            "Never share it. If you did not ask for it, ignore this message."
        )
        % {"code": code},
        purpose=f"otp_{purpose}",
    )


def one_time_code_check(
    *, purpose: str, blind_index: str, code: str, ip: str
) -> OneTimeCode:
    """Use up the current code for this address, or count a wrong attempt."""
    _check_not_locked(blind_index, ip)
    now = timezone.now()
    expected = _code_hash(blind_index, (code or "").strip())
    rows = OneTimeCode.objects.filter(
        blind_index=blind_index, purpose=purpose, used_at__isnull=True
    ).order_by("-created_at")[:3]
    for row in rows:
        if not constant_time_compare(row.code_hash, expected):
            continue
        if row.expires_at <= now:
            _register_failure(blind_index, ip)
            raise ApplicationError(MSG_CODE_EXPIRED, code="code_expired")
        used = OneTimeCode.objects.filter(pk=row.pk, used_at__isnull=True).update(
            used_at=now
        )
        if used:
            cache.delete(_fail_keys(blind_index, ip)[0])
            return row
    _register_failure(blind_index, ip)
    raise ApplicationError(MSG_CODE_WRONG, code="code_wrong")


def sign_in_start(*, target: CodeTarget, ip: str) -> None:
    """Send a sign-in code if a verified, active address matches. The caller shows the
    same answer whatever happens, so nobody learns who is a customer."""
    may_sign_in = (
        ContactPoint.objects.for_identifier(target.kind, target.normalised)
        .active()
        .filter(
            verified_at__isnull=False,
            removed_at__isnull=True,
            customer__status=Customer.Status.ACTIVE,
        )
        .exists()
    )
    one_time_code_issue(
        purpose=OneTimeCode.Purpose.SIGN_IN, target=target, ip=ip, deliver=may_sign_in
    )


def sign_in_finish(*, blind_index: str, code: str, ip: str) -> list[Customer]:
    """Check the code; return the customers this address lets the holder act for
    (more than one on a shared phone)."""
    one_time_code_check(
        purpose=OneTimeCode.Purpose.SIGN_IN, blind_index=blind_index, code=code, ip=ip
    )
    return list(
        Customer.objects.filter(
            status=Customer.Status.ACTIVE,
            contact_points__blind_index=blind_index,
            contact_points__status=ContactPoint.Status.ACTIVE,
            contact_points__verified_at__isnull=False,
            contact_points__removed_at__isnull=True,
        )
        .distinct()
        .order_by("pk")
    )


# --- consent matrix ---


def _check_notice(notice_version: NoticeVersion) -> None:
    latest = (
        NoticeVersion.objects.filter(
            code=notice_version.code,
            language=notice_version.language,
            effective_from__lte=timezone.now(),
        )
        .order_by("-version")
        .first()
    )
    if latest is None or latest.pk != notice_version.pk:
        raise ApplicationError(MSG_NOTICE_OUTDATED, code="notice_outdated")


@transaction.atomic
def consent_matrix_apply(
    *,
    customer: Customer,
    shown_on: set[tuple[str, str]],
    wanted_on: set[tuple[str, str]],
    notice_version: NoticeVersion,
    evidence: Evidence,
) -> list[ConsentEvent]:
    """Apply only the cells the customer changed against what the page showed, each as
    its own ledger event citing the notice version on the page. A cell already
    changed elsewhere to the wanted value (a one-click unsubscribe in between) is
    left alone."""
    _check_notice(notice_version)
    changed = shown_on ^ wanted_on
    if not changed:
        return []
    channels = {c.code: c for c in Channel.objects.filter(is_active=True)}
    topics = {
        t.code: t
        for t in Topic.objects.filter(is_active=True, kind=Topic.Kind.MARKETING)
    }
    current = {
        (channel, topic)
        for channel, topic in ConsentState.objects.granted()
        .filter(customer=customer)
        .values_list("channel__code", "topic__code")
    }
    actor = Actor.customer(customer)
    events = []
    for cell in sorted(changed):
        channel, topic = channels.get(cell[0]), topics.get(cell[1])
        if channel is None or topic is None:
            continue
        if cell in wanted_on and cell not in current:
            events.append(
                consent_services.consent_grant(
                    customer=customer,
                    channel=channel,
                    topic=topic,
                    source=ConsentEvent.Source.PORTAL,
                    actor=actor,
                    notice_version=notice_version,
                    evidence=evidence,
                )
            )
        elif cell not in wanted_on and cell in current:
            events.append(
                consent_services.consent_withdraw(
                    customer=customer,
                    channel=channel,
                    topic=topic,
                    source=ConsentEvent.Source.PORTAL,
                    actor=actor,
                    evidence=evidence,
                )
            )
    return events


def one_click_unsubscribe(
    *, customer: Customer, channel: Channel, topic: Topic, evidence: Evidence
) -> tuple[ConsentEvent | None, bool]:
    """Withdraw one channel and topic from a signed link. Returns the event (None when
    it was already withdrawn) and whether it had been granted (so it can be undone)."""
    with transaction.atomic():
        state = ConsentState.objects.filter(
            customer=customer, channel=channel, topic=topic
        ).first()
        if state is not None and state.status == ConsentState.Status.WITHDRAWN:
            return None, False
        event = consent_services.consent_withdraw(
            customer=customer,
            channel=channel,
            topic=topic,
            source=ConsentEvent.Source.ONE_CLICK,
            actor=Actor.public("one_click_link"),
            evidence=evidence,
        )
    return event, state is not None


def one_click_undo(
    *,
    customer: Customer,
    channel: Channel,
    topic: Topic,
    event_seq: int,
    notice_version: NoticeVersion,
    evidence: Evidence,
) -> ConsentEvent | None:
    """Give back the consent a link just withdrew, if nothing happened since."""
    with transaction.atomic():
        state = (
            ConsentState.objects.filter(customer=customer, channel=channel, topic=topic)
            .select_related("event")
            .first()
        )
        if state is None or state.event.seq != event_seq:
            return None
        _check_notice(notice_version)
        return consent_services.consent_grant(
            customer=customer,
            channel=channel,
            topic=topic,
            source=ConsentEvent.Source.ONE_CLICK,
            actor=Actor.public("one_click_link"),
            notice_version=notice_version,
            evidence=evidence,
        )


# --- preferences (each refreshes contactability under the ledger head) ---


def _preference(customer: Customer) -> Preference:
    pref, _created = Preference.objects.get_or_create(customer=customer)
    return pref


@transaction.atomic
def preference_update(
    *,
    customer: Customer,
    quiet_start: time,
    quiet_end: time,
    time_zone: str,
    preferred_channel: Channel | None,
    preferred_language: str,
) -> Preference:
    """Quiet hours, preferred channel and language."""
    head = lock_head()
    pref = _preference(customer)
    pref.quiet_start = quiet_start
    pref.quiet_end = quiet_end
    pref.time_zone = time_zone
    pref.preferred_channel = preferred_channel
    pref.full_clean()
    pref.save()
    if customer.preferred_language != preferred_language:
        customer.preferred_language = preferred_language
        customer.full_clean(validate_unique=False)
        customer.save(update_fields=["preferred_language"])
    consent_services.contactability_refresh_customer(head=head, customer=customer)
    return pref


@transaction.atomic
def frequency_caps_set(
    *, customer: Customer, caps: dict[Channel, int | None]
) -> list[FrequencyCap]:
    """Set the per-channel limit (messages per rolling 7 days); None removes it."""
    head = lock_head()
    kept = []
    for channel, limit in caps.items():
        if limit is None:
            FrequencyCap.objects.filter(customer=customer, channel=channel).delete()
            continue
        cap = FrequencyCap.objects.filter(customer=customer, channel=channel).first()
        cap = cap or FrequencyCap(customer=customer, channel=channel)
        cap.max_per_week = limit
        cap.full_clean()
        cap.save()
        kept.append(cap)
    consent_services.contactability_refresh_customer(head=head, customer=customer)
    return kept


@transaction.atomic
def personalisation_set(*, customer: Customer, allowed: bool) -> Preference:
    """PIPL art. 24: published to sending systems as ``personalisation: false``."""
    head = lock_head()
    pref = _preference(customer)
    pref.personalisation_allowed = allowed
    pref.save()
    consent_services.contactability_refresh_customer(head=head, customer=customer)
    return pref


@transaction.atomic
def care_pause_start(
    *, customer: Customer, ends_at: datetime, scope: str, reason: str
) -> CarePause:
    """Pause marketing (and optionally collections) until a date. A new pause replaces
    the running one. Only a reason category is kept."""
    now = timezone.now()
    if ends_at <= now or ends_at > now + timedelta(days=366):
        raise ValidationError({"until": MSG_PAUSE_END}, code="pause_end")
    head = lock_head()
    CarePause.objects.active_at(now).filter(customer=customer).update(cancelled_at=now)
    pause = CarePause(
        customer=customer, starts_at=now, ends_at=ends_at, scope=scope, reason=reason
    )
    pause.full_clean()
    pause.save()
    consent_services.contactability_refresh_customer(head=head, customer=customer)
    return pause


@transaction.atomic
def care_pause_cancel(*, customer: Customer) -> int:
    head = lock_head()
    now = timezone.now()
    count = (
        CarePause.objects.active_at(now)
        .filter(customer=customer)
        .update(cancelled_at=now, expiry_processed_at=now)
    )
    consent_services.contactability_refresh_customer(head=head, customer=customer)
    return count


def care_pause_expire_due(*, now: datetime | None = None) -> int:
    """Publish the end of every pause that ran out (the periodic task). Each customer
    is its own transaction so one failure does not hold back the rest."""
    now = now or timezone.now()
    due = list(
        CarePause.objects.filter(
            ends_at__lte=now,
            expiry_processed_at__isnull=True,
            cancelled_at__isnull=True,
        ).values_list("customer_id", flat=True)
    )
    for customer_id in sorted(set(due)):
        with transaction.atomic():
            head = lock_head()
            customer = Customer.objects.get(pk=customer_id)
            consent_services.contactability_refresh_customer(
                head=head, customer=customer, now=now
            )
            CarePause.objects.filter(
                customer=customer,
                ends_at__lte=now,
                expiry_processed_at__isnull=True,
                cancelled_at__isnull=True,
            ).update(expiry_processed_at=now)
    return len(set(due))


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


# --- not me ---


def not_me_start(*, target: CodeTarget, ip: str) -> None:
    """Anyone may prove they hold a number, customer or not."""
    one_time_code_issue(purpose=OneTimeCode.Purpose.NOT_ME, target=target, ip=ip)


def not_me_finish(
    *, target: CodeTarget, code: str, ip: str, evidence: Evidence
) -> NotMeReport:
    """After the code: mark every contact point with this address ``not_me`` at once
    (one transaction), or keep an unknown address suppressed for staff review."""
    blind_index = target.blind_index
    one_time_code_check(
        purpose=OneTimeCode.Purpose.NOT_ME, blind_index=blind_index, code=code, ip=ip
    )
    with transaction.atomic():
        lock_head()
        points = list(
            ContactPoint.objects.filter(
                blind_index=blind_index, removed_at__isnull=True
            )
        )
        for contact_point in points:
            if contact_point.status == ContactPoint.Status.NOT_ME:
                continue
            consent_services.contact_point_mark_not_me(
                contact_point=contact_point,
                source=ConsentEvent.Source.PORTAL,
                actor=Actor.public("not_me_page"),
                evidence=evidence,
            )
        if not points:
            consent_services.identifier_suppress(
                kind=target.kind,
                address=target.normalised,
                reason="not_me",
                review_pending=True,
            )
        return NotMeReport.objects.create(
            kind=target.kind,
            blind_index=blind_index,
            masked=target.masked,
            contact_points=len(points),
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
