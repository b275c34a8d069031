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
    assert _ids(c.get(url, {"queue": "due_soon"})) == {soon.pk}
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
        post = {f"{name}-{k}": v for k, v in (data or {}).items()}
        if name in ("decide", "reply"):
            post["confirm"] = "1"  # after the preview
        with django_capture_on_commit_callbacks(execute=True):
            response = c.post(url, post)
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
            "remediation_due_on": "2026-12-31",
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
    # Regulator codes from the mapping table, with readable labels beside them.
    assert (row["product_code"], row["product"]) == ("B08", "营销推广类业务")
    assert (row["sub_product_code"], row["sub_product"]) == ("B0301", "信用卡")
    assert (row["issue_code"], row["issue"]) == ("C9901", "其他")
    assert (row["sub_issue_code"], row["sub_issue"]) == ("D99", "未发现问题")
    assert row["identity_verification"] == "Signed in with a one-time code"
    assert row["channel"] == "SMS" and row["source"] == "Self-service portal"
    assert row["status"] == "Closed" and row["timely"] == "yes"
    assert row["outcome"] == "Upheld" and row["root_cause"] == "No fault found"
    assert "138" not in text and "@" not in text
    assert AccessLog.objects.filter(user=officer, action="export").exists()


# --- preview before sending; remediation tracking -------------------------------------


def test_decide_and_send_shows_the_letter_first_and_sends_on_confirm(
    staff_client, investigating, handler, outbox, django_capture_on_commit_callbacks
):
    c = staff_client(handler)
    url = reverse("admin:complaints_complaint_act", args=[investigating.pk, "decide"])
    data = {
        "decide-outcome": "not_upheld",
        "decide-findings": "The message was sent before the withdrawal.",
        "decide-reasons": "Our records show the order of events.",
    }
    outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        preview = c.post(url, data)
    assert preview.status_code == 200
    body = preview.content.decode()
    assert "The message was sent before the withdrawal." in body
    assert "12378" in body  # the route the letter will state
    assert 'name="confirm"' in body and 'name="decide-findings"' in body
    investigating.refresh_from_db()
    assert investigating.status == "investigating"
    assert not investigating.messages.filter(kind="decision").exists()
    assert outbox == []
    with django_capture_on_commit_callbacks(execute=True):
        sent = c.post(url, {**data, "confirm": "1"})
    assert sent.status_code == 302
    investigating.refresh_from_db()
    assert investigating.status == "rejected"
    letter = investigating.messages.get(kind="decision")
    assert letter.body in body.replace("<br>", "\n") or letter.subject in body
    assert [m.purpose for m in outbox] == ["complaint_decision"]


def test_reply_is_previewed_before_it_is_sent(staff_client, investigating, handler):
    c = staff_client(handler)
    url = reverse("admin:complaints_complaint_act", args=[investigating.pk, "reply"])
    preview = c.post(url, {"reply-text": "We have stopped the messages."})
    assert preview.status_code == 200
    assert "We have stopped the messages." in preview.content.decode()
    assert not investigating.messages.filter(kind="reply").exists()
    c.post(url, {"reply-text": "We have stopped the messages.", "confirm": "1"})
    assert investigating.messages.filter(kind="reply").count() == 1


def test_remediation_is_tracked_to_done_and_reported_monthly(
    staff_client, investigating, make_complaint, handler, supervisor
):
    from datetime import timedelta

    from django.utils import timezone

    from complaints import services

    services.complaint_decide(
        complaint=investigating,
        outcome="upheld",
        findings="f",
        reasons="r",
        user=handler,
    )
    services.complaint_close(
        complaint=investigating,
        root_cause="third_party_sender",
        remediation_action="Agency pulls lists from the feed daily",
        remediation_owner="Marketing operations",
        remediation_due_on=timezone.localdate() - timedelta(days=1),
        user=handler,
    )
    second = make_complaint()
    services.complaint_start_investigation(complaint=second, user=handler)
    services.complaint_decide(
        complaint=second, outcome="upheld", findings="f", reasons="r", user=handler
    )
    services.complaint_close(
        complaint=second,
        root_cause="third_party_sender",
        remediation_action="Contract clause on suppression",
        remediation_owner="Procurement",
        remediation_due_on=timezone.localdate() + timedelta(days=20),
        user=handler,
    )
    c = staff_client(supervisor)
    month = timezone.localdate().strftime("%Y-%m")
    report = c.get(reverse("admin:complaints_complaint_remediation"), {"month": month})
    assert report.status_code == 200
    ctx = report.context["report"]
    assert ctx.top_causes[0][1] == 2  # third-party sender, twice
    assert [r.pk for r in ctx.overdue] == [investigating.pk]
    assert {r.pk for r in ctx.open} == {investigating.pk, second.pk}
    assert "Agency pulls lists from the feed daily" in report.content.decode()
    # Done: it leaves the open and overdue lists.
    url = reverse(
        "admin:complaints_complaint_act", args=[investigating.pk, "remediation_done"]
    )
    staff_client(handler).post(
        url, {"remediation_done-done_on": timezone.localdate().isoformat()}
    )
    investigating.refresh_from_db()
    assert investigating.remediation_done_on == timezone.localdate()
    ctx = c.get(
        reverse("admin:complaints_complaint_remediation"), {"month": month}
    ).context["report"]
    assert ctx.overdue == [] and [r.pk for r in ctx.open] == [second.pk]
    bad = c.get(reverse("admin:complaints_complaint_remediation"), {"month": "2026-13"})
    assert bad.status_code == 200 and bad.context["form"].errors


# --- search ---------------------------------------------------------------------------


def test_search_by_customer_reference_phone_email_and_words(
    staff_client, make_complaint, supervisor, customer, phone_point
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from backoffice.models import AccessLog
    from complaints import services
    from consent.ledger import Actor
    from tests.factories import CustomerFactory, add_phone

    mine = make_complaint(description="Loan texts arrived at midnight again")
    other_customer = CustomerFactory()
    add_phone(other_customer, "13900139000")
    theirs = make_complaint(
        customer=other_customer, description="Wealth calls on Sunday"
    )
    stranger = services.complaint_create(
        source="letter",
        description="Someone else's offers keep arriving",
        actor=Actor.system("post"),
        contact_kind="email",
        contact_address="someone@example.com",
    )
    c = staff_client(supervisor)

    def found(q):
        response = c.get(reverse(CHANGELIST), {"q": q})
        assert response.status_code == 200
        return {r.pk for r in response.context["cl"].result_list}

    assert found(customer.external_ref) == {mine.pk}
    assert found("13800138000") == {mine.pk}
    assert found("+86 138 0013 8000") == {mine.pk}
    assert found("１３９００１３９０００") == {theirs.pk}  # full-width digits
    assert found("Someone@Example.com") == {stranger.pk}
    assert found("midnight loan") == {mine.pk}
    assert found(mine.reference) == {mine.pk}
    assert found("nothing like this") == set()
    assert c.get(reverse(CHANGELIST), {"q": "CMP\x00x"}).status_code == 200
    # The address is compared as a keyed hash: no clear number in the SQL.
    with CaptureQueriesContext(connection) as queries:
        c.get(reverse(CHANGELIST), {"q": "13800138000"})
    assert not any("13800138000" in q["sql"] for q in queries.captured_queries)
    searches = AccessLog.objects.filter(user=supervisor, action="search")
    assert searches.exists()
    assert not searches.filter(reason__contains="138").exists()


# --- the complainant's records, for handlers ----------------------------------------


def test_handler_checks_you_called_me_after_i_said_stop(
    staff_client, handler, make_complaint, customer, phone_point, sms, credit_card
):
    from datetime import timedelta

    from django.utils import timezone
    from rest_framework.test import APIClient

    from backoffice.models import AccessLog
    from consent import services as consent_services
    from consent.api_clients import api_client_create
    from consent.ledger import Actor
    from consent.models import ContactPoint, NoticeVersion
    from tests.factories import grant

    ContactPoint.objects.filter(pk=phone_point.pk).update(verified_at=timezone.now())
    notice = NoticeVersion.objects.get(code="marketing", version=1, language="en")
    grant(customer, sms, credit_card, notice)
    consent_services.consent_withdraw(
        customer=customer,
        channel=sms,
        topic=credit_card,
        source="portal",
        actor=Actor.customer(customer),
    )
    _client, issued = api_client_create(name="dialer", channel_codes=["sms"])
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.clear}")
    sent = api.post(
        "/api/v1/events",
        {
            "type": "sent",
            "event_id": "late-1",
            "channel": "sms",
            "recipient": "+8613800138000",
            "topic": "credit_card",
            "occurred_at": (timezone.now() + timedelta(seconds=1)).isoformat(),
        },
        format="json",
    )
    assert sent.status_code == 201, sent.content
    complaint = make_complaint(description="You texted me after I said stop")
    c = staff_client(handler)
    url = reverse("admin:complaints_complaint_customer", args=[complaint.pk])
    page = c.get(url)
    assert page.status_code == 200
    body = page.content.decode()
    records = page.context["records"]
    assert [s.status for s in records.states] == ["withdrawn"]
    assert {e.action for e in records.ledger} >= {"grant", "withdraw"}
    assert records.feed and records.feed[0].suppressed
    assert len(records.violations) == 1 and len(records.sends) == 1
    assert "dialer" in body
    assert "13800138000" not in body and "+86****8000" in body
    assert AccessLog.objects.filter(
        user=handler, action="view", customer_ref=customer.external_ref
    ).exists()
    # Unmask with a reason, logged; without one, nothing shown.
    unmask = reverse(
        "admin:complaints_complaint_customer_unmask",
        args=[complaint.pk, phone_point.pk],
    )
    refused = c.post(unmask, {"reason": ""})
    assert "+8613800138000" not in refused.content.decode()
    shown = c.post(unmask, {"reason": "Customer disputes the number called"})
    assert "+8613800138000" in shown.content.decode()
    entry = AccessLog.objects.get(user=handler, action="unmask")
    assert entry.reason == "Customer disputes the number called"
    assert entry.customer_ref == customer.external_ref


def test_customer_records_follow_the_handlers_scope(
    staff_client, handler, handler2, supervisor, make_complaint
):
    from complaints import services

    complaint = make_complaint()
    services.complaint_assign(complaint=complaint, assignee=handler2, by=supervisor)
    url = reverse("admin:complaints_complaint_customer", args=[complaint.pk])
    assert staff_client(handler).get(url).status_code == 404


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
