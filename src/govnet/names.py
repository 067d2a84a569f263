"""Names: the city's DNS data, from the design.

One job: (ValidStack, design hosts, city facts, services) -> the forward zone of the city's domain
and the reverse zones of its networks, as plain records the ``dns`` role writes into bind9 zone
files and the checks resolve. Every device gets an A record for its name (``core1.dc``) on its
primary address (a server's zone address, a router's loopback) and one per interface
(``eth1.core1.dc``, ``mgmt.core1.dc``); every shared service a name (``ntp``, ``log``, …) and the
portal its public name, answered by the DNS servers of the service's plane only (split horizon).
Every city address has exactly one PTR. Hosts on the Internet are not the city's and get no
records.
"""

from __future__ import annotations

import re
import zlib

import netaddr

from govnet import model as m
from govnet.addressing import address
from govnet.facts import CityFacts, DnsFacts, HostFacts, ServiceEntry
from govnet.rules import ValidStack

#: DNS names of the shared services (label under the city's domain)
SERVICE_NAMES: dict[str, str] = {
    "dns": "ns", "ntp": "ntp", "syslog": "log", "monitoring": "monitor", "database": "db",
    "docexchange": "gwjh", "videoconf": "video", "portal": "portal", "backup": "backup",
}


def label(ifname: str) -> str:
    """An interface name as a DNS label: 'GigabitEthernet0/0/1' -> 'gigabitethernet0-0-1'."""
    return re.sub(r"[^a-z0-9]+", "-", ifname.lower()).strip("-")


def _reverse_zone(net: netaddr.IPNetwork) -> netaddr.IPNetwork:
    """The octet-aligned network whose in-addr.arpa zone holds ``net`` (/16 for a /18)."""
    bits = max(8, (net.prefixlen // 8) * 8)
    bits = min(bits, 24)
    return netaddr.IPNetwork(f"{net.network}/{bits}").cidr


def _arpa(net: netaddr.IPNetwork) -> str:
    octets = str(net.network).split(".")[: net.prefixlen // 8]
    return ".".join(reversed(octets)) + ".in-addr.arpa"


def build(vs: ValidStack, hosts: dict[str, HostFacts], city: CityFacts,
          services: dict[str, list[ServiceEntry]]) -> DnsFacts:
    domain = city.domain
    records: list[dict] = []  # forward: {name (relative), type, value}
    ptrs: dict[str, str] = {}  # address -> absolute name

    def add_a(name: str, address: str, ptr: bool = True, plane: str | None = None) -> None:
        records.append({"name": name, "type": "A", "value": address, **({"plane": plane} if plane else {})})
        if ptr:
            ptrs.setdefault(address, f"{name}.{domain}.")

    for h in hosts.values():
        if h.site_kind == m.SiteKind.internet.value:
            continue
        base = f"{h.device}.{h.site}"
        add_a(base, h.primary_address or address(h.management.address))
        add_a(f"mgmt.{base}", address(h.management.address))
        for iface in h.interfaces:
            # the Internet address is the city's, but its reverse zone is the provider's
            add_a(f"{label(iface.name)}.{base}", address(iface.address), ptr=iface.kind != "wan")

    dns_servers = [s.address for s in services.get("dns", [])]
    for i, addr in enumerate(dns_servers, 1):
        add_a(f"ns{i}", addr, ptr=False)
    for svc, entries in services.items():
        if svc in SERVICE_NAMES and entries:
            for entry in entries:
                add_a(SERVICE_NAMES[svc], entry.address, ptr=False, plane=entry.plane)
    public = city.portal_server_name
    if public.endswith("." + domain) and services.get("portal"):
        for entry in services["portal"]:
            add_a(public[: -len(domain) - 1], entry.address, ptr=False, plane=entry.plane)

    city_nets = [netaddr.IPNetwork(n) for n in city.networks]
    zones: dict[str, dict] = {}
    candidates = sorted({_reverse_zone(n) for n in city_nets})
    for net in candidates:  # one zone per octet-aligned network, none inside another
        if not any(other != net and net in other for other in candidates):
            zones[_arpa(net)] = {"network": str(net), "records": []}
    nets = [(netaddr.IPNetwork(z["network"]), z) for z in zones.values()]
    for addr, name in sorted(ptrs.items(), key=lambda kv: netaddr.IPAddress(kv[0])):
        ip = netaddr.IPAddress(addr)
        net, z = next((n, z) for n, z in nets if ip in n)
        host_part = ".".join(reversed(addr.split(".")[net.prefixlen // 8:]))
        z["records"].append({"name": host_part, "type": "PTR", "value": name})

    forward = {"zone": domain, "records": records,
               "nameservers": [f"ns{i}" for i in range(1, len(dns_servers) + 1)]}
    out = {"forward": forward, "reverse": zones}
    # a serial that changes when, and only when, the records change (no secondaries follow it)
    out["serial"] = zlib.crc32(repr((records, zones)).encode()) & 0x7FFFFFFF or 1
    return DnsFacts.model_validate(out)
