from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Group, Permission
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_static.models import StaticDevice

from backoffice.roles import (
    AUDITOR,
    COMPLAINT_HANDLER,
    COMPLAINT_REVIEWER,
    COMPLIANCE_OFFICER,
    SUPERVISOR,
)
from complaints import services
from complaints.models import Complaint
from consent.ledger import Actor
from preferences.auth import SESSION_KEY

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(*args) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def _group(name: str) -> Group:
    group, created = Group.objects.get_or_create(name=name)
    if not group.permissions.filter(content_type__app_label="complaints").exists():
        codenames = ["view_complaint", "view_matter", "view_escalation"]
        if name in (COMPLAINT_HANDLER, SUPERVISOR):
            codenames += ["change_complaint", "add_complaint"]
        if name == COMPLAINT_REVIEWER:
            codenames += ["change_complaint"]
        group.permissions.add(
            *Permission.objects.filter(
                content_type__app_label="complaints", codename__in=codenames
            )
        )
    return group


@pytest.fixture
def make_staff(db, django_user_model):
    def make(username: str, *roles: str, superuser: bool = False):
        user = django_user_model.objects.create_user(
            username=username,
            password="a-long-test-password",
            email=f"{username}@bank.example",
            is_staff=True,
            is_superuser=superuser,
        )
        for role in roles:
            user.groups.add(_group(role))
        return user

    return make


@pytest.fixture
def handler(make_staff):
    return make_staff("handler", COMPLAINT_HANDLER)


@pytest.fixture
def handler2(make_staff):
    return make_staff("handler2", COMPLAINT_HANDLER)


@pytest.fixture
def reviewer(make_staff):
    return make_staff("reviewer", COMPLAINT_REVIEWER)


@pytest.fixture
def supervisor(make_staff):
    return make_staff("supervisor", SUPERVISOR)


@pytest.fixture
def officer(make_staff):
    return make_staff("officer", COMPLIANCE_OFFICER)


@pytest.fixture
def auditor(make_staff):
    return make_staff("auditor", AUDITOR)


@pytest.fixture
def staff_client(client):
    """Admin as a signed-in staff member with a verified second factor."""

    def sign_in(user):
        client.force_login(user)
        device = StaticDevice.objects.create(user=user, name="test", confirmed=True)
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()
        return client

    return sign_in


@pytest.fixture
def portal_client(client, customer, phone_point):
    session = client.session
    session[SESSION_KEY] = customer.pk
    session.save()
    return client


@pytest.fixture
def run_on_commit(django_capture_on_commit_callbacks):
    """Run the after-commit work (acknowledgement, sending) as production does."""

    def run(fn, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return fn(*args, **kwargs)

    return run


@pytest.fixture
def make_complaint(customer, phone_point, sms, credit_card, run_on_commit):
    def make(**kwargs) -> Complaint:
        params = {
            "source": Complaint.Source.PORTAL,
            "description": "The branch queue was long.",
            "actor": Actor.customer(customer),
            "customer": customer,
            "channel": sms,
            "topic": credit_card,
            "category": "other",
        }
        params.update(kwargs)
        complaint = run_on_commit(services.complaint_create, **params)
        complaint.refresh_from_db()
        return complaint

    return make


@pytest.fixture
def investigating(make_complaint, handler, run_on_commit):
    complaint = make_complaint()
    assert complaint.status == Complaint.Status.ACKNOWLEDGED
    services.complaint_start_investigation(complaint=complaint, user=handler)
    return complaint
