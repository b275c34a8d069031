"""Four-eyes approval: nothing applies before a second staff member approves."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile

from backoffice import services
from backoffice.models import ApprovalRequest
from backoffice.roles import AUDITOR, COMPLIANCE_OFFICER, SUPERVISOR
from consent import services as consent_services
from consent.errors import ApplicationError
from consent.ledger import Actor
from consent.models import (
    ApiClient,
    ConsentEvent,
    ConsentState,
    Contactability,
    ContactPoint,
)
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def requester(staff_user):
    return staff_user(SUPERVISOR, username="sue")


@pytest.fixture
def approver(staff_user):
    return staff_user(COMPLIANCE_OFFICER, username="carl")


@pytest.fixture
def flagged(phone_point):
    consent_services.contact_point_mark_not_me(
        contact_point=phone_point, source="portal", actor=Actor.public("not_me")
    )
    phone_point.refresh_from_db()
    return phone_point


def test_clearing_a_not_me_flag_needs_a_second_person(flagged, requester, approver):
    request = services.approval_request_contact_restore(
        contact_point=flagged, requested_by=requester, reason="Customer proved it"
    )
    flagged.refresh_from_db()
    assert flagged.status == ContactPoint.Status.NOT_ME
    with pytest.raises(ApplicationError) as refused:
        services.approval_request_approve(approval=request, approver=requester)
    assert refused.value.message == services.MSG_SELF_DECISION
    before = ConsentEvent.objects.count()
    decided = services.approval_request_approve(approval=request, approver=approver)
    assert decided.status == ApprovalRequest.Status.APPROVED
    assert decided.decided_by == approver and decided.decided_at is not None
    flagged.refresh_from_db()
    assert flagged.status == ContactPoint.Status.ACTIVE
    event = ConsentEvent.objects.order_by("seq").last()
    assert ConsentEvent.objects.count() == before + 1
    assert event.action == ConsentEvent.Action.CONTACT_RESTORED
    assert event.actor == "staff:sue"
    assert event.evidence["approved_by"] == "carl"
    assert event.evidence["approval_request"] == str(request.pk)
    key = Contactability.objects.get(
        blind_index=flagged.blind_index, channel__code="sms"
    )
    assert "not_me" not in key.reasons


def test_self_approval_is_refused_even_for_an_approver(flagged, approver):
    request = services.approval_request_contact_restore(
        contact_point=flagged, requested_by=approver, reason="Customer proved it"
    )
    with pytest.raises(ApplicationError):
        services.approval_request_approve(approval=request, approver=approver)
    with pytest.raises(ApplicationError):
        services.approval_request_reject(approval=request, approver=approver)
    request.refresh_from_db()
    assert request.status == ApprovalRequest.Status.PENDING


def test_only_approvers_may_decide(flagged, requester, staff_user):
    request = services.approval_request_contact_restore(
        contact_point=flagged, requested_by=requester, reason="Customer proved it"
    )
    with pytest.raises(PermissionDenied):
        services.approval_request_approve(
            approval=request, approver=staff_user(AUDITOR)
        )


def test_rejection_leaves_data_unchanged(flagged, requester, approver):
    request = services.approval_request_contact_restore(
        contact_point=flagged, requested_by=requester, reason="Customer proved it"
    )
    before = ConsentEvent.objects.count()
    decided = services.approval_request_reject(
        approval=request, approver=approver, note="No proof on file"
    )
    assert decided.status == ApprovalRequest.Status.REJECTED
    flagged.refresh_from_db()
    assert flagged.status == ContactPoint.Status.NOT_ME
    assert ConsentEvent.objects.count() == before
    with pytest.raises(ApplicationError):
        services.approval_request_approve(approval=request, approver=approver)


def test_restoring_consent_names_requester_and_approver(
    customer, sms, credit_card, notice_en, requester, approver
):
    request = services.approval_request_consent_restore(
        customer=customer,
        channel=sms,
        topic=credit_card,
        notice_version=notice_en,
        customer_act="recorded_call",
        act_reference="CALL-2026-0001",
        requested_by=requester,
        reason="Customer asked by phone, call recorded",
    )
    assert not ConsentState.objects.filter(customer=customer).exists()
    services.approval_request_approve(approval=request, approver=approver)
    state = ConsentState.objects.get(customer=customer, channel=sms, topic=credit_card)
    assert state.status == "granted" and state.source == "staff"
    assert state.event.actor == "staff:sue"
    assert state.event.evidence["approved_by"] == "carl"


def test_restoring_consent_after_stop_all_fails_and_changes_nothing(
    customer, sms, credit_card, notice_en, requester, approver
):
    request = services.approval_request_consent_restore(
        customer=customer,
        channel=sms,
        topic=credit_card,
        notice_version=notice_en,
        customer_act="signed_form",
        act_reference="FORM-77",
        requested_by=requester,
        reason="Customer asked by phone",
    )
    consent_services.consent_opt_out_all(
        customer=customer, source="portal", actor=Actor.customer(customer)
    )
    before = ConsentEvent.objects.count()
    decided = services.approval_request_approve(approval=request, approver=approver)
    assert decided.status == ApprovalRequest.Status.FAILED
    assert decided.result["error"] == str(consent_services.MSG_OPTED_OUT)
    assert ConsentEvent.objects.count() == before
    assert not ConsentState.objects.filter(customer=customer, status="granted").exists()


IMPORT_CSV = (
    "customer_ref,channel,topic,action,notice,occurred_at,customer_act,act_reference\n"
    "IMP0001,sms,credit_card,grant,marketing:1:en,2026-01-05T10:00:00+08:00,"
    "signed_form,F-1\n"
    "IMP0002,email,wealth,grant,marketing:1:en,,signed_form,F-2\n"
    "NOPE,sms,credit_card,grant,marketing:1:en,,signed_form,F-3\n"
    "IMP0001,fax,credit_card,grant,marketing:1:en,,signed_form,F-4\n"
    "IMP0002,sms,repayment_reminder,withdraw,,,,\n"
    "IMP0002,sms,wealth,withdraw,,,,\n"
)


@pytest.fixture
def import_customers():
    return [
        CustomerFactory(external_ref="IMP0001"),
        CustomerFactory(external_ref="IMP0002"),
    ]


def test_bulk_import_reports_row_errors_and_applies_nothing_before_approval(
    import_customers, requester, approver
):
    before = ConsentEvent.objects.count()
    request = services.approval_request_consent_import(
        content=IMPORT_CSV.encode(),
        filename="consents.csv",
        requested_by=requester,
        reason="Branch paper forms, March",
    )
    rows = request.payload["rows"]
    assert [r["line"] for r in rows if r["errors"]] == [4, 5, 6]
    assert rows[2]["errors"] == [str(services.MSG_ROW_CUSTOMER)]
    assert rows[3]["errors"] == [str(services.MSG_ROW_CHANNEL)]
    assert rows[4]["errors"] == [str(services.MSG_ROW_TOPIC)]
    assert ConsentEvent.objects.count() == before

    decided = services.approval_request_approve(approval=request, approver=approver)
    assert decided.result["applied"] == 3
    report = {r["line"]: r["status"] for r in decided.result["rows"]}
    assert report == {
        2: "applied",
        3: "applied",
        4: "skipped",
        5: "skipped",
        6: "skipped",
        7: "applied",
    }
    imported = ConsentEvent.objects.filter(source="import").order_by("seq")
    assert imported.count() == 3
    assert {e.evidence["approved_by"] for e in imported} == {"carl"}
    first = imported.first()
    assert first.occurred_at.isoformat() == "2026-01-05T02:00:00+00:00"


def test_bulk_import_row_refused_at_approval_is_reported_alone(
    import_customers, requester, approver
):
    request = services.approval_request_consent_import(
        content=IMPORT_CSV, filename="c.csv", requested_by=requester, reason="forms"
    )
    # The customer stops all marketing between upload and approval.
    consent_services.consent_opt_out_all(
        customer=import_customers[1],
        source="portal",
        actor=Actor.customer(import_customers[1]),
    )
    decided = services.approval_request_approve(approval=request, approver=approver)
    report = {r["line"]: r for r in decided.result["rows"]}
    assert report[3]["status"] == "failed"
    assert report[3]["errors"] == [str(consent_services.MSG_OPTED_OUT)]
    assert report[2]["status"] == "applied" and report[7]["status"] == "applied"
    assert decided.result["applied"] == 2


def test_bulk_import_with_a_bad_header_is_refused(requester):
    with pytest.raises(Exception) as refused:
        services.approval_request_consent_import(
            content="ref,channel\nX,sms\n",
            filename="bad.csv",
            requested_by=requester,
            reason="x",
        )
    assert "customer_ref" in str(refused.value)
    assert not ApprovalRequest.objects.exists()


def test_widening_api_client_channels_waits_for_approval(requester, approver):
    from consent.api_clients import api_client_create

    client, _key = api_client_create(name="sms-gateway", channel_codes=["sms"])
    request = services.approval_request_api_client_channels(
        requested_by=approver,
        reason="Gateway now also sends voice",
        client=client,
        channel_codes=["sms", "voice"],
    )
    assert set(client.channels.values_list("code", flat=True)) == {"sms"}
    services.approval_request_approve(
        approval=request, approver=_other_approver(approver)
    )
    assert set(client.channels.values_list("code", flat=True)) == {"sms", "voice"}


def _other_approver(user):
    from django.contrib.auth.models import Group

    other = type(user).objects.create_user("dora", password="x" * 16, is_staff=True)
    other.groups.add(Group.objects.get(name=COMPLIANCE_OFFICER))
    return other


def test_new_api_client_is_created_on_approval(requester, approver):
    request = services.approval_request_api_client_channels(
        requested_by=requester,
        reason="New e-mail platform",
        name="mailer",
        channel_codes=["email"],
    )
    assert not ApiClient.objects.filter(name="mailer").exists()
    decided = services.approval_request_approve(approval=request, approver=approver)
    client = ApiClient.objects.get(name="mailer")
    assert decided.result["client"] == client.pk
    assert client.keys.filter(prefix=decided.result["key_prefix"]).exists()


# --- through the admin ----------------------------------------------------------------


def test_admin_flow_upload_list_and_decide(
    import_customers, requester, approver, otp_admin_client
):
    supervisor = otp_admin_client(requester)
    upload = SimpleUploadedFile("consents.csv", IMPORT_CSV.encode(), "text/csv")
    response = supervisor.post(
        "/admin/backoffice/approvalrequest/add/",
        {"kind": "consent_import", "reason": "Branch paper forms", "file": upload},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    request = ApprovalRequest.objects.get()
    assert request.requested_by == requester
    assert not ConsentEvent.objects.filter(source="import").exists()
    # The requester cannot decide (and has no approval permission anyway).
    assert (
        supervisor.post(
            f"/admin/backoffice/approvalrequest/{request.pk}/decide/", {"approve": "1"}
        ).status_code
        == 403
    )
    officer = otp_admin_client(approver)
    page = officer.get(f"/admin/backoffice/approvalrequest/{request.pk}/decide/")
    assert page.status_code == 200
    assert str(services.MSG_ROW_CUSTOMER) in page.content.decode()
    done = officer.post(
        f"/admin/backoffice/approvalrequest/{request.pk}/decide/",
        {"approve": "1", "note": "checked the forms"},
    )
    assert done.status_code == 302
    request.refresh_from_db()
    assert request.status == ApprovalRequest.Status.APPROVED
    assert ConsentEvent.objects.filter(source="import").count() == 3
    listing = officer.get("/admin/backoffice/approvalrequest/?status__exact=approved")
    html = listing.content.decode()
    assert "sue" in html and "carl" in html
    detail = officer.get(f"/admin/backoffice/approvalrequest/{request.pk}/change/")
    assert "applied" in detail.content.decode()


def test_admin_request_form_shows_field_errors(requester, otp_admin_client):
    supervisor = otp_admin_client(requester)
    response = supervisor.post(
        "/admin/backoffice/approvalrequest/add/",
        {"kind": "consent_restore", "reason": "phone call", "customer_ref": "NOPE"},
    )
    assert response.status_code == 200
    assert "Required for this kind of request." in response.content.decode()
    assert not ApprovalRequest.objects.exists()


def test_requester_sees_own_request_cannot_be_self_approved_in_admin(
    flagged, approver, otp_admin_client
):
    request = services.approval_request_contact_restore(
        contact_point=flagged, requested_by=approver, reason="Customer proved it"
    )
    client = otp_admin_client(approver)
    page = client.get(f"/admin/backoffice/approvalrequest/{request.pk}/decide/")
    assert "You cannot approve or reject your own request" in page.content.decode()
    client.post(
        f"/admin/backoffice/approvalrequest/{request.pk}/decide/", {"approve": "1"}
    )
    flagged.refresh_from_db()
    assert flagged.status == ContactPoint.Status.NOT_ME


def test_request_form_is_prefilled_from_a_link(flagged, requester, otp_admin_client):
    from backoffice.admin_mixins import approval_request_link

    link = approval_request_link("contact_restore", "x", contact_point=flagged.pk)
    url = link.split('"')[1].replace("&amp;", "&")
    page = otp_admin_client(requester).get(url)
    assert page.status_code == 200
    form = page.context["adminform"].form
    assert form.initial["kind"] == "contact_restore"
    assert str(form.initial["contact_point"]) == str(flagged.pk)


def test_flagged_contact_point_links_to_a_restore_request(
    flagged, approver, otp_admin_client
):
    page = otp_admin_client(approver).get(
        f"/admin/consent/contactpoint/{flagged.pk}/change/"
    )
    html = page.content.decode()
    assert (
        f"/admin/backoffice/approvalrequest/add/?kind=contact_restore&amp;"
        f"contact_point={flagged.pk}"
    ) in html
