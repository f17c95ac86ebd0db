"""The practice dashboard on the admin index: a practice's staff see its own figures, counts only, and the models."""

import datetime as dt
import re
from html import unescape

import pytest
from django.urls import reverse
from django.utils import timezone

from bookings.models import Patient
from calls.models import Call, Message
from tenants.models import AuditEvent, StaffMembership
from tests.portal.twofactor import staff_sign_in

pytestmark = pytest.mark.django_db

INDEX = "/admin/"


def figure(page, element_id: str) -> str:
    """The text of the element with this id."""
    match = re.search(rf'id="{element_id}"[^>]*>(.*?)</(td|span|p)>', page.text, re.S)
    assert match, f"no #{element_id} on the page"
    return " ".join(unescape(re.sub(r"<[^>]+>", "", match.group(1))).split())


def link(page, element_id: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*>\s*<a href="([^"]+)"', page.text)
    assert match, f"no link in #{element_id}"
    return unescape(match.group(1))


@pytest.fixture
def practices(make_practice, place_call):
    """Two practices with calls today and this week; the other's figures are all larger, so a leak shows."""
    ours, patient, _ = make_practice("ours")
    theirs = make_practice("theirs", patient_name=("Yara", "Elsewhere"), phone="+15557770002")[0]
    now = timezone.now()
    place_call(ours, now, Call.Outcome.BOOKED, replies_ms=(640,), bookings=1, caller_number="+15550001111",
               patient=patient)
    place_call(ours, now, Call.Outcome.TRANSFERRED, replies_ms=(900,), fallbacks=("tts",))
    place_call(ours, now - dt.timedelta(days=3), Call.Outcome.MESSAGE_TAKEN)
    place_call(ours, now - dt.timedelta(days=2), "")  # still in progress, or failed
    place_call(ours, now - dt.timedelta(days=10), Call.Outcome.BOOKED)
    tested = place_call(ours, now, Call.Outcome.MESSAGE_TAKEN, is_test=True, bookings=1)
    Message.objects.create(tenant=ours, call=tested, about="Testing the messages.")
    Message.objects.create(tenant=ours, caller_name="Zoe Other", callback_number="+15550001111",
                           about="Please call about my crown.")
    Message.objects.create(tenant=ours, about="Seen to.", status=Message.Status.HANDLED)
    for _ in range(5):
        place_call(theirs, now, Call.Outcome.TRANSFERRED, replies_ms=(3000,), bookings=2)
        Message.objects.create(tenant=theirs, about="Theirs.")
    return ours, theirs


def test_staff_see_their_practices_figures_and_the_models(practices, staff_client):
    ours, _ = practices
    client, _ = staff_client(ours)

    page = client.get(INDEX)

    assert page.status_code == 200
    assert 'id="dashboard"' in page.text and "Practice ours: today and the last 7 days" in page.text
    assert (figure(page, "dashboard-calls-today"), figure(page, "dashboard-calls-week")) == ("2", "4")
    assert figure(page, "dashboard-outcome-booked-today") == "1"
    assert figure(page, "dashboard-outcome-transferred-week") == "1"
    assert figure(page, "dashboard-outcome-message-taken-week") == "1"
    assert figure(page, "dashboard-appointments-made-today") == "1"
    assert figure(page, "dashboard-latency-p50-today") == "770 ms"
    assert figure(page, "dashboard-latency-p95-week") == "887 ms"
    assert figure(page, "dashboard-fallback-tts-week") == "1"
    assert figure(page, "dashboard-messages-waiting-count") == "1"
    assert 'id="dashboard-calls-chart"' in page.text and 'id="dashboard-chart-data"' in page.text
    assert "receptionist/vendor/chartist/chartist.umd.js" in page.text
    assert "Practice theirs" not in page.text and 'id="dashboard-practice-picker"' not in page.text
    assert "app-calls" in page.text and reverse("admin:calls_call_changelist") in page.text  # the models, still


def test_the_figures_link_to_the_rows_they_count(practices, staff_client):
    ours, _ = practices
    client, _ = staff_client(ours)
    page = client.get(INDEX)

    for element_id in ["dashboard-calls-today", "dashboard-calls-week", "dashboard-outcome-transferred-today",
                       "dashboard-outcome-message-taken-week", "dashboard-outcome-none-week"]:
        listing = client.get(link(page, element_id))
        assert listing.status_code == 200, element_id  # a lookup the changelist refused would redirect
        assert str(listing.context["cl"].result_count) == figure(page, element_id), element_id
    messages = client.get(link(page, "dashboard-messages-waiting"))
    assert [message.about for message in messages.context["cl"].result_list] == ["Please call about my crown."]


def test_no_patient_data_on_the_dashboard_and_nothing_audited(practices, staff_client):
    ours, _ = practices
    client, _ = staff_client(ours)
    Call.objects.filter(tenant=ours).update(summary="Zoe Other booked a cleaning.")

    page = client.get(INDEX)

    patient = Patient.objects.get(tenant=ours)
    for phi in ["Zoe", "Other", "+15550001111", "crown", "cleaning", patient.phone]:
        assert phi not in page.text
    assert not AuditEvent.objects.filter(object_type__in=["calls.Call", "calls.Message", "bookings.Patient"]).exists()


def test_staff_of_several_practices_pick_among_their_own(practices, make_practice, staff_client):
    ours, theirs = practices
    make_practice("stranger", phone="+15557770003")
    client, user = staff_client(ours)
    StaffMembership.objects.create(tenant=theirs, user=user, role=StaffMembership.Role.FRONT_DESK)

    first = client.get(INDEX)
    picked = client.get(INDEX, {"practice": "theirs"})
    elsewhere = client.get(INDEX, {"practice": "stranger"})

    options = re.findall(r'<option value="([^"]+)"', first.text)
    assert options == ["ours", "theirs"]
    assert figure(first, "dashboard-calls-today") == "2"
    assert figure(picked, "dashboard-calls-today") == "5" and 'data-practice="theirs"' in picked.text
    assert figure(picked, "dashboard-messages-waiting-count") == "5"
    assert f"tenant__id__exact={theirs.pk}" in link(picked, "dashboard-calls-today")
    assert 'data-practice="ours"' in elsewhere.text and "Practice stranger" not in elsewhere.text


def test_a_superuser_picks_any_practice(practices, client, django_user_model):
    _, theirs = practices
    staff_sign_in(client, django_user_model.objects.create_superuser(username="root", password="pw-for-tests-1"))

    page = client.get(INDEX, {"practice": "theirs"})

    assert re.findall(r'<option value="([^"]+)"', page.text) == ["ours", "theirs"]
    assert figure(page, "dashboard-calls-today") == "5"


def test_staff_of_no_practice_get_the_plain_index(practices, client, django_user_model):
    client.force_login(django_user_model.objects.create_user(username="new", password="pw-for-tests-1", is_staff=True))

    page = client.get(INDEX, {"practice": "ours"})

    assert page.status_code == 200
    assert 'id="dashboard"' not in page.text and "Practice ours" not in page.text
    assert 'id="content-main"' in page.text


def test_a_quiet_week_shows_zeros_and_no_charts(make_practice, staff_client):
    client, _ = staff_client(make_practice("quiet")[0])

    page = client.get(INDEX)

    assert figure(page, "dashboard-calls-week") == "0" and figure(page, "dashboard-latency-p50-week") == "–"
    assert "No calls in the last 7 days." in page.text and 'id="dashboard-calls-chart"' not in page.text
    assert "No phone replies in the last 7 days." in page.text
