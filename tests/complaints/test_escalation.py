"""The escalation beat task: due within 48 hours and overdue, each recorded once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from complaints.models import Complaint, Escalation
from complaints.tasks import complaint_escalate_task
from config.celery import app

pytestmark = pytest.mark.django_db


def _set_due(complaint, delta):
    Complaint.objects.filter(pk=complaint.pk).update(due_at=timezone.now() + delta)


def test_escalation_is_idempotent_and_notifies_supervisors_once(
    make_complaint, supervisor, outbox, django_capture_on_commit_callbacks
):
    overdue, soon, later = make_complaint(), make_complaint(), make_complaint()
    _set_due(overdue, -timedelta(hours=1))
    _set_due(soon, timedelta(hours=20))
    _set_due(later, timedelta(days=5))
    outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert complaint_escalate_task.delay().get() == 2
    with django_capture_on_commit_callbacks(execute=True):
        assert complaint_escalate_task.delay().get() == 0
    assert set(Escalation.objects.values_list("complaint_id", "kind")) == {
        (overdue.pk, "overdue"),
        (soon.pk, "due_soon"),
    }
    alerts = [m for m in outbox if m.purpose == "complaint_escalation"]
    assert [m.to for m in alerts] == ["supervisor@bank.example"] * 2
    assert overdue.reference in " ".join(m.subject for m in alerts)
    assert Escalation.objects.get(complaint=overdue).notified == 1
    assert overdue.events.filter(kind="escalated").count() == 1


def test_due_soon_then_overdue_escalates_again(make_complaint, supervisor):
    c = make_complaint()
    _set_due(c, timedelta(hours=10))
    complaint_escalate_task.delay()
    c.refresh_from_db()
    complaint_escalate_task.delay()  # same deadline, later run
    # The deadline passes.
    from complaints.services import complaint_escalations_run

    complaint_escalations_run(now=c.due_at + timedelta(minutes=1))
    assert list(
        Escalation.objects.filter(complaint=c)
        .order_by("pk")
        .values_list("kind", flat=True)
    ) == ["due_soon", "overdue"]


def test_paused_and_closed_complaints_are_not_escalated(make_complaint, handler):
    paused, decided = make_complaint(), make_complaint()
    Complaint.objects.filter(pk=paused.pk).update(paused_at=timezone.now())
    Complaint.objects.filter(pk=decided.pk).update(status="resolved")
    _set_due(paused, -timedelta(days=1))
    _set_due(decided, -timedelta(days=1))
    complaint_escalate_task.delay()
    assert not Escalation.objects.exists()


def test_beat_schedule_runs_the_task():
    entries = [e["task"] for e in app.conf.beat_schedule.values()]
    assert "complaints.tasks.complaint_escalate_task" in entries


def test_unacknowledged_and_review_deadlines_escalate(
    make_complaint, investigating, handler
):
    from complaints import services

    late_ack = make_complaint()
    Complaint.objects.filter(pk=late_ack.pk).update(
        status="received", ack_due_at=timezone.now() - timedelta(hours=1)
    )
    services.complaint_decide(
        complaint=investigating,
        outcome="upheld",
        findings="f",
        reasons="r",
        user=handler,
    )
    review = services.complaint_review_request(
        complaint=investigating, reason="disagree", actor="customer:x"
    )
    services.complaint_escalations_run(now=review.due_at + timedelta(hours=1))
    kinds = set(Escalation.objects.values_list("complaint_id", "kind"))
    assert (late_ack.pk, "ack_overdue") in kinds
    assert (investigating.pk, "review_overdue") in kinds


def test_t_minus_three_days_alert_is_raised_once(make_complaint, supervisor, settings):
    settings.COMPLAINT_ALERT_DAYS_BEFORE = 3
    in_two_and_a_half_days, in_four_days = make_complaint(), make_complaint()
    _set_due(in_two_and_a_half_days, timedelta(days=2, hours=12))
    _set_due(in_four_days, timedelta(days=4))
    complaint_escalate_task.delay()
    complaint_escalate_task.delay()
    assert set(Escalation.objects.values_list("complaint_id", "kind")) == {
        (in_two_and_a_half_days.pk, "due_in_days"),
    }


def test_the_due_soon_window_is_one_setting(
    make_complaint, supervisor, settings, staff_client
):
    settings.COMPLAINT_DUE_SOON_HOURS = 72
    settings.COMPLAINT_ALERT_DAYS_BEFORE = 0
    c = make_complaint()
    _set_due(c, timedelta(hours=60))
    complaint_escalate_task.delay()
    assert list(Escalation.objects.values_list("kind", flat=True)) == ["due_soon"]
    client = staff_client(supervisor)
    page = client.get("/admin/complaints/complaint/")
    assert "Due within 72 hours: 1" in page.content.decode()
    listed = client.get("/admin/complaints/complaint/", {"queue": "due_soon"})
    assert [r.pk for r in listed.context["cl"].result_list] == [c.pk]
