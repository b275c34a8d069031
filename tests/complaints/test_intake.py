"""Intake from every source: reference, deadlines, acknowledgement, protection."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from complaints import services
from complaints.links import report_url
from complaints.models import Complaint, ComplaintEvent, ComplaintMessage
from consent.models import (
    ConsentEvent,
    ConsentState,
    ContactPoint,
    SuppressionChange,
)
from tests.factories import CustomerFactory, add_phone, grant

pytestmark = pytest.mark.django_db


def test_reference_deadlines_and_acknowledgement(make_complaint, outbox):
    complaint = make_complaint()
    assert re.fullmatch(r"CMP-\d{4}-\d{6}", complaint.reference)
    assert complaint.policy == "cn"
    assert complaint.due_at > complaint.received_at
    assert timezone.localtime(complaint.ack_due_at).date() == timezone.localdate(
        complaint.received_at
    )
    assert complaint.status == Complaint.Status.ACKNOWLEDGED
    ack = complaint.messages.get(kind=ComplaintMessage.Kind.ACKNOWLEDGEMENT)
    assert ack.sent_at is not None
    assert [m.purpose for m in outbox] == ["complaint_acknowledgement"]
    assert complaint.reference in outbox[0].body
    assert outbox[0].to == "+8613800138000"
    kinds = list(complaint.events.values_list("kind", "to_status"))
    assert kinds[0] == ("received", "received")
    assert ("status", "acknowledged") in kinds


def test_acknowledgement_twice_sends_once(make_complaint, outbox, run_on_commit):
    complaint = make_complaint()
    run_on_commit(services.complaint_acknowledge, complaint=complaint, actor="system:x")
    assert len(outbox) == 1


def test_portal_filing_withdraws_marketing_at_once(
    portal_client,
    customer,
    sms,
    credit_card,
    notice_en,
    outbox,
    django_capture_on_commit_callbacks,
):
    grant(customer, sms, credit_card, notice_en)
    feed_before = SuppressionChange.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        response = portal_client.post(
            reverse("complaints:portal_create"),
            {
                "category": "unwanted_marketing",
                "channel": sms.pk,
                "topic": credit_card.pk,
                "message_excerpt": "Get a new card today!",
                "description": "I never agreed to this, stop.",
            },
        )
    complaint = Complaint.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "complaints:portal_detail", args=[complaint.reference]
    )
    assert complaint.source == "portal"
    event = ConsentEvent.objects.filter(source="complaint").get()
    assert (event.action, event.channel, event.topic) == ("withdraw", sms, credit_card)
    assert event.evidence["complaint"] == complaint.reference
    assert ConsentState.objects.get(
        customer=customer, channel=sms, topic=credit_card
    ).status == ("withdrawn")
    assert SuppressionChange.objects.count() > feed_before
    assert complaint.protection[0]["action"] == "withdraw"
    assert complaint.events.filter(kind=ComplaintEvent.Kind.PROTECTION).exists()
    assert len(outbox) == 1
    page = portal_client.get(response["Location"]).content.decode()
    assert "Stopped marketing about Credit cards by SMS" in page  # names, not codes


def test_portal_bad_input_shows_errors_and_creates_nothing(portal_client):
    response = portal_client.post(
        reverse("complaints:portal_create"), {"category": "nonsense", "description": ""}
    )
    assert response.status_code == 200
    assert response.context["form"].errors.keys() >= {"category", "description"}
    assert not Complaint.objects.exists()
    assert not ConsentEvent.objects.filter(source="complaint").exists()


def test_stop_words_withdraw_even_in_another_category(
    make_complaint, customer, sms, credit_card, notice_en
):
    grant(customer, sms, credit_card, notice_en)
    complaint = make_complaint(
        category="too_frequent", description="太频繁了，不要再发了", topic=None
    )
    event = ConsentEvent.objects.get(source="complaint")
    assert event.topic is None and event.channel == complaint.channel
    assert complaint.protection[0]["topic"] == "all"


def test_service_topic_complaint_withdraws_nothing(make_complaint):
    from consent.models import Topic

    complaint = make_complaint(
        category="unwanted_marketing", topic=Topic.objects.get(code="collections")
    )
    assert not ConsentEvent.objects.filter(source="complaint").exists()
    assert complaint.protection == [{"action": "none", "why": "service_topic"}]


def test_report_link_not_me_marks_the_contact_point(
    client,
    customer,
    phone_point,
    sms,
    credit_card,
    outbox,
    django_capture_on_commit_callbacks,
):
    url = report_url(customer=customer, channel=sms, topic=credit_card)
    assert url.startswith("http://")
    path = url.split("://", 1)[1].split("/", 1)[1]
    page = client.get("/" + path)
    assert page.status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/" + path, {"category": "wrong_person"})
    assert response.status_code == 200
    complaint = Complaint.objects.get()
    assert complaint.source == "report_link"
    assert complaint.contact_point == phone_point
    phone_point.refresh_from_db()
    assert phone_point.status == ContactPoint.Status.NOT_ME
    assert ConsentEvent.objects.filter(
        source="complaint", action="contact_not_me", contact_point=phone_point
    ).exists()
    row = SuppressionChange.objects.filter(channel=sms).last()
    assert row.suppressed and "not_me" in row.reasons
    # The acknowledgement never goes to the address that is not the customer's.
    assert all(m.to != "+8613800138000" for m in outbox)


def test_forged_report_link_is_404(client):
    assert client.get(reverse("complaints:report", args=["forged"])).status_code == 404


def test_nothing_granted_means_no_second_ledger_row(make_complaint):
    complaint = make_complaint(category="unwanted_marketing")
    assert not ConsentEvent.objects.filter(source="complaint").exists()
    assert complaint.protection == [{"action": "none", "why": "nothing_granted"}]


def test_spam_report_opens_one_complaint_per_event(
    customer, phone_point, sms, credit_card, notice_en, run_on_commit
):
    grant(customer, sms, credit_card, notice_en)
    received = timezone.now()
    kwargs = dict(
        customer=customer,
        contact_point=phone_point,
        channel=sms,
        topic=credit_card,
        received_at=received,
        sender_name="sms-gateway",
        event_id="evt-1",
    )
    first = run_on_commit(services.complaint_create_from_spam_report, **kwargs)
    again = run_on_commit(services.complaint_create_from_spam_report, **kwargs)
    assert first.pk == again.pk
    assert first.source == "sending_system"
    assert first.category == "unwanted_marketing"
    assert first.events.first().actor == "client:sms-gateway"
    assert (
        ConsentEvent.objects.filter(source="complaint", action="withdraw").count() == 1
    )


def test_spam_report_without_customer(sms, run_on_commit):
    complaint = run_on_commit(
        services.complaint_create_from_spam_report,
        customer=None,
        contact_point=None,
        channel=sms,
        topic=None,
        received_at=timezone.now(),
        sender_name="gw",
        event_id="e9",
    )
    complaint.refresh_from_db()
    assert complaint.customer is None
    assert complaint.protection == [{"action": "none", "why": "no_customer"}]
    assert complaint.status == Complaint.Status.ACKNOWLEDGED


@pytest.mark.parametrize("role", ["supervisor", "handler"])
def test_staff_records_a_phone_complaint_in_admin(
    request,
    role,
    staff_client,
    customer,
    phone_point,
    sms,
    personal_loan,
    django_capture_on_commit_callbacks,
    outbox,
):
    c = staff_client(request.getfixturevalue(role))
    with django_capture_on_commit_callbacks(execute=True):
        response = c.post(
            reverse("admin:complaints_complaint_add"),
            {
                "source": "phone",
                "customer": customer.pk,
                "channel": sms.pk,
                "topic": personal_loan.pk,
                "category": "",
                "description": "Customer called: loan texts at midnight woke her up.",
                "received_at_0": "2025-03-03",
                "received_at_1": "09:00:00",
                "complainant_count": 1,
                "identity_verification": "staff_checked",
            },
        )
    assert response.status_code == 302, response.context["adminform"].form.errors
    complaint = Complaint.objects.get()
    assert complaint.source == "phone"
    assert complaint.category == "bad_timing"  # suggested from the text
    assert complaint.events.first().actor == f"staff:{role}"
    assert len(outbox) == 1


def test_staff_records_a_regulator_referral_for_a_non_customer(
    staff_client, supervisor, django_capture_on_commit_callbacks, outbox
):
    c = staff_client(supervisor)
    with django_capture_on_commit_callbacks(execute=True):
        c.post(
            reverse("admin:complaints_complaint_add"),
            {
                "source": "regulator",
                "description": "Referred: someone else's loan offers keep arriving.",
                "contact_address": "Someone@Example.com",
                "received_at_0": "2025-03-03",
                "received_at_1": "09:00:00",
                "complainant_count": 1,
                "identity_verification": "not_verified",
            },
        )
    complaint = Complaint.objects.get()
    assert complaint.source == "regulator"
    assert complaint.contact_address == "someone@example.com"
    assert outbox[0].to == "someone@example.com"


def test_joint_complaint_of_20_is_major_and_escalated(
    make_complaint, supervisor, outbox
):
    complaint = make_complaint(complainant_count=20)
    assert complaint.is_major
    assert complaint.escalations.filter(kind="major").count() == 1
    assert any(m.to == "supervisor@bank.example" for m in outbox)


def test_many_customers_on_one_matter_become_major(
    settings, sms, supervisor, outbox, run_on_commit
):
    from complaints.models import Matter

    settings.COMPLAINT_MAJOR_THRESHOLD = 3
    complaints = []
    for i in range(3):
        c = CustomerFactory()
        add_phone(c, f"1390013900{i}")
        complaints.append(
            run_on_commit(
                services.complaint_create,
                source="portal",
                description="Same campaign",
                actor="customer:x",
                customer=c,
                channel=sms,
                category="other",
            )
        )
    matter = Matter.objects.create(title="Campaign 42")
    run_on_commit(
        services.complaint_link_matter,
        complaints=complaints[:2],
        matter=matter,
        user=supervisor,
    )
    assert not Complaint.objects.filter(is_major=True).exists()
    run_on_commit(
        services.complaint_link_matter,
        complaints=complaints[2:],
        matter=matter,
        user=supervisor,
    )
    assert Complaint.objects.filter(is_major=True).count() == 3
    matter.refresh_from_db()
    assert matter.major_since is not None
    assert len([m for m in outbox if m.purpose == "complaint_escalation"]) == 3


def test_spam_report_for_a_shared_number_opens_one_complaint_per_holder(
    customer, phone_point, sms, run_on_commit
):
    other = CustomerFactory()
    other_point = add_phone(other, "13800138000")
    for cp in (phone_point, other_point):
        run_on_commit(
            services.complaint_create_from_spam_report,
            customer=cp.customer,
            contact_point=cp,
            channel=sms,
            topic=None,
            received_at=timezone.now(),
            sender_name="gw",
            event_id="shared-1",
        )
    assert set(Complaint.objects.values_list("customer_id", flat=True)) == {
        customer.pk,
        other.pk,
    }


def test_the_configured_policy_is_stored_on_the_complaint(settings, make_complaint):
    settings.COMPLAINT_DEADLINE_POLICY = "uk"
    complaint = make_complaint()
    assert complaint.policy == "uk"
    assert complaint.first_response_due_at < complaint.due_at
    assert (complaint.due_at - complaint.received_at).days in (55, 56)
    settings.COMPLAINT_DEADLINE_POLICY = "cn"
    complaint.refresh_from_db()
    assert complaint.policy == "uk"


def test_admin_add_form_renders_for_staff(staff_client, supervisor):
    page = staff_client(supervisor).get(reverse("admin:complaints_complaint_add"))
    assert page.status_code == 200
    body = page.content.decode()
    assert 'name="source"' in body and 'name="contact_address"' in body
