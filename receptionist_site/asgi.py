import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "receptionist_site.settings")

# Django must be set up before anything imports models.
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402

from receptionist_site.proxies import trusting_proxies  # noqa: E402
from voice.routing import websocket_urlpatterns  # noqa: E402

# daphne runs no system checks: a provider that cannot load (a key set for a provider that
# does not exist) must stop the server here with the check's message, not fail every call.
call_command("check", fail_level="ERROR")

# Twilio's websocket upgrade has no Origin header: the media stream is
# authenticated by its signed token on `start`, not by AllowedHostsOriginValidator.
application = trusting_proxies(
    ProtocolTypeRouter(
        {
            "http": django_asgi_app,
            "websocket": URLRouter(websocket_urlpatterns),
        }
    ),
    settings.TRUSTED_PROXIES,
)

# Everything loaded so far lives as long as the process. Moving it out of the
# collector's reach keeps full collections short, which a 20 ms audio loop and
# a booking search both notice as latency spikes (see benchmarks/README.md).
gc.freeze()
