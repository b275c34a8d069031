"""The customer's own consent changes: the matrix and one-click links."""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from consent import services as consent_services
from consent.errors import ApplicationError
from consent.ledger import Actor, Evidence
from consent.models import (
    Channel,
    ConsentEvent,
    ConsentState,
    Customer,
    NoticeVersion,
    Topic,
)
from consent.unit import consent_change
from preferences.selectors import confirmed_address_kinds
from preferences.services._common import (
    MSG_NOTICE_OUTDATED,
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


GRANT, WITHDRAW = ConsentEvent.Action.GRANT, ConsentEvent.Action.WITHDRAW

MSG_NO_CONFIRMED_ADDRESS = _(
    "%(channel)s cannot be switched on: we hold no confirmed address for it. "
    "Add an address first and confirm it."
)


def _check_confirmed_addresses(*, customer: Customer, grants: list) -> None:
    """Double opt-in: a channel is switched on only with a confirmed address for it
    (the page disables such a switch; this refuses a forged form)."""
    kinds = confirmed_address_kinds(customer=customer)
    for channel, _topic, _status in grants:
        if channel.address_kind not in kinds:
            raise ApplicationError(
                MSG_NO_CONFIRMED_ADDRESS % {"channel": channel.label},
                code="no_confirmed_address",
                extra={"channel": channel.code},
            )


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
    left alone. One unit of work, and the same number of statements for one cell
    as for all of them."""
    _check_notice(notice_version)
    changed = shown_on ^ wanted_on
    if not changed:
        return []
    channels = {c.code: c for c in Channel.objects.filter(is_active=True)}
    topics = {
        t.code: t
        for t in Topic.objects.filter(is_active=True, kind=Topic.Kind.MARKETING)
    }
    actor, source = Actor.customer(customer), ConsentEvent.Source.PORTAL
    with consent_change(actor=actor, source=source, evidence=evidence) as change:
        change.lock(customer)
        current = {
            (channel, topic)
            for channel, topic in ConsentState.objects.granted()
            .filter(customer=customer)
            .values_list("channel__code", "topic__code")
        }
        cells = []
        for cell in sorted(changed):
            channel, topic = channels.get(cell[0]), topics.get(cell[1])
            if channel is None or topic is None:
                continue
            if cell in wanted_on and cell not in current:
                cells.append((channel, topic, ConsentState.Status.GRANTED))
            elif cell not in wanted_on and cell in current:
                cells.append((channel, topic, ConsentState.Status.WITHDRAWN))
        grants = [c for c in cells if c[2] == ConsentState.Status.GRANTED]
        if grants:
            _check_confirmed_addresses(customer=customer, grants=grants)
            consent_services.grant_check(
                change=change,
                customer=customer,
                channel=grants[0][0],
                topic=grants[0][1],
                notice_version=notice_version,
            )
        change.reserve(len(cells))
        events, projection = [], []
        for channel, topic, status in cells:
            granted = status == ConsentState.Status.GRANTED
            event = change.record(
                customer=customer,
                action=GRANT if granted else WITHDRAW,
                channel=channel,
                topic=topic,
                notice_version=notice_version if granted else None,
            )
            events.append(event)
            projection.append((customer, channel, topic, status, event))
        consent_services.consent_states_write(projection)
    return events


def service_messages_apply(
    *,
    customer: Customer,
    shown_on: set[tuple[str, str]],
    wanted_on: set[tuple[str, str]],
    notice_version: NoticeVersion,
    evidence: Evidence,
) -> list[ConsentEvent]:
    """Switch service messages the customer may refuse off (a withdrawal of the
    cell) or back on (a grant citing the page's notice), only the cells moved. Other
    service topics, security alerts above all, are never touched. One unit."""
    _check_notice(notice_version)
    changed = shown_on ^ wanted_on
    if not changed:
        return []
    channels = {c.code: c for c in Channel.objects.filter(is_active=True)}
    topics = {
        t.code: t
        for t in Topic.objects.filter(is_active=True, kind=Topic.Kind.SERVICE)
        if t.is_refusable_service
    }
    actor, source = Actor.customer(customer), ConsentEvent.Source.PORTAL
    events = []
    with consent_change(actor=actor, source=source, evidence=evidence) as change:
        change.lock(customer)
        refused = set(
            ConsentState.objects.filter(
                customer=customer, status=ConsentState.Status.WITHDRAWN
            ).values_list("channel__code", "topic__code")
        )
        for cell in sorted(changed):
            channel, topic = channels.get(cell[0]), topics.get(cell[1])
            if channel is None or topic is None:
                continue
            common = {
                "customer": customer,
                "channel": channel,
                "topic": topic,
                "source": source,
                "actor": actor,
                "evidence": evidence,
                "change": change,
            }
            if cell in wanted_on and cell in refused:
                events.append(
                    consent_services.consent_grant(
                        notice_version=notice_version, **common
                    )
                )
            elif cell not in wanted_on and cell not in refused:
                events.append(consent_services.consent_withdraw(**common))
    return events


def one_click_unsubscribe(
    *, customer: Customer, channel: Channel, topic: Topic, evidence: Evidence
) -> tuple[ConsentEvent | None, bool]:
    """Withdraw one channel and topic from a signed link. Returns the event (None when
    it was already withdrawn) and whether it had been granted (so it can be undone)."""
    actor, source = Actor.public("one_click_link"), ConsentEvent.Source.ONE_CLICK
    with consent_change(actor=actor, source=source, evidence=evidence) as change:
        change.lock(customer)
        state = ConsentState.objects.filter(
            customer=customer, channel=channel, topic=topic
        ).first()
        if state is not None and state.status == ConsentState.Status.WITHDRAWN:
            return None, False
        event = consent_services.consent_withdraw(
            customer=customer,
            channel=channel,
            topic=topic,
            source=source,
            actor=actor,
            evidence=evidence,
            change=change,
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
    actor, source = Actor.public("one_click_link"), ConsentEvent.Source.ONE_CLICK
    with consent_change(actor=actor, source=source, evidence=evidence) as change:
        change.lock(customer)
        state = (
            ConsentState.objects.filter(customer=customer, channel=channel, topic=topic)
            .select_related("event")
            .first()
        )
        if state is None or state.event.seq != event_seq:
            return None
        _check_notice(notice_version)
        event = consent_services.consent_grant(
            customer=customer,
            channel=channel,
            topic=topic,
            source=source,
            actor=actor,
            notice_version=notice_version,
            evidence=evidence,
            change=change,
        )
    return event
