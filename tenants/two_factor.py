"""Staff two-factor sign-in: the 6-digit codes of an authenticator app (TOTP, django-otp) after the password.

Owners must have it: they decide where calls go and how long patient data is kept; so must operators
(superusers), who see every practice. Everyone else may turn it on. Setting it up, removing it and every refused code go into the audit trail.
"""

import datetime as dt
import math

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from tenants.models import StaffMembership
from tenants.services import Actor, audit_record_for_staff

DEVICE_NAME = "Authenticator app"


class TwoFactorError(Exception):
    """A code or a change to two-factor sign-in was refused; the message says what to do."""


class CodeWrong(TwoFactorError):
    pass


class CodeThrottled(TwoFactorError):
    def __init__(self, message: str, *, retry_at: dt.datetime):
        super().__init__(message)
        self.retry_at = retry_at


class OwnerMustKeepTwoFactor(TwoFactorError):
    pass


def two_factor_required(*, user: AbstractBaseUser) -> bool:
    """Owners of any practice, and operators (superusers, who see every practice's patients), sign in with a code."""
    return user.is_superuser or StaffMembership.objects.filter(user=user, role=StaffMembership.Role.OWNER).exists()


def two_factor_device(*, user: AbstractBaseUser) -> TOTPDevice | None:
    """The confirmed device whose codes the user signs in with, if they set one up."""
    return TOTPDevice.objects.devices_for_user(user, confirmed=True).order_by("-id").first()


def two_factor_device_start(*, user: AbstractBaseUser) -> TOTPDevice:
    """A new secret for the user's authenticator app, not used for signing in until a code confirms it.

    Coming back to the set-up page shows the same secret: the app may already hold it.
    """
    pending = TOTPDevice.objects.devices_for_user(user, confirmed=False).order_by("-id").first()
    return pending or TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)


def _code_check(*, device: TOTPDevice, token: str, actor: Actor, doing: str) -> TOTPDevice:
    """The device, locked and up to date, once it accepted `token`; each refusal is audited.

    Every wrong code doubles the wait before the next is tried (django-otp's throttling, kept
    on the device), so guessing a 6-digit code is hopeless.
    """
    token = "".join(token.split())
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().get(pk=device.pk)
        allowed, why = device.verify_is_allowed()
        # The failure count is saved by verify_token: the transaction must commit, not roll back, on a wrong code.
        accepted = allowed and device.verify_token(token)
    if accepted:
        return device
    reason = "wrong_code" if allowed else "throttled"
    audit_record_for_staff(actor=actor, user=device.user, action="two_factor_failed",
                           detail={"reason": reason, "doing": doing})
    if not allowed:
        retry_at = why["locked_until"]
        seconds = max(1, math.ceil((retry_at - timezone.now()).total_seconds()))
        raise CodeThrottled(
            f"Too many wrong codes. Wait {seconds} second{'s' if seconds != 1 else ''}, then enter the code "
            "your app shows.", retry_at=retry_at)
    raise CodeWrong("That code is not right. Enter the 6-digit code your authenticator app shows now.")


def two_factor_verify(*, device: TOTPDevice, token: str, actor: Actor) -> TOTPDevice:
    """Check a code at sign-in; raise CodeWrong or CodeThrottled."""
    return _code_check(device=device, token=token, actor=actor, doing="sign_in")


def two_factor_confirm(*, device: TOTPDevice, token: str, actor: Actor) -> TOTPDevice:
    """Turn on a started device with a code it made; it replaces any device the user had."""
    if device.confirmed:
        raise TwoFactorError("That authenticator app is already set up.")
    # Checked outside the transaction below: a refused code must still count towards the throttle.
    device = _code_check(device=device, token=token, actor=actor, doing="set_up")
    with transaction.atomic():
        replaced, _ = TOTPDevice.objects.filter(user=device.user).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        audit_record_for_staff(actor=actor, user=device.user, action="two_factor_set_up",
                               detail={"device": device.persistent_id, "replaced": bool(replaced)})
    return device


@transaction.atomic
def two_factor_remove(*, user: AbstractBaseUser, actor: Actor) -> None:
    """Turn two-factor sign-in off for someone who need not have it."""
    if two_factor_required(user=user):
        raise OwnerMustKeepTwoFactor(
            "Owners must keep two-factor sign-in on. To move it to another phone, set up a new authenticator app.")
    removed, _ = TOTPDevice.objects.filter(user=user).delete()
    if removed:
        audit_record_for_staff(actor=actor, user=user, action="two_factor_removed")
