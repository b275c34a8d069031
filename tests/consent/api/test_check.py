"""POST /api/v1/suppression/check: decisions, per-item errors, fixed query count."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from consent import services
from consent.ledger import Actor
from consent.models import ApiClient, ConsentEvent, SendRecord, SuppressionChange, Topic
from preferences.models import FrequencyCap
from tests.factories import CustomerFactory, add_phone, grant

pytestmark = pytest.mark.django_db

CHECK = "/api/v1/suppression/check"
# 12:00 in Shanghai: outside the default quiet hours (21:00-08:00 Asia/Shanghai).
NOON_SHANGHAI = "2026-01-05T04:00:00Z"
NIGHT_SHANGHAI = "2026-01-05T14:30:00Z"


def _check(api, recipients, topic="credit_card", at=NOON_SHANGHAI, **extra):
    body = {"channel": "sms", "topic": topic, "recipients": recipients, **extra}
    if at:
        body["at"] = at
    return api.post(CHECK, body, format="json")


def _granted(number, sms, credit_card, notice):
    customer = CustomerFactory()
    add_phone(customer, number)
    grant(customer, sms, credit_card, notice)
    return customer


def test_granted_withdrawn_unknown_and_malformed(api, sms, credit_card, notice_en):
    _granted("+8613800000001", sms, credit_card, notice_en)
    gone = _granted("+8613800000002", sms, credit_card, notice_en)
    services.consent_withdraw(
        customer=gone,
        channel=sms,
        topic=credit_card,
        source="portal",
        actor=Actor.customer(gone),
    )
    response = _check(
        api, ["+8613800000001", "13800000002", "+8613999999999", "not a number", ""]
    )
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["recipient"] for r in results] == [
        "+8613800000001",
        "13800000002",
        "+8613999999999",
        "not a number",
        "",
    ]
    assert results[0] == {
        "recipient": "+8613800000001",
        "allowed": True,
        "reasons": [],
        "error": None,
    }
    assert results[1]["allowed"] is False and results[1]["reasons"] == ["withdrawn"]
    assert results[2]["reasons"] == ["no_consent"]
    assert results[3]["error"]["code"] == "phone_invalid"
    assert results[4]["error"] is not None and results[4]["allowed"] is False


def test_opt_out_and_not_me_reasons(api, sms, credit_card, notice_en):
    opted = _granted("+8613800000003", sms, credit_card, notice_en)
    services.consent_opt_out_all(
        customer=opted, source="portal", actor=Actor.customer(opted)
    )
    other = _granted("+8613800000004", sms, credit_card, notice_en)
    services.contact_point_mark_not_me(
        contact_point=other.contact_points.get(),
        source="portal",
        actor=Actor.public("not-me page"),
    )
    results = _check(api, ["+8613800000003", "+8613800000004"]).json()["results"]
    assert "opt_out_all" in results[0]["reasons"]
    assert results[1]["reasons"] == ["not_me"]


def test_service_topic_needs_no_consent(api, sms):
    results = _check(api, ["+8613800000005"], topic="security_alert").json()["results"]
    assert results[0]["allowed"] is True


def test_quiet_hours_use_the_keys_time_zone(api, sms, credit_card, notice_en):
    _granted("+8613800000006", sms, credit_card, notice_en)
    night = _check(api, ["+8613800000006"], at=NIGHT_SHANGHAI).json()["results"][0]
    assert night == {
        "recipient": "+8613800000006",
        "allowed": False,
        "reasons": ["quiet_hours"],
        "error": None,
    }
    noon = _check(api, ["+8613800000006"], at=NOON_SHANGHAI).json()["results"][0]
    assert noon["allowed"] is True


def test_frequency_cap_counts_sends_of_the_last_7_days(
    api, sender, sms, credit_card, notice_en
):
    customer = _granted("+8613800000007", sms, credit_card, notice_en)
    FrequencyCap.objects.create(customer=customer, channel=sms, max_per_week=2)
    services.contactability_publish(customer_ids=[customer.pk])
    at = datetime.fromisoformat(NOON_SHANGHAI.replace("Z", "+00:00"))
    bi = customer.contact_points.get().blind_index
    for days in (1, 2, 9):
        SendRecord.objects.create(
            blind_index=bi,
            channel=sms,
            topic=credit_card,
            client=sender[0],
            sent_at=at - timedelta(days=days),
        )
    result = _check(api, ["+8613800000007"]).json()["results"][0]
    assert result["reasons"] == ["frequency_cap"]
    SendRecord.objects.filter(sent_at__lt=at - timedelta(days=1, hours=1)).delete()
    assert _check(api, ["+8613800000007"]).json()["results"][0]["allowed"] is True


def _nothing_changed(before):
    assert ConsentEvent.objects.count() == before[0]
    assert SuppressionChange.objects.count() == before[1]


@pytest.mark.parametrize(
    "body, field",
    [
        (
            {"channel": "sms", "topic": "credit_card", "recipients": ["+86138"] * 1001},
            "recipients",
        ),
        ({"channel": "sms", "topic": "credit_card", "recipients": []}, "recipients"),
        ({"channel": "fax", "topic": "credit_card", "recipients": ["x"]}, "channel"),
        ({"channel": "sms", "topic": "lottery", "recipients": ["x"]}, "topic"),
        (
            {"channel": "sms", "topic": "credit_card", "recipients": "x", "at": "soon"},
            "at",
        ),
        ({"channel": "sms", "recipients": ["x"]}, "topic"),
    ],
)
def test_bad_batches_are_400_and_change_nothing(api, body, field):
    before = (ConsentEvent.objects.count(), SuppressionChange.objects.count())
    response = api.post(CHECK, body, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert field in error["fields"]
    _nothing_changed(before)


def test_too_many_recipients_message(api):
    body = {"channel": "sms", "topic": "credit_card", "recipients": ["1"] * 1001}
    error = api.post(CHECK, body, format="json").json()["error"]
    assert error["fields"]["recipients"] == ["At most 1000 recipients per call."]


def test_malformed_json_is_400(api):
    response = api.post(CHECK, "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"


def test_inactive_topic_is_unknown(api):
    Topic.objects.filter(code="wealth").update(is_active=False)
    response = _check(api, ["+8613800000001"], topic="wealth")
    assert response.status_code == 400


def test_query_count_does_not_grow_with_the_batch(
    api, sender, sms, credit_card, notice_en, django_assert_max_num_queries
):
    customer = _granted("+8613800000008", sms, credit_card, notice_en)
    FrequencyCap.objects.create(customer=customer, channel=sms, max_per_week=5)
    services.contactability_publish(customer_ids=[customer.pk])
    _check(api, ["+8613800000008"])  # last_used_at written once
    ApiClient.objects.filter(pk=sender[0].pk).update(rate_per_minute=10_000)
    small = ["+8613800000008", "bad"]
    big = small + [f"+86139{i:08d}" for i in range(998)]
    with django_assert_max_num_queries(7) as small_ctx:
        assert _check(api, small).status_code == 200
    with django_assert_max_num_queries(7) as big_ctx:
        response = _check(api, big)
    assert response.status_code == 200
    assert len(response.json()["results"]) == 1000
    assert len(big_ctx.captured_queries) == len(small_ctx.captured_queries)


def test_at_defaults_to_now(api):
    body = api.post(
        CHECK,
        {"channel": "sms", "topic": "credit_card", "recipients": ["+8613800000001"]},
        format="json",
    ).json()
    at = datetime.fromisoformat(body["at"].replace("Z", "+00:00"))
    assert abs(at - timezone.now()) < timedelta(minutes=1)


def test_batch_blind_index_matches_the_contact_point_index():
    from consent.crypto import blind_indexer
    from consent.models import ContactPoint

    index_for = blind_indexer("phone:")
    assert index_for("+8613800000001") == ContactPoint.index_for(
        "phone", "+8613800000001"
    )
