"""Booking, moving and cancelling through the services, with the errors a caller hears."""

import datetime as dt

import pytest

from bookings.models import Appointment, Patient
from bookings.selectors import (
    patient_appointments_upcoming,
    patient_find_by_name_and_dob,
    patient_find_by_phone,
    patients_inactive_counts,
)
from bookings.services import (
    AppointmentNotChangeable,
    InThePast,
    OutsideHours,
    PatientDoubleBooked,
    PatientInvalid,
    PracticeClosed,
    ProviderCannotPerform,
    SlotUnavailable,
    TooSoon,
    appointment_book,
    appointment_cancel,
    appointment_reschedule,
    patient_create,
    patients_inactive_purge,
)
from tenants.models import AuditEvent
from tenants.services import Actor
from tests import retention

pytestmark = pytest.mark.django_db

NOW = dt.datetime.fromisoformat("2026-11-30T09:00:00-05:00")
PHONE_CALL = Actor(type="agent", label="call 1")


def at(day: str, hhmm: str) -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T{hhmm}:00-05:00")



def book(kit, type_key, when, provider_key=None, patient=None):
    demo, types, providers, emma = kit
    return appointment_book(
        tenant=demo, patient=patient or emma, appointment_type=types[type_key], start=when,
        provider=providers[provider_key] if provider_key else None, actor=PHONE_CALL,
        source=Appointment.Source.PHONE, now=NOW,
    )


def test_booking_a_free_slot_picks_the_right_provider_and_is_audited(kit):
    appointment = book(kit, "cleaning", at("2026-12-01", "10:00"))
    assert appointment.provider.key == "chen"
    assert appointment.end - appointment.start == dt.timedelta(hours=1)
    assert appointment.source == "phone"
    event = AuditEvent.objects.get(action="create", object_type="bookings.Appointment", object_id=str(appointment.pk))
    assert event.actor_type == "agent" and event.actor_label == "call 1"


def test_taken_slot_is_refused_with_alternatives(kit):
    with pytest.raises(SlotUnavailable) as caught:
        book(kit, "cleaning", at("2026-12-08", "14:00"))
    assert "already taken" in str(caught.value)
    starts = [s.start for s in caught.value.alternatives]
    assert at("2026-12-08", "15:00") in starts and at("2026-12-08", "14:00") not in starts
    assert not Appointment.objects.filter(patient=kit[3]).exists()


def test_closure_carries_its_reason(kit):
    with pytest.raises(PracticeClosed) as caught:
        book(kit, "exam", at("2026-12-25", "10:00"))
    assert caught.value.reason == "Christmas Day"
    assert "Christmas Day" in str(caught.value)
    assert caught.value.alternatives and all(s.start.date() > dt.date(2026, 12, 25) for s in caught.value.alternatives)


def test_saturday_and_lunch_and_after_hours(kit):
    with pytest.raises(PracticeClosed, match="closed on Saturdays"):
        book(kit, "exam", at("2026-12-05", "10:00"))
    with pytest.raises(OutsideHours) as lunch:
        book(kit, "exam", at("2026-12-07", "12:00"))
    assert {s.start for s in lunch.value.alternatives} >= {at("2026-12-07", "11:30"), at("2026-12-07", "13:00")}
    with pytest.raises(OutsideHours):
        book(kit, "exam", at("2026-12-11", "14:00"))


def test_role_past_and_notice(kit):
    with pytest.raises(ProviderCannotPerform):
        book(kit, "cleaning", at("2026-12-01", "10:00"), provider_key="patel")
    with pytest.raises(InThePast):
        book(kit, "exam", at("2026-11-30", "08:00"))
    with pytest.raises(TooSoon):
        book(kit, "exam", at("2026-11-30", "09:30"))
    assert book(kit, "emergency", at("2026-11-30", "09:30")).appointment_type.key == "emergency"


def test_patient_cannot_be_in_two_places(kit):
    book(kit, "exam", at("2026-12-01", "10:00"))
    with pytest.raises(PatientDoubleBooked):
        book(kit, "cleaning", at("2026-12-01", "10:00"))


def test_reschedule_moves_atomically_and_keeps_the_old_slot_when_refused(kit):
    appointment = book(kit, "cleaning", at("2026-12-01", "10:00"))
    with pytest.raises(SlotUnavailable):
        appointment_reschedule(appointment=appointment, new_start=at("2026-12-08", "14:00"), actor=PHONE_CALL, now=NOW)
    appointment.refresh_from_db()
    assert appointment.start == at("2026-12-01", "10:00") and appointment.status == "booked"

    moved = appointment_reschedule(appointment=appointment, new_start=at("2026-12-08", "15:00"), actor=PHONE_CALL, now=NOW)
    assert moved.pk == appointment.pk and moved.start == at("2026-12-08", "15:00")
    assert moved.end == at("2026-12-08", "16:00")
    # The old time is free again.
    other = patient_find_by_phone(tenant=kit[0], phone="+15551110002")[0]
    assert book(kit, "cleaning", at("2026-12-01", "10:00"), patient=other).provider.key == "chen"
    event = AuditEvent.objects.get(action="reschedule", object_id=str(appointment.pk))
    assert event.detail["from"]["start"].startswith("2026-12-01T15:00")


def test_reschedule_into_its_own_time_slightly_later_is_allowed(kit):
    appointment = book(kit, "cleaning", at("2026-12-01", "10:00"))
    moved = appointment_reschedule(appointment=appointment, new_start=at("2026-12-01", "10:30"), actor=PHONE_CALL, now=NOW)
    assert moved.start == at("2026-12-01", "10:30")


def test_cancel(kit):
    appointment = book(kit, "exam", at("2026-12-01", "10:00"))
    cancelled = appointment_cancel(appointment=appointment, actor=PHONE_CALL, now=NOW)
    assert cancelled.status == "cancelled"
    with pytest.raises(AppointmentNotChangeable):
        appointment_cancel(appointment=appointment, actor=PHONE_CALL, now=NOW)
    assert AuditEvent.objects.filter(action="cancel", object_id=str(appointment.pk)).count() == 1
    # The freed time can be booked again.
    assert book(kit, "exam", at("2026-12-01", "10:00")).status == "booked"


def test_patient_lookups_and_creation(kit):
    demo, _, _, emma = kit
    assert patient_find_by_phone(tenant=demo, phone="(555) 222-0001") == [emma]
    assert patient_find_by_name_and_dob(
        tenant=demo, first_name="emma", last_name="WILSON ", date_of_birth=dt.date(1990, 6, 5)
    ) == emma
    assert patient_find_by_name_and_dob(
        tenant=demo, first_name="Emma", last_name="Wilson", date_of_birth=dt.date(1990, 6, 6)
    ) is None
    with pytest.raises(PatientInvalid):
        patient_create(tenant=demo, first_name="Emma", last_name="Wilson", date_of_birth=dt.date(1990, 6, 5), actor=PHONE_CALL)
    with pytest.raises(PatientInvalid):
        patient_create(tenant=demo, first_name=" ", last_name="X", actor=PHONE_CALL)
    with pytest.raises(PatientInvalid):
        patient_create(tenant=demo, first_name="A", last_name="B", phone="12", actor=PHONE_CALL)
    with pytest.raises(PatientInvalid):
        patient_create(tenant=demo, first_name="A", last_name="B", date_of_birth=dt.date(2030, 1, 1), actor=PHONE_CALL, now=NOW)


def test_upcoming_appointments(kit):
    demo = kit[0]
    maria = patient_find_by_phone(tenant=demo, phone="+15551110001")[0]
    upcoming = patient_appointments_upcoming(patient=maria, now=NOW)
    assert [(a.appointment_type.key, a.start) for a in upcoming] == [("cleaning", at("2026-12-03", "10:00"))]
    assert patient_appointments_upcoming(patient=maria, now=at("2026-12-04", "09:00")) == []


def test_database_refuses_overlapping_active_appointments(kit):
    from django.db import IntegrityError, transaction

    demo, types, providers, emma = kit
    existing = Appointment.objects.get(tenant=demo, provider=providers["chen"], start=at("2026-12-08", "14:00"))
    with pytest.raises(IntegrityError, match="appointment_no_overlap"), transaction.atomic():
        Appointment.objects.create(
            tenant=demo, patient=emma, provider=existing.provider, appointment_type=types["cleaning"],
            start=at("2026-12-08", "14:30"), end=at("2026-12-08", "15:30"),
        )
    # Cancelled ones do not hold the time.
    Appointment.objects.create(
        tenant=demo, patient=emma, provider=existing.provider, appointment_type=types["cleaning"],
        start=at("2026-12-08", "14:30"), end=at("2026-12-08", "15:30"), status="cancelled",
    )


def test_a_time_between_the_slot_grid_is_refused_not_rounded(kit):
    from bookings.services import OffGrid

    with pytest.raises(OffGrid) as refused:
        book(kit, "filling", at("2026-12-07", "09:15"))
    assert str(refused.value) == "Appointments start every 30 minutes, so I can't book 9:15 AM exactly."
    assert {at("2026-12-07", "09:00"), at("2026-12-07", "09:30")} <= {a.start for a in refused.value.alternatives}


def test_staff_updates_go_through_the_rules_of_each_change(kit):
    from bookings.services import appointment_update, appointment_update_check

    demo, _, providers, _ = kit
    staff = Actor.system("front desk")
    appointment = book(kit, "cleaning", at("2026-12-15", "10:00"))
    moved = appointment_update(appointment=appointment, actor=staff, start=at("2026-12-15", "11:00"), notes="Prefers mornings", now=NOW)
    assert (moved.start, Appointment.objects.get(pk=appointment.pk).notes) == (at("2026-12-15", "11:00"), "Prefers mornings")
    done = appointment_update(appointment=appointment, actor=staff, status=Appointment.Status.CANCELLED, now=NOW)
    assert done.status == "cancelled"
    with pytest.raises(AppointmentNotChangeable, match="cannot be restored"):
        appointment_update_check(appointment=appointment, status=Appointment.Status.BOOKED, now=NOW)
    with pytest.raises(AppointmentNotChangeable, match="cannot be restored"):
        appointment_update(appointment=appointment, actor=staff, status=Appointment.Status.BOOKED, now=NOW)
    assert Appointment.objects.get(pk=appointment.pk).status == "cancelled"
    actions = list(AuditEvent.objects.filter(object_id=str(appointment.pk)).values_list("action", flat=True).order_by("id"))
    assert actions == ["create", "change", "reschedule", "cancel"]


@pytest.mark.sqlite_too
def test_patients_inactive_purge_deletes_them_with_their_past_appointments_and_unlinks_their_calls():
    tenant = retention.practice("purge")
    gone = retention.patient(tenant, days_ago=3000)
    for days in (-2000, -1500):
        retention.appointment(tenant, gone, days_from_now=days)
    their_call = retention.call(tenant, days_ago=1500, patient=gone)
    coming = retention.patient(tenant, days_ago=3000, name=("Bob", "Ray"))
    past = retention.appointment(tenant, coming, days_from_now=-2100)
    future = retention.appointment(tenant, coming, days_from_now=30, status=Appointment.Status.BOOKED)
    recent = retention.patient(tenant, days_ago=3000, name=("Cy", "Day"))
    retention.appointment(tenant, recent, days_from_now=-10)
    expected = patients_inactive_counts(tenant=tenant, now=retention.NOW)

    counts = patients_inactive_purge(tenant=tenant, now=retention.NOW)

    assert counts == expected == {"patients": 1, "appointments": 2}
    assert not Patient.objects.filter(pk=gone.pk).exists()
    assert not Appointment.objects.filter(patient_id=gone.pk).exists()
    their_call.refresh_from_db()
    assert their_call.patient_id is None  # the call stays; its own retention governs what it keeps
    assert set(Patient.objects.filter(tenant=tenant)) == {coming, recent}
    assert set(Appointment.objects.filter(patient=coming)) == {past, future}  # a future appointment is never touched


@pytest.mark.sqlite_too
def test_patients_inactive_purge_in_batches_of_one_purges_them_all():
    tenant = retention.practice("batches")
    for number in range(3):
        patient = retention.patient(tenant, days_ago=3000, name=("Pat", f"Number{number}"))
        retention.appointment(tenant, patient, days_from_now=-2000 - number)
    assert patients_inactive_purge(tenant=tenant, now=retention.NOW, batch_size=1) == {"patients": 3, "appointments": 3}
    assert not Patient.objects.exists() and not Appointment.objects.exists()


@pytest.mark.sqlite_too
def test_patients_inactive_purge_keeps_everyone_before_their_period():
    tenant = retention.practice("early")
    patient = retention.patient(tenant, days_ago=999)
    retention.appointment(tenant, patient, days_from_now=-999)
    assert patients_inactive_purge(tenant=tenant, now=retention.NOW) == {"patients": 0, "appointments": 0}
    assert Patient.objects.filter(pk=patient.pk).exists()
