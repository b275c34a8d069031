"""Consent receipts: downloaded by the customer from the portal, checked with
``manage.py verify_receipt``."""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command

from consent import services
from consent.checkpoints import checkpoint_seal
from consent.ledger import Actor, row_hash
from consent.models import ConsentEvent
from tests.factories import CustomerFactory, grant

pytestmark = pytest.mark.django_db

LATEST = "/account/receipts/latest.json"


def receipt_of(portal_client, seq=None) -> dict:
    url = f"/account/receipts/{seq}.json" if seq else LATEST
    response = portal_client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert "attachment" in response["Content-Disposition"]
    assert "no-store" in response["Cache-Control"]
    return json.loads(response.content)


def verify(tmp_path, receipt: dict) -> str:
    path = tmp_path / "receipt.json"
    path.write_text(json.dumps(receipt, ensure_ascii=False), encoding="utf-8")
    from io import StringIO

    out = StringIO()
    call_command("verify_receipt", str(path), stdout=out)
    return out.getvalue()


def test_a_grant_receipt_names_everything_and_verifies(
    portal_client, customer, sms, credit_card, notice_en, tmp_path
):
    event = grant(customer, sms, credit_card, notice_en)
    receipt = receipt_of(portal_client)

    assert receipt["action"] == "grant" and receipt["state"] == "granted"
    assert receipt["controller"]["name"]
    assert receipt["subject"] == {"customer_ref": customer.external_ref}
    assert [(p["channel"], p["product"]) for p in receipt["purposes"]] == [
        ("sms", "credit_card")
    ]
    assert receipt["notice"] == {
        "code": notice_en.code,
        "version": notice_en.version,
        "language": "en",
        "sha256": notice_en.sha256,
    }
    assert receipt["method"] == "portal"
    assert receipt["ledger"]["seq"] == event.seq
    assert receipt["ledger"]["hash"] == ConsentEvent.objects.get(seq=event.seq).hash
    # Anyone can recompute the row's hash from the receipt.
    ledger = receipt["ledger"]
    assert row_hash(ledger["prev_hash"], ledger["payload"]) == ledger["hash"]
    assert receipt["checkpoint"] is None
    assert "no checkpoint covers this row yet" in verify(tmp_path, receipt)

    # Once sealed, the receipt carries the signed checkpoint that covers the row.
    checkpoint_seal()
    sealed = receipt_of(portal_client, event.seq)
    assert sealed["checkpoint"]["ledger_seq"] >= event.seq
    assert "covered by checkpoint" in verify(tmp_path, sealed)


def test_a_withdrawal_receipt_lists_every_cell_it_covers(
    portal_client, customer, sms, credit_card, notice_en, tmp_path
):
    grant(customer, sms, credit_card, notice_en)
    services.consent_withdraw(
        customer=customer,
        channel=sms,
        topic=None,
        source="portal",
        actor=Actor.customer(customer),
    )
    checkpoint_seal()
    receipt = receipt_of(portal_client)
    assert receipt["action"] == "withdraw" and receipt["state"] == "withdrawn"
    cells = {(p["channel"], p["product"]) for p in receipt["purposes"]}
    assert ("sms", "credit_card") in cells and ("sms", "wealth") in cells
    assert all(channel == "sms" for channel, _product in cells)
    assert receipt["notice"] is None
    verify(tmp_path, receipt)


def test_a_changed_receipt_or_ledger_does_not_verify(
    portal_client,
    customer,
    sms,
    credit_card,
    personal_loan,
    notice_en,
    tmp_path,
    tamper,
):
    grant(customer, sms, credit_card, notice_en)
    checkpoint_seal()
    receipt = receipt_of(portal_client)

    forged = json.loads(json.dumps(receipt))
    forged["purposes"][0]["product"] = "personal_loan"
    with pytest.raises(CommandError, match="signature"):
        verify(tmp_path, forged)

    tamper(
        "UPDATE consent_consentevent SET actor = 'staff:someone' WHERE seq = %s",
        [receipt["ledger"]["seq"]],
    )
    with pytest.raises(CommandError, match="no longer matches"):
        verify(tmp_path, receipt)


def test_bad_files_are_refused(tmp_path):
    path = tmp_path / "x.json"
    path.write_text("not json", encoding="utf-8")
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("verify_receipt", str(path))
    path.write_text("{}", encoding="utf-8")
    with pytest.raises(CommandError, match="not a consent receipt"):
        call_command("verify_receipt", str(path))


def test_only_the_customers_own_receipts(
    portal_client, client, customer, sms, credit_card, notice_en
):
    other = CustomerFactory()
    theirs = grant(other, sms, credit_card, notice_en)
    assert portal_client.get(f"/account/receipts/{theirs.seq}.json").status_code == 404
    # A customer with no grant or withdrawal yet has no receipt.
    assert portal_client.get(LATEST).status_code == 404
    # Not signed in: sent to sign in, nothing served.
    client.logout()
    response = client.get(f"/account/receipts/{theirs.seq}.json")
    assert response.status_code == 302 and "sign-in" in response["Location"]


def test_history_links_to_the_latest_receipt(portal_client):
    page = portal_client.get("/account/history/").content.decode()
    assert 'href="/account/receipts/latest.json"' in page
