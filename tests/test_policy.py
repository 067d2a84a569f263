"""Tests of govnet.policy: the zone policy each host gets, one behaviour per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from govnet.pipeline import compile_stack

CITY = Path(__file__).resolve().parents[1] / "stacks" / "example-city.yaml"


@pytest.fixture(scope="module")
def hosts():
    return compile_stack(CITY).design.hosts


def _accept(h: dict, service: str) -> list[dict]:
    return [r for r in h.firewall.accept if r.service == service]


def test_internet_hosts_get_no_policy(hosts):
    assert hosts["internet-citizen1"].firewall is None


@pytest.mark.parametrize("name", ["dc-core1", "dc-db1", "wolong-gw1", "dc-portal1"])
def test_ssh_only_from_the_management_network(hosts, name):
    (ssh,) = _accept(hosts[name], "ssh")
    assert ssh.sources == ["198.18.128.0/20"] and ssh.port == 22
    assert hosts[name].firewall.management_interface == "mgmt0"


def test_database_open_to_its_plane_only(hosts):
    (pg,) = _accept(hosts["dc-db1"], "database")
    assert pg.sources == ["198.18.0.0/18"] and pg.port == 5432


def test_shared_services_open_to_the_city_networks_of_their_plane(hosts):
    ntp = _accept(hosts["dc-infra1"], "ntp")
    assert ntp[0].sources == [
        "198.18.0.0/18", "198.18.128.0/20", "198.18.144.0/24", "198.18.145.0/24", "198.18.146.0/24"]
    assert "198.19.0.0/16" not in ntp[0].sources
    # the extranet's server: never the intranet
    assert _accept(hosts["dc-infra2"], "ntp")[0].sources == [
        "198.18.64.0/18", "198.18.128.0/20", "198.18.144.0/24", "198.18.145.0/24", "198.18.146.0/24"]


def test_video_opens_its_api_turn_and_media_range_to_its_plane_only(hosts):
    rules = {(r.proto, r.port, r.port_end): r.sources for r in _accept(hosts["dc-oa1"], "videoconf")}
    assert rules == {("tcp", 443, None): ["198.18.0.0/18"], ("udp", 3478, None): ["198.18.0.0/18"],
                     ("tcp", 3478, None): ["198.18.0.0/18"], ("udp", 20000, 20199): ["198.18.0.0/18"]}
    v = hosts["dc-oa1"].videoconf
    # Janus's and coturn's ranges are the opened range, and coturn relays to the plane only
    assert (v.rtp_ports[0], v.relay_ports[1]) == (20000, 20199)
    assert v.peers == ["198.18.0.0", "198.18.63.255"]
    assert v.room.publishers == 5  # dc, dr, wolong, wolong-edu, wancheng: the intranet's sites


def test_portal_open_to_anyone(hosts):
    assert {r.port for r in _accept(hosts["dc-portal1"], "portal")} == {80, 443}
    assert all(r.sources == ["0.0.0.0/0"] for r in _accept(hosts["dc-portal1"], "portal"))


def test_hosts_open_only_what_they_host(hosts):
    assert {r.service for r in hosts["dc-db1"].firewall.accept} == {
        "ssh", "database", "node-exporter"}
    assert {r.service for r in hosts["wolong-gw1"].firewall.accept} == {
        "ssh", "node-exporter"}


def test_only_the_monitoring_server_of_the_plane_scrapes(hosts):
    for name, server in (("dc-db1", "198.18.0.2"), ("wolong-gw1", "198.18.0.2"),
                         ("dc-portal1", "198.18.64.3"), ("xixia-gw1", "198.18.64.3")):
        (rule,) = _accept(hosts[name], "node-exporter")
        assert (rule.proto, rule.port, rule.sources) == ("tcp", 9100, [f"{server}/32"])
    assert hosts["internet-citizen1"].firewall is None


def test_servers_forward_nothing_routers_forward(hosts):
    assert hosts["dc-db1"].firewall.forward is False
    assert hosts["dc-core1"].firewall.forward is True
    assert hosts["dc-db1"].firewall.ospf_interfaces == []
    assert "lan0" in hosts["dc-core1"].firewall.ospf_interfaces


def test_egress_translates_the_extranet_and_drops_the_intranet(hosts):
    egress = hosts["dc-fw1"].firewall.egress
    assert egress.nat_sources == ["198.18.64.0/18"]
    assert egress.deny_sources == ["198.18.0.0/18"]


def test_egress_publishes_the_portal(hosts):
    publish = hosts["dc-fw1"].firewall.egress.publish
    assert {(p.proto, p.port, p.to) for p in publish} == {
        ("tcp", 80, "198.18.64.2"), ("tcp", 443, "198.18.64.2")}


def test_only_the_egress_translates(hosts):
    assert [n for n, h in hosts.items() if h.firewall and h.firewall.egress] == ["dc-fw1"]


def test_tunnels_accepted_from_their_peer_only(hosts):
    # the hub: IKE and ESP in UDP from its IPsec county, WireGuard from the other
    assert sorted((t.proto, t.port, t.peer) for t in hosts["dc-fw1"].firewall.tunnels) == [
        ("udp", 500, "198.19.0.3"), ("udp", 4500, "198.19.0.3"), ("udp", 51820, "198.19.0.5")]
    assert {t.interface for t in hosts["dc-fw1"].firewall.tunnels} == {"wan0"}
    assert {(t.port, t.peer) for t in hosts["xixia-gw1"].firewall.tunnels} == {
        (500, "198.19.0.2"), (4500, "198.19.0.2")}
    (t,) = hosts["tanghe-gw1"].firewall.tunnels
    assert (t.port, t.peer) == (51820, "198.19.0.2")


def test_bfd_is_admitted_on_the_bfd_links_only(hosts):
    """BFD (RFC 5881) comes from a random source port: conntrack never takes it for a reply, so
    the routers with a BFD link admit it there, and only there."""
    for name in ("wolong-gw1", "dc-core1"):
        bfd = [i.name for i in hosts[name].interfaces if i.ospf is not None and i.ospf.bfd]
        assert bfd and hosts[name].firewall.bfd_interfaces == bfd
    assert "bfd_interfaces" not in hosts["wancheng-gw1"].firewall.dump()
    assert "bfd_interfaces" not in hosts["dc-db1"].firewall.dump()
