"""Normalisation of contact identifiers: E.164 phones, lower-cased e-mail, tokens."""

from __future__ import annotations

import re

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext_lazy as _

DEFAULT_PHONE_REGION = "CN"

MSG_PHONE_INVALID = _(
    "Enter a valid phone number, e.g. 138 0013 8000 or +44 7911 123456."
)
MSG_EMAIL_INVALID = _("Enter a valid e-mail address.")
MSG_TOKEN_INVALID = _("Enter a valid identifier.")


class AddressKind:
    PHONE = "phone"
    EMAIL = "email"
    PUSH = "push"
    WECHAT = "wechat"
    POSTAL = "postal"

    CHOICES = [
        (PHONE, _("Phone number")),
        (EMAIL, _("E-mail address")),
        (PUSH, _("App push token")),
        (WECHAT, _("WeChat OpenID")),
        (POSTAL, _("Postal address")),
    ]


def normalise_phone(raw: str, region: str = DEFAULT_PHONE_REGION) -> str:
    """E.164, with mainland China as the region for numbers without a country code."""
    text = (raw or "").strip()
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(MSG_PHONE_INVALID, code="phone_invalid") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(MSG_PHONE_INVALID, code="phone_invalid")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_email(raw: str) -> str:
    text = (raw or "").strip().lower()
    try:
        validate_email(text)
    except ValidationError as exc:
        raise ValidationError(MSG_EMAIL_INVALID, code="email_invalid") from exc
    return text


def _normalise_token(raw: str) -> str:
    text = (raw or "").strip()
    if not text or len(text) > 512 or re.search(r"\s", text):
        raise ValidationError(MSG_TOKEN_INVALID, code="token_invalid")
    return text


def _normalise_postal(raw: str) -> str:
    text = " ".join((raw or "").split())
    if not text:
        raise ValidationError(MSG_TOKEN_INVALID, code="token_invalid")
    return text


_NORMALISERS = {
    AddressKind.PHONE: normalise_phone,
    AddressKind.EMAIL: normalise_email,
    AddressKind.PUSH: _normalise_token,
    AddressKind.WECHAT: _normalise_token,
    AddressKind.POSTAL: _normalise_postal,
}


def normalise(kind: str, raw: str) -> str:
    try:
        return _NORMALISERS[kind](raw)
    except KeyError as exc:
        raise ValidationError(MSG_TOKEN_INVALID, code="kind_invalid") from exc


def guess_kind(raw: str) -> str:
    """Phone or e-mail, for forms that take either."""
    return AddressKind.EMAIL if "@" in (raw or "") else AddressKind.PHONE


def mask(kind: str, value: str) -> str:
    """Show only what a person needs to recognise their own address."""
    if not value:
        return ""
    if kind == AddressKind.EMAIL:
        local, _sep, domain = value.partition("@")
        return f"{local[:1]}***@{domain}"
    if kind == AddressKind.PHONE:
        return f"{value[:3]}****{value[-4:]}" if len(value) > 7 else "****"
    return f"***{value[-4:]}"
