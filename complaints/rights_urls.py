from __future__ import annotations

from django.urls import path, register_converter

from complaints import views_rights


class RightsReferenceConverter:
    regex = r"RR-[0-9]{4}-[0-9]{6,9}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(RightsReferenceConverter, "rrref")

app_name = "rights"

urlpatterns = [
    path("", views_rights.rights_list, name="list"),
    path("<rrref:reference>/", views_rights.rights_detail, name="detail"),
]
