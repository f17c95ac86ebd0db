"""Two-factor sign-in: owners must use an authenticator app, everyone else may; codes are throttled and audited."""

import datetime as dt
import re

import pytest
from django.contrib.sessions.models import Session
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from tenants.models import AuditEvent, StaffMembership
from tests.portal.twofactor import device_confirmed, staff_sign_in, totp_code

pytestmark = pytest.mark.django_db

PASSWORD = "the-right-password-1"
CALLS = "/admin/calls/call/"


@pytest.fixture
def practice(make_practice):
    tenant, _, _ = make_practice("a")
    return tenant


@pytest.fixture
def person(practice, django_user_model):
    def make(role, username):
        user = django_user_model.objects.create_user(username=username, password=PASSWORD, is_staff=True)
        StaffMembership.objects.create(tenant=practice, user=user, role=role)
        return user

    return make


def sign_in(client, user, next_url="/admin/"):
    response = client.post(f"/admin/login/?next={next_url}", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302, "the password was refused"


def code_of(device: TOTPDevice) -> str:
    """What the authenticator app shows now, from the device's own key and settings."""
    device.refresh_from_db()
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():06d}"


def wrong_code(device: TOTPDevice) -> str:
    return f"{(int(code_of(device)) + 500_000) % 1_000_000:06d}"


def seconds_pass(device: TOTPDevice, seconds: int) -> None:
    """The throttle's wait runs from the last wrong code: move that back instead of sleeping."""
    TOTPDevice.objects.filter(pk=device.pk).update(
        throttling_failure_timestamp=timezone.now() - dt.timedelta(seconds=seconds))


def events(user, action):
    return AuditEvent.objects.filter(actor_user=user, action=action, object_type="auth.User", object_id=str(user.pk))


def test_an_owner_without_an_app_must_set_one_up_before_any_other_admin_page(client, person, practice):
    owner = person(StaffMembership.Role.OWNER, "owner")
    sign_in(client, owner, next_url=CALLS)

    turned_away = client.get(CALLS)
    assert turned_away.status_code == 302 and turned_away.url == "/admin/two-factor/?next=%2Fadmin%2Fcalls%2Fcall%2F"
    for url in ["/admin/", "/admin/bookings/patient/", "/admin/calls/", reverse("admin:password_change"),
                reverse("admin:jsi18n"), reverse("admin:autocomplete"), reverse("admin:two_factor_verify")]:
        response = client.get(url)
        assert response.status_code == 302 and response.url.startswith("/admin/two-factor/?next="), url
    assert not AuditEvent.objects.filter(actor_user=owner, action__in=["list", "view"]).exists()

    page = client.get(turned_away.url)
    assert page.status_code == 200
    assert "you must turn on two-factor sign-in" in page.text and 'id="two-factor-qr"><svg' in page.text
    assert 'id="two-factor-setup-form"' in page.text and 'name="otp_token"' in page.text
    key = re.search(r'id="two-factor-secret">([A-Z2-7 ]+)<', page.text).group(1)
    device = TOTPDevice.objects.get(user=owner)
    assert not device.confirmed and "".join(key.split()) in device.config_url

    refused = client.post(turned_away.url, {"otp_token": wrong_code(device)})
    assert refused.status_code == 200 and 'id="id_otp_token_error"' in refused.text
    assert "That code is not right. Enter the 6-digit code your authenticator app shows now." in refused.text
    assert key in refused.text  # the same key: the app the owner already set up still works
    assert client.get(CALLS).status_code == 302
    assert events(owner, "two_factor_failed").get(tenant=practice).detail == {"reason": "wrong_code", "doing": "set_up"}

    seconds_pass(device, 2)
    confirmed = client.post(turned_away.url, {"otp_token": code_of(device)})
    assert confirmed.status_code == 302 and confirmed.url == CALLS
    assert client.get(CALLS).status_code == 200
    device.refresh_from_db()
    assert device.confirmed
    assert events(owner, "two_factor_set_up").get(tenant=practice).detail == {
        "device": device.persistent_id, "replaced": False}

    assert client.post(reverse("admin:logout")).status_code == 200
    sign_in(client, owner)
    assert client.get("/admin/").url == "/admin/two-factor/verify/?next=%2Fadmin%2F"


def test_a_signed_in_owner_can_log_out_before_setting_up(client, person):
    owner = person(StaffMembership.Role.OWNER, "owner")
    sign_in(client, owner)
    assert client.post(reverse("admin:logout")).status_code == 200
    assert client.get(CALLS).url.startswith("/admin/login/")


def test_a_sign_in_with_an_app_asks_for_its_code(client, person, practice):
    owner = person(StaffMembership.Role.OWNER, "owner")
    device = device_confirmed(owner)
    sign_in(client, owner, next_url=CALLS)
    asked = client.get(CALLS)
    assert asked.url == "/admin/two-factor/verify/?next=%2Fadmin%2Fcalls%2Fcall%2F"
    # Not a way round the code: setting up another app needs the code of this one first.
    assert client.get("/admin/two-factor/?new=1").url.startswith("/admin/two-factor/verify/")

    page = client.get(asked.url)
    assert page.status_code == 200 and "Enter the 6-digit code from your authenticator app." in page.text
    assert 'id="two-factor-verify-form"' in page.text and 'id="id_otp_token"' in page.text
    assert 'autocomplete="one-time-code"' in page.text

    refused = client.post(asked.url, {"otp_token": wrong_code(device), "next": CALLS})
    assert refused.status_code == 200
    assert "That code is not right. Enter the 6-digit code your authenticator app shows now." in refused.text
    assert f'name="next" value="{CALLS}"' in refused.text  # where they were going is kept
    assert client.get(CALLS).status_code == 302
    failed = events(owner, "two_factor_failed").get(tenant=practice)
    assert failed.detail == {"reason": "wrong_code", "doing": "sign_in"} and failed.ip == "127.0.0.1"

    assert client.post(asked.url, {"otp_token": "12345", "next": CALLS}).status_code == 200  # too short: not tried
    seconds_pass(device, 2)
    before = client.session.session_key
    passed = client.post(asked.url, {"otp_token": code_of(device), "next": CALLS})
    assert passed.status_code == 302 and passed.url == CALLS
    assert client.session.session_key != before
    assert client.get(CALLS).status_code == 200
    assert client.get(asked.url).url == CALLS  # nothing more to enter


def test_a_code_is_taken_once(client, person):
    owner = person(StaffMembership.Role.OWNER, "owner")
    device = device_confirmed(owner)
    sign_in(client, owner)
    code = code_of(device)
    assert client.post(reverse("admin:two_factor_verify"), {"otp_token": code}).status_code == 302

    client.post(reverse("admin:logout"))
    sign_in(client, owner)
    replayed = client.post(reverse("admin:two_factor_verify"), {"otp_token": code})
    assert replayed.status_code == 200 and "That code is not right" in replayed.text


def test_repeated_wrong_codes_make_each_next_try_wait_longer(client, person, practice):
    desk = person(StaffMembership.Role.FRONT_DESK, "desk")
    device = device_confirmed(desk)
    sign_in(client, desk)
    verify = reverse("admin:two_factor_verify")
    for _ in range(5):
        seconds_pass(device, 3600)  # each after the previous one's wait, so that each counts
        client.post(verify, {"otp_token": wrong_code(device)})

    right_away = client.post(verify, {"otp_token": code_of(device)})
    assert right_away.status_code == 200
    wait = int(re.search(r"Too many wrong codes\. Wait (\d+) seconds", right_away.text).group(1))
    assert wait == 16  # 1, 2, 4, 8, then 16 seconds after the fifth wrong code
    assert client.get("/admin/").status_code == 302
    assert events(desk, "two_factor_failed").filter(tenant=practice, detail__reason="throttled").count() == 1

    seconds_pass(device, 17)
    assert client.post(verify, {"otp_token": code_of(device)}).status_code == 302
    assert client.get("/admin/").status_code == 200


def test_front_desk_is_offered_two_factor_and_may_turn_it_off(client, person, practice):
    desk = person(StaffMembership.Role.FRONT_DESK, "desk")
    sign_in(client, desk)
    home = client.get("/admin/")
    assert home.status_code == 200 and client.get(CALLS).status_code == 200
    assert '<a href="/admin/two-factor/" id="two-factor-link">Two-factor sign-in</a>' in home.text

    offer = client.get("/admin/two-factor/")
    assert "Two-factor sign-in is <strong>off</strong>" in offer.text and 'id="two-factor-turn-on"' in offer.text
    assert "you must turn on" not in offer.text and 'id="two-factor-qr"' not in offer.text
    assert 'id="two-factor-qr"><svg' in client.get("/admin/two-factor/?new=1").text
    on = client.post("/admin/two-factor/?new=1", {"otp_token": totp_code(desk)})
    assert on.status_code == 302 and client.get("/admin/").status_code == 200

    client.post(reverse("admin:logout"))
    sign_in(client, desk)
    assert client.get("/admin/").url == "/admin/two-factor/verify/?next=%2Fadmin%2F"
    client.post(reverse("admin:two_factor_verify"), {"otp_token": totp_code(desk)})
    status = client.get("/admin/two-factor/")
    assert "Two-factor sign-in is <strong>on</strong>" in status.text and 'id="two-factor-remove-form"' in status.text

    off = client.post("/admin/two-factor/", {"action": "remove"}, follow=True)
    assert "Two-factor sign-in is off." in off.text and 'id="two-factor-turn-on"' in off.text
    assert not TOTPDevice.objects.filter(user=desk).exists()
    assert events(desk, "two_factor_removed").filter(tenant=practice).count() == 1
    client.post(reverse("admin:logout"))
    sign_in(client, desk)
    assert client.get("/admin/").status_code == 200


def test_an_owner_cannot_turn_it_off_but_can_move_it_to_a_new_app(client, person, practice):
    owner = person(StaffMembership.Role.OWNER, "owner")
    old = device_confirmed(owner)
    sign_in(client, owner)
    client.post(reverse("admin:two_factor_verify"), {"otp_token": totp_code(owner)})

    status = client.get("/admin/two-factor/")
    assert 'id="two-factor-owner-note"' in status.text and 'id="two-factor-remove-form"' not in status.text
    refused = client.post("/admin/two-factor/", {"action": "remove"}, follow=True)
    assert "Owners must keep two-factor sign-in on." in refused.text
    assert TOTPDevice.objects.filter(pk=old.pk, confirmed=True).exists()

    new_app = client.get("/admin/two-factor/?new=1")
    assert 'id="two-factor-qr"><svg' in new_app.text and "Move two-factor sign-in to a new authenticator app" in new_app.text
    assert client.get("/admin/").status_code == 200  # the old app keeps working until the new one is confirmed
    moved = client.post("/admin/two-factor/?new=1", {"otp_token": totp_code(owner)})
    assert moved.status_code == 302
    new = TOTPDevice.objects.get(user=owner)
    assert new.pk != old.pk and new.confirmed
    assert client.get("/admin/").status_code == 200  # still signed in, now by the new app
    assert events(owner, "two_factor_set_up").get(tenant=practice).detail["replaced"] is True


def test_an_idle_owner_signs_in_again_with_password_and_code(client, person):
    owner = person(StaffMembership.Role.OWNER, "owner")
    device = device_confirmed(owner)
    sign_in(client, owner)
    client.post(reverse("admin:two_factor_verify"), {"otp_token": code_of(device)})
    assert client.get(CALLS).status_code == 200

    Session.objects.filter(session_key=client.session.session_key).update(expire_date=timezone.now() - dt.timedelta(seconds=1))
    assert client.get(CALLS).url.startswith("/admin/login/")
    sign_in(client, owner)
    assert client.get(CALLS).url.startswith("/admin/two-factor/verify/")


def test_the_staff_client_fixture_signs_owners_in_past_the_code(staff_client, practice):
    client, owner = staff_client(practice, role=StaffMembership.Role.OWNER, username="owner")
    assert client.get(CALLS).status_code == 200
    assert TOTPDevice.objects.get(user=owner).confirmed


def test_an_operator_removes_a_lost_app_and_never_sees_its_key(client, person, django_user_model, staff_client,
                                                                   practice):
    owner = person(StaffMembership.Role.OWNER, "owner")
    device = device_confirmed(owner)
    operator = django_user_model.objects.create_superuser(username="operator", password=PASSWORD)
    staff_sign_in(client, operator)
    change = client.get(reverse("admin:otp_totp_totpdevice_change", args=[device.pk]))
    assert change.status_code == 200 and device.key not in change.text
    assert client.get(reverse("admin:otp_totp_totpdevice_config", args=[device.pk])).status_code == 403
    client.post(reverse("admin:otp_totp_totpdevice_delete", args=[device.pk]), {"post": "yes"})
    assert not TOTPDevice.objects.filter(user=owner).exists()

    client.post(reverse("admin:logout"))
    sign_in(client, owner)
    assert client.get("/admin/").url.startswith("/admin/two-factor/?next=")  # a new app on the next sign-in

    other_owner, _ = staff_client(practice, role=StaffMembership.Role.OWNER, username="other-owner")
    assert other_owner.get(reverse("admin:otp_totp_totpdevice_changelist")).status_code == 403


def test_an_operator_sees_every_practice_so_must_set_up_an_app_too(client, django_user_model):
    operator = django_user_model.objects.create_superuser(username="operator", password=PASSWORD)
    sign_in(client, operator)

    assert client.get(reverse("admin:calls_call_changelist")).url.startswith("/admin/two-factor/?next=")
