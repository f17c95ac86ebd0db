import io
import json

import pytest
from django.core.management import call_command

from bookings.models import Appointment, AppointmentType, Patient, Provider
from tenants.crypto import phone_blind_index
from tenants.models import BusinessHours, Closure, PhoneNumber, StaffMembership, Tenant

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


def test_demo_login_works(client):
    call_command("seed_demo", "--password", "a-demo-password-123", stdout=io.StringIO())
    response = client.post("/admin/login/?next=/admin/", {"username": "demo", "password": "a-demo-password-123"})
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


def test_health(client):
    response = client.get("/health")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_health_detailed_reports_real_dependencies(client):
    response = client.get("/health/detailed")
    body = response.json()
    assert response.status_code == 200, body
    assert body["checks"]["database"] == {"ok": True, "engine": "postgresql"}
    assert body["checks"]["channel_layer"] == {"ok": True, "backend": "RedisChannelLayer"}
    assert body["checks"]["redis"] == {"ok": True}
    assert body["providers"]["stt"].endswith("PocketsphinxWorkerSTT")


def test_health_detailed_reports_a_dead_redis(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = client.get("/health/detailed")
    assert response.status_code == 503
    assert response.json()["checks"]["redis"]["ok"] is False
    json.dumps(response.json())


@pytest.mark.parametrize("path", ["/metrics", "/health/detailed"])
def test_operator_endpoints_answer_only_the_token_or_allowed_addresses(client, settings, path):
    settings.OPS_TOKEN = "ops-token-for-tests-0123456789"
    settings.OPS_ALLOWED_NETWORKS = ["10.1.0.0/16"]
    for headers in [{"REMOTE_ADDR": "203.0.113.9"}, {"REMOTE_ADDR": "203.0.113.9", "HTTP_AUTHORIZATION": "Bearer wrong"}]:
        refused = client.get(path, **headers)
        assert refused.status_code == 401 and "postgresql" not in refused.text and "stt" not in refused.text
    assert client.get(path, REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer ops-token-for-tests-0123456789").status_code == 200
    assert client.get(path, REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/health", REMOTE_ADDR="203.0.113.9").status_code == 200
