"""Imports point one way: voice -> calls, bookings, tenants; api -> calls, bookings, tenants;
calls -> tenants; bookings -> tenants.

portal (the staff pages in the admin) -> calls, bookings, tenants.

Nothing imports voice; the conversation half of voice never imports the phone
half; speech and language providers import no models.
"""

import ast

import pytest

from tests import ROOT

APPS = ["tenants", "bookings", "calls", "voice", "api", "portal"]
# app -> the project apps it may not import
FORBIDDEN = {
    "tenants": {"bookings", "calls", "voice", "api", "portal"},
    "bookings": {"calls", "voice", "api", "portal"},
    "calls": {"bookings", "voice", "api", "portal"},
    "voice": {"api", "portal"},
    "api": {"voice", "portal"},
    "portal": {"voice", "api"},
}
PROVIDERS = ["voice/phone/stt", "voice/phone/tts", "voice/phone/vad", "voice/conversation/engines/claude/adapter.py"]


def imports_of(path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module)
    return modules


def python_files(relative: str):
    path = ROOT / relative
    return [path] if path.suffix == ".py" else sorted(path.rglob("*.py"))


@pytest.mark.parametrize("app", APPS)
def test_apps_import_only_downwards(app):
    wrong = {
        f"{path.relative_to(ROOT)} imports {module}"
        for path in python_files(app) if "migrations" not in path.parts
        for module in imports_of(path) if module.split(".")[0] in FORBIDDEN[app]
    }
    assert wrong == set()


def test_the_conversation_never_imports_the_phone_loop():
    wrong = {f"{p.relative_to(ROOT)} imports {m}" for p in python_files("voice/conversation")
             for m in imports_of(p) if m.startswith("voice.phone")}
    assert wrong == set()


def test_providers_import_no_models():
    wrong = {f"{p.relative_to(ROOT)} imports {m}" for relative in PROVIDERS for p in python_files(relative)
             for m in imports_of(p) if m.endswith(".models") or m.startswith(("django.db", "django.apps"))}
    assert wrong == set()
