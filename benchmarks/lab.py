"""Lab benchmark: example-city brought up, configured, re-configured and verified on this machine.

    sudo .venv/bin/python benchmarks/lab.py [--stack stacks/example-city.yaml] [--keep]

1. ``govnet down`` (not timed), so the run starts from no lab; the cached base image is built
   first if it is missing (not timed: that is a once-per-machine cost).
2. ``govnet up`` through the real CLI, then ``govnet up --no-verify`` (nothing to change), then
   ``govnet up --limit <county>`` (nothing to change, the county staff's run, end to end). From
   each run's summary (``.govnet/stacks/<stack>/last-run.json``): ``up_s`` = the first run's
   provision phase (every host booted from the cached base, every cable plugged),
   ``converge_s`` = its configure phase (the first Ansible run, packages installed through the
   lab's proxy), ``verify_s`` = its verify phase (every check), ``reconverge_s`` = the second
   run's configure phase (nothing to change; it must report changed=0),
   ``county_reconverge_s`` = the wall clock of the whole county-limited run.
3. ``preview_s``: wall clock of ``govnet preview`` on the running lab.
4. ``host_pss_mb``: the proportional set size of every process in each host's cgroup, summed per
   host, averaged over the hosts, after the runs (idle hosts with their daemons).
5. ``govnet down`` unless ``--keep``.

Each figure is printed with its ratio to its goal (issue 9, on this 2-core machine) and to the
figure measured before that work (``BEFORE``, same machine kind). Misses are printed, never
raised. The last line is ``up_s=… converge_s=… reconverge_s=… verify_s=… county_reconverge_s=…
preview_s=… host_pss_mb=…`` (seconds and MB).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: goals on a 2-core machine (issue 9; up, preview and PSS from the lab's first benchmark)
TARGETS = {"up_s": 20, "converge_s": 180, "reconverge_s": 60, "verify_s": 60,
           "county_reconverge_s": 30, "preview_s": 15, "host_pss_mb": 40}
#: the figures before issue 9 (benchmarks/README.md, 2026-11-23 and the issue's own runs)
BEFORE = {"up_s": 33.3, "converge_s": 386.3, "reconverge_s": 216.9, "verify_s": 240.0,
          "county_reconverge_s": 55.0, "preview_s": 12.5, "host_pss_mb": 48.5}


def govnet(*args: str) -> float:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "govnet.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=False)
    took = time.perf_counter() - t
    if proc.returncode != 0:
        sys.exit(f"govnet {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n"
                 f"{proc.stderr[-3000:]}")
    return took


def pss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def host_pss(lab: str) -> dict[str, float]:
    from govnet.lab import hosts, layout

    out = {}
    for st in hosts.status(lab):
        total = 0.0
        for d in layout.cgroup_dirs(lab, st["name"])[:1]:
            for procs in d.rglob("cgroup.procs"):
                for pid in procs.read_text().split():
                    total += pss_mb(int(pid))
        out[st["name"]] = total
    return out


def county(stack: str) -> str:
    """The county group of the first county site that has a unit below it (the busiest limit)."""
    from govnet.pipeline import compile_stack
    from govnet.rules import county_of

    vs = compile_stack(stack).vs
    counties = [county_of(vs, s) for s in vs.sites]
    best = max((c for c in counties if c), key=counties.count)
    return "county_" + best.replace("-", "_")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--stack", default="stacks/example-city.yaml")
    ap.add_argument("--keep", action="store_true", help="leave the lab up afterwards")
    args = ap.parse_args()
    name = Path(args.stack).stem
    state = ROOT / ".govnet" / "stacks" / name / "last-run.json"

    from govnet.lab import base

    base.ensure(lambda m: print(m, flush=True))
    govnet("down", args.stack)
    govnet("up", args.stack)
    first = json.loads(state.read_text())
    govnet("up", args.stack, "--no-verify")
    second = json.loads(state.read_text())
    if second["changed"]:
        print(f"warning: the second run changed {second['changed']} task(s) on "
              f"{', '.join(second['changed_hosts'])}")
    limit = county(args.stack)
    county_s = govnet("up", args.stack, "--limit", limit)
    third = json.loads(state.read_text())
    preview = govnet("preview", args.stack)
    time.sleep(5)  # let the hosts go idle
    pss = host_pss(name)
    figures = {"up_s": first["seconds"]["provision"], "converge_s": first["seconds"]["configure"],
               "reconverge_s": second["seconds"]["configure"],
               "verify_s": first["seconds"]["verify"], "county_reconverge_s": round(county_s, 1),
               "preview_s": round(preview, 1),
               "host_pss_mb": round(sum(pss.values()) / max(len(pss), 1), 1)}
    if not args.keep:
        govnet("down", args.stack)
    print(f"stack {name}: {first['hosts']} hosts, {first['tests_passed']} checks; "
          f"second run changed={second['changed']}; --limit {limit}: {third['hosts']} hosts, "
          f"changed={third['changed']}, phases " + ", ".join(
              f"{k} {v} s" for k, v in third["seconds"].items()))
    print("PSS per host (MB): " + ", ".join(f"{h} {v:.0f}" for h, v in sorted(pss.items())))
    for key, value in figures.items():
        ratio = value / TARGETS[key]
        print(f"  {key:<20} {value:>7.1f}  goal ≤ {TARGETS[key]:<4} ratio {ratio:.2f}"
              f"  before {BEFORE[key]:>6.1f} ratio {value / BEFORE[key]:.2f}"
              + ("" if ratio <= 1 else "  MISSED"))
    print(" ".join(f"{k}={v}" for k, v in figures.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
