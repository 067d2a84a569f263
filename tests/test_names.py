"""Tests of govnet.names: the city's DNS data from the design, one behaviour per test."""

from __future__ import annotations

from pathlib import Path

import netaddr
import pytest

from govnet.addressing import address
from govnet.names import label
from govnet.pipeline import compile_stack

CITY = Path(__file__).resolve().parents[1] / "stacks" / "example-city.yaml"


@pytest.fixture(scope="module")
def design():
    return compile_stack(CITY).design


def _forward(design) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for r in design.dns.forward.records:
        out.setdefault(r.name, []).append(r.value)
    return out


def test_every_city_device_has_its_name(design):
    fwd = _forward(design)
    for h in design.hosts.values():
        if h.site_kind != "internet":
            assert f"{h.device}.{h.site}" in fwd


def test_routers_are_named_by_their_loopback_servers_by_their_zone_address(design):
    fwd = _forward(design)
    assert fwd["core1.dc"] == [design.hosts["dc-core1"].loopback]
    assert fwd["db1.dc"] == ["198.18.0.3"]


def test_internet_hosts_get_no_records(design):
    assert not any(r.name.endswith(".internet") for r in design.dns.forward.records)


def test_services_have_names(design):
    fwd = _forward(design)
    # one server of each per plane: dc-infra1 (intranet), dc-infra2 (extranet)
    assert fwd["ntp"] == fwd["log"] == ["198.18.0.2", "198.18.64.3"]
    assert (fwd["ns1"], fwd["ns2"]) == (["198.18.0.2"], ["198.18.64.3"])
    assert fwd["www"] == ["198.18.64.2"]  # services.portal.server_name of the stack
    assert design.dns.forward.nameservers == ["ns1", "ns2"]


def test_every_city_address_has_one_ptr(design):
    ptr = {}
    for zone, z in design.dns.reverse.items():
        net = netaddr.IPNetwork(z.network)
        for r in z.records:
            addr = ".".join(str(net.network).split(".")[: net.prefixlen // 8]
                            + list(reversed(r.name.split("."))))
            assert addr not in ptr, f"two PTRs for {addr} in {zone}"
            ptr[addr] = r.value
    for h in design.hosts.values():
        if h.site_kind == "internet":
            continue
        for i in h.interfaces:
            if i.kind != "wan":
                assert address(i.address) in ptr
        assert address(h.management.address) in ptr


def test_reverse_zones_are_octet_aligned_and_disjoint(design):
    nets = [netaddr.IPNetwork(z.network) for z in design.dns.reverse.values()]
    assert [str(n) for n in nets] == ["198.18.0.0/16"]
    assert list(design.dns.reverse) == ["18.198.in-addr.arpa"]


def test_serial_follows_the_records(design):
    again = compile_stack(CITY).design.dns
    assert again.serial == design.dns.serial


def test_interface_names_become_labels():
    assert label("GigabitEthernet0/0/1") == "gigabitethernet0-0-1"
    assert label("eth1") == "eth1"
