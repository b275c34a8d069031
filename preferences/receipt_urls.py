"""Consent receipt downloads (included under the portal's ``account/receipts/``)."""

from __future__ import annotations

from django.urls import path

from preferences import receipts

urlpatterns = [
    path("latest.json", receipts.receipt_last, name="receipt_latest"),
    path("<int:seq>.json", receipts.receipt, name="receipt"),
]
