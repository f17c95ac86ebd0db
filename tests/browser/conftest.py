"""The staff portal in a real browser: Debian's Chromium driven by Playwright, against daphne on 127.0.0.1
serving the test database, as staff would use it."""

import os
import shutil
import wave
from pathlib import Path

import pytest
from django.db import connection
from playwright.sync_api import sync_playwright

from tenants.models import StaffMembership
from tests import ROOT
from tenants.two_factor import two_factor_device
from tests.portal.twofactor import totp_code
from tests.servers import daphne, free_port
from voice.phone.audio import SAMPLE_RATE, silence_ulaw, ulaw_to_pcm
from voice.simulator.twilio_api import FakeTwilioApi
from voice.simulator.voices import piper

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# As root (CI) Chromium needs --no-sandbox; the rest keep it off this machine's closed network.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--autoplay-policy=no-user-gesture-required"]
SCREENSHOTS = ROOT / "docs" / "screenshots"
PASSWORD = "browser-pw-0123"
# A Friday, as in make demo: "Monday" is November 30, when the demo practice is open.
FROZEN_NOW = "2026-11-27T10:00:00-05:00"
TWILIO_ACCOUNT_SID = "AC" + "7" * 32


@pytest.fixture(scope="session")
def twilio_api():
    api = FakeTwilioApi(0)
    yield api
    api.close()


@pytest.fixture(scope="session")
def portal_url(django_db_setup, twilio_api, tmp_path_factory) -> str:
    """The portal under daphne on the test database, its Twilio REST calls going to the fake Twilio API."""
    s = connection.settings_dict
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{s['USER']}@{s['HOST']}:{s['PORT']}/{s['NAME']}",
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "TWILIO_ACCOUNT_SID": TWILIO_ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": "browser-token-0123456789",
        "TWILIO_API_BASE_URL": twilio_api.base_url,
        "FROZEN_NOW": FROZEN_NOW,
    }
    log = tmp_path_factory.mktemp("portal") / "daphne.log"
    with daphne(env, port=port, log=log):
        yield f"http://127.0.0.1:{port}"


def launch(playwright, *extra_args: str):
    if not shutil.which(CHROMIUM):
        pytest.fail(f"Chromium is not at {CHROMIUM}: on Debian, apt-get install chromium (make test does).")
    return playwright.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *extra_args])


@pytest.fixture
def playwright(monkeypatch):
    # Playwright's sync API runs an event loop in the test's thread, which Django takes for async code and
    # refuses ORM calls in; the test's own queries are plain synchronous ones. Per test, so that the loop
    # and this setting end with it.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as p:
        yield p


@pytest.fixture
def browser(playwright):
    browser = launch(playwright)
    yield browser
    browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


@pytest.fixture
def staff_member(django_user_model):
    """A staff login for a practice with the given role; its password is PASSWORD."""

    def make(tenant, *, role=StaffMembership.Role.FRONT_DESK, username="desk"):
        user = django_user_model.objects.create_user(username=username, password=PASSWORD, is_staff=True)
        StaffMembership.objects.create(tenant=tenant, user=user, role=role)
        return user

    return make


def sign_in(page, portal_url: str, user, *, next_path: str = "/admin/") -> None:
    """Through the sign-in page, and its code step for staff with an authenticator app (owners must have one)."""
    page.goto(f"{portal_url}/admin/login/?next={next_path}")
    page.fill("#id_username", user.get_username())
    page.fill("#id_password", PASSWORD)
    page.click("#login-form input[type=submit]")
    if two_factor_device(user=user) is not None:
        page.wait_for_url("**/admin/two-factor/verify/**")
        page.fill("#id_otp_token", totp_code(user))
        page.click("#two-factor-verify-submit")
    page.wait_for_url(f"{portal_url}{next_path}")


def screenshot(page, name: str) -> Path:
    """A picture of the page for the README (docs/screenshots), refreshed by every run of the tests."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=path, full_page=True)
    return path


def microphone_wav(path: Path, script: list[tuple[float, str]]) -> Path:
    """What a caller says into the microphone, for Chromium's fake capture device: each line after a pause
    long enough for the receptionist's answer to the line before (speaking over it would interrupt it)."""
    ulaw = b"".join(silence_ulaw(int(pause * 1000)) + (piper(line) if line else b"") for pause, line in script)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(ulaw_to_pcm(ulaw))
    return path
