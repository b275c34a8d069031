from django.db import migrations

# Room on every page for the next version of a row: a consent's status change and
# a narrow check row's new state then stay on their page (a heap-only update) and
# write no index entry. Applies to pages written from now on; VACUUM FULL or
# pg_repack applies it to existing ones.
TABLES = ("consent_consentstate", "consent_checkkey")


def spaced(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for table in TABLES:
            schema_editor.execute(f"ALTER TABLE {table} SET (fillfactor = 85)")


def packed(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for table in TABLES:
            schema_editor.execute(f"ALTER TABLE {table} RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [("consent", "0018_lean_write_indexes")]

    operations = [migrations.RunPython(spaced, packed, elidable=False)]
