from django.conf import settings
from django.contrib import admin
from django.contrib.staticfiles.urls import staticfiles_urlpatterns
from django.urls import include, path

from receptionist_site import health

admin.site.site_header = "AI Receptionist"
admin.site.site_title = "AI Receptionist"

urlpatterns = [
    path("health", health.health, name="health"),
    path("health/detailed", health.health_detailed, name="health-detailed"),
    path("admin/", admin.site.urls),
    path("api/webhooks/", include("calls.urls")),
    path("", include("django_prometheus.urls")),
]

if settings.DEBUG:
    # daphne serves no static files itself; on one machine the admin still needs its CSS.
    urlpatterns += staticfiles_urlpatterns()
