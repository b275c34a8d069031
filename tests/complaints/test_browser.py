"""The admin queue, a workflow button and the statistics page in headless Chromium:
no CSP violation (charts are SVG without inline styles), charts drawn, button works."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from django.apps import apps
from django.core.cache import cache
from django.db import connections
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_static.models import StaticDevice

from backoffice.roles import SUPERVISOR
from complaints import services
from complaints.models import Complaint

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture
def chromium(monkeypatch):
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium; skipped.")
    sync_api = pytest.importorskip("playwright.sync_api")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox"]
        )
        yield browser
        browser.close()
        connections.close_all()


@pytest.fixture
def seeded(transactional_db):
    """A flush may have emptied the catalogue: put the seeded rows back."""
    importlib.import_module("consent.migrations.0002_seed_catalogue").seed(apps, None)
    cache.clear()


def _staff_cookie(make_staff) -> str:
    user = make_staff("sup", SUPERVISOR)
    device = StaticDevice.objects.create(user=user, name="t", confirmed=True)
    client = Client()
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client.cookies["sessionid"].value


def test_admin_queue_button_and_charts_in_a_browser(
    seeded, chromium, live_server, make_staff
):
    from consent.models import Channel
    from tests.factories import CustomerFactory, add_phone

    customer = CustomerFactory()
    add_phone(customer, "13800138000")
    complaint = services.complaint_create(
        source="portal",
        description="每天都发信用卡短信，太频繁了",
        actor="customer:x",
        customer=customer,
        channel=Channel.objects.get(code="sms"),
    )
    services.complaint_acknowledge(complaint=complaint, actor="system:test")
    cookie = _staff_cookie(make_staff)

    context = chromium.new_context(locale="en-GB")
    context.add_cookies(
        [{"name": "sessionid", "value": cookie, "url": live_server.url}]
    )
    page = context.new_page()
    problems: list[str] = []
    page.on(
        "console",
        lambda m: (
            problems.append(m.text)
            if m.type == "error" and "favicon" not in m.text
            else None
        ),
    )
    page.on("pageerror", lambda e: problems.append(str(e)))

    page.goto(f"{live_server.url}/admin/complaints/complaint/?queue=unassigned")
    with page.expect_navigation():
        page.get_by_role("link", name=complaint.reference).click()
    with page.expect_navigation():
        page.get_by_role("button", name="Take this complaint").click()
    assert page.locator(".messagelist .success").count() == 1
    assert Complaint.objects.get(pk=complaint.pk).assignee.username == "sup"

    page.goto(f"{live_server.url}/admin/complaints/complaint/statistics/")
    assert page.locator("svg.chart").count() >= 4
    assert page.locator("svg.chart rect").count() >= 2
    assert not [p for p in problems if "404" not in p], problems
    context.close()
