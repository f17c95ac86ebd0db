from django.urls import path

from bookings import views

# No trailing slashes: Twilio posts to exactly these.
webhooks = [
    path("sms-status", views.sms_status, name="twilio-sms-status"),
    path("sms-incoming", views.sms_incoming, name="twilio-sms-incoming"),
]

calendar_feeds = [
    path("<str:token>.ics", views.calendar_feed, name="calendar-feed"),
]
