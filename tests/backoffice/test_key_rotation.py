"""API key rotation goes through four-eyes approval and the access log; the new
key is shown once, in a page body, never in a message or cookie."""

from __future__ import annotations

import re

import pytest
from rest_framework.test import APIClient

from backoffice import services
from backoffice.models import AccessLog, ApprovalRequest
from backoffice.roles import COMPLIANCE_OFFICER, SUPERVISOR
from consent.api_clients import api_client_create
from consent.errors import ApplicationError

pytestmark = pytest.mark.django_db

ADD = "/admin/backoffice/approvalrequest/add/"


def _decide_url(pk: int) -> str:
    return f"/admin/backoffice/approvalrequest/{pk}/decide/"


@pytest.fixture
def gateway(db):
    return api_client_create(name="sms-gateway", channel_codes=["sms"])


@pytest.fixture
def olga(staff_user):
    return staff_user(COMPLIANCE_OFFICER, username="olga")


@pytest.fixture
def carl(staff_user):
    return staff_user(COMPLIANCE_OFFICER, username="carl")


def _reads(key: str) -> int:
    http = APIClient()
    http.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return http.get("/api/v1/suppression/changes", {"channel": "sms"}).status_code


def test_rotation_needs_a_second_person_who_alone_sees_the_key(
    gateway, olga, carl, otp_admin_client
):
    client, old = gateway
    requester = otp_admin_client(olga)
    page = requester.get(f"{ADD}?kind=api_key_rotate&api_client={client.pk}")
    assert page.context["adminform"].form.initial["kind"] == "api_key_rotate"
    made = requester.post(
        ADD,
        {
            "kind": "api_key_rotate",
            "reason": "Yearly rotation",
            "api_client": client.pk,
        },
    )
    assert made.status_code == 302, made.content.decode()[:2000]
    approval = ApprovalRequest.objects.get(kind="api_key_rotate")
    assert client.keys.count() == 1  # nothing issued yet

    # The requester cannot decide their own request.
    refused = requester.post(_decide_url(approval.pk), {"approve": "1"})
    assert "ck_" not in refused.content.decode()
    assert client.keys.count() == 1

    approver = otp_admin_client(carl)
    done = approver.post(_decide_url(approval.pk), {"approve": "1", "note": "ok"})
    assert done.status_code == 200
    assert "no-store" in done["Cache-Control"]
    html = done.content.decode()
    keys = re.findall(r"ck_[0-9a-f]{8}_[A-Za-z0-9_-]+", html)
    assert len(set(keys)) == 1
    new_key = keys[0]
    # Never in the messages cookie or the session-stored messages.
    assert all(new_key not in morsel.value for morsel in done.cookies.values())
    assert "messages" not in done.cookies or "ck_" not in done.cookies["messages"].value
    follow = approver.get(f"/admin/backoffice/approvalrequest/{approval.pk}/change/")
    assert new_key not in follow.content.decode()
    again = approver.get(_decide_url(approval.pk))
    assert new_key not in again.content.decode()

    approval.refresh_from_db()
    assert approval.status == ApprovalRequest.Status.APPROVED
    assert approval.decided_by == carl
    assert approval.result["key_prefix"] == new_key.split("_")[1]
    assert new_key not in str(approval.result)
    assert client.keys.count() == 2
    assert _reads(new_key) == 200
    assert _reads(old.clear) == 200  # the overlap: old key valid 7 more days
    assert client.keys.get(pk=old.key.pk).expires_at is not None

    logged = AccessLog.objects.filter(
        object_type="consent.apiclient", object_id=str(client.pk), fields=["api_key"]
    )
    assert sorted(logged.values_list("username", flat=True)) == ["carl", "olga"]


def test_rejected_rotation_issues_nothing(gateway, olga, carl):
    client, _old = gateway
    approval = services.approval_request_api_key_rotate(
        client=client, requested_by=olga, reason="Suspected leak"
    )
    services.approval_request_reject(approval=approval, approver=carl)
    assert client.keys.count() == 1
    assert not AccessLog.objects.filter(object_type="consent.apiclient").exists()


def test_requester_cannot_approve_own_rotation(gateway, carl):
    client, _old = gateway
    approval = services.approval_request_api_key_rotate(
        client=client, requested_by=carl, reason="x"
    )
    with pytest.raises(ApplicationError):
        services.approval_request_approve(approval=approval, approver=carl)
    assert client.keys.count() == 1


def test_paused_client_cannot_be_rotated(gateway, olga):
    client, _old = gateway
    client.is_active = False
    client.save()
    with pytest.raises(ApplicationError):
        services.approval_request_api_key_rotate(
            client=client, requested_by=olga, reason="x"
        )


def test_rotation_form_needs_a_client(olga, otp_admin_client):
    response = otp_admin_client(olga).post(
        ADD, {"kind": "api_key_rotate", "reason": "Yearly rotation"}
    )
    assert response.status_code == 200
    assert "Required for this kind of request." in response.content.decode()
    assert not ApprovalRequest.objects.exists()


def test_supervisor_cannot_approve(gateway, olga, staff_user, otp_admin_client):
    client, _old = gateway
    approval = services.approval_request_api_key_rotate(
        client=client, requested_by=olga, reason="x"
    )
    sup = otp_admin_client(staff_user(SUPERVISOR, username="sue"))
    assert sup.post(_decide_url(approval.pk), {"approve": "1"}).status_code == 403
    assert client.keys.count() == 1


def test_new_client_key_is_shown_on_a_page_too(olga, carl, otp_admin_client):
    approval = services.approval_request_api_client_channels(
        requested_by=olga, reason="New mailer", name="mailer", channel_codes=["email"]
    )
    done = otp_admin_client(carl).post(_decide_url(approval.pk), {"approve": "1"})
    assert done.status_code == 200
    assert re.search(r"ck_[0-9a-f]{8}_", done.content.decode())
    assert all("ck_" not in morsel.value for morsel in done.cookies.values())
