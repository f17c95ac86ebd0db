import datetime as dt
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import caldav
import pytest

from bookings.models import AppointmentType, Provider
from bookings.services import patient_create
from tenants.services import Actor
from tests.bookings.calendar_helpers import CALDAV_PASSWORD, CALDAV_USER
from tests.servers import radicale


@pytest.fixture(scope="session")
def radicale_server():
    """A real CalDAV server (Radicale) on 127.0.0.1 with an empty temporary store, for the whole session."""
    with radicale({CALDAV_USER: CALDAV_PASSWORD}) as server:
        yield server


@pytest.fixture
def provider_calendar(radicale_server):
    """A new empty calendar in Radicale, as the provider's own calendar app sees it."""
    with caldav.DAVClient(url=radicale_server.url, username=CALDAV_USER, password=CALDAV_PASSWORD,
                          auth_type="basic") as client:
        calendar = client.get_principal().make_calendar(name="Dr. Patel", cal_id=f"calendar-{uuid.uuid4().hex}")
        yield calendar
        calendar.delete()


class _Overloaded(BaseHTTPRequestHandler):
    def _answer(self):
        self.server.requests.append(self.command)
        self.send_response(503)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_PUT = do_DELETE = do_PROPFIND = do_REPORT = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def failing_caldav_server():
    """A server answering every request with 503 Service Unavailable; `.requests` lists the methods it got."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Overloaded)
    server.requests = []
    server.url = f"http://127.0.0.1:{server.server_address[1]}/drpatel/calendar/"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def texting_twilio(fake_twilio, settings):
    """Texts go through Twilio's SDK to the fake Twilio API (fake_twilio), as they would in production."""
    settings.SMS_BACKEND = "bookings.sms.twilio.TwilioBackend"
    settings.PUBLIC_BASE_URL = "https://receptionist.example.com"
    return fake_twilio


@pytest.fixture
def kit(demo):
    """The demo practice, its appointment types and providers by key, and a new patient, Emma Wilson."""
    types = {t.key: t for t in AppointmentType.objects.filter(tenant=demo)}
    providers = {p.key: p for p in Provider.objects.filter(tenant=demo)}
    emma = patient_create(tenant=demo, first_name="Emma", last_name="Wilson", date_of_birth=dt.date(1990, 6, 5),
                          phone="555 222 0001", actor=Actor.system("test setup"))
    return demo, types, providers, emma
