from __future__ import annotations

import time
from datetime import timedelta
from io import StringIO

import pytest
from django.core import signing
from django.core.management import call_command
from django.test import Client

from consent import links
from consent.models import ConsentEvent, ConsentState, Contactability, SuppressionChange
from tests.factories import grant

pytestmark = pytest.mark.django_db


@pytest.fixture
def granted(customer, phone_point, sms, credit_card, notice_en):
    grant(customer, sms, credit_card, notice_en)
    return customer


@pytest.fixture
def path(granted, sms, credit_card):
    return links.unsubscribe_path(customer=granted, channel=sms, topic=credit_card)


def _state(customer, sms, credit_card):
    return ConsentState.objects.get(customer=customer, channel=sms, topic=credit_card)


def test_url_is_absolute_and_shows_no_personal_data(
    granted, sms, credit_card, settings
):
    settings.SITE_BASE_URL = "https://prefs.example.cn/"
    url = links.unsubscribe_url(customer=granted, channel=sms, topic=credit_card)
    assert url.startswith("https://prefs.example.cn/u/")
    assert granted.external_ref not in url and "13800138000" not in url


def test_get_shows_a_confirm_page_and_changes_nothing(
    client, path, granted, sms, credit_card
):
    response = client.get(path)
    assert response.status_code == 200
    assert "Credit cards" in response.content.decode()
    assert _state(granted, sms, credit_card).status == "granted"


def test_post_applies_with_an_undo(client, path, granted, sms, credit_card, notice_en):
    before = SuppressionChange.objects.count()
    response = client.post(path)
    assert response.status_code == 200
    page = response.content.decode()
    assert "You are unsubscribed" in page and "Undo" in page
    event = ConsentEvent.objects.filter(action="withdraw").get()
    assert event.source == "one_click" and event.evidence["via"] == "link_page"
    assert _state(granted, sms, credit_card).status == "withdrawn"
    assert SuppressionChange.objects.count() > before
    assert Contactability.objects.get(channel=sms).suppressed

    undo = page.split('name="undo" value="')[1].split('"')[0]
    response = client.post(
        path + "/undo", {"undo": undo, "notice_version": notice_en.pk}
    )
    assert "again" in response.content.decode()
    assert _state(granted, sms, credit_card).status == "granted"
    assert "credit_card" in Contactability.objects.get(channel=sms).permitted_topics


def test_rfc8058_one_click_post_needs_no_cookie_or_csrf(
    path, granted, sms, credit_card
):
    client = Client(enforce_csrf_checks=True)
    response = client.post(path, {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert not response.cookies.get("sessionid")
    assert _state(granted, sms, credit_card).status == "withdrawn"
    event = ConsentEvent.objects.filter(action="withdraw").get()
    assert event.evidence["via"] == "rfc8058"
    assert SuppressionChange.objects.last().suppressed is True


def test_repeated_click_adds_nothing(client, path):
    client.post(path)
    client.post(path)
    assert ConsentEvent.objects.filter(action="withdraw").count() == 1


@pytest.mark.parametrize(
    "mangle", [lambda p: p[:-3] + "abc", lambda p: p + "x", lambda p: "/u/not-a-token"]
)
def test_tampered_token_gets_a_friendly_page(
    client, path, mangle, granted, sms, credit_card
):
    for method in (client.get, client.post):
        response = method(mangle(path))
        assert response.status_code == 400
        assert "This link does not work" in response.content.decode()
    assert _state(granted, sms, credit_card).status == "granted"


def test_token_for_a_service_topic_is_refused(client, granted, sms):
    from consent.models import Topic

    service = Topic.objects.get(code="security_alert")
    path = links.unsubscribe_path(customer=granted, channel=sms, topic=service)
    assert client.post(path).status_code == 400


def test_links_last_at_least_sixty_days(client, granted, sms, credit_card, monkeypatch):
    real = time.time
    monkeypatch.setattr(
        signing.time, "time", lambda: real() - timedelta(days=61).total_seconds()
    )
    path = links.unsubscribe_path(customer=granted, channel=sms, topic=credit_card)
    monkeypatch.setattr(signing.time, "time", real)
    assert client.post(path).status_code == 200
    assert _state(granted, sms, credit_card).status == "withdrawn"


def test_forged_undo_is_refused(client, path, granted, sms, credit_card, notice_en):
    client.post(path)
    response = client.post(
        path + "/undo", {"undo": "forged", "notice_version": notice_en.pk}
    )
    assert response.status_code == 400
    assert _state(granted, sms, credit_card).status == "withdrawn"


def test_command_prints_the_link(granted, settings):
    settings.SITE_BASE_URL = "https://prefs.example.cn"
    out = StringIO()
    call_command(
        "unsubscribe_link",
        "--customer",
        granted.external_ref,
        "--channel",
        "sms",
        "--topic",
        "credit_card",
        stdout=out,
    )
    url = out.getvalue().strip()
    assert url.startswith("https://prefs.example.cn/u/")
    target = links.unsubscribe_target(url.rsplit("/", 1)[1])
    assert target.customer == granted and target.topic.code == "credit_card"


def test_signed_token_with_odd_content_is_refused(client):
    token = signing.dumps({"c": "abc", "ch": [], "t": None}, salt=links.SALT)
    response = client.post(f"/u/{token}")
    assert response.status_code == 400
    assert ConsentEvent.objects.count() == 0
