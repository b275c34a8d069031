from __future__ import annotations

from django.urls import path

from consent.api import views
from consent.api.consent_requests import ConsentRequestCreateApi
from consent.api.events import InboundEventCreateApi
from consent.api.profile_tags import CustomerProfileTagsApi

app_name = "api"

urlpatterns = [
    path(
        "suppression/changes",
        views.SuppressionChangesApi.as_view(),
        name="suppression-changes",
    ),
    path(
        "suppression/snapshot",
        views.SuppressionSnapshotApi.as_view(),
        name="suppression-snapshot",
    ),
    path(
        "suppression/check",
        views.SuppressionCheckApi.as_view(),
        name="suppression-check",
    ),
    path(
        "suppression/status",
        views.SuppressionStatusApi.as_view(),
        name="suppression-status",
    ),
    path(
        "customers/<str:external_ref>/profile-tags",
        CustomerProfileTagsApi.as_view(),
        name="customer-profile-tags",
    ),
    path(
        "events",
        InboundEventCreateApi.as_view(channel_access="write"),
        name="events",
    ),
    path(
        "consent-requests",
        ConsentRequestCreateApi.as_view(),
        name="consent-requests",
    ),
]
