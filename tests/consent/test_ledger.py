from __future__ import annotations

import hashlib
import json

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from hypothesis import given
from hypothesis import strategies as st

from consent import services
from consent.ledger import (
    Actor,
    Evidence,
    canonical_body_around_seq,
    canonical_payload,
    row_hash,
    verify_chain,
)
from consent.models import (
    AppendOnlyError,
    ConsentEvent,
    LedgerHead,
    SuppressionChange,
)
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


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


@given(
    evidence=st.dictionaries(st.text(max_size=10), st.text(), max_size=4),
    detail=st.none() | st.dictionaries(st.text(max_size=10), _json_values, max_size=4),
    seq=st.integers(min_value=1, max_value=2**62),
)
def test_the_body_around_seq_is_the_hashed_body(evidence, detail, seq):
    """The database numbers and hashes rows from these two parts: with any seq they
    make exactly the body ``row_hash`` covers (nested "seq" keys included)."""
    from django.utils import timezone

    event = ConsentEvent(
        seq=seq,
        customer_id=7,
        channel_id=1,
        action="withdraw",
        source="api",
        actor="client:gw",
        evidence=evidence,
        detail=detail,
        occurred_at=timezone.now(),
        recorded_at=timezone.now(),
    )
    prefix, suffix = canonical_body_around_seq(event)
    payload = canonical_payload(event)
    expected = json.dumps(
        payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    assert prefix + str(seq) + suffix == expected
    assert (
        row_hash("f" * 64, payload)
        == hashlib.sha256(("f" * 64 + prefix + str(seq) + suffix).encode()).hexdigest()
    )


def test_one_unit_chains_many_rows_with_any_text(customer, phone_point, sms, notice_en):
    """Several rows of one unit, with non-ASCII evidence and details, are chained
    by the ordering step (in the database on PostgreSQL) exactly as the verifier
    recomputes them."""
    from consent.models import Topic
    from consent.unit import consent_change

    topics = list(Topic.objects.filter(kind=Topic.Kind.MARKETING)[:3])
    assert len(topics) == 3
    evidence = Evidence(user_agent='浏览器/1.0 \u2028 "quoted" \\ é', ip="10.0.0.1")
    with consent_change(actor="staff:王", source="admin", evidence=evidence) as change:
        for topic in topics:
            services.consent_grant(
                change=change,
                customer=customer,
                channel=sms,
                topic=topic,
                notice_version=notice_en,
                source="admin",
                actor="staff:王",
            )
    rows = list(ConsentEvent.objects.order_by("seq"))
    assert len(rows) >= 3
    checked, broken = verify_chain(iter(rows))
    assert broken is None and checked == len(rows)
    head = LedgerHead.objects.get(pk=1)
    assert (head.ledger_seq, head.ledger_hash) == (rows[-1].seq, rows[-1].hash)
    assert [e.seq for e in change.events] == [
        r.seq for r in rows[-len(change.events) :]
    ]
