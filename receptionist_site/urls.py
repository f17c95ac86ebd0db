from django.contrib import admin
from django.urls import include, path

from receptionist_site import health

admin.site.site_header = "AI Receptionist"
admin.site.site_title = "AI Receptionist"

urlpatterns = [
    path("health", health.health, name="health"),
    path("health/detailed", health.health_detailed, name="health-detailed"),
    path("admin/", admin.site.urls),
    path("api/webhooks/", include("calls.urls")),
    path("calendars/", include("bookings.urls")),
    path("metrics", health.metrics, name="prometheus-django-metrics"),
]
