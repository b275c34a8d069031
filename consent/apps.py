from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConsentConfig(AppConfig):
    name = "consent"
    verbose_name = _("Consent")

    def ready(self) -> None:
        from config import checks  # noqa: F401  (registers the system checks)
        from config.logs import connect_signals
        from consent import signals  # noqa: F401

        connect_signals()
