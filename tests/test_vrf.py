"""A vendor router that routes both planes keeps each in a VRF: read back from the design and from
the RENDERED configurations of example-metro and its one-vendor variants (Huawei VRP, H3C Comware,
Cisco IOS XE).

- no routed interface of such a router is in the global table: each LAN, link (sub-)interface,
  tunnel and loopback is bound to its plane's VRF. The only exceptions are the out-of-band
  management port (Cisco's VRF Mgmt-intf; the management plane on Huawei/H3C) and the WAN port
  that carries a VPN router's tunnels (the tunnels' outside; their inside is in the extranet VRF);
- no OSPF process mixes planes: every process runs in one VRF, over interfaces of that VRF only,
  one process per VRF;
- routers of one plane, and every router of example-city, have no VRF at all.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from pathlib import Path

import netaddr
import pytest
import yaml

from govnet.design import VRF_VLANS, DesignError, Draft, check_vrfs
from govnet.pipeline import Compiled, compile_stack
from govnet.render import render
from test_link_agreement import OSPF_HEADER, _huawei_areas, blocks, config_of, interface_vrf
from test_vendor_parsers import _metro_variant

REPO = Path(__file__).resolve().parents[1]
METRO = REPO / "stacks" / "example-metro.yaml"
CITY = REPO / "stacks" / "example-city.yaml"
VENDORS = ("huawei-vrp", "h3c-comware", "cisco-ios")
STACKS = ["example-metro", *(f"metro-{v}" for v in VENDORS)]
#: the management port's own table: Cisco's management VRF; Huawei/H3C keep it global
MGMT_VRF = {"cisco-ios": "Mgmt-intf", "huawei-vrp": None, "h3c-comware": None}


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> Callable[[str], tuple[Compiled, dict[str, str]]]:
    cache: dict[str, tuple[Compiled, dict[str, str]]] = {}

    def get(stack: str) -> tuple[Compiled, dict[str, str]]:
        if stack not in cache:
            if stack in ("example-metro", "example-city"):
                path = METRO if stack == "example-metro" else CITY
            else:
                path = tmp_path_factory.mktemp(stack) / f"{stack}.yaml"
                path.write_text(yaml.safe_dump(_metro_variant(stack.removeprefix("metro-")),
                                               allow_unicode=True, sort_keys=False), encoding="utf-8")
            c = compile_stack(path)
            cache[stack] = c, render(c.design, management_supernet=str(c.vs.stack.address_plan.management))
        return cache[stack]

    return get


def interfaces(text: str) -> dict[str, list[str]]:
    """Interface name -> its lines, from a vendor config."""
    return {h.split()[1]: body for h, body in blocks(text).items() if h.startswith("interface ")}


def two_plane_routers(c: Compiled) -> list[str]:
    return [name for name, h in c.design.hosts.items() if h.routing and len(h.planes) > 1]


@pytest.mark.parametrize("stack", STACKS)
def test_two_plane_routers_have_a_vrf_per_plane(compiled, stack):
    c, _files = compiled(stack)
    routers = two_plane_routers(c)
    assert len(routers) > 50, routers  # the county and unit routers of example-metro
    for name in routers:
        h = c.design.hosts[name]
        assert [v.name for v in h.vrfs] == ["intranet", "extranet"], name
        assert [v.vlan for v in h.vrfs] == [VRF_VLANS["intranet"], VRF_VLANS["extranet"]]
        assert len({v.rd for v in h.vrfs}) == 2 and len({v.loopback for v in h.vrfs}) == 2
        assert h.ospf == h.vrfs[0].ospf and h.loopback == h.vrfs[0].loopback


@pytest.mark.parametrize("stack", STACKS)
def test_no_interface_of_a_two_plane_router_is_in_the_global_table(compiled, stack):
    c, files = compiled(stack)
    for name in two_plane_routers(c):
        h = c.design.hosts[name]
        text = config_of(name, h.platform, files)
        allowed = {h.management.interface: MGMT_VRF[h.platform]}
        allowed.update({i.name: None for i in h.interfaces if i.kind == "wan"})
        parents = {i.parent for i in h.interfaces if i.parent}
        vrfs = {v.name for v in h.vrfs}
        routed = 0
        for ifname, body in interfaces(text).items():
            has_address = any(line.startswith("ip address ") for line in body)
            vrf = interface_vrf(h.platform, text, ifname)
            if ifname in parents:  # the physical port under the sub-interfaces: no address of its own
                assert not has_address and vrf is None, f"{name} {ifname}: {body}"
            elif ifname in allowed:
                assert vrf == allowed[ifname], f"{name} {ifname} in {vrf}"
            else:
                assert has_address, f"{name} {ifname}: {body}"
                assert vrf in vrfs, f"{name} {ifname} is in the global table"
                routed += 1
        design = [i for i in h.interfaces if i.kind in ("lan", "link", "tunnel")]
        assert routed == len(design) + len(h.vrfs), name  # and a loopback per VRF
        assert all(i.vrf == i.plane for i in design), name


def ospf_coverage(platform: str, text: str) -> dict[str, tuple[str | None, set[str]]]:
    """OSPF process -> (its VRF, the interfaces it runs on), parsed from a vendor config."""
    cfg = blocks(text)
    processes = {m.group(1): (m.group(2), set()) for h in cfg if (m := OSPF_HEADER[platform].fullmatch(h))}
    for ifname, body in interfaces(text).items():
        if platform == "huawei-vrp":
            addresses = [line.split()[2:4] for line in body if line.startswith("ip address ")]
            found = _huawei_areas(cfg, str(netaddr.IPNetwork("/".join(addresses[0])))) if addresses else []
            owners = {process for process, _area in found}
        else:
            keyword = "ip ospf" if platform == "cisco-ios" else "ospf"
            owners = {m.group(1) for line in body if (m := re.fullmatch(rf"{keyword} (\d+) area \S+", line))}
        assert len(owners) <= 1, f"{ifname} is in OSPF processes {owners}"
        for process in owners:
            processes[process][1].add(ifname)
    return processes


@pytest.mark.parametrize("stack", STACKS)
def test_no_ospf_process_mixes_planes(compiled, stack):
    c, files = compiled(stack)
    checked = 0
    for name, h in c.design.hosts.items():
        if not h.routing or h.platform not in VENDORS or h.site_kind == "province":
            continue
        text = config_of(name, h.platform, files)
        processes = ospf_coverage(h.platform, text)
        vrfs = [vrf for vrf, _ifaces in processes.values()]
        assert len(vrfs) == len(set(vrfs)), f"{name}: two processes in one table: {vrfs}"
        if h.vrfs:
            assert sorted(vrfs) == sorted(v.name for v in h.vrfs), name
        else:
            assert vrfs == [None], f"{name} routes one plane, yet has OSPF in {vrfs}"
        plane_of = {i.name: i.plane for i in h.interfaces}
        for v in h.vrfs or ():
            plane_of[v.loopback_interface] = v.name
        for process, (vrf, ifnames) in processes.items():
            assert ifnames, f"{name}: OSPF {process} runs on nothing"
            for ifname in ifnames:
                assert interface_vrf(h.platform, text, ifname) == vrf, \
                    f"{name} {ifname} outside OSPF {process}'s VRF"
            planes = {plane_of[i] for i in ifnames if i in plane_of}
            assert planes <= ({vrf} if vrf else set(h.planes)) and len(planes) == 1, \
                f"{name}: OSPF {process} ({vrf}) spans {planes}"
        checked += 1
    assert checked > 50


@pytest.mark.parametrize("stack", STACKS)
def test_two_plane_routers_reach_their_services_in_the_intranet_vrf(compiled, stack):
    """NTP and syslog servers (the intranet's: the router's first plane, where LoopBack0 is) are
    named with their VRF; so are the ACL rules that admit them on Huawei and H3C."""
    c, files = compiled(stack)
    want = {"huawei-vrp": [r"^ntp-service unicast-server {} vpn-instance intranet$",
                           r"^info-center loghost {} vpn-instance intranet facility local7$",
                           r"^ rule \d+ permit source {} 0 vpn-instance intranet$"],
            "h3c-comware": [r"^ntp-service unicast-server {} vpn-instance intranet source LoopBack0$",
                            r"^info-center loghost vpn-instance intranet {} facility local7$",
                            r"^ rule \d+ permit source {} 0 vpn-instance intranet$"],
            "cisco-ios": [r"^ntp server vrf intranet {}$", r"^logging host {} vrf intranet$"]}
    for name in two_plane_routers(c):
        h = c.design.hosts[name]
        text = config_of(name, h.platform, files)
        for pattern in want[h.platform]:
            servers = h.clients["ntp"] if "ntp" in pattern or "rule" in pattern else h.clients["syslog"]
            assert servers
            for server in servers:
                assert re.search(pattern.format(re.escape(server)), text, re.MULTILINE), (name, pattern)


def test_the_uplink_bgp_sits_in_the_extranet_vrf(compiled):
    c, files = compiled("example-metro")
    for name in ("dc-core1", "dc-core2"):
        h = c.design.hosts[name]
        assert h.bgp.vrf == "extranet"
        assert h.bgp.router_id == h.vrfs[1].loopback != h.loopback  # the province sees no intranet address
        text = config_of(name, h.platform, files)
        assert re.search(r"^ ipv4-family vpn-instance extranet$", text, re.MULTILINE)
        assert re.search(r"^ip route-static vpn-instance extranet 10\.8\.0\.0 255\.252\.0\.0 NULL0 ", text,
                         re.MULTILINE)


@pytest.mark.parametrize("stack", ["example-city", "example-metro"])
def test_one_plane_routers_have_no_vrf(compiled, stack):
    c, files = compiled(stack)
    hosts = [(n, h) for n, h in c.design.hosts.items() if h.routing and len(h.planes) == 1]
    assert hosts
    for name, h in hosts:
        assert h.vrfs is None and all(i.vrf is None and i.vlan is None for i in h.interfaces), name
        assert h.ospf.vrf is None and (h.bgp is None or h.bgp.vrf is None), name
        if h.platform in VENDORS:
            text = config_of(name, h.platform, files)
            assert not re.search(r"vpn-instance|^vrf definition (?!Mgmt-intf)", text, re.MULTILINE), name


def test_the_design_refuses_an_interface_left_in_the_global_table(compiled):
    c, _files = compiled("example-metro")
    hosts = copy.deepcopy(c.design.hosts)
    iface = next(i for i in hosts["dc-core1"].interfaces if i.vlan == VRF_VLANS["extranet"])
    iface.vrf = None

    d = Draft(hosts=hosts)
    with pytest.raises(DesignError, match=rf"dc-core1: {re.escape(iface.name)} .* in VRF None, not extranet"):
        check_vrfs(c.vs, c.design.plan, d)
    iface.vrf = "extranet"
    check_vrfs(c.vs, c.design.plan, d)
