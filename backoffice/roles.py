"""Staff roles, as Django groups (created by a data migration)."""

from __future__ import annotations

COMPLAINT_HANDLER = "complaint_handler"
SUPERVISOR = "supervisor"
COMPLIANCE_OFFICER = "compliance_officer"
AUDITOR = "auditor"
# Decides customers' review requests of complaint decisions (with supervisors).
COMPLAINT_REVIEWER = "complaint_reviewer"
# Assisted channels: record a customer's withdrawal, "not me" or care pause taken on
# a call or at a counter, at once (``backoffice.assisted``).
CALL_CENTRE = "call_centre"
BRANCH = "branch"

ALL_ROLES = (
    COMPLAINT_HANDLER,
    SUPERVISOR,
    COMPLIANCE_OFFICER,
    AUDITOR,
    COMPLAINT_REVIEWER,
    CALL_CENTRE,
    BRANCH,
)


def user_has_role(user, role: str) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    return user.groups.filter(name=role).exists()
