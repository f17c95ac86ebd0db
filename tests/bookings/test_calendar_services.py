"""Calendar sync through the services, against a real CalDAV server (Radicale)."""

import datetime as dt
import logging

import pytest
from django.db import connection
from django.utils import timezone

from bookings.calendars import CalendarUnavailable
from bookings.models import Appointment, BusyBlock, CalendarConflict, CalendarLink
from bookings.selectors import calendar_feed_by_token, slots_find
from bookings.services import (
    appointment_book,
    appointment_calendar_push,
    appointment_cancel,
    appointment_reschedule,
    calendar_busy_pull,
    calendar_conflicts_resolve,
    calendar_feed_token_issue,
    calendar_feed_token_revoke,
    calendar_link_save,
)
from tenants.models import AuditEvent
from tenants.services import Actor
from tests.bookings.calendar_helpers import CALDAV_PASSWORD, CALDAV_USER, events_in, external_event, link_calendar
from tests.servers import free_port

pytestmark = pytest.mark.django_db

NOW = dt.datetime.fromisoformat("2026-11-30T09:00:00-05:00")
DESK = Actor(type="system", label="front desk")


def at(day: str, hhmm: str) -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T{hhmm}:00-05:00")



def book(kit, when, type_key="cleaning", provider_key="chen"):
    demo, types, providers, emma = kit
    return appointment_book(tenant=demo, patient=emma, appointment_type=types[type_key], start=when,
                            provider=providers[provider_key], actor=DESK, now=NOW)


def test_a_booking_appears_in_the_providers_calendar_without_the_patient(kit, provider_calendar,
                                                                         django_capture_on_commit_callbacks):
    link_calendar(kit[2]["chen"], provider_calendar)
    with django_capture_on_commit_callbacks(execute=True):
        appointment = book(kit, at("2026-12-01", "10:00"))
    (vevent,) = events_in(provider_calendar)
    assert vevent["uid"] == f"appointment-{appointment.pk}@demo.receptionist"
    assert vevent.decoded("dtstart") == at("2026-12-01", "10:00")
    assert vevent.decoded("dtend") == at("2026-12-01", "11:00")
    text = vevent.to_ical().decode()
    assert "Emma" not in text and "Wilson" not in text and "leaning" not in text


def test_moving_and_cancelling_update_the_same_event(kit, provider_calendar, django_capture_on_commit_callbacks):
    link_calendar(kit[2]["chen"], provider_calendar)
    with django_capture_on_commit_callbacks(execute=True):
        appointment = book(kit, at("2026-12-01", "10:00"))
    with django_capture_on_commit_callbacks(execute=True):
        appointment_reschedule(appointment=appointment, new_start=at("2026-12-02", "13:00"), actor=DESK, now=NOW)
    (vevent,) = events_in(provider_calendar)
    assert vevent.decoded("dtstart") == at("2026-12-02", "13:00")
    assert vevent["sequence"] == 1
    with django_capture_on_commit_callbacks(execute=True):
        appointment_cancel(appointment=appointment, actor=DESK, now=NOW)
    assert events_in(provider_calendar) == []


def test_moving_to_another_provider_moves_the_event_between_their_calendars(kit, provider_calendar,
                                                                             django_capture_on_commit_callbacks):
    other = provider_calendar.client.get_principal().make_calendar(name="Dr. Okafor", cal_id=f"okafor-{NOW:%s}")
    try:
        link_calendar(kit[2]["patel"], provider_calendar)
        link_calendar(kit[2]["okafor"], other)
        with django_capture_on_commit_callbacks(execute=True):
            appointment = book(kit, at("2026-12-01", "10:00"), "exam", "patel")
        with django_capture_on_commit_callbacks(execute=True):
            appointment_reschedule(appointment=appointment, new_start=at("2026-12-01", "10:00"),
                                   provider=kit[2]["okafor"], actor=DESK, now=NOW)
        assert events_in(provider_calendar) == []
        assert [str(v["uid"]) for v in events_in(other)] == [f"appointment-{appointment.pk}@demo.receptionist"]
    finally:
        other.delete()


def test_a_booking_for_a_provider_without_a_calendar_queues_nothing(kit, django_capture_on_commit_callbacks):
    kit[0].texts_enabled = False  # the confirmation text would be queued on commit too
    kit[0].save()
    with django_capture_on_commit_callbacks() as callbacks:
        book(kit, at("2026-12-01", "10:00"))
    assert callbacks == []


def test_pushing_again_creates_no_second_event(kit, provider_calendar):
    link_calendar(kit[2]["chen"], provider_calendar)
    appointment = book(kit, at("2026-12-01", "10:00"))
    for _ in range(3):
        appointment_calendar_push(appointment=appointment)
    assert len(events_in(provider_calendar)) == 1


def test_busy_time_in_the_calendar_closes_those_slots_and_a_new_sync_replaces_it(kit, provider_calendar):
    demo, types, providers, _ = kit
    link = link_calendar(providers["chen"], provider_calendar)
    external_event(provider_calendar, "dentist-conference", at("2026-12-01", "13:00"), at("2026-12-01", "15:00"))
    before = slots_find(tenant=demo, appointment_type=types["cleaning"], now=NOW, day=dt.date(2026, 12, 1), limit=20)
    assert at("2026-12-01", "13:00") in [s.start for s in before.slots]

    assert calendar_busy_pull(link=link, now=NOW) == 1
    assert calendar_busy_pull(link=link, now=NOW) == 1
    (block,) = BusyBlock.objects.filter(provider=providers["chen"])
    assert (block.start, block.end, block.external_uid) == (at("2026-12-01", "13:00"), at("2026-12-01", "15:00"),
                                                            "dentist-conference")
    after = slots_find(tenant=demo, appointment_type=types["cleaning"], now=NOW, day=dt.date(2026, 12, 1), limit=20)
    starts = [s.start for s in after.slots]
    assert at("2026-12-01", "13:00") not in starts and at("2026-12-01", "14:00") not in starts
    assert at("2026-12-01", "15:00") in starts

    provider_calendar.get_event_by_uid("dentist-conference").delete()
    assert calendar_busy_pull(link=link, now=NOW) == 0
    assert not BusyBlock.objects.filter(provider=providers["chen"]).exists()
    assert CalendarLink.objects.get(pk=link.pk).last_synced_at == NOW


def test_our_own_pushed_appointments_are_not_busy_time(kit, provider_calendar):
    link = link_calendar(kit[2]["chen"], provider_calendar)
    appointment = book(kit, at("2026-12-01", "10:00"))
    appointment_calendar_push(appointment=appointment)
    assert calendar_busy_pull(link=link, now=NOW) == 0
    assert not CalendarConflict.objects.exists()


def test_an_event_over_a_booked_appointment_is_one_conflict_logged_without_phi(kit, provider_calendar, caplog):
    link = link_calendar(kit[2]["chen"], provider_calendar)
    appointment = book(kit, at("2026-12-01", "10:00"))
    external_event(provider_calendar, "golf", at("2026-12-01", "10:30"), at("2026-12-01", "12:00"))
    with caplog.at_level(logging.WARNING, logger="bookings.services"):
        calendar_busy_pull(link=link, now=NOW)
        calendar_busy_pull(link=link, now=NOW)
    (conflict,) = CalendarConflict.objects.all()
    assert conflict.appointment == appointment and conflict.external_uid == "golf"
    assert (conflict.external_start, conflict.external_end) == (at("2026-12-01", "10:30"), at("2026-12-01", "12:00"))
    assert Appointment.objects.get(pk=appointment.pk).status == Appointment.Status.BOOKED  # not dropped
    assert len([r for r in caplog.records if "overlaps booked" in r.getMessage()]) == 1
    assert "Emma" not in caplog.text and "Wilson" not in caplog.text

    calendar_conflicts_resolve(conflicts=CalendarConflict.objects.all(), actor=DESK, now=NOW)
    calendar_busy_pull(link=link, now=NOW)
    assert CalendarConflict.objects.get().resolved_at == NOW  # seen again, not reported again


def test_an_unreachable_calendar_is_retried_and_shown_on_the_link(kit):
    link = CalendarLink.objects.create(tenant=kit[0], provider=kit[2]["chen"], username="u", password="p",
                                       url=f"http://127.0.0.1:{free_port()}/u/calendar/")
    with pytest.raises(CalendarUnavailable):
        calendar_busy_pull(link=link, now=NOW)
    link.refresh_from_db()
    assert link.last_error == "The calendar server could not be reached." and link.last_error_at == NOW


def test_a_wrong_password_waits_on_the_link_for_staff(kit, provider_calendar):
    link = link_calendar(kit[2]["chen"], provider_calendar)
    CalendarLink.objects.filter(pk=link.pk).update(password="stale")
    link.refresh_from_db()
    assert calendar_busy_pull(link=link, now=NOW) == 0
    link.refresh_from_db()
    assert "refused the login" in link.last_error
    link.password = CALDAV_PASSWORD
    link.save()
    calendar_busy_pull(link=link, now=NOW)
    link.refresh_from_db()
    assert link.last_error == "" and link.last_synced_at == NOW


def test_linking_keeps_the_password_encrypted_and_audits_without_it(kit, provider_calendar, django_capture_on_commit_callbacks):
    chen = kit[2]["chen"]
    soon = timezone.now() + dt.timedelta(days=2)  # the sync on save reads from the real today
    external_event(provider_calendar, "errand", soon, soon + dt.timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):  # linking reads the calendar at once
        link = calendar_link_save(provider=chen, url=str(provider_calendar.url), username=CALDAV_USER,
                                  password=CALDAV_PASSWORD, actor=DESK)
    assert BusyBlock.objects.filter(calendar_link=link).count() == 1
    with connection.cursor() as cursor:
        cursor.execute("SELECT password FROM bookings_calendarlink WHERE id = %s", [link.pk])
        assert CALDAV_PASSWORD not in cursor.fetchone()[0]

    calendar_link_save(provider=chen, url=str(provider_calendar.url), username=CALDAV_USER, is_enabled=False,
                       actor=DESK)
    link.refresh_from_db()
    assert link.password == CALDAV_PASSWORD  # blank keeps it
    assert not BusyBlock.objects.filter(calendar_link=link).exists()  # a disabled calendar blocks nothing
    events = AuditEvent.objects.filter(object_type="bookings.CalendarLink", object_id=str(link.pk)).order_by("pk")
    assert [(e.action, e.detail["fields"]) for e in events] == [
        ("create", ["is_enabled", "password", "url", "username"]), ("change", ["is_enabled"]),
    ]
    assert CALDAV_PASSWORD not in str([e.detail for e in events])


def test_linking_a_calendar_writes_the_providers_upcoming_appointments_to_it(
    kit, provider_calendar, django_capture_on_commit_callbacks
):
    chen = kit[2]["chen"]
    past, upcoming = book(kit, at("2026-12-01", "10:00")), book(kit, at("2026-12-02", "10:00"))
    cancelled = book(kit, at("2026-12-03", "14:00"))
    appointment_cancel(appointment=cancelled, actor=DESK, now=NOW)
    with django_capture_on_commit_callbacks(execute=True):
        calendar_link_save(provider=chen, url=str(provider_calendar.url), username=CALDAV_USER,
                           password=CALDAV_PASSWORD, actor=DESK, now=at("2026-12-01", "12:00"))
    pushed = {str(v["uid"]) for v in events_in(provider_calendar)}
    booked_ahead = Appointment.objects.filter(provider=chen, status="booked", start__gte=at("2026-12-01", "12:00"))
    assert pushed == {f"appointment-{a.pk}@demo.receptionist" for a in booked_ahead}
    assert f"appointment-{upcoming.pk}@demo.receptionist" in pushed
    assert not {f"appointment-{a.pk}@demo.receptionist" for a in (past, cancelled)} & pushed


def test_a_feed_token_is_shown_once_stored_hashed_and_revocable(kit):
    chen = kit[2]["chen"]
    feed, token = calendar_feed_token_issue(provider=chen, actor=DESK)
    assert token not in feed.token_hash and len(token) >= 40
    assert calendar_feed_by_token(token=token) == feed
    calendar_feed_token_revoke(feed=feed, actor=DESK, now=NOW)
    assert calendar_feed_by_token(token=token) is None
    actions = AuditEvent.objects.filter(object_type="bookings.CalendarFeedToken").values_list("action", flat=True)
    assert sorted(actions) == ["create", "revoke"]
