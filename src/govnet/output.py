"""Generated trees on disk: write only what changed (atomically), compare without writing.

One job: file trees that govnet generates (configs, inventories). Each generator decides which
stale files it owns; writing and comparing work the same for all of them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection
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
def write_tree(contents: dict[str, str], out_dir: str | os.PathLike, *, owns: Callable[[str], bool],
               dirs: Collection[str] | None = None) -> list[str]:
    """Write ``contents`` under ``out_dir`` (only what changed, see :func:`write_changed`) and remove
    the stale files: those ``owns(relative path)`` claims that are no longer in ``contents``.
    Directories left empty go too (never ``out_dir`` itself).

    The stale-file policy is the generator's: ``owns`` says which files it wrote, ``dirs`` (when
    given) limits the sweep to those top-level directories, so a run limited to some hosts leaves
    the others' files as they are. Returns the relative paths written or removed, sorted.
    """
    root = os.fspath(out_dir)
    changed = write_changed(contents, root)
    walked = []
    for top, subdirs, names in os.walk(root):
        rel_top = os.path.relpath(top, root).replace(os.sep, "/")
        prefix = "" if rel_top == "." else rel_top + "/"
        if not prefix and dirs is not None:
            subdirs[:] = [d for d in subdirs if d in dirs]
        walked.append(top)
        for name in names:
            rel = prefix + name
            if rel not in contents and owns(rel):
                os.unlink(os.path.join(top, name))
                changed.append(rel)
    for top in reversed(walked):  # deepest first
        if top != root and not os.listdir(top):
            os.rmdir(top)
    return sorted(changed)


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
