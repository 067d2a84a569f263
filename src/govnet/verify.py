"""Verify: run the testinfra suite (``tests/verify``) against the stack's running hosts.

The tests derive what to expect from the stack file (addresses, links, services), connect over
SSH with the stack's key and report per test; this module runs them in-process and counts.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from govnet.provision.engine import Project

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

    def pytest_runtest_logreport(self, report):
        if report.when == "call" and report.passed:
            self.result.passed += 1
        elif report.failed:
            self.result.failed.append(report.nodeid.split("::", 1)[-1])
            line = str(report.longrepr).strip().splitlines()
            self.say(f"    FAILED {report.nodeid.split('::', 1)[-1]}: {line[-1] if line else ''}")
        elif report.skipped and report.when in ("setup", "call"):
            self.result.skipped += 1


def run(project: Project, platform: str, *, limit: str | None = None, keyword: str | None = None,
        say: Say = print) -> Verified:
    result = Verified()
    env = {"GOVNET_VERIFY_STACK": str(project.stack_file.resolve()),
           "GOVNET_VERIFY_KEY": str(project.ssh_key()),
           "GOVNET_VERIFY_PLATFORM": platform,
           "GOVNET_VERIFY_KNOWN_HOSTS": str(project.state / "known_hosts"),
           # the run-time secrets (backup passphrases): a restore needs them, as in a real disaster
           "GOVNET_VERIFY_SECRETS": str(project.stack_state / "secrets"),
           "GOVNET_VERIFY_LIMIT": limit or ""}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    # failures are printed one line each as they happen (see _Counter); pytest's own report only
    # adds its one-line summary
    args = [str(project.root / "tests" / "verify"), "-q", "--no-header", "--tb=no", "-rN",
            "-p", "no:cacheprovider", "-o", "addopts=", "--rootdir", str(project.root)]
    if keyword:
        args += ["-k", keyword]
    try:
        result.exit_code = int(pytest.main(args, plugins=[_Counter(result, say)]))
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return result
