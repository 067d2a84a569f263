"""Helpers for the lab tier: run the real CLI, read its last summary, check the machine is clean."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def require_lab() -> None:
    """Skip where the lab cannot run — except in CI, where that is a failure."""
    require_tools("systemd-nspawn", "debootstrap", "apt-cacher-ng")


def require_tools(*tools: str) -> None:
    """Skip without root or one of ``tools`` (scripts/setup installs them) — except in CI, where
    the lab tier must run, so that is a failure."""
    missing = [t for t in tools if not shutil.which(t)]
    reason = ("needs root" if os.geteuid() != 0 else
              f"needs {', '.join(missing)} (run scripts/setup)" if missing else "")
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"the lab tier must run in CI: {reason}")
        pytest.skip(reason)


def govnet(*args: str, env: dict | None = None, timeout: float = 1200,
           cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """The real CLI in a subprocess; its output is echoed so a failing test shows it."""
    full_env = {**os.environ, **(env or {})}
    full_env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{full_env.get('PATH', '')}"
    proc = subprocess.run([sys.executable, "-m", "govnet.cli", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout, check=False)
    print(f"$ govnet {' '.join(args)}  -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def last_run(stack: str, state: Path | None = None) -> dict:
    base = state or ROOT / ".govnet"
    return json.loads((base / "stacks" / stack / "last-run.json").read_text())


def leftovers(lab: str) -> list[str]:
    from govnet.lab import teardown

    return teardown.leftovers(lab)
