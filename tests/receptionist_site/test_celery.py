"""The Celery app: what beat runs, and a worker that keeps the PHI masker on its logs."""

import datetime as dt
import logging

from celery.schedules import crontab
from django.conf import settings

from receptionist_site.celery import app
from tenants.logging import PHIFilter


def test_a_running_worker_leaves_the_phi_filter_on_the_root_logger(celery_worker):
    filters = [f for handler in logging.getLogger().handlers for f in handler.filters]
    assert any(isinstance(f, PHIFilter) for f in filters)


def test_every_beat_entry_names_a_registered_task():
    app.loader.import_default_modules()  # what a worker does at start: the apps' tasks modules
    assert app.conf.beat_schedule == settings.CELERY_BEAT_SCHEDULE
    unknown = {name: entry["task"] for name, entry in app.conf.beat_schedule.items() if entry["task"] not in app.tasks}
    assert unknown == {}


def test_the_purge_runs_nightly_at_0315_utc():
    entry = app.conf.beat_schedule["purge-expired-records"]
    assert entry == {"task": "voice.tasks.purge_expired_records", "schedule": crontab(hour=3, minute=15)}
    assert app.conf.timezone == "UTC"
    schedule = entry["schedule"]
    schedule.nowfun = lambda: dt.datetime(2027, 6, 1, 3, 14, tzinfo=dt.UTC)
    assert schedule.remaining_estimate(dt.datetime(2027, 5, 31, 3, 15, tzinfo=dt.UTC)) == dt.timedelta(minutes=1)
