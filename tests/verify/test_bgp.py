"""The provincial uplink: eBGP, filtered both ways, no default route either way.

Derived from the design's ``bgp`` facts (the ends of every link between the city and a site of
kind province): the session is Established on both ends with the ASNs the stack declares; the
province's router learns the city's extranet aggregate and nothing of the intranet, management,
loopback, link or tunnel planes; the city's core learns the province's declared prefixes and no
default route from it.
"""

from __future__ import annotations

import json

import netaddr
import pytest
from stackfacts import city, connect, eventually, facts, selected

SPEAKERS = [h for h in selected() if facts(h).bgp is not None]
SESSIONS = [(h, n) for h in SPEAKERS for n in facts(h).bgp.neighbors]
PROVINCE = [h for h in SPEAKERS if facts(h).site_kind == "province"]
CITY = [h for h in SPEAKERS if facts(h).site_kind != "province"]

pytestmark = pytest.mark.skipif(not SPEAKERS, reason="the stack has no provincial uplink (eBGP)")


def _vtysh_json(host: str, command: str) -> dict:
    return json.loads(connect(host).check_output(f"vtysh -c '{command}'"))


def _selected_routes(host: str) -> dict[str, list[dict]]:
    """Prefix -> the selected (installed) routes of the host's RIB."""
    rib = _vtysh_json(host, "show ip route json")
    return {prefix: [r for r in routes if r.get("selected")] for prefix, routes in rib.items()
            if any(r.get("selected") for r in routes)}


def _bgp_prefixes(routes: dict[str, list[dict]]) -> set[str]:
    return {p for p, rs in routes.items() if any(r.get("protocol") == "bgp" for r in rs)}


def _city_planes() -> dict[str, netaddr.IPNetwork]:
    """The city's own planes but the extranet (the one the province may learn)."""
    nets = [netaddr.IPNetwork(n) for n in city().networks]
    names = ("intranet", "extranet", "management", "loopbacks", "links", "tunnels")
    return {name: net for name, net in zip(names, nets, strict=True) if name != "extranet"}


@pytest.mark.parametrize(("host", "neighbor"), [pytest.param(h, n, id=f"{h}->{n.peer}")
                                                 for h, n in SESSIONS])
def test_session_established(host, neighbor):
    asn = facts(host).bgp.asn

    def established():
        peers = _vtysh_json(host, f"show ip bgp neighbors {neighbor.address} json")
        peer = peers.get(neighbor.address, {})
        state = peer.get("bgpState", "absent")
        assert state == "Established", (
            f"{host}: the session to {neighbor.peer} ({neighbor.address}) is {state}")
        assert peer.get("remoteAs") == neighbor.remote_as, peer.get("remoteAs")
        assert peer.get("localAs") == asn, peer.get("localAs")
    eventually(established, timeout=90)


@pytest.mark.parametrize("host", PROVINCE)
def test_province_learns_the_extranet_aggregate_only(host):
    accepted = {p for n in facts(host).bgp.neighbors for p in n.imports}
    planes = _city_planes()

    def learned():
        routes = _selected_routes(host)
        bgp = _bgp_prefixes(routes)
        assert accepted <= bgp, f"{host} lacks {sorted(accepted - bgp)} (BGP routes: {sorted(bgp)})"
        assert bgp == accepted, f"{host} learned more than the extranet aggregate: {sorted(bgp - accepted)}"
        assert "0.0.0.0/0" not in routes, f"{host} has a default route: {routes['0.0.0.0/0']}"
        leaked = {p: [r.get("protocol") for r in rs] for p, rs in routes.items()
                  if any(r.get("protocol") in ("bgp", "ospf") for r in rs)
                  and any(netaddr.IPNetwork(p) in net or net in netaddr.IPNetwork(p)
                          for net in planes.values())}
        assert not leaked, f"{host} learned the city's internal networks: {leaked}"
        intranet = planes["intranet"]
        seen = [p for p in routes if netaddr.IPNetwork(p) in intranet or intranet in netaddr.IPNetwork(p)]
        assert not seen, f"{host} routes into the intranet {intranet}: {seen}"
    eventually(learned, timeout=90)


@pytest.mark.parametrize("host", CITY)
def test_city_core_learns_the_province_prefixes_only(host):
    accepted = {p for n in facts(host).bgp.neighbors for p in n.imports}

    def learned():
        routes = _selected_routes(host)
        bgp = _bgp_prefixes(routes)
        assert accepted <= bgp, f"{host} lacks {sorted(accepted - bgp)} (BGP routes: {sorted(bgp)})"
        assert bgp <= accepted, f"{host} accepted more than the province declares: {sorted(bgp - accepted)}"
        default = [r.get("protocol") for r in routes.get("0.0.0.0/0", [])]
        assert "bgp" not in default, f"{host} takes its default route from the province: {default}"
    eventually(learned, timeout=90)
