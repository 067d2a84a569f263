"""The roles' interface follows the typed facts: every role option fed by one inventory fact that
holds a dict (or a list of dicts) lists, in ``meta/argument_specs.yml``, exactly the keys and types
of that fact's model (govnet.facts). ``scripts/argspecs.py`` writes them; this fails on drift."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import yaml

from govnet import facts

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("argspecs", ROOT / "scripts/argspecs.py")
argspecs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(argspecs)

ROLES = sorted(p.name for p in (ROOT / "roles").iterdir() if p.name not in argspecs.SKIP)
FED = [(role, option) for role in ROLES for option in argspecs.wanted(ROOT / "roles" / role)]


def _spec_options(role: str) -> dict:
    spec = yaml.safe_load((ROOT / "roles" / role / "meta/argument_specs.yml").read_text(encoding="utf-8"))
    return spec["argument_specs"]["main"]["options"]


def test_the_fact_fed_dict_options_are_found():
    assert {("baseline", "baseline__interfaces"), ("baseline", "baseline__default_route"),
            ("firewall", "firewall__policy"), ("dns", "dns__zones"),
            ("database", "database__databases")} <= set(FED)


@pytest.mark.parametrize(("role", "option"), FED, ids=lambda v: v)
def test_spec_lists_the_keys_of_the_facts_model(role, option):
    defaults = yaml.safe_load((ROOT / "roles" / role / "defaults/main.yml").read_text(encoding="utf-8"))
    want = argspecs.shape(facts.fact_options(defaults[option]))
    got = argspecs.shape(_spec_options(role)[option].get("options"))
    assert got == want, f"run scripts/argspecs.py: {role}'s {option} differs from its fact's model"


def test_a_new_key_in_a_model_is_drift(monkeypatch):
    """The comparison sees a key the model gains and the spec lacks."""
    spec = _spec_options("baseline")["baseline__default_route"]["options"]
    monkeypatch.setattr(facts.Route, "model_fields", {**facts.Route.model_fields,
                                                      "metric": facts.Route.model_fields["distance"]})
    assert argspecs.shape(spec) != argspecs.shape(facts.fact_options("{{ govnet_default_route }}"))


def test_the_fact_expressions_resolve():
    assert facts.fact_options("{{ govnet_interfaces }}")["ospf"]["type"] == "dict"
    assert "clients" in facts.fact_options("{{ govnet_city.databases }}")
    assert facts.fact_options("{{ govnet_default_route | default(none) }}")["interface"] == {"type": "str"}
    assert facts.fact_options("{{ govnet_name }}") is None
    assert facts.fact_options("{{ govnet_backup.repositories | first }}") is None
