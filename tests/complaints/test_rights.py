"""Rights requests: acknowledged at once, 30 days, extension with reasons before
then (three months at most), refusal with reasons and the complaint route,
completion notice, overdue alert, staff queue by due date; deletion keeps the
erasure rules."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from complaints.models import RightsRequest
from complaints.services import rights
from complaints.tasks import complaint_escalate_task
from consent.errors import ApplicationError
from consent.ledger import Actor
from consent.models import Customer, SuppressedIdentifier
from preferences.models import ErasureRequest
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def make_request(customer, phone_point, run_on_commit):
    from consent.models import ContactPoint

    ContactPoint.objects.filter(pk=phone_point.pk).update(verified_at=timezone.now())

    def make(kind="access", details=""):
        return run_on_commit(
            rights.rights_request_create,
            customer=customer,
            kind=kind,
            details=details,
            actor=Actor.customer(customer),
        )

    return make


def test_portal_request_is_acknowledged_at_once_with_a_30_day_clock(
    portal_client, customer, outbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = portal_client.post(
            reverse("rights:list"), {"kind": "access", "details": ""}
        )
    item = RightsRequest.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("rights:detail", args=[item.reference])
    assert item.reference.startswith("RR-")
    assert item.status == "acknowledged" and item.acknowledged_at is not None
    days = (timezone.localtime(item.due_at).date() - timezone.localdate()).days
    assert days == 30
    ack = item.messages.get(kind="acknowledgement")
    assert item.reference in ack.body
    assert [m.purpose for m in outbox] == ["rights_acknowledgement"]
    page = portal_client.get(response["Location"]).content.decode()
    assert ack.subject in page
    listing = portal_client.get(reverse("rights:list")).content.decode()
    assert item.reference in listing
    # The same request again returns the open one.
    portal_client.post(reverse("rights:list"), {"kind": "access"})
    assert RightsRequest.objects.count() == 1


def test_correction_needs_details_and_bad_input_changes_nothing(portal_client):
    response = portal_client.post(reverse("rights:list"), {"kind": "correction"})
    assert response.status_code == 200
    assert "what it should say" in response.content.decode()
    response = portal_client.post(reverse("rights:list"), {"kind": "sell-my-data"})
    assert response.status_code == 200
    assert not RightsRequest.objects.exists()


def test_another_customers_request_is_404(portal_client, run_on_commit):
    someone = CustomerFactory()
    theirs = rights.rights_request_create(
        customer=someone, kind="access", actor=Actor.customer(someone)
    )
    url = reverse("rights:detail", args=[theirs.reference])
    assert portal_client.get(url).status_code == 404
    assert portal_client.get("/account/rights/RR%00x/").status_code == 404


def test_extension_with_reasons_before_day_30_at_most_three_months(
    make_request, handler, outbox, run_on_commit
):
    item = make_request()
    original_due = item.due_at
    with pytest.raises(ValidationError):
        rights.rights_request_extend(request=item, reason="Busy", days=61, user=handler)
    with pytest.raises(ValidationError):
        rights.rights_request_extend(request=item, reason=" ", days=30, user=handler)
    run_on_commit(
        rights.rights_request_extend,
        request=item,
        reason="Your records are in three archived systems.",
        days=60,
        user=handler,
    )
    item.refresh_from_db()
    assert item.status == "extended"
    assert item.due_at == original_due + timedelta(days=60)
    notice = item.messages.get(kind="extension")
    assert "three archived systems" in notice.body
    assert outbox[-1].purpose == "rights_extension"
    with pytest.raises(ApplicationError):
        rights.rights_request_extend(request=item, reason="More", days=1, user=handler)


def test_extension_after_the_30_days_is_refused(make_request, handler):
    item = make_request()
    RightsRequest.objects.filter(pk=item.pk).update(
        due_at=timezone.now() - timedelta(minutes=1)
    )
    with pytest.raises(ApplicationError) as exc:
        rights.rights_request_extend(request=item, reason="Late", days=10, user=handler)
    assert exc.value.code == "too_late"


def test_refusal_gives_reasons_and_the_complaint_route(
    make_request, handler, portal_client, outbox, run_on_commit
):
    item = make_request(kind="correction", details="My name is spelt wrong")
    with pytest.raises(ValidationError):
        rights.rights_request_refuse(request=item, reasons="", user=handler)
    run_on_commit(
        rights.rights_request_refuse,
        request=item,
        reasons="The name matches your identity document.",
        user=handler,
    )
    item.refresh_from_db()
    assert item.status == "refused" and item.closed_at
    body = item.messages.get(kind="refusal").body
    assert "identity document" in body
    assert "/complaints/new/" in body and "12378" in body
    page = portal_client.get(reverse("rights:detail", args=[item.reference]))
    text = page.content.decode()
    assert "identity document" in text
    assert reverse("complaints:portal_create") in text
    with pytest.raises(ApplicationError):
        rights.rights_request_complete(request=item, outcome="x", user=handler)


def test_deletion_keeps_the_erasure_rules(
    make_request, handler, customer, phone_point, outbox, run_on_commit
):
    item = make_request(kind="deletion")
    erasure = item.erasure_request
    assert erasure.status == ErasureRequest.Status.PENDING
    run_on_commit(
        rights.rights_request_complete,
        request=item,
        outcome="Your name, addresses and preferences are deleted.",
        user=handler,
    )
    erasure.refresh_from_db()
    customer.refresh_from_db()
    assert erasure.status == ErasureRequest.Status.DONE
    assert customer.status == Customer.Status.ERASED
    assert SuppressedIdentifier.objects.filter(
        blind_index=phone_point.blind_index, reason="erased"
    ).exists()
    # The completion notice reached the address before it was erased.
    assert outbox[-1].purpose == "rights_completion"
    assert outbox[-1].to == "+8613800138000"


def test_portal_delete_button_opens_a_deletion_request(
    portal_client, customer, django_capture_on_commit_callbacks
):
    page = portal_client.get(reverse("portal:my_data")).content.decode()
    assert reverse("rights:list") in page
    with django_capture_on_commit_callbacks(execute=True):
        portal_client.post(reverse("rights:list"), {"kind": "deletion"})
    item = RightsRequest.objects.get(kind="deletion")
    assert item.erasure_request.customer == customer


def test_access_completion_points_to_the_export(make_request, handler, run_on_commit):
    item = make_request()
    run_on_commit(
        rights.rights_request_complete,
        request=item,
        outcome="Your data file is ready.",
        user=handler,
    )
    body = item.messages.get(kind="completion").body
    assert "/account/my-data/" in body


def test_overdue_requests_alert_once(
    make_request, supervisor, officer, outbox, django_capture_on_commit_callbacks
):
    item = make_request()
    RightsRequest.objects.filter(pk=item.pk).update(
        due_at=timezone.now() - timedelta(hours=1)
    )
    outbox.clear()
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            complaint_escalate_task.delay()
    alerts = [m for m in outbox if m.purpose == "rights_overdue"]
    assert sorted(m.to for m in alerts) == [
        "officer@bank.example",
        "supervisor@bank.example",
    ]
    assert item.reference in alerts[0].subject
    assert "13800138000" not in alerts[0].body


def test_staff_queue_is_sorted_by_due_date_and_works_the_request(
    staff_client, handler, make_request, run_on_commit
):
    first = make_request(kind="access")
    second = make_request(kind="correction", details="Wrong address")
    RightsRequest.objects.filter(pk=second.pk).update(
        due_at=first.due_at - timedelta(days=5)
    )
    c = staff_client(handler)
    listing = c.get(reverse("admin:complaints_rightsrequest_changelist"))
    assert [r.pk for r in listing.context["cl"].result_list] == [second.pk, first.pk]
    page = c.get(reverse("admin:complaints_rightsrequest_change", args=[first.pk]))
    assert [s["name"] for s in page.context["steps"]] == [
        "take",
        "extend",
        "refuse",
        "complete",
    ]
    act = reverse("admin:complaints_rightsrequest_act", args=[first.pk, "complete"])
    response = c.post(act, {"complete-outcome": ""})
    assert response.status_code == 302
    first.refresh_from_db()
    assert first.status == "acknowledged"
    c.post(act, {"complete-outcome": "Export prepared."})
    first.refresh_from_db()
    assert first.status == "completed"
    assert (
        c.post(
            reverse("admin:complaints_rightsrequest_act", args=[first.pk, "x"])
        ).status_code
        == 404
    )


def test_rights_pages_speak_chinese(portal_client, customer, make_request):
    item = make_request()
    headers = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}
    listing = portal_client.get(reverse("rights:list"), **headers).content.decode()
    assert "个人信息权利请求" in listing and "查阅我的个人信息" in listing
    detail = portal_client.get(
        reverse("rights:detail", args=[item.reference]), **headers
    ).content.decode()
    assert "答复期限" in detail
