"""The city standard: built-in zones and settings a stack inherits unless it says otherwise.

Kept as data (not logic) so the README can show it and a stack can override any part of it.
"""

from __future__ import annotations

from govnet.model import Platform, Role, Service, SiteKind

#: The standard zones (三网: 政务内网 / 政务外网; management is its own plane, not a zone).
ZONES: dict[str, dict] = {
    "intranet": {
        "plane": "intranet",
        "display_name": "政务内网",
        "internet": "deny",
        "services": ["dns", "ntp", "syslog", "monitoring", "database", "docexchange", "videoconf",
                     "backup"],
    },
    "extranet": {
        "plane": "extranet",
        "display_name": "政务外网",
        "internet": "via-egress",
        # docexchange: the extranet units' 公文交换 and the network center's mailbox for the
        # extranet's alerts (the intranet's mail server is out of its reach)
        "services": ["portal", "hudong", "dns", "ntp", "syslog", "monitoring", "docexchange", "videoconf",
                     "backup"],
    },
}

#: Built-in settings every device inherits (the lowest-priority layer).
DEFAULTS: dict = {
    "platform": Platform.frr,
    "ospf_cost": 10,
    "management_prefix": 27,
    "ospf_area": "0.0.0.0",
    "security": {
        "login_attempts": 5,
        "lockout_minutes": 15,
        "idle_timeout_minutes": 10,
        "password_min_length": 12,
        "password_max_age_days": 90,
    },
    "snmp": {"user": "govnet-mon", "auth": "sha256", "priv": "aes128"},
    "subnets": {},
}

#: Built-in settings per site kind (above DEFAULTS, below the stack's own defaults... see rules).
KIND_DEFAULTS: dict[SiteKind, dict] = {
    SiteKind.datacenter: {"subnets": {"intranet": 24, "extranet": 24}, "management_prefix": 26},
    SiteKind.county: {"subnets": {"intranet": 24, "extranet": 25}},
    SiteKind.unit: {"subnets": {"intranet": 26}, "management_prefix": 28},
    SiteKind.province: {"subnets": {}, "management_prefix": 29},
    SiteKind.internet: {"subnets": {}},
}

#: Platforms each role may have.
ROLE_PLATFORMS: dict[Role, tuple[Platform, ...]] = {
    Role.server: (Platform.debian,),
    Role.router: (Platform.frr, Platform.huawei_vrp, Platform.h3c_comware, Platform.cisco_ios),
    Role.firewall: (Platform.frr, Platform.huawei_vrp, Platform.h3c_comware, Platform.cisco_ios),
    Role.switch: (Platform.huawei_vrp, Platform.h3c_comware, Platform.cisco_ios),
}

#: Platforms that run Linux (and so speak WireGuard and take Ansible roles directly).
LINUX_PLATFORMS = frozenset({Platform.frr, Platform.debian})
#: Platforms that route each plane in a VRF of its own (Huawei/H3C ``ip vpn-instance``, Cisco
#: ``vrf definition``). The lab's kernel has no VRF, so an frr router routes exactly one plane.
VRF_PLATFORMS = frozenset({Platform.huawei_vrp, Platform.h3c_comware, Platform.cisco_ios})

#: Services that are city-wide singletons other hosts point at.
CLIENT_SERVICES = (Service.dns, Service.ntp, Service.syslog, Service.monitoring)

WIREGUARD_BASE_PORT = 51820
#: IKE moves to this port after its first exchange, and ESP rides it (UDP encapsulation, RFC 3948)
IPSEC_NAT_T_PORT = 4500

#: The document exchange's mail ports: submission (STARTTLS, login required) and IMAPS
MAIL_SUBMISSION_PORT = 587
MAIL_IMAPS_PORT = 993

#: Video conferencing: Janus's API (HTTPS), coturn's STUN/TURN port, and the UDP ports of the
#: media: Janus's RTP (ICE) ports and the relay ports coturn hands out, first and last inclusive
VIDEO_API_PORT = 443
VIDEO_TURN_PORT = 3478
VIDEO_RTP_PORTS = (20000, 20099)
VIDEO_RELAY_PORTS = (20100, 20199)
#: The number of the VideoRoom each video conferencing server hosts
VIDEO_ROOM_ID = 1000

#: Where each service listens: (protocol, port). The zone policy opens exactly these.
SERVICE_PORTS: dict[Service, tuple[tuple[str, int], ...]] = {
    Service.portal: (("tcp", 80), ("tcp", 443)),
    Service.dns: (("udp", 53), ("tcp", 53)),
    Service.ntp: (("udp", 123),),
    Service.syslog: (("tcp", 514),),
    Service.monitoring: (("tcp", 9090),),
    Service.database: (("tcp", 5432),),
    # 公文交换 by mail: submission (STARTTLS, login required) and IMAPS; no SMTP on port 25, as
    # the exchange takes mail from its own units only
    Service.docexchange: (("tcp", MAIL_SUBMISSION_PORT), ("tcp", MAIL_IMAPS_PORT)),
    # Janus's API over HTTPS, and coturn's STUN/TURN (UDP and TCP); the media ports are ranges
    # (SERVICE_PORT_RANGES)
    Service.videoconf: (("tcp", VIDEO_API_PORT), ("udp", VIDEO_TURN_PORT), ("tcp", VIDEO_TURN_PORT)),
    Service.backup: (("tcp", 2222),),  # the DR host's own sshd for borg, apart from management's 22
    Service.hudong: (("tcp", 8001),),  # gunicorn on the host's loopback, behind the portal's nginx
}

#: The port ranges a service's media needs besides SERVICE_PORTS: (protocol, first, last). The
#: zone policy opens each range to the same audience.
SERVICE_PORT_RANGES: dict[Service, tuple[tuple[str, int, int], ...]] = {
    Service.videoconf: (("udp", VIDEO_RTP_PORTS[0], VIDEO_RELAY_PORTS[1]),),
}

#: Who may use a service: "public" (anyone, the Internet included), "city" (every network of the
#: city: routers' links and loopbacks too), "plane" (the address plane of the zone hosting it, so
#: an intranet service never answers the extranet and the other way round), "management" (the
#: management network: operators, never the data planes) or "clients" (only the hosts that use
#: it: a backup repository admits its backup clients) or "host" (the host itself: the service
#: listens on loopback and no firewall rule opens it; the portal's nginx on the host fronts it).
SERVICE_AUDIENCE: dict[Service, str] = {
    Service.portal: "public",
    Service.dns: "city", Service.ntp: "city", Service.syslog: "city", Service.monitoring: "management",
    Service.database: "plane", Service.docexchange: "plane", Service.videoconf: "plane",
    Service.backup: "clients", Service.hudong: "host",
}

#: Services that run on a portal host only, behind its nginx (which the public reaches).
PORTAL_HOSTED_SERVICES = frozenset({Service.hudong})

#: Services the portal may publish behind it (web applications over HTTPS): never DNS, the
#: database, monitoring, logs or backups.
PORTAL_APPLICATION_SERVICES = frozenset({Service.videoconf})

#: The document exchange's mailbox of the network center (市网络中心), where alerts go
NOC_MAILBOX = "noc"
#: Site kinds that get a mailbox on the exchange (the province and the Internet are not the city's)
MAILBOX_SITE_KINDS = frozenset({SiteKind.datacenter, SiteKind.county, SiteKind.unit})

#: Node exporter's port on every city host; only the monitoring servers may scrape it.
NODE_EXPORTER_PORT = 9100

#: Where each service's host keeps what the disaster-recovery site must hold a copy of. The one
#: declaration of these folders: the inventory passes them as ``govnet_data_dirs`` and the
#: database (dumps), logging (the central logs) and portal (web root) roles write there.
DATA_DIRS: dict[Service, str] = {
    Service.database: "/var/backups/govnet-db",
    Service.syslog: "/var/log/govnet",
    Service.portal: "/var/www/govnet-portal",
    Service.docexchange: "/var/mail/govnet",  # the exchange's mailboxes (Maildir)
}

#: What the backup of each service's host holds (govnet.backup): its data folder.
BACKUP_PATHS: dict[Service, tuple[str, ...]] = {svc: (path,) for svc, path in DATA_DIRS.items()}

#: 等保 2.0 8.1.4.2 d (三权分立): the system, audit and security administrators, in that order, each
#: with a group of its own (the dengbao role's sudoers rules name these groups; the auditor also
#: reads the logs through ``adm``). The dengbao role creates them (``govnet_dengbao.admins``) and
#: ``govnet compliance`` checks them.
DENGBAO_ADMINS: tuple[dict, ...] = (
    {"name": "sysadmin", "group": "govnet-sys", "comment": "system administrator"},
    {"name": "auditadmin", "group": "govnet-audit", "comment": "audit administrator", "groups": ["adm"]},
    {"name": "secadmin", "group": "govnet-sec", "comment": "security administrator"},
)

#: 等保 2.0 8.1.4.4 a: packages a government host never needs (telnet, rsh, NIS, TFTP, FTP, inetd);
#: the dengbao role removes them (``govnet_dengbao.unneeded_packages``), compliance checks.
DENGBAO_UNNEEDED_PACKAGES: tuple[str, ...] = (
    "telnetd", "inetutils-telnetd", "rsh-server", "nis", "tftpd-hpa", "xinetd", "vsftpd")

#: Ports of the management plane: SSH, accepted only on the management link from its network.
MANAGEMENT_PORTS: tuple[tuple[str, int], ...] = (("tcp", 22),)
