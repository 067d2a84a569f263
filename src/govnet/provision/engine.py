"""Drive Pulumi through its Automation API: a local file backend, passphrase secrets, no cloud.

The project is ``<root>/stacks`` (Pulumi.yaml + __main__.py); each stack file there is the Pulumi
stack of the same name. Everything the engine writes lives in ``<root>/.govnet/`` (git-ignored):
the Pulumi state, the passphrase that encrypts its secrets (generated on first use, mode 0600),
and per stack the SSH key Ansible uses on the lab.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pulumi import automation as auto

from govnet.paths import Project

Say = Callable[[str], None]


def pulumi_bin(root: Path) -> Path | None:
    """The project's own Pulumi build (scripts/install-pulumi.sh), else one on PATH."""
    here = Path(__file__).resolve().parents[3]  # the checkout govnet runs from (editable install)
    for own in (root / ".tools" / "pulumi" / "bin", here / ".tools" / "pulumi" / "bin"):
        if (own / "pulumi").is_file():
            return own
    found = shutil.which("pulumi")
    return Path(found).parent if found else None


def environment(project: Project) -> dict[str, str]:
    bindir = pulumi_bin(project.root)
    if bindir is None:
        raise RuntimeError("the Pulumi CLI is not installed: run scripts/setup "
                           "(it builds Pulumi from its Go modules into .tools/pulumi)")
    backend = project.state / "pulumi"
    backend.mkdir(parents=True, exist_ok=True)
    # the language host runs __main__.py with the first python3 on PATH: this venv's
    path = os.pathsep.join([str(Path(sys.executable).parent), str(bindir), os.environ.get("PATH", "")])
    return {
        "PATH": path,
        "PULUMI_BACKEND_URL": backend.resolve().as_uri(),
        "PULUMI_CONFIG_PASSPHRASE": project.passphrase(),
        "PULUMI_HOME": str((project.state / "pulumi-home").resolve()),
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DIY_BACKEND_NO_LEGACY_WARNING": "true",
        "PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK": "true",
    }


def has_stack(project: Project) -> bool:
    """Whether the file backend holds a Pulumi stack of this name."""
    backend = project.state / "pulumi" / ".pulumi" / "stacks"
    return any(backend.glob(f"*/{project.name}.json")) or any(backend.glob(f"{project.name}.json"))


def stack(project: Project, config: dict[str, str] | None = None) -> auto.Stack:
    env = environment(project)
    command = auto.PulumiCommand(root=str(pulumi_bin(project.root).parent), skip_version_check=True)
    opts = auto.LocalWorkspaceOptions(work_dir=str(project.stack_dir), env_vars=env,
                                      secrets_provider="passphrase", pulumi_command=command,
                                      pulumi_home=env["PULUMI_HOME"])
    st = auto.create_or_select_stack(project.name, work_dir=str(project.stack_dir), opts=opts)
    if config:
        st.set_all_config({k: auto.ConfigValue(v) for k, v in config.items()})
    return st


def urns(st: auto.Stack) -> set[str]:
    """The URNs of the resources in the stack's state (empty for a new stack)."""
    deployment = st.export_stack().deployment or {}
    return {r["urn"] for r in deployment.get("resources") or []}


def recover(project: Project, st: auto.Stack, say: Say) -> None:
    """Make a stack usable after an interrupted run: remove locks of Pulumi processes that are
    gone, stop their orphaned plugins, and drop pending operations (the lab's operations are
    idempotent, so a pending create is simply done again)."""
    locks = project.state / "pulumi" / ".pulumi" / "locks"
    for lock in locks.glob(f"*/*/{project.name}/*.json"):
        try:
            pid = json.loads(lock.read_text()).get("pid")
        except (OSError, ValueError):
            continue
        if pid and not Path(f"/proc/{pid}").exists():
            say(f"  removing the lock of an interrupted Pulumi run (pid {pid})")
            lock.unlink(missing_ok=True)
            Path(str(lock) + ".attrs").unlink(missing_ok=True)
    bindir = pulumi_bin(project.root)
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        args = [a.decode(errors="replace") for a in argv[:4]]
        plugin = (any(a.startswith(f"{bindir}/pulumi-") for a in args[:2])
                  or (args[1:3] == ["-u", "-m"] and args[3:4] == ["pulumi.dynamic"]))
        if plugin and ppid == 1:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(proc.name), signal.SIGKILL)
    deployment = st.export_stack()
    pending = deployment.deployment.get("pending_operations") if deployment.deployment else None
    if pending:
        say(f"  dropping {len(pending)} pending operation(s) of an interrupted run")
        deployment.deployment["pending_operations"] = []
        st.import_stack(deployment)


# --- progress -----------------------------------------------------------------------------------

VERB = {"create": "creating", "delete": "deleting", "replace": "replacing", "update": "updating",
        "create-replacement": "creating", "delete-replaced": "deleting"}
KIND = {"LabHost": "host", "LabPort": "port", "LabCable": "cable", "LabGateway": "gateway",
        "LabFabric": "lab network", "SshHost": "ssh host", "WireGuardKeys": "keys"}


@dataclass
class Progress:
    """Turns Pulumi's engine events into one line per resource step, and counts them."""

    say: Say
    preview: bool = False
    #: a refresh only reads: a resource it drops was found gone from the machine, not deleted
    refresh: bool = False
    started: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @staticmethod
    def _label(urn: str) -> str:
        typ, name = urn.split("::")[-2:]
        cls = typ.split("$")[-1].split(":")[-1]
        return f"{KIND.get(cls, cls)} {name}"

    def __call__(self, ev: auto.EngineEvent) -> None:
        if ev.resource_pre_event:
            md = ev.resource_pre_event.metadata
            op = md.op.value if hasattr(md.op, "value") else str(md.op)
            if (op in {"same", "read", "refresh"} or md.type.startswith(("pulumi:", "govnet:"))
                    or self.refresh):
                return
            self.started[md.urn] = time.monotonic()
            if not ev.resource_pre_event.planning:
                self.say(f"  {VERB.get(op, op)} {self._label(md.urn)} …")
        elif ev.res_outputs_event:
            md = ev.res_outputs_event.metadata
            op = md.op.value if hasattr(md.op, "value") else str(md.op)
            if op in {"same", "refresh", "read"} or md.type.startswith(("pulumi:", "govnet:")):
                return
            if self.refresh:
                if op == "delete":
                    self.say(f"  gone    {self._label(md.urn)} (it is made again)")
                return
            self.counts[op] = self.counts.get(op, 0) + 1
            if self.preview:
                self.say(f"  + {op} {self._label(md.urn)}")
                return
            took = time.monotonic() - self.started.get(md.urn, time.monotonic())
            self.say(f"  {op:<7} {self._label(md.urn)} ({took:.1f} s)")
        elif ev.res_op_failed_event:
            md = ev.res_op_failed_event.metadata
            self.failed.append(self._label(md.urn))
        elif ev.diagnostic_event and ev.diagnostic_event.severity == "error":
            msg = ev.diagnostic_event.message.strip()
            # the program's own traceback only repeats the resource's error
            if msg and not msg.startswith(("Program failed", "update failed", "Traceback")):
                self.errors.append(msg.removeprefix("Exception calling application: "))


def summary(changes: dict | None) -> str:
    changes = changes or {}
    parts = [f"{v} {k}" for k, v in sorted(changes.items()) if k != "same"]
    same = changes.get("same", 0)
    return ", ".join([*parts, f"{same} unchanged"]) if parts else f"no changes ({same} unchanged)"
