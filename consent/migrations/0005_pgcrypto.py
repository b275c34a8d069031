"""pgcrypto gives PostgreSQL hmac(), so hashed snapshots are built by the database.

A no-op elsewhere (SQLite computes the HMAC in Python).
"""

from django.db import migrations


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pgcrypto")


class Migration(migrations.Migration):
    dependencies = [("consent", "0004_api_clients_events")]
    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
