"""The front desk edits Friday's hours in the week grid: a lunch break, and a mistake said in plain words."""

import datetime as dt
import io

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from tenants.models import BusinessHours, Tenant
from tests.browser.conftest import sign_in

pytestmark = pytest.mark.django_db(transaction=True)
FRIDAY = 4


def test_the_front_desk_gives_friday_a_lunch_break(page, portal_url, staff_member):
    call_command("seed_demo", stdout=io.StringIO())
    practice = Tenant.objects.get(slug="demo")
    hours_path = f"/admin/tenants/tenant/{practice.pk}/hours/"
    sign_in(page, portal_url, staff_member(practice), next_path=hours_path)

    page.fill(f"#id_hours-{FRIDAY}-0-opens", "17:00")
    page.fill(f"#id_hours-{FRIDAY}-0-closes", "09:00")
    page.click("#hours-save")
    expect(page.locator(f"#hours-day-{FRIDAY}-errors")).to_contain_text("Friday closes before it opens")
    expect(page.locator(f"#id_hours-{FRIDAY}-0-opens")).to_have_value("17:00")  # what was typed is kept

    page.fill(f"#id_hours-{FRIDAY}-0-opens", "09:00")
    page.fill(f"#id_hours-{FRIDAY}-0-closes", "12:00")
    page.click(f"#hours-add-{FRIDAY}")
    page.fill(f"#id_hours-{FRIDAY}-1-opens", "13:00")
    page.fill(f"#id_hours-{FRIDAY}-1-closes", "16:30")
    page.click("#hours-save")

    expect(page.locator(".messagelist li")).to_have_text("Hours saved; callers hear them from the next call.")
    friday = BusinessHours.objects.filter(tenant=practice, weekday=FRIDAY).order_by("opens")
    assert [(h.opens, h.closes) for h in friday] == [(dt.time(9), dt.time(12)), (dt.time(13), dt.time(16, 30))]
