"""Consent receipts in the portal: the signed-in customer downloads the receipt of
one of their own grants or withdrawals (or of the latest), as JSON."""

from __future__ import annotations

import json

from django.http import Http404, HttpResponse
from django.views.decorators.http import require_GET

from consent.receipts import (
    MSG_NO_RECEIPT,
    receipt_build,
    receipt_event,
    receipt_latest,
)
from preferences.auth import customer_login_required


def _download(event) -> HttpResponse:
    response = HttpResponse(
        json.dumps(receipt_build(event), ensure_ascii=False, indent=2),
        content_type="application/json; charset=utf-8",
    )
    response["Content-Disposition"] = (
        f'attachment; filename="consent-receipt-{event.seq}.json"'
    )
    response["Cache-Control"] = "no-store"
    return response


@customer_login_required
@require_GET
def receipt(request, seq: int):
    event = receipt_event(customer=request.customer, seq=seq)
    if event is None:
        raise Http404(MSG_NO_RECEIPT)
    return _download(event)


@customer_login_required
@require_GET
def receipt_last(request):
    event = receipt_latest(customer=request.customer)
    if event is None:
        raise Http404(MSG_NO_RECEIPT)
    return _download(event)
