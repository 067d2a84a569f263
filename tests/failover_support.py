"""Dual uplinks in a running lab of example-city: the county router whose primary link to the data
center has BFD, its backup, a steady ping from the county's intranet LAN to a data-center intranet
server, and the primary cut and restored in the lab fabric. Shared by tests/test_failover.py and
benchmarks/failover.py; everything it looks at is read from the stack's design.

Two kinds of cut, both on the veth pair that is the primary's cable:

- ``silent``: both ends stay up (carrier, addresses) but every frame arriving on either end is
  dropped, by a netdev ingress chain of its own in each host's namespace (a fault in the carrier's
  transmission, a media converter that keeps its port up). Only BFD notices this within a second;
  without it, OSPF waits for its dead interval (40 s).
- ``down``: the data center's end is set down (``ip link set ... down``); the county's end loses
  its carrier, so both routers see the link go.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from govnet.lab import hosts, layout
from govnet.pipeline import LockMode, compile_stack
from govnet.rules import host_name

ROOT = Path(__file__).resolve().parents[1]
STACK = "stacks/example-city.yaml"
LAB = "example-city"
#: the steady ping: one packet every 20 ms; a lost packet stands for 20 ms without traffic
PING_INTERVAL_S = 0.02
#: the table the silent cut adds (and removes) in the two hosts' namespaces
CUT_TABLE = "govnet_failover_cut"


@dataclass(frozen=True)
class Uplinks:
    """The county router's two links to the data center, and the traffic that rides them."""

    county: str  # the county router (the link's b end)
    dc: str  # the data-center router at the other end
    primary: str  # the county's interface on the BFD link
    backup: str  # the county's interface on the other link to ``dc``
    dc_primary: str  # the data center's interface on the BFD link
    dc_backup: str
    county_address: str  # the county's address on the primary (the data center's BFD peer)
    dc_address: str  # the data center's address on the primary (the county's BFD peer)
    source: str  # the county router's intranet LAN address
    source_network: str  # that LAN, whose route is watched in the data center's RIB
    target: str  # a data-center intranet server
    target_network: str  # that server's LAN, whose route is watched in the county's RIB


def uplinks(stack: str = STACK) -> Uplinks:
    """The first link with ``bfd: true`` and the other link between the same two routers."""
    c = compile_stack(ROOT / stack, LockMode.FROZEN)
    facts = c.design.hosts
    primary = next(lk for lk in c.vs.stack.links if lk.bfd)
    dc, county = host_name(primary.a), host_name(primary.b)
    backup = next(lk for lk in c.vs.stack.links
                  if lk is not primary and {host_name(lk.a), host_name(lk.b)} == {dc, county})

    def iface(host: str, link_id: str):
        return next(i for i in facts[host].interfaces if i.link == link_id)

    lan = next(i for i in facts[county].interfaces if i.kind == "lan" and i.plane == "intranet")
    server = next(h for h in facts.values()
                  if h.role == "server" and h.site == facts[dc].site and h.zone == "intranet")
    server_lan = next(i for i in server.interfaces if i.kind == "lan")
    return Uplinks(county=county, dc=dc,
                   primary=iface(county, primary.id).name, backup=iface(county, backup.id).name,
                   dc_primary=iface(dc, primary.id).name, dc_backup=iface(dc, backup.id).name,
                   county_address=iface(county, primary.id).address.split("/")[0],
                   dc_address=iface(dc, primary.id).address.split("/")[0],
                   source=lan.address.split("/")[0],
                   source_network=str(ipaddress.ip_interface(lan.address).network),
                   target=server_lan.address.split("/")[0],
                   target_network=str(ipaddress.ip_interface(server_lan.address).network))


# --------------------------------------------------------------------------- inside the hosts


def _leader(host: str) -> int:
    st = hosts.read_state(LAB, host)
    if not st or not hosts.running(LAB, host):
        raise RuntimeError(f"lab host {host} of {LAB} is not running (govnet up {STACK})")
    leader = st.get("leader") or hosts.leader_pid(st["pid"])
    if not leader:
        raise RuntimeError(f"lab host {host}: no container init")
    return int(leader)


def in_host(host: str, *cmd: str, timeout: float = 30, check: bool = True) -> str:
    """Run a command inside a lab host (every namespace of its container, as ``govnet lab shell``)."""
    proc = subprocess.run(["nsenter", "-t", str(_leader(host)), "-a", *cmd], capture_output=True,
                          text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{host}: {' '.join(cmd)} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


def vtysh_json(host: str, command: str):
    return json.loads(in_host(host, "vtysh", "-c", command) or "{}")


def bfd_peers(host: str) -> list[dict]:
    """``show bfd peers json``: one dict per session (peer, interface, status, timers)."""
    return vtysh_json(host, "show bfd peers json")


def route_interfaces(host: str, prefix: str) -> set[str]:
    """The interfaces of the active next hops of the selected route to ``prefix`` in the RIB of
    ``host`` (read from ``show ip route json``); empty without a route."""
    rib = vtysh_json(host, "show ip route json")
    return {nh["interfaceName"] for r in rib.get(prefix, []) if r.get("selected")
            for nh in r.get("nexthops", []) if nh.get("active") and nh.get("interfaceName")}


def eventually(check: Callable[[], object], timeout: float, interval: float = 0.2):
    """``check()`` until it returns a true value (returned) or the time is up (its last error)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
            if result:
                return result
            error: Exception = AssertionError(f"{check.__name__} returned {result!r}")
        except (AssertionError, RuntimeError) as exc:
            error = exc
        if time.monotonic() > deadline:
            raise error
        time.sleep(interval)


# --------------------------------------------------------------------------- the cut


def cut(u: Uplinks, kind: str) -> None:
    """Cut the primary in the lab fabric: ``silent`` (frames dropped at both ends, links stay up)
    or ``down`` (the data center's end of the veth pair set down)."""
    if kind == "silent":
        for host, dev in ((u.county, u.primary), (u.dc, u.dc_primary)):
            rules = (f'table netdev {CUT_TABLE} {{\n chain ingress {{\n'
                     f'  type filter hook ingress device "{dev}" priority -500; policy drop;\n }}\n}}\n')
            subprocess.run(["ip", "netns", "exec", layout.host_netns(LAB, host), "nft", "-f", "-"],
                           input=rules, text=True, check=True, capture_output=True)
    elif kind == "down":
        subprocess.run(["ip", "-n", layout.host_netns(LAB, u.dc), "link", "set", u.dc_primary, "down"],
                       check=True, capture_output=True)
    else:
        raise ValueError(kind)


def restore(u: Uplinks) -> None:
    """Undo either cut (safe to call when nothing is cut)."""
    for host in (u.county, u.dc):
        subprocess.run(["ip", "netns", "exec", layout.host_netns(LAB, host),
                        "nft", "delete", "table", "netdev", CUT_TABLE], check=False, capture_output=True)
    subprocess.run(["ip", "-n", layout.host_netns(LAB, u.dc), "link", "set", u.dc_primary, "up"],
                   check=True, capture_output=True)


# --------------------------------------------------------------------------- the steady ping


@dataclass
class PingResult:
    transmitted: int
    received: int
    interval: float = PING_INTERVAL_S

    @property
    def lost(self) -> int:
        return self.transmitted - self.received

    @property
    def lost_s(self) -> float:
        """Time without traffic: lost packets x the interval."""
        return self.lost * self.interval


class SteadyPing:
    """``ping -i 0.02`` from the county's LAN address to the server, inside the county router,
    until stopped (SIGINT: ping prints its summary)."""

    def __init__(self, u: Uplinks):
        self.u = u
        self.proc: subprocess.Popen | None = None

    def start(self) -> SteadyPing:
        self.proc = subprocess.Popen(
            ["nsenter", "-t", str(_leader(self.u.county)), "-a", "ping", "-n", "-q",
             "-i", str(PING_INTERVAL_S), "-W", "1", "-I", self.u.source, self.u.target],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        return self

    def stop(self) -> PingResult:
        assert self.proc is not None
        # the replies of the last packets sent are still on their way: give them a moment
        time.sleep(0.5)
        # nsenter forks ping into the host's PID namespace and does not pass signals on: the
        # whole process group gets the SIGINT
        os.killpg(self.proc.pid, signal.SIGINT)
        try:
            out, _ = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            raise
        m = re.search(r"(\d+) packets transmitted, (\d+) received", out)
        if not m:
            raise RuntimeError(f"ping printed no summary:\n{out}")
        # SIGINT may catch one packet on its way out: not a loss of the failover
        transmitted, received = int(m.group(1)), int(m.group(2))
        return PingResult(transmitted=max(received, transmitted - 1), received=received)


# --------------------------------------------------------------------------- one failover


def on_path(u: Uplinks, primary: bool) -> bool:
    """Whether both routers route the county's traffic over the primary (or else the backup)."""
    want = (u.primary, u.dc_primary) if primary else (u.backup, u.dc_backup)
    return (route_interfaces(u.county, u.target_network) == {want[0]}
            and route_interfaces(u.dc, u.source_network) == {want[1]})


def fail_over(u: Uplinks, kind: str, on_backup_s: float, timeout: float = 60) -> tuple[PingResult, float]:
    """Under a steady ping, cut the primary (``kind`` as :func:`cut`), wait until both RIBs are on
    the backup, let traffic flow there ``on_backup_s``, then undo the cut. The ping's result and
    the seconds from the cut until both RIBs were on the backup."""
    ping = SteadyPing(u).start()
    try:
        time.sleep(1)  # traffic flows before the cut
        start = time.monotonic()
        cut(u, kind)
        eventually(lambda: on_path(u, primary=False), timeout=timeout, interval=0.05)
        rib_s = time.monotonic() - start
        time.sleep(on_backup_s)
    finally:
        try:
            result = ping.stop()
        finally:
            restore(u)
    return result, rib_s
