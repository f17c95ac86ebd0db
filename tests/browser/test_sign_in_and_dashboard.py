"""An owner signs in with password and code and sees the practice's day on the dashboard."""

import datetime as dt
import io
import re

import pytest
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import expect

from calls.models import Call
from tenants.models import StaffMembership, Tenant
from tests.browser.conftest import PASSWORD, screenshot, sign_in
from tests.portal.twofactor import device_confirmed

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def practice():
    call_command("seed_demo", stdout=io.StringIO())
    return Tenant.objects.get(slug="demo")


def a_week_of_calls(tenant, place_call) -> None:
    now = timezone.now()
    outcomes = [Call.Outcome.BOOKED, Call.Outcome.ANSWERED, Call.Outcome.RESCHEDULED, Call.Outcome.MESSAGE_TAKEN,
                Call.Outcome.BOOKED, Call.Outcome.TRANSFERRED, Call.Outcome.CANCELLED, Call.Outcome.ABANDONED]
    for day in range(7):
        for n, outcome in enumerate(outcomes[: 3 + day % 4]):
            place_call(tenant, now - dt.timedelta(days=day, seconds=n), outcome,
                       replies_ms=(520 + 37 * n, 610 + 53 * day, 890 - 41 * n),
                       bookings=int(outcome == Call.Outcome.BOOKED), fallbacks=("tts",) if (day, n) == (2, 1) else ())
    place_call(tenant, now, Call.Outcome.BOOKED, is_test=True, bookings=1)  # a test call: in no figure


def test_an_owner_signs_in_with_a_code_and_sees_todays_calls(page, portal_url, practice, staff_member, place_call):
    owner = staff_member(practice, role=StaffMembership.Role.OWNER, username="owner")
    device_confirmed(owner)
    a_week_of_calls(practice, place_call)

    sign_in(page, portal_url, owner)

    expect(page.locator("#dashboard")).to_be_visible()
    expect(page.locator("#dashboard-calls-today")).to_have_text("3")
    expect(page.locator("#dashboard-calls-chart")).to_have_attribute("data-drawn", "true")
    expect(page.locator("#dashboard-calls-chart .ct-bar")).not_to_have_count(0)
    expect(page.locator("#dashboard-shortcuts a")).to_have_text(
        ["Talk to your receptionist", "Hours and closures", "Calls that need follow-up"])
    screenshot(page, "dashboard")
    page.click("#dashboard-calls-today a")
    expect(page.locator("#result_list tbody tr")).to_have_count(3)


def test_a_wrong_code_is_refused_in_plain_words(page, portal_url, practice, staff_member):
    owner = staff_member(practice, role=StaffMembership.Role.OWNER, username="owner")
    device_confirmed(owner)
    page.goto(f"{portal_url}/admin/login/?next=/admin/")
    page.fill("#id_username", "owner")
    page.fill("#id_password", PASSWORD)
    page.click("#login-form input[type=submit]")
    page.fill("#id_otp_token", "000000")
    page.click("#two-factor-verify-submit")

    expect(page.locator("#id_otp_token_error")).to_be_visible()
    page.goto(f"{portal_url}/admin/calls/call/")
    expect(page).to_have_url(re.compile(r"/admin/two-factor/verify/\?next=%2Fadmin%2Fcalls%2Fcall%2F$"))
