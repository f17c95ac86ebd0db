"""Reads of bookings: the patients the retention purge would delete."""

import datetime as dt

import pytest

from bookings.models import Appointment, Patient
from bookings.selectors import patients_inactive, patients_inactive_counts
from tests import retention

pytestmark = pytest.mark.django_db


def test_patients_inactive_are_those_without_an_appointment_in_the_period_or_later():
    tenant = retention.practice("inactive")
    gone = retention.patient(tenant, days_ago=3000)
    retention.appointment(tenant, gone, days_from_now=-1500)
    never_came = retention.patient(tenant, days_ago=1001, name=("Ann", "Lee"))
    coming = retention.patient(tenant, days_ago=3000, name=("Bob", "Ray"))
    retention.appointment(tenant, coming, days_from_now=-2000)
    retention.appointment(tenant, coming, days_from_now=30, status=Appointment.Status.BOOKED)
    came_lately = retention.patient(tenant, days_ago=3000, name=("Cy", "Day"))
    retention.appointment(tenant, came_lately, days_from_now=-999)
    cancelled_lately = retention.patient(tenant, days_ago=3000, name=("Di", "Eck"))
    retention.appointment(tenant, cancelled_lately, days_from_now=-10, status=Appointment.Status.CANCELLED)
    retention.patient(tenant, days_ago=999, name=("New", "Comer"))  # created in the period: not inactive yet
    retention.patient(retention.practice("other"), days_ago=3000)

    assert set(patients_inactive(tenant=tenant, now=retention.NOW)) == {gone, never_came}
    assert patients_inactive_counts(tenant=tenant, now=retention.NOW) == {"patients": 2, "appointments": 1}


def test_a_patient_changed_in_the_period_is_not_inactive():
    tenant = retention.practice("changed")
    patient = retention.patient(tenant, days_ago=3000)
    Patient.objects.filter(pk=patient.pk).update(updated_at=retention.NOW - dt.timedelta(days=10))
    assert not patients_inactive(tenant=tenant, now=retention.NOW).exists()
