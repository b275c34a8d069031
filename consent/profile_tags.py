"""Profile tags that bank systems push for personalisation (``ProfileTag``).

A system replaces its own tags for a customer in one call and reads back only its
own. A customer who refused personalisation (PIPL art. 24) is sent no tags: the
push is refused and nothing is stored. The customer clears tags in the portal
(a ledger event, ``preferences.services.profile_tags``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from consent import hooks
from consent.errors import ApplicationError
from consent.models import ApiClient, Customer, ProfileTag

MAX_TAGS = 100

MSG_PERSONALISATION_REFUSED = _(
    "This customer refused personalised marketing: no profile tags are kept."
)


@dataclass(frozen=True)
class TagInput:
    code: str
    label: str


def personalisation_allowed(customer: Customer) -> bool:
    now = timezone.now()
    return hooks.holder_preferences([customer.pk], now)[customer.pk].personalisation


def profile_tags_of_client(
    *, customer: Customer, client: ApiClient
) -> list[ProfileTag]:
    return list(ProfileTag.objects.filter(customer=customer, client=client))


@transaction.atomic
def profile_tags_replace(
    *, customer: Customer, client: ApiClient, tags: Sequence[TagInput]
) -> list[ProfileTag]:
    """Make the client's tags for the customer exactly ``tags``. A tag whose label
    did not change keeps its time; other clients' tags are untouched."""
    Customer.objects.select_for_update().filter(pk=customer.pk).first()
    if not personalisation_allowed(customer):
        raise ApplicationError(
            MSG_PERSONALISATION_REFUSED,
            code="personalisation_refused",
            extra={"status": 409},
        )
    now = timezone.now()
    wanted = {tag.code: tag.label for tag in tags}
    current = {
        tag.code: tag
        for tag in ProfileTag.objects.filter(customer=customer, client=client)
    }
    gone = [tag.pk for code, tag in current.items() if code not in wanted]
    if gone:
        ProfileTag.objects.filter(pk__in=gone).delete()
    changed, created = [], []
    for code, label in wanted.items():
        tag = current.get(code)
        if tag is None:
            created.append(
                ProfileTag(
                    customer=customer, client=client, code=code, label=label, set_at=now
                )
            )
        elif tag.label != label:
            tag.label, tag.set_at = label, now
            changed.append(tag)
    if created:
        ProfileTag.objects.bulk_create(created)
    if changed:
        ProfileTag.objects.bulk_update(changed, ["label", "set_at"])
    return profile_tags_of_client(customer=customer, client=client)
