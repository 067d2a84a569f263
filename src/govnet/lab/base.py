"""The shared Debian base every lab host boots from: built once with debootstrap, then cached.

The cache key covers everything that shapes the image (suite, mirror, packages, the tweaks below),
so changing any of them builds a new base beside the old one instead of silently reusing it.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from govnet.lab import layout
from govnet.lab.system import run

SUITE = "bookworm"
#: what every host needs before Ansible can reach and configure it, plus the few packages the
#: baseline, 等保 and firewall roles put on *every* host (time, logs, password quality, sudo,
#: nftables, dig): shared in the base, twelve hosts do not unpack the same packages at once on two
#: cores. The roles still ensure them, and install everything else (FRR, wireguard-go, …) for
#: real through the lab's package proxy.
PACKAGES = ("systemd", "systemd-sysv", "dbus", "openssh-server", "python3", "python3-apt",
            "iproute2", "iputils-ping", "procps", "ca-certificates",
            "chrony", "rsyslog", "libpam-pwquality", "sudo", "nftables", "bind9-dnsutils",
            "prometheus-node-exporter")
#: services a package above enables on install that only some hosts run: their roles enable them
DISABLED = ("prometheus-node-exporter.service",)
#: timers that would make hosts fetch packages or grind on their own during tests, and the
#: console login prompt (operators use SSH, or `govnet lab shell`)
MASKED = ("apt-daily.timer", "apt-daily-upgrade.timer", "dpkg-db-backup.timer", "e2scrub_all.timer",
          "fstrim.timer", "systemd-tmpfiles-clean.timer", "console-getty.service",
          "getty@.service")
#: bump when the tweaks in _customise change
RECIPE = 8

SSH_HOSTKEYS_DROPIN = """\
# govnet lab base: every host makes its own SSH host keys on first boot (the base has none)
[Service]
ExecStartPre=
ExecStartPre=/usr/bin/ssh-keygen -A
ExecStartPre=/usr/sbin/sshd -t
"""


def mirror() -> str:
    """The Debian mirror this machine uses (its deb822 sources), else deb.debian.org."""
    src = Path("/etc/apt/sources.list.d/debian.sources")
    if src.is_file():
        for line in src.read_text(encoding="utf-8").splitlines():
            if line.startswith("URIs:"):
                return line.split()[1]
    return "http://deb.debian.org/debian"


def cache_key() -> str:
    spec = {"suite": SUITE, "mirror": mirror(), "packages": PACKAGES, "masked": MASKED, "disabled": DISABLED,
            "recipe": RECIPE}
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:12]


def base_path() -> Path:
    return layout.root() / "base" / f"{SUITE}-{cache_key()}"


def ensure(progress: Callable[[str], None] = lambda _m: None) -> Path:
    """Return the cached base's root directory, building it first if there is none."""
    target = base_path()
    rootfs = target / "rootfs"
    if (target / "complete").is_file():
        return rootfs
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # hosts are provisioned in parallel: build once
        if (target / "complete").is_file():
            return rootfs
        building = target.with_name(target.name + ".building")
        shutil.rmtree(building, ignore_errors=True)
        building.mkdir()
        started = time.monotonic()
        progress(f"building the Debian {SUITE} base image (once, about 90 s)")
        run(["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}", SUITE,
             building / "rootfs", mirror()], timeout=1800)
        _customise(building / "rootfs")
        (building / "complete").write_text(f"built in {time.monotonic() - started:.0f} s\n")
        shutil.rmtree(target, ignore_errors=True)
        building.rename(target)
    return rootfs


def _customise(rootfs: Path) -> None:
    # one machine-id per host, made at its first boot
    (rootfs / "etc/machine-id").write_text("")
    dbus_id = rootfs / "var/lib/dbus/machine-id"
    dbus_id.unlink(missing_ok=True)
    dbus_id.parent.mkdir(parents=True, exist_ok=True)
    dbus_id.symlink_to("/etc/machine-id")
    # debootstrap copied the build machine's resolver: lab hosts must never be pointed outside
    # the lab (the baseline role points city hosts at the city's DNS)
    resolv = rootfs / "etc/resolv.conf"
    resolv.unlink(missing_ok=True)
    resolv.write_text("# lab base: no resolver until the baseline role names the city's DNS\n")
    for key in (rootfs / "etc/ssh").glob("ssh_host_*"):
        key.unlink()
    dropin = rootfs / "etc/systemd/system/ssh.service.d/govnet-hostkeys.conf"
    dropin.parent.mkdir(parents=True, exist_ok=True)
    dropin.write_text(SSH_HOSTKEYS_DROPIN)
    run(["systemctl", f"--root={rootfs}", "enable", "systemd-networkd.service", "ssh.service"])
    run(["systemctl", f"--root={rootfs}", "mask", *MASKED])
    run(["systemctl", f"--root={rootfs}", "disable", *DISABLED])
    run(["chroot", rootfs, "apt-get", "clean"])
