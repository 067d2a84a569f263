"""Performance helpers shared by the stages. One job: keep CPython's cyclic GC out of hot paths.

The stages build hundreds of thousands of small acyclic objects (a 10k-device stack); the cyclic
collector then runs again and again for nothing (measured: 2.7 s -> 0.65 s to parse such a stack).
"""

from __future__ import annotations

import functools
import gc


def no_gc(func):
    """Run ``func`` with the cyclic garbage collector paused (reference counting still frees).

    On leaving the outermost paused call, what the stage built and kept (the model, the design,
    the rendered texts) goes straight to the oldest generation, as if it had survived two
    collections, instead of being walked by the next young collections: at 10 000 devices those
    walks took 0.4 s after each stage. Cyclic garbage among these objects is still freed, by the
    next full collection. Skipped when the process froze objects of its own (``gc.freeze``), which
    moving the permanent generation would undo.
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return func(*args, **kwargs)
        finally:
            if was_enabled:
                if gc.get_freeze_count() == 0:
                    gc.freeze()  # every tracked object -> the permanent generation (a list splice)
                    gc.unfreeze()  # ... -> the oldest generation
                gc.enable()

    return wrapper
