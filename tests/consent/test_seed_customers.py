from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from consent import crypto
from consent.ledger import GENESIS_HASH, verify_chain
from consent.models import (
    ConsentEvent,
    Contactability,
    ContactPoint,
    Customer,
    LedgerHead,
    OptOut,
    SuppressionChange,
)
from consent.replay import differences, ledger_projection, stored_projection
from tests.factories import CustomerFactory, add_phone

pytestmark = pytest.mark.django_db


def test_seed_writes_a_consistent_chain_projection_and_feed(db):
    add_phone(CustomerFactory(), "13800138000")  # the chain continues from here
    call_command(
        "seed_customers",
        "--count",
        "300",
        "--batch",
        "120",
        "--quiet",
        stdout=StringIO(),
    )
    assert Customer.objects.filter(external_ref__startswith="SEED").count() == 300

    checked, broken = verify_chain(ConsentEvent.objects.order_by("seq"))
    assert broken is None
    head = LedgerHead.objects.get(pk=1)
    last = ConsentEvent.objects.order_by("-seq").first()
    assert (head.ledger_seq, head.ledger_hash) == (checked, last.hash)
    assert last.hash != GENESIS_HASH
    out = StringIO()
    call_command("verify_ledger", stdout=out)
    assert "intact" in out.getvalue()

    assert differences(ledger_projection(), stored_projection()) == []
    assert OptOut.objects.exists()

    point = ContactPoint.objects.filter(
        customer__external_ref__startswith="SEED"
    ).first()
    assert point.address.startswith("+86")
    assert point.address_encrypted.startswith(f"{crypto.PREFIX}:")
    assert point.blind_index == ContactPoint.index_for("phone", point.address)

    keys = Contactability.objects.exclude(identifier="+8613800138000")
    assert head.feed_seq == SuppressionChange.objects.order_by("-seq").first().seq
    for key in keys:
        assert key.changes.order_by("-seq").first().seq == key.seq
    share = keys.filter(suppressed=True).count() / keys.count()
    assert 0.15 < share < 0.45


def test_seeded_keys_match_a_fresh_recompute(db):
    """The seeded contactability equals what the services would publish."""
    from consent.services import contactability_publish

    call_command("seed_customers", "--count", "40", "--quiet", stdout=StringIO())
    before = SuppressionChange.objects.count()
    changes = contactability_publish(
        blind_indexes=set(ContactPoint.objects.values_list("blind_index", flat=True))
    )
    assert changes == []
    assert SuppressionChange.objects.count() == before
