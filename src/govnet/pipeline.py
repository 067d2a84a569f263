"""The pipeline: stack file -> validated model -> address plan -> design, in one call.

One job: chain the stages in their one direction. Each stage stays ignorant of the ones after it;
this module is the only place that knows their order. The lock file is read here and written only
when the caller asks (``govnet plan``), so every other command works from recorded addresses.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from govnet import addressing, design
from govnet.diagnostics import Diagnostic, StackError
from govnet.rules import ValidStack
from govnet.validate import load


class LockMode(Enum):
    READ = "read"  # use the lock; new needs get addresses in memory only (validate, graph)
    FROZEN = "frozen"  # the lock must already hold every address (render, inventory, up)
    WRITE = "write"  # record new allocations in the lock (plan)


@dataclass
class Compiled:
    path: Path
    vs: ValidStack
    plan: addressing.Plan
    design: design.Design
    lock_written: bool = False

    @property
    def name(self) -> str:
        return self.vs.name


def compile_stack(path: str | os.PathLike, lock: LockMode = LockMode.READ) -> Compiled:
    """Run every stage up to the design; raise StackError on bad input or a stale lock."""
    vs = load(path)
    lock_file = addressing.lock_path(path)
    previous = addressing.read_lock(lock_file)
    plan = addressing.allocate(vs, previous)
    written = False
    if lock is LockMode.FROZEN and plan.changed:
        missing = ", ".join(plan.added[:5]) + (" …" if len(plan.added) > 5 else "")
        gone = ", ".join(plan.removed[:5]) + (" …" if len(plan.removed) > 5 else "")
        moved = ", ".join(list(plan.moved)[:5]) + (" …" if len(plan.moved) > 5 else "")
        detail = "; ".join(x for x in (f"new: {missing}" if plan.added else "",
                                       f"no longer used: {gone}" if plan.removed else "",
                                       f"renumbered: {moved}" if plan.moved else "") if x)
        raise StackError([Diagnostic(
            str(lock_file), 0, 0, "stale-lock",
            f"the address lock does not match the stack ({detail})",
            f"run 'govnet plan {path}' to record the address changes, review and commit "
            f"{lock_file.name}")])
    if lock is LockMode.WRITE:
        written = addressing.write_lock(lock_file, plan)
    return Compiled(Path(path), vs, plan, design.build(vs, plan), written)
