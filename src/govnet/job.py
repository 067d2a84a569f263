"""The main job: validate → provision (Pulumi) → configure (Ansible) → verify (testinfra).

``up`` runs the four phases and stops at the first that fails, with a summary either way; ``down``
destroys the Pulumi stack and then sweeps the lab, so it cleans up after a failed or interrupted
``up`` too. Every phase prints its progress through ``say``.

A ``limit`` (Ansible-style: comma-separated host and group names) is checked against the stack
right after validation (:func:`select_hosts`); a limited run renders, provisions, configures and
verifies the selected hosts only.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass, field
from pathlib import Path

from govnet import deploy, paths
from govnet.diagnostics import Diagnostic, StackError, closest
from govnet.pipeline import Compiled, LockMode, compile_stack

Say = Callable[[str], None]


class JobError(RuntimeError):
    """A phase failed; the message says which and why (details were printed as they happened)."""


@dataclass(frozen=True)
class Selection:
    """The hosts a run touches: ``limit`` as Ansible and the checks get it (None: every host)."""

    limit: str | None
    hosts: list[str]


#: characters of Ansible host patterns (intersections, exclusions, wildcards, regexes, ranges)
#: that provisioning, rendering and the checks could not follow: a limit names hosts and groups
_PATTERN = set(":!&*?[]~")


def select_hosts(compiled: Compiled, limit: str | None) -> Selection:
    """Check ``limit`` against the stack's hosts and inventory groups and resolve it.

    Raises :class:`StackError` (exit 2) for a name that is neither a host nor a group — with the
    closest name ("did you mean") — or for a limit of no name at all, so a mistyped limit stops
    before anything runs instead of provisioning the city and configuring nothing. A limit that
    passes selects at least one host: every group the inventory makes holds one (a group is made
    by adding a host to it, a site has devices; tests/test_errors.py checks it on every stack).
    ``all`` is every host, as in Ansible; blanks around the commas are dropped."""
    from govnet import inventory

    design = compiled.design
    parts = [part.strip() for part in (limit or "").split(",")]
    parts = [part for part in parts if part]
    if not limit or "all" in parts:
        return Selection(None, list(design.hosts))
    groups = inventory.build(compiled.vs, design).groups
    names = [*design.hosts, *groups]
    problems = []
    for part in parts:
        if part in design.hosts or part in groups:
            continue
        hint = closest(part, names)
        pattern = _PATTERN & set(part)
        problems.append(Diagnostic(
            str(compiled.path), 0, 0, "unknown-limit",
            f"--limit {part!r} is neither a host nor a group of {compiled.name}"
            + (f" (host patterns with {''.join(sorted(pattern))!r} are not supported)" if pattern else ""),
            f"did you mean {hint!r}?" if hint else
            "a limit is comma-separated host and group names: county_<county>, site_<site>, "
            "role_<role>, service_<service>, … ('ansible-inventory -i STACK --graph' lists them)"))
    if not parts:
        problems.append(Diagnostic(str(compiled.path), 0, 0, "unknown-limit",
                                   f"--limit {limit!r} names no host or group",
                                   "give host or group names, e.g. --limit county_<county>"))
    if problems:
        raise StackError(problems)
    normalized = ",".join(parts)
    return Selection(normalized, inventory.select(compiled.vs, design, normalized))


def verify_problem(ver, limit: str | None = None) -> str:
    """Why a verify run (a :class:`govnet.verify.Verified`) does not count as a pass; "" when it
    does. A run that passed no check verified nothing, so it fails too."""
    if ver.failed:
        return f"verification failed: {len(ver.failed)} test(s)"
    if ver.exit_code not in (0, 5):  # 5: pytest collected no test, judged below
        return f"verification failed (pytest exit {ver.exit_code})"
    if ver.passed == 0:
        skipped = f", {ver.skipped} skipped" if ver.skipped else ""
        return (f"verification ran no check{f' on {limit}' if limit else ''} (0 passed{skipped}): "
                "nothing was verified")
    return ""


@dataclass
class Summary:
    stack: str
    platform: str
    hosts: int = 0  # the hosts the run touched (the limit's, else every host of the stack)
    limit: str | None = None
    changed: int = 0
    configured_hosts: list[str] = field(default_factory=list)
    changed_hosts: list[str] = field(default_factory=list)
    failed_hosts: list[str] = field(default_factory=list)
    provisioned: str = ""
    check: bool = False
    tests_passed: int = 0
    tests_failed: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    ok: bool = False

    def lines(self) -> list[str]:
        secs = ", ".join(f"{k} {v:.0f} s" for k, v in self.seconds.items())
        mode = ", check mode: nothing was changed" if self.check else ""
        limit = f" (--limit {self.limit})" if self.limit else ""
        # a phase that did not run claims nothing (a run stopped at validate changed no host)
        configured = ("  configured: not run" if "configure" not in self.seconds else
                      f"  configured: {'would change' if self.check else 'changed'}={self.changed}"
                      + (f" on {', '.join(self.changed_hosts)}" if self.changed_hosts
                         else f" on every host ({len(self.configured_hosts)})")
                      + (f"; failed on {', '.join(self.failed_hosts)}" if self.failed_hosts else ""))
        verified = ("  verified: not run" if "verify" not in self.seconds else
                    f"  verified: {self.tests_passed} tests passed, {self.tests_failed} failed")
        return [f"summary of {self.stack} ({self.platform}{mode}): {'OK' if self.ok else 'FAILED'}",
                f"  hosts: {self.hosts}{limit}; provisioned: {self.provisioned or '-'}",
                configured, verified, f"  time: {secs}"]


def _phase(summary: Summary, name: str, say: Say):
    class _Timer:
        def __enter__(self):
            self.t = time.monotonic()
            say(f"==> {name}")
            return self

        def __exit__(self, *_exc):
            summary.seconds[name] = round(time.monotonic() - self.t, 1)
            return False
    return _Timer()


def _lab_config(compiled: Compiled, project, say: Say) -> dict[str, str]:
    from govnet.lab import base, topology
    from govnet.lab.system import require_root

    require_root()
    problems = topology.problems(compiled.design)
    if problems:
        raise JobError(f"{compiled.name} cannot run as a lab:\n  " + "\n  ".join(problems)
                       + "\n  use --platform ssh for real hosts")
    return {"govnet:platform": "lab", "govnet:base": str(base.ensure(say)),
            "govnet:sshPublicKey": project.ssh_key().with_suffix(".pub").read_text().strip()}


def provision(compiled: Compiled, platform: str, say: Say, *, preview: bool = False,
              hosts: Collection[str] | None = None):
    """Pulumi up (or preview) of the stack; with ``hosts``, of those hosts only: only their
    resources and the shared ones they need are refreshed and updated
    (:func:`govnet.provision.program.targets`)."""
    from pulumi import automation as auto

    from govnet.provision import engine, program

    project = paths.Project(compiled.path)
    config = (_lab_config(compiled, project, say) if platform == "lab"
              else {"govnet:platform": platform})
    st = engine.stack(project, config)
    engine.recover(project, st, say)
    progress = engine.Progress(say, preview=preview)
    targets = None
    if hosts is not None and set(hosts) != set(compiled.design.hosts):
        existing = engine.urns(st)
        limited = program.targets(compiled, platform, hosts, stack=st.name,
                                  project=st.workspace.project_settings().name, existing=existing)
        targets = limited.urns
        say(f"  limited to {len(targets)} resource(s): {len(hosts)} host(s), their sites, links"
            + (" and the lab's shared network" if platform == "lab" else ""))
        for link_id, far in limited.skipped:
            say(f"  not cabled: {link_id} ({far} is outside the limit and not provisioned: "
                "run 'govnet up' without --limit first)")
    try:
        if preview:
            res = st.preview(on_event=progress, diff=False, target=targets)
            return res.change_summary, {k: v.value for k, v in st.outputs().items()}
        if targets is None:
            # refresh first: what died or vanished from the machine is created again
            res = st.up(on_event=progress, continue_on_error=True, refresh=platform == "lab")
        else:
            # the same for the limited resources only (a refresh target must be in the state)
            known = [u for u in targets if u in existing]
            if platform == "lab" and known:
                st.refresh(on_event=engine.Progress(say, refresh=True), target=known)
            res = st.up(on_event=progress, continue_on_error=True, target=targets)
    except auto.CommandError as exc:
        detail = "\n".join(progress.errors) or str(exc).strip()[-3000:]
        failed = f" ({', '.join(progress.failed)})" if progress.failed else ""
        raise JobError(f"provisioning failed{failed}:\n{detail}") from None
    outputs = {k: v.value for k, v in res.outputs.items()}
    return res.summary.resource_changes, outputs


#: the lab watches closely, so a link cut shows in seconds rather than minutes
LAB_TIMINGS = {"monitoring__scrape_interval": "5s", "monitoring__alert_for": "5s",
               "monitoring__alert_group_wait": "5s", "monitoring__alert_group_interval": "15s"}


@dataclass
class _Run:
    """What the phases of one :func:`up` share: the stack, its options and the summary they fill."""

    stack_file: str | Path
    project: paths.Project
    platform: str
    check: bool
    say: Say
    summary: Summary
    limit: str | None = None  # as the validate phase resolved it
    vault: str | None = None  # the city's ansible-vault file (default secrets/<city>.vault.yml)
    vault_password_file: str | None = None  # default $GOVNET_VAULT_PASSWORD_FILE
    secrets: deploy.Secrets = field(default_factory=deploy.Secrets)  # read by validate

    def extravars(self) -> dict:
        """What the configure phase gives Ansible: the state paths, the lab's timings and, when
        the vault holds any, the city's secrets as ``govnet_vault`` (the roles read them from
        there: the router's and the monitoring role's SNMPv3 keys). They travel in
        ansible-runner's env/ folder, which :func:`govnet.configure.run` removes after the run."""
        out = {**paths.ansible_vars(self.project), **(LAB_TIMINGS if self.platform == "lab" else {})}
        if self.secrets.values:
            out["govnet_vault"] = dict(self.secrets.values)
        return out


def up(stack_file: str | Path, *, platform: str = "lab", limit: str | None = None,
       verify_after: bool = True, check: bool = False, configure_after: bool = True,
       vault: str | None = None, vault_password_file: str | None = None,
       say: Say = print) -> Summary:
    """Bring the stack up, configure and verify it. Raises :class:`JobError` on a failed phase,
    after printing the summary of what ran, and :class:`govnet.deploy.SecretError` when the city's
    vault (``vault``, default ``secrets/<city>.vault.yml``) cannot be read: in the validate phase,
    before anything is provisioned.

    With ``check``, nothing changes: provisioning is previewed, and when every host already
    exists Ansible runs in check and diff mode to show what it would change."""
    summary = Summary(Path(stack_file).stem, platform, check=check)
    run = _Run(stack_file, paths.Project(Path(stack_file)), platform, check, say, summary,
               vault=vault, vault_password_file=vault_password_file)
    try:
        compiled, only = _validate_phase(run, limit)
        _render_phase(run, compiled, only)
        changes, outputs = _provision_phase(run, compiled, only)
        if not configure_after:
            summary.ok = True
            return summary
        if check and any(op != "same" for op in changes or {}):
            say("  the hosts are not all provisioned: configuration can only be checked on "
                "existing hosts (run 'govnet up' first)")
            summary.ok = True
            return summary
        _configure_phase(run, outputs)
        if not check:
            _deploy_phase(run)
        if verify_after and not check:
            _verify_phase(run)
        summary.ok = True
    finally:
        for line in summary.lines():
            say(line)
        _record(run.project, summary)
    return summary


def _validate_phase(run: _Run, limit: str | None) -> tuple[Compiled, set[str] | None]:
    """Compile the stack, read the city's vault and resolve ``limit``: the design, and the
    selected hosts (None: every host, as without a limit)."""
    with _phase(run.summary, "validate", run.say):
        compiled = compile_stack(run.stack_file, LockMode.READ)
        run.say(f"  {len(compiled.design.hosts)} hosts, {len(compiled.vs.sites)} sites, "
                f"{len(compiled.vs.stack.links)} links: valid")
        run.secrets = deploy.city_secrets(run.project, compiled, run.vault, run.vault_password_file)
        if run.secrets.values:
            run.say(f"  the city's vault: {len(run.secrets.values)} secret(s)")
        selection = select_hosts(compiled, limit)
        run.limit = run.summary.limit = selection.limit
        run.summary.hosts = len(selection.hosts)
        if run.limit:
            run.say(f"  --limit {run.limit}: {run.summary.hosts} host(s): {', '.join(selection.hosts)}")
    return compiled, set(selection.hosts) if run.limit else None


def _render_phase(run: _Run, compiled: Compiled, only: set[str] | None) -> None:
    """Write the device configurations (of the selected hosts) under the project's configs."""
    from govnet import render

    with _phase(run.summary, "render", run.say):
        configs = run.project.configs
        files = render.render(compiled.design,
                              management_supernet=compiled.vs.stack.address_plan.management,
                              hosts=only)
        render.write(files, configs, hosts=only)
        run.say(f"  {len(files)} device configuration(s) in {configs}")


def _provision_phase(run: _Run, compiled: Compiled, only: set[str] | None):
    """Pulumi up (preview in check mode); return the resource changes and the stack outputs."""
    from govnet.provision import engine

    with _phase(run.summary, "provision", run.say):
        changes, outputs = provision(compiled, run.platform, run.say, preview=run.check, hosts=only)
        run.summary.provisioned = engine.summary(changes)
        run.say(f"  {run.summary.provisioned}")
    return changes, outputs


def _configure_phase(run: _Run, outputs: dict) -> None:
    """Run the playbook (in check and diff mode with ``check``) and put its recap in the summary."""
    from govnet import configure

    summary, say = run.summary, run.say
    with _phase(summary, "configure", say):
        conv = configure.run(run.project, run.platform, secrets=outputs, limit=run.limit, say=say,
                             check=run.check, diff=run.check, extravars=run.extravars())
        summary.changed = conv.changed
        for host in sorted(conv.stats):
            st = conv.stats[host]
            say(f"  {host:<20} ok={st['ok']:<3} changed={st['changed']:<3} "
                f"failed={st['failed']} unreachable={st['unreachable']}")
        summary.configured_hosts = sorted(conv.stats)
        summary.changed_hosts = sorted(h for h, s in conv.stats.items() if s["changed"])
        summary.failed_hosts = sorted(h for h, s in conv.stats.items()
                                      if s["failed"] or s["unreachable"])
        if not conv.ok:
            raise JobError("configuration failed:\n  " + "\n  ".join(conv.failures[:20]))


def _deploy_phase(run: _Run) -> None:
    """Bring the FRR devices' running configuration in line with the rendered one (``govnet
    deploy``'s pipeline: backup, diff, replace with a revert timer, confirm): the router role
    only reloads FRR when /etc/frr/frr.conf changes, so a change made by hand in vtysh stays
    until this phase. Vendor devices are left to ``govnet deploy``."""
    with _phase(run.summary, "deploy", run.say):
        p = deploy.plan(run.stack_file, run.limit)
        p.network = [h for h in p.network if p.compiled.design.hosts[h].platform == "frr"]
        opts = deploy.Options(confirm_timeout=120, backups=deploy.Backups(p.project.stack_state / "backups"),
                              secrets=run.secrets)
        results = deploy.run(deploy.devices(p, run.platform), opts, run.say)
        failed = [r.host for r in results if not r.ok]
        if failed:
            raise JobError(f"deploy failed on {', '.join(failed)}")


def _verify_phase(run: _Run) -> None:
    """The testinfra suite on the (selected) hosts; its counts go to the summary."""
    from govnet import verify

    with _phase(run.summary, "verify", run.say):
        ver = verify.run(run.project, run.platform, limit=run.limit, say=run.say)
        run.summary.tests_passed, run.summary.tests_failed = ver.passed, len(ver.failed)
        problem = verify_problem(ver, run.limit)
        if problem:
            raise JobError(problem)

def run_verify(stack_file: str | Path, *, platform: str = "lab", limit: str | None = None,
               say: Say = print) -> Summary:
    from govnet import verify

    summary = Summary(Path(stack_file).stem, platform)
    compiled = compile_stack(stack_file, LockMode.READ)
    selection = select_hosts(compiled, limit)
    summary.hosts, summary.limit = len(selection.hosts), selection.limit
    with _phase(summary, "verify", say):
        ver = verify.run(paths.Project(Path(stack_file)), platform, limit=selection.limit, say=say)
        problem = verify_problem(ver, selection.limit)
        if problem:
            say(f"  {problem}")
    summary.tests_passed, summary.tests_failed = ver.passed, len(ver.failed)
    summary.ok = not problem
    for line in summary.lines():
        say(line)
    return summary


def down(stack_file: str | Path, *, say: Say = print) -> list[str]:
    """Destroy the stack's resources and sweep the lab; return what is left (empty on success)."""
    import shutil

    from pulumi import automation as auto

    from govnet.lab import teardown
    from govnet.lab.system import require_root
    from govnet.provision import engine

    project = paths.Project(Path(stack_file))
    name = project.name
    if engine.has_stack(project):
        say(f"==> destroying the Pulumi stack {name}")
        st = engine.stack(project)
        engine.recover(project, st, say)
        progress = engine.Progress(say)
        try:
            st.destroy(on_event=progress, continue_on_error=True)
            st.workspace.remove_stack(name)
        except auto.CommandError as exc:
            say(f"  Pulumi could not destroy everything ({str(exc).strip()[-300:]}); "
                "the sweep below removes what is left")
            st.workspace.remove_stack(name, force=True)
    say(f"==> sweeping the lab {name}")
    require_root()
    teardown.sweep(name)
    shutil.rmtree(project.stack_state / "ansible", ignore_errors=True)
    left = teardown.leftovers(name)
    say("  nothing left" if not left else "  still present: " + "; ".join(left))
    return left


def _record(project, summary: Summary) -> None:
    path = project.stack_state / ("last-check.json" if summary.check else "last-run.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(summary), indent=2) + "\n")


def compliance(stack_file: str | Path, *, platform: str = "lab", limit: str | None = None):
    """Probe every (selected) host for the 等保 controls; return the findings, host by host."""
    import shlex
    from concurrent.futures import ThreadPoolExecutor

    from govnet import compliance as dengbao
    from govnet import configure

    compiled = compile_stack(stack_file, LockMode.READ)
    names = select_hosts(compiled, limit).hosts
    project = paths.Project(Path(stack_file))
    conn = configure.connection_vars(project, platform)
    ssh_args = ["-i", conn["ansible_ssh_private_key_file"], *shlex.split(conn["ansible_ssh_common_args"])]
    hosts = compiled.design.hosts

    def one(name: str):
        addr = hosts[name].management.address.split("/")[0]
        return dengbao.collect(name, addr, hosts[name], ssh_args)

    with ThreadPoolExecutor(max_workers=8) as pool:
        return [f for findings in pool.map(one, names) for f in findings]
