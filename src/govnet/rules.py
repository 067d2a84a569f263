"""Whole-stack rules: references, the site tree, zone policy, Internet separation.

One job: given a structurally valid :class:`~govnet.model.Stack`, resolve what it implies and
report every rule it breaks, each with the position in the file and how to fix it.
"""

from __future__ import annotations

import copy
import re
from collections import deque
from dataclasses import dataclass, field

from govnet import model as m
from govnet import standard
from govnet.diagnostics import Diagnostic, StackError, closest
from govnet.source import Source


@dataclass
class ValidStack:
    """A stack that passed every rule, with everything inheritance and topology imply."""

    source: Source
    stack: m.Stack
    zones: dict[str, m.Zone]
    sites: dict[str, m.Site]
    devices: dict[str, m.Device]  # key "site.device", in file order
    site_of: dict[str, str]  # device key -> site name
    site_settings: dict[str, dict]  # effective: subnets, management_prefix, ospf_area
    device_settings: dict[str, dict]  # effective: platform, ospf_cost, security, snmp
    parents: dict[str, str | None]
    depth: dict[str, int]  # link hops from the nearest data center
    gateways: dict[tuple[str, str], str]  # (site, zone) -> device key
    link_area: dict[str, str]  # link id -> OSPF area
    tunnels: dict[str, dict] = field(default_factory=dict)  # vpn link id -> {protocol, port}

    @property
    def name(self) -> str:
        return self.stack.city.name


#: a portal application's URL path: /name/ or /a/b/
_APP_PATH = re.compile(r"/(?:[A-Za-z0-9._~-]+/)+")


def host_name(device_key: str) -> str:
    """Inventory / lab host name of a device: ``site-device``."""
    site, device = device_key.split(".", 1)
    return f"{site}-{device}"


def ancestors(parents: dict[str, str | None], site: str):
    """The sites above ``site``, nearest first; stops at the root or at a cycle."""
    seen = {site}
    cur = parents.get(site)
    while cur is not None and cur not in seen:
        yield cur
        seen.add(cur)
        cur = parents.get(cur)


def county_of(vs: ValidStack, site: str) -> str | None:
    """The county a site belongs to: itself, or the first county up its parent chain."""
    for name in (site, *ancestors(vs.parents, site)):
        if vs.sites[name].kind == m.SiteKind.county:
            return name
    return None


def _merge(base: dict, layer: dict | None) -> dict:
    """Merge a settings layer into ``base``: mappings key by key, a None value removes a key."""
    if not layer:
        return base
    for key, value in layer.items():
        if value is None:
            continue
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            merged = dict(base[key])
            for k, v in value.items():
                if v is None:
                    merged.pop(k, None)
                else:
                    merged[k] = v
            base[key] = merged
        else:
            base[key] = value
    return base


_SITE_KEYS = ("subnets", "management_prefix", "ospf_area")
_DEVICE_KEYS = ("platform", "ospf_cost", "security", "snmp")


def _layer(obj, keys) -> dict:
    if obj is None:
        return {}
    out = {}
    for k in keys:
        if k in obj.model_fields_set:
            v = getattr(obj, k)
            if isinstance(v, m.Strict):
                v = {fk: getattr(v, fk) for fk in v.model_fields_set}
            out[k] = v
    return out


class _Rules:
    """Collects diagnostics while resolving; one method per group of rules."""

    def __init__(self, src: Source, stack: m.Stack):
        self.src = src
        self.stack = stack
        self.diags: list[Diagnostic] = []

    def err(self, path, code, message, hint="", key=False):
        self.diags.append(self.src.diag(path, code, message, hint, key=key))

    @staticmethod
    def guess(word, choices) -> str:
        close = closest(word, choices)
        return f"did you mean {close!r}? " if close else ""

    # ------------------------------------------------------------------ run

    def run(self) -> ValidStack:
        st = self.stack
        zones = self.resolve_zones()
        sites, devices, site_of = self.index()
        site_settings, device_settings = self.inherit(sites, devices, site_of, zones)
        parents = self.tree(sites)
        self.check_devices(sites, devices, site_of, site_settings, device_settings, zones)
        gateways = self.resolve_gateways(sites, devices, site_settings)
        self.check_internet(sites, devices, site_of, zones, gateways)
        self.check_portal_applications(devices, zones)
        links_ok = self.check_links(devices, site_of, sites, device_settings)
        depth = self.reachability(sites, site_of, parents)
        # units take their parent's OSPF area unless the site or kinds.unit sets one
        unit_kind = st.kinds.unit if st.kinds else None
        unit_area_set = unit_kind is not None and "ospf_area" in unit_kind.model_fields_set
        for name, site in sites.items():
            if ("ospf_area" not in site.model_fields_set and site.kind == m.SiteKind.unit
                    and not unit_area_set):
                for parent in ancestors(parents, name):
                    if "ospf_area" in sites[parent].model_fields_set or sites[parent].kind != m.SiteKind.unit:
                        site_settings[name]["ospf_area"] = site_settings[parent]["ospf_area"]
                        break
        link_area, tunnels = self.link_params(st.links, site_of, site_settings, depth,
                                              device_settings) if links_ok else ({}, {})
        if self.diags:
            raise StackError(self.diags)
        return ValidStack(self.src, st, zones, sites, devices, site_of, site_settings,
                          device_settings, parents, depth, gateways, link_area, tunnels)

    # ------------------------------------------------------------------ pieces

    def resolve_zones(self) -> dict[str, m.Zone]:
        if self.stack.zones is None:
            return {k: m.Zone.model_validate(v) for k, v in standard.ZONES.items()}
        zones = dict(self.stack.zones)
        for name, zone in zones.items():
            path = ("zones", name)
            if name == "management":
                self.err(path, "reserved-zone", "'management' is a plane of its own, not a zone",
                         "remove it; management subnets come from address_plan.management", key=True)
            if zone.internet == "via-egress" and zone.plane == "intranet":
                self.err((*path, "internet"), "intranet-internet",
                         f"zone {name!r} takes intranet addresses but would reach the Internet",
                         "the intranet never reaches the Internet: set internet: deny, or use "
                         "plane: extranet")
        return zones

    def index(self):
        sites: dict[str, m.Site] = {}
        devices: dict[str, m.Device] = {}
        site_of: dict[str, str] = {}
        hosts: dict[str, str] = {}
        for i, site in enumerate(self.stack.sites):
            site._path = ("sites", i)
            if site.name in sites:
                self.err((*site._path, "name"), "duplicate-site",
                         f"site {site.name!r} is declared twice", "give each site its own name")
                continue
            sites[site.name] = site
            names: set[str] = set()
            for j, dev in enumerate(site.devices):
                dev._path = (*site._path, "devices", j)
                if dev.name in names:
                    self.err((*dev._path, "name"), "duplicate-device",
                             f"device {dev.name!r} appears twice in site {site.name!r}",
                             "give each device of a site its own name")
                    continue
                names.add(dev.name)
                key = f"{site.name}.{dev.name}"
                host = host_name(key)
                if host in hosts:
                    self.err((*dev._path, "name"), "duplicate-host",
                             f"host name {host!r} is also the name of {hosts[host]!r}",
                             "host names are 'site-device'; rename the site or the device")
                    continue
                hosts[host] = key
                devices[key] = dev
                site_of[key] = site.name
        return sites, devices, site_of

    def inherit(self, sites, devices, site_of, zones):
        st = self.stack
        base = copy.deepcopy(standard.DEFAULTS)
        _merge(base, _layer(st.defaults, _SITE_KEYS + _DEVICE_KEYS))
        site_settings: dict[str, dict] = {}
        per_site_device_base: dict[str, dict] = {}
        for name, site in sites.items():
            eff = copy.deepcopy(base)
            eff["subnets"] = {}
            _merge(eff, copy.deepcopy(standard.KIND_DEFAULTS[site.kind]))
            if st.defaults is not None and "subnets" in st.defaults.model_fields_set:
                _merge(eff, {"subnets": st.defaults.subnets})
            kind_layer = getattr(st.kinds, site.kind.value) if st.kinds else None
            _merge(eff, _layer(kind_layer, _SITE_KEYS + _DEVICE_KEYS))
            _merge(eff, _layer(site, _SITE_KEYS + _DEVICE_KEYS))
            eff["subnets"] = {k: v for k, v in eff["subnets"].items() if v is not None}
            for zone in eff["subnets"]:
                if zone not in zones:
                    path = (*site._path, "subnets", zone)
                    if "subnets" not in site.model_fields_set:
                        path = site._path
                    self.err(path, "unknown-zone",
                             f"site {name!r} has a subnet in zone {zone!r}, which is not declared",
                             self.guess(zone, zones) + f"declared zones: {', '.join(zones)}")
            site_settings[name] = {k: eff[k] for k in _SITE_KEYS}
            per_site_device_base[name] = {k: eff[k] for k in _DEVICE_KEYS}
        device_settings: dict[str, dict] = {}
        for key, dev in devices.items():
            eff = copy.deepcopy(per_site_device_base[site_of[key]])
            _merge(eff, _layer(dev, _DEVICE_KEYS))
            if dev.role == m.Role.server and "platform" not in dev.model_fields_set:
                eff["platform"] = m.Platform.debian
            eff["platform"] = m.Platform(eff["platform"])
            device_settings[key] = eff
        return site_settings, device_settings

    def tree(self, sites) -> dict[str, str | None]:
        parents: dict[str, str | None] = {}
        dcs = [n for n, s in sites.items() if s.kind == m.SiteKind.datacenter]
        if not dcs:
            self.err(("sites",), "no-datacenter", "the stack has no site of kind datacenter",
                     "add the city data center (中心机房): a site with kind: datacenter")
        allowed = {
            m.SiteKind.county: (m.SiteKind.datacenter,),
            m.SiteKind.unit: (m.SiteKind.county, m.SiteKind.datacenter, m.SiteKind.unit),
            m.SiteKind.datacenter: (),
            m.SiteKind.province: (),
            m.SiteKind.internet: (),
        }
        for name, site in sites.items():
            path = (*site._path, "parent")
            parent = site.parent
            if parent is None:
                if site.kind == m.SiteKind.county and dcs:
                    parent = dcs[0]
                elif site.kind == m.SiteKind.unit:
                    self.err(site._path, "missing-parent", f"unit site {name!r} has no parent",
                             "add 'parent:' naming the county (or the data center) it belongs to")
            elif parent not in sites:
                self.err(path, "unknown-site", f"parent {parent!r} of site {name!r} is not a site",
                         self.guess(parent, sites) + "name a site declared under sites")
                parent = None
            elif not allowed[site.kind]:
                self.err(path, "bad-parent", f"a {site.kind.value} site has no parent",
                         "remove 'parent:'")
                parent = None
            elif sites[parent].kind not in allowed[site.kind]:
                kinds = " or ".join(k.value for k in allowed[site.kind])
                self.err(path, "bad-parent",
                         f"{site.kind.value} {name!r} cannot sit below {sites[parent].kind.value} "
                         f"{parent!r}", f"its parent must be a {kinds}")
                parent = None
            parents[name] = parent
        for name in sites:  # cycles among units
            seen: list[str] = []
            cur: str | None = name
            while cur is not None and cur not in seen:
                seen.append(cur)
                cur = parents.get(cur)
            if cur is not None and cur == name:
                self.err((*sites[name]._path, "parent"), "parent-cycle",
                         f"site {name!r} is its own ancestor: {' -> '.join([*seen, name])}",
                         "the site tree must end at the data center")
        return parents

    def check_devices(self, sites, devices, site_of, site_settings, device_settings, zones):
        for key, dev in devices.items():
            path = dev._path
            site = sites[site_of[key]]
            platform = device_settings[key]["platform"]
            if platform not in standard.ROLE_PLATFORMS[dev.role]:
                ok = ", ".join(p.value for p in standard.ROLE_PLATFORMS[dev.role])
                where = (*path, "platform") if "platform" in dev.model_fields_set else path
                self.err(where, "platform-role",
                         f"device {key!r}: a {dev.role.value} cannot run platform {platform.value!r}",
                         f"use one of: {ok}")
            site_zones = site_settings[site.name]["subnets"]
            if dev.role == m.Role.server:
                if site.kind == m.SiteKind.internet:
                    if dev.zone is not None:
                        self.err((*path, "zone"), "zone-on-internet",
                                 f"device {key!r} is on the Internet, which has no zones",
                                 "remove 'zone:'")
                elif dev.zone is None:
                    self.err(path, "missing-zone", f"server {key!r} has no zone",
                             f"add 'zone:' with one of this site's zones: {', '.join(site_zones)}")
                elif dev.zone not in zones:
                    self.err((*path, "zone"), "unknown-zone", f"zone {dev.zone!r} is not declared",
                             self.guess(dev.zone, zones) + f"declared zones: {', '.join(zones)}")
                elif dev.zone not in site_zones:
                    self.err((*path, "zone"), "zone-not-in-site",
                             f"site {site.name!r} has no {dev.zone!r} subnet for server {key!r}",
                             f"add '{dev.zone}: <prefix length>' to the site's subnets, or put the "
                             "server in another zone")
                if dev.gateway_for is not None:
                    self.err((*path, "gateway_for"), "gateway-role",
                             "only routers and firewalls are gateways", "remove 'gateway_for:'")
                if dev.zone in zones:
                    allowed = {s.value for s in zones[dev.zone].services}
                    for i, svc in enumerate(dev.services):
                        if svc.value not in allowed:
                            fits = [z for z, zz in zones.items()
                                    if svc in zz.services]
                            self.err((*path, "services", i), "service-zone",
                                     f"service {svc.value!r} may not run in zone {dev.zone!r} "
                                     f"(server {key!r})",
                                     f"put the server in a zone that allows it: {', '.join(fits)}"
                                     if fits else "no zone allows it; add it to a zone's services")
            else:
                if dev.zone is not None:
                    self.err((*path, "zone"), "zone-role",
                             f"{dev.role.value} {key!r} cannot sit in a zone's LAN",
                             "use 'gateway_for:' to make it the gateway of site zones")
                if dev.services:
                    self.err((*path, "services"), "services-role",
                             f"services run on servers, not on {dev.role.value} {key!r}",
                             "move the services to a server of the site")
                for i, zone in enumerate(dev.gateway_for or ()):
                    if zone not in site_zones:
                        self.err((*path, "gateway_for", i), "unknown-zone",
                                 f"site {site.name!r} has no {zone!r} subnet",
                                 self.guess(zone, site_zones)
                                 + f"the site's zones: {', '.join(site_zones) or 'none'}")
            if site.kind == m.SiteKind.internet and dev.role != m.Role.server:
                self.err((*path, "role"), "internet-role",
                         f"device {key!r}: the simulated Internet holds only hosts (role server)",
                         "use role: server")

    def check_portal_applications(self, devices, zones):
        """Each published path is a plain URL path whose service runs on a server of the portal's
        own address plane: an extranet portal never opens a way into the intranet."""
        params = self.stack.services.portal if self.stack.services else None
        if params is None or not params.applications:
            return

        def plane(dev):
            return zones[dev.zone].plane if dev.zone in zones else None

        portal_planes = {plane(d) for d in devices.values() if m.Service.portal in d.services} - {None}
        if len(portal_planes) != 1:
            self.err(("services", "portal", "applications"), "app-portal",
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
                self.err(where, "app-not-web",
                         f"the portal cannot publish {svc.value!r} at {url_path!r}: it is not a web "
                         "application", f"publish one of: {web}")
                continue
            if not _APP_PATH.fullmatch(url_path):
                self.err(where, "bad-app-path",
                         f"portal application path {url_path!r} is not a URL path such as /hudong/",
                         "start and end it with '/', with letters, digits, '-', '_' or '.' between",
                         key=True)
            hosts = [d for d in devices.values() if svc in d.services]
            if not hosts:
                self.err(where, "app-without-server",
                         f"no server runs {svc.value!r}, which the portal publishes at {url_path!r}",
                         f"add {svc.value} to a server's services, or remove the path")
            elif not any(plane(h) in portal_planes for h in hosts):
                self.err(where, "app-plane",
                         f"{svc.value!r} runs on the {plane(hosts[0])} plane but the portal on the "
                         f"{', '.join(sorted(portal_planes))}: publishing it would join the planes",
                         "serve the application from a server of the portal's plane, or remove "
                         "the path (政务内网 and the Internet stay apart)")

    def resolve_gateways(self, sites, devices, site_settings) -> dict[tuple[str, str], str]:
        gateways: dict[tuple[str, str], str] = {}
        by_site: dict[str, list[str]] = {}
        for key in devices:
            by_site.setdefault(key.split(".", 1)[0], []).append(key)
        for name, site in sites.items():
            routing = [k for k in by_site.get(name, ())
                       if devices[k].role in (m.Role.router, m.Role.firewall)]
            for zone in site_settings[name]["subnets"]:
                claim = [k for k in routing if zone in (devices[k].gateway_for or ())]
                if not claim and len(routing) == 1 and devices[routing[0]].gateway_for is None:
                    claim = routing
                if len(claim) == 1:
                    gateways[(name, zone)] = claim[0]
                elif not claim:
                    self.err(site._path, "no-gateway",
                             f"zone {zone!r} of site {name!r} has no gateway",
                             "add a router or firewall to the site and list the zone in its "
                             "gateway_for" if not routing else
                             f"add {zone!r} to gateway_for of one of: {', '.join(routing)}")
                else:
                    self.err((*devices[claim[1]]._path, "gateway_for"), "two-gateways",
                             f"zone {zone!r} of site {name!r} has two gateways: "
                             f"{claim[0]!r} and {claim[1]!r}", "keep the zone on one of them")
        return gateways

    def check_internet(self, sites, devices, site_of, zones, gateways):
        egress = []
        for key, dev in devices.items():
            site = sites[site_of[key]]
            path = (*dev._path, "internet")
            mode = dev.internet.mode if dev.internet else None
            if site.kind == m.SiteKind.internet:
                if mode not in (None, m.InternetMode.host):
                    self.err((*path, "mode"), "internet-mode",
                             f"{key!r} stands on the Internet: its mode can only be host",
                             "remove 'internet:'")
                continue
            if mode == m.InternetMode.host:
                self.err((*path, "mode"), "internet-mode",
                         f"{key!r} is not in a site of kind internet, so it cannot be a host there",
                         "use mode: egress (egress firewall) or mode: vpn (tunnels only)")
            elif mode == m.InternetMode.egress:
                if dev.role != m.Role.firewall:
                    self.err((*path, "mode"), "egress-not-firewall",
                             f"{dev.role.value} {key!r} would connect the city to the Internet",
                             "only a firewall may be the designated egress (role: firewall); "
                             "a router may attach for VPN only (mode: vpn)")
                else:
                    egress.append(key)
            elif mode == m.InternetMode.vpn and dev.role == m.Role.server:
                self.err((*path, "mode"), "server-on-internet",
                         f"server {key!r} would sit on the Internet",
                         "servers reach the Internet only through the egress firewall; "
                         "remove 'internet:'")
        wants = [z for z, zz in zones.items() if zz.internet == "via-egress"]
        if wants and not egress and any(s.kind == m.SiteKind.internet for s in sites.values()):
            self.err(("sites",), "no-egress",
                     f"zone(s) {', '.join(wants)} reach the Internet through the egress firewall, "
                     "but no firewall has 'internet: {mode: egress}'",
                     "give the data center's firewall 'internet: {mode: egress}'")

    def check_links(self, devices, site_of, sites, device_settings) -> bool:
        ok = True
        seen: dict[str, int] = {}
        for i, link in enumerate(self.stack.links):
            link._path = ("links", i)
            ends = []
            for end in ("a", "b"):
                ref = getattr(link, end)
                if ref not in devices:
                    ok = False
                    site_name = ref.split(".", 1)[0]
                    if site_name not in sites:
                        hint = self.guess(site_name, sites) + "no site has that name"
                    else:
                        names = [k for k in devices if site_of[k] == site_name]
                        hint = self.guess(ref, names) + (
                            f"site {site_name!r} has: {', '.join(k.split('.')[1] for k in names)}"
                            if names else f"site {site_name!r} has no devices")
                    self.err((*link._path, end), "unknown-endpoint",
                             f"link endpoint {ref!r} is not a device", hint)
                else:
                    ends.append(ref)
            if len(ends) != 2:
                continue
            a, b = ends
            if a == b:
                ok = False
                self.err(link._path, "self-link", f"link connects {a!r} to itself",
                         "a link joins two different devices")
                continue
            if link.id in seen:
                ok = False
                self.err(link._path, "duplicate-link",
                         f"link {link.id!r} is declared twice (first as links[{seen[link.id]}])",
                         "remove the copy, or give parallel links distinct 'name:'s")
                continue
            seen[link.id] = i
            for ref, end in ((a, "a"), (b, "b")):
                dev = devices[ref]
                if dev.role in (m.Role.server, m.Role.switch):
                    ok = False
                    self.err((*link._path, end), "link-role",
                             f"link endpoint {ref!r} is a {dev.role.value}",
                             "links join routers and firewalls; servers and switches sit in a "
                             "site's zone LANs")
                if sites[site_of[ref]].kind == m.SiteKind.internet:
                    ok = False
                    self.err((*link._path, end), "internet-link",
                             f"link reaches {ref!r} on the Internet directly",
                             "devices reach the Internet only through 'internet:' attachments; "
                             "use medium: vpn between two attached devices")
            if link.medium == m.Medium.vpn:
                for ref, end in ((a, "a"), (b, "b")):
                    att = devices[ref].internet
                    if att is None or att.mode == m.InternetMode.host:
                        ok = False
                        self.err((*link._path, end), "vpn-needs-internet",
                                 f"vpn link endpoint {ref!r} is not attached to the Internet",
                                 f"give {ref!r} 'internet: {{mode: vpn}}' (or egress for the "
                                 "data center's firewall), or use fiber / leased / broadband")
            elif link.tunnel is not None:
                self.err((*link._path, "tunnel"), "tunnel-not-vpn",
                         f"a {link.medium.value} link has no tunnel", "remove 'tunnel:'")
        return ok

    def reachability(self, sites, site_of, parents) -> dict[str, int]:
        adj: dict[str, set[str]] = {n: set() for n in sites}
        for link in self.stack.links:
            if link.a not in site_of or link.b not in site_of:
                continue  # reported as unknown-endpoint
            sa, sb = site_of[link.a], site_of[link.b]
            if sa != sb:
                adj[sa].add(sb)
                adj[sb].add(sa)
        depth: dict[str, int] = {}
        queue: deque[str] = deque()
        if not any(s.kind == m.SiteKind.datacenter for s in sites.values()):
            return depth  # already reported as no-datacenter; every site would repeat it
        for n, s in sites.items():
            if s.kind == m.SiteKind.datacenter:
                depth[n] = 0
                queue.append(n)
        while queue:
            cur = queue.popleft()
            for nxt in sorted(adj[cur]):
                if nxt not in depth:
                    depth[nxt] = depth[cur] + 1
                    queue.append(nxt)
        for n, s in sites.items():
            if s.kind == m.SiteKind.internet or n in depth:
                continue
            parent = parents.get(n)
            self.err(s._path, "no-path-to-dc",
                     f"site {n!r} has no link path to the data center",
                     f"add a link from one of its routers to the router of {parent!r}"
                     if parent else "add a link from one of its routers towards the data center")
        return depth

    def link_params(self, links, site_of, site_settings, depth, device_settings):
        areas: dict[str, str] = {}
        tunnels: dict[str, dict] = {}
        n_wg = 0
        for link in links:
            sa, sb = site_of[link.a], site_of[link.b]
            down = sa if depth.get(sa, 0) > depth.get(sb, 0) else sb
            areas[link.id] = site_settings[down]["ospf_area"]
            if link.medium != m.Medium.vpn:
                continue
            linux = all(device_settings[e]["platform"] in standard.LINUX_PLATFORMS
                        for e in (link.a, link.b))
            proto = link.tunnel.protocol if link.tunnel and link.tunnel.protocol else (
                m.TunnelProtocol.wireguard if linux else m.TunnelProtocol.ipsec)
            if proto == m.TunnelProtocol.wireguard and not linux:
                self.err((*link._path, "tunnel", "protocol"), "tunnel-protocol",
                         "WireGuard needs Linux (frr) devices at both ends",
                         "use protocol: ipsec for vendor routers")
            if proto == m.TunnelProtocol.wireguard:
                port = (link.tunnel.port if link.tunnel and link.tunnel.port
                        else standard.WIREGUARD_BASE_PORT + n_wg)
                n_wg += 1
            else:
                port = 500
            tunnels[link.id] = {"protocol": proto, "port": port}
        used: dict[tuple[str, int], str] = {}
        for link in links:
            t = tunnels.get(link.id)
            if t is None or t["protocol"] != m.TunnelProtocol.wireguard:
                continue
            for end in (link.a, link.b):
                if (end, t["port"]) in used:
                    self.err((*link._path, "tunnel", "port"), "tunnel-port",
                             f"UDP port {t['port']} on {end!r} is used by two tunnels",
                             "give each tunnel of a device its own port")
                used[(end, t["port"])] = link.id
        return areas, tunnels


def resolve(src: Source, stack: m.Stack) -> ValidStack:
    """Apply every whole-stack rule; return the resolved stack or raise StackError."""
    return _Rules(src, stack).run()
