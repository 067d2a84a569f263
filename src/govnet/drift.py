"""Drift: is what runs what the stack says? One verdict for the whole city, text or JSON.

- **network devices** (routers, firewalls): the deploy diff (:func:`govnet.deploy.deploy_device`
  in check mode, no backup), running against the freshly rendered intended configuration;
- **Linux hosts**: Ansible's check and diff mode over ``playbooks/site.yml``
  (:func:`govnet.configure.run`), each task that would change reported with its diff, read from
  ansible-runner's events.

Secrets are masked in both (network diffs by :func:`govnet.deploy.mask`; Ansible hides the
``no_log`` tasks' output itself).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from govnet import deploy

Say = Callable[[str], None]


@dataclass
class HostDrift:
    host: str
    kind: str  # network | linux
    status: str  # in-step, differs, failed
    diff: list[str] = field(default_factory=list)
    tasks: list[str] = field(default_factory=list)  # linux: the tasks that would change
    error: str = ""


@dataclass
class Report:
    stack: str
    hosts: list[HostDrift] = field(default_factory=list)

    @property
    def drifted(self) -> list[HostDrift]:
        return [h for h in self.hosts if h.status != "in-step"]

    @property
    def failed(self) -> bool:
        return any(h.status == "failed" for h in self.hosts)

    def exit_code(self) -> int:
        if self.failed:
            return deploy.EXIT_FAILED
        return deploy.EXIT_DIFFERS if self.drifted else deploy.EXIT_OK

    def to_json(self) -> str:
        return json.dumps({"stack": self.stack, "in_step": not self.drifted,
                           "hosts": [asdict(h) for h in self.hosts]}, ensure_ascii=False, indent=2)

    def lines(self) -> list[str]:
        out = []
        for h in self.hosts:
            extra = f": {h.error}" if h.error else (f" ({len(h.tasks)} task(s))" if h.tasks else "")
            out.append(f"{h.host:<20} {h.kind:<8} {h.status}{extra}")
            out.extend(f"    would change: {t}" for t in h.tasks)
            out.extend(f"    {line}" for line in h.diff)
        verdict = ("in step" if not self.drifted else
                   f"DRIFT on {', '.join(sorted({h.host for h in self.drifted}))}")
        out.append(f"drift of {self.stack}: {verdict}")
        return out


def ansible_diffs(artifacts: Path) -> dict[str, list[tuple[str, list[str]]]]:
    """host -> [(task, diff lines)] for every task that would change, from the newest
    ansible-runner artifact folder's events."""
    runs = sorted((p for p in artifacts.glob("*") if (p / "job_events").is_dir()),
                  key=lambda p: p.stat().st_mtime)
    if not runs:
        return {}
    out: dict[str, list[tuple[str, list[str]]]] = {}
    events = sorted((runs[-1] / "job_events").glob("*.json"),
                    key=lambda p: int(p.name.split("-", 1)[0]) if p.name.split("-", 1)[0].isdigit() else 0)
    for path in events:
        ev = json.loads(path.read_text())
        data = ev.get("event_data", {})
        res = data.get("res") or {}
        if ev.get("event") != "runner_on_ok" or not res.get("changed"):
            continue
        lines: list[str] = []
        for d in (res.get("diff") if isinstance(res.get("diff"), list) else [res.get("diff") or {}]):
            if not isinstance(d, dict):
                continue
            if "before" in d or "after" in d:
                before, after = str(d.get("before", "")), str(d.get("after", ""))
                lines += difflib.unified_diff(before.splitlines(), after.splitlines(),
                                              str(d.get("before_header", "before")),
                                              str(d.get("after_header", "after")), n=1, lineterm="")
            elif d.get("prepared"):
                lines += str(d["prepared"]).splitlines()
        out.setdefault(data.get("host", "?"), []).append((data.get("task", ""), lines))
    return out


def _outputs(project) -> dict:
    """The Pulumi stack's outputs (the run-time secrets Ansible needs, such as WireGuard keys)."""
    from govnet.provision import engine

    if not engine.has_stack(project):
        return {}
    return {k: v.value for k, v in engine.stack(project).outputs().items()}


def linux(p: deploy.Plan, req: deploy.Request, secrets: deploy.Secrets, say: Say) -> list[HostDrift]:
    from govnet import configure, job, paths

    extravars = {**paths.ansible_vars(p.project), **(job.LAB_TIMINGS if req.platform == "lab" else {})}
    if secrets.values:
        extravars["govnet_vault"] = secrets.values
    conv = configure.run(p.project, req.platform, secrets=_outputs(p.project), limit=req.limit,
                         check=True, diff=True, extravars=extravars, say=lambda _m: None)
    changes = ansible_diffs(p.project.stack_state / "ansible" / "artifacts")
    out = []
    for host in p.hosts:
        st = conv.stats.get(host)
        found = changes.get(host, [])
        masked = [deploy.mask(line, secrets.values) for _t, lines in found for line in lines]
        if st is None or st["failed"] or st["unreachable"]:
            why = "; ".join(f for f in conv.failures if f.startswith(f"{host}:")) or "no result from Ansible"
            out.append(HostDrift(host, "linux", "failed", error=deploy.mask(why, secrets.values)[:500]))
        elif st["changed"]:
            out.append(HostDrift(host, "linux", "differs", masked, [t for t, _ in found]))
        else:
            out.append(HostDrift(host, "linux", "in-step"))
    return out


def run(stack_file: str | Path, req: deploy.Request, say: Say = print) -> Report:
    p = deploy.plan(stack_file, req.limit)
    say("==> render")
    deploy.render_configs(p, say)
    secrets = deploy.vault_settings(p, req.vault, req.vault_password_file)
    report = Report(p.project.name)
    say(f"==> network devices: {len(p.network)} (running against intended)")
    opts = deploy.Options(check=True, secrets=secrets, backups=None)
    for r in deploy.run(deploy.devices(p, req.platform), opts, lambda _m: None):
        status = {"in-step": "in-step", "differs": "differs"}.get(r.status, "failed")
        report.hosts.append(HostDrift(r.host, "network", status, r.diff, error=r.error))
    say(f"==> Linux hosts: {len(p.hosts)} (Ansible check and diff mode)")
    report.hosts.extend(linux(p, req, secrets, say))
    return report
