"""Monitoring: what the city's Prometheus scrapes and probes, from the design.

One job: (ValidStack, design hosts, city facts, services) -> the ``govnet_monitoring`` facts the
``monitoring`` role turns into Prometheus and blackbox-exporter configuration and the checks turn
into expectations:

- ``targets``: every city host (the Internet's are not the city's), scraped by node exporter on its
  primary address (a router's loopback, a server's zone address), with its site and county;
- ``links``: one ICMP probe per link that reaches a county or unit site, aimed at the link address
  of the end further from the data center (the tunnel address for a VPN link), so a cut link
  shows as its own probe going down;
- ``portal``: the portal's public URL, probed over HTTPS with the city CA;
- ``snmp_targets``: every vendor network device of the city (Huawei VRP, H3C Comware, Cisco IOS:
  they run no node exporter), polled over SNMPv3 on the address its configuration sources SNMP
  from (a router's or firewall's loopback, else its management address), with ``snmp_auths``, the
  credential sets its configuration creates (user, authPriv, SHA/SHA256, AES), spelled as
  snmp_exporter spells them; the keys themselves are vault secrets the role is given at run time.
"""

from __future__ import annotations

from govnet import model as m
from govnet import standard
from govnet.addressing import address
from govnet.facts import (
    CityFacts,
    HostFacts,
    LinkProbe,
    MonitoringFacts,
    ServiceEntry,
    SnmpAuth,
    SnmpTarget,
    Target,
)
from govnet.rules import ValidStack, county_of

#: site kinds whose links the probes watch
WATCHED_KINDS = (m.SiteKind.county.value, m.SiteKind.unit.value)

#: the stack's SNMPv3 authentication protocol -> snmp_exporter's auth_protocol
SNMP_AUTH = {"sha": "SHA", "sha256": "SHA256"}
#: the stack's SNMPv3 privacy protocol -> snmp_exporter's priv_protocol, per platform: AES-256 keys
#: are localized the Blumenthal way (AES256) except by Cisco, which uses Reeder's (AES256C)
SNMP_PRIV = {"aes128": "AES", "aes256": "AES256"}
SNMP_PRIV_PLATFORM = {(m.Platform.cisco_ios.value, "aes256"): "AES256C"}
#: site kinds whose devices are not the city's to poll
NOT_CITY = (m.SiteKind.internet.value, m.SiteKind.province.value)


def snmp_address(h: HostFacts) -> str:
    """Where a vendor device answers SNMP: the address its template sources SNMP from (LoopBack0 on a
    router or firewall, else its management interface)."""
    if h.role in (m.Role.router.value, m.Role.firewall.value) and h.loopback:
        return h.loopback
    return address(h.management.address)


def snmp_auth(h: HostFacts) -> SnmpAuth:
    """The SNMPv3 credential set a vendor device's configuration creates."""
    snmp = h.snmp or {}
    auth = SNMP_AUTH[snmp["auth"]]
    priv = SNMP_PRIV_PLATFORM.get((h.platform, snmp["priv"]), SNMP_PRIV[snmp["priv"]])
    return SnmpAuth(name=f"{snmp['user']}-{auth}-{priv}".lower(), user=snmp["user"],
                    security_level="authPriv", auth_protocol=auth, priv_protocol=priv)


def snmp(vs: ValidStack, hosts: dict[str, HostFacts]) -> tuple[list[SnmpAuth], list[SnmpTarget]]:
    """The vendor devices of the city the monitoring servers poll, and their credential sets."""
    linux = {p.value for p in standard.LINUX_PLATFORMS}
    auths: dict[str, SnmpAuth] = {}
    targets = []
    for name, h in hosts.items():
        # not the city's (the Internet's, the province's router), or Linux (node exporter)
        if h.site_kind in NOT_CITY or h.platform in linux or not h.snmp:
            continue
        auth = snmp_auth(h)
        auths.setdefault(auth.name, auth)
        targets.append(SnmpTarget(host=name, address=snmp_address(h), platform=h.platform, site=h.site,
                                  county=county_of(vs, h.site) or "", auth=auth.name,
                                  plane=h.planes[0]))
    return sorted(auths.values(), key=lambda a: a.name), targets


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
                               links=[], portal=[], snmp_auths=[], snmp_targets=[])
    linux = {p.value for p in standard.LINUX_PLATFORMS}
    targets = [Target(host=name, address=h.primary_address, site=h.site, county=county_of(vs, h.site) or "",
                      plane=h.planes[0])
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
                                       interface=iface.name, address=address(iface.address),
                                       plane=iface.plane))
    portal = [f"https://{city.portal_server_name}/"] if services.get(m.Service.portal.value) else []
    snmp_auths, snmp_targets = snmp(vs, hosts)
    return MonitoringFacts(servers=servers, exporter_port=standard.NODE_EXPORTER_PORT,
                           targets=targets, links=links, portal=portal, snmp_auths=snmp_auths,
                           snmp_targets=snmp_targets)


def part(city_wide: MonitoringFacts, plane: str | None,
         services: dict[str, list[ServiceEntry]]) -> MonitoringFacts:
    """What the monitoring servers of ``plane`` watch: the targets, probes and devices of their own
    plane (the other plane is out of their reach), and the portal when it is on theirs."""
    portal_planes = {s.plane for s in services.get(m.Service.portal.value, [])}
    return MonitoringFacts(
        plane=plane,
        servers=[s.address for s in services.get(m.Service.monitoring.value, []) if s.plane == plane],
        exporter_port=city_wide.exporter_port,
        targets=[t for t in city_wide.targets if t.plane == plane],
        links=[x for x in city_wide.links if x.plane == plane],
        portal=city_wide.portal if plane in portal_planes else [],
        snmp_auths=city_wide.snmp_auths,
        snmp_targets=[t for t in city_wide.snmp_targets if t.plane == plane])
