"""Background work of voice's own: beat's nightly retention purge (CELERY_BEAT_SCHEDULE in settings)."""

import logging

from celery import shared_task
from django.db import InterfaceError, OperationalError

from voice.services import PURGE_BATCH_SIZE, expired_records_purge, practice_now

logger = logging.getLogger(__name__)

# The database gone for a moment (a restart, a failover) is worth retrying; each batch committed stays
# purged, so a retry goes on where the failed run stopped. A recording Twilio did not delete is no error:
# the purge keeps it for the next night.
@shared_task(autoretry_for=(OperationalError, InterfaceError), retry_backoff=True, retry_backoff_max=600,
             max_retries=5)
def purge_expired_records() -> None:
    """What `manage.py purge_expired_records` does, for every practice; counts only in the log."""
    for purge in expired_records_purge(now=practice_now(), batch_size=PURGE_BATCH_SIZE, dry_run=False):
        logger.info("purged %s: %s", purge.slug, purge.counts)
        if purge.recordings_failed:
            logger.warning("%s: %d recording(s) not deleted at Twilio; kept for the next run",
                           purge.slug, purge.recordings_failed)
