from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PreferencesConfig(AppConfig):
    name = "preferences"
    verbose_name = _("Preferences")

    def ready(self) -> None:
        from consent import hooks
        from preferences import contactability, replay

        hooks.register_preference_provider(
            contactability.holder_preferences, default=contactability.DEFAULT
        )
        hooks.register_erasure_handler(contactability.erase_preferences)
        hooks.register_projection_check(replay.preference_check)
