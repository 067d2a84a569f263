"""Diagnostics: what is wrong with a stack, where, and how to fix it.

Every stage that judges user input reports :class:`Diagnostic` objects instead of raising bare
exceptions, so the CLI can print all of them (text or JSON) and exit with code 2.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from govnet.source import Path_, Source


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem in a stack file: location, rule code, message and a fix hint."""

    file: str
    line: int  # 1-based; 0 when the problem concerns the file as a whole
    column: int  # 1-based; 0 when unknown
    code: str  # stable rule identifier, e.g. "unknown-key"
    message: str
    hint: str = ""
    severity: str = "error"

    def location(self) -> str:
        if self.line:
            return f"{self.file}:{self.line}:{self.column}"
        return self.file

    def format(self) -> str:
        text = f"{self.location()}: {self.severity}[{self.code}]: {self.message}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text

    def to_dict(self) -> dict:
        return asdict(self)


def closest(word, choices) -> str:
    """The choice most like ``word`` (for "did you mean"), or "" when none is close."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return close[0] if close else ""


class StackError(Exception):
    """Raised by a stage when the input cannot go further; carries every diagnostic found."""

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = sorted(diagnostics, key=lambda d: (d.file, d.line, d.column, d.code))
        super().__init__("\n".join(d.format() for d in self.diagnostics))


@dataclass
class Report:
    """The diagnostics a stage gathers, phase by phase.

    A stage reports every problem of a phase, then calls :meth:`exit_on_error` before the next
    phase (as netlab does): a user sees all independent errors at once, and never the errors
    that only follow from them.
    """

    source: Source
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def error(self, path: Path_, code: str, message: str, hint: str = "", *, key: bool = False) -> None:
        """Report ``code`` at the value (or with ``key``, the key) at ``path`` in the file."""
        self.diagnostics.append(self.source.diag(path, code, message, hint, key=key))

    def exit_on_error(self) -> None:
        """Raise :class:`StackError` with everything reported so far, if anything was."""
        if self.diagnostics:
            raise StackError(self.diagnostics)


def format_text(diagnostics: list[Diagnostic]) -> str:
    lines = [d.format() for d in diagnostics]
    errors = sum(1 for d in diagnostics if d.severity == "error")
    lines.append(f"{errors} error(s) found" if errors else "no errors")
    return "\n".join(lines)


def format_json(diagnostics: list[Diagnostic], **extra) -> str:
    payload = {"valid": not any(d.severity == "error" for d in diagnostics), **extra}
    payload["diagnostics"] = [d.to_dict() for d in diagnostics]
    return json.dumps(payload, ensure_ascii=False, indent=2)
