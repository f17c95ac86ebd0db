import datetime

import pytest
from django.conf import settings
from django.core.management import call_command

from bookings.models import Appointment, AppointmentType, Patient, Provider
from tenants.models import StaffMembership, Tenant


def pytest_configure(config):
    engine = settings.DATABASES["default"]["ENGINE"]
    if "postgresql" not in engine or not settings.REDIS_URL:
        raise pytest.UsageError(
            "The suite runs against PostgreSQL and Redis: use `make test`, which starts both "
            "and sets DATABASE_URL and REDIS_URL."
        )


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
            date_of_birth=datetime.date(1970, 1, 2),
        )
        start = datetime.datetime(2026, 12, 7, 15, 0, tzinfo=datetime.UTC)
        appointment = Appointment.objects.create(
            tenant=tenant,
            patient=patient,
            provider=provider,
            appointment_type=kind,
            start=start,
            end=start + datetime.timedelta(minutes=30),
        )
        return tenant, patient, appointment

    return make


@pytest.fixture
def staff_client(client, django_user_model):
    """A logged-in staff client for a practice, with the given role."""

    def login(tenant, role=StaffMembership.Role.FRONT_DESK, username="desk"):
        user = django_user_model.objects.create_user(username=username, password="pw-for-tests-1", is_staff=True)
        StaffMembership.objects.create(tenant=tenant, user=user, role=role)
        client.force_login(user)
        return client, user

    return login
