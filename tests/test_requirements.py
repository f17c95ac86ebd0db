"""Every package the code imports is pinned where the install reads it, not reached through another package."""

import ast
import importlib.metadata
import re
import sys
from tests import ROOT

LOCAL = {"receptionist_site", "tenants", "bookings", "calls", "voice", "api", "portal", "tests", "benchmarks", "manage"}


# Installed with --no-deps on top of requirements.txt (see the Makefile), so it is part of every install.
NODEPS = "requirements-nodeps.txt"


def pinned(*files: str) -> set[str]:
    names = set()
    for name in (*files, NODEPS):
        for line in (ROOT / name).read_text().splitlines():
            match = re.match(r"^([A-Za-z0-9_.-]+)(\[[^]]*\])?==", line.strip())
            if match:
                names.add(normalize(match.group(1)))
    return names


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def imported_distributions(folders: list[str]) -> dict[str, str]:
    """distribution -> a file that imports it."""
    providers = importlib.metadata.packages_distributions()
    found = {}
    for folder in folders:
        for path in (ROOT / folder).rglob("*.py") if folder != "." else ROOT.glob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    modules = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules = [node.module]
                else:
                    continue
                for module in modules:
                    top = module.split(".")[0]
                    if top in sys.stdlib_module_names or top in LOCAL:
                        continue
                    for distribution in providers.get(top, [top]):
                        found.setdefault(normalize(distribution), str(path.relative_to(ROOT)))
    return found


def test_the_application_imports_only_what_requirements_pin():
    runtime = imported_distributions([".", "receptionist_site", "tenants", "bookings", "calls", "voice", "api", "benchmarks"])
    missing = {name: where for name, where in runtime.items() if name not in pinned("requirements.txt")}
    assert missing == {}


def test_the_tests_import_only_what_the_requirements_pin():
    used = imported_distributions(["tests"])
    missing = {name: where for name, where in used.items() if name not in pinned("requirements.txt", "requirements-dev.txt")}
    assert missing == {}
