from django.contrib import admin
from django.urls import include, path

from bookings import urls as bookings_urls
from receptionist_site import health

urlpatterns = [
    path("health", health.health, name="health"),
    path("health/detailed", health.health_detailed, name="health-detailed"),
    path("admin/", admin.site.urls),
    path("api/webhooks/", include("calls.urls")),
    path("api/webhooks/", include(bookings_urls.webhooks)),
    path("calendars/", include(bookings_urls.calendar_feeds)),
    path("api/v1/", include("api.urls")),
    path("metrics", health.metrics, name="prometheus-django-metrics"),
]
