"""Assisted channels: what a customer (or their next of kin) asks the call centre or
a branch, recorded at once by the agent, without a second approver.

Only changes that stop or hold contact are recorded this way (a withdrawal, "not
me", a care pause): withdrawal beats grant, from any source, at once. A grant taken
on a call goes through four-eyes approval instead (``consent.staff_grants``). Each
record runs in one unit of work with the ledger source ``call_centre`` or ``branch``,
the agent as the actor and the call or visit reference as evidence; the record and
an access-log row name the customer.
"""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from backoffice.audit import access_log_record
from backoffice.models import AccessLog, AssistedRecord
from backoffice.roles import BRANCH, CALL_CENTRE, user_has_role
from consent import hooks
from consent import services as consent_services
from consent.errors import ApplicationError
from consent.identifiers import normalise
from consent.ledger import Actor, Evidence
from consent.models import Channel, ContactPoint, Customer, Topic
from consent.unit import ConsentChange, consent_change

Kind = AssistedRecord.Kind
Via = AssistedRecord.Via
OnBehalfOf = AssistedRecord.OnBehalfOf

ROLE_FOR_VIA = {Via.CALL_CENTRE: CALL_CENTRE, Via.BRANCH: BRANCH}

# Scopes of an assisted withdrawal.
CELL = "cell"
CHANNEL = "channel"
ALL = "all"
SCOPE_CHOICES = (
    (CELL, _("One product on one channel")),
    (CHANNEL, _("Every product on one channel")),
    (ALL, _("All marketing on every channel")),
)

MSG_REFERENCE_REQUIRED = _("Give the call or visit reference.")
MSG_VIA_NOT_YOURS = _("You may record only for your own desk (call centre or branch).")
MSG_CUSTOMER_INACTIVE = _("This customer is not active.")
MSG_CHANNEL_REQUIRED = _("Choose the channel.")
MSG_TOPIC_REQUIRED = _("Choose the product.")
MSG_ADDRESS_NOT_CUSTOMERS = _(
    "This phone number or e-mail address is not one of this customer's addresses."
)
MSG_ADDRESS_ALREADY_NOT_ME = _("This address is already marked as not me.")
MSG_RELATIONSHIP_REQUIRED = _("Say how the person asking is related to the customer.")


def assisted_vias_for(user) -> list[str]:
    """The desks this staff member may record for."""
    if user.is_superuser:
        return [Via.CALL_CENTRE, Via.BRANCH]
    return [via for via, role in ROLE_FOR_VIA.items() if user_has_role(user, role)]


def _check(*, user, via: str, reference: str, customer: Customer) -> str:
    if via not in assisted_vias_for(user):
        raise PermissionDenied(MSG_VIA_NOT_YOURS)
    reference = (reference or "").strip()
    if not reference:
        raise ValidationError({"reference": MSG_REFERENCE_REQUIRED})
    if customer.status != Customer.Status.ACTIVE:
        raise ApplicationError(MSG_CUSTOMER_INACTIVE, code="customer_inactive")
    return reference


def _evidence(
    *,
    via: str,
    reference: str,
    on_behalf_of: str = OnBehalfOf.CUSTOMER,
    relationship: str = "",
    request=None,
) -> Evidence:
    extra = {
        "assisted_via": via,
        "assisted_reference": reference,
        "asked_by": on_behalf_of,
    }
    if relationship:
        extra["relationship"] = relationship
    if request is not None:
        return Evidence.from_request(request, **extra)
    return Evidence(extra=tuple(sorted(extra.items())))


def _record(
    *,
    change: ConsentChange,
    user,
    kind: str,
    via: str,
    reference: str,
    customer: Customer,
    on_behalf_of: str,
    relationship: str,
    summary: str,
    request=None,
) -> AssistedRecord:
    record = AssistedRecord(
        kind=kind,
        via=via,
        reference=reference,
        customer=customer,
        on_behalf_of=on_behalf_of,
        relationship=relationship,
        summary=summary[:300],
        ledger_events=[event.pk for event in change.events],
        recorded_by=user,
        recorded_at=change.now,
    )
    record.full_clean()
    record.save()
    access_log_record(
        user=user,
        action=AccessLog.Action.CHANGE,
        request=request,
        object_type="backoffice.assistedrecord",
        object_id=record.pk,
        customer_ref=customer.external_ref,
        fields=[kind],
        reason=f"{via} {reference}",
    )
    return record


def assisted_withdrawal_record(
    *,
    user,
    via: str,
    reference: str,
    customer: Customer,
    scope: str,
    channel: Channel | None = None,
    topic: Topic | None = None,
    request=None,
) -> AssistedRecord:
    """The customer asked to stop marketing: one product on one channel, a whole
    channel, or all marketing (a stop of all marketing, as in the portal)."""
    reference = _check(user=user, via=via, reference=reference, customer=customer)
    if scope in (CELL, CHANNEL) and channel is None:
        raise ValidationError({"channel": MSG_CHANNEL_REQUIRED})
    if scope == CELL and topic is None:
        raise ValidationError({"topic": MSG_TOPIC_REQUIRED})
    actor = Actor.staff(user)
    evidence = _evidence(via=via, reference=reference, request=request)
    with consent_change(actor=actor, source=via, evidence=evidence) as change:
        if scope == ALL:
            consent_services.consent_opt_out_all(
                customer=customer, source=via, actor=actor, change=change
            )
            summary = gettext("Stopped all marketing")
        else:
            consent_services.consent_withdraw(
                customer=customer,
                channel=channel,
                topic=topic if scope == CELL else None,
                source=via,
                actor=actor,
                change=change,
            )
            summary = (
                gettext("Withdrew %(topic)s on %(channel)s")
                % {"topic": topic.label, "channel": channel.label}
                if scope == CELL
                else gettext("Withdrew all marketing on %(channel)s")
                % {"channel": channel.label}
            )
        return _record(
            change=change,
            user=user,
            kind=Kind.WITHDRAWAL,
            via=via,
            reference=reference,
            customer=customer,
            on_behalf_of=OnBehalfOf.CUSTOMER,
            relationship="",
            summary=summary,
            request=request,
        )


def assisted_not_me_record(
    *,
    user,
    via: str,
    reference: str,
    customer: Customer,
    address: str,
    request=None,
) -> AssistedRecord:
    """The person holding one of this customer's addresses says it is not the
    customer's: everything to it stops, for every customer linked to it (as the
    portal's "this is not me" does)."""
    reference = _check(user=user, via=via, reference=reference, customer=customer)
    live = ContactPoint.objects.filter(customer=customer, removed_at__isnull=True)
    target = None
    for point in live:
        try:
            normalised = normalise(point.kind, address)
        except ValidationError:
            continue
        if ContactPoint.index_for(point.kind, normalised) == point.blind_index:
            target = point
            break
    if target is None:
        raise ValidationError({"address": MSG_ADDRESS_NOT_CUSTOMERS})
    if target.status == ContactPoint.Status.NOT_ME:
        raise ValidationError({"address": MSG_ADDRESS_ALREADY_NOT_ME})
    actor = Actor.staff(user)
    evidence = _evidence(via=via, reference=reference, request=request)
    with consent_change(actor=actor, source=via, evidence=evidence) as change:
        # The portal's and a reply's rule: every holder stops, a correction task
        # opens for staff.
        consent_services.identifier_mark_not_me(
            kind=target.kind,
            address=target.address,
            source=via,
            actor=actor,
            evidence=evidence,
            change=change,
            via=via,
        )
        return _record(
            change=change,
            user=user,
            kind=Kind.NOT_ME,
            via=via,
            reference=reference,
            customer=customer,
            on_behalf_of=OnBehalfOf.CUSTOMER,
            relationship="",
            summary=gettext("Not me: %(address)s") % {"address": target.masked},
            request=request,
        )


def assisted_care_pause_record(
    *,
    user,
    via: str,
    reference: str,
    customer: Customer,
    ends_at: datetime,
    scope: str,
    reason: str,
    on_behalf_of: str = OnBehalfOf.CUSTOMER,
    relationship: str = "",
    request=None,
) -> AssistedRecord:
    """Pause marketing (and collections, if asked) for the customer, asked by the
    customer or by their next of kin."""
    reference = _check(user=user, via=via, reference=reference, customer=customer)
    relationship = (relationship or "").strip()
    if on_behalf_of == OnBehalfOf.NEXT_OF_KIN and not relationship:
        raise ValidationError({"relationship": MSG_RELATIONSHIP_REQUIRED})
    if on_behalf_of == OnBehalfOf.CUSTOMER:
        relationship = ""
    actor = Actor.staff(user)
    evidence = _evidence(
        via=via,
        reference=reference,
        on_behalf_of=on_behalf_of,
        relationship=relationship,
        request=request,
    )
    with consent_change(actor=actor, source=via, evidence=evidence) as change:
        pause = hooks.care_pauses().start(
            customer=customer,
            ends_at=ends_at,
            scope=scope,
            reason=reason,
            actor=actor,
            source=via,
            evidence=evidence,
            change=change,
        )
        return _record(
            change=change,
            user=user,
            kind=Kind.CARE_PAUSE,
            via=via,
            reference=reference,
            customer=customer,
            on_behalf_of=on_behalf_of,
            relationship=relationship,
            summary=gettext("Care pause until %(date)s (%(scope)s)")
            % {
                "date": ends_at.date().isoformat(),
                "scope": pause.get_scope_display(),
            },
            request=request,
        )
