"""Migration operations shared by the apps' migrations."""

from django.db import migrations


def vendor_sql(*, forward: dict[str, list[str]], backward: dict[str, list[str]]) -> migrations.RunPython:
    """Run each database's own statements, and nothing on a database that has none.

    For guarantees the application alone cannot give (triggers, exclusion constraints).
    """

    def run(statements_by_vendor):
        def operation(apps, schema_editor):
            for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
                schema_editor.execute(statement)

        return operation

    return migrations.RunPython(run(forward), run(backward))


def postgresql_only_sql(forward: str, backward: str) -> migrations.RunPython:
    """Run SQL on PostgreSQL and do nothing elsewhere (SQLite relies on the application)."""
    return vendor_sql(forward={"postgresql": [forward]}, backward={"postgresql": [backward]})
