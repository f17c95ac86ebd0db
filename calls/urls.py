from django.urls import path

from calls import views

# No trailing slashes: Twilio posts to exactly these, and an APPEND_SLASH redirect would drop the call.
urlpatterns = [
    path("incoming-call", views.incoming_call, name="twilio-incoming-call"),
    path("call-status", views.call_status, name="twilio-call-status"),
    path("recording-status", views.recording_status, name="twilio-recording-status"),
    path("health", views.webhooks_health, name="twilio-webhooks-health"),
]
