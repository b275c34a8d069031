"""Setting up a sending system in admin: the key is shown once, stored hashed."""

from __future__ import annotations

import pytest

from consent.api_clients import api_client_create
from consent.models import ApiKey, Channel

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_http(staff_user, otp_admin_client):
    return otp_admin_client(staff_user(is_superuser=True))


def test_clients_are_not_created_or_widened_directly_in_admin(admin_http):
    client, _issued = api_client_create(name="mailer", channel_codes=["email"])
    assert admin_http.get("/admin/consent/apiclient/add/").status_code == 403
    sms = Channel.objects.get(code="sms")
    response = admin_http.post(
        f"/admin/consent/apiclient/{client.pk}/change/",
        {
            "name": "mailer",
            "is_active": "on",
            "channels": [sms.pk],
            "rate_per_minute": 120,
            "feed_position-TOTAL_FORMS": 0,
            "feed_position-INITIAL_FORMS": 0,
            "keys-TOTAL_FORMS": 0,
            "keys-INITIAL_FORMS": 1,
        },
        follow=True,
    )
    assert response.status_code == 200
    client.refresh_from_db()
    assert client.rate_per_minute == 120
    assert list(client.channels.values_list("code", flat=True)) == ["email"]
    page = admin_http.get(f"/admin/consent/apiclient/{client.pk}/change/").content
    assert b"kind=api_client_channels" in page


def test_rotate_action_opens_an_approval_request_and_revoke_is_direct(admin_http):
    client, first = api_client_create(name="mailer", channel_codes=["email"])
    response = admin_http.post(
        "/admin/consent/apiclient/",
        {"action": "rotate_key", "_selected_action": [client.pk]},
    )
    assert response.status_code == 302
    assert "kind=api_key_rotate" in response["Location"]
    assert f"api_client={client.pk}" in response["Location"]
    assert client.keys.count() == 1  # nothing is issued without a second person
    assert client.keys.get().expires_at is None

    response = admin_http.post(
        "/admin/consent/apikey/",
        {"action": "revoke", "_selected_action": [first.key.pk]},
        follow=True,
    )
    assert response.redirect_chain
    assert ApiKey.objects.get(pk=first.key.pk).revoked_at is not None
    assert client.keys.filter(revoked_at__isnull=True).count() == 0
