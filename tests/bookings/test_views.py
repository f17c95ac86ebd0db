"""The ICS feed a provider's calendar app subscribes to."""

import datetime as dt

import pytest
from django.utils import timezone
from icalendar import Calendar

from bookings.models import Appointment, Provider
from bookings.services import calendar_feed_token_issue, calendar_feed_token_revoke
from tenants.services import Actor

pytestmark = pytest.mark.django_db

DESK = Actor(type="system", label="front desk")


@pytest.fixture
def feed(demo):
    patel = Provider.objects.get(tenant=demo, key="patel")
    row, token = calendar_feed_token_issue(provider=patel, actor=DESK)
    return patel, row, f"/calendars/{token}.ics"


def upcoming(provider, days=3):
    start = timezone.now() + dt.timedelta(days=days)
    return Appointment.objects.create(tenant_id=provider.tenant_id, provider=provider,
                                      patient=Appointment.objects.filter(tenant_id=provider.tenant_id).first().patient,
                                      appointment_type=provider.appointments.first().appointment_type,
                                      start=start, end=start + dt.timedelta(minutes=30))


def test_the_feed_lists_the_providers_appointments_without_the_patient(client, feed):
    patel, _, url = feed
    appointment = upcoming(patel)
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    events = {str(e["uid"]): e for e in Calendar.from_ical(response.content).walk("VEVENT")}
    assert f"appointment-{appointment.pk}@demo.receptionist" in events
    assert {str(e["summary"]) for e in events.values()} == {"Appointment"}
    patient = appointment.patient
    assert patient.first_name.encode() not in response.content and patient.last_name.encode() not in response.content


def test_a_cancelled_appointment_leaves_the_feed(client, feed):
    patel, _, url = feed
    appointment = upcoming(patel)
    appointment.status = Appointment.Status.CANCELLED
    appointment.save()
    assert f"appointment-{appointment.pk}@".encode() not in client.get(url).content


def test_an_unchanged_feed_answers_304_to_its_etag(client, feed):
    _, _, url = feed
    first = client.get(url)
    again = client.get(url)
    assert first.content == again.content and first["ETag"] == again["ETag"]
    assert client.get(url, headers={"If-None-Match": first["ETag"]}).status_code == 304


def test_unknown_and_revoked_tokens_find_nothing(client, feed):
    _, row, url = feed
    assert client.get("/calendars/not-a-real-token.ics").status_code == 404
    calendar_feed_token_revoke(feed=row, actor=DESK)
    assert client.get(url).status_code == 404
