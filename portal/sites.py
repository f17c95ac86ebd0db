"""The admin site staff sign in to: the models' pages, plus the practice's dashboard and staff pages."""

from functools import partial

from django.contrib import admin
from django.urls import path
from django.utils import timezone

from portal import browser_call, two_factor
from portal.dashboard import practice_dashboard


class PracticeAdminSite(admin.AdminSite):
    site_header = "AI Receptionist"
    site_title = "AI Receptionist"
    index_title = "Your practice"
    site_url = None  # the admin is the whole site: no "View site" link to a page that does not exist
    # Extends Django's index (a template of the same name could not): the dashboard above the models.
    index_template = "admin/portal_index.html"

    def index(self, request, extra_context=None):
        context = {**practice_dashboard(request=request, now=timezone.now()), **(extra_context or {})}
        return super().index(request, context)

    def get_urls(self):
        pages = [
            path("test-call/", self.admin_view(partial(browser_call.page, site=self)), name="test_call"),
            path("test-call/start/", self.admin_view(browser_call.start), name="test_call_start"),
        ]
        return two_factor.urls(self) + pages + super().get_urls()
