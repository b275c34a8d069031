"""The admin work queue of replies to review: owner, confirm, undo, access log."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from backoffice.models import AccessLog
from backoffice.roles import AUDITOR, COMPLAINT_HANDLER, COMPLIANCE_OFFICER
from consent.models import ConsentState, InboundEvent, ReplyReview
from tests.factories import grant

pytestmark = pytest.mark.django_db

QUEUE = "/admin/consent/replyreview/"
NUMBER = "+8613800138000"


@pytest.fixture
def queued(api, customer, phone_point, sms, credit_card, notice_en):
    grant(customer, sms, credit_card, notice_en)
    replies = (("gw-a", "不需要", NUMBER), ("gw-b", "拉黑", "+8613900139000"))
    for event_id, text, recipient in replies:
        response = api.post(
            "/api/v1/events",
            {
                "type": "sms_reply",
                "event_id": event_id,
                "recipient": recipient,
                "text": text,
            },
            format="json",
        )
        assert response.status_code == 201
    return ReplyReview.objects.order_by("event_id")


@pytest.fixture
def api(db):
    from rest_framework.test import APIClient

    from consent.api_clients import api_client_create

    _client, issued = api_client_create(name="sms-gateway", channel_codes=["sms"])
    http = APIClient()
    http.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.clear}")
    return http


def test_queue_lists_only_replies_read_from_plain_language(
    queued, staff_user, otp_admin_client
):
    officer = staff_user(COMPLIANCE_OFFICER, username="olga")
    page = otp_admin_client(officer).get(QUEUE)
    assert page.status_code == 200
    html = page.content.decode()
    assert "不需要" in html and "拉黑" in html
    assert [r.event_id for r in queued] == ["gw-a", "gw-b"]
    assert InboundEvent.objects.count() == 2


def test_overdue_filter_and_due_status_in_words(queued, staff_user, otp_admin_client):
    late = queued.get(event_id="gw-a")
    InboundEvent.objects.filter(pk=late.pk).update(
        review_due_at=timezone.now() - timedelta(hours=1)
    )
    officer = staff_user(COMPLIANCE_OFFICER)
    html = otp_admin_client(officer).get(QUEUE, {"due": "overdue"}).content.decode()
    assert "不需要" in html and "拉黑" not in html
    assert "Overdue" in html


def test_assign_to_me_confirm_and_undo_from_the_admin(
    queued, customer, credit_card, staff_user, otp_admin_client
):
    officer = staff_user(COMPLIANCE_OFFICER, username="olga")
    client = otp_admin_client(officer)
    first, second = list(queued)

    client.post(QUEUE, {"action": "assign_to_me", "_selected_action": [second.pk]})
    second.refresh_from_db()
    assert second.review_owner == officer

    client.post(QUEUE, {"action": "confirm", "_selected_action": [second.pk]})
    second.refresh_from_db()
    assert second.review_status == "confirmed" and second.reviewed_by == "olga"

    client.post(QUEUE, {"action": "undo", "_selected_action": [first.pk]})
    first.refresh_from_db()
    assert first.review_status == "undone"
    assert ConsentState.objects.get(customer=customer, topic=credit_card).status == (
        "granted"
    )
    logged = AccessLog.objects.filter(
        username="olga",
        action=AccessLog.Action.CHANGE,
        object_type="consent.replyreview",
    )
    assert logged.count() == 3


def test_assign_to_someone_else_in_the_change_form(
    queued, staff_user, otp_admin_client
):
    officer = staff_user(COMPLIANCE_OFFICER)
    colleague = staff_user(COMPLIANCE_OFFICER, username="cora")
    review = queued.first()
    response = otp_admin_client(officer).post(
        f"{QUEUE}{review.pk}/change/", {"review_owner": colleague.pk}
    )
    assert response.status_code == 302
    review.refresh_from_db()
    assert review.review_owner == colleague


@pytest.mark.parametrize("role", [AUDITOR, COMPLAINT_HANDLER])
def test_other_roles_cannot_act_on_the_queue(
    role, queued, staff_user, otp_admin_client
):
    user = staff_user(role)
    client = otp_admin_client(user)
    review = queued.first()
    client.post(QUEUE, {"action": "undo", "_selected_action": [review.pk]})
    review.refresh_from_db()
    assert review.review_status == "pending"


def test_consent_requests_are_listed_read_only(staff_user, otp_admin_client, customer):
    from consent.models import Channel, ConsentRequest, Topic

    ConsentRequest.objects.create(
        customer=customer,
        channel=Channel.objects.get(code="sms"),
        topic=Topic.objects.get(code="credit_card"),
    )
    client = otp_admin_client(staff_user(COMPLIANCE_OFFICER))
    page = client.get("/admin/consent/consentrequest/")
    assert page.status_code == 200 and customer.external_ref in page.content.decode()
    assert client.get("/admin/consent/consentrequest/add/").status_code == 403


def test_queue_page_runs_a_fixed_number_of_queries(
    queued, api, staff_user, otp_admin_client, django_assert_max_num_queries
):
    officer = staff_user(COMPLIANCE_OFFICER)
    client = otp_admin_client(officer)
    client.get(QUEUE)  # warm the session and permission caches
    for n in range(5):
        api.post(
            "/api/v1/events",
            {
                "type": "sms_reply",
                "event_id": f"gw-n{n}",
                "recipient": f"+861390013900{n}",
                "text": "不需要",
            },
            format="json",
        )
    assert ReplyReview.objects.count() == 7
    with django_assert_max_num_queries(20):
        assert client.get(QUEUE).status_code == 200
