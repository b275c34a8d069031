"""Rules on inbound events a compliance officer checks: one confirmation per
opt-out, refusals kept against unknown numbers, WeChat, calls and texts together."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from consent.contactability import Reason
from consent.models import (
    ConsentEvent,
    ConsentState,
    Contactability,
    InboundEvent,
    SuppressionChange,
)
from tests.factories import CustomerFactory, add_phone, grant

pytestmark = pytest.mark.django_db

EVENTS = "/api/v1/events"
NUMBER = "+8613800138000"


def post(api, **body):
    return api.post(EVENTS, body, format="json")


def stop(api, event_id, *, recipient=NUMBER, text="STOP", **extra):
    response = post(
        api,
        type="sms_reply",
        event_id=event_id,
        recipient=recipient,
        text=text,
        **extra,
    )
    assert response.status_code == 201, response.content
    return response.json()


# --- one confirmation per opt-out ---------------------------------------------------


def test_a_second_stop_within_a_day_changes_nothing_and_is_not_confirmed(
    api, customer, phone_point, sms, credit_card, personal_loan, notice_en
):
    grant(customer, sms, credit_card, notice_en)
    grant(customer, sms, personal_loan, notice_en)

    first = stop(api, "gw-1")
    assert first["consents_changed"] == 2
    assert first["reply_text"] and first["reply_withheld"] is None

    ledger = ConsentEvent.objects.count()
    feed = SuppressionChange.objects.count()
    second = stop(api, "gw-2", text="退订")

    assert second["effect"] == "stop"
    assert second["consents_changed"] == 0
    assert second["reply_text"] is None
    assert second["reply_withheld"] == "already_confirmed"
    assert ConsentEvent.objects.count() == ledger
    assert SuppressionChange.objects.count() == feed
    assert InboundEvent.objects.get(event_id="gw-2").result["reply_text"] is None


def test_a_stop_counts_the_cells_it_changed_not_the_holders(
    api, customer, phone_point, sms
):
    """Nothing was granted: the first STOP is confirmed but changed no consent."""
    body = stop(api, "gw-3")
    assert body["customers"] == 1 and body["consents_changed"] == 0
    assert body["reply_text"]


def test_a_stop_after_a_day_is_confirmed_again(api, customer, phone_point, sms):
    earlier = (timezone.now() - timedelta(hours=25)).isoformat()
    stop(api, "gw-4", occurred_at=earlier)
    again = stop(api, "gw-5")
    assert again["reply_text"] and again["reply_withheld"] is None


def test_a_stop_after_a_new_grant_is_a_new_opt_out(
    api, customer, phone_point, sms, credit_card, notice_en
):
    grant(customer, sms, credit_card, notice_en)
    stop(api, "gw-6")
    grant(customer, sms, credit_card, notice_en)
    again = stop(api, "gw-7")
    assert again["consents_changed"] == 1 and again["reply_text"]
    assert ConsentState.objects.get(customer=customer, topic=credit_card).status == (
        "withdrawn"
    )


def test_a_stop_on_another_channel_key_is_confirmed(api, customer, sms, credit_card):
    add_phone(customer, NUMBER)
    stop(api, "gw-8")
    other = stop(api, "gw-9", recipient="+8613900139000")
    assert other["reply_text"] and other["reply_withheld"] is None


# --- STOP from an unknown number ------------------------------------------------------


def _key(channel, number=NUMBER) -> Contactability:
    return Contactability.objects.get(channel=channel, identifier=number)


def test_a_stop_from_an_unknown_number_is_kept_against_the_number(
    api, sms, credit_card, notice_en
):
    from consent.models import Channel, SuppressedIdentifier

    body = stop(api, "gw-20")
    assert body["customers"] == 0 and body["consents_changed"] == 0
    assert body["reply_text"]
    kept = SuppressedIdentifier.objects.get(reason="stop")
    assert kept.channel == sms and kept.kind == "phone"
    # Sending systems learn it at once, for SMS only.
    key = _key(sms)
    assert key.suppressed and key.permitted_topics == []
    assert body["feed_seq"] == key.seq
    voice = Channel.objects.get(code="voice")
    assert not Contactability.objects.filter(channel=voice).exists()

    # Whoever registers the number later starts with SMS marketing suppressed.
    customer = CustomerFactory()
    grant(customer, sms, credit_card, notice_en)  # before holding the number
    add_phone(customer, NUMBER)
    key = _key(sms)
    assert key.suppressed
    assert key.topic_reasons["credit_card"] == [Reason.WITHDRAWN]
    assert "security_alert" in key.permitted_topics
    # Their own grant after the STOP lifts it for them, for that product.
    grant(customer, sms, credit_card, notice_en)
    key = _key(sms)
    assert "credit_card" in key.permitted_topics and not key.suppressed


def test_an_unverified_holder_does_not_escape_the_kept_stop(api, sms):
    customer = CustomerFactory()
    point = add_phone(customer, NUMBER, verified=False)
    stop(api, "gw-21")
    from consent import services
    from consent.ledger import Actor

    services.contact_point_verify(
        contact_point=point, source="portal", actor=Actor.customer(customer)
    )
    key = _key(sms)
    assert key.suppressed and key.topic_reasons["credit_card"] == [Reason.WITHDRAWN]


def test_a_repeated_stop_from_an_unknown_number_is_not_confirmed_again(api, sms):
    stop(api, "gw-22")
    feed = SuppressionChange.objects.count()
    again = stop(api, "gw-23")
    assert (
        again["reply_text"] is None and again["reply_withheld"] == "already_confirmed"
    )
    assert SuppressionChange.objects.count() == feed


# --- WeChat ---------------------------------------------------------------------------

OPENID = "oQ1xv5Zp3K8mW2dHfE7tYcN4bLsA"


@pytest.fixture
def wechat_api(db):
    from rest_framework.test import APIClient

    from consent.api_clients import api_client_create

    _client, issued = api_client_create(name="wechat-gateway", channel_codes=["wechat"])
    http = APIClient()
    http.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.clear}")
    return http


@pytest.fixture
def wechat(db):
    from consent.models import Channel

    return Channel.objects.get(code="wechat")


@pytest.fixture
def follower(wechat, credit_card, personal_loan, notice_en):
    from consent import services
    from consent.ledger import Actor

    customer = CustomerFactory(preferred_language="zh-hans")
    services.contact_point_add(
        customer=customer,
        kind="wechat",
        address=OPENID,
        source="staff",
        actor=Actor.system("test"),
        verified=True,
    )
    grant(customer, wechat, credit_card, notice_en)
    grant(customer, wechat, personal_loan, notice_en)
    return customer


def _wechat_key(wechat) -> Contactability:
    return Contactability.objects.get(channel=wechat, identifier=OPENID)


def test_a_wechat_td_reply_withdraws_wechat_marketing(
    wechat_api, follower, wechat, credit_card
):
    response = post(
        wechat_api,
        type="wechat_reply",
        event_id="wx-1",
        recipient=OPENID,
        text="TD",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["channel"] == "wechat" and body["effect"] == "stop"
    assert body["consents_changed"] == 2
    assert body["reply_text"].startswith("您已退订微信营销消息")
    withdrawal = ConsentEvent.objects.order_by("seq").last()
    assert withdrawal.source == "wechat" and withdrawal.channel == wechat
    key = _wechat_key(wechat)
    assert key.suppressed and key.topic_reasons["credit_card"] == [Reason.WITHDRAWN]

    # START undoes what the reply stopped.
    body = post(
        wechat_api, type="wechat_reply", event_id="wx-2", recipient=OPENID, text="START"
    ).json()
    assert body["effect"] == "start" and body["consents_changed"] == 2
    assert "credit_card" in _wechat_key(wechat).permitted_topics


def test_a_wechat_unsubscribe_withdraws_the_topic_or_the_channel(
    wechat_api, follower, wechat, credit_card, personal_loan
):
    body = post(
        wechat_api,
        type="wechat_unsubscribe",
        event_id="wx-3",
        recipient=OPENID,
        topic="credit_card",
    ).json()
    assert body["effect"] == "withdraw" and body["consents_changed"] == 1
    key = _wechat_key(wechat)
    assert "credit_card" not in key.permitted_topics
    assert "personal_loan" in key.permitted_topics

    body = post(
        wechat_api, type="wechat_unsubscribe", event_id="wx-4", recipient=OPENID
    ).json()
    assert body["consents_changed"] == 1
    assert _wechat_key(wechat).suppressed
    assert ConsentEvent.objects.filter(source="wechat", action="withdraw").count() == 2


def test_wechat_events_refuse_bad_input_and_change_nothing(
    wechat_api, api, follower, wechat
):
    before = ConsentEvent.objects.count(), InboundEvent.objects.count()
    bad_openid = post(
        wechat_api, type="wechat_reply", event_id="wx-5", recipient="a b", text="TD"
    )
    assert bad_openid.status_code == 400
    assert "recipient" in bad_openid.json()["error"]["fields"]
    wrong_channel = post(
        wechat_api,
        type="wechat_unsubscribe",
        event_id="wx-6",
        recipient=OPENID,
        channel="sms",
    )
    assert wrong_channel.status_code == 400
    assert "channel" in wrong_channel.json()["error"]["fields"]
    service = post(
        wechat_api,
        type="wechat_unsubscribe",
        event_id="wx-7",
        recipient=OPENID,
        topic="security_alert",
    )
    assert service.status_code == 400
    # A client without the WeChat channel in scope may not push them.
    out_of_scope = post(
        api, type="wechat_reply", event_id="wx-8", recipient=OPENID, text="TD"
    )
    assert out_of_scope.status_code == 403
    assert (ConsentEvent.objects.count(), InboundEvent.objects.count()) == before


# --- calls and texts cover each other (+1) ------------------------------------------

US_NUMBER = "+16502530000"


@pytest.fixture
def voice(db):
    from consent.models import Channel

    return Channel.objects.get(code="voice")


def _cell(customer, channel, topic) -> str:
    return ConsentState.objects.get(
        customer=customer, channel=channel, topic=topic
    ).status


@pytest.fixture
def us_customer(sms, voice, credit_card, notice_en):
    customer = CustomerFactory()
    add_phone(customer, US_NUMBER)
    grant(customer, sms, credit_card, notice_en)
    grant(customer, voice, credit_card, notice_en)
    return customer


def test_a_stop_from_a_plus_one_number_also_withdraws_voice_marketing(
    api, us_customer, sms, voice, credit_card
):
    body = stop(api, "us-1", recipient=US_NUMBER)
    assert body["consents_changed"] == 2
    assert _cell(us_customer, sms, credit_card) == "withdrawn"
    assert _cell(us_customer, voice, credit_card) == "withdrawn"
    covered = ConsentEvent.objects.get(channel=voice, action="withdraw")
    assert covered.source == "sms_keyword"
    assert covered.detail == {"covered_by": "sms", "rule": "calls_and_texts"}
    assert Contactability.objects.get(channel=voice, identifier=US_NUMBER).suppressed


def test_a_voice_refusal_also_withdraws_texts_for_a_plus_one_number(
    us_customer, sms, voice, credit_card
):
    from consent import services
    from consent.ledger import Actor

    event = services.consent_withdraw(
        customer=us_customer,
        channel=voice,
        topic=None,
        source="staff",
        actor=Actor.system("call-centre"),
    )
    assert event.cells_changed == 2
    assert _cell(us_customer, sms, credit_card) == "withdrawn"


def test_texts_and_calls_stay_separate_elsewhere_or_when_turned_off(
    api, us_customer, sms, voice, credit_card, notice_en, settings
):
    cn = CustomerFactory()
    add_phone(cn, NUMBER)
    grant(cn, sms, credit_card, notice_en)
    grant(cn, voice, credit_card, notice_en)
    assert stop(api, "cn-1")["consents_changed"] == 1
    assert _cell(cn, voice, credit_card) == "granted"

    settings.CALLS_AND_TEXTS_LINKED_CODES = frozenset()
    assert stop(api, "us-2", recipient=US_NUMBER)["consents_changed"] == 1
    assert _cell(us_customer, voice, credit_card) == "granted"


def test_the_portal_sets_texts_and_calls_switch_by_switch(
    us_customer, sms, voice, credit_card
):
    from consent import services
    from consent.ledger import Actor

    services.consent_withdraw(
        customer=us_customer,
        channel=sms,
        topic=credit_card,
        source="portal",
        actor=Actor.customer(us_customer),
    )
    assert _cell(us_customer, voice, credit_card) == "granted"
