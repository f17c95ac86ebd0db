"""/health for load balancers; /health/detailed and /metrics for operators only."""

import json

import pytest
from django.core.serializers.json import DjangoJSONEncoder

from calls.models import Call
from calls.services import call_end, call_fallback_record, call_from_incoming, call_stream_attach

pytestmark = pytest.mark.django_db(transaction=True)


def test_health(client):
    response = client.get("/health")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_health_detailed_reports_real_dependencies(client):
    response = client.get("/health/detailed")
    body = response.json()
    assert response.status_code == 200, body
    assert body["checks"]["database"] == {"ok": True, "engine": "postgresql"}
    assert body["checks"]["channel_layer"] == {"ok": True, "backend": "RedisChannelLayer"}
    assert body["checks"]["redis"] == {"ok": True}
    assert body["providers"]["stt"]["provider"].endswith("PocketsphinxWorkerSTT")


def test_health_detailed_reports_a_dead_redis(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = client.get("/health/detailed")
    assert response.status_code == 503
    assert response.json()["checks"]["redis"]["ok"] is False
    json.dumps(response.json())


@pytest.mark.parametrize("path", ["/metrics", "/health/detailed"])
def test_operator_endpoints_answer_only_the_token_or_allowed_addresses(client, settings, path):
    settings.OPS_TOKEN = "ops-token-for-tests-0123456789"
    settings.OPS_ALLOWED_NETWORKS = ["10.1.0.0/16"]
    for headers in [{"REMOTE_ADDR": "203.0.113.9"}, {"REMOTE_ADDR": "203.0.113.9", "HTTP_AUTHORIZATION": "Bearer wrong"}]:
        refused = client.get(path, **headers)
        assert refused.status_code == 401 and "postgresql" not in refused.text and "stt" not in refused.text
    assert client.get(path, REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer ops-token-for-tests-0123456789").status_code == 200
    assert client.get(path, REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/health", REMOTE_ADDR="203.0.113.9").status_code == 200


@pytest.fixture
def providers_with_fallbacks(settings):
    """Each role with a fallback other than its primary: the test settings use one provider for both."""
    settings.STT_PROVIDER, settings.STT_FALLBACK_PROVIDER = "stt.Primary", "stt.Fallback"
    settings.TTS_PROVIDER, settings.TTS_FALLBACK_PROVIDER = "tts.Primary", "tts.Fallback"
    settings.CONVERSATION_ENGINE, settings.CONVERSATION_FALLBACK_ENGINE = "engines.Claude", "engines.Rules"
    return settings


def finished_phone_call(tenant, sid: str, *, fallbacks: tuple[str, ...] = ()) -> Call:
    call = call_from_incoming(tenant=tenant, call_sid=sid, caller_number="+15551230001", dialled_number="+15005550006")
    call_stream_attach(call_id=call.pk, call_sid=sid, stream_sid=f"MZ-{sid}")
    for provider in fallbacks:
        call_fallback_record(call_id=call.pk, provider=provider)
    return call_end(call=call, outcome=Call.Outcome.MESSAGE_TAKEN, summary="Zoe Other asked about her crown.")


def test_health_detailed_names_each_provider_and_its_fallback(client, providers_with_fallbacks):
    providers_with_fallbacks.TTS_FALLBACK_PROVIDER = ""
    providers = client.get("/health/detailed").json()["providers"]
    assert providers["stt"] == {"provider": "stt.Primary", "fallback": "stt.Fallback", "last_call": None}
    assert providers["tts"] == {"provider": "tts.Primary", "fallback": None, "last_call": None}
    assert providers["conversation"] == {"provider": "engines.Claude", "fallback": "engines.Rules", "last_call": None}
    assert providers["vad"] == {"provider": providers_with_fallbacks.VAD_PROVIDER}


def test_health_detailed_says_which_primary_failed_the_last_call_and_stays_up(
    client, providers_with_fallbacks, make_practice
):
    tenant = make_practice("health")[0]
    failed = finished_phone_call(tenant, "CA-health-1", fallbacks=("stt",))
    response = client.get("/health/detailed")
    body = response.json()
    # Calls are still answered, by the fallback: worth a look, not a reason to take the process out of service.
    assert response.status_code == 200 and body["status"] == "ok", body
    assert body["providers_on_fallback"] == ["stt"]
    assert body["providers"]["stt"]["last_call"] == {"ok": False, "at": DjangoJSONEncoder().default(failed.ended_at)}
    assert body["providers"]["tts"]["last_call"]["ok"] is True
    assert body["providers"]["conversation"]["last_call"]["ok"] is True

    finished_phone_call(tenant, "CA-health-2")
    body = client.get("/health/detailed").json()
    assert body["providers_on_fallback"] == []
    assert {role: body["providers"][role]["last_call"]["ok"] for role in ("stt", "tts", "conversation")} == {
        "stt": True, "tts": True, "conversation": True}


def test_without_a_fallback_the_last_calls_outcome_is_unknown(client, providers_with_fallbacks, make_practice):
    providers_with_fallbacks.TTS_FALLBACK_PROVIDER = ""
    providers_with_fallbacks.CONVERSATION_FALLBACK_ENGINE = providers_with_fallbacks.CONVERSATION_ENGINE
    finished_phone_call(make_practice("health")[0], "CA-health-1")
    providers = client.get("/health/detailed").json()["providers"]
    # Without a fallback a failing primary leaves no record on the call, so "ok" would be a guess.
    assert providers["tts"]["last_call"]["ok"] is None and providers["tts"]["last_call"]["at"]
    assert providers["conversation"]["fallback"] is None and providers["conversation"]["last_call"]["ok"] is None
    assert providers["stt"]["last_call"]["ok"] is True


def test_health_detailed_tells_nothing_about_the_caller(client, providers_with_fallbacks, make_practice):
    tenant = make_practice("bright-smiles")[0]
    call = finished_phone_call(tenant, "CA-health-1", fallbacks=("tts",))
    response = client.get("/health/detailed")
    assert response.json()["providers_on_fallback"] == ["tts"]
    text = response.content.decode()
    for secret in ("+15551230001", "CA-health-1", "MZ-CA-health-1", "Zoe", "crown", f'"{call.pk}"', tenant.slug):
        assert secret not in text
