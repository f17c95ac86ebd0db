"""Walking a large set of rows in batches, each small enough for a short transaction."""

from collections.abc import Iterator

from django.db.models import QuerySet


class InvalidBatchSize(ValueError):
    pass


def pk_batches(queryset: QuerySet, *, batch_size: int) -> Iterator[list[int]]:
    """The queryset's primary keys in ascending batches of at most `batch_size`.

    Each batch is read after the one before it was handled, past its last key: rows a batch
    changed or deleted are not read again, and the walk ends even when a row still qualifies.
    """
    if batch_size < 1:
        raise InvalidBatchSize("The batch size must be at least 1.")
    last_pk = 0
    while True:
        ids = list(queryset.filter(pk__gt=last_pk).order_by("pk").values_list("pk", flat=True)[:batch_size])
        if not ids:
            return
        yield ids
        last_pk = ids[-1]
