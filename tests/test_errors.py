"""Every validation rule has a failing input whose message and location are golden files.

tests/errors/<case>.yaml is a broken stack (its first line says what is wrong) and
tests/errors/<case>.log the exact diagnostics govnet prints. A case with a lock file next to it
(<case>.lock, found as for any stack) is compiled as render and inventory compile, against a
frozen lock; a case without one as validate does. Regenerate after an intended wording change
with: GOVNET_REGEN=1 pytest tests/test_errors.py, then review the diff.

Every diagnostic code in src/govnet has a golden log here:
- a stack's error: tests/errors/<case>.yaml and its .log;
- an input no committed file can be (a missing path, a directory, a huge, binary or unreadable
  file): generated in a temporary folder by the tests below, its log tests/errors/input-<kind>.log
  with that folder written as <tmp>;
- a command's argument judged against a valid stack (``--limit``, checked by
  :func:`govnet.job.select_hosts` after validation): tests/errors/limit-<case>.log, for
  tests/errors/valid-base.yaml and the limit in :data:`LIMITS`.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from govnet import cli
from govnet.addressing import lock_path
from govnet.diagnostics import StackError, format_text
from govnet.pipeline import LockMode, compile_stack
from govnet.rules import PHASES
from govnet.rules import checks as checks_module
from govnet.source import MAX_BYTES, Source
from govnet.validate import _VALUE_ERRORS, validate_source

ERRORS = Path("tests/errors")
CASES = sorted(p.stem for p in (Path(__file__).parent / "errors").glob("*.yaml")
               if p.stem != "valid-base")


def _diagnostics(path: Path) -> str:
    mode = LockMode.FROZEN if lock_path(path).exists() else LockMode.READ
    with pytest.raises(StackError) as info:
        compile_stack(path, mode)
    return format_text(info.value.diagnostics) + "\n"


@pytest.mark.parametrize("case", CASES)
def test_error_case_matches_golden(case):
    text = _diagnostics(ERRORS / f"{case}.yaml")
    golden = ERRORS / f"{case}.log"
    if os.environ.get("GOVNET_REGEN"):
        golden.write_text(text, encoding="utf-8")
    assert golden.is_file(), f"no golden file {golden}; run with GOVNET_REGEN=1"
    assert text == golden.read_text(encoding="utf-8")


@pytest.mark.parametrize("case", CASES)
def test_error_case_names_file_line_and_hint(case):
    text = (ERRORS / f"{case}.log").read_text(encoding="utf-8")
    first = text.splitlines()[0]
    assert first.startswith((f"tests/errors/{case}.yaml", f"tests/errors/{case}.lock:"))
    assert "  hint: " in text


def test_base_of_the_corpus_is_valid():
    compile_stack(ERRORS / "valid-base.yaml", LockMode.READ)


def test_all_errors_of_a_phase_are_reported():
    text = _diagnostics(ERRORS / "many-errors.yaml")
    assert "error[unknown-zone]" in text and "error[unknown-endpoint]" in text


def test_a_failing_phase_stops_the_checks_after_it():
    text = _diagnostics(ERRORS / "many-errors.yaml")
    assert "no-path-to-dc" not in text  # neither north's (a consequence) nor west's (a later phase)


def test_the_next_phase_reports_once_the_failing_one_is_fixed():
    data = yaml.safe_load((ERRORS / "many-errors.yaml").read_text(encoding="utf-8"))
    data["sites"][0]["devices"][2]["zone"] = "intranet"
    data["links"][1]["b"] = "north.gw1"
    with pytest.raises(StackError) as info:
        validate_source(Source(file="<fixed>", data=data))
    assert [(d.code, d.message) for d in info.value.diagnostics] == [
        ("no-path-to-dc", "site 'west' has no link path to the data center")]


def test_every_check_runs_in_exactly_one_phase():
    checks = [c for phase in PHASES for c in phase.checks]
    defined = {f for name, f in vars(checks_module).items()
               if name.startswith("check_") and callable(f)}
    assert len(checks) == len(set(checks))
    assert set(checks) == defined


# ------------------------------------------------------------- inputs that are not stacks at all


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "govnet.cli", *args], capture_output=True,
                          text=True, timeout=60, check=False)


def _write_bad(tmp_path: Path, kind: str) -> Path:
    p = tmp_path / f"{kind}.yaml"
    if kind == "binary":
        p.write_bytes(bytes(range(256)) * 64)
    elif kind == "latin1":
        p.write_bytes("city: {name: x, display_name: caf\xe9}\n".encode("latin-1"))
    elif kind == "huge":
        with p.open("wb") as fh:
            fh.truncate(MAX_BYTES + 1)
    elif kind == "deep-flow":
        p.write_text("a: " + "[" * 100_000 + "]" * 100_000 + "\n")
    elif kind == "deep-block":
        p.write_text("- " * 100_000 + "x\n")
    elif kind == "deep-indent":
        p.write_text("".join(" " * i + "a:\n" for i in range(0, 2000, 2)))
    elif kind == "directory":
        p.mkdir()
    elif kind == "missing":
        pass
    return p


BAD_INPUTS = {
    "binary": "not-text", "latin1": "not-utf8", "huge": "file-too-large", "deep-flow": "too-deep",
    "deep-block": "too-deep", "deep-indent": "too-deep", "directory": "not-a-file",
    "missing": "file-not-found",
}


@pytest.mark.parametrize(("kind", "code"), sorted(BAD_INPUTS.items()))
def test_bad_input_is_a_clear_error_with_exit_2(tmp_path, kind, code):
    path = _write_bad(tmp_path, kind)
    proc = _cli("validate", str(path))
    assert proc.returncode == 2, proc.stderr
    assert f"error[{code}]" in proc.stderr
    assert "Traceback" not in proc.stderr and "hint:" in proc.stderr


def _golden(name: str, text: str) -> None:
    golden = ERRORS / f"{name}.log"
    if os.environ.get("GOVNET_REGEN"):
        golden.write_text(text, encoding="utf-8")
    assert golden.is_file(), f"no golden file {golden}; run with GOVNET_REGEN=1"
    assert text == golden.read_text(encoding="utf-8")


@pytest.mark.parametrize("kind", sorted(BAD_INPUTS))
def test_bad_input_matches_golden(tmp_path, kind):
    path = _write_bad(tmp_path, kind)
    with pytest.raises(StackError) as info:
        compile_stack(path, LockMode.READ)
    assert [d.code for d in info.value.diagnostics] == [BAD_INPUTS[kind]]
    _golden(f"input-{kind}", format_text(info.value.diagnostics).replace(str(tmp_path), "<tmp>") + "\n")


def _deny_reading(monkeypatch, path: Path) -> None:
    """Reading ``path`` fails with EACCES. The tests run as root, which reads any file whatever
    its mode, so the refusal is made here, at the one call govnet reads a stack with."""
    real_open = Path.open

    def deny(self, *args, **kwargs):
        if self == path:
            raise PermissionError(13, "Permission denied")
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", deny)


def test_unreadable_file_is_a_clear_error_with_exit_2(monkeypatch, capsys):
    path = ERRORS / "valid-base.yaml"
    _deny_reading(monkeypatch, path)
    assert cli.main(["validate", str(path)]) == 2
    assert "error[unreadable]: cannot read the file: Permission denied" in capsys.readouterr().err


def test_unreadable_file_matches_golden(monkeypatch):
    path = ERRORS / "valid-base.yaml"
    _deny_reading(monkeypatch, path)
    with pytest.raises(StackError) as info:
        compile_stack(path, LockMode.READ)
    _golden("input-unreadable", format_text(info.value.diagnostics) + "\n")


#: --limit cases against tests/errors/valid-base.yaml: case -> the limit
LIMITS = {
    "limit-unknown": "county_nort",  # did you mean county_north
    "limit-unknown-host": "nrth-gw1,site_east",  # one bad name of two
    "limit-pattern": "county_*,!dc",  # Ansible patterns are refused, each named
    "limit-commas": " , ",  # no name at all
}


@pytest.mark.parametrize("case", sorted(LIMITS))
def test_limit_error_matches_golden(case):
    from govnet.job import select_hosts

    compiled = compile_stack(ERRORS / "valid-base.yaml", LockMode.READ)
    with pytest.raises(StackError) as info:
        select_hosts(compiled, LIMITS[case])
    assert {d.code for d in info.value.diagnostics} == {"unknown-limit"}
    _golden(case, format_text(info.value.diagnostics) + "\n")


@pytest.mark.parametrize("stack", ["tests/errors/valid-base.yaml", *sorted(
    str(p) for p in Path("stacks").glob("*.yaml") if not p.name.startswith("Pulumi"))])
def test_every_group_a_limit_can_name_selects_a_host(stack):
    """Why no 'the limit selects no host' error exists: a limit that names only hosts and groups
    of the stack always selects one, because the inventory makes a group only by adding a host or
    a site (which has devices) to it."""
    from govnet import inventory
    from govnet.job import select_hosts

    compiled = compile_stack(stack, LockMode.READ)
    for group in inventory.build(compiled.vs, compiled.design).groups:
        assert select_hosts(compiled, group).hosts, group
#: reporting calls -> the position of their code argument
_REPORTERS = {"diag": 1, "error": 1, "_err": 1, "_fail": 1, "Diagnostic": 3}


class _CodeFinder(ast.NodeVisitor):
    """Collects the literal codes of reporting calls; a code it cannot read is 'opaque'."""

    def __init__(self, path: Path):
        self.path = path
        self.codes: dict[str, str] = {}
        self.opaque: list[str] = []
        self.params: list[set[str]] = []

    def visit_FunctionDef(self, node):
        args = node.args
        self.params.append({a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)})
        self.generic_visit(node)
        self.params.pop()

    def visit_Call(self, node):
        func = node.func
        index = _REPORTERS.get(func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", ""))
        if index is not None:
            arg = next((k.value for k in node.keywords if k.arg == "code"),
                       node.args[index] if len(node.args) > index else None)
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                self.codes.setdefault(arg.value, f"{self.path}:{node.lineno}")
            elif isinstance(arg, ast.Name) and any(arg.id in p for p in self.params):
                pass  # a helper handing its own 'code' parameter on
            elif arg is not None:
                self.opaque.append(f"{self.path}:{node.lineno}: {ast.unparse(arg)}")
        self.generic_visit(node)


def _source_codes() -> dict[str, str]:
    codes: dict[str, str] = {}
    opaque: list[str] = []
    for path in sorted(Path("src/govnet").rglob("*.py")):
        finder = _CodeFinder(path)
        finder.visit(ast.parse(path.read_text(encoding="utf-8")))
        codes |= {c: w for c, w in finder.codes.items() if c not in codes}
        opaque += finder.opaque
    # validate.py looks its value-error codes up in a table
    table = [o for o in opaque if o.startswith("src/govnet/validate.py:") and o.endswith(": rule")]
    assert len(table) == 1 and opaque == table, f"codes the scan cannot read: {opaque}"
    codes |= {code: "src/govnet/validate.py (_VALUE_ERRORS)" for code, _, _ in _VALUE_ERRORS.values()}
    return codes


def test_the_code_scan_finds_codes_of_every_stage():
    codes = _source_codes()
    assert {"yaml-syntax", "unknown-key", "bad-domain", "no-path-to-dc", "pool-exhausted",
            "bad-lock", "stale-lock"} <= set(codes)


def test_every_code_has_a_golden_case():
    golden = {code for log in ERRORS.glob("*.log")
              for code in re.findall(r"error\[([a-z0-9-]+)\]", log.read_text(encoding="utf-8"))}
    missing = {code: where for code, where in _source_codes().items() if code not in golden}
    assert not missing, f"codes without a golden log in tests/errors/: {missing}"


def test_alias_bomb_stops_quickly():
    proc = _cli("validate", str(ERRORS / "alias-bomb.yaml"))
    assert proc.returncode == 2 and "error[alias-bomb]" in proc.stderr


def test_json_format_lists_diagnostics_for_ci(capsys):
    rc = cli.main(["validate", "--format", "json", str(ERRORS / "unknown-endpoint.yaml")])
    payload = json.loads(capsys.readouterr().out)
    assert rc == 2
    assert payload["valid"] is False
    diag = next(d for d in payload["diagnostics"] if d["code"] == "unknown-endpoint")
    assert (diag["file"], diag["line"], diag["column"]) == ("tests/errors/unknown-endpoint.yaml", 30, 22)
    assert diag["hint"].startswith("did you mean 'north.gw1'?")


def test_valid_stack_exits_0(capsys):
    assert cli.main(["validate", "stacks/example-city.yaml"]) == 0
    assert "valid" in capsys.readouterr().out
