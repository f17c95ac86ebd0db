import pytest
from rest_framework.test import APIClient

from api.models import Scope
from api.services import api_key_issue
from tenants.services import Actor


@pytest.fixture
def issue_key():
    """A partner's key to `tenant` with `scopes` (all by default): an API client sending it."""

    def issue(tenant, scopes=None, name="Booking site"):
        _key, raw = api_key_issue(tenant=tenant, name=name, scopes=list(Scope.values) if scopes is None else scopes,
                                  actor=Actor.system("test"))
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        return client

    return issue
