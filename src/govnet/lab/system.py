"""Running the machine's tools (ip, mount, debootstrap) with errors that say what failed."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path


class LabError(RuntimeError):
    """A lab operation failed; the message says which command and why."""


def run(cmd: Sequence[str | os.PathLike], *, check: bool = True, input: str | None = None,
        timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``cmd``; on failure raise :class:`LabError` carrying its stderr."""
    argv = [str(c) for c in cmd]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, input=input, timeout=timeout,
                              check=False)
    except FileNotFoundError as exc:
        raise LabError(f"{argv[0]} is not installed: run scripts/setup") from exc
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"{' '.join(argv)} did not finish within {timeout:.0f} s") from exc
    if check and proc.returncode != 0:
        raise LabError(f"{' '.join(argv)} failed ({proc.returncode}): "
                       f"{(proc.stderr or proc.stdout).strip()}")
    return proc


def ip(*args: str, netns: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """``ip`` in the machine's namespace or, with ``netns``, inside that network namespace."""
    return run(["ip", *(["-n", netns] if netns else []), *args], check=check)


def netns_exists(name: str) -> bool:
    return Path("/run/netns", name).exists()


def link_exists(name: str, netns: str | None = None) -> bool:
    return ip("link", "show", "dev", name, netns=netns, check=False).returncode == 0


def mounted(path: Path) -> bool:
    """Whether ``path`` is a mount point (read from /proc/mounts, not stat: overlays hide it)."""
    target = str(path)
    with open("/proc/mounts", encoding="utf-8") as f:
        return any(line.split()[1] == target for line in f)


def mounts_under(root: Path) -> list[str]:
    """Mount points at or below ``root``, deepest first (the order to unmount them in)."""
    prefix = str(root).rstrip("/") + "/"
    with open("/proc/mounts", encoding="utf-8") as f:
        points = [line.split()[1] for line in f]
    found = [p for p in points if p == str(root) or p.startswith(prefix)]
    return sorted(set(found), key=lambda p: p.count("/"), reverse=True)


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie is not alive
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def require_root() -> None:
    if os.geteuid() != 0:
        raise LabError("the lab needs root (network namespaces, mounts, systemd-nspawn): run as root")
