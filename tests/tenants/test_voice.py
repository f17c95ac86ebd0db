"""A practice's own cloud voice: voice, model and speaking rate, edited in the admin; blank keeps the server's."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse

from tenants.models import StaffMembership, Tenant
from tenants.voice import PracticeVoice
from tests.tenants.test_admin_roles import _tenant_form

pytestmark = pytest.mark.django_db


@pytest.fixture
def practice(make_practice):
    tenant, _, _ = make_practice("voiced")
    return tenant


def test_the_front_desk_sets_the_voice_in_the_admin(practice, staff_client):
    client, _ = staff_client(practice, role=StaffMembership.Role.FRONT_DESK)
    url = reverse("admin:tenants_tenant_change", args=[practice.pk])
    page = client.get(url).text
    assert all(f'name="{name}"' in page for name in ("voice_id", "voice_model", "voice_speed"))
    assert "blank fields keep the server's defaults" in page  # the Voice fieldset says what blank means
    form = _tenant_form(practice, page, voice_id="JBFqnCBsd6RMkjVDRZzb", voice_model="eleven_turbo_v2_5",
                        voice_speed="1.1")
    assert client.post(url, form).status_code == 302
    practice.refresh_from_db()
    assert practice.voice == PracticeVoice(voice_id="JBFqnCBsd6RMkjVDRZzb", model="eleven_turbo_v2_5", speed=1.1)


@pytest.mark.parametrize("speed", ["0.69", "1.21", "2"])
def test_a_speaking_rate_outside_what_elevenlabs_accepts_is_refused_with_the_range(practice, staff_client, speed):
    client, _ = staff_client(practice, role=StaffMembership.Role.OWNER)
    url = reverse("admin:tenants_tenant_change", args=[practice.pk])
    response = client.post(url, _tenant_form(practice, client.get(url).text, voice_speed=speed))
    assert response.status_code == 200  # the form again, with the error
    assert "The speaking rate must be between 0.7 (slower) and 1.2 (faster)" in response.text
    practice.refresh_from_db()
    assert practice.voice_speed is None


def test_bad_ids_are_refused_and_the_database_keeps_the_rate_in_range(practice):
    practice.voice_id, practice.voice_model = "not/a voice", "Eleven Flash"
    with pytest.raises(ValidationError) as refused:
        practice.full_clean()
    assert set(refused.value.message_dict) == {"voice_id", "voice_model"}
    with transaction.atomic(), pytest.raises(IntegrityError):
        Tenant.objects.filter(pk=practice.pk).update(voice_speed=Decimal("1.5"))


def test_blank_leaves_every_part_to_the_server(practice):
    assert practice.voice == PracticeVoice()
    practice.voice_speed = Decimal("0.85")
    assert practice.voice == PracticeVoice(speed=0.85)
