"""Where the inventory puts each fact: a host carries what its roles read, not the whole city.

The city-wide lists (DNS zones, Prometheus targets and probes, the backup plan) sit in the group
vars of the hosts that use them, so the inventory grows linearly with the city. These tests read
the static inventory and the plugin through the real ``ansible-inventory`` (Ansible's own merge of
group and host variables) and check every role of playbooks/site.yml against it: each inventory
variable a role reads is defined on every host the role runs on.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from govnet import inventory
from govnet.pipeline import LockMode, compile_stack

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ["example-city", "example-metro", "smoke-town"]
CITY_WIDE = ("govnet_dns", "govnet_monitoring", "govnet_backup")


def _plain(value):
    """ansible-core 2.19 marks plugin-set values untrusted in --list: compare the data."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _listing(source: str, env: dict) -> dict:
    proc = subprocess.run(["ansible-inventory", "-i", source, "--list"], capture_output=True,
                          text=True, env=env, timeout=300, check=True, cwd=ROOT)
    return _plain(json.loads(proc.stdout))


@pytest.fixture(scope="module", params=EXAMPLES)
def stack(request):
    return request.param


@pytest.fixture(scope="module")
def compiled(stack):
    return compile_stack(ROOT / f"stacks/{stack}.yaml", LockMode.FROZEN)


@pytest.fixture(scope="module")
def static_listing(stack):
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(Path.home())}
    return _listing(f"inventory/{stack}/hosts.yml", env)


def _members(listing: dict, group: str) -> set[str]:
    """Hosts of ``group`` and of its child groups, as ansible-inventory --list shows them."""
    if group == "all":
        return set(listing["_meta"]["hostvars"])
    found: set[str] = set()
    todo = [group]
    while todo:
        g = listing.get(todo.pop(), {})
        found.update(g.get("hosts", []))
        todo.extend(g.get("children", []))
    return found


# --------------------------------------------------------------- the static files


def test_all_carries_no_city_wide_list():
    for stack in EXAMPLES:
        all_vars = yaml.safe_load((ROOT / f"inventory/{stack}/group_vars/all.yml").read_text())
        assert not set(CITY_WIDE) & set(all_vars), stack
        # what scripts/main reads from all.yml stays there
        assert "monitoring" in all_vars["govnet_city_services"] or stack != "example-city"
        assert all_vars["govnet_city"]["portal_server_name"]


def test_the_zones_are_in_the_dns_servers_group_only():
    root = ROOT / "inventory/example-city"
    dns = yaml.safe_load((root / "group_vars/service_dns.yml").read_text())
    c = compile_stack(ROOT / "stacks/example-city.yaml", LockMode.FROZEN)
    assert dns["govnet_dns"] == c.design.dns.dump()
    for path in (root / "host_vars").glob("*.yml"):
        assert "govnet_dns" not in yaml.safe_load(path.read_text()), path.name
    holders = [p.name for p in (root / "group_vars").glob("*.yml")
               if "govnet_dns" in yaml.safe_load(p.read_text())]
    assert holders == ["service_dns.yml"]


def test_variables_files_are_pure_json_so_ansible_skips_its_yaml_parser():
    root = ROOT / "inventory/example-city"
    for path in [*(root / "group_vars").glob("*.yml"), *(root / "host_vars").glob("*.yml")]:
        json.loads(path.read_text(encoding="utf-8"))  # raises if not


# ------------------------------------------- what Ansible merges for each host


def test_dns_zones_reach_the_dns_servers_and_no_other_host(compiled, static_listing):
    hostvars = static_listing["_meta"]["hostvars"]
    dns_servers = {x.host for x in compiled.design.services["dns"]}
    assert dns_servers, "every example stack has a DNS server"
    for host, hv in hostvars.items():
        if host in dns_servers:
            assert hv["govnet_dns"] == compiled.design.dns.dump(), host
        else:
            assert "govnet_dns" not in hv, host


def test_monitoring_servers_get_their_planes_targets_others_their_exporter_only(compiled, static_listing):
    hostvars = static_listing["_meta"]["hostvars"]
    watch = compiled.design.monitoring.dump()
    servers = {x.host for x in compiled.design.services["monitoring"]}
    own = {t["host"]: t for t in watch["targets"]}
    for host, hv in hostvars.items():
        facts = compiled.design.hosts[host]
        if host in servers:  # the part of its own plane
            part = facts.monitoring.dump()
            assert hv["govnet_monitoring"] == part, host
            assert {t["plane"] for t in part["targets"]} == {part["plane"]}, host
            assert part["targets"] == [t for t in watch["targets"] if t["plane"] == part["plane"]]
        else:  # node exporter reads its address and port from the host's own facts
            assert "govnet_monitoring" not in hv, host
            listen = hv["govnet_listen"].get("node-exporter")
            assert listen == (own[host]["address"] if host in own else None), host
            assert hv["govnet_service_ports"]["node-exporter"] == [
                {"proto": "tcp", "port": watch["exporter_port"]}], host


def test_backup_plan_reaches_the_repository_and_its_clients_only(compiled, static_listing):
    hostvars = static_listing["_meta"]["hostvars"]
    keep = compiled.design.backup.dump()
    users = {x.host for x in compiled.design.services["backup"]} | {c["host"] for c in keep["clients"]}
    for host, hv in hostvars.items():
        if host in users:
            assert hv["govnet_backup"] == keep, host
        else:
            assert "govnet_backup" not in hv, host


def test_the_plugin_places_the_variables_as_the_static_files_do(stack, static_listing, venv_path_env):
    from_plugin = _listing(f"stacks/{stack}.yaml", venv_path_env)
    for host, hv in static_listing["_meta"]["hostvars"].items():
        plugin_hv = from_plugin["_meta"]["hostvars"][host]
        for name in (*CITY_WIDE, "govnet_city_services"):
            assert plugin_hv.get(name) == hv.get(name), (host, name)


# ------------------------------------------------- every role finds what it reads


def _plays() -> list[tuple[str, list[str]]]:
    plays = yaml.safe_load((ROOT / "playbooks/site.yml").read_text(encoding="utf-8"))
    return [(p["hosts"], [r["role"] if isinstance(r, dict) else r for r in p["roles"]])
            for p in plays if p.get("roles")]


def _hosts_of(pattern: str, listing: dict) -> set[str]:
    chosen: set[str] = set()
    for term in pattern.split(":"):
        members = _members(listing, term.lstrip("!&"))
        if term.startswith("!"):
            chosen -= members
        elif term.startswith("&"):
            chosen &= members
        else:
            chosen |= members
    return chosen


def test_the_plays_groups_come_from_the_inventory(static_listing):
    """site.yml's plays run on groups the inventory makes (no group_by play): Linux hosts, FRR
    routers and firewalls, tunnel ends."""
    hostvars = static_listing["_meta"]["hostvars"]
    assert _members(static_listing, "govnet_linux") == {
        h for h, v in hostvars.items() if v["govnet_platform"] in ("frr", "debian")}
    assert _members(static_listing, "govnet_frr_router") == {
        h for h, v in hostvars.items()
        if v["govnet_platform"] == "frr" and v["govnet_role"] in ("router", "firewall")}
    assert _members(static_listing, "govnet_vpn") == {h for h, v in hostvars.items() if v["govnet_tunnels"]}
    plays = yaml.safe_load((ROOT / "playbooks/site.yml").read_text(encoding="utf-8"))
    assert not [t for p in plays for t in p.get("tasks", []) if "ansible.builtin.group_by" in t]


def _read_by(role: str, defined: set[str]) -> set[str]:
    """Inventory variables a role reads without a default (``govnet_x | default(...)`` is optional)."""
    required: set[str] = set()
    for path in (ROOT / "roles" / role).rglob("*"):
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"\b(govnet_[a-z_]+)\b(\s*\|\s*default\b)?", text):
            if match.group(1) in defined and not match.group(2):
                required.add(match.group(1))
    return required


#: (role, variable) -> the group of the hosts that read it: the monitoring role reads the
#: monitoring plan (govnet_monitoring) only on its servers (tasks/server.yml and snmp.yml, included
#: when monitoring__server); node exporter, everywhere, reads govnet_listen and govnet_service_ports
READ_ONLY_ON = {("monitoring", "govnet_monitoring"): "service_monitoring"}


def test_the_node_exporter_part_of_the_monitoring_role_reads_no_monitoring_plan():
    role = ROOT / "roles" / "monitoring"
    for path in (role / "tasks" / "exporter.yml", role / "templates/etc/default/prometheus-node-exporter.j2"):
        assert "govnet_monitoring" not in path.read_text(encoding="utf-8"), path
    defaults = yaml.safe_load((role / "defaults" / "main.yml").read_text(encoding="utf-8"))
    for name in ("monitoring__exporter_address", "monitoring__exporter_port", "monitoring__server"):
        assert "govnet_monitoring" not in defaults[name], name
    main = yaml.safe_load((role / "tasks" / "main.yml").read_text(encoding="utf-8"))
    server = [t for t in main if "server.yml" in json.dumps(t)]
    assert server and server[0]["when"] == "monitoring__server | bool"


def test_every_role_finds_the_inventory_variables_it_reads(static_listing):
    hostvars = static_listing["_meta"]["hostvars"]
    defined = {name for hv in hostvars.values() for name in hv}
    assert {"govnet_dns", "govnet_monitoring"} <= defined
    missing = []
    for pattern, roles in _plays():
        hosts = _hosts_of(pattern, static_listing)
        for role in roles:
            for name in sorted(_read_by(role, defined)):
                only = READ_ONLY_ON.get((role, name))
                readers = hosts & _members(static_listing, only) if only else hosts
                missing += [f"{role} on {h}: {name}" for h in sorted(readers) if name not in hostvars[h]]
    assert missing == []


# ------------------------------------------------------------ linear growth


def _generated(tmp_path: Path, n: int):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import scale
    finally:
        sys.path.pop(0)
    text, _shape = scale.generate(n)
    path = tmp_path / f"scale-{n}.yaml"
    path.write_text(text, encoding="utf-8")
    c = compile_stack(path, LockMode.READ)
    return c, inventory.build(c.vs, c.design)


def test_a_plain_hosts_variables_do_not_grow_with_the_city(tmp_path):
    """What a unit's router carries (its host vars + every group var it inherits) stays the same
    size from 300 to 1200 devices; with the city-wide lists in ``all`` it grew fourfold."""
    sizes = []
    for n in (300, 1200):
        c, inv = _generated(tmp_path, n)
        host = next(h for h, f in c.design.hosts.items() if f.site_kind == "unit"
                    and f.role == "router" and f.platform == "frr")
        groups = [name for name, g in inv.groups.items() if host in g["hosts"]] + ["all"]
        carried = {**{k: v for g in groups for k, v in inv.groups[g]["vars"].items()},
                   **inv.hostvars[host]}
        assert not set(CITY_WIDE[::2]) & set(carried)  # govnet_dns, govnet_backup
        sizes.append(len(json.dumps(carried)))
    assert sizes[1] < 1.3 * sizes[0], sizes


# ------------------------------------------------------ the writer's fast paths


@pytest.mark.parametrize("names", [
    ["dc-core1", "wolong-gw1"],
    ["on", "dc-core1"], ["Upper-case"], ["2001-12-14"], ["a b"], ["null"], ["x:y"], ["é"],
])
def test_hosts_yml_text_is_what_pyyaml_writes(names):
    inv = inventory.Inventory()
    inv.group("all")
    for i, host in enumerate(names):
        inv.add(f"site_{i}", host)
        inv.child("kind_unit", f"site_{i}")
    inv.group("empty_group")
    for g in inv.groups.values():
        g["children"].sort()
    text = inventory.hosts_yaml(inv)
    assert text == inventory._dump(inventory.to_hosts_yaml(inv))
    assert set(yaml.safe_load(text)["all"]["children"]["site_0"]["hosts"]) == {names[0]}


def test_hosts_yml_of_the_examples_is_what_pyyaml_writes(compiled):
    inv = inventory.build(compiled.vs, compiled.design)
    assert inventory.hosts_yaml(inv) == inventory._dump(inventory.to_hosts_yaml(inv))


@pytest.mark.parametrize("value", [
    {}, [], {"a": {}}, {"a": [1, {"b": None}], 1: "x", "t": [[]]}, [[1], "é", {"k": 'v"\n'}],
    "x", 1.5, None, {"a": {"b": {"c": [1, 2.5, False]}}},
])
def test_variables_json_reads_back_as_json_dumps_writes(value):
    assert json.loads(inventory._json(value)) == json.loads(json.dumps(value))
    assert inventory._encode(value) == json.dumps(value, ensure_ascii=False)
