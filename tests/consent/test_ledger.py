from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from consent import services
from consent.ledger import Actor
from consent.models import AppendOnlyError, ConsentEvent, SuppressionChange
from tests.factories import grant

pytestmark = pytest.mark.django_db


@pytest.fixture
def ledger(customer, phone_point, sms, credit_card, personal_loan, notice_en):
    grant(customer, sms, credit_card, notice_en)
    grant(customer, sms, personal_loan, notice_en)
    services.consent_withdraw(
        customer=customer,
        channel=sms,
        topic=credit_card,
        source="portal",
        actor=Actor.customer(customer),
    )
    return list(ConsentEvent.objects.order_by("seq"))


def test_rows_are_hash_chained(ledger):
    assert ledger[0].prev_hash == "0" * 64
    for previous, row in zip(ledger, ledger[1:], strict=False):
        assert row.prev_hash == previous.hash
        assert row.seq == previous.seq + 1


def test_verify_ledger_passes_on_an_intact_chain(ledger, capsys):
    call_command("verify_ledger")
    assert f"{len(ledger)} rows verified" in capsys.readouterr().out


def test_verify_ledger_names_the_first_edited_row(ledger, tamper):
    target = ledger[2]
    tamper(
        "UPDATE consent_consentevent SET source = %s WHERE seq = %s",
        ["staff", target.seq],
    )
    with pytest.raises(CommandError) as exc:
        call_command("verify_ledger")
    assert f"seq {target.seq}" in str(exc.value)
    assert "content does not match" in str(exc.value)


def test_verify_ledger_finds_a_deleted_row(ledger, tamper):
    tamper("DELETE FROM consent_consentevent WHERE seq = %s", [ledger[1].seq])
    with pytest.raises(CommandError) as exc:
        call_command("verify_ledger")
    assert f"seq {ledger[2].seq}" in str(exc.value)


def test_verify_ledger_finds_rows_cut_from_the_end(ledger, phone_point, tamper):
    last = (
        services.contact_point_verify(
            contact_point=phone_point, source="portal", actor=Actor.system("test")
        )
        .consent_events.order_by("seq")
        .last()
    )
    tamper("DELETE FROM consent_consentevent WHERE seq = %s", [last.seq])
    with pytest.raises(CommandError) as exc:
        call_command("verify_ledger")
    assert "missing from the end" in str(exc.value)


def test_the_model_refuses_updates_and_deletes(ledger):
    row = ledger[0]
    row.actor = "staff:mallory"
    with pytest.raises(AppendOnlyError):
        row.save()
    with pytest.raises(AppendOnlyError):
        row.delete()


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE consent_consentevent SET actor = 'staff:mallory'",
        "DELETE FROM consent_consentevent",
        "UPDATE consent_suppressionchange SET suppressed = false",
        "DELETE FROM consent_suppressionchange",
    ],
)
def test_the_database_refuses_update_and_delete(ledger, sql):
    with pytest.raises(DatabaseError) as exc, transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(sql)
    assert "append-only" in str(exc.value)
    assert ConsentEvent.objects.count() == len(ledger)
    assert SuppressionChange.objects.exists()


def test_queryset_update_is_refused_by_the_database(ledger):
    with pytest.raises(DatabaseError), transaction.atomic():
        ConsentEvent.objects.update(actor="staff:mallory")
    assert not ConsentEvent.objects.filter(actor="staff:mallory").exists()


def test_evidence_is_recorded_with_the_row(
    customer, phone_point, sms, credit_card, notice_en
):
    from consent.ledger import Evidence

    event = services.consent_grant(
        customer=customer,
        channel=sms,
        topic=credit_card,
        source="portal",
        actor=Actor.customer(customer),
        notice_version=notice_en,
        evidence=Evidence(ip="203.0.113.9", user_agent="Mozilla/5.0", request_id="r-1"),
    )
    event.refresh_from_db()
    assert event.evidence == {
        "ip": "203.0.113.9",
        "user_agent": "Mozilla/5.0",
        "request_id": "r-1",
    }
    assert event.notice_version == notice_en
    assert event.actor == f"customer:{customer.external_ref}"
