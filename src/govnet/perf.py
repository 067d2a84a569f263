"""Performance helpers shared by the stages. One job: keep CPython's cyclic GC out of hot paths.

The stages build hundreds of thousands of small acyclic objects (a 10k-device stack); the cyclic
collector then runs again and again for nothing (measured: 2.7 s -> 0.65 s to parse such a stack).
"""

from __future__ import annotations

import functools
import gc


def no_gc(func):
    """Run ``func`` with the cyclic garbage collector paused (reference counting still frees)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return func(*args, **kwargs)
        finally:
            if was_enabled:
                gc.enable()

    return wrapper
