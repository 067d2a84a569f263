"""Generated trees on disk: write only what changed (atomically), compare without writing.

One job: file trees that govnet generates (configs, inventories). Each generator decides which
stale files it owns; writing and comparing work the same for all of them.
"""

from __future__ import annotations

import os
from pathlib import Path

from govnet.perf import no_gc


def _write(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)


def _write_one(path: str, text: str, exists: bool) -> bool:
    """Write ``path`` unless it holds ``text`` already; whether it was written."""
    if not exists:  # nothing to protect yet: write in place
        _write(path, text)
        return True
    try:
        with open(path, encoding="utf-8") as fh:
            if fh.read() == text:
                return False
    except FileNotFoundError:  # gone since the directory was listed
        _write(path, text)
        return True
    tmp = path + ".tmp"
    _write(tmp, text)
    os.replace(tmp, path)
    return True


@no_gc
def write_changed(contents: dict[str, str], out_dir: str | os.PathLike) -> list[str]:
    """Write each relative path whose content differs (an existing file: temporary file, then rename).

    Each directory is created and listed once, so a new file costs one ``open`` (no failed read).
    Returns the relative paths written, in the order of ``contents``.
    """
    root = os.fspath(out_dir)
    present: dict[str, set[str]] = {}
    for parent in {os.path.dirname(rel) for rel in contents}:
        path = os.path.join(root, parent)
        os.makedirs(path, exist_ok=True)
        present[parent] = set(os.listdir(path))
    written = []
    for rel, text in contents.items():
        parent, name = os.path.split(rel)
        if _write_one(os.path.join(root, rel), text, name in present[parent]):
            written.append(rel)
    return written


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
