"""Checking: every whole-stack rule, read off a :class:`~govnet.rules.resolver.Resolved` stack.

One job: report each rule a resolved stack breaks, with the position in the file and how to fix
it. Checks run in the declared :data:`PHASES`; a phase reports all its errors and the next phase
runs only if it found none, so an error never drags the errors that follow from it along (an
unknown link endpoint does not also leave its site without a path to the data center). A check
may therefore assume that every earlier phase passed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import netaddr

from govnet import model as m
from govnet import standard
from govnet.diagnostics import Report, closest
from govnet.rules.resolver import (
    ALLOWED_PARENTS,
    ROUTING_ROLES,
    Resolved,
    host_name,
    is_linux_link,
    province_links,
)

#: a portal application's URL path: /name/ or /a/b/
_APP_PATH = re.compile(r"/(?:[A-Za-z0-9._~-]+/)+")

Check = Callable[[Resolved, Report], None]


def _guess(word, choices) -> str:
    close = closest(word, choices)
    return f"did you mean {close!r}? " if close else ""


# ------------------------------------------------------------------ phase "names": what is declared


def check_zones(r: Resolved, report: Report) -> None:
    """Declared zones: 'management' is reserved, and an intranet zone never reaches the Internet."""
    for name, zone in (r.stack.zones or {}).items():
        path = ("zones", name)
        if name == "management":
            report.error(path, "reserved-zone", "'management' is a plane of its own, not a zone",
                         "remove it; management subnets come from address_plan.management", key=True)
        if zone.internet == "via-egress" and zone.plane == "intranet":
            report.error((*path, "internet"), "intranet-internet",
                         f"zone {name!r} takes intranet addresses but would reach the Internet",
                         "the intranet never reaches the Internet: set internet: deny, or use "
                         "plane: extranet")


def check_names(r: Resolved, report: Report) -> None:
    """Site names, device names within a site and host names ('site-device') are unique."""
    hosts: dict[str, str] = {}
    sites: set[str] = set()
    for site in r.stack.sites:
        if site.name in sites:
            report.error((*site._path, "name"), "duplicate-site",
                         f"site {site.name!r} is declared twice", "give each site its own name")
            continue
        sites.add(site.name)
        names: set[str] = set()
        for dev in site.devices:
            if dev.name in names:
                report.error((*dev._path, "name"), "duplicate-device",
                             f"device {dev.name!r} appears twice in site {site.name!r}",
                             "give each device of a site its own name")
                continue
            names.add(dev.name)
            key = f"{site.name}.{dev.name}"
            host = host_name(key)
            if host in hosts:
                report.error((*dev._path, "name"), "duplicate-host",
                             f"host name {host!r} is also the name of {hosts[host]!r}",
                             "host names are 'site-device'; rename the site or the device")
                continue
            hosts[host] = key


# ------------------------------------------------------- phase "references": every name resolves


def check_site_zones(r: Resolved, report: Report) -> None:
    """Every zone a site has a subnet in is declared."""
    for name, site in r.sites.items():
        for zone in r.site_settings[name]["subnets"]:
            if zone not in r.zones:
                path = (*site._path, "subnets", zone) if "subnets" in site.model_fields_set else site._path
                report.error(path, "unknown-zone",
                             f"site {name!r} has a subnet in zone {zone!r}, which is not declared",
                             _guess(zone, r.zones) + f"declared zones: {', '.join(r.zones)}")


def check_tree(r: Resolved, report: Report) -> None:
    """There is a data center, and every parent is a site of a kind the child may sit below,
    without cycles."""
    if not any(s.kind == m.SiteKind.datacenter for s in r.sites.values()):
        report.error(("sites",), "no-datacenter", "the stack has no site of kind datacenter",
                     "add the city data center (中心机房): a site with kind: datacenter")
    for name, site in r.sites.items():
        parent = site.parent
        allowed = ALLOWED_PARENTS[site.kind]
        if parent is None:
            if site.kind == m.SiteKind.unit:
                report.error(site._path, "missing-parent", f"unit site {name!r} has no parent",
                             "add 'parent:' naming the county (or the data center) it belongs to")
            continue
        path = (*site._path, "parent")
        if parent not in r.sites:
            report.error(path, "unknown-site", f"parent {parent!r} of site {name!r} is not a site",
                         _guess(parent, r.sites) + "name a site declared under sites")
        elif not allowed:
            report.error(path, "bad-parent", f"a {site.kind.value} site has no parent",
                         "remove 'parent:'")
        elif r.sites[parent].kind not in allowed:
            kinds = " or ".join(k.value for k in allowed)
            report.error(path, "bad-parent",
                         f"{site.kind.value} {name!r} cannot sit below {r.sites[parent].kind.value} "
                         f"{parent!r}", f"its parent must be a {kinds}")
    for name, site in r.sites.items():
        seen: list[str] = []
        cur: str | None = name
        while cur is not None and cur not in seen:
            seen.append(cur)
            cur = r.parents.get(cur)
        if cur is not None and cur == name:
            report.error((*site._path, "parent"), "parent-cycle",
                         f"site {name!r} is its own ancestor: {' -> '.join([*seen, name])}",
                         "the site tree must end at the data center")


def check_device_zones(r: Resolved, report: Report) -> None:
    """A server's zone is declared; a gateway's zones are zones of its site."""
    for key, dev in r.devices.items():
        site = r.sites[r.site_of[key]]
        if dev.role == m.Role.server:
            if site.kind != m.SiteKind.internet and dev.zone is not None and dev.zone not in r.zones:
                report.error((*dev._path, "zone"), "unknown-zone", f"zone {dev.zone!r} is not declared",
                             _guess(dev.zone, r.zones) + f"declared zones: {', '.join(r.zones)}")
            continue
        site_zones = r.site_settings[site.name]["subnets"]
        for i, zone in enumerate(dev.gateway_for or ()):
            if zone not in site_zones:
                report.error((*dev._path, "gateway_for", i), "unknown-zone",
                             f"site {site.name!r} has no {zone!r} subnet",
                             _guess(zone, site_zones)
                             + f"the site's zones: {', '.join(site_zones) or 'none'}")


def check_endpoints(r: Resolved, report: Report) -> None:
    """Every link joins two different, existing devices, and no link is declared twice."""
    seen: dict[str, int] = {}
    for i, link in enumerate(r.stack.links):
        missing = [end for end in ("a", "b") if getattr(link, end) not in r.devices]
        for end in missing:
            _unknown_endpoint(r, report, link, end)
        if missing:
            continue
        if link.a == link.b:
            report.error(link._path, "self-link", f"link connects {link.a!r} to itself",
                         "a link joins two different devices")
        elif link.id in seen:
            report.error(link._path, "duplicate-link",
                         f"link {link.id!r} is declared twice (first as links[{seen[link.id]}])",
                         "remove the copy, or give parallel links distinct 'name:'s")
        else:
            seen[link.id] = i


def _unknown_endpoint(r: Resolved, report: Report, link: m.Link, end: str) -> None:
    ref = getattr(link, end)
    site_name = ref.split(".", 1)[0]
    if site_name not in r.sites:
        hint = _guess(site_name, r.sites) + "no site has that name"
    else:
        names = r.site_devices[site_name]
        hint = _guess(ref, names) + (
            f"site {site_name!r} has: {', '.join(k.split('.')[1] for k in names)}"
            if names else f"site {site_name!r} has no devices")
    report.error((*link._path, end), "unknown-endpoint", f"link endpoint {ref!r} is not a device", hint)


# ------------------------------------------------------ phase "devices": each device on its own


def check_platforms(r: Resolved, report: Report) -> None:
    """Each device's platform suits its role."""
    for key, dev in r.devices.items():
        platform = r.device_settings[key]["platform"]
        if platform not in standard.ROLE_PLATFORMS[dev.role]:
            ok = ", ".join(p.value for p in standard.ROLE_PLATFORMS[dev.role])
            where = (*dev._path, "platform") if "platform" in dev.model_fields_set else dev._path
            report.error(where, "platform-role",
                         f"device {key!r}: a {dev.role.value} cannot run platform {platform.value!r}",
                         f"use one of: {ok}")


def check_servers(r: Resolved, report: Report) -> None:
    """A city server sits in one zone of its site that allows its services; an Internet host has
    no zone; servers are no gateways."""
    for key, dev in r.devices.items():
        if dev.role != m.Role.server:
            continue
        site = r.sites[r.site_of[key]]
        site_zones = r.site_settings[site.name]["subnets"]
        if site.kind == m.SiteKind.internet:
            if dev.zone is not None:
                report.error((*dev._path, "zone"), "zone-on-internet",
                             f"device {key!r} is on the Internet, which has no zones", "remove 'zone:'")
        elif dev.zone is None:
            report.error(dev._path, "missing-zone", f"server {key!r} has no zone",
                         f"add 'zone:' with one of this site's zones: {', '.join(site_zones)}")
        elif dev.zone not in site_zones:
            report.error((*dev._path, "zone"), "zone-not-in-site",
                         f"site {site.name!r} has no {dev.zone!r} subnet for server {key!r}",
                         f"add '{dev.zone}: <prefix length>' to the site's subnets, or put the "
                         "server in another zone")
        if dev.gateway_for is not None:
            report.error((*dev._path, "gateway_for"), "gateway-role",
                         "only routers and firewalls are gateways", "remove 'gateway_for:'")
        if dev.zone in r.zones:
            _check_services_fit_zone(r, report, key, dev)


def _check_services_fit_zone(r: Resolved, report: Report, key: str, dev: m.Device) -> None:
    allowed = {s.value for s in r.zones[dev.zone].services}
    for i, svc in enumerate(dev.services):
        if svc.value not in allowed:
            fits = [z for z, zz in r.zones.items() if svc in zz.services]
            report.error((*dev._path, "services", i), "service-zone",
                         f"service {svc.value!r} may not run in zone {dev.zone!r} (server {key!r})",
                         f"put the server in a zone that allows it: {', '.join(fits)}"
                         if fits else "no zone allows it; add it to a zone's services")


def check_portal_hosted(r: Resolved, report: Report) -> None:
    """A service the portal fronts on its own host (政民互动) runs on a portal server: it listens
    on loopback, so only that host's nginx can reach it, and the portal's path is its own."""
    params = r.stack.services.portal if r.stack.services else None
    for key, dev in r.devices.items():
        for i, svc in enumerate(dev.services):
            if svc not in standard.PORTAL_HOSTED_SERVICES:
                continue
            if m.Service.portal not in dev.services:
                report.error((*dev._path, "services", i), "hosted-without-portal",
                             f"{svc.value!r} runs behind the portal's nginx on its own host, but "
                             f"server {key!r} does not run the portal",
                             f"add 'portal' to the services of {key!r}, or move "
                             f"{svc.value!r} to a portal server")
            path = f"/{svc.value}/"
            if params is not None and path in params.applications:
                report.error(("services", "portal", "applications", path), "app-path-taken",
                             f"{path!r} is the portal's own path of {svc.value!r}",
                             "publish the application at another path", key=True)


def check_network_devices(r: Resolved, report: Report) -> None:
    """Routers, firewalls and switches sit in no zone LAN and run no services; the simulated
    Internet holds only hosts."""
    for key, dev in r.devices.items():
        if dev.role == m.Role.server:
            continue
        if dev.zone is not None:
            report.error((*dev._path, "zone"), "zone-role",
                         f"{dev.role.value} {key!r} cannot sit in a zone's LAN",
                         "use 'gateway_for:' to make it the gateway of site zones")
        if dev.services:
            report.error((*dev._path, "services"), "services-role",
                         f"services run on servers, not on {dev.role.value} {key!r}",
                         "move the services to a server of the site")
        if r.sites[r.site_of[key]].kind == m.SiteKind.internet:
            report.error((*dev._path, "role"), "internet-role",
                         f"device {key!r}: the simulated Internet holds only hosts (role server)",
                         "use role: server")


def check_internet_attachments(r: Resolved, report: Report) -> None:
    """Only Internet sites hold hosts; only a firewall is the egress; servers never attach."""
    for key, dev in r.devices.items():
        mode = dev.internet.mode if dev.internet else None
        if mode is None:
            continue
        path = (*dev._path, "internet", "mode")
        if r.sites[r.site_of[key]].kind == m.SiteKind.internet:
            if mode not in (None, m.InternetMode.host):
                report.error(path, "internet-mode",
                             f"{key!r} stands on the Internet: its mode can only be host",
                             "remove 'internet:'")
        elif mode == m.InternetMode.host:
            report.error(path, "internet-mode",
                         f"{key!r} is not in a site of kind internet, so it cannot be a host there",
                         "use mode: egress (egress firewall) or mode: vpn (tunnels only)")
        elif mode == m.InternetMode.egress and dev.role != m.Role.firewall:
            report.error(path, "egress-not-firewall",
                         f"{dev.role.value} {key!r} would connect the city to the Internet",
                         "only a firewall may be the designated egress (role: firewall); "
                         "a router may attach for VPN only (mode: vpn)")
        elif mode == m.InternetMode.vpn and dev.role == m.Role.server:
            report.error(path, "server-on-internet", f"server {key!r} would sit on the Internet",
                         "servers reach the Internet only through the egress firewall; "
                         "remove 'internet:'")


# ------------------------------------------------- phase "network": what the devices make together


def check_gateways(r: Resolved, report: Report) -> None:
    """Every zone of a site has exactly one gateway."""
    for (name, zone), claim in r.gateway_claims.items():
        if len(claim) == 1:
            continue
        if claim:
            report.error((*r.devices[claim[1]]._path, "gateway_for"), "two-gateways",
                         f"zone {zone!r} of site {name!r} has two gateways: "
                         f"{claim[0]!r} and {claim[1]!r}", "keep the zone on one of them")
            continue
        routing = [k for k in r.site_devices[name] if r.devices[k].role in ROUTING_ROLES]
        report.error(r.sites[name]._path, "no-gateway", f"zone {zone!r} of site {name!r} has no gateway",
                     "add a router or firewall to the site and list the zone in its gateway_for"
                     if not routing else f"add {zone!r} to gateway_for of one of: {', '.join(routing)}")


def check_egress(r: Resolved, report: Report) -> None:
    """Zones that reach the Internet have an egress firewall to do it through."""
    egress = any(dev.role == m.Role.firewall and dev.internet is not None
                 and dev.internet.mode == m.InternetMode.egress
                 for key, dev in r.devices.items()
                 if r.sites[r.site_of[key]].kind != m.SiteKind.internet)
    wants = [z for z, zz in r.zones.items() if zz.internet == "via-egress"]
    if wants and not egress and any(s.kind == m.SiteKind.internet for s in r.sites.values()):
        report.error(("sites",), "no-egress",
                     f"zone(s) {', '.join(wants)} reach the Internet through the egress firewall, "
                     "but no firewall has 'internet: {mode: egress}'",
                     "give the data center's firewall 'internet: {mode: egress}'")


def check_portal_applications(r: Resolved, report: Report) -> None:
    """Each published path is a plain URL path whose service runs on a server of the portal's
    own address plane: an extranet portal never opens a way into the intranet."""
    params = r.stack.services.portal if r.stack.services else None
    if params is None or not params.applications:
        return

    def plane(dev):
        return r.zones[dev.zone].plane if dev.zone in r.zones else None

    portal_planes = {plane(d) for d in r.devices.values() if m.Service.portal in d.services} - {None}
    if len(portal_planes) != 1:
        report.error(("services", "portal", "applications"), "app-portal",
                     "the portal publishes applications but "
                     + ("no server runs the portal" if not portal_planes else
                        "portal servers sit on both planes, so one list cannot fit both"),
                     "add 'portal' to the services of one server (or of servers of one plane), "
                     "or remove 'applications:'", key=True)
        return
    web = ", ".join(sorted(s.value for s in standard.PORTAL_APPLICATION_SERVICES))
    for url_path, svc in params.applications.items():
        where = ("services", "portal", "applications", url_path)
        if svc not in standard.PORTAL_APPLICATION_SERVICES:
            report.error(where, "app-not-web",
                         f"the portal cannot publish {svc.value!r} at {url_path!r}: it is not a web "
                         "application", f"publish one of: {web}")
            continue
        if not _APP_PATH.fullmatch(url_path):
            report.error(where, "bad-app-path",
                         f"portal application path {url_path!r} is not a URL path such as /hudong/",
                         "start and end it with '/', with letters, digits, '-', '_' or '.' between",
                         key=True)
        hosts = [d for d in r.devices.values() if svc in d.services]
        if not hosts:
            report.error(where, "app-without-server",
                         f"no server runs {svc.value!r}, which the portal publishes at {url_path!r}",
                         f"add {svc.value} to a server's services, or remove the path")
        elif not any(plane(h) in portal_planes for h in hosts):
            report.error(where, "app-plane",
                         f"{svc.value!r} runs on the {plane(hosts[0])} plane but the portal on the "
                         f"{', '.join(sorted(portal_planes))}: publishing it would join the planes",
                         "serve the application from a server of the portal's plane, or remove "
                         "the path (政务内网 and the Internet stay apart)")


def check_link_ends(r: Resolved, report: Report) -> None:
    """Links join routing devices of the city; a vpn link's ends are attached to the Internet,
    and only vpn links have a tunnel."""
    for link in r.stack.links:
        for end in ("a", "b"):
            ref = getattr(link, end)
            dev = r.devices[ref]
            if dev.role in (m.Role.server, m.Role.switch):
                report.error((*link._path, end), "link-role",
                             f"link endpoint {ref!r} is a {dev.role.value}",
                             "links join routers and firewalls; servers and switches sit in a "
                             "site's zone LANs")
            if r.sites[r.site_of[ref]].kind == m.SiteKind.internet:
                report.error((*link._path, end), "internet-link",
                             f"link reaches {ref!r} on the Internet directly",
                             "devices reach the Internet only through 'internet:' attachments; "
                             "use medium: vpn between two attached devices")
        if link.medium == m.Medium.vpn:
            for end in ("a", "b"):
                ref = getattr(link, end)
                att = r.devices[ref].internet
                if att is None or att.mode == m.InternetMode.host:
                    report.error((*link._path, end), "vpn-needs-internet",
                                 f"vpn link endpoint {ref!r} is not attached to the Internet",
                                 f"give {ref!r} 'internet: {{mode: vpn}}' (or egress for the "
                                 "data center's firewall), or use fiber / leased / broadband")
        elif link.tunnel is not None:
            report.error((*link._path, "tunnel"), "tunnel-not-vpn",
                         f"a {link.medium.value} link has no tunnel", "remove 'tunnel:'")


def check_tunnels(r: Resolved, report: Report) -> None:
    """WireGuard runs between Linux ends only, and no device uses a UDP port for two tunnels."""
    used: set[tuple[str, int]] = set()
    for link in r.stack.links:
        t = r.tunnels.get(link.id)
        if t is None or t["protocol"] != m.TunnelProtocol.wireguard:
            continue
        if not is_linux_link(r, link):
            report.error((*link._path, "tunnel", "protocol"), "tunnel-protocol",
                         "WireGuard needs Linux (frr) devices at both ends",
                         "use protocol: ipsec for vendor routers")
        for end in (link.a, link.b):
            if (end, t["port"]) in used:
                report.error((*link._path, "tunnel", "port"), "tunnel-port",
                             f"UDP port {t['port']} on {end!r} is used by two tunnels",
                             "give each tunnel of a device its own port")
            used.add((end, t["port"]))


def check_reachability(r: Resolved, report: Report) -> None:
    """Every site of the city has a link path to the data center."""
    for name, site in r.sites.items():
        if site.kind == m.SiteKind.internet or name in r.depth:
            continue
        parent = r.parents.get(name)
        report.error(site._path, "no-path-to-dc", f"site {name!r} has no link path to the data center",
                     f"add a link from one of its routers to the router of {parent!r}"
                     if parent else "add a link from one of its routers towards the data center")


def check_bgp(r: Resolved, report: Report) -> None:
    """The provincial uplink is eBGP: only a province site declares a BGP side; a link to the
    province needs the city's AS and the province's, two different ones; the province's declared
    prefixes stay out of the city's own address plan (and are never a default route)."""
    for site in r.sites.values():
        if site.bgp is not None and site.kind != m.SiteKind.province:
            report.error((*site._path, "bgp"), "bgp-not-province",
                         f"{site.kind.value} site {site.name!r} declares a BGP side",
                         "only the province speaks BGP with the city: remove 'bgp:' (the city's "
                         "own sites route with OSPF)", key=True)
    links = province_links(r)
    if links and r.stack.city.asn is None:
        report.error(("city",), "missing-asn",
                     f"link {links[0].id!r} reaches the province, but the city has no AS number",
                     "add 'asn: <private AS>' to city (64512-65534 or 4200000000-4294967294); "
                     "the provincial uplink is eBGP")
    seen: set[str] = set()
    for link in links:
        name = next(r.site_of[e] for e in (link.a, link.b)
                    if r.sites[r.site_of[e]].kind == m.SiteKind.province)
        site = r.sites[name]
        if name in seen:
            continue
        seen.add(name)
        if site.bgp is None:
            report.error(site._path, "missing-asn",
                         f"link {link.id!r} reaches province site {name!r}, which has no 'bgp:'",
                         "add 'bgp: {asn: <the province's private AS>, prefixes: [<what it "
                         "announces>]}' to the site")
            continue
        if site.bgp.asn == r.stack.city.asn:
            report.error((*site._path, "bgp", "asn"), "same-asn",
                         f"the province and the city share AS {site.bgp.asn}: the uplink would be "
                         "iBGP", "give the province its own AS number (and the city another)")
        _check_province_prefixes(r, report, site)


def _check_province_prefixes(r: Resolved, report: Report, site: m.Site) -> None:
    plan = r.stack.address_plan
    planes = {name: netaddr.IPNetwork(getattr(plan, name)) for name in m.AddressPlan.model_fields}
    for i, prefix in enumerate(site.bgp.prefixes):
        net = netaddr.IPNetwork(prefix)
        where = (*site._path, "bgp", "prefixes", i)
        if net.prefixlen == 0:
            report.error(where, "province-prefix-overlap",
                         f"the province would announce the default route {prefix}",
                         "the city accepts no default route from the province: list its own "
                         "networks only")
            continue
        hit = next((name for name, p in planes.items() if net in p or p in net), None)
        if hit:
            report.error(where, "province-prefix-overlap",
                         f"province prefix {prefix} overlaps the city's {hit} plane "
                         f"{planes[hit]}", "list only the province's own networks: the city "
                         "never accepts its own addresses from outside")


# ------------------------------------------------------------ phase "planes": planes never meet

#: site kinds whose devices are not the city's (the province's platform, the Internet)
_NOT_THE_CITYS = (m.SiteKind.province, m.SiteKind.internet)


def _city_routers(r: Resolved) -> list[str]:
    return [k for k, dev in r.devices.items() if dev.role in ROUTING_ROLES
            and r.sites[r.site_of[k]].kind not in _NOT_THE_CITYS]


def _planes_text(planes) -> str:
    return " and ".join(planes) or "no plane"


def check_plane_routers(r: Resolved, report: Report) -> None:
    """Each routing device of the city routes one plane, or each plane in a VRF of its own on a
    platform that has VRFs; it is on the planes of the zones it is the gateway of; the intranet
    never sits on a router attached to the Internet without a VRF between them."""
    gateway_of: dict[str, list[str]] = {}
    for (_site, zone), key in r.gateways.items():
        gateway_of.setdefault(key, []).append(zone)
    for key in _city_routers(r):
        dev, planes = r.devices[key], r.planes[key]
        platform = r.device_settings[key]["platform"]
        vrf = platform in standard.VRF_PLATFORMS
        if not planes:
            report.error(dev._path, "no-plane", f"router {key!r} routes no plane: it is no zone's "
                         "gateway and its site has no subnets",
                         "say which plane it routes: 'planes: [intranet]' or 'planes: [extranet]'")
            continue
        if len(planes) > 1 and not vrf:
            report.error((*dev._path, "planes") if dev.planes else dev._path, "planes-without-vrf",
                         f"{key!r} ({platform.value}) would route the intranet and the extranet in "
                         "one routing table: the planes would meet in it",
                         "give each plane a router of its own (e.g. this one 'gateway_for: "
                         "[intranet]', and a second router 'gateway_for: [extranet]' with the "
                         "extranet's links), or use a platform with VRFs (huawei-vrp, h3c-comware, "
                         "cisco-ios)")
        for zone in gateway_of.get(key, ()):
            if r.zones[zone].plane not in planes:
                report.error((*dev._path, "planes"), "gateway-plane",
                             f"{key!r} is the gateway of zone {zone!r} ({r.zones[zone].plane}) but "
                             f"routes only the {_planes_text(planes)}",
                             f"add {r.zones[zone].plane} to its planes, or make another router the "
                             "zone's gateway")
        if dev.internet is not None and "intranet" in planes and (
                not vrf or dev.internet.mode == m.InternetMode.egress):
            report.error((*dev._path, "internet"), "intranet-on-internet",
                         f"{key!r} routes the intranet and is attached to the Internet",
                         "the intranet never touches the Internet: attach an extranet router "
                         "instead (planes: [extranet])")


def check_link_planes(r: Resolved, report: Report) -> None:
    """A link joins routers of one plane; the provincial uplink reaches the city's extranet; the
    intranet never crosses the Internet in a VPN tunnel."""
    uplinks = {lk.id for lk in province_links(r)}
    for link in r.stack.links:
        shared = r.link_planes.get(link.id, ())
        ends = f"{link.a!r} ({_planes_text(r.planes[link.a])}) and {link.b!r} " \
               f"({_planes_text(r.planes[link.b])})"
        if link.id in uplinks:
            if "extranet" not in shared:
                city_end = next(e for e in (link.a, link.b)
                                if r.sites[r.site_of[e]].kind != m.SiteKind.province)
                report.error((*link._path, "b" if city_end == link.b else "a"), "intranet-uplink",
                             f"the provincial uplink reaches {city_end!r}, which routes the "
                             f"{_planes_text(r.planes[city_end])}",
                             "the province is the 政务外网 platform: end the uplink on a router of "
                             "the extranet")
            continue
        if not shared:
            report.error(link._path, "planes-meet",
                         f"link joins {ends}: the intranet and the extranet would meet",
                         "the planes never share a link: join routers of the same plane, or "
                         "remove the link")
        elif link.medium == m.Medium.vpn and "intranet" in shared:
            report.error((*link._path, "medium"), "intranet-over-vpn",
                         f"link {link.id!r} would carry the intranet in a tunnel across the Internet",
                         "the intranet never crosses the Internet: give the site a fiber or leased "
                         "intranet link, or keep the VPN for the extranet only (remove the site's "
                         "intranet subnet with 'subnets: {intranet: null}', or set 'planes: "
                         "[extranet]' on the routers)")


def check_plane_paths(r: Resolved, report: Report) -> None:
    """Each router reaches the data center inside its own plane: every plane is a routing domain
    of its own, joined only by links that carry it."""
    uplinks = {lk.id for lk in province_links(r)}
    routers = _city_routers(r)
    for plane in m.PLANES:
        adj: dict[str, set[str]] = {}
        for link in r.stack.links:
            if link.id not in uplinks and plane in r.link_planes.get(link.id, ()):
                adj.setdefault(link.a, set()).add(link.b)
                adj.setdefault(link.b, set()).add(link.a)
        reached = {k for k in routers if plane in r.planes[k]
                   and r.sites[r.site_of[k]].kind == m.SiteKind.datacenter}
        todo = list(reached)
        while todo:
            for nxt in adj.get(todo.pop(), ()):
                if nxt not in reached:
                    reached.add(nxt)
                    todo.append(nxt)
        for key in routers:
            if plane in r.planes[key] and key not in reached:
                report.error(r.devices[key]._path, "plane-no-path",
                             f"{key!r} routes the {plane} but has no {plane} path to the data center",
                             f"link it to a router of the {plane} that reaches the data center (a "
                             "link carries only the planes both its ends route)")


def check_plane_services(r: Resolved, report: Report) -> None:
    """Each plane with city hosts has its own server of each central service the city runs: its
    hosts cannot use the other plane's."""
    servers = {svc: {r.planes[k][0] for k, dev in r.devices.items() if svc in dev.services and r.planes[k]}
               for svc in standard.CLIENT_SERVICES}
    for plane in m.PLANES:
        users = [k for k, dev in r.devices.items() if plane in r.planes[k][:1]
                 and r.sites[r.site_of[k]].kind not in _NOT_THE_CITYS]
        if not users:
            continue
        missing = [svc.value for svc in standard.CLIENT_SERVICES
                   if servers[svc] and plane not in servers[svc]]
        if missing:
            dc = next((s for s in r.sites.values() if s.kind == m.SiteKind.datacenter), None)
            report.error(dc._path if dc else ("sites",), "plane-without-service",
                         f"the {plane} has hosts ({', '.join(host_name(k) for k in users[:3])}"
                         f"{', …' if len(users) > 3 else ''}) but no {', '.join(missing)} server "
                         "of its own: the planes never meet, so they cannot use the other plane's",
                         f"add a server in a zone of the {plane}: {{name: ..., role: server, "
                         f"zone: {plane}, services: [{', '.join(missing)}]}}")


# ----------------------------------------------------------------------------------- the phases


@dataclass(frozen=True)
class Phase:
    """Checks that do not depend on each other's verdicts; later phases assume this one passed."""

    name: str
    checks: tuple[Check, ...]


PHASES: tuple[Phase, ...] = (
    Phase("names", (check_zones, check_names)),
    Phase("references", (check_site_zones, check_tree, check_device_zones, check_endpoints)),
    Phase("devices", (check_platforms, check_servers, check_portal_hosted, check_network_devices,
                      check_internet_attachments)),
    Phase("network", (check_gateways, check_egress, check_portal_applications, check_link_ends,
                      check_tunnels, check_reachability, check_bgp)),
    # a router's own planes first: its links and paths are judged only once each router is right
    Phase("plane routers", (check_plane_routers,)),
    Phase("planes", (check_link_planes, check_plane_paths, check_plane_services)),
)


def run_checks(r: Resolved, report: Report) -> None:
    """Run the phases in order; raise StackError with every error of the first phase that fails."""
    for phase in PHASES:
        for check in phase.checks:
            check(r, report)
        report.exit_on_error()
