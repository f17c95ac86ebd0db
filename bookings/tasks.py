"""Background work for scheduling: thin tasks that take ids (never PHI: the broker is not encrypted).

Texts are sent at most once (the row is marked sending first). A calendar push writes the appointment's
current state under a UID derived from it and a pull replaces a window, so a retried or redelivered
calendar task changes nothing more: `acks_late` is safe there. Only CalendarUnavailable (unreachable,
timed out, a server error) and TextNotSent (Twilio unreachable) are tried again, backing off.
"""

import datetime as dt

from celery import shared_task

from bookings import services
from bookings.calendars import CalendarUnavailable
from bookings.selectors import appointment_get, calendar_link_get, calendar_link_ids_enabled


@shared_task(autoretry_for=(services.TextNotSent,), retry_backoff=5, retry_backoff_max=600, max_retries=8)
def text_send(text_id: int) -> None:
    services.text_send(text_id=text_id)


@shared_task
def reminders_send_due(now: str | None = None) -> None:
    """Beat runs it every few minutes; `now` (ISO 8601) sweeps as of another time, for a replay or a test."""
    services.reminders_queue_due(now=dt.datetime.fromisoformat(now) if now else None)

RETRY = {
    "autoretry_for": (CalendarUnavailable,),
    "retry_backoff": 30,
    "retry_backoff_max": 600,
    "max_retries": 8,
    "acks_late": True,
}


@shared_task(**RETRY)
def appointment_calendar_push_task(appointment_id: int, previous_provider_id: int | None = None) -> None:
    appointment = appointment_get(appointment_id=appointment_id)
    if appointment is not None:  # gone meanwhile (a rolled-back test, a purged patient): nothing to show
        services.appointment_calendar_push(appointment=appointment, previous_provider_id=previous_provider_id)


@shared_task(**RETRY)
def calendar_busy_pull_task(link_id: int) -> None:
    link = calendar_link_get(link_id=link_id)
    if link is not None and link.is_enabled:
        services.calendar_busy_pull(link=link)


@shared_task
def calendar_sync_all() -> None:
    """Beat's periodic sync: one task per linked calendar, so one slow server holds up no other."""
    for link_id in calendar_link_ids_enabled():
        calendar_busy_pull_task.delay(link_id)
