"""Read a stack file safely into plain Python data plus the position of every value.

One job: bytes on disk -> (data, positions). Whatever the file holds — broken YAML, binary junk,
an alias bomb, a directory, a huge file — the result is either data or a list of diagnostics,
never a traceback and never a hang.
"""

from __future__ import annotations

import os
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from govnet.diagnostics import Diagnostic, StackError
from govnet.perf import no_gc

try:  # the C composer is ~10x faster; fall back to pure Python where libyaml is absent
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on the PyYAML build
    from yaml import SafeLoader as _Loader

MAX_BYTES = 32 * 1024 * 1024  # a 10k-device stack is ~2 MB; 32 MB leaves room and stops abuse
MAX_NODES = 2_000_000  # nodes visited while expanding aliases (stops "billion laughs")
MAX_DEPTH = 64  # no stack needs deeper nesting than ~8
_BRACKET = re.compile(r"[\[\]{}]")
_BLOCK_PREFIX = re.compile(r"^([ \t?:-]*)", re.MULTILINE)
MAX_INDENT = 256  # columns of indentation and leading block indicators on one line

Path_ = tuple  # a path into the data, e.g. ("sites", 2, "devices", 0, "name")


@dataclass
class Source:
    """A parsed stack file: its data and where each value and key stands in the file."""

    file: str
    data: dict
    values: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path_, tuple[int, int]] = field(default_factory=dict)

    def where(self, path: Path_, *, key: bool = False) -> tuple[int, int]:
        """Line and column (1-based) of the value (or key) at ``path``, or of its nearest parent."""
        table = self.keys if key else self.values
        probe = tuple(path)
        while probe:
            if probe in table:
                return table[probe]
            if not key and probe in self.keys:
                return self.keys[probe]
            probe = probe[:-1]
        return self.values.get((), (1, 1))

    def diag(self, path: Path_, code: str, message: str, hint: str = "", *, key: bool = False) -> Diagnostic:
        line, col = self.where(path, key=key)
        return Diagnostic(self.file, line, col, code, message, hint)


def _fail(file: str, code: str, message: str, hint: str = "",
          at: tuple[int, int] = (0, 0)) -> typing.NoReturn:
    """Stop with one diagnostic; ``at`` is its line and column (1-based; 0, 0: the whole file)."""
    raise StackError([Diagnostic(file, *at, code, message, hint)])


def _mark(node) -> tuple[int, int]:
    """A YAML node's line and column, 1-based."""
    return node.start_mark.line + 1, node.start_mark.column + 1


def read_stack_text(path: str | os.PathLike) -> tuple[str, str]:
    """Return (display name, text) of a stack file, or raise StackError saying why it is unusable."""
    name = str(path)
    p = Path(path)
    if not p.exists():
        _fail(name, "file-not-found", "no such file",
              "check the path; stack files live under stacks/, e.g. stacks/example-city.yaml")
    if p.is_dir():
        _fail(name, "not-a-file", "this is a directory, not a stack file",
              f"name a YAML file inside it, e.g. {name.rstrip('/')}/example-city.yaml")
    if not p.is_file():
        _fail(name, "not-a-file", "not a regular file", "name a YAML stack file")
    try:
        size = p.stat().st_size
        if size > MAX_BYTES:
            _fail(name, "file-too-large",
                  f"the file is {size / 1048576:.1f} MiB; stack files are limited to "
                  f"{MAX_BYTES // 1048576} MiB", "split the city into several stacks or check that "
                  "the right file was given")
        with p.open("rb") as fh:
            raw = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        _fail(name, "unreadable", f"cannot read the file: {exc.strerror or exc}",
              "check the file's permissions")
    if b"\x00" in raw:
        line = raw[: raw.index(b"\x00")].count(b"\n") + 1
        _fail(name, "not-text", "the file contains NUL bytes: it is binary, not YAML",
              "give the YAML stack file, not a binary or compressed file", (line, 1))
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        _fail(name, "not-utf8", f"byte 0x{raw[exc.start]:02x} is not valid UTF-8",
              "save the file as UTF-8 (Chinese display names are fine in UTF-8)", (line, col))
    return name, text


def _check_nesting(file: str, text: str) -> None:
    """Reject pathological nesting before libyaml's recursive composer sees it (it would crash).

    Cheap and conservative: brackets are counted without regard to quotes, and block nesting is
    bounded by the width of each line's indentation and leading '- ' / '? ' indicators.
    """
    depth = 0
    for match in _BRACKET.finditer(text):
        depth += 1 if match.group() in "[{" else -1
        depth = max(depth, 0)
        if depth > MAX_DEPTH:
            i = match.start()
            line = text.count("\n", 0, i) + 1
            col = i - (text.rfind("\n", 0, i) + 1) + 1
            _fail(file, "too-deep", f"brackets nest more than {MAX_DEPTH} levels deep",
                  "a stack needs only a few levels; check for unbalanced brackets", (line, col))
    for match in _BLOCK_PREFIX.finditer(text):
        if len(match.group(1)) > MAX_INDENT:
            line = text.count("\n", 0, match.start()) + 1
            _fail(file, "too-deep", f"a line is indented or nested more than {MAX_INDENT} columns deep",
                  "a stack needs only a few levels of indentation; flatten the structure", (line, 1))


class _Builder:
    """Turns a composed YAML node graph into plain data while recording positions."""

    _SCALARS: typing.ClassVar[dict[str, str]] = {
        "tag:yaml.org,2002:str": "str",
        "tag:yaml.org,2002:int": "int",
        "tag:yaml.org,2002:float": "float",
        "tag:yaml.org,2002:bool": "bool",
        "tag:yaml.org,2002:null": "null",
        "tag:yaml.org,2002:timestamp": "str",
    }

    def __init__(self, source: Source):
        self.src = source
        self.errors: list[Diagnostic] = []
        self.visited = 0
        self.ctor = yaml.constructor.SafeConstructor()

    def _err(self, node, code, message, hint=""):
        self.errors.append(Diagnostic(self.src.file, *_mark(node), code, message, hint))

    def build(self, node, path: Path_, depth: int = 0):
        """Plain data for ``node`` (at ``path``), its position recorded; problems go to ``errors``."""
        self.visited += 1
        if self.visited > MAX_NODES:
            raise _TooBigError(node)
        if depth > MAX_DEPTH:
            raise _TooDeepError(node)
        self.src.values[path] = _mark(node)
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node)
        if isinstance(node, yaml.SequenceNode):
            return self._sequence(node, path, depth)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path, depth)
        raise TypeError(f"unexpected YAML node {node!r}")  # pragma: no cover

    def _scalar(self, node):
        kind = self._SCALARS.get(node.tag)
        if kind == "str":
            return node.value
        if kind == "null":
            return None
        if kind is None:
            self._err(node, "unsupported-tag", f"YAML tag {node.tag!r} is not allowed in a stack",
                      "remove the tag; stacks hold plain strings, numbers, lists and mappings")
            return None
        try:
            return getattr(self.ctor, f"construct_yaml_{kind}")(node)  # int, float, bool
        except (ValueError, OverflowError):
            return node.value

    def _sequence(self, node, path: Path_, depth: int) -> list:
        if node.tag != "tag:yaml.org,2002:seq":
            self._err(node, "unsupported-tag", f"YAML tag {node.tag!r} is not allowed in a stack",
                      "remove the tag")
        return [self.build(child, (*path, i), depth + 1) for i, child in enumerate(node.value)]

    def _mapping(self, node, path: Path_, depth: int) -> dict:
        if node.tag != "tag:yaml.org,2002:map":
            self._err(node, "unsupported-tag", f"YAML tag {node.tag!r} is not allowed in a stack",
                      "remove the tag")
        out: dict = {}
        for key_node, value_node in node.value:
            key = self._key(key_node, path, out)
            if key is not None:
                self.src.keys[(*path, key)] = _mark(key_node)
                out[key] = self.build(value_node, (*path, key), depth + 1)
        return out

    def _key(self, node, path: Path_, seen: dict) -> str | None:
        """The key a mapping entry stands under, or None (reported) when the entry is dropped."""
        if node.tag == "tag:yaml.org,2002:merge":
            self._err(node, "merge-key", "YAML merge keys ('<<') are not supported",
                      "use the stack's defaults / kinds sections to share settings")
            return None
        if not isinstance(node, yaml.ScalarNode):
            self._err(node, "bad-key", "a mapping key must be a plain string",
                      "write keys as simple words, e.g. 'name:'")
            return None
        if node.value in seen:
            first = self.src.keys.get((*path, node.value), (0, 0))
            self._err(node, "duplicate-key",
                      f"key {node.value!r} appears twice in this mapping (first on line {first[0]})",
                      "remove one of them; YAML would silently keep only the last")
            return None
        return node.value


class _TooBigError(Exception):
    def __init__(self, node):
        self.node = node


class _TooDeepError(Exception):
    def __init__(self, node):
        self.node = node


@no_gc
def parse_stack_text(name: str, text: str) -> Source:
    """Parse YAML text into a :class:`Source`; raise StackError with every problem found."""
    if not text.strip() or all(
        not ln.strip() or ln.lstrip().startswith("#") for ln in text.splitlines()
    ):
        _fail(name, "empty-stack", "the stack file is empty",
              "start from stacks/example-city.yaml; a stack needs at least 'city', 'address_plan' "
              "and 'sites'")
    _check_nesting(name, text)
    try:
        documents = list(yaml.compose_all(text, Loader=_Loader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        problem = exc.problem or "invalid YAML"
        context = f" ({exc.context})" if exc.context else ""
        _fail(name, "yaml-syntax", f"YAML syntax error: {problem}{context}",
              "fix the YAML at this position (check indentation, colons and quotes)", (line, col))
    except yaml.YAMLError as exc:
        _fail(name, "yaml-syntax", f"YAML error: {exc}", "fix the YAML syntax")
    except RecursionError:
        _fail(name, "too-deep", "the YAML nests too deeply to read", "flatten the structure")
    documents = [d for d in documents if d is not None]
    if not documents:
        _fail(name, "empty-stack", "the stack file holds no YAML document",
              "a stack needs at least 'city', 'address_plan' and 'sites'")
    if len(documents) > 1:
        second = documents[1]
        _fail(name, "multiple-documents", "the file holds more than one YAML document ('---')",
              "keep one stack per file", (second.start_mark.line + 1, 1))
    root = documents[0]
    src = Source(file=name, data={})
    if not isinstance(root, yaml.MappingNode):
        _fail(name, "not-a-mapping", "the top level of a stack must be a mapping of keys",
              "start the file with 'city:', 'address_plan:' and 'sites:'", _mark(root))
    builder = _Builder(src)
    try:
        data = builder.build(root, ())
    except _TooBigError as exc:
        _fail(name, "alias-bomb",
              f"expanding YAML aliases gives more than {MAX_NODES:,} values",
              "remove the recursive or repeated aliases ('*name'); use defaults / kinds to share "
              "settings", _mark(exc.node))
    except _TooDeepError as exc:
        _fail(name, "too-deep", f"the YAML nests more than {MAX_DEPTH} levels deep",
              "a stack needs only a few levels; flatten the structure", _mark(exc.node))
    if builder.errors:
        raise StackError(builder.errors)
    src.data = data
    return src


def load_source(path: str | os.PathLike) -> Source:
    """Read and parse the stack at ``path``."""
    name, text = read_stack_text(path)
    return parse_stack_text(name, text)
