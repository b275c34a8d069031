"""Creating staff accounts in a role."""

from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from backoffice.roles import ALL_ROLES

MSG_UNKNOWN_ROLE = _("Unknown role %(role)s; choose one of %(roles)s.")


def generate_password() -> str:
    return secrets.token_urlsafe(15)


@transaction.atomic
def staff_create(
    *, username: str, role: str, email: str = "", password: str | None = None
) -> tuple[object, str]:
    """Create (or update) a staff member holding exactly one role.

    Returns the user and the password that was set. Staff are never superusers:
    the superuser is only for first set-up.
    """
    if role not in ALL_ROLES:
        raise ValidationError(
            MSG_UNKNOWN_ROLE % {"role": role, "roles": ", ".join(ALL_ROLES)},
            code="unknown_role",
        )
    password = password or generate_password()
    User = get_user_model()
    user = User.objects.filter(username=username).first() or User(username=username)
    user.email = email or user.email
    user.is_staff = True
    user.is_active = True
    validate_password(password, user)
    user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save()
    group, _created = Group.objects.get_or_create(name=role)
    user.groups.set([group])
    return user, password
