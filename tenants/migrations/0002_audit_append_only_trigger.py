"""On PostgreSQL, make the audit trail append-only in the database too.

The ORM already refuses updates and deletes; the trigger also stops raw SQL and
other clients. SQLite (the single-machine default) relies on the ORM alone.
"""

from django.db import migrations

from tenants.migration_ops import postgresql_only_sql

CREATE = """
CREATE OR REPLACE FUNCTION tenants_auditevent_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the audit trail is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER tenants_auditevent_append_only
    BEFORE UPDATE OR DELETE ON tenants_auditevent
    FOR EACH ROW EXECUTE FUNCTION tenants_auditevent_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS tenants_auditevent_append_only ON tenants_auditevent;
DROP FUNCTION IF EXISTS tenants_auditevent_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("tenants", "0001_initial")]

    operations = [postgresql_only_sql(CREATE, DROP)]
