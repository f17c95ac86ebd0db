"""Availability search: 10 providers, 5,000 appointments, searching 90 days ahead.

Run: `make bench-availability` (or `python -m benchmarks.availability`). Uses a
throwaway SQLite database unless DATABASE_URL is set. Prints p50/p95 per search
and the SQL queries per search at several ranges and provider counts.
"""

import datetime as dt
import gc
import random
import sys
import time

from benchmarks.common import machine, percentile, setup_django

SEARCHES = 200
APPOINTMENTS = 5000
DAYS = 90


def build_practice():
    from bookings.models import Appointment, AppointmentType, Patient, Provider
    from tenants.models import BusinessHours, Tenant

    tenant = Tenant.objects.create(name="Bench Dental", slug=f"bench-{random.randrange(10**9)}", timezone="America/New_York")
    BusinessHours.objects.bulk_create(
        BusinessHours(tenant=tenant, weekday=d, opens=o, closes=c)
        for d in range(5)
        for o, c in [(dt.time(8), dt.time(12)), (dt.time(13), dt.time(17))]
    )
    providers = [
        Provider.objects.create(tenant=tenant, key=f"p{i}", name=f"Provider {i}", role="dentist" if i < 5 else "hygienist")
        for i in range(10)
    ]
    kinds = {
        role: AppointmentType.objects.create(tenant=tenant, key=f"{role}-visit", name=role, minutes=30, role=role)
        for role in ["dentist", "hygienist"]
    }
    patients = [
        Patient.objects.create(tenant=tenant, first_name=f"P{i}", last_name="Bench", phone=f"+1555300{i:04d}")
        for i in range(200)
    ]
    today = dt.date.today()
    free = [
        (provider, dt.datetime.combine(today + dt.timedelta(days=d), dt.time(h, m), tzinfo=tenant.tzinfo))
        for provider in providers
        for d in range(1, DAYS + 1)
        if (today + dt.timedelta(days=d)).weekday() < 5
        for h in [8, 9, 10, 11, 13, 14, 15, 16]
        for m in (0, 30)
    ]
    rng = random.Random(7)
    chosen = rng.sample(free, APPOINTMENTS)
    Appointment.objects.bulk_create(
        Appointment(
            tenant=tenant, patient=rng.choice(patients), provider=provider, appointment_type=kinds[provider.role],
            start=start, end=start + dt.timedelta(minutes=30),
        )
        for provider, start in chosen
    )
    return tenant, kinds


def search(tenant, kind, days: int, split: list | None = None):
    """One search: load the calendar (the selector), then compute the slots (pure code)."""
    from bookings import availability
    from bookings.selectors import availability_calendar, type_info

    started = time.perf_counter()
    today = dt.datetime.now(tenant.tzinfo).date()
    calendar = availability_calendar(tenant=tenant, start_date=today, end_date=today + dt.timedelta(days=days), role=kind.role)
    loaded = time.perf_counter()
    slots = availability.open_slots(
        calendar, type_info(kind), start_date=today, end_date=today + dt.timedelta(days=days),
        now=dt.datetime.now(dt.UTC),
    )
    if split is not None:
        split.append(((loaded - started) * 1000, (time.perf_counter() - loaded) * 1000))
    return slots


def count_queries(fn) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        fn()
    return len(captured)


def main() -> int:
    vendor = setup_django()
    tenant, kinds = build_practice()
    if vendor == "postgresql":
        from django.db import connection

        # Autovacuum would do this within a minute of the bulk load; without statistics the
        # planner guesses one row per table and joins appointment types by 2,500 index probes.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    gc.freeze()  # as receptionist_site/asgi.py does once the server has loaded
    kind = kinds["dentist"]
    for _ in range(5):
        search(tenant, kind, DAYS)  # warm caches and connections
    timings = []
    split: list = []
    slots = 0
    for _ in range(SEARCHES):
        started = time.perf_counter()
        slots = len(search(tenant, kind, DAYS, split))
        timings.append((time.perf_counter() - started) * 1000)
    p50, p95 = percentile(timings, 50), percentile(timings, 95)
    load_p50 = percentile([load for load, _ in split], 50)
    pure_p50 = percentile([pure for _, pure in split], 50)

    print(f"availability benchmark on {vendor}; {machine()}")
    print(f"  practice: 10 providers, {APPOINTMENTS} appointments, searching {DAYS} days ({slots} open dentist slots)")
    print(f"  {SEARCHES} searches: p50 {p50:.1f} ms, p95 {p95:.1f} ms, max {max(timings):.1f} ms (target p95 < 20 ms)")
    print(f"  of which p50 loading {load_p50:.1f} ms (selector, SQL), p50 computing {pure_p50:.1f} ms (pure code)")
    for days in [1, 30, 90]:
        print(f"  queries per search, {days:>2} days: {count_queries(lambda d=days: search(tenant, kind, d))}")
    from bookings.models import Provider

    Provider.objects.bulk_create(
        Provider(tenant=tenant, key=f"extra{i}", name=f"Extra {i}", role="dentist") for i in range(20)
    )
    print(f"  queries per search, 90 days, 30 providers: {count_queries(lambda: search(tenant, kind, DAYS))}")
    return 0 if p95 < 20 else 1


if __name__ == "__main__":
    sys.exit(main())
