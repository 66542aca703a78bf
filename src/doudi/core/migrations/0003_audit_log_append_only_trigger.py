"""On PostgreSQL the audit table refuses UPDATE and DELETE, whoever asks (architecture §6).

TRUNCATE stays possible for the database owner: test-database flushes use it, and it is not
reachable from the application."""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION doudi_audit_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'core_auditlog is append-only (%% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER core_auditlog_append_only
  BEFORE UPDATE OR DELETE ON core_auditlog
  FOR EACH ROW EXECUTE FUNCTION doudi_audit_append_only();
"""
BACKWARD = """
DROP TRIGGER IF EXISTS core_auditlog_append_only ON core_auditlog;
DROP FUNCTION IF EXISTS doudi_audit_append_only();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("core", "0002_hainan_regions_address_codes")]
    operations = [migrations.RunPython(forward, backward)]
