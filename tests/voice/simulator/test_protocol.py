"""The simulator's incoming-call webhook, posted to the real view: signed as Twilio signs, answered with a stream."""

import httpx
import pytest
from django.core.asgi import get_asgi_application

from calls.models import Call
from voice.simulator.protocol import Endpoint, SimulatorError, TwilioCall, incoming_call

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]
PUBLIC = "https://receptionist.example.com"


@pytest.fixture
def server(demo, settings):
    settings.TWILIO_AUTH_TOKEN = "webhook-token"
    settings.PUBLIC_BASE_URL = PUBLIC  # not where the simulator connects: signatures name the public URL
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=get_asgi_application()), base_url="http://testserver")


def endpoint(auth_token: str = "webhook-token") -> Endpoint:
    return Endpoint(url="http://testserver", public_url=PUBLIC, auth_token=auth_token, number="+15005550006")


async def test_the_signed_webhook_is_answered_with_the_stream_on_the_servers_own_address(server):
    call = TwilioCall("AC" + "1" * 32)
    async with server:
        stream_url, parameters = await incoming_call(server, endpoint(), call, "+15551110001")
    record = await Call.objects.aget(call_sid=call.call_sid)
    assert stream_url == f"ws://testserver/media-stream/{record.pk}/"
    assert parameters["callSid"] == call.call_sid and parameters["token"]


async def test_a_refused_webhook_is_an_error_naming_the_status(server):
    async with server:
        with pytest.raises(SimulatorError, match="answered 403"):
            await incoming_call(server, endpoint(auth_token="another-token"), TwilioCall("AC" + "1" * 32), "+1555")
