"""PostgreSQL: notify long-polling readers when feed rows commit."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION consent_feed_notify() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('consent_feed', '');
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER consent_suppressionchange_notify
    AFTER INSERT ON consent_suppressionchange
    FOR EACH STATEMENT EXECUTE FUNCTION consent_feed_notify();
"""
DROP = """
DROP TRIGGER IF EXISTS consent_suppressionchange_notify ON consent_suppressionchange;
DROP FUNCTION IF EXISTS consent_feed_notify();
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("consent", "0008_ledgerhead_catalogue_version")]
    operations = [migrations.RunPython(create, drop)]
