"""The zone policy holds on the running hosts: default deny, each service open to its audience
only, the intranet unreachable from the Internet and never reaching it (GB/T 22239-2019 8.1.3).

Every expectation is derived from the stack (govnet/policy.py computes the same facts the
firewall role applies); each test checks one behaviour with real packets.
"""

from __future__ import annotations

import ipaddress
import json

import pytest
from stackfacts import (
    answers_ping,
    compiled,
    connect,
    county_router,
    egress_host,
    facts,
    internet_hosts,
    selected,
    services,
    sweep,
    tcp_probe,
)

from govnet.addressing import address

# ports nothing may answer on from the Internet: SSH, DNS, BGP, syslog, PostgreSQL, Prometheus
CLOSED_TO_INTERNET = (22, 53, 179, 514, 5432, 9090)


def _server(service: str) -> tuple[str, str] | None:
    for s in services().get(service, []):
        if s.host in selected():
            return s.host, s.address
    return None


def _zone_host(zone: str, service: str | None = None) -> str | None:
    """A server of the data center in ``zone`` (not hosting ``service``)."""
    for name in selected():
        h = facts(name)
        if h.role == "server" and h.zone == zone and h.site_kind == "datacenter" \
                and (service is None or service not in h.services):
            return name
    return None


def _wan_address(name: str) -> str:
    return address(facts(name).internet.address)


def test_default_deny_inbound(host_name):
    if facts(host_name).firewall is None:
        pytest.skip("not a city host: no zone policy")
    chain = json.loads(connect(host_name).check_output("nft -j list chain inet govnet input"))
    policy = [x["chain"]["policy"] for x in chain["nftables"] if "chain" in x]
    assert policy == ["drop"]


def test_database_refuses_the_extranet():
    db = _server("database")
    extranet = _zone_host("extranet")
    if not db or not extranet:
        pytest.skip("no database server or extranet host in this selection")
    assert tcp_probe(extranet, db[1], 5432) == "silent"


def test_database_answers_the_intranet():
    db = _server("database")
    intranet = _zone_host("intranet", "database")
    if not db or not intranet:
        pytest.skip("no database server or other intranet host in this selection")
    assert tcp_probe(intranet, db[1], 5432) in ("open", "refused")


def test_database_refuses_a_county_router():
    """Routers' own traffic comes from link addresses, outside the intranet plane."""
    db, county = _server("database"), county_router()
    if not db or not county:
        pytest.skip("no database server or county router in this selection")
    assert tcp_probe(county, db[1], 5432) == "silent"


def test_ssh_only_from_the_management_network():
    """sshd answers on the management link; from a data link nothing answers on port 22."""
    db, county = _server("database"), county_router()
    if not db or not county:
        pytest.skip("no server or county router in this selection")
    assert tcp_probe(county, db[1], 22) == "silent"


@pytest.fixture(scope="module")
def citizen():
    hosts = internet_hosts()
    egress = egress_host()
    if not hosts or not egress or egress not in selected():
        pytest.skip("no Internet host or egress firewall in this selection")
    return hosts[0], egress


@pytest.mark.parametrize("port", [80, 443])
def test_internet_reaches_the_published_portal(citizen, port):
    host, egress = citizen
    assert tcp_probe(host, _wan_address(egress), port, timeout=3) in ("open", "refused")


def _spare_internet_address() -> str:
    """The last usable address of the lab's Internet segment that neither the provider's gateway
    nor any host uses."""
    d = compiled().design
    used = {d.city.internet_gateway} | {address(h.internet.address) for h in d.hosts.values()
                                        if h.internet}
    hosts = reversed(list(ipaddress.ip_network(d.city.internet_segment).hosts()))
    return next(str(a) for a in hosts if str(a) not in used)


@pytest.mark.serial
def test_portal_published_on_the_egress_address_only(citizen):
    """The provider routes a second Internet address to the egress firewall: the portal answers
    on the firewall's own address, and nothing answers on the other one."""
    host, egress = citizen
    d = compiled().design
    own, wan = address(d.hosts[egress].internet.address), d.hosts[host].internet.interface
    spare = _spare_internet_address()
    conn = connect(host)
    conn.check_output(f"ip route replace {spare}/32 via {own} dev {wan}")
    try:
        route = conn.check_output(f"ip route get {spare}")
        assert f"via {own} " in route, f"{spare} is not routed to the egress: {route}"
        seen = {port: (tcp_probe(host, own, port, timeout=3), tcp_probe(host, spare, port, timeout=3))
                for port in (80, 443)}
    finally:
        conn.run(f"ip route del {spare}/32")
    assert all(o in ("open", "refused") for o, _ in seen.values()), f"(own, spare) per port: {seen}"
    assert all(s == "silent" for _, s in seen.values()), f"{spare} answered: (own, spare) {seen}"


@pytest.mark.parametrize("port", CLOSED_TO_INTERNET)
def test_internet_reaches_nothing_else_on_the_egress(citizen, port):
    host, egress = citizen
    assert tcp_probe(host, _wan_address(egress), port) == "silent"


def test_internet_gets_no_echo_from_the_egress(citizen):
    host, egress = citizen
    assert not answers_ping(host, _wan_address(egress))


@pytest.fixture
def routed_to_the_city(citizen):
    """Make the Internet host send the city's addresses to the egress, as if its provider routed
    them there: the egress firewall alone must then keep the city unreachable."""
    host, egress = citizen
    plan = compiled().vs.stack.address_plan
    nets = [str(plan.intranet), str(plan.extranet)]
    wan = facts(host).internet.interface
    for net in nets:
        connect(host).check_output(f"ip route replace {net} via {_wan_address(egress)} dev {wan}")
    try:
        yield host
    finally:
        for net in nets:
            connect(host).run(f"ip route del {net}")


@pytest.mark.serial
def test_no_intranet_address_answers_the_internet(routed_to_the_city):
    targets = [(n, address(i.address)) for n in selected() for i in facts(n).interfaces
               if i.zone == "intranet" and facts(n).site_kind == "datacenter"]
    assert targets
    seen = sweep(routed_to_the_city, [a for _, a in targets], 22)
    answered = [f"{n} {a}" for n, a in targets if seen[a]["ping"] or seen[a]["tcp"] != "silent"]
    assert not answered, f"answered the Internet: {answered}"


def test_intranet_never_reaches_the_internet(citizen):
    host, _ = citizen
    intranet = _zone_host("intranet")
    if not intranet:
        pytest.skip("no intranet server in this selection")
    assert not answers_ping(intranet, address(facts(host).internet.address))


def test_extranet_reaches_the_internet_translated(citizen):
    host, _ = citizen
    extranet = _zone_host("extranet")
    if not extranet:
        pytest.skip("no extranet server in this selection")
    assert answers_ping(extranet, address(facts(host).internet.address))
