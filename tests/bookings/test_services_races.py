"""Twenty callers grab the same provider and time at once: exactly one gets it."""

import datetime as dt
import threading
import time

import pytest
from django.db import connection, connections, transaction

from bookings.models import Appointment, AppointmentType, Provider
from bookings.services import SlotUnavailable, appointment_book, patient_create
from tenants.services import Actor
from tests import ROOT

WORKERS = 20
START = dt.datetime.fromisoformat("2026-12-10T15:00:00-05:00")
NOW = dt.datetime.fromisoformat("2026-11-30T09:00:00-05:00")


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_bookings_of_one_slot_yield_exactly_one(demo):
    kind = AppointmentType.objects.get(tenant=demo, key="exam")
    okafor = Provider.objects.get(tenant=demo, key="okafor")
    patients = [
        patient_create(tenant=demo, first_name=f"Racer{i}", last_name="Test", actor=Actor.system("test"))
        for i in range(WORKERS)
    ]
    barrier = threading.Barrier(WORKERS, timeout=30)
    outcomes: list = [None] * WORKERS

    def worker(i: int) -> None:
        try:
            barrier.wait()
            appointment_book(
                tenant=demo, patient=patients[i], appointment_type=kind, start=START, provider=okafor,
                actor=Actor(type="agent", label=f"call {i}"), now=NOW,
            )
            outcomes[i] = "booked"
        except SlotUnavailable as error:
            outcomes[i] = error
        except Exception as error:  # anything else is a failure of the test
            outcomes[i] = repr(error)
        finally:
            connections.close_all()  # each thread had its own connection

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)

    assert outcomes.count("booked") == 1, outcomes
    refused = [o for o in outcomes if isinstance(o, SlotUnavailable)]
    assert len(refused) == WORKERS - 1, outcomes
    assert all(START not in [s.start for s in o.alternatives] for o in refused)

    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT count(*) FROM bookings_appointment a JOIN bookings_appointment b
              ON a.provider_id = b.provider_id AND a.id < b.id
             AND a.status IN ('booked', 'completed') AND b.status IN ('booked', 'completed')
             AND tstzrange(a.start, a."end") && tstzrange(b.start, b."end")
            """
        )
        assert cursor.fetchone()[0] == 0
        cursor.execute("SELECT count(*) FROM bookings_appointment WHERE provider_id = %s AND start = %s", [okafor.id, START])
        assert cursor.fetchone()[0] == 1



def _lock_waiters() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()")
        return cursor.fetchone()[0]


def _wait_for(condition, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.django_db(transaction=True)
def test_a_booking_aborted_by_a_deadlock_answers_slot_taken(demo):
    """Another session holds two uncommitted rows that overlap ours from both sides: our insert waits
    on its first row, its second insert waits on ours, and PostgreSQL aborts us to break the cycle.
    The caller must hear that the time was taken, with alternatives, not get a database error."""
    kind = AppointmentType.objects.get(tenant=demo, key="exam")
    okafor = Provider.objects.get(tenant=demo, key="okafor")
    booker, *others = [
        patient_create(tenant=demo, first_name=f"Dead{i}", last_name="Lock", actor=Actor.system("test")) for i in range(3)
    ]
    first_held, go_second, second_held, go_commit = (threading.Event() for _ in range(4))
    outcome: dict = {}

    def other_session() -> None:
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:  # so that our booking is the one PostgreSQL aborts
                    cursor.execute("SET LOCAL deadlock_timeout = '30s'")
                for patient, offset in [(others[0], 15), (others[1], -15)]:
                    Appointment.objects.create(
                        tenant=demo, patient=patient, provider=okafor, appointment_type=kind,
                        start=START + dt.timedelta(minutes=offset), end=START + dt.timedelta(minutes=offset + 30),
                    )
                    (first_held if offset == 15 else second_held).set()
                    if offset == 15:
                        go_second.wait(30)
                go_commit.wait(30)
        finally:
            connections.close_all()

    def our_booking() -> None:
        try:
            outcome["result"] = appointment_book(
                tenant=demo, patient=booker, appointment_type=kind, start=START, provider=okafor,
                actor=Actor(type="agent", label="call"), now=NOW,
            )
        except Exception as error:  # what the caller would hear, or the failure of the test
            outcome["result"] = error
        finally:
            connections.close_all()

    other = threading.Thread(target=other_session)
    other.start()
    assert first_held.wait(30)
    ours = threading.Thread(target=our_booking)
    ours.start()
    _wait_for(lambda: _lock_waiters() == 1)  # our insert waits on the other's first row
    go_second.set()
    assert second_held.wait(30)  # only after PostgreSQL aborted our first attempt
    _wait_for(lambda: _lock_waiters() == 1 or "result" in outcome)  # our retry waits again
    go_commit.set()
    other.join(30)
    ours.join(30)
    assert not other.is_alive() and not ours.is_alive()

    refused = outcome["result"]
    assert isinstance(refused, SlotUnavailable), repr(refused)
    assert "just taken" in str(refused) and refused.alternatives
    assert START not in [slot.start for slot in refused.alternatives]
    assert sorted(Appointment.objects.filter(provider=okafor, patient__in=[booker, *others]).values_list("patient_id", flat=True)) == sorted(p.pk for p in others)


SQLITE_RACE = """
import datetime as dt, threading, django
django.setup()
from django.core.management import call_command
from django.db import connections
from bookings.models import Appointment, AppointmentType, Provider
from bookings.services import SlotUnavailable, appointment_book, patient_create
from tenants.models import Tenant
from tenants.services import Actor
call_command("migrate", verbosity=0)
call_command("seed_demo", stdout=open("/dev/null", "w"))
demo = Tenant.objects.get(slug="demo")
kind = AppointmentType.objects.get(tenant=demo, key="exam")
okafor = Provider.objects.get(tenant=demo, key="okafor")
patients = [patient_create(tenant=demo, first_name=f"R{i}", last_name="T", actor=Actor.system("t")) for i in range(8)]
start = dt.datetime.fromisoformat("2026-12-10T15:00:00-05:00")
now = dt.datetime.fromisoformat("2026-11-30T09:00:00-05:00")
barrier = threading.Barrier(8)
results = []
def worker(i):
    barrier.wait()
    try:
        appointment_book(tenant=demo, patient=patients[i], appointment_type=kind, start=start, provider=okafor,
                         actor=Actor.system("t"), now=now)
        results.append("booked")
    except SlotUnavailable:
        results.append("refused")
    finally:
        connections.close_all()
threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
[t.start() for t in threads]
[t.join(60) for t in threads]
print(sorted(results), Appointment.objects.filter(provider=okafor, start=start).count())
"""


def test_sqlite_default_stays_correct_under_concurrent_bookings(tmp_path):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'race.sqlite3'}", DJANGO_SETTINGS_MODULE="receptionist_site.settings")
    result = subprocess.run(
        [sys.executable, "-c", SQLITE_RACE], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "['booked', 'refused', 'refused', 'refused', 'refused', 'refused', 'refused', 'refused'] 1"
