"""No nagging: asking a customer again for a consent they refused is refused for a
quiet period (API 409 ``quiet_period``; the portal does not show the prompt); the
customer's own grant is always allowed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from consent import consent_requests, services
from consent.ledger import Actor
from consent.models import ConsentEvent, ConsentRequest, ConsentState
from preferences.auth import SESSION_KEY
from tests.factories import grant

pytestmark = pytest.mark.django_db

ASK = "/api/v1/consent-requests"


def ask(api, customer, channel="sms", topic="credit_card"):
    return api.post(
        ASK,
        {"customer_ref": customer.external_ref, "channel": channel, "topic": topic},
        format="json",
    )


def withdraw(customer, sms, topic, *, days_ago: int = 0):
    return services.consent_withdraw(
        customer=customer,
        channel=sms,
        topic=topic,
        source="portal",
        actor=Actor.customer(customer),
        occurred_at=timezone.now() - timedelta(days=days_ago),
    )


@pytest.fixture
def signed_in(client, customer, phone_point):
    session = client.session
    session[SESSION_KEY] = customer.pk
    session.save()
    return client


def test_a_request_is_shown_as_a_prompt_and_yes_grants(
    api, signed_in, customer, sms, credit_card, notice_en
):
    response = ask(api, customer)
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "pending" and body["channel"] == "sms"
    assert ask(api, customer).status_code == 200  # one pending request

    page = signed_in.get("/account/").content.decode()
    assert "May we send you offers?" in page and "Credit cards" in page
    signed_in.post(
        f"/account/requests/{body['id']}/",
        {"answer": "yes", "notice_version": notice_en.pk},
    )
    state = ConsentState.objects.get(customer=customer, channel=sms, topic=credit_card)
    assert state.status == "granted" and state.event.notice_version == notice_en
    assert state.event.evidence["consent_request"] == str(body["id"])
    assert ConsentRequest.objects.get().status == "accepted"
    assert "May we send you offers?" not in signed_in.get("/account/").content.decode()


def test_no_records_a_refusal_and_starts_the_quiet_period(
    api, signed_in, customer, sms, credit_card
):
    body = ask(api, customer).json()
    signed_in.post(f"/account/requests/{body['id']}/", {"answer": "no"})
    assert ConsentRequest.objects.get().status == "declined"
    refusal = ConsentEvent.objects.get(action="withdraw")
    assert (refusal.channel, refusal.topic) == (sms, credit_card)

    again = ask(api, customer)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "quiet_period"
    assert again["Retry-After"]
    assert ConsentRequest.objects.count() == 1


@pytest.mark.parametrize("scope", ["cell", "channel", "product", "all"])
def test_asking_after_a_withdrawal_is_refused_for_the_quiet_period(
    api, customer, phone_point, sms, credit_card, notice_en, scope
):
    grant(customer, sms, credit_card, notice_en)
    actor = Actor.customer(customer)
    if scope == "all":
        services.consent_opt_out_all(customer=customer, source="portal", actor=actor)
    else:
        services.consent_withdraw(
            customer=customer,
            channel=None if scope == "product" else sms,
            topic=None if scope == "channel" else credit_card,
            source="sms_keyword",
            actor=actor,
        )
    response = ask(api, customer)
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "quiet_period" and "not allowed before" in error["message"]
    assert not ConsentRequest.objects.exists()


def test_the_quiet_period_ends_and_is_configurable(
    api, customer, phone_point, sms, credit_card, settings
):
    withdraw(customer, sms, credit_card, days_ago=181)
    assert ask(api, customer).status_code == 201
    ConsentRequest.objects.all().delete()
    settings.CONSENT_REQUEST_QUIET_DAYS = 365
    assert ask(api, customer).status_code == 409


def test_a_refusal_after_the_request_hides_the_prompt(
    api, signed_in, customer, sms, credit_card
):
    ask(api, customer)
    withdraw(customer, sms, credit_card)
    assert consent_requests.consent_requests_to_show(customer=customer) == []
    assert "May we send you offers?" not in signed_in.get("/account/").content.decode()


def test_the_customers_own_grant_is_always_allowed(
    signed_in, customer, sms, credit_card, notice_en
):
    withdraw(customer, sms, credit_card)
    response = signed_in.post(
        "/account/preferences/",
        {"notice_version": notice_en.pk, "cell": ["sms:credit_card"]},
    )
    assert response.status_code == 302
    state = ConsentState.objects.get(customer=customer, channel=sms, topic=credit_card)
    assert state.status == "granted"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {"customer_ref": "nobody", "channel": "sms", "topic": "credit_card"},
            "customer_ref",
        ),
        ({"channel": "sms", "topic": "credit_card"}, "customer_ref"),
        ({"customer_ref": "C", "channel": "telex", "topic": "credit_card"}, "channel"),
        ({"customer_ref": "C", "channel": "sms", "topic": "security_alert"}, "topic"),
    ],
)
def test_bad_input_is_a_400_with_field_errors(api, customer, body, field):
    if body.get("customer_ref") == "C":
        body = {**body, "customer_ref": customer.external_ref}
    response = api.post(ASK, body, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert not ConsentRequest.objects.exists()


def test_already_granted_is_a_409(
    api, customer, phone_point, sms, credit_card, notice_en
):
    grant(customer, sms, credit_card, notice_en)
    response = ask(api, customer)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "already_granted"


def test_a_channel_outside_the_clients_scope_is_403(api, customer):
    assert ask(api, customer, channel="voice").status_code == 403


def test_schema_documents_the_quiet_period(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    operation = schema["paths"]["/api/v1/consent-requests"]["post"]
    assert "409" in operation["responses"]
    assert "quiet_period" in operation["description"]


def test_the_prompt_is_translated(api, signed_in, customer):
    ask(api, customer)
    page = signed_in.get("/account/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "是否愿意接收我们的优惠信息？" in page and "不用了，谢谢" in page


def test_another_customers_request_cannot_be_answered(
    api, signed_in, sms, credit_card, notice_en
):
    from tests.factories import CustomerFactory

    other = CustomerFactory()
    body = ask(api, other).json()
    response = signed_in.post(
        f"/account/requests/{body['id']}/",
        {"answer": "yes", "notice_version": notice_en.pk},
    )
    assert response.status_code == 404
    assert ConsentRequest.objects.get().status == "pending"
    assert not ConsentState.objects.filter(customer=other).exists()


def test_a_customer_who_stopped_all_marketing_long_ago_is_not_asked(
    api, customer, phone_point
):
    services.consent_opt_out_all(
        customer=customer,
        source="portal",
        actor=Actor.customer(customer),
        occurred_at=timezone.now() - timedelta(days=400),
    )
    response = ask(api, customer)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "opted_out"
    assert not ConsentRequest.objects.exists()
