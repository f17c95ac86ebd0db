"""Liveness for load balancers; readiness and metrics for operators only.

/health says nothing but "ok". /health/detailed and /metrics reveal the
environment, the database engine and the providers, so they answer only a
bearer OPS_TOKEN or an address in OPS_ALLOWED_NETWORKS. /health/detailed also
says, per provider, whether it served the latest phone call or its fallback
had to take over.
"""

import asyncio
import functools
import hmac
import ipaddress
import uuid

from asgiref.sync import iscoroutinefunction, sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django_prometheus.exports import ExportToDjangoView

from calls.selectors import ProviderOutcome, provider_last_outcomes
from tenants.services import client_ip


def _ops_allowed(request) -> bool:
    expected = settings.OPS_TOKEN
    given = request.headers.get("Authorization", "")
    if expected and hmac.compare_digest(given.encode(), f"Bearer {expected}".encode()):
        return True
    try:
        address = ipaddress.ip_address(client_ip(request) or "")
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(network, strict=False) for network in settings.OPS_ALLOWED_NETWORKS)


def _refused() -> JsonResponse:
    response = JsonResponse({"error": "This endpoint needs the operators' bearer token."}, status=401)
    response["WWW-Authenticate"] = 'Bearer realm="operations"'
    return response


def ops_only(view):
    if iscoroutinefunction(view):
        @functools.wraps(view)
        async def guarded(request, *args, **kwargs):
            return await view(request, *args, **kwargs) if _ops_allowed(request) else _refused()
    else:
        @functools.wraps(view)
        def guarded(request, *args, **kwargs):
            return view(request, *args, **kwargs) if _ops_allowed(request) else _refused()
    return guarded


metrics = ops_only(ExportToDjangoView)


async def health(request):
    return JsonResponse({"status": "ok"})


def _check_database() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"ok": True, "engine": connection.vendor}


async def _check_channel_layer() -> dict:
    layer = get_channel_layer()
    channel = await layer.new_channel("health.")
    payload = {"type": "health.ping", "nonce": uuid.uuid4().hex}
    await layer.send(channel, payload)
    received = await asyncio.wait_for(layer.receive(channel), timeout=2)
    return {"ok": received == payload, "backend": type(layer).__name__}


async def _check_redis() -> dict:
    import redis.asyncio as redis

    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2)
    try:
        return {"ok": bool(await client.ping())}
    finally:
        await client.aclose()


def _providers(last_outcomes: dict[str, ProviderOutcome | None]) -> dict:
    """Each role's provider and fallback (dotted paths), and how its primary did on the latest phone call."""
    configured = {
        "stt": (settings.STT_PROVIDER, settings.STT_FALLBACK_PROVIDER),
        "tts": (settings.TTS_PROVIDER, settings.TTS_FALLBACK_PROVIDER),
        "conversation": (settings.CONVERSATION_ENGINE, settings.CONVERSATION_FALLBACK_ENGINE),
    }
    providers = {}
    for role, (primary, fallback) in configured.items():
        fallback = fallback if fallback and fallback != primary else None  # the same provider is no fallback
        last_call = last_outcomes.get(role)
        if last_call is not None and fallback is None:
            # A failure is recorded only as the move to a fallback: without one, "ok" would be a guess.
            last_call = {**last_call, "ok": None}
        providers[role] = {"provider": primary, "fallback": fallback, "last_call": last_call}
    providers["vad"] = {"provider": settings.VAD_PROVIDER}
    return providers


@ops_only
async def health_detailed(request):
    checks = {
        "database": sync_to_async(_check_database),
        "channel_layer": _check_channel_layer,
    }
    if settings.REDIS_URL:
        checks["redis"] = _check_redis
    results = {}
    for name, check in checks.items():
        try:
            results[name] = await check()
        except Exception as exc:  # a failing dependency is the answer, not an error
            results[name] = {"ok": False, "error": type(exc).__name__}
    healthy = all(r["ok"] for r in results.values())
    try:
        last_outcomes = await sync_to_async(provider_last_outcomes)()
    except Exception:  # the database check already says why; the providers' last calls are then unknown
        last_outcomes = {}
    providers = _providers(last_outcomes)
    body = {
        "status": "ok" if healthy else "degraded",
        "environment": settings.ENVIRONMENT,
        "checks": results,
        "providers": providers,
        # A primary that failed its last call is worth an operator's look, but calls are still answered
        # (by its fallback): it is listed here and leaves the status and the 200 alone, so a monitor
        # that takes this process out of service on 503 does not do so for a provider outage.
        "providers_on_fallback": [
            role for role, p in providers.items() if p.get("last_call") and p["last_call"]["ok"] is False
        ],
    }
    return JsonResponse(body, status=200 if healthy else 503)
