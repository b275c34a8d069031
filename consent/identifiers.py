"""Normalisation of contact identifiers: E.164 phones, lower-cased e-mail, tokens."""

from __future__ import annotations

import re
import unicodedata

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


# Characters that print as nothing or only steer direction: a copied number or
# address may carry them, and they would make one address hash as two.
_INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b-\u200f"
    "\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0]"
)
# What sending systems usually send: plain ASCII E.164 (no other digit forms).
_ASCII_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$", re.ASCII)


def clean(raw: str) -> str:
    """The first step for every identifier, whatever its kind: compatibility forms
    folded (full-width letters, digits, ``＋`` and ``＠``), every other Unicode digit
    as ASCII, invisible and direction characters removed, outer space trimmed."""
    text = unicodedata.normalize("NFKC", raw or "")
    text = _INVISIBLE.sub("", text)
    text = "".join(
        str(unicodedata.decimal(ch)) if ch.isdecimal() and not ch.isascii() else ch
        for ch in text
    )
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cf").strip()


def normalise_phone(raw: str, region: str = DEFAULT_PHONE_REGION) -> str:
    """E.164, with mainland China as the region for numbers without a country code."""
    text = clean(raw)
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(MSG_PHONE_INVALID, code="phone_invalid") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(MSG_PHONE_INVALID, code="phone_invalid")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_email(raw: str) -> str:
    """Lower case, with an internationalised domain in its ASCII (IDNA) form, so
    ``例子.中国`` and ``xn--fsqu00a.xn--fiqs8s`` are one address."""
    text = clean(raw).lower()
    local, at, domain = text.rpartition("@")
    try:
        if not at or not local or not domain:
            raise ValueError
        domain = domain.rstrip(".").encode("idna").decode("ascii")
        text = f"{local}@{domain}"
        validate_email(text)
    except (ValidationError, ValueError, UnicodeError) as exc:
        raise ValidationError(MSG_EMAIL_INVALID, code="email_invalid") from exc
    return text


def _normalise_token(raw: str) -> str:
    text = _INVISIBLE.sub("", raw or "").strip()
    if not text or len(text) > 512 or re.search(r"\s", text):
        raise ValidationError(MSG_TOKEN_INVALID, code="token_invalid")
    return text


def _normalise_postal(raw: str) -> str:
    text = " ".join(clean(raw).split())
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
    """The one normaliser every identifier goes through, by any path. Raises
    ValidationError when it cannot normalise: such a lookup is refused."""
    try:
        normaliser = _NORMALISERS[kind]
    except KeyError as exc:
        raise ValidationError(MSG_TOKEN_INVALID, code="kind_invalid") from exc
    return normaliser(raw)


def normalise_many(kind: str, raw: str) -> str:
    """:func:`normalise`, with a shortcut for the plain ASCII E.164 that sending
    systems send in batches (the full parse costs more than the lookup). Any other
    form, such as full-width or Arabic-Indic digits, takes the full path."""
    if kind == AddressKind.PHONE and _ASCII_E164.match(raw):
        return raw
    return normalise(kind, raw)


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
