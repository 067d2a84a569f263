"""Whatever a stack file holds, validation answers 0 (valid) or 2 (invalid), never crashes."""

from __future__ import annotations

import contextlib
import copy
import io
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from govnet import cli

EXAMPLE = Path(__file__).resolve().parents[1] / "stacks" / "example-city.yaml"
DATA = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
TEXT_LINES = EXAMPLE.read_text(encoding="utf-8").splitlines(keepends=True)


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, (*prefix, i))


PATHS = list(_paths(DATA))[1:]
JUNK = st.one_of(st.none(), st.booleans(), st.integers(-(10**20), 10**20), st.floats(),
                 st.text(max_size=12), st.lists(st.integers(), max_size=3),
                 st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
                 st.sampled_from(["dc.core1", "egress", "vpn", "0.0.0.0/0", "Foo Bar", "中文"]))


def _validate(tmp_path: Path, text: str) -> tuple[int, str]:
    path = tmp_path / "fuzzed.yaml"
    path.write_text(text, encoding="utf-8")
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        rc = cli.main(["validate", str(path)])
    return rc, err.getvalue()


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(edits=st.lists(st.tuples(st.sampled_from(PATHS), JUNK), min_size=1, max_size=3))
def test_wrong_values_anywhere_are_reported_not_crashed_on(tmp_path, edits):
    data = copy.deepcopy(DATA)
    for path, value in edits:
        node = data
        try:
            for key in path[:-1]:
                node = node[key]
            node[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue
    rc, err = _validate(tmp_path, yaml.safe_dump(data, allow_unicode=True))
    assert rc in (0, 2), err
    assert "internal error" not in err


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(cuts=st.lists(st.tuples(st.integers(0, len(TEXT_LINES) - 1), st.integers(0, 80),
                               st.sampled_from(["", ":", "- ", "[", "{", "&a ", "*a", "!!x ",
                                                "\t", "'", "#", "? "])), min_size=1, max_size=4))
def test_broken_text_anywhere_is_reported_not_crashed_on(tmp_path, cuts):
    lines = list(TEXT_LINES)
    for line, col, insert in cuts:
        text = lines[line]
        lines[line] = text[:col] + insert + text[col + 1:]
    rc, err = _validate(tmp_path, "".join(lines))
    assert rc in (0, 2), err
    assert "internal error" not in err
