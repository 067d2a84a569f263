"""Tests of govnet.render: device configurations from the design, one behaviour per test.

The stacks are variants of stacks/example-city.yaml written to a temporary directory: one per
platform (all routers and firewalls on it, plus a switch for the vendor platforms), and FRR with an
IPsec tunnel. Their security settings differ from the built-in defaults so that a template that
hard-codes a value fails.
"""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import jinja2
import pytest
import yaml

from govnet import render
from govnet.addressing import address
from govnet.facts import HostFacts
from govnet.pipeline import Compiled, compile_stack

REPO = Path(__file__).resolve().parents[1]
CITY = REPO / "stacks" / "example-city.yaml"

SECURITY = {"login_attempts": 4, "lockout_minutes": 20, "idle_timeout_minutes": 7,
            "password_min_length": 14, "password_max_age_days": 60}
MANAGEMENT = "198.18.128.0/20"  # address_plan.management of example-city
VENDORS = ("huawei-vrp", "h3c-comware", "cisco-ios")
#: variant -> (platform of routers and firewalls, VPN links forced to IPsec)
VARIANTS = {"frr": ("frr", False), "frr-ipsec": ("frr", True),
            **{v: (v, False) for v in VENDORS}}
COMMENT = {"frr": "!", "huawei-vrp": "#", "h3c-comware": "#", "cisco-ios": "!"}
PLACEHOLDER = re.compile(r"^<<vault:[a-z_]+(:[^<>\s]+)?>>$")


def variant_stack(name: str) -> dict:
    """example-city with every router and firewall on the variant's platform."""
    platform, ipsec = VARIANTS[name]
    data = yaml.safe_load(CITY.read_text(encoding="utf-8"))
    data["defaults"] = {**(data.get("defaults") or {}), "platform": platform, "security": SECURITY}
    if platform != "frr":
        dc = next(s for s in data["sites"] if s["name"] == "dc")
        dc["devices"].append({"name": "sw1", "role": "switch"})
    if ipsec:
        for link in data["links"]:
            if link["medium"] == "vpn":
                link["tunnel"] = {"protocol": "ipsec"}
    return data


def routing_hosts() -> list[str]:
    data = yaml.safe_load(CITY.read_text(encoding="utf-8"))
    return [f"{s['name']}-{d['name']}" for s in data["sites"] for d in s["devices"]
            if d["role"] in ("router", "firewall")]


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> Callable[[str], Compiled]:
    cache: dict[str, Compiled] = {}

    def get(name: str) -> Compiled:
        if name not in cache:
            path = tmp_path_factory.mktemp(name) / "example-city.yaml"
            path.write_text(yaml.safe_dump(variant_stack(name), allow_unicode=True, sort_keys=False),
                            encoding="utf-8")
            cache[name] = compile_stack(path)
        return cache[name]

    return get


@pytest.fixture(scope="module")
def rendered(compiled) -> Callable[[str], dict[str, str]]:
    cache: dict[str, dict[str, str]] = {}

    def get(name: str) -> dict[str, str]:
        if name not in cache:
            cache[name] = render.render(compiled(name).design, management_supernet=MANAGEMENT)
        return cache[name]

    return get


# --------------------------------------------------------------------------- what is rendered


@pytest.mark.parametrize("name", VARIANTS)
def test_every_device_gets_its_config(compiled, rendered, name):
    design = compiled(name).design
    expected = set()
    for host, facts in design.hosts.items():
        if facts.platform == "frr":
            expected.add(f"{host}/frr.conf")
            if any(t.protocol == "ipsec" for t in facts.tunnels):
                expected.add(f"{host}/swanctl.conf")
        elif facts.platform != "debian":
            expected.add(f"{host}/{host}.cfg")
    assert set(rendered(name)) == expected


@pytest.mark.parametrize("name", VARIANTS)
def test_servers_get_no_config(compiled, rendered, name):
    servers = {h for h, f in compiled(name).design.hosts.items() if f.platform == "debian"}
    assert servers
    assert not {p.split("/", 1)[0] for p in rendered(name)} & servers


@pytest.mark.parametrize(("name", "host", "swanctl"), [
    ("frr", "xixia-gw1", True),       # example-city's IPsec county
    ("frr", "tanghe-gw1", False),     # its WireGuard county
    ("frr-ipsec", "tanghe-gw1", True),
])
def test_frr_gets_swanctl_only_for_ipsec(rendered, name, host, swanctl):
    assert (f"{host}/swanctl.conf" in rendered(name)) is swanctl


@pytest.mark.parametrize("name", VARIANTS)
def test_header_names_stack_and_host(rendered, name):
    for path, text in rendered(name).items():
        host = path.split("/", 1)[0]
        c = "#" if path.endswith("swanctl.conf") else COMMENT[VARIANTS[name][0]]
        head = text.splitlines()[:7]
        assert all(line.startswith(c) for line in head), path
        joined = "\n".join(head)
        assert "Managed by govnet" in joined and "stack example-city" in joined, path
        assert f"host {host} " in joined, path
        assert "Do not edit by hand; change the stack and run govnet render" in joined, path
        assert "示例市" in joined, path


@pytest.mark.parametrize("name", VARIANTS)
def test_files_end_with_one_newline(rendered, name):
    for path, text in rendered(name).items():
        assert text.endswith("\n") and not text.endswith("\n\n"), path


# --------------------------------------------------------------------------- strictness, purity


#: fact paths (from a router's facts) each template reads; removing one must fail the render
MISSING = [("management",), ("security", "idle_timeout_minutes"), ("snmp", "user"),
           ("clients", "syslog"), ("loopback",), ("ospf", "router_id"),
           ("tunnels", 0, "peer_public"), ("interfaces", -1, "ospf", "cost")]


@pytest.mark.parametrize("name", VARIANTS)
@pytest.mark.parametrize("path", MISSING, ids=lambda p: ".".join(map(str, p)))
def test_missing_fact_is_an_error(compiled, name, path, monkeypatch):
    """A fact the templates need and the inventory lacks (a hand-edited dump) fails the render."""
    full = HostFacts.dump

    def dump(self) -> dict:
        data = full(self)
        if self.name == "xixia-gw1":
            parent = data
            for key in path[:-1]:
                parent = parent[key]
            del parent[path[-1]]
        return data

    monkeypatch.setattr(HostFacts, "dump", dump)
    with pytest.raises(jinja2.UndefinedError):
        render.render(compiled(name).design, management_supernet=MANAGEMENT)


@pytest.mark.parametrize("name", VARIANTS)
def test_rendering_is_deterministic(compiled, name):
    design = compiled(name).design
    first = render.render(design, management_supernet=MANAGEMENT)
    assert render.render(copy.deepcopy(design), management_supernet=MANAGEMENT) == first


@pytest.mark.parametrize("name", VARIANTS)
def test_rendering_leaves_the_facts_alone(compiled, name):
    design = compiled(name).design
    before = copy.deepcopy(design.hosts)
    render.render(design, management_supernet=MANAGEMENT)
    assert design.hosts == before


# --------------------------------------------------------------------------- secrets

#: commands that carry a secret, the value captured as v (one pattern may match several forms)
SECRET_VALUES = [re.compile(p) for p in (
    r"\bsecret\b\s*(?:=\s*)?\"?(?P<v>[^\s\"]+)",  # cisco username secret, swanctl secret = "…"
    r"\bpre-shared-key(?: cipher| plaintext)? (?P<v>\S+)",
    r"\bpassword (?:irreversible-cipher|cipher|simple) (?P<v>\S+)",
    r"\bauthentication-key \d+ \S+ (?P<v>\S+)",
    r"\bauthentication-mode \S+ (?:cipher |simple )?(?P<v>\S+)",
    r"\bprivacy-mode \S+ (?:cipher |simple )?(?P<v>\S+)",
    r"\bv3 auth (?:sha-2 \d+|sha|md5) (?P<v>\S+)",
    r"\bpriv (?:aes \d+|3des|des) (?P<v>\S+)",
)]


def secret_values(text: str) -> list[str]:
    values = []
    for line in text.splitlines():
        if line.lstrip().startswith(("!", "#")):
            continue
        values += [m.group("v") for p in SECRET_VALUES for m in p.finditer(line)]
    return values


@pytest.mark.parametrize("name", [*VENDORS, "frr-ipsec"])
def test_secrets_are_only_vault_placeholders(rendered, name):
    values = [v for text in rendered(name).values() for v in secret_values(text)]
    assert values, "no secret-bearing command found: the patterns no longer match the templates"
    assert [v for v in values if not PLACEHOLDER.match(v)] == []


def test_secret_check_catches_a_literal():
    assert secret_values(" pre-shared-key cipher Admin@123") == ["Admin@123"]


# --------------------------------------------------------------------------- 等保 controls

#: GB/T 22239-2019 8.1.4 controls per platform: every pattern must occur (multiline regex)
CONTROLS: dict[str, dict[str, list[str]]] = {
    "frr": {
        "8.1.4.1a-password-policy": [r"^!.*8\.1\.4\.1 a\).*at least 14 characters, changed every 60 days"],
        "8.1.4.1b-login-failure": [r"^!.*8\.1\.4\.1 b\).*locked for 20 min after 4 failures"],
        "8.1.4.1b-idle-timeout": [r"^line vty\n exec-timeout 7 0$"],
        "8.1.4.1c-ssh-only": [r"^!.*SSH v2 only: no telnet, no HTTP server",
                              r"^access-list GOVNET-NO-VTY seq 5 deny any$",
                              r"^ access-class GOVNET-NO-VTY$"],
        "8.1.4.4c-management-acl": [r"^!.*8\.1\.4\.4 c\) management sessions accepted from "
                                    r"198\.18\.128\.0/20 only"],
        "8.1.4.3-syslog": [r"^log syslog informational$", r"^!.*forwards to 198\.18\.0\.2$"],
        "8.1.4.3-ntp": [r"^!.*8\.1\.4\.3 b\) time from NTP 198\.18\.0\.2"],
        "8.1.5.4-snmpv3": [r"^!.*SNMPv3 authPriv only: user govnet-mon"],
        "banner": [r"^banner motd line example-city "],
    },
    "huawei-vrp": {
        "8.1.4.1a-password-policy": [r"^  password expire 60$"],
        "8.1.4.1b-login-failure": [r"^ local-aaa-user wrong-password retry-interval 20 retry-time 4 "
                                   r"block-time 20$"],
        "8.1.4.1b-idle-timeout": [r"^user-interface vty 0 4\n(?: .*\n)* idle-timeout 7 0$"],
        "8.1.4.1c-ssh-only": [r"^stelnet server enable$", r"^undo telnet server enable$",
                              r"^undo http server enable$", r"^ protocol inbound ssh$"],
        "8.1.4.4c-management-acl": [r"^acl number 2000\n(?: .*\n)* rule 5 permit source 198\.18\.128\.0 "
                                    r"0\.0\.15\.255$", r"^ acl 2000 inbound$"],
        "8.1.4.3-syslog": [r"^info-center loghost 198\.18\.0\.2 ", r"^info-center loghost source "],
        "8.1.4.3-ntp": [r"^ntp-service unicast-server 198\.18\.0\.2$", r"^ntp-service access peer 2002$",
                        r"^acl number 2002\n(?: .*\n)* rule 5 permit source 198\.18\.0\.2 0$"],
        "8.1.5.4-snmpv3": [r"^snmp-agent sys-info version v3$", r"^snmp-agent group v3 \S+ privacy "],
        "banner": [r"^header login information \"example-city "],
    },
    "h3c-comware": {
        "8.1.4.1a-password-policy": [r"^password-control length 14$", r"^password-control aging 60$"],
        "8.1.4.1b-login-failure": [r"^password-control login-attempt 4 exceed lock-time 20$"],
        "8.1.4.1b-idle-timeout": [r"^line vty 0 63\n(?: .*\n)* idle-timeout 7 0$"],
        "8.1.4.1c-ssh-only": [r"^ssh server enable$", r"^undo telnet server enable$",
                              r"^undo ip http enable$", r"^ protocol inbound ssh$"],
        "8.1.4.4c-management-acl": [r"^acl basic 2000\n(?: .*\n)* rule 5 permit source 198\.18\.128\.0 "
                                    r"0\.0\.15\.255$", r"^ssh server acl 2000$"],
        "8.1.4.3-syslog": [r"^info-center loghost 198\.18\.0\.2 ", r"^info-center loghost source "],
        "8.1.4.3-ntp": [r"^ntp-service unicast-server 198\.18\.0\.2 source ", r"^ntp-service peer acl 2002$",
                        r"^acl basic 2002\n(?: .*\n)* rule 5 permit source 198\.18\.0\.2 0$"],
        "8.1.5.4-snmpv3": [r"^snmp-agent sys-info version v3$", r"^snmp-agent group v3 \S+ privacy "],
        "banner": [r"^header login %example-city "],
    },
    "cisco-ios": {
        "8.1.4.1a-password-policy": [r"^ min-length 14$", r"^ lifetime days 60$"],
        "8.1.4.1b-login-failure": [r"^login block-for 1200 attempts 4 within 1200$"],
        "8.1.4.1b-idle-timeout": [r"^line vty 0 15\n(?: .*\n)* exec-timeout 7 0$"],
        "8.1.4.1c-ssh-only": [r"^ip ssh version 2$", r"^ transport input ssh$", r"^no ip http server$",
                              r"^no ip http secure-server$"],
        "8.1.4.4c-management-acl": [r"^ip access-list standard GOVNET-MGMT\n 10 permit 198\.18\.128\.0 "
                                    r"0\.0\.15\.255$", r"^ access-class GOVNET-MGMT in vrf-also$"],
        "8.1.4.3-syslog": [r"^logging host 198\.18\.0\.2$", r"^logging source-interface "],
        "8.1.4.3-ntp": [r"^ntp server 198\.18\.0\.2$", r"^ntp access-group peer GOVNET-NTP$",
                        r"^ip access-list standard GOVNET-NTP\n 10 permit host 198\.18\.0\.2$"],
        "8.1.5.4-snmpv3": [r"^snmp-server group \S+ v3 priv "],
        "banner": [r"^banner login %\nexample-city "],
    },
}


@pytest.mark.parametrize(("name", "control"), [(p, c) for p in CONTROLS for c in CONTROLS[p]])
def test_security_control_rendered(compiled, rendered, name, control):
    design = compiled(name).design
    for path, text in rendered(name).items():
        host = design.hosts[path.split("/", 1)[0]]
        if path.endswith("swanctl.conf") or host.role == "switch":
            continue
        city_servers = {x.address for svc in ("ntp", "syslog") for x in design.services[svc]}
        if control.startswith("8.1.4.3-") and host.site_kind == "province":
            # the province's platform is not the city's: it keeps its own time and log servers
            assert not [a for a in city_servers if a in text], f"{path}: the province uses a city server"
            continue
        # the patterns name the intranet's server; a host uses its own plane's (the planes never meet)
        server = "198.18.0.2"
        if control.startswith("8.1.4.3-"):
            (server,) = {*host.clients["ntp"], *host.clients["syslog"]}
            other = city_servers - {server}
            assert not [a for a in other if re.search(rf"\b{re.escape(a)}\b", text)], \
                f"{path}: names another plane's server"
        for wanted in CONTROLS[name][control]:
            pattern = wanted.replace(r"198\.18\.0\.2", re.escape(server))
            assert re.search(pattern, text, re.MULTILINE), f"{path}: no match for {pattern!r}"


@pytest.mark.parametrize("name", VENDORS)
def test_control_blocks_cite_their_clause(rendered, name):
    text = rendered(name)["xixia-gw1/xixia-gw1.cfg"]
    cited = set(re.findall(r"^[#!] (8\.1\.[45]\.\d) ", text, re.MULTILINE))
    assert cited == {"8.1.4.1", "8.1.4.2", "8.1.4.3", "8.1.4.4", "8.1.5.4"}


@pytest.mark.parametrize("name", VENDORS)
def test_switch_uses_its_management_interface_as_source(compiled, rendered, name):
    mgmt = compiled(name).design.hosts["dc-sw1"].management.interface
    text = rendered(name)["dc-sw1/dc-sw1.cfg"]
    assert f"source {mgmt}" in text or f"source-interface {mgmt}" in text
    assert not re.search(r"Loop[Bb]ack0", text)


@pytest.mark.parametrize("name", VENDORS)
def test_vendor_configs_demand_no_ntp_key(rendered, name):
    """The city's chrony servers hold no NTP key, so no vendor config may ask for one (README, NTP)."""
    for path, text in rendered(name).items():
        assert not re.search(r"ntp_key|authentication-keyid|ntp authenticate|ntp trusted-key|\bkey 1$",
                             text, re.MULTILINE), path


#: IOS XE 17 router interface names (management port, ports 0/0/N, loopback, tunnels)
IOS_XE_INTERFACE = re.compile(r"GigabitEthernet0|GigabitEthernet0/0/\d+|Loopback0|Tunnel\d+")


def test_cisco_management_lives_in_vrf_mgmt_intf(compiled, rendered):
    design = compiled("cisco-ios").design
    for path, text in rendered("cisco-ios").items():
        facts = design.hosts[path.split("/", 1)[0]]
        mgmt = facts.management.interface
        assert mgmt == "GigabitEthernet0"
        assert re.search(r"^vrf definition Mgmt-intf\n !\n address-family ipv4\n exit-address-family$",
                         text, re.MULTILINE), path
        assert re.search(rf"^interface {mgmt}\n description .*\n vrf forwarding Mgmt-intf\n ip address ",
                         text, re.MULTILINE), path
        routes = [line for line in text.splitlines() if line.startswith("ip route ")]
        via_mgmt = [r for r in routes if f" {mgmt} " in r]
        assert len(via_mgmt) == 1 and via_mgmt[0].startswith("ip route vrf Mgmt-intf "), routes
        assert not [r for r in routes if "vrf" in r and r not in via_mgmt]
        names = re.findall(r"^interface (\S+)", text, re.MULTILINE)
        assert names and all(IOS_XE_INTERFACE.fullmatch(n) for n in names), names


@pytest.mark.parametrize(("host", "vrf"), [("xixia-gw1", ""), ("dc-sw1", " vrf Mgmt-intf")])
def test_cisco_services_name_the_vrf_they_leave_by(compiled, rendered, host, vrf):
    """Routers reach the log and time servers of their plane in-band (Loopback0); a switch reaches
    them through its management port, so those statements name VRF Mgmt-intf."""
    text = rendered("cisco-ios")[f"{host}/{host}.cfg"]
    server = re.escape(compiled("cisco-ios").design.hosts[host].clients["ntp"][0])
    assert re.search(rf"^logging host {server}{vrf}$", text, re.MULTILINE)
    assert re.search(rf"^logging source-interface \S+{vrf}$", text, re.MULTILINE)
    assert re.search(rf"^ntp server{vrf} {server}$", text, re.MULTILINE)


def test_management_supernet_defaults_to_the_span_of_management_subnets(compiled):
    design = compiled("h3c-comware").design
    text = render.render(design)["dc-core1/dc-core1.cfg"]
    spans = render._management_supernet(design)
    assert spans != MANAGEMENT
    assert f"rule 5 permit source {address(spans)} {render.wildcard(spans)}" in text


# --------------------------------------------------------------------------- filters


@pytest.mark.parametrize(("cidr", "mask", "wild"), [
    ("0.0.0.0/0", "0.0.0.0", "255.255.255.255"),
    ("198.18.128.0/20", "255.255.240.0", "0.0.15.255"),
    ("198.18.145.1/31", "255.255.255.254", "0.0.0.1"),
    ("198.18.144.1/32", "255.255.255.255", "0.0.0.0"),
    ("198.18.144.1", "255.255.255.255", "0.0.0.0"),
])
def test_mask_filters(cidr, mask, wild):
    assert (render.netmask(cidr), render.wildcard(cidr)) == (mask, wild)


# --------------------------------------------------------------------------- write()


def test_write_creates_every_file(tmp_path):
    files = {"a/a.cfg": "one\n", "b/frr.conf": "two\n"}
    assert render.write(files, tmp_path) == ["a/a.cfg", "b/frr.conf"]
    assert {p: (tmp_path / p).read_text(encoding="utf-8") for p in files} == files


def test_write_touches_only_changed_files(tmp_path):
    files = {"a/a.cfg": "one\n", "b/frr.conf": "two\n"}
    render.write(files, tmp_path)
    stamp = (tmp_path / "a/a.cfg").stat().st_mtime_ns
    assert render.write({**files, "b/frr.conf": "three\n"}, tmp_path) == ["b/frr.conf"]
    assert (tmp_path / "a/a.cfg").stat().st_mtime_ns == stamp


def test_write_removes_stale_configs(tmp_path):
    render.write({"a/a.cfg": "one\n", "gone/gone.cfg": "x\n", "b/frr.conf": "x\n",
                  "b/swanctl.conf": "x\n"}, tmp_path)
    removed = render.write({"a/a.cfg": "one\n", "b/frr.conf": "x\n"}, tmp_path)
    assert removed == ["b/swanctl.conf", "gone/gone.cfg"]
    assert not (tmp_path / "gone").exists()


def test_write_keeps_files_govnet_does_not_own(tmp_path):
    keep = [tmp_path / "a" / "notes.txt", tmp_path / "top.cfg", tmp_path / "a" / "sub" / "x.cfg"]
    for p in keep:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("mine\n", encoding="utf-8")
    render.write({"b/b.cfg": "x\n"}, tmp_path)
    assert all(p.exists() for p in keep)


# --------------------------------------------------------------------------- FRR's own parser

VTYSH = shutil.which("vtysh")


def vtysh_dryrun(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([VTYSH or "vtysh", "--dryrun", "-f", str(path)], capture_output=True,
                          text=True, timeout=60, check=False)


@pytest.mark.skipif(VTYSH is None, reason="FRR's vtysh is not installed (apt-get install frr)")
@pytest.mark.parametrize("host", routing_hosts())
@pytest.mark.parametrize("name", ["frr", "frr-ipsec"])
def test_frr_accepts_the_config(rendered, tmp_path, name, host):
    path = tmp_path / "frr.conf"
    path.write_text(rendered(name)[f"{host}/frr.conf"], encoding="utf-8")
    result = vtysh_dryrun(path)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(VTYSH is None, reason="FRR's vtysh is not installed (apt-get install frr)")
def test_frr_dryrun_rejects_a_broken_config(tmp_path):
    path = tmp_path / "frr.conf"
    path.write_text("interface eth1\n ip ospf aera 0.0.0.0\nexit\n", encoding="utf-8")
    assert vtysh_dryrun(path).returncode != 0
