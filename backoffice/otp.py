"""Staff second factor: TOTP devices, single-use backup codes and the enrolment QR."""

from __future__ import annotations

import base64
from base64 import b32encode

import qrcode
import qrcode.image.svg
from django.db import transaction
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

BACKUP_CODE_COUNT = 10
DEVICE_NAME = "authenticator"
BACKUP_DEVICE_NAME = "backup codes"


def has_confirmed_device(user) -> bool:
    return (
        TOTPDevice.objects.filter(user=user, confirmed=True).exists()
        or StaticDevice.objects.filter(
            user=user, confirmed=True, token_set__isnull=False
        ).exists()
    )


def device_for_token(user, token: str):
    """Pick the device a typed code belongs to: 6 digits is the authenticator app,
    anything else a backup code. Staff never have to choose from a list."""
    token = (token or "").strip()
    if token.isdigit() and len(token) == 6:
        return TOTPDevice.objects.filter(user=user, confirmed=True).first()
    return StaticDevice.objects.filter(user=user, confirmed=True).first()


def totp_secret(device: TOTPDevice) -> str:
    return b32encode(device.bin_key).decode().rstrip("=")


@transaction.atomic
def totp_device_pending(*, user) -> TOTPDevice:
    """The unconfirmed device being enrolled (kept, so the QR code stays the same
    when the page is reloaded)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
    return device


@transaction.atomic
def backup_codes_issue(*, user, count: int = BACKUP_CODE_COUNT) -> list[str]:
    """Replace the user's backup codes; each code works once."""
    device, _created = StaticDevice.objects.get_or_create(
        user=user, name=BACKUP_DEVICE_NAME, defaults={"confirmed": True}
    )
    device.token_set.all().delete()
    codes = [StaticToken.random_token() for _ in range(count)]
    StaticToken.objects.bulk_create(
        [StaticToken(device=device, token=code) for code in codes]
    )
    return codes


@transaction.atomic
def totp_device_confirm(*, device: TOTPDevice) -> list[str]:
    """Confirm a device after a correct code; older devices are retired."""
    TOTPDevice.objects.filter(user=device.user).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    return backup_codes_issue(user=device.user)


@transaction.atomic
def totp_enrol(*, user, replace: bool = False) -> tuple[TOTPDevice, list[str]]:
    """Set up a confirmed device directly (first set-up from the command line)."""
    if replace:
        TOTPDevice.objects.filter(user=user).delete()
    device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=True)
    TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).filter(
        confirmed=False
    ).delete()
    return device, backup_codes_issue(user=user)


def qr_svg_data_uri(text: str) -> str:
    """A QR code as an SVG data URI, drawn on the server (no script, CSP-safe)."""
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=10)
    encoded = base64.b64encode(image.to_string()).decode()
    return f"data:image/svg+xml;base64,{encoded}"
