from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class PortalConfig(AppConfig):
    default = True
    name = "portal"
    verbose_name = "Staff portal"


class PortalAdminConfig(admin_apps.AdminConfig):
    """Django admin with the practice's own site: the dashboard index and the staff pages beside the models."""

    default = False  # "portal" in INSTALLED_APPS means PortalConfig; this one is named in full
    default_site = "portal.sites.PracticeAdminSite"
