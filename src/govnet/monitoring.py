"""Monitoring: what the city's Prometheus scrapes and probes, from the design.

One job: (ValidStack, design hosts, city facts, services) -> the ``govnet_monitoring`` facts the
``monitoring`` role turns into Prometheus and blackbox-exporter configuration and the checks turn
into expectations:

- ``targets``: every city host (the Internet's are not the city's), scraped by node exporter on its
  primary address (a router's loopback, a server's zone address), with its site and county;
- ``links``: one ICMP probe per link that reaches a county or unit site, aimed at the link address
  of the end further from the data center (the tunnel address for a VPN link), so a cut link
  shows as its own probe going down;
- ``portal``: the portal's public URL, probed over HTTPS with the city CA.
"""

from __future__ import annotations

from govnet import model as m
from govnet import standard
from govnet.addressing import address
from govnet.facts import CityFacts, HostFacts, LinkProbe, MonitoringFacts, ServiceEntry, Target
from govnet.rules import ValidStack, county_of

#: site kinds whose links the probes watch
WATCHED_KINDS = (m.SiteKind.county.value, m.SiteKind.unit.value)


def primary_address(h: HostFacts) -> str | None:
    """Where a host is scraped: a router's loopback, else its zone (LAN) address."""
    if h.loopback:
        return h.loopback
    lan = [i for i in h.interfaces if i.kind == "lan"]
    return address(lan[0].address) if lan else None


def build(vs: ValidStack, hosts: dict[str, HostFacts], city: CityFacts,
          services: dict[str, list[ServiceEntry]]) -> MonitoringFacts:
    servers = [s.address for s in services.get(m.Service.monitoring.value, [])]
    if not servers:
        return MonitoringFacts(servers=[], exporter_port=standard.NODE_EXPORTER_PORT, targets=[],
                               links=[], portal=[])
    linux = {p.value for p in standard.LINUX_PLATFORMS}
    targets = [Target(host=name, address=h.primary_address, site=h.site, county=county_of(vs, h.site) or "")
               for name, h in hosts.items()
               # not the city's, or a vendor device (SNMP, not node exporter)
               if h.site_kind != m.SiteKind.internet.value and h.primary_address is not None
               and h.platform in linux]
    links = []
    for name, h in hosts.items():
        if h.site_kind not in WATCHED_KINDS:
            continue
        for iface in h.interfaces:
            if not iface.peer or iface.kind not in ("link", "tunnel"):
                continue
            # this end is the far one when the peer is nearer the data center
            if vs.depth.get(hosts[iface.peer].site, 0) < vs.depth.get(h.site, 0):
                links.append(LinkProbe(link=iface.link, host=name, site=h.site,
                                       county=county_of(vs, h.site) or "", medium=iface.medium,
                                       interface=iface.name, address=address(iface.address)))
    portal = [f"https://{city.portal_server_name}/"] if services.get(m.Service.portal.value) else []
    return MonitoringFacts(servers=servers, exporter_port=standard.NODE_EXPORTER_PORT,
                           targets=targets, links=links, portal=portal)
