"""Every portal page through axe-core (WCAG 2.1 A and AA rules), in both languages,
on a desktop and a phone, plus the keyboard and low-vision checks axe cannot make."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from complaints.links import report_token
from consent import links
from consent import services as consent_services
from consent.api_clients import api_client_create
from consent.ledger import Actor
from consent.models import Channel, ConsentEvent, NoticeVersion, Topic
from consent.profile_tags import TagInput, profile_tags_replace
from preferences.confirm_links import confirm_token
from preferences.portal_actions import identity_check_set
from tests.factories import CustomerFactory, add_email, add_phone, grant

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
VIEWPORTS = {"desktop": DESKTOP, "phone": PHONE}
LANGUAGES = ("en", "zh-hans")
WCAG = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}
}
SHOTS = Path("/tmp/portal_shots")


def _code(outbox) -> str:
    return re.search(r"\b(\d{6})\b", outbox[-1].body).group(1)


@pytest.fixture
def axe():
    axe_sync = pytest.importorskip(
        "axe_playwright_python.sync_playwright", reason="axe-playwright-python"
    )
    return axe_sync.Axe()


@pytest.fixture
def world(catalogue, outbox):
    """A customer with something on every page: consents, settings, a complaint,
    a number marked "not me", a joint account's shared phone."""
    from complaints.services.intake import complaint_create
    from preferences import portal_actions

    notice = NoticeVersion.objects.get(code="marketing", version=1, language="en")
    sms = Channel.objects.get(code="sms")
    email = Channel.objects.get(code="email")
    credit_card = Topic.objects.get(code="credit_card")
    customer = CustomerFactory(preferred_language="en")
    customer.display_name = "Alice Chen"
    customer.save()
    add_email(customer, "alice@example.com")
    flagged = add_phone(customer, "13900139000")
    consent_services.contact_point_mark_not_me(
        contact_point=flagged, source="portal", actor=Actor.public("not_me_page")
    )
    add_phone(customer, "13600136000", verified=False)
    for channel, topic in ((sms, credit_card), (email, "wealth")):
        topic = topic if isinstance(topic, Topic) else Topic.objects.get(code=topic)
        grant(customer, channel, topic, notice)
    portal_actions.frequency_caps_save(customer=customer, caps={sms: 5})
    portal_actions.care_pause_save(
        customer=customer,
        ends_at=timezone.now() + timedelta(days=20),
        scope="marketing",
        reason="illness",
    )
    complaint = complaint_create(
        source="portal",
        description="Too many messages at night",
        actor=Actor.customer(customer),
        customer=customer,
        channel=sms,
        topic=credit_card,
        category="unwanted_marketing",
    )
    # Two holders of one phone.
    first, second = CustomerFactory(), CustomerFactory()
    for holder, tail in ((first, "1234"), (second, "5678")):
        add_phone(holder, "13800138000")
        identity_check_set(customer=holder, id_number_tail=tail)
    # Someone who stopped all marketing.
    stopped = CustomerFactory(preferred_language="en")
    add_phone(stopped, "13700137000")
    grant(stopped, sms, credit_card, notice)
    consent_services.consent_opt_out_all(
        customer=stopped, source="portal", actor=Actor.customer(stopped)
    )
    # A profile tag a bank system pushed.
    crm, _key = api_client_create(
        name="crm", channel_codes=["email"], may_push_profile_tags=True
    )
    profile_tags_replace(
        customer=customer, client=crm, tags=[TagInput("young_family", "Young family")]
    )
    unverified = customer.contact_points.get(verified_at__isnull=True)
    return {
        "customer": customer,
        "complaint": complaint,
        "confirm": reverse("portal:contact_confirm", args=[confirm_token(unverified)]),
        "flagged": flagged,
        "unverified": unverified,
        "unsubscribe": links.unsubscribe_path(
            customer=customer, channel=email, topic=Topic.objects.get(code="wealth")
        ),
        "report": reverse(
            "complaints:report",
            args=[report_token(customer=customer, channel=sms, topic=credit_card)],
        ),
    }


def _sign_in(page, base, identifier, outbox):
    page.goto(f"{base}/sign-in/")
    page.locator("input[name=identifier]").fill(identifier)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(f"{base}/sign-in/code/")
    page.locator("input[name=code]").fill(_code(outbox))
    page.locator("main form button[type=submit]").click()


def _check(axe, page, label: str, problems: list[str]) -> None:
    results = axe.run(page, options=WCAG)
    for violation in results.response["violations"]:
        targets = [n["target"] for n in violation["nodes"]][:3]
        problems.append(f"{label}: {violation['id']} {targets}")
    html_lang = page.locator("html").get_attribute("lang")
    assert html_lang in ("en", "zh-Hans"), label
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"axe-{label}.png"), full_page=True)


def test_every_portal_page_passes_axe(browser, live_server, outbox, world, axe):
    base = live_server.url
    w = world
    account_pages = [
        ("dashboard", "/account/"),
        ("preferences", "/account/preferences/"),
        ("preferences-by-channel", "/account/preferences/?by=channel"),
        ("stop-all", "/account/preferences/stop-all/"),
        ("contact-settings", "/account/contact-settings/"),
        ("frequency", "/account/frequency/"),
        ("care-pause", "/account/care-pause/"),
        ("personalisation", "/account/personalisation/"),
        ("contact-points", "/account/contact-points/"),
        ("contact-add", "/account/contact-points/add/"),
        ("contact-verify", f"/account/contact-points/{w['unverified'].pk}/verify/"),
        ("contest", f"/account/contact-points/{w['flagged'].pk}/contest/"),
        ("history", "/account/history/"),
        ("my-data", "/account/my-data/"),
        ("complaints", "/complaints/"),
        ("complaint-new", "/complaints/new/"),
        ("complaint", f"/complaints/{w['complaint'].reference}/"),
    ]
    public_pages = [
        ("home", "/"),
        ("sign-in", "/sign-in/"),
        ("not-me", "/not-me/"),
        ("next-of-kin", "/next-of-kin/"),
        ("next-of-kin-care-pause", "/next-of-kin/care-pause/"),
        ("unsubscribe", w["unsubscribe"]),
        ("link-invalid", "/u/not-a-token"),
        ("contact-confirm", w["confirm"]),
        ("contact-confirm-invalid", "/confirm/not-a-token"),
        ("report", w["report"]),
    ]
    problems: list[str] = []
    for viewport_name, viewport in VIEWPORTS.items():
        for language in LANGUAGES:
            tag = f"{language}-{viewport_name}"
            cache.clear()  # four codes per round; the hourly limit is five per IP
            cookie = [{"name": "django_language", "value": language, "url": base}]
            # Public pages, and the pages of a form sent with mistakes.
            context = browser.new_context(viewport=viewport)
            context.add_cookies(cookie)
            page = context.new_page()
            for name, path in public_pages:
                page.goto(base + path)
                _check(axe, page, f"{tag}-{name}", problems)
            page.goto(f"{base}/next-of-kin/")
            page.locator("main form button[type=submit]").click()
            page.wait_for_load_state()
            _check(axe, page, f"{tag}-next-of-kin-errors", problems)
            page.goto(f"{base}/not-me/")
            page.locator("input[name=identifier]").fill("13900139000")
            page.locator("main form button[type=submit]").click()
            page.wait_for_url(f"{base}/not-me/code/")
            _check(axe, page, f"{tag}-not-me-code", problems)
            page.goto(base + w["unsubscribe"])
            page.locator("button[value=product]").click()
            page.wait_for_load_state()
            _check(axe, page, f"{tag}-unsubscribe-done", problems)
            context.close()

            # A shared phone: the identity question and the withdraw-only page.
            context = browser.new_context(viewport=viewport)
            context.add_cookies(cookie)
            page = context.new_page()
            _sign_in(page, base, "13800138000", outbox)
            page.wait_for_url(f"{base}/sign-in/choose/")
            _check(axe, page, f"{tag}-sign-in-choose", problems)
            page.locator("main form button[type=submit]").first.click()
            page.wait_for_load_state()
            _check(axe, page, f"{tag}-sign-in-choose-errors", problems)
            page.goto(f"{base}/sign-in/shared/")
            _check(axe, page, f"{tag}-shared-identifier", problems)
            context.close()

            # Signed in.
            context = browser.new_context(viewport=viewport)
            context.add_cookies(cookie)
            page = context.new_page()
            page.goto(f"{base}/sign-in/")
            page.locator("input[name=identifier]").fill("alice@example.com")
            page.locator("main form button[type=submit]").click()
            page.wait_for_url(f"{base}/sign-in/code/")
            _check(axe, page, f"{tag}-sign-in-code", problems)
            page.locator("input[name=code]").fill(_code(outbox))
            page.locator("main form button[type=submit]").click()
            page.wait_for_url(f"{base}/account/")
            context.add_cookies(cookie)
            for name, path in account_pages:
                page.goto(base + path)
                _check(axe, page, f"{tag}-{name}", problems)
            page.goto(f"{base}/account/care-pause/")
            page.locator("input[name=until]").fill("")
            page.locator("form:has(input[name=until]) button[type=submit]").click()
            page.wait_for_load_state()
            _check(axe, page, f"{tag}-care-pause-errors", problems)
            context.close()

            # After "stop all marketing".
            context = browser.new_context(viewport=viewport)
            context.add_cookies(cookie)
            page = context.new_page()
            _sign_in(page, base, "13700137000", outbox)
            page.wait_for_url(f"{base}/account/")
            context.add_cookies(cookie)
            for name, path in (
                ("preferences-stopped", "/account/preferences/"),
                ("marketing-again", "/account/preferences/again/"),
            ):
                page.goto(base + path)
                _check(axe, page, f"{tag}-{name}", problems)
            context.close()
            outbox.clear()
    assert problems == []


def _signed_in(browser, base, outbox, identifier, viewport):
    context = browser.new_context(viewport=viewport)
    context.add_cookies([{"name": "django_language", "value": "en", "url": base}])
    page = context.new_page()
    page.set_default_timeout(10_000)
    _sign_in(page, base, identifier, outbox)
    page.wait_for_url(f"{base}/account/")
    return context, page


def _contrast(page, foreground: str, background: str) -> float:
    return page.evaluate(
        """([a, b]) => {
          const lum = (c) => {
            const [r, g, bl] = c.match(/\\d+/g).slice(0, 3).map(Number).map(v => {
              v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
            });
            return 0.2126 * r + 0.7152 * g + 0.0722 * bl;
          };
          const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p);
          return (x + 0.05) / (y + 0.05);
        }""",
        [foreground, background],
    )


def test_switches_keyboard_and_visible_state(browser, live_server, outbox, world):
    base = live_server.url
    context, page = _signed_in(browser, base, outbox, "alice@example.com", DESKTOP)
    page.goto(f"{base}/account/preferences/")
    # Alice's only confirmed address is her e-mail: the SMS switches are disabled.
    sms_switch = page.get_by_role("switch", name=re.compile(r"SMS\W+Personal loans"))
    assert sms_switch.is_disabled()
    seq = ConsentEvent.objects.order_by("seq").last().seq
    switch = page.get_by_role("switch", name=re.compile(r"E-mail\W+Credit cards"))
    # Off: a dark outline on white, at least 3:1; the word "Off" beside it.
    border = switch.evaluate("e => getComputedStyle(e).borderTopColor")
    assert _contrast(page, border, "rgb(255, 255, 255)") >= 3
    state = page.locator("label[for=cell-email-credit_card] .switch-state")
    assert state.inner_text().strip() == "Off"
    # Enter on a switch saves nothing: the page comes back as set, focus on Save.
    page.get_by_role("switch", name=re.compile(r"E-mail\W+Personal loans")).check()
    switch.focus()
    page.keyboard.press("Enter")
    page.get_by_text("Not saved yet").wait_for()
    assert not ConsentEvent.objects.filter(action="grant", seq__gt=seq).exists()
    assert page.evaluate("document.activeElement.textContent.trim()") == (
        "Save my choices"
    )
    switch = page.get_by_role("switch", name=re.compile(r"E-mail\W+Credit cards"))
    state = page.locator("label[for=cell-email-credit_card] .switch-state")
    assert page.get_by_role(
        "switch", name=re.compile(r"E-mail\W+Personal loans")
    ).is_checked()
    # Space flips a switch, and the word follows.
    switch.focus()
    page.keyboard.press("Space")
    assert switch.is_checked() and state.inner_text().strip() == "On"
    # The save button is on screen while the switches are.
    save = page.get_by_role("button", name="Save my choices")
    box = save.bounding_box()
    assert 0 <= box["y"] and box["y"] + box["height"] <= DESKTOP["height"]
    save.click()
    page.get_by_text(re.compile("Saved: 2 change")).wait_for()
    # Each switch is described by nothing: the notice is read once, above.
    assert switch.get_attribute("aria-describedby") is None
    context.close()


def test_focus_ring_on_tiles_is_navy(browser, live_server, outbox, world):
    base = live_server.url
    context, page = _signed_in(browser, base, outbox, "alice@example.com", DESKTOP)
    tile = page.locator("a.tile").first
    tile.focus()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")
    style = tile.evaluate(
        "e => [getComputedStyle(e).outlineColor, getComputedStyle(e).outlineWidth]"
    )
    assert style[1] == "3px"
    assert _contrast(page, style[0], "rgb(243, 245, 249)") >= 3  # page background
    context.close()


def test_phone_menu_keeps_focus_and_current_page_in_view(
    browser, live_server, outbox, world
):
    base = live_server.url
    context, page = _signed_in(browser, base, outbox, "alice@example.com", PHONE)
    page.goto(f"{base}/account/history/")
    current = page.locator(".site-nav a[aria-current=page]")
    box = current.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    links = page.locator(".site-nav a")
    for index in range(links.count()):
        link = links.nth(index)
        link.focus()
        box = link.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], index
        # The ring is not clipped by a scrolling strip.
        overflow = link.evaluate("e => getComputedStyle(e.closest('ul')).overflowX")
        assert overflow == "visible"
    context.close()


def test_phone_table_cells_show_their_labels(browser, live_server, outbox, world):
    base = live_server.url
    context, page = _signed_in(browser, base, outbox, "alice@example.com", PHONE)
    for path in ("/account/history/", "/account/contact-points/", "/complaints/"):
        page.goto(base + path)
        cell = page.locator("table.table-stack tbody td[data-label]").first
        before = cell.evaluate("e => getComputedStyle(e, '::before').content")
        assert cell.get_attribute("data-label") in before, path
    context.close()


def test_error_summary_takes_focus_and_links_the_fields(
    browser, live_server, outbox, world
):
    base = live_server.url
    context, page = _signed_in(browser, base, outbox, "alice@example.com", DESKTOP)
    page.goto(f"{base}/account/care-pause/")
    page.locator("input[name=until]").fill("")
    page.locator("form:has(input[name=until]) button[type=submit]").click()
    page.wait_for_load_state()
    assert page.title().startswith("Error:")
    focused = page.evaluate("document.activeElement.className")
    assert "error-summary" in focused
    page.locator(".error-summary a[href='#id_until']").click()
    assert page.evaluate("document.activeElement.name") == "until"
    context.close()


def test_stop_all_asks_first_and_restores_in_one_step(
    browser, live_server, outbox, world
):
    from consent.models import ConsentState, OptOut

    customer = world["customer"]
    base = live_server.url
    context, page = _signed_in(browser, base, outbox, "alice@example.com", PHONE)
    page.goto(f"{base}/account/preferences/")
    page.get_by_role("link", name="Stop all marketing").click()
    page.wait_for_url(f"{base}/account/preferences/stop-all/")
    assert not OptOut.objects.filter(customer=customer).exists()
    page.get_by_role("button", name="Yes, stop all marketing").click()
    page.get_by_text("All marketing is stopped").wait_for()
    assert not ConsentState.objects.granted().filter(customer=customer).exists()
    page.get_by_role("link", name="I want marketing again").click()
    # The complaint withdrew SMS credit cards; e-mail wealth was still on.
    boxes = page.locator("input[name=restore]")
    assert boxes.count() == 1 and boxes.first.is_checked()
    page.get_by_label("I want to be able to receive marketing again.").check()
    page.get_by_role("button", name="Continue").click()
    page.get_by_text(re.compile("1 earlier choice is switched back on")).wait_for()
    assert ConsentState.objects.granted().filter(customer=customer).count() == 1
    context.close()
