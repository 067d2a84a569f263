"""The Pulumi program: build the components of one compiled stack.

``stacks/__main__.py`` calls :func:`run` with the Pulumi stack's name; the stack file is
``stacks/<name>.yaml`` (names map 1:1) and its lock must be current (nothing is renumbered here).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pulumi

from govnet.design import Design
from govnet.lab import topology
from govnet.pipeline import Compiled, LockMode, compile_stack
from govnet.provision import components as c
from govnet.provision import providers as p
from govnet.provision.components import PLATFORMS, City, Host, LabSettings, Link, Site


def links(design: Design) -> Iterator[tuple[str, str, str, bool]]:
    """Each link of the design once: (link id, one end's host, the other's, whether a tunnel)."""
    seen: set[str] = set()
    for name, facts in design.hosts.items():
        for iface in facts.interfaces:
            link_id = iface.link
            if not link_id or link_id in seen:
                continue
            seen.add(link_id)
            yield link_id, name, iface.peer, iface.kind == "tunnel"


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
    cables = {cable.link: cable for cable in topo.cables}
    keys = {}
    for link_id, a, b, tunnel in links(design):
        link = Link(city, link_id, (hosts[a], hosts[b]), cables.get(link_id), tunnel)
        if link.keys is not None:
            keys[link_id] = link.keys.keys
    return {"platform": platform,
            "hosts": {n: h.address for n, h in hosts.items()},
            "wireguard_keys": pulumi.Output.secret(keys)}


@dataclass
class Targets:
    """What a run limited to some hosts updates (see :func:`targets`)."""

    urns: list[str] = field(default_factory=list)
    #: links of the limited hosts whose cable is left alone: the far end is outside the limit and
    #: was never provisioned, so there is nothing to plug it into (link id, far end)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def _dynamic(cls) -> str:
    return f"pulumi-python:{cls._resource_type_name}"  # as pulumi.dynamic.Resource names it


def targets(compiled: Compiled, platform: str, hosts: Iterable[str], *, stack: str, project: str,
            existing: Collection[str] = ()) -> Targets:
    """The URNs a run limited to ``hosts`` must update, so nothing else is refreshed or touched.

    Each limited host with its component, machine and LAN/Internet ports; its site with the site's
    management gateway; the city component and, on the lab, the shared fabric (management bridge,
    switch and Internet namespaces, package proxy; LAN segments come with the ports); every link
    of a limited host with its tunnel keys, and its cable when the far end is limited too or
    already provisioned (in ``existing``, the URNs of the stack's state). URNs are built as the
    engine builds them: ``urn:pulumi:<stack>::<project>::<ancestors' types $-joined>::<name>``.
    """
    if platform not in PLATFORMS:
        raise ValueError(f"unknown platform {platform!r}: choose one of {', '.join(PLATFORMS)}")
    design = compiled.design
    wanted = set(hosts)
    chosen = [h for h in design.hosts if h in wanted]
    lab = platform == "lab"
    out = Targets()

    def urn(types: list[str], name: str) -> None:
        made = f"urn:pulumi:{stack}::{project}::{'$'.join(types)}::{name}"
        if made not in out.urns:
            out.urns.append(made)

    city = [c.CITY_TYPE]
    urn(city, compiled.name)
    if lab:
        urn([*city, _dynamic(p.LabFabric)], c.FABRIC_NAME)
    topo = topology.build(design) if lab else topology.LabTopology(design.stack, "", "", None)
    ports: dict[str, list[str]] = {}
    for port in topo.ports:
        ports.setdefault(port.host, []).append(port.iface)
    site, host = [*city, c.SITE_TYPE], [*city, c.SITE_TYPE, c.HOST_TYPE]
    machine = [*host, _dynamic(p.LabHost if lab else p.SshHost)]
    for name in chosen:
        site_name = design.hosts[name].site
        urn(site, site_name)
        if lab:
            urn([*site, _dynamic(p.LabGateway)], c.gateway_name(site_name))
        urn(host, name)
        urn(machine, name)
        for iface in ports.get(name, []):
            urn([*host, _dynamic(p.LabPort)], c.port_name(name, iface))
    cabled = {cable.link for cable in topo.cables}
    for link_id, a, b, tunnel in links(design):
        if a not in wanted and b not in wanted:
            continue
        link = [*city, c.LINK_TYPE]
        urn(link, link_id)
        if tunnel:
            urn([*link, _dynamic(p.WireGuardKeys)], c.keys_name(link_id))
        if link_id in cabled:
            far = b if a in wanted else a
            far_machine = f"urn:pulumi:{stack}::{project}::{'$'.join(machine)}::{far}"
            if far in wanted or far_machine in existing:
                urn([*link, _dynamic(p.LabCable)], link_id)
            else:
                out.skipped.append((link_id, far))
    return out


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
                          controller=topology.controller_address(compiled.design.city.management_network),
                          management_network=compiled.design.city.management_network,
                          internet_gateway=topology.build(compiled.design).internet_gateway)
    for key, value in define(compiled, platform, lab).items():
        pulumi.export(key, value)
