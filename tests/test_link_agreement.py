"""The two ends of every link agree, read back from the RENDERED configurations.

The facts only say where to look (each end's host, platform and interface name); every compared
value — addresses, OSPF area, network type and cost, VRF, tunnel endpoints, the IKE/IPsec suite — is
parsed from the configuration text by the small per-platform parsers below. Each link of each
stack is its own test case: example-city (all FRR, a WireGuard VPN), a vendor mix derived from it
(Huawei, H3C, Cisco and FRR; IPsec between vendors and between a vendor and FRR) and, when the file
exists, example-metro.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import netaddr
import pytest
import yaml

from govnet.pipeline import Compiled, compile_stack
from govnet.render import render
from govnet.rules import host_name

REPO = Path(__file__).resolve().parents[1]
CITY = REPO / "stacks" / "example-city.yaml"
METRO = REPO / "stacks" / "example-metro.yaml"

#: vendor mix: device -> platform (the rest stay FRR), plus two VPN counties on H3C and FRR
MIX_PLATFORMS = {"dc.core1": "huawei-vrp", "dc.fw1": "cisco-ios", "wolong.gw1": "h3c-comware",
                 "xixia.gw1": "huawei-vrp", "wolong-edu.gw1": "cisco-ios"}


def vendor_mix() -> dict:
    data = yaml.safe_load(CITY.read_text(encoding="utf-8"))
    for site in data["sites"]:
        for dev in site["devices"]:
            platform = MIX_PLATFORMS.get(f"{site['name']}.{dev['name']}")
            if platform:
                dev["platform"] = platform
    for county, platform in (("neixiang", "h3c-comware"), ("nanzhao", "frr")):
        data["sites"].append({"name": county, "kind": "county", "devices": [
            {"name": "gw1", "role": "router", "platform": platform, "internet": {"mode": "vpn"}}]})
    data["links"] += [{"a": "dc.fw1", "b": "neixiang.gw1", "medium": "vpn", "cost": 50},
                      {"a": "wolong.gw1", "b": "nanzhao.gw1", "medium": "fiber", "cost": 30},
                      {"a": "dc.fw1", "b": "nanzhao.gw1", "medium": "vpn", "name": "nanzhao-vpn"}]
    return data


STACKS: dict[str, dict] = {"example-city": yaml.safe_load(CITY.read_text(encoding="utf-8")),
                           "vendor-mix": vendor_mix()}
if METRO.exists():
    STACKS["example-metro"] = yaml.safe_load(METRO.read_text(encoding="utf-8"))


def link_cases(vpn_only: bool) -> list:
    return [pytest.param(stack, link.get("name") or f"{link['a']}~{link['b']}",
                         id=f"{stack}:{link.get('name') or link['a'] + '~' + link['b']}")
            for stack, data in STACKS.items() for link in data.get("links") or ()
            if not vpn_only or link["medium"] == "vpn"]


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> Callable[[str], tuple[Compiled, dict[str, str]]]:
    cache: dict[str, tuple[Compiled, dict[str, str]]] = {}

    def get(stack: str) -> tuple[Compiled, dict[str, str]]:
        if stack not in cache:
            path = {"example-city": CITY, "example-metro": METRO}.get(stack)
            if path is None:
                path = tmp_path_factory.mktemp(stack) / f"{stack}.yaml"
                path.write_text(yaml.safe_dump(STACKS[stack], allow_unicode=True, sort_keys=False),
                                encoding="utf-8")
            c = compile_stack(path)
            cache[stack] = c, render(c.design, management_supernet=c.vs.stack.address_plan.management)
        return cache[stack]

    return get


# --------------------------------------------------------------------------- parsers


def blocks(text: str) -> dict[str, list[str]]:
    """Top-level command -> the lines indented under it (stripped); comments dropped."""
    out: dict[str, list[str]] = {}
    body: list[str] = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith(("!", "#")):
            continue
        if line[0] != " ":
            body = out.setdefault(line.strip(), [])
        else:
            body.append(line.strip())
    return out


def value(body: list[str], prefix: str) -> str:
    """The rest of the one line of ``body`` starting with ``prefix``."""
    found = [line[len(prefix):].strip() for line in body if line.startswith(prefix)]
    assert len(found) == 1, f"expected one {prefix!r} line, found {found}"
    return found[0]


def block(cfg: dict[str, list[str]], header: str) -> list[str]:
    assert header in cfg, f"no {header!r} block"
    return cfg[header]


def dotted(address: str, mask: str) -> str:
    return str(netaddr.IPNetwork(f"{address}/{mask}"))


NETWORK_TYPE = {"p2p": "point-to-point", "point-to-point": "point-to-point",
                "broadcast": "broadcast"}
ENCRYPTION = {"aes-256": "aes256", "aes-cbc-256": "aes256", "aes256": "aes256", "esp-aes 256": "aes256"}
INTEGRITY = {"hmac-sha2-256": "sha256", "sha2-256": "sha256", "sha256": "sha256",
             "esp-sha256-hmac": "sha256"}
MODP = {"modp2048": 14, "modp3072": 15, "modp4096": 16}


def group(text: str) -> int:
    """'group14', 'dh-group14', '14' -> 14."""
    return int(re.fullmatch(r"(?:dh-)?(?:group)?\s*(\d+)", text).group(1))  # type: ignore[union-attr]


def interface_ospf(platform: str, text: str, ifname: str) -> dict:
    """Address (CIDR), OSPF area, network type and cost of one interface."""
    cfg = blocks(text)
    if platform == "frr":
        body = block(cfg, f"interface {ifname}")
        return {"address": value(body, "ip address"), "area": value(body, "ip ospf area"),
                "network_type": NETWORK_TYPE[value(body, "ip ospf network")],
                "cost": int(value(body, "ip ospf cost"))}
    if platform == "cisco-ios":
        body = block(cfg, f"interface {ifname}")
        return {"address": dotted(*value(body, "ip address").split()),
                "area": value(body, "ip ospf 1 area"),
                "network_type": NETWORK_TYPE[value(body, "ip ospf network")],
                "cost": int(value(body, "ip ospf cost"))}
    header = f"interface {ifname} mode ipsec" if f"interface {ifname} mode ipsec" in cfg else \
        f"interface {ifname}"
    body = block(cfg, header)
    address = dotted(*value(body, "ip address").split())
    if platform == "h3c-comware":
        area = value(body, "ospf 1 area")
    else:  # huawei-vrp: the area whose network statement covers the address
        ospf = next(b for h, b in cfg.items() if h.startswith("ospf 1 "))
        areas, current = [], None
        for line in ospf:
            if line.startswith("area "):
                current = line.split()[1]
            elif line.startswith("network "):
                net, wildcard = line.split()[1:3]
                inverse = str(netaddr.IPAddress(int(netaddr.IPAddress(wildcard)) ^ 0xFFFFFFFF))
                if netaddr.IPNetwork(address).ip in netaddr.IPNetwork(f"{net}/{inverse}"):
                    areas.append(current)
        assert len(areas) == 1, f"{ifname}: covered by the networks of areas {areas}"
        area = areas[0]
    return {"address": address, "area": area,
            "network_type": NETWORK_TYPE[value(body, "ospf network-type")],
            "cost": int(value(body, "ospf cost"))}


def swanctl(text: str) -> dict:
    """swanctl.conf as nested dicts."""
    root: dict = {}
    stack = [root]
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if line.endswith("{"):
            child: dict = {}
            stack[-1][line[:-1].strip()] = child
            stack.append(child)
        elif line == "}":
            stack.pop()
        elif "=" in line:
            key, _, val = line.partition("=")
            stack[-1][key.strip()] = val.strip().strip('"')
    return root


def strongswan_suite(proposal: str) -> tuple[str, str, int]:
    enc, integ, dh = proposal.split("-")
    return ENCRYPTION[enc], INTEGRITY[integ], MODP[dh]


def tunnel(platform: str, files: dict[str, str], host: str, ifname: str) -> dict:
    """Public source and destination of a tunnel interface and its protection suite."""
    if platform == "frr":
        text = files[f"{host}/frr.conf"]
        m = re.search(rf"^! tunnel {re.escape(ifname)}: (\S+) local (\S+) remote (\S+) port (\d+)",
                      text, re.MULTILINE)
        assert m, f"no tunnel comment for {ifname}"
        if m.group(1) == "wireguard":
            return {"source": m.group(2), "destination": m.group(3),
                    "suite": {"protocol": "wireguard", "port": int(m.group(4))}}
        conn = swanctl(files[f"{host}/swanctl.conf"])["connections"][ifname]
        child = conn["children"][ifname]
        ike, esp = strongswan_suite(conn["proposals"]), strongswan_suite(child["esp_proposals"])
        return {"source": conn["local_addrs"], "destination": conn["remote_addrs"], "suite": {
            "protocol": "ipsec", "ike_version": int(conn["version"]), "ike_encryption": ike[0],
            "ike_integrity": ike[1], "dh_group": ike[2], "ike_lifetime": int(conn["rekey_time"][:-1]),
            "esp_encryption": esp[0], "esp_integrity": esp[1], "pfs_group": esp[2],
            "esp_lifetime": int(child["rekey_time"][:-1])}}
    cfg = blocks(files[f"{host}/{host}.cfg"])
    if platform == "huawei-vrp":
        body = block(cfg, f"interface {ifname}")
        assert value(body, "tunnel-protocol") == "ipsec"
        profile = block(cfg, f"ipsec profile {value(body, 'ipsec profile')}")
        peer = block(cfg, f"ike peer {value(profile, 'ike-peer')}")
        ike = block(cfg, f"ike proposal {value(peer, 'ike-proposal')}")
        esp = block(cfg, f"ipsec proposal {value(profile, 'proposal')}")
        return {"source": value(body, "source"), "destination": value(body, "destination"), "suite": {
            "protocol": "ipsec", "ike_version": int(value(peer, "version")),
            "ike_encryption": ENCRYPTION[value(ike, "encryption-algorithm")],
            "ike_integrity": INTEGRITY[value(ike, "integrity-algorithm")],
            "dh_group": group(value(ike, "dh")), "ike_lifetime": int(value(ike, "sa duration")),
            "esp_encryption": ENCRYPTION[value(esp, "esp encryption-algorithm")],
            "esp_integrity": INTEGRITY[value(esp, "esp authentication-algorithm")],
            "pfs_group": group(value(profile, "pfs")),
            "esp_lifetime": int(value(profile, "sa duration time-based"))}}
    if platform == "h3c-comware":
        body = block(cfg, f"interface {ifname} mode ipsec")
        profile = block(cfg, f"ipsec profile {value(body, 'tunnel protection ipsec profile')} isakmp")
        ike_profile = block(cfg, f"ikev2 profile {value(profile, 'ikev2-profile')}")
        policy = next(b for h, b in cfg.items() if h.startswith("ikev2 policy "))
        ike = block(cfg, f"ikev2 proposal {value(policy, 'proposal')}")
        esp = block(cfg, f"ipsec transform-set {value(profile, 'transform-set')}")
        return {"source": value(body, "source"), "destination": value(body, "destination"), "suite": {
            "protocol": "ipsec", "ike_version": 2,
            "ike_encryption": ENCRYPTION[value(ike, "encryption")],
            "ike_integrity": INTEGRITY[value(ike, "integrity")],
            "dh_group": group(value(ike, "dh")), "ike_lifetime": int(value(ike_profile, "sa duration")),
            "esp_encryption": ENCRYPTION[value(esp, "esp encryption-algorithm")],
            "esp_integrity": INTEGRITY[value(esp, "esp authentication-algorithm")],
            "pfs_group": group(value(esp, "pfs")),
            "esp_lifetime": int(value(profile, "sa duration time-based"))}}
    # cisco-ios
    body = block(cfg, f"interface {ifname}")
    assert value(body, "tunnel mode") == "ipsec ipv4"
    profile = block(cfg, f"crypto ipsec profile {value(body, 'tunnel protection ipsec profile')}")
    ike_profile = block(cfg, f"crypto ikev2 profile {value(profile, 'set ikev2-profile')}")
    policy = next(b for h, b in cfg.items() if h.startswith("crypto ikev2 policy "))
    ike = block(cfg, f"crypto ikev2 proposal {value(policy, 'proposal')}")
    ts_name = value(profile, "set transform-set")
    ts = next(h for h in cfg if h.startswith(f"crypto ipsec transform-set {ts_name} "))
    m = re.fullmatch(r"crypto ipsec transform-set \S+ (esp-aes \d+) (\S+)", ts)
    assert m, ts
    return {"source": value(body, "tunnel source"), "destination": value(body, "tunnel destination"),
            "suite": {
                "protocol": "ipsec", "ike_version": 2,
                "ike_encryption": ENCRYPTION[value(ike, "encryption")],
                "ike_integrity": INTEGRITY[value(ike, "integrity")],
                "dh_group": group(value(ike, "group")),
                "ike_lifetime": int(value(ike_profile, "lifetime")),
                "esp_encryption": ENCRYPTION[m.group(1)], "esp_integrity": INTEGRITY[m.group(2)],
                "pfs_group": group(value(profile, "set pfs")),
                "esp_lifetime": int(value(profile, "set security-association lifetime seconds"))}}


# --------------------------------------------------------------------------- the two ends


def ends(compiled, stack: str, link_id: str) -> list[tuple[str, str, str, dict[str, str]]]:
    """(host, platform, interface name, rendered files) of both ends of a link."""
    c, files = compiled(stack)
    link = next(lk for lk in c.vs.stack.links if lk.id == link_id)
    out = []
    for end in (link.a, link.b):
        host = host_name(end)
        facts = c.design.hosts[host]
        ifname = next(i.name for i in facts.interfaces if i.link == link_id)
        out.append((host, facts.platform, ifname, files))
    return out


def config_of(host: str, platform: str, files: dict[str, str]) -> str:
    return files[f"{host}/frr.conf" if platform == "frr" else f"{host}/{host}.cfg"]


@pytest.mark.parametrize(("stack", "link"), link_cases(vpn_only=False))
def test_ends_share_one_31(compiled, stack, link):
    nets = [netaddr.IPNetwork(interface_ospf(p, config_of(h, p, f), i)["address"])
            for h, p, i, f in ends(compiled, stack, link)]
    assert [n.prefixlen for n in nets] == [31, 31]
    assert nets[0].cidr == nets[1].cidr
    assert nets[0].ip != nets[1].ip


@pytest.mark.parametrize(("stack", "link"), link_cases(vpn_only=False))
def test_ends_agree_on_ospf(compiled, stack, link):
    a, b = ({k: v for k, v in interface_ospf(p, config_of(h, p, f), i).items() if k != "address"}
            for h, p, i, f in ends(compiled, stack, link))
    assert a == b


@pytest.mark.parametrize(("stack", "link"), link_cases(vpn_only=True))
def test_vpn_ends_mirror_public_addresses(compiled, stack, link):
    a, b = (tunnel(p, f, h, i) for h, p, i, f in ends(compiled, stack, link))
    assert (a["source"], a["destination"]) == (b["destination"], b["source"])
    assert a["source"] != a["destination"]


@pytest.mark.parametrize(("stack", "link"), link_cases(vpn_only=True))
def test_vpn_ends_agree_on_the_suite(compiled, stack, link):
    a, b = (tunnel(p, f, h, i)["suite"] for h, p, i, f in ends(compiled, stack, link))
    assert a == b


# --------------------------------------------------------------------------- VRF, BGP, BFD


def interface_vrf(platform: str, text: str, ifname: str) -> str | None:
    """The VRF (VPN instance) an interface is bound to; None for the global routing table."""
    cfg = blocks(text)
    if platform == "frr":  # 'interface NAME vrf VRF'
        headers = [h for h in cfg if h == f"interface {ifname}" or h.startswith(f"interface {ifname} vrf ")]
        assert len(headers) == 1, f"{ifname}: blocks {headers}"
        parts = headers[0].split()
        return parts[3] if len(parts) > 3 else None
    header = f"interface {ifname} mode ipsec" if f"interface {ifname} mode ipsec" in cfg else \
        f"interface {ifname}"
    body = block(cfg, header)
    keyword = "vrf forwarding" if platform == "cisco-ios" else "ip binding vpn-instance"
    found = [line[len(keyword):].strip() for line in body if line.startswith(keyword)]
    assert len(found) <= 1, f"{ifname}: {found}"
    return found[0] if found else None


@pytest.mark.parametrize(("stack", "link"), link_cases(vpn_only=False))
def test_ends_share_one_routing_table(compiled, stack, link):
    a, b = (interface_vrf(p, config_of(h, p, f), i) for h, p, i, f in ends(compiled, stack, link))
    assert a == b


def test_vrf_parser_reads_each_platform():
    assert interface_vrf("cisco-ios", "interface Gi0\n vrf forwarding Mgmt-intf\n", "Gi0") == "Mgmt-intf"
    assert interface_vrf("huawei-vrp", "interface G0/0/1\n ip binding vpn-instance gov\n", "G0/0/1") == "gov"
    assert interface_vrf("frr", "interface eth1 vrf gov\n ip address 1.1.1.1/31\n", "eth1") == "gov"
    assert interface_vrf("h3c-comware", "interface G1/0/1\n ip address 1.1.1.1 255.255.255.254\n",
                         "G1/0/1") is None


#: BGP and BFD as each platform writes them; the configs carry neither yet
BGP_OR_BFD = re.compile(r"^\s*(?:router bgp|bgp \d+|bfd\b|ip ospf bfd|ospf bfd"
                        r"|neighbor \S+ (?:remote-as|as-number))", re.MULTILINE)


@pytest.mark.parametrize("stack", list(STACKS))
def test_no_bgp_or_bfd_without_agreement_checks(compiled, stack):
    """The link checks above cover addresses, OSPF, VRF and VPN suites. A config that starts to
    carry BGP or BFD fails here until checks of both ends' ASNs, neighbor addresses and BFD
    timers are added beside them."""
    _, files = compiled(stack)
    found = {path: m.group(0).strip() for path, text in files.items() if (m := BGP_OR_BFD.search(text))}
    assert not found, f"BGP/BFD without agreement checks: {found}"
