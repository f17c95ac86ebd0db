"""Background work for scheduling: thin tasks that take ids (never PHI: the broker is not encrypted)."""

import datetime as dt

from celery import shared_task

from bookings.services import TextNotSent, reminders_queue_due, text_send as text_send_service


@shared_task(autoretry_for=(TextNotSent,), retry_backoff=5, retry_backoff_max=600, max_retries=8)
def text_send(text_id: int) -> None:
    text_send_service(text_id=text_id)


@shared_task
def reminders_send_due(now: str | None = None) -> None:
    """Beat runs it every few minutes; `now` (ISO 8601) sweeps as of another time, for a replay or a test."""
    reminders_queue_due(now=dt.datetime.fromisoformat(now) if now else None)
