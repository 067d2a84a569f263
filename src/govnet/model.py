"""The stack model: typed, strict, documented. One job: the shape of a stack file.

Structural rules live here (types, enums, identifier syntax, unknown keys); rules that need the
whole stack (references, topology, zone policy) live in :mod:`govnet.rules`. The JSON Schema in
``schemas/`` is generated from these classes.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated

import netaddr
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr

SLUG_RE = re.compile(r"^[a-z][a-z0-9-]{0,22}[a-z0-9]$|^[a-z]$")
DOMAIN_RE = re.compile(r"^(?=.{1,200}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def _slug(value: str) -> str:
    if not SLUG_RE.match(value):
        raise ValueError("slug")
    return value


def _network(value: str) -> str:
    try:
        net = netaddr.IPNetwork(value, version=4)
    except (netaddr.AddrFormatError, ValueError, TypeError):
        raise ValueError("network") from None
    if "/" not in value:
        raise ValueError("network")
    if net.ip != net.network:
        raise ValueError(f"host-bits:{net.cidr}")
    return str(net.cidr)


def _area(value: str | int) -> str:
    if isinstance(value, bool):
        raise ValueError("area")
    if isinstance(value, int):
        if not 0 <= value <= 0xFFFFFFFF:
            raise ValueError("area")
        return str(netaddr.IPAddress(value, 4))
    try:
        return str(netaddr.IPAddress(value, 4, flags=netaddr.INET_PTON))
    except (netaddr.AddrFormatError, ValueError, TypeError):
        raise ValueError("area") from None


#: the two planes of the city's network (政务内网, 政务外网), which never meet
PLANES = ("intranet", "extranet")
Plane = Annotated[str, Field(pattern="^(intranet|extranet)$")]

#: the private AS number ranges (RFC 6996): 16-bit and 32-bit
PRIVATE_ASNS = ((64512, 65534), (4200000000, 4294967294))


def _private_asn(value: int) -> int:
    if isinstance(value, bool) or not any(lo <= value <= hi for lo, hi in PRIVATE_ASNS):
        raise ValueError("asn")
    return value


def _domain(value: str) -> str:
    if not DOMAIN_RE.match(value):
        raise ValueError("domain")
    return value


Slug = Annotated[str, AfterValidator(_slug), Field(
    description="ASCII identifier: lowercase letters, digits and '-', starting with a letter, "
    "at most 24 characters", json_schema_extra={"pattern": SLUG_RE.pattern})]
Network = Annotated[str, AfterValidator(_network), Field(
    description="IPv4 network in CIDR notation, e.g. 198.18.0.0/18")]
OspfArea = Annotated[str | int, AfterValidator(_area), Field(
    description="OSPF area, dotted (0.0.0.1) or a number (1)")]
Domain = Annotated[str, AfterValidator(_domain), Field(description="DNS domain, e.g. example.gov.cn")]
PrivateAsn = Annotated[int, AfterValidator(_private_asn), Field(
    description="private BGP AS number (RFC 6996): 64512-65534 or 4200000000-4294967294",
    json_schema_extra={"anyOf": [{"minimum": lo, "maximum": hi} for lo, hi in PRIVATE_ASNS]})]
PrefixLength = Annotated[int, Field(ge=8, le=30, description="prefix length of a site subnet")]


class Strict(BaseModel):
    """Base: unknown keys are errors, values are validated on assignment too."""

    model_config = ConfigDict(extra="forbid", validate_default=False, frozen=False,
                              use_enum_values=False, str_strip_whitespace=False)


class SiteKind(StrEnum):
    datacenter = "datacenter"
    county = "county"
    unit = "unit"
    province = "province"
    internet = "internet"  # the lab's simulated Internet: citizens and ISPs, never ours


class Role(StrEnum):
    router = "router"
    switch = "switch"
    firewall = "firewall"
    server = "server"


class Platform(StrEnum):
    frr = "frr"
    debian = "debian"
    huawei_vrp = "huawei-vrp"
    h3c_comware = "h3c-comware"
    cisco_ios = "cisco-ios"


class Service(StrEnum):
    portal = "portal"
    dns = "dns"
    ntp = "ntp"
    syslog = "syslog"
    monitoring = "monitoring"
    database = "database"
    docexchange = "docexchange"
    videoconf = "videoconf"
    backup = "backup"
    # 政民互动, the portal's public Q&A: a Django application on a portal host, behind its nginx
    # at /hudong/, with a PostgreSQL database of its own on that host (the host's zone: the
    # extranet's, never the intranet's 一库)
    hudong = "hudong"


#: Names a stack may not use as a service, with the reason it is refused: govnet hosts no software
#: for them, so it opens no port, DNS name or login for them
NOT_SERVICES: dict[str, str] = {
    "oa": "govnet hosts no OA application (issue 13), so it opens no port, name or login for OA",
}


class Medium(StrEnum):
    fiber = "fiber"
    broadband = "broadband"  # broadcast-TV broadband (广电宽带)
    leased = "leased"
    vpn = "vpn"  # a tunnel over the Internet between two internet-attached devices


class InternetMode(StrEnum):
    egress = "egress"  # the designated egress firewall: NAT for the extranet, drops intranet
    vpn = "vpn"  # only tunnels ride this attachment: nothing is forwarded to or from it
    host = "host"  # a host on the Internet itself (sites of kind internet only)


class TunnelProtocol(StrEnum):
    wireguard = "wireguard"
    ipsec = "ipsec"


# --------------------------------------------------------------------------- settings


class Security(Strict):
    """等保 2.0 level 3 access-control and identification settings rendered into every device."""

    login_attempts: int | None = Field(None, ge=1, le=10,
                                       description="failed logins before lockout (8.1.4.1 b)")
    lockout_minutes: int | None = Field(None, ge=1, le=1440, description="lockout duration")
    idle_timeout_minutes: int | None = Field(None, ge=1, le=60,
                                             description="idle session timeout (8.1.4.1 b)")
    password_min_length: int | None = Field(None, ge=8, le=64,
                                            description="minimum password length (8.1.4.1 a)")
    password_max_age_days: int | None = Field(None, ge=1, le=365,
                                              description="password expiry (8.1.4.1 a)")


class Snmp(Strict):
    """SNMPv3 (authPriv only) for monitoring; keys come from the vault at push time."""

    user: Slug | None = Field(None, description="SNMPv3 user name")
    auth: str | None = Field(None, pattern="^(sha|sha256)$", description="authentication protocol")
    priv: str | None = Field(None, pattern="^(aes128|aes256)$", description="privacy protocol")


class Settings(Strict):
    """Settings that inherit defaults -> kinds.<kind> -> site -> device (lowest wins).

    Mappings (security, snmp, subnets) merge key by key; a lower level may set a subnet to null to
    remove a zone the upper levels give.
    """

    platform: Platform | None = Field(None, description="platform of routers, switches and "
                                      "firewalls (servers are always debian)")
    ospf_cost: int | None = Field(None, ge=1, le=65535, description="OSPF cost of link interfaces")
    security: Security | None = None
    snmp: Snmp | None = None


class SiteSettings(Settings):
    """Settings a site (or kinds/defaults) may give in addition to device settings."""

    subnets: dict[str, PrefixLength | None] | None = Field(
        None, description="zone -> prefix length of this site's subnet in that zone's plane; the "
        "keys are the zones the site has")
    management_prefix: PrefixLength | None = Field(None, description="prefix length of the site's "
                                                   "management subnet")
    ospf_area: OspfArea | None = Field(None, description="OSPF area of the site's routers, LANs "
                                       "and of the link to its parent (units default to their "
                                       "parent's area)")


# --------------------------------------------------------------------------- top level


class City(Strict):
    name: Slug = Field(description="identifier of the city, e.g. example-city")
    display_name: str | None = Field(None, max_length=64, description="name shown to people, "
                                     "e.g. 示例市")
    domain: Domain
    timezone: str = Field("Asia/Shanghai", pattern=r"^[A-Za-z_]+(/[A-Za-z_+-]+)*$")
    asn: PrivateAsn | None = Field(None, description="the city's private BGP AS number: the "
                                   "provincial uplink is eBGP (needed when a link reaches a site "
                                   "of kind province)")


class AddressPlan(Strict):
    """Supernets per plane. Allocations inside them are recorded in the stack's lock file."""

    intranet: Network = Field(description="政务内网 site subnets")
    extranet: Network = Field(description="政务外网 site subnets")
    management: Network = Field(description="out-of-band management subnets, one per site")
    loopbacks: Network = Field(description="/32 router identifiers")
    links: Network = Field(description="/31 point-to-point link networks")
    tunnels: Network = Field(description="/31 inner networks of VPN tunnels")
    internet: Network = Field(description="the (simulated) Internet: public addresses of "
                              "internet-attached devices and citizen hosts")


class Zone(Strict):
    """A security zone: which plane its addresses come from and which services it may host."""

    plane: str = Field(pattern="^(intranet|extranet)$",
                       description="address plane the zone's subnets come from")
    services: list[Service] = Field(default_factory=list,
                                    description="services that may run in this zone")
    internet: str = Field("deny", pattern="^(deny|via-egress)$",
                          description="deny: never reaches the Internet; via-egress: through "
                          "the designated egress firewall only")
    display_name: str | None = None


class Internet(Strict):
    """How a device attaches to the Internet."""

    mode: InternetMode = Field(description="egress (designated egress firewall), vpn (tunnels "
                               "only) or host (a host on the Internet)")


class Device(Settings):
    name: Slug
    role: Role
    display_name: str | None = Field(None, max_length=64)
    zone: str | None = Field(None, description="servers: the zone whose LAN the server sits in")
    gateway_for: list[str] | None = Field(None, description="routers/firewalls: the site zones "
                                          "this device is the gateway of (default: all, when it "
                                          "is the site's only routing device)")
    planes: list[Plane] | None = Field(
        None, min_length=1, max_length=2,
        description="routers/firewalls: the planes (intranet, extranet) this device routes "
        "(default: the planes of the zones it is the gateway of; a router that is no zone's "
        "gateway: its site's planes). A platform without VRFs (frr) routes one plane; a vendor "
        "router routes each plane in a VRF of its own (docs/adr/0001-planes.md)")
    services: list[Service] = Field(default_factory=list)
    internet: Internet | None = Field(None, description="attachment to the Internet")

    _path: tuple = PrivateAttr(default=())


class ProvinceBgp(Strict):
    """The provincial platform's side of the eBGP uplink: its AS and what the city accepts."""

    asn: PrivateAsn = Field(description="the province's private BGP AS number (not the city's)")
    prefixes: list[Network] = Field(min_length=1, description="the prefixes the province "
                                    "announces (the city accepts these and nothing else; never "
                                    "a default route, never the city's own address plan)")


class Site(SiteSettings):
    name: Slug
    kind: SiteKind
    display_name: str | None = Field(None, max_length=64)
    parent: Slug | None = Field(None, description="the site above this one in the tree "
                                "(counties: the data center; units: a county or the data center)")
    devices: list[Device] = Field(default_factory=list)
    bgp: ProvinceBgp | None = Field(None, description="province sites: the eBGP uplink's far "
                                    "side (its AS number and declared prefixes)")

    _path: tuple = PrivateAttr(default=())


class Tunnel(Strict):
    protocol: TunnelProtocol | None = Field(None, description="default: wireguard between "
                                            "Linux devices, ipsec otherwise")
    port: int | None = Field(None, ge=1, le=65535, description="UDP port (wireguard: 51820+n)")


class Link(Strict):
    a: str = Field(description="upstream endpoint, 'site.device'",
                   pattern=r"^[a-z][a-z0-9-]*\.[a-z][a-z0-9-]*$")
    b: str = Field(description="downstream endpoint, 'site.device'",
                   pattern=r"^[a-z][a-z0-9-]*\.[a-z][a-z0-9-]*$")
    medium: Medium
    name: Slug | None = Field(None, description="needed only to tell apart parallel links")
    cost: int | None = Field(None, ge=1, le=65535, description="OSPF cost on both ends")
    bandwidth_mbps: int | None = Field(None, ge=1, le=400000)
    bfd: bool = Field(False, description="BFD on the link: OSPF drops it within a second of a "
                      "fault instead of after the dead interval (a primary uplink with a backup)")
    tunnel: Tunnel | None = Field(None, description="vpn links only")

    _path: tuple = PrivateAttr(default=())

    @property
    def id(self) -> str:
        return self.name or f"{self.a}~{self.b}"


class Kinds(Strict):
    datacenter: SiteSettings | None = None
    county: SiteSettings | None = None
    unit: SiteSettings | None = None
    province: SiteSettings | None = None
    internet: SiteSettings | None = None


class PortalParams(Strict):
    server_name: str | None = Field(None, description="public host name, default www.<domain>")
    applications: dict[str, Service] = Field(
        default_factory=dict,
        description="applications the portal publishes behind it: URL path (/name/) -> the "
                    "service whose server answers it; the server must be on the portal's plane")


class DatabaseParams(Strict):
    databases: list[Slug] = Field(default_factory=list, description="databases to create")
    clients: list[Service] = Field(default_factory=list,
                                   description="services whose hosts use the databases (each "
                                   "database gets a login role those hosts may connect as); none "
                                   "unless the stack names them: a database admits only the "
                                   "services a stack lists here")


class ServiceParams(Strict):
    """Parameters of the shared services, keyed by service name."""

    portal: PortalParams | None = None
    database: DatabaseParams | None = None


class Stack(Strict):
    """A city (or one environment of it): the whole e-government network, declared."""

    city: City
    address_plan: AddressPlan
    zones: dict[Slug, Zone] | None = Field(None, description="security zones; default: the "
                                           "standard intranet and extranet zones")
    defaults: SiteSettings | None = Field(None, description="settings every site and device "
                                          "inherits")
    kinds: Kinds | None = Field(None, description="settings per site kind")
    services: ServiceParams | None = None
    sites: list[Site] = Field(min_length=1)
    links: list[Link] = Field(default_factory=list)
