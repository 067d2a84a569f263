"""Verify: run the testinfra suite (``tests/verify``) against the stack's running hosts.

The tests derive what to expect from the stack file (addresses, links, services), connect over
SSH with the stack's key and report per test; this module runs them in-process and counts.

Two phases: the read-only checks in parallel (pytest-xdist workers), then
the few checks marked ``serial`` one by one, because they change the lab for a moment (a county
link cut, a route forced through the egress) and would disturb the others. Every check reaches a
host through one SSH connection per host (a shared ControlPath), opened once for the whole run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from govnet.paths import Project

Say = Callable[[str], None]


@dataclass
class Verified:
    passed: int = 0
    failed: list[str] = field(default_factory=list)
    skipped: int = 0
    exit_code: int = 0

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.failed


class _Counter:
    def __init__(self, result: Verified, say: Say):
        self.result, self.say = result, say

    def pytest_collectreport(self, report):
        if report.failed:  # a broken check module, or an xdist worker that could not collect
            self.result.failed.append(f"collecting {report.nodeid or 'tests/verify'}")
            self.say(f"    ERROR collecting {report.nodeid or 'tests/verify'}: "
                     f"{str(report.longrepr).strip().splitlines()[-1:]}")

    def pytest_runtest_logreport(self, report):
        if report.when == "call" and report.passed:
            self.result.passed += 1
        elif report.failed:
            self.result.failed.append(report.nodeid.split("::", 1)[-1])
            line = str(report.longrepr).strip().splitlines()
            self.say(f"    FAILED {report.nodeid.split('::', 1)[-1]}: {line[-1] if line else ''}")
        elif report.skipped and report.when in ("setup", "call"):
            self.result.skipped += 1


def workers() -> int:
    """Parallel workers of the read-only phase: the checks wait on SSH round trips far more than
    they compute, so more workers than cores pay off (``GOVNET_VERIFY_WORKERS`` overrides)."""
    return max(0, int(os.environ.get("GOVNET_VERIFY_WORKERS", "6")))


def run(project: Project, platform: str, *, limit: str | None = None, keyword: str | None = None,
        say: Say = print) -> Verified:
    result = Verified()
    # the SSH master sockets: a short private folder of this run (a socket's path must stay under
    # 108 bytes, which a state folder deep in a temporary tree would not), removed afterwards
    control = Path(tempfile.mkdtemp(prefix="gv-ssh-"))
    env = {"GOVNET_VERIFY_STACK": str(project.stack_file.resolve()),
           "GOVNET_VERIFY_KEY": str(project.ssh_key()),
           "GOVNET_VERIFY_PLATFORM": platform,
           "GOVNET_VERIFY_KNOWN_HOSTS": str(project.state / "known_hosts"),
           # the run-time secrets (backup passphrases): a restore needs them, as in a real disaster
           "GOVNET_VERIFY_SECRETS": str(project.stack_state / "secrets"),
           "GOVNET_VERIFY_LIMIT": limit or "",
           "GOVNET_VERIFY_CONTROL_PATH": str(control / "%C")}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    # failures are printed one line each as they happen (see _Counter); pytest's own report only
    # adds its one-line summary
    args = [str(project.root / "tests" / "verify"), "-q", "--no-header", "--tb=no", "-rN",
            "-p", "no:cacheprovider", "-o", "addopts=", "--rootdir", str(project.root)]
    if keyword:
        args += ["-k", keyword]
    n = workers()
    parallel = [*args, "-m", "not serial"] + (["-n", str(n)] if n > 1 else [])
    try:
        codes = [int(pytest.main(parallel, plugins=[_Counter(result, say)])),
                 int(pytest.main([*args, "-m", "serial"], plugins=[_Counter(result, say)]))]
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        _close_connections(control)
        shutil.rmtree(control, ignore_errors=True)
    # a phase that selects nothing (a limit, -k) is not a failure; the caller judges an empty run
    bad = [c for c in codes if c not in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED)]
    result.exit_code = bad[0] if bad else (
        pytest.ExitCode.OK if pytest.ExitCode.OK in codes else pytest.ExitCode.NO_TESTS_COLLECTED)
    return result


def _close_connections(control) -> None:
    """End the run's SSH master connections rather than leave them waiting for ControlPersist."""
    for sock in control.glob("*"):
        if sock.is_socket():
            subprocess.run(["ssh", "-o", f"ControlPath={sock}", "-O", "exit", "govnet"],
                           capture_output=True, timeout=10, check=False)
