"""Send incidents: a sending system sent to a key that did not permit it.

The send audit (``consent.inbound``) records each such send as a ``Violation`` and
calls :func:`send_incident_open` through ``consent.hooks``, in the same transaction.
The first violation of a (sending system, key, day) opens an incident and tells
every compliance officer once the transaction commits; later ones that day count
on the same incident.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from backoffice.audit import compliance_officers, staff_notify
from backoffice.models import SendIncident
from consent.models import Violation


def _notify(incident: SendIncident, violation: Violation) -> None:
    subject = _("Send incident: %(sender)s sent to a refused key") % {
        "sender": incident.client.name
    }
    body = _(
        "%(sender)s sent a %(topic)s message on %(channel)s that was not permitted "
        "(%(reasons)s). Review it under Back office security > Send incidents."
    ) % {
        "sender": incident.client.name,
        "topic": violation.topic.code,
        "channel": violation.channel.code,
        "reasons": ", ".join(violation.reasons),
    }
    staff_notify(
        compliance_officers(),
        subject=str(subject),
        body=str(body),
        purpose="send_incident",
    )


def send_incident_open(*, violation: Violation) -> SendIncident:
    """Open the day's incident for this sender and key, or count on it."""
    day = timezone.localdate(violation.sent_at)
    key = {
        "client_id": violation.client_id,
        "channel_id": violation.channel_id,
        "blind_index": violation.blind_index,
        "day": day,
    }
    try:
        with transaction.atomic():
            incident = SendIncident.objects.create(
                **key,
                first_violation=violation,
                last_sent_at=violation.sent_at,
            )
    except IntegrityError:
        incident = SendIncident.objects.select_for_update().get(**key)
        incident.violation_count = F("violation_count") + 1
        incident.last_sent_at = max(incident.last_sent_at, violation.sent_at)
        incident.save(update_fields=["violation_count", "last_sent_at"])
        incident.refresh_from_db()
        return incident
    _notify(incident, violation)
    return incident


def send_incident_close(*, incident: SendIncident, user) -> SendIncident:
    incident.status = SendIncident.Status.CLOSED
    incident.closed_by = user.get_username()
    incident.closed_at = timezone.now()
    incident.save(update_fields=["status", "closed_by", "closed_at"])
    return incident
