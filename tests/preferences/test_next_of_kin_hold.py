"""A next-of-kin report holds marketing at once while staff check it: undone if
rejected (the customer's earlier choices apply again), permanent when confirmed.
Next of kin can also ask for a care pause for the customer."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from consent.models import ConsentEvent, ConsentState, Contactability
from preferences import services
from preferences.models import CarePause, NextOfKinReport
from preferences.replay import preference_check
from tests.factories import CustomerFactory, add_phone, grant

pytestmark = pytest.mark.django_db

NOK = "/next-of-kin/"
NOK_PAUSE = "/next-of-kin/care-pause/"


@pytest.fixture
def staff(db):
    return get_user_model().objects.create_user("officer", password="x" * 12)


@pytest.fixture
def granted(customer, phone_point, sms, credit_card, notice_en):
    grant(customer, sms, credit_card, notice_en)
    return customer


def _report(client, headers=None, **overrides):
    data = {
        "deceased_name": "王小明",
        "customer_ref": "",
        "identifier": "13800138000",
        "document_reference": "DC-2026-001",
        "reporter_name": "王芳",
        "relationship": "spouse",
        "reporter_contact": "13700137000",
    }
    data.update(overrides)
    return client.post(NOK, data, headers=headers)


def _key(sms):
    return Contactability.objects.get(channel=sms)


def test_death_report_holds_marketing_at_once_with_the_report_as_evidence(
    client, granted, sms
):
    assert "credit_card" in _key(sms).permitted_topics
    response = _report(client, headers={"user-agent": "Relative browser"})
    assert response.status_code == 200
    report = NextOfKinReport.objects.get()
    assert report.hold is not None
    key = _key(sms)
    assert "credit_card" not in key.permitted_topics
    assert "care_pause" in key.reasons
    assert "security_alert" in key.permitted_topics  # service messages continue
    assert key.changes.last().seq == key.seq  # in the feed at once
    event = ConsentEvent.objects.get(action="care_pause_start")
    assert event.evidence["next_of_kin_report"] == str(report.pk)
    assert event.evidence["report_kind"] == "death"
    assert event.evidence["user_agent"] == "Relative browser"
    assert event.detail["reason"] == "death_report"
    assert event.source == "portal" and event.actor == "public:next_of_kin_report"
    # The customer's choices themselves are untouched while staff check.
    assert ConsentState.objects.get(customer=granted).status == "granted"
    assert preference_check() == []


def test_rejected_report_gives_back_the_earlier_choices_and_pause(
    client, granted, sms, staff
):
    own_until = timezone.now() + timedelta(days=20)
    services.care_pause_start(
        customer=granted,
        ends_at=own_until,
        scope=CarePause.Scope.MARKETING_COLLECTIONS,
        reason=CarePause.Reason.HARDSHIP,
    )
    _report(client)
    report = NextOfKinReport.objects.get()
    assert report.replaced_pause is not None
    assert report.hold.scope == CarePause.Scope.MARKETING_COLLECTIONS  # kept
    services.next_of_kin_report_reject(report=report, staff_user=staff)
    report.refresh_from_db()
    assert report.status == NextOfKinReport.Status.REJECTED
    end = ConsentEvent.objects.filter(action="care_pause_end").get()
    assert end.detail["why"] == "next_of_kin_report_rejected"
    assert end.actor == "staff:officer"
    assert end.evidence["decision"] == "rejected"
    running = CarePause.objects.active_at(timezone.now()).get(customer=granted)
    assert running.reason == CarePause.Reason.HARDSHIP
    assert running.scope == CarePause.Scope.MARKETING_COLLECTIONS
    assert abs(running.ends_at - own_until) < timedelta(seconds=1)
    restart = ConsentEvent.objects.filter(action="care_pause_start").last()
    assert restart.evidence["restored_pause"] == str(report.replaced_pause_id)
    assert preference_check() == []


def test_rejected_report_without_an_earlier_pause_permits_marketing_again(
    client, granted, sms, staff
):
    _report(client)
    assert "credit_card" not in _key(sms).permitted_topics
    services.next_of_kin_report_reject(
        report=NextOfKinReport.objects.get(), staff_user=staff
    )
    key = _key(sms)
    assert "credit_card" in key.permitted_topics and "care_pause" not in key.reasons
    assert not CarePause.objects.active_at(timezone.now()).exists()
    assert preference_check() == []


def test_confirmed_report_makes_the_stop_permanent(client, granted, sms, staff):
    _report(client)
    services.next_of_kin_report_confirm(
        report=NextOfKinReport.objects.get(), staff_user=staff
    )
    granted.refresh_from_db()
    assert granted.status == "deceased"
    assert "opt_out_all" in _key(sms).reasons
    assert ConsentState.objects.get(customer=granted).status == "withdrawn"


def test_unmatched_report_holds_once_staff_choose_the_customer(
    client, otp_admin_client, staff_user, granted, sms
):
    other = CustomerFactory()
    add_phone(other, "13800138000")  # a shared phone: no automatic match
    _report(client)
    report = NextOfKinReport.objects.get()
    assert report.customer is None and report.hold is None
    assert "credit_card" in _key(sms).permitted_topics
    officer = otp_admin_client(staff_user("compliance_officer", username="cleo"))
    response = officer.post(
        f"/admin/preferences/nextofkinreport/{report.pk}/change/",
        {"customer": granted.pk},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    report.refresh_from_db()
    assert report.customer == granted and report.hold is not None
    event = ConsentEvent.objects.get(action="care_pause_start")
    assert event.actor == "staff:cleo" and event.evidence["matched_by"] == "cleo"
    assert (
        not CarePause.objects.active_at(timezone.now()).filter(customer=other).exists()
    )


def test_next_of_kin_asks_for_a_care_pause_for_the_customer(
    client, granted, sms, staff
):
    until = timezone.localdate() + timedelta(days=40)
    response = client.post(
        NOK_PAUSE,
        {
            "customer_name": "王小明",
            "customer_ref": granted.external_ref,
            "identifier": "",
            "until": until.isoformat(),
            "reason": "illness",
            "reporter_name": "王芳",
            "relationship": "child",
            "reporter_contact": "13700137000",
        },
    )
    assert response.status_code == 200
    assert "Request received" in response.content.decode()
    report = NextOfKinReport.objects.get()
    assert report.kind == NextOfKinReport.Kind.CARE_PAUSE
    pause = CarePause.objects.active_at(timezone.now()).get(customer=granted)
    assert pause.reason == "illness" and pause.scope == "marketing"
    assert pause.ends_at == timezone.make_aware(
        datetime.combine(until, datetime.min.time())
    )
    event = ConsentEvent.objects.get(action="care_pause_start")
    assert event.evidence["relationship"] == "child"
    assert event.evidence["report_kind"] == "care_pause"
    assert "care_pause" in _key(sms).reasons
    # Confirming keeps the pause; the customer is not marked deceased.
    services.next_of_kin_report_confirm(report=report, staff_user=staff)
    granted.refresh_from_db()
    assert granted.status == "active"
    assert CarePause.objects.active_at(timezone.now()).filter(customer=granted).exists()


def test_care_pause_request_with_a_bad_date_changes_nothing(client, granted):
    response = client.post(
        NOK_PAUSE,
        {
            "customer_name": "王小明",
            "customer_ref": granted.external_ref,
            "until": (timezone.localdate() - timedelta(days=1)).isoformat(),
            "reason": "illness",
            "reporter_name": "王芳",
            "relationship": "child",
            "reporter_contact": "13700137000",
        },
    )
    assert response.status_code == 200
    assert "The end date must be after today" in response.content.decode()
    assert not NextOfKinReport.objects.exists()
    assert not CarePause.objects.exists()


def test_the_death_report_hold_is_not_a_reason_a_person_can_choose(portal_client):
    page = portal_client.get("/account/care-pause/").content.decode()
    assert 'value="death_report"' not in page
    assert 'value="death_report"' not in portal_client.get(NOK_PAUSE).content.decode()
