"""Generated trees on disk: write only what changed (atomically), compare without writing.

One job: file trees that govnet generates (configs, inventories). Each generator decides which
stale files it owns; writing and comparing work the same for all of them.
"""

from __future__ import annotations

import os
from pathlib import Path

from govnet.perf import no_gc


def _write_one(root: Path, rel: str, text: str, exists: bool) -> str | None:
    target = root / rel
    if not exists:  # nothing to protect yet: write in place
        target.write_text(text, encoding="utf-8", newline="\n")
        return rel
    try:
        if target.read_text(encoding="utf-8") == text:
            return None
    except FileNotFoundError:  # gone since the directory was listed
        target.write_text(text, encoding="utf-8", newline="\n")
        return rel
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(text, encoding="utf-8", newline="\n")
    tmp.replace(target)
    return rel


@no_gc
def write_changed(contents: dict[str, str], out_dir: str | os.PathLike) -> list[str]:
    """Write each relative path whose content differs (an existing file: temporary file, then rename).

    Each directory is created and listed once, so a new file costs one ``open`` (no failed read).
    Returns the relative paths written, in the order of ``contents``.
    """
    root = Path(out_dir)
    present: dict[Path, set[str]] = {}
    for parent in {(root / rel).parent for rel in contents}:
        parent.mkdir(parents=True, exist_ok=True)
        present[parent] = set(os.listdir(parent))
    results = []
    for rel, text in contents.items():
        target = root / rel
        results.append(_write_one(root, rel, text, target.name in present[target.parent]))
    return [rel for rel in results if rel is not None]


@no_gc
def diff_tree(contents: dict[str, str], out_dir: str | os.PathLike,
              owned: tuple[str, ...]) -> list[str]:
    """Lines naming the files that differ between ``contents`` and the tree at ``out_dir``."""
    root = Path(out_dir)
    diffs = []
    for rel, text in contents.items():
        p = root / rel
        if not p.is_file():
            diffs.append(f"missing: {rel}")
        elif p.read_text(encoding="utf-8") != text:
            diffs.append(f"changed: {rel}")
    if root.is_dir():
        for p in sorted(root.rglob("*")):
            rel = p.relative_to(root).as_posix()
            if p.is_file() and p.suffix in owned and rel not in contents:
                diffs.append(f"stale:   {rel}")
    return diffs
