"""Generated outputs: golden files current, inventory plugin == static inventory, schema current,
CLI formats. Regenerate golden trees with: govnet render|inventory STACK (see README)."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml

from govnet import cli, inventory, render, schema
from govnet.addressing import address
from govnet.output import diff_tree
from govnet.pipeline import LockMode, compile_stack

EXAMPLES = ["example-city", "example-metro", "smoke-town"]


@pytest.fixture(scope="module", params=EXAMPLES)
def compiled(request):
    return compile_stack(f"stacks/{request.param}.yaml", LockMode.FROZEN)


def test_rendered_configs_match_the_committed_golden_files(compiled):
    files = render.render(compiled.design,
                          management_supernet=compiled.vs.stack.address_plan.management)
    diffs = diff_tree(files, Path("configs") / compiled.name, (".conf", ".cfg"))
    assert diffs == [], f"run: govnet render stacks/{compiled.name}.yaml"


def test_static_inventory_matches_the_committed_golden_files(compiled):
    files = inventory.files(inventory.build(compiled.vs, compiled.design), compiled.name)
    diffs = diff_tree(files, Path("inventory") / compiled.name, (".yml",))
    assert diffs == [], f"run: govnet inventory stacks/{compiled.name}.yaml"


def test_schema_file_is_current():
    assert Path("schemas/govnet-stack.schema.json").read_text(encoding="utf-8") == schema.schema_text()


@pytest.mark.parametrize("stack", EXAMPLES)
def test_example_stacks_validate_against_the_json_schema(stack):
    data = yaml.safe_load(Path(f"stacks/{stack}.yaml").read_text(encoding="utf-8"))
    jsonschema.validate(data, schema.stack_schema())


def test_json_schema_rejects_an_unknown_key():
    data = yaml.safe_load(Path("stacks/example-city.yaml").read_text(encoding="utf-8"))
    data["sites"][0]["devices"][0]["platfrom"] = "frr"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, schema.stack_schema())


@pytest.mark.parametrize("stack", EXAMPLES)
def test_ansible_inventory_plugin_matches_static_inventory(stack, venv_path_env):
    """The real ansible-inventory, through ansible.cfg and the govnet plugin."""
    def plain(value):  # ansible-core 2.19 marks plugin-set values untrusted: compare the data
        if isinstance(value, dict):
            if set(value) == {"__ansible_unsafe"}:
                return value["__ansible_unsafe"]
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, list):
            return [plain(v) for v in value]
        return value

    def listing(source: str) -> dict:
        proc = subprocess.run(["ansible-inventory", "-i", source, "--list"], capture_output=True,
                              text=True, env=venv_path_env, timeout=300, check=True)
        return plain(json.loads(proc.stdout))

    from_plugin = listing(f"stacks/{stack}.yaml")
    from_static = listing(f"inventory/{stack}/hosts.yml")
    assert from_plugin["_meta"]["hostvars"] == from_static["_meta"]["hostvars"]
    def groups(listing_: dict) -> dict:
        # hosts.yml lists every group under 'all'; which groups sit directly below 'all' means
        # nothing (all is every group's ancestor), so compare all other groups
        return {name: {k: sorted(v) for k, v in g.items()}
                for name, g in listing_.items() if name not in ("_meta", "all")}

    assert groups(from_plugin) == groups(from_static)


def test_ansible_inventory_graph_groups_a_county_with_its_units(venv_path_env):
    proc = subprocess.run(["ansible-inventory", "-i", "stacks/example-city.yaml", "--graph",
                           "county_wolong"], capture_output=True, text=True, env=venv_path_env,
                          timeout=120, check=True)
    assert "wolong-gw1" in proc.stdout and "wolong-edu-gw1" in proc.stdout
    assert "xixia-gw1" not in proc.stdout


def test_ansible_fails_loudly_on_a_broken_stack(venv_path_env):
    proc = subprocess.run(["ansible-inventory", "-i", "tests/errors/unknown-endpoint.yaml",
                           "--list"], capture_output=True, text=True, env=venv_path_env,
                          timeout=120, check=False)
    assert proc.returncode != 0
    assert "unknown-endpoint" in proc.stderr


@pytest.mark.parametrize(("group", "member"), [
    ("site_dc", "dc-core1"), ("kind_county", "site_wolong"), ("role_firewall", "dc-fw1"),
    ("platform_frr", "xixia-gw1"), ("zone_extranet", "dc-portal1"), ("service_dns", "dc-infra1"),
    ("county_wolong", "site_wolong_edu"),
])
def test_inventory_groups(group, member):
    c = compile_stack("stacks/example-city.yaml", LockMode.FROZEN)
    g = inventory.build(c.vs, c.design).groups[group]
    assert member in g["hosts"] + g["children"]


def test_host_vars_carry_addresses_and_service_endpoints():
    c = compile_stack("stacks/example-city.yaml", LockMode.FROZEN)
    hv = inventory.build(c.vs, c.design).hostvars["wolong-gw1"]
    assert hv["ansible_host"] == address(hv["govnet_management"]["address"])
    assert hv["govnet_clients"]["syslog"] == [address(c.plan.entries["host:dc.infra1"])]


@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_addresses_formats(fmt, capsys):
    assert cli.main(["addresses", "stacks/example-city.yaml", "--format", fmt]) == 0
    out = capsys.readouterr().out
    if fmt == "json":
        rows = json.loads(out)
    elif fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(out)))
    else:
        assert out.splitlines()[0].split() == ["KIND", "OWNER", "ZONE", "ADDRESS"]
        return
    assert {"kind": "loopback", "owner": "dc.core1", "zone": "",
            "address": "198.18.144.1/32"} in rows


def test_plan_check_passes_on_the_committed_lock(capsys):
    assert cli.main(["plan", "--check", "stacks/example-city.yaml"]) == 0
    assert "up to date" in capsys.readouterr().out


def test_plan_check_fails_when_a_site_is_added(tmp_path, capsys):
    text = Path("stacks/example-city.yaml").read_text(encoding="utf-8")
    text = text.replace("links:\n", "  - {name: nanzhao, kind: county, subnets: {extranet: null}, "
                        "devices: [{name: gw1, role: router}]}\n\nlinks:\n"
                        "  - {a: dc.core1, b: nanzhao.gw1, medium: fiber}\n", 1)
    stack = tmp_path / "city.yaml"
    stack.write_text(text, encoding="utf-8")
    (tmp_path / "city.lock").write_text(Path("stacks/example-city.lock").read_text())
    assert cli.main(["plan", "--check", str(stack)]) == 1
    out = capsys.readouterr().out
    assert "+ subnet:nanzhao:intranet" in out and "0 to remove" in out


@pytest.mark.parametrize("flag", ["render", "inventory"])
def test_check_mode_reports_a_difference_and_writes_nothing(tmp_path, flag, capsys):
    out_dir = tmp_path / "out"
    assert cli.main([flag, "stacks/example-city.yaml", "--out", str(out_dir)]) == 0
    victim = next(p for p in out_dir.rglob("*") if p.is_file())
    victim.write_text("edited by hand\n")
    assert cli.main([flag, "stacks/example-city.yaml", "--out", str(out_dir), "--check"]) == 1
    assert victim.read_text() == "edited by hand\n"
    assert "changed:" in capsys.readouterr().out
