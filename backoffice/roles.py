"""Staff roles, as Django groups (created by a data migration)."""

from __future__ import annotations

COMPLAINT_HANDLER = "complaint_handler"
SUPERVISOR = "supervisor"
COMPLIANCE_OFFICER = "compliance_officer"
AUDITOR = "auditor"

ALL_ROLES = (COMPLAINT_HANDLER, SUPERVISOR, COMPLIANCE_OFFICER, AUDITOR)


def user_has_role(user, role: str) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    return user.groups.filter(name=role).exists()
