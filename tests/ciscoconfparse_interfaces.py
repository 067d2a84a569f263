"""Read Cisco IOS XE configs with ciscoconfparse2 and print what they say as JSON.

Run by tests/test_vendor_parsers.py with the Python of the separate virtualenv that scripts/setup
makes for ciscoconfparse2 (.tools/ciscoconfparse2: it pins hier-config 2.3.1, which conflicts with
hier_config 3 in .venv). Standard library + ciscoconfparse2 only.

    python tests/ciscoconfparse_interfaces.py FILE... > JSON

For each file: every interface with its address (CIDR, or null), VRF (or null) and dot1q tag (or
null), the VRFs defined with their lines (description, rd, address families), and the static routes
that name a VRF (the next hop's interface and address, each null when the route has none).
"""

from __future__ import annotations

import ipaddress
import json
import sys

from ciscoconfparse2 import CiscoConfParse

ADDRESS = r"^\s+ip\s+address\s+(\d+\.\d+\.\d+\.\d+\s+\d+\.\d+\.\d+\.\d+)\s*$"
VRF = r"^\s+vrf\s+forwarding\s+(\S+)\s*$"
DOT1Q = r"^\s+encapsulation\s+dot1Q\s+(\d+)\s*$"
VRF_ROUTE = r"^ip\s+route\s+vrf\s+\S+\s+\S+\s+\S+\s+\S+"


def _is_address(word: str) -> bool:
    try:
        ipaddress.IPv4Address(word)
    except ValueError:
        return False
    return True


def read(path: str) -> dict:
    parse = CiscoConfParse(path, syntax="ios")
    interfaces = {}
    for obj in parse.find_objects(r"^interface\s+\S+"):
        name = obj.text.split()[1]
        assert name not in interfaces, f"{path}: interface {name} twice"
        address = obj.re_match_iter_typed(ADDRESS, result_type=str, default="")
        if address:
            ip, mask = address.split()
            address = str(ipaddress.IPv4Interface(f"{ip}/{mask}"))
        vlan = obj.re_match_iter_typed(DOT1Q, result_type=str, default="")
        interfaces[name] = {"address": address or None,
                            "vrf": obj.re_match_iter_typed(VRF, result_type=str, default="") or None,
                            "vlan": int(vlan) if vlan else None}
    vrfs = {obj.text.split()[2]: [c.text.strip() for c in obj.children if c.text.strip() != "!"]
            for obj in parse.find_objects(r"^vrf\s+definition\s+\S+")}
    routes = []
    for obj in parse.find_objects(VRF_ROUTE):
        vrf, prefix, mask, *rest = obj.text.split()[3:]
        interface = gateway = None
        if rest and not _is_address(rest[0]):
            interface, rest = rest[0], rest[1:]
        if rest and _is_address(rest[0]):
            gateway = rest[0]
        routes.append({"vrf": vrf, "prefix": str(ipaddress.IPv4Network(f"{prefix}/{mask}")),
                       "interface": interface, "gateway": gateway})
    return {"interfaces": interfaces, "vrfs": vrfs, "vrf_routes": routes}


def main(paths: list[str]) -> None:
    json.dump({path: read(path) for path in paths}, sys.stdout, indent=1, sort_keys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
