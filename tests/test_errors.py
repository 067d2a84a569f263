"""Every validation rule has a failing input whose message and location are golden files.

tests/errors/<case>.yaml is a broken stack (its first line says what is wrong) and
tests/errors/<case>.log the exact diagnostics govnet prints. Regenerate after an intended
wording change with: GOVNET_REGEN=1 pytest tests/test_errors.py, then review the diff.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from govnet import cli
from govnet.diagnostics import StackError, format_text
from govnet.pipeline import LockMode, compile_stack
from govnet.rules import PHASES
from govnet.rules import checks as checks_module
from govnet.source import MAX_BYTES, Source
from govnet.validate import validate_source

ERRORS = Path("tests/errors")
CASES = sorted(p.stem for p in (Path(__file__).parent / "errors").glob("*.yaml")
               if p.stem != "valid-base")


def _diagnostics(path: Path) -> str:
    with pytest.raises(StackError) as info:
        compile_stack(path, LockMode.READ)
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
    assert first.startswith(f"tests/errors/{case}.yaml")
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
