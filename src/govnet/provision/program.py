"""The Pulumi program: build the components of one compiled stack.

``stacks/__main__.py`` calls :func:`run` with the Pulumi stack's name; the stack file is
``stacks/<name>.yaml`` (names map 1:1) and its lock must be current (nothing is renumbered here).
"""

from __future__ import annotations

from pathlib import Path

import pulumi

from govnet.lab import topology
from govnet.pipeline import Compiled, LockMode, compile_stack
from govnet.provision.components import PLATFORMS, City, Host, LabSettings, Link, Site


def define(compiled: Compiled, platform: str, lab: LabSettings | None) -> dict:
    """Declare every resource of ``compiled``; return the stack outputs."""
    if platform not in PLATFORMS:
        raise ValueError(f"unknown platform {platform!r}: choose one of {', '.join(PLATFORMS)}")
    design = compiled.design
    topo = topology.build(design)
    city = City(compiled.name, platform, lab)
    sites: dict[str, Site] = {}
    for site_name, gateway in topo.gateways.items():
        sites[site_name] = Site(city, site_name, gateway)
    ports: dict[str, list] = {}
    for port in topo.ports:
        ports.setdefault(port.host, []).append(port)
    hosts = {h.name: Host(sites[h.site], h, ports.get(h.name, []), lab) for h in topo.hosts}
    cables = {c.link: c for c in topo.cables}
    keys = {}
    seen: set[str] = set()
    for name, facts in design.hosts.items():
        for iface in facts["interfaces"]:
            link_id = iface.get("link")
            if not link_id or link_id in seen:
                continue
            seen.add(link_id)
            tunnel = iface["kind"] == "tunnel"
            link = Link(city, link_id, hosts[name], hosts[iface["peer"]], cables.get(link_id), tunnel)
            if link.keys is not None:
                keys[link_id] = link.keys.keys
    return {"platform": platform,
            "hosts": {n: h.address for n, h in hosts.items()},
            "wireguard_keys": pulumi.Output.secret(keys)}


def run(stack_dir: Path) -> None:
    """Entry point for ``stacks/__main__.py``."""
    config = pulumi.Config("govnet")
    name = pulumi.get_stack()
    compiled = compile_stack(stack_dir / f"{name}.yaml", LockMode.FROZEN)
    platform = config.get("platform") or "lab"
    lab = None
    if platform == "lab":
        problems = topology.problems(compiled.design)
        if problems:
            raise ValueError(f"stack {name} cannot run as a lab: " + "; ".join(problems))
        lab = LabSettings(base=config.require("base"), authorized_key=config.require("sshPublicKey"),
                          controller=topology.controller_address(compiled.design.city["management_network"]),
                          management_network=compiled.design.city["management_network"],
                          internet_gateway=topology.build(compiled.design).internet_gateway)
    for key, value in define(compiled, platform, lab).items():
        pulumi.export(key, value)
