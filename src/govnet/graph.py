"""Topology picture: a validated stack (and, optionally, its address plan) drawn with Graphviz.

One job: :class:`~govnet.rules.ValidStack` (+ :class:`~govnet.addressing.Plan`) -> a
:class:`graphviz.Graph`, and that graph written to a file. Sites are clusters styled by their kind
(a unit nests inside the cluster of its county or parent unit; the data center's own units share
a box beside it), devices are nodes shaped by their role, links are edges styled by their medium,
servers hang off their zone's LAN, and the egress firewall reaches an Internet cloud.

The tree reads top-down: the province, the Internet and the data center's server zones above the
core, counties and city departments below it. The units under one parent are wrapped into a grid
whose depth is chosen so that a city of a hundred sites stays a landscape page, not a strip. The
DOT source depends only on the stack and the plan, in file order: the same input, the same bytes.
"""

from __future__ import annotations

import html
import math
import os
from pathlib import Path

import graphviz

from govnet import model as m
from govnet.addressing import Plan
from govnet.rules import ValidStack

#: Font families, first match wins; the first two carry CJK glyphs (Debian: fonts-wqy-zenhei or
#: fonts-noto-cjk). SVG viewers get the same list as a CSS font-family.
FONT = "WenQuanYi Zen Hei,Noto Sans CJK SC,sans-serif"

#: Output formats by file suffix; None means the DOT source itself.
FORMATS: dict[str, str | None] = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".dot": None}

#: Cluster style per site kind. Counties and units carry their label at the bottom: their uplinks
#: arrive from above and would otherwise cross it.
SITE_STYLE: dict[m.SiteKind, dict[str, str]] = {
    m.SiteKind.datacenter: {"style": "filled,bold", "fillcolor": "#e3eefb", "color": "#1f4e8c",
                            "penwidth": "2"},
    m.SiteKind.county: {"style": "filled", "fillcolor": "#eef7ec", "color": "#3d7d3a",
                        "penwidth": "1.5", "labelloc": "b"},
    m.SiteKind.unit: {"style": "filled,rounded", "fillcolor": "#ffffff", "color": "#a0a0a0",
                      "penwidth": "1", "labelloc": "b"},
    m.SiteKind.province: {"style": "filled,bold", "fillcolor": "#f2ebfa", "color": "#6a3d9a",
                          "penwidth": "2"},
    # the Internet: a pale, rounded, dashed "cloud"
    m.SiteKind.internet: {"style": "filled,rounded,dashed", "fillcolor": "#eef6fd",
                          "color": "#5b9bd5", "penwidth": "1.5"},
}

ROLE_STYLE: dict[m.Role, dict[str, str]] = {
    m.Role.router: {"shape": "ellipse", "fillcolor": "#ffffff", "color": "#333333"},
    m.Role.firewall: {"shape": "octagon", "fillcolor": "#fde3d8", "color": "#b34a1e"},
    m.Role.switch: {"shape": "box", "fillcolor": "#f0f0f0", "color": "#555555"},
    m.Role.server: {"shape": "box3d", "fillcolor": "#fffbe6", "color": "#8a7a3a"},
}

MEDIUM_STYLE: dict[m.Medium, dict[str, str]] = {
    m.Medium.fiber: {"style": "bold", "color": "#2e7d32", "penwidth": "2.5"},
    m.Medium.broadband: {"style": "dashed", "color": "#e07b00", "penwidth": "1.5"},
    # a colour list with an invisible middle draws two parallel lines
    m.Medium.leased: {"style": "solid", "color": "#6a3d9a:invis:#6a3d9a", "penwidth": "1.5"},
    m.Medium.vpn: {"style": "dotted", "color": "#c62828", "penwidth": "2", "fontcolor": "#c62828"},
}

MEDIUM_LABEL: dict[m.Medium, str] = {
    m.Medium.fiber: "光纤 fiber",
    m.Medium.broadband: "广电宽带 broadband",
    m.Medium.leased: "专线 leased",
    m.Medium.vpn: "VPN over the Internet",
}

#: Edges to the cloud, by Internet attachment mode. Attachments for VPN only get no edge: their
#: tunnels are drawn as the VPN links, and the device's label says "internet: vpn".
ATTACH_STYLE: dict[m.InternetMode, dict[str, str]] = {
    m.InternetMode.egress: {"color": "#b34a1e", "penwidth": "1.5", "label": "egress",
                            "fontcolor": "#b34a1e"},
    m.InternetMode.host: {"color": "#5b9bd5", "penwidth": "0.8"},
}

#: Rough size in points of a unit's cluster and of one rank, and the page shape the packing of
#: many sites aims at (width / height).
SLOT_WIDTH, RANK_HEIGHT, ASPECT = 95, 125, 1.4

THIN = {"color": "#8c8c8c", "penwidth": "0.8"}  # gateway - LAN - server
SMALL = 9  # point size of secondary label lines
INTERNET = "_internet"  # node id of the cloud; device ids always contain a '.'


def _html(*lines: tuple[str, int | None]) -> str:
    """An HTML-like label: (text, point size or None for the default) per line."""
    parts = []
    for text, size in lines:
        esc = html.escape(text, quote=False)
        parts.append(f'<FONT POINT-SIZE="{size}">{esc}</FONT>' if size else esc)
    return "<" + "<BR/>".join(parts) + ">"


def _shelves(items: list[str], sizes: dict[str, tuple[int, int]],
             width: int) -> tuple[int, dict[str, int]]:
    """Pack ``items`` in order into shelves ``width`` wide: (height, top of each item's shelf)."""
    top: dict[str, int] = {}
    x = y = shelf = 0
    for item in items:
        w, h = sizes[item]
        if x and x + w > width:
            y, x, shelf = y + shelf, 0, 0
        top[item] = y
        x, shelf = x + w, max(shelf, h)
    return y + shelf, top


def _bandwidth(mbps: int) -> str:
    return f"{mbps // 1000}G" if mbps >= 1000 and mbps % 1000 == 0 else f"{mbps}M"


class _Drawing:
    """Builds the graph of one stack; one method per kind of element."""

    def __init__(self, vs: ValidStack, plan: Plan | None):
        self.vs = vs
        self.plan = plan
        self.by_site: dict[str, list[str]] = {name: [] for name in vs.sites}
        for key, site in vs.site_of.items():
            self.by_site[site].append(key)
        # the site tree, children in file order; units are drawn inside their parent's cluster,
        # except that the data center's units get a box of their own beside it
        self.below: dict[str, list[str]] = {}
        for name, parent in vs.parents.items():
            if parent:
                self.below.setdefault(parent, []).append(name)
        self.attached: dict[str, m.InternetMode] = {}  # devices with an edge to the cloud
        for key, dev in vs.devices.items():
            mode = self._mode(key, dev)
            if mode in ATTACH_STYLE:
                self.attached[key] = mode
        self.internet_site = next((n for n, s in vs.sites.items()
                                   if s.kind == m.SiteKind.internet), None)
        self.drop: dict[str, int] = {}
        self._layout()
        self.lan_edges: list[tuple[str, str]] = []

    def _size(self, site: str, rows: int) -> tuple[int, int]:
        """Lay out the subtree below ``site``; return its (width, height) in sites and ranks.

        The site's units are wrapped into a grid about ``rows`` deep; its other children (the
        data center's counties) stand side by side with that grid. ``self.drop[child]`` is how
        many ranks below the first row a child lies: the ``minlen`` of the link that reaches it.
        """
        kids = self.below.get(site, [])
        if not kids:
            return 1, 1
        units = [k for k in kids if self.vs.sites[k].kind == m.SiteKind.unit]
        width = height = 0
        if units:
            sizes = {k: self._size(k, rows) for k in units}
            area = sum(w * h for w, h in sizes.values())
            width = max(*(w for w, _ in sizes.values()), math.ceil(area / rows))
            height, top = _shelves(sorted(units, key=lambda k: sizes[k][1]), sizes, width)
            self.drop.update(top)
        for kid in kids:
            if kid not in units:
                w, h = self._size(kid, rows)
                self.drop[kid] = 0
                width, height = width + w, max(height, h)
        return width, 1 + height

    def _layout(self) -> None:
        """Choose, per tree, how deep unit grids go so that the picture is about ASPECT wide."""
        limit = 2 * math.isqrt(len(self.vs.sites)) + 2
        for name, parent in self.vs.parents.items():
            if parent is not None or name not in self.below:
                continue

            def score(rows: int, root: str = name) -> float:
                width, height = self._size(root, rows)
                return max(width * SLOT_WIDTH, height * RANK_HEIGHT * ASPECT)

            self._size(name, min(range(1, limit), key=score))

    def _mode(self, key: str, dev: m.Device) -> m.InternetMode | None:
        if dev.internet is not None:
            return dev.internet.mode
        if self.vs.sites[self.vs.site_of[key]].kind == m.SiteKind.internet:
            return m.InternetMode.host
        return None

    def _address(self, key: str) -> str | None:
        if self.plan is None:
            return None
        for entry in (f"loopback:{key}", f"host:{key}", f"internet:{key}"):
            value = self.plan.get(entry)
            if value:
                return value.split("/", 1)[0]
        return None

    # ------------------------------------------------------------------ elements

    def graph(self) -> graphviz.Graph:
        city = self.vs.stack.city
        title = f"{city.display_name or city.name} ({city.name}) 电子政务网络拓扑"
        g = graphviz.Graph(name=city.name, engine="dot")
        g.attr(rankdir="TB", newrank="true", nodesep="0.15", ranksep="0.45", fontname=FONT,
               fontsize="22", labelloc="t", label=title, pad="0.3", outputorder="edgesfirst")
        g.attr("node", fontname=FONT, fontsize="11", style="filled", margin="0.06,0.02",
               height="0.3")
        g.attr("edge", fontname=FONT, fontsize="9")
        for name, site in self.vs.sites.items():
            if site.kind != m.SiteKind.unit:
                self.site(g, name)
        if self.attached and self.internet_site is None:
            with g.subgraph(name="cluster__internet") as c:
                c.attr(label="", **SITE_STYLE[m.SiteKind.internet])
                self.cloud(c)
        self.links(g)
        self.legend(g)
        return g

    def site(self, parent: graphviz.Graph, name: str) -> None:
        site = self.vs.sites[name]
        second = name
        if site.kind == m.SiteKind.county:
            second += f" · area {self.vs.site_settings[name]['ospf_area']}"
        label = _html((site.display_name or name, None), (second, SMALL))
        with parent.subgraph(name=f"cluster_{name}") as c:
            c.attr(label=label, fontsize="11" if site.kind == m.SiteKind.unit else "13",
                   margin="6", **SITE_STYLE[site.kind])
            zones: dict[str, list[str]] = {}
            with c.subgraph() as row:  # the site's network devices side by side
                row.attr(rank="same")
                for key in self.by_site[name]:
                    dev = self.vs.devices[key]
                    if dev.role == m.Role.server and dev.zone:
                        zones.setdefault(dev.zone, []).append(key)
                    else:
                        self.device(row, key)
            for zone, servers in zones.items():
                self.zone(c, name, zone, servers)
            if name == self.internet_site:
                self.cloud(c)
            if site.kind != m.SiteKind.datacenter:
                self.units(c, name)
        if site.kind == m.SiteKind.datacenter and any(
                self.vs.sites[k].kind == m.SiteKind.unit for k in self.below.get(name, [])):
            with parent.subgraph(name=f"cluster_{name}__units") as c:
                c.attr(label=_html((f"{site.display_name or name} 直属单位", None),
                                   (f"units below {name}", SMALL)),
                       style="rounded", color="#1f4e8c", penwidth="1", fontsize="13")
                self.units(c, name)

    def units(self, c: graphviz.Graph, parent: str) -> None:
        for child in self.below.get(parent, []):
            if self.vs.sites[child].kind == m.SiteKind.unit:
                self.site(c, child)

    def device(self, c: graphviz.Graph, key: str) -> None:
        dev = self.vs.devices[key]
        lines = [(dev.name, None)]
        if dev.display_name:
            lines.append((dev.display_name, SMALL))
        address = self._address(key)
        if address:
            lines.append((address, SMALL))
        if dev.internet is not None and dev.internet.mode == m.InternetMode.vpn:
            lines.append(("internet: vpn", SMALL))
        platform = self.vs.device_settings[key]["platform"].value
        c.node(key, _html(*lines), tooltip=f"{key} · {dev.role.value} · {platform}",
               **ROLE_STYLE[dev.role])

    def zone(self, c: graphviz.Graph, site: str, zone: str, servers: list[str]) -> None:
        """The zone's servers around a LAN node fed by the zone's gateway. In the data center the
        zones sit above the core, so the tree below it stays clear; elsewhere they hang below."""
        lan = f"{site}~{zone}"
        subnet = self.plan.get(f"subnet:{site}:{zone}") if self.plan else None
        z = self.vs.zones[zone]
        with c.subgraph(name=f"cluster_{site}__{zone}") as zc:
            zc.attr(label=_html((z.display_name or zone, SMALL)), style="dashed,rounded",
                    color="#8c8c8c", penwidth="1")
            zc.node(lan, _html((f"{zone} LAN", SMALL), *([(subnet, SMALL)] if subnet else [])),
                    shape="box", style="rounded,filled", fillcolor="#f5f5f5", color="#8c8c8c",
                    height="0.2")
            for key in servers:
                self.device(zc, key)
        above = self.vs.sites[site].kind == m.SiteKind.datacenter
        pairs = [(self.vs.gateways[(site, zone)], lan), *((lan, key) for key in servers)]
        # edges are drawn at the root: an edge inside a cluster would pull its ends into it
        self.lan_edges.extend((b, a) if above else (a, b) for a, b in pairs)

    def cloud(self, c: graphviz.Graph) -> None:
        c.node(INTERNET, _html(("互联网", None), ("Internet", SMALL)), shape="ellipse",
               style="filled,dashed", fillcolor="#dcebf9", color="#5b9bd5", penwidth="1.5",
               width="1.2", height="0.6")

    def links(self, g: graphviz.Graph) -> None:
        for a, b in self.lan_edges:
            g.edge(a, b, **THIN)
        for link in self.vs.stack.links:
            attrs = dict(MEDIUM_STYLE[link.medium])
            label = "VPN" if link.medium == m.Medium.vpn else ""
            if link.bandwidth_mbps:
                label = f"{label} {_bandwidth(link.bandwidth_mbps)}".strip()
            if label:
                attrs["label"] = label
            sa, sb = self.vs.site_of[link.a], self.vs.site_of[link.b]
            if self.vs.parents.get(sb) == sa and self.drop.get(sb):
                attrs["minlen"] = str(1 + self.drop[sb])
            tooltip = f"{link.a} — {link.b} · {link.medium.value}"
            if self.plan is not None:
                prefix = "tunnel" if link.medium == m.Medium.vpn else "link"
                net = self.plan.get(f"{prefix}:{link.id}")
                if net:
                    tooltip += f" · {net}"
            g.edge(link.a, link.b, tooltip=tooltip, **attrs)
        for key, mode in self.attached.items():
            g.edge(INTERNET, key, tooltip=f"{key}: Internet ({mode.value})", **ATTACH_STYLE[mode])

    def legend(self, g: graphviz.Graph) -> None:
        """Two rows in a box of their own: device roles and site kinds, then link media. Invisible
        edges inside each row keep its entries in order."""
        cells = "".join(
            f'<TD BGCOLOR="{SITE_STYLE[k]["fillcolor"]}" COLOR="{SITE_STYLE[k]["color"]}" '
            f'BORDER="1">{k.value}</TD>' for k in m.SiteKind)
        with g.subgraph(name="cluster__legend") as c:
            c.attr(label=_html(("图例 Legend", None)), style="rounded", color="#bbbbbb",
                   fontsize="12")
            with c.subgraph() as row:
                row.attr(rank="same")
                chain = [f"_legend_{role.value}" for role in m.Role]
                for node, role in zip(chain, m.Role, strict=True):
                    row.node(node, role.value, fontsize="10", **ROLE_STYLE[role])
                row.node("_legend_kinds", f'<<TABLE BORDER="0" CELLSPACING="4" CELLPADDING="3">'
                         f"<TR>{cells}</TR></TABLE>>", shape="plaintext", style="", fontsize="10")
                for a, b in zip(chain, [*chain[1:], "_legend_kinds"], strict=True):
                    row.edge(a, b, style="invis")
            with c.subgraph() as row:
                row.attr(rank="same")
                previous = None
                for medium in m.Medium:
                    left, right = f"_legend_{medium.value}", f"_legend_{medium.value}_label"
                    row.node(left, "", shape="point", width="0.04", style="filled")
                    row.node(right, MEDIUM_LABEL[medium], shape="plaintext", style="",
                             fontsize="10")
                    row.edge(left, right, minlen="2", **MEDIUM_STYLE[medium])
                    if previous:
                        row.edge(previous, left, style="invis")
                    previous = right
            c.edge(chain[0], f"_legend_{m.Medium.fiber.value}", style="invis")


def to_dot(vs: ValidStack, plan: Plan | None = None) -> graphviz.Graph:
    """The topology of ``vs`` as a Graphviz graph; with ``plan``, nodes show their addresses."""
    return _Drawing(vs, plan).graph()


def write(graph: graphviz.Graph, path: str | os.PathLike) -> Path:
    """Write ``graph`` to ``path`` in the format its suffix names (.svg, .png, .pdf, .dot)."""
    out = Path(path)
    suffix = out.suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"cannot draw {out.name!r}: unsupported suffix {out.suffix or '(none)'!r}; "
                         f"use one of {', '.join(FORMATS)}")
    fmt = FORMATS[suffix]
    if fmt is None:
        data = graph.source.encode("utf-8")
    else:
        try:
            data = graph.pipe(format=fmt)
        except graphviz.ExecutableNotFound as exc:
            raise OSError("Graphviz 'dot' is not installed; install it (Debian: apt-get install "
                          "graphviz) or write a .dot file instead") from exc
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    return out
