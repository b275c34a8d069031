from __future__ import annotations

from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class BackofficeConfig(AppConfig):
    """Staff security: access audit, anomaly alerts, four-eyes approval, keys."""

    default = True
    name = "backoffice"
    label = "backoffice"
    verbose_name = _("Back office security")

    def ready(self) -> None:
        from backoffice.demo import seed_demo_staff
        from backoffice.incidents import send_incident_open
        from backoffice.permissions import sync_roles_after_migrate
        from consent import hooks

        hooks.register_demo_seeder(10, seed_demo_staff)
        hooks.register_violation_handler(send_incident_open)

        # Models added by later migrations get their role permissions too.
        post_migrate.connect(sync_roles_after_migrate, dispatch_uid="backoffice_roles")


class BackofficeAdminConfig(admin_apps.AdminConfig):
    """``django.contrib.admin`` with the two-factor back-office site as
    ``admin.site``, so every ``@admin.register`` lands on it."""

    default = False
    default_site = "backoffice.sites.BackofficeAdminSite"
