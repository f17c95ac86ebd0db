"""The admin's two-factor pages: the code asked for after the password, and setting up an authenticator app.

What a signed-in session still owes (`step_needed`) is enforced for the whole admin by
portal.middleware.TwoFactorMiddleware; these pages are the only ones open until it is paid.
"""

from base64 import b32encode
from functools import partial
from urllib.parse import urlencode

import segno
from django import forms
from django.contrib import messages
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django_otp import login as otp_login

from tenants.services import Actor
from tenants.two_factor import (
    TwoFactorError,
    two_factor_confirm,
    two_factor_device,
    two_factor_device_start,
    two_factor_remove,
    two_factor_required,
    two_factor_verify,
)

VERIFY = "two_factor_verify"
SET_UP = "two_factor"
# Admin pages a session may open while it owes a step (URL names in the admin's namespace).
OPEN_DURING = {VERIFY: {VERIFY, "login", "logout"}, SET_UP: {SET_UP, "login", "logout"}}


def step_needed(request) -> str | None:
    """VERIFY when a signed-in staff member with an app has not entered a code in this session;
    SET_UP when an owner has no app yet; None when the admin is open to them."""
    user = request.user
    if not (user.is_authenticated and user.is_staff) or user.is_verified():
        return None
    if two_factor_device(user=user) is not None:
        return VERIFY
    return SET_UP if two_factor_required(user=user) else None


def step_redirect(step: str, next_url: str) -> HttpResponseRedirect:
    return HttpResponseRedirect(f"{reverse(f'admin:{step}')}?{urlencode({REDIRECT_FIELD_NAME: next_url})}")


def _next_url(request) -> str:
    wanted = request.POST.get(REDIRECT_FIELD_NAME) or request.GET.get(REDIRECT_FIELD_NAME) or ""
    if url_has_allowed_host_and_scheme(wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return wanted
    return reverse("admin:index")


class CodeForm(forms.Form):
    otp_token = forms.CharField(
        label="6-digit code",
        max_length=12,  # authenticator apps show "123 456"; the spaces are dropped
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True,
                                      "pattern": r"[0-9 ]*", "size": 8}),
    )

    def clean_otp_token(self):
        token = "".join(self.cleaned_data["otp_token"].split())
        if not (token.isdigit() and len(token) == 6):
            raise forms.ValidationError("Enter the 6 digits your authenticator app shows.")
        return token


def _verified(request, device) -> None:
    otp_login(request, device)
    # A new session id once the second factor is in: one captured before it is worth nothing.
    request.session.cycle_key()


def verify_view(site, request):
    """After the password: the code from the staff member's authenticator app."""
    next_url = _next_url(request)
    device = two_factor_device(user=request.user)
    if device is None or request.user.is_verified():
        return HttpResponseRedirect(next_url)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device = two_factor_verify(device=device, token=form.cleaned_data["otp_token"],
                                       actor=Actor.from_request(request))
        except TwoFactorError as refused:
            form.add_error("otp_token", str(refused))
        else:
            _verified(request, device)
            return HttpResponseRedirect(next_url)
    context = {**site.each_context(request), "title": "Two-factor sign-in", "subtitle": None, "form": form,
               REDIRECT_FIELD_NAME: next_url, "username": request.user.get_username()}
    return TemplateResponse(request, "admin/two_factor/verify.html", context)


def _qr_svg(device) -> str:
    # Drawn here, inline, black on white whatever the admin's theme: no image request, no third party.
    qr = segno.make(device.config_url, error="m")
    return mark_safe(qr.svg_inline(scale=4, dark="#000", light="#fff", border=4, title="QR code for your authenticator app"))


def _secret_text(device) -> str:
    secret = b32encode(device.bin_key).decode()
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def setup_view(site, request):
    """Turn on two-factor sign-in, move it to a new app, or (if not an owner) turn it off."""
    user = request.user
    next_url = _next_url(request)
    device = two_factor_device(user=user)
    if device is not None and not user.is_verified():
        return step_redirect(VERIFY, request.get_full_path())
    required = two_factor_required(user=user)
    actor = Actor.from_request(request)
    form = CodeForm()

    if request.method == "POST" and request.POST.get("action") == "remove":
        try:
            two_factor_remove(user=user, actor=actor)
        except TwoFactorError as refused:
            messages.error(request, str(refused))
        else:
            messages.success(request, "Two-factor sign-in is off. You sign in with your password alone.")
        return HttpResponseRedirect(reverse("admin:two_factor"))

    setting_up = (device is None and required) or "new" in request.GET or request.method == "POST"
    pending = two_factor_device_start(user=user) if setting_up else None
    if request.method == "POST":
        form = CodeForm(request.POST)
        if form.is_valid():
            try:
                confirmed = two_factor_confirm(device=pending, token=form.cleaned_data["otp_token"], actor=actor)
            except TwoFactorError as refused:
                form.add_error("otp_token", str(refused))
            else:
                _verified(request, confirmed)
                messages.success(request, "Two-factor sign-in is on. From now on you sign in with a code from your app.")
                return HttpResponseRedirect(next_url if device is None else reverse("admin:two_factor"))

    context = {
        **site.each_context(request),
        "title": "Two-factor sign-in",
        "subtitle": None,
        # Until an owner has set it up, the other pages are closed to them: no menu of them.
        "is_nav_sidebar_enabled": False,
        "device": device,
        "required": required,
        "pending": pending,
        "qr_svg": _qr_svg(pending) if pending else "",
        "secret": _secret_text(pending) if pending else "",
        "form": form,
        REDIRECT_FIELD_NAME: next_url,
    }
    return TemplateResponse(request, "admin/two_factor/setup.html", context)


def urls(site) -> list:
    return [
        path("two-factor/", site.admin_view(partial(setup_view, site)), name=SET_UP),
        path("two-factor/verify/", site.admin_view(partial(verify_view, site)), name=VERIFY),
    ]
