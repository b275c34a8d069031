"""Triage in admin: queues, roles, buttons that call services, statistics, export."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from backoffice.models import AccessLog
from complaints.models import Complaint, ComplaintExtension

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:complaints_complaint_changelist"


def _ids(response) -> set[int]:
    return {obj.pk for obj in response.context["cl"].result_list}


def test_handler_sees_own_and_unassigned_supervisor_sees_all(
    staff_client, make_complaint, handler, handler2, supervisor
):
    mine, unassigned, theirs = make_complaint(), make_complaint(), make_complaint()
    Complaint.objects.filter(pk=mine.pk).update(assignee=handler)
    Complaint.objects.filter(pk=theirs.pk).update(assignee=handler2)
    response = staff_client(handler).get(reverse(CHANGELIST))
    assert response.status_code == 200
    assert _ids(response) == {mine.pk, unassigned.pk}
    other = reverse("admin:complaints_complaint_change", args=[theirs.pk])
    assert staff_client(handler).get(other).status_code == 302  # not found -> list
    assert _ids(staff_client(supervisor).get(reverse(CHANGELIST))) == {
        mine.pk,
        unassigned.pk,
        theirs.pk,
    }


def test_queue_filters(staff_client, make_complaint, supervisor):
    overdue, soon, later = make_complaint(), make_complaint(), make_complaint()
    now = timezone.now()
    Complaint.objects.filter(pk=overdue.pk).update(due_at=now - timedelta(hours=2))
    Complaint.objects.filter(pk=soon.pk).update(
        due_at=now + timedelta(hours=30), assignee=supervisor
    )
    Complaint.objects.filter(pk=later.pk).update(due_at=now + timedelta(days=9))
    c = staff_client(supervisor)
    url = reverse(CHANGELIST)
    assert _ids(c.get(url, {"queue": "overdue"})) == {overdue.pk}
    assert _ids(c.get(url, {"queue": "due_48h"})) == {soon.pk}
    assert _ids(c.get(url, {"queue": "unassigned"})) == {overdue.pk, later.pk}
    assert _ids(c.get(url, {"queue": "mine"})) == {soon.pk}
    body = c.get(url).content.decode()
    assert "cmp-due-overdue" in body and "cmp-due-soon" in body and "cmp-due-ok" in body


def test_changelist_query_count_does_not_grow(
    staff_client, make_complaint, supervisor, django_assert_max_num_queries
):
    c = staff_client(supervisor)
    for _ in range(3):
        make_complaint()
    with django_assert_max_num_queries(30) as few:
        c.get(reverse(CHANGELIST))
    for _ in range(12):
        make_complaint()
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = c.get(reverse(CHANGELIST))
    assert len(response.context["cl"].result_list) == 15


def test_buttons_work_the_complaint_from_receipt_to_closure(
    staff_client, make_complaint, handler, outbox, django_capture_on_commit_callbacks
):
    complaint = make_complaint()
    c = staff_client(handler)
    change = reverse("admin:complaints_complaint_change", args=[complaint.pk])
    page = c.get(change)
    assert page.status_code == 200
    names = [item["name"] for item in page.context["workflow"]]
    assert "take" in names and "investigate" in names and "assign" not in names

    def act(name, data=None):
        url = reverse("admin:complaints_complaint_act", args=[complaint.pk, name])
        with django_capture_on_commit_callbacks(execute=True):
            response = c.post(url, {f"{name}-{k}": v for k, v in (data or {}).items()})
        assert response.status_code == 302
        complaint.refresh_from_db()

    act("take")
    assert complaint.assignee == handler
    act("investigate")
    assert complaint.status == "investigating"
    act("note", {"text": "Checked the gateway logs"})
    act("reply", {"text": "We are checking."})
    act("extend", {"reason": "Waiting for the sender's logs."})
    assert complaint.extension_step == 1
    act("decide", {"outcome": "upheld", "findings": "Sent late", "reasons": "Sync lag"})
    assert complaint.status == "resolved" and complaint.decision_sent_at
    act("close", {"root_cause": "content"})  # remediation missing: refused
    assert complaint.status == "resolved"
    act(
        "close",
        {
            "root_cause": "third_party_sender",
            "remediation_action": "Sync",
            "remediation_owner": "Ops",
        },
    )
    assert complaint.status == "closed"
    assert AccessLog.objects.filter(user=handler, action="change").count() >= 7
    purposes = [m.purpose for m in outbox]
    assert purposes.count("complaint_decision") == 1
    assert "Checked the gateway logs" not in " ".join(m.body for m in outbox)


def test_illegal_button_shows_an_error_and_changes_nothing(
    staff_client, make_complaint, handler
):
    complaint = make_complaint()
    c = staff_client(handler)
    url = reverse("admin:complaints_complaint_act", args=[complaint.pk, "decide"])
    response = c.post(
        url,
        {"decide-outcome": "upheld", "decide-findings": "x", "decide-reasons": "y"},
        follow=True,
    )
    assert any("cannot go from" in str(m) for m in response.context["messages"])
    complaint.refresh_from_db()
    assert complaint.status == "acknowledged"


def test_only_supervisor_approves_the_last_extension(
    staff_client, investigating, handler, supervisor
):
    from complaints import services

    services.complaint_extend(complaint=investigating, reason="a", user=handler)
    services.complaint_extend(complaint=investigating, reason="b", user=handler)
    url = reverse(
        "admin:complaints_complaint_act", args=[investigating.pk, "approve_extension"]
    )
    staff_client(handler).post(url)
    assert ComplaintExtension.objects.filter(status="pending").count() == 1
    staff_client(supervisor).post(url)
    assert ComplaintExtension.objects.filter(status="pending").count() == 0
    investigating.refresh_from_db()
    assert investigating.extension_step == 2


def test_auditor_can_look_but_not_act(staff_client, make_complaint, auditor):
    complaint = make_complaint()
    c = staff_client(auditor)
    assert c.get(reverse(CHANGELIST)).status_code == 200
    page = c.get(reverse("admin:complaints_complaint_change", args=[complaint.pk]))
    assert page.status_code == 200 and page.context["workflow"] == []
    url = reverse("admin:complaints_complaint_act", args=[complaint.pk, "take"])
    assert c.post(url).status_code == 403
    complaint.refresh_from_db()
    assert complaint.assignee is None


def test_statistics_page_draws_svg_charts(staff_client, make_complaint, officer):
    make_complaint(category="too_frequent")
    response = staff_client(officer).get(
        reverse("admin:complaints_complaint_statistics")
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "style-src 'self'" in response["Content-Security-Policy"]
    assert body.count("<svg") >= 4
    assert ' style="' not in body.split('id="content-main"')[1]
    assert "<script" not in body.split('id="content-main"')[1]


def test_regulator_csv_has_one_row_per_complaint_and_no_addresses(
    staff_client, officer, investigating, handler, run_on_commit
):
    from complaints import services

    run_on_commit(
        services.complaint_decide,
        complaint=investigating,
        outcome="upheld",
        findings="f",
        reasons="r",
        user=handler,
    )
    services.complaint_close(
        complaint=investigating, root_cause="no_fault", user=handler
    )
    response = staff_client(officer).get(reverse("admin:complaints_complaint_export"))
    text = b"".join(response.streaming_content).decode()
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:3] == ["reference", "received_date", "acknowledged_date"]
    assert len(rows) == 2
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["reference"] == investigating.reference
    assert row["product"] == "marketing" and row["sub_product"] == "credit_card"
    assert row["channel"] == "sms" and row["source"] == "portal"
    assert row["status"] == "closed" and row["timely"] == "yes"
    assert row["outcome"] == "upheld" and row["root_cause"] == "no_fault"
    assert "138" not in text and "@" not in text
    assert AccessLog.objects.filter(user=officer, action="export").exists()


def test_due_state_is_written_out_not_only_coloured(
    staff_client, make_complaint, supervisor
):
    overdue, soon = make_complaint(), make_complaint()
    now = timezone.now()
    Complaint.objects.filter(pk=overdue.pk).update(due_at=now - timedelta(hours=2))
    Complaint.objects.filter(pk=soon.pk).update(due_at=now + timedelta(hours=30))
    body = staff_client(supervisor).get(reverse(CHANGELIST)).content.decode()
    assert '<span class="cmp-due-state">overdue</span>' in body
    assert '<span class="cmp-due-state">due soon</span>' in body
    assert 'class="cmp-due cmp-due-soon" title=' not in body


def test_amber_queue_link_is_dark_text():
    from pathlib import Path

    css = (
        Path(__file__).resolve().parents[2] / "complaints/static/complaints/admin.css"
    ).read_text()
    assert "a.cmp-queue.cmp-due-soon" in css
    rule = css.split("a.cmp-queue.cmp-due-soon", 1)[1].split("}", 1)[0]
    assert "color: #000" in rule
