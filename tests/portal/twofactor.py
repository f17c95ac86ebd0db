"""Two-factor sign-in for tests, the browser's included: the code an authenticator app would show,
and a session signed in the way the login and code pages leave it."""

import time
from base64 import b32decode

from django.contrib.auth.models import AbstractBaseUser
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from tenants.two_factor import DEVICE_NAME, two_factor_device, two_factor_required


def totp_code(user: AbstractBaseUser) -> str:
    """The code the user's authenticator app shows now, for their newest device (being set up, or in use).

    A code is accepted once: after it was, this gives the next time step's, which the device
    also accepts (one step either way), so a test can sign in twice within 30 seconds.
    """
    device = TOTPDevice.objects.filter(user=user).order_by("-id").first()
    if device is None:
        raise LookupError(f"{user} has no authenticator app set up.")
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = max(time.time(), device.t0 + (device.last_t + 1) * device.step)
    return f"{totp.token():0{device.digits}d}"


def totp_code_for_key(key: str) -> str:
    """The code an app holding the key shown on the set-up page (#two-factor-secret) shows now:
    for a server in another process, whose database the test cannot read."""
    totp = TOTP(b32decode("".join(key.split()).upper()))
    return f"{totp.token():06d}"


def device_confirmed(user: AbstractBaseUser) -> TOTPDevice:
    """The user's confirmed authenticator app, set up now if they had none."""
    return two_factor_device(user=user) or TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=True)


def staff_sign_in(client, user: AbstractBaseUser) -> None:
    """Sign the test client in as the user, with the code step done when they have (or, as owners, must
    have) an authenticator app: what django_otp.login leaves in the session after a right code."""
    client.force_login(user)
    if two_factor_required(user=user) or two_factor_device(user=user):
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device_confirmed(user).persistent_id
        session.save()
