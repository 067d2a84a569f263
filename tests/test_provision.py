"""The Pulumi program under pulumi.runtime.set_mocks: which resources a stack declares, and with
what inputs. The real engine runs the same program in the lab tier (tests/test_lab.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pulumi
import pytest
import yaml

from govnet.lab import topology
from govnet.pipeline import LockMode, compile_stack
from govnet.provision.components import LabSettings
from govnet.provision.program import define

ROOT = Path(__file__).resolve().parents[1]


class Recorder(pulumi.runtime.Mocks):
    def __init__(self):
        self.resources: dict[tuple[str, str], dict] = {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        kind = args.typ.rsplit(":", 1)[-1]
        inputs = {k: v for k, v in args.inputs.items() if not k.startswith("__")}
        self.resources[(kind, args.name)] = inputs
        return [f"{args.name}-id", args.inputs]

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}


def declare(stack_file: Path, platform: str) -> dict[tuple[str, str], dict]:
    """Run the program for ``stack_file`` under mocks; return (kind, name) -> inputs."""
    compiled = compile_stack(stack_file, LockMode.FROZEN)
    rec = Recorder()
    pulumi.runtime.set_mocks(rec, project="govnet", stack=compiled.name, preview=False)
    lab = LabSettings(base="/base", authorized_key="ssh-ed25519 AAAA test",
                      controller=topology.controller_address(compiled.design.city.management_network),
                      management_network=compiled.design.city.management_network,
                      internet_gateway=topology.build(compiled.design).internet_gateway)

    @pulumi.runtime.test
    def run():
        outputs = define(compiled, platform, lab if platform == "lab" else None)
        return pulumi.Output.all(*outputs.values())

    run()
    return rec.resources


def kinds(resources) -> dict[str, int]:
    out: dict[str, int] = {}
    for kind, _name in resources:
        out[kind] = out.get(kind, 0) + 1
    return out


@pytest.fixture(scope="module")
def city_lab():
    return declare(ROOT / "stacks/example-city.yaml", "lab")


def test_lab_declares_one_host_per_device(city_lab):
    compiled = compile_stack(ROOT / "stacks/example-city.yaml", LockMode.FROZEN)
    hosts = {name for kind, name in city_lab if kind == "LabHost"}
    assert hosts == set(compiled.design.hosts)


def test_lab_declares_every_port_and_cable(city_lab):
    topo = topology.build(compile_stack(ROOT / "stacks/example-city.yaml", LockMode.FROZEN).design)
    counts = kinds(city_lab)
    assert counts["LabPort"] == len(topo.ports)
    assert counts["LabCable"] == len(topo.cables) == 7
    assert counts["LabFabric"] == 1
    assert counts["LabGateway"] == len(topo.gateways)


def test_components_group_the_resources(city_lab):
    counts = kinds(city_lab)
    assert counts["City"] == 1
    assert counts["Site"] == 9
    assert counts["Host"] == 17
    assert counts["Link"] == 9


def test_vpn_link_gets_secret_keys_and_no_cable(city_lab):
    assert ("WireGuardKeys", "dc.fw1~xixia.gw1.keys") in city_lab
    assert ("LabCable", "dc.fw1~xixia.gw1") not in city_lab


def test_host_inputs_come_from_the_design(city_lab):
    h = city_lab[("LabHost", "xixia-gw1")]
    assert h["mgmt_address"] == "198.18.128.130/27"
    assert h["mgmt_gateway"] == "198.18.128.129"
    assert h["mgmt_network"] == "198.18.128.0/20"


def test_ssh_platform_creates_nothing_on_the_machine():
    resources = declare(ROOT / "stacks/example-city.yaml", "ssh")
    counts = kinds(resources)
    assert counts["SshHost"] == 17
    assert not {k for k in counts if k.startswith("Lab")}
    assert resources[("SshHost", "dc-core1")]["address"] == "198.18.128.2"


def test_adding_a_county_only_adds(tmp_path):
    """A new county brings its site, host, ports and cable; every other resource keeps exactly
    the inputs it had, so the engine leaves it alone."""
    before = declare(ROOT / "stacks/example-city.yaml", "lab")
    stack = yaml.safe_load((ROOT / "stacks/example-city.yaml").read_text(encoding="utf-8"))
    stack["sites"].append({"name": "nanzhao", "kind": "county", "subnets": {"extranet": None},
                           "devices": [{"name": "gw1", "role": "router"}]})
    stack["links"].append({"a": "dc.core1", "b": "nanzhao.gw1", "medium": "fiber"})
    path = tmp_path / "example-city.yaml"
    path.write_text(yaml.safe_dump(stack, allow_unicode=True), encoding="utf-8")
    shutil.copy(ROOT / "stacks/example-city.lock", tmp_path / "example-city.lock")
    compile_stack(path, LockMode.WRITE)
    after = declare(path, "lab")
    added = set(after) - set(before)
    assert not set(before) - set(after)
    assert {k for k in before if before[k] != after[k]} == set()
    assert ("LabHost", "nanzhao-gw1") in added
    assert ("LabCable", "dc.core1~nanzhao.gw1") in added
    assert {kind for kind, _ in added} == {"Site", "Host", "Link", "LabGateway", "LabHost",
                                           "LabPort", "LabCable"}
