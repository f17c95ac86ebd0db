import datetime as dt
import os

import pytest
from django.conf import settings
from django.core.management import call_command

from bookings.models import Appointment, AppointmentType, Patient, Provider
from calls.models import Call, ToolCall, Turn
from tenants.models import StaffMembership, Tenant
from tests.portal.twofactor import staff_sign_in
from voice.simulator.twilio_api import FakeTwilioApi


def pytest_configure(config):
    engine = settings.DATABASES["default"]["ENGINE"]
    if engine == "django.db.backends.sqlite3" and config.getoption("markexpr") == "sqlite_too":
        pass  # `make test`'s second run: the tests that must pass on SQLite too (the retention purge's)
    elif "postgresql" not in engine or not settings.REDIS_URL:
        raise pytest.UsageError(
            "The suite runs against PostgreSQL and Redis: use `make test`, which starts both "
            "and sets DATABASE_URL and REDIS_URL. On SQLite only the tests marked sqlite_too run: -m sqlite_too."
        )
    # Servers the tests start (daphne, uvicorn) run their tasks inline too: see _tasks_inline_unless_a_worker_runs.
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "1"


@pytest.fixture
def demo(db):
    call_command("seed_demo", password="demo-password-for-tests", stdout=open("/dev/null", "w"))
    return Tenant.objects.get(slug="demo")


@pytest.fixture
def make_practice(db):
    """A minimal second practice with one provider, one type, one patient and one appointment."""

    def make(slug: str, *, patient_name=("Zoe", "Other"), phone="+15557770001"):
        tenant = Tenant.objects.create(name=f"Practice {slug}", slug=slug, timezone="America/Chicago")
        provider = Provider.objects.create(tenant=tenant, key="doc", name="Dr. Doc", role="dentist")
        kind = AppointmentType.objects.create(tenant=tenant, key="exam", name="Exam", minutes=30, role="dentist")
        patient = Patient.objects.create(
            tenant=tenant,
            first_name=patient_name[0],
            last_name=patient_name[1],
            phone=phone,
            date_of_birth=dt.date(1970, 1, 2),
        )
        start = dt.datetime(2026, 12, 7, 15, 0, tzinfo=dt.UTC)
        appointment = Appointment.objects.create(
            tenant=tenant,
            patient=patient,
            provider=provider,
            appointment_type=kind,
            start=start,
            end=start + dt.timedelta(minutes=30),
        )
        return tenant, patient, appointment

    return make


@pytest.fixture
def fake_twilio(settings):
    """The simulator's fake Twilio REST API on 127.0.0.1, with the server's Twilio SDK pointed at it."""
    api = FakeTwilioApi(0)
    try:
        settings.TWILIO_API_BASE_URL = api.base_url
        settings.TWILIO_ACCOUNT_SID = "AC" + "1" * 32
        settings.TWILIO_AUTH_TOKEN = "test-token"
        yield api
    finally:
        api.close()


@pytest.fixture
def staff_client(client, django_user_model):
    """A logged-in staff client for a practice, with the given role (owners past the code step: tests.portal.twofactor)."""

    def login(tenant, role=StaffMembership.Role.FRONT_DESK, username="desk"):
        user = django_user_model.objects.create_user(username=username, password="pw-for-tests-1", is_staff=True)
        StaffMembership.objects.create(tenant=tenant, user=user, role=role)
        staff_sign_in(client, user)
        return client, user

    return login


@pytest.fixture
def twilio_settings(settings):
    """Webhooks signed with tests.twilio.TOKEN, as Twilio calls them at tests.twilio.PUBLIC."""
    from tests.twilio import PUBLIC, TOKEN

    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.PUBLIC_BASE_URL = PUBLIC
    settings.ALLOWED_HOSTS = ["testserver"]


@pytest.fixture(scope="session")
def _celery_worker_thread(django_db_setup, django_db_blocker):
    from celery.contrib.testing import tasks  # noqa: F401  (registers celery.ping, the drain below)
    from celery.contrib.testing.worker import start_worker

    from receptionist_site.celery import app

    app.control.purge()  # messages a previous run left behind name rows that no longer exist
    with django_db_blocker.unblock():
        with start_worker(app, pool="solo", concurrency=1, perform_ping_check=False, loglevel="WARNING",
                          shutdown_timeout=10) as worker:
            yield worker


@pytest.fixture
def celery_worker(_celery_worker_thread):
    """A real Celery worker, in a thread of the test process, consuming the test Redis.

    Tests using it need `transactional_db`: the worker's own connection sees only committed rows,
    and `transaction.on_commit` queues tasks only on a real commit. When the test ends, every task
    it queued has run (the worker takes one at a time, in order), so none touches the next test's rows.
    """
    from receptionist_site.celery import app

    yield _celery_worker_thread
    app.tasks["celery.ping"].apply_async(ignore_result=False).get(timeout=30)


@pytest.fixture(autouse=True)
def _tasks_inline_unless_a_worker_runs(request, settings):
    # With REDIS_URL set, a task queued by a test without a worker would wait in Redis for the next
    # test that starts one, and run there against rows that test never made.
    settings.CELERY_TASK_ALWAYS_EAGER = "celery_worker" not in request.fixturenames


@pytest.fixture
def webhook_receiver():
    """A partner's endpoint on 127.0.0.1 that records each webhook (tests.receivers.WebhookReceiver)."""
    from tests.receivers import WebhookReceiver

    receiver = WebhookReceiver()
    yield receiver
    receiver.close()


@pytest.fixture
def admin_client(client, admin_user):
    """pytest-django's superuser client, signed in the way an operator must be: with their app's code."""
    staff_sign_in(client, admin_user)
    return client


@pytest.fixture
def place_call():
    """A call of the practice that started at `at`, with its outcome, its agent replies' times and its bookings.

    Rows are made directly: started_at, Turn.at and ToolCall.at are set on creation, so they are moved after it.
    """

    def place(tenant, at: dt.datetime, outcome: str = Call.Outcome.ANSWERED, *, channel=Call.Channel.PHONE,
              is_test: bool = False, replies_ms: tuple = (), bookings: int = 0, refused_bookings: int = 0,
              fallbacks: tuple[str, ...] = (), fell_back_to_rules: bool = False, **fields) -> Call:
        call = Call.objects.create(tenant=tenant, channel=channel, outcome=outcome, is_test=is_test,
                                   status=Call.Status.COMPLETED, fallbacks=list(fallbacks),
                                   fell_back_to_rules=fell_back_to_rules, **fields)
        Call.objects.filter(pk=call.pk).update(started_at=at)
        for index, ms in enumerate(replies_ms):
            Turn.objects.create(call=call, index=2 * index, speaker=Turn.Speaker.CALLER, text="I'd like a cleaning.",
                                latency={"first_frame_sent_ms": 5})  # a caller's turn times nothing
            Turn.objects.create(call=call, index=2 * index + 1, speaker=Turn.Speaker.AGENT, text="Sure.",
                                latency={"end_of_turn_wait_ms": 600, "first_frame_sent_ms": ms})
        for index in range(bookings + refused_bookings):
            ToolCall.objects.create(call=call, index=index, name="book_appointment", ok=index < bookings)
        Turn.objects.filter(call=call).update(at=at + dt.timedelta(seconds=30))
        ToolCall.objects.filter(call=call).update(at=at + dt.timedelta(seconds=40))
        call.refresh_from_db()
        return call

    return place
