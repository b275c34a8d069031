"""Anomaly rules fire exactly at their threshold and notify compliance officers."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from backoffice.audit import access_log_record
from backoffice.models import AccessLog, AnomalyAlert
from backoffice.roles import COMPLAINT_HANDLER, COMPLIANCE_OFFICER

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def handler(staff_user):
    return staff_user(COMPLAINT_HANDLER, username="hank")


@pytest.fixture
def officer(staff_user):
    return staff_user(COMPLIANCE_OFFICER, username="olga", email="olga@bank.example")


def change(user, ref: str, at=None):
    return access_log_record(
        user=user,
        action=AccessLog.Action.CHANGE,
        object_type="consent.customer",
        object_id=ref,
        customer_ref=ref,
        fields=["preferred_language"],
        at=at,
    )


def test_change_burst_fires_exactly_at_the_threshold(
    handler, officer, settings, outbox, django_capture_on_commit_callbacks
):
    settings.ANOMALY_CHANGE_THRESHOLD = 5
    settings.ANOMALY_CHANGE_WINDOW_MINUTES = 10
    for n in range(4):
        change(handler, f"C{n}")
    change(handler, "C0")  # the same customer again does not count twice
    assert not AnomalyAlert.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        change(handler, "C4")
    alert = AnomalyAlert.objects.get()
    assert (alert.username, alert.rule, alert.count, alert.threshold) == (
        "hank",
        AnomalyAlert.Rule.CHANGE_BURST,
        5,
        5,
    )
    assert [m.to for m in outbox] == ["olga@bank.example"]
    assert "hank" in outbox[0].body and "C4" not in outbox[0].body
    # One alert per window, however long the burst goes on.
    change(handler, "C5")
    assert AnomalyAlert.objects.count() == 1


def test_changes_spread_beyond_the_window_do_not_fire(handler, settings):
    settings.ANOMALY_CHANGE_THRESHOLD = 3
    settings.ANOMALY_CHANGE_WINDOW_MINUTES = 10
    start = datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI)
    change(handler, "A", at=start)
    change(handler, "B", at=start + timedelta(minutes=6))
    change(handler, "C", at=start + timedelta(minutes=11))
    assert not AnomalyAlert.objects.exists()
    change(handler, "D", at=start + timedelta(minutes=12))
    assert AnomalyAlert.objects.get().count == 3


def test_unmasking_counts_with_changes(handler, settings):
    settings.ANOMALY_CHANGE_THRESHOLD = 2
    change(handler, "A")
    access_log_record(
        user=handler,
        action=AccessLog.Action.UNMASK,
        customer_ref="B",
        object_type="consent.contactpoint",
        object_id=1,
        reason="customer on the phone",
    )
    assert AnomalyAlert.objects.get().rule == AnomalyAlert.Rule.CHANGE_BURST


def test_search_burst_counts_distinct_searches(handler, settings):
    settings.ANOMALY_SEARCH_THRESHOLD = 3
    for terms in ("CUST1", "cust1 ", "CUST2"):
        access_log_record(
            user=handler, action=AccessLog.Action.SEARCH, search_terms=terms
        )
    assert not AnomalyAlert.objects.exists()
    access_log_record(
        user=handler, action=AccessLog.Action.SEARCH, search_terms="CUST3"
    )
    alert = AnomalyAlert.objects.get()
    assert alert.rule == AnomalyAlert.Rule.SEARCH_BURST and alert.count == 3


def test_export_outside_working_hours_fires(handler, officer, settings):
    saturday = datetime(2026, 3, 7, 11, 0, tzinfo=SHANGHAI)
    late_monday = datetime(2026, 3, 2, 22, 30, tzinfo=SHANGHAI)
    monday = datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI)
    for at in (monday, saturday, late_monday):
        access_log_record(
            user=handler, action=AccessLog.Action.EXPORT, result_count=40, at=at
        )
    alerts = AnomalyAlert.objects.order_by("window_start")
    assert [a.window_start for a in alerts] == [late_monday, saturday]
    assert {a.rule for a in alerts} == {AnomalyAlert.Rule.OFF_HOURS_EXPORT}


def test_alerts_are_listed_for_compliance_officers_only(
    handler, officer, settings, otp_admin_client
):
    settings.ANOMALY_CHANGE_THRESHOLD = 1
    change(handler, "A")
    page = otp_admin_client(officer).get("/admin/backoffice/anomalyalert/")
    assert page.status_code == 200 and "hank" in page.content.decode()
    assert (
        otp_admin_client(handler).get("/admin/backoffice/anomalyalert/").status_code
        == 403
    )
    alert = AnomalyAlert.objects.get()
    client = otp_admin_client(officer)
    client.post(
        "/admin/backoffice/anomalyalert/",
        {"action": "mark_reviewed", "_selected_action": [alert.pk]},
    )
    alert.refresh_from_db()
    assert alert.status == AnomalyAlert.Status.REVIEWED and alert.reviewed_by == "olga"
