"""The main job for real: example-city brought up as a lab, configured, verified, re-run with no
change, limited to one county, and torn down leaving nothing behind.

Slow (minutes) and needs root: ``pytest -m 'not lab'`` skips this tier locally; CI always runs it.
"""

from __future__ import annotations

import pytest

from govnet.pipeline import compile_stack
from lab_support import ROOT, govnet, last_run, leftovers

pytestmark = pytest.mark.lab
STACK = "stacks/example-city.yaml"
LAB = "example-city"
HOSTS = len(compile_stack(STACK).design.hosts)  # 14: the data center, DR site, counties, …


@pytest.fixture
def city(city_lab):
    return city_lab


def test_up_provisions_configures_and_verifies(city):
    proc, summary = city
    assert proc.returncode == 0
    assert summary["ok"]
    assert summary["hosts"] == HOSTS
    assert summary["tests_passed"] > 0
    assert summary["tests_failed"] == 0


def test_up_reports_every_phase(city):
    proc, _ = city
    for phase in ("==> validate", "==> render", "==> provision", "==> configure", "==> verify"):
        assert phase in proc.stdout
    assert "create  host dc-core1" in proc.stdout


def test_second_up_changes_nothing(city):
    # the first up verified the hosts; this one is about idempotence (CI time: no second verify)
    proc = govnet("up", STACK, "--no-verify")
    summary = last_run(LAB)
    assert proc.returncode == 0
    assert summary["provisioned"].startswith("no changes")
    assert summary["changed"] == 0, f"changed on {summary['changed_hosts']}"
    assert len(summary["configured_hosts"]) == HOSTS


def test_check_mode_changes_nothing_and_reports_nothing_to_change(city):
    proc = govnet("up", STACK, "--check", "--limit", "county_wolong")
    assert proc.returncode == 0
    assert "check mode: nothing was changed" in proc.stdout
    assert "would change=0" in proc.stdout
    # the preview is targeted at the county: two hosts, nothing else counted or previewed
    assert "hosts: 2 (--limit county_wolong)" in proc.stdout
    assert "limited to " in proc.stdout


def test_limit_configures_one_county_only(city):
    proc = govnet("up", STACK, "--limit", "county_wolong")
    summary = last_run(LAB)
    assert proc.returncode == 0
    assert sorted(summary["configured_hosts"]) == ["wolong-edu-gw1", "wolong-gw1"]
    assert summary["hosts"] == 2 and summary["limit"] == "county_wolong"
    assert "--limit county_wolong: 2 host(s): wolong-gw1, wolong-edu-gw1" in proc.stdout
    # provisioning was targeted at the county (its uplink's far end is up, so its cable is too)
    # and the city is up: nothing to make
    assert "limited to " in proc.stdout and "not cabled" not in proc.stdout
    assert summary["provisioned"].startswith("no changes")
    # only the county's configs were rendered; the other hosts' files stay
    assert "  2 device configuration(s) in " in proc.stdout
    configs = ROOT / ".govnet" / "stacks" / LAB / "configs"
    assert (configs / "dc-core1" / "frr.conf").is_file()
    assert summary["ok"] and summary["tests_passed"] > 0 and summary["tests_failed"] == 0


def test_lab_status_lists_every_host_running(city):
    proc = govnet("lab", "status", STACK)
    assert proc.returncode == 0
    assert f"{HOSTS}/{HOSTS} hosts running" in proc.stdout


def test_the_machine_allows_inotify_for_every_container(city):
    """Each container's systemd holds inotify instances; the fabric raised the machine's limit
    (Linux's default of 128 left hosts unbooted once about 20 containers ran)."""
    from govnet.lab import fabric

    assert int(fabric.INOTIFY_SYSCTL.read_text()) >= fabric.INOTIFY_INSTANCES


def test_lab_shell_runs_inside_the_host(city):
    proc = govnet("lab", "shell", "--stack", STACK, "xixia-gw1", "hostname")
    assert proc.stdout.strip() == "xixia-gw1"


@pytest.mark.lab_down
def test_down_leaves_nothing(city):
    proc = govnet("down", STACK)
    assert proc.returncode == 0
    assert leftovers(LAB) == []
