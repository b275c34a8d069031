from __future__ import annotations

from django.apps import apps
from django.contrib.auth.management import create_permissions
from django.core.management.base import BaseCommand

from backoffice.permissions import apply_role_permissions


class Command(BaseCommand):
    help = (
        "Create the staff role groups and give each exactly the permissions of the "
        "role matrix (backoffice/permissions.py). Safe to run any time."
    )

    def handle(self, *args, **options):
        for app_config in apps.get_app_configs():
            create_permissions(app_config, verbosity=0)
        for role, count in apply_role_permissions(apps).items():
            self.stdout.write(f"{role}: {count} permissions")
