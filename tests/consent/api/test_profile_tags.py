"""Profile tags: a bank system pushes and reads back only its own tags for a
customer; a customer who refused personalisation gets none."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from consent.api_clients import api_client_create
from consent.models import ProfileTag
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def _http(key: str) -> APIClient:
    http = APIClient()
    http.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return http


@pytest.fixture
def crm(db):
    client, issued = api_client_create(
        name="crm", channel_codes=["email"], may_push_profile_tags=True
    )
    return client, _http(issued.clear)


@pytest.fixture
def cards(db):
    client, issued = api_client_create(
        name="cards-analytics", channel_codes=["sms"], may_push_profile_tags=True
    )
    return client, _http(issued.clear)


def _url(customer) -> str:
    return f"/api/v1/customers/{customer.external_ref}/profile-tags"


TAGS = {
    "tags": [
        {"code": "young_family", "label": "Young family"},
        {"code": "traveller", "label": "Travels abroad often"},
    ]
}


def test_a_client_replaces_and_reads_its_own_tags(crm, customer):
    client, http = crm
    response = http.put(_url(customer), TAGS, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["customer"] == customer.external_ref
    assert body["personalisation"] is True
    assert [t["code"] for t in body["tags"]] == ["traveller", "young_family"]
    assert ProfileTag.objects.filter(customer=customer, client=client).count() == 2

    response = http.put(
        _url(customer),
        {"tags": [{"code": "traveller", "label": "Frequent traveller"}]},
        format="json",
    )
    assert [(t["code"], t["label"]) for t in response.json()["tags"]] == [
        ("traveller", "Frequent traveller")
    ]
    assert http.get(_url(customer)).json()["tags"][0]["code"] == "traveller"
    assert http.put(_url(customer), {"tags": []}, format="json").json()["tags"] == []
    assert not ProfileTag.objects.exists()


def test_a_client_sees_and_replaces_only_the_tags_it_pushed(crm, cards, customer):
    crm[1].put(_url(customer), TAGS, format="json")
    cards_http = cards[1]
    assert cards_http.get(_url(customer)).json()["tags"] == []
    cards_http.put(
        _url(customer),
        {"tags": [{"code": "premium_card", "label": "Premium card holder"}]},
        format="json",
    )
    cards_http.put(_url(customer), {"tags": []}, format="json")
    assert set(ProfileTag.objects.values_list("client__name", "code")) == {
        ("crm", "young_family"),
        ("crm", "traveller"),
    }


def test_a_client_without_the_scope_is_refused(customer):
    _client, issued = api_client_create(name="sms-gateway", channel_codes=["sms"])
    http = _http(issued.clear)
    for response in (
        http.get(_url(customer)),
        http.put(_url(customer), TAGS, format="json"),
    ):
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "permission_denied"
    assert not ProfileTag.objects.exists()


def test_unknown_or_erased_customer_is_not_found(crm):
    http = crm[1]
    response = http.put("/api/v1/customers/NOPE/profile-tags", TAGS, format="json")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    erased = CustomerFactory(status="erased")
    assert http.get(_url(erased)).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"tags": [{"code": "not a slug", "label": "x"}]}, "tags.0.code"),
        ({"tags": [{"code": "a", "label": ""}]}, "tags.0.label"),
        ({"tags": [{"code": "a", "label": "x"}, {"code": "a", "label": "y"}]}, "tags"),
        ({"tags": [{"code": f"t{n}", "label": "x"} for n in range(101)]}, "tags"),
        ({}, "tags"),
    ],
)
def test_bad_input_is_400_with_fields_and_changes_nothing(crm, customer, body, field):
    http = crm[1]
    http.put(_url(customer), TAGS, format="json")
    response = http.put(_url(customer), body, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert {field, f"{field}.non_field_errors"} & set(error["fields"])
    assert ProfileTag.objects.count() == 2


def test_no_tags_for_a_customer_who_refused_personalisation(crm, customer):
    from preferences.services import personalisation_set

    http = crm[1]
    personalisation_set(customer=customer, allowed=False)
    response = http.put(_url(customer), TAGS, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "personalisation_refused"
    assert not ProfileTag.objects.exists()
    body = http.get(_url(customer)).json()
    assert body["personalisation"] is False and body["tags"] == []


def test_erasure_removes_the_tags(crm, customer):
    from consent.erasure import customer_erase

    crm[1].put(_url(customer), TAGS, format="json")
    customer_erase(customer=customer)
    assert not ProfileTag.objects.exists()


def test_schema_documents_the_endpoint(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    path = schema["paths"]["/api/v1/customers/{external_ref}/profile-tags"]
    assert {"get", "put"} <= set(path)
    assert {"200", "400", "403", "404", "409"} <= set(path["put"]["responses"])
