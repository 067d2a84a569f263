"""Address allocation: deterministic, inside its pools, never overlapping, and stable under change."""

from __future__ import annotations

import copy
import itertools
from pathlib import Path

import netaddr
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from govnet import addressing
from govnet.addressing import address, allocate, dump_lock, lock_path, read_lock
from govnet.diagnostics import StackError
from govnet.pipeline import LockMode, compile_stack
from govnet.source import Source
from govnet.validate import load, validate_source

PLAN = {"intranet": "198.18.0.0/18", "extranet": "198.18.64.0/18", "management": "198.18.128.0/20",
        "loopbacks": "198.18.144.0/24", "links": "198.18.145.0/24", "tunnels": "198.18.146.0/24",
        "internet": "198.19.0.0/16"}


def _stack(counties: list[str]) -> dict:
    sites = [{"name": "dc", "kind": "datacenter", "devices": [
        {"name": "core1", "role": "router", "gateway_for": ["intranet", "extranet"]},
        {"name": "infra1", "role": "server", "zone": "intranet", "services": ["dns"]}]}]
    links = []
    for c in counties:
        sites.append({"name": c, "kind": "county", "devices": [{"name": "gw1", "role": "router"}]})
        links.append({"a": "dc.core1", "b": f"{c}.gw1", "medium": "fiber"})
    # vendor routers: each routes both planes in VRFs, so every site has both subnets
    return {"city": {"name": "t", "domain": "t.gov.cn"}, "address_plan": dict(PLAN),
            "defaults": {"platform": "huawei-vrp"}, "sites": sites, "links": links}


def _validate(data: dict):
    return validate_source(Source(file="<test>", data=copy.deepcopy(data)))


def _owned_by(key: str, county: str) -> bool:
    return f"{county}." in key or key.endswith(f":{county}") or f":{county}:" in key or (
        f"~{county}." in key)


NAMES = st.lists(st.from_regex(r"\A[a-z][a-z0-9]{1,8}\Z"), min_size=1, max_size=12,
                 unique=True).filter(lambda xs: "dc" not in xs)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(counties=NAMES, extra=st.from_regex(r"\Ax[a-z0-9]{1,8}\Z"), data=st.data())
def test_adding_or_removing_a_site_moves_no_other_address(counties, extra, data):
    assume(extra not in counties)
    before = allocate(_validate(_stack(counties)))
    # add a county at a random position
    pos = data.draw(st.integers(0, len(counties)))
    grown = [*counties[:pos], extra, *counties[pos:]]
    after_add = allocate(_validate(_stack(grown)), before.entries)
    for key, value in before.entries.items():
        assert after_add.entries[key] == value, key
    assert after_add.removed == []
    assert after_add.added and all(_owned_by(k, extra) for k in after_add.added)
    # remove a county
    gone = data.draw(st.sampled_from(counties))
    shrunk = [c for c in counties if c != gone]
    after_remove = allocate(_validate(_stack(shrunk)), before.entries)
    for key, value in after_remove.entries.items():
        assert before.entries[key] == value, key
    assert after_remove.added == []
    assert all(_owned_by(k, gone) for k in after_remove.removed)


@pytest.mark.parametrize("stack", ["example-city", "example-metro"])
def test_allocations_fit_their_pools_and_never_overlap(stack):
    vs = load(f"stacks/{stack}.yaml")
    plan = allocate(vs, read_lock(lock_path(f"stacks/{stack}.yaml")))
    pools = {k: netaddr.IPNetwork(getattr(vs.stack.address_plan, k))
             for k in ("intranet", "extranet", "management", "loopbacks", "links", "tunnels",
                       "internet")}
    blocks = {k: netaddr.IPNetwork(v) for k, v in plan.entries.items()
              if k.split(":")[0] in ("subnet", "mgmt", "loopback", "link", "tunnel",
                                     "internet-segment")}
    for key, net in blocks.items():
        assert any(net in pool for pool in pools.values()), key
    ordered = sorted(blocks.items(), key=lambda kv: kv[1].first)
    for (ka, a), (kb, b) in itertools.pairwise(ordered):
        assert b.first > a.last, f"{ka} {a} overlaps {kb} {b}"


@pytest.mark.parametrize("stack", ["example-city", "example-metro"])
def test_hosts_sit_inside_their_subnet_and_are_unique(stack):
    plan = compile_stack(f"stacks/{stack}.yaml", LockMode.FROZEN).plan
    seen: dict[str, str] = {}
    for key, value in plan.entries.items():
        kind, _, owner = key.partition(":")
        if kind not in ("host", "mgmt-host", "internet"):
            continue
        ip = address(value)
        assert ip not in seen, f"{key} and {seen[ip]} share {ip}"
        seen[ip] = key
        site = owner.split(".")[0]
        enclosing = {"mgmt-host": f"mgmt:{site}", "internet": "internet-segment"}.get(kind)
        if enclosing is None:
            continue  # host:<key> subnets depend on the zone, checked through the design
        assert netaddr.IPAddress(ip) in netaddr.IPNetwork(plan.entries[enclosing]), key


def test_allocation_is_deterministic():
    vs = load("stacks/example-metro.yaml")
    assert allocate(vs).entries == allocate(vs).entries


def test_committed_locks_are_current():
    for stack in ("example-city", "example-metro"):
        path = f"stacks/{stack}.yaml"
        plan = allocate(load(path), read_lock(lock_path(path)))
        assert not plan.changed, f"run govnet plan {path}"
        assert dump_lock(plan) == lock_path(path).read_text(encoding="utf-8")


def test_frozen_mode_refuses_a_stale_lock(tmp_path):
    stack = tmp_path / "s.yaml"
    stack.write_text(Path("stacks/example-city.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(StackError) as info:
        compile_stack(stack, LockMode.FROZEN)
    assert info.value.diagnostics[0].code == "stale-lock"
    compile_stack(stack, LockMode.WRITE)
    assert lock_path(stack).is_file()
    compile_stack(stack, LockMode.FROZEN)  # now recorded


def test_a_locked_entry_outside_its_pool_is_reallocated():
    vs = load("stacks/example-city.yaml")
    lock = read_lock(lock_path("stacks/example-city.yaml"))
    lock["loopback:dc.core1"] = "10.99.0.1/32"  # a hand edit that no longer fits the plan
    plan = allocate(vs, lock)
    assert netaddr.IPNetwork(plan.entries["loopback:dc.core1"]) in netaddr.IPNetwork(PLAN["loopbacks"])
    assert plan.moved == {"loopback:dc.core1": "10.99.0.1/32"} and plan.changed


# ------------------------------------------ integer arithmetic == netaddr's

_ADDRESS_TEXT = st.one_of(
    st.integers(0, 2**32 - 1).map(lambda n: str(netaddr.IPAddress(n))),  # canonical
    st.tuples(*[st.sampled_from(["0", "00", "01", "7", "255", "256", "-1", "1e2", " 1", ""])] * 4)
    .map(".".join),  # leading zeros, out of range, junk
    st.sampled_from(["10.1", "10", "::1", "1.2.3.4.5", "", "a.b.c.d"]),
)
_PREFIX_TEXT = st.one_of(st.integers(0, 32).map(str),
                         st.sampled_from(["", "33", "024", "-1", "255.255.255.0", "x"]))


def _netaddr_or_error(func):
    try:
        return func()
    except (netaddr.AddrFormatError, ValueError, TypeError) as exc:
        return type(exc).__name__


@settings(max_examples=400, deadline=None)
@given(ip=_ADDRESS_TEXT, plen=_PREFIX_TEXT, slash=st.booleans())
def test_integer_address_helpers_agree_with_netaddr(ip, plen, slash):
    """design and addressing parse addresses without netaddr objects in their hot loops; for any
    text they give netaddr's result (canonical text) or raise where netaddr raises."""
    cidr = f"{ip}/{plen}" if slash else ip
    expected = _netaddr_or_error(lambda: netaddr.IPNetwork(cidr, version=4))
    got = _netaddr_or_error(lambda: addressing.parse_cidr(cidr))
    if isinstance(expected, str):
        assert isinstance(got, str), (cidr, got)
    else:
        assert got == (int(expected.ip), expected.prefixlen), cidr
        assert addressing.network_first(cidr) == expected.first
        assert addressing.canonical(cidr) == str(expected)
    address = _netaddr_or_error(lambda: int(netaddr.IPAddress(ip, 4)))
    got_address = _netaddr_or_error(lambda: addressing.to_int(ip))
    assert isinstance(got_address, str) if isinstance(address, str) else got_address == address, ip
    if isinstance(address, int):
        assert addressing.from_int(address) == str(netaddr.IPAddress(address))


def test_a_locked_entry_in_another_form_is_kept_when_netaddr_reads_it_so():
    """The lock is read through the same helpers: what netaddr accepted before still counts."""
    vs = load("stacks/example-city.yaml")
    lock = read_lock(lock_path("stacks/example-city.yaml"))
    subnet = lock["subnet:dc:intranet"]
    lock["subnet:dc:intranet"] = f"{address(subnet)}/255.255.255.0"  # netmask form of a /24
    assert netaddr.IPNetwork(subnet).prefixlen == 24
    plan = allocate(vs, lock)
    assert plan.entries["subnet:dc:intranet"] == lock["subnet:dc:intranet"] and not plan.moved
    lock["loopback:dc.core1"] = "::1/128"
    assert "loopback:dc.core1" in allocate(vs, lock).moved
