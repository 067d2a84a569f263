"""Design: the validated stack and its address plan turned into typed facts per host.

One job: (ValidStack, Plan) -> :class:`Design`, the facts of :mod:`govnet.facts` — interfaces and
their addresses, OSPF, tunnels, static routes on their interfaces, where the city's services
listen, the zone policy, monitoring, backups and names. Inventory, device configs, Pulumi resources
and expected test state all read this, so the two ends of a link are computed once, here, and
cannot disagree.

As AVD's structured-config mixins and netlab's augment phases, the facts are made by small
builders run in a declared order (:data:`BUILDERS`); each is a function of (resolved stack, plan,
facts built so far) with one job, and :func:`build` only runs them.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field

from govnet import backup, monitoring, names, policy, standard
from govnet import model as m
from govnet.addressing import Plan, address, canonical, from_int, network_first, parse_cidr, to_int
from govnet.facts import (
    AlertMail,
    BackupFacts,
    Bgp,
    BgpNeighbor,
    CityFacts,
    Database,
    DnsFacts,
    HostFacts,
    Interface,
    InterfaceOspf,
    Internet,
    Mail,
    Mailbox,
    Management,
    MonitoringFacts,
    Ospf,
    Route,
    Rule,
    ServiceEntry,
    Tunnel,
    Videoconf,
    VideoRoom,
    Vrf,
)
from govnet.perf import no_gc
from govnet.rules import ValidStack, host_name
from govnet.rules.resolver import province_links

#: Interface names per platform: (link/LAN port pattern, first port number, management port,
#: loopback, tunnel pattern). Linux names stay within the kernel's 15 characters.
PORTS: dict[m.Platform, dict] = {
    m.Platform.frr: {"port": "eth{n}", "first": 1, "mgmt": "mgmt0", "loopback": "lo",
                     "tunnel": "wg{n}", "wan": "wan0"},
    m.Platform.debian: {"port": "eth{n}", "first": 1, "mgmt": "mgmt0", "loopback": "lo",
                        "tunnel": "wg{n}", "wan": "wan0"},
    m.Platform.huawei_vrp: {"port": "GigabitEthernet0/0/{n}", "first": 1, "mgmt": "MEth0/0/1",
                            "loopback": "LoopBack0", "tunnel": "Tunnel0/0/{n}",
                            "wan": "GigabitEthernet0/0/0"},
    m.Platform.h3c_comware: {"port": "GigabitEthernet1/0/{n}", "first": 1,
                             "mgmt": "M-GigabitEthernet0/0/0", "loopback": "LoopBack0",
                             "tunnel": "Tunnel{n}", "wan": "GigabitEthernet1/0/0"},
    # IOS XE 17 routers (ISR 4000, Catalyst 8200/8300): ports 0/0/N; GigabitEthernet0 is the
    # management port, in VRF Mgmt-intf
    m.Platform.cisco_ios: {"port": "GigabitEthernet0/0/{n}", "first": 1, "mgmt": "GigabitEthernet0",
                           "loopback": "Loopback0", "tunnel": "Tunnel{n}",
                           "wan": "GigabitEthernet0/0/0"},
}

#: A vendor router that routes both planes keeps each in a VRF named after it (Huawei/H3C VPN
#: instance, Cisco VRF). A link joining two such routers carries both planes on one port: one dot1q
#: sub-interface per plane, tagged with the plane's VLAN id, each with its own /31. The VLAN id also
#: numbers the VRF's route distinguisher (<city ASN>:<VLAN id>) and the plane's OSPF process is the
#: plane's place in m.PLANES plus one (intranet 1, extranet 2).
VRF_VLANS = {"intranet": 10, "extranet": 20}

#: Administrative distance of the backup static default towards the data center.
FLOATING_DEFAULT_DISTANCE = 250
#: Administrative distance of the discard route that holds a BGP-originated prefix in the RIB:
#: any real route to the same prefix wins; the more specific routes inside it always do.
DISCARD_DISTANCE = 254
BGP_PORT = 179

#: sites whose hosts are not the city's own (the lab's stand-ins for the Internet and the province)
NOT_THE_CITYS = (m.SiteKind.internet, m.SiteKind.province)


class DesignError(ValueError):
    """The facts contradict themselves (a bug in a builder, not a fault of the stack)."""


@dataclass
class Design:
    """Facts per host (by inventory name) and the city-wide values every host shares."""

    stack: str
    city: CityFacts
    hosts: dict[str, HostFacts]
    services: dict[str, list[ServiceEntry]]  # service -> where it listens, in file order
    plan: Plan
    dns: DnsFacts  # the city's zones (govnet.names)
    monitoring: MonitoringFacts  # scrape targets and probes (govnet.monitoring)
    backup: BackupFacts  # repositories and what to back up (govnet.backup)


@dataclass
class Draft:
    """The facts built so far: what each builder reads and adds to."""

    city: CityFacts | None = None
    services: dict[str, list[ServiceEntry]] = field(default_factory=dict)
    hosts: dict[str, HostFacts] = field(default_factory=dict)
    monitoring: MonitoringFacts | None = None
    backup: BackupFacts | None = None
    dns: DnsFacts | None = None


def _first_host(cidr: str) -> str:
    """The first host address of the network of ``cidr`` (its gateway)."""
    return from_int(network_first(cidr) + 1)


def _ports(vs: ValidStack, key: str) -> dict:
    return PORTS[vs.device_settings[key]["platform"]]


def _routes(vs: ValidStack, key: str) -> bool:
    return vs.devices[key].role in (m.Role.router, m.Role.firewall)


def _vrf_planes(vs: ValidStack, key: str) -> tuple[str, ...]:
    """The planes a routing device keeps each in a VRF of its own: all of them when it routes
    more than one (validation allows that on VRF platforms only), else none (the global table)."""
    planes = vs.planes[key]
    return planes if _routes(vs, key) and len(planes) > 1 else ()


# --- builders, in the order they run ---------------------------------------------------------------

def build_city(vs: ValidStack, plan: Plan, d: Draft) -> None:
    """The city-wide values: names, time zone, the Internet segment, the city's own networks."""
    st, e = vs.stack, plan.entries
    portal = st.services.portal if st.services else None
    d.city = CityFacts(
        name=st.city.name,
        display_name=st.city.display_name or st.city.name,
        domain=st.city.domain,
        timezone=st.city.timezone,
        internet_gateway=_first_host(e["internet-segment"]) if "internet-segment" in e else None,
        internet_segment=e.get("internet-segment"),
        management_network=str(st.address_plan.management),
        # the portal's public name (services.portal.server_name, default www.<domain>)
        portal_server_name=(portal.server_name if portal else None) or f"www.{st.city.domain}",
        networks=[str(getattr(st.address_plan, plane)) for plane in
                  ("intranet", "extranet", "management", "loopbacks", "links", "tunnels")])


def build_services(vs: ValidStack, plan: Plan, d: Draft) -> None:
    """Where each shared service listens: its servers' zone addresses and planes, in file order."""
    d.services = {s.value: [] for s in m.Service}
    for key, dev in vs.devices.items():
        addr = plan.entries.get(f"host:{key}")
        for svc in dev.services:
            if addr:
                d.services[svc.value].append(ServiceEntry(host=host_name(key), address=address(addr),
                                                          plane=vs.zones[dev.zone].plane))


def build_applications(vs: ValidStack, _plan: Plan, d: Draft) -> None:
    """The applications the portal publishes: URL path -> upstream URL of the service's first
    server on the portal's own plane (validation made sure there is one)."""
    st = vs.stack
    apps = st.services.portal.applications if st.services and st.services.portal else {}
    portal_planes = {vs.zones[dev.zone].plane for dev in vs.devices.values()
                     if m.Service.portal in dev.services and dev.zone in vs.zones}
    out = {}
    for url_path, svc in apps.items():
        port = next(p for proto, p in standard.SERVICE_PORTS[svc] if proto == "tcp")
        upstream = next(host_name(k) for k, dev in vs.devices.items() if svc in dev.services
                        and dev.zone in vs.zones and vs.zones[dev.zone].plane in portal_planes)
        addr = next(x.address for x in d.services[svc.value] if x.host == upstream)
        out[url_path] = f"{'https' if port == 443 else 'http'}://{addr}:{port}/"
    d.city.portal_applications = out


def build_hudong(vs: ValidStack, _plan: Plan, d: Draft) -> None:
    """政民互动's staff networks: the supernets of the planes its servers are on (the city's
    extranet): staff answer from the city's own plane, never from the Internet or the other plane."""
    plan = vs.stack.address_plan
    planes = sorted({x.plane for x in d.services[m.Service.hudong.value] if x.plane})
    d.city.hudong_staff_networks = [str(getattr(plan, p)) for p in planes]


def build_databases(vs: ValidStack, _plan: Plan, d: Draft) -> None:
    """The databases of the information-resource database (一库) and the hosts that use them."""
    params = vs.stack.services.database if vs.stack.services else None
    if not params:
        d.city.databases = []
        return
    users = {x.host: x for svc in params.clients for x in d.services[svc.value]}  # each host once
    d.city.databases = [Database(name=db, role=f"{db}_app", clients=list(users.values()))
                        for db in params.databases]


def build_hosts(vs: ValidStack, plan: Plan, d: Draft) -> None:
    """Each device's identity, management link, services, security settings and the central
    services it is a client of (those of its own plane: the planes never meet); its interfaces and
    routes start empty."""
    st, e = vs.stack, plan.entries
    clients = {plane: {s.value: [x.address for x in d.services[s.value] if x.plane == plane]
                       for s in standard.CLIENT_SERVICES} for plane in m.PLANES}
    nobody = {s.value: [] for s in standard.CLIENT_SERVICES}
    for key, dev in vs.devices.items():
        site_name = vs.site_of[key]
        site = vs.sites[site_name]
        settings = vs.device_settings[key]
        mgmt = e[f"mgmt-host:{key}"]
        name = host_name(key)
        d.hosts[name] = HostFacts(
            name=name, device=dev.name, site=site_name, site_kind=site.kind.value,
            site_display_name=site.display_name or site_name,
            display_name=dev.display_name or dev.name, role=dev.role.value,
            platform=settings["platform"].value, fqdn=f"{dev.name}.{site_name}.{st.city.domain}",
            management=Management(interface=_ports(vs, key)["mgmt"], address=mgmt,
                                  gateway=_first_host(mgmt), network=d.city.management_network),
            interfaces=[], static_routes=[], tunnels=[],
            services=[s.value for s in dev.services], zone=dev.zone,
            security=settings["security"], snmp=settings["snmp"], planes=list(vs.planes[key]),
            # hosts on the Internet and the province's platform are not the city's: they use none
            # of its services (the province keeps its own time and log servers); a router with a
            # VRF per plane is a client in its first plane's
            clients=nobody if site.kind in NOT_THE_CITYS or not vs.planes[key]
            else clients[vs.planes[key][0]],
            internet=None, listen={}, backup_paths=[])


def build_internet(vs: ValidStack, plan: Plan, d: Draft) -> None:
    """The Internet attachment: the WAN port, and the default route over it where the host
    reaches the Internet itself (the egress firewall, the Internet's own hosts)."""
    for key, dev in vs.devices.items():
        site = vs.sites[vs.site_of[key]]
        if dev.internet is None and site.kind != m.SiteKind.internet:
            continue
        h, ports = d.hosts[host_name(key)], _ports(vs, key)
        mode = dev.internet.mode.value if dev.internet else "host"
        addr = plan.entries[f"internet:{key}"]
        h.internet = Internet(mode=mode, interface=ports["wan"], address=addr,
                              gateway=d.city.internet_gateway)
        h.interfaces.append(Interface(name=ports["wan"], kind="wan", address=addr,
                                      description="Internet" + (" (tunnels only)" if mode == "vpn" else "")))
        if mode in {"egress", "host"}:
            h.static_routes.append(Route(prefix="0.0.0.0/0", next_hop=d.city.internet_gateway,
                                         interface=ports["wan"], distance=1, description="Internet"))


def build_server_lans(vs: ValidStack, plan: Plan, d: Draft) -> None:
    """A city server's port in its zone's LAN and its default route via the LAN's gateway."""
    for key, dev in vs.devices.items():
        if dev.role != m.Role.server or not dev.zone or vs.sites[vs.site_of[key]].kind == m.SiteKind.internet:
            continue
        h, ports = d.hosts[host_name(key)], _ports(vs, key)
        addr = plan.entries[f"host:{key}"]
        ifname = "eth1" if h.platform == m.Platform.debian.value else ports["port"].format(n=ports["first"])
        h.interfaces.append(Interface(name=ifname, kind="lan", plane=vs.zones[dev.zone].plane,
                                      zone=dev.zone, address=addr,
                                      description=f"{dev.zone} LAN"))
        h.default_gateway = _first_host(addr)
        h.default_route = Route(prefix="0.0.0.0/0", next_hop=h.default_gateway, interface=ifname,
                                distance=0, description="default gateway")


def build_router_lans(vs: ValidStack, plan: Plan, d: Draft) -> None:
    """A router's loopback, and a port for each zone LAN of its site it is the gateway of."""
    for key in vs.devices:
        if not _routes(vs, key):
            continue
        site_name = vs.site_of[key]
        h, ports, settings = d.hosts[host_name(key)], _ports(vs, key), vs.device_settings[key]
        h.loopback = h.router_id = address(plan.entries[f"loopback:{key}"])
        linux = h.platform in {p.value for p in standard.LINUX_PLATFORMS}
        n = ports["first"]
        for zone in vs.site_settings[site_name]["subnets"]:
            if vs.gateways.get((site_name, zone)) != key:
                continue
            subnet = plan.entries[f"subnet:{site_name}:{zone}"]
            iface = Interface(
                name=f"lan{n - ports['first']}" if linux else ports["port"].format(n=n), kind="lan",
                plane=vs.zones[zone].plane, zone=zone,
                address=f"{_first_host(subnet)}/{parse_cidr(subnet)[1]}", network=subnet,
                description=f"{zone} LAN of {site_name}",
                ospf=InterfaceOspf(area=vs.site_settings[site_name]["ospf_area"], passive=True,
                                   cost=settings["ospf_cost"], network_type="broadcast"))
            if _vrf_planes(vs, key):
                iface.vrf = iface.plane
            h.interfaces.append(iface)
            n += 1


def _pair(cidr: str, side: str) -> tuple[str, str]:
    """This end's and the far end's address of a /31: side a takes the first."""
    first = network_first(cidr)
    mine, theirs = (first, first + 1) if side == "a" else (first + 1, first)
    return f"{from_int(mine)}/31", from_int(theirs)


def _tunnel(vs: ValidStack, plan: Plan, d: Draft, link: m.Link, side: str) -> Interface:
    """One end of a VPN link: the tunnel (numbered per host), its interface and the route to the
    peer's public address."""
    key, peer = (link.a, link.b) if side == "a" else (link.b, link.a)
    h, ports, e = d.hosts[host_name(key)], _ports(vs, key), plan.entries
    t = vs.tunnels[link.id]
    pattern = ports["tunnel"]
    linux = h.platform in {p.value for p in standard.LINUX_PLATFORMS}
    if linux and t["protocol"] != m.TunnelProtocol.wireguard:
        pattern = "ipsec{n}"  # an XFRM interface bound to the strongSwan connection
    n = len(h.tunnels)
    inner = e[f"tunnel:{link.id}"]
    mine, theirs = _pair(inner, side)
    tunnel = Tunnel(link=link.id, interface=pattern.format(n=n), protocol=t["protocol"].value,
                    port=t["port"], local_public=address(e[f"internet:{key}"]),
                    peer_public=address(e[f"internet:{peer}"]), peer=host_name(peer),
                    role="hub" if side == "a" else "spoke", address=mine, peer_address=theirs)
    h.tunnels.append(tunnel)
    if h.internet and h.internet.mode == "vpn":
        h.static_routes.append(Route(prefix=f"{tunnel.peer_public}/32", next_hop=d.city.internet_gateway,
                                     interface=ports["wan"], distance=1,
                                     description=f"tunnel to {tunnel.peer}"))
    iface = Interface(name=tunnel.interface, kind="tunnel", plane=vs.link_planes[link.id][0],
                      address=mine, network=canonical(inner),
                      peer=tunnel.peer, peer_address=theirs, medium="vpn", link=link.id,
                      description=f"VPN to {tunnel.peer}")
    if _vrf_planes(vs, key):  # the tunnel's inside in its plane's VRF; its outside (the WAN) global
        iface.vrf = iface.plane
    return iface


def _link_ports(vs: ValidStack, plan: Plan, link: m.Link, side: str, port: str) -> list[Interface]:
    """One end of a cable on ``port``: the port itself, or on a link that carries both planes
    (two routers with a VRF per plane) one dot1q sub-interface per plane, each in its plane's VRF
    with its own /31 (``link:<id>`` for the first plane, ``link:<id>:<plane>`` for the others)."""
    key, peer = (link.a, link.b) if side == "a" else (link.b, link.a)
    planes = vs.link_planes[link.id]
    vrf = bool(_vrf_planes(vs, key))
    out = []
    for i, plane in enumerate(planes):
        cidr = plan.entries[f"link:{link.id}" if i == 0 else f"link:{link.id}:{plane}"]
        mine, theirs = _pair(cidr, side)
        sub = len(planes) > 1
        iface = Interface(name=f"{port}.{VRF_VLANS[plane]}" if sub else port, kind="link",
                          plane=plane, address=mine, network=canonical(cidr), peer=host_name(peer),
                          peer_address=theirs, medium=link.medium.value, link=link.id,
                          bandwidth_mbps=link.bandwidth_mbps,
                          description=f"{link.medium.value} to {host_name(peer)}"
                          + (f" ({plane})" if sub else ""))
        if vrf:
            iface.vrf = plane
        if sub:
            iface.vlan, iface.parent = VRF_VLANS[plane], port
        out.append(iface)
    if len(planes) > 1 and not vrf:
        raise DesignError(f"{host_name(key)}: link {link.id} carries {' and '.join(planes)}, but "
                          "the host keeps no VRF per plane")
    return out


def build_links(vs: ValidStack, plan: Plan, d: Draft) -> None:
    """Both ends of every link, in file order: a /31 port per cable (a dot1q sub-interface per
    plane, each with its /31, where the cable carries both planes), a tunnel per VPN link, each
    speaking OSPF point-to-point in the link's area, except the provincial uplink (eBGP, no OSPF:
    see :func:`build_bgp`)."""
    next_port: dict[str, int] = {}
    ebgp = {lk.id for lk in province_links(vs)}
    for link in vs.stack.links:
        for side, key in (("a", link.a), ("b", link.b)):
            if not _routes(vs, key):
                continue
            h, ports = d.hosts[host_name(key)], _ports(vs, key)
            if link.medium == m.Medium.vpn:
                ifaces = [_tunnel(vs, plan, d, link, side)]
            else:
                n = next_port.get(key) or ports["first"] + sum(i.kind == "lan" for i in h.interfaces)
                next_port[key] = n + 1
                ifaces = _link_ports(vs, plan, link, side, ports["port"].format(n=n))
            for iface in ifaces:
                if link.id not in ebgp:
                    iface.ospf = InterfaceOspf(area=vs.link_area[link.id], passive=False,
                                               cost=link.cost or vs.device_settings[key]["ospf_cost"],
                                               network_type="point-to-point")
                    if link.bfd:
                        iface.ospf.bfd = True
                h.interfaces.append(iface)


def build_floating_defaults(vs: ValidStack, _plan: Plan, d: Draft) -> None:
    """Outside the data center, a floating static default towards it, should OSPF lose it: over
    the first link or tunnel whose peer is nearer the data center. Only in the extranet: the
    intranet has no default route at all (nothing in it leads to the Internet), and a router with a
    VRF per plane keeps its global table free of one."""
    site_of_host = {host_name(k): s for k, s in vs.site_of.items()}
    for key in vs.devices:
        site_name = vs.site_of[key]
        if not _routes(vs, key) or vs.sites[site_name].kind in (m.SiteKind.datacenter, m.SiteKind.province) \
                or vs.planes[key] != ("extranet",):
            continue
        h = d.hosts[host_name(key)]
        depth = vs.depth.get(site_name, 0)
        up = next((i for i in h.interfaces if i.ospf and i.peer
                   and vs.depth.get(site_of_host[i.peer], depth) < depth), None)
        if up:
            h.static_routes.append(Route(prefix="0.0.0.0/0", next_hop=up.peer_address, interface=up.name,
                                         distance=FLOATING_DEFAULT_DISTANCE,
                                         description="backup default towards the DC"))


def build_ospf(vs: ValidStack, plan: Plan, d: Draft) -> None:
    """The OSPF process of a router: its areas, the loopback's area, whether it originates the
    default (the egress firewall). A router with a VRF per plane runs one process per VRF, over
    that VRF's interfaces and loopback only (the first plane's loopback is the router's
    ``loopback``, LoopBack0; each further plane has LoopBack1, ... from ``loopback:<key>:<plane>``);
    its ``ospf`` is then its first VRF's process."""
    city_asn = vs.stack.city.asn
    for key in vs.devices:
        if not _routes(vs, key):
            continue
        h = d.hosts[host_name(key)]
        area = vs.site_settings[vs.site_of[key]]["ospf_area"]
        planes = _vrf_planes(vs, key)
        if not planes:
            areas = {i.ospf.area for i in h.interfaces if i.ospf} | {area}
            h.ospf = Ospf(router_id=h.router_id, areas=sorted(areas, key=to_int), loopback_area=area,
                          default_originate=bool(h.internet and h.internet.mode == "egress"))
            continue
        loopback = _ports(vs, key)["loopback"].rstrip("0123456789")  # LoopBack0 -> LoopBack
        h.vrfs = []
        for i, plane in enumerate(planes):
            rid = h.loopback if i == 0 else address(plan.entries[f"loopback:{key}:{plane}"])
            areas = {x.ospf.area for x in h.interfaces if x.ospf and x.vrf == plane} | {area}
            vlan = VRF_VLANS[plane]
            h.vrfs.append(Vrf(
                name=plane, vlan=vlan, rd=f"{city_asn or rid}:{vlan}",
                loopback_interface=f"{loopback}{i}", loopback=rid,
                ospf=Ospf(router_id=rid, areas=sorted(areas, key=to_int), loopback_area=area,
                          default_originate=False, process=m.PLANES.index(plane) + 1, vrf=plane)))
        h.ospf = h.vrfs[0].ospf


def build_bgp(vs: ValidStack, _plan: Plan, d: Draft) -> None:
    """The provincial uplink: eBGP between the link addresses, no OSPF on it. The city's end
    announces only the extranet supernet and accepts only the province's declared prefixes; the
    province's end mirrors it. Each end originates its prefixes from a discard route (the RIB must
    hold what BGP announces); the prefix lists deny 0.0.0.0/0 both ways."""
    city_asn, extranet = vs.stack.city.asn, str(vs.stack.address_plan.extranet)
    for link in province_links(vs):
        for key, peer in ((link.a, link.b), (link.b, link.a)):
            site = vs.sites[vs.site_of[key]]
            province = site if site.kind == m.SiteKind.province else vs.sites[vs.site_of[peer]]
            mine = province.bgp.prefixes if site is province else [extranet]
            theirs = [extranet] if site is province else province.bgp.prefixes
            h, peer_name = d.hosts[host_name(key)], host_name(peer)
            iface = next(i for i in h.interfaces if i.link == link.id)
            if h.bgp is None:
                # with a VRF per plane, the sessions sit in the uplink's VRF (the extranet's),
                # identified by that VRF's loopback: the province never sees an intranet address
                vrf = next((v for v in h.vrfs or () if v.name == iface.vrf), None)
                h.bgp = Bgp(asn=province.bgp.asn if site is province else city_asn,
                            router_id=vrf.loopback if vrf else h.router_id, networks=list(mine),
                            neighbors=[])
                if vrf:
                    h.bgp.vrf = vrf.name
            elif h.bgp.vrf != iface.vrf:
                raise DesignError(f"{h.name}: provincial uplinks in VRFs {h.bgp.vrf} and {iface.vrf}")
            h.bgp.neighbors.append(BgpNeighbor(
                address=iface.peer_address, peer=peer_name, interface=iface.name, link=link.id,
                remote_as=city_asn if site is province else province.bgp.asn,
                description=f"eBGP to {peer_name}",
                import_list=f"FROM-{peer_name.upper()}", imports=list(theirs),
                export_list=f"TO-{peer_name.upper()}", exports=list(mine)))


def check_vrfs(_vs: ValidStack, _plan: Plan, d: Draft) -> None:
    """On a router with a VRF per plane, every LAN, link and tunnel interface is bound to the VRF
    of its plane and no OSPF process spans two VRFs; no other host binds anything to a VRF."""
    for h in d.hosts.values():
        vrfs = {v.name for v in h.vrfs or ()}
        for i in h.interfaces:
            want = i.plane if vrfs and i.kind in ("lan", "link", "tunnel") else None
            if i.vrf != want or (want and want not in vrfs):
                raise DesignError(f"{h.name}: {i.name} ({i.kind}, {i.plane}) is in VRF {i.vrf}, "
                                  f"not {want} (the host's VRFs: {', '.join(sorted(vrfs)) or 'none'})")


def check_routes(_vs: ValidStack, _plan: Plan, d: Draft) -> None:
    """Every route sits on an interface of its host whose network holds its next hop, in the
    global table (the configurations write static routes there)."""
    for h in d.hosts.values():
        nets = {i.name: i.address for i in h.interfaces}
        vrf_of = {i.name: i.vrf for i in h.interfaces}
        for r in [*h.static_routes, *([h.default_route] if h.default_route else [])]:
            if vrf_of.get(r.interface):
                raise DesignError(f"{h.name}: the route to {r.prefix} is on {r.interface}, which is "
                                  f"in VRF {vrf_of[r.interface]}: static routes are global")
            cidr = nets.get(r.interface)
            if cidr is None or network_first(cidr) != network_first(f"{r.next_hop}/{parse_cidr(cidr)[1]}"):
                raise DesignError(
                    f"{h.name}: the route to {r.prefix} via {r.next_hop} is on {r.interface}, but no "
                    f"link of the host holds {r.next_hop} (its links: "
                    f"{', '.join(f'{n} {a}' for n, a in nets.items()) or 'none'})")


def build_primary_addresses(_vs: ValidStack, _plan: Plan, d: Draft) -> None:
    """Where each host is scraped and named: a router's loopback, else its zone address. The
    province's router is not the city's: its loopback is not routed in the city (the uplink
    carries the declared prefixes only), so the city neither scrapes it nor names it there."""
    for h in d.hosts.values():
        h.primary_address = None if h.site_kind == m.SiteKind.province.value else \
            monitoring.primary_address(h)


def build_listen(_vs: ValidStack, _plan: Plan, d: Draft) -> None:
    """The address each service of a host listens on (its roles read theirs from here): loopback
    for a service of the "host" audience (only the host's own nginx fronts it)."""
    for svc, entries in d.services.items():
        local = standard.SERVICE_AUDIENCE[m.Service(svc)] == "host"
        for x in entries:
            d.hosts[x.host].listen.setdefault(svc, LOOPBACK if local else x.address)


def _city_sites(d: Draft) -> dict[str, dict[str, str]]:
    """Per plane, the city's sites on it (``standard.MAILBOX_SITE_KINDS``: the data centers,
    counties and units; not the province or the Internet) and their display names, in file order:
    who gets a mailbox on a plane's exchange and a seat in its video rooms."""
    kinds = {k.value for k in standard.MAILBOX_SITE_KINDS}
    sites: dict[str, dict[str, str]] = {}
    for h in d.hosts.values():
        if h.site_kind in kinds:
            for plane in h.planes:
                sites.setdefault(plane, {}).setdefault(h.site, h.site_display_name)
    return sites


def build_mail(vs: ValidStack, _plan: Plan, d: Draft) -> None:
    """The document exchange (公文交换) by mail, one per plane: the plane's first docexchange
    server, with a mailbox per city site of that plane (a site on the other plane alone could never
    reach it) plus the network center's (``standard.NOC_MAILBOX``), where the plane's alerts go."""
    domain = d.city.domain
    firsts: dict[str, ServiceEntry] = {}
    for x in d.services.get(m.Service.docexchange.value, []):
        firsts.setdefault(x.plane, x)
    if not firsts:
        return
    sites = _city_sites(d)
    noc = f"{standard.NOC_MAILBOX}@{domain}"
    for plane, server in firsts.items():
        boxes = [Mailbox(name=site, address=f"{site}@{domain}", display_name=shown, site=site)
                 for site, shown in sites.get(plane, {}).items()]
        boxes.append(Mailbox(name=standard.NOC_MAILBOX, address=noc,
                             display_name=f"{d.city.display_name}网络中心"))
        d.hosts[server.host].mail = Mail(
            domain=domain, server=server,
            server_name=f"{names.SERVICE_NAMES[m.Service.docexchange.value]}.{domain}",
            submission_port=standard.MAIL_SUBMISSION_PORT, imaps_port=standard.MAIL_IMAPS_PORT,
            noc=noc, mailboxes=boxes)


def build_videoconf(vs: ValidStack, _plan: Plan, d: Draft) -> None:
    """Video conferencing: each videoconf server hosts one VideoRoom that every city site of its
    plane may publish in (a county MCU's room serves the same plane: its townships and the city),
    and its coturn relays to that plane only."""
    name = f"{names.SERVICE_NAMES[m.Service.videoconf.value]}.{d.city.domain}"
    servers = d.services.get(m.Service.videoconf.value, [])
    if not servers:
        return
    sites = _city_sites(d)
    for server in servers:
        h = d.hosts[server.host]
        # the city's room is named after the city, a county MCU's after its county
        shown = d.city.display_name if h.site_kind == m.SiteKind.datacenter.value else h.site_display_name
        plane = ipaddress.ip_network(str(getattr(vs.stack.address_plan, server.plane)))
        h.videoconf = Videoconf(
            server=server, server_name=name, api_port=standard.VIDEO_API_PORT,
            turn_port=standard.VIDEO_TURN_PORT, rtp_ports=list(standard.VIDEO_RTP_PORTS),
            relay_ports=list(standard.VIDEO_RELAY_PORTS), realm=d.city.domain,
            peers=[str(plane[0]), str(plane[-1])],
            room=VideoRoom(id=standard.VIDEO_ROOM_ID, description=f"{shown}视频会议",
                           publishers=len(sites.get(server.plane, {}))))


def build_monitoring(vs: ValidStack, _plan: Plan, d: Draft) -> None:
    """What Prometheus scrapes and probes; each scraped host's node exporter listens there. A
    monitoring server sends its alerts through the mail server of its own plane, if it has one."""
    d.monitoring = monitoring.build(vs, d.hosts, d.city, d.services)
    for t in d.monitoring.targets:
        d.hosts[t.host].listen["node-exporter"] = t.address
    # the exchange of each plane (build_mail gave its first docexchange server the mail facts)
    mails = {x.plane: d.hosts[x.host].mail for x in d.services.get(m.Service.docexchange.value, [])
             if d.hosts[x.host].mail is not None}
    for server in d.services.get(m.Service.monitoring.value, []):
        part = monitoring.part(d.monitoring, server.plane, d.services)
        if (mail := mails.get(server.plane)) is not None:
            part.alert_mail = AlertMail(server=mail.server.address, server_name=mail.server_name,
                                        port=mail.submission_port, to=mail.noc)
        d.hosts[server.host].monitoring = part


def build_backup(_vs: ValidStack, _plan: Plan, d: Draft) -> None:
    """What each host backs up to the disaster-recovery site."""
    d.backup = backup.build(d.hosts, d.services)
    for c in d.backup.clients:
        d.hosts[c.host].backup_paths = c.paths


def build_firewall(vs: ValidStack, _plan: Plan, d: Draft) -> None:
    """Each host's zone policy (reads the monitoring and backup facts)."""
    for name, fw in policy.build(vs, d.hosts, d.city, d.services, d.monitoring, d.backup).items():
        h = d.hosts[name]
        if fw is not None and h.bgp is not None:  # the eBGP sessions of the provincial uplink
            fw.accept.append(Rule(service="bgp", proto="tcp", port=BGP_PORT,
                                  sources=[f"{n.address}/32" for n in h.bgp.neighbors]))
        h.firewall = fw


def build_names(vs: ValidStack, _plan: Plan, d: Draft) -> None:
    """The city's DNS zones."""
    d.dns = names.build(vs, d.hosts, d.city, d.services)


LOOPBACK = "127.0.0.1"

Builder = Callable[[ValidStack, Plan, Draft], None]

#: The builders in the order they run: each reads only what the ones before it made.
BUILDERS: tuple[Builder, ...] = (
    build_city, build_services, build_applications, build_hudong, build_databases,
    build_hosts, build_internet, build_server_lans, build_router_lans, build_links,
    build_floating_defaults, build_ospf, build_bgp, check_vrfs, check_routes,
    build_primary_addresses, build_listen, build_mail, build_videoconf, build_monitoring, build_backup,
    build_firewall, build_names,
)


@no_gc
def build(vs: ValidStack, plan: Plan) -> Design:
    """Compute the facts of every host: run :data:`BUILDERS` in order."""
    d = Draft()
    for builder in BUILDERS:
        builder(vs, plan, d)
    return Design(vs.name, d.city, d.hosts, d.services, plan, d.dns, d.monitoring, d.backup)
