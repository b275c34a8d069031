"""The consent core in admin: everything visible, the evidence untouchable."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from consent.models import ConsentEvent, SuppressionChange

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser_http(staff_user, otp_admin_client):
    call_command("seed_demo", stdout=io.StringIO())
    return otp_admin_client(staff_user(is_superuser=True, username="root"))


@pytest.mark.parametrize(
    "url, expected",
    [
        ("/admin/consent/customer/", "DEMO0001"),
        ("/admin/consent/consentstate/", "credit_card"),
        ("/admin/consent/consentevent/", "grant"),
        ("/admin/consent/suppressionchange/", "repayment_reminder"),
        ("/admin/consent/contactability/", "security_alert"),
        ("/admin/consent/channel/", "wechat"),
        ("/admin/consent/noticeversion/", "marketing"),
    ],
)
def test_demo_data_is_visible_in_admin(superuser_http, url, expected):
    response = superuser_http.get(url)
    assert response.status_code == 200
    assert expected in response.content.decode()


def test_ledger_and_feed_cannot_be_added_changed_or_deleted_even_by_a_superuser(
    superuser_http,
):
    event = ConsentEvent.objects.order_by("seq").first()
    change = SuppressionChange.objects.order_by("seq").first()
    for base, pk in (("consentevent", event.pk), ("suppressionchange", change.seq)):
        assert superuser_http.get(f"/admin/consent/{base}/add/").status_code == 403
        assert (
            superuser_http.post(
                f"/admin/consent/{base}/{pk}/delete/", {"post": "yes"}
            ).status_code
            == 403
        )
        page = superuser_http.get(f"/admin/consent/{base}/{pk}/change/")
        assert page.status_code == 200
        assert b'name="_save"' not in page.content
    assert ConsentEvent.objects.filter(pk=event.pk).exists()


def test_changelists_use_a_fixed_number_of_queries(
    superuser_http, django_assert_max_num_queries
):
    for url in (
        "/admin/consent/consentevent/",
        "/admin/consent/suppressionchange/",
        "/admin/consent/consentstate/",
    ):
        with django_assert_max_num_queries(25):
            assert superuser_http.get(url).status_code == 200
