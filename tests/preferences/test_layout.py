"""Site-wide layout: languages, navigation, and nothing the strict CSP would block."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

PUBLIC = ["/", "/sign-in/", "/not-me/", "/next-of-kin/"]
ACCOUNT = [
    "portal:dashboard",
    "portal:preferences",
    "portal:marketing_again",
    "portal:contact_settings",
    "portal:frequency",
    "portal:care_pause",
    "portal:personalisation",
    "portal:contact_points",
    "portal:contact_point_add",
    "portal:history",
    "portal:my_data",
]


def _assert_csp_clean(html: str) -> None:
    assert not re.search(r"\sstyle=", html)
    assert "<script" not in html
    assert "<style" not in html
    assert "http://" not in html and "https://" not in html  # no CDN


@pytest.mark.parametrize("path", PUBLIC)
def test_public_pages_render_without_inline_code(client, path):
    response = client.get(path)
    assert response.status_code == 200
    _assert_csp_clean(response.content.decode())
    assert "Content-Security-Policy" in response


@pytest.mark.parametrize("name", ACCOUNT)
def test_account_pages_render_in_both_languages(portal_client, name):
    page = portal_client.get(reverse(name), follow=True).content.decode()
    _assert_csp_clean(page)
    assert 'aria-current="page"' in page
    portal_client.cookies["django_language"] = "zh-hans"
    page = portal_client.get(reverse(name), follow=True).content.decode()
    assert '<html lang="zh-Hans">' in page and "授权与偏好中心" in page


def test_accept_language_and_switcher(client):
    page = client.get("/", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9").content.decode()
    assert "由您决定我们向您发送哪些信息" in page
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert response.status_code == 302
    page = client.get("/", HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert "You decide which messages we send you" in page


def test_landing_links_every_path_without_an_account(client):
    page = client.get("/").content.decode()
    for name in (
        "portal:sign_in",
        "portal:not_me",
        "portal:next_of_kin",
        "complaints:portal_create",
    ):
        assert f'href="{reverse(name)}"' in page


def test_signed_in_navigation_links_complaints(portal_client):
    page = portal_client.get(reverse("portal:dashboard")).content.decode()
    assert f'href="{reverse("complaints:portal_list")}"' in page


def test_account_pages_are_never_cached(portal_client):
    response = portal_client.get(reverse("portal:preferences"))
    assert "no-store" in response["Cache-Control"]
