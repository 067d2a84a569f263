"""What the lab must build for a design: hosts, management gateways, LAN ports, cables.

Pure: (Design) -> :class:`LabTopology`. The provisioning stage turns each item into one Pulumi
resource; nothing here touches the machine.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import netaddr

from govnet.addressing import address
from govnet.design import Design

#: the only addresses a lab may use (RFC 2544 benchmarking space)
LAB_SPACE = netaddr.IPNetwork("198.18.0.0/15")


@dataclass(frozen=True)
class LabHost:
    name: str
    site: str
    mgmt_address: str  # a.b.c.d/len
    mgmt_gateway: str  # a.b.c.d


@dataclass(frozen=True)
class LabPort:
    host: str
    iface: str
    segment: str | None  # "site:zone", or None for the Internet


@dataclass(frozen=True)
class LabCable:
    link: str
    a: tuple[str, str]  # (host, interface)
    b: tuple[str, str]


@dataclass
class LabTopology:
    lab: str
    controller: str                 # where Ansible and the package proxy sit
    management_network: str
    internet_gateway: str | None    # a.b.c.d/len in the Internet namespace
    gateways: dict[str, str] = field(default_factory=dict)  # site -> a.b.c.d/len
    hosts: list[LabHost] = field(default_factory=list)
    ports: list[LabPort] = field(default_factory=list)
    cables: list[LabCable] = field(default_factory=list)


def controller_address(management_network: str) -> str:
    """The last usable address of the management range: the lab's controller."""
    return str(netaddr.IPAddress(netaddr.IPNetwork(management_network).last - 1))


def problems(design: Design) -> list[str]:
    """Why this design cannot run as a lab (empty when it can)."""
    out = []
    for key, cidr in sorted(design.plan.entries.items()):
        if netaddr.IPNetwork(cidr) not in LAB_SPACE:
            out.append(f"{key} is {cidr}, outside {LAB_SPACE}")
    controller = controller_address(design.city.management_network)
    for h in design.hosts.values():
        if address(h.management.address) == controller:
            out.append(f"{h.name} has the lab controller's address {controller} "
                       "(the last address of the management range): keep it free")
    for h in design.hosts.values():
        if h.platform not in ("frr", "debian"):
            out.append(f"{h.name} is a {h.platform} device: the lab runs Linux hosts only "
                       "(frr, debian)")
    return out


def build(design: Design) -> LabTopology:
    city = design.city
    seg = city.internet_segment
    topo = LabTopology(
        lab=design.stack,
        controller=controller_address(city.management_network),
        management_network=city.management_network,
        internet_gateway=f"{city.internet_gateway}/{netaddr.IPNetwork(seg).prefixlen}" if seg else None)
    seen_links: set[str] = set()
    for name, h in design.hosts.items():
        mgmt = h.management
        plen = mgmt.address.split("/")[1]
        topo.gateways.setdefault(h.site, f"{mgmt.gateway}/{plen}")
        topo.hosts.append(LabHost(name, h.site, mgmt.address, mgmt.gateway))
        for iface in h.interfaces:
            if iface.kind == "wan":
                topo.ports.append(LabPort(name, iface.name, None))
            elif iface.kind == "lan":
                topo.ports.append(LabPort(name, iface.name, f"{h.site}:{iface.zone}"))
            elif iface.kind == "link" and iface.link not in seen_links:
                seen_links.add(iface.link)
                peer_if = next(i.name for i in design.hosts[iface.peer].interfaces if i.link == iface.link)
                topo.cables.append(LabCable(iface.link, (name, iface.name), (iface.peer, peer_if)))
    return topo
