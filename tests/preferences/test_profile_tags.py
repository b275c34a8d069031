"""The customer sees every profile tag bank systems pushed and clears one or all of
them, with a ledger event; clearing can also refuse personalisation (PIPL art. 24)."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from consent.api_clients import api_client_create
from consent.models import ConsentEvent, Contactability, ProfileTag
from preferences.models import Preference, SettingChange
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

PAGE = "/account/personalisation/"
CLEAR = "/account/personalisation/tags/clear/"


def _tag(customer, client, code, label):
    return ProfileTag.objects.create(
        customer=customer, client=client, code=code, label=label, set_at=timezone.now()
    )


@pytest.fixture
def tags(customer):
    crm, _key = api_client_create(
        name="crm", channel_codes=["email"], may_push_profile_tags=True
    )
    cards, _key = api_client_create(
        name="cards-analytics", channel_codes=["sms"], may_push_profile_tags=True
    )
    return [
        _tag(customer, crm, "young_family", "Young family"),
        _tag(customer, cards, "traveller", "Travels abroad often"),
    ]


def test_the_page_shows_every_tag_with_its_system_and_time(portal_client, tags):
    other = CustomerFactory()
    _tag(other, tags[0].client, "secret", "Someone else's tag")
    page = portal_client.get(PAGE).content.decode()
    for tag in tags:
        assert tag.label in page
        assert tag.client.name in page
        assert f'name="tags-tag" value="{tag.pk}"' in page
        assert timezone.localtime(tag.set_at).strftime("%Y-%m-%d %H:%M") in page
    assert "Someone else" not in page
    assert "Clear all my profile tags" in page
    assert 'name="tags-refuse"' in page


def test_clearing_one_tag_is_a_ledger_event(portal_client, customer, tags):
    response = portal_client.post(CLEAR, {"tags-tag": tags[0].pk}, follow=True)
    assert "1 profile tag cleared." in response.content.decode()
    assert list(ProfileTag.objects.filter(customer=customer)) == [tags[1]]
    event = ConsentEvent.objects.get(action="profile_tags_cleared")
    assert event.actor == f"customer:{customer.external_ref}"
    assert event.source == "portal" and event.evidence["ip"] == "127.0.0.1"
    assert event.detail == {"count": 1, "systems": ["crm"], "scope": "one"}
    history = portal_client.get(reverse("portal:history")).content.decode()
    assert "Cleared 1 profile tag" in history


def test_clearing_all_and_refusing_personalisation_in_one_step(
    portal_client, customer, tags
):
    response = portal_client.post(CLEAR, {"tags-refuse": "on"}, follow=True)
    assert "2 profile tags cleared." in response.content.decode()
    assert not ProfileTag.objects.filter(customer=customer).exists()
    events = list(
        ConsentEvent.objects.filter(customer=customer)
        .filter(action__in=["profile_tags_cleared", "personalisation_set"])
        .order_by("seq")
    )
    assert [e.action for e in events] == ["profile_tags_cleared", "personalisation_set"]
    assert events[0].detail["systems"] == ["cards-analytics", "crm"]
    assert events[1].detail == {"allowed": False}
    assert Preference.objects.get(customer=customer).personalisation_allowed is False
    assert Contactability.objects.get(channel__code="sms").personalisation is False
    assert SettingChange.objects.filter(kind="personalisation").exists()


def test_clearing_nothing_or_another_customers_tag_changes_nothing(
    portal_client, customer
):
    other = CustomerFactory()
    crm, _key = api_client_create(
        name="crm", channel_codes=["email"], may_push_profile_tags=True
    )
    theirs = _tag(other, crm, "theirs", "Theirs")
    response = portal_client.post(CLEAR, {"tags-tag": theirs.pk}, follow=True)
    assert "There are no profile tags to clear." in response.content.decode()
    assert ProfileTag.objects.filter(pk=theirs.pk).exists()
    assert not ConsentEvent.objects.filter(action="profile_tags_cleared").exists()
    assert portal_client.post(CLEAR, {"tags-tag": "x"}).status_code == 302
    assert ProfileTag.objects.count() == 1


def test_refusing_personalisation_clears_the_tags(portal_client, customer, tags):
    portal_client.post(PAGE, {"refuse": "on"})
    assert not ProfileTag.objects.filter(customer=customer).exists()
    assert ConsentEvent.objects.get(action="profile_tags_cleared").detail["count"] == 2
    assert Preference.objects.get(customer=customer).personalisation_allowed is False


def test_the_data_export_lists_the_tags(portal_client, tags):
    data = portal_client.get(reverse("portal:export")).json()
    exported = data["preferences"]["profile_tags"]
    assert {(t["code"], t["set_by"]) for t in exported} == {
        ("young_family", "crm"),
        ("traveller", "cards-analytics"),
    }


def test_the_tags_page_speaks_chinese(portal_client, tags):
    portal_client.cookies["django_language"] = "zh-hans"
    page = portal_client.get(PAGE).content.decode()
    assert "您的画像标签" in page and "清除我的全部画像标签" in page
    response = portal_client.post(CLEAR, {"tags-tag": tags[0].pk}, follow=True)
    assert "已清除 1 个画像标签。" in response.content.decode()


def test_refusing_without_tags_from_the_tags_form(portal_client, customer):
    response = portal_client.post(CLEAR, {"tags-refuse": "on"}, follow=True)
    assert "Your choice is saved." in response.content.decode()
    assert Preference.objects.get(customer=customer).personalisation_allowed is False
    assert not ConsentEvent.objects.filter(action="profile_tags_cleared").exists()
    assert ConsentEvent.objects.filter(action="personalisation_set").exists()
