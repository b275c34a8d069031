"""Staff roles, as Django groups (created by a data migration)."""

from __future__ import annotations

COMPLAINT_HANDLER = "complaint_handler"
SUPERVISOR = "supervisor"
COMPLIANCE_OFFICER = "compliance_officer"
AUDITOR = "auditor"
# Decides customers' review requests of complaint decisions (with supervisors).
COMPLAINT_REVIEWER = "complaint_reviewer"

ALL_ROLES = (
    COMPLAINT_HANDLER,
    SUPERVISOR,
    COMPLIANCE_OFFICER,
    AUDITOR,
    COMPLAINT_REVIEWER,
)


def user_has_role(user, role: str) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    return user.groups.filter(name=role).exists()
