"""The Celery app: what beat runs, and a worker that keeps the PHI masker on its logs."""

import logging

from celery.schedules import crontab

from receptionist_site.celery import app
from tenants.logging import PHIFilter


def test_every_beat_entry_names_a_registered_task():
    app.loader.import_default_modules()
    schedule = app.conf.beat_schedule
    assert {"send-due-reminders", "calendar-sync"} <= set(schedule)
    assert all(entry["task"] in app.tasks for entry in schedule.values())
    assert all(isinstance(entry["schedule"], (int, float, crontab)) for entry in schedule.values())


def test_a_running_worker_leaves_the_phi_filter_on_the_root_logger(celery_worker):
    filters = [f for handler in logging.getLogger().handlers for f in handler.filters]
    assert any(isinstance(f, PHIFilter) for f in filters)
