"""govnet deploy and drift for real, on the smallest lab (smoke-town's four FRR routers and
firewalls and its two servers): a good change is confirmed, a change that cuts the controller off is
rolled back by the device itself within its timer, a device cut off in the middle of a deploy
fails alone and a re-run completes it, and drift finds out-of-band changes that `govnet up` then
repairs. The lab is brought up by the module's fixture (its own state folder) and removed after.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lab_support import ROOT, govnet, leftovers, require_lab

pytestmark = pytest.mark.lab
STACK = "stacks/smoke-town.yaml"
LAB = "smoke-town"
TIMEOUT = "20"  # the devices' revert timer in these tests (seconds)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """smoke-town up (without the testinfra phase) in a state folder of its own; removed after."""
    require_lab()
    state = tmp_path_factory.mktemp("deploy-state")
    env = {"GOVNET_STATE_DIR": str(state)}
    govnet("down", STACK, env=env)
    assert govnet("up", STACK, "--no-verify", env=env).returncode == 0
    try:
        yield env
    finally:
        assert govnet("down", STACK, env=env).returncode == 0
        assert leftovers(LAB) == []


def _ssh(env: dict, address: str, command: str) -> subprocess.CompletedProcess:
    key = Path(env["GOVNET_STATE_DIR"]) / "stacks" / LAB / "ssh" / "id_ed25519"
    return subprocess.run(["ssh", "-i", str(key), "-o", "StrictHostKeyChecking=no", "-o",
                           "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=5",
                           "-o", "BatchMode=yes", f"root@{address}", command],
                          capture_output=True, text=True, timeout=60, check=False)


def _address(host: str) -> str:
    from govnet.pipeline import LockMode, compile_stack

    design = compile_stack(ROOT / STACK, LockMode.READ).design
    return design.hosts[host].management.address.split("/")[0]


def _running(env: dict, host: str) -> str:
    proc = _ssh(env, _address(host), "vtysh -c 'show running-config'")
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _cost_stack(tmp_path: Path, cost: int) -> Path:
    """A copy of smoke-town whose dc-core1 — north-gw1 link has another OSPF cost."""
    (tmp_path / "stacks").mkdir(exist_ok=True)
    shutil.copy(ROOT / "stacks" / "smoke-town.lock", tmp_path / "stacks")
    text = (ROOT / STACK).read_text(encoding="utf-8")
    old = "{a: dc.core1, b: north.gw1, medium: fiber}"
    assert old in text
    stack = tmp_path / "stacks" / "smoke-town.yaml"
    stack.write_text(text.replace(old, f"{{a: dc.core1, b: north.gw1, medium: fiber, cost: {cost}}}"))
    return stack


def test_good_change_is_applied_and_confirmed(lab, tmp_path):
    assert govnet("deploy", STACK, "--check", env=lab).returncode == 0
    changed = _cost_stack(tmp_path, 20)
    check = govnet("deploy", str(changed), "--check", env=lab)
    assert check.returncode == 2 and "+ ip ospf cost 20" in check.stdout
    proc = govnet("deploy", str(changed), "--confirm-timeout", TIMEOUT, env=lab)
    assert proc.returncode == 0
    assert "changed 2, in-step 2" in proc.stdout
    assert " ip ospf cost 20" in _running(lab, "north-gw1")
    time.sleep(int(TIMEOUT) + 3)  # the confirmed change outlives the timer, also on disk
    assert " ip ospf cost 20" in _running(lab, "north-gw1")
    boot = _ssh(lab, _address("north-gw1"), "cat /etc/frr/frr.conf").stdout
    assert " ip ospf cost 20" in boot and boot.startswith("!\n! Ansible managed\n!\n")
    backups = Path(lab["GOVNET_STATE_DIR"]) / "stacks" / LAB / "backups" / "north-gw1"
    assert backups.stat().st_mode & 0o777 == 0o700
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in backups.iterdir())
    assert govnet("deploy", STACK, "--confirm-timeout", TIMEOUT, env=lab).returncode == 0


def _controller_source(address: str) -> str:
    """The address the controller's packets to ``address`` come from (its management bridge)."""
    out = subprocess.run(["ip", "-o", "route", "get", address], capture_output=True, text=True,
                         check=True).stdout
    return re.search(r" src (\S+)", out).group(1)


def test_change_that_cuts_the_controller_off_is_rolled_back_by_the_device(lab, tmp_path):
    state_configs = Path(lab["GOVNET_STATE_DIR"]) / "stacks" / LAB / "configs"
    configs = tmp_path / "configs"
    shutil.copytree(state_configs, configs)
    addr = _address("north-gw1")
    conf = configs / "north-gw1" / "frr.conf"
    # replies to the controller go nowhere: FRR installs this route in the kernel
    conf.write_text(conf.read_text().replace("\nrouter ospf", f"\nip route {_controller_source(addr)}/32 "
                                                               "Null0\n!\nrouter ospf", 1))
    start = time.monotonic()
    proc = govnet("deploy", STACK, "--configs", str(configs), "--limit", "north-gw1",
                  "--confirm-timeout", TIMEOUT, env=lab)
    took = time.monotonic() - start
    assert proc.returncode == 1
    assert "rolled-back" in proc.stdout and "running its previous configuration" in proc.stdout
    assert int(TIMEOUT) <= took < int(TIMEOUT) + 60
    running = _running(lab, "north-gw1")  # reachable again …
    assert "Null0" not in running  # … and the route that cut it is gone
    assert "Null0" not in _ssh(lab, addr, "cat /etc/frr/frr.conf").stdout
    assert govnet("deploy", STACK, "--check", env=lab).returncode == 0


def _cut(host: str, source: str, on: bool) -> None:
    """Make ``host`` drop its replies to the controller (a blackhole route in its own network
    namespace, outside FRR), or stop."""
    ns = f"govnet.{LAB}.{host}"
    subprocess.run(["ip", "netns", "exec", ns, "ip", "route", "add" if on else "del", "blackhole",
                    f"{source}/32"], check=True)


def _new_files(folder: Path, before: set[Path]) -> set[Path]:
    return set(folder.iterdir()) - before if folder.is_dir() else set()


def test_device_cut_off_mid_deploy_fails_alone_and_a_rerun_completes_it(lab, tmp_path):
    changed = _cost_stack(tmp_path, 30)
    backups = Path(lab["GOVNET_STATE_DIR"]) / "stacks" / LAB / "backups" / "north-gw1"
    before = set(backups.iterdir()) if backups.is_dir() else set()
    env = {**lab, "GOVNET_DEPLOY_HOLD": "north-gw1:4"}  # a pause after its backup, to cut it there
    cmd = [sys.executable, "-m", "govnet.cli", "deploy", str(changed), "--confirm-timeout", TIMEOUT]
    full_env = {**os.environ, **env, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    source = _controller_source(_address("north-gw1"))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not _new_files(backups, before):
        time.sleep(0.1)
    _cut("north-gw1", source, True)
    try:
        out, _ = proc.communicate(timeout=300)
    finally:
        _cut("north-gw1", source, False)
    print(out)
    assert proc.returncode == 1
    assert re.search(r"north-gw1\s+failed", out)
    assert re.search(r"dc-core1\s+changed", out)
    assert " ip ospf cost 10" in _running(lab, "north-gw1")  # nothing changed there
    rerun = govnet("deploy", str(changed), "--confirm-timeout", TIMEOUT, env=lab)
    assert rerun.returncode == 0
    assert re.search(r"north-gw1\s+changed", rerun.stdout) and re.search(r"dc-core1\s+in-step", rerun.stdout)
    assert govnet("deploy", STACK, "--confirm-timeout", TIMEOUT, env=lab).returncode == 0


def test_drift_finds_out_of_band_changes_and_up_repairs_them(lab):
    assert govnet("drift", STACK, env=lab).returncode == 0
    router = _ssh(lab, _address("north-gw1"),
                  "vtysh -c 'conf t' -c 'interface lan0' -c 'description changed by hand'")
    server = _ssh(lab, _address("dc-infra1"), "echo 'changed by hand' >> /etc/issue.net")
    assert router.returncode == 0 and server.returncode == 0
    drift = govnet("drift", STACK, "--format", "json", env=lab)
    assert drift.returncode == 2
    report = {(h["host"], h["kind"]): h for h in json.loads(drift.stdout)["hosts"]}
    assert report["north-gw1", "network"]["status"] == "differs"
    assert "+ description intranet LAN of north" in report["north-gw1", "network"]["diff"]
    assert report["dc-infra1", "linux"]["status"] == "differs"
    assert any("changed by hand" in line for line in report["dc-infra1", "linux"]["diff"])
    assert report["dc-core1", "network"]["status"] == "in-step"
    assert govnet("up", STACK, "--no-verify", env=lab).returncode == 0
    assert govnet("drift", STACK, env=lab).returncode == 0
