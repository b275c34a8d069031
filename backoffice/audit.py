"""Writing the staff access log and flagging unusual access patterns.

Every tracked staff action goes through ``access_log_record``, which also runs the
anomaly rules for that staff member, so an alert is raised by the very request that
crosses a threshold.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from backoffice.models import AccessLog, AnomalyAlert
from backoffice.roles import COMPLIANCE_OFFICER
from consent import crypto


def _setting(name: str, default):
    return getattr(settings, name, default)


def client_ip(request) -> str | None:
    """The address Django saw; a proxy in front sets REMOTE_ADDR correctly."""
    return (request.META.get("REMOTE_ADDR") or None) if request is not None else None


def search_hash(terms: str) -> str:
    """Searches are counted and compared, never stored: terms may be phone numbers."""
    normalised = " ".join((terms or "").lower().split())
    return crypto.blind_index(f"search:{normalised}") if normalised else ""


@transaction.atomic
def access_log_record(
    *,
    user,
    action: str,
    request=None,
    object_type: str = "",
    object_id: str | int = "",
    customer_ref: str = "",
    fields: Iterable[str] = (),
    search_terms: str = "",
    result_count: int | None = None,
    reason: str = "",
    at=None,
) -> AccessLog:
    """Append one access log row and evaluate the anomaly rules for this user."""
    entry = AccessLog.objects.create(
        at=at or timezone.now(),
        user=user,
        username=user.get_username(),
        action=action,
        object_type=object_type,
        object_id=str(object_id or ""),
        customer_ref=customer_ref or "",
        fields=sorted(set(fields)),
        search_hash=search_hash(search_terms),
        result_count=result_count,
        reason=reason[:300],
        ip=client_ip(request),
    )
    anomaly_check(user=user, entry=entry)
    return entry


# --- anomaly rules --------------------------------------------------------------------


def _recent_alert(user, rule: str, since) -> bool:
    return AnomalyAlert.objects.filter(
        user=user, rule=rule, created_at__gte=since
    ).exists()


def _is_working_time(moment) -> bool:
    local = timezone.localtime(moment)
    start, end = _setting("WORKING_HOURS", (8, 19))
    days = _setting("WORKING_DAYS", (0, 1, 2, 3, 4))
    return local.weekday() in days and start <= local.hour < end


def _burst(*, user, entry: AccessLog, rule: str, actions, column: str, limit, minutes):
    window_start = entry.at - timedelta(minutes=minutes)
    distinct = (
        AccessLog.objects.filter(
            user=user, action__in=actions, at__gt=window_start, at__lte=entry.at
        )
        .exclude(**{column: ""})
        .values(column)
        .distinct()
        .count()
    )
    if distinct >= limit and not _recent_alert(user, rule, window_start):
        return anomaly_alert_raise(
            user=user,
            rule=rule,
            count=distinct,
            threshold=limit,
            window_start=window_start,
            window_end=entry.at,
        )
    return None


def anomaly_check(*, user, entry: AccessLog) -> AnomalyAlert | None:
    """Raise an alert when this entry brings the user to a configured threshold.

    A rule fires when the count *reaches* its threshold, and once per window, so a
    burst of 50 changes gives one alert, not 31.
    """
    A = AccessLog.Action
    if entry.action in (A.CHANGE, A.UNMASK) and entry.customer_ref:
        return _burst(
            user=user,
            entry=entry,
            rule=AnomalyAlert.Rule.CHANGE_BURST,
            actions=(A.CHANGE, A.UNMASK),
            column="customer_ref",
            limit=_setting("ANOMALY_CHANGE_THRESHOLD", 20),
            minutes=_setting("ANOMALY_CHANGE_WINDOW_MINUTES", 10),
        )
    if entry.action == A.SEARCH and entry.search_hash:
        return _burst(
            user=user,
            entry=entry,
            rule=AnomalyAlert.Rule.SEARCH_BURST,
            actions=(A.SEARCH,),
            column="search_hash",
            limit=_setting("ANOMALY_SEARCH_THRESHOLD", 30),
            minutes=_setting("ANOMALY_SEARCH_WINDOW_MINUTES", 10),
        )
    if entry.action == A.EXPORT and not _is_working_time(entry.at):
        return anomaly_alert_raise(
            user=user,
            rule=AnomalyAlert.Rule.OFF_HOURS_EXPORT,
            count=entry.result_count or 0,
            threshold=0,
            window_start=entry.at,
            window_end=entry.at,
        )
    return None


def compliance_officers():
    return (
        get_user_model()
        .objects.filter(is_active=True, is_staff=True, groups__name=COMPLIANCE_OFFICER)
        .distinct()
    )


def staff_notify(people, *, subject: str, body: str, purpose: str) -> None:
    """Message these staff once the transaction commits: by e-mail where they have
    an address, else in their back-office inbox."""
    from consent.tasks import send_message_task

    for person in people:
        to, kind = (
            (person.email, "email")
            if person.email
            else (person.get_username(), "staff")
        )
        transaction.on_commit(
            lambda to=to, kind=kind: send_message_task.delay(
                to=to, kind=kind, subject=subject, body=body, purpose=purpose
            )
        )


@transaction.atomic
def anomaly_alert_raise(
    *, user, rule: str, count: int, threshold: int, window_start, window_end
) -> AnomalyAlert:
    """Store the alert and tell compliance officers once the transaction commits."""
    alert = AnomalyAlert.objects.create(
        user=user,
        username=user.get_username(),
        rule=rule,
        count=count,
        threshold=threshold,
        window_start=window_start,
        window_end=window_end,
    )
    subject = _("Back-office alert: %(rule)s") % {"rule": alert.get_rule_display()}
    body = _(
        "Staff member %(username)s: %(rule)s (%(count)d, threshold %(threshold)d). "
        "Review it under Back office security > Anomaly alerts."
    ) % {
        "username": alert.username,
        "rule": alert.get_rule_display(),
        "count": count,
        "threshold": threshold,
    }
    staff_notify(
        compliance_officers(),
        subject=str(subject),
        body=str(body),
        purpose="anomaly_alert",
    )
    return alert


@transaction.atomic
def anomaly_alert_review(*, alert: AnomalyAlert, user) -> AnomalyAlert:
    alert.status = AnomalyAlert.Status.REVIEWED
    alert.reviewed_by = user.get_username()
    alert.reviewed_at = timezone.now()
    alert.save(update_fields=["status", "reviewed_by", "reviewed_at"])
    return alert
