from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BackofficeConfig(AppConfig):
    """Staff security: access audit, anomaly alerts, four-eyes approval, keys."""

    name = "consent.backoffice"
    label = "backoffice"
    verbose_name = _("Back office security")
