from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ComplaintsConfig(AppConfig):
    name = "complaints"
    verbose_name = _("Complaints")

    def ready(self) -> None:
        from django.core import checks

        from complaints import tasks  # noqa: F401  (services name them; register them)
        from complaints.checks import check_calendar_coverage
        from complaints.deadlines import review_due_after
        from complaints.demo import seed_demo_complaints
        from complaints.selectors import complaints_for_export, complaints_readable
        from complaints.services import (
            complaint_create_from_spam_report,
            complaint_create_from_violation,
        )
        from consent import hooks

        checks.register(check_calendar_coverage)
        hooks.register_spam_report_handler(complaint_create_from_spam_report)
        hooks.register_violation_handler(complaint_create_from_violation)
        hooks.register_export_section("complaints", complaints_for_export)
        hooks.register_readable_export_section("complaints", complaints_readable)
        # Reply reviews are due in business days of the complaint calendar.
        hooks.register_review_due(review_due_after)
        # After the back office's staff: demo complaints are assigned to them.
        hooks.register_demo_seeder(20, seed_demo_complaints)
