"""Staff decide a customer's contest of a "not me" flag: accepting asks for the
restore through four-eyes approval, rejecting keeps the flag; both are logged."""

from __future__ import annotations

import pytest

from backoffice import services as backoffice_services
from backoffice.models import AccessLog, ApprovalRequest
from backoffice.roles import AUDITOR, COMPLIANCE_OFFICER
from consent import services as consent_services
from consent.ledger import Actor
from consent.models import ConsentEvent, ContactPoint
from preferences import services
from preferences.models import NotMeReport

pytestmark = pytest.mark.django_db

LIST = "/admin/preferences/notmereport/"


@pytest.fixture
def contest(phone_point):
    consent_services.contact_point_mark_not_me(
        contact_point=phone_point, source="portal", actor=Actor.public("not_me_page")
    )
    phone_point.refresh_from_db()
    return services.not_me_contest_open(contact_point=phone_point)


def _act(client, action, report):
    return client.post(
        LIST, {"action": action, "_selected_action": [report.pk]}, follow=True
    )


def test_accepting_asks_for_a_four_eyes_restore(
    contest, phone_point, staff_user, otp_admin_client
):
    officer = staff_user(COMPLIANCE_OFFICER, username="olga")
    response = _act(otp_admin_client(officer), "accept_contest", contest)
    assert "1 contest(s) accepted;" in response.content.decode()
    contest.refresh_from_db()
    assert contest.decision == NotMeReport.Decision.RESTORE_REQUESTED
    assert contest.reviewed_by == "olga"
    approval = ApprovalRequest.objects.get(kind="contact_restore")
    assert approval.payload == {"contact_point": phone_point.pk}
    assert str(contest.pk) in approval.reason
    phone_point.refresh_from_db()
    assert phone_point.status == ContactPoint.Status.NOT_ME  # not before approval
    assert AccessLog.objects.filter(
        username="olga",
        action="change",
        object_type="preferences.notmereport",
        object_id=str(contest.pk),
    ).exists()

    second = staff_user(COMPLIANCE_OFFICER, username="carl")
    backoffice_services.approval_request_approve(approval=approval, approver=second)
    phone_point.refresh_from_db()
    assert phone_point.status == ContactPoint.Status.ACTIVE
    assert ConsentEvent.objects.filter(action="contact_restored").exists()


def test_rejecting_keeps_not_me_and_a_decision_is_taken_once(
    contest, phone_point, staff_user, otp_admin_client
):
    browser = otp_admin_client(staff_user(COMPLIANCE_OFFICER, username="olga"))
    _act(browser, "reject_contest", contest)
    contest.refresh_from_db()
    assert contest.decision == NotMeReport.Decision.UPHELD
    phone_point.refresh_from_db()
    assert phone_point.status == ContactPoint.Status.NOT_ME
    response = _act(browser, "accept_contest", contest)
    assert "already processed" in response.content.decode()
    contest.refresh_from_db()
    assert contest.decision == NotMeReport.Decision.UPHELD
    assert not ApprovalRequest.objects.exists()


def test_an_auditor_cannot_decide(contest, staff_user, otp_admin_client):
    browser = otp_admin_client(staff_user(AUDITOR, username="ann"))
    _act(browser, "reject_contest", contest)
    contest.refresh_from_db()
    assert contest.reviewed_at is None and contest.decision == ""


def test_a_contest_is_not_closed_by_a_plain_review(
    contest, staff_user, otp_admin_client
):
    browser = otp_admin_client(staff_user(COMPLIANCE_OFFICER, username="olga"))
    response = _act(browser, "mark_reviewed", contest)
    assert "decided with Accept or Reject" in response.content.decode()
    contest.refresh_from_db()
    assert contest.reviewed_at is None
