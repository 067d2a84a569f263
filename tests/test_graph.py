"""Tests of govnet.graph: the topology picture, one behaviour per test.

Structure is checked on the DOT source (parsed here: one statement per line, as the graphviz
package writes it); rendering is checked on real output of Graphviz ``dot``. Both example stacks
are drawn: the small lab city and the hundred-site metro.
"""

from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from govnet import graph
from govnet.addressing import Plan, address, allocate, lock_path, read_lock
from govnet.model import Medium, Role, SiteKind
from govnet.rules import ValidStack
from govnet.validate import load

REPO = Path(__file__).resolve().parents[1]
STACKS = ("example-city", "example-metro")
SVG_NS = "{http://www.w3.org/2000/svg}"

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz 'dot' not installed")

# --------------------------------------------------------------------------- a small DOT reader

_ID = r'"(?:[^"\\]|\\.)*"|[A-Za-z_][\w.]*'
_SUBGRAPH = re.compile(rf"^\s*subgraph ({_ID}) \{{$")
_EDGE = re.compile(rf"^\s*({_ID}) -- ({_ID})(?: \[(.*)\])?$")
_NODE = re.compile(rf"^\s*({_ID}) \[(.*)\]$")
_KEY = re.compile(r"\s*(\w+)=")


def _unquote(ident: str) -> str:
    return ident[1:-1].replace('\\"', '"') if ident.startswith('"') else ident


def _attrs(text: str) -> dict[str, str]:
    """Parse ``a=b c="d e" label=<<B>x</B>>`` into a dict (quotes and outer <> removed)."""
    out: dict[str, str] = {}
    i = 0
    while (match := _KEY.match(text, i)) is not None:
        key, i = match.group(1), match.end()
        if text[i] == '"':
            j = i + 1
            while text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out[key], i = text[i + 1:j], j + 1
        elif text[i] == "<":
            depth, j = 0, i
            while True:
                depth += {"<": 1, ">": -1}.get(text[j], 0)
                j += 1
                if depth == 0:
                    break
            out[key], i = text[i + 1:j - 1], j
        else:
            j = i
            while j < len(text) and not text[j].isspace():
                j += 1
            out[key], i = text[i:j], j
    return out


@dataclass
class Dot:
    clusters: list[str] = field(default_factory=list)
    nodes: dict[str, dict[str, str]] = field(default_factory=dict)
    inside: dict[str, list[str]] = field(default_factory=dict)  # node -> enclosing subgraphs
    edges: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)


def parse(source: str) -> Dot:
    dot = Dot()
    open_: list[str] = []  # subgraphs open at this line ("" for anonymous ones)
    for line in source.splitlines()[1:-1]:  # inside "graph NAME { ... }"
        if match := _SUBGRAPH.match(line):
            dot.clusters.append(_unquote(match.group(1)))
            open_.append(dot.clusters[-1])
        elif line.strip() == "{":
            open_.append("")
        elif line.strip() == "}":
            open_.pop()
        elif match := _EDGE.match(line):
            a, b = _unquote(match.group(1)), _unquote(match.group(2))
            dot.edges.append((a, b, _attrs(match.group(3) or "")))
        elif (match := _NODE.match(line)) and match.group(1) not in ("graph", "node", "edge"):
            node = _unquote(match.group(1))
            dot.nodes[node] = _attrs(match.group(2))
            dot.inside[node] = list(open_)
    return dot


# --------------------------------------------------------------------------- fixtures


def compile_example(name: str) -> tuple[ValidStack, Plan]:
    path = REPO / "stacks" / f"{name}.yaml"
    vs = load(path)
    return vs, allocate(vs, read_lock(lock_path(path)))


@pytest.fixture(scope="module", params=STACKS)
def example(request) -> tuple[ValidStack, Plan]:
    return compile_example(request.param)


@pytest.fixture(scope="module")
def drawn(example) -> tuple[ValidStack, Dot]:
    vs, plan = example
    return vs, parse(graph.to_dot(vs, plan).source)


def link_edges(vs: ValidStack, dot: Dot) -> list[tuple[str, str, dict[str, str]]]:
    """Edges between two devices: the links (LAN, cloud and legend edges have other ends)."""
    return [e for e in dot.edges if e[0] in vs.devices and e[1] in vs.devices]


def city_with_switch(tmp_path: Path) -> ValidStack:
    data = yaml.safe_load((REPO / "stacks" / "example-city.yaml").read_text(encoding="utf-8"))
    dc = next(s for s in data["sites"] if s["name"] == "dc")
    dc["devices"].append({"name": "sw1", "role": "switch", "platform": "huawei-vrp"})
    path = tmp_path / "city-switch.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return load(path)


# --------------------------------------------------------------------------- structure


def test_every_site_is_a_cluster(drawn):
    vs, dot = drawn
    assert {f"cluster_{name}" for name in vs.sites} <= set(dot.clusters)


def test_every_device_is_a_node_in_its_site_cluster(drawn):
    vs, dot = drawn
    assert all(f"cluster_{site}" in dot.inside[key] for key, site in vs.site_of.items())


def test_units_nest_in_their_county(drawn):
    vs, dot = drawn
    for name, site in vs.sites.items():
        parent = vs.parents.get(name)
        if site.kind == SiteKind.unit and vs.sites[parent].kind == SiteKind.county:
            assert f"cluster_{parent}" in dot.inside[f"{name}.{site.devices[0].name}"], name


def test_every_link_is_an_edge(drawn):
    vs, dot = drawn
    edges = Counter((a, b) for a, b, _ in link_edges(vs, dot))
    assert edges == Counter((link.a, link.b) for link in vs.stack.links)


#: What each medium must look like: (attribute, predicate on its value).
MEDIUM_LOOK = {
    Medium.fiber: ("style", lambda v: "bold" in v and "dashed" not in v and "dotted" not in v),
    Medium.broadband: ("style", lambda v: "dashed" in v),
    Medium.leased: ("color", lambda v: v.count(":") == 2),  # two parallel lines
    Medium.vpn: ("style", lambda v: "dotted" in v),
}


@pytest.mark.parametrize("medium", list(Medium), ids=str)
def test_link_edge_is_styled_by_medium(drawn, medium):
    vs, dot = drawn
    # parallel links (a primary and its backup) are edges between the same two devices, drawn in
    # the order the stack lists them
    mediums: dict[tuple[str, str], list] = {}
    for link in vs.stack.links:
        mediums.setdefault((link.a, link.b), []).append(link.medium)
    edges = [attrs for a, b, attrs in link_edges(vs, dot) if mediums[(a, b)].pop(0) == medium]
    attribute, looks_right = MEDIUM_LOOK[medium]
    assert edges, f"the example stack has no {medium.value} link"
    assert all(looks_right(attrs.get(attribute, "")) for attrs in edges)


def test_vpn_edges_are_dotted_and_labelled_vpn(drawn):
    vs, dot = drawn
    vpn = {(link.a, link.b) for link in vs.stack.links if link.medium == Medium.vpn}
    edges = [attrs for a, b, attrs in link_edges(vs, dot) if (a, b) in vpn]
    assert len(edges) == len(vpn)
    assert all("dotted" in attrs["style"] and "VPN" in attrs["label"] for attrs in edges)


@pytest.mark.parametrize(("role", "shape"), [(Role.router, "ellipse"), (Role.firewall, "octagon"),
                                             (Role.switch, "box"), (Role.server, "box3d")],
                         ids=str)
def test_device_shape_follows_role(tmp_path, role, shape):
    vs = city_with_switch(tmp_path)
    dot = parse(graph.to_dot(vs).source)
    keys = [k for k, d in vs.devices.items() if d.role == role]
    assert keys
    assert all(dot.nodes[k]["shape"] == shape for k in keys)


def test_servers_hang_off_their_zone_gateway(drawn):
    vs, dot = drawn
    pairs = {frozenset((a, b)) for a, b, _ in dot.edges}
    for key, dev in vs.devices.items():
        if dev.role == Role.server and dev.zone:
            site = vs.site_of[key]
            lan = f"{site}~{dev.zone}"
            assert frozenset((lan, key)) in pairs, key
            assert frozenset((vs.gateways[(site, dev.zone)], lan)) in pairs, key


def test_egress_firewall_reaches_the_internet_cloud(drawn):
    vs, dot = drawn
    egress = [k for k, d in vs.devices.items() if d.internet and d.internet.mode.value == "egress"]
    assert egress
    assert all((graph.INTERNET, k) in {(a, b) for a, b, _ in dot.edges} for k in egress)


def test_plan_puts_loopbacks_on_routers(example):
    vs, plan = example
    dot = parse(graph.to_dot(vs, plan).source)
    for key, dev in vs.devices.items():
        if dev.role == Role.router:
            assert address(plan.entries[f"loopback:{key}"]) in dot.nodes[key]["label"], key


def test_without_plan_no_address_is_shown(example):
    vs, plan = example
    dot = parse(graph.to_dot(vs).source)
    loopback = address(plan.entries[f"loopback:{next(iter(vs.devices))}"])
    assert all(loopback not in attrs.get("label", "") for attrs in dot.nodes.values())


def test_dot_source_is_deterministic(example):
    vs, plan = example
    again_vs, again_plan = compile_example(vs.name)
    assert graph.to_dot(vs, plan).source == graph.to_dot(again_vs, again_plan).source


# --------------------------------------------------------------------------- writing


@needs_dot
def test_svg_is_valid_and_shows_every_site_display_name(example, tmp_path):
    vs, plan = example
    out = graph.write(graph.to_dot(vs, plan), tmp_path / "topology.svg")
    root = ET.parse(out).getroot()
    texts = {t.text for t in root.iter(f"{SVG_NS}text")}
    assert root.tag == f"{SVG_NS}svg"
    assert {s.display_name or name for name, s in vs.sites.items()} <= texts


@needs_dot
@pytest.mark.parametrize(("suffix", "magic"), [(".png", b"\x89PNG\r\n\x1a\n"), (".pdf", b"%PDF-"),
                                               (".svg", b"<?xml")])
def test_file_format_follows_suffix(tmp_path, suffix, magic):
    vs, plan = compile_example("example-city")
    out = graph.write(graph.to_dot(vs, plan), tmp_path / f"topology{suffix}")
    assert out.read_bytes().startswith(magic)


def test_dot_suffix_writes_the_source(tmp_path):
    vs, plan = compile_example("example-city")
    g = graph.to_dot(vs, plan)
    out = graph.write(g, tmp_path / "topology.dot")
    assert out.read_text(encoding="utf-8") == g.source


@pytest.mark.parametrize("name", ["topology.jpg", "topology.txt", "topology"])
def test_unsupported_suffix_raises_value_error(tmp_path, name):
    vs, plan = compile_example("example-city")
    with pytest.raises(ValueError, match=r"\.svg, \.png, \.pdf, \.dot"):
        graph.write(graph.to_dot(vs, plan), tmp_path / name)
    assert not (tmp_path / name).exists()
