"""Validation: source data -> a :class:`ValidStack`, or every problem with file:line:column.

One job: decide whether a stack is acceptable and resolve what it implies (inherited settings,
site tree, zone gateways, link areas). Structural problems come from pydantic and are translated
into plain language; whole-stack rules live in :mod:`govnet.rules`.
"""

from __future__ import annotations

import os
import types
import typing
from collections.abc import Callable

from pydantic import BaseModel, ValidationError

from govnet import model as m
from govnet.diagnostics import Diagnostic, StackError, closest
from govnet.perf import no_gc
from govnet.rules import ValidStack, resolve
from govnet.source import Source, load_source

# ----------------------------------------------------------------- pydantic error translation

_TYPE_NAMES = {
    "string_type": "a string", "int_type": "a whole number", "int_parsing": "a whole number",
    "int_from_float": "a whole number", "bool_type": "true or false", "bool_parsing": "true or false",
    "list_type": "a list", "dict_type": "a mapping", "model_type": "a mapping",
    "model_attributes_type": "a mapping", "float_type": "a number", "float_parsing": "a number",
}

_VALUE_ERRORS = {
    "slug": ("bad-identifier",
             "{value!r} is not a valid identifier",
             "use lowercase ASCII letters, digits and '-', starting with a letter, at most 24 "
             "characters (e.g. 'wolong'); Chinese names belong in display_name"),
    "network": ("bad-network", "{value!r} is not an IPv4 network in CIDR notation",
                "write it as ADDRESS/LENGTH, e.g. 198.18.0.0/18"),
    "area": ("bad-ospf-area", "{value!r} is not an OSPF area",
             "write the area dotted (0.0.0.1) or as a number (1)"),
    "asn": ("bad-asn", "{value!r} is not a private AS number",
            "use one of the private ranges (RFC 6996): 64512-65534 or 4200000000-4294967294"),
    "domain": ("bad-domain", "{value!r} is not a DNS domain",
               "use lowercase labels separated by dots, e.g. example.gov.cn"),
}


def _unwrap_models(annotation) -> list[type[BaseModel]]:
    """BaseModel classes reachable through Optional / list / dict / Annotated wrappers."""
    found: list[type[BaseModel]] = []
    stack = [annotation]
    while stack:
        a = stack.pop()
        if isinstance(a, type) and issubclass(a, BaseModel):
            found.append(a)
            continue
        origin = typing.get_origin(a)
        if origin is typing.Annotated:
            stack.append(typing.get_args(a)[0])
        elif origin in (list, dict, typing.Union, types.UnionType):
            stack.extend(typing.get_args(a))
    return found


def _model_at(data_path: tuple) -> type[BaseModel] | None:
    """The model class that describes the mapping at ``data_path`` (for 'did you mean')."""
    current: type[BaseModel] | None = m.Stack
    for part in data_path:
        if current is None:
            return None
        if isinstance(part, int):
            continue
        info = current.model_fields.get(part)
        if info is None:
            continue  # a dict key such as a zone name
        models = _unwrap_models(info.annotation)
        current = models[0] if models else None
    return current


def _data_path(data, loc: tuple) -> tuple:
    """Drop pydantic's internal loc parts (union branches, validator names) from ``loc``."""
    path: list = []
    node = data
    for part in loc:
        in_dict = isinstance(node, dict) and isinstance(part, str) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if in_dict or in_list:
            path.append(part)
            node = node[part]
        elif isinstance(node, dict) and isinstance(part, str) and part.isidentifier():
            path.append(part)  # a missing or unknown key: keep it, there is nothing below
            node = None
    return tuple(path)


def _describe(path: tuple) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out or "the stack"


def _missing(src: Source, path: tuple, err: dict) -> Diagnostic:
    parent, key = path[:-1], path[-1]
    cls = _model_at(parent)
    desc = ""
    if cls is not None and key in cls.model_fields:
        desc = cls.model_fields[key].description or ""
    return src.diag(parent, "missing-key", f"{_describe(parent)}: required key {key!r} is missing",
                    f"add '{key}:'" + (f" ({desc})" if desc else ""))


def _unknown_key(src: Source, path: tuple, err: dict) -> Diagnostic:
    key = path[-1]
    cls = _model_at(path[:-1])
    allowed = sorted(cls.model_fields) if cls else []
    guess = closest(key, allowed)
    hint = f"did you mean {guess!r}?" if guess else (
        f"allowed keys here: {', '.join(allowed)}" if allowed else "remove it")
    return src.diag(path, "unknown-key", f"{_describe(path[:-1])}: unknown key {key!r}", hint, key=True)


def _enum(src: Source, path: tuple, err: dict) -> Diagnostic:
    value = err.get("input")
    expected = err.get("ctx", {}).get("expected", "")
    choices = [c.strip().strip("'") for c in expected.replace(" or ", ",").split(",")]
    if isinstance(value, str) and value in m.NOT_SERVICES and set(choices) == set(m.Service):
        return src.diag(path, "bad-value",
                        f"{_describe(path)}: {value!r} is not a govnet service: "
                        f"{m.NOT_SERVICES[value]}",
                        f"remove {value!r}; the services are: {', '.join(choices)}")
    guess = closest(value, choices)
    hint = (f"did you mean {guess!r}? " if guess else "") + f"use one of: {', '.join(choices)}"
    return src.diag(path, "bad-value", f"{_describe(path)}: {value!r} is not allowed", hint)


def _value_error(src: Source, path: tuple, err: dict) -> Diagnostic:
    value, where = err.get("input"), _describe(path)
    code = str(err.get("ctx", {}).get("error", ""))
    if code.startswith("host-bits:"):
        cidr = code.split(":", 1)[1]
        return src.diag(path, "bad-network", f"{where}: {value!r} has host bits set",
                        f"write the network address: {cidr}")
    if code in _VALUE_ERRORS:
        rule, text, hint = _VALUE_ERRORS[code]
        return src.diag(path, rule, f"{where}: " + text.format(value=value), hint)
    return src.diag(path, "bad-value", f"{where}: {err['msg']}", "fix the value")


_GOT_NAMES = {"dict": "a mapping", "list": "a list", "str": "a string", "int": "a number",
              "float": "a number", "bool": "true/false", "NoneType": "nothing"}


def _wrong_type(src: Source, path: tuple, err: dict) -> Diagnostic:
    value = err.get("input")
    got = type(value).__name__ if value is not None else "nothing"
    got = _GOT_NAMES.get(got, got)
    return src.diag(path, "wrong-type", f"{_describe(path)}: expected {_TYPE_NAMES[err['type']]}, "
                    f"got {got}", "fix the value's type (see schemas/govnet-stack.schema.json)")


_SIGNS = {"greater_than_equal": ">=", "less_than_equal": "<=", "greater_than": ">", "less_than": "<"}


def _out_of_range(src: Source, path: tuple, err: dict) -> Diagnostic:
    bound = next(iter(err.get("ctx", {}).values()), "")
    return src.diag(path, "out-of-range", f"{_describe(path)}: {err.get('input')!r} is out of range: "
                    f"it must be {_SIGNS[err['type']]} {bound}", "choose a value inside the range")


def _bad_length(src: Source, path: tuple, err: dict) -> Diagnostic:
    ctx = err.get("ctx", {})
    if err["type"] == "too_short":
        text = f"needs at least {ctx.get('min_length')} entr(y/ies), has {ctx.get('actual_length')}"
    else:
        text = f"allows at most {ctx.get('max_length')} entries, has {ctx.get('actual_length')}"
    return src.diag(path, "bad-length", f"{_describe(path)}: {text}", "add or remove entries")


def _bad_text_length(src: Source, path: tuple, err: dict) -> Diagnostic:
    return src.diag(path, "bad-length", f"{_describe(path)}: {err['msg'].replace('String', 'the text')}",
                    "shorten or lengthen the text")


def _pattern(src: Source, path: tuple, err: dict) -> Diagnostic:
    return src.diag(path, "bad-value", f"{_describe(path)}: {err.get('input')!r} has the wrong form",
                    f"it must match {err.get('ctx', {}).get('pattern', '')}")


def _other(src: Source, path: tuple, err: dict) -> Diagnostic:
    return src.diag(path, "bad-value", f"{_describe(path)}: {err['msg']}", "fix the value")


#: pydantic error type -> the translator that says it in plain language
_TRANSLATORS: dict[str, Callable[[Source, tuple, dict], Diagnostic]] = {
    "missing": _missing, "extra_forbidden": _unknown_key, "enum": _enum, "value_error": _value_error,
    **dict.fromkeys(_TYPE_NAMES, _wrong_type), **dict.fromkeys(_SIGNS, _out_of_range),
    "too_short": _bad_length, "too_long": _bad_length,
    "string_too_long": _bad_text_length, "string_too_short": _bad_text_length,
    "string_pattern_mismatch": _pattern,
}


def translate_errors(src: Source, exc: ValidationError) -> list[Diagnostic]:
    """Pydantic's errors in plain language, at their position in the file, one per problem."""
    diags: list[Diagnostic] = []
    seen: set = set()
    for err in exc.errors(include_url=False):
        path = _data_path(src.data, tuple(err["loc"]))
        d = _TRANSLATORS.get(err["type"], _other)(src, path, err)
        ident = (d.line, d.column, d.code, d.message)
        if ident not in seen:  # unions report one error per branch; keep one
            seen.add(ident)
            diags.append(d)
    return diags


# ----------------------------------------------------------------- the stage


@no_gc
def validate_source(src: Source) -> ValidStack:
    """Validate parsed data; raise StackError with every diagnostic found."""
    try:
        stack = m.Stack.model_validate(src.data)
    except ValidationError as exc:
        raise StackError(translate_errors(src, exc)) from None
    return resolve(src, stack)


def load(path: str | os.PathLike) -> ValidStack:
    """Read, parse and validate the stack file at ``path``."""
    return validate_source(load_source(path))
