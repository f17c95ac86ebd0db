"""Owners make keys in the admin and see each once; revoked keys stop working at once."""

import re

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from api.models import ApiKey
from tenants.models import AuditEvent, StaffMembership

pytestmark = pytest.mark.django_db


def test_a_key_made_in_the_admin_is_shown_once_works_and_is_revoked_there(demo, staff_client):
    client, user = staff_client(demo, role=StaffMembership.Role.OWNER)
    response = client.post(reverse("admin:api_apikey_add"),
                           {"tenant": demo.pk, "name": "Booking site", "scopes": ["practice:read"]}, follow=True)
    shown = re.search(r"rk_[0-9A-Za-z]{8}_[0-9A-Za-z]{32}_[0-9A-Za-z]{6}", response.content.decode())
    assert shown, "the new key is shown"
    key = ApiKey.objects.get()
    assert shown.group(0) not in client.get(reverse("admin:api_apikey_change", args=[key.pk])).content.decode()
    assert key.secret_hash not in shown.group(0)

    partner = APIClient()
    partner.credentials(HTTP_AUTHORIZATION=f"Bearer {shown.group(0)}")
    assert partner.get("/api/v1/practice").status_code == 200
    assert partner.get("/api/v1/appointments").status_code == 403  # not a scope it was given
    key.refresh_from_db()
    assert key.last_used_at is not None
    assert f"rk_{key.prefix}_" in client.get(reverse("admin:api_apikey_changelist")).content.decode()

    client.post(reverse("admin:api_apikey_changelist"), {"action": "revoke", "_selected_action": [key.pk]})
    assert partner.get("/api/v1/practice").status_code == 401
    assert list(AuditEvent.objects.filter(object_type="api.ApiKey").order_by("pk").values_list("action", flat=True)) == [
        "create", "revoke"]
