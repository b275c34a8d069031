"""First set-up commands and the demo staff."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from backoffice.demo import DEMO_PASSWORD, DEMO_STAFF, seed_demo_staff
from backoffice.roles import AUDITOR, SUPERVISOR

pytestmark = pytest.mark.django_db


def test_first_superuser_enrols_with_the_command_and_signs_in(django_user_model):
    django_user_model.objects.create_superuser("root", password="root-Passw0rd-long")
    out = io.StringIO()
    call_command("enrol_totp", "root", "--no-qr", stdout=out)
    text = out.getvalue()
    device = TOTPDevice.objects.get(user__username="root", confirmed=True)
    assert "otpauth://totp/" in text and "secret=" in text
    codes = list(
        StaticToken.objects.filter(device__user__username="root").values_list(
            "token", flat=True
        )
    )
    assert len(codes) == 10 and all(code in text for code in codes)

    client = Client()
    code = f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=6):06d}"
    response = client.post(
        "/admin/login/",
        {"username": "root", "password": "root-Passw0rd-long", "otp_token": code},
    )
    assert response.status_code == 302
    assert client.get("/admin/auth/user/").status_code == 200

    with pytest.raises(CommandError):
        call_command("enrol_totp", "root", stdout=io.StringIO())
    call_command("enrol_totp", "root", "--replace", "--no-qr", stdout=io.StringIO())
    assert TOTPDevice.objects.filter(user__username="root").count() == 1
    assert not TOTPDevice.objects.filter(pk=device.pk).exists()


def test_create_staff_puts_the_user_in_one_role(django_user_model):
    out = io.StringIO()
    call_command("create_staff", "sam", "--role", SUPERVISOR, stdout=out)
    user = django_user_model.objects.get(username="sam")
    assert user.is_staff and not user.is_superuser
    assert list(user.groups.values_list("name", flat=True)) == [SUPERVISOR]
    password = out.getvalue().split("Password: ")[1].split()[0]
    assert user.check_password(password)
    call_command("create_staff", "sam", "--role", AUDITOR, stdout=io.StringIO())
    assert list(user.groups.values_list("name", flat=True)) == [AUDITOR]


def test_create_staff_refuses_a_weak_password():
    with pytest.raises(CommandError):
        call_command(
            "create_staff",
            "weak",
            "--role",
            AUDITOR,
            "--password",
            "12345678",
            stdout=io.StringIO(),
        )


def test_demo_staff_are_idempotent_and_can_sign_in(django_user_model):
    out = io.StringIO()
    seed_demo_staff(stdout=out)
    seed_demo_staff(stdout=out)
    assert django_user_model.objects.filter(
        username__startswith="demo_"
    ).count() == len(DEMO_STAFF)
    for username, role in DEMO_STAFF:
        user = django_user_model.objects.get(username=username)
        assert list(user.groups.values_list("name", flat=True)) == [role]
        assert TOTPDevice.objects.filter(user=user).count() == 1
    assert Group.objects.get(name=AUDITOR).user_set.filter(username="demo_auditor")
    text = out.getvalue()
    assert DEMO_PASSWORD in text and "demo_auditor" in text
    code = text.split("demo_auditor")[1].split("backup codes: ")[1].split(",")[0]
    client = Client()
    response = client.post(
        "/admin/login/",
        {"username": "demo_auditor", "password": DEMO_PASSWORD, "otp_token": code},
    )
    assert response.status_code == 302
    assert client.get("/admin/backoffice/accesslog/").status_code == 200
