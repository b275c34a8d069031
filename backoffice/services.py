"""Four-eyes approval: sensitive staff operations wait for a second staff member.

A request stores what would be done (``payload``); nothing changes until someone
other than the requester approves, and then the operation runs through the consent
services in one transaction, with the approver named in the ledger evidence.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from backoffice.models import ApprovalRequest
from consent import staff_grants
from consent.errors import ApplicationError
from consent.ledger import Actor, Evidence
from consent.models import (
    ApiClient,
    Channel,
    ContactPoint,
    Customer,
    NoticeVersion,
    OptOut,
    Topic,
)

APPROVE_PERMISSION = "backoffice.approve_approvalrequest"

MSG_SELF_DECISION = _("You cannot approve or reject your own request.")
MSG_NOT_PENDING = _("This request has already been decided.")
MSG_NO_APPROVE_PERMISSION = _("You may not decide approval requests.")
MSG_CONTACT_ACTIVE = _("This contact point has no not-me or invalid flag to clear.")
MSG_REASON_REQUIRED = _("Give a reason for the request.")
MSG_CSV_EMPTY = _("The file has no rows.")
MSG_CSV_HEADER = _("The first line must read: %(columns)s.")
MSG_CSV_TOO_LONG = _("At most %(max)d rows per import.")
MSG_CSV_ENCODING = _("The file must be UTF-8 text.")
MSG_CSV_NOTHING_VALID = _("No row of the file is valid.")
MSG_ROW_CUSTOMER = _("Unknown customer reference.")
MSG_ROW_CUSTOMER_INACTIVE = _("The customer is not active.")
MSG_ROW_CHANNEL = _("Unknown or inactive channel.")
MSG_ROW_TOPIC = _("Unknown topic, or not a marketing topic.")
MSG_ROW_ACTION = _("Action must be grant or withdraw.")
MSG_ROW_NOTICE = _(
    "A grant needs a notice as code:version:language, e.g. marketing:1:en."
)
MSG_ROW_OCCURRED = _(
    "occurred_at must be an ISO 8601 time with a zone, not in the future."
)
MSG_ROW_OPTED_OUT = _("The customer stopped all marketing; a grant cannot be imported.")
MSG_CLIENT_NAME = _("Name the new client or choose an existing one.")
MSG_CLIENT_INACTIVE = _(
    "The API client is paused; activate it before rotating its key."
)

CSV_COLUMNS = ("customer_ref", "channel", "topic", "action", "notice", "occurred_at")
# Needed on grant rows: the customer's own act (recorded_call or signed_form) and its
# reference (see ``consent.staff_grants``).
CSV_ACT_COLUMNS = ("customer_act", "act_reference")
CSV_MAX_ROWS = 10_000


def _evidence(approval: ApprovalRequest, approver, act: dict | None = None) -> Evidence:
    return Evidence(
        extra=(
            ("approval_request", str(approval.pk)),
            ("approved_by", approver.get_username()),
            *sorted((act or {}).items()),
        )
    )


def _error_text(exc: ApplicationError | ValidationError) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(str(m) for m in exc.messages)
    return str(exc.message)


def _require_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": MSG_REASON_REQUIRED}, code="reason_required")
    return reason


@transaction.atomic
def approval_request_create(
    *, kind: str, requested_by, reason: str, payload: dict, summary: str
) -> ApprovalRequest:
    approval = ApprovalRequest(
        kind=kind,
        requested_by=requested_by,
        reason=_require_reason(reason),
        payload=payload,
        summary=summary[:300],
    )
    approval.full_clean()
    approval.save()
    return approval


# --- requests, one per kind ---------------------------------------------------------


def approval_request_contact_restore(
    *, contact_point: ContactPoint, requested_by, reason: str
) -> ApprovalRequest:
    """Ask to clear a not-me or invalid flag."""
    if contact_point.status == ContactPoint.Status.ACTIVE:
        raise ApplicationError(MSG_CONTACT_ACTIVE, code="contact_active")
    return approval_request_create(
        kind=ApprovalRequest.Kind.CONTACT_RESTORE,
        requested_by=requested_by,
        reason=reason,
        payload={"contact_point": contact_point.pk},
        summary=gettext("Clear %(status)s on %(address)s of %(ref)s")
        % {
            "status": contact_point.status,
            "address": contact_point.masked,
            "ref": contact_point.customer.external_ref,
        },
    )


def approval_request_consent_restore(
    *,
    customer: Customer,
    channel: Channel,
    topic: Topic,
    notice_version: NoticeVersion,
    customer_act: str,
    act_reference: str,
    requested_by,
    reason: str,
) -> ApprovalRequest:
    """Ask to record a marketing grant the customer gave to staff (e.g. by phone).

    The customer's own act (a recorded call with the notice read out, or a signed
    form) is the evidence; the grant is refused at once if the customer withdrew
    this consent themselves recently (``consent.staff_grants``)."""
    if not topic.is_marketing:
        raise ValidationError({"topic": MSG_ROW_TOPIC}, code="service_topic")
    act = staff_grants.customer_act_evidence(
        act=customer_act, reference=act_reference, notice_version=notice_version
    )
    staff_grants.staff_grant_check(
        customer=customer,
        channel=channel,
        topic=topic,
        notice_version=notice_version,
        evidence=dict(act),
        require_approver=False,
    )
    return approval_request_create(
        kind=ApprovalRequest.Kind.CONSENT_RESTORE,
        requested_by=requested_by,
        reason=reason,
        payload={
            "customer": customer.pk,
            "channel": channel.code,
            "topic": topic.code,
            "notice_version": notice_version.pk,
            "customer_act": dict(act),
        },
        summary=gettext("Grant %(channel)s/%(topic)s for %(ref)s")
        % {"channel": channel.code, "topic": topic.code, "ref": customer.external_ref},
    )


def approval_request_api_client_channels(
    *,
    requested_by,
    reason: str,
    channel_codes: list[str],
    client: ApiClient | None = None,
    name: str = "",
) -> ApprovalRequest:
    """Ask to create a sending system or widen the channels it may read."""
    codes = sorted({c.strip() for c in channel_codes if c.strip()})
    if client is None and not name.strip():
        raise ValidationError({"name": MSG_CLIENT_NAME}, code="client_required")
    return approval_request_create(
        kind=ApprovalRequest.Kind.API_CLIENT_CHANNELS,
        requested_by=requested_by,
        reason=reason,
        payload={
            "client": client.pk if client else None,
            "name": client.name if client else name.strip(),
            "channels": codes,
        },
        summary=gettext("API client %(name)s: channels %(codes)s")
        % {"name": client.name if client else name.strip(), "codes": ", ".join(codes)},
    )


def approval_request_api_key_rotate(
    *, client: ApiClient, requested_by, reason: str
) -> ApprovalRequest:
    """Ask to issue a new API key for a sending system. Whoever approves receives
    the new key once; the old keys keep working for the rotation overlap."""
    if not client.is_active:
        raise ApplicationError(MSG_CLIENT_INACTIVE, code="client_inactive")
    return approval_request_create(
        kind=ApprovalRequest.Kind.API_KEY_ROTATE,
        requested_by=requested_by,
        reason=reason,
        payload={"client": client.pk, "name": client.name},
        summary=gettext("Rotate the API key of %(name)s") % {"name": client.name},
    )


def _parse_row(line: int, row: dict, catalogue: dict) -> dict:
    data = {k: (row.get(k) or "").strip() for k in (*CSV_COLUMNS, *CSV_ACT_COLUMNS)}
    errors: list[str] = []
    customer = catalogue["customers"].get(data["customer_ref"])
    if customer is None:
        errors.append(str(MSG_ROW_CUSTOMER))
    elif customer.status != Customer.Status.ACTIVE:
        errors.append(str(MSG_ROW_CUSTOMER_INACTIVE))
    channel = catalogue["channels"].get(data["channel"])
    if channel is None:
        errors.append(str(MSG_ROW_CHANNEL))
    topic = catalogue["topics"].get(data["topic"])
    if topic is None:
        errors.append(str(MSG_ROW_TOPIC))
    action = data["action"].lower()
    if action not in ("grant", "withdraw"):
        errors.append(str(MSG_ROW_ACTION))
    notice = None
    act: dict = {}
    if action == "grant":
        notice = catalogue["notices"].get(data["notice"])
        if notice is None:
            errors.append(str(MSG_ROW_NOTICE))
        if customer is not None and customer.pk in catalogue["opted_out"]:
            errors.append(str(MSG_ROW_OPTED_OUT))
        act = dict(
            staff_grants.customer_act_evidence(
                act=data["customer_act"],
                reference=data["act_reference"],
                notice_version=notice,
            )
        )
        if customer is not None and channel is not None and topic is not None:
            errors.extend(
                str(problem.message)
                for problem in staff_grants.staff_grant_problems(
                    customer=customer,
                    channel=channel,
                    topic=topic,
                    notice_version=notice,
                    evidence=act,
                    require_approver=False,
                    withdrawals=catalogue["self_service_withdrawals"],
                )
            )
    occurred = None
    if data["occurred_at"]:
        occurred = parse_datetime(data["occurred_at"])
        if occurred is None or occurred.tzinfo is None or occurred > timezone.now():
            errors.append(str(MSG_ROW_OCCURRED))
            occurred = None
    return {
        "line": line,
        "customer_ref": data["customer_ref"],
        "channel": data["channel"],
        "topic": data["topic"],
        "action": action,
        "notice_version": notice.pk if notice else None,
        "customer_act": act,
        "occurred_at": occurred.isoformat() if occurred else "",
        "errors": errors,
    }


def consent_import_parse(content: bytes | str) -> list[dict]:
    """Validate every row of a consent CSV; nothing is written."""
    if isinstance(content, bytes):
        try:
            content = content.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ValidationError({"file": MSG_CSV_ENCODING}) from exc
    reader = csv.DictReader(io.StringIO(content))
    if not reader.fieldnames or not set(CSV_COLUMNS) <= {
        (f or "").strip() for f in reader.fieldnames
    }:
        raise ValidationError(
            {"file": MSG_CSV_HEADER % {"columns": ",".join(CSV_COLUMNS)}},
            code="csv_header",
        )
    rows = [{(k or "").strip(): v for k, v in r.items()} for r in reader]
    if not rows:
        raise ValidationError({"file": MSG_CSV_EMPTY}, code="csv_empty")
    if len(rows) > CSV_MAX_ROWS:
        raise ValidationError(
            {"file": MSG_CSV_TOO_LONG % {"max": CSV_MAX_ROWS}}, code="csv_too_long"
        )
    refs = {(r.get("customer_ref") or "").strip() for r in rows}
    customers = {
        c.external_ref: c for c in Customer.objects.filter(external_ref__in=refs)
    }
    catalogue = {
        "customers": customers,
        "channels": {c.code: c for c in Channel.objects.filter(is_active=True)},
        "topics": {t.code: t for t in Topic.objects.filter(kind=Topic.Kind.MARKETING)},
        "notices": {
            staff_grants.notice_label(n): n for n in NoticeVersion.objects.all()
        },
        "self_service_withdrawals": staff_grants.self_service_withdrawals(
            customer_ids=[c.pk for c in customers.values()]
        ),
        "opted_out": set(
            OptOut.objects.filter(
                customer__in=[c.pk for c in customers.values()]
            ).values_list("customer_id", flat=True)
        ),
    }
    return [_parse_row(i, row, catalogue) for i, row in enumerate(rows, start=2)]


def approval_request_consent_import(
    *, content: bytes | str, filename: str, requested_by, reason: str
) -> ApprovalRequest:
    """Validate an import file row by row and park it for approval."""
    rows = consent_import_parse(content)
    valid = sum(1 for r in rows if not r["errors"])
    if not valid:
        raise ValidationError({"file": MSG_CSV_NOTHING_VALID}, code="csv_nothing_valid")
    return approval_request_create(
        kind=ApprovalRequest.Kind.CONSENT_IMPORT,
        requested_by=requested_by,
        reason=reason,
        payload={"filename": filename[:200], "rows": rows},
        summary=gettext("Import %(valid)d of %(total)d rows from %(file)s")
        % {"valid": valid, "total": len(rows), "file": filename[:100]},
    )


# --- execution on approval ------------------------------------------------------------


def _run_contact_restore(approval: ApprovalRequest, approver) -> dict:
    from consent.services import contact_point_restore

    contact_point = ContactPoint.objects.get(pk=approval.payload["contact_point"])
    if contact_point.status == ContactPoint.Status.ACTIVE:
        raise ApplicationError(MSG_CONTACT_ACTIVE, code="contact_active")
    contact_point_restore(
        contact_point=contact_point,
        source="staff",
        actor=Actor.staff(approval.requested_by),
        evidence=_evidence(approval, approver),
    )
    return {"contact_point": contact_point.pk, "status": "active"}


def _run_consent_restore(approval: ApprovalRequest, approver) -> dict:
    from consent.services import consent_grant

    payload = approval.payload
    event = consent_grant(
        customer=Customer.objects.get(pk=payload["customer"]),
        channel=Channel.objects.get(code=payload["channel"]),
        topic=Topic.objects.get(code=payload["topic"]),
        notice_version=NoticeVersion.objects.get(pk=payload["notice_version"]),
        source="staff",
        actor=Actor.staff(approval.requested_by),
        evidence=_evidence(approval, approver, payload.get("customer_act")),
    )
    return {"ledger_seq": event.seq}


def _apply_import_row(row: dict, approval: ApprovalRequest, approver):
    from consent.services import consent_grant, consent_withdraw

    kwargs = {
        "customer": Customer.objects.get(external_ref=row["customer_ref"]),
        "channel": Channel.objects.get(code=row["channel"]),
        "topic": Topic.objects.get(code=row["topic"]),
        "source": "import",
        "actor": Actor.staff(approval.requested_by),
        "evidence": _evidence(approval, approver, row.get("customer_act")),
        "occurred_at": (
            datetime.fromisoformat(row["occurred_at"]) if row["occurred_at"] else None
        ),
    }
    if row["action"] == "grant":
        event = consent_grant(
            notice_version=NoticeVersion.objects.get(pk=row["notice_version"]),
            **kwargs,
        )
    else:
        event = consent_withdraw(**kwargs)
    return event


def _run_consent_import(approval: ApprovalRequest, approver) -> dict:
    """Apply valid rows in one unit of work (one transaction, keys published once);
    a row refused now is reported and rolled back alone (savepoint), the rest still
    apply. Ledger positions are known once the unit has appended its rows."""
    from consent.unit import consent_change

    report, applied = [], []
    with consent_change(
        actor=Actor.staff(approval.requested_by),
        source="import",
        evidence=_evidence(approval, approver),
    ):
        for row in approval.payload["rows"]:
            if row["errors"]:
                report.append(
                    {"line": row["line"], "status": "skipped", "errors": row["errors"]}
                )
                continue
            try:
                with transaction.atomic():
                    event = _apply_import_row(row, approval, approver)
            except (ApplicationError, ValidationError) as exc:
                report.append(
                    {
                        "line": row["line"],
                        "status": "failed",
                        "errors": [_error_text(exc)],
                    }
                )
                continue
            entry = {"line": row["line"], "status": "applied"}
            report.append(entry)
            applied.append((entry, event))
    for entry, event in applied:
        entry["ledger_seq"] = event.seq
    return {"applied": len(applied), "rows": report}


def _run_api_client_channels(approval: ApprovalRequest, approver) -> dict:
    from consent.api_clients import api_client_create, api_client_set_channels

    payload = approval.payload
    if payload.get("client"):
        client = ApiClient.objects.get(pk=payload["client"])
        api_client_set_channels(client=client, channel_codes=payload["channels"])
        return {"client": client.pk, "channels": payload["channels"]}
    client, issued = api_client_create(
        name=payload["name"], channel_codes=payload["channels"]
    )
    # The clear key is handed to the approver once (see the admin); only its prefix
    # is kept in the report.
    approval._issued_key = issued
    return {
        "client": client.pk,
        "channels": payload["channels"],
        "key_prefix": issued.key.prefix,
    }


def _run_api_key_rotate(approval: ApprovalRequest, approver) -> dict:
    from backoffice.audit import access_log_record
    from consent.api_clients import api_key_rotate

    client = ApiClient.objects.get(pk=approval.payload["client"])
    if not client.is_active:
        raise ApplicationError(MSG_CLIENT_INACTIVE, code="client_inactive")
    issued = api_key_rotate(client=client)
    approval._issued_key = issued
    # Both people are on record: the requester asked, the approver received the key.
    for user in (approval.requested_by, approver):
        access_log_record(
            user=user,
            action="change",
            object_type="consent.apiclient",
            object_id=client.pk,
            fields=["api_key"],
            reason=gettext("API key rotation, request #%(id)d") % {"id": approval.pk},
        )
    old_until = (
        client.keys.exclude(pk=issued.key.pk)
        .filter(revoked_at__isnull=True)
        .aggregate(until=Max("expires_at"))["until"]
    )
    return {
        "client": client.pk,
        "key_prefix": issued.key.prefix,
        "old_keys_expire_at": old_until.isoformat() if old_until else None,
    }


EXECUTORS: dict[str, Callable[[ApprovalRequest, object], dict]] = {
    ApprovalRequest.Kind.CONTACT_RESTORE: _run_contact_restore,
    ApprovalRequest.Kind.CONSENT_RESTORE: _run_consent_restore,
    ApprovalRequest.Kind.CONSENT_IMPORT: _run_consent_import,
    ApprovalRequest.Kind.API_CLIENT_CHANNELS: _run_api_client_channels,
    ApprovalRequest.Kind.API_KEY_ROTATE: _run_api_key_rotate,
}


def _lock_pending(approval: ApprovalRequest, decider) -> ApprovalRequest:
    locked = ApprovalRequest.objects.select_for_update().get(pk=approval.pk)
    if locked.status != ApprovalRequest.Status.PENDING:
        raise ApplicationError(MSG_NOT_PENDING, code="not_pending")
    if locked.requested_by_id == decider.pk:
        raise ApplicationError(MSG_SELF_DECISION, code="self_decision")
    if not decider.has_perm(APPROVE_PERMISSION):
        raise PermissionDenied(MSG_NO_APPROVE_PERMISSION)
    return locked


@transaction.atomic
def approval_request_approve(
    *, approval: ApprovalRequest, approver, note: str = ""
) -> ApprovalRequest:
    """Run the operation as the requester, with the approver named as evidence.

    If the operation is refused now (e.g. the customer stopped all marketing since),
    nothing of it is applied and the request ends as ``failed`` with the reason.
    """
    locked = _lock_pending(approval, approver)
    try:
        with transaction.atomic():
            result = EXECUTORS[locked.kind](locked, approver)
        status = ApprovalRequest.Status.APPROVED
    except (ApplicationError, ValidationError) as exc:
        result = {"error": _error_text(exc)}
        status = ApprovalRequest.Status.FAILED
    locked.status = status
    locked.decided_by = approver
    locked.decided_at = timezone.now()
    locked.decision_note = (note or "")[:300]
    locked.result = result
    locked.save(
        update_fields=["status", "decided_by", "decided_at", "decision_note", "result"]
    )
    return locked


@transaction.atomic
def approval_request_reject(
    *, approval: ApprovalRequest, approver, note: str = ""
) -> ApprovalRequest:
    """Refuse the request; nothing of it is applied."""
    locked = _lock_pending(approval, approver)
    locked.status = ApprovalRequest.Status.REJECTED
    locked.decided_by = approver
    locked.decided_at = timezone.now()
    locked.decision_note = (note or "")[:300]
    locked.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    return locked
