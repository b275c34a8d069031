"""The portal in a real browser: every change shows up in the suppression feed."""

from __future__ import annotations

import re

import pytest

from consent import links
from consent.models import Channel, ContactPoint, SuppressionChange, Topic
from tests.factories import CustomerFactory, add_phone, grant

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def _code(outbox) -> str:
    return re.search(r"\b(\d{6})\b", outbox[-1].body).group(1)


def _sms_rows(phone: str):
    return SuppressionChange.objects.filter(
        channel__code="sms", key__identifier=phone
    ).order_by("seq")


def _sign_in(page, base: str, identifier: str, outbox) -> None:
    page.goto(f"{base}/sign-in/")
    page.get_by_label(re.compile("Mobile number or e-mail")).fill(identifier)
    page.get_by_role("button", name="Send me a code").click()
    page.get_by_label("6-digit code").fill(_code(outbox))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/account/")


def test_sign_in_flip_stop_unsubscribe_and_not_me(
    catalogue, browser, live_server, outbox, notice_en_live
):
    base = live_server.url
    sms = Channel.objects.get(code="sms")
    credit_card = Topic.objects.get(code="credit_card")
    customer = CustomerFactory(preferred_language="en")
    add_phone(customer, "13800138000")
    grant(customer, sms, credit_card, notice_en_live)
    phone = "+8613800138000"

    page = browser.new_page(viewport=DESKTOP)
    page.set_default_timeout(10_000)
    _sign_in(page, base, "13800138000", outbox)
    assert "Hello" in page.content()

    # Flip a cell: personal loans by SMS.
    page.goto(f"{base}/account/preferences/")
    seq = _sms_rows(phone).last().seq
    page.get_by_role("switch", name=re.compile(r"SMS\W+Personal loans")).check()
    page.get_by_role("button", name="Save my choices").click()
    page.get_by_text(re.compile("Saved: 1 change")).wait_for()
    row = _sms_rows(phone).last()
    assert row.seq > seq and "personal_loan" in row.permitted_topics

    # Stop all marketing, after confirming.
    page.get_by_role("link", name="Stop all marketing").click()
    page.get_by_role("button", name="Yes, stop all marketing").click()
    page.get_by_text("All marketing is stopped").wait_for()
    row = _sms_rows(phone).last()
    assert row.suppressed and "opt_out_all" in row.reasons
    page.close()

    # One-click unsubscribe, no sign-in, for another customer.
    other = CustomerFactory(preferred_language="en")
    add_phone(other, "13700137000")
    grant(other, sms, credit_card, notice_en_live)
    assert _sms_rows("+8613700137000").last().suppressed is False
    anonymous = browser.new_context(viewport=PHONE)
    page = anonymous.new_page()
    page.goto(
        base + links.unsubscribe_path(customer=other, channel=sms, topic=credit_card)
    )
    page.get_by_role("button", name="Only Credit cards by SMS").click()
    page.get_by_text("You are unsubscribed").wait_for()
    row = _sms_rows("+8613700137000").last()
    assert row.suppressed and "withdrawn" in row.reasons

    # "Not me" for the second number.
    page.goto(f"{base}/not-me/")
    page.get_by_label(re.compile("received the message")).fill("13700137000")
    page.get_by_role("button", name="Send me a code").click()
    page.get_by_label("6-digit code").fill(_code(outbox))
    page.get_by_role("button", name="Stop all messages to this number").click()
    page.get_by_text("Messages stopped").first.wait_for()
    assert ContactPoint.objects.get(customer=other).status == "not_me"
    assert _sms_rows("+8613700137000").last().reasons == ["not_me"]
    anonymous.close()


PAGES_PUBLIC = [
    ("home", "/"),
    ("sign-in", "/sign-in/"),
    ("not-me", "/not-me/"),
    ("next-of-kin", "/next-of-kin/"),
    ("next-of-kin-care-pause", "/next-of-kin/care-pause/"),
]
PAGES_ACCOUNT = [
    ("dashboard", "/account/"),
    ("preferences", "/account/preferences/"),
    ("contact-settings", "/account/contact-settings/"),
    ("care-pause", "/account/care-pause/"),
    ("history", "/account/history/"),
    ("contact-points", "/account/contact-points/"),
    ("my-data", "/account/my-data/"),
]


UNLABELLED = """() => [...document.querySelectorAll(
    'input:not([type=hidden]), select, textarea, button')]
    .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')
                 && !(e.tagName === 'BUTTON' && e.textContent.trim()))
    .map(e => e.name || e.id)"""


def _check_accessible(page) -> None:
    assert page.evaluate(UNLABELLED) == []
    assert page.locator("h1").count() == 1


def test_screenshots_in_both_languages(
    catalogue, browser, live_server, outbox, shoot, notice_en_live
):
    base = live_server.url
    customer = CustomerFactory(preferred_language="en")
    customer.display_name = "Alice Chen"
    customer.save()
    add_phone(customer, "13800138000")
    for channel, topic in (("sms", "credit_card"), ("email", "wealth")):
        grant(
            customer,
            Channel.objects.get(code=channel),
            Topic.objects.get(code=topic),
            notice_en_live,
        )
    unsubscribe = links.unsubscribe_path(
        customer=customer,
        channel=Channel.objects.get(code="sms"),
        topic=Topic.objects.get(code="credit_card"),
    )
    taken = []
    for viewport_name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        context = browser.new_context(viewport=viewport)
        page = context.new_page()
        _sign_in(page, base, "13800138000", outbox)
        for language in ("en", "zh-hans"):
            context.add_cookies(
                [{"name": "django_language", "value": language, "url": base}]
            )
            for name, path in PAGES_ACCOUNT:
                page.goto(base + path)
                _check_accessible(page)
                taken.append(shoot(page, f"{language}-{viewport_name}-{name}"))
        anonymous = browser.new_context(viewport=viewport)
        public = anonymous.new_page()
        for language in ("en", "zh-hans"):
            anonymous.add_cookies(
                [{"name": "django_language", "value": language, "url": base}]
            )
            for name, path in [*PAGES_PUBLIC, ("unsubscribe", unsubscribe)]:
                public.goto(base + path)
                _check_accessible(public)
                assert public.locator("html").get_attribute("lang") in ("en", "zh-Hans")
                taken.append(shoot(public, f"{language}-{viewport_name}-{name}"))
        anonymous.close()
        context.close()
    assert all(path.stat().st_size > 10_000 for path in taken)
