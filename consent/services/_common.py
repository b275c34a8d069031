"""Rules every consent service checks, and its error messages."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from consent.errors import ApplicationError
from consent.ledger import Actor
from consent.models import Topic

MSG_NOTICE_REQUIRED = _("A grant must cite the notice version the customer was shown.")
MSG_SOURCE_REQUIRED = _("A change must name its source.")
MSG_ACTOR_REQUIRED = _("A change must name who made it.")
MSG_SERVICE_TOPIC = _(
    "Service messages need no marketing consent and cannot be changed."
)
MSG_OPTED_OUT = _(
    "All marketing was stopped. Only the customer can ask for marketing again, "
    "in the self-service portal."
)
MSG_OPT_IN_PORTAL_ONLY = _(
    "Marketing can only be restarted by the customer's own action in the portal."
)
MSG_NOT_OPTED_OUT = _("Marketing is not stopped for this customer.")
MSG_CUSTOMER_INACTIVE = _("No consent can be granted for this customer.")
MSG_CONTACT_EXISTS = _("This address is already on file.")
MSG_CONTACT_REMOVED = _("This address was removed.")
MSG_CHANNEL_INACTIVE = _("This channel is not in use.")


def require_evidence(*, source: str, actor: Actor | str) -> None:
    if not source:
        raise ValidationError(MSG_SOURCE_REQUIRED, code="source_required")
    if not str(actor or "").strip(":"):
        raise ValidationError(MSG_ACTOR_REQUIRED, code="actor_required")


def require_marketing_or_refusable(topic: Topic | None) -> None:
    """Marketing, or a service topic customers may switch off (never security
    alerts)."""
    if topic is not None and not topic.is_marketing and not topic.is_refusable_service:
        raise ApplicationError(MSG_SERVICE_TOPIC, code="service_topic")
