from __future__ import annotations

from django.urls import path, register_converter

from complaints import views


class ReferenceConverter:
    """CMP-YYYY-NNNNNN only: anything else (a NUL byte, a stray character) is 404
    before it reaches the database."""

    regex = r"CMP-[0-9]{4}-[0-9]{6,9}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(ReferenceConverter, "cmpref")

app_name = "complaints"

urlpatterns = [
    path("", views.portal_list, name="portal_list"),
    path("new/", views.portal_create, name="portal_create"),
    path("report/<str:token>/", views.report, name="report"),
    path("<cmpref:reference>/", views.portal_detail, name="portal_detail"),
    path("<cmpref:reference>/rate/", views.portal_rate, name="portal_rate"),
    path("<cmpref:reference>/info/", views.portal_add_info, name="portal_add_info"),
    path("<cmpref:reference>/review/", views.portal_review, name="portal_review"),
]
