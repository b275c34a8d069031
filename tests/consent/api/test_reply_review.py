"""Replies that say "not me" start the not-me flow; replies read from plain language
are queued for review (owner, confirm or undo, due in one business day, alerted
when overdue)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from backoffice.reply_reviews import reply_reviews_overdue_alert
from backoffice.roles import COMPLIANCE_OFFICER
from consent import hooks, reviews
from consent.contactability import Reason
from consent.models import (
    ConsentEvent,
    ConsentState,
    Contactability,
    ContactPoint,
    InboundEvent,
    ReplyReview,
    SuppressedIdentifier,
)
from preferences.models import NotMeReport
from tests.factories import CustomerFactory, add_phone, grant

pytestmark = pytest.mark.django_db

EVENTS = "/api/v1/events"
NUMBER = "+8613800138000"


def reply(api, event_id: str, text: str, recipient: str = NUMBER):
    response = api.post(
        EVENTS,
        {
            "type": "sms_reply",
            "event_id": event_id,
            "recipient": recipient,
            "text": text,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    return response.json()


@pytest.fixture
def granted(customer, phone_point, sms, credit_card, notice_en):
    grant(customer, sms, credit_card, notice_en)
    return customer


@pytest.mark.parametrize(
    "text", ["我不是机主", "这个号码换人了", "this isn't my phone"]
)
def test_not_me_reply_stops_everything_for_every_linked_customer(
    api, granted, sms, credit_card, notice_en, text
):
    other = CustomerFactory()
    add_phone(other, "13800138000")
    grant(other, sms, credit_card, notice_en)

    body = reply(api, "gw-nm-1", text)

    assert body["effect"] == "not_me" and body["needs_review"] is True
    assert body["customers"] == 2 and body["contact_points_changed"] == 2
    assert "nothing more" in body["reply_text"]
    points = ContactPoint.objects.filter(customer__in=[granted, other])
    assert {cp.status for cp in points} == {ContactPoint.Status.NOT_ME}
    key = Contactability.objects.get(channel=sms, identifier=NUMBER)
    # Everything stops, service messages too, exactly as the portal's not-me.
    assert key.suppressed and key.permitted_topics == []
    assert key.reasons == [Reason.NOT_ME]
    rows = ConsentEvent.objects.filter(action=ConsentEvent.Action.CONTACT_NOT_ME)
    assert rows.count() == 2
    assert {r.source for r in rows} == {ConsentEvent.Source.SMS_KEYWORD}
    assert all(r.evidence["event_id"] == "gw-nm-1" for r in rows)
    # The correction task opened, as the portal's does.
    report = NotMeReport.objects.get()
    assert report.contact_points == 2 and report.masked.endswith("8000")
    event = InboundEvent.objects.get(event_id="gw-nm-1")
    assert event.review_status == InboundEvent.ReviewStatus.PENDING


def test_not_me_reply_from_an_unknown_number_keeps_it_suppressed(api, sms):
    body = reply(api, "gw-nm-2", "打错了", recipient="+8613900139000")
    assert body["effect"] == "not_me" and body["customers"] == 0
    kept = SuppressedIdentifier.objects.get(reason="not_me")
    assert kept.review_pending is True
    key = Contactability.objects.get(channel=sms, identifier="+8613900139000")
    assert key.reasons == [Reason.NOT_ME]
    assert NotMeReport.objects.get().contact_points == 0


def test_a_keyword_stop_is_not_queued(api, granted):
    reply(api, "gw-kw", "退订")
    event = InboundEvent.objects.get(event_id="gw-kw")
    assert event.review_status == "" and event.review_due_at is None
    assert not ReplyReview.objects.exists()


@pytest.mark.parametrize("text", ["不需要", "拉黑", "烦死了", "leave me alone"])
def test_refusal_without_keyword_is_suppressed_first_and_queued(
    api, granted, sms, credit_card, text
):
    body = reply(api, "gw-r", text)
    assert body["effect"] == "stop" and body["needs_review"] is True
    assert ConsentState.objects.get(customer=granted, topic=credit_card).status == (
        "withdrawn"
    )
    review = ReplyReview.objects.get()
    assert review.review_status == "pending" and review.review_due_at is not None


def test_review_is_due_one_business_day_later_on_the_complaint_calendar(settings):
    settings.COMPLAINT_DEADLINE_POLICY = "cn"
    tz = ZoneInfo(settings.TIME_ZONE)
    # The eve of National Day: the next working day is 8 October.
    eve = datetime(2026, 9, 30, 10, 0, tzinfo=tz)
    assert hooks.review_due(eve) == datetime(2026, 10, 8, 10, 0, tzinfo=tz)
    # A make-up working Saturday counts.
    friday = datetime(2026, 10, 9, 16, 30, tzinfo=tz)
    assert hooks.review_due(friday) == datetime(2026, 10, 10, 16, 30, tzinfo=tz)


def test_a_queued_reply_carries_its_due_time(api, granted, monkeypatch):
    due = timezone.now() + timedelta(hours=30)
    monkeypatch.setattr(hooks.registry, "review_due", lambda start: due)
    reply(api, "gw-due", "不需要")
    assert ReplyReview.objects.get().review_due_at == due


def test_default_due_skips_the_weekend_without_a_calendar(monkeypatch):
    monkeypatch.setattr(hooks.registry, "review_due", None)
    saturday = datetime(2026, 11, 28, 9, 0, tzinfo=ZoneInfo("UTC"))
    assert hooks.review_due(saturday).weekday() == 0


def test_undo_restores_what_a_misread_stop_withdrew(
    api, granted, sms, credit_card, staff_user
):
    reply(api, "gw-u", "不需要")
    officer = staff_user(COMPLIANCE_OFFICER)
    review = ReplyReview.objects.get()

    restored = reviews.reply_review_undo(review=review, user=officer)

    assert restored == 1
    state = ConsentState.objects.get(customer=granted, channel=sms, topic=credit_card)
    assert state.status == "granted"
    regrant = state.event
    assert regrant.source == ConsentEvent.Source.REPLY_REVIEW
    assert regrant.actor.startswith("staff:")
    assert regrant.evidence["review_of"] == "gw-u"
    assert regrant.notice_version is not None
    key = Contactability.objects.get(channel=sms, identifier=NUMBER)
    assert "credit_card" in key.permitted_topics
    review.refresh_from_db()
    assert review.review_status == "undone" and review.reviewed_by == officer.username


def test_undo_keeps_a_refusal_said_again_since(
    api, granted, sms, credit_card, staff_user
):
    reply(api, "gw-u1", "不需要")
    reply(api, "gw-u2", "退订")  # already withdrawn: changes nothing, still a no
    officer = staff_user(COMPLIANCE_OFFICER)
    assert (
        reviews.reply_review_undo(review=ReplyReview.objects.get(), user=officer) == 0
    )
    state = ConsentState.objects.get(customer=granted, channel=sms, topic=credit_card)
    assert state.status == "withdrawn"


def test_undo_restores_contact_points_a_misread_not_me_marked(
    api, granted, sms, staff_user
):
    reply(api, "gw-un", "wrong number")
    officer = staff_user(COMPLIANCE_OFFICER)

    assert reviews.reply_review_undo(review=ReplyReview.objects.get(), user=officer)

    point = ContactPoint.objects.get(customer=granted)
    assert point.status == ContactPoint.Status.ACTIVE
    assert point.consent_events.order_by("-seq").first().action == "contact_restored"
    key = Contactability.objects.get(channel=sms, identifier=NUMBER)
    assert "credit_card" in key.permitted_topics


def test_confirm_closes_and_keeps_the_stop(api, granted, sms, credit_card, staff_user):
    reply(api, "gw-c", "烦死了")
    officer = staff_user(COMPLIANCE_OFFICER)
    review = reviews.reply_review_confirm(
        review=ReplyReview.objects.get(), user=officer
    )
    assert review.review_status == "confirmed" and review.review_owner == officer
    assert ConsentState.objects.get(customer=granted, topic=credit_card).status == (
        "withdrawn"
    )
    with pytest.raises(reviews.ApplicationError):
        reviews.reply_review_undo(review=review, user=officer)


def test_overdue_reviews_alert_owner_and_officers_once(
    api, granted, staff_user, outbox, django_capture_on_commit_callbacks
):
    reply(api, "gw-o", "不需要")
    officer = staff_user(COMPLIANCE_OFFICER, email="officer@bank.example")
    owner = staff_user(COMPLIANCE_OFFICER, username="owner", email="")
    review = reviews.reply_review_assign(review=ReplyReview.objects.get(), owner=owner)
    later = review.review_due_at + timedelta(minutes=1)

    assert reply_reviews_overdue_alert(now=review.review_due_at) == []
    with django_capture_on_commit_callbacks(execute=True):
        alerted = reply_reviews_overdue_alert(now=later)
    assert [r.pk for r in alerted] == [review.pk]
    assert reply_reviews_overdue_alert(now=later + timedelta(hours=1)) == []
    review.refresh_from_db()
    assert review.review_alerted_at == later
    recipients = {m.to for m in outbox if m.purpose == "reply_review_overdue"}
    assert recipients == {officer.email, "owner"}


def test_a_repeated_not_me_reply_opens_one_correction_task(api, granted):
    reply(api, "gw-nm-a", "我不是机主")
    body = reply(api, "gw-nm-b", "打错了")
    assert body["effect"] == "not_me" and body["contact_points_changed"] == 0
    assert NotMeReport.objects.count() == 1
