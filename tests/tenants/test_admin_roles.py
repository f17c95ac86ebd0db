"""A write needs a writing role in the practice of the row, and rows point only at their own practice."""

import datetime as dt
import re

import pytest
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.urls import reverse

from bookings.models import BusyBlock, Patient, Provider
from calls.models import Call, Message
from calls.services import message_create
from tenants.models import StaffMembership, Tenant
from tenants.services import Actor, RoleRequired, practice_update
from tests.portal.twofactor import staff_sign_in

pytestmark = pytest.mark.django_db
OWNER, DESK, VIEWER = StaffMembership.Role.OWNER, StaffMembership.Role.FRONT_DESK, StaffMembership.Role.VIEWER


@pytest.fixture
def a_and_b(make_practice):
    return make_practice("a", patient_name=("Ann", "Alpha")), make_practice("b", patient_name=("Bob", "Beta"), phone="+15557770002")


@pytest.fixture
def member(client, django_user_model):
    """A logged-in staff member with a role in each practice given."""

    def login(roles: dict[Tenant, str], username="multi"):
        user = django_user_model.objects.create_user(username=username, password="pw-for-tests-1", is_staff=True)
        for tenant, role in roles.items():
            StaffMembership.objects.create(tenant=tenant, user=user, role=role)
        staff_sign_in(client, user)
        return client

    return login


def test_owner_of_one_practice_and_viewer_of_another_cannot_write_in_the_other(a_and_b, member):
    (a, _, _), (b, _, _) = a_and_b
    client = member({a: OWNER, b: VIEWER})
    form = client.get(reverse("admin:bookings_patient_add")).text
    assert f'<option value="{a.pk}"' in form and f'<option value="{b.pk}"' not in form
    response = client.post(reverse("admin:bookings_patient_add"), {"tenant": b.pk, "first_name": "New", "last_name": "Person"})
    assert response.status_code == 200 and "Select a valid choice" in response.text
    assert Patient.objects.filter(tenant=b).count() == 1
    provider_add = reverse("admin:bookings_provider_add")
    client.post(provider_add, {"tenant": b.pk, "key": "x", "name": "Dr. X", "role": "dentist", "is_active": "on",
                               **_empty_inlines(client.get(provider_add).text)})
    assert not Provider.objects.filter(tenant=b, key="x").exists()
    b_doc = Provider.objects.get(tenant=b)
    client.post(reverse("admin:bookings_busyblock_add"), {
        "tenant": b.pk, "provider": b_doc.pk, "start_0": "2026-12-09", "start_1": "10:00",
        "end_0": "2026-12-09", "end_1": "11:00", "source": "", "external_uid": ""})
    assert not BusyBlock.objects.exists()
    client.post(provider_add, {"tenant": a.pk, "key": "y", "name": "Dr. Y", "role": "dentist", "is_active": "on",
                               **_empty_inlines(client.get(provider_add).text)})
    assert Provider.objects.filter(tenant=a, key="y").exists()  # writing in A still works


def _empty_inlines(page: str) -> dict:
    """The management forms of a page's inlines, with no rows."""
    prefixes = re.findall(r'name="([^"]+)-TOTAL_FORMS"', page)
    return {f"{prefix}-{field}": value for prefix in prefixes
            for field, value in {"TOTAL_FORMS": "0", "INITIAL_FORMS": "0", "MIN_NUM_FORMS": "0", "MAX_NUM_FORMS": "1000"}.items()}


def test_hours_cannot_be_added_to_a_provider_of_a_practice_where_the_user_only_views(a_and_b, member):
    (a, _, _), (b, _, _) = a_and_b
    client = member({a: OWNER, b: VIEWER})
    b_doc = Provider.objects.get(tenant=b)
    url = reverse("admin:bookings_provider_change", args=[b_doc.pk])
    page = client.get(url).text
    assert 'name="hours-MAX_NUM_FORMS" value="0"' in page  # no row can be added
    data = {"tenant": b.pk, "key": "doc", "name": "Dr. Doc", "role": "dentist", "is_active": "on", **_empty_inlines(page)}
    data.update({"hours-TOTAL_FORMS": "1", "hours-0-weekday": "0", "hours-0-opens": "09:00", "hours-0-closes": "10:00"})
    assert client.post(url, data).status_code == 403
    assert not b_doc.hours.exists()


def test_a_busy_block_cannot_point_at_another_practices_dentist(a_and_b, member):
    (a, _, _), (b, _, _) = a_and_b
    b_doc = Provider.objects.get(tenant=b)
    client = member({a: OWNER, b: OWNER})  # may write in both, still not across them
    response = client.post(reverse("admin:bookings_busyblock_add"), {
        "tenant": a.pk, "provider": b_doc.pk, "start_0": "2026-12-09", "start_1": "10:00",
        "end_0": "2026-12-09", "end_1": "11:00", "source": "", "external_uid": ""})
    assert response.status_code == 200 and "Belongs to another practice: provider" in response.text
    assert not BusyBlock.objects.exists()
    start = dt.datetime(2026, 12, 9, 15, tzinfo=dt.UTC)
    with pytest.raises(ValidationError, match="another practice"):
        BusyBlock(tenant=a, provider=b_doc, start=start, end=start + dt.timedelta(hours=1)).full_clean()
    BusyBlock(tenant=b, provider=b_doc, start=start, end=start + dt.timedelta(hours=1)).full_clean()


def test_services_refuse_rows_of_another_practice(a_and_b):
    (a, _, _), (b, _, _) = a_and_b
    b_call = Call.objects.create(tenant=b, channel=Call.Channel.TEXT)
    with pytest.raises(ValueError, match="another practice"):
        message_create(tenant=a, call=b_call, about="Call me back", actor=Actor.system("test"))
    assert not Message.objects.exists()


def test_a_row_cannot_move_to_another_practice(a_and_b):
    (a, patient, _), (b, _, _) = a_and_b
    patient.tenant = b
    with pytest.raises(ValidationError, match="cannot move"):
        patient.full_clean()


def test_viewers_cannot_mark_messages_handled(a_and_b, member):
    (a, _, _), (b, _, _) = a_and_b
    mine = Message.objects.create(tenant=a, about="Please call back")
    theirs = Message.objects.create(tenant=b, about="Please call back too")
    client = member({a: OWNER, b: VIEWER})
    url = reverse("admin:calls_message_changelist")
    client.post(url, {"action": "mark_handled", "_selected_action": [mine.pk, theirs.pk]})
    mine.refresh_from_db(), theirs.refresh_from_db()
    assert (mine.status, theirs.status) == ("handled", "new")

    only_viewer = member({b: VIEWER}, username="viewer")
    response = only_viewer.post(url, {"action": "mark_handled", "_selected_action": [theirs.pk]})
    theirs.refresh_from_db()
    assert theirs.status == "new" and response.status_code in {200, 302}
    with pytest.raises(RoleRequired):
        from calls.services import message_mark_handled

        message_mark_handled(message=theirs, actor=Actor(type="user", user=StaffMembership.objects.get(user__username="viewer").user))


def test_every_admin_action_declares_the_permission_it_needs():
    undeclared = [
        f"{model._meta.label}.{name}"
        for model, model_admin in admin.site._registry.items()
        for function, name, _ in model_admin._get_base_actions()
        if not getattr(function, "allowed_permissions", None)
    ]
    assert undeclared == []


def test_practice_settings_that_route_calls_or_keep_data_are_owner_only(a_and_b, member):
    (a, _, _), _ = a_and_b
    url = reverse("admin:tenants_tenant_change", args=[a.pk])
    desk = member({a: DESK}, username="desk")
    page = desk.get(url).text
    assert 'name="greeting"' in page and 'name="transfer_number"' not in page and 'name="retention_transcript_days"' not in page
    form = _tenant_form(a, page, transfer_number="+15559990000", record_calls="on", retention_transcript_days="1",
                        greeting="Hello from A!")
    assert desk.post(url, form).status_code == 302
    a.refresh_from_db()
    assert (a.transfer_number, a.record_calls, a.retention_transcript_days, a.greeting) == ("", False, 365, "Hello from A!")
    with pytest.raises(RoleRequired):
        practice_update(tenant=a, changes={"record_calls": True}, actor=Actor(type="user", user=StaffMembership.objects.get(tenant=a).user))

    owner = member({a: OWNER}, username="owner")
    assert owner.post(url, form).status_code == 302
    a.refresh_from_db()
    assert (a.transfer_number, a.record_calls, a.retention_transcript_days) == ("+15559990000", True, 1)


def _tenant_form(tenant: Tenant, page: str, **changes) -> dict:
    data = {
        "name": tenant.name, "slug": tenant.slug, "timezone": tenant.timezone, "address": "", "parking_note": "",
        "insurance_accepted": "[]", "insurance_not_accepted": "[]", "transfer_number": "", "new_patient_note": "",
        "greeting": "", "recording_consent": tenant.recording_consent, "slot_step_minutes": "30",
        "min_notice_minutes": "60", "booking_horizon_days": "90", "retention_call_audio_days": "30",
        "retention_transcript_days": "365", "retention_inactive_patient_days": "2555", "is_active": "on",
    }
    data.update(_empty_inlines(page))
    data.update(changes)
    return data
