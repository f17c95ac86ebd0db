import time
import zoneinfo

from django.conf import settings
from django.contrib.auth import logout
from django.utils import timezone

from tenants.selectors import staff_timezones


class PracticeTimezoneMiddleware:
    """Show and read times in the practice's zone for staff of one practice.

    A front desk in New York types "3:00 PM" and means 3 PM in New York, not UTC.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        zones = set()
        if user is not None and user.is_authenticated and user.is_staff:
            zones = staff_timezones(user=user)
        if len(zones) == 1:
            timezone.activate(zoneinfo.ZoneInfo(zones.pop()))
        else:
            timezone.deactivate()
        return self.get_response(request)


LOGIN_AT_SESSION_KEY = "staff_login_at"


class StaffSessionLifetimeMiddleware:
    """Ends a staff session a fixed number of hours after its login, however active it was.

    Idle sessions already end on their own (SESSION_COOKIE_AGE, renewed on every request);
    this bounds the whole session, the time a computer left signed in exposes patient data.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            login_at = request.session.get(LOGIN_AT_SESSION_KEY)
            if login_at is None or time.time() - login_at > settings.STAFF_SESSION_HOURS * 3600:
                logout(request)
        return self.get_response(request)
