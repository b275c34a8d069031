from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from consent import keys as key_state
from consent import services
from consent.contactability import Reason
from consent.errors import ApplicationError
from consent.ledger import Actor
from consent.models import (
    Channel,
    ConsentEvent,
    ConsentState,
    Contactability,
    ContactPoint,
    Customer,
    OptOut,
    SuppressionChange,
    Topic,
)
from tests.factories import CustomerFactory, add_email, add_phone, grant

pytestmark = pytest.mark.django_db


def key(channel: Channel, number: str = "+8613800138000") -> Contactability:
    return Contactability.objects.get(channel=channel, identifier=number)


def counts() -> tuple[int, int, int, int]:
    return (
        ConsentEvent.objects.count(),
        ConsentState.objects.count(),
        SuppressionChange.objects.count(),
        Contactability.objects.count(),
    )


def test_default_deny_a_new_number_gets_no_marketing(phone_point, sms):
    state = key(sms)
    assert state.suppressed is True
    assert state.reasons == [Reason.NO_CONSENT]
    assert not {"credit_card", "personal_loan"} & set(state.permitted_topics)


def test_service_topics_are_permitted_without_consent(phone_point, sms):
    assert {"repayment_reminder", "security_alert", "collections"} <= set(
        key(sms).permitted_topics
    )


def test_grant_permits_only_that_channel_and_topic(
    customer, phone_point, sms, credit_card, notice_en
):
    grant(customer, sms, credit_card, notice_en)
    voice = Channel.objects.get(code="voice")
    assert "credit_card" in key(sms).permitted_topics
    assert key(sms).suppressed is False
    assert "personal_loan" not in key(sms).permitted_topics
    assert "credit_card" not in key(voice).permitted_topics


def test_withdrawal_after_grant_suppresses_the_key(
    customer, phone_point, sms, credit_card, notice_en
):
    grant(customer, sms, credit_card, notice_en)
    before = SuppressionChange.objects.count()
    services.consent_withdraw(
        customer=customer,
        channel=sms,
        topic=credit_card,
        source="one_click",
        actor=Actor.public("one-click"),
    )
    state = key(sms)
    assert state.suppressed is True
    assert state.topic_reasons["credit_card"] == [Reason.WITHDRAWN]
    change = SuppressionChange.objects.order_by("seq").last()
    assert SuppressionChange.objects.count() == before + 1
    assert change.suppressed is True and change.key == state


def test_withdraw_all_channels_for_a_topic(
    customer, phone_point, sms, credit_card, notice_en
):
    voice = Channel.objects.get(code="voice")
    grant(customer, sms, credit_card, notice_en)
    grant(customer, voice, credit_card, notice_en)
    services.consent_withdraw(
        customer=customer,
        channel=None,
        topic=credit_card,
        source="portal",
        actor=Actor.customer(customer),
    )
    assert set(
        ConsentState.objects.filter(customer=customer).values_list("status", flat=True)
    ) == {"withdrawn"}
    assert key(sms).suppressed and key(voice).suppressed


def test_grant_without_notice_version_is_rejected_and_writes_nothing(
    customer, phone_point, sms, credit_card
):
    before = counts()
    with pytest.raises(ValidationError) as exc:
        services.consent_grant(
            customer=customer,
            channel=sms,
            topic=credit_card,
            source="portal",
            actor=Actor.customer(customer),
            notice_version=None,
        )
    assert exc.value.messages == [str(services.MSG_NOTICE_REQUIRED)]
    assert counts() == before


@pytest.mark.parametrize("source, actor", [("", "customer:X"), ("portal", "")])
def test_grant_without_source_or_actor_is_rejected(
    customer, phone_point, sms, credit_card, notice_en, source, actor
):
    before = counts()
    with pytest.raises(ValidationError):
        services.consent_grant(
            customer=customer,
            channel=sms,
            topic=credit_card,
            source=source,
            actor=actor,
            notice_version=notice_en,
        )
    assert counts() == before


def test_service_topic_cannot_be_granted_or_withdrawn(
    customer, phone_point, sms, notice_en
):
    reminder = Topic.objects.get(code="repayment_reminder")
    with pytest.raises(ApplicationError):
        grant(customer, sms, reminder, notice_en)
    with pytest.raises(ApplicationError):
        services.consent_withdraw(
            customer=customer,
            channel=sms,
            topic=reminder,
            source="portal",
            actor=Actor.customer(customer),
        )
    assert not ConsentState.objects.exists()


def test_opt_out_all_beats_every_grant_and_blocks_new_ones(
    customer, phone_point, sms, credit_card, personal_loan, notice_en
):
    grant(customer, sms, credit_card, notice_en)
    services.consent_opt_out_all(
        customer=customer, source="sms_keyword", actor=Actor.client("gateway")
    )
    assert key(sms).suppressed is True
    assert Reason.OPT_OUT_ALL in key(sms).reasons
    before = counts()
    with pytest.raises(ApplicationError) as exc:
        grant(customer, sms, personal_loan, notice_en, source="staff")
    assert exc.value.code == "opted_out"
    assert counts() == before


def test_opt_in_all_only_from_the_customers_own_portal_action(customer, phone_point):
    services.consent_opt_out_all(
        customer=customer, source="portal", actor=Actor.customer(customer)
    )
    for source, actor in [
        ("staff", Actor.system("admin")),
        ("api", Actor.client("gateway")),
        ("portal", Actor.system("someone-else")),
    ]:
        with pytest.raises(ApplicationError):
            services.consent_opt_in_all(customer=customer, source=source, actor=actor)
    assert OptOut.objects.filter(customer=customer).exists()
    services.consent_opt_in_all(
        customer=customer, source="portal", actor=Actor.customer(customer)
    )
    assert not OptOut.objects.filter(customer=customer).exists()


def test_opt_in_all_restores_nothing_by_itself(
    customer, phone_point, sms, credit_card, notice_en
):
    grant(customer, sms, credit_card, notice_en)
    services.consent_opt_out_all(
        customer=customer, source="portal", actor=Actor.customer(customer)
    )
    services.consent_opt_in_all(
        customer=customer, source="portal", actor=Actor.customer(customer)
    )
    assert key(sms).suppressed is True
    grant(customer, sms, credit_card, notice_en)
    assert key(sms).suppressed is False


@pytest.mark.parametrize(
    "mark, reason",
    [
        (services.contact_point_mark_not_me, "not_me"),
        (services.contact_point_mark_invalid, "invalid"),
    ],
)
def test_not_me_and_invalid_suppress_everything(
    customer, phone_point, sms, credit_card, notice_en, mark, reason
):
    grant(customer, sms, credit_card, notice_en)
    mark(contact_point=phone_point, source="portal", actor=Actor.public("not-me"))
    state = key(sms)
    assert state.permitted_topics == []
    assert state.reasons == [reason]
    assert ConsentEvent.objects.filter(
        contact_point=phone_point, action=f"contact_{reason}"
    ).exists()


def test_care_pause_holds_marketing_and_optionally_collections(
    customer, phone_point, sms, credit_card, notice_en
):
    from datetime import timedelta

    from django.utils import timezone

    from preferences.models import CarePause

    grant(customer, sms, credit_card, notice_en)
    CarePause.objects.create(
        customer=customer,
        ends_at=timezone.now() + timedelta(days=30),
        scope="marketing+collections",
        reason="illness",
    )
    services.contactability_publish(customer_ids=[customer.pk])
    state = key(sms)
    assert state.suppressed is True
    assert state.reasons == [Reason.CARE_PAUSE]
    assert "collections" not in state.permitted_topics
    assert "repayment_reminder" in state.permitted_topics
    assert state.paused_until is not None


def test_shared_number_needs_one_grant_and_no_refusal(sms, credit_card, notice_en):
    first, second = CustomerFactory(), CustomerFactory()
    add_phone(first, "13800138000")
    add_phone(second, "13800138000")
    grant(first, sms, credit_card, notice_en)
    assert "credit_card" in key(sms).permitted_topics
    services.consent_withdraw(
        customer=second,
        channel=sms,
        topic=credit_card,
        source="portal",
        actor=Actor.customer(second),
    )
    assert "credit_card" not in key(sms).permitted_topics
    assert Contactability.objects.filter(channel=sms).count() == 1


def test_not_me_on_a_shared_number_suppresses_it_for_all_holders(
    sms, credit_card, notice_en
):
    first, second = CustomerFactory(), CustomerFactory()
    add_phone(first, "13800138000")
    point = add_phone(second, "13800138000")
    grant(first, sms, credit_card, notice_en)
    services.contact_point_mark_not_me(
        contact_point=point, source="portal", actor=Actor.public("not-me")
    )
    assert key(sms).permitted_topics == []


def test_feed_row_only_on_a_real_state_change(
    customer, phone_point, sms, credit_card, notice_en
):
    grant(customer, sms, credit_card, notice_en)
    before = SuppressionChange.objects.count()
    ledger_before = ConsentEvent.objects.count()
    grant(customer, sms, credit_card, notice_en)  # re-consent: evidence, same state
    assert ConsentEvent.objects.count() == ledger_before + 1
    assert SuppressionChange.objects.count() == before


def test_feed_sequence_is_gap_free(customer, phone_point, sms, credit_card, notice_en):
    grant(customer, sms, credit_card, notice_en)
    services.consent_withdraw(
        customer=customer,
        channel=sms,
        topic=credit_card,
        source="portal",
        actor=Actor.customer(customer),
    )
    seqs = list(SuppressionChange.objects.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))


def test_a_failure_after_the_ledger_write_leaves_nothing(
    customer, phone_point, sms, credit_card, notice_en, monkeypatch
):
    before = counts()

    def explode(**kwargs):
        raise RuntimeError("feed unavailable")

    monkeypatch.setattr(key_state, "keys_recompute", explode)
    with pytest.raises(RuntimeError):
        grant(customer, sms, credit_card, notice_en)
    assert counts() == before
    assert ConsentState.objects.count() == before[1]


def test_deceased_customer_cannot_opt_back_in(customer, phone_point):
    services.consent_opt_out_all(
        customer=customer, source="portal", actor=Actor.customer(customer)
    )
    Customer.objects.filter(pk=customer.pk).update(status=Customer.Status.DECEASED)
    with pytest.raises(ApplicationError) as exc:
        services.consent_opt_in_all(
            customer=customer, source="portal", actor=Actor.customer(customer)
        )
    assert exc.value.code == "customer_inactive"
    assert OptOut.objects.filter(customer=customer).exists()


def test_deceased_customer_cannot_be_granted(
    customer, phone_point, sms, credit_card, notice_en
):
    Customer.objects.filter(pk=customer.pk).update(status=Customer.Status.DECEASED)
    with pytest.raises(ApplicationError):
        grant(customer, sms, credit_card, notice_en)


def test_contact_point_is_stored_encrypted_and_found_by_blind_index(customer):
    point = add_email(customer, "  Alice.Chen@Example.COM ")
    row = ContactPoint.objects.get(pk=point.pk)
    assert "alice" not in row.address_encrypted.lower()
    assert row.address_encrypted.startswith("v1:")
    assert row.address == "alice.chen@example.com"
    found = ContactPoint.objects.for_identifier("email", "alice.chen@example.com")
    assert list(found) == [row]


def test_duplicate_address_for_the_same_customer_is_refused(customer, phone_point):
    before = counts()
    with pytest.raises(ValidationError) as exc:
        add_phone(customer, "+86 138-0013-8000")
    assert "address" in exc.value.message_dict
    assert counts() == before


@pytest.mark.parametrize(
    "kind, raw",
    [
        ("phone", "12345"),
        ("phone", "not a phone"),
        ("email", "no-at-sign"),
        ("email", "a@b"),
    ],
)
def test_bad_addresses_are_rejected_with_a_clear_error(customer, kind, raw):
    with pytest.raises(ValidationError) as exc:
        services.contact_point_add(
            customer=customer,
            kind=kind,
            address=raw,
            source="portal",
            actor=Actor.customer(customer),
        )
    assert "valid" in exc.value.messages[0]
    assert not ContactPoint.objects.exists()
    assert not ConsentEvent.objects.exists()


def test_removed_contact_point_no_longer_carries_consent(
    customer, phone_point, sms, credit_card, notice_en
):
    grant(customer, sms, credit_card, notice_en)
    services.contact_point_remove(
        contact_point=phone_point, source="portal", actor=Actor.customer(customer)
    )
    assert key(sms).suppressed is True


def test_unknown_number_reported_not_me_stays_suppressed_when_imported_later(
    sms, credit_card, notice_en
):
    services.identifier_suppress(kind="phone", address="13900139000", reason="not_me")
    customer = CustomerFactory()
    add_phone(customer, "13900139000")
    grant(customer, sms, credit_card, notice_en)
    state = key(sms, "+8613900139000")
    assert state.permitted_topics == []
    assert state.reasons == [Reason.NOT_ME]


def test_a_new_key_carries_the_default_quiet_hours(phone_point, sms):
    expected = {"start": "21:00", "end": "08:00", "tz": "Asia/Shanghai"}
    assert key(sms).quiet_hours == expected
