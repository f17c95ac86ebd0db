from django.urls import path

from bookings import views

# No trailing slashes: Twilio posts to exactly these.
urlpatterns = [
    path("sms-status", views.sms_status, name="twilio-sms-status"),
    path("sms-incoming", views.sms_incoming, name="twilio-sms-incoming"),
]
