"""Tamper evidence that survives a database administrator: inserted, reordered and
cut rows, and a rewrite of the whole table, found by the chain, the head and the
signed checkpoints (the database's own and an exported copy)."""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command

from consent import services
from consent.checkpoints import checkpoint_seal
from consent.ledger import Actor, canonical_payload, row_hash
from consent.models import ConsentEvent, LedgerCheckpoint
from tests.factories import CustomerFactory, add_phone, grant

pytestmark = pytest.mark.django_db


@pytest.fixture
def ledger(customer, phone_point, sms, credit_card, personal_loan, notice_en):
    other = CustomerFactory()
    add_phone(other, "+8613900139222")
    grant(customer, sms, credit_card, notice_en)
    grant(other, sms, credit_card, notice_en)
    grant(customer, sms, personal_loan, notice_en)
    services.consent_withdraw(
        customer=customer,
        channel=sms,
        topic=credit_card,
        source="portal",
        actor=Actor.customer(customer),
    )
    return list(ConsentEvent.objects.order_by("seq"))


def _fails(*args) -> str:
    with pytest.raises(CommandError) as exc:
        call_command("verify_ledger", *args)
    return str(exc.value)


def _delete(tamper, event: ConsentEvent) -> None:
    """Delete a ledger row and the projection rows that point to it."""
    tamper("DELETE FROM consent_consentstate WHERE event_id = %s", [event.pk])
    tamper("DELETE FROM consent_optout WHERE event_id = %s", [event.pk])
    tamper("DELETE FROM consent_consentevent WHERE id = %s", [event.pk])


def _rechain(tamper) -> None:
    """What an administrator covering their tracks does: recompute every hash and
    the head so that the chain and the head agree again."""
    prev = "0" * 64
    for event in ConsentEvent.objects.order_by("seq"):
        event.prev_hash = prev
        event.hash = row_hash(prev, canonical_payload(event))
        tamper(
            "UPDATE consent_consentevent SET prev_hash = %s, hash = %s WHERE id = %s",
            [event.prev_hash, event.hash, event.pk],
        )
        prev = event.hash
    last = ConsentEvent.objects.order_by("-seq").first()
    tamper(
        "UPDATE consent_ledgerhead SET ledger_seq = %s, ledger_hash = %s",
        [last.seq, last.hash],
    )


def test_a_checkpoint_is_signed_chained_and_sealed_only_when_the_ledger_moved(
    ledger, capsys
):
    first = checkpoint_seal()
    assert first.ledger_seq == ledger[-1].seq and first.ledger_hash == ledger[-1].hash
    assert checkpoint_seal() is None
    customer = ledger[0].customer
    services.consent_opt_out_all(
        customer=customer, source="portal", actor=Actor.customer(customer)
    )
    second = checkpoint_seal()
    assert second.prev_hash == first.hash and second.ledger_seq == ledger[-1].seq + 1
    call_command("verify_ledger")
    out = capsys.readouterr().out
    assert "2 checkpoints" in out and "not yet covered" not in out


def test_verify_reports_rows_not_yet_sealed(ledger, capsys):
    checkpoint_seal()
    customer = ledger[0].customer
    services.consent_opt_out_all(
        customer=customer, source="portal", actor=Actor.customer(customer)
    )
    call_command("verify_ledger")
    assert "1 rows not yet covered by a checkpoint" in capsys.readouterr().out


def test_an_inserted_row_is_found(ledger, tamper):
    forged = ledger[1]
    tamper(
        "UPDATE consent_consentevent SET seq = seq + 1000 WHERE seq > %s",
        [forged.seq],
    )
    tamper(
        "INSERT INTO consent_consentevent (id, seq, customer_id, action, source, "
        "actor, evidence, occurred_at, recorded_at, prev_hash, hash) VALUES "
        "(9999, %s, %s, 'grant', 'staff', 'staff:mallory', '{}', %s, %s, %s, %s)",
        [
            forged.seq + 1,
            forged.customer_id,
            forged.occurred_at,
            forged.recorded_at,
            forged.hash,
            "f" * 64,
        ],
    )
    assert f"seq {forged.seq + 1}" in _fails()


def test_reordered_rows_are_found(ledger, tamper):
    a, b = ledger[1], ledger[2]
    tamper("UPDATE consent_consentevent SET seq = -1 WHERE id = %s", [a.pk])
    tamper("UPDATE consent_consentevent SET seq = %s WHERE id = %s", [a.seq, b.pk])
    tamper("UPDATE consent_consentevent SET seq = %s WHERE id = %s", [b.seq, a.pk])
    message = _fails()
    assert f"seq {a.seq}" in message


def test_deleting_one_customers_latest_row_is_found(ledger, tamper):
    customer_last = (
        ConsentEvent.objects.filter(customer=ledger[1].customer)
        .order_by("-seq")
        .first()
    )
    assert customer_last.seq < ledger[-1].seq  # not the end of the whole ledger
    _delete(tamper, customer_last)
    assert f"seq {customer_last.seq + 1}" in _fails()


def test_cutting_the_end_and_the_head_is_found_by_the_checkpoint(ledger, tamper):
    checkpoint_seal()
    _delete(tamper, ledger[-1])
    tamper(
        "UPDATE consent_ledgerhead SET ledger_seq = %s, ledger_hash = %s",
        [ledger[-2].seq, ledger[-2].hash],
    )
    assert "missing" in _fails()


def test_a_rewrite_of_the_whole_table_is_found_by_exported_checkpoints(
    ledger, tamper, tmp_path
):
    export = tmp_path / "checkpoints.jsonl"
    call_command("export_checkpoints", "--seal", "--output", str(export))
    lines = [json.loads(line) for line in export.read_text().splitlines()]
    assert "public_key" in lines[0] and lines[1]["ledger_seq"] == ledger[-1].seq
    call_command("verify_ledger", "--checkpoints", str(export))

    # Rewrite history: the withdrawal becomes the customer's "staff" act, every hash
    # recomputed, and the database's own checkpoints removed.
    tamper(
        "UPDATE consent_consentevent SET source = 'staff' WHERE id = %s",
        [ledger[-1].pk],
    )
    _rechain(tamper)
    tamper("DELETE FROM consent_ledgercheckpoint")
    assert LedgerCheckpoint.objects.count() == 0
    call_command("verify_ledger")  # the database alone can no longer tell
    message = _fails("--checkpoints", str(export))
    assert f"seq {ledger[-1].seq}" in message and "differs" in message


def test_a_forged_checkpoint_does_not_verify(ledger, tamper):
    checkpoint = checkpoint_seal()
    tamper(
        "UPDATE consent_ledgercheckpoint SET signature = %s WHERE id = %s",
        ["AAAA" + checkpoint.signature[4:], checkpoint.pk],
    )
    assert "signature" in _fails()


def test_checkpoints_are_append_only(ledger):
    from consent.models import AppendOnlyError

    checkpoint = checkpoint_seal()
    checkpoint.ledger_hash = "0" * 64
    with pytest.raises(AppendOnlyError):
        checkpoint.save()
