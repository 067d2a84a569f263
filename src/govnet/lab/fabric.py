"""The lab's wiring: management bridge, LAN switches, the simulated Internet, links, package proxy.

Every function is idempotent (``ensure_*`` twice is the same as once; ``remove_*`` of something
already gone is fine), because a provisioning run may stop halfway and be run again.

- The management bridge lives in the machine's own namespace and holds each site's management
  gateway plus the *controller* address, where Ansible connects from and apt-cacher-ng listens.
  The machine does not forward between them (its ``ip_forward`` is left alone and nothing is
  routed out): hosts reach the controller and nothing else of the machine's networks.
- LAN segments are bridges in the ``+switch`` namespace; the Internet is one bridge in the
  ``+internet`` namespace, whose own address is the ISP gateway. Neither has any way out.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

from govnet.lab import base, layout
from govnet.lab.system import LabError, ip, link_exists, netns_exists, pid_alive, run

PROXY_PORT = 3142
INTERNET_BRIDGE = "inet0"


def ensure_netns(name: str) -> None:
    if not netns_exists(name):
        ip("netns", "add", name)
    ip("link", "set", "lo", "up", netns=name)


def remove_netns(name: str) -> None:
    if netns_exists(name):
        ip("netns", "del", name)


def _addr_replace(cidr: str, dev: str, netns: str | None = None) -> None:
    ip("addr", "replace", cidr, "dev", dev, netns=netns)


# --- the lab as a whole -------------------------------------------------------------------------

#: inotify instances per user the machine must allow: each container's systemd and journald hold
#: several, and Linux's default of 128 runs out at about 20 containers ("Failed to create inotify
#: object: Too many open files", and the host never boots). Raised, never lowered.
INOTIFY_INSTANCES = 4096
INOTIFY_SYSCTL = Path("/proc/sys/fs/inotify/max_user_instances")


def ensure_inotify_room() -> None:
    """Let the machine's user (root) hold enough inotify instances for every container."""
    if int(INOTIFY_SYSCTL.read_text()) < INOTIFY_INSTANCES:
        INOTIFY_SYSCTL.write_text(f"{INOTIFY_INSTANCES}\n")


def ensure_fabric(lab: str, controller: str, internet_gateway: str | None) -> dict:
    """Management bridge with the controller address, switch and Internet namespaces, proxy."""
    ensure_inotify_room()
    bridge = layout.mgmt_bridge(lab)
    if not link_exists(bridge):
        ip("link", "add", bridge, "type", "bridge")
    _addr_replace(f"{controller}/32", bridge)
    ip("link", "set", bridge, "up")
    ensure_netns(layout.switch_netns(lab))
    inet = layout.internet_netns(lab)
    ensure_netns(inet)
    if not link_exists(INTERNET_BRIDGE, inet):
        ip("link", "add", INTERNET_BRIDGE, "type", "bridge", netns=inet)
    ip("link", "set", INTERNET_BRIDGE, "up", netns=inet)
    if internet_gateway:
        _addr_replace(internet_gateway, INTERNET_BRIDGE, inet)
    # the ISP gateway routes between the Internet hosts (a route via it comes back on the same
    # segment); this namespace has no other interface, so nothing leaves the lab
    run(["ip", "netns", "exec", inet, "sysctl", "-qw", "net.ipv4.ip_forward=1"])
    proxy = ensure_proxy(lab, controller)
    return {"bridge": bridge, "controller": controller, "proxy": proxy}


def remove_fabric(lab: str) -> None:
    stop_proxy(lab)
    bridge = layout.mgmt_bridge(lab)
    if link_exists(bridge):
        ip("link", "del", bridge)
    remove_netns(layout.switch_netns(lab))
    remove_netns(layout.internet_netns(lab))


# --- package proxy ------------------------------------------------------------------------------

def _proxy_pidfile(lab: str) -> Path:
    return layout.lab_dir(lab) / "apt-cacher-ng" / "pid"


def proxy_pid(lab: str) -> int | None:
    try:
        pid = int(_proxy_pidfile(lab).read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if pid_alive(pid) else None


def ensure_proxy(lab: str, controller: str) -> str:
    """apt-cacher-ng on the controller address; the package cache is shared by all labs."""
    url = f"http://{controller}:{PROXY_PORT}"
    if proxy_pid(lab):
        return url
    state = _proxy_pidfile(lab).parent
    state.mkdir(parents=True, exist_ok=True)
    cache = layout.root() / "apt-cache"
    cache.mkdir(parents=True, exist_ok=True)
    conf = state / "conf"
    conf.mkdir(exist_ok=True)
    # our own configuration: the Debian archive is fetched from this machine's mirror
    (conf / "acng.conf").write_text(
        f"CacheDir: {cache}\nLogDir: {state}\nSupportDir: /usr/lib/apt-cacher-ng\n"
        f"Remap-debrep: file:deb_mirror*.gz /debian ; {base.mirror().rstrip('/')}/\n"
        "ExThreshold: 400\n")
    run(["apt-cacher-ng", "-c", conf, "ForeGround=0", f"BindAddress={controller}",
         f"Port={PROXY_PORT}", f"PidFile={state / 'pid'}", f"SocketPath={state / 'socket'}"])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proxy_pid(lab):
            return url
        time.sleep(0.1)
    raise LabError(f"apt-cacher-ng did not start; see {state}/apt-cacher.err")


def stop_proxy(lab: str) -> None:
    pid = proxy_pid(lab)
    if pid:
        os.kill(pid, signal.SIGTERM)
        for _ in range(50):
            if not pid_alive(pid):
                break
            time.sleep(0.1)
        else:
            os.kill(pid, signal.SIGKILL)
    _proxy_pidfile(lab).unlink(missing_ok=True)


# --- sites and segments -------------------------------------------------------------------------

def ensure_gateway(lab: str, gateway: str) -> None:
    """A site's management gateway (``a.b.c.d/len``) on the management bridge."""
    _addr_replace(gateway, layout.mgmt_bridge(lab))


def remove_gateway(lab: str, gateway: str) -> None:
    bridge = layout.mgmt_bridge(lab)
    if link_exists(bridge):
        ip("addr", "del", gateway, "dev", bridge, check=False)


def segment_bridge(segment: str) -> str:
    return layout.ifname("segment", segment)


def ensure_segment(lab: str, segment: str) -> str:
    """A LAN segment (``site:zone``) as a bridge in the switch namespace."""
    ns, br = layout.switch_netns(lab), segment_bridge(segment)
    if not link_exists(br, ns):
        made = ip("link", "add", br, "type", "bridge", netns=ns, check=False)
        # two ports of one segment are plugged at once (Pulumi creates resources in parallel):
        # the other may have made the bridge between the check and the add
        if made.returncode != 0 and not link_exists(br, ns):
            raise LabError(f"ip -n {ns} link add {br} type bridge failed ({made.returncode}): "
                           f"{made.stderr.strip()}")
    ip("link", "set", br, "up", netns=ns)
    return br


def remove_segment(lab: str, segment: str) -> None:
    ns, br = layout.switch_netns(lab), segment_bridge(segment)
    if netns_exists(ns) and link_exists(br, ns):
        ip("link", "del", br, netns=ns)


# --- ports and links ----------------------------------------------------------------------------

def _veth(name: str, ns: str, peer: str, peer_ns: str) -> None:
    if link_exists(name, ns):
        return
    if link_exists(peer, peer_ns):  # a half left by an interrupted run
        ip("link", "del", peer, netns=peer_ns)
    ip("link", "add", name, "netns", ns, "type", "veth", "peer", "name", peer, "netns", peer_ns)


def ensure_port(lab: str, host: str, iface: str, segment: str | None) -> None:
    """Plug ``host``'s ``iface`` into a LAN segment, or into the Internet when segment is None."""
    hns = layout.host_netns(lab, host)
    if segment is None:
        ns, br = layout.internet_netns(lab), INTERNET_BRIDGE
    else:
        ns, br = layout.switch_netns(lab), ensure_segment(lab, segment)
    peer = layout.ifname(host, iface)
    _veth(iface, hns, peer, ns)
    ip("link", "set", peer, "master", br, "up", netns=ns)
    ip("link", "set", iface, "up", netns=hns)


def ensure_client(lab: str, name: str, segment: str, cidr: str, gateway: str) -> str:
    """A client on a LAN segment (a unit's PC): a namespace of its own (``layout.client_netns``)
    with ``eth0`` plugged into the segment's bridge, address ``cidr`` and its default route via
    ``gateway``. Returns the namespace."""
    ns, switch = layout.client_netns(lab, name), layout.switch_netns(lab)
    ensure_netns(ns)
    br = ensure_segment(lab, segment)
    peer = layout.ifname("client", lab, name)
    _veth("eth0", ns, peer, switch)
    ip("link", "set", peer, "master", br, "up", netns=switch)
    _addr_replace(cidr, "eth0", ns)
    ip("link", "set", "eth0", "up", netns=ns)
    ip("route", "replace", "default", "via", gateway, netns=ns)
    return ns


def remove_client(lab: str, name: str) -> None:
    """Unplug and remove a client: its cable first, at once (a namespace's veths die after it,
    asynchronously, and the next client of that name would find the cable's name taken)."""
    switch = layout.switch_netns(lab)
    peer = layout.ifname("client", lab, name)
    if netns_exists(switch) and link_exists(peer, switch):
        ip("link", "del", peer, netns=switch)
    remove_netns(layout.client_netns(lab, name))


def ensure_link(lab: str, a: tuple[str, str], b: tuple[str, str]) -> None:
    """A point-to-point cable: veth between host ``a[0]``'s ``a[1]`` and ``b[0]``'s ``b[1]``."""
    ans, bns = layout.host_netns(lab, a[0]), layout.host_netns(lab, b[0])
    _veth(a[1], ans, b[1], bns)
    ip("link", "set", a[1], "up", netns=ans)
    ip("link", "set", b[1], "up", netns=bns)


def remove_iface(lab: str, host: str, iface: str) -> None:
    """Unplug a port or cut a link (deleting one end of a veth removes both)."""
    ns = layout.host_netns(lab, host)
    if netns_exists(ns) and link_exists(iface, ns):
        ip("link", "del", iface, netns=ns)


def state(lab: str) -> dict:
    path = layout.lab_dir(lab) / "fabric.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
