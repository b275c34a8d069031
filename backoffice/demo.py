"""Demo staff: one account per role, with a known password and known backup codes.

For the demo only: real staff get a generated password (``create_staff``) and enrol
their own authenticator.
"""

from __future__ import annotations

import base64
import hashlib

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from backoffice import otp
from backoffice.roles import (
    AUDITOR,
    COMPLAINT_HANDLER,
    COMPLIANCE_OFFICER,
    SUPERVISOR,
)
from backoffice.staff import staff_create

DEMO_PASSWORD = "Consent-demo-2026!"
DEMO_STAFF = (
    ("demo_handler", COMPLAINT_HANDLER),
    ("demo_supervisor", SUPERVISOR),
    ("demo_compliance", COMPLIANCE_OFFICER),
    ("demo_compliance2", COMPLIANCE_OFFICER),
    ("demo_auditor", AUDITOR),
)
DEMO_SUPERUSER = "admin"


def demo_backup_codes(username: str) -> list[str]:
    return [f"{username.removeprefix('demo_')}-{n:02d}" for n in range(1, 6)]


def _demo_key(username: str) -> str:
    """A fixed TOTP key per demo user, so re-seeding keeps the app entry valid."""
    return hashlib.sha256(f"demo-totp:{username}".encode()).hexdigest()[:40]


@transaction.atomic
def _devices(user) -> tuple[str, list[str]]:
    key = _demo_key(user.get_username())
    TOTPDevice.objects.filter(user=user).exclude(key=key).delete()
    device, _created = TOTPDevice.objects.get_or_create(
        user=user, key=key, defaults={"name": otp.DEVICE_NAME, "confirmed": True}
    )
    static, _created = StaticDevice.objects.get_or_create(
        user=user, name=otp.BACKUP_DEVICE_NAME, defaults={"confirmed": True}
    )
    codes = demo_backup_codes(user.get_username())
    static.token_set.all().delete()
    StaticToken.objects.bulk_create(
        [StaticToken(device=static, token=c) for c in codes]
    )
    secret = base64.b32encode(device.bin_key).decode().rstrip("=")
    return secret, codes


def seed_demo_staff(*, stdout) -> None:
    """Create (or reset) one demo user per role and print how to sign in."""
    stdout.write(f"Back office ({settings.SITE_BASE_URL}/admin/), demo staff:")
    stdout.write(f"  password for all: {DEMO_PASSWORD}")
    for username, role in DEMO_STAFF:
        user, _password = staff_create(
            username=username,
            role=role,
            email=f"{username}@example.com",
            password=DEMO_PASSWORD,
        )
        secret, codes = _devices(user)
        stdout.write(
            f"  {username:<17} {role:<19} backup codes: {', '.join(codes)}"
            f"  (TOTP key {secret})"
        )
    admin = (
        get_user_model()
        .objects.filter(username=DEMO_SUPERUSER, is_superuser=True)
        .first()
    )
    if admin is not None:
        _secret, codes = _devices(admin)
        stdout.write(f"  {DEMO_SUPERUSER} (superuser) backup codes: {', '.join(codes)}")
    stdout.write(
        "  Sign in with username, password and one backup code (each works once; "
        "re-run seed_demo to reset them) or a code from an authenticator app."
    )
