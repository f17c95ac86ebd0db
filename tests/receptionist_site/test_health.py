"""/health for load balancers; /health/detailed and /metrics for operators only."""

import json

import pytest

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
    assert body["providers"]["stt"].endswith("PocketsphinxWorkerSTT")


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
