from __future__ import annotations

from django.urls import path

from complaints import views

app_name = "complaints"

urlpatterns = [
    path("", views.portal_list, name="portal_list"),
    path("new/", views.portal_create, name="portal_create"),
    path("report/<str:token>/", views.report, name="report"),
    path("<str:reference>/", views.portal_detail, name="portal_detail"),
    path("<str:reference>/rate/", views.portal_rate, name="portal_rate"),
    path("<str:reference>/info/", views.portal_add_info, name="portal_add_info"),
    path("<str:reference>/review/", views.portal_review, name="portal_review"),
]
