"""Create the staff role groups with their least-privilege permissions.

Permissions are normally created after all migrations have run; they are created
here first so the groups are complete straight after ``migrate``. Models added by
later migrations are covered by the post-migrate handler and ``manage.py sync_roles``.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

from backoffice.permissions import apply_role_permissions
from backoffice.roles import ALL_ROLES


def forwards(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    apply_role_permissions(apps)


def backwards(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ALL_ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("backoffice", "0002_access_log_append_only"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("consent", "0004_api_clients_events"),
    ]
    operations = [migrations.RunPython(forwards, backwards)]
