"""Key rotation: everything re-encrypted under the newest key, old key removable."""

from __future__ import annotations

import base64
import os

import pytest
from django.core.management import CommandError, call_command

from backoffice.keys import encrypted_fields
from consent import crypto
from consent.api_clients import api_client_create
from consent.identifiers import normalise
from consent.models import ApiClient, ContactPoint, Customer
from tests.factories import CustomerFactory, add_email, add_phone

pytestmark = pytest.mark.django_db


def new_key(key_id: str) -> str:
    return f"{key_id}:{base64.urlsafe_b64encode(os.urandom(32)).decode()}"


@pytest.fixture
def old_key(settings):
    key = new_key("old")
    settings.FIELD_ENCRYPTION_KEYS = [key]
    return key


@pytest.fixture
def written_under_old_key(old_key):
    customers = []
    for n in range(3):
        customer = CustomerFactory(external_ref=f"ROT{n}")
        customer.display_name = f"客户 {n}"
        customer.save()
        add_phone(customer, f"1380013800{n}")
        add_email(customer, f"person{n}@example.com")
        customers.append(customer)
    api_client_create(name="sms-gateway", channel_codes=["sms"])
    return customers


def key_ids(model, field) -> set[str]:
    values = model.objects.exclude(**{field: ""}).values_list(field, flat=True)
    return {crypto.key_id_of(v) for v in values}


def test_every_encrypted_field_is_found():
    found = {(m._meta.label, f) for m, f in encrypted_fields()}
    assert {
        ("consent.ContactPoint", "address_encrypted"),
        ("consent.Customer", "display_name_encrypted"),
        ("consent.ApiClient", "hmac_key_encrypted"),
    } <= found


def test_rotation_re_encrypts_and_the_old_key_can_be_removed(
    written_under_old_key, old_key, settings, capsys
):
    hmac_before = ApiClient.objects.get().hmac_key
    settings.FIELD_ENCRYPTION_KEYS = [new_key("new"), old_key]
    with pytest.raises(CommandError):
        call_command("rotate_keys", "--check")

    call_command("rotate_keys", "--batch-size", "2")
    captured = capsys.readouterr()
    assert "Re-encrypted 10 value(s) under key new" in captured.out
    assert "ContactPoint.address_encrypted" in captured.err  # the progress bar
    for model, field in encrypted_fields():
        assert key_ids(model, field) <= {"new"}
    call_command("rotate_keys", "--check")

    # Drop the old key: everything still reads, and the blind index still finds it.
    settings.FIELD_ENCRYPTION_KEYS = settings.FIELD_ENCRYPTION_KEYS[:1]
    customer = Customer.objects.get(external_ref="ROT1")
    assert customer.display_name == "客户 1"
    index = ContactPoint.index_for("phone", normalise("phone", "13800138001"))
    point = ContactPoint.objects.for_identifier(
        "phone", normalise("phone", "13800138001")
    ).get()
    assert point.blind_index == index
    assert point.customer == customer
    assert point.address == "+8613800138001"
    assert ApiClient.objects.get().hmac_key == hmac_before


def test_rotation_resumes_and_skips_rows_already_rotated(
    written_under_old_key, old_key, settings
):
    settings.FIELD_ENCRYPTION_KEYS = [new_key("new"), old_key]
    # A row already under the newest key (as after an interrupted run) is left as is.
    point = ContactPoint.objects.order_by("pk").first()
    point.address_encrypted = crypto.encrypt(point.address)
    point.save(update_fields=["address_encrypted"])
    kept = point.address_encrypted

    call_command("rotate_keys")
    point.refresh_from_db()
    assert point.address_encrypted == kept
    first_pass = dict(ContactPoint.objects.values_list("pk", "address_encrypted"))
    call_command("rotate_keys")
    assert (
        dict(ContactPoint.objects.values_list("pk", "address_encrypted")) == first_pass
    )
