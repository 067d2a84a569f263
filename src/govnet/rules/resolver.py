"""Resolving: what a stack implies, worked out once into a :class:`Resolved` stack.

One job: a structurally valid :class:`~govnet.model.Stack` -> the settings every site and device
inherits, the site tree, the zone gateways, the hops from the data center and the parameters of
every link. Resolving never judges: it tolerates every mistake :mod:`govnet.rules.checks`
reports (the first of two duplicates wins, a dangling reference resolves to nothing), so the
checks read one finished structure and never work anything out again.
"""

from __future__ import annotations

import copy
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TypedDict

from govnet import model as m
from govnet import standard


class SiteSettings(TypedDict):
    """What a site inherits: its zone subnets (prefix lengths), management prefix and OSPF area."""

    subnets: dict[str, int]
    management_prefix: int
    ospf_area: str


class DeviceSettings(TypedDict):
    """What a device inherits: platform, OSPF cost and the security and SNMP mappings."""

    platform: m.Platform
    ospf_cost: int
    security: dict
    snmp: dict


class TunnelParams(TypedDict):
    """How a vpn link is tunnelled: protocol and UDP port."""

    protocol: m.TunnelProtocol
    port: int


@dataclass(kw_only=True)
class Resolved:
    """Everything inheritance and topology imply, for the checks and then for every later stage."""

    stack: m.Stack
    zones: dict[str, m.Zone] = field(default_factory=dict)
    sites: dict[str, m.Site] = field(default_factory=dict)
    devices: dict[str, m.Device] = field(default_factory=dict)  # key "site.device", in file order
    site_of: dict[str, str] = field(default_factory=dict)  # device key -> site name
    site_devices: dict[str, list[str]] = field(default_factory=dict)  # site -> its device keys
    site_settings: dict[str, SiteSettings] = field(default_factory=dict)
    device_settings: dict[str, DeviceSettings] = field(default_factory=dict)
    parents: dict[str, str | None] = field(default_factory=dict)
    depth: dict[str, int] = field(default_factory=dict)  # link hops from the nearest data center
    #: (site, zone) -> the routing devices that claim to be the zone's gateway (one when valid)
    gateway_claims: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    gateways: dict[tuple[str, str], str] = field(default_factory=dict)  # (site, zone) -> device key
    #: device key -> the planes it is on: a server its zone's, a router those it routes, the
    #: province's router the extranet, an Internet host none
    planes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: link id -> the planes it carries: those its two ends share (empty: the planes would meet)
    link_planes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    link_area: dict[str, str] = field(default_factory=dict)  # link id -> OSPF area
    tunnels: dict[str, TunnelParams] = field(default_factory=dict)  # vpn link id -> protocol, port

    @property
    def name(self) -> str:
        return self.stack.city.name


#: the kinds of site each kind may sit below (an empty tuple: it has no parent)
ALLOWED_PARENTS: dict[m.SiteKind, tuple[m.SiteKind, ...]] = {
    m.SiteKind.county: (m.SiteKind.datacenter,),
    m.SiteKind.unit: (m.SiteKind.county, m.SiteKind.datacenter, m.SiteKind.unit),
    m.SiteKind.datacenter: (),
    m.SiteKind.province: (),
    m.SiteKind.internet: (),
}

ROUTING_ROLES = (m.Role.router, m.Role.firewall)

_SITE_KEYS = ("subnets", "management_prefix", "ospf_area")
_DEVICE_KEYS = ("platform", "ospf_cost", "security", "snmp")


def host_name(device_key: str) -> str:
    """Inventory / lab host name of a device: ``site-device``."""
    site, device = device_key.split(".", 1)
    return f"{site}-{device}"


def ancestors(parents: dict[str, str | None], site: str) -> Iterator[str]:
    """The sites above ``site``, nearest first; stops at the root or at a cycle."""
    seen = {site}
    cur = parents.get(site)
    while cur is not None and cur not in seen:
        yield cur
        seen.add(cur)
        cur = parents.get(cur)


def county_of(r: Resolved, site: str) -> str | None:
    """The county a site belongs to: itself, or the first county up its parent chain."""
    for name in (site, *ancestors(r.parents, site)):
        if r.sites[name].kind == m.SiteKind.county:
            return name
    return None


def routing_devices(r: Resolved, site: str) -> list[str]:
    """The routers and firewalls of ``site``, in file order."""
    return [k for k in r.site_devices[site] if r.devices[k].role in ROUTING_ROLES]


def is_linux_link(r: Resolved, link: m.Link) -> bool:
    """Whether both ends of ``link`` run Linux (and so can speak WireGuard)."""
    return all(r.device_settings[e]["platform"] in standard.LINUX_PLATFORMS for e in (link.a, link.b))


def province_links(r: Resolved) -> list[m.Link]:
    """The links between the city and the province (one end in a site of kind province): the
    provincial uplink, eBGP instead of OSPF."""
    def province(end: str) -> bool:
        return end in r.site_of and r.sites[r.site_of[end]].kind == m.SiteKind.province

    return [lk for lk in r.stack.links if province(lk.a) != province(lk.b)]


def resolve_stack(stack: m.Stack) -> Resolved:
    """Work out what ``stack`` implies, in the order each part needs the ones before it."""
    r = Resolved(stack=stack, zones=declared_zones(stack))
    index(r)
    r.parents = site_tree(r.sites)
    r.site_settings, r.device_settings = inherit(r)
    r.gateway_claims = claim_gateways(r)
    r.gateways = {k: v[0] for k, v in r.gateway_claims.items() if len(v) == 1}
    r.planes = device_planes(r)
    r.link_planes = {lk.id: shared_planes(r, lk) for lk in stack.links
                     if lk.a in r.devices and lk.b in r.devices}
    r.depth = hops_from_datacenter(r)
    r.link_area, r.tunnels = link_params(r)
    return r


# ----------------------------------------------------------------------------------- the parts


def declared_zones(stack: m.Stack) -> dict[str, m.Zone]:
    """The stack's own zones, or the standard 政务内网 / 政务外网 when it declares none."""
    if stack.zones is None:
        return {k: m.Zone.model_validate(v) for k, v in standard.ZONES.items()}
    return dict(stack.zones)


def index(r: Resolved) -> None:
    """Sites, devices and links by name, each told its path in the file; the first duplicate wins."""
    hosts: set[str] = set()
    for i, site in enumerate(r.stack.sites):
        site._path = ("sites", i)
        if site.name in r.sites:
            continue
        r.sites[site.name] = site
        r.site_devices[site.name] = []
        names: set[str] = set()
        for j, dev in enumerate(site.devices):
            dev._path = (*site._path, "devices", j)
            key = f"{site.name}.{dev.name}"
            if dev.name in names:
                continue
            names.add(dev.name)
            if host_name(key) in hosts:
                continue
            hosts.add(host_name(key))
            r.devices[key] = dev
            r.site_of[key] = site.name
            r.site_devices[site.name].append(key)
    for i, link in enumerate(r.stack.links):
        link._path = ("links", i)


def default_parent(sites: dict[str, m.Site], site: m.Site) -> str | None:
    """The parent a site has when it names none: a county sits below the first data center."""
    if site.kind != m.SiteKind.county:
        return None
    return next((n for n, s in sites.items() if s.kind == m.SiteKind.datacenter), None)


def site_tree(sites: dict[str, m.Site]) -> dict[str, str | None]:
    """Each site's parent: as declared when that is a site of an allowed kind, else None."""
    parents: dict[str, str | None] = {}
    for name, site in sites.items():
        parent = site.parent
        if parent is None:
            parent = default_parent(sites, site)
        elif parent not in sites or sites[parent].kind not in ALLOWED_PARENTS[site.kind]:
            parent = None
        parents[name] = parent
    return parents


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


def _layer(obj, keys) -> dict:
    """The settings ``obj`` sets itself (not its defaults), as plain mappings."""
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


def inherit(r: Resolved) -> tuple[dict[str, SiteSettings], dict[str, DeviceSettings]]:
    """Settings per site and device: standard -> defaults -> kinds.<kind> -> site -> device; units
    without an OSPF area of their own (or of kinds.unit) take the nearest ancestor's."""
    st = r.stack
    base = copy.deepcopy(standard.DEFAULTS)
    _merge(base, _layer(st.defaults, _SITE_KEYS + _DEVICE_KEYS))
    site_settings: dict[str, SiteSettings] = {}
    device_base: dict[str, dict] = {}
    for name, site in r.sites.items():
        eff = copy.deepcopy(base)
        eff["subnets"] = {}
        _merge(eff, copy.deepcopy(standard.KIND_DEFAULTS[site.kind]))
        if st.defaults is not None and "subnets" in st.defaults.model_fields_set:
            _merge(eff, {"subnets": st.defaults.subnets})
        kind_layer = getattr(st.kinds, site.kind.value) if st.kinds else None
        _merge(eff, _layer(kind_layer, _SITE_KEYS + _DEVICE_KEYS))
        _merge(eff, _layer(site, _SITE_KEYS + _DEVICE_KEYS))
        eff["subnets"] = {k: v for k, v in eff["subnets"].items() if v is not None}
        site_settings[name] = {k: eff[k] for k in _SITE_KEYS}  # type: ignore[assignment]
        device_base[name] = {k: eff[k] for k in _DEVICE_KEYS}
    _inherit_unit_areas(r, site_settings)
    device_settings: dict[str, DeviceSettings] = {}
    for key, dev in r.devices.items():
        eff = copy.deepcopy(device_base[r.site_of[key]])
        _merge(eff, _layer(dev, _DEVICE_KEYS))
        if dev.role == m.Role.server and "platform" not in dev.model_fields_set:
            eff["platform"] = m.Platform.debian
        eff["platform"] = m.Platform(eff["platform"])
        device_settings[key] = eff  # type: ignore[assignment]
    return site_settings, device_settings


def _inherit_unit_areas(r: Resolved, site_settings: dict[str, SiteSettings]) -> None:
    unit_kind = r.stack.kinds.unit if r.stack.kinds else None
    if unit_kind is not None and "ospf_area" in unit_kind.model_fields_set:
        return  # kinds.unit gives every unit its area
    for name, site in r.sites.items():
        if site.kind != m.SiteKind.unit or "ospf_area" in site.model_fields_set:
            continue
        for parent in ancestors(r.parents, name):
            above = r.sites[parent]
            if "ospf_area" in above.model_fields_set or above.kind != m.SiteKind.unit:
                site_settings[name]["ospf_area"] = site_settings[parent]["ospf_area"]
                break


def claim_gateways(r: Resolved) -> dict[tuple[str, str], list[str]]:
    """Per site zone, the routing devices that claim it: those listing it in gateway_for, or the
    site's only routing device when that one lists nothing."""
    claims: dict[tuple[str, str], list[str]] = {}
    for name in r.sites:
        routing = routing_devices(r, name)
        for zone in r.site_settings[name]["subnets"]:
            claim = [k for k in routing if zone in (r.devices[k].gateway_for or ())]
            if not claim and len(routing) == 1 and r.devices[routing[0]].gateway_for is None:
                claim = routing
            claims[(name, zone)] = claim
    return claims


def _ordered(planes) -> tuple[str, ...]:
    return tuple(p for p in m.PLANES if p in planes)


def device_planes(r: Resolved) -> dict[str, tuple[str, ...]]:
    """The planes of every device: a server's zone's; a routing device's (or a switch's) as
    declared, else those of the zones it is the gateway of, else (a transit router, a switch) those
    of its site's zones; the
    province's router is on the extranet (the provincial 政务外网 platform), the Internet's hosts
    on none."""
    out: dict[str, tuple[str, ...]] = {}
    claimed: dict[str, set[str]] = {}
    for (_site, zone), keys in r.gateway_claims.items():
        for key in keys:
            if zone in r.zones:
                claimed.setdefault(key, set()).add(r.zones[zone].plane)
    for key, dev in r.devices.items():
        site = r.sites[r.site_of[key]]
        if site.kind == m.SiteKind.internet:
            out[key] = ()
        elif dev.role == m.Role.server:
            out[key] = (r.zones[dev.zone].plane,) if dev.zone in r.zones else ()
        elif dev.planes is not None:
            out[key] = _ordered(dev.planes)
        elif site.kind == m.SiteKind.province:
            out[key] = ("extranet",)
        elif key in claimed:
            out[key] = _ordered(claimed[key])
        else:
            out[key] = _ordered({r.zones[z].plane for z in r.site_settings[site.name]["subnets"]
                                 if z in r.zones})
    return out


def shared_planes(r: Resolved, link: m.Link) -> tuple[str, ...]:
    """The planes a link carries: those both its ends are on."""
    return _ordered(set(r.planes[link.a]) & set(r.planes[link.b]))


def hops_from_datacenter(r: Resolved) -> dict[str, int]:
    """Link hops from the nearest data center per site it reaches ({} without a data center)."""
    adj: dict[str, set[str]] = {n: set() for n in r.sites}
    for link in r.stack.links:
        if link.a not in r.site_of or link.b not in r.site_of:
            continue  # a dangling endpoint joins nothing
        sa, sb = r.site_of[link.a], r.site_of[link.b]
        if sa != sb:
            adj[sa].add(sb)
            adj[sb].add(sa)
    depth = {n: 0 for n, s in r.sites.items() if s.kind == m.SiteKind.datacenter}
    queue: deque[str] = deque(depth)
    while queue:
        cur = queue.popleft()
        for nxt in sorted(adj[cur]):
            if nxt not in depth:
                depth[nxt] = depth[cur] + 1
                queue.append(nxt)
    return depth


def link_params(r: Resolved) -> tuple[dict[str, str], dict[str, TunnelParams]]:
    """Per link its OSPF area (the downstream site's) and, for vpn links, the tunnel protocol
    (default: WireGuard between Linux ends, IPsec otherwise) and UDP port (WireGuard: 51820+n)."""
    areas: dict[str, str] = {}
    tunnels: dict[str, TunnelParams] = {}
    n_wg = 0
    for link in r.stack.links:
        if link.a not in r.site_of or link.b not in r.site_of:
            continue
        sa, sb = r.site_of[link.a], r.site_of[link.b]
        down = sa if r.depth.get(sa, 0) > r.depth.get(sb, 0) else sb
        areas[link.id] = r.site_settings[down]["ospf_area"]
        if link.medium != m.Medium.vpn:
            continue
        proto = link.tunnel.protocol if link.tunnel and link.tunnel.protocol else (
            m.TunnelProtocol.wireguard if is_linux_link(r, link) else m.TunnelProtocol.ipsec)
        if proto == m.TunnelProtocol.wireguard:
            port = (link.tunnel.port if link.tunnel and link.tunnel.port
                    else standard.WIREGUARD_BASE_PORT + n_wg)
            n_wg += 1
        else:
            port = 500
        tunnels[link.id] = {"protocol": proto, "port": port}
    return areas, tunnels
