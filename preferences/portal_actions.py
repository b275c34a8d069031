"""Portal writes built on ``consent.services`` and ``preferences.services``.

Each function is one transaction: it calls the existing services (which own the
ledger, the projection and the feed) and adds what the portal needs around them: the
customer's own record of setting changes, the shared-identifier check, the scopes of
a one-click unsubscribe, restoring earlier choices after "stop all marketing".
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext_lazy as _

from consent import crypto
from consent import services as consent_services
from consent.errors import ApplicationError
from consent.ledger import Actor, Evidence
from consent.models import (
    Channel,
    ConsentEvent,
    ConsentState,
    ContactPoint,
    Customer,
    NoticeVersion,
    OptOut,
    ProfileTag,
    Topic,
)
from preferences import selectors, services
from preferences.models import (
    CarePause,
    IdentityCheck,
    NotMeReport,
    OneTimeCode,
    Preference,
    SettingChange,
)
from preferences.services import CodeTarget
from preferences.tasks import sign_in_code_task

MSG_IDENTITY_WRONG = _(
    "This does not match our records. Check what you typed and try again."
)
MSG_IDENTITY_EMPTY = _(
    "Enter the last four characters of your ID document number or your date of birth."
)
MSG_NOT_NOT_ME = _("This number or address is not marked as not yours.")


# --- codes ------------------------------------------------------------------------


def code_normalise(raw: str) -> str:
    """A code as typed on any keyboard: full-width digits (１２３４５６), other
    Unicode digit forms and spaces between groups all read as the six ASCII digits."""
    folded = unicodedata.normalize("NFKC", raw or "")
    digits = []
    for char in folded:
        if char.isspace() or char in "-‐‑–":
            continue
        value = unicodedata.digit(char, None)
        if value is None:
            return folded.strip()
        digits.append(str(value))
    return "".join(digits)


# --- sign-in ----------------------------------------------------------------------


def sign_in_request(*, target: CodeTarget, ip: str) -> None:
    """Ask for a sign-in code. The request does the same work for every address (a
    throttle check and one task); whether the address belongs to a customer is
    found out in the task, so the answer's timing tells nobody who is a customer."""
    services._check_send_allowed_preview(target, ip)
    sign_in_code_task.delay(
        kind=target.kind, value=crypto.encrypt(target.normalised), ip=ip
    )


def identity_check_set(
    *, customer: Customer, id_number_tail: str = "", birth_date: date | None = None
) -> IdentityCheck:
    """Store the facts a holder of a shared number is asked for (bank data import)."""
    tail = _tail(id_number_tail)
    if id_number_tail and len(tail) != 4:
        raise ValidationError(
            {"id_number_tail": _("Give the last four characters.")}, code="tail"
        )
    check, _created = IdentityCheck.objects.get_or_create(customer=customer)
    if tail:
        check.id_number_tail_encrypted = crypto.encrypt(tail)
    if birth_date:
        check.birth_date_encrypted = crypto.encrypt(birth_date.isoformat())
    check.save()
    return check


def _tail(value: str) -> str:
    folded = unicodedata.normalize("NFKC", value or "").strip().upper()
    return "".join(c for c in folded if c.isalnum())[-4:] if folded else ""


def _facts_match(check: IdentityCheck, *, tail: str, birth_date: date | None) -> bool:
    """Compare every stored fact in constant time, whichever was given."""
    matched = False
    stored_tail = (
        crypto.decrypt(check.id_number_tail_encrypted)
        if check.id_number_tail_encrypted
        else ""
    )
    stored_birth = (
        crypto.decrypt(check.birth_date_encrypted) if check.birth_date_encrypted else ""
    )
    given_birth = birth_date.isoformat() if birth_date else ""
    if stored_tail and tail:
        matched |= constant_time_compare(stored_tail, tail)
    if stored_birth and given_birth:
        matched |= constant_time_compare(stored_birth, given_birth)
    return matched


def shared_identifier_identify(
    *,
    blind_index: str,
    customer_ids: list[int],
    ip: str,
    id_number_tail: str = "",
    birth_date: date | None = None,
) -> Customer:
    """Which holder of a shared number is signing in, from a fact only they know.

    The person never sees the other holders. A wrong answer counts against the same
    lock as a wrong code (five in 15 minutes for the address and the IP).
    """
    services._check_not_locked(blind_index, ip)
    tail = _tail(id_number_tail)
    if not tail and birth_date is None:
        raise ApplicationError(MSG_IDENTITY_EMPTY, code="identity_empty")
    checks = list(
        IdentityCheck.objects.filter(
            customer_id__in=customer_ids,
            customer__status=Customer.Status.ACTIVE,
        ).select_related("customer")
    )
    matches = [
        c.customer for c in checks if _facts_match(c, tail=tail, birth_date=birth_date)
    ]
    if len(matches) != 1:
        services._register_failure(blind_index, ip)
        raise ApplicationError(MSG_IDENTITY_WRONG, code="identity_wrong")
    return matches[0]


@dataclass(frozen=True)
class SharedIdentifier:
    """What a person who proved only the code may see: the masked address."""

    kind: str
    blind_index: str
    masked: str


def _phone_channels(kind: str) -> list[Channel]:
    return list(Channel.objects.filter(is_active=True, address_kind=kind))


@transaction.atomic
def shared_identifier_stop_marketing(
    *, identifier: SharedIdentifier, evidence: Evidence
) -> list[ConsentEvent]:
    """Withdraw marketing on this address's channels for every customer who holds
    it: the person holding the number said stop, whichever record it is on (as an
    SMS STOP does). Nothing else of any holder is shown or changed."""
    points = list(
        ContactPoint.objects.filter(
            blind_index=identifier.blind_index,
            removed_at__isnull=True,
            customer__status=Customer.Status.ACTIVE,
        ).select_related("customer")
    )
    channels = _phone_channels(identifier.kind)
    actor = Actor.public("shared_identifier")
    events = []
    for point in sorted(points, key=lambda p: p.customer_id):
        granted = ConsentState.objects.granted().filter(
            customer=point.customer, channel__in=channels
        )
        for channel in channels:
            if not granted.filter(channel=channel).exists():
                continue
            events.append(
                consent_services.consent_withdraw(
                    customer=point.customer,
                    channel=channel,
                    topic=None,
                    source=ConsentEvent.Source.PORTAL,
                    actor=actor,
                    evidence=evidence,
                    contact_point=point,
                )
            )
    return events


# --- settings with the customer's own record ---------------------------------------


def _log(customer: Customer, kind: str, details: dict, actor: Actor | None = None):
    SettingChange.objects.create(
        customer=customer,
        kind=kind,
        details=details,
        actor=str(actor or Actor.customer(customer)),
    )


@transaction.atomic
def contact_settings_save(
    *,
    customer: Customer,
    quiet_start: time,
    quiet_end: time,
    time_zone: str,
    preferred_channel: Channel | None,
    preferred_language: str,
) -> Preference:
    before = Preference.objects.filter(customer=customer).first()
    old_language = customer.preferred_language
    pref = services.preference_update(
        customer=customer,
        quiet_start=quiet_start,
        quiet_end=quiet_end,
        time_zone=time_zone,
        preferred_channel=preferred_channel,
        preferred_language=preferred_language,
    )
    after = (
        pref.quiet_start,
        pref.quiet_end,
        pref.time_zone,
        pref.preferred_channel_id,
        preferred_language,
    )
    was = (
        (
            before.quiet_start,
            before.quiet_end,
            before.time_zone,
            before.preferred_channel_id,
            old_language,
        )
        if before
        else None
    )
    if after != was:
        _log(
            customer,
            SettingChange.Kind.CONTACT_SETTINGS,
            {
                "quiet_hours": pref.quiet_hours(),
                "preferred_channel": (
                    preferred_channel.code if preferred_channel else None
                ),
                "language": preferred_language,
            },
        )
    return pref


@transaction.atomic
def frequency_caps_save(
    *, customer: Customer, caps: dict[Channel, int | None]
) -> dict[str, int]:
    before = dict(customer.frequency_caps.values_list("channel__code", "max_per_week"))
    services.frequency_caps_set(customer=customer, caps=caps)
    after = {c.code: limit for c, limit in caps.items() if limit is not None}
    if after != before:
        _log(customer, SettingChange.Kind.FREQUENCY_CAPS, {"caps": after})
    return after


@transaction.atomic
def personalisation_save(*, customer: Customer, allowed: bool) -> Preference:
    before = Preference.objects.filter(customer=customer).first()
    was_allowed = before.personalisation_allowed if before else True
    if not allowed and ProfileTag.objects.filter(customer=customer).exists():
        # A refusal keeps no profile: the tags go in the same step (ledgered).
        services.profile_tags_clear(customer=customer, refuse_personalisation=True)
        pref = Preference.objects.get(customer=customer)
    else:
        pref = services.personalisation_set(customer=customer, allowed=allowed)
    if was_allowed != allowed:
        _log(customer, SettingChange.Kind.PERSONALISATION, {"allowed": allowed})
    return pref


@transaction.atomic
def profile_tags_clear_save(
    *,
    customer: Customer,
    tag_id: int | None,
    refuse_personalisation: bool,
    evidence: Evidence,
) -> int:
    """Clear one profile tag or all, and refuse personalisation if asked (one
    step, also kept in the customer's own history)."""
    before = Preference.objects.filter(customer=customer).first()
    was_allowed = before.personalisation_allowed if before else True
    count = services.profile_tags_clear(
        customer=customer,
        tag_id=tag_id,
        refuse_personalisation=refuse_personalisation,
        evidence=evidence,
    )
    if refuse_personalisation and was_allowed:
        _log(customer, SettingChange.Kind.PERSONALISATION, {"allowed": False})
    return count


@transaction.atomic
def care_pause_save(
    *, customer: Customer, ends_at: datetime, scope: str, reason: str
) -> CarePause:
    pause = services.care_pause_start(
        customer=customer, ends_at=ends_at, scope=scope, reason=reason
    )
    _log(
        customer,
        SettingChange.Kind.CARE_PAUSE_STARTED,
        {
            "until": timezone.localdate(ends_at).isoformat(),
            "scope": scope,
            "reason": reason,
        },
    )
    return pause


@transaction.atomic
def care_pause_end(*, customer: Customer) -> int:
    count = services.care_pause_cancel(customer=customer)
    if count:
        _log(customer, SettingChange.Kind.CARE_PAUSE_ENDED, {})
    return count


# --- stop all, and back ------------------------------------------------------------


def choices_before_stop_all(*, customer: Customer) -> list[ConsentState]:
    """The grants that "stop all marketing" withdrew: the customer may restore them
    in one confirmed step (each as a fresh grant citing today's notice). Only on
    channels the customer still holds a confirmed address for (double opt-in)."""
    opt_out = OptOut.objects.filter(customer=customer).first()
    if opt_out is None:
        return []
    return list(
        ConsentState.objects.filter(
            customer=customer,
            status=ConsentState.Status.WITHDRAWN,
            event_id=opt_out.event_id,
            channel__is_active=True,
            channel__address_kind__in=selectors.confirmed_address_kinds(
                customer=customer
            ),
            topic__is_active=True,
            topic__kind=Topic.Kind.MARKETING,
        )
        .select_related("channel", "topic")
        .order_by("topic__position", "topic__code", "channel__position")
    )


@transaction.atomic
def marketing_again(
    *,
    customer: Customer,
    restore: set[tuple[str, str]],
    notice_version: NoticeVersion | None,
    evidence: Evidence,
) -> list[ConsentEvent]:
    """Lift "stop all marketing" and grant again exactly the earlier choices the
    customer ticked, each as a new ledger event citing the notice shown."""
    earlier = {
        (s.channel.code, s.topic.code): s
        for s in choices_before_stop_all(customer=customer)
    }
    wanted = [earlier[cell] for cell in sorted(restore) if cell in earlier]
    if wanted:
        services._check_notice(notice_version)
    actor = Actor.customer(customer)
    events = [
        consent_services.consent_opt_in_all(
            customer=customer,
            source=ConsentEvent.Source.PORTAL,
            actor=actor,
            evidence=evidence,
        )
    ]
    for state in wanted:
        events.append(
            consent_services.consent_grant(
                customer=customer,
                channel=state.channel,
                topic=state.topic,
                source=ConsentEvent.Source.PORTAL,
                actor=actor,
                notice_version=notice_version,
                evidence=evidence,
            )
        )
    return events


# --- one-click unsubscribe ---------------------------------------------------------


UnsubscribeScope = consent_services.UnsubscribeScope


def one_click_unsubscribe_scoped(
    *,
    customer: Customer,
    channel: Channel,
    topic: Topic,
    scope: str,
    evidence: Evidence,
) -> tuple[ConsentEvent | None, bool]:
    """Withdraw from a signed link at the scope the person chose, through the same
    service as the ``email_unsubscribe`` event. Returns the event (None when nothing
    was left to withdraw) and whether it can be undone (only a single product that
    had been granted)."""
    done = consent_services.consent_unsubscribe(
        customer=customer,
        channel=channel,
        topic=topic,
        scope=scope,
        source=ConsentEvent.Source.ONE_CLICK,
        actor=Actor.public("one_click_link"),
        evidence=evidence,
    )
    return done.event, done.undoable


# --- contesting "not me" ----------------------------------------------------------


def not_me_contest_start(*, contact_point: ContactPoint, ip: str) -> None:
    """The customer says a number marked "not me" is theirs: send it a code."""
    if contact_point.status != ContactPoint.Status.NOT_ME:
        raise ApplicationError(MSG_NOT_NOT_ME, code="not_not_me")
    if services.not_me_contest_open_for(contact_point=contact_point) is not None:
        raise ApplicationError(services.MSG_CONTEST_OPEN, code="contest_open")
    services.one_time_code_issue(
        purpose=OneTimeCode.Purpose.VERIFY_CONTACT,
        target=CodeTarget(kind=contact_point.kind, normalised=contact_point.address),
        ip=ip,
        contact_point=contact_point,
    )


def not_me_contest_finish(
    *, contact_point: ContactPoint, code: str, ip: str
) -> NotMeReport:
    """A code received on the number shows the customer holds it now; staff decide
    (the one who said "not me" proved it too), so a task opens and the flag stays
    until then."""
    if contact_point.status != ContactPoint.Status.NOT_ME:
        raise ApplicationError(MSG_NOT_NOT_ME, code="not_not_me")
    if services.not_me_contest_open_for(contact_point=contact_point) is not None:
        raise ApplicationError(services.MSG_CONTEST_OPEN, code="contest_open")
    services.one_time_code_check(
        purpose=OneTimeCode.Purpose.VERIFY_CONTACT,
        blind_index=contact_point.blind_index,
        code=code,
        ip=ip,
    )
    return services.not_me_contest_open(contact_point=contact_point)
