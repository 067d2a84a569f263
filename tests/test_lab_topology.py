"""What the lab builds for a stack (pure: nothing touches the machine)."""

from __future__ import annotations

import pytest

from govnet import inventory
from govnet.lab import layout, topology
from govnet.pipeline import LockMode, compile_stack


@pytest.fixture(scope="module")
def city():
    return compile_stack("stacks/example-city.yaml", LockMode.FROZEN)


def test_one_lab_host_per_device(city):
    topo = topology.build(city.design)
    assert [h.name for h in topo.hosts] == list(city.design.hosts)


def test_cables_join_both_ends_of_every_wired_link(city):
    topo = topology.build(city.design)
    cables = {c.link: (c.a, c.b) for c in topo.cables}
    assert cables["dc.core1~wolong.gw1"] == (("dc-core1", "eth2"), ("wolong-gw1", "eth2"))
    assert cables["wolong-backup"] == (("dc-core1", "eth3"), ("wolong-gw1", "eth3"))
    assert "dc.fw1~xixia.gw1" not in cables  # the VPN rides the Internet, not a cable
    assert len(cables) == 7


def test_vpn_ends_and_citizens_plug_into_the_internet(city):
    topo = topology.build(city.design)
    internet = {p.host for p in topo.ports if p.segment is None}
    assert internet == {"dc-fw1", "xixia-gw1", "tanghe-gw1", "internet-citizen1"}
    assert topo.internet_gateway == "198.19.0.1/24"


def test_servers_share_their_zone_segment_with_its_gateway(city):
    topo = topology.build(city.design)
    intranet = {p.host for p in topo.ports if p.segment == "dc:intranet"}
    assert intranet == {"dc-core1", "dc-infra1", "dc-db1", "dc-oa1"}


def test_controller_is_the_last_management_address(city):
    topo = topology.build(city.design)
    assert topo.controller == "198.18.143.254"
    assert topo.gateways["dc"] == "198.18.128.1/26"


def test_example_city_fits_the_lab(city):
    assert topology.problems(city.design) == []


def test_production_plan_is_refused_with_reasons():
    metro = compile_stack("stacks/example-metro.yaml", LockMode.FROZEN)
    problems = topology.problems(metro.design)
    assert any("outside 198.18.0.0/15" in p for p in problems)
    assert any("huawei-vrp" in p for p in problems)


def test_names_outside_hosts_fit_the_kernel_limit():
    assert len(layout.ifname("a-very-long-lab-name", "a-very-long-host-name", "mgmt0")) <= 15
    assert len(layout.mgmt_bridge("example-city")) <= 15


@pytest.mark.parametrize(("limit", "hosts"), [
    ("county_wolong", ["wolong-gw1", "wolong-edu-gw1"]),
    ("xixia-gw1,site_province", ["xixia-gw1", "province-pe1"]),
    ("", None),
])
def test_limit_selects_hosts_like_ansible(city, limit, hosts):
    chosen = inventory.select(city.vs, city.design, limit)
    assert chosen == (hosts if hosts is not None else list(city.design.hosts))
