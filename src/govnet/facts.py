"""Facts: the typed shape of the design, per host and city-wide.

One job: the models :mod:`govnet.design`'s builders fill and every reader (inventory, render,
monitoring, names, policy, compliance, provisioning, the lab, the checks) reads by attribute. As
AVD's structured config, the facts are a schema of their own: the Ansible inventory writes them with
:meth:`Facts.dump` and the roles' ``meta/argument_specs.yml`` list the keys of each dict they read
(``tests/test_argspecs.py`` fails when the two drift).

A key that does not apply to a host is left unset and is not written (a server has no ``ospf``, a
router no ``default_gateway``); a key that applies but has no value is written as null. Field order
is the order the inventory writes the keys in.
"""

from __future__ import annotations

import re
from types import UnionType
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict


class Facts(BaseModel):
    """A fact model: unknown keys refused; written without the keys that do not apply."""

    model_config = ConfigDict(extra="forbid")

    def dump(self) -> dict:
        """Plain JSON-able data (templates, the inventory): the keys that apply, in field order."""
        return self.model_dump(exclude_unset=True)


# --- city-wide -----------------------------------------------------------------------------------

class ServiceEntry(Facts):
    """Where a shared service listens: a server, its zone address and that zone's plane."""

    host: str
    address: str
    plane: str | None = None


class Database(Facts):
    """A database of the information-resource database (一库), its login role and client hosts."""

    name: str
    role: str
    clients: list[ServiceEntry]


class Mailbox(Facts):
    """A mailbox of the city's document exchange (公文交换): one per site of the exchange's plane,
    and the network center's own for alerts."""

    name: str  # the local part: the site's name, or the network center's "noc"
    address: str  # <name>@<city domain>
    display_name: str  # the unit's name: the CN of its S/MIME certificate
    site: str | None = None  # None for the network center's alert mailbox


class Mail(Facts):
    """The city's document exchange by mail on one plane: its server (the plane's first host of
    the docexchange service), the TLS name it answers by, and its mailboxes."""

    domain: str
    server: ServiceEntry
    server_name: str  # the DNS name of the exchange (names.SERVICE_NAMES) and of its certificate
    submission_port: int
    imaps_port: int
    noc: str  # the network center's mailbox, where alerts go
    mailboxes: list[Mailbox]


class VideoRoom(Facts):
    """A Janus VideoRoom: every site of the server's plane may publish in it."""

    id: int
    description: str
    publishers: int


class Videoconf(Facts):
    """Video conferencing on one host: Janus (VideoRoom) behind its own HTTPS API and coturn for
    the clients that cannot reach Janus's media ports directly. Both serve the host's plane only,
    and coturn relays to that plane only."""

    server: ServiceEntry
    server_name: str  # the DNS name of the service (names.SERVICE_NAMES) and of its certificate
    api_port: int  # Janus's API, HTTPS
    turn_port: int  # coturn's STUN/TURN, UDP and TCP
    rtp_ports: list[int]  # Janus's media (ICE) ports: first, last
    relay_ports: list[int]  # the relay ports coturn hands out: first, last
    realm: str  # coturn's realm: the city's domain
    peers: list[str]  # the only addresses coturn relays to: its plane's first and last address
    room: VideoRoom


class CityFacts(Facts):
    name: str
    display_name: str
    domain: str
    timezone: str
    internet_gateway: str | None
    internet_segment: str | None
    management_network: str
    portal_server_name: str
    networks: list[str]  # the city's own networks (everything but the Internet)
    portal_applications: dict[str, str] = {}  # URL path -> upstream URL
    databases: list[Database] = []
    # 政民互动's staff pages answer these networks only: the planes of its servers (the extranet)
    hudong_staff_networks: list[str] = []


class Target(Facts):
    """A node exporter Prometheus scrapes."""

    host: str
    address: str
    site: str
    county: str
    plane: str  # the monitoring servers of this plane scrape it


class LinkProbe(Facts):
    """An ICMP probe of a county or unit link, aimed at its end further from the data center."""

    link: str
    host: str
    site: str
    county: str
    medium: str
    interface: str
    address: str
    plane: str


class SnmpAuth(Facts):
    """An SNMPv3 credential set the vendor configurations create (authPriv; the two keys are the
    vault secrets ``snmp_auth_key`` and ``snmp_priv_key``), spelled as snmp_exporter spells it."""

    name: str  # user-auth_protocol-priv_protocol, lower case
    user: str
    security_level: str  # always authPriv
    auth_protocol: str  # SHA, SHA256
    priv_protocol: str  # AES, AES256, AES256C


class SnmpTarget(Facts):
    """A vendor network device Prometheus polls over SNMPv3, through the SNMP exporter."""

    host: str
    address: str  # its loopback (a router or firewall), else its management address
    platform: str
    site: str
    county: str
    auth: str  # the name of its SnmpAuth
    plane: str


class AlertMail(Facts):
    """Where a monitoring server's Alertmanager sends alerts: the city mail server of its plane
    (submission with STARTTLS, checked against the city CA), logging in as the network center."""

    server: str  # its address
    server_name: str  # the name its certificate is for
    port: int  # submission
    to: str  # the network center's mailbox; also the sender and the login


class MonitoringFacts(Facts):
    """What Prometheus watches: city-wide (every plane), or one monitoring server's part (the
    targets and probes of its own plane, which it alone can reach)."""

    plane: str | None = None  # set on a server's part
    servers: list[str]
    exporter_port: int
    targets: list[Target]
    links: list[LinkProbe]
    portal: list[str]
    snmp_auths: list[SnmpAuth] = []
    snmp_targets: list[SnmpTarget] = []
    # a server's part: the city mail server of its plane that Alertmanager sends alerts through
    # (None: no mail server on its plane, so no Alertmanager)
    alert_mail: AlertMail | None = None


class BackupClient(Facts):
    host: str
    paths: list[str]


class BackupFacts(Facts):
    repositories: list[ServiceEntry]
    clients: list[BackupClient]


class Record(Facts):
    name: str
    type: str
    value: str
    # a shared service's name: only that plane's DNS servers answer it (split horizon: each plane
    # resolves ``gwjh``, ``ntp``, ``log``… to its own servers, the planes never meet)
    plane: str | None = None


class ForwardZone(Facts):
    zone: str
    records: list[Record]
    nameservers: list[str]


class ReverseZone(Facts):
    network: str
    records: list[Record]


class DnsFacts(Facts):
    forward: ForwardZone
    reverse: dict[str, ReverseZone]  # arpa name -> zone
    serial: int


# --- per host ------------------------------------------------------------------------------------

class Management(Facts):
    interface: str
    address: str  # a.b.c.d/len
    gateway: str
    network: str


class InterfaceOspf(Facts):
    area: str
    passive: bool
    cost: int
    network_type: str
    bfd: bool = False  # set on the links that run BFD


class Interface(Facts):
    name: str
    kind: str  # wan | lan | link | tunnel
    plane: str | None = None  # lan, link, tunnel: the plane it carries (never both)
    zone: str | None = None
    address: str  # a.b.c.d/len
    network: str | None = None
    peer: str | None = None
    peer_address: str | None = None
    medium: str | None = None
    link: str | None = None
    bandwidth_mbps: int | None = None
    description: str
    ospf: InterfaceOspf | None = None
    vrf: str | None = None  # on a router with a VRF per plane: the VRF it is bound to (its plane)
    vlan: int | None = None  # a dot1q sub-interface (a link carrying both planes): its tag
    parent: str | None = None  # a dot1q sub-interface: its physical port


class Route(Facts):
    """A static route, on the interface whose network holds its next hop."""

    prefix: str
    next_hop: str
    interface: str
    distance: int
    description: str


class Tunnel(Facts):
    link: str
    interface: str
    protocol: str
    port: int
    local_public: str
    peer_public: str
    peer: str
    role: str  # hub | spoke
    address: str
    peer_address: str


class Internet(Facts):
    mode: str  # egress | vpn | host
    interface: str
    address: str
    gateway: str | None


class Ospf(Facts):
    router_id: str
    areas: list[str]
    loopback_area: str
    default_originate: bool
    process: int | None = None  # set on a router with a VRF per plane: the process of one VRF
    vrf: str | None = None


class Vrf(Facts):
    """A plane's VRF (Huawei/H3C VPN instance, Cisco VRF) on a vendor router that routes both
    planes: every LAN, link and tunnel interface of the plane is bound to it, it runs an OSPF
    process of its own and has its own loopback (its router ID)."""

    name: str  # the plane: intranet | extranet
    vlan: int  # the dot1q tag of its sub-interface on a link that carries both planes
    rd: str  # route distinguisher: <city ASN>:<vlan> (the router ID instead without an ASN)
    loopback_interface: str
    loopback: str  # its router ID, routed in its plane only
    ospf: Ospf


class BgpNeighbor(Facts):
    """An eBGP session on a link: the far end's link address and AS, and the prefix lists that
    filter it both ways (each list denies 0.0.0.0/0, permits exactly its prefixes, denies the rest)."""

    address: str  # the peer's link address
    remote_as: int
    peer: str  # host name
    interface: str
    link: str
    description: str
    import_list: str  # prefix list name: what is accepted from the peer
    imports: list[str]
    export_list: str  # prefix list name: what is announced to the peer
    exports: list[str]


class Bgp(Facts):
    """The BGP process: the provincial uplink (eBGP) only; OSPF stays inside the city."""

    asn: int
    router_id: str
    networks: list[str]  # originated prefixes, each held in the RIB by a static discard route
    neighbors: list[BgpNeighbor]
    vrf: str | None = None  # on a router with a VRF per plane: the VRF the sessions are in


class Rule(Facts):
    service: str
    proto: str
    port: int
    sources: list[str]
    port_end: int | None = None  # a range of ports, port to port_end inclusive (a service's media)


class TunnelRule(Facts):
    interface: str | None
    proto: str
    port: int
    peer: str


class Publish(Facts):
    proto: str
    port: int
    to: str


class Egress(Facts):
    nat_sources: list[str]
    deny_sources: list[str]
    publish: list[Publish]


class Firewall(Facts):
    management_interface: str
    accept: list[Rule]
    forward: bool
    ospf_interfaces: list[str]
    bfd_interfaces: list[str] = []  # single-hop BFD (UDP 3784) on the links with bfd: true
    tunnels: list[TunnelRule]
    wan: str | None
    egress: Egress | None


class HostFacts(Facts):
    name: str
    device: str
    site: str
    site_kind: str
    site_display_name: str
    display_name: str
    role: str
    platform: str
    fqdn: str
    management: Management
    interfaces: list[Interface]
    static_routes: list[Route]
    tunnels: list[Tunnel]
    services: list[str]
    zone: str | None
    security: dict[str, Any]  # the stack's merged security settings
    snmp: dict[str, Any] | None
    planes: list[str]  # the planes it is on (a router: those it routes; none on the Internet)
    clients: dict[str, list[str]]  # central service -> its own plane's servers' addresses
    internet: Internet | None
    default_gateway: str | None = None  # servers
    default_route: Route | None = None  # servers: the default gateway, on its interface
    loopback: str | None = None  # routers and firewalls
    router_id: str | None = None
    ospf: Ospf | None = None
    bgp: Bgp | None = None  # the ends of the provincial uplink
    vrfs: list[Vrf] | None = None  # a vendor router routing both planes: one VRF per plane
    #   (its ``ospf`` is then its first VRF's process, and ``loopback`` that VRF's loopback)
    primary_address: str | None = None  # where the host is scraped and named
    firewall: Firewall | None = None  # Linux hosts of the city
    listen: dict[str, str] = {}  # service (and node-exporter) -> the address it listens on here
    backup_paths: list[str] = []  # folders this host backs up to the disaster-recovery site
    mail: Mail | None = None  # the document exchange's server: its domain, name and mailboxes
    videoconf: Videoconf | None = None  # a video conferencing server: its room, ports and peers
    monitoring: MonitoringFacts | None = None  # a monitoring server: its plane's part

    @property
    def routing(self) -> bool:
        """Whether the host routes (a router or firewall: it has OSPF)."""
        return self.ospf is not None


# --- the roles' interface ---------------------------------------------------------------------------

def _argspec_type(annotation: Any) -> dict:
    """An Ansible argument spec entry for a field's annotation (``X | None`` is X: null is allowed
    for any option that is not required)."""
    args = [a for a in get_args(annotation) if a is not type(None)]
    origin = get_origin(annotation)
    if origin in (Union, UnionType) and len(args) == 1:
        return _argspec_type(args[0])
    if isinstance(annotation, type) and issubclass(annotation, Facts):
        return {"type": "dict", "options": argspec_options(annotation)}
    if origin is list:
        (item,) = args
        inner = _argspec_type(item)
        return {"type": "list", "elements": inner["type"],
                **({"options": inner["options"]} if "options" in inner else {})}
    if origin is dict:
        return {"type": "dict"}
    simple = {str: "str", int: "int", bool: "bool"}
    return {"type": simple.get(annotation, "raw")}


def argspec_options(model: type[Facts]) -> dict:
    """The ``options`` of a role argument that takes ``model`` (a dict, or each element of a list):
    every key the inventory may write, with its type, nested models included. The roles'
    ``meta/argument_specs.yml`` carry these (``scripts/argspecs.py`` prints them; the tests fail
    when a spec and the model differ)."""
    return {name: _argspec_type(f.annotation) for name, f in model.model_fields.items()}


#: the models behind the inventory's variables (``govnet_<name>``): a host's facts, and the city-wide ones
INVENTORY_MODELS: dict[str, type[Facts]] = {
    "city": CityFacts, "dns": DnsFacts, "monitoring": MonitoringFacts, "backup": BackupFacts}
_FACT_EXPR = re.compile(r"\{\{\s*govnet_(\w+)((?:\.\w+)*)\s*(?:\|\s*default\([^)]*\)\s*)?\}\}")


def fact_options(expr: str) -> dict | None:
    """The argument spec ``options`` of a role default that is one inventory fact holding a dict or
    a list of dicts (``"{{ govnet_interfaces }}"``, ``"{{ govnet_city.databases }}"``); None for
    anything else."""
    match = _FACT_EXPR.fullmatch(expr.strip()) if isinstance(expr, str) else None
    if not match:
        return None
    name, path = match.group(1), [p for p in match.group(2).split(".") if p]
    if name in INVENTORY_MODELS:
        annotation: Any = INVENTORY_MODELS[name]
    elif name in HostFacts.model_fields:
        annotation = HostFacts.model_fields[name].annotation
    else:
        return None
    for attr in path:
        spec = _argspec_type(annotation)
        if "options" not in spec or spec["type"] != "dict":
            return None
        model = next(a for a in (annotation, *get_args(annotation)) if isinstance(a, type)
                     and issubclass(a, Facts))
        annotation = model.model_fields[attr].annotation
    return _argspec_type(annotation).get("options")
