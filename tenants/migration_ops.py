"""Migration operations shared by the apps' migrations."""

from django.db import migrations


def postgresql_only_sql(forward: str, backward: str) -> migrations.RunPython:
    """Run SQL on PostgreSQL and do nothing elsewhere.

    For guarantees only PostgreSQL can give (triggers, exclusion constraints);
    SQLite, the single-machine default, relies on the application instead.
    """

    def run(sql):
        def operation(apps, schema_editor):
            if schema_editor.connection.vendor == "postgresql":
                schema_editor.execute(sql)

        return operation

    return migrations.RunPython(run(forward), run(backward))
