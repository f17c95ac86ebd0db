from django.urls import path

from voice.phone.consumers import MediaStreamConsumer

websocket_urlpatterns = [
    path("media-stream/<int:call_id>/", MediaStreamConsumer.as_asgi()),
]
