"""Where a lab keeps its things and what they are called — pure functions, no side effects.

Every name a lab creates carries the lab's name, so :mod:`govnet.lab.teardown` finds all of it:
network namespaces ``govnet.<lab>.<host>`` (hosts) and ``govnet.<lab>+switch`` / ``+internet``
(the LAN switches and the simulated Internet), cgroups ``govnet/<lab>/<host>``, directories under
``$GOVNET_LAB_ROOT/labs/<lab>``. Interface names outside the hosts are hashed to fit the kernel's
15 characters.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

#: cgroup v1 hierarchies the host launchers are placed in (the machine runs no systemd)
CGROUP_ROOT = Path("/sys/fs/cgroup")
CGROUP_CONTROLLERS = ("systemd", "unified")


def root() -> Path:
    """Machine-wide state: cached base images, labs, the package cache. Never inside git."""
    return Path(os.environ.get("GOVNET_LAB_ROOT", "/var/lib/govnet"))


def lab_dir(lab: str) -> Path:
    return root() / "labs" / lab


def host_dir(lab: str, host: str) -> Path:
    return lab_dir(lab) / "hosts" / host


def netns_prefix(lab: str) -> tuple[str, str]:
    """The two prefixes of every namespace of ``lab`` (hosts, helpers)."""
    return f"govnet.{lab}.", f"govnet.{lab}+"


def host_netns(lab: str, host: str) -> str:
    return f"govnet.{lab}.{host}"


def client_netns(lab: str, name: str) -> str:
    """A client of the lab (a unit's PC on a LAN, made by a check and removed after it): one of
    the lab's helper namespaces, so a tear-down sweeps it with the others."""
    return f"{netns_prefix(lab)[1]}{name}"


def switch_netns(lab: str) -> str:
    return f"govnet.{lab}+switch"


def internet_netns(lab: str) -> str:
    return f"govnet.{lab}+internet"


def ifname(*parts: str) -> str:
    """A stable interface name of 13 characters for an interface outside the hosts."""
    return "gn" + hashlib.blake2s("/".join(parts).encode(), digest_size=6).hexdigest()[:11]


def mgmt_bridge(lab: str) -> str:
    return ifname(lab, "management-bridge")


def cgroup_dirs(lab: str, host: str | None = None) -> list[Path]:
    """The lab's (or one host's) cgroup directories that exist on this machine."""
    rel = Path("govnet", lab, *([host] if host else []))
    return [CGROUP_ROOT / c / rel for c in CGROUP_CONTROLLERS if (CGROUP_ROOT / c).is_dir()]
