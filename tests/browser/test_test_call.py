"""'Talk to your receptionist': a staff member's test call from the browser, the microphone a WAV file."""

import datetime as dt
import io
import time

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from bookings.models import Appointment
from calls.models import Call
from tenants.models import Tenant
from tests.browser.conftest import launch, microphone_wav, screenshot, sign_in

# Maria Garcia books a cleaning, as in make demo. The pauses leave room for each answer, with margin for a
# busy machine: the longest ("...could you tell me your date of birth?") takes about 8 s to say.
CALLER = [
    (10, "I'd like to book a teeth cleaning."),
    (10, "Monday at nine a m."),
    (13, "April twelfth nineteen eighty."),
    (10, "Yes please."),
    (30, ""),
]
BOOKED_WITHIN_SECONDS = 120


@pytest.mark.django_db(transaction=True)
def test_a_test_call_from_the_browser_books_an_appointment(playwright, portal_url, staff_member, tmp_path):
    call_command("seed_demo", stdout=io.StringIO())
    user = staff_member(Tenant.objects.get(slug="demo"))
    wav = microphone_wav(tmp_path / "caller.wav", CALLER)
    browser = launch(playwright, "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                     f"--use-file-for-fake-audio-capture={wav}%noloop")
    try:
        page = browser.new_page()
        sign_in(page, portal_url, user, next_path="/admin/test-call/")
        page.fill("#test-call-caller", "(555) 111-0001")  # Maria Garcia's number: the receptionist knows her
        page.click("#test-call-start")
        status = page.locator("#test-call-status")
        expect(status).to_have_text("Connected: speak to your receptionist.")
        monday_nine = dt.datetime.fromisoformat("2026-11-30T09:00:00-05:00")
        deadline = time.monotonic() + BOOKED_WITHIN_SECONDS
        while not Appointment.objects.filter(start=monday_nine, status="booked").exists():
            assert time.monotonic() < deadline, "no appointment was booked on the test call"
            time.sleep(1)
        page.click("#test-call-hangup")
        expect(status).to_have_text("The call has ended.")
        page.click("#test-call-review a")
        expect(page.locator(".call-test-badge")).to_have_text("Test call")
        expect(page.locator("#call-actions .action-sentence").filter(has_text="Booked a cleaning with Lisa Chen")
               ).to_have_count(1)
        expect(page.locator("#call-exchange .latency-strip")).not_to_have_count(0)
        screenshot(page, "call-review")
    finally:
        browser.close()
    booked = Appointment.objects.get(start=monday_nine, status="booked")
    assert (booked.patient.full_name, booked.appointment_type.key, booked.source) == ("Maria Garcia", "cleaning", "phone")
    call = Call.objects.get()
    assert call.is_test and call.outcome == "booked" and call.ended_at is not None
    assert call.turns.filter(speaker="caller", text__isnull=False).count() >= 4
