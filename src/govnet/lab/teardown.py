"""Remove everything a lab made, whatever state a provisioning run left it in.

``govnet down`` first asks Pulumi to destroy the stack; this sweep then removes whatever is still
there (after a failed or interrupted run Pulumi's state may not know of it), and
:func:`leftovers` lists anything that survived, so the caller can fail loudly instead of lying.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from govnet.lab import fabric, hosts, layout
from govnet.lab.system import link_exists, mounts_under, run


def lab_namespaces(lab: str) -> list[str]:
    prefixes = layout.netns_prefix(lab)
    ns_dir = Path("/run/netns")
    names = [p.name for p in ns_dir.iterdir()] if ns_dir.is_dir() else []
    return sorted(n for n in names if n.startswith(prefixes))


def sweep(lab: str) -> None:
    """Stop every host, remove namespaces, mounts, cgroups, bridge, proxy and the lab directory."""
    host_prefix = layout.netns_prefix(lab)[0]
    names = {d.name for d in (layout.lab_dir(lab) / "hosts").glob("*")}
    names |= {n[len(host_prefix):] for n in lab_namespaces(lab) if n.startswith(host_prefix)}
    for name in sorted(names):
        hosts.stop(lab, name)
    hosts.kill_cgroups(layout.cgroup_dirs(lab))
    for point in mounts_under(layout.lab_dir(lab)):
        run(["umount", "-l", point], check=False)
    fabric.remove_fabric(lab)
    for ns in lab_namespaces(lab):
        fabric.remove_netns(ns)
    shutil.rmtree(layout.lab_dir(lab), ignore_errors=True)


def leftovers(lab: str) -> list[str]:
    """What of ``lab`` is still on the machine (empty after a clean tear-down)."""
    found = [f"network namespace {n}" for n in lab_namespaces(lab)]
    found += [f"mount {p}" for p in mounts_under(layout.lab_dir(lab))]
    found += [f"cgroup {d}" for d in layout.cgroup_dirs(lab) if d.exists()]
    if link_exists(layout.mgmt_bridge(lab)):
        found.append(f"bridge {layout.mgmt_bridge(lab)}")
    if fabric.proxy_pid(lab):
        found.append("apt-cacher-ng process")
    if layout.lab_dir(lab).exists():
        found.append(f"directory {layout.lab_dir(lab)}")
    procs = run(["pgrep", "-f", f"--directory={layout.lab_dir(lab)}/"], check=False).stdout.split()
    found += [f"process {p}" for p in procs]
    return found



