"""The access log: a row for every tracked staff action, and no way to alter it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone

from backoffice.audit import access_log_record, search_hash
from backoffice.models import AccessLog
from backoffice.roles import (
    AUDITOR,
    COMPLAINT_HANDLER,
    COMPLIANCE_OFFICER,
    SUPERVISOR,
)
from consent.models import AppendOnlyError

pytestmark = pytest.mark.django_db

PHONE = "+8613800138000"


@pytest.fixture
def officer(staff_user):
    return staff_user(COMPLIANCE_OFFICER, username="olga")


@pytest.fixture
def officer_client(officer, otp_admin_client):
    return otp_admin_client(officer)


def only_entry(**filters) -> AccessLog:
    return AccessLog.objects.get(**filters)


def test_opening_a_record_is_logged(officer_client, customer, phone_point):
    page = officer_client.get(f"/admin/consent/customer/{customer.pk}/change/")
    assert page.status_code == 200
    entry = only_entry(action="view")
    assert (entry.username, entry.object_type, entry.object_id, entry.customer_ref) == (
        "olga",
        "consent.customer",
        str(customer.pk),
        customer.external_ref,
    )
    assert entry.ip == "127.0.0.1"
    officer_client.get(f"/admin/consent/contactpoint/{phone_point.pk}/change/")
    assert only_entry(object_type="consent.contactpoint").customer_ref == (
        customer.external_ref
    )


def test_search_is_logged_without_the_terms(officer_client, customer):
    terms = customer.external_ref.lower()
    page = officer_client.get("/admin/consent/customer/", {"q": terms})
    assert page.status_code == 200
    entry = only_entry(action="search")
    assert entry.result_count == 1
    assert entry.customer_ref == customer.external_ref  # the one record found
    assert entry.search_hash == search_hash(terms)
    assert terms not in str(AccessLog.objects.values_list().get(pk=entry.pk))
    officer_client.get("/admin/consent/customer/")
    assert AccessLog.objects.filter(action="search").count() == 1


def test_changed_fields_are_logged(officer_client, customer):
    response = officer_client.post(
        f"/admin/consent/customer/{customer.pk}/change/",
        {
            "preferred_language": "zh-hans",
            "contact_points-TOTAL_FORMS": "0",
            "contact_points-INITIAL_FORMS": "0",
            "consent_states-TOTAL_FORMS": "0",
            "consent_states-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    customer.refresh_from_db()
    assert customer.preferred_language == "zh-hans"
    entry = only_entry(action="change")
    assert entry.fields == ["preferred_language"]
    assert entry.customer_ref == customer.external_ref


def test_export_is_masked_and_logged(officer_client, phone_point):
    response = officer_client.post(
        "/admin/consent/contactpoint/",
        {"action": "export_masked_csv", "_selected_action": [phone_point.pk]},
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    body = response.content.decode()
    assert "+86****8000" in body
    assert PHONE not in body and "13800138000" not in body
    entry = only_entry(action="export")
    assert entry.result_count == 1 and entry.object_type == "consent.contactpoint"


def test_lists_and_detail_show_addresses_masked(officer_client, phone_point, customer):
    for url in (
        "/admin/consent/contactpoint/",
        f"/admin/consent/contactpoint/{phone_point.pk}/change/",
        f"/admin/consent/customer/{customer.pk}/change/",
    ):
        html = officer_client.get(url).content.decode()
        assert "+86****8000" in html
        assert "13800138000" not in html


def test_unmasking_needs_a_reason_and_is_logged(officer_client, phone_point):
    url = f"/admin/consent/contactpoint/{phone_point.pk}/unmask/address/"
    form = officer_client.get(url)
    assert form.status_code == 200 and PHONE not in form.content.decode()
    no_reason = officer_client.post(url, {"reason": ""})
    assert PHONE not in no_reason.content.decode()
    assert not AccessLog.objects.filter(action="unmask").exists()
    shown = officer_client.post(url, {"reason": "Customer on the phone, ticket 42"})
    assert PHONE in shown.content.decode()
    entry = only_entry(action="unmask")
    assert entry.fields == ["address"]
    assert entry.reason == "Customer on the phone, ticket 42"
    assert entry.customer_ref == phone_point.customer.external_ref


@pytest.mark.parametrize(
    ("role", "status"),
    [
        (COMPLAINT_HANDLER, 403),
        (AUDITOR, 403),
        (SUPERVISOR, 200),
        (COMPLIANCE_OFFICER, 200),
    ],
)
def test_who_may_unmask_and_export(
    role, status, staff_user, otp_admin_client, phone_point
):
    client = otp_admin_client(staff_user(role))
    url = f"/admin/consent/contactpoint/{phone_point.pk}/unmask/address/"
    response = client.post(url, {"reason": "Customer on the phone"})
    assert response.status_code == status
    assert (PHONE in response.content.decode()) == (status == 200)
    assert AccessLog.objects.filter(action="unmask").exists() == (status == 200)


def test_the_log_cannot_be_changed_or_deleted(staff_user, tamper):
    entry = access_log_record(user=staff_user(AUDITOR), action="view", customer_ref="X")
    entry.customer_ref = "Y"
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.delete()
    with pytest.raises((IntegrityError, DatabaseError)), transaction.atomic():
        AccessLog.objects.filter(pk=entry.pk).update(customer_ref="Y")
    assert AccessLog.objects.get(pk=entry.pk).customer_ref == "X"


def test_nobody_can_edit_the_log_in_the_admin(django_user_model, otp_admin_client):
    root = django_user_model.objects.create_superuser("root", password="x" * 16)
    entry = access_log_record(user=root, action="view", customer_ref="X")
    client = otp_admin_client(root)
    base = "/admin/backoffice/accesslog/"
    assert client.get(f"{base}{entry.pk}/change/").status_code == 200
    assert (
        client.post(f"{base}{entry.pk}/change/", {"customer_ref": "Y"}).status_code
        == 403
    )
    assert client.post(f"{base}{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    assert client.get(f"{base}add/").status_code == 403
    client.post(base, {"action": "delete_selected", "_selected_action": [entry.pk]})
    assert AccessLog.objects.get(pk=entry.pk).customer_ref == "X"


def test_auditor_finds_who_saw_a_phone_number_last_month(
    staff_user, otp_admin_client, customer
):
    hank = staff_user(COMPLAINT_HANDLER, username="hank")
    gina = staff_user(SUPERVISOR, username="gina")
    month_start = timezone.localtime().replace(day=1, hour=12)
    last_month = month_start - timedelta(days=12)
    ref = customer.external_ref
    for user, action, at in (
        (hank, "unmask", last_month),
        (gina, "view", month_start + timedelta(hours=1)),  # this month
    ):
        access_log_record(
            user=user,
            action=action,
            object_type="consent.contactpoint",
            object_id=1,
            customer_ref=ref,
            fields=["address"] if action == "unmask" else [],
            reason="asked by customer" if action == "unmask" else "",
            at=at,
        )
    access_log_record(user=gina, action="unmask", customer_ref="OTHER", at=last_month)
    client = otp_admin_client(staff_user(AUDITOR, username="audrey"))
    page = client.get(
        "/admin/backoffice/accesslog/",
        {
            "q": ref,
            "period": "last_month",
            "object_type__exact": "consent.contactpoint",
        },
    )
    assert page.status_code == 200
    rows = page.context["cl"].result_list
    assert [(r.username, r.action) for r in rows] == [("hank", "unmask")]


def test_access_log_list_query_count_is_flat(
    staff_user, otp_admin_client, django_assert_max_num_queries
):
    auditor = staff_user(AUDITOR, username="audrey")
    client = otp_admin_client(auditor)
    for n in range(5):
        access_log_record(user=auditor, action="view", customer_ref=f"C{n}")
    with django_assert_max_num_queries(15) as few:
        client.get("/admin/backoffice/accesslog/")
    for n in range(40):
        access_log_record(user=auditor, action="view", customer_ref=f"D{n}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = client.get("/admin/backoffice/accesslog/")
    assert page.status_code == 200 and "D39" in page.content.decode()
