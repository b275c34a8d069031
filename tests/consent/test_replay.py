"""Replaying the ledger rebuilds the projection exactly, whatever the history."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from consent import check_keys, services
from consent.errors import ApplicationError
from consent.ledger import Actor
from consent.models import Channel, ConsentState, Customer, NoticeVersion, Topic
from consent.replay import differences, ledger_projection, stored_projection

CHANNELS = ["sms", "email", "voice"]
TOPICS = ["credit_card", "personal_loan", "mortgage"]

operation = st.one_of(
    st.tuples(
        st.just("grant"),
        st.integers(0, 2),
        st.sampled_from(CHANNELS),
        st.sampled_from(TOPICS),
    ),
    st.tuples(
        st.just("withdraw"),
        st.integers(0, 2),
        st.sampled_from([*CHANNELS, None]),
        st.sampled_from([*TOPICS, None]),
    ),
    st.tuples(st.just("opt_out_all"), st.integers(0, 2), st.none(), st.none()),
    st.tuples(st.just("opt_in_all"), st.integers(0, 2), st.none(), st.none()),
)


class ReplayTests(TestCase):
    @settings(
        max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )
    @given(st.lists(operation, min_size=1, max_size=25))
    def test_replay_equals_projection_after_any_sequence(self, operations):
        customers = [Customer.objects.create(external_ref=f"HYP{i}") for i in range(3)]
        for c in customers:
            services.contact_point_add(
                customer=c,
                kind="phone",
                address="13800138000",
                source="import",
                actor=Actor.system("test"),
            )
        notice = NoticeVersion.objects.get(language="en", version=1)
        for name, who, channel, topic in operations:
            customer = customers[who]
            actor = Actor.customer(customer)
            ch = Channel.objects.get(code=channel) if channel else None
            tp = Topic.objects.get(code=topic) if topic else None
            try:
                if name == "grant":
                    services.consent_grant(
                        customer=customer,
                        channel=ch,
                        topic=tp,
                        source="portal",
                        actor=actor,
                        notice_version=notice,
                    )
                elif name == "withdraw":
                    services.consent_withdraw(
                        customer=customer,
                        channel=ch,
                        topic=tp,
                        source="portal",
                        actor=actor,
                    )
                elif name == "opt_out_all":
                    services.consent_opt_out_all(
                        customer=customer, source="portal", actor=actor
                    )
                else:
                    services.consent_opt_in_all(
                        customer=customer, source="portal", actor=actor
                    )
            except (ApplicationError, ValidationError):
                pass  # refused by a rule: must leave no trace, checked below
        assert differences(ledger_projection(), stored_projection()) == []
        # The check's narrow copy of every key was written with it.
        assert check_keys.differences() == []


@pytest.mark.django_db
def test_rebuild_reports_and_fixes_a_projection_changed_behind_the_ledger(
    customer, phone_point, sms, credit_card, notice_en, capsys
):
    from tests.factories import grant

    grant(customer, sms, credit_card, notice_en)
    call_command("rebuild_consent_state")
    assert "matches the ledger" in capsys.readouterr().out
    ConsentState.objects.update(status="withdrawn")  # a change that skipped the ledger
    with pytest.raises(CommandError):
        call_command("rebuild_consent_state")
    assert "ledger says" in capsys.readouterr().out
    call_command("rebuild_consent_state", "--fix")
    assert ConsentState.objects.get().status == "granted"
    call_command("rebuild_consent_state")
