"""Alerts for sending systems that stopped reading the suppression feed.

A stale sender may be sending to people who said stop. Each stale spell raises one
``AnomalyAlert`` (rule ``sender_stale``) and one message to every compliance
officer; the next read ends the spell, so a later one alerts again.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from backoffice.audit import compliance_officers, staff_notify
from backoffice.models import AnomalyAlert
from consent.feed_positions import sender_lag_of_position, stale_positions
from consent.models import SenderFeedPosition


@transaction.atomic
def sender_stale_alert_raise(
    *, position: SenderFeedPosition, now: datetime
) -> AnomalyAlert | None:
    """One alert per stale spell: the position row is locked so two runs of the
    check cannot both raise it."""
    position = (
        SenderFeedPosition.objects.select_for_update()
        .select_related("client")
        .get(pk=position.pk)
    )
    lag = sender_lag_of_position(position, now)
    if not lag.stale or position.stale_alerted_at is not None:
        return None
    minutes = int(lag.lag.total_seconds() // 60)
    alert = AnomalyAlert.objects.create(
        user=None,
        username=position.client.name,
        rule=AnomalyAlert.Rule.SENDER_STALE,
        count=minutes,
        threshold=position.max_lag_minutes,
        window_start=position.read_at,
        window_end=now,
    )
    SenderFeedPosition.objects.filter(pk=position.pk).update(stale_alerted_at=now)
    subject = _("Sending system %(client)s is not reading the suppression feed") % {
        "client": position.client.name
    }
    body = _(
        "%(client)s last read the suppression feed %(minutes)d minutes ago "
        "(allowed: %(bound)d). It may be sending to people who said stop. "
        "Review it under Back office security > Anomaly alerts and API clients."
    ) % {
        "client": position.client.name,
        "minutes": minutes,
        "bound": position.max_lag_minutes,
    }
    staff_notify(
        compliance_officers(),
        subject=str(subject),
        body=str(body),
        purpose="sender_stale",
    )
    return alert


def sender_stale_check(*, now: datetime | None = None) -> list[AnomalyAlert]:
    """Raise an alert for every sender that became stale since the last check."""
    now = now or timezone.now()
    alerts = []
    for position in stale_positions(now=now):
        if position.stale_alerted_at is None:
            alert = sender_stale_alert_raise(position=position, now=now)
            if alert is not None:
                alerts.append(alert)
    return alerts
