from __future__ import annotations

import pytest

from consent.models import Contactability, Customer
from preferences import services
from preferences.models import ErasureRequest, NextOfKinReport, NotMeReport
from preferences.services import CodeTarget

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_otp(staff_user, otp_admin_client):
    return otp_admin_client(staff_user(None, username="chief", is_superuser=True))


@pytest.mark.parametrize(
    "path",
    [
        "/admin/preferences/erasurerequest/",
        "/admin/preferences/notmereport/",
        "/admin/preferences/nextofkinreport/",
        "/admin/preferences/preference/",
        "/admin/preferences/frequencycap/",
        "/admin/preferences/carepause/",
    ],
)
def test_staff_queues_open(admin_client_otp, customer, path):
    services.erasure_request_create(customer=customer)
    assert admin_client_otp.get(path).status_code == 200


def test_carry_out_erasure_from_the_admin(admin_client_otp, customer, phone_point):
    request = services.erasure_request_create(customer=customer)
    response = admin_client_otp.post(
        "/admin/preferences/erasurerequest/",
        {"action": "carry_out", "_selected_action": [request.pk]},
    )
    assert response.status_code == 302
    assert ErasureRequest.objects.get().status == "done"
    assert ErasureRequest.objects.get().processed_by == "chief"
    assert Customer.objects.get(pk=customer.pk).status == "erased"
    assert all(key.suppressed for key in Contactability.objects.all())


def test_confirm_death_from_the_admin(admin_client_otp, customer, phone_point):
    report = services.next_of_kin_report_create(
        customer_ref=customer.external_ref,
        identifier=None,
        deceased_name="Li Hua",
        reporter_name="Li Ming",
        reporter_contact="13700137000",
        relationship="child",
        document_reference="DC-1",
    )
    page = admin_client_otp.get(
        f"/admin/preferences/nextofkinreport/{report.pk}/change/"
    )
    assert "DC-1" in page.content.decode()
    admin_client_otp.post(
        "/admin/preferences/nextofkinreport/",
        {"action": "confirm", "_selected_action": [report.pk]},
    )
    assert NextOfKinReport.objects.get().status == "confirmed"
    assert Customer.objects.get(pk=customer.pk).status == "deceased"


def test_unmatched_report_cannot_be_confirmed(admin_client_otp):
    report = services.next_of_kin_report_create(
        customer_ref="",
        identifier=CodeTarget.parse("13911112222"),
        deceased_name="Unknown",
        reporter_name="Someone",
        reporter_contact="someone@example.com",
        relationship="other",
        document_reference="DC-2",
    )
    response = admin_client_otp.post(
        "/admin/preferences/nextofkinreport/",
        {"action": "confirm", "_selected_action": [report.pk]},
        follow=True,
    )
    assert "Choose the customer this report is about first." in (
        response.content.decode()
    )
    assert NextOfKinReport.objects.get().status == "pending"


def test_not_me_report_marked_reviewed(admin_client_otp):
    report = NotMeReport.objects.create(
        kind="phone", blind_index="x" * 64, masked="+86****2222", contact_points=0
    )
    admin_client_otp.post(
        "/admin/preferences/notmereport/",
        {"action": "mark_reviewed", "_selected_action": [report.pk]},
    )
    assert NotMeReport.objects.get().reviewed_by == "chief"
