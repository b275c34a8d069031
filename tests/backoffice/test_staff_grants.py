"""Staff never create a marketing grant on their own: a restore, an import row or any
other staff-entered grant needs the customer's own act as evidence and a second
approver, and is refused after the customer's own recent withdrawal."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from backoffice import services
from backoffice.models import ApprovalRequest
from backoffice.roles import COMPLIANCE_OFFICER, SUPERVISOR
from consent import services as consent_services
from consent import staff_grants
from consent.errors import ApplicationError
from consent.ledger import Actor, Evidence
from consent.models import ConsentEvent, ConsentState
from tests.factories import CustomerFactory, grant

pytestmark = pytest.mark.django_db


@pytest.fixture
def requester(staff_user):
    return staff_user(SUPERVISOR, username="sue")


@pytest.fixture
def approver(staff_user):
    return staff_user(COMPLIANCE_OFFICER, username="carl")


def _stop_by_sms(customer, sms, topic, *, days_ago=0):
    consent_services.consent_withdraw(
        customer=customer,
        channel=sms,
        topic=topic,
        source=ConsentEvent.Source.SMS_KEYWORD,
        actor=Actor.client("gateway"),
        occurred_at=timezone.now() - timedelta(days=days_ago),
    )


def _restore(customer, sms, topic, notice, requester, **act):
    return services.approval_request_consent_restore(
        customer=customer,
        channel=sms,
        topic=topic,
        notice_version=notice,
        customer_act=act.get("customer_act", "recorded_call"),
        act_reference=act.get("act_reference", "CALL-1"),
        requested_by=requester,
        reason="Customer asked on the phone",
    )


def test_restore_after_the_customers_own_sms_stop_is_refused_at_request(
    customer, sms, credit_card, notice_en, requester
):
    grant(customer, sms, credit_card, notice_en)
    _stop_by_sms(customer, sms, credit_card)
    before = ConsentEvent.objects.count()
    with pytest.raises(ApplicationError) as refused:
        _restore(customer, sms, credit_card, notice_en, requester)
    assert refused.value.code == "recent_self_service_withdrawal"
    assert "SMS reply" in str(refused.value.message)
    assert not ApprovalRequest.objects.exists()
    assert ConsentEvent.objects.count() == before


def test_restore_queued_before_a_portal_stop_fails_at_approval(
    customer, sms, credit_card, notice_en, requester, approver
):
    request = _restore(customer, sms, credit_card, notice_en, requester)
    # The customer switches the whole channel off in the portal meanwhile.
    consent_services.consent_withdraw(
        customer=customer,
        channel=sms,
        topic=None,
        source="portal",
        actor=Actor.customer(customer),
    )
    before = ConsentEvent.objects.count()
    decided = services.approval_request_approve(approval=request, approver=approver)
    assert decided.status == ApprovalRequest.Status.FAILED
    assert "less than 30 days ago" in decided.result["error"]
    assert ConsentEvent.objects.count() == before
    assert not ConsentState.objects.filter(customer=customer, status="granted").exists()


def test_a_stop_older_than_the_window_or_by_staff_does_not_block(
    customer, sms, credit_card, personal_loan, notice_en, requester, approver, settings
):
    _stop_by_sms(customer, sms, credit_card, days_ago=31)
    consent_services.consent_withdraw(
        customer=customer,
        channel=sms,
        topic=personal_loan,
        source="staff",
        actor=Actor.staff(requester),
    )
    for topic in (credit_card, personal_loan):
        request = _restore(customer, sms, topic, notice_en, requester)
        decided = services.approval_request_approve(approval=request, approver=approver)
        assert decided.status == ApprovalRequest.Status.APPROVED
    settings.STAFF_GRANT_REFUSED_AFTER_WITHDRAWAL_DAYS = 40
    other = CustomerFactory()
    _stop_by_sms(other, sms, credit_card, days_ago=31)
    with pytest.raises(ApplicationError):
        _restore(other, sms, credit_card, notice_en, requester)


def test_restore_needs_the_customers_act_as_evidence(
    customer, sms, credit_card, notice_en, requester, approver
):
    with pytest.raises(ApplicationError) as no_act:
        _restore(customer, sms, credit_card, notice_en, requester, customer_act="")
    assert no_act.value.code == "customer_act"
    with pytest.raises(ApplicationError) as no_ref:
        _restore(customer, sms, credit_card, notice_en, requester, act_reference=" ")
    assert no_ref.value.code == "customer_act"
    assert not ApprovalRequest.objects.exists()

    request = _restore(customer, sms, credit_card, notice_en, requester)
    services.approval_request_approve(approval=request, approver=approver)
    event = ConsentEvent.objects.get(action="grant", customer=customer)
    assert event.evidence["customer_act"] == "recorded_call"
    assert event.evidence["customer_act_ref"] == "CALL-1"
    assert event.evidence["notice_read_out"] == "marketing:1:en"
    assert event.evidence["approved_by"] == "carl"


def test_no_staff_grant_without_a_second_approver_whatever_the_path(
    customer, sms, credit_card, notice_en, requester
):
    act = staff_grants.customer_act_evidence(
        act="signed_form", reference="FORM-9", notice_version=notice_en
    )
    for source, evidence in (
        ("staff", Evidence(extra=act)),
        ("import", Evidence(extra=(*act, ("approved_by", "sue")))),
        ("call_centre", Evidence(extra=act)),
    ):
        with pytest.raises(ApplicationError) as refused:
            consent_services.consent_grant(
                customer=customer,
                channel=sms,
                topic=credit_card,
                notice_version=notice_en,
                source=source,
                actor=Actor.staff(requester),
                evidence=evidence,
            )
        assert refused.value.code == "second_approver_required"
    assert not ConsentEvent.objects.filter(action="grant").exists()


def test_import_grant_rows_need_the_act_and_respect_self_service_stops(
    sms, credit_card, notice_en, requester, approver
):
    stopped = CustomerFactory(external_ref="IMP1")
    CustomerFactory(external_ref="IMP2")
    CustomerFactory(external_ref="IMP3")
    consent_services.consent_withdraw(
        customer=stopped,
        channel=None,
        topic=None,
        source=ConsentEvent.Source.ONE_CLICK,
        actor=Actor.public("one_click"),
    )
    content = (
        "customer_ref,channel,topic,action,notice,occurred_at,customer_act,"
        "act_reference\n"
        "IMP1,sms,credit_card,grant,marketing:1:en,,signed_form,F-1\n"
        "IMP2,sms,credit_card,grant,marketing:1:en,,,\n"
        "IMP3,sms,credit_card,grant,marketing:1:en,,recorded_call,CALL-3\n"
    )
    request = services.approval_request_consent_import(
        content=content, filename="forms.csv", requested_by=requester, reason="forms"
    )
    rows = {r["line"]: r for r in request.payload["rows"]}
    assert "One-click unsubscribe" in rows[2]["errors"][0]
    assert rows[3]["errors"] == [str(staff_grants.MSG_ACT_REQUIRED)]
    assert rows[4]["errors"] == []
    decided = services.approval_request_approve(approval=request, approver=approver)
    assert decided.result["applied"] == 1
    event = ConsentEvent.objects.get(source="import")
    assert event.customer.external_ref == "IMP3"
    assert event.evidence["customer_act_ref"] == "CALL-3"
    assert event.evidence["notice_read_out"] == "marketing:1:en"


def test_admin_restore_form_shows_the_refusal_and_queues_nothing(
    customer, sms, credit_card, notice_en, requester, otp_admin_client
):
    _stop_by_sms(customer, sms, credit_card)
    response = otp_admin_client(requester).post(
        "/admin/backoffice/approvalrequest/add/",
        {
            "kind": "consent_restore",
            "reason": "Customer called",
            "customer_ref": customer.external_ref,
            "channel": "sms",
            "topic": "credit_card",
            "notice_version": notice_en.pk,
            "customer_act": "recorded_call",
            "act_reference": "CALL-5",
        },
    )
    assert response.status_code == 200
    assert "staff cannot switch it back on" in response.content.decode()
    assert not ApprovalRequest.objects.exists()


def test_admin_import_upload_reports_missing_act(
    requester, otp_admin_client, sms, credit_card
):
    CustomerFactory(external_ref="IMP9")
    upload = SimpleUploadedFile(
        "c.csv",
        b"customer_ref,channel,topic,action,notice,occurred_at\n"
        b"IMP9,sms,credit_card,grant,marketing:1:en,\n",
        "text/csv",
    )
    response = otp_admin_client(requester).post(
        "/admin/backoffice/approvalrequest/add/",
        {"kind": "consent_import", "reason": "forms", "file": upload},
    )
    assert response.status_code == 200
    assert str(services.MSG_CSV_NOTHING_VALID) in response.content.decode()
    assert not ApprovalRequest.objects.exists()
