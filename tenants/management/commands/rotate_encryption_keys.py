"""Re-encrypt every encrypted column under the current (first) key.

Works on ciphertext only, in batches, each in its own transaction that locks
its rows (SELECT ... FOR UPDATE where the database has it; SQLite's write
transactions lock the whole file): a write to a row while its batch is being
re-encrypted waits for the batch and then lands on the new token, instead of
being overwritten by it. Values already under the current key are skipped, so
an interrupted run resumes where it stopped when run again.
Rotation: put the new key first in FIELD_ENCRYPTION_KEYS, run this, then drop
the old key.
"""

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from tenants.crypto import DecryptionError, EncryptedFieldMixin, is_current_token, rotate_token


def encrypted_columns():
    for model in apps.get_models():
        fields = [f for f in model._meta.concrete_fields if isinstance(f, EncryptedFieldMixin)]
        if fields:
            yield model, fields


class Command(BaseCommand):
    help = "Re-encrypt every encrypted column under the current FIELD_ENCRYPTION_KEYS entry."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args, batch_size: int, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        quote = connection.ops.quote_name
        total_rotated = 0
        for model, fields in encrypted_columns():
            table = quote(model._meta.db_table)
            pk = quote(model._meta.pk.column)
            columns = [quote(f.column) for f in fields]
            lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
            select = f"SELECT {pk}, {', '.join(columns)} FROM {table} WHERE {pk} > %s ORDER BY {pk} LIMIT %s{lock}"
            rows_seen = values_rotated = 0
            last_pk = 0
            while True:
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.execute(select, [last_pk, batch_size])
                    batch = cursor.fetchall()
                    for row in batch:
                        changes = {}
                        for column, token in zip(columns, row[1:]):
                            if token and not is_current_token(token):
                                try:
                                    changes[column] = rotate_token(token)
                                except DecryptionError:
                                    raise CommandError(
                                        f"{model._meta.label} id {row[0]}: no configured key decrypts "
                                        f"{column}. Nothing in this batch was changed; restore the "
                                        "missing key to FIELD_ENCRYPTION_KEYS and run again."
                                    ) from None
                        if changes:
                            assignments = ", ".join(f"{c} = %s" for c in changes)
                            cursor.execute(
                                f"UPDATE {table} SET {assignments} WHERE {pk} = %s", [*changes.values(), row[0]]
                            )
                            values_rotated += len(changes)
                if not batch:
                    break
                rows_seen += len(batch)
                last_pk = batch[-1][0]
            total_rotated += values_rotated
            self.stdout.write(
                f"{model._meta.label}: {rows_seen} rows checked, {values_rotated} values re-encrypted"
            )
        self.stdout.write(self.style.SUCCESS(f"Done: {total_rotated} values re-encrypted under the current key."))
