"""The admin site staff sign in to: the models' pages, plus the practice's dashboard and staff pages."""

from django.contrib import admin

from portal import two_factor


class PracticeAdminSite(admin.AdminSite):
    site_header = "AI Receptionist"
    site_title = "AI Receptionist"
    index_title = "Your practice"

    def get_urls(self):
        return two_factor.urls(self) + super().get_urls()
