"""Shared fixtures: the repository root, the example stacks, the pipeline's outputs."""

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
