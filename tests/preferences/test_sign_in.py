from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from preferences.auth import SESSION_KEY
from preferences.models import OneTimeCode
from preferences.services import MSG_CODE_EXPIRED, MSG_CODE_WRONG, MSG_LOCKED
from tests.factories import CustomerFactory, add_email, add_phone

pytestmark = pytest.mark.django_db

SIGN_IN = "/sign-in/"
CODE = "/sign-in/code/"


def _ask(client, identifier="13800138000"):
    return client.post(SIGN_IN, {"identifier": identifier})


def test_sign_in_with_code_from_the_sender(client, customer, phone_point, last_code):
    response = _ask(client, "138 0013 8000")
    assert response.status_code == 302 and response.url == CODE
    code = last_code()
    assert OneTimeCode.objects.get().code_hash != code  # only a keyed hash is stored
    response = client.post(CODE, {"code": code})
    assert response.status_code == 302
    assert response.url == reverse("portal:dashboard")
    assert client.session[SESSION_KEY] == customer.pk
    assert client.get(reverse("portal:dashboard")).status_code == 200


def test_language_follows_the_customers_preference(
    client, phone_point, customer, last_code
):
    customer.preferred_language = "zh-hans"
    customer.save()
    _ask(client)
    response = client.post(CODE, {"code": last_code()})
    assert response.cookies["django_language"].value == "zh-hans"
    page = client.get(reverse("portal:dashboard")).content.decode()
    assert '<html lang="zh-Hans">' in page


def test_unknown_number_gets_the_same_answer_and_no_message(client, outbox):
    response = _ask(client, "13900000000")
    assert response.status_code == 302 and response.url == CODE
    assert outbox == []
    page = client.get(CODE).content.decode()
    assert "If" in page  # "If ... is registered with us"
    response = client.post(CODE, {"code": "123456"})
    assert str(MSG_CODE_WRONG) in response.content.decode()
    assert SESSION_KEY not in client.session


def test_unverified_address_cannot_sign_in(client, outbox):
    customer = CustomerFactory()
    add_email(customer, "late@example.com", verified=False)
    response = _ask(client, "late@example.com")
    assert response.status_code == 302
    assert outbox == []


def test_invalid_phone_is_refused_with_a_message(client, outbox):
    response = _ask(client, "12ab")
    assert response.status_code == 200
    assert "Enter a valid phone number" in response.content.decode()
    assert outbox == [] and OneTimeCode.objects.count() == 0


def test_wrong_code_does_not_sign_in(client, phone_point, last_code):
    _ask(client)
    code = last_code()
    wrong = "000000" if code != "000000" else "111111"
    response = client.post(CODE, {"code": wrong})
    assert str(MSG_CODE_WRONG) in response.content.decode()
    assert SESSION_KEY not in client.session
    assert OneTimeCode.objects.get().used_at is None


def test_malformed_code_gets_a_field_message(client, phone_point):
    _ask(client)
    response = client.post(CODE, {"code": "12"})
    assert "Enter the 6 digits of the code." in response.content.decode()


def test_expired_code_is_refused(client, phone_point, last_code):
    _ask(client)
    OneTimeCode.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = client.post(CODE, {"code": last_code()})
    assert str(MSG_CODE_EXPIRED) in response.content.decode()
    assert SESSION_KEY not in client.session


def test_code_works_only_once(client, phone_point, last_code):
    _ask(client)
    code = last_code()
    client.post(CODE, {"code": code})
    other = Client()
    other.post(SIGN_IN, {"identifier": "13800138000"})
    # The first code was used; a replay in a new session is refused.
    response = other.post(CODE, {"code": code})
    assert SESSION_KEY not in other.session
    assert response.status_code == 200


def test_five_codes_per_hour_then_a_clear_message(client, phone_point, outbox):
    for _ in range(5):
        assert _ask(client).status_code == 302
    response = _ask(client)
    assert response.status_code == 200
    assert "Too many codes" in response.content.decode()
    assert len(outbox) == 5


def test_unknown_numbers_are_throttled_the_same(client, outbox):
    for _ in range(5):
        _ask(client, "13900000000")
    assert "Too many codes" in _ask(client, "13900000000").content.decode()


def test_per_ip_throttle_spans_identifiers(client, outbox):
    for n in range(5):
        _ask(client, f"1390000000{n}")
    assert "Too many codes" in _ask(client, "13900000009").content.decode()


def test_five_wrong_codes_lock_for_fifteen_minutes(client, phone_point, last_code):
    _ask(client)
    code = last_code()
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        client.post(CODE, {"code": wrong})
    response = client.post(CODE, {"code": code})
    assert str(MSG_LOCKED) in response.content.decode()
    assert SESSION_KEY not in client.session


def test_shared_phone_lets_the_holder_choose(client, customer, phone_point, last_code):
    other = CustomerFactory()
    add_phone(other, "13800138000")
    _ask(client)
    response = client.post(CODE, {"code": last_code()})
    assert response.url == reverse("portal:sign_in_choose")
    page = client.get(response.url).content.decode()
    assert customer.external_ref[-4:] in page
    response = client.post(response.url, {"customer": other.pk})
    assert client.session[SESSION_KEY] == other.pk


def test_sign_out_ends_the_session(portal_client):
    response = portal_client.post(reverse("portal:sign_out"))
    assert response.status_code == 302
    response = portal_client.get(reverse("portal:preferences"))
    assert response.status_code == 302 and response.url == SIGN_IN


@pytest.mark.parametrize(
    "name",
    [
        "dashboard",
        "preferences",
        "contact_settings",
        "frequency",
        "care_pause",
        "personalisation",
        "contact_points",
        "history",
        "my_data",
        "export",
    ],
)
def test_account_pages_need_sign_in(client, name):
    response = client.get(reverse(f"portal:{name}"))
    assert response.status_code == 302 and response.url == SIGN_IN


def test_sign_in_without_csrf_token_is_refused(phone_point, outbox):
    client = Client(enforce_csrf_checks=True)
    response = client.post(SIGN_IN, {"identifier": "13800138000"})
    assert response.status_code == 403
    assert outbox == [] and OneTimeCode.objects.count() == 0


def test_ip_throttle_reads_the_address_set_by_a_trusted_proxy(client, settings, outbox):
    settings.PORTAL_TRUSTED_PROXIES = 1
    for n in range(5):
        client.post(
            SIGN_IN,
            {"identifier": f"1390000000{n}"},
            HTTP_X_FORWARDED_FOR="203.0.113.9",
        )
    blocked = client.post(
        SIGN_IN, {"identifier": "13900000009"}, HTTP_X_FORWARDED_FOR="203.0.113.9"
    )
    assert "Too many codes" in blocked.content.decode()
    other = client.post(
        SIGN_IN,
        {"identifier": "13900000009"},
        HTTP_X_FORWARDED_FOR="spoofed, 203.0.113.10",
    )
    assert other.status_code == 302
