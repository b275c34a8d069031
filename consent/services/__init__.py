"""Every write to consent state, each inside a unit of work (``consent.unit``): the
ledger rows, the projection, the contactability keys and the feed rows commit
together or not at all."""

from consent.services._common import (
    MSG_ACTOR_REQUIRED,
    MSG_CHANNEL_INACTIVE,
    MSG_CONTACT_EXISTS,
    MSG_CONTACT_REMOVED,
    MSG_CUSTOMER_INACTIVE,
    MSG_NOT_OPTED_OUT,
    MSG_NOTICE_REQUIRED,
    MSG_OPT_IN_PORTAL_ONLY,
    MSG_OPTED_OUT,
    MSG_SERVICE_TOPIC,
    MSG_SOURCE_REQUIRED,
)
from consent.services.consents import (
    apply_withdraw,
    consent_grant,
    consent_opt_in_all,
    consent_opt_out_all,
    consent_states_write,
    consent_withdraw,
    grant_check,
    grant_undone_by,
)
from consent.services.contact_points import (
    contact_point_add,
    contact_point_mark_invalid,
    contact_point_mark_not_me,
    contact_point_remove,
    contact_point_restore,
    contact_point_verify,
    contact_points_unverified_expire,
    identifier_mark_not_me,
    identifier_suppress,
)
from consent.services.publish import contactability_publish
from consent.services.unsubscribe import (
    Unsubscribed,
    UnsubscribeScope,
    consent_unsubscribe,
    unsubscribe_scope,
)

__all__ = [
    "MSG_ACTOR_REQUIRED",
    "MSG_CHANNEL_INACTIVE",
    "MSG_CONTACT_EXISTS",
    "MSG_CONTACT_REMOVED",
    "MSG_CUSTOMER_INACTIVE",
    "MSG_NOTICE_REQUIRED",
    "MSG_NOT_OPTED_OUT",
    "MSG_OPTED_OUT",
    "MSG_OPT_IN_PORTAL_ONLY",
    "MSG_SERVICE_TOPIC",
    "MSG_SOURCE_REQUIRED",
    "UnsubscribeScope",
    "Unsubscribed",
    "apply_withdraw",
    "consent_grant",
    "consent_opt_in_all",
    "consent_opt_out_all",
    "consent_states_write",
    "consent_unsubscribe",
    "consent_withdraw",
    "contact_point_add",
    "contact_point_mark_invalid",
    "contact_point_mark_not_me",
    "contact_point_remove",
    "contact_point_restore",
    "contact_point_verify",
    "contact_points_unverified_expire",
    "contactability_publish",
    "grant_check",
    "grant_undone_by",
    "identifier_mark_not_me",
    "identifier_suppress",
    "unsubscribe_scope",
]
