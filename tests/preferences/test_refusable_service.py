"""Service messages a customer may refuse: a per-topic setting, never for security
alerts; switchable in the portal, recorded in the ledger, respected by the keys."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from consent import services
from consent.catalogue import catalogue_changed
from consent.contactability import Reason
from consent.errors import ApplicationError
from consent.ledger import Actor
from consent.models import ConsentEvent, ConsentState, Contactability, Topic

pytestmark = pytest.mark.django_db

NUMBER = "+8613800138000"
PAGE = "/account/preferences/"
SAVE = "/account/preferences/service/"


@pytest.fixture
def news(db) -> Topic:
    topic = Topic(
        code="account_news",
        kind=Topic.Kind.SERVICE,
        name_en="Account news",
        name_zh="账户动态",
        customer_may_refuse=True,
    )
    topic.full_clean()
    topic.save()
    catalogue_changed()
    return topic


def key(sms) -> Contactability:
    return Contactability.objects.get(channel=sms, identifier=NUMBER)


def test_security_alerts_can_never_be_marked_refusable(db):
    alert = Topic.objects.get(code="security_alert")
    alert.customer_may_refuse = True
    with pytest.raises(ValidationError) as caught:
        alert.full_clean()
    assert "customer_may_refuse" in caught.value.message_dict
    with pytest.raises(IntegrityError), transaction.atomic():
        Topic.objects.filter(code="security_alert").update(customer_may_refuse=True)


def test_marketing_topics_are_not_marked_refusable(credit_card):
    credit_card.customer_may_refuse = True
    with pytest.raises(ValidationError):
        credit_card.full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        Topic.objects.filter(pk=credit_card.pk).update(customer_may_refuse=True)


def test_admin_refuses_to_mark_security_alerts(staff_user, otp_admin_client):
    from backoffice.roles import COMPLIANCE_OFFICER

    alert = Topic.objects.get(code="security_alert")
    client = otp_admin_client(staff_user(COMPLIANCE_OFFICER))
    response = client.post(
        f"/admin/consent/topic/{alert.pk}/change/",
        {
            "name_en": alert.name_en,
            "name_zh": alert.name_zh,
            "customer_may_refuse": "on",
            "position": alert.position,
            "is_active": "on",
        },
    )
    assert response.status_code == 200  # the form again, with the error
    assert "Security alerts are always sent" in response.content.decode()
    alert.refresh_from_db()
    assert alert.customer_may_refuse is False


def test_portal_shows_refusable_service_topics_as_switches(portal_client, news):
    html = portal_client.get(PAGE).content.decode()
    assert 'value="sms:account_news" checked' in html
    assert 'value="sms:security_alert"' not in html
    assert 'value="sms:repayment_reminder"' not in html


def test_switching_off_is_recorded_and_respected(
    portal_client, customer, sms, news, notice_en
):
    shown = [f"{c}:account_news" for c in ("sms", "email", "push", "voice", "wechat")]
    response = portal_client.post(
        SAVE,
        {
            "notice_version": notice_en.pk,
            "shown": shown,
            "cell": [v for v in shown if not v.startswith("sms:")],
        },
    )
    assert response.status_code == 302
    event = ConsentEvent.objects.filter(action="withdraw").get()
    assert (event.channel, event.topic, event.source) == (sms, news, "portal")
    assert event.actor == str(Actor.customer(customer))
    row = key(sms)
    assert "account_news" not in row.permitted_topics
    assert row.topic_reasons["account_news"] == [Reason.WITHDRAWN]
    # Other service messages are untouched.
    assert {"security_alert", "repayment_reminder"} <= set(row.permitted_topics)

    # And back on, with the notice cited.
    portal_client.post(
        SAVE, {"notice_version": notice_en.pk, "shown": shown[1:], "cell": shown}
    )
    regrant = ConsentEvent.objects.filter(action="grant", topic=news).get()
    assert regrant.notice_version == notice_en
    assert "account_news" in key(sms).permitted_topics


def test_a_posted_security_alert_cell_changes_nothing(
    portal_client, sms, news, notice_en
):
    before = ConsentEvent.objects.count()
    portal_client.post(
        SAVE,
        {"notice_version": notice_en.pk, "shown": ["sms:security_alert"], "cell": []},
    )
    assert ConsentEvent.objects.count() == before
    assert "security_alert" in key(sms).permitted_topics


def test_services_refuse_withdrawing_an_always_on_topic(customer, sms):
    alert = Topic.objects.get(code="security_alert")
    with pytest.raises(ApplicationError):
        services.consent_withdraw(
            customer=customer,
            channel=sms,
            topic=alert,
            source="portal",
            actor=Actor.customer(customer),
        )


def test_stop_and_stop_all_leave_a_switched_on_service_topic_alone(
    customer, phone_point, sms, news, credit_card, notice_en
):
    actor = Actor.customer(customer)
    services.consent_withdraw(
        customer=customer, channel=sms, topic=news, source="portal", actor=actor
    )
    services.consent_grant(
        customer=customer,
        channel=sms,
        topic=news,
        source="portal",
        actor=actor,
        notice_version=notice_en,
    )
    services.consent_withdraw(
        customer=customer, channel=sms, topic=None, source="sms_keyword", actor=actor
    )
    services.consent_opt_out_all(customer=customer, source="portal", actor=actor)
    state = ConsentState.objects.get(customer=customer, channel=sms, topic=news)
    assert state.status == "granted"
    assert "account_news" in key(sms).permitted_topics


def test_one_holders_refusal_holds_a_shared_number():
    from consent.contactability import Holder, TopicInfo, compute

    topics = [
        TopicInfo("account_news", False, customer_may_refuse=True),
        TopicInfo("security_alert", False),
    ]
    refused = Holder(states={"account_news": ("withdrawn", "portal")})
    state = compute(holders=[Holder(), refused], topics=topics)
    assert state.permitted_topics == ["security_alert"]
    assert state.topic_reasons == {"account_news": [Reason.WITHDRAWN]}
    # A withdrawn cell on a topic not (or no longer) refusable holds nothing.
    plain = [TopicInfo("account_news", False), TopicInfo("security_alert", False)]
    assert compute(holders=[refused], topics=plain).permitted_topics == [
        "account_news",
        "security_alert",
    ]


def test_check_refuses_a_switched_off_service_topic(
    customer, phone_point, sms, news, notice_en
):
    from rest_framework.test import APIClient

    from consent.api_clients import api_client_create

    services.consent_withdraw(
        customer=customer,
        channel=sms,
        topic=news,
        source="portal",
        actor=Actor.customer(customer),
    )
    _client, issued = api_client_create(name="gateway", channel_codes=["sms"])
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.clear}")
    body = {"channel": "sms", "recipients": [NUMBER], "at": "2026-01-05T04:00:00Z"}
    refused = api.post(
        "/api/v1/suppression/check", {**body, "topic": "account_news"}, format="json"
    ).json()["results"][0]
    assert refused["allowed"] is False and "withdrawn" in refused["reasons"]
    alert = api.post(
        "/api/v1/suppression/check", {**body, "topic": "security_alert"}, format="json"
    ).json()["results"][0]
    assert alert["allowed"] is True
