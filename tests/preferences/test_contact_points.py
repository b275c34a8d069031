from __future__ import annotations

import pytest
from django.urls import reverse

from consent.models import ConsentEvent, Contactability, ContactPoint
from preferences.services import MSG_CODE_WRONG, MSG_LAST_VERIFIED

pytestmark = pytest.mark.django_db


def test_add_then_verify_by_code(portal_client, customer, outbox, last_code):
    response = portal_client.post(
        reverse("portal:contact_point_add"),
        {"kind": "email", "address": "New@Example.com"},
    )
    point = ContactPoint.objects.get(customer=customer, kind="email")
    assert response.url == reverse("portal:contact_point_verify", args=[point.pk])
    assert point.address == "new@example.com" and not point.is_verified
    assert outbox[-1].to == "new@example.com"
    # Until its holder proves it, the address is nobody's: nothing is published.
    assert not Contactability.objects.filter(channel__code="email").exists()

    response = portal_client.post(response.url, {"code": last_code()})
    assert response.status_code == 302
    point.refresh_from_db()
    assert point.is_verified
    assert Contactability.objects.filter(channel__code="email").exists()
    assert ConsentEvent.objects.filter(
        action="contact_verified", contact_point=point
    ).exists()


def test_invalid_phone_is_refused_and_nothing_added(portal_client, customer, outbox):
    response = portal_client.post(
        reverse("portal:contact_point_add"), {"kind": "phone", "address": "12345"}
    )
    assert response.status_code == 200
    assert "Enter a valid phone number" in response.content.decode()
    assert customer.contact_points.count() == 1
    assert outbox == []


def test_duplicate_address_is_refused(portal_client, customer):
    response = portal_client.post(
        reverse("portal:contact_point_add"), {"kind": "phone", "address": "13800138000"}
    )
    assert response.status_code == 200
    assert "already on file" in response.content.decode()


def test_wrong_verification_code_leaves_it_unverified(
    portal_client, customer, last_code
):
    portal_client.post(
        reverse("portal:contact_point_add"), {"kind": "phone", "address": "13912345678"}
    )
    point = customer.contact_points.get(kind="phone", verified_at__isnull=True)
    code = last_code()
    wrong = "000000" if code != "000000" else "999999"
    response = portal_client.post(
        reverse("portal:contact_point_verify", args=[point.pk]), {"code": wrong}
    )
    assert str(MSG_CODE_WRONG) in response.content.decode()
    point.refresh_from_db()
    assert not point.is_verified


def test_remove_a_contact_point(portal_client, customer):
    portal_client.post(
        reverse("portal:contact_point_add"), {"kind": "phone", "address": "13912345678"}
    )
    point = customer.contact_points.get(verified_at__isnull=True)
    response = portal_client.post(
        reverse("portal:contact_point_remove", args=[point.pk])
    )
    assert response.status_code == 302
    point.refresh_from_db()
    assert point.is_removed
    assert ConsentEvent.objects.filter(action="contact_removed").count() == 1


def test_the_only_verified_address_cannot_be_removed(portal_client, phone_point):
    response = portal_client.post(
        reverse("portal:contact_point_remove", args=[phone_point.pk]), follow=True
    )
    assert str(MSG_LAST_VERIFIED) in response.content.decode()
    phone_point.refresh_from_db()
    assert not phone_point.is_removed


def test_someone_elses_contact_point_is_not_found(portal_client):
    from tests.factories import CustomerFactory, add_phone

    other = add_phone(CustomerFactory(), "13700137000")
    response = portal_client.post(
        reverse("portal:contact_point_remove", args=[other.pk])
    )
    assert response.status_code == 404
    other.refresh_from_db()
    assert not other.is_removed


def test_list_shows_masked_addresses_only(portal_client):
    page = portal_client.get(reverse("portal:contact_points")).content.decode()
    assert "+86****8000" in page
    assert "13800138000" not in page
