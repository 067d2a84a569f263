"""Design: the validated stack and its address plan turned into facts per host.

One job: (ValidStack, Plan) -> :class:`Design`, plain JSON-able data per host — interfaces and their
addresses, OSPF, tunnels, static routes, where the city's DNS/NTP/syslog/monitoring live, security
settings. Inventory, device configs, Pulumi resources and expected test state all read this, so the
two ends of a link are computed once, here, and cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from govnet import backup, monitoring, names, policy, standard
from govnet import model as m
from govnet.addressing import Plan, canonical, from_int, network_first, parse_cidr, to_int
from govnet.addressing import address as _ip
from govnet.perf import no_gc
from govnet.rules import ValidStack, host_name

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

#: Administrative distance of the backup static default towards the data center.
FLOATING_DEFAULT_DISTANCE = 250


@dataclass
class Design:
    """Facts per host (by inventory name) and the city-wide values every host shares."""

    stack: str
    city: dict
    hosts: dict[str, dict]
    services: dict[str, list[dict]]  # service -> [{host, address}]
    plan: Plan
    dns: dict = field(default_factory=dict)  # the city's zones (govnet.names)
    monitoring: dict = field(default_factory=dict)  # scrape targets and probes (govnet.monitoring)
    backup: dict = field(default_factory=dict)  # repositories and what to back up (govnet.backup)


def _first_host(cidr: str) -> str:
    """The first host address of the network of ``cidr`` (its gateway)."""
    return from_int(network_first(cidr) + 1)


@no_gc
def build(vs: ValidStack, plan: Plan) -> Design:
    """Compute the facts of every host."""
    st = vs.stack
    e = plan.entries
    city = {
        "name": st.city.name,
        "display_name": st.city.display_name or st.city.name,
        "domain": st.city.domain,
        "timezone": st.city.timezone,
        "internet_gateway": _first_host(e["internet-segment"]) if "internet-segment" in e else None,
        "internet_segment": e.get("internet-segment"),
        "management_network": str(st.address_plan.management),
        # the portal's public name (services.portal.server_name, default www.<domain>)
        "portal_server_name": ((st.services.portal.server_name if st.services and st.services.portal
                                else None) or f"www.{st.city.domain}"),
        # the city's own networks (everything but the Internet), for services that serve them only
        "networks": [str(getattr(st.address_plan, plane)) for plane in
                     ("intranet", "extranet", "management", "loopbacks", "links", "tunnels")],
    }
    # where the shared services live (servers' zone addresses, in file order)
    services: dict[str, list[dict]] = {s.value: [] for s in m.Service}
    for key, dev in vs.devices.items():
        for svc in dev.services:
            addr = e.get(f"host:{key}")
            if addr:
                services[svc.value].append({"host": host_name(key), "address": _ip(addr)})
    clients = {s.value: [x["address"] for x in services[s.value]] for s in standard.CLIENT_SERVICES}
    # the applications the portal publishes: URL path -> upstream URL of the service's first server
    # on the portal's own plane (validation made sure there is one)
    apps = st.services.portal.applications if st.services and st.services.portal else {}
    portal_planes = {vs.zones[d.zone].plane for d in vs.devices.values()
                     if m.Service.portal in d.services and d.zone in vs.zones}
    city["portal_applications"] = {}
    for url_path, svc in apps.items():
        port = next(p for proto, p in standard.SERVICE_PORTS[svc] if proto == "tcp")
        upstream = next(host_name(k) for k, d in vs.devices.items() if svc in d.services
                        and d.zone in vs.zones and vs.zones[d.zone].plane in portal_planes)
        address = next(x["address"] for x in services[svc.value] if x["host"] == upstream)
        scheme = "https" if port == 443 else "http"
        city["portal_applications"][url_path] = f"{scheme}://{address}:{port}/"
    # the databases of the information-resource database (一库) and the hosts that use them
    params = st.services.database if st.services and st.services.database else None
    if params:
        users = [x for svc in params.clients for x in services[svc.value]]
        users = list({x["host"]: x for x in users}.values())  # each host once, in file order
        city["databases"] = [{"name": db, "role": f"{db}_app", "clients": users}
                             for db in params.databases]
    else:
        city["databases"] = []

    # links per device, in file order, to number ports and find upstreams
    ends: dict[str, list[tuple[m.Link, str, str]]] = {k: [] for k in vs.devices}
    for link in st.links:
        ends[link.a].append((link, "a", link.b))
        ends[link.b].append((link, "b", link.a))

    site_of_host = {host_name(k): s for k, s in vs.site_of.items()}
    hosts: dict[str, dict] = {}
    for key, dev in vs.devices.items():
        site_name = vs.site_of[key]
        site = vs.sites[site_name]
        settings = vs.device_settings[key]
        platform: m.Platform = settings["platform"]
        ports = PORTS[platform]
        name = host_name(key)
        area_of_site = vs.site_settings[site_name]["ospf_area"]
        routing = dev.role in (m.Role.router, m.Role.firewall)
        mgmt = e[f"mgmt-host:{key}"]
        h: dict = {
            "name": name,
            "device": dev.name,
            "site": site_name,
            "site_kind": site.kind.value,
            "site_display_name": site.display_name or site_name,
            "display_name": dev.display_name or dev.name,
            "role": dev.role.value,
            "platform": platform.value,
            "fqdn": f"{dev.name}.{site_name}.{st.city.domain}",
            "management": {"interface": ports["mgmt"], "address": mgmt,
                           "gateway": _first_host(mgmt), "network": city["management_network"]},
            "interfaces": [],
            "static_routes": [],
            "tunnels": [],
            "services": [s.value for s in dev.services],
            "zone": dev.zone,
            "security": settings["security"],
            "snmp": settings["snmp"],
            # hosts on the Internet are not the city's: they use none of its services
            "clients": ({k: [] for k in clients} if site.kind == m.SiteKind.internet else clients),
            "internet": None,
        }
        port_no = ports["first"]
        if dev.internet is not None or site.kind == m.SiteKind.internet:
            mode = dev.internet.mode.value if dev.internet else "host"
            h["internet"] = {"mode": mode, "interface": ports["wan"],
                             "address": e[f"internet:{key}"],
                             "gateway": city["internet_gateway"]}
            h["interfaces"].append({"name": ports["wan"], "kind": "wan",
                                    "address": e[f"internet:{key}"],
                                    "description": "Internet" + (" (tunnels only)"
                                                                 if mode == "vpn" else "")})
            if mode in {"egress", "host"}:
                h["static_routes"].append({"prefix": "0.0.0.0/0", "next_hop": city["internet_gateway"],
                                           "interface": ports["wan"], "distance": 1,
                                           "description": "Internet"})
        if dev.role == m.Role.server and dev.zone and site.kind != m.SiteKind.internet:
            addr = e[f"host:{key}"]
            h["interfaces"].append({"name": "eth1" if platform == m.Platform.debian else
                                    ports["port"].format(n=port_no), "kind": "lan",
                                    "zone": dev.zone, "address": addr,
                                    "description": f"{dev.zone} LAN"})
            h["default_gateway"] = _first_host(addr)
        ospf_ifaces: list[dict] = []
        if routing:
            loop = _ip(e[f"loopback:{key}"])
            h["loopback"] = loop
            h["router_id"] = loop
            for zone, _plen in vs.site_settings[site_name]["subnets"].items():
                if vs.gateways.get((site_name, zone)) != key:
                    continue
                subnet = e[f"subnet:{site_name}:{zone}"]
                plen = parse_cidr(subnet)[1]
                iface = {"name": ports["port"].format(n=port_no) if platform not in
                         standard.LINUX_PLATFORMS else f"lan{port_no - ports['first']}",
                         "kind": "lan", "zone": zone,
                         "address": f"{_first_host(subnet)}/{plen}",
                         "network": subnet, "description": f"{zone} LAN of {site_name}",
                         "ospf": {"area": area_of_site, "passive": True, "cost": settings["ospf_cost"],
                                  "network_type": "broadcast"}}
                port_no += 1
                h["interfaces"].append(iface)
                ospf_ifaces.append(iface)
            n_tunnel = 0
            for link, side, peer in ends[key]:
                peer_host = host_name(peer)
                cost = link.cost or settings["ospf_cost"]
                area = vs.link_area[link.id]
                if link.medium == m.Medium.vpn:
                    t = vs.tunnels[link.id]
                    inner = e[f"tunnel:{link.id}"]
                    first = network_first(inner)
                    mine, theirs = (first, first + 1) if side == "a" else (first + 1, first)
                    pattern = ports["tunnel"]
                    if platform in standard.LINUX_PLATFORMS and t["protocol"] != m.TunnelProtocol.wireguard:
                        pattern = "ipsec{n}"  # an XFRM interface bound to the strongSwan connection
                    ifname = pattern.format(n=n_tunnel)
                    n_tunnel += 1
                    tunnel = {"link": link.id, "interface": ifname,
                              "protocol": t["protocol"].value, "port": t["port"],
                              "local_public": _ip(e[f"internet:{key}"]),
                              "peer_public": _ip(e[f"internet:{peer}"]),
                              "peer": peer_host, "role": "hub" if side == "a" else "spoke",
                              "address": f"{from_int(mine)}/31",
                              "peer_address": from_int(theirs)}
                    h["tunnels"].append(tunnel)
                    iface = {"name": ifname, "kind": "tunnel", "address": tunnel["address"],
                             "network": canonical(inner), "peer": peer_host,
                             "peer_address": tunnel["peer_address"], "medium": "vpn",
                             "link": link.id, "description": f"VPN to {peer_host}",
                             "ospf": {"area": area, "passive": False, "cost": cost,
                                      "network_type": "point-to-point"}}
                    if h["internet"] and h["internet"]["mode"] == "vpn":
                        h["static_routes"].append({"prefix": f"{tunnel['peer_public']}/32",
                                                   "next_hop": city["internet_gateway"],
                                                   "interface": ports["wan"], "distance": 1,
                                                   "description": f"tunnel to {peer_host}"})
                else:
                    net = e[f"link:{link.id}"]
                    first = network_first(net)
                    mine, theirs = (first, first + 1) if side == "a" else (first + 1, first)
                    iface = {"name": ports["port"].format(n=port_no), "kind": "link",
                             "address": f"{from_int(mine)}/31", "network": canonical(net),
                             "peer": peer_host, "peer_address": from_int(theirs),
                             "medium": link.medium.value, "link": link.id,
                             "bandwidth_mbps": link.bandwidth_mbps,
                             "description": f"{link.medium.value} to {peer_host}",
                             "ospf": {"area": area, "passive": False, "cost": cost,
                                      "network_type": "point-to-point"}}
                    port_no += 1
                h["interfaces"].append(iface)
                ospf_ifaces.append(iface)
            # a floating static default towards the data center, should OSPF lose it
            my_depth = vs.depth.get(site_name, 0)
            if site.kind not in (m.SiteKind.datacenter, m.SiteKind.province):
                for iface in ospf_ifaces:
                    peer = iface.get("peer")
                    if peer and vs.depth.get(site_of_host[peer], my_depth) < my_depth:
                        h["static_routes"].append({"prefix": "0.0.0.0/0",
                                                   "next_hop": iface["peer_address"],
                                                   "interface": iface["name"],
                                                   "distance": FLOATING_DEFAULT_DISTANCE,
                                                   "description": "backup default towards the DC"})
                        break
            h["ospf"] = {
                "router_id": loop,
                "areas": sorted({i["ospf"]["area"] for i in ospf_ifaces} | {area_of_site},
                                key=to_int),
                "loopback_area": area_of_site,
                "default_originate": bool(h["internet"] and h["internet"]["mode"] == "egress"),
            }
        hosts[name] = h
    for h in hosts.values():
        h["primary_address"] = monitoring.primary_address(h)
    watch = monitoring.build(vs, hosts, city, services)
    keep = backup.build(hosts, services)
    for name, fw in policy.build(vs, hosts, city, services, watch, keep).items():
        hosts[name]["firewall"] = fw
    return Design(vs.name, city, hosts, services, plan, names.build(vs, hosts, city, services),
                  watch, keep)
