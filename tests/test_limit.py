"""--limit: checked against the stack before anything runs, resolved to the hosts a run touches;
a limited run renders and provisions those hosts only and counts them in its summary; a verify
that ran no check fails.

No lab: the Pulumi engine runs previews only (nothing is created), on a copy of the project in
tmp_path with its own state and passphrase. The lab tier (tests/test_lab.py) runs a limited
``govnet up`` for real.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from govnet import render
from govnet.diagnostics import StackError
from govnet.job import Summary, select_hosts, verify_problem
from govnet.pipeline import LockMode, compile_stack
from govnet.provision import engine, program
from govnet.verify import Verified
from lab_support import govnet

ROOT = Path(__file__).resolve().parents[1]
CITY = "stacks/example-city.yaml"
WOLONG = ["wolong-gw1", "wolong-edu-gw1"]


@pytest.fixture(scope="module")
def city():
    return compile_stack(ROOT / CITY, LockMode.FROZEN)


# --- the limit is checked before anything runs -------------------------------------------------

@pytest.mark.parametrize("command", [["up"], ["up", "--check"], ["verify"], ["compliance"]],
                         ids=" ".join)
def test_mistyped_limit_stops_before_anything_runs(command, tmp_path):
    state = tmp_path / "state"
    proc = govnet(command[0], CITY, *command[1:], "--limit", "county_wolng",
                  env={"GOVNET_STATE_DIR": str(state)})
    assert proc.returncode == 2
    assert "--limit 'county_wolng' is neither a host nor a group of example-city" in proc.stderr
    assert "did you mean 'county_wolong'?" in proc.stderr
    assert "Traceback" not in proc.stderr and "\x1b[" not in proc.stderr + proc.stdout
    for phase in ("==> render", "==> provision", "==> configure", "==> verify"):
        assert phase not in proc.stdout
    # no Pulumi state, no SSH key, no Ansible run: at most the record of the refused run
    made = sorted(p.name for p in state.rglob("*") if p.is_file()) if state.exists() else []
    assert set(made) <= {"last-run.json", "last-check.json"}
    assert not (state / "pulumi").exists()


def test_every_unknown_name_of_a_list_is_reported(city):
    with pytest.raises(StackError) as err:
        select_hosts(city, "county_wolong,dc-core,nosuchthing")
    bad = {d.message.split("'")[1]: d.hint for d in err.value.diagnostics}
    assert set(bad) == {"dc-core", "nosuchthing"}
    assert bad["dc-core"] == "did you mean 'dc-core1'?"
    assert "comma-separated host and group names" in bad["nosuchthing"]


def test_host_patterns_are_refused_not_half_followed(city):
    with pytest.raises(StackError) as err:
        select_hosts(city, "county_wolong:!wolong-edu-gw1")
    assert "host patterns with '!:' are not supported" in str(err.value)


def test_a_limit_of_only_commas_is_refused(city):
    with pytest.raises(StackError, match="names no host or group"):
        select_hosts(city, " , ")


def test_a_limit_resolves_hosts_and_groups(city):
    sel = select_hosts(city, " county_wolong , dc-core1,")
    assert sel.limit == "county_wolong,dc-core1"  # what Ansible and the checks get
    assert sel.hosts == ["dc-core1", *WOLONG]
    assert select_hosts(city, "county_wolong").hosts == WOLONG
    for every in (None, "", "all", "county_wolong,all"):
        assert select_hosts(city, every) == select_hosts(city, None)
        assert select_hosts(city, every).limit is None
    assert len(select_hosts(city, None).hosts) == len(city.design.hosts)


# --- a verify that ran no check fails ----------------------------------------------------------

def test_verify_with_no_check_fails():
    assert verify_problem(Verified(passed=0, exit_code=5), "county_wolong") == (
        "verification ran no check on county_wolong (0 passed): nothing was verified")
    assert "0 passed, 3 skipped" in verify_problem(Verified(passed=0, skipped=3), None)
    assert verify_problem(Verified(passed=5, failed=["test_x"], exit_code=1)) == (
        "verification failed: 1 test(s)")
    assert verify_problem(Verified(passed=5, exit_code=2)) == "verification failed (pytest exit 2)"
    assert verify_problem(Verified(passed=5, skipped=2)) == ""


def test_the_real_suite_selecting_no_check_is_judged_a_failure(tmp_path):
    """The verify suite itself (tests/verify), with a selection that leaves no check: no host is
    contacted, and the result is a failure."""
    code = ("import sys; from pathlib import Path; from govnet import verify; "
            "from govnet.job import verify_problem; from govnet.provision.engine import Project; "
            f"v = verify.run(Project(Path({str(ROOT / CITY)!r})), 'lab', limit='county_wolong', "
            "keyword='no_check_is_named_like_this', say=print); "
            "print('PROBLEM:', verify_problem(v, 'county_wolong')); print('PASSED:', v.passed)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "GOVNET_STATE_DIR": str(tmp_path / "state")},
                          timeout=300, check=False)
    print(proc.stdout, proc.stderr)
    assert "PASSED: 0" in proc.stdout
    assert "PROBLEM: verification ran no check on county_wolong" in proc.stdout


# --- what a limited run touches ----------------------------------------------------------------

def test_summary_counts_the_hosts_the_run_touched():
    s = Summary("example-city", "lab", hosts=2, limit="county_wolong")
    assert "  hosts: 2 (--limit county_wolong); provisioned: -" in s.lines()
    # phases that did not run claim nothing
    assert "  configured: not run" in s.lines() and "  verified: not run" in s.lines()


def test_render_of_a_limited_run_keeps_the_other_hosts_files(city, tmp_path):
    mgmt = city.vs.stack.address_plan.management
    files = render.render(city.design, management_supernet=mgmt, hosts=set(WOLONG))
    assert sorted(files) == ["wolong-edu-gw1/frr.conf", "wolong-gw1/frr.conf"]
    (tmp_path / "dc-core1").mkdir()
    (tmp_path / "dc-core1" / "frr.conf").write_text("another host's config\n")
    (tmp_path / "wolong-gw1").mkdir()
    (tmp_path / "wolong-gw1" / "swanctl.conf").write_text("stale\n")
    changed = render.write(files, tmp_path, hosts=set(WOLONG))
    assert (tmp_path / "dc-core1" / "frr.conf").read_text() == "another host's config\n"
    assert not (tmp_path / "wolong-gw1" / "swanctl.conf").exists()
    assert "wolong-gw1/swanctl.conf" in changed


def _targets(compiled, hosts, platform="lab", existing=()):
    return program.targets(compiled, platform, hosts, stack="example-city", project="govnet",
                           existing=existing)


def test_targets_are_the_county_and_the_shared_pieces_it_needs(city):
    t = _targets(city, WOLONG)
    names = {u.rsplit("::", 1)[1] for u in t.urns}
    assert names == {"example-city", "fabric", "wolong", "wolong.mgmt-gateway", "wolong-edu",
                     "wolong-edu.mgmt-gateway", *WOLONG, "wolong-gw1.lan0",
                     "wolong-edu-gw1.lan0", "dc.core1~wolong.gw1", "wolong-backup",
                     "wolong.gw1~wolong-edu.gw1"}
    others = set(city.design.hosts) - set(WOLONG)
    assert not [u for u in t.urns if any(h in u.rsplit("::", 1)[1] for h in others)]
    # the uplink's far end was never provisioned: its cable is left out (and said so)
    assert t.skipped == [("dc.core1~wolong.gw1", "dc-core1"), ("wolong-backup", "dc-core1")]
    assert not [u for u in t.urns if u.endswith("LabCable::dc.core1~wolong.gw1")]


def test_targets_cable_the_uplink_when_the_far_end_is_up(city):
    everything = _targets(city, list(city.design.hosts))
    t = _targets(city, WOLONG, existing=set(everything.urns))
    assert t.skipped == []
    assert [u for u in t.urns if u.endswith("LabCable::dc.core1~wolong.gw1")]
    assert not [u for u in t.urns if u.endswith("LabHost::dc-core1")]


def test_targets_on_ssh_create_nothing_of_the_lab(city):
    t = _targets(city, ["xixia-gw1"], platform="ssh")
    assert t.urns and not [u for u in t.urns if ":Lab" in u]
    assert [u for u in t.urns if u.endswith("WireGuardKeys::dc.fw1~xixia.gw1.keys")]


# --- the real Pulumi engine (previews only) ----------------------------------------------------

def _require_pulumi() -> None:
    if engine.pulumi_bin(ROOT) is None:
        if os.environ.get("CI"):
            pytest.fail("the Pulumi CLI must be installed in CI (scripts/setup)")
        pytest.skip("needs the Pulumi CLI (scripts/setup)")


def _project_copy(tmp_path: Path, name: str) -> Path:
    """A project folder of its own: the Pulumi program, one stack, a fresh passphrase."""
    (tmp_path / "stacks").mkdir()
    for f in ("Pulumi.yaml", "__main__.py", f"{name}.yaml", f"{name}.lock"):
        shutil.copy(ROOT / "stacks" / f, tmp_path / "stacks" / f)
    for f in ("playbooks", "roles", "ansible.cfg", "plugins", "tests"):
        (tmp_path / f).symlink_to(ROOT / f)
    return tmp_path / "stacks" / f"{name}.yaml"


def test_targets_name_what_the_program_declares(tmp_path, monkeypatch):
    """The engine previews the lab program: the URNs computed for every host are exactly the
    resources it declares, and a preview targeted at one county creates that county only."""
    _require_pulumi()
    monkeypatch.setenv("GOVNET_STATE_DIR", str(tmp_path / "state"))
    path = _project_copy(tmp_path, "smoke-town")
    compiled = compile_stack(path, LockMode.FROZEN)
    st = engine.stack(engine.Project(path), {"govnet:platform": "lab", "govnet:base": "/nonexistent",
                                             "govnet:sshPublicKey": "ssh-ed25519 AAAA test"})
    seen: list[tuple[str, str]] = []

    def record(ev):
        if ev.resource_pre_event:
            md = ev.resource_pre_event.metadata
            seen.append((md.op.value if hasattr(md.op, "value") else str(md.op), md.urn))

    st.preview(on_event=record, diff=False)
    declared = {u for _, u in seen if not u.split("::")[2].startswith("pulumi:")}
    project = st.workspace.project_settings().name
    every = program.targets(compiled, "lab", compiled.design.hosts, stack=st.name, project=project)
    assert set(every.urns) == declared

    seen.clear()
    north = program.targets(compiled, "lab", ["north-gw1"], stack=st.name, project=project)
    st.preview(on_event=record, diff=False, target=north.urns)
    created = {u for op, u in seen if op == "create" and not u.split("::")[2].startswith("pulumi:")}
    assert created == set(north.urns)
    assert {u.rsplit("::", 1)[1] for u in created} == {
        "smoke-town", "fabric", "north", "north.mgmt-gateway", "north-gw1", "north-gw1.lan0",
        "dc.core1~north.gw1"}  # the link component; its cable waits for dc-core1


def test_limited_check_run_renders_previews_and_counts_the_county_only(tmp_path):
    """``govnet up --check --limit county_wolong`` end to end on the ssh platform (a preview:
    nothing is contacted or created): two hosts in the summary, their configs only, and the
    preview creates nothing of any other host."""
    _require_pulumi()
    path = _project_copy(tmp_path, "example-city")
    state = tmp_path / "state"
    other = state / "stacks" / "example-city" / "configs" / "dc-core1" / "frr.conf"
    other.parent.mkdir(parents=True)
    other.write_text("rendered by an earlier, unlimited run\n")
    proc = govnet("up", str(path), "--platform", "ssh", "--check", "--limit", "county_wolong",
                  env={"GOVNET_STATE_DIR": str(state)}, cwd=tmp_path)
    assert proc.returncode == 0
    summary = json.loads((state / "stacks" / "example-city" / "last-check.json").read_text())
    assert summary["hosts"] == 2
    assert summary["limit"] == "county_wolong"
    assert "hosts: 2 (--limit county_wolong)" in proc.stdout
    assert "--limit county_wolong: 2 host(s): wolong-gw1, wolong-edu-gw1" in proc.stdout
    creates = sorted(line.split()[-1] for line in proc.stdout.splitlines()
                     if line.strip().startswith("+ create"))
    assert creates == sorted(WOLONG)
    configs = state / "stacks" / "example-city" / "configs"
    assert sorted(p.name for p in configs.iterdir()) == ["dc-core1", *sorted(WOLONG)]
    assert other.read_text() == "rendered by an earlier, unlimited run\n"
