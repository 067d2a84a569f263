"""Settings inherit built-in standard -> defaults -> kinds.<kind> -> site -> device."""

from __future__ import annotations

import copy

import pytest

from govnet.model import Stack
from govnet.rules.resolver import resolve_stack
from govnet.source import Source
from govnet.validate import validate_source

BASE = {
    "city": {"name": "t", "domain": "t.gov.cn"},
    "address_plan": {"intranet": "198.18.0.0/18", "extranet": "198.18.64.0/18",
                     "management": "198.18.128.0/20", "loopbacks": "198.18.144.0/24",
                     "links": "198.18.145.0/24", "tunnels": "198.18.146.0/24",
                     "internet": "198.19.0.0/16"},
    # intranet only: each frr router routes one plane (the planes never meet)
    "defaults": {"subnets": {"extranet": None}},
    "sites": [
        {"name": "dc", "kind": "datacenter", "devices": [{"name": "core1", "role": "router"}]},
        {"name": "north", "kind": "county", "ospf_area": 7,
         "devices": [{"name": "gw1", "role": "router"}]},
        {"name": "edu", "kind": "unit", "parent": "north",
         "devices": [{"name": "gw1", "role": "router"}]},
    ],
    "links": [{"a": "dc.core1", "b": "north.gw1", "medium": "fiber"},
              {"a": "north.gw1", "b": "edu.gw1", "medium": "fiber"}],
}


def _vs(**patch):
    data = copy.deepcopy(BASE)
    for key, value in patch.items():
        data[key] = {**data[key], **value} if key == "defaults" else value
    return validate_source(Source(file="<test>", data=data))


def _with_site(index: int, **fields):
    sites = copy.deepcopy(BASE["sites"])
    sites[index].update(fields)
    return sites


@pytest.mark.parametrize(("patch", "device", "expected"), [
    ({}, "north.gw1", "frr"),
    ({"defaults": {"platform": "cisco-ios"}}, "north.gw1", "cisco-ios"),
    ({"defaults": {"platform": "cisco-ios"}, "kinds": {"county": {"platform": "huawei-vrp"}}},
     "north.gw1", "huawei-vrp"),
    ({"kinds": {"county": {"platform": "huawei-vrp"}},
      "sites": _with_site(1, platform="h3c-comware")}, "north.gw1", "h3c-comware"),
    ({"kinds": {"county": {"platform": "huawei-vrp"}}}, "dc.core1", "frr"),
])
def test_platform_inherits_down_to_the_device(patch, device, expected):
    assert _vs(**patch).device_settings[device]["platform"].value == expected


def test_security_mappings_merge_key_by_key():
    vs = _vs(defaults={"security": {"login_attempts": 3}},
             kinds={"county": {"security": {"idle_timeout_minutes": 5}}})
    sec = vs.device_settings["north.gw1"]["security"]
    assert (sec["login_attempts"], sec["idle_timeout_minutes"], sec["password_min_length"]) == (3, 5, 12)


def test_null_removes_a_zone_a_higher_level_gives():
    data = copy.deepcopy(BASE)
    del data["defaults"]
    data["sites"][1]["subnets"] = {"extranet": None}
    r = resolve_stack(Stack.model_validate(data))
    assert set(r.site_settings["north"]["subnets"]) == {"intranet"}
    assert set(r.site_settings["dc"]["subnets"]) == {"intranet", "extranet"}


@pytest.mark.parametrize(("patch", "expected"), [
    ({}, "0.0.0.7"),  # a unit takes its parent's area
    ({"sites": _with_site(2, ospf_area=9)}, "0.0.0.9"),  # unless it sets its own
    ({"kinds": {"unit": {"ospf_area": 3}}}, "0.0.0.3"),  # or kinds.unit does
])
def test_unit_ospf_area(patch, expected):
    vs = _vs(**patch)
    assert vs.site_settings["edu"]["ospf_area"] == expected
    assert vs.link_area["north.gw1~edu.gw1"] == expected


def _with_subunit(**fields):
    sites = copy.deepcopy(BASE["sites"])
    sites.append({"name": "lab", "kind": "unit", "parent": "edu", **fields,
                  "devices": [{"name": "gw1", "role": "router"}]})
    return sites


@pytest.mark.parametrize(("sites", "expected"), [
    (_with_subunit(), "0.0.0.7"),  # through a unit without an area of its own, to the county's
    ([*_with_site(2, ospf_area=9)[:3], *_with_subunit()[3:]], "0.0.0.9"),  # the nearest unit's
    (_with_subunit(ospf_area=4), "0.0.0.4"),  # its own
])
def test_unit_below_a_unit_takes_the_nearest_area(sites, expected):
    links = [*BASE["links"], {"a": "edu.gw1", "b": "lab.gw1", "medium": "fiber"}]
    vs = _vs(sites=sites, links=links)
    assert vs.site_settings["lab"]["ospf_area"] == expected
    assert vs.link_area["edu.gw1~lab.gw1"] == expected


def test_resolving_tolerates_what_the_checks_report():
    """Resolving judges nothing: dangling references resolve to nothing, the first duplicate wins."""
    data = copy.deepcopy(BASE)
    data["sites"][2]["parent"] = "nowhere"
    data["sites"].append(copy.deepcopy(data["sites"][1]))  # north twice
    data["links"].append({"a": "north.gw9", "b": "ghost.gw1", "medium": "fiber"})
    r = resolve_stack(Stack.model_validate(data))
    assert r.parents["edu"] is None and r.sites["north"] is not r.stack.sites[3]
    assert "north.gw9~ghost.gw1" not in r.link_area
    assert r.site_settings["edu"]["ospf_area"] == "0.0.0.0"  # no parent to take an area from
