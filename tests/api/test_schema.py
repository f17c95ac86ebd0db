"""The OpenAPI schema documents every endpoint with its errors and scope."""

import re

import pytest
import yaml
from django.urls import get_resolver

pytestmark = pytest.mark.django_db


def test_the_schema_documents_every_endpoint_with_its_scope_and_errors(client):
    response = client.get("/api/v1/schema/")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    assert schema["openapi"].startswith("3.")
    api_routes = {str(p.pattern) for p in get_resolver().url_patterns if str(p.pattern) == "api/v1/"}
    assert api_routes
    for path, operations in schema["paths"].items():
        if path.startswith("/api/v1/token"):
            continue
        for method, operation in operations.items():
            assert "Scope:" in operation.get("description", ""), (method, path)
            assert {"401", "403", "429"} <= set(operation["responses"]), (method, path)
    assert len(schema["paths"]) >= 11
    docs = client.get("/api/v1/docs/")
    assert docs.status_code == 200
    # Served from this site, not a CDN ("cdn" itself may turn up by chance in the page's CSRF token).
    assets = re.findall(r'(?:src|href)="([^"]+)"', docs.content.decode())
    assert assets and all(url.startswith("/static/") for url in assets)
    assert "http://" not in docs.content.decode() and "https://" not in docs.content.decode()
