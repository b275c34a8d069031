"""What handlers and supervisors meet every day: labels, scope, limits, bad URLs."""

from __future__ import annotations

import csv
import io
import threading

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import translation

from complaints import services
from complaints.links import report_url
from complaints.models import Complaint, ComplaintMessage
from complaints.selectors import complaint_statistics
from consent.ledger import Actor
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_limits():
    cache.clear()
    yield
    cache.clear()


def _path(url: str) -> str:
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


# --- bad input ------------------------------------------------------------------------


def test_nul_byte_in_a_complaint_reference_is_404(portal_client, make_complaint):
    make_complaint()
    for url in (
        "/complaints/CMP%00x/",
        "/complaints/CMP-2026-000001%00/",
        "/complaints/CMP%00x/rate/",
    ):
        assert portal_client.get(url).status_code == 404
    assert portal_client.post("/complaints/CMP%00x/review/").status_code == 404


# --- rate limits ---------------------------------------------------------------------


def test_one_report_link_makes_one_complaint(
    client,
    customer,
    phone_point,
    sms,
    credit_card,
    outbox,
    settings,
    django_capture_on_commit_callbacks,
):
    settings.COMPLAINT_RATE_PER_IP = 1000
    path = _path(report_url(customer=customer, channel=sms, topic=credit_card))
    for _ in range(25):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(path, {"category": "too_frequent"})
        assert response.status_code == 200
    complaint = Complaint.objects.get()
    assert complaint.report_token_hash
    acks = ComplaintMessage.objects.filter(kind="acknowledgement")
    assert acks.count() == 1
    again = client.get(path)
    assert complaint.reference in again.content.decode()
    assert "already reported" in again.content.decode()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_posts_to_one_link_make_one_complaint(
    customer, phone_point, sms, credit_card, settings
):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL for concurrent writers")
    settings.COMPLAINT_RATE_PER_IP = 1000
    path = _path(report_url(customer=customer, channel=sms, topic=credit_card))
    statuses = []

    def post():
        statuses.append(Client().post(path, {"category": "too_frequent"}).status_code)
        connection.close()

    threads = [threading.Thread(target=post) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * 8
    assert Complaint.objects.count() == 1


def test_portal_complaints_are_limited_per_customer(portal_client, customer, settings):
    settings.COMPLAINT_RATE_PER_CUSTOMER = 3
    for i in range(5):
        response = portal_client.post(
            reverse("complaints:portal_create"),
            {"category": "other", "description": f"Problem number {i}"},
        )
    assert Complaint.objects.filter(customer=customer).count() == 3
    assert response.status_code == 200
    assert "several complaints" in response.content.decode()


def test_report_links_are_limited_per_ip(client, sms, credit_card, settings):
    settings.COMPLAINT_RATE_PER_IP = 2
    settings.COMPLAINT_RATE_PER_CUSTOMER = 100
    for _ in range(4):
        someone = CustomerFactory()
        path = _path(report_url(customer=someone, channel=sms, topic=credit_card))
        response = client.post(path, {"category": "too_frequent"})
    assert Complaint.objects.count() == 2
    assert "several complaints" in response.content.decode()


# --- scope ---------------------------------------------------------------------------


def test_handler_export_and_statistics_hold_only_their_queue(
    staff_client, make_complaint, handler, handler2, supervisor
):
    mine, theirs, unassigned = make_complaint(), make_complaint(), make_complaint()
    services.complaint_assign(complaint=mine, assignee=handler, by=supervisor)
    services.complaint_assign(complaint=theirs, assignee=handler2, by=supervisor)
    client = staff_client(handler)
    response = client.get(reverse("admin:complaints_complaint_export"))
    text = b"".join(response.streaming_content).decode()
    assert mine.reference in text and unassigned.reference in text
    assert theirs.reference not in text
    page = client.get(reverse("admin:complaints_complaint_statistics"))
    assert page.context["stats"].total == 2
    assert complaint_statistics().total == 3
    client.logout()
    everything = staff_client(supervisor).get(
        reverse("admin:complaints_complaint_export")
    )
    assert theirs.reference in b"".join(everything.streaming_content).decode()


# --- labels, not codes ---------------------------------------------------------------


def test_list_filters_statistics_and_csv_show_names_in_chinese(
    staff_client, make_complaint, supervisor
):
    make_complaint()
    client = staff_client(supervisor)
    with translation.override("zh-hans"):
        headers = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}
        listing = client.get("/admin/complaints/complaint/", **headers)
        body = listing.content.decode()
        assert "短信" in body and "信用卡" in body
        assert ">sms<" not in body and ">credit_card<" not in body
        stats = client.get(reverse("admin:complaints_complaint_statistics"), **headers)
        assert dict(stats.context["stats"].by_channel) == {"短信": 1}
        assert dict(stats.context["stats"].by_product) == {"信用卡": 1}
        assert [h.channel for h in stats.context["hotspots"]] == ["短信"]
        text = stats.content.decode()
        assert "决定时间" not in text and "已作出决定" in text
        export = client.get(reverse("admin:complaints_complaint_export"), **headers)
        rows = list(
            csv.reader(io.StringIO(b"".join(export.streaming_content).decode()))
        )
        row = dict(zip(rows[0], rows[1], strict=True))
        assert row["channel"] == "短信" and row["status"] == "已受理"
        assert row["source"] == "自助服务门户"


def test_intake_form_and_approval_form_name_channels(staff_client, supervisor, officer):
    add = staff_client(supervisor).get("/admin/complaints/complaint/add/")
    assert "SMS (sms)" in add.content.decode()
    assert "Credit cards (credit_card)" in add.content.decode()
    approval = staff_client(officer).get("/admin/backoffice/approvalrequest/add/")
    assert "Credit cards (credit_card)" in approval.content.decode()


def test_staff_intake_records_identity_verification(staff_client, handler, customer):
    response = staff_client(handler).post(
        "/admin/complaints/complaint/add/",
        {
            "source": "phone",
            "customer": customer.pk,
            "description": "Called about calls at night.",
            "received_at_0": "2026-11-30",
            "received_at_1": "10:00:00",
            "complainant_count": 1,
            "identity_verification": "staff_checked",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    complaint = Complaint.objects.get()
    assert complaint.identity_verification == "staff_checked"


def test_identity_verification_follows_the_intake_path(make_complaint):
    assert make_complaint().identity_verification == "portal_sign_in"
    anonymous = services.complaint_create(
        source="letter", description="A letter.", actor=Actor.system("post")
    )
    assert anonymous.identity_verification == "not_verified"


# --- regulator codes --------------------------------------------------------------


def test_regulator_export_follows_the_editable_code_table(
    staff_client, make_complaint, supervisor
):
    from complaints.models import RegulatorCode

    make_complaint(category="too_frequent")
    client = staff_client(supervisor)
    changelist = client.get(reverse("admin:complaints_regulatorcode_changelist"))
    assert changelist.status_code == 200
    RegulatorCode.objects.filter(dimension="issue", value="too_frequent").update(
        code="C1199", label="营销频次过高"
    )
    export = client.get(reverse("admin:complaints_complaint_export"))
    rows = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode())))
    row = dict(zip(rows[0], rows[1], strict=True))
    assert (row["issue_code"], row["issue"]) == ("C1199", "营销频次过高")
    assert row["product_code"] and row["sub_product_code"]
