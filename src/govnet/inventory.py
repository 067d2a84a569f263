"""Inventory: the design as Ansible groups and host variables.

One job: Design -> :class:`Inventory` (groups, hosts, variables). The Ansible inventory plugin
(``plugins/inventory/govnet.py``) and the static ``hosts.yml`` + ``host_vars/`` writer both use it,
so the two can never disagree. Host variables carry the ``govnet_`` prefix.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from json.encoder import c_make_encoder, encode_basestring

import yaml

from govnet import model as m
from govnet import output, standard
from govnet.addressing import address
from govnet.design import Design
from govnet.facts import HostFacts
from govnet.perf import no_gc
from govnet.rules import ValidStack, county_of

_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
PREFIX = "govnet_"
#: services listed in ``all``'s ``govnet_city_services``: those every city host uses
CENTRAL_SERVICES = frozenset(s.value for s in standard.CLIENT_SERVICES)
#: services whose role reads the service's own hosts from ``govnet_city_services`` although they
#: are not central (the database role: its listen addresses); their groups get them too
OWN_ENTRY_READERS = frozenset({m.Service.database.value})


def group_name(*parts: str) -> str:
    """Ansible group names are identifiers: 'site', 'wolong-edu' -> 'site_wolong_edu'."""
    return "_".join(p.replace("-", "_") for p in parts)


@dataclass
class Inventory:
    groups: dict[str, dict] = field(default_factory=dict)  # name -> {hosts, children, vars}
    hostvars: dict[str, dict] = field(default_factory=dict)
    _edges: set[tuple[str, str]] = field(default_factory=set, repr=False)

    def group(self, name: str) -> dict:
        g = self.groups.get(name)
        if g is None:
            g = self.groups[name] = {"hosts": [], "children": [], "vars": {}}
        return g

    def add(self, group: str, host: str) -> None:
        self.group(group)["hosts"].append(host)

    def child(self, parent: str, child: str) -> None:
        if (parent, child) not in self._edges:
            self._edges.add((parent, child))
            self.group(parent)["children"].append(child)
        self.group(child)


@no_gc
def build(vs: ValidStack, design: Design) -> Inventory:
    """Groups by site, county (a county and every unit below it), site kind, role, platform, zone
    and service; ``all`` carries the small city-wide values every host may read.

    Each city-wide list goes only to the hosts whose roles read it (playbooks/site.yml), so a host
    carries what it uses and the inventory grows linearly with the city: ``all``'s
    ``govnet_city_services`` lists the central services (DNS, NTP, syslog, monitoring) and
    ``service_database`` adds the database's hosts to it; the zones
    (``govnet_dns``) to ``service_dns``, each monitoring server's plane's scrape targets and probes
    (``govnet_monitoring``, a host fact), the backup plan (``govnet_backup``) to ``service_backup`` and
    ``backup_clients``. Every other host the monitoring role runs on (node exporter on every city
    Linux host) reads its exporter's address from its ``govnet_listen['node-exporter']`` (a host
    fact: none, no exporter) and the port from ``govnet_service_ports['node-exporter']``.
    """
    inv = Inventory()
    services = {k: [x.dump() for x in v] for k, v in design.services.items()
                if v and k in CENTRAL_SERVICES | OWN_ENTRY_READERS}
    inv.group("all")["vars"] = {
        f"{PREFIX}stack": design.stack,
        f"{PREFIX}city": design.city.dump(),
        # the central services every city host is a client of (govnet_clients): few hosts each
        f"{PREFIX}city_services": {k: v for k, v in services.items() if k in CENTRAL_SERVICES},
        # where each service listens (govnet.standard.SERVICE_PORTS): roles read ports from here
        f"{PREFIX}service_ports": {
            **{svc.value: [{"proto": proto, "port": port} for proto, port in ports]
               for svc, ports in standard.SERVICE_PORTS.items()},
            # not a service of the stack: every scraped host's node exporter (govnet_listen)
            "node-exporter": [{"proto": "tcp", "port": design.monitoring.exporter_port}]},
        # the folders the services keep their data in (the roles write there, the backup keeps them)
        f"{PREFIX}data_dirs": {svc.value: path for svc, path in standard.DATA_DIRS.items()},
        # the 等保 controls' accounts and packages (the dengbao role applies them, compliance checks)
        f"{PREFIX}dengbao": {"admins": [dict(a) for a in standard.DENGBAO_ADMINS],
                             "unneeded_packages": list(standard.DENGBAO_UNNEEDED_PACKAGES)},
    }
    # county groups: the county's site and all units whose parent chain reaches it
    for name in vs.sites:
        inv.child(group_name("kind", vs.sites[name].kind.value), group_name("site", name))
        county = county_of(vs, name)
        if county:
            inv.child(group_name("county", county), group_name("site", name))
    linux = {p.value for p in standard.LINUX_PLATFORMS}
    _host_groups(inv, design, linux)
    # hosts whose data goes to the disaster-recovery site (govnet.backup)
    for client in design.backup.clients:
        inv.add("backup_clients", client.host)
    # the city-wide lists, each for the group of the hosts that read it
    for svc in OWN_ENTRY_READERS:
        _group_var(inv, group_name("service", svc), "city_services", services)
    _group_var(inv, group_name("service", m.Service.dns.value), "dns", design.dns.dump())
    # each monitoring server's part (its own plane's targets) is a host fact: HostFacts.monitoring
    for group in (group_name("service", m.Service.backup.value), "backup_clients"):
        _group_var(inv, group, "backup", design.backup.dump())
    for host, facts in design.hosts.items():
        hv = {"ansible_host": address(facts.management.address)}
        for k, v in facts.dump().items():
            hv[PREFIX + k] = v
        inv.hostvars[host] = hv
    # deterministic order: groups by name, hosts as the stack lists them
    inv.groups = dict(sorted(inv.groups.items(), key=lambda kv: (kv[0] != "all", kv[0])))
    for g in inv.groups.values():
        g["children"].sort()
    return inv


def _host_groups(inv: Inventory, design: Design, linux: set[str]) -> None:
    """Each host in the groups of its site, role, platform, zone and services, and in the groups
    playbooks/site.yml's plays run on."""
    for host, facts in design.hosts.items():
        inv.add(group_name("site", facts.site), host)
        inv.add(group_name("role", facts.role), host)
        inv.add(group_name("platform", facts.platform), host)
        if facts.zone:
            inv.add(group_name("zone", facts.zone), host)
        for svc in facts.services:
            inv.add(group_name("service", svc), host)
        for group in _play_groups(facts, linux):
            inv.add(group, host)


#: The groups playbooks/site.yml's plays run on, beside the stack's own (site, role, service, …)
LINUX_GROUP, FRR_ROUTER_GROUP, VPN_GROUP = "govnet_linux", "govnet_frr_router", "govnet_vpn"


def _play_groups(facts: HostFacts, linux: set[str]) -> list[str]:
    """Linux hosts (baseline, dengbao, …), FRR routers and firewalls (router), tunnel ends (vpn)."""
    groups = [LINUX_GROUP] if facts.platform in linux else []
    if facts.platform == m.Platform.frr.value and facts.routing:
        groups.append(FRR_ROUTER_GROUP)
    if facts.tunnels:
        groups.append(VPN_GROUP)
    return groups


def _group_var(inv: Inventory, group: str, name: str, value) -> None:
    """Give ``group`` the variable ``govnet_<name>`` when the group has hosts (else nobody reads it)."""
    if group in inv.groups:
        inv.groups[group]["vars"][PREFIX + name] = value


def to_hosts_yaml(inv: Inventory) -> dict:
    """The YAML inventory structure (hosts.yml): every group once under ``all``, children by name.

    Host variables go to host_vars/ and group variables to group_vars/ (see :func:`files`).
    """
    groups: dict = {}
    for name, g in inv.groups.items():
        if name == "all":
            continue
        entry: dict = {}
        if g["hosts"]:
            entry["hosts"] = dict.fromkeys(g["hosts"])
        if g["children"]:
            entry["children"] = {c: {} for c in g["children"]}
        groups[name] = entry
    return {"all": {"children": groups}}


def _dump(data) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True,
                     default_flow_style=False, width=120)


#: names PyYAML writes as plain scalars (lower-case identifiers, not a YAML 1.1 keyword)
_PLAIN = re.compile(r"[a-z_][a-z0-9_-]*")
_KEYWORDS = frozenset({"yes", "no", "true", "false", "on", "off", "null"})


def _plain(name: str) -> bool:
    return _PLAIN.fullmatch(name) is not None and name not in _KEYWORDS


def hosts_yaml(inv: Inventory) -> str:
    """hosts.yml's text: exactly ``_dump(to_hosts_yaml(inv))``, written line by line (10x faster)
    when every group and host name is a plain YAML scalar, as govnet's names are."""
    groups = to_hosts_yaml(inv)["all"]["children"]
    names = [n for name, g in groups.items() for n in (name, *g.get("hosts", ()), *g.get("children", ()))]
    if not all(map(_plain, names)):
        return _dump({"all": {"children": groups}})
    lines = ["all:", "  children:"] if groups else ["all:", "  children: {}"]
    for name, g in groups.items():
        if not g:
            lines.append(f"    {name}: {{}}")
            continue
        lines.append(f"    {name}:")
        if "hosts" in g:
            lines.append("      hosts:")
            lines += [f"        {h}: null" for h in g["hosts"]]
        if "children" in g:
            lines.append("      children:")
            lines += [f"        {c}: {{}}" for c in g["children"]]
    return "\n".join(lines) + "\n"


_json_encoder = json.JSONEncoder(ensure_ascii=False)
if c_make_encoder is not None:  # CPython's C encoder made once (JSONEncoder.encode makes one a call)
    _c_encoder = c_make_encoder(None, _json_encoder.default, encode_basestring, None, ": ", ", ",
                                False, False, True)

    def _encode(value) -> str:
        """json.dumps(value, ensure_ascii=False), twice as fast on small values."""
        return "".join(_c_encoder(value, 0))
else:  # pragma: no cover - Python without the _json accelerator
    _encode = _json_encoder.encode

_CONTAINERS = (dict, list)


def _json(value, indent: str = "") -> str:
    """JSON for a variables file: a mapping or list that holds mappings or lists gets one line per
    item, anything else is written on one line (``{"area": "0.0.0.0", "passive": true}``).

    JSON is YAML too, and Ansible's loader tries JSON first: a variables file that is pure JSON
    (no comment) skips the much slower YAML parser. One line per item keeps review diffs small.
    """
    kind = type(value)
    if kind is dict:
        if not any(type(v) in _CONTAINERS for v in value.values()):
            return _encode(value)
        inner = indent + "  "
        items = [(encode_basestring(k) if type(k) is str else _encode({k: 0})[1:-4]) + ": "
                 + (_json(v, inner) if type(v) in _CONTAINERS else
                    encode_basestring(v) if type(v) is str else _encode(v))
                 for k, v in value.items()]
        return "{\n" + inner + (",\n" + inner).join(items) + "\n" + indent + "}"
    if kind is list:
        if not any(type(v) in _CONTAINERS for v in value):
            return _encode(value)
        inner = indent + "  "
        return "[\n" + inner + (",\n" + inner).join([_json(v, inner) for v in value]) + "\n" + indent + "]"
    return _encode(value)


HEADER = ("# Generated by govnet from stacks/{stack}.yaml — do not edit by hand, nor anything in\n"
          "# group_vars/ and host_vars/ (JSON, which Ansible reads fastest).\n"
          "# Change the stack and run: govnet inventory stacks/{stack}.yaml\n")


@no_gc
def files(inv: Inventory, stack: str) -> dict[str, str]:
    """Relative path -> content of the static inventory: hosts.yml (the groups), one
    ``group_vars/<group>.yml`` per group with variables, one ``host_vars/<host>.yml`` per host.

    The variables files are JSON (valid YAML) without a comment, so Ansible's loader reads them
    with its JSON parser: measured at 10 000 hosts, ``ansible-inventory --list`` takes 53 s on them
    against 74 s with a comment line (YAML parser) and 95 s with the host variables inline in
    hosts.yml (benchmarks/README.md).
    """
    out = {"hosts.yml": HEADER.format(stack=stack) + hosts_yaml(inv)}
    for name, g in inv.groups.items():
        if g["vars"]:
            out[f"group_vars/{name}.yml"] = _json(g["vars"]) + "\n"
    for host, hv in inv.hostvars.items():
        out[f"host_vars/{host}.yml"] = _json(hv) + "\n"
    return out


def write_tree(contents: dict[str, str], out_dir: str | os.PathLike, *,
               owned: tuple[str, ...] = (".yml",)) -> list[str]:
    """Write the inventory under ``out_dir`` (only changed files) and remove the stale files of the
    suffixes govnet owns, anywhere in it. Returns the relative paths written or removed, sorted."""
    return output.write_tree(contents, out_dir, owns=lambda rel: rel.endswith(owned))


def select(vs: ValidStack, design: Design, limit: str | None) -> list[str]:
    """Host names matched by an Ansible-style ``limit``: comma-separated host or group names
    (a group brings its child groups); every host when ``limit`` is empty."""
    if not limit:
        return list(design.hosts)
    inv = build(vs, design)
    chosen: set[str] = set()
    for part in limit.split(","):
        if part in design.hosts:
            chosen.add(part)
            continue
        todo = [part]
        while todo:
            g = inv.groups.get(todo.pop())
            if g:
                chosen.update(g["hosts"])
                todo.extend(g["children"])
    return [h for h in design.hosts if h in chosen]
