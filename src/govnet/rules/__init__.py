"""Whole-stack rules: references, the site tree, zone policy, Internet separation.

One job: given a structurally valid :class:`~govnet.model.Stack`, resolve what it implies and
report every rule it breaks, each with the position in the file and how to fix it. In two parts:

- :mod:`govnet.rules.resolver` works out the resolved stack (inherited settings per site and
  device, the site tree, zone gateways, link parameters), judging nothing;
- :mod:`govnet.rules.checks` reads it and reports broken rules, phase by phase, stopping after
  the first phase that found errors so that no error brings its consequences along.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from govnet import model as m
from govnet.diagnostics import Report
from govnet.rules.checks import PHASES, check_portal_applications, run_checks
from govnet.rules.resolver import Resolved, ancestors, county_of, host_name, resolve_stack
from govnet.source import Source

__all__ = ["PHASES", "Resolved", "ValidStack", "ancestors", "check_portal_applications", "county_of",
           "host_name", "resolve"]


@dataclass(kw_only=True)
class ValidStack(Resolved):
    """A resolved stack that passed every rule, with the source it was read from."""

    source: Source


def resolve(src: Source, stack: m.Stack) -> ValidStack:
    """Resolve ``stack`` and apply every whole-stack rule; return it or raise StackError."""
    resolved = resolve_stack(stack)
    run_checks(resolved, Report(src))
    return ValidStack(source=src, **{f.name: getattr(resolved, f.name) for f in fields(Resolved)})
