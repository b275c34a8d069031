"""Asking a customer for a marketing consent, and the quiet period after a refusal.

A sending system asks through the API; the customer sees the request as a prompt in
the portal and says yes (a grant citing the notice shown) or no (a withdrawal of
that cell: the ledger keeps the refusal). After any refusal of a consent, asking
for it again is refused for ``CONSENT_REQUEST_QUIET_DAYS`` (default 180): the API
answers 409 ``quiet_period`` and the portal does not show the prompt. The
customer's own grant in the portal is never held back.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from consent import services
from consent.errors import ApplicationError
from consent.ledger import Actor, Evidence
from consent.models import (
    ApiClient,
    Channel,
    ConsentEvent,
    ConsentRequest,
    ConsentState,
    Customer,
    NoticeVersion,
    OptOut,
    Topic,
)
from consent.unit import consent_change

MSG_QUIET_PERIOD = _(
    "The customer refused this consent on %(refused)s. Asking again is not allowed "
    "before %(until)s."
)
MSG_ALREADY_GRANTED = _("The customer already gave this consent.")
MSG_NOT_ASKABLE = _("Consent can only be asked for a marketing topic.")
MSG_CUSTOMER_INACTIVE = _("This customer cannot be asked for consent.")
MSG_CHANNEL_INACTIVE = _("This channel is not in use.")
MSG_REQUEST_ANSWERED = _("This request was already answered.")
MSG_OPTED_OUT = _(
    "The customer stopped all marketing. Only the customer can ask for marketing "
    "again, in the self-service portal."
)

REFUSALS = (ConsentEvent.Action.WITHDRAW, ConsentEvent.Action.OPT_OUT_ALL)


def quiet_period() -> timedelta:
    return timedelta(days=settings.CONSENT_REQUEST_QUIET_DAYS)


def last_refusal(
    *, customer: Customer, channel: Channel, topic: Topic, now: datetime
) -> datetime | None:
    """When the customer last refused this consent within the quiet period: a
    withdrawal of the cell, of its channel or product or of everything, or "stop
    all marketing", from any source, whether or not it changed a cell."""
    since = now - quiet_period()
    return (
        ConsentEvent.objects.filter(
            customer=customer, action__in=REFUSALS, occurred_at__gte=since
        )
        .filter(Q(channel__isnull=True) | Q(channel=channel))
        .filter(Q(topic__isnull=True) | Q(topic=topic))
        .order_by("-occurred_at")
        .values_list("occurred_at", flat=True)
        .first()
    )


def asking_allowed_from(
    *, customer: Customer, channel: Channel, topic: Topic, now: datetime | None = None
) -> datetime | None:
    """When this consent may be asked for again, or None when it may be now."""
    refused = last_refusal(
        customer=customer, channel=channel, topic=topic, now=now or timezone.now()
    )
    return refused + quiet_period() if refused else None


def _require_askable(*, customer: Customer, channel: Channel, topic: Topic, now):
    if not topic.is_marketing:
        raise ApplicationError(MSG_NOT_ASKABLE, code="not_askable")
    if not channel.is_active:
        raise ApplicationError(MSG_CHANNEL_INACTIVE, code="channel_inactive")
    if customer.status != Customer.Status.ACTIVE:
        raise ApplicationError(MSG_CUSTOMER_INACTIVE, code="customer_inactive")
    refused = last_refusal(customer=customer, channel=channel, topic=topic, now=now)
    if refused is not None:
        until = refused + quiet_period()
        raise ApplicationError(
            MSG_QUIET_PERIOD
            % {
                "refused": timezone.localdate(refused).isoformat(),
                "until": timezone.localdate(until).isoformat(),
            },
            code="quiet_period",
            extra={"status": 409, "asking_allowed_from": until.isoformat()},
        )
    if OptOut.objects.filter(customer=customer).exists():
        # Stopped longer ago than the quiet period: still not for others to re-ask.
        raise ApplicationError(MSG_OPTED_OUT, code="opted_out", extra={"status": 409})
    if ConsentState.objects.granted().filter(
        customer=customer, channel=channel, topic=topic
    ):
        raise ApplicationError(
            MSG_ALREADY_GRANTED, code="already_granted", extra={"status": 409}
        )


def consent_request_create(
    *,
    customer: Customer,
    channel: Channel,
    topic: Topic,
    client: ApiClient | None = None,
    now: datetime | None = None,
) -> tuple[ConsentRequest, bool]:
    """Ask the customer for this consent (a prompt in the portal). Returns the
    request and whether it is new (one pending request per consent). Raises
    ``ApplicationError`` ``quiet_period`` (409) within the quiet period after a
    refusal, ``already_granted`` (409) when there is nothing to ask."""
    now = now or timezone.now()
    _require_askable(customer=customer, channel=channel, topic=topic, now=now)
    pending = ConsentRequest.objects.filter(
        customer=customer,
        channel=channel,
        topic=topic,
        status=ConsentRequest.Status.PENDING,
    ).first()
    if pending is not None:
        return pending, False
    try:
        with transaction.atomic():
            return (
                ConsentRequest.objects.create(
                    customer=customer,
                    channel=channel,
                    topic=topic,
                    client=client,
                    created_at=now,
                ),
                True,
            )
    except IntegrityError:  # a concurrent identical request won
        return (
            ConsentRequest.objects.get(
                customer=customer,
                channel=channel,
                topic=topic,
                status=ConsentRequest.Status.PENDING,
            ),
            False,
        )


def consent_requests_to_show(
    *, customer: Customer, now: datetime | None = None
) -> list[ConsentRequest]:
    """The prompts to show the customer now: pending, not granted meanwhile, and
    not within the quiet period of a refusal made since they were asked."""
    now = now or timezone.now()
    pending = list(
        ConsentRequest.objects.filter(
            customer=customer, status=ConsentRequest.Status.PENDING
        ).select_related("channel", "topic")
    )
    if not pending:
        return []
    granted = set(
        ConsentState.objects.granted()
        .filter(customer=customer)
        .values_list("channel_id", "topic_id")
    )
    refusals = list(
        ConsentEvent.objects.filter(
            customer=customer,
            action__in=REFUSALS,
            occurred_at__gte=now - quiet_period(),
        ).values_list("channel_id", "topic_id")
    )

    def refused(request: ConsentRequest) -> bool:
        return any(
            (ch is None or ch == request.channel_id)
            and (tp is None or tp == request.topic_id)
            for ch, tp in refusals
        )

    return [
        r
        for r in pending
        if (r.channel_id, r.topic_id) not in granted
        and r.channel.is_active
        and r.topic.is_active
        and not refused(r)
    ]


def consent_request_answer(
    *,
    request: ConsentRequest,
    accept: bool,
    notice_version: NoticeVersion | None,
    evidence: Evidence,
) -> ConsentRequest:
    """The customer's answer in the portal: yes grants the consent citing the
    notice shown; no withdraws it (the refusal is in the ledger and starts the quiet
    period)."""
    customer = request.customer
    actor = Actor.customer(customer)
    source = ConsentEvent.Source.PORTAL
    evidence = Evidence(
        ip=evidence.ip,
        user_agent=evidence.user_agent,
        request_id=evidence.request_id,
        extra=(*evidence.extra, ("consent_request", str(request.pk))),
    )
    with consent_change(actor=actor, source=source, evidence=evidence) as change:
        change.lock(customer)
        request = ConsentRequest.objects.select_for_update().get(pk=request.pk)
        if request.status != ConsentRequest.Status.PENDING:
            raise ApplicationError(MSG_REQUEST_ANSWERED, code="already_answered")
        common = {
            "customer": customer,
            "channel": request.channel,
            "topic": request.topic,
            "source": source,
            "actor": actor,
            "evidence": evidence,
            "change": change,
        }
        if accept:
            event = services.consent_grant(notice_version=notice_version, **common)
        else:
            event = services.consent_withdraw(**common)
        request.status = (
            ConsentRequest.Status.ACCEPTED if accept else ConsentRequest.Status.DECLINED
        )
        request.answered_at = change.now
        request.answer_event_id = event.pk

        def save_answer(request=request) -> None:
            # After the ordering step: the ledger row exists by then.
            request.save(update_fields=["status", "answered_at", "answer_event"])

        change.on_sealed(save_answer)
    return request
