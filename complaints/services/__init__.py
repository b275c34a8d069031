"""Every write to complaints. Status changes only here, each on the timeline.

Intake applies protection at once (through the consent services, ledger source
``complaint``), before anyone triages the complaint. Messages to the customer are
stored, then sent through the pluggable sender after commit; ``sent_at`` is stored
when the sender accepted them (the proof a deadline was met).
"""

from __future__ import annotations

from complaints.services.base import (
    MSG_ALREADY_PAUSED,
    MSG_ALREADY_RATED,
    MSG_ASSIGN_OTHERS,
    MSG_DESCRIPTION_REQUIRED,
    MSG_EXTENSION_NOT_PENDING,
    MSG_EXTENSION_PENDING,
    MSG_FINDINGS_REQUIRED,
    MSG_ILLEGAL_TRANSITION,
    MSG_NO_EXTENSION,
    MSG_NOT_CUSTOMERS,
    MSG_NOT_HANDLER,
    MSG_NOT_OPEN,
    MSG_NOT_PAUSED,
    MSG_NOT_REVIEWER,
    MSG_NOT_SUPERVISOR,
    MSG_PAUSE_REASON,
    MSG_RATING_NOT_DECIDED,
    MSG_RATING_RANGE,
    MSG_REASON_REQUIRED,
    MSG_RECUSED,
    MSG_REMEDIATION_REQUIRED,
    MSG_REVIEW_DECIDED,
    MSG_REVIEW_NOT_DECIDED,
    MSG_REVIEW_OPEN,
    MSG_REVIEW_WINDOW,
    MSG_ROOT_CAUSE_REQUIRED,
    PAUSE_REASONS,
    TRANSITIONS,
    complaint_message_mark_sent,
    is_supervisor,
)
from complaints.services.clock import (
    complaint_clock_pause,
    complaint_clock_resume,
    complaint_extend,
    complaint_extension_approve,
    complaint_new_facts,
)
from complaints.services.escalation import (
    complaint_escalations_run,
    complaint_link_matter,
)
from complaints.services.intake import (
    complaint_create,
    complaint_create_from_spam_report,
)
from complaints.services.reviews import (
    complaint_review_assign,
    complaint_review_decide,
    complaint_review_request,
)
from complaints.services.workflow import (
    complaint_acknowledge,
    complaint_assign,
    complaint_close,
    complaint_decide,
    complaint_note_add,
    complaint_rate,
    complaint_recategorise,
    complaint_reopen,
    complaint_reply,
    complaint_start_investigation,
)

__all__ = [
    "MSG_ALREADY_PAUSED",
    "MSG_ALREADY_RATED",
    "MSG_ASSIGN_OTHERS",
    "MSG_DESCRIPTION_REQUIRED",
    "MSG_EXTENSION_NOT_PENDING",
    "MSG_EXTENSION_PENDING",
    "MSG_FINDINGS_REQUIRED",
    "MSG_ILLEGAL_TRANSITION",
    "MSG_NOT_CUSTOMERS",
    "MSG_NOT_HANDLER",
    "MSG_NOT_OPEN",
    "MSG_NOT_PAUSED",
    "MSG_NOT_REVIEWER",
    "MSG_NOT_SUPERVISOR",
    "MSG_NO_EXTENSION",
    "MSG_PAUSE_REASON",
    "MSG_RATING_NOT_DECIDED",
    "MSG_RATING_RANGE",
    "MSG_REASON_REQUIRED",
    "MSG_RECUSED",
    "MSG_REMEDIATION_REQUIRED",
    "MSG_REVIEW_DECIDED",
    "MSG_REVIEW_NOT_DECIDED",
    "MSG_REVIEW_OPEN",
    "MSG_REVIEW_WINDOW",
    "MSG_ROOT_CAUSE_REQUIRED",
    "PAUSE_REASONS",
    "TRANSITIONS",
    "complaint_acknowledge",
    "complaint_assign",
    "complaint_clock_pause",
    "complaint_clock_resume",
    "complaint_close",
    "complaint_create",
    "complaint_create_from_spam_report",
    "complaint_decide",
    "complaint_escalations_run",
    "complaint_extend",
    "complaint_extension_approve",
    "complaint_link_matter",
    "complaint_message_mark_sent",
    "complaint_new_facts",
    "complaint_note_add",
    "complaint_rate",
    "complaint_recategorise",
    "complaint_reopen",
    "complaint_reply",
    "complaint_review_assign",
    "complaint_review_decide",
    "complaint_review_request",
    "complaint_start_investigation",
    "is_supervisor",
]
