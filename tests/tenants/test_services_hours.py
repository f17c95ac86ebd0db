"""The practice's hours and closures: a week is checked whole and replaced whole, each change audited, and the
next caller (and the next availability search) gets the new hours."""

import datetime as dt

import pytest

from bookings.models import AppointmentType
from bookings.selectors import slots_find
from calls.models import Call
from calls.services import call_start
from tenants.hours import week_from_fields
from tenants.models import AuditEvent, BusinessHours, Closure, StaffMembership
from tenants.selectors import business_hours_week
from tenants.services import (
    Actor,
    ClosureExists,
    ClosureInPast,
    ClosureInvalid,
    HoursInvalid,
    RoleRequired,
    business_hours_replace,
    closure_add,
    closure_remove,
)
from voice.conversation.tools import ReceptionistTools

pytestmark = pytest.mark.django_db

FRIDAY, TUESDAY, WEDNESDAY = 4, 1, 2
NOW = dt.datetime.fromisoformat("2026-11-30T09:00:00-05:00")  # a Monday, in the demo practice's zone
t = dt.time.fromisoformat


def week(**days) -> dict[int, list]:
    names = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
    return {names.index(name): [(t(a) if a else None, t(b) if b else None) for a, b in spans]
            for name, spans in days.items()}


@pytest.fixture
def desk(demo, django_user_model):
    user = django_user_model.objects.create_user(username="desk", password="pw-for-tests-1", is_staff=True)
    StaffMembership.objects.create(tenant=demo, user=user, role=StaffMembership.Role.FRONT_DESK)
    return Actor(type=AuditEvent.ActorType.USER, user=user, label="desk")


def demo_week(demo) -> dict[int, list]:
    return business_hours_week(tenant=demo)


def test_a_day_that_closes_before_it_opens_is_named(demo, desk):
    with pytest.raises(HoursInvalid) as refused:
        business_hours_replace(tenant=demo, week=week(tuesday=[("17:00", "09:00")]), actor=desk)
    assert refused.value.problems == {TUESDAY: ["Tuesday closes before it opens (5 PM–9 AM)."]}


def test_overlapping_intervals_are_named_with_their_times(demo, desk):
    with pytest.raises(HoursInvalid) as refused:
        business_hours_replace(tenant=demo, week=week(tuesday=[("11:00", "17:00"), ("09:00", "12:00")]), actor=desk)
    assert refused.value.problems == {TUESDAY: ["Tuesday's 9 AM–noon and 11 AM–5 PM overlap."]}


def test_a_missing_time_is_named_and_every_bad_day_is_reported_at_once(demo, desk):
    bad = week(tuesday=[("09:00", "09:00")], wednesday=[("09:00", None), (None, "17:00")], friday=[("08:00", "14:00")])
    with pytest.raises(HoursInvalid) as refused:
        business_hours_replace(tenant=demo, week=bad, actor=desk)
    assert refused.value.problems == {
        TUESDAY: ["Tuesday opens and closes at the same time (9 AM)."],
        WEDNESDAY: ["Wednesday needs both an opening and a closing time."],
    }
    assert "Wednesday needs both an opening and a closing time." in str(refused.value)


def test_a_refused_week_changes_nothing_and_records_nothing(demo, desk):
    before = demo_week(demo)
    bad = {**before, FRIDAY: [(t("09:00"), t("12:00"))], TUESDAY: [(t("17:00"), t("09:00"))]}
    with pytest.raises(HoursInvalid):
        business_hours_replace(tenant=demo, week=bad, actor=desk)
    assert demo_week(demo) == before
    assert not AuditEvent.objects.filter(object_type="tenants.BusinessHours").exists()


def test_the_week_is_replaced_and_the_change_audited_before_and_after(demo, desk):
    new = {**demo_week(demo), FRIDAY: [(t("13:00"), t("16:00")), (t("09:00"), t("12:00"))]}
    assert business_hours_replace(tenant=demo, week=new, actor=desk) == [FRIDAY]
    assert demo_week(demo)[FRIDAY] == [(t("09:00"), t("12:00")), (t("13:00"), t("16:00"))]
    assert demo_week(demo)[0] == [(t("08:00"), t("12:00")), (t("13:00"), t("17:00"))]  # Monday untouched
    event = AuditEvent.objects.get(object_type="tenants.BusinessHours")
    assert (event.action, event.tenant_id, event.actor_user, event.actor_label) == ("change", demo.pk, desk.user, "desk")
    assert event.detail == {"before": {"Friday": ["08:00-14:00"]}, "after": {"Friday": ["09:00-12:00", "13:00-16:00"]}}


def test_a_day_left_out_is_closed_and_saving_the_same_week_records_nothing(demo, desk):
    current = demo_week(demo)
    assert business_hours_replace(tenant=demo, week=current, actor=desk) == []
    assert not AuditEvent.objects.filter(object_type="tenants.BusinessHours").exists()
    without_monday = {weekday: spans for weekday, spans in current.items() if weekday != 0}
    assert business_hours_replace(tenant=demo, week=without_monday, actor=desk) == [0]
    assert not BusinessHours.objects.for_tenant(demo).filter(weekday=0).exists()
    assert AuditEvent.objects.get(object_type="tenants.BusinessHours").detail["after"] == {"Monday": []}


def test_a_viewer_cannot_change_the_hours(demo, django_user_model):
    viewer = django_user_model.objects.create_user(username="viewer", password="pw-for-tests-1", is_staff=True)
    StaffMembership.objects.create(tenant=demo, user=viewer, role=StaffMembership.Role.VIEWER)
    actor = Actor(type=AuditEvent.ActorType.USER, user=viewer, label="viewer")
    with pytest.raises(RoleRequired):
        business_hours_replace(tenant=demo, week={}, actor=actor)
    with pytest.raises(RoleRequired):
        closure_add(tenant=demo, date=dt.date(2030, 1, 2), reason="Training", actor=actor)
    assert BusinessHours.objects.for_tenant(demo).exists()


def test_the_editors_fields_are_read_as_typed_and_blank_intervals_dropped():
    posted = week_from_fields({
        "hours-4-0-opens": "09:00", "hours-4-0-closes": "12:00",
        "hours-4-7-opens": "1:00 pm", "hours-4-7-closes": "16:00:00",  # numbered by a script: any n will do
        "hours-4-1-opens": "", "hours-4-1-closes": "",
        "hours-1-0-opens": "25:00", "hours-1-0-closes": "17:00",
        "hours-9-0-opens": "09:00", "other": "x",
    })
    assert posted.week[FRIDAY] == [(t("09:00"), t("12:00")), (t("13:00"), t("16:00"))]
    assert posted.week[TUESDAY] == [] and posted.typed[TUESDAY] == [("25:00", "17:00")]
    assert posted.problems == {TUESDAY: ["Tuesday's opening time “25:00” is not a time of day (for example 8:30 AM)."]}


def test_a_closure_is_added_with_its_reason_and_audited(demo, desk):
    closure = closure_add(tenant=demo, date=dt.date(2030, 3, 8), reason="  Staff   training ", actor=desk,
                          today=dt.date(2030, 3, 1))
    assert (closure.date, closure.reason) == (dt.date(2030, 3, 8), "Staff training")
    event = AuditEvent.objects.get(object_type="tenants.Closure", action="create")
    assert (event.tenant_id, event.object_id) == (demo.pk, str(closure.pk))
    assert event.detail == {"before": None, "after": {"date": "2030-03-08", "reason": "Staff training"}}


def test_a_day_already_closed_is_refused_with_its_reason(demo, desk):
    closure_add(tenant=demo, date=dt.date(2030, 12, 24), reason="Christmas Eve", actor=desk, today=dt.date(2030, 12, 1))
    with pytest.raises(ClosureExists) as refused:
        closure_add(tenant=demo, date=dt.date(2030, 12, 24), reason="Party", actor=desk, today=dt.date(2030, 12, 1))
    assert str(refused.value) == "Tuesday, December 24 is already closed: Christmas Eve."
    assert refused.value.field == "date"
    assert Closure.objects.for_tenant(demo).get(date=dt.date(2030, 12, 24)).reason == "Christmas Eve"


def test_a_closure_needs_a_reason_and_a_day_to_come(demo, desk):
    today = dt.date(2030, 3, 4)
    with pytest.raises(ClosureInvalid) as no_reason:
        closure_add(tenant=demo, date=today, reason="   ", actor=desk, today=today)
    assert no_reason.value.field == "reason" and "Give a reason" in str(no_reason.value)
    with pytest.raises(ClosureInPast) as past:
        closure_add(tenant=demo, date=dt.date(2030, 3, 3), reason="Snow", actor=desk, today=today)
    assert str(past.value) == "Sunday, March 3, 2030 has already passed: close today or a day to come."
    assert closure_add(tenant=demo, date=today, reason="Snow", actor=desk, today=today).date == today  # a snow day
    with pytest.raises(ClosureInvalid, match="Keep the reason to 200 characters"):
        closure_add(tenant=demo, date=dt.date(2030, 3, 5), reason="x" * 201, actor=desk, today=today)


def test_a_closure_is_removed_once_and_only_from_its_own_practice(demo, desk, make_practice):
    other, _, _ = make_practice("other")
    theirs = Closure.objects.create(tenant=other, date=dt.date(2030, 1, 2), reason="Theirs")
    assert closure_remove(tenant=demo, closure_id=theirs.pk, actor=desk) is None
    assert Closure.objects.filter(pk=theirs.pk).exists()
    mine = closure_add(tenant=demo, date=dt.date(2030, 1, 2), reason="Inventory", actor=desk, today=dt.date(2030, 1, 1))
    assert closure_remove(tenant=demo, closure_id=mine.pk, actor=desk).reason == "Inventory"
    assert closure_remove(tenant=demo, closure_id=mine.pk, actor=desk) is None
    event = AuditEvent.objects.get(object_type="tenants.Closure", action="delete")
    assert event.detail == {"before": {"date": "2030-01-02", "reason": "Inventory"}, "after": None}


def test_the_next_caller_hears_the_new_hours_and_is_offered_times_in_them(demo, desk):
    def receptionist():
        call = call_start(tenant=demo, channel=Call.Channel.PHONE, caller_number="+15552229999")
        return ReceptionistTools(call=call, tenant=demo, now=lambda: NOW)

    friday = dt.date(2026, 12, 4)
    cleaning = AppointmentType.objects.for_tenant(demo).get(key="cleaning")
    first_call = receptionist()
    assert first_call.call_tool("practice_info", date=friday).day.hours == "8 AM to 2 PM"
    business_hours_replace(tenant=demo, week={**demo_week(demo), FRIDAY: [(t("10:00"), t("12:00")),
                                                                           (t("13:00"), t("15:00"))]}, actor=desk)
    info = receptionist().call_tool("practice_info", date=friday)
    assert info.day.sentence == "On Friday, December 4 we're open 10 AM to noon and 1 PM to 3 PM."
    assert "On Fridays we're open 10 AM to noon and 1 PM to 3 PM." in info.weekdays
    offered = slots_find(tenant=demo, appointment_type=cleaning, now=NOW, day=friday, limit=50).slots
    local = [slot.start.astimezone(demo.tzinfo).time() for slot in offered]
    assert local and local[0] == t("10:00") and all(t("10:00") <= start < t("15:00") for start in local)
    assert not any(t("12:00") <= start < t("13:00") for start in local)  # the new lunch break

    closure_add(tenant=demo, date=friday, reason="a staff day", actor=desk, today=NOW.date())
    assert receptionist().call_tool("practice_info", date=friday).day.sentence == (
        "We're closed on Friday, December 4 for a staff day.")
    closed = slots_find(tenant=demo, appointment_type=cleaning, now=NOW, day=friday)
    assert closed.slots == [] and closed.reason == "We're closed on Friday, December 4 for a staff day."
