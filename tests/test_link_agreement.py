"""The two ends of every link agree, read back from the RENDERED configurations.

The facts only say where to look (each end's host, platform and interface name); every compared
value — addresses, OSPF area, network type and cost, VRF, tunnel endpoints, the IKE/IPsec suite — is
parsed from the configuration text by the small per-platform parsers below. Each link of each
stack is its own test case: example-city (all FRR, a WireGuard VPN), a vendor mix derived from it
(Huawei, H3C, Cisco and FRR; IPsec between vendors and between a vendor and FRR) and, when the file
exists, example-metro, whose vendor routers route both planes, each in a VRF: a link between two of
them is one dot1q sub-interface per plane on each end, and each pair must agree (same VRF, same VLAN,
one /31, OSPF in a process of that VRF).
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
    # two counties on the Internet: the extranet only (the intranet never crosses the Internet)
    for county, platform in (("neixiang", "h3c-comware"), ("nanzhao", "frr")):
        data["sites"].append({"name": county, "kind": "county", "subnets": {"intranet": None}, "devices": [
            {"name": "gw1", "role": "router", "platform": platform, "internet": {"mode": "vpn"}}]})
    data["links"] += [{"a": "dc.fw1", "b": "neixiang.gw1", "medium": "vpn", "cost": 50},
                      {"a": "wancheng.ext1", "b": "nanzhao.gw1", "medium": "fiber", "cost": 30},
                      {"a": "dc.fw1", "b": "nanzhao.gw1", "medium": "vpn", "name": "nanzhao-vpn"}]
    return data


STACKS: dict[str, dict] = {"example-city": yaml.safe_load(CITY.read_text(encoding="utf-8")),
                           "vendor-mix": vendor_mix()}
if METRO.exists():
    STACKS["example-metro"] = yaml.safe_load(METRO.read_text(encoding="utf-8"))


def _province_link(data: dict, link: dict) -> bool:
    """A link between the city and the province: eBGP, no OSPF."""
    province = {s["name"] for s in data["sites"] if s["kind"] == "province"}
    return (link["a"].split(".")[0] in province) != (link["b"].split(".")[0] in province)


def link_cases(vpn_only: bool = False, ospf: bool | None = None) -> list:
    """Each link of each stack; ``ospf`` True: the city's own links, False: the provincial uplinks."""
    return [pytest.param(stack, link.get("name") or f"{link['a']}~{link['b']}",
                         id=f"{stack}:{link.get('name') or link['a'] + '~' + link['b']}")
            for stack, data in STACKS.items() for link in data.get("links") or ()
            if (not vpn_only or link["medium"] == "vpn")
            and (ospf is None or ospf != _province_link(data, link))]


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> Callable[[str], tuple[Compiled, dict[str, str]]]:
    cache: dict[str, tuple[Compiled, dict[str, str]]] = {}

    def get(stack: str) -> tuple[Compiled, dict[str, str]]:
        if stack not in cache:
            path = {"example-city": CITY, "example-metro": METRO}.get(stack)
            if path is None:
                path = tmp_path_factory.mktemp(stack) / f"{stack}.yaml"
                data = STACKS[stack] if stack in STACKS else BFD_STACKS[stack]  # the BFD mix too
                path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False),
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


def interface_address(platform: str, text: str, ifname: str) -> str:
    """The address (CIDR) of one interface."""
    cfg = blocks(text)
    if platform == "frr":
        return value(block(cfg, f"interface {ifname}"), "ip address")
    header = f"interface {ifname} mode ipsec" if f"interface {ifname} mode ipsec" in cfg else \
        f"interface {ifname}"
    return dotted(*value(block(cfg, header), "ip address").split())


OSPF_HEADER = {"huawei-vrp": re.compile(r"ospf (\d+)(?: router-id \S+)?(?: vpn-instance (\S+))?"),
               "h3c-comware": re.compile(r"ospf (\d+)(?: router-id \S+)?(?: vpn-instance (\S+))?"),
               "cisco-ios": re.compile(r"router ospf (\d+)(?: vrf (\S+))?")}


def ospf_processes(platform: str, text: str) -> dict[str, str | None]:
    """Vendor OSPF process number -> the VRF it runs in (None: the global table)."""
    out = {}
    for header in blocks(text):
        if m := OSPF_HEADER[platform].fullmatch(header):
            out[m.group(1)] = m.group(2)
    return out


def _huawei_areas(cfg: dict[str, list[str]], address: str) -> list[tuple[str, str]]:
    """(process, area) of every Huawei OSPF network statement covering an address."""
    found = []
    for header, body in cfg.items():
        if not (m := OSPF_HEADER["huawei-vrp"].fullmatch(header)):
            continue
        current = None
        for line in body:
            if line.startswith("area "):
                current = line.split()[1]
            elif line.startswith("network "):
                net, wildcard = line.split()[1:3]
                inverse = str(netaddr.IPAddress(int(netaddr.IPAddress(wildcard)) ^ 0xFFFFFFFF))
                if netaddr.IPNetwork(address).ip in netaddr.IPNetwork(f"{net}/{inverse}"):
                    found.append((m.group(1), current))
    return found


def process_area(body: list[str], keyword: str) -> tuple[str, str]:
    """(process, area) of the one '<keyword> N area A' line of an interface."""
    found = [m.groups() for line in body if (m := re.fullmatch(rf"{keyword} (\d+) area (\S+)", line))]
    assert len(found) == 1, f"expected one '{keyword} N area' line, found {found}"
    return found[0]


def interface_has_ospf(platform: str, text: str, ifname: str) -> bool:
    """Whether OSPF runs on one interface (Huawei: a network statement covers its address)."""
    cfg = blocks(text)
    if platform == "huawei-vrp":
        return bool(_huawei_areas(cfg, interface_address(platform, text, ifname)))
    header = f"interface {ifname} mode ipsec" if f"interface {ifname} mode ipsec" in cfg else \
        f"interface {ifname}"
    return any("ospf" in line for line in block(cfg, header))


def interface_ospf(platform: str, text: str, ifname: str) -> dict:
    """Address (CIDR), OSPF area, network type and cost of one interface, and the VRF of the
    OSPF process that runs on it (vendors: the process's own VRF, which must be the interface's;
    FRR: one process per routing table)."""
    cfg = blocks(text)
    if platform == "frr":
        body = block(cfg, f"interface {ifname}")
        # strongSwan's TUN device is point-to-point by its flags: ospfd takes its type from them
        implicit = ifname.startswith("ipsec") and not any(x.startswith("ip ospf network") for x in body)
        network_type = "point-to-point" if implicit else NETWORK_TYPE[value(body, "ip ospf network")]
        return {"address": value(body, "ip address"), "area": value(body, "ip ospf area"),
                "network_type": network_type,
                "cost": int(value(body, "ip ospf cost")),
                "process_vrf": interface_vrf(platform, text, ifname)}
    processes = ospf_processes(platform, text)
    if platform == "cisco-ios":
        body = block(cfg, f"interface {ifname}")
        process, area = process_area(body, "ip ospf")
        return {"address": dotted(*value(body, "ip address").split()), "area": area,
                "network_type": NETWORK_TYPE[value(body, "ip ospf network")],
                "cost": int(value(body, "ip ospf cost")), "process_vrf": processes[process]}
    header = f"interface {ifname} mode ipsec" if f"interface {ifname} mode ipsec" in cfg else \
        f"interface {ifname}"
    body = block(cfg, header)
    address = dotted(*value(body, "ip address").split())
    if platform == "h3c-comware":
        process, area = process_area(body, "ospf")
    else:  # huawei-vrp: the area whose network statement covers the address
        found = _huawei_areas(cfg, address)
        assert len(found) == 1, f"{ifname}: covered by the networks of (process, area) {found}"
        process, area = found[0]
    return {"address": address, "area": area,
            "network_type": NETWORK_TYPE[value(body, "ospf network-type")],
            "cost": int(value(body, "ospf cost")), "process_vrf": processes[process]}


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


def ends(compiled, stack: str, link_id: str,
         plane: str | None = None) -> list[tuple[str, str, str, dict[str, str]]]:
    """(host, platform, interface name, rendered files) of both ends of a link: its interface of
    ``plane`` (a link that carries both planes is a sub-interface per plane), else its first."""
    c, files = compiled(stack)
    link = next(lk for lk in c.vs.stack.links if lk.id == link_id)
    out = []
    for end in (link.a, link.b):
        host = host_name(end)
        facts = c.design.hosts[host]
        ifname = next(i.name for i in facts.interfaces if i.link == link_id and plane in (None, i.plane))
        out.append((host, facts.platform, ifname, files))
    return out


def link_planes(compiled, stack: str, link_id: str) -> list[str]:
    """The planes a link carries, as the design gives its first end's interfaces."""
    c, _files = compiled(stack)
    link = next(lk for lk in c.vs.stack.links if lk.id == link_id)
    planes = [i.plane for i in c.design.hosts[host_name(link.a)].interfaces if i.link == link_id]
    assert planes and len(set(planes)) == len(planes), f"{link_id}: planes {planes}"
    return planes


def plane_ends(compiled, stack: str, link_id: str):
    """(plane, both ends) for each plane the link carries."""
    return [(plane, ends(compiled, stack, link_id, plane)) for plane in link_planes(compiled, stack, link_id)]


def config_of(host: str, platform: str, files: dict[str, str]) -> str:
    return files[f"{host}/frr.conf" if platform == "frr" else f"{host}/{host}.cfg"]


@pytest.mark.parametrize(("stack", "link"), link_cases())
def test_ends_share_one_31(compiled, stack, link):
    """Each plane's pair of ends shares a /31 of its own."""
    seen = set()
    for _plane, pair in plane_ends(compiled, stack, link):
        nets = [netaddr.IPNetwork(interface_address(p, config_of(h, p, f), i)) for h, p, i, f in pair]
        assert [n.prefixlen for n in nets] == [31, 31]
        assert nets[0].cidr == nets[1].cidr
        assert nets[0].ip != nets[1].ip
        assert nets[0].cidr not in seen
        seen.add(nets[0].cidr)


@pytest.mark.parametrize(("stack", "link"), link_cases(ospf=True))
def test_ends_agree_on_ospf(compiled, stack, link):
    """Per plane: the same area, network type and cost, each end's OSPF process in the VRF its
    interface is in (a process never reaches into the other plane's VRF)."""
    for _plane, pair in plane_ends(compiled, stack, link):
        a, b = ({**interface_ospf(p, config_of(h, p, f), i), "vrf": interface_vrf(p, config_of(h, p, f), i)}
                for h, p, i, f in pair)
        assert a["process_vrf"] == a["vrf"] and b["process_vrf"] == b["vrf"]
        assert ({k: v for k, v in a.items() if k not in ("address", "vrf", "process_vrf")}
                == {k: v for k, v in b.items() if k not in ("address", "vrf", "process_vrf")})


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


def interface_vlan(platform: str, text: str, ifname: str) -> int | None:
    """The dot1q tag a (sub-)interface terminates; None for an untagged port."""
    cfg = blocks(text)
    header = f"interface {ifname} mode ipsec" if f"interface {ifname} mode ipsec" in cfg else \
        f"interface {ifname}"
    keyword = {"huawei-vrp": "vlan-type dot1q ", "h3c-comware": "vlan-type dot1q vid ",
               "cisco-ios": "encapsulation dot1Q ", "frr": "encapsulation dot1Q "}[platform]
    found = [int(line[len(keyword):]) for line in block(cfg, header) if line.startswith(keyword)]
    assert len(found) <= 1, f"{ifname}: {found}"
    return found[0] if found else None


def host_vrfs(platform: str, text: str) -> set[str]:
    """The plane VRFs (VPN instances) a vendor config defines, with a route distinguisher each."""
    cfg = blocks(text)
    if platform == "frr":
        return {h.split()[1] for h in cfg if h.startswith("vrf ")}
    keyword = "vrf definition " if platform == "cisco-ios" else "ip vpn-instance "
    rd = "rd " if platform == "cisco-ios" else "route-distinguisher "
    return {h[len(keyword):] for h, body in cfg.items()
            if h.startswith(keyword) and h != "vrf definition Mgmt-intf"
            and any(x.startswith(rd) for x in body)}


@pytest.mark.parametrize(("stack", "link"), link_cases())
def test_ends_share_one_routing_table(compiled, stack, link):
    """Per plane, each end is in that plane's routing table: the plane's VRF (defined, with its
    route distinguisher) on a router with a VRF per plane, else the global table of a router that
    routes that plane alone; two VRF ends are in the same VRF. Both ends use the same dot1q tag (or
    none); the planes of one link never share a VRF or a tag."""
    c, _files = compiled(stack)
    tables, vlans = [], []
    for plane, pair in plane_ends(compiled, stack, link):
        got = [(interface_vrf(p, config_of(h, p, f), i), interface_vlan(p, config_of(h, p, f), i))
               for h, p, i, f in pair]
        for (h, p, i, f), (vrf, _vlan) in zip(pair, got, strict=True):
            if c.design.hosts[h].vrfs:
                assert vrf == plane, f"{h} {i}: the {plane} of {link} is in VRF {vrf}"
                assert vrf in host_vrfs(p, config_of(h, p, f)), f"{h}: VRF {vrf} is not defined"
            else:
                assert vrf is None, f"{h} {i}: no VRF per plane, yet {link} is in VRF {vrf}"
                assert c.design.hosts[h].planes == [plane], f"{h} routes {c.design.hosts[h].planes}"
        assert got[0][1] == got[1][1], f"{plane}: {[(h, i) for h, _p, i, _f in pair]} tagged {got}"
        tables.append(plane)
        vlans.append(got[0][1])
    if len(tables) > 1:
        assert None not in vlans and len(set(vlans)) == len(vlans), vlans


def test_vrf_parser_reads_each_platform():
    assert interface_vrf("cisco-ios", "interface Gi0\n vrf forwarding Mgmt-intf\n", "Gi0") == "Mgmt-intf"
    assert interface_vrf("huawei-vrp", "interface G0/0/1\n ip binding vpn-instance gov\n", "G0/0/1") == "gov"
    assert interface_vrf("frr", "interface eth1 vrf gov\n ip address 1.1.1.1/31\n", "eth1") == "gov"
    assert interface_vrf("h3c-comware", "interface G1/0/1\n ip address 1.1.1.1 255.255.255.254\n",
                         "G1/0/1") is None
    assert interface_vlan("h3c-comware", "interface G1/0/1.20\n vlan-type dot1q vid 20\n", "G1/0/1.20") == 20
    assert interface_vlan("huawei-vrp", "interface G0/0/1.10\n vlan-type dot1q 10\n", "G0/0/1.10") == 10
    assert interface_vlan("cisco-ios", "interface G0/0/1\n ip address 1.1.1.1 255.255.255.254\n",
                          "G0/0/1") is None
    vrp = ("ip vpn-instance extranet\n ipv4-family\n  route-distinguisher 1:20\n#\n"
           "interface G0/0/1.20\n ip binding vpn-instance extranet\n ip address 10.0.0.1 255.255.255.254\n"
           " ospf cost 10\n ospf network-type p2p\n#\n"
           "ospf 1 router-id 1.1.1.1 vpn-instance intranet\n area 0.0.0.0\n  network 10.1.0.0 0.0.0.1\n#\n"
           "ospf 2 router-id 1.1.1.2 vpn-instance extranet\n area 0.0.0.3\n  network 10.0.0.0 0.0.0.1\n")
    assert host_vrfs("huawei-vrp", vrp) == {"extranet"}
    assert interface_ospf("huawei-vrp", vrp, "G0/0/1.20") == {
        "address": "10.0.0.1/31", "area": "0.0.0.3", "network_type": "point-to-point", "cost": 10,
        "process_vrf": "extranet"}
    ios = ("router ospf 1 vrf intranet\n router-id 1.1.1.1\n!\ninterface G0/0/1.20\n encapsulation dot1Q 20\n"
           " vrf forwarding extranet\n ip address 10.0.0.1 255.255.255.254\n ip ospf 1 area 0.0.0.3\n"
           " ip ospf network point-to-point\n ip ospf cost 10\n")
    assert interface_ospf("cisco-ios", ios, "G0/0/1.20")["process_vrf"] == "intranet"  # the check's catch


# --------------------------------------------------------------------------- BGP (the provincial uplink)


def _prefix(text: str) -> str:
    """'a.b.c.d/n', 'a.b.c.d n' or 'a.b.c.d mask' -> canonical CIDR."""
    parts = text.replace("/", " ").split()
    return str(netaddr.IPNetwork(f"{parts[0]}/{parts[1]}").cidr)


def prefix_lists(platform: str, text: str) -> dict[str, list[tuple[str, str]]]:
    """Prefix list name -> its (action, prefix) entries in order; 'le 32' / 'less-equal 32' entries
    are written as (action, 'any')."""
    keyword = {"huawei-vrp": "ip ip-prefix", "h3c-comware": "ip prefix-list"}.get(platform, "ip prefix-list")
    out: dict[str, list[tuple[int, str, str]]] = {}
    for line in text.splitlines():
        if not line.startswith(keyword + " "):
            continue
        words = line[len(keyword):].split()
        name, _seq_word, seq, action, rest = words[0], words[1], int(words[2]), words[3], words[4:]
        wide = any(w in ("le", "less-equal") for w in rest)
        out.setdefault(name, []).append((seq, action, "any" if wide else _prefix(" ".join(rest[:2]))))
    return {name: [(a, p) for _, a, p in sorted(entries)] for name, entries in out.items()}


def bgp_session(platform: str, text: str) -> dict:
    """Local AS, router id, originated networks and per neighbor address: remote AS and the
    prefix lists in and out, parsed from the config text."""
    cfg = blocks(text)
    if platform in ("frr", "cisco-ios"):
        header = next(h for h in cfg if h.startswith("router bgp "))
        body, asn = cfg[header], int(header.split()[2])
        rid = router_id(body, "bgp router-id")
        remote = {w[1]: int(w[3]) for w in (line.split() for line in body) if w[2:3] == ["remote-as"]}
        lists = {(w[1], w[4]): w[3] for w in (line.split() for line in body) if w[2:3] == ["prefix-list"]}
        networks = [_prefix(line.split(None, 1)[1].replace(" mask ", " ")) for line in body
                    if line.startswith("network ")]
        directions = {"in": "in", "out": "out"}
    else:
        header = next(h for h in cfg if re.fullmatch(r"bgp \d+", h))
        body, asn = cfg[header], int(header.split()[1])
        rid = router_id(body, "router-id")
        remote = {w[1]: int(w[3]) for w in (line.split() for line in body) if w[2:3] == ["as-number"]}
        kw = "ip-prefix" if platform == "huawei-vrp" else "prefix-list"
        lists = {(w[1], w[4]): w[3] for w in (line.split() for line in body) if w[2:3] == [kw]}
        networks = [_prefix(line.split(None, 1)[1]) for line in body if line.startswith("network ")]
        directions = {"import": "in", "export": "out"}
    plists = prefix_lists(platform, text)
    neighbors = {}
    for addr, ras in remote.items():
        filt = {directions[d]: plists[name] for (a, d), name in lists.items() if a == addr}
        neighbors[addr] = {"remote_as": ras, **filt}
    return {"asn": asn, "router_id": rid, "networks": networks, "neighbors": neighbors,
            "vrf": bgp_vrf(platform, body)}


def router_id(body: list[str], keyword: str) -> str:
    """The BGP router ID: the process's and, where the sessions sit in a VRF, the VRF's (one value)."""
    found = {line.split()[-1] for line in body if line.startswith(keyword + " ")}
    assert len(found) == 1, f"router IDs {found}"
    return found.pop()


BGP_VRF = {"huawei-vrp": re.compile(r"ipv4-family vpn-instance (\S+)"),
           "h3c-comware": re.compile(r"ip vpn-instance (\S+)"),
           "cisco-ios": re.compile(r"address-family ipv4 vrf (\S+)"), "frr": re.compile(r"(?!)")}


def bgp_vrf(platform: str, body: list[str]) -> str | None:
    """The VRF whose address family holds the BGP sessions (None: the global table); a BGP
    process here serves one VRF at most."""
    found = [m.group(1) for line in body if (m := BGP_VRF[platform].fullmatch(line))]
    assert len(found) <= 1, found
    return found[0] if found else None


def permitted(entries: list[tuple[str, str]]) -> set[str]:
    """What a prefix list lets through, checked to deny the default route first and everything
    unlisted last."""
    assert entries[0] == ("deny", "0.0.0.0/0"), f"the default route is not denied first: {entries}"
    assert entries[-1] == ("deny", "any"), f"the list does not end denying everything: {entries}"
    return {p for a, p in entries if a == "permit"}


@pytest.mark.parametrize(("stack", "link"), link_cases(ospf=False))
def test_provincial_uplink_runs_no_ospf(compiled, stack, link):
    for h, p, i, f in ends(compiled, stack, link):
        assert not interface_has_ospf(p, config_of(h, p, f), i), f"{h} {i} speaks OSPF to the province"


@pytest.mark.parametrize(("stack", "link"), link_cases(ospf=False))
def test_ebgp_ends_agree(compiled, stack, link):
    """Each end's neighbor is the other's link address, its remote AS the other's local AS (and
    not its own), and what one end exports is what the other imports."""
    (ha, pa, ia, fa), (hb, pb, ib, fb) = ends(compiled, stack, link)
    a, b = bgp_session(pa, config_of(ha, pa, fa)), bgp_session(pb, config_of(hb, pb, fb))
    addr_a = str(netaddr.IPNetwork(interface_address(pa, config_of(ha, pa, fa), ia)).ip)
    addr_b = str(netaddr.IPNetwork(interface_address(pb, config_of(hb, pb, fb), ib)).ip)
    na, nb = a["neighbors"][addr_b], b["neighbors"][addr_a]
    # the sessions sit in the routing table of the uplink's interface (the extranet's VRF on a
    # router with a VRF per plane)
    assert a["vrf"] == interface_vrf(pa, config_of(ha, pa, fa), ia)
    assert b["vrf"] == interface_vrf(pb, config_of(hb, pb, fb), ib)
    assert na["remote_as"] == b["asn"] and nb["remote_as"] == a["asn"]
    assert a["asn"] != b["asn"]
    assert permitted(na["out"]) == permitted(nb["in"]) and permitted(na["out"])
    assert permitted(nb["out"]) == permitted(na["in"]) and permitted(nb["out"])
    assert not permitted(na["out"]) & permitted(na["in"])
    # each end originates exactly what it exports
    assert set(a["networks"]) == permitted(na["out"]) and set(b["networks"]) == permitted(nb["out"])


@pytest.mark.parametrize(("stack", "link"), link_cases(ospf=False))
def test_city_announces_only_its_extranet(compiled, stack, link):
    c, _files = compiled(stack)
    plan = c.vs.stack.address_plan
    for h, p, _i, f in ends(compiled, stack, link):
        session = bgp_session(p, config_of(h, p, f))
        if c.design.hosts[h].site_kind == "province":
            assert all(permitted(n["in"]) == {plan.extranet} for n in session["neighbors"].values())
        else:
            assert all(permitted(n["out"]) == {plan.extranet} for n in session["neighbors"].values())


def test_bgp_parser_reads_each_platform():
    frr = ("ip prefix-list X seq 5 deny 0.0.0.0/0\nip prefix-list X seq 10 permit 10.0.0.0/8\n"
           "ip prefix-list X seq 10000 deny 0.0.0.0/0 le 32\n"
           "router bgp 65001\n bgp router-id 1.1.1.1\n neighbor 2.2.2.2 remote-as 65000\n"
           " address-family ipv4 unicast\n  network 10.0.0.0/8\n"
           "  neighbor 2.2.2.2 prefix-list X in\n exit-address-family\n")
    got = bgp_session("frr", frr)
    assert got["asn"] == 65001 and got["networks"] == ["10.0.0.0/8"]
    assert got["neighbors"]["2.2.2.2"] == {"remote_as": 65000, "in": [
        ("deny", "0.0.0.0/0"), ("permit", "10.0.0.0/8"), ("deny", "any")]}
    vrp = ("ip ip-prefix X index 10 permit 10.0.0.0 8\nbgp 65001\n router-id 1.1.1.1\n"
           " peer 2.2.2.2 as-number 65000\n ipv4-family unicast\n  network 10.0.0.0 255.0.0.0\n"
           "  peer 2.2.2.2 ip-prefix X export\n")
    got = bgp_session("huawei-vrp", vrp)
    assert got["networks"] == ["10.0.0.0/8"]
    assert got["neighbors"]["2.2.2.2"] == {"remote_as": 65000, "out": [("permit", "10.0.0.0/8")]}


# --------------------------------------------------------------------------- BFD


#: BFD as each platform writes it: FRR's bfd block and interface lines, Huawei's global bfd view
#: and interface lines, H3C's and Cisco's interface lines, BGP's BFD (none of the configs has it)
BFD = re.compile(r"^\s*(?:bfd\b|ip ospf bfd|ospf bfd|neighbor \S+ fall-over bfd|peer \S+ bfd)", re.MULTILINE)
#: BFD's job on a primary link: notice a silent fault within a second (issue 11, item 5)
BFD_DETECT_MS = 1000
BFD_MIX = "bfd-mix"


def bfd_mix() -> dict:
    """The vendor mix with BFD on every cabled link inside the city, so that each platform pair
    renders it: Huawei–H3C, Huawei–FRR, H3C–Cisco, H3C–FRR, Cisco–FRR."""
    data = vendor_mix()
    for link in data["links"]:
        if link["medium"] != "vpn" and not _province_link(data, link):
            link["bfd"] = True
    return data


BFD_STACKS = {**STACKS, BFD_MIX: bfd_mix()}


def bfd_cases() -> list:
    """(stack, link, whether the stack asks for BFD) for every OSPF link, BFD mix included."""
    return [pytest.param(stack, link.get("name") or f"{link['a']}~{link['b']}", bool(link.get("bfd")),
                         id=f"{stack}:{link.get('name') or link['a'] + '~' + link['b']}")
            for stack, data in BFD_STACKS.items() for link in data.get("links") or ()
            if not _province_link(data, link)]


def interface_bfd(platform: str, text: str, ifname: str) -> dict | None:
    """BFD for OSPF on one interface as its timers (``tx_ms``, ``rx_ms``, ``multiplier``); None
    when the interface has no BFD line at all. The timers must be written out (the platforms'
    defaults differ: FRR 300/300/3, Comware 400/400/5), and BFD must be on where the platform
    needs more than the interface: Huawei's global ``bfd`` view, FRR's profile in its ``bfd`` block."""
    cfg = blocks(text)
    header = f"interface {ifname} mode ipsec" if f"interface {ifname} mode ipsec" in cfg else \
        f"interface {ifname}"
    body = block(cfg, header)
    lines = [line for line in body if "bfd" in line.split()]
    if not lines:
        return None
    if platform == "frr":
        assert "ip ospf bfd" in body, f"{ifname}: BFD settings without 'ip ospf bfd': {lines}"
        name = value(body, "ip ospf bfd profile")
        bfd = block(cfg, "bfd")
        assert f"profile {name}" in bfd, f"{ifname}: BFD profile {name} is not in the bfd block"
        start = bfd.index(f"profile {name}") + 1
        profile = bfd[start:bfd.index("exit", start)]
        # bfdd's default multiplier (3) is left out, as bfdd itself shows it
        multiplier = [x for x in profile if x.startswith("detect-multiplier")]
        return {"tx_ms": int(value(profile, "transmit-interval")),
                "rx_ms": int(value(profile, "receive-interval")),
                "multiplier": int(value(profile, "detect-multiplier")) if multiplier else 3}
    if platform == "huawei-vrp":
        assert "ospf bfd enable" in body, f"{ifname}: BFD settings without 'ospf bfd enable': {lines}"
        assert "bfd" in cfg, "OSPF BFD on an interface, but BFD is not enabled globally ('bfd' view)"
        m = re.fullmatch(r"min-tx-interval (\d+) min-rx-interval (\d+) detect-multiplier (\d+)",
                         value(body, "ospf bfd min-tx-interval").join(("min-tx-interval ", "")))
        assert m, f"{ifname}: {lines}"
        return {"tx_ms": int(m.group(1)), "rx_ms": int(m.group(2)), "multiplier": int(m.group(3))}
    if platform == "h3c-comware":
        assert "ospf bfd enable" in body, f"{ifname}: BFD settings without 'ospf bfd enable': {lines}"
        return {"tx_ms": int(value(body, "bfd min-transmit-interval")),
                "rx_ms": int(value(body, "bfd min-receive-interval")),
                "multiplier": int(value(body, "bfd detect-multiplier"))}
    # cisco-ios
    assert "ip ospf bfd" in body, f"{ifname}: BFD settings without 'ip ospf bfd': {lines}"
    m = re.fullmatch(r"(\d+) min_rx (\d+) multiplier (\d+)", value(body, "bfd interval"))
    assert m, f"{ifname}: {lines}"
    return {"tx_ms": int(m.group(1)), "rx_ms": int(m.group(2)), "multiplier": int(m.group(3))}


@pytest.mark.parametrize(("stack", "link", "wanted"), bfd_cases())
def test_ends_agree_on_bfd(compiled, stack, link, wanted):
    """Both ends run BFD with the same timers where the stack asks for it, neither end elsewhere;
    and the timers notice a silent fault within a second."""
    a, b = (interface_bfd(p, config_of(h, p, f), i) for h, p, i, f in ends(compiled, stack, link))
    assert a == b
    assert (a is not None) == wanted, f"bfd: {wanted} in the stack, rendered: {a}"
    if a:
        # what each end detects with: the slower of its own receive and the other's transmit
        assert max(a["rx_ms"], b["tx_ms"]) * b["multiplier"] <= BFD_DETECT_MS
        assert max(b["rx_ms"], a["tx_ms"]) * a["multiplier"] <= BFD_DETECT_MS


@pytest.mark.parametrize("stack", list(BFD_STACKS))
def test_bfd_only_on_hosts_with_a_bfd_link(compiled, stack):
    """Global BFD (FRR's bfd block and daemon, Huawei's bfd view) only where a link asks for it,
    and no BGP BFD (the provincial uplink has none)."""
    c, files = compiled(stack)
    with_bfd = {host_name(end) for lk in c.vs.stack.links if lk.bfd for end in (lk.a, lk.b)}
    found = {path.split("/")[0] for path, text in files.items() if BFD.search(text)}
    assert found == with_bfd
    assert not re.search(r"fall-over bfd|peer \S+ bfd", "\n".join(files.values()))
    if stack == BFD_MIX:
        platforms = {c.design.hosts[h].platform for h in found}
        assert platforms == {"frr", "huawei-vrp", "h3c-comware", "cisco-ios"}


def test_bfd_parser_reads_each_platform():
    frr = ("bfd\n profile p\n  detect-multiplier 3\n  receive-interval 200\n  transmit-interval 100\n"
           " exit\n !\nexit\n!\ninterface eth2\n ip ospf bfd\n ip ospf bfd profile p\nexit\n")
    assert interface_bfd("frr", frr, "eth2") == {"tx_ms": 100, "rx_ms": 200, "multiplier": 3}
    vrp = ("bfd\n#\ninterface G0/0/1\n ospf bfd enable\n"
           " ospf bfd min-tx-interval 100 min-rx-interval 200 detect-multiplier 4\n")
    assert interface_bfd("huawei-vrp", vrp, "G0/0/1") == {"tx_ms": 100, "rx_ms": 200, "multiplier": 4}
    h3c = ("interface G1/0/1\n ospf bfd enable\n bfd min-transmit-interval 100\n"
           " bfd min-receive-interval 200\n bfd detect-multiplier 5\n")
    assert interface_bfd("h3c-comware", h3c, "G1/0/1") == {"tx_ms": 100, "rx_ms": 200, "multiplier": 5}
    ios = "interface Gi0/0/1\n bfd interval 100 min_rx 200 multiplier 3\n ip ospf bfd\n"
    assert interface_bfd("cisco-ios", ios, "Gi0/0/1") == {"tx_ms": 100, "rx_ms": 200, "multiplier": 3}
    assert interface_bfd("cisco-ios", "interface Gi0/0/1\n ip ospf cost 10\n", "Gi0/0/1") is None
    # refused: Huawei without the global bfd view, FRR naming a profile it does not define, H3C
    # timers without OSPF BFD, and timers left to the platform's defaults
    for platform, text, ifname in (("huawei-vrp", vrp.replace("bfd\n#\n", ""), "G0/0/1"),
                                   ("frr", frr.replace("profile p\n", "profile q\n", 1), "eth2"),
                                   ("h3c-comware", h3c.replace(" ospf bfd enable\n", ""), "G1/0/1"),
                                   ("cisco-ios", "interface Gi0/0/1\n ip ospf bfd\n", "Gi0/0/1")):
        with pytest.raises(AssertionError):
            interface_bfd(platform, text, ifname)
