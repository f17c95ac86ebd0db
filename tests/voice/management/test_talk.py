"""Every caller scenario, played against `manage.py talk` with the rules engine.

public.json is the shared set; more.json is this project's own, in the same format.
"""

import io
import json

import pytest
from django.core.management import call_command
from django.db import connection

from tests.voice.management.scenario_runner import failures, play, subprocess_env
from tests import ROOT

HERE = ROOT / "tests" / "scenarios"
CASES = [
    (scenario, data["default_replies"])
    for name in ["public.json", "more.json"]
    for data in [json.loads((HERE / name).read_text())]
    for scenario in data["scenarios"]
]


@pytest.fixture
def database_url(transactional_db):
    """The test database, for the `talk` subprocess to share."""
    s = connection.settings_dict
    return f"postgres://{s['USER']}@{s['HOST']}:{s['PORT']}/{s['NAME']}"


@pytest.mark.parametrize("scenario,defaults", CASES, ids=[c[0]["id"] for c in CASES])
def test_scenario(scenario, defaults, database_url):
    call_command("seed_demo", "--reset", stdout=io.StringIO())
    transcript = play(scenario, defaults, env=subprocess_env(database_url))
    problems = failures(scenario["expect"], transcript)
    assert not problems, "\n".join([*problems, "", *transcript.lines])
