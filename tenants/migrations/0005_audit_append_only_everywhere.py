"""The audit trail is append-only in the database itself, against every way of rewriting it.

PostgreSQL: 0002's row trigger stops UPDATE and DELETE; TRUNCATE fires no row
trigger, so a statement-level one stops it too. A superuser is let through: it
can drop any trigger anyway, and the test suite's database flush runs as one.
Run the application as a role that is not a superuser.

SQLite: triggers stop UPDATE and DELETE (SQLite has no TRUNCATE). A migration
that rebuilds this table on SQLite drops them with it and must create them again.
"""

from django.db import migrations

from tenants.migration_ops import vendor_sql

POSTGRESQL = [
    """
    CREATE OR REPLACE FUNCTION tenants_auditevent_no_truncate() RETURNS trigger AS $$
    BEGIN
        IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
            RETURN NULL;
        END IF;
        RAISE EXCEPTION 'the audit trail is append-only';
    END;
    $$ LANGUAGE plpgsql
    """,
    """
    CREATE TRIGGER tenants_auditevent_no_truncate
        BEFORE TRUNCATE ON tenants_auditevent
        FOR EACH STATEMENT EXECUTE FUNCTION tenants_auditevent_no_truncate()
    """,
]
POSTGRESQL_UNDO = [
    "DROP TRIGGER IF EXISTS tenants_auditevent_no_truncate ON tenants_auditevent",
    "DROP FUNCTION IF EXISTS tenants_auditevent_no_truncate()",
]
SQLITE = [
    f"""
    CREATE TRIGGER tenants_auditevent_no_{statement.lower()}
        BEFORE {statement} ON tenants_auditevent
    BEGIN
        SELECT RAISE(ABORT, 'the audit trail is append-only');
    END
    """
    for statement in ("UPDATE", "DELETE")
]
SQLITE_UNDO = [f"DROP TRIGGER IF EXISTS tenants_auditevent_no_{statement}" for statement in ("update", "delete")]


class Migration(migrations.Migration):
    dependencies = [("tenants", "0004_tenant_record_calls_tenant_recording_consent")]

    operations = [
        vendor_sql(
            forward={"postgresql": POSTGRESQL, "sqlite": SQLITE},
            backward={"postgresql": POSTGRESQL_UNDO, "sqlite": SQLITE_UNDO},
        )
    ]
