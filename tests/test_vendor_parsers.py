"""Independent parsers read the rendered vendor configurations.

- hier_config 3 (its Huawei VRP, H3C Comware and Cisco IOS drivers) parses every rendered vendor
  file and writes it out again: the same lines in the same order at the same depth, none lost.
  That proves each file is a well-formed hierarchy as that platform's parser understands it
  (a command indented under the wrong parent, or a stray line, shows up as a difference).
- ciscoconfparse2 (in its own virtualenv, see scripts/setup) reads every Cisco file's interfaces,
  VRFs and VRF routes; they must equal what the compiled design says each interface has,
  including the management port GigabitEthernet0 in VRF Mgmt-intf and its route.

The files are those of every example stack (stacks/*.yaml) plus the vendor variants of
example-city (every router and firewall on one vendor, with a switch and IPsec VPNs) and of
example-metro (every router on one vendor: a VRF per plane, dot1q sub-interfaces, BGP in a VRF),
and the vendor mix of tests/test_link_agreement.py.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from hier_config import Platform, get_hconfig

from govnet.pipeline import Compiled, compile_stack
from govnet.render import render

REPO = Path(__file__).resolve().parents[1]
STACK_FILES = sorted(p for p in (REPO / "stacks").glob("*.yaml") if not p.name.startswith("Pulumi"))
CCP_PYTHON = REPO / ".tools" / "ciscoconfparse2" / "bin" / "python"
CCP_SCRIPT = REPO / "tests" / "ciscoconfparse_interfaces.py"

VENDORS = ("huawei-vrp", "h3c-comware", "cisco-ios")
HIER_PLATFORM = {"huawei-vrp": Platform.HUAWEI_VRP, "h3c-comware": Platform.HP_COMWARE5,
                 "cisco-ios": Platform.CISCO_IOS}
COMMENT = {"huawei-vrp": "#", "h3c-comware": "#", "cisco-ios": "!"}
#: lines hier_config reads as markers, not commands: the end of the configuration, and the exit
#: of an address-family section (its IOS driver drops every ' exit-address-family' line and writes
#: exits of its own when asked to)
END = {"huawei-vrp": (), "h3c-comware": (), "cisco-ios": ("end", "exit-address-family")}
MGMT_VRF = "Mgmt-intf"


def _variant(platform: str) -> dict:
    data = yaml.safe_load((REPO / "stacks" / "example-city.yaml").read_text(encoding="utf-8"))
    data["defaults"] = {**(data.get("defaults") or {}), "platform": platform}
    next(s for s in data["sites"] if s["name"] == "dc")["devices"].append({"name": "sw1", "role": "switch"})
    for link in data["links"]:
        if link["medium"] == "vpn":
            link["tunnel"] = {"protocol": "ipsec"}
    return data


def _metro_variant(platform: str) -> dict:
    """example-metro with every router on one vendor: each platform renders the VRF per plane,
    the dot1q sub-interfaces and the provincial uplink's BGP in the extranet VRF."""
    data = yaml.safe_load((REPO / "stacks" / "example-metro.yaml").read_text(encoding="utf-8"))
    data["defaults"] = {**(data.get("defaults") or {}), "platform": platform}
    data.get("kinds", {}).get("unit", {}).pop("platform", None)
    for site in data["sites"]:
        site.pop("platform", None)
        for dev in site["devices"]:
            dev.pop("platform", None)
    return data


def _stacks() -> dict[str, Path | Callable[[], dict]]:
    from test_link_agreement import vendor_mix

    out: dict[str, Path | Callable[[], dict]] = {p.stem: p for p in STACK_FILES}
    out.update({f"all-{v}": (lambda v=v: _variant(v)) for v in VENDORS})
    out.update({f"metro-{v}": (lambda v=v: _metro_variant(v)) for v in VENDORS})
    out["vendor-mix"] = vendor_mix
    return out


STACKS = _stacks()


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> Callable[[str], tuple[Compiled, dict[str, str]]]:
    cache: dict[str, tuple[Compiled, dict[str, str]]] = {}

    def get(stack: str) -> tuple[Compiled, dict[str, str]]:
        if stack not in cache:
            source = STACKS[stack]
            if isinstance(source, Path):
                path = source
            else:
                path = tmp_path_factory.mktemp(stack) / "example-city.yaml"
                path.write_text(yaml.safe_dump(source(), allow_unicode=True, sort_keys=False),
                                encoding="utf-8")
            c = compile_stack(path)
            cache[stack] = c, render(c.design, management_supernet=str(c.vs.stack.address_plan.management))
        return cache[stack]

    return get


def vendor_files(c: Compiled, files: dict[str, str], platforms=VENDORS) -> dict[str, tuple[str, str]]:
    """path -> (platform, text) of the vendor files among ``files``."""
    out = {}
    for path, text in files.items():
        platform = c.design.hosts[path.split("/", 1)[0]].platform
        if platform in platforms and path.endswith(".cfg"):
            out[path] = platform, text
    return out


# --------------------------------------------------------------------------- hier_config


def hier_input(platform: str, text: str) -> str:
    """What hier_config is given: Comware's '#' lines (separators and comments) removed, since its
    Comware driver reads repeated '#' lines as duplicate sections (hier_config#215)."""
    if platform != "h3c-comware":
        return text
    return "".join(line for line in text.splitlines(keepends=True) if not line.lstrip().startswith("#"))


def expected_lines(platform: str, text: str) -> list[tuple[int, str]]:
    """(indent, command) of every line a parser must keep: no blank lines, comments or end marker."""
    out = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith(COMMENT[platform]) or stripped in END[platform]:
            continue
        out.append((len(line) - len(line.lstrip(" ")), stripped))
    return out


def hier_lines(platform: str, text: str) -> list[tuple[int, str]]:
    """(depth - 1, command) of every line as hier_config parsed it, in its order (a multi-line
    command such as a Cisco banner continues at depth 0, as in the file)."""
    config = get_hconfig(HIER_PLATFORM[platform], hier_input(platform, text))
    out = []
    for child in config.all_children():
        first, *rest = child.text.split("\n")
        out.append((child.depth() - 1, first.strip()))
        out += [(0, part.strip()) for part in rest]
    return out


@pytest.mark.parametrize("stack", list(STACKS))
def test_hier_config_round_trips_every_vendor_file(compiled, stack):
    c, files = compiled(stack)
    vendor = vendor_files(c, files)
    if not vendor:
        assert all(f.platform in ("frr", "debian") for f in c.design.hosts.values())
        pytest.skip(f"{stack} has no vendor device")
    for path, (platform, text) in vendor.items():
        expected, got = expected_lines(platform, text), hier_lines(platform, text)
        lost = sorted(set(expected) - set(got))
        assert not lost, f"{path}: hier_config lost {lost[:5]}"
        assert got == expected, f"{path}: hier_config read another hierarchy"


def test_hier_config_check_sees_a_misplaced_line():
    text = "interface GigabitEthernet0/0/1\n ip address 198.18.145.0 255.255.255.254\nip ospf cost 10\n"
    assert hier_lines("cisco-ios", text) != [(0, "interface GigabitEthernet0/0/1"),
                                             (1, "ip address 198.18.145.0 255.255.255.254"),
                                             (1, "ip ospf cost 10")]
    assert hier_lines("cisco-ios", text) == expected_lines("cisco-ios", text)


# --------------------------------------------------------------------------- ciscoconfparse2


def ciscoconfparse(paths: list[Path]) -> dict:
    assert CCP_PYTHON.exists(), f"{CCP_PYTHON} is missing: run scripts/setup (ciscoconfparse2's venv)"
    result = subprocess.run([str(CCP_PYTHON), str(CCP_SCRIPT), *map(str, paths)], capture_output=True,
                            text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


def design_view(c: Compiled, host: str) -> dict:
    """What ciscoconfparse2 must find in a Cisco host's file, from the compiled design: on a
    router with a VRF per plane, a loopback per VRF, every LAN, link and tunnel interface in its
    plane's VRF, a link carrying both planes as an untagged port and a dot1Q sub-interface per
    plane, and the BGP discard routes in the uplink's VRF."""
    h = c.design.hosts[host]
    mgmt = h.management
    vrfs = h.vrfs or []
    interfaces = {mgmt.interface: {"address": mgmt.address, "vrf": MGMT_VRF, "vlan": None}}
    if vrfs:
        for v in vrfs:
            interfaces[v.loopback_interface] = {"address": f"{v.loopback}/32", "vrf": v.name, "vlan": None}
    elif h.role in ("router", "firewall"):
        interfaces["Loopback0"] = {"address": f"{h.loopback}/32", "vrf": None, "vlan": None}
    for iface in h.interfaces:
        if iface.parent:
            interfaces[iface.parent] = {"address": None, "vrf": None, "vlan": None}
        interfaces[iface.name] = {"address": iface.address, "vrf": iface.vrf, "vlan": iface.vlan}
    routing = h.role in ("router", "firewall")
    routes = [{"vrf": MGMT_VRF, "interface": mgmt.interface, "gateway": mgmt.gateway,
               "prefix": str(c.vs.stack.address_plan.management) if routing else "0.0.0.0/0"}]
    if h.bgp and h.bgp.vrf:
        routes = [{"vrf": h.bgp.vrf, "interface": "Null0", "gateway": None, "prefix": prefix}
                  for prefix in h.bgp.networks] + routes
    defined = {v.name: [f"description govnet {v.name} plane", f"rd {v.rd}", "address-family ipv4",
                        "exit-address-family"] for v in vrfs}
    return {"interfaces": interfaces,
            "vrfs": {**defined, MGMT_VRF: ["address-family ipv4", "exit-address-family"]},
            "vrf_routes": routes}


CISCO_STACKS = ["example-metro", "all-cisco-ios", "vendor-mix", "metro-cisco-ios"]


@pytest.mark.parametrize("stack", CISCO_STACKS)
def test_ciscoconfparse_reads_the_designed_addresses(compiled, tmp_path, stack):
    c, files = compiled(stack)
    cisco = vendor_files(c, files, ("cisco-ios",))
    assert cisco, f"{stack}: no Cisco device"
    paths = {}
    for path, (_platform, text) in cisco.items():
        target = tmp_path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        paths[str(target)] = path.split("/", 1)[0]
    parsed = ciscoconfparse(list(map(Path, paths)))
    for target, host in paths.items():
        assert parsed[target] == design_view(c, host), host


def test_ciscoconfparse_check_sees_a_wrong_vrf(tmp_path):
    path = tmp_path / "r.cfg"
    path.write_text("interface GigabitEthernet0\n vrf forwarding Mgmt-vrf\n ip address 198.18.128.2 "
                    "255.255.255.240\n!\nip route vrf Mgmt-vrf 0.0.0.0 0.0.0.0 GigabitEthernet0 "
                    "198.18.128.1\n", encoding="utf-8")
    parsed = ciscoconfparse([path])[str(path)]
    assert parsed["interfaces"] == {"GigabitEthernet0": {"address": "198.18.128.2/28", "vrf": "Mgmt-vrf",
                                                         "vlan": None}}
    assert parsed["vrf_routes"][0]["vrf"] == "Mgmt-vrf"


def test_ciscoconfparse_check_sees_a_sub_interface_in_the_global_table(tmp_path):
    path = tmp_path / "r.cfg"
    path.write_text("vrf definition extranet\n rd 64601:20\n !\n address-family ipv4\n"
                    " exit-address-family\n!\n"
                    "interface GigabitEthernet0/0/2.20\n encapsulation dot1Q 20\n ip address 10.13.4.222 "
                    "255.255.255.254\n!\nip route vrf extranet 10.8.0.0 255.252.0.0 Null0 254 name x\n",
                    encoding="utf-8")
    parsed = ciscoconfparse([path])[str(path)]
    assert parsed["interfaces"]["GigabitEthernet0/0/2.20"] == {"address": "10.13.4.222/31", "vrf": None,
                                                              "vlan": 20}
    assert parsed["vrfs"] == {"extranet": ["rd 64601:20", "address-family ipv4", "exit-address-family"]}
    assert parsed["vrf_routes"] == [{"vrf": "extranet", "prefix": "10.8.0.0/14", "interface": "Null0",
                                     "gateway": None}]
