"""Sign-ins, failed sign-ins and lockouts of staff go into the audit trail."""

import time

from axes.signals import user_locked_out
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver

from tenants.middleware import LOGIN_AT_SESSION_KEY
from tenants.models import AuditEvent
from tenants.services import Actor, audit_record_for_staff, client_ip


def _attempt_actor(request, username: str) -> tuple[Actor, object]:
    user = get_user_model()._default_manager.filter(username=username).first() if username else None
    actor = Actor(type=AuditEvent.ActorType.USER, user=user, label=username or "",
                  ip=client_ip(request) if request is not None else None)
    return actor, user


@receiver(user_logged_in)
def staff_logged_in(sender, request, user, **kwargs):
    request.session[LOGIN_AT_SESSION_KEY] = time.time()
    actor = Actor(type=AuditEvent.ActorType.USER, user=user, label=user.get_username(), ip=client_ip(request))
    audit_record_for_staff(actor=actor, user=user, action="login")


@receiver(user_login_failed)
def staff_login_failed(sender, credentials, request=None, **kwargs):
    actor, user = _attempt_actor(request, credentials.get("username") or "")
    audit_record_for_staff(actor=actor, user=user, action="login_failed")


@receiver(user_locked_out)
def staff_locked_out(sender, request, username, ip_address, **kwargs):
    actor, user = _attempt_actor(request, username or "")
    audit_record_for_staff(actor=actor, user=user, action="locked_out")
