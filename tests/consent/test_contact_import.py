"""Imported addresses start unconfirmed and their holders are asked to confirm."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from consent.models import ConsentEvent, Contactability, ContactPoint
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_import_adds_unconfirmed_addresses_and_asks_their_holders(
    tmp_path, outbox, django_capture_on_commit_callbacks
):
    customer = CustomerFactory(external_ref="C-1")
    CustomerFactory(external_ref="C-2", status="erased")
    file = tmp_path / "addresses.csv"
    file.write_text(
        "customer_ref,kind,address\n"
        "C-1,email,New@Example.com\n"
        "C-1,phone,13800138000\n"
        "C-1,phone,not a number\n"
        "C-2,email,gone@example.com\n"
        "C-9,email,nobody@example.com\n"
        "C-1,email,new@example.com\n",
        encoding="utf-8",
    )
    out = StringIO()
    sent = len(outbox)
    with django_capture_on_commit_callbacks(execute=True):
        call_command("import_contact_points", str(file), stdout=out)
    text = out.getvalue()
    assert "2 of 6 addresses added" in text
    assert "line 4:" in text and "line 5: unknown customer" in text
    assert "line 6: unknown customer" in text and "line 7:" in text
    points = ContactPoint.objects.filter(customer=customer)
    assert points.count() == 2
    assert not any(p.is_verified for p in points)
    assert not Contactability.objects.exists()  # nothing published before confirming
    assert {m.to for m in outbox[sent:]} == {"new@example.com", "+8613800138000"}
    assert all("/confirm/" in m.body for m in outbox[sent:])
    events = ConsentEvent.objects.filter(action="contact_added")
    assert {e.source for e in events} == {"import"}
    assert {e.actor for e in events} == {"system:import_contact_points"}


def test_a_file_without_the_columns_is_refused(tmp_path):
    file = tmp_path / "bad.csv"
    file.write_text("ref,address\nC-1,a@example.com\n", encoding="utf-8")
    with pytest.raises(CommandError):
        call_command("import_contact_points", str(file), stdout=StringIO())
    assert not ContactPoint.objects.exists()
