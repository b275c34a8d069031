"""The catalogue kept in memory per process follows edits made in other processes."""

from __future__ import annotations

import pytest
from django.db.models import F

from consent import catalogue as catalogue_module
from consent.catalogue import catalogue
from consent.ledger import Actor
from consent.models import Channel, Contactability, LedgerHead
from consent.services import contact_point_add

pytestmark = pytest.mark.django_db


def _add_phone(customer, number):
    return contact_point_add(
        customer=customer,
        kind="phone",
        address=number,
        source="staff",
        actor=Actor.system("test"),
        verified=True,
    )


def test_an_edit_in_another_worker_is_seen_by_the_next_change(customer):
    LedgerHead.objects.get_or_create(pk=1)
    before = catalogue()
    assert before.channel("voice") is not None
    # Another worker switches voice off: its signal moves the version in the
    # database; this process's copy is untouched.
    Channel.objects.filter(code="voice").update(is_active=False)
    LedgerHead.objects.filter(pk=1).update(catalogue_version=F("catalogue_version") + 1)
    assert catalogue_module._current is before

    point = _add_phone(customer, "+8613700000555")
    channels = set(
        Contactability.objects.filter(blind_index=point.blind_index).values_list(
            "channel__code", flat=True
        )
    )
    assert channels == {"sms"}  # no key for the channel switched off elsewhere
    assert catalogue_module._current.version == before.version + 1


def test_an_edit_here_moves_the_version_and_drops_the_copy(db):
    LedgerHead.objects.get_or_create(pk=1)
    version = catalogue().version
    channel = Channel.objects.get(code="post")
    channel.is_active = False
    channel.save()
    assert catalogue_module._current is None
    assert catalogue().version == version + 1
    assert catalogue().channel("post") is None
