import zoneinfo

from django.utils import timezone

from tenants.models import StaffMembership


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
            zones = set(StaffMembership.objects.filter(user=user).values_list("tenant__timezone", flat=True))
        if len(zones) == 1:
            timezone.activate(zoneinfo.ZoneInfo(zones.pop()))
        else:
            timezone.deactivate()
        return self.get_response(request)
