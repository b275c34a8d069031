"""Importing addresses from the bank's records (double opt-in).

Every imported address starts unconfirmed: it carries nothing until its holder
confirms it, and the holder is asked to (``contact_point_add`` queues the request
after commit). One unit of work for the whole file; a row refused is reported and
rolled back alone.
"""

from __future__ import annotations

import csv
import io

from django.core.exceptions import ValidationError
from django.db import transaction

from consent.errors import ApplicationError
from consent.ledger import Actor, Evidence
from consent.models import ConsentEvent, Customer
from consent.services import contact_point_add
from consent.unit import consent_change

COLUMNS = ("customer_ref", "kind", "address")
KINDS = ("phone", "email")


def _row_error(exc: ValidationError | ApplicationError) -> str:
    if isinstance(exc, ApplicationError):
        return str(exc.message)
    return "; ".join(str(m) for m in exc.messages)


def contact_points_import(
    *, content: str, actor: Actor, source_name: str
) -> list[dict]:
    """Add each row's address, unconfirmed. Returns one line per row: ``added``,
    or ``failed`` with the reason (unknown customer, bad or duplicate address)."""
    reader = csv.DictReader(io.StringIO(content))
    if not reader.fieldnames or not set(COLUMNS) <= {
        (f or "").strip() for f in reader.fieldnames
    }:
        raise ValidationError(f"The file needs the columns {','.join(COLUMNS)}.")
    rows = [
        {(k or "").strip(): (v or "").strip() for k, v in r.items()} for r in reader
    ]
    customers = {
        c.external_ref: c
        for c in Customer.objects.filter(
            external_ref__in={r["customer_ref"] for r in rows},
            status=Customer.Status.ACTIVE,
        )
    }
    report = []
    evidence = Evidence(extra=(("file", source_name[:100]),))
    source = ConsentEvent.Source.IMPORT
    with consent_change(actor=actor, source=source, evidence=evidence):
        for line, row in enumerate(rows, start=2):
            customer = customers.get(row["customer_ref"])
            if customer is None or row["kind"] not in KINDS:
                reason = "unknown customer" if customer is None else "unknown kind"
                report.append({"line": line, "status": "failed", "error": reason})
                continue
            try:
                with transaction.atomic():
                    contact_point_add(
                        customer=customer,
                        kind=row["kind"],
                        address=row["address"],
                        source=source,
                        actor=actor,
                        evidence=evidence,
                    )
            except (ValidationError, ApplicationError) as exc:
                report.append(
                    {"line": line, "status": "failed", "error": _row_error(exc)}
                )
                continue
            report.append({"line": line, "status": "added"})
    return report
