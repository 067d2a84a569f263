"""Faults and the real Pulumi engine on the smallest lab (smoke-town, 6 hosts): an invalid stack
never reaches Pulumi, a host that does not boot fails `up` with its console while the others stay
up, Ctrl-C in the middle of `up` is cleaned by `down`, and a preview of an added county only adds.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import yaml

from lab_support import ROOT, govnet, last_run, leftovers, require_lab

pytestmark = pytest.mark.lab
STACK = "stacks/smoke-town.yaml"
LAB = "smoke-town"


@pytest.fixture
def clean_lab():
    require_lab()
    govnet("down", STACK)
    yield
    assert govnet("down", STACK).returncode == 0
    assert leftovers(LAB) == []


def _project_copy(tmp_path, stack_text: str | None = None):
    """A project folder with the Pulumi program and (a variant of) smoke-town."""
    (tmp_path / "stacks").mkdir()
    for name in ("Pulumi.yaml", "__main__.py", "smoke-town.lock"):
        shutil.copy(ROOT / "stacks" / name, tmp_path / "stacks" / name)
    text = stack_text or (ROOT / STACK).read_text(encoding="utf-8")
    (tmp_path / "stacks" / "smoke-town.yaml").write_text(text, encoding="utf-8")
    for name in ("playbooks", "roles", "ansible.cfg", "plugins", "tests"):
        (tmp_path / name).symlink_to(ROOT / name)
    return tmp_path / "stacks" / "smoke-town.yaml"


def test_invalid_stack_never_reaches_pulumi(tmp_path):
    text = (ROOT / STACK).read_text(encoding="utf-8").replace("medium: fiber}", "medium: fibre}", 1)
    stack = _project_copy(tmp_path, text)
    state = tmp_path / "state"
    proc = govnet("up", str(stack), env={"GOVNET_STATE_DIR": str(state)}, cwd=tmp_path)
    assert proc.returncode == 2
    assert "smoke-town.yaml:" in proc.stderr and "fibre" in proc.stderr
    assert not (state / "pulumi").exists()


def test_host_that_does_not_boot_fails_up_and_others_stay(clean_lab):
    proc = govnet("up", STACK, "--provision-only",
                  env={"GOVNET_LAB_FAULT_BOOT": "north-gw1", "GOVNET_BOOT_TIMEOUT": "25"})
    assert proc.returncode == 1
    assert "host north-gw1 did not boot" in proc.stderr
    assert "end of its console" in proc.stderr
    status = govnet("lab", "status", STACK, "--format", "json")
    running = {h["name"] for h in yaml.safe_load(status.stdout) if h["running"]}
    assert running == {"dc-core1", "dc-fw1", "dc-infra1", "dc-infra2", "east-gw1"}


def test_ctrl_c_during_up_then_down_cleans_everything(clean_lab):
    env = {**os.environ, "PATH": f"{os.path.dirname(sys.executable)}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.Popen([sys.executable, "-m", "govnet.cli", "up", STACK], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    from govnet.lab import layout

    hosts_dir = layout.lab_dir(LAB) / "hosts"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (hosts_dir.is_dir() and any(hosts_dir.iterdir())):
        time.sleep(0.2)
    assert hosts_dir.is_dir(), "up never started a host"
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    out, _ = proc.communicate(timeout=120)
    print(out)
    assert proc.returncode != 0
    down = govnet("down", STACK)
    assert down.returncode == 0
    assert leftovers(LAB) == []


def test_preview_of_an_added_county_only_creates(clean_lab, tmp_path):
    assert govnet("up", STACK, "--provision-only").returncode == 0
    stack = yaml.safe_load((ROOT / STACK).read_text(encoding="utf-8"))
    stack["sites"].append({"name": "west", "kind": "county", "subnets": {"extranet": None},
                           "devices": [{"name": "gw1", "role": "router"}]})
    stack["links"].append({"a": "dc.core1", "b": "west.gw1", "medium": "fiber"})
    copy = _project_copy(tmp_path, yaml.safe_dump(stack, allow_unicode=True))
    # the stack's settings hold the salt of its secrets' passphrase: both go with the project
    shutil.copy(ROOT / "stacks" / "Pulumi.smoke-town.yaml", copy.parent)
    (tmp_path / ".govnet").mkdir(mode=0o700)
    shutil.copy(ROOT / ".govnet" / "pulumi-passphrase", tmp_path / ".govnet")
    assert govnet("plan", str(copy), cwd=tmp_path).returncode == 0
    proc = govnet("preview", str(copy), env={"GOVNET_STATE_DIR": str(ROOT / ".govnet")},
                  cwd=tmp_path)
    assert proc.returncode == 0
    created = sorted(line.split()[-1] for line in proc.stdout.splitlines()
                     if line.strip().startswith("+ create"))
    assert created == ["dc.core1~west.gw1", "west-gw1", "west-gw1.lan0", "west.mgmt-gateway"]
    totals = proc.stdout.split("preview:")[-1]
    assert "create" in totals
    for verb in ("update", "replace", "delete"):
        assert verb not in totals


def test_same_playbooks_serve_existing_hosts_over_ssh(clean_lab, tmp_path):
    """The ssh platform: the running lab hosts stand in for real machines. A separate Pulumi state
    records them (nothing is created), and the same playbooks and checks run over plain SSH."""
    assert govnet("up", STACK, "--provision-only").returncode == 0
    key = ROOT / ".govnet" / "stacks" / LAB / "ssh" / "id_ed25519"
    env = {"GOVNET_STATE_DIR": str(tmp_path / "state"), "GOVNET_SSH_KEY": str(key)}
    proc = govnet("up", STACK, "--platform", "ssh", env=env)
    assert proc.returncode == 0
    assert "create  ssh host dc-core1" in proc.stdout
    summary = last_run(LAB, tmp_path / "state")
    # the hosts were only provisioned: the ssh platform configures every one of them from scratch
    assert summary["failed_hosts"] == []
    assert sorted(summary["changed_hosts"]) == sorted(summary["configured_hosts"])
    assert len(summary["configured_hosts"]) == 6
    assert summary["tests_failed"] == 0 and summary["tests_passed"] > 0


def test_up_recreates_a_host_that_died(clean_lab):
    """Pulumi refreshes lab resources first: a host gone from the machine (crash, reboot) and its
    cables come back with the next up; nothing else is touched."""
    assert govnet("up", STACK, "--provision-only").returncode == 0
    from govnet.lab import hosts

    hosts.stop(LAB, "north-gw1")
    proc = govnet("up", STACK, "--provision-only")
    assert proc.returncode == 0
    assert "create  host north-gw1" in proc.stdout
    assert "create  cable dc.core1~north.gw1" in proc.stdout
    assert "create  host dc-core1" not in proc.stdout
    assert all(h["running"] for h in hosts.status(LAB))
