"""``email_unsubscribe`` at a scope: this product (default), all marketing e-mail,
or all marketing on every channel; the same service as the one-click page."""

from __future__ import annotations

import pytest

from consent import links
from consent.models import ConsentEvent, ConsentState, InboundEvent, OptOut
from tests.factories import add_email, grant

pytestmark = pytest.mark.django_db

EVENTS = "/api/v1/events"
ADDRESS = "li.wei@example.com"


@pytest.fixture
def holder(
    customer, phone_point, sms, email_channel, credit_card, personal_loan, notice_en
):
    add_email(customer, ADDRESS)
    grant(customer, email_channel, credit_card, notice_en)
    grant(customer, email_channel, personal_loan, notice_en)
    grant(customer, sms, credit_card, notice_en)
    return customer


def granted(customer) -> set[tuple[str, str]]:
    return set(
        ConsentState.objects.granted()
        .filter(customer=customer)
        .values_list("channel__code", "topic__code")
    )


def unsubscribe(api, event_id: str, **extra):
    body = {"type": "email_unsubscribe", "event_id": event_id, "recipient": ADDRESS}
    return api.post(EVENTS, {**body, **extra}, format="json")


def test_default_scope_is_the_product_of_the_list(api, holder):
    body = unsubscribe(api, "u1", topic="credit_card").json()
    assert body["consents_changed"] == 1
    assert granted(holder) == {("email", "personal_loan"), ("sms", "credit_card")}


def test_product_scope_named_explicitly(api, holder):
    unsubscribe(api, "u2", topic="credit_card", scope="product")
    assert granted(holder) == {("email", "personal_loan"), ("sms", "credit_card")}
    event = ConsentEvent.objects.filter(action="withdraw").get()
    assert event.evidence["scope"] == "product" and event.source == "one_click"


def test_channel_scope_withdraws_all_marketing_email(api, holder):
    body = unsubscribe(api, "u3", topic="credit_card", scope="channel").json()
    assert body["consents_changed"] == 2
    assert granted(holder) == {("sms", "credit_card")}
    event = ConsentEvent.objects.filter(action="withdraw").get()
    assert event.channel.code == "email" and event.topic is None
    assert event.evidence["scope"] == "channel"


def test_all_scope_stops_marketing_on_every_channel(api, holder):
    body = unsubscribe(api, "u4", scope="all").json()
    assert body["consents_changed"] == 3
    assert granted(holder) == set()
    assert OptOut.objects.filter(customer=holder).exists()
    assert ConsentEvent.objects.get(action="opt_out_all").source == "one_click"


@pytest.mark.parametrize("scope", ["everything", "topic ", 3, ""])
def test_unknown_scope_is_a_400_with_a_field_error_and_changes_nothing(
    api, holder, scope
):
    before = ConsentEvent.objects.count()
    response = unsubscribe(api, "u5", topic="credit_card", scope=scope)
    assert response.status_code == 400
    assert "scope" in response.json()["error"]["fields"]
    assert ConsentEvent.objects.count() == before
    assert not InboundEvent.objects.exists()


def test_the_page_and_the_event_share_one_service(
    api, client, holder, email_channel, credit_card
):
    """The page's "all marketing e-mail" and the event's ``channel`` scope write the
    same ledger row."""
    path = links.unsubscribe_path(
        customer=holder, channel=email_channel, topic=credit_card
    )
    assert client.post(path, {"scope": "channel"}).status_code == 200
    page_event = ConsentEvent.objects.filter(action="withdraw").get()
    assert granted(holder) == {("sms", "credit_card")}
    # Nothing left to withdraw on e-mail: the event writes nothing more.
    body = unsubscribe(api, "u6", scope="channel").json()
    assert body["consents_changed"] == 0
    assert ConsentEvent.objects.filter(action="withdraw").get() == page_event
    assert page_event.channel == email_channel and page_event.topic is None


def test_schema_documents_the_scope(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    fields = schema["components"]["schemas"]["EmailUnsubscribeInput"]["properties"]
    assert "scope" in fields
    assert "RFC 8058" in fields["scope"]["description"]
    enum = schema["components"]["schemas"]["UnsubscribeScopeEnum"]["enum"]
    assert enum == ["product", "channel", "all"]
