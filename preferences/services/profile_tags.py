"""The customer clears the profile tags bank systems pushed (PIPL art. 24).

Clearing is a ledger event in a unit of work. Its ``detail`` holds how many tags
went and which systems had set them, not the tags themselves: the ledger outlives
an erasure and must not keep a profile. Refusing personalisation in the same step
is the customer's lasting answer: systems then may push no new tags.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from consent.errors import ApplicationError
from consent.ledger import Actor, Evidence
from consent.models import ConsentEvent, Customer, ProfileTag
from consent.unit import ConsentChange, joined
from preferences.services.contact_rules import personalisation_set

MSG_NO_TAGS = _("There are no profile tags to clear.")


def profile_tags_clear(
    *,
    customer: Customer,
    tag_id: int | None = None,
    refuse_personalisation: bool = False,
    actor: Actor | str | None = None,
    source: str | None = None,
    evidence: Evidence | None = None,
    change: ConsentChange | None = None,
) -> int:
    """Clear one tag (``tag_id``) or all of them; optionally refuse personalisation
    as well. Returns how many tags were cleared."""
    actor = actor or Actor.customer(customer)
    source = source or ConsentEvent.Source.PORTAL
    with joined(change, actor=actor, source=source, evidence=evidence) as change:
        change.lock(customer)
        tags = ProfileTag.objects.filter(customer=customer)
        if tag_id is not None:
            tags = tags.filter(pk=tag_id)
        systems = sorted(set(tags.values_list("client__name", flat=True)))
        count = tags.count()
        if not count and not refuse_personalisation:
            raise ApplicationError(MSG_NO_TAGS, code="no_tags")
        if count:
            tags.delete()
            change.record(
                customer=customer,
                action=ConsentEvent.Action.PROFILE_TAGS_CLEARED,
                source=source,
                actor=actor,
                evidence=evidence,
                detail={
                    "count": count,
                    "systems": systems,
                    "scope": "all" if tag_id is None else "one",
                },
            )
        if refuse_personalisation:
            personalisation_set(
                customer=customer,
                allowed=False,
                actor=actor,
                source=source,
                evidence=evidence,
                change=change,
            )
    return count
