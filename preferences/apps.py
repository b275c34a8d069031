from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PreferencesConfig(AppConfig):
    name = "preferences"
    verbose_name = _("Preferences")

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from consent import hooks
        from consent.models import Customer
        from preferences.demo import seed_demo_identity_checks
        from preferences.erasure import forget_customer, forget_when_erased

        hooks.register_erasure_handler(forget_customer)
        hooks.register_demo_seeder(5, seed_demo_identity_checks)
        post_save.connect(
            forget_when_erased, sender=Customer, dispatch_uid="preferences_erasure"
        )
