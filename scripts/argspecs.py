#!/usr/bin/env python3
"""Keep the roles' argument specs in step with the typed facts (govnet.facts).

For every role option whose default is one inventory fact holding a dict or a list of dicts
(``baseline__interfaces: "{{ govnet_interfaces }}"``), write the keys of that fact's model as the
option's ``options:`` in ``roles/<role>/meta/argument_specs.yml``, replacing what was there.
``--check`` only reports the options that differ (exit 1); tests/test_argspecs.py runs the same
comparison.

    .venv/bin/python scripts/argspecs.py [--check]
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from govnet.facts import fact_options

ROOT = Path(__file__).resolve().parents[1]
#: roles whose specs another owner keeps (the vpn role's tunnels are documented in prose)
SKIP = frozenset({"vpn"})


def wanted(role: Path) -> dict[str, dict]:
    """Option -> the ``options`` its fact's model gives, for the role's fact-fed dict options."""
    defaults = yaml.safe_load((role / "defaults/main.yml").read_text(encoding="utf-8")) or {}
    out = {}
    for name, value in defaults.items():
        options = fact_options(value)
        if options is not None:
            out[name] = options
    return out


def shape(options: dict | None) -> dict | None:
    """The part of an ``options`` spec the model decides: keys, types, elements, nested options."""
    if options is None:
        return None
    return {k: {a: (shape(v[a]) if a == "options" else v[a]) for a in ("type", "elements", "options")
                if a in v} for k, v in options.items()}


def merge(generated: dict, present: dict | None) -> dict:
    """``generated`` keeping each key's description and other words already written for it."""
    present = present or {}
    out = {}
    for key, spec in generated.items():
        old = present.get(key) or {}
        entry = {**spec}
        if "options" in spec:
            entry["options"] = merge(spec["options"], old.get("options"))
        extra = {k: v for k, v in old.items() if k not in ("type", "elements", "options")}
        out[key] = {**{k: entry[k] for k in ("type", "elements") if k in entry}, **extra,
                    **({"options": entry["options"]} if "options" in entry else {})}
    return out


def _block(options: dict, indent: int) -> list[str]:
    text = yaml.safe_dump({"options": options}, sort_keys=False, default_flow_style=False,
                          allow_unicode=True, width=72)
    return [" " * indent + line for line in text.splitlines()]


def rewrite(spec_text: str, option: str, options: dict) -> str:
    """``spec_text`` with ``option``'s ``options:`` replaced by ``options`` (comments kept)."""
    lines = spec_text.splitlines()
    head = lines.index(f"      {option}:")
    end = head + 1
    while end < len(lines) and (not lines[end].strip() or lines[end].startswith(" " * 8)):
        end += 1
    body = lines[head + 1:end]
    if "        options:" in body:  # drop the old options block (deeper-indented lines after it)
        start = body.index("        options:")
        stop = start + 1
        while stop < len(body) and body[stop].startswith(" " * 10):
            stop += 1
        body = body[:start] + body[stop:]
    return "\n".join([*lines[:head + 1], *body, *_block(options, 8), *lines[end:]]) + "\n"


def main(argv: list[str]) -> int:
    check = "--check" in argv
    drift = []
    for role in sorted((ROOT / "roles").iterdir()):
        if role.name in SKIP or not (role / "defaults/main.yml").is_file():
            continue
        path = role / "meta/argument_specs.yml"
        text = path.read_text(encoding="utf-8")
        for option, options in wanted(role).items():
            spec = yaml.safe_load(text)["argument_specs"]["main"]["options"][option]
            if shape(spec.get("options")) != shape(options):
                drift.append(f"{role.name}: {option}")
                text = rewrite(text, option, merge(options, spec.get("options")))
        if not check:
            path.write_text(text, encoding="utf-8")
    for line in drift:
        print(("differs: " if check else "written: ") + line)
    return 1 if check and drift else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
