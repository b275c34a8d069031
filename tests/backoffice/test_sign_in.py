"""Admin sign-in: password and authenticator code, enrolment, lockout."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from backoffice import otp
from backoffice.roles import AUDITOR, COMPLIANCE_OFFICER
from tests.backoffice.fixtures import STAFF_PASSWORD

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/"
CUSTOMERS = "/admin/consent/customer/"


def current_code(device: TOTPDevice) -> str:
    code = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits)
    return f"{code:06d}"


def sign_in(client: Client, username: str, password: str, code: str = ""):
    return client.post(
        LOGIN,
        {
            "username": username,
            "password": password,
            "otp_token": code,
            "next": "/admin/",
        },
    )


@pytest.fixture
def enrolled(staff_user):
    user = staff_user(AUDITOR, username="ann")
    device, codes = otp.totp_enrol(user=user)
    return user, device, codes


def test_password_alone_gives_no_data(enrolled, customer):
    user, _device, _codes = enrolled
    client = Client()
    page = sign_in(client, "ann", STAFF_PASSWORD)
    assert page.status_code == 200
    assert "Enter the code from your authenticator app." in page.content.decode()
    listing = client.get(CUSTOMERS)
    assert listing.status_code == 302 and listing["Location"].startswith(LOGIN)


def test_password_and_authenticator_code_sign_in(enrolled, customer):
    user, device, _codes = enrolled
    client = Client()
    page = sign_in(client, "ann", STAFF_PASSWORD, current_code(device))
    assert page.status_code == 302
    listing = client.get(CUSTOMERS)
    assert listing.status_code == 200
    assert customer.external_ref in listing.content.decode()


def test_backup_code_works_once(enrolled):
    user, _device, codes = enrolled
    first = Client()
    assert sign_in(first, "ann", STAFF_PASSWORD, codes[0]).status_code == 302
    assert first.get("/admin/").status_code == 200
    assert not StaticToken.objects.filter(token=codes[0]).exists()
    again = Client()
    page = sign_in(again, "ann", STAFF_PASSWORD, codes[0])
    assert page.status_code == 200
    assert again.get("/admin/").status_code == 302


def test_wrong_code_is_refused(enrolled):
    client = Client()
    page = sign_in(client, "ann", STAFF_PASSWORD, "000000")
    assert page.status_code == 200
    assert "That code is not valid" in page.content.decode()
    assert client.get("/admin/").status_code == 302


def test_staff_without_device_must_enrol_before_seeing_data(staff_user, customer):
    staff_user(COMPLIANCE_OFFICER, username="bob")
    client = Client()
    page = sign_in(client, "bob", STAFF_PASSWORD)
    assert page.status_code == 302 and page["Location"] == "/admin/enrol/"
    # Signed in by password, but no data anywhere until the device is confirmed.
    for url in ("/admin/", CUSTOMERS, "/admin/backoffice/accesslog/"):
        response = client.get(url)
        assert response.status_code == 302
    assert client.get(LOGIN)["Location"] == "/admin/enrol/"

    enrol = client.get("/admin/enrol/")
    html = enrol.content.decode()
    assert enrol.status_code == 200
    assert 'src="data:image/svg+xml;base64,' in html
    assert "<script" not in html.split("<body", 1)[1]
    assert customer.external_ref not in html
    device = TOTPDevice.objects.get(user__username="bob", confirmed=False)
    # The same pending device (and QR code) on reload.
    client.get("/admin/enrol/")
    assert TOTPDevice.objects.filter(user__username="bob").count() == 1

    wrong = client.post("/admin/enrol/", {"token": "000000"})
    assert "That code is not valid" in wrong.content.decode()
    device.refresh_from_db()
    device.throttle_reset()  # django-otp slows retries after a wrong code
    done = client.post("/admin/enrol/", {"token": current_code(device)})
    assert done.status_code == 200
    codes = re.findall(r"<code>([a-z0-9]{8})</code>", done.content.decode())
    assert len(codes) == otp.BACKUP_CODE_COUNT
    device.refresh_from_db()
    assert device.confirmed
    assert client.get(CUSTOMERS).status_code == 200


def test_enrolment_page_needs_a_password_sign_in():
    response = Client().get("/admin/enrol/")
    assert response.status_code == 302 and response["Location"].startswith(LOGIN)


def test_wrong_passwords_lock_the_account_out(enrolled, settings):
    settings.AXES_FAILURE_LIMIT = 3
    _user, device, _codes = enrolled
    client = Client()
    for _ in range(2):
        assert sign_in(client, "ann", "wrong-password-1").status_code == 200
    locked = sign_in(client, "ann", "wrong-password-1")
    assert locked.status_code == 429
    # Even the right password and code are refused while locked out.
    right = sign_in(client, "ann", STAFF_PASSWORD, current_code(device))
    assert right.status_code == 429
    assert client.get("/admin/").status_code == 302


def test_wrong_codes_count_towards_lockout(enrolled, settings):
    settings.AXES_FAILURE_LIMIT = 3
    _user, _device, codes = enrolled
    client = Client()
    for _ in range(2):
        assert sign_in(client, "ann", STAFF_PASSWORD, "123456").status_code == 200
    assert sign_in(client, "ann", STAFF_PASSWORD, "654321").status_code == 429
    assert sign_in(client, "ann", STAFF_PASSWORD, codes[1]).status_code == 429
    assert client.get("/admin/").status_code == 302


def test_wrong_enrolment_codes_lock_out_and_sign_out(staff_user, settings):
    settings.AXES_FAILURE_LIMIT = 2
    staff_user(AUDITOR, username="cy")
    client = Client()
    assert sign_in(client, "cy", STAFF_PASSWORD)["Location"] == "/admin/enrol/"
    client.post("/admin/enrol/", {"token": "000000"})
    out = client.post("/admin/enrol/", {"token": "111111"})
    assert out.status_code in (302, 429)
    assert client.get("/admin/enrol/")["Location"].startswith(LOGIN)
    assert sign_in(client, "cy", STAFF_PASSWORD).status_code == 429


def test_otp_admin_client_fixture_is_verified(staff_user, otp_admin_client):
    client = otp_admin_client(staff_user(AUDITOR))
    assert client.get("/admin/").status_code == 200


def test_sign_in_errors_are_announced_and_fields_marked_invalid(enrolled):
    page = sign_in(Client(), "ann", "wrong password").content.decode()
    assert '<div class="errornote" role="alert" id="login-error">' in page
    for name in ("username", "password", "otp_token"):
        field = re.search(rf'<input[^>]*name="{name}"[^>]*>', page).group(0)
        assert 'aria-invalid="true"' in field
        assert "login-error" in field


def test_code_help_text_is_tied_to_the_field(client):
    page = client.get(LOGIN).content.decode()
    field = re.search(r'<input[^>]*name="otp_token"[^>]*>', page).group(0)
    assert 'aria-describedby="id_otp_token_helptext"' in field
    assert 'id="id_otp_token_helptext"' in page
    # Before any input nothing is marked invalid.
    assert "aria-invalid" not in page


def test_many_user_names_from_one_address_lock_that_address(enrolled):
    """Guessing across user names from one IP locks the IP, for every name."""
    _user, device, _codes = enrolled
    attacker = Client(REMOTE_ADDR="203.0.113.7")
    answers = [
        sign_in(attacker, f"guess{i}", "wrong-password-1").status_code for i in range(7)
    ]
    assert answers[:4] == [200] * 4
    assert answers[4:] == [429] * 3
    # The real user from that address is locked out too, not from elsewhere.
    assert (
        sign_in(attacker, "ann", STAFF_PASSWORD, current_code(device)).status_code
        == 429
    )
    elsewhere = Client(REMOTE_ADDR="198.51.100.9")
    device.refresh_from_db()
    device.throttle_reset()
    ok = sign_in(elsewhere, "ann", STAFF_PASSWORD, current_code(device))
    assert ok.status_code == 302
