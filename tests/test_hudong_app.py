"""政民互动 (apps/hudong): the application's own Django tests, and Django's deployment check with
the settings the hudong role gives it, run with the Django of the venv (pinned to Debian 12's
3.2 series in pyproject.toml)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parent.parent / "apps" / "hudong"

pytest.importorskip("django", reason="Django comes with the dev extras (bash scripts/setup)")


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    full = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "HUDONG_DB_ENGINE": "sqlite", **env}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=APP, env=full,
                          capture_output=True, text=True, timeout=300, check=False)


def test_the_application_s_own_tests_pass():
    r = _manage("test", "liuyan", "--noinput")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "OK" in r.stderr


def test_the_migrations_match_the_models():
    r = _manage("makemigrations", "--check", "--dry-run", "liuyan")
    assert r.returncode == 0, r.stdout + r.stderr


def test_deployment_check_passes_with_the_role_s_settings(tmp_path):
    key = tmp_path / "secret-key"
    key.write_text(os.urandom(32).hex())
    r = _manage("check", "--deploy", "--fail-level", "WARNING",
                HUDONG_SECRET_KEY_FILE=str(key), HUDONG_BEHIND_PROXY="1",
                HUDONG_ALLOWED_HOSTS="www.example.gov.cn", HUDONG_STAFF_NETWORKS="198.18.64.0/18")
    assert r.returncode == 0, r.stdout + r.stderr


def test_deployment_check_fails_without_secure_cookies(tmp_path):
    """The check above can fail: off the proxy (cookies not Secure) it does."""
    key = tmp_path / "secret-key"
    key.write_text(os.urandom(32).hex())
    r = _manage("check", "--deploy", "--fail-level", "WARNING", HUDONG_SECRET_KEY_FILE=str(key),
                HUDONG_ALLOWED_HOSTS="www.example.gov.cn")
    assert r.returncode != 0
