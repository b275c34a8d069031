from __future__ import annotations

from django.urls import include, path

from preferences import views

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    path("sign-in/", views.sign_in, name="sign_in"),
    path("sign-in/code/", views.sign_in_code, name="sign_in_code"),
    path("sign-in/choose/", views.sign_in_choose, name="sign_in_choose"),
    path("sign-in/shared/", views.shared_identifier, name="shared_identifier"),
    path("sign-out/", views.sign_out, name="sign_out"),
    path("account/", views.dashboard, name="dashboard"),
    path(
        "account/requests/<int:pk>/",
        views.consent_request_answer,
        name="consent_request_answer",
    ),
    path("account/preferences/", views.preferences, name="preferences"),
    path("account/preferences/stop-all/", views.stop_all, name="stop_all"),
    path(
        "account/preferences/service/",
        views.service_messages,
        name="service_messages",
    ),
    path("account/preferences/again/", views.marketing_again, name="marketing_again"),
    path("account/contact-settings/", views.contact_settings, name="contact_settings"),
    path("account/frequency/", views.frequency, name="frequency"),
    path("account/care-pause/", views.care_pause, name="care_pause"),
    path("account/personalisation/", views.personalisation, name="personalisation"),
    path(
        "account/personalisation/tags/clear/",
        views.profile_tags_clear,
        name="profile_tags_clear",
    ),
    path("account/contact-points/", views.contact_points, name="contact_points"),
    path(
        "account/contact-points/add/", views.contact_point_add, name="contact_point_add"
    ),
    path(
        "account/contact-points/<int:pk>/verify/",
        views.contact_point_verify,
        name="contact_point_verify",
    ),
    path(
        "account/contact-points/<int:pk>/contest/",
        views.contact_point_contest,
        name="contact_point_contest",
    ),
    path(
        "account/contact-points/<int:pk>/remove/",
        views.contact_point_remove,
        name="contact_point_remove",
    ),
    path("account/history/", views.history, name="history"),
    path("account/my-data/", views.my_data, name="my_data"),
    path("account/my-data/export.json", views.export, name="export"),
    path("account/my-data/export.html", views.export_readable, name="export_readable"),
    path("account/receipts/", include("preferences.receipt_urls")),
    path("u/<str:token>", views.unsubscribe, name="unsubscribe"),
    path("u/<str:token>/undo", views.unsubscribe_undo, name="unsubscribe_undo"),
    path("confirm/<str:token>", views.contact_confirm, name="contact_confirm"),
    path("not-me/", views.not_me, name="not_me"),
    path("not-me/code/", views.not_me_code, name="not_me_code"),
    path("next-of-kin/", views.next_of_kin, name="next_of_kin"),
    path(
        "next-of-kin/care-pause/",
        views.next_of_kin_care_pause,
        name="next_of_kin_care_pause",
    ),
]
