"""The role matrix: each role sees and can do exactly its part of the admin."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.test import RequestFactory

from backoffice.permissions import MATRIX, codenames_for
from backoffice.roles import (
    ALL_ROLES,
    AUDITOR,
    BRANCH,
    CALL_CENTRE,
    COMPLAINT_HANDLER,
    COMPLAINT_REVIEWER,
    COMPLIANCE_OFFICER,
    SUPERVISOR,
)

pytestmark = pytest.mark.django_db

H, S, C, A = COMPLAINT_HANDLER, SUPERVISOR, COMPLIANCE_OFFICER, AUDITOR
R = COMPLAINT_REVIEWER
CC, B = CALL_CENTRE, BRANCH

# Page -> the roles that may open it; every other role gets 403.
PAGES = {
    "/admin/": {H, S, C, A, R, CC, B},
    "/admin/consent/customer/": {H, S, C, A, R, CC, B},
    "/admin/consent/contactpoint/": {H, S, C, A, R, CC, B},
    "/admin/consent/consentevent/": {S, C, A},
    "/admin/consent/contactability/": {C, A},
    "/admin/consent/suppressedidentifier/": {C, A},
    "/admin/consent/apiclient/": {C, A},
    "/admin/consent/apiclient/add/": set(),  # only through four-eyes approval
    "/admin/consent/apikey/": {C, A},
    "/admin/consent/violation/": {C, A},
    "/admin/consent/topic/add/": {C},
    "/admin/complaints/complaint/": {H, S, C, A, R},
    "/admin/complaints/escalation/": {S, C, A},
    "/admin/preferences/notmereport/": {C, A},
    "/admin/preferences/erasurerequest/": {C, A},
    "/admin/backoffice/accesslog/": {C, A},
    "/admin/backoffice/anomalyalert/": {C, A},
    "/admin/backoffice/approvalrequest/": {S, C, A},
    "/admin/backoffice/approvalrequest/add/": {S, C},
    "/admin/backoffice/assistedrecord/": {C, A, CC, B},
    "/admin/backoffice/assistedrecord/add/": {CC, B},
    "/admin/axes/accessattempt/": {A},
    "/admin/auth/user/": set(),
    "/admin/auth/group/": set(),
    "/admin/otp_totp/totpdevice/": set(),
}


@pytest.fixture
def clients(staff_user, otp_admin_client):
    made = {}
    for role in ALL_ROLES:
        made[role] = otp_admin_client(staff_user(role, username=role))
        made[role].raise_request_exception = False  # a broken page counts as wrong
    return made


@pytest.mark.parametrize("role", ALL_ROLES)
def test_each_role_opens_exactly_its_pages(role, clients):
    client = clients[role]
    wrong = {}
    for url, allowed in PAGES.items():
        status = client.get(url).status_code
        expected = 200 if role in allowed else 403
        if status != expected:
            wrong[url] = status
    assert wrong == {}


def _admin_request(user):
    request = RequestFactory().get("/admin/")
    request.user = user
    return request


@pytest.mark.parametrize("role", ALL_ROLES)
def test_every_admin_page_follows_the_permission_matrix(role, staff_user, clients):
    """Each registered model: list visible only with a matrix permission on it, add
    page refused without the add permission."""
    user = staff_user(role, username=f"{role}-x")
    client = clients[role]
    wrong = {}
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        models = [m._meta.model_name for m in opts.app_config.get_models()]
        held = codenames_for(role, opts.app_label, models)
        base = f"/admin/{opts.app_label}/{opts.model_name}/"
        may_view = bool({f"view_{opts.model_name}", f"change_{opts.model_name}"} & held)
        status = client.get(base).status_code
        if status != (200 if may_view else 403):
            wrong[base] = status
        if f"add_{opts.model_name}" not in held:
            status = client.get(base + "add/").status_code
            if status != 403:
                wrong[base + "add/"] = status
        if may_view:
            assert model_admin.has_delete_permission(_admin_request(user)) is False or (
                f"delete_{opts.model_name}" in held
            )
    assert wrong == {}


def test_auditor_is_offered_no_action_that_writes(staff_user):
    auditor = staff_user(AUDITOR)
    request = _admin_request(auditor)
    offered = {}
    for model, model_admin in admin.site._registry.items():
        if not model_admin.has_view_permission(request):
            continue
        for name, (func, _n, _d) in model_admin.get_actions(request).items():
            needs = set(getattr(func, "allowed_permissions", ()) or ())
            if not needs or not needs <= {"view", "export"}:
                offered[f"{model._meta.label}.{name}"] = needs
    assert offered == {}


def test_auditor_cannot_delete_or_change_anything(clients, customer):
    client = clients[AUDITOR]
    assert (
        client.post(
            f"/admin/consent/customer/{customer.pk}/change/",
            {"preferred_language": "zh-hans"},
        ).status_code
        == 403
    )
    assert client.post(
        "/admin/consent/customer/",
        {"action": "delete_selected", "_selected_action": [customer.pk]},
    ).status_code in (200, 302)
    customer.refresh_from_db()
    assert customer.preferred_language == "en"


def test_superuser_without_authenticator_sees_no_data(django_user_model, client):
    root = django_user_model.objects.create_superuser("root", password="x" * 16)
    client.force_login(root, backend="django.contrib.auth.backends.ModelBackend")
    response = client.get("/admin/consent/customer/")
    assert response.status_code == 302


def test_sync_roles_restores_the_matrix(capsys):
    group = Group.objects.get(name=AUDITOR)
    expected = set(group.permissions.values_list("codename", flat=True))
    group.permissions.clear()
    group.permissions.add(
        *__import__(
            "django.contrib.auth.models", fromlist=["Permission"]
        ).Permission.objects.filter(codename="delete_customer")
    )
    call_command("sync_roles")
    assert set(group.permissions.values_list("codename", flat=True)) == expected
    assert "auditor" in capsys.readouterr().out


def test_matrix_names_only_view_permissions_for_auditors():
    actions = {a for _label, _model, acts in MATRIX[AUDITOR] for a in acts}
    assert actions <= {"view", "export_data"}
