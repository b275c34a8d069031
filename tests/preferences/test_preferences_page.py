from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from consent.models import (
    Channel,
    ConsentEvent,
    ConsentState,
    Contactability,
    NoticeVersion,
    OptOut,
    SuppressionChange,
    Topic,
)
from preferences.auth import SESSION_KEY
from preferences.services import MSG_NOTICE_OUTDATED
from tests.factories import add_email, grant

pytestmark = pytest.mark.django_db

PAGE = "/account/preferences/"


def _save(client, *, shown=(), cells=(), notice):
    return client.post(
        PAGE, {"notice_version": notice.pk, "shown": list(shown), "cell": list(cells)}
    )


def _sms_key():
    return Contactability.objects.get(channel__code="sms")


def test_page_shows_every_cell_labelled_with_the_notice(portal_client, notice_en):
    page = portal_client.get(PAGE).content.decode()
    assert notice_en.text in page
    assert 'id="cell-sms-credit_card"' in page
    assert 'for="cell-sms-credit_card"' in page
    # The notice is shown once, not read out again as each switch's description.
    assert page.count(notice_en.text) == 1
    assert 'aria-describedby="notice-text"' not in page
    assert f'name="notice_version" value="{notice_en.pk}"' in page
    assert "Repayment reminders" in page  # service topics shown as information
    assert 'value="sms:repayment_reminder"' not in page


def test_switching_a_cell_on_grants_with_evidence_and_feeds(
    portal_client, customer, notice_en
):
    before = SuppressionChange.objects.count()
    response = _save(portal_client, cells=["sms:credit_card"], notice=notice_en)
    assert response.status_code == 302
    event = ConsentEvent.objects.filter(action="grant").get()
    assert (event.channel.code, event.topic.code) == ("sms", "credit_card")
    assert (
        event.source == "portal" and event.actor == f"customer:{customer.external_ref}"
    )
    assert event.notice_version == notice_en
    assert event.evidence["ip"] == "127.0.0.1"
    assert SuppressionChange.objects.count() == before + 1
    assert "credit_card" in _sms_key().permitted_topics
    assert SuppressionChange.objects.last().suppressed is False


def test_only_changed_cells_become_events(
    portal_client, customer, sms, credit_card, personal_loan, notice_en
):
    add_email(customer, "holder@example.com")
    grant(customer, sms, credit_card, notice_en)
    grant(customer, sms, personal_loan, notice_en)
    count = ConsentEvent.objects.count()
    _save(
        portal_client,
        shown=["sms:credit_card", "sms:personal_loan"],
        cells=["sms:credit_card", "email:wealth"],
        notice=notice_en,
    )
    new = list(ConsentEvent.objects.filter(seq__gt=count).order_by("seq"))
    assert [(e.action, e.channel.code, e.topic.code) for e in new] == [
        ("grant", "email", "wealth"),
        ("withdraw", "sms", "personal_loan"),
    ]
    assert ConsentState.objects.get(channel=sms, topic=personal_loan).status == (
        "withdrawn"
    )


def test_saving_without_changes_writes_nothing(
    portal_client, customer, sms, credit_card, notice_en
):
    grant(customer, sms, credit_card, notice_en)
    count = ConsentEvent.objects.count()
    response = _save(
        portal_client,
        shown=["sms:credit_card"],
        cells=["sms:credit_card"],
        notice=notice_en,
    )
    assert response.status_code == 302
    assert ConsentEvent.objects.count() == count


def test_outdated_notice_changes_nothing(portal_client, notice_en):
    NoticeVersion.objects.create(
        code="marketing",
        version=2,
        language="en",
        title="New",
        text="New wording",
        effective_from=timezone.now(),
    )
    response = _save(portal_client, cells=["sms:credit_card"], notice=notice_en)
    assert ConsentEvent.objects.filter(action="grant").count() == 0
    page = portal_client.get(response.url).content.decode()
    assert str(MSG_NOTICE_OUTDATED) in page
    assert "New wording" in page


def test_missing_notice_version_changes_nothing(portal_client):
    response = portal_client.post(PAGE, {"cell": ["sms:credit_card"]})
    assert response.status_code == 302
    assert ConsentEvent.objects.filter(action="grant").count() == 0


def test_post_without_csrf_token_changes_nothing(customer, phone_point, notice_en):
    client = Client(enforce_csrf_checks=True)
    session = client.session
    session[SESSION_KEY] = customer.pk
    session.save()
    response = _save(client, cells=["sms:credit_card"], notice=notice_en)
    assert response.status_code == 403
    assert ConsentEvent.objects.filter(action="grant").count() == 0


def test_stop_all_then_deliberately_want_marketing_again(
    portal_client, customer, sms, credit_card, notice_en
):
    grant(customer, sms, credit_card, notice_en)
    # The button only asks: nothing is stopped before the customer confirms.
    confirm = portal_client.post(reverse("portal:stop_all"))
    assert (
        confirm.status_code == 200 and "Stop all marketing?" in confirm.content.decode()
    )
    assert not OptOut.objects.filter(customer=customer).exists()
    response = portal_client.post(reverse("portal:stop_all"), {"confirm": "yes"})
    assert response.status_code == 302
    assert OptOut.objects.filter(customer=customer).exists()
    key = _sms_key()
    assert key.suppressed and "opt_out_all" in key.reasons
    assert SuppressionChange.objects.filter(key=key).last().suppressed is True
    page = portal_client.get(PAGE).content.decode()
    assert "I want marketing again" in page and " disabled" in page
    # Stopping twice records nothing new.
    portal_client.post(reverse("portal:stop_all"), {"confirm": "yes"})
    assert ConsentEvent.objects.filter(action="opt_out_all").count() == 1
    # A cell posted while stopped is refused, nothing is granted.
    _save(portal_client, cells=["sms:credit_card"], notice=notice_en)
    assert ConsentEvent.objects.filter(action="grant").count() == 1

    # Without the tick nothing changes.
    portal_client.post(reverse("portal:marketing_again"), {})
    assert OptOut.objects.filter(customer=customer).exists()
    # Nothing ticked among the earlier choices: nothing is switched back on.
    portal_client.post(
        reverse("portal:marketing_again"),
        {"confirm": "yes", "notice_version": notice_en.pk},
    )
    assert not OptOut.objects.filter(customer=customer).exists()
    assert ConsentEvent.objects.filter(action="opt_in_all").count() == 1
    assert ConsentState.objects.granted().count() == 0  # nothing switched on by itself
    _save(portal_client, cells=["sms:credit_card"], notice=notice_en)
    assert "credit_card" in _sms_key().permitted_topics


def test_query_count_is_fixed_whatever_the_catalogue(
    portal_client, django_assert_max_num_queries
):
    # One of them: the kinds of confirmed address (switches without one are off).
    with django_assert_max_num_queries(11):
        assert portal_client.get(PAGE).status_code == 200
    for n in range(6):
        Channel.objects.create(
            code=f"extra{n}", address_kind="phone", name_en=f"X{n}", name_zh=f"X{n}"
        )
        Topic.objects.create(
            code=f"extra_topic{n}", kind="marketing", name_en=f"T{n}", name_zh=f"T{n}"
        )
    with django_assert_max_num_queries(11):
        page = portal_client.get(PAGE)
    assert 'id="cell-extra5-extra_topic5"' in page.content.decode()


def _signed_in(customer) -> Client:
    browser = Client()
    session = browser.session
    session[SESSION_KEY] = customer.pk
    session.save()
    return browser


def _add_confirmed(customer, kind: str, address: str) -> None:
    from consent.ledger import Actor
    from consent.services import contact_point_add

    contact_point_add(
        customer=customer,
        kind=kind,
        address=address,
        source="staff",
        actor=Actor.system("test"),
        verified=True,
    )


def test_saving_the_matrix_costs_the_same_queries_for_one_cell_and_for_all(
    notice_en,
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.factories import CustomerFactory, add_phone

    cells = [
        f"{channel}:{topic}"
        for channel in Channel.objects.filter(is_active=True).values_list(
            "code", flat=True
        )
        for topic in Topic.objects.filter(
            is_active=True, kind=Topic.Kind.MARKETING
        ).values_list("code", flat=True)
    ]
    assert len(cells) == 48
    counts = []
    for n, chosen in enumerate((cells[:1], cells)):
        customer = CustomerFactory(preferred_language="en")
        add_phone(customer, f"+86138001380{n:02d}")
        add_email(customer, f"matrix{n}@example.com")
        _add_confirmed(customer, "push", f"push-token-{n}")
        _add_confirmed(customer, "wechat", f"openid-{n}")
        _add_confirmed(customer, "postal", f"{n} Bank Street")
        browser = _signed_in(customer)
        with CaptureQueriesContext(connection) as queries:
            response = _save(browser, cells=chosen, notice=notice_en)
        assert response.status_code == 302
        assert ConsentState.objects.filter(customer=customer).count() == len(chosen)
        counts.append(len(queries))
    assert counts[0] == counts[1], counts
    assert counts[1] <= 40, counts
