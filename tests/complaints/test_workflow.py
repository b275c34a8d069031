"""The status workflow, enforced by services, and its timeline."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from complaints import services
from complaints.deadlines import get_policy
from complaints.models import Complaint, ComplaintEvent, ComplaintExtension
from consent.errors import ApplicationError
from consent.ledger import Actor

pytestmark = pytest.mark.django_db

S = Complaint.Status


def decide(complaint, user, outcome="upheld"):
    return services.complaint_decide(
        complaint=complaint,
        outcome=outcome,
        findings="Sent after withdrawal.",
        reasons="The sender ignored the feed.",
        user=user,
    )


def test_full_path_received_to_closed_with_timeline(
    investigating, handler, run_on_commit, outbox
):
    c = investigating
    run_on_commit(decide, c, handler)
    c.refresh_from_db()
    assert c.status == S.RESOLVED
    assert c.decided_by == handler
    assert c.decision_sent_at is not None  # proof of sending
    letter = [m for m in outbox if m.purpose == "complaint_decision"][0]
    assert "review" in letter.body and "court" in letter.body
    services.complaint_close(
        complaint=c,
        root_cause="third_party_sender",
        remediation_action="Feed sync",
        remediation_owner="Marketing ops",
        remediation_due_on=date(2026, 12, 31),
        user=handler,
    )
    c.refresh_from_db()
    assert c.status == S.CLOSED and c.closed_at
    steps = list(
        c.events.filter(kind=ComplaintEvent.Kind.STATUS).values_list(
            "from_status", "to_status", "actor"
        )
    )
    assert steps == [
        ("received", "acknowledged", "system:acknowledgement"),
        ("acknowledged", "investigating", "staff:handler"),
        ("investigating", "resolved", "staff:handler"),
        ("resolved", "closed", "staff:handler"),
    ]


def test_not_upheld_is_rejected(investigating, handler):
    decide(investigating, handler, outcome="not_upheld")
    assert investigating.status == S.REJECTED


@pytest.mark.parametrize(
    "status,call",
    [
        (S.ACKNOWLEDGED, "decide"),
        (S.ACKNOWLEDGED, "close"),
        (S.INVESTIGATING, "investigate"),
        (S.INVESTIGATING, "close"),
        (S.RESOLVED, "decide"),
        (S.CLOSED, "close"),
        (S.INVESTIGATING, "reopen"),
    ],
)
def test_illegal_transitions_are_refused(make_complaint, handler, status, call):
    c = make_complaint()
    Complaint.objects.filter(pk=c.pk).update(status=status)
    c.refresh_from_db()
    events = c.events.count()
    calls = {
        "decide": lambda: decide(c, handler),
        "close": lambda: services.complaint_close(
            complaint=c, root_cause="no_fault", user=handler
        ),
        "investigate": lambda: services.complaint_start_investigation(
            complaint=c, user=handler
        ),
        "reopen": lambda: services.complaint_reopen(
            complaint=c, reason="I disagree", actor="customer:x"
        ),
    }
    with pytest.raises(ApplicationError) as exc:
        calls[call]()
    assert exc.value.code == "illegal_transition"
    c.refresh_from_db()
    assert c.status == status
    assert c.events.count() == events


def test_root_cause_and_remediation_required_before_closing(investigating, handler):
    decide(investigating, handler)
    with pytest.raises(ValidationError):
        services.complaint_close(complaint=investigating, root_cause="", user=handler)
    with pytest.raises(ValidationError):
        services.complaint_close(
            complaint=investigating, root_cause="content", user=handler
        )
    investigating.refresh_from_db()
    assert investigating.status == S.RESOLVED
    services.complaint_close(
        complaint=investigating, root_cause="no_fault", user=handler
    )
    assert investigating.status == S.CLOSED


def test_reopen_on_dispute_restarts_the_clock(investigating, handler):
    decide(investigating, handler)
    services.complaint_close(
        complaint=investigating, root_cause="no_fault", user=handler
    )
    before = investigating.clock_started_at
    services.complaint_reopen(
        complaint=investigating, reason="Still receiving them", actor="customer:x"
    )
    investigating.refresh_from_db()
    assert investigating.status == S.INVESTIGATING
    assert investigating.clock_started_at > before
    assert investigating.closed_at is None


# --- assignment and roles ----------------------------------------------------------


def test_handler_takes_unassigned_but_cannot_assign_others(
    make_complaint, handler, handler2
):
    c = make_complaint()
    services.complaint_assign(complaint=c, assignee=handler, by=handler)
    assert c.assignee == handler
    with pytest.raises(ApplicationError):
        services.complaint_assign(complaint=c, assignee=handler2, by=handler)
    with pytest.raises(ApplicationError):
        services.complaint_assign(complaint=c, assignee=handler2, by=handler2)
    c.refresh_from_db()
    assert c.assignee == handler
    assert c.events.filter(kind="assigned").count() == 1


def test_supervisor_assigns_but_not_to_staff_named_in_the_complaint(
    make_complaint, handler, handler2, supervisor
):
    c = make_complaint()
    c.named_staff.add(handler)
    with pytest.raises(ApplicationError) as exc:
        services.complaint_assign(complaint=c, assignee=handler, by=supervisor)
    assert exc.value.code == "recused"
    services.complaint_assign(complaint=c, assignee=handler2, by=supervisor)
    assert c.assignee == handler2


def test_assignee_must_be_a_handler(make_complaint, supervisor, make_staff):
    stranger = make_staff("clerk")
    with pytest.raises(ApplicationError):
        services.complaint_assign(
            complaint=make_complaint(), assignee=stranger, by=supervisor
        )


def test_internal_notes_are_not_sent_replies_are(
    investigating, handler, run_on_commit, outbox
):
    outbox.clear()
    services.complaint_note_add(
        complaint=investigating, author=handler, text="Check logs"
    )
    assert outbox == []
    run_on_commit(
        services.complaint_reply,
        complaint=investigating,
        user=handler,
        text="We are checking the sending logs.",
    )
    assert [m.purpose for m in outbox] == ["complaint_reply"]
    assert investigating.notes.count() == 1
    assert investigating.messages.filter(kind="reply").get().sent_at is not None


def test_category_correction_is_recorded(make_complaint, handler):
    c = make_complaint(category=None, description="半夜发短信吵醒我")
    assert c.suggested_category == "bad_timing"
    assert "半夜" in c.classification_evidence
    services.complaint_recategorise(complaint=c, category="too_frequent", user=handler)
    entry = c.events.get(kind="category")
    assert "bad_timing" in entry.detail and "too_frequent" in entry.detail
    assert entry.actor == "staff:handler"


# --- extension, pause, new facts ----------------------------------------------------


def test_extension_steps_last_needs_supervisor(
    investigating, handler, supervisor, run_on_commit, outbox
):
    c = investigating
    first_due = c.due_at
    outbox.clear()
    run_on_commit(
        services.complaint_extend, complaint=c, reason="Complex", user=handler
    )
    c.refresh_from_db()
    assert c.extension_step == 1 and c.due_at > first_due
    assert [m.purpose for m in outbox] == ["complaint_extension"]
    second = run_on_commit(
        services.complaint_extend, complaint=c, reason="Very complex", user=handler
    )
    assert second.status == ComplaintExtension.Status.PENDING
    c.refresh_from_db()
    assert c.extension_step == 1
    with pytest.raises(ApplicationError):
        services.complaint_extension_approve(extension=second, user=handler)
    run_on_commit(
        services.complaint_extension_approve, extension=second, user=supervisor
    )
    c.refresh_from_db()
    assert c.extension_step == 2
    assert (c.due_at - c.clock_started_at).days >= 59
    assert [m.purpose for m in outbox].count("complaint_extension") == 2
    with pytest.raises(ApplicationError) as exc:
        services.complaint_extend(complaint=c, reason="More", user=supervisor)
    assert exc.value.code == "no_extension"


def test_extension_needs_a_reason(investigating, handler):
    with pytest.raises(ValidationError):
        services.complaint_extend(complaint=investigating, reason=" ", user=handler)


def test_pause_tells_the_customer_and_resume_adds_the_time(
    investigating, handler, run_on_commit, outbox
):
    c = investigating
    due = c.due_at
    run_on_commit(
        services.complaint_clock_pause, complaint=c, reason="mediation", user=handler
    )
    assert outbox[-1].purpose == "complaint_pause"
    assert Complaint.objects.overdue(now=due + timedelta(days=1)).count() == 0
    Complaint.objects.filter(pk=c.pk).update(
        paused_at=timezone.now() - timedelta(days=3)
    )
    c.refresh_from_db()
    services.complaint_clock_resume(complaint=c, user=handler)
    c.refresh_from_db()
    assert c.paused_at is None
    assert timedelta(days=3) <= c.due_at - due < timedelta(days=3, minutes=1)
    with pytest.raises(ValidationError):
        services.complaint_clock_pause(complaint=c, reason="holiday", user=handler)


def test_new_facts_restart_the_clock(investigating):
    c = investigating
    Complaint.objects.filter(pk=c.pk).update(
        clock_started_at=c.clock_started_at - timedelta(days=10)
    )
    c.refresh_from_db()
    old_due = c.due_at = get_policy("cn").due(c.clock_started_at)
    services.complaint_new_facts(
        complaint=c, text="It happened again today", actor="customer:x"
    )
    c.refresh_from_db()
    assert c.due_at > old_due
    assert c.events.filter(kind="new_facts").exists()


# --- review ------------------------------------------------------------------------


def test_review_goes_to_someone_other_than_the_first_handler(
    investigating, handler, handler2, reviewer, supervisor, run_on_commit, outbox
):
    c = investigating
    decide(c, handler)
    review = services.complaint_review_request(
        complaint=c, reason="I disagree", actor=Actor.customer(c.customer)
    )
    assert (review.due_at - review.requested_at).days >= 29
    with pytest.raises(ApplicationError) as exc:
        services.complaint_review_assign(review=review, reviewer=handler, by=supervisor)
    assert exc.value.code == "recused"
    with pytest.raises(ApplicationError):
        services.complaint_review_request(
            complaint=c, reason="again", actor="customer:x"
        )
    # Another handler is no reviewer: the review goes up.
    with pytest.raises(ApplicationError) as exc:
        services.complaint_review_assign(
            review=review, reviewer=handler2, by=supervisor
        )
    assert exc.value.code == "not_reviewer_role"
    services.complaint_review_assign(review=review, reviewer=reviewer, by=supervisor)
    with pytest.raises(ApplicationError):
        services.complaint_review_decide(
            review=review, outcome="confirmed", decision="Stands", user=handler
        )
    run_on_commit(
        services.complaint_review_decide,
        review=review,
        outcome="confirmed",
        decision="The decision stands.",
        user=reviewer,
    )
    review.refresh_from_db()
    assert review.decided_at is not None
    assert outbox[-1].purpose == "complaint_review_decision"


def test_review_window_is_30_days(investigating, handler):
    decide(investigating, handler)
    Complaint.objects.filter(pk=investigating.pk).update(
        decided_at=timezone.now() - timedelta(days=31)
    )
    investigating.refresh_from_db()
    with pytest.raises(ApplicationError) as exc:
        services.complaint_review_request(
            complaint=investigating, reason="late", actor="customer:x"
        )
    assert exc.value.code == "review_window"


# --- rating ------------------------------------------------------------------------


def test_rating_only_after_decision_once_and_in_range(investigating, handler, customer):
    with pytest.raises(ApplicationError):
        services.complaint_rate(complaint=investigating, customer=customer, score=4)
    decide(investigating, handler)
    with pytest.raises(ValidationError):
        services.complaint_rate(complaint=investigating, customer=customer, score=6)
    services.complaint_rate(
        complaint=investigating, customer=customer, score=4, comment="Fine"
    )
    assert investigating.satisfaction == 4
    with pytest.raises(ApplicationError):
        services.complaint_rate(complaint=investigating, customer=customer, score=5)


# --- review goes up; recusal covers business units ----------------------------------


def test_members_of_a_named_business_unit_are_recused(
    investigating, handler, reviewer, supervisor, make_staff
):
    from complaints.models import BusinessUnit

    branch = BusinessUnit.objects.create(
        code="branch-pudong", name_en="Pudong branch", name_zh="浦东支行"
    )
    branch.members.add(reviewer)
    colleague = make_staff("colleague", "complaint_handler")
    branch.members.add(colleague)
    investigating.named_units.add(branch)
    with pytest.raises(ApplicationError) as exc:
        services.complaint_assign(
            complaint=investigating, assignee=colleague, by=supervisor
        )
    assert exc.value.code == "recused"
    decide(investigating, handler)
    review = services.complaint_review_request(
        complaint=investigating, reason="No", actor="customer:x"
    )
    with pytest.raises(ApplicationError) as exc:
        services.complaint_review_assign(
            review=review, reviewer=reviewer, by=supervisor
        )
    assert exc.value.code == "recused"
    # A supervisor outside the unit may take it.
    services.complaint_review_assign(review=review, reviewer=supervisor, by=supervisor)


def test_a_reviewer_whose_role_was_removed_cannot_decide(
    investigating, handler, reviewer, supervisor
):
    decide(investigating, handler)
    review = services.complaint_review_request(
        complaint=investigating, reason="No", actor="customer:x"
    )
    services.complaint_review_assign(review=review, reviewer=reviewer, by=supervisor)
    reviewer.groups.clear()
    with pytest.raises(ApplicationError) as exc:
        services.complaint_review_decide(
            review=review, outcome="confirmed", decision="Stands", user=reviewer
        )
    assert exc.value.code == "not_reviewer_role"


def test_reviewer_sees_only_the_complaints_they_review(
    investigating, make_complaint, handler, reviewer, supervisor
):
    from complaints.selectors import complaints_for_staff

    other = make_complaint()
    assert not complaints_for_staff(user=reviewer).exists()
    decide(investigating, handler)
    review = services.complaint_review_request(
        complaint=investigating, reason="No", actor="customer:x"
    )
    services.complaint_review_assign(review=review, reviewer=reviewer, by=supervisor)
    assert list(complaints_for_staff(user=reviewer)) == [investigating]
    assert other not in complaints_for_staff(user=reviewer)


# --- decision letters per jurisdiction ------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ("uk", ["Financial Ombudsman Service", "within six months"]),
        ("us", ["Consumer Financial Protection Bureau", "consumerfinance.gov"]),
        ("cn", ["12378", "National Financial Regulatory Administration"]),
    ],
)
def test_decision_letter_states_the_jurisdictions_route(
    policy, expected, make_complaint, handler, settings, run_on_commit
):
    settings.COMPLAINT_DEADLINE_POLICY = policy
    complaint = make_complaint()
    services.complaint_start_investigation(complaint=complaint, user=handler)
    decide(complaint, handler)
    letter = complaint.messages.get(kind="decision")
    for phrase in expected:
        assert phrase in letter.body
    others = {"uk": "Ombudsman", "us": "CFPB", "cn": "12378"}
    for code, phrase in others.items():
        if code != policy:
            assert phrase not in letter.body


def test_chinese_decision_letter_names_the_hotline_in_chinese(
    make_complaint, handler, customer, settings
):
    settings.COMPLAINT_DEADLINE_POLICY = "cn"
    customer.preferred_language = "zh-hans"
    customer.save()
    complaint = make_complaint()
    services.complaint_start_investigation(complaint=complaint, user=handler)
    decide(complaint, handler)
    letter = complaint.messages.get(kind="decision")
    assert "国家金融监督管理总局" in letter.body and "12378" in letter.body
