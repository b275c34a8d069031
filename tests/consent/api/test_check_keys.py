"""The check's narrow keys: packed with every key change, read by every check."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError
from django.utils import timezone

from consent import check_keys, services
from consent.contactability import KeyState, Reason
from consent.ledger import Actor
from consent.models import CheckKey, Contactability, Topic
from preferences.services import care_pause_start
from tests.factories import CustomerFactory, add_phone, grant

pytestmark = pytest.mark.django_db

CHECK = "/api/v1/suppression/check"
NOON_SHANGHAI = "2026-01-05T04:00:00Z"


def _answers(row: Contactability) -> dict[str, tuple[bool, list[str]]]:
    """Per active topic, what the wide row says the check must answer."""
    out = {}
    for topic in Topic.objects.filter(is_active=True):
        if topic.code in row.permitted_topics:
            out[topic.code] = (True, [])
        else:
            held = row.topic_reasons.get(topic.code) or row.reasons
            out[topic.code] = (False, sorted(held))
    return out


def test_every_key_change_writes_a_narrow_row_that_answers_like_the_key(
    sms, credit_card, personal_loan, notice_en
):
    customer = CustomerFactory()
    add_phone(customer, "+8613800000011")
    grant(customer, sms, credit_card, notice_en)
    grant(customer, sms, personal_loan, notice_en)
    services.consent_withdraw(
        customer=customer,
        channel=sms,
        topic=credit_card,
        source="portal",
        actor=Actor.customer(customer),
    )
    care_pause_start(
        customer=customer,
        ends_at=timezone.now() + timedelta(days=30),
        scope="marketing",
        reason="bereavement",
        actor=Actor.customer(customer),
    )
    assert check_keys.differences() == []
    row = Contactability.objects.get(channel=sms)
    narrow = check_keys.fetch(channel_id=sms.pk, blind_indexes={row.blind_index})
    got = {
        t.code: narrow[row.blind_index].answer(t.bit)
        for t in Topic.objects.filter(is_active=True)
    }
    assert got == _answers(row)
    assert got["credit_card"] == (False, sorted({Reason.WITHDRAWN, Reason.CARE_PAUSE}))


def test_a_topic_added_after_the_key_was_computed_falls_back_to_the_keys_reasons():
    state = KeyState(
        suppressed=True,
        permitted_topics=["security_alert"],
        reasons=["opt_out_all"],
        topic_reasons={"credit_card": ["opt_out_all"]},
        paused_until=None,
        quiet_hours={"start": "21:00", "end": "08:00", "tz": "Asia/Shanghai"},
        max_per_week=3,
        personalisation=True,
    )
    row = check_keys.pack(
        channel_id=1,
        blind_index="ab" * 32,
        state=state,
        bits={"security_alert": 0, "credit_card": 1},
    )
    assert len(row.digest) == 32 and row.permitted == 0b01
    answer = check_keys.CheckKeyRow(
        row.permitted, row.held, row.reasons, None, row.max_per_week
    )
    assert answer.answer(0) == (True, [])
    assert answer.answer(1) == (False, ["opt_out_all"])
    assert answer.answer(7) == (False, ["opt_out_all"])  # a newer topic


def test_the_check_reads_the_narrow_rows(api, sms, credit_card, notice_en):
    customer = CustomerFactory()
    add_phone(customer, "+8613800000012")
    grant(customer, sms, credit_card, notice_en)
    body = {
        "channel": "sms",
        "topic": "credit_card",
        "at": NOON_SHANGHAI,
        "recipients": ["+8613800000012"],
    }
    assert api.post(CHECK, body, format="json").json()["results"][0]["allowed"]
    # Clear the bit in the narrow row only: the answer follows it.
    CheckKey.objects.filter(channel_id=sms.pk).update(permitted=0)
    result = api.post(CHECK, body, format="json").json()["results"][0]
    assert result["allowed"] is False


def test_rebuild_reports_and_repairs_a_narrow_row_changed_behind_its_key(
    sms, credit_card, notice_en, capsys
):
    customer = CustomerFactory()
    add_phone(customer, "+8613800000013")
    grant(customer, sms, credit_card, notice_en)
    call_command("rebuild_consent_state")
    CheckKey.objects.filter(channel_id=sms.pk).update(permitted=-1)
    with pytest.raises(CommandError):
        call_command("rebuild_consent_state")
    assert "differs from its key" in capsys.readouterr().out
    call_command("rebuild_consent_state", "--fix")
    assert "Check keys rewritten" in capsys.readouterr().out
    assert check_keys.differences() == []


def test_new_topics_take_the_next_bit_and_bits_stay_within_the_mask():
    highest = max(Topic.objects.values_list("bit", flat=True))
    topic = Topic.objects.create(code="new_offers", kind="marketing")
    assert topic.bit == highest + 1
    with pytest.raises(IntegrityError):
        Topic.objects.filter(pk=topic.pk).update(bit=63)
