"""Practice-level services: the audit trail, roles, and practice settings."""

import pytest
from django.test import RequestFactory

from tenants.models import AuditEvent, StaffMembership
from tenants.services import (
    Actor,
    RoleRequired,
    actor_role_check,
    audit_record,
    audit_record_for_staff,
    client_ip,
    practice_update,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def practice(make_practice):
    return make_practice("svc")[0]


@pytest.fixture
def staff(practice, django_user_model):
    def make(role, username):
        user = django_user_model.objects.create_user(username=username, password="pw-for-tests-1", is_staff=True)
        StaffMembership.objects.create(tenant=practice, user=user, role=role)
        return Actor(type=AuditEvent.ActorType.USER, user=user, label=username)

    return make


def test_audit_events_are_filed_under_a_practice_given_as_row_or_id(practice):
    by_row = audit_record(actor=Actor.system("t"), action="view", object_type="x", tenant=practice)
    by_id = audit_record(actor=Actor.system("t"), action="view", object_type="x", tenant=practice.pk, object_id=7)
    assert (by_row.tenant_id, by_id.tenant_id, by_id.object_id) == (practice.pk, practice.pk, "7")


def test_events_about_a_staff_member_go_to_each_of_their_practices(practice, make_practice, staff):
    desk = staff(StaffMembership.Role.FRONT_DESK, "desk")
    other = make_practice("svc2")[0]
    StaffMembership.objects.create(tenant=other, user=desk.user, role=StaffMembership.Role.VIEWER)
    audit_record_for_staff(actor=desk, user=desk.user, action="login")
    audit_record_for_staff(actor=Actor.system("t"), user=None, action="login_failed")
    assert sorted(AuditEvent.objects.filter(action="login").values_list("tenant_id", flat=True)) == sorted([practice.pk, other.pk])
    assert AuditEvent.objects.get(action="login_failed").tenant_id is None


def test_roles_decide_who_may_change_what(practice, staff):
    owner, desk, viewer = (staff(role, name) for role, name in [
        (StaffMembership.Role.OWNER, "owner"), (StaffMembership.Role.FRONT_DESK, "desk"), (StaffMembership.Role.VIEWER, "viewer")])
    writers = frozenset({StaffMembership.Role.OWNER, StaffMembership.Role.FRONT_DESK})
    actor_role_check(actor=desk, tenant=practice, roles=writers, doing="x")
    actor_role_check(actor=Actor.system("operator"), tenant=practice, roles=writers, doing="x")
    with pytest.raises(RoleRequired, match="does not allow you to x"):
        actor_role_check(actor=viewer, tenant=practice, roles=writers, doing="x")

    practice_update(tenant=practice, changes={"greeting": "Hello!"}, actor=desk)
    with pytest.raises(RoleRequired, match="record_calls"):
        practice_update(tenant=practice, changes={"record_calls": True}, actor=desk)
    with pytest.raises(RoleRequired):
        practice_update(tenant=practice, changes={"greeting": "Hi"}, actor=viewer)
    practice_update(tenant=practice, changes={"record_calls": True, "retention_transcript_days": 30}, actor=owner)
    practice.refresh_from_db()
    assert (practice.greeting, practice.record_calls, practice.retention_transcript_days) == ("Hello!", True, 30)
    assert AuditEvent.objects.filter(action="change", object_type="tenants.Tenant").count() == 2


def test_bad_settings_are_refused_whole(practice, staff):
    from django.core.exceptions import ValidationError

    owner = staff(StaffMembership.Role.OWNER, "owner")
    with pytest.raises(ValidationError):
        practice_update(tenant=practice, changes={"timezone": "Mars/Olympus", "greeting": "Hi"}, actor=owner)
    practice.refresh_from_db()
    assert practice.greeting == "" and practice.timezone == "America/Chicago"


def test_the_client_address_is_the_connection_s():
    request = RequestFactory().get("/", REMOTE_ADDR="203.0.113.7", HTTP_X_FORWARDED_FOR="1.2.3.4")
    assert client_ip(request) == "203.0.113.7"
