from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PreferencesConfig(AppConfig):
    name = "preferences"
    verbose_name = _("Preferences")

    def ready(self) -> None:
        from consent import hooks
        from preferences import contactability, replay, tasks
        from preferences.demo import seed_demo_identity_checks
        from preferences.erasure import forget_customer
        from preferences.models import CarePause
        from preferences.services import care_pause_start
        from preferences.services.requests import not_me_report_open

        hooks.register_preference_provider(
            contactability.holder_preferences,
            default=contactability.DEFAULT,
            sql=contactability.holder_preferences_sql,
        )
        hooks.register_erasure_handler(forget_customer)
        hooks.register_care_pauses(
            hooks.CarePauses(
                start=care_pause_start,
                scopes=lambda: CarePause.Scope.choices,
                reasons=lambda: CarePause.Reason.choices,
            )
        )
        hooks.register_unconfirmed_contact_handler(tasks.contact_point_unconfirmed)
        hooks.register_not_me_report_handler(not_me_report_open)
        hooks.register_projection_check(replay.preference_check)
        hooks.register_demo_seeder(5, seed_demo_identity_checks)
