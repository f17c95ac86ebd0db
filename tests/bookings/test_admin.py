"""Staff book, move and cancel in the admin through the same services callers use."""

import datetime as dt

import pytest
from django.urls import reverse

from bookings.models import Appointment, AppointmentType, Patient, Provider
from tenants.crypto import phone_blind_index
from tenants.models import AuditEvent

pytestmark = pytest.mark.django_db


def at(day: str, hhmm: str) -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T{hhmm}:00-05:00")


@pytest.fixture
def desk(demo, staff_client):
    client, user = staff_client(demo)
    patient = Patient.objects.get(phone_index=phone_blind_index("+15551110004"))
    types = {t.key: t for t in AppointmentType.objects.filter(tenant=demo)}
    providers = {p.key: p for p in Provider.objects.filter(tenant=demo)}
    return client, user, demo, patient, types, providers


def add(client, demo, patient, kind, day, time, provider=""):
    return client.post(
        reverse("admin:bookings_appointment_add"),
        {
            "tenant": demo.pk, "patient": patient.pk, "appointment_type": kind.pk, "provider": provider,
            "start_0": day, "start_1": time, "status": "booked", "notes": "",
        },
    )


def test_staff_books_in_practice_time_and_the_service_picks_a_provider(desk):
    client, user, demo, patient, types, _ = desk
    response = add(client, demo, patient, types["cleaning"], "2026-12-15", "10:00")
    assert response.status_code == 302, response.text[:3000]
    appointment = Appointment.objects.get(patient=patient, appointment_type=types["cleaning"])
    assert appointment.start == at("2026-12-15", "10:00")
    assert appointment.provider.key == "chen" and appointment.source == "admin"
    assert AuditEvent.objects.filter(actor_user=user, action="create", object_id=str(appointment.pk)).count() == 1


def test_taken_slot_shows_a_clear_error_with_alternatives(desk):
    client, _, demo, patient, types, providers = desk
    response = add(client, demo, patient, types["cleaning"], "2026-12-08", "14:00", providers["chen"].pk)
    assert response.status_code == 200
    assert "Tuesday, December 8 at 2 PM with Lisa Chen is already taken." in response.text
    assert "Open instead:" in response.text and "Tue Dec 8 3:00 PM" in response.text
    assert not Appointment.objects.filter(patient=patient, appointment_type=types["cleaning"]).exists()


def test_closed_day_error_names_the_closure(desk):
    client, _, demo, patient, types, _ = desk
    response = add(client, demo, patient, types["exam"], "2026-12-25", "10:00")
    assert response.status_code == 200
    assert "closed on Friday, December 25 for Christmas Day" in response.text


def test_staff_move_and_cancel_go_through_the_services(desk):
    client, user, demo, patient, types, providers = desk
    existing = Appointment.objects.get(patient=patient)  # Novak's filling, Wed Dec 9 08:00 with Patel
    url = reverse("admin:bookings_appointment_change", args=[existing.pk])
    taken = client.post(url, {"provider": providers["okafor"].pk, "start_0": "2026-12-09", "start_1": "08:00", "status": "booked", "notes": ""})
    assert taken.status_code == 200 and "already taken" in taken.text
    moved = client.post(url, {"provider": providers["okafor"].pk, "start_0": "2026-12-10", "start_1": "13:00", "status": "booked", "notes": ""})
    assert moved.status_code == 302
    existing.refresh_from_db()
    assert (existing.start, existing.provider.key) == (at("2026-12-10", "13:00"), "okafor")
    assert existing.end == at("2026-12-10", "14:00")
    cancelled = client.post(url, {"provider": providers["okafor"].pk, "start_0": "2026-12-10", "start_1": "13:00", "status": "cancelled", "notes": ""})
    assert cancelled.status_code == 302
    existing.refresh_from_db()
    assert existing.status == "cancelled"
    actions = list(AuditEvent.objects.filter(actor_user=user, object_id=str(existing.pk)).values_list("action", flat=True))
    assert "reschedule" in actions and "cancel" in actions


def test_appointment_list_by_day_with_filters(desk):
    client = desk[0]
    response = client.get(reverse("admin:bookings_appointment_changelist"), {"start__day": "9", "start__month": "12", "start__year": "2026"})
    assert response.status_code == 200
    assert "Peter Novak" in response.text and "Aisha Khan" in response.text and "Maria Garcia" not in response.text
    for heading in ["By provider", "By status", "By appointment type", "By start"]:
        assert heading in response.text


def test_the_texts_of_a_booking_show_on_the_patient_and_the_appointment(desk, django_capture_on_commit_callbacks):
    client, user, demo, patient, types, _ = desk
    with django_capture_on_commit_callbacks(execute=True):
        add(client, demo, patient, types["cleaning"], "2026-12-15", "10:00")
    appointment = Appointment.objects.get(patient=patient, start=at("2026-12-15", "10:00"))
    for url in (reverse("admin:bookings_patient_change", args=[patient.pk]),
                reverse("admin:bookings_appointment_change", args=[appointment.pk])):
        page = client.get(url).content.decode()
        assert "Booking confirmation" in page and "Recorded, not sent (no SMS provider)" in page
        assert f"Hi {patient.first_name}, you&#x27;re booked with" in page
        assert "Tuesday, December 15 at 10 AM" in page


def test_a_patient_links_to_their_calls(desk):
    client, _, _, patient, _, _ = desk
    page = client.get(reverse("admin:bookings_patient_change", args=[patient.pk])).content.decode()
    assert f'href="{reverse("admin:calls_call_changelist")}?patient={patient.pk}"' in page
