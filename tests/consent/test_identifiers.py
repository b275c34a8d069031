from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from consent.identifiers import mask, normalise, normalise_email, normalise_phone


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("13800138000", "+8613800138000"),
        ("138 0013 8000", "+8613800138000"),
        ("+86 138-0013-8000", "+8613800138000"),
        ("008613800138000", "+8613800138000"),
        ("+44 7911 123456", "+447911123456"),
        ("(010) 6552 9988", "+861065529988"),
    ],
)
def test_phone_numbers_normalise_to_e164_with_china_as_default(raw, expected):
    assert normalise_phone(raw) == expected


@pytest.mark.parametrize("raw", ["", "123", "abc", "+86 138", "1380013800012345"])
def test_bad_phone_numbers_raise_a_clear_error(raw):
    with pytest.raises(ValidationError) as exc:
        normalise_phone(raw)
    assert exc.value.code == "phone_invalid"


def test_email_is_trimmed_and_lower_cased():
    assert normalise_email("  Bob.Li@Example.CO.UK ") == "bob.li@example.co.uk"


@pytest.mark.parametrize("raw", ["", "bob", "bob@", "@example.com", "a b@example.com"])
def test_bad_email_raises(raw):
    with pytest.raises(ValidationError):
        normalise_email(raw)


def test_push_tokens_keep_case_but_refuse_whitespace():
    assert normalise("push", " AbC123 ") == "AbC123"
    with pytest.raises(ValidationError):
        normalise("push", "a b")


def test_masks_show_only_what_recognises_the_address():
    assert mask("phone", "+8613800138000") == "+86****8000"
    assert mask("email", "alice.chen@example.com") == "a***@example.com"
