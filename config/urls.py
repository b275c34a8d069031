from django.contrib import admin
from django.urls import include, path, re_path

from config import health
from config.metrics import metrics_view
from consent.api.errors import api_not_found
from consent.api.schema import DocsView, SchemaView

handler500 = "config.observability.handler500"

urlpatterns = [
    path("health/live", health.live, name="health-live"),
    path("health/ready", health.ready, name="health-ready"),
    path("metrics", metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("complaints/", include("complaints.urls")),
    path("account/rights/", include("complaints.rights_urls")),
    path("api/v1/", include("consent.api.urls")),
    path("api/schema/", SchemaView.as_view(), name="api-schema"),
    path("api/docs/", DocsView.as_view(url_name="api-schema"), name="api-docs"),
    # Keep last among api/ routes: unknown API paths answer JSON, not HTML.
    re_path(r"^api/", api_not_found),
    path("", include("preferences.urls")),
]
