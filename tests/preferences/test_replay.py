"""Preference changes are ledger evidence: replaying the ledger rebuilds quiet hours,
caps, personalisation and the running care pause exactly, whatever the history."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from consent import services
from consent.errors import ApplicationError
from consent.ledger import Actor
from consent.models import Channel, ConsentEvent, Customer, NoticeVersion, Topic
from consent.replay import differences, ledger_projection, stored_projection
from preferences import services as portal
from preferences.models import Preference
from preferences.replay import (
    ledger_preferences,
    preference_differences,
    stored_preferences,
)

HOURS = st.integers(0, 23).map(lambda h: time(h, 0))
operation = st.one_of(
    st.tuples(st.just("quiet"), st.integers(0, 1), HOURS, HOURS),
    st.tuples(
        st.just("caps"),
        st.integers(0, 1),
        st.sampled_from(["sms", "email"]),
        st.one_of(st.none(), st.integers(1, 20)),
    ),
    st.tuples(st.just("personalisation"), st.integers(0, 1), st.booleans(), st.none()),
    st.tuples(
        st.just("pause"),
        st.integers(0, 1),
        st.integers(1, 300),
        st.sampled_from(["marketing", "marketing+collections"]),
    ),
    st.tuples(st.just("unpause"), st.integers(0, 1), st.none(), st.none()),
    st.tuples(st.just("grant"), st.integers(0, 1), st.sampled_from(["sms"]), st.none()),
    st.tuples(st.just("stop_all"), st.integers(0, 1), st.none(), st.none()),
)


def _apply(customer, name, a, b, notice):
    if name == "quiet":
        portal.preference_update(
            customer=customer,
            quiet_start=a,
            quiet_end=b,
            time_zone="Asia/Shanghai",
            preferred_channel=None,
            preferred_language=customer.preferred_language,
        )
    elif name == "caps":
        portal.frequency_caps_set(
            customer=customer, caps={Channel.objects.get(code=a): b}
        )
    elif name == "personalisation":
        portal.personalisation_set(customer=customer, allowed=a)
    elif name == "pause":
        portal.care_pause_start(
            customer=customer,
            ends_at=timezone.now() + timedelta(days=a),
            scope=b,
            reason="illness",
        )
    elif name == "unpause":
        portal.care_pause_cancel(customer=customer)
    elif name == "grant":
        services.consent_grant(
            customer=customer,
            channel=Channel.objects.get(code=a),
            topic=Topic.objects.get(code="credit_card"),
            source="portal",
            actor=Actor.customer(customer),
            notice_version=notice,
        )
    else:
        services.consent_opt_out_all(
            customer=customer, source="portal", actor=Actor.customer(customer)
        )


class PreferenceReplayTests(TestCase):
    @settings(
        max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )
    @given(st.lists(operation, min_size=1, max_size=15))
    def test_replay_equals_the_tables_after_any_sequence(self, operations):
        customers = [Customer.objects.create(external_ref=f"PRF{i}") for i in range(2)]
        for c in customers:
            services.contact_point_add(
                customer=c,
                kind="phone",
                address="13800138000",
                source="import",
                actor=Actor.system("test"),
                verified=True,
            )
        notice = NoticeVersion.objects.get(language="en", version=1)
        for name, who, a, b in operations:
            try:
                _apply(customers[who], name, a, b, notice)
            except (ApplicationError, ValidationError):
                pass  # refused by a rule: must leave no trace
        now = timezone.now()
        assert (
            preference_differences(ledger_preferences(now), stored_preferences(now))
            == []
        )
        assert differences(ledger_projection(), stored_projection()) == []


@pytest.mark.django_db
def test_a_preference_change_is_a_ledger_row_with_its_values(customer, phone_point):
    portal.personalisation_set(customer=customer, allowed=False)
    event = ConsentEvent.objects.get(action="personalisation_set")
    assert event.detail == {"allowed": False}
    assert event.actor == f"customer:{customer.external_ref}"
    assert event.source == "portal"
    call_command("verify_ledger")


@pytest.mark.django_db
def test_a_table_changed_behind_the_ledger_is_reported(customer, phone_point, capsys):
    portal.personalisation_set(customer=customer, allowed=False)
    call_command("rebuild_consent_state")
    Preference.objects.update(personalisation_allowed=True)  # skipped the ledger
    with pytest.raises(CommandError):
        call_command("rebuild_consent_state")
    assert "preferences customer=" in capsys.readouterr().out
