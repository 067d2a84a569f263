"""Video conferencing benchmark: how long a county takes to join the city's video conference and
to see the first frame of another county (issue 13, item 3).

    .venv/bin/python benchmarks/videoconf.py [--stack stacks/example-city.yaml] [--runs 3]

Needs a running lab of the stack (``govnet up stacks/example-city.yaml``, as root); it changes
nothing in the lab. Each run starts two WebRTC participants (aiortc, tests/videoconf_client.py)
at once, each on a PC of its own (a namespace on a county's LAN, made for the run and removed after
it: ``videoconf_client.county_pc``), in two counties of the videoconf server's plane:
both join the room, publish a synthetic 640x480 video track and subscribe to the other's; the
second goes through coturn only (relay candidates). Per participant it prints:

- ``join``: from the client's start until its published stream is connected to Janus (HTTPS
  session, room join, SDP offer/answer, ICE and DTLS);
- ``first frame``: from the client's start until it decoded the first frame of the other county.

The last line is ``videoconf_join_s=… videoconf_first_frame_s=…`` (seconds, worst participant of
the worst run).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "src"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--stack", default=str(ROOT / "stacks" / "example-city.yaml"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--frames", type=int, default=30)
    args = ap.parse_args()

    import videoconf_client
    from govnet import paths
    from govnet.pipeline import LockMode, compile_stack

    stack = Path(args.stack).resolve()
    design = compile_stack(str(stack), LockMode.READ).design
    servers = design.services.get("videoconf", [])
    if not servers:
        print(f"{stack.name} has no videoconf server", file=sys.stderr)
        return 2
    v = design.hosts[servers[0].host].videoconf
    counties = videoconf_client.counties(design, v.server.plane)
    if len(counties) < 2:
        print(f"fewer than two counties on the {v.server.plane} of {stack.name}", file=sys.stderr)
        return 2
    a, b = counties[:2]
    state = paths.Project(stack).stack_state
    lab = stack.stem
    common = [*videoconf_client.client_args(v, state), "--frames", str(args.frames),
              "--timeout", "60"]
    with videoconf_client.county_pc(lab, design, a) as (ns_a, addr_a), \
            videoconf_client.county_pc(lab, design, b) as (ns_b, addr_b):
        sides = [{"netns": ns_a, "display": design.hosts[a].site, "peer": design.hosts[b].site},
                 {"netns": ns_b, "display": design.hosts[b].site, "peer": design.hosts[a].site,
                  "extra": ["--relay"]}]
        print(f"{v.server_name} ({v.server.host} {v.server.address}), room {v.room.id}: a PC of "
              f"{sides[0]['display']} ({addr_a}, direct) and of {sides[1]['display']} ({addr_b}, "
              "through coturn)")
        return _runs(args, sides, common, videoconf_client)


def _runs(args, sides, common, videoconf_client) -> int:
    worst_join = worst_first = 0.0
    for run in range(1, args.runs + 1):
        events = videoconf_client.run_pair(sides, common, timeout=150)
        for side, evs in zip(sides, events, strict=True):
            joined = next((e for e in evs if e["event"] == "published"), None)
            result = next((e for e in evs if e["event"] == "result"), None)
            if joined is None or result is None or result["frames"] < args.frames:
                print(f"run {run}: {side['display']} failed: {evs}", file=sys.stderr)
                return 1
            print(f"run {run}  {side['display']:<10} join {joined['joined']:6.3f} s  first frame "
                  f"{result['first_frame']:6.3f} s  {result['frames']} frames by {result['elapsed']:.3f} s "
                  f"(sent via {result['sent_via']}, received via {result['received_via']})")
            worst_join = max(worst_join, joined["joined"])
            worst_first = max(worst_first, result["first_frame"])
    print(f"videoconf_join_s={worst_join:.3f} videoconf_first_frame_s={worst_first:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
