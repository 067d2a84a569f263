"""Shared fixtures: the repository root, the example stacks, the pipeline's outputs, and the one
lab of example-city that every lab test shares (brought up once per test run)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ["example-city", "example-metro", "smoke-town"]


@pytest.fixture(autouse=True)
def _repo_cwd(monkeypatch):
    """Tests run from the repository root so diagnostics show paths as users see them."""
    monkeypatch.chdir(ROOT)


@pytest.fixture
def venv_path_env() -> dict[str, str]:
    """Environment with the running interpreter's bin first on PATH (ansible-*, govnet)."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(os.sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


CITY_STACK = "stacks/example-city.yaml"


@pytest.fixture(scope="session")
def city_lab():
    """example-city brought up once for the whole run, with its first ``govnet up`` (proc,
    summary); every lab test of the city shares it. ``test_down_leaves_nothing`` (marked
    ``lab_down``) runs after every other test and removes it; should it not run, the lab is
    removed here at the end."""
    from lab_support import govnet, last_run, require_lab

    require_lab()
    first = govnet("up", CITY_STACK)
    try:
        yield first, last_run("example-city")
    finally:
        govnet("down", CITY_STACK)


def pytest_collection_modifyitems(items):
    """Tests that remove a shared lab (``lab_down``) run last, after every test that uses it."""
    items.sort(key=lambda item: item.get_closest_marker("lab_down") is not None)
