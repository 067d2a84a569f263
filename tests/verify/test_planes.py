"""The planes never meet, at the routing layer: no router of the 政务内网 (intranet) knows a route
into the 政务外网 (extranet), the Internet or the province, no extranet router knows an intranet
prefix, the province learns the extranet aggregate only; and an intranet server stays out of
reach of the extranet and the Internet even with its own firewall flushed.

Each router's RIB is read with ``vtysh -c 'show ip route json'`` and judged against the design:
the other plane's supernet, loopbacks, link and tunnel networks are forbidden to it.
"""

from __future__ import annotations

import json
import os
from functools import cache

import netaddr
import pytest
from stackfacts import all_facts, city, connect, facts, internet_hosts, selected, tcp_probe

from govnet.addressing import address

LAB = os.environ.get("GOVNET_VERIFY_PLATFORM", "lab") == "lab"
PLANE_NETS = ("intranet", "extranet")


@cache
def _city_networks() -> dict[str, netaddr.IPNetwork]:
    """The city's networks by name (intranet, extranet, management, loopbacks, links, tunnels)."""
    names = ("intranet", "extranet", "management", "loopbacks", "links", "tunnels")
    return dict(zip(names, (netaddr.IPNetwork(n) for n in city().networks), strict=True))


@cache
def _of_plane(plane: str) -> list[netaddr.IPNetwork]:
    """What only ``plane`` routes: its supernet, its routers' loopbacks, its links and tunnels."""
    nets = [_city_networks()[plane]]
    for h in all_facts().values():
        if h.planes != [plane] or h.site_kind in ("internet", "province"):
            continue
        if h.loopback:
            nets.append(netaddr.IPNetwork(f"{h.loopback}/32"))
        nets += [netaddr.IPNetwork(i.network) for i in h.interfaces
                 if i.kind in ("link", "tunnel") and i.plane == plane and i.network]
    return nets


def _forbidden(host: str) -> list[netaddr.IPNetwork]:
    """What ``host``'s RIB must never hold: everything only the other plane routes; for an
    intranet router also the Internet, the province and the default route."""
    h = facts(host)
    if h.site_kind == "province":  # not the city's: the extranet aggregate is all it may learn
        return [_city_networks()["intranet"], *_of_plane("intranet")]
    (plane,) = h.planes
    other = next(p for p in PLANE_NETS if p != plane)
    out = list(_of_plane(other))
    if plane == "intranet":
        if city().internet_segment:
            out.append(netaddr.IPNetwork(city().internet_segment))
        for p in all_facts().values():
            if p.site_kind == "province" and p.bgp:
                out += [netaddr.IPNetwork(n) for n in p.bgp.networks]
    return out


def _rib(host: str) -> list[netaddr.IPNetwork]:
    routes = json.loads(connect(host).check_output("vtysh -c 'show ip route json'"))
    return [netaddr.IPNetwork(prefix) for prefix in routes]


def _routers() -> list:
    return [pytest.param(h, id=h) for h in selected()
            if facts(h).ospf is not None or facts(h).bgp is not None]


@pytest.mark.parametrize("router", _routers())
def test_rib_keeps_to_its_plane(router):
    """No route of the router's RIB leads into what another plane (or, for the intranet, the
    Internet or the province) routes. An intranet router holds no default route at all; an
    extranet router's default leads to the egress, and it holds no intranet prefix."""
    h = facts(router)
    forbidden = _forbidden(router)
    strict = h.site_kind == "province" or h.planes == ["intranet"]
    leaks = []
    for prefix in _rib(router):
        if strict and prefix.prefixlen == 0:
            leaks.append(f"{prefix} (a default route)")
            continue
        if strict:  # nothing may even cover a forbidden network (no summary)
            bad = [f for f in forbidden if prefix in f or f in prefix]
        else:  # the extranet's default leads out of the city, not into the intranet
            bad = [f for f in forbidden if prefix in f]
        if bad:
            leaks.append(f"{prefix} (inside {bad[0]})")
    assert not leaks, f"{router} ({', '.join(h.planes) or 'province'}) knows: {', '.join(leaks)}"


def test_the_province_learns_the_extranet_aggregate_only():
    pe = next((h for h, f in all_facts().items() if f.site_kind == "province" and h in selected()), None)
    if pe is None:
        pytest.skip("no province router in this selection")
    nets = _city_networks()
    # the out-of-band management network and its own loopback are not routes the city gave it
    own = {netaddr.IPNetwork(f"{facts(pe).loopback}/32")} if facts(pe).loopback else set()
    city_routes = {p for p in _rib(pe) if p not in nets["management"]
                   and any(p in n for n in nets.values())} - own
    uplink = {netaddr.IPNetwork(i.network) for i in facts(pe).interfaces if i.kind == "link"}
    assert city_routes - uplink == {nets["extranet"]}, city_routes


def _intranet_server() -> str | None:
    return next((h for h in selected() if facts(h).role == "server" and facts(h).planes == ["intranet"]
                 and facts(h).site_kind == "datacenter"), None)


def _extranet_probers() -> list[str]:
    """Hosts outside the intranet: the Internet's, an extranet server, an extranet router."""
    out = list(internet_hosts())
    for role in ("server", "router"):
        out += [next((h for h in selected() if facts(h).role == role and facts(h).planes == ["extranet"]
                      and facts(h).site_kind not in ("province", "internet")), None)]
    return [h for h in out if h]


@pytest.mark.serial
@pytest.mark.skipif(not LAB, reason="flushes a host's firewall: only in the lab")
def test_intranet_stays_out_of_reach_with_its_firewall_flushed():
    """Separation does not rest on host firewalls: with every nftables rule of an intranet server
    flushed, the Internet, the extranet's servers and its routers still cannot reach it (nothing
    routes there), while its own plane now can (so the flush really took the filter away)."""
    victim = _intranet_server()
    probers = _extranet_probers()
    neighbour = next((h for h in selected() if h != victim and facts(h).role == "server"
                      and facts(h).planes == ["intranet"] and facts(h).site_kind == "datacenter"), None)
    if victim is None or neighbour is None or not probers:
        pytest.skip("needs two intranet servers and a host outside the intranet in this selection")
    target = address(next(i for i in facts(victim).interfaces if i.kind == "lan").address)
    host = connect(victim)
    assert tcp_probe(neighbour, target, 22) == "silent"  # ssh: from the management network only
    host.check_output("nft flush ruleset")
    try:
        assert host.check_output("nft list ruleset").strip() == ""
        # the filter is gone: its own plane now gets an answer (a connection, or a reset where
        # sshd listens on the management address only)
        assert tcp_probe(neighbour, target, 22) in ("open", "refused")
        for prober in probers:
            ping = connect(prober).run(f"ping -n -q -c 2 -W 1 -i 0.3 {target}")
            where = facts(prober).planes or "Internet"
            assert ping.rc != 0, f"{prober} ({where}) reaches {victim} at {target}"
            assert tcp_probe(prober, target, 22) == "silent", f"{prober} connects to {victim}:22"
    finally:
        host.check_output("nft -f /etc/nftables.conf")
    assert tcp_probe(neighbour, target, 22) == "silent"
