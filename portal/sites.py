"""The admin site staff sign in to: the models' pages, plus the practice's dashboard and staff pages."""

from django.contrib import admin
from django.utils import timezone

from portal.dashboard import practice_dashboard


class PracticeAdminSite(admin.AdminSite):
    site_header = "AI Receptionist"
    site_title = "AI Receptionist"
    index_title = "Your practice"
    # Extends Django's index (a template of the same name could not): the dashboard above the models.
    index_template = "admin/portal_index.html"

    def index(self, request, extra_context=None):
        context = {**practice_dashboard(request=request, now=timezone.now()), **(extra_context or {})}
        return super().index(request, context)
