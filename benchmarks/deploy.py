"""Deploy timings on a real lab: a deploy with nothing to change across the lab's routers and
firewalls, and the time until a device has rolled back a change that cut the controller off.

    GOVNET_STATE_DIR=/tmp/gv-bench python benchmarks/deploy.py [--stack stacks/smoke-town.yaml]
        [--host north-gw1] [--confirm-timeout 20] [--keep]

It brings the stack up (without the testinfra phase) unless it already runs, and takes it down
again at the end unless --keep. Only smoke-town is meant here (its own lab, its own state folder).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def govnet(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "govnet.cli", *args], cwd=ROOT, capture_output=True,
                          text=True, check=False)


def timed(*args: str) -> tuple[float, subprocess.CompletedProcess]:
    t = time.monotonic()
    proc = govnet(*args)
    return time.monotonic() - t, proc


def _tail(proc: subprocess.CompletedProcess) -> str:
    return f"{proc.stdout[-2000:]}{proc.stderr[-2000:]}"


def measure(args, design, project) -> list[str]:
    """Print the figures; return what went wrong (a figure of a run that failed is no figure)."""
    failures: list[str] = []
    network = [h for h, v in design.hosts.items() if v.role in ("router", "firewall")]
    timed("deploy", args.stack)  # the first run may still have something to do
    t, proc = timed("deploy", args.stack)
    last = (proc.stdout.strip().splitlines() or ["no output"])[-1]
    print(f"deploy with nothing to change, {len(network)} devices: {t:.1f} s, exit {proc.returncode} "
          f"({last})")
    if proc.returncode or last != f"summary of deploy: in-step {len(network)}":
        failures.append(f"the no-change deploy was not all in step:\n{_tail(proc)}")
    t, proc = timed("deploy", args.stack, "--check")
    print(f"deploy --check, {len(network)} devices: {t:.1f} s, exit {proc.returncode}")
    if proc.returncode:
        failures.append(f"deploy --check exited {proc.returncode}:\n{_tail(proc)}")
    addr = design.hosts[args.host].management.address.split("/")[0]
    src = re.search(r" src (\S+)", subprocess.run(["ip", "-o", "route", "get", addr], capture_output=True,
                                                   text=True, check=True).stdout).group(1)
    with tempfile.TemporaryDirectory() as tmp:
        configs = Path(tmp) / "configs"
        shutil.copytree(project.configs, configs)
        conf = configs / args.host / "frr.conf"
        cut = f"\nip route {src}/32 Null0\n!\nrouter ospf"
        conf.write_text(conf.read_text().replace("\nrouter ospf", cut, 1))
        t, proc = timed("deploy", args.stack, "--configs", str(configs), "--limit", args.host,
                        "--confirm-timeout", args.confirm_timeout)
    rolled = "rolled-back" in proc.stdout and "running its previous configuration" in proc.stdout
    print(f"cutting change on {args.host}, timer {args.confirm_timeout} s: "
          f"{'rolled back' if rolled else 'NOT rolled back'} and reachable again after {t:.1f} s, "
          f"exit {proc.returncode}")
    if not rolled:
        failures.append(f"the cutting change was not rolled back:\n{_tail(proc)}")
    t, proc = timed("deploy", args.stack, "--check", "--limit", args.host)
    print(f"after the rollback, deploy --check of {args.host}: {t:.1f} s, exit {proc.returncode}")
    if proc.returncode:
        failures.append(f"{args.host} is not back in step after its rollback:\n{_tail(proc)}")
    return failures


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stack", default="stacks/smoke-town.yaml")
    ap.add_argument("--host", default="north-gw1", help="the device that gets the cutting change")
    ap.add_argument("--confirm-timeout", default="20")
    ap.add_argument("--keep", action="store_true", help="leave the lab up")
    args = ap.parse_args()
    if not os.environ.get("GOVNET_STATE_DIR"):
        print("set GOVNET_STATE_DIR to a state folder of this benchmark's own", file=sys.stderr)
        return 2
    from govnet import paths
    from govnet.pipeline import LockMode, compile_stack

    design = compile_stack(ROOT / args.stack, LockMode.READ).design
    project = paths.Project(ROOT / args.stack)
    status = govnet("lab", "status", args.stack, "--format", "json")
    rows = json.loads(status.stdout) if status.returncode == 0 and status.stdout.strip() else []
    started = not rows or not all(r["running"] for r in rows)
    failures: list[str] = []
    try:
        if started:
            t, proc = timed("up", args.stack, "--no-verify")
            print(f"up (no verify): {t:.1f} s, exit {proc.returncode}")
            if proc.returncode:
                failures.append(f"up failed:\n{_tail(proc)}")
        if not failures:
            failures = measure(args, design, project)
    finally:
        if started and not args.keep:
            proc = govnet("down", args.stack)
            print(f"down: exit {proc.returncode}")
    for f in failures:
        print(f"FAILED: {f}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
