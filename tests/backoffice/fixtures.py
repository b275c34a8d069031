"""Back-office fixtures shared by every app's admin tests (imported in conftest)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

STAFF_PASSWORD = "staff-Passw0rd-long"


@pytest.fixture
def staff_user(db, django_user_model):
    """Make a staff member in a role: ``staff_user("auditor", username="ann")``."""

    def make(role: str | None = None, *, username: str | None = None, **extra):
        user = django_user_model.objects.create_user(
            username or f"{role or 'staff'}-{django_user_model.objects.count() + 1}",
            email=extra.pop("email", ""),
            password=STAFF_PASSWORD,
            is_staff=True,
            **extra,
        )
        if role:
            user.groups.add(Group.objects.get(name=role))
        return user

    return make


@pytest.fixture
def otp_admin_client(db):
    """A fresh test client signed in to the admin with a verified authenticator:
    ``otp_admin_client(user).get("/admin/...")``. Each call gives its own client."""

    def sign_in(user) -> Client:
        device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
        if device is None:
            device = TOTPDevice.objects.create(user=user, name="test", confirmed=True)
        client = Client()
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()
        return client

    return sign_in
