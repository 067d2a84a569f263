"""Lab hosts: one systemd-nspawn container per device, in its own network namespace.

A host is: network namespace ``govnet.<lab>.<host>`` holding a ``mgmt0`` veth whose other end is
on the lab's management bridge; an overlay (own upper and work directories) over the shared base;
a ``systemd-nspawn --boot`` process in its own cgroup. Before boot the lab seeds what a real
machine would get from its installer: the management address, root's authorised SSH key, and the
package proxy. Everything else is Ansible's job.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from govnet.lab import layout
from govnet.lab.fabric import ensure_netns, remove_netns
from govnet.lab.system import LabError, ip, link_exists, mounted, mounts_under, pid_alive, run

BOOT_TIMEOUT = float(os.environ.get("GOVNET_BOOT_TIMEOUT", "60"))
#: fault injection for tests of `govnet up`'s error path: hosts named here boot into rescue mode
#: (no SSH), as a host with a broken disk would
FAULT_HOSTS_ENV = "GOVNET_LAB_FAULT_BOOT"
STOP_TIMEOUT = 10.0


class HostBootError(LabError):
    """A host did not come up; the message carries the end of its console log."""


@dataclass(frozen=True)
class HostSpec:
    lab: str
    name: str
    base: str               # the base image's root directory
    mgmt_address: str       # a.b.c.d/len on mgmt0
    mgmt_gateway: str       # the site's management gateway on the bridge
    mgmt_network: str       # the whole management range, routed via the gateway
    authorized_key: str     # root's SSH public key
    apt_proxy: str          # http://controller:3142


def _state_path(lab: str, host: str) -> Path:
    return layout.host_dir(lab, host) / "state.json"


def read_state(lab: str, host: str) -> dict:
    try:
        return json.loads(_state_path(lab, host).read_text())
    except (OSError, ValueError):
        return {}


def _seed(upper: Path, spec: HostSpec) -> None:
    """Files the host's installer would have left: SSH access, package proxy, hostname."""
    ssh = upper / "root/.ssh"
    ssh.mkdir(parents=True, mode=0o700, exist_ok=True)
    (ssh / "authorized_keys").write_text(spec.authorized_key.strip() + "\n")
    os.chmod(ssh / "authorized_keys", 0o600)
    apt = upper / "etc/apt/apt.conf.d"
    apt.mkdir(parents=True, exist_ok=True)
    (apt / "01govnet-lab-proxy").write_text(
        f'// the lab\'s package proxy on the management network\nAcquire::http::Proxy "{spec.apt_proxy}";\n')
    (upper / "etc/hostname").write_text(spec.name + "\n")


def _mgmt(spec: HostSpec, ns: str) -> None:
    peer = layout.ifname(spec.lab, spec.name, "mgmt0")
    if not link_exists("mgmt0", ns):
        if link_exists(peer):
            ip("link", "del", peer)
        ip("link", "add", "mgmt0", "netns", ns, "type", "veth", "peer", "name", peer)
    bridge = layout.mgmt_bridge(spec.lab)
    ip("link", "set", peer, "master", bridge, "up")
    # a host made again has a new MAC: forget the old one, or SSH waits ~30 s for ARP to expire
    ip("neigh", "flush", "to", spec.mgmt_address.split("/")[0], "dev", bridge, check=False)
    ip("addr", "replace", spec.mgmt_address, "dev", "mgmt0", netns=ns)
    ip("link", "set", "mgmt0", "up", netns=ns)
    ip("route", "replace", spec.mgmt_network, "via", spec.mgmt_gateway, "dev", "mgmt0", netns=ns)


def start(spec: HostSpec) -> dict:
    """Create and boot the host; return its state. Raises :class:`HostBootError` (after removing
    the host again) when it does not answer on SSH within the boot timeout."""
    if read_state(spec.lab, spec.name).get("pid") and running(spec.lab, spec.name):
        return read_state(spec.lab, spec.name)
    stop(spec.lab, spec.name)  # whatever an interrupted run left
    hdir = layout.host_dir(spec.lab, spec.name)
    upper, work, merged = hdir / "upper", hdir / "work", hdir / "merged"
    for d in (upper, work, merged):
        d.mkdir(parents=True, exist_ok=True)
    _seed(upper, spec)
    ns = layout.host_netns(spec.lab, spec.name)
    ensure_netns(ns)
    _mgmt(spec, ns)
    run(["mount", "-t", "overlay", "overlay", "-o",
         f"lowerdir={spec.base},upperdir={upper},workdir={work}", merged])
    cgroups = [d for d in (layout.CGROUP_ROOT / c / "govnet" / spec.lab / spec.name
                           for c in layout.CGROUP_CONTROLLERS) if d.parent.parent.parent.is_dir()]
    for d in cgroups:
        d.mkdir(parents=True, exist_ok=True)
    console = hdir / "console.log"
    argv = ["systemd-nspawn", "--quiet", "--boot", f"--directory={merged}",
            f"--machine={spec.name}", "--register=no", "--keep-unit",
            f"--network-namespace-path=/run/netns/{ns}", "--capability=CAP_NET_ADMIN",
            "--resolv-conf=off", "--timezone=off", "--link-journal=no", "--console=read-only",
            "--bind=/dev/net/tun"]
    if spec.name in os.environ.get(FAULT_HOSTS_ENV, "").split(","):
        argv += ["--", "systemd.unit=rescue.target"]
    env = {**os.environ, "SYSTEMD_NSPAWN_API_VFS_WRITABLE": "network"}
    # a small shell joins the host's cgroups, then becomes systemd-nspawn (no preexec_fn: the
    # provider that calls this is multi-threaded)
    join = "".join(f'echo $$ > "{d}/cgroup.procs" && ' for d in cgroups)
    launcher = ["/bin/sh", "-c", join + 'exec "$0" "$@"', *argv]
    with open(console, "wb") as out:
        proc = subprocess.Popen(launcher, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True, close_fds=True,
                                env=env)
    st = {"name": spec.name, "pid": proc.pid, "netns": ns, "mgmt": spec.mgmt_address.split("/")[0],
          "started": time.time()}
    _state_path(spec.lab, spec.name).write_text(json.dumps(st))
    try:
        _wait_ssh(st["mgmt"], proc)
    except HostBootError as exc:
        excerpt = console_tail(spec.lab, spec.name)
        keep = layout.lab_dir(spec.lab) / "failed" / f"{spec.name}.log"
        keep.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(console, keep)
        stop(spec.lab, spec.name)
        raise HostBootError(f"host {spec.name} did not boot: {exc}\n"
                            f"--- end of its console ({keep}) ---\n{excerpt}") from None
    st["leader"] = leader_pid(proc.pid)
    st["boot_s"] = round(time.time() - st["started"], 2)
    _state_path(spec.lab, spec.name).write_text(json.dumps(st))
    return st


def _wait_ssh(address: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + BOOT_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise HostBootError(f"systemd-nspawn exited with status {proc.returncode}")
        try:
            with socket.create_connection((address, 22), timeout=1) as s:
                s.settimeout(2)
                if s.recv(4).startswith(b"SSH-"):
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise HostBootError(f"no SSH answer on {address}:22 within {BOOT_TIMEOUT:.0f} s")


def console_tail(lab: str, host: str, lines: int = 25) -> str:
    try:
        text = (layout.host_dir(lab, host) / "console.log").read_text(errors="replace")
    except OSError:
        return "(no console log)"
    kept = [line.rstrip() for line in text.splitlines() if line.strip()]
    return "\n".join(kept[-lines:])


def leader_pid(nspawn_pid: int) -> int | None:
    """The container's init (PID 1 inside): the nspawn process's child."""
    try:
        kids = Path(f"/proc/{nspawn_pid}/task/{nspawn_pid}/children").read_text().split()
    except OSError:
        return None
    return int(kids[0]) if kids else None


def running(lab: str, host: str) -> bool:
    return pid_alive(read_state(lab, host).get("pid"))


def _cgroup_pids(dirs: list[Path]) -> set[int]:
    pids: set[int] = set()
    for d in dirs:
        for procs in d.rglob("cgroup.procs") if d.is_dir() else ():
            try:
                pids.update(int(p) for p in procs.read_text().split())
            except OSError:
                continue
    return pids


def _rmdir_tree(d: Path) -> None:
    if not d.is_dir():
        return
    for sub in sorted((p for p in d.rglob("*") if p.is_dir()), key=lambda p: len(p.parts),
                      reverse=True):
        with contextlib.suppress(OSError):
            sub.rmdir()
    with contextlib.suppress(OSError):
        d.rmdir()


def kill_cgroups(dirs: list[Path]) -> None:
    """Kill every process left in ``dirs`` and remove the (then empty) cgroups."""
    for _ in range(50):
        pids = _cgroup_pids(dirs)
        if not pids:
            break
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)
    for d in dirs:
        _rmdir_tree(d)


def stop(lab: str, host: str) -> None:
    """Shut the host down cleanly (SIGTERM to nspawn = poweroff), then remove all of it."""
    st = read_state(lab, host)
    pid = st.get("pid")
    if pid_alive(pid):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
    kill_cgroups(layout.cgroup_dirs(lab, host))
    hdir = layout.host_dir(lab, host)
    for point in mounts_under(hdir):
        run(["umount", point], check=False) if mounted(Path(point)) else None
        if mounted(Path(point)):
            run(["umount", "-l", point])
    peer = layout.ifname(lab, host, "mgmt0")
    if link_exists(peer):
        ip("link", "del", peer, check=False)
    remove_netns(layout.host_netns(lab, host))
    shutil.rmtree(hdir, ignore_errors=True)


def status(lab: str) -> list[dict]:
    """Every host directory of the lab with whether its container runs."""
    hosts = layout.lab_dir(lab) / "hosts"
    out = []
    for d in sorted(hosts.iterdir()) if hosts.is_dir() else ():
        st = read_state(lab, d.name)
        st.setdefault("name", d.name)
        st["running"] = pid_alive(st.get("pid"))
        out.append(st)
    return out
