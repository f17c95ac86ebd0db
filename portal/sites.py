"""The admin site staff sign in to: the models' pages, plus the practice's dashboard and staff pages."""

from django.contrib import admin


class PracticeAdminSite(admin.AdminSite):
    site_header = "AI Receptionist"
    site_title = "AI Receptionist"
    index_title = "Your practice"
