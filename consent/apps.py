from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConsentConfig(AppConfig):
    name = "consent"
    verbose_name = _("Consent")

    def ready(self) -> None:
        from consent import (
            signals,  # noqa: F401
            tasks,  # noqa: F401  (named by services: register them)
        )
