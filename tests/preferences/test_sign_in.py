from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from preferences.auth import SESSION_KEY
from preferences.models import OneTimeCode
from preferences.portal_actions import (
    MSG_IDENTITY_EMPTY,
    MSG_IDENTITY_WRONG,
    identity_check_set,
)
from preferences.services import MSG_CODE_EXPIRED, MSG_CODE_WRONG, MSG_LOCKED
from tests.factories import CustomerFactory, add_email, add_phone, grant

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


@pytest.fixture
def shared_phone(customer, phone_point):
    """Two customers on one phone (a joint account), each with identity facts."""
    other = CustomerFactory()
    other.display_name = "Other Holder"
    other.save()
    add_phone(other, "13800138000")
    customer.display_name = "First Holder"
    customer.save()
    identity_check_set(
        customer=customer, id_number_tail="123x", birth_date=date(1980, 5, 17)
    )
    identity_check_set(
        customer=other, id_number_tail="4321", birth_date=date(1984, 9, 2)
    )
    return other


def _code_on_shared_phone(client, last_code):
    _ask(client)
    response = client.post(CODE, {"code": last_code()})
    assert response.url == reverse("portal:sign_in_choose")
    return response.url


def test_shared_phone_never_shows_the_other_holders(
    client, customer, shared_phone, last_code
):
    choose = _code_on_shared_phone(client, last_code)
    page = client.get(choose).content.decode()
    for holder in (customer, shared_phone):
        assert holder.external_ref[-4:] not in page
        assert holder.display_name[:1] + "*" not in page
        assert 'type="radio"' not in page
    assert "+86****8000" in page
    assert SESSION_KEY not in client.session
    # Account pages stay closed until a holder is identified.
    assert client.get(reverse("portal:history")).status_code == 302
    assert client.get(reverse("portal:export")).status_code == 302


def test_shared_phone_signs_in_the_holder_whose_fact_matches(
    client, customer, shared_phone, last_code
):
    choose = _code_on_shared_phone(client, last_code)
    response = client.post(choose, {"id_number_tail": "4321"})
    assert response.status_code == 302
    assert client.session[SESSION_KEY] == shared_phone.pk


def test_shared_phone_accepts_the_date_of_birth_or_a_lower_case_tail(
    client, customer, shared_phone, last_code
):
    choose = _code_on_shared_phone(client, last_code)
    client.post(choose, {"birth_date": "1980-05-17"})
    assert client.session[SESSION_KEY] == customer.pk
    client.post(reverse("portal:sign_out"))
    choose = _code_on_shared_phone(client, last_code)
    client.post(choose, {"id_number_tail": "123X"})
    assert client.session[SESSION_KEY] == customer.pk


def test_shared_phone_wrong_facts_share_the_code_lockout(
    client, customer, shared_phone, last_code
):
    choose = _code_on_shared_phone(client, last_code)
    empty = client.post(choose, {})
    assert (
        empty.status_code == 200 and str(MSG_IDENTITY_EMPTY) in empty.content.decode()
    )
    for _ in range(5):
        page = client.post(choose, {"id_number_tail": "9999"}).content.decode()
    assert SESSION_KEY not in client.session
    # Locked now: even the right answer is refused, as after five wrong codes.
    page = client.post(choose, {"id_number_tail": "4321"}).content.decode()
    assert str(MSG_LOCKED) in page
    assert SESSION_KEY not in client.session
    assert str(MSG_IDENTITY_WRONG) not in page


def test_identity_facts_are_stored_encrypted(customer):
    check = identity_check_set(
        customer=customer, id_number_tail="A1234", birth_date=date(1990, 1, 31)
    )
    assert "1234" not in check.id_number_tail_encrypted
    assert "1990" not in check.birth_date_encrypted
    assert check.id_number_tail_encrypted.startswith("v1:")


def test_shared_phone_without_the_fact_may_only_stop_marketing(
    client, customer, shared_phone, last_code, sms, credit_card, notice_en
):
    from consent.models import ConsentEvent, ConsentState, Contactability

    grant(customer, sms, credit_card, notice_en)
    choose = _code_on_shared_phone(client, last_code)
    page = client.get(reverse("portal:shared_identifier")).content.decode()
    assert "First Holder" not in page and "Other Holder" not in page
    response = client.post(reverse("portal:shared_identifier"))
    assert response.status_code == 302
    assert SESSION_KEY not in client.session
    withdrawal = ConsentEvent.objects.get(action="withdraw")
    assert withdrawal.customer == customer and withdrawal.channel == sms
    assert withdrawal.topic is None and withdrawal.actor == "public:shared_identifier"
    assert ConsentState.objects.granted().count() == 0
    key = Contactability.objects.get(channel=sms)
    assert key.suppressed
    # Still nothing else is open to this person.
    assert client.get(reverse("portal:dashboard")).status_code == 302
    assert client.get(choose).status_code == 200


def test_shared_identifier_page_needs_a_code_first(client):
    response = client.get(reverse("portal:shared_identifier"))
    assert response.status_code == 302 and response.url == SIGN_IN
    assert client.post(reverse("portal:shared_identifier")).status_code == 302


def test_full_width_digits_and_spaces_in_the_code_are_accepted(
    client, customer, phone_point, last_code
):
    _ask(client)
    code = last_code()
    full_width = "".join(chr(ord("０") + int(d)) for d in code)
    typed = f"{full_width[:3]} {full_width[3:]}"
    response = client.post(CODE, {"code": typed})
    assert response.status_code == 302
    assert client.session[SESSION_KEY] == customer.pk


def _shape(sql: str) -> str:
    """A statement without its values: which tables, which kind of statement."""
    return re.sub(r"'[^']*'|\"s\d+_x\d+\"|\b\d+\b", "?", sql)


def test_sign_in_request_does_the_same_work_for_unknown_addresses(
    phone_point, monkeypatch
):
    """The lookup and the code happen in the task; the request does not tell
    customers from strangers by its work (and so by its timing)."""
    from preferences import tasks

    queued = []
    monkeypatch.setattr(
        tasks.sign_in_code_task, "delay", lambda **kwargs: queued.append(kwargs)
    )
    statements = []
    for identifier in ("13800138000", "13900000000"):
        with CaptureQueriesContext(connection) as ctx:
            _ask(Client(), identifier)
        statements.append([_shape(q["sql"]) for q in ctx.captured_queries])
    assert statements[0] == statements[1]
    assert not any("consent_contactpoint" in sql for sql in statements[0])
    assert [q["kind"] for q in queued] == ["phone", "phone"]
    assert "13800138000" not in str(queued)  # the broker sees ciphertext only
    assert OneTimeCode.objects.count() == 0
    tasks.sign_in_code_task.run(**queued[0])
    tasks.sign_in_code_task.run(**queued[1])
    assert OneTimeCode.objects.count() == 1


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


def test_identity_facts_command(customer):
    from io import StringIO

    from django.core.management import CommandError, call_command

    from preferences.models import IdentityCheck

    out = StringIO()
    call_command(
        "set_identity_check",
        customer=customer.external_ref,
        id_tail="12345X",
        birth_date="1990-01-31",
        stdout=out,
    )
    check = IdentityCheck.objects.get(customer=customer)
    assert "345X" not in check.id_number_tail_encrypted and "Stored" in out.getvalue()
    with pytest.raises(CommandError):
        call_command("set_identity_check", customer=customer.external_ref)
    with pytest.raises(CommandError):
        call_command(
            "set_identity_check", customer=customer.external_ref, birth_date="31/01"
        )
    with pytest.raises(CommandError):
        call_command("set_identity_check", customer="NOPE", id_tail="1234")


def test_identity_facts_go_with_an_erasure(customer, phone_point):
    from consent.erasure import customer_erase
    from preferences.models import IdentityCheck, SettingChange

    identity_check_set(customer=customer, id_number_tail="1234")
    SettingChange.objects.create(customer=customer, kind="personalisation", actor="x")
    customer_erase(customer=customer)
    assert not IdentityCheck.objects.filter(customer=customer).exists()
    assert not SettingChange.objects.filter(customer=customer).exists()
