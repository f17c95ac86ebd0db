"""Schemathesis sends requests generated from the live schema: none may answer 500."""

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from api.models import Scope
from api.services import api_key_issue
from tenants.services import Actor

schema = schemathesis.openapi.from_wsgi("/api/v1/schema/", get_wsgi_application())


@pytest.fixture
def partner_key(demo):
    # Requests go straight into the WSGI app, inside the test's transaction: like Django's test client,
    # keep the app from closing the connection at each request's end.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield api_key_issue(tenant=demo, name="Fuzzer", scopes=list(Scope.values), actor=Actor.system("test"))[1]
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.mark.django_db
@schema.parametrize()
@settings(max_examples=20, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much])
def test_no_generated_request_is_a_server_error(case, partner_key):
    case.call_and_validate(headers={"Authorization": f"Bearer {partner_key}"}, checks=[not_a_server_error])
