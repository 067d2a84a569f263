"""Deploy timings on a real lab: a deploy with nothing to change across the lab's routers and
firewalls, and the time until a device has rolled back a change that cut the controller off.

    GOVNET_STATE_DIR=/tmp/gv-bench python benchmarks/deploy.py [--stack stacks/smoke-town.yaml]
        [--host north-gw1] [--confirm-timeout 20] [--keep]

It brings the stack up (without the testinfra phase) unless it already runs, and takes it down
again at the end unless --keep. Only smoke-town is meant here (its own lab, its own state folder).
"""

from __future__ import annotations

import argparse
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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stack", default="stacks/smoke-town.yaml")
    ap.add_argument("--host", default="north-gw1", help="the device that gets the cutting change")
    ap.add_argument("--confirm-timeout", default="20")
    ap.add_argument("--keep", action="store_true", help="leave the lab up")
    args = ap.parse_args()
    from govnet import paths
    from govnet.pipeline import LockMode, compile_stack

    design = compile_stack(ROOT / args.stack, LockMode.READ).design
    project = paths.Project(ROOT / args.stack)
    status = govnet("lab", "status", args.stack, "--format", "json")
    started = '"running": false' in status.stdout or status.returncode != 0 or not status.stdout.strip()
    if started:
        t, proc = timed("up", args.stack, "--no-verify")
        print(f"up (no verify): {t:.1f} s, exit {proc.returncode}")
        if proc.returncode:
            print(proc.stdout[-2000:], proc.stderr[-2000:])
            return 1
    try:
        network = [h for h, v in design.hosts.items() if v["role"] in ("router", "firewall")]
        timed("deploy", args.stack)  # the first run may still have something to do
        t, proc = timed("deploy", args.stack)
        print(f"deploy with nothing to change, {len(network)} devices: {t:.1f} s "
              f"({proc.stdout.strip().splitlines()[-1]})")
        t, proc = timed("deploy", args.stack, "--check")
        print(f"deploy --check, {len(network)} devices: {t:.1f} s, exit {proc.returncode}")
        addr = design.hosts[args.host]["management"]["address"].split("/")[0]
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
        verdict = "rolled back" if "rolled-back" in proc.stdout else "NOT rolled back"
        print(f"cutting change on {args.host}, timer {args.confirm_timeout} s: {verdict} and reachable "
              f"again after {t:.1f} s")
    finally:
        if started and not args.keep:
            govnet("down", args.stack)
    return 0


if __name__ == "__main__":
    sys.exit(main())
