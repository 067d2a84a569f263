"""Network device drivers for ``govnet deploy``: one safe-change vocabulary on every platform.

The vocabulary is NAPALM's (``napalm/base/base.py``): :meth:`Driver.get_config`,
:meth:`Driver.load_replace_candidate`, :meth:`Driver.commit_config` with ``revert_in`` (a timer on
the device that restores the previous configuration unless confirmed), :meth:`Driver.confirm_commit`
and :meth:`Driver.rollback`. The deploy pipeline (:mod:`govnet.deploy`) only speaks this
vocabulary; platform quirks stay here.

- :class:`FrrDriver` runs shell commands over plain ``ssh`` (a Linux host with FRR): the candidate
  is applied with FRR's own ``frr-reload.py --reload``; the timer is a transient systemd timer
  (``systemd-run --on-active=S``) that reloads the saved previous configuration unless stopped.
  The confirmation comes over a *fresh* SSH connection: proof that the controller still reaches
  the device after the change.
- :class:`VrpDriver` (Huawei VRP8: ``commit trial N`` then ``commit``), :class:`ComwareDriver`
  (H3C Comware 7: ``configuration commit delay N`` then ``configuration commit``) and
  :class:`IosXeDriver` (Cisco IOS XE: ``configure replace … time N`` then ``configure confirm``)
  talk to an interactive CLI through a :class:`Channel`: prompts, ``---- More ----`` paging and
  error lines are handled here. The channel is an SSH terminal (:class:`SshChannel`) on real
  devices, or a recorded session replayed in the tests (``tests/sessions/``).
"""

from __future__ import annotations

import contextlib
import re
import shlex
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass


class DeviceError(RuntimeError):
    """The device refused a command (its error text is the message)."""


class UnreachableError(DeviceError):
    """The controller cannot reach the device (SSH failed to connect or the session broke)."""


# ------------------------------------------------------------------ FRR over ssh


@dataclass
class SshTransport:
    """One command per SSH connection, to ``root@address`` with the stack's key and options.

    Every call is a new connection (``ControlPath=none``): nothing is multiplexed over an older
    session, so a successful call proves the device is reachable *now*."""

    address: str
    ssh_args: Sequence[str]
    connect_timeout: int = 5

    def run(self, command: str, stdin: str | None = None, timeout: float = 60) -> str:
        argv = ["ssh", *self.ssh_args, "-o", "BatchMode=yes", "-o", "ControlPath=none",
                "-o", f"ConnectTimeout={self.connect_timeout}", "-o", "ServerAliveInterval=2",
                "-o", "ServerAliveCountMax=2", f"root@{self.address}", command]
        try:
            proc = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=timeout,
                                  check=False)
        except subprocess.TimeoutExpired:
            raise UnreachableError(f"{self.address}: no answer within {timeout:.0f} s") from None
        if proc.returncode == 255:  # ssh's own failure: no connection, or it broke
            raise UnreachableError(f"{self.address}: {proc.stderr.strip()[-300:] or 'ssh failed'}")
        if proc.returncode != 0:
            raise DeviceError(f"{self.address}: exit {proc.returncode}: {proc.stderr.strip()[-500:]}")
        return proc.stdout


#: where the FRR driver keeps its files on the device (root only)
FRR_DIR = "/var/lib/govnet/deploy"
FRR_RELOAD = "/usr/lib/frr/frr-reload.py"
#: the transient systemd units of the revert timer
REVERT_UNIT = "govnet-deploy-revert"
#: what the router role writes on top of /etc/frr/frr.conf (ansible_managed as a "! " comment)
FRR_FILE_HEADER = "!\n! Ansible managed\n!\n"
#: what the revert does: the saved running configuration back, and /etc/frr/frr.conf as it was
_RESTORE = (f"{FRR_RELOAD} --reload {FRR_DIR}/rollback.conf && "
            f"install -o frr -g frr -m 0640 {FRR_DIR}/frr.conf.before /etc/frr/frr.conf")


class Driver:
    """NAPALM's safe-change vocabulary; each platform implements it."""

    platform = ""

    def pending_commit(self) -> bool:
        """A change of an earlier run is still waiting for its confirmation (its timer runs)."""
        raise NotImplementedError

    def get_config(self) -> str:
        raise NotImplementedError

    def load_replace_candidate(self, config: str) -> None:
        raise NotImplementedError

    def commit_config(self, revert_in: int) -> None:
        raise NotImplementedError

    def confirm_commit(self) -> None:
        raise NotImplementedError

    def rollback(self) -> None:
        raise NotImplementedError

    def probe(self) -> None:
        """Reach the device over a new connection (raise :class:`UnreachableError` if not)."""
        raise NotImplementedError

    def timer(self, revert_in: int) -> int:
        """The revert time the device really runs for a requested ``revert_in`` (vendors round)."""
        return revert_in

    def close(self) -> None:
        pass


class FrrDriver(Driver):
    """FRR on a Linux host, through ``transport`` (a new SSH connection per call)."""

    platform = "frr"

    def __init__(self, transport: SshTransport):
        self.t = transport

    def get_config(self) -> str:
        return self.t.run("vtysh -c 'show running-config'")

    def probe(self) -> None:
        self.t.run("true", timeout=15)

    def pending_commit(self) -> bool:
        out = self.t.run(f"systemctl is-active {REVERT_UNIT}.timer || true")
        return out.strip() in ("active", "activating")

    def load_replace_candidate(self, config: str) -> None:
        """Put the candidate on the device (root-only file) and have FRR's parser check it."""
        self.t.run(f"umask 077 && mkdir -p {FRR_DIR} && cat > {FRR_DIR}/candidate.conf && "
                   f"vtysh --dryrun --inputfile {FRR_DIR}/candidate.conf >/dev/null", stdin=config)

    def commit_config(self, revert_in: int) -> None:
        """Save the running configuration, arm the revert timer, then replace the running
        configuration with the candidate (``frr-reload.py --reload``: FRR computes and applies the
        difference, the whole configuration is replaced)."""
        if not 10 <= revert_in <= 3600:
            raise ValueError("the confirm timeout must be 10..3600 seconds")
        script = f"""set -e
umask 077
test -x {FRR_RELOAD} || {{ echo "{FRR_RELOAD} is missing (Debian package frr-pythontools)" >&2; exit 3; }}
# without the header of 'show running-config', which frr-reload.py would misread
vtysh -c 'show running-config' | sed -e '/^Building configuration/d' -e '/^Current configuration:/d' \
  > {FRR_DIR}/rollback.conf
test -s {FRR_DIR}/rollback.conf
# frr-reload.py writes the running configuration into /etc/frr/frr.conf after a reload from
# another file: the revert puts the file back as it was
cp -p /etc/frr/frr.conf {FRR_DIR}/frr.conf.before
systemctl stop {REVERT_UNIT}.timer {REVERT_UNIT}.service 2>/dev/null || true
systemctl reset-failed {REVERT_UNIT}.timer {REVERT_UNIT}.service 2>/dev/null || true
systemd-run --quiet --collect --unit={REVERT_UNIT} --on-active={revert_in} \\
  --description='govnet deploy: restore the previous FRR configuration unless confirmed' \\
  /bin/sh -c '{_RESTORE} > {FRR_DIR}/revert.log 2>&1'
systemctl is-active --quiet {REVERT_UNIT}.timer
{FRR_RELOAD} --reload {FRR_DIR}/candidate.conf > {FRR_DIR}/reload.log 2>&1 || {{
  tail -5 {FRR_DIR}/reload.log >&2; exit 4; }}
"""
        self.t.run(script, timeout=120)

    def confirm_commit(self) -> None:
        """On a fresh connection: the device answers ``show running-config``; then the timer is
        cancelled and the new configuration becomes the boot configuration. A timer that has
        already fired means the device rolled back: :class:`DeviceError`."""
        script = f"""set -e
vtysh -c 'show running-config' > /dev/null
if ! systemctl is-active --quiet {REVERT_UNIT}.timer; then
  echo "no revert timer runs: the device already rolled back" >&2; exit 5
fi
systemctl stop {REVERT_UNIT}.timer
umask 077
{{ printf '{FRR_FILE_HEADER.replace(chr(10), chr(92) + 'n')}'; cat {FRR_DIR}/candidate.conf; }} \
  > {FRR_DIR}/frr.conf.new
if ! cmp -s {FRR_DIR}/frr.conf.new /etc/frr/frr.conf; then
  install -o frr -g frr -m 0640 {FRR_DIR}/frr.conf.new /etc/frr/frr.conf
fi
rm -f {FRR_DIR}/frr.conf.new {FRR_DIR}/candidate.conf
echo confirmed
"""
        out = self.t.run(script, timeout=30)
        if "confirmed" not in out:
            raise DeviceError(f"{self.t.address}: confirmation not acknowledged")

    def rollback(self) -> None:
        """Restore the configuration saved by :meth:`commit_config` now (the timer's job, early)."""
        self.t.run(f"set -e; systemctl stop {REVERT_UNIT}.timer 2>/dev/null || true; "
                   f"{_RESTORE} > {FRR_DIR}/reload.log 2>&1; rm -f {FRR_DIR}/candidate.conf", timeout=120)


# ------------------------------------------------------------------ vendor CLIs


class Channel:
    """An interactive CLI session: what was typed goes in, what the device printed comes out."""

    def send(self, line: str) -> str:
        """Type ``line`` and Enter; return what the device printed up to its next prompt (or a
        paging prompt)."""
        raise NotImplementedError

    def put(self, path: str, text: str) -> None:
        """Copy ``text`` to the device's file ``path`` (SFTP on a real device)."""
        raise NotImplementedError

    def close(self) -> None:
        pass


@dataclass(frozen=True)
class CliDialect:
    """A vendor CLI's prompts and messages, as data."""

    prompt: str  # regex of a prompt at the end of the output
    more: str  # the paging prompt
    error: str  # regex of a line that means the command was refused
    candidate: str  # the candidate file on the device
    question: str = r"\[Y/N\]:?\s*$|\[yes/no\]:?\s*$"  # a confirmation the device asks for


class CliDriver(Driver):
    """The shared machinery of the vendor drivers: commands, paging, errors."""

    dialect: CliDialect
    show_running = ""

    def __init__(self, channel: Channel, *, reconnect: Callable[[], Channel] | None = None):
        self.ch = channel
        self.reconnect = reconnect

    def pending_commit(self) -> bool:
        """Vendor devices keep their own trial state: a trial of an earlier run that is still
        pending makes the next commit fail with the device's error, which deploy reports."""
        return False

    def cmd(self, line: str) -> str:
        """One command: page through ``---- More ----`` with a space, answer the device's
        yes/no question with ``Y``, strip the prompt, raise :class:`DeviceError` on an error line."""
        out = self.ch.send(line)
        more, question = re.compile(self.dialect.more), re.compile(self.dialect.question)
        while True:
            last = out.rstrip("\n").splitlines()[-1] if out.strip() else ""
            if more.search(last):
                out = more.sub("", out.rstrip()).rstrip("\n") + "\n" + self.ch.send(" ")
            elif question.search(last):
                out = out.rstrip("\n") + "\n" + self.ch.send("Y")
            else:
                break
        lines = out.replace("\r", "").splitlines()
        if lines and line and lines[0].strip() == line.strip():
            lines = lines[1:]  # the echo
        if lines and re.search(self.dialect.prompt, lines[-1]):
            lines = lines[:-1]
        text = "\n".join(more.sub("", ln).rstrip() if more.search(ln) else ln for ln in lines)
        bad = [ln for ln in lines if re.search(self.dialect.error, ln)]
        if bad:
            raise DeviceError(f"{line!r}: {' '.join(b.strip() for b in bad)}")
        return text

    def get_config(self) -> str:
        return self.cmd(self.show_running)

    def load_replace_candidate(self, config: str) -> None:
        self.ch.put(self.dialect.candidate, config)

    def probe(self) -> None:
        """A new session (the old one may have broken with the change)."""
        if self.reconnect is None:
            raise UnreachableError("no way to open a new session")
        with contextlib.suppress(Exception):  # a broken session may fail to close
            self.ch.close()
        self.ch = self.reconnect()

    def confirm_commit(self) -> None:
        self.probe()  # the proof: a fresh session after the change
        self._confirm()

    def _confirm(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self.ch.close()


class VrpDriver(CliDriver):
    """Huawei VRP8 (V800R0xx) in two-stage commit mode: the candidate file replaces the
    configuration in the system view, ``commit trial S`` applies it with a revert timer (60..65535
    s), ``commit`` in the trial confirms, ``abort trial`` rolls back at once."""

    platform = "huawei-vrp"
    dialect = CliDialect(prompt=r"^[<\[][~*]?[\w.\-]+[>\]]\s*$", more=r"\s*---- More ----\s*$",
                         error=r"^\s*Error:", candidate="cfcard:/govnet-candidate.cfg")
    show_running = "display current-configuration"

    in_trial = False

    def timer(self, revert_in: int) -> int:
        return min(max(60, revert_in), 65535)

    def commit_config(self, revert_in: int) -> None:
        self.in_trial = False
        self.cmd("system-view")
        self.cmd(f"load configuration file {self.dialect.candidate.split(':/')[-1]} replace")
        self.cmd(f"commit trial {self.timer(revert_in)}")
        self.in_trial = True
        self.cmd("return")

    def _confirm(self) -> None:
        self.cmd("system-view")
        self.cmd("commit")
        self.cmd("return")

    def rollback(self) -> None:
        """In a trial: ``abort trial``; before it (the load failed, still in the system view):
        drop the uncommitted candidate."""
        if self.in_trial:
            self.cmd("system-view")
            self.cmd("abort trial")
        else:
            self.cmd("clear configuration candidate")
        self.cmd("return")


class ComwareDriver(CliDriver):
    """H3C Comware 7.1: ``configuration commit delay M`` (minutes) arms the revert, then
    ``configuration replace file`` replaces the running configuration; ``configuration commit``
    confirms. Comware has no "abort": a rollback replaces with the saved previous file."""

    platform = "h3c-comware"
    dialect = CliDialect(prompt=r"^[<\[][\w.\-]+[>\]]\s*$", more=r"\s*---- More ----\s*$",
                         error=r"^\s*(% |Error)", candidate="flash:/govnet-candidate.cfg")
    show_running = "display current-configuration"
    previous = "flash:/govnet-previous.cfg"

    def timer(self, revert_in: int) -> int:
        return max(1, -(-revert_in // 60)) * 60

    def commit_config(self, revert_in: int) -> None:
        self.cmd(f"save {self.previous}")
        self.cmd("system-view")
        self.cmd(f"configuration commit delay {self.timer(revert_in) // 60}")
        self.cmd(f"configuration replace file {self.dialect.candidate}")
        self.cmd("return")

    def _confirm(self) -> None:
        self.cmd("system-view")
        self.cmd("configuration commit")
        self.cmd("return")

    def rollback(self) -> None:
        """Replace with the configuration saved before the change (from the system view)."""
        self.cmd(f"configuration replace file {self.previous}")
        self.cmd("return")


class IosXeDriver(CliDriver):
    """Cisco IOS XE 17: ``configure replace bootflash:… force time M`` (minutes; needs the
    ``archive`` feature) reverts unless ``configure confirm``; ``configure revert now`` rolls back."""

    platform = "cisco-ios"
    dialect = CliDialect(prompt=r"^[\w.\-]+(\([\w\-]+\))?#\s*$", more=r"\s*--More--\s*$",
                         error=r"^\s*%\s*(Invalid|Incomplete|Ambiguous|Error|Failed|Rollback aborted)",
                         candidate="bootflash:govnet-candidate.cfg")
    show_running = "show running-config"

    def timer(self, revert_in: int) -> int:
        return max(1, -(-revert_in // 60)) * 60

    def commit_config(self, revert_in: int) -> None:
        self.cmd(f"configure replace {self.dialect.candidate} force time {self.timer(revert_in) // 60}")

    def _confirm(self) -> None:
        self.cmd("configure confirm")

    def rollback(self) -> None:
        self.cmd("configure revert now")


VENDOR_DRIVERS: dict[str, type[CliDriver]] = {
    d.platform: d for d in (VrpDriver, ComwareDriver, IosXeDriver)}


class SshChannel(Channel):
    """An interactive SSH terminal to a vendor device (pexpect), for real devices. Never run
    against a device here: the lab has none; the drivers are tested against recorded sessions."""

    def __init__(self, address: str, user: str, ssh_args: Sequence[str], dialect: CliDialect,
                 timeout: float = 30):
        import pexpect

        self.address, self.user, self.ssh_args, self.dialect = address, user, list(ssh_args), dialect
        self.p = pexpect.spawn("ssh", [*self.ssh_args, "-tt", f"{user}@{address}"], encoding="utf-8",
                               timeout=timeout)
        self.p.expect([re.compile(dialect.prompt, re.M)])

    def send(self, line: str) -> str:
        import pexpect

        self.p.send(line if line == " " else line + "\n")
        try:
            self.p.expect([re.compile(self.dialect.prompt, re.M), re.compile(self.dialect.more),
                           re.compile(self.dialect.question)])
        except (pexpect.EOF, pexpect.TIMEOUT) as exc:
            raise UnreachableError(f"{self.address}: session lost ({type(exc).__name__})") from None
        return self.p.before + self.p.after

    def put(self, path: str, text: str) -> None:
        import tempfile

        with tempfile.NamedTemporaryFile("w", suffix=".cfg") as f:
            f.write(text)
            f.flush()
            remote = path.split(":", 1)[-1].lstrip("/")
            proc = subprocess.run(["scp", *self.ssh_args, "-q", f.name,
                                   f"{self.user}@{self.address}:{shlex.quote(remote)}"],
                                  capture_output=True, text=True, timeout=120, check=False)
            if proc.returncode:
                raise DeviceError(f"{self.address}: copying the candidate failed: {proc.stderr[-300:]}")

    def close(self) -> None:
        self.p.close(force=True)


def wait_reachable(probe: Callable[[], object], deadline: float, pause: float = 2) -> bool:
    """Call ``probe`` until it succeeds or ``deadline`` (monotonic) passes."""
    while True:
        try:
            probe()
            return True
        except UnreachableError:
            if time.monotonic() + pause > deadline:
                return False
            time.sleep(pause)
