"""The ``govnet`` command line. One job: parse arguments, call the core, print, choose exit code.

Exit codes: 0 success; 1 a check found differences or an operation failed; 2 invalid input
(stack, lock, arguments or the vault), and for ``deploy --check`` and ``drift`` a device that
differs (their codes are :mod:`govnet.deploy`'s); 3 an internal error; 130 interrupted.
"""

from __future__ import annotations

import argparse
import csv
import functools
import io
import json
import os
import sys
import time
from pathlib import Path

from govnet import __version__, diagnostics
from govnet.diagnostics import StackError
from govnet.output import diff_tree
from govnet.pipeline import Compiled, LockMode, compile_stack

EXIT_OK, EXIT_DIFF, EXIT_INVALID, EXIT_INTERRUPTED = 0, 1, 2, 130


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ------------------------------------------------------------------ commands


def cmd_validate(args) -> int:
    results = []
    worst = EXIT_OK
    for path in args.stacks:
        try:
            c = compile_stack(path, LockMode.READ)
            results.append((path, [], c))
        except StackError as exc:
            results.append((path, exc.diagnostics, None))
            worst = EXIT_INVALID
    if args.format == "json":
        out = []
        for path, diags, c in results:
            item = json.loads(diagnostics.format_json(diags, stack=str(path)))
            if c is not None:
                item["summary"] = _summary(c)
            out.append(item)
        print(json.dumps(out[0] if len(out) == 1 else out, ensure_ascii=False, indent=2))
    else:
        for path, diags, c in results:
            if diags:
                print(diagnostics.format_text(diags), file=sys.stderr)
            else:
                s = _summary(c)
                pending = (f"; {s['unrecorded_allocations']} address(es) not yet in the lock — "
                           "run 'govnet plan'" if s["unrecorded_allocations"] else "")
                print(f"{path}: valid — {s['sites']} sites, {s['devices']} devices, "
                      f"{s['links']} links{pending}")
    return worst


def _summary(c: Compiled) -> dict:
    return {"sites": len(c.vs.sites), "devices": len(c.vs.devices), "links": len(c.vs.stack.links),
            "unrecorded_allocations": len(c.plan.added), "stale_allocations": len(c.plan.removed)}


def cmd_plan(args) -> int:
    mode = LockMode.READ if args.check else LockMode.WRITE
    c = compile_stack(args.stack, mode)
    plan = c.plan
    if args.format == "json":
        print(json.dumps({"stack": c.name, "added": {k: plan.entries[k] for k in plan.added},
                          "removed": plan.removed, "renumbered": plan.moved,
                          "lock_written": c.lock_written}, indent=2))
    else:
        for k in plan.added:
            print(f"  + {k:<48} {plan.entries[k]}")
        for k in plan.removed:
            print(f"  - {k}")
        for k, old in plan.moved.items():
            print(f"  ~ {k:<48} {old} -> {plan.entries[k]}")
        verb = "would change" if args.check else "changed"
        if plan.changed:
            print(f"address plan {verb}: {len(plan.added)} to add, {len(plan.removed)} to remove, "
                  f"{len(plan.moved)} renumbered"
                  + ("" if args.check else f" (recorded in {c.path.with_suffix('.lock')})"))
        else:
            print("address plan up to date: no changes")
    return EXIT_DIFF if (args.check and plan.changed) else EXIT_OK


def _address_rows(c: Compiled) -> list[dict]:
    rows = []
    for key, value in c.plan.entries.items():
        kind, _, owner = key.partition(":")
        zone = ""
        if kind == "subnet":
            owner, _, zone = owner.partition(":")
        rows.append({"kind": kind, "owner": owner or "-", "zone": zone, "address": value})
    order = {"subnet": 0, "mgmt": 1, "loopback": 2, "link": 3, "tunnel": 4, "host": 5,
             "mgmt-host": 6, "internet-segment": 7, "internet": 8}
    rows.sort(key=lambda r: (order.get(r["kind"], 9), r["owner"], r["zone"]))
    return rows


def cmd_addresses(args) -> int:
    c = compile_stack(args.stack, LockMode.READ)
    rows = _address_rows(c)
    if args.format == "json":
        print(json.dumps(rows, indent=2))
    elif args.format == "csv":
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=["kind", "owner", "zone", "address"], lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
        sys.stdout.write(buf.getvalue())
    else:
        cols = ["kind", "owner", "zone", "address"]
        width = {k: max(len(k), *(len(r[k]) for r in rows)) for k in cols}
        print("  ".join(k.upper().ljust(width[k]) for k in cols).rstrip())
        for r in rows:
            print("  ".join(r[k].ljust(width[k]) for k in cols).rstrip())
        if c.plan.changed:
            _say(f"note: {len(c.plan.added)} allocation(s) are not yet recorded in the lock; "
                 f"run 'govnet plan {args.stack}'")
    return EXIT_OK


def _default_out(base: str, c: Compiled) -> Path:
    return Path(base) / c.name


def cmd_inventory(args) -> int:
    from govnet import inventory

    c = compile_stack(args.stack, LockMode.FROZEN)
    inv = inventory.build(c.vs, c.design)
    contents = inventory.files(inv, c.name)
    out = Path(args.out) if args.out else _default_out("inventory", c)
    return _write_or_check(contents, out, args.check, "inventory", inventory.write_tree,
                           owned=(".yml",))


def cmd_render(args) -> int:
    from govnet import render

    c = compile_stack(args.stack, LockMode.FROZEN)
    t0 = time.perf_counter()
    contents = render.render(c.design, management_supernet=c.vs.stack.address_plan.management)
    out = Path(args.out) if args.out else _default_out("configs", c)
    rc = _write_or_check(contents, out, args.check, "configs",
                         lambda files, out_dir, owned: render.write(files, out_dir),
                         owned=(".conf", ".cfg"))
    _say(f"rendered {len(contents)} file(s) for {len(c.design.hosts)} hosts in "
         f"{time.perf_counter() - t0:.2f}s")
    return rc


def _write_or_check(contents: dict[str, str], out: Path, check: bool, what: str, writer,
                    owned) -> int:
    if check:
        diffs = diff_tree(contents, out, owned)
        if diffs:
            for d in diffs[:50]:
                print(f"  {d}")
            print(f"{what} in {out} are out of date ({len(diffs)} file(s) differ); "
                  "regenerate them and commit the result")
            return EXIT_DIFF
        print(f"{what} in {out} are up to date ({len(contents)} files)")
        return EXIT_OK
    changed = writer(contents, out, owned=owned)
    print(f"{what}: {len(contents)} files in {out} ({len(changed)} changed)")
    return EXIT_OK


def cmd_graph(args) -> int:
    from govnet import graph

    c = compile_stack(args.stack, LockMode.READ)
    path = graph.write(graph.to_dot(c.vs, c.plan), args.output)
    print(f"topology of {c.name}: {path}")
    return EXIT_OK


def cmd_schema(args) -> int:
    from govnet import schema

    text = schema.schema_text()
    out = Path(args.output)
    if args.check:
        if not out.is_file() or out.read_text(encoding="utf-8") != text:
            print(f"{out} is out of date; run 'govnet schema -o {out}' and commit it")
            return EXIT_DIFF
        print(f"{out} is up to date")
        return EXIT_OK
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    print(f"wrote {out}")
    return EXIT_OK


# ------------------------------------------------------------------ the main job


def _out(msg: str) -> None:
    print(msg, flush=True)


def _vault_checked(command):
    """``command`` (up, deploy, drift) with one answer to a vault that cannot be read — encrypted and
    no password, a wrong password, not a ``govnet_vault`` mapping: the reason and the fix on
    stderr, exit 2 (invalid input), before any device is touched."""
    @functools.wraps(command)
    def run(args) -> int:
        from govnet import deploy

        try:
            return command(args)
        except deploy.SecretError as exc:
            _say(f"govnet {args.command}: {exc}\n"
                 "  the city's secrets are the ansible-vault file secrets/<city>.vault.yml (or "
                 "--vault FILE) holding govnet_vault: {NAME: value}; its password comes from "
                 "--vault-password-file or GOVNET_VAULT_PASSWORD_FILE")
            return EXIT_INVALID
    return run


@_vault_checked
def cmd_up(args) -> int:
    from govnet import job

    try:
        summary = job.up(args.stack, platform=args.platform, limit=args.limit,
                         verify_after=not args.no_verify, check=args.check,
                         configure_after=not args.provision_only, vault=args.vault,
                         vault_password_file=args.vault_password_file, say=_out)
    except job.JobError as exc:
        _say(f"govnet up: {exc}")
        return EXIT_DIFF
    if summary.ok and args.platform == "lab" and not args.check:
        _out(f"the lab is up: 'govnet lab status {args.stack}' lists its hosts, "
             f"'govnet lab shell HOST' opens a shell in one, 'govnet down {args.stack}' removes it")
    return EXIT_OK if summary.ok else EXIT_DIFF


def cmd_preview(args) -> int:
    from govnet import job
    from govnet.provision import engine

    try:
        changes, _ = job.provision(compile_stack(args.stack, LockMode.READ), args.platform, _out,
                                   preview=True)
    except job.JobError as exc:
        _say(f"govnet preview: {exc}")
        return EXIT_DIFF
    _out(f"preview: {engine.summary(changes)}")
    return EXIT_OK


def cmd_verify(args) -> int:
    from govnet import job

    summary = job.run_verify(args.stack, platform=args.platform, limit=args.limit, say=_out)
    return EXIT_OK if summary.ok else EXIT_DIFF


def cmd_down(args) -> int:
    from govnet import job

    left = job.down(args.stack, say=_out)
    return EXIT_OK if not left else EXIT_DIFF


def cmd_compliance(args) -> int:
    from govnet import compliance, job

    findings = job.compliance(args.stack, platform=args.platform, limit=args.limit)
    if args.format == "json":
        text = compliance.to_json(findings)
    elif args.format == "html":
        text = compliance.to_html(findings, Path(args.stack).stem)
    else:
        text = compliance.to_table(findings)
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(text + "\n", encoding="utf-8")
        _say(f"wrote {args.output}")
    else:
        print(text)
    failed = [f for f in findings if f.status == compliance.FAIL]
    if failed and args.format != "text":
        _say(f"{len(failed)} control(s) failed")
    return EXIT_DIFF if failed else EXIT_OK


def _lab_name(stack: str) -> str:
    return Path(stack).stem


def _deploy_request(args):
    from govnet import deploy

    return deploy.Request(limit=args.limit, check=getattr(args, "check", False),
                          confirm_timeout=getattr(args, "confirm_timeout", 120), platform=args.platform,
                          vault=args.vault, vault_password_file=args.vault_password_file,
                          configs=getattr(args, "configs", None))


@_vault_checked
def cmd_deploy(args) -> int:
    from govnet import deploy

    results = deploy.deploy_stack(args.stack, _deploy_request(args), say=_out)
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    _out(f"summary of deploy: {', '.join(f'{k} {v}' for k, v in sorted(counts.items())) or 'no device'}")
    return deploy.exit_code(results)


@_vault_checked
def cmd_drift(args) -> int:
    from govnet import drift

    report = drift.run(args.stack, _deploy_request(args), say=_say)
    if args.format == "json":
        print(report.to_json())
    else:
        for line in report.lines():
            _out(line)
    return report.exit_code()


def cmd_lab_status(args) -> int:
    from govnet.lab import fabric, hosts

    lab = _lab_name(args.stack)
    rows = hosts.status(lab)
    if args.format == "json":
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    if not rows:
        _out(f"lab {lab}: no hosts (bring it up with 'govnet up {args.stack}')")
        return EXIT_OK
    proxy = "running" if fabric.proxy_pid(lab) else "stopped"
    _out(f"lab {lab}: {sum(r['running'] for r in rows)}/{len(rows)} hosts running; "
         f"package proxy {proxy}")
    _out(f"  {'HOST':<20} {'STATE':<8} {'MANAGEMENT':<16} {'PID':>7}  UPTIME")
    now = time.time()
    for r in rows:
        up = f"{now - r['started']:.0f} s" if r["running"] and r.get("started") else "-"
        _out(f"  {r['name']:<20} {'running' if r['running'] else 'stopped':<8} "
             f"{r.get('mgmt', '-'):<16} {r.get('pid') or '-':>7}  {up}")
    return EXIT_OK


def cmd_lab_shell(args) -> int:
    from govnet.lab import hosts

    lab = _lab_name(args.stack)
    st = hosts.read_state(lab, args.host)
    if not st or not hosts.running(lab, args.host):
        names = [r["name"] for r in hosts.status(lab)]
        hint = diagnostics.closest(args.host, names)
        _say(f"govnet lab shell: no running host {args.host!r} in lab {lab}"
             + (f" — did you mean {hint!r}?" if hint else f"; hosts: {', '.join(names) or 'none'}"))
        return EXIT_INVALID
    leader = st.get("leader") or hosts.leader_pid(st["pid"])
    argv = ["nsenter", "-t", str(leader), "-a", *(args.command or ["/bin/bash", "-l"])]
    os.execvp(argv[0], argv)
    return EXIT_OK  # not reached


# ------------------------------------------------------------------ parser


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="govnet",
        description="Infrastructure as code for a city's e-government network: validate a stack, "
                    "plan its addresses, render configs and inventory, draw the topology, and "
                    "bring it up: provision, configure, verify.",
        epilog="Exit codes: 0 ok, 1 differences/failure, 2 invalid input (deploy --check and "
               "drift: a device differs), 3 internal error, 130 interrupted.")
    p.add_argument("--debug", action="store_true", help="show Python tracebacks on internal errors")
    p.add_argument("--version", action="version", version=f"govnet {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("validate", help="check stack files; every error with file:line:column")
    s.add_argument("stacks", nargs="+", metavar="STACK")
    s.add_argument("--format", choices=["text", "json"], default="text")
    s.set_defaults(func=cmd_validate)

    s = sub.add_parser("plan", help="allocate addresses and record them in the stack's lock file")
    s.add_argument("stack", metavar="STACK")
    s.add_argument("--check", action="store_true",
                   help="only show what would change; exit 1 if the lock is not up to date")
    s.add_argument("--format", choices=["text", "json"], default="text")
    s.set_defaults(func=cmd_plan)

    s = sub.add_parser("addresses", help="print the address plan")
    s.add_argument("stack", metavar="STACK")
    s.add_argument("--format", choices=["table", "csv", "json"], default="table")
    s.set_defaults(func=cmd_addresses)

    s = sub.add_parser("inventory", help="write a static Ansible inventory (hosts.yml, host_vars/)")
    s.add_argument("stack", metavar="STACK")
    s.add_argument("--out", help="output directory (default: inventory/<city>)")
    s.add_argument("--check", action="store_true", help="compare instead of writing; exit 1 on "
                   "any difference")
    s.set_defaults(func=cmd_inventory)

    s = sub.add_parser("render", help="render device configurations")
    s.add_argument("stack", metavar="STACK")
    s.add_argument("--out", help="output directory (default: configs/<city>)")
    s.add_argument("--check", action="store_true", help="compare instead of writing; exit 1 on "
                   "any difference")
    s.set_defaults(func=cmd_render)

    s = sub.add_parser("graph", help="draw the topology (svg, png, pdf or dot)")
    s.add_argument("stack", metavar="STACK")
    s.add_argument("-o", "--output", required=True, help="output file; format from its suffix")
    s.set_defaults(func=cmd_graph)

    s = sub.add_parser("schema", help="write the stack JSON Schema")
    s.add_argument("-o", "--output", default="schemas/govnet-stack.schema.json")
    s.add_argument("--check", action="store_true", help="exit 1 if the file is not current")
    s.set_defaults(func=cmd_schema)

    s = sub.add_parser("up", help="the main job: validate, provision (Pulumi), configure "
                       "(Ansible), verify (testinfra)")
    s.add_argument("stack", metavar="STACK")
    s.add_argument("--platform", choices=["lab", "ssh"], default="lab",
                   help="lab: containers on this machine (default); ssh: existing hosts")
    s.add_argument("--limit", help="only these hosts or groups (comma-separated), e.g. "
                   "county_wolong: render, provision, configure and verify them alone; a name "
                   "that is neither a host nor a group stops the run (exit 2)")
    s.add_argument("--no-verify", action="store_true", help="skip the testinfra phase")
    s.add_argument("--provision-only", action="store_true",
                   help="stop after provisioning: hosts and links up, nothing configured")
    s.add_argument("--check", action="store_true", help="change nothing: preview provisioning "
                   "and run Ansible in check/diff mode to show what would change")
    s.add_argument("--vault", help="ansible-vault file with govnet_vault: {NAME: value}, given "
                   "to Ansible and the deploy phase (default secrets/<city>.vault.yml)")
    s.add_argument("--vault-password-file", help="default $GOVNET_VAULT_PASSWORD_FILE")
    s.set_defaults(func=cmd_up)

    s = sub.add_parser("preview", help="show what provisioning would create, replace or delete")
    s.add_argument("stack", metavar="STACK")
    s.add_argument("--platform", choices=["lab", "ssh"], default="lab")
    s.set_defaults(func=cmd_preview)

    s = sub.add_parser("verify", help="run the testinfra checks against the running hosts")
    s.add_argument("stack", metavar="STACK")
    s.add_argument("--platform", choices=["lab", "ssh"], default="lab")
    s.add_argument("--limit", help="only these hosts or groups (comma-separated); a name that is "
                   "neither a host nor a group is refused (exit 2)")
    s.set_defaults(func=cmd_verify)

    s = sub.add_parser("compliance", help="等保 2.0 level 3 report from the running hosts: "
                       "per host and clause, pass/fail/n.a. with evidence; exit 1 on a fail")
    s.add_argument("stack", metavar="STACK")
    s.add_argument("--platform", choices=["lab", "ssh"], default="lab")
    s.add_argument("--limit", help="only these hosts or groups (comma-separated); a name that is "
                   "neither a host nor a group is refused (exit 2)")
    s.add_argument("--format", choices=["text", "json", "html"], default="text")
    s.add_argument("-o", "--output", help="write the report to this file")
    s.set_defaults(func=cmd_compliance)

    s = sub.add_parser("deploy", help="push the rendered configurations to the network devices: "
                       "backup, diff, replace with a revert timer, confirm once reachable")
    s.add_argument("stack", metavar="STACK")
    s.add_argument("--platform", choices=["lab", "ssh"], default="lab")
    s.add_argument("--limit", help="only these hosts or groups (comma-separated)")
    s.add_argument("--check", action="store_true",
                   help="back up and show the diff only; exit 2 when a device differs")
    s.add_argument("--confirm-timeout", type=int, default=120, metavar="S",
                   help="seconds after which a device restores its previous configuration unless "
                        "the controller reached it and confirmed (default 120)")
    s.add_argument("--vault", help="ansible-vault file with govnet_vault: {NAME: value} "
                   "(default secrets/<city>.vault.yml)")
    s.add_argument("--vault-password-file", help="default $GOVNET_VAULT_PASSWORD_FILE")
    s.add_argument("--configs", metavar="DIR", help="push these rendered files (DIR/<host>/frr.conf, "
                   "e.g. the reviewed configs/<city>/) instead of rendering the stack first")
    s.set_defaults(func=cmd_deploy)

    s = sub.add_parser("drift", help="compare what runs with the stack: network devices (the "
                       "deploy diff) and Linux hosts (Ansible check mode); exit 2 on drift")
    s.add_argument("stack", metavar="STACK")
    s.add_argument("--platform", choices=["lab", "ssh"], default="lab")
    s.add_argument("--limit", help="only these hosts or groups (comma-separated)")
    s.add_argument("--format", choices=["text", "json"], default="text")
    s.add_argument("--vault", help="ansible-vault file (default secrets/<city>.vault.yml)")
    s.add_argument("--vault-password-file", help="default $GOVNET_VAULT_PASSWORD_FILE")
    s.set_defaults(func=cmd_drift)

    s = sub.add_parser("down", help="destroy what 'up' made and sweep the lab clean")
    s.add_argument("stack", metavar="STACK")
    s.set_defaults(func=cmd_down)

    lab = sub.add_parser("lab", help="look at a running lab").add_subparsers(
        dest="lab_command", required=True, metavar="LAB_COMMAND")
    s = lab.add_parser("status", help="the lab's hosts and whether they run")
    s.add_argument("stack", metavar="STACK", nargs="?", default="stacks/example-city.yaml")
    s.add_argument("--format", choices=["text", "json"], default="text")
    s.set_defaults(func=cmd_lab_status)
    s = lab.add_parser("shell", help="a shell (or COMMAND) inside a lab host")
    s.add_argument("host", metavar="HOST")
    s.add_argument("command", nargs=argparse.REMAINDER, metavar="COMMAND")
    s.add_argument("--stack", default="stacks/example-city.yaml")
    s.set_defaults(func=cmd_lab_shell)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except StackError as exc:
        if getattr(args, "format", "text") == "json":
            print(diagnostics.format_json(exc.diagnostics))
        else:
            print(diagnostics.format_text(exc.diagnostics), file=sys.stderr)
        return EXIT_INVALID
    except KeyboardInterrupt:
        _say("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. piped into head: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_DIFF
    except (OSError, ValueError) as exc:
        if args.debug:
            raise
        _say(f"govnet: error: {exc}")
        return EXIT_DIFF
    except Exception as exc:
        if args.debug:
            raise
        _say(f"govnet: internal error: {type(exc).__name__}: {exc}\n"
             "  this is a bug in govnet; run again with --debug and report the traceback")
        return 3


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
