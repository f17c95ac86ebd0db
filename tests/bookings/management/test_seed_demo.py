"""seed_demo: the demo practice, created once however often it runs."""

import io
import re

import pytest
from django.core.management import call_command

from bookings.models import Appointment, AppointmentType, Patient, Provider
from tenants.crypto import phone_blind_index
from tenants.models import BusinessHours, Closure, PhoneNumber, StaffMembership, Tenant
from tests.portal.twofactor import totp_code_for_key

pytestmark = pytest.mark.django_db(transaction=True)


def counts():
    return {
        model.__name__: model.objects.count()
        for model in [Tenant, PhoneNumber, BusinessHours, Closure, Provider, AppointmentType, Patient, Appointment, StaffMembership]
    }


def test_seed_demo_twice_leaves_one_copy_of_everything():
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    first = counts()
    assert first == {
        "Tenant": 1, "PhoneNumber": 1, "BusinessHours": 9, "Closure": 3, "Provider": 3,
        "AppointmentType": 6, "Patient": 4, "Appointment": 5, "StaffMembership": 1,
    }
    call_command("seed_demo", stdout=io.StringIO())
    assert counts() == first
    call_command("seed_demo", "--reset", stdout=io.StringIO())
    assert counts() == first
    assert "Staff login: username 'demo', password '" in out.getvalue()


def test_seed_demo_creates_the_demo_facts():
    call_command("seed_demo", stdout=io.StringIO())
    tenant = Tenant.objects.get(slug="demo")
    assert tenant.name == "Bright Smile Dental" and tenant.timezone == "America/New_York"
    assert "Cigna" in tenant.insurance_accepted and tenant.insurance_not_accepted == ["Medicaid"]
    assert PhoneNumber.objects.get(number="+15005550006").tenant == tenant
    friday = BusinessHours.objects.get(tenant=tenant, weekday=4)
    assert (friday.opens.hour, friday.closes.hour) == (8, 14)
    assert not BusinessHours.objects.filter(tenant=tenant, weekday__in=[5, 6]).exists()
    maria = Patient.objects.get(phone_index=phone_blind_index("+15551110001"))
    assert maria.full_name == "Maria Garcia"
    cleaning = Appointment.objects.get(patient=maria)
    assert cleaning.provider.key == "chen"
    assert cleaning.start.astimezone(tenant.tzinfo).isoformat() == "2026-12-03T10:00:00-05:00"
    assert (cleaning.end - cleaning.start).total_seconds() == 3600


def test_demo_login_works_and_sets_up_two_factor_on_its_first_sign_in(client):
    out = io.StringIO()
    call_command("seed_demo", "--password", "a-demo-password-123", stdout=out)
    assert "first sign-in sets up two-factor sign-in" in out.getvalue()
    response = client.post("/admin/login/?next=/admin/", {"username": "demo", "password": "a-demo-password-123"})
    assert response.status_code == 302
    set_up = client.get("/admin/", follow=True)
    assert set_up.redirect_chain[-1][0].startswith("/admin/two-factor/")
    key = re.search(r'id="two-factor-secret">([A-Z2-7 ]+)<', set_up.text).group(1)
    confirmed = client.post(set_up.redirect_chain[-1][0], {"otp_token": totp_code_for_key(key)})
    assert confirmed.status_code == 302
    assert client.get("/admin/").status_code == 200


