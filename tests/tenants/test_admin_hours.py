"""The hours and closures page in the admin: the front desk edits the week grid and the closures, viewers read
them, other practices' staff get a 404; a refused form comes back with what was typed and the problem by the day."""

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from tenants.models import AuditEvent, BusinessHours, Closure, StaffMembership
from tenants.selectors import business_hours_week

pytestmark = pytest.mark.django_db

FRIDAY = 4
t = dt.time.fromisoformat


def hours_url(tenant) -> str:
    return reverse("admin:tenants_tenant_hours", args=[tenant.pk])


def grid_fields(page: str) -> dict[str, str]:
    """The week grid's inputs as the page holds them, as a browser would post them."""
    form = page[page.index('id="hours-form"'):page.index("</form>", page.index('id="hours-form"'))]
    fields = {name: value for name, value in re.findall(r'<input type="time" name="([^"]+)"[^>]* value="([^"]*)"', form)}
    hidden = dict(re.findall(r'<input type="hidden" name="(action|hours-whole-week)" value="([^"]*)"', form))
    return {**hidden, **fields}


def local_today(tenant) -> dt.date:
    return timezone.localdate(timezone=tenant.tzinfo)


def test_the_practice_page_sums_up_the_hours_and_links_to_their_editor(demo, staff_client):
    Closure.objects.create(tenant=demo, date=local_today(demo) + dt.timedelta(days=1), reason="Staff training")
    client, _ = staff_client(demo)
    page = client.get(reverse("admin:tenants_tenant_change", args=[demo.pk])).text
    assert "(Staff training)" in page
    assert "Monday to Thursday 8 AM to noon and 1 PM to 5 PM; Friday 8 AM to 2 PM; Saturday to Sunday closed" in page
    assert f'href="{hours_url(demo)}" id="edit-hours-link"' in page and "Edit hours and closures" in page
    assert f'href="{hours_url(demo)}" id="hours-tool-link"' in page  # beside History, too
    assert 'name="businesshours_set-TOTAL_FORMS"' not in page  # one place to edit them, not two


def test_the_front_desk_changes_fridays_hours_and_sees_them_saved(demo, staff_client):
    client, user = staff_client(demo)
    page = client.get(hours_url(demo))
    assert page.status_code == 200
    assert 'id="hours-day-4"' in page.text and 'value="08:00"' in page.text
    form = grid_fields(page.text)
    assert (form["hours-4-0-opens"], form["hours-4-0-closes"]) == ("08:00", "14:00")
    form.update({"hours-4-0-opens": "09:00", "hours-4-0-closes": "12:00",
                 "hours-4-1-opens": "13:00", "hours-4-1-closes": "16:30"})
    saved = client.post(hours_url(demo), form, follow=True)
    assert saved.redirect_chain == [(hours_url(demo), 302)]
    assert "Hours saved; callers hear them from the next call." in saved.text
    assert business_hours_week(tenant=demo)[FRIDAY] == [(t("09:00"), t("12:00")), (t("13:00"), t("16:30"))]
    assert 'name="hours-4-1-closes" id="id_hours-4-1-closes" value="16:30"' in saved.text
    event = AuditEvent.objects.get(object_type="tenants.BusinessHours", action="change")
    assert event.actor_user == user and event.tenant_id == demo.pk
    assert event.detail["after"] == {"Friday": ["09:00-12:00", "13:00-16:30"]}


def test_a_day_is_closed_by_emptying_its_times(demo, staff_client):
    client, _ = staff_client(demo)
    form = grid_fields(client.get(hours_url(demo)).text)
    form.update({"hours-4-0-opens": "", "hours-4-0-closes": ""})
    assert client.post(hours_url(demo), form).status_code == 302
    assert FRIDAY not in business_hours_week(tenant=demo)
    friday_row = client.get(hours_url(demo)).text.split('id="hours-day-4"')[1].split("</tr>")[0]
    assert '<span class="hours-closed">Closed</span>' in friday_row


def test_a_refused_week_comes_back_with_what_was_typed_and_the_problem_by_the_day(demo, staff_client):
    client, _ = staff_client(demo)
    before = business_hours_week(tenant=demo)
    form = grid_fields(client.get(hours_url(demo)).text)
    form.update({"hours-1-0-opens": "17:00", "hours-1-0-closes": "09:00",  # Tuesday
                 "hours-4-0-opens": "07:15",  # Friday: a change that must not be lost
                 "hours-2-2-opens": "18:00"})  # Wednesday: an evening without an end
    response = client.post(hours_url(demo), form)
    assert response.status_code == 400
    page = response.text
    assert "nothing was saved yet" in page
    tuesday = page.split('id="hours-day-1"')[1].split("</tr>")[0]
    assert 'id="hours-day-1-errors"' in tuesday and "Tuesday closes before it opens (5 PM–9 AM)." in tuesday
    assert 'value="17:00"' in tuesday and 'value="09:00"' in tuesday
    wednesday = page.split('id="hours-day-2"')[1].split("</tr>")[0]
    assert "Wednesday needs both an opening and a closing time." in wednesday and 'value="18:00"' in wednesday
    assert 'name="hours-4-0-opens" id="id_hours-4-0-opens" value="07:15"' in page
    assert business_hours_week(tenant=demo) == before
    assert not AuditEvent.objects.filter(object_type="tenants.BusinessHours").exists()


def test_overlapping_intervals_and_a_time_that_is_no_time_are_named(demo, staff_client):
    client, _ = staff_client(demo)
    form = grid_fields(client.get(hours_url(demo)).text)
    form.update({"hours-0-1-opens": "11:00", "hours-3-0-closes": "5 o'clock"})
    page = client.post(hours_url(demo), form).text
    assert "Monday&#x27;s 8 AM–noon and 11 AM–5 PM overlap." in page
    assert "Thursday&#x27;s closing time “5 o&#x27;clock” is not a time of day" in page


def test_a_viewer_reads_the_hours_and_cannot_change_them(demo, staff_client):
    client, _ = staff_client(demo, role=StaffMembership.Role.VIEWER, username="viewer")
    page = client.get(hours_url(demo))
    assert page.status_code == 200
    assert "08:00–14:00" in page.text and "Christmas" in page.text
    assert 'id="hours-form"' not in page.text and 'type="time"' not in page.text and "closure-add-form" not in page.text
    form = {"action": "hours", "hours-4-0-opens": "09:00", "hours-4-0-closes": "10:00"}
    assert client.post(hours_url(demo), form).status_code == 403
    christmas = Closure.objects.for_tenant(demo).first()
    assert client.post(hours_url(demo), {"action": "closure_remove", "closure": christmas.pk}).status_code == 403
    assert business_hours_week(tenant=demo)[FRIDAY] == [(t("08:00"), t("14:00"))]
    assert Closure.objects.filter(pk=christmas.pk).exists()


def test_another_practices_staff_get_a_404(demo, make_practice, staff_client):
    other, _, _ = make_practice("other")
    client, user = staff_client(other, role=StaffMembership.Role.OWNER)
    assert client.get(hours_url(demo)).status_code == 404
    form = {"action": "hours", "hours-4-0-opens": "09:00", "hours-4-0-closes": "10:00"}
    assert client.post(hours_url(demo), form).status_code == 404
    assert business_hours_week(tenant=demo)[FRIDAY] == [(t("08:00"), t("14:00"))]
    assert AuditEvent.objects.filter(actor_user=user, action="access_denied", object_type="tenants.Tenant").count() == 2


def test_the_front_desk_adds_and_removes_a_closure(demo, staff_client):
    client, user = staff_client(demo)
    day = local_today(demo) + dt.timedelta(days=40)
    added = client.post(hours_url(demo), {"action": "closure_add", "closure-date": day.isoformat(),
                                          "closure-reason": "Staff training"}, follow=True)
    assert added.redirect_chain == [(hours_url(demo), 302)]
    closure = Closure.objects.for_tenant(demo).get(date=day)
    assert closure.reason == "Staff training"
    assert f'id="closure-{closure.pk}"' in added.text and "Callers hear it from the next call." in added.text

    removed = client.post(hours_url(demo), {"action": "closure_remove", "closure": closure.pk}, follow=True)
    assert "Open again on" in removed.text and f'id="closure-{closure.pk}"' not in removed.text
    assert not Closure.objects.filter(pk=closure.pk).exists()
    events = AuditEvent.objects.filter(object_type="tenants.Closure", object_id=str(closure.pk), actor_user=user)
    assert sorted(events.values_list("action", flat=True)) == ["create", "delete"]


def test_a_refused_closure_comes_back_with_what_was_typed_and_the_reason_by_the_field(demo, staff_client):
    client, _ = staff_client(demo)
    day = local_today(demo) + dt.timedelta(days=40)
    Closure.objects.create(tenant=demo, date=day, reason="Inventory")
    response = client.post(hours_url(demo), {"action": "closure_add", "closure-date": day.isoformat(),
                                             "closure-reason": "Painting"})
    assert response.status_code == 400
    assert 'id="closure-date-errors"' in response.text and "is already closed: Inventory." in response.text
    assert f'value="{day.isoformat()}"' in response.text and 'value="Painting"' in response.text

    yesterday = local_today(demo) - dt.timedelta(days=1)
    past = client.post(hours_url(demo), {"action": "closure_add", "closure-date": yesterday.isoformat(),
                                         "closure-reason": "Too late"}).text
    assert "has already passed: close today or a day to come." in past
    no_reason = client.post(hours_url(demo), {"action": "closure_add", "closure-date": day.isoformat(),
                                              "closure-reason": ""}).text
    assert 'id="closure-reason-errors"' in no_reason and "Give a reason" in no_reason
    assert "Pick the day" in client.post(hours_url(demo), {"action": "closure_add", "closure-reason": "x"}).text
    assert Closure.objects.for_tenant(demo).filter(reason__in=["Painting", "Too late"]).count() == 0


def test_a_closure_of_another_practice_cannot_be_removed_through_this_page(demo, make_practice, staff_client):
    other, _, _ = make_practice("other")
    theirs = Closure.objects.create(tenant=other, date=local_today(other) + dt.timedelta(days=3), reason="Theirs")
    client, _ = staff_client(demo)
    response = client.post(hours_url(demo), {"action": "closure_remove", "closure": theirs.pk}, follow=True)
    assert "That closure was already removed." in response.text
    assert Closure.objects.filter(pk=theirs.pk).exists()


def test_an_operator_edits_any_practices_hours_and_a_new_practice_gets_its_editor_once_saved(demo, admin_client):
    form = grid_fields(admin_client.get(hours_url(demo)).text)
    form.update({"hours-5-0-opens": "09:00", "hours-5-0-closes": "12:00"})  # Saturday mornings
    assert admin_client.post(hours_url(demo), form).status_code == 302
    assert business_hours_week(tenant=demo)[5] == [(t("09:00"), t("12:00"))]
    add = admin_client.get(reverse("admin:tenants_tenant_add"))
    assert add.status_code == 200 and "edit-hours-link" not in add.text and "hours-tool-link" not in add.text


def test_hours_cut_short_in_transit_change_nothing(demo, staff_client):
    client, _ = staff_client(demo)
    before = list(BusinessHours.objects.filter(tenant=demo).values_list("weekday", "opens", "closes"))

    response = client.post(hours_url(demo), {"action": "hours", "hours-4-0-opens": "09:00", "hours-4-0-closes": "12:00"})

    assert response.status_code == 400 and "arrived incomplete, so nothing was changed" in response.text
    assert list(BusinessHours.objects.filter(tenant=demo).values_list("weekday", "opens", "closes")) == before
