"""A trigger that refuses UPDATE on the access log.

DELETE stays possible for the retention purge of entries past their period; the
model itself refuses both, and the admin offers neither.
"""

from django.db import migrations

TABLE = "backoffice_accesslog"


def create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(
            f"CREATE TRIGGER {TABLE}_append_only BEFORE UPDATE ON {TABLE} "
            f"FOR EACH ROW EXECUTE FUNCTION consent_refuse_change();"
        )
    elif vendor == "sqlite":
        schema_editor.execute(
            f"CREATE TRIGGER {TABLE}_no_update BEFORE UPDATE ON {TABLE} "
            f"WHEN consent_append_only_guard() = 1 "
            f"BEGIN SELECT RAISE(ABORT, '{TABLE} is append-only'); END;"
        )


def drop(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {TABLE}_append_only ON {TABLE};")
    elif vendor == "sqlite":
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {TABLE}_no_update;")


class Migration(migrations.Migration):
    dependencies = [
        ("backoffice", "0001_access_log_alerts_approvals"),
        ("consent", "0003_append_only_triggers"),
    ]
    operations = [migrations.RunPython(create, drop)]
