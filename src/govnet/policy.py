"""Zone policy: what each host accepts, forwards and translates, from the design.

One job: (ValidStack, Design hosts, city facts) -> a ``firewall`` fact per host, plain data the
``firewall`` role turns into nftables rules and the checks turn into expectations. The policy is
default deny: a host accepts its management link's SSH from the management network, routing
protocol and tunnels where it routes, and each service it hosts from the audience of that service
(:data:`govnet.standard.SERVICE_AUDIENCE`; a "host" service listens on loopback and gets no
rule) — nothing else. The egress firewall translates the zones
that may reach the Internet, drops every other zone's traffic towards it and publishes the portal.
"""

from __future__ import annotations

from govnet import model as m
from govnet import standard
from govnet.facts import (
    BackupFacts,
    CityFacts,
    Egress,
    Firewall,
    HostFacts,
    MonitoringFacts,
    Publish,
    Rule,
    ServiceEntry,
    Tunnel,
    TunnelRule,
)
from govnet.rules import ValidStack

ANYWHERE = "0.0.0.0/0"


def _tunnel_ports(tunnel: Tunnel) -> list[int]:
    """A tunnel's UDP ports: WireGuard's own; IKE's and the one ESP in UDP rides for IPsec."""
    if tunnel.protocol == m.TunnelProtocol.ipsec.value:
        return [tunnel.port, standard.IPSEC_NAT_T_PORT]
    return [tunnel.port]


def _sources(audience: str, h: HostFacts, city: CityFacts, plane_net: dict[str, str],
             backup_clients: list[str]) -> list[str]:
    """The networks of a service's audience (:data:`govnet.standard.SERVICE_AUDIENCE`) on ``h``."""
    if audience == "public":
        return [ANYWHERE]
    if audience == "city":  # the city's networks, but never the other plane's
        other = {net for plane, net in plane_net.items() if plane in m.PLANES and plane not in h.planes}
        return [n for n in city.networks if n not in other]
    if audience == "management":
        return [h.management.network]
    if audience == "clients":
        return backup_clients
    return [plane_net[h.zone]] if h.zone else []


def _scrapers(watch: MonitoringFacts, services: dict[str, list[ServiceEntry]]) -> dict[str, list[str]]:
    """Per plane, the monitoring servers that scrape its hosts (each watches its own plane)."""
    out: dict[str, list[str]] = {}
    for s in services.get(m.Service.monitoring.value, []):
        if s.address in watch.servers:
            out.setdefault(s.plane, []).append(f"{s.address}/32")
    return out


def build(vs: ValidStack, hosts: dict[str, HostFacts], city: CityFacts,
          services: dict[str, list[ServiceEntry]], watch: MonitoringFacts,
          keep: BackupFacts) -> dict[str, Firewall | None]:
    """The firewall facts per host name; None for hosts outside the city (the Internet).

    ``watch`` is the monitoring facts (:mod:`govnet.monitoring`): every scraped host accepts node
    exporter's port from the monitoring servers only; ``keep`` is the backup facts
    (:mod:`govnet.backup`): a repository host admits its backup clients only."""
    plan = vs.stack.address_plan
    planes = {"intranet": str(plan.intranet), "extranet": str(plan.extranet)}
    zone_net = {name: planes[zone.plane] for name, zone in vs.zones.items()}
    plane_net = {**zone_net, **planes}
    # the planes whose zones may reach the Internet (through the egress), and those that never may
    nat_planes = sorted({planes[z.plane] for z in vs.zones.values() if z.internet == "via-egress"})
    deny_planes = sorted({planes[z.plane] for z in vs.zones.values() if z.internet == "deny"}
                         - set(nat_planes))
    portal = [s.address for s in services.get(m.Service.portal.value, [])]
    scraped = {t.host: t.plane for t in watch.targets}
    backup_clients = [f"{hosts[c.host].primary_address}/32" for c in keep.clients]
    scrapers = _scrapers(watch, services)
    linux = {p.value for p in standard.LINUX_PLATFORMS}

    out: dict[str, Firewall | None] = {}
    for name, h in hosts.items():
        if h.site_kind == m.SiteKind.internet.value or h.platform not in linux:
            out[name] = None
            continue
        rules = [Rule(service="ssh", proto=proto, port=port, sources=[h.management.network])
                 for proto, port in standard.MANAGEMENT_PORTS]
        for svc in h.services:
            if standard.SERVICE_AUDIENCE[m.Service(svc)] == "host":  # loopback only: no rule
                continue
            sources = _sources(standard.SERVICE_AUDIENCE[m.Service(svc)], h, city, plane_net, backup_clients)
            rules += [Rule(service=svc, proto=proto, port=port, sources=sources)
                      for proto, port in standard.SERVICE_PORTS[m.Service(svc)]]
            rules += [Rule(service=svc, proto=proto, port=first, port_end=last, sources=sources)
                      for proto, first, last in standard.SERVICE_PORT_RANGES.get(m.Service(svc), ())]
        if name in scraped:
            rules.append(Rule(service="node-exporter", proto="tcp", port=watch.exporter_port,
                              sources=scrapers.get(scraped[name], [])))
        wan = h.internet.interface if h.internet else None
        egress = None
        if h.internet and h.internet.mode == "egress":
            # the portal is published on the egress's Internet address
            egress = Egress(nat_sources=nat_planes, deny_sources=deny_planes,
                            publish=[Publish(proto=proto, port=port, to=addr) for addr in portal[:1]
                                     for proto, port in standard.SERVICE_PORTS[m.Service.portal]])
        out[name] = Firewall(
            management_interface=h.management.interface,
            accept=rules,
            # routers forward the city's traffic; servers forward nothing
            forward=h.routing,
            # OSPF speaks on the links and tunnels the design gives it
            ospf_interfaces=[i.name for i in h.interfaces if i.ospf] if h.routing else [],
            # BFD (RFC 5881) on the links that ask for it: from a random source port to UDP 3784,
            # so conntrack never sees it as a reply (set only where there is one)
            **({"bfd_interfaces": bfd} if (bfd := [i.name for i in h.interfaces
                                                   if i.ospf and i.ospf.bfd]) else {}),
            tunnels=[TunnelRule(interface=wan, proto="udp", port=port, peer=t.peer_public)
                     for t in h.tunnels for port in _tunnel_ports(t)],
            wan=wan,
            egress=egress)
    return out
