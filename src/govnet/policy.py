"""Zone policy: what each host accepts, forwards and translates, from the design.

One job: (ValidStack, Design hosts, city facts) -> a ``firewall`` fact per host, plain data the
``firewall`` role turns into nftables rules and the checks turn into expectations. The policy is
default deny: a host accepts its management link's SSH from the management network, routing
protocol and tunnels where it routes, and each service it hosts from the audience of that service
(:data:`govnet.standard.SERVICE_AUDIENCE`) — nothing else. The egress firewall translates the zones
that may reach the Internet, drops every other zone's traffic towards it and publishes the portal.
"""

from __future__ import annotations

from govnet import model as m
from govnet import standard
from govnet.rules import ValidStack

ANYWHERE = "0.0.0.0/0"


def _rule(service: str, proto: str, port: int, sources: list[str]) -> dict:
    return {"service": service, "proto": proto, "port": port, "sources": sources}


def build(vs: ValidStack, hosts: dict[str, dict], city: dict,
          services: dict[str, list[dict]], watch: dict, keep: dict) -> dict[str, dict | None]:
    """The firewall facts per host name; None for hosts outside the city (the Internet).

    ``watch`` is the monitoring facts (:mod:`govnet.monitoring`): every scraped host accepts node
    exporter's port from the monitoring servers only; ``keep`` is the backup facts
    (:mod:`govnet.backup`): a repository host admits its backup clients only."""
    plan = vs.stack.address_plan
    plane_net = {"intranet": str(plan.intranet), "extranet": str(plan.extranet)}
    zone_plane = {name: zone.plane for name, zone in vs.zones.items()}
    # the planes whose zones may reach the Internet (through the egress), and those that never may
    nat_planes = sorted({plane_net[z.plane] for z in vs.zones.values() if z.internet == "via-egress"})
    deny_planes = sorted({plane_net[z.plane] for z in vs.zones.values() if z.internet == "deny"}
                         - set(nat_planes))
    portal = [(s["address"]) for s in services.get(m.Service.portal.value, [])]
    scraped = {t["host"] for t in watch["targets"]}
    backup_clients = [f"{hosts[c['host']]['primary_address']}/32" for c in keep["clients"]]
    scrapers = [f"{a}/32" for a in watch["servers"]]

    out: dict[str, dict | None] = {}
    for name, h in hosts.items():
        if h["site_kind"] == m.SiteKind.internet.value or h["platform"] not in {
                p.value for p in standard.LINUX_PLATFORMS}:
            out[name] = None
            continue
        rules = [_rule("ssh", proto, port, [h["management"]["network"]])
                 for proto, port in standard.MANAGEMENT_PORTS]
        for svc in h["services"]:
            audience = standard.SERVICE_AUDIENCE[m.Service(svc)]
            if audience == "public":
                sources = [ANYWHERE]
            elif audience == "city":
                sources = list(city["networks"])
            elif audience == "management":
                sources = [h["management"]["network"]]
            elif audience == "clients":
                sources = backup_clients
            else:
                sources = [plane_net[zone_plane[h["zone"]]]] if h["zone"] else []
            for proto, port in standard.SERVICE_PORTS[m.Service(svc)]:
                rules.append(_rule(svc, proto, port, sources))
        if name in scraped:
            rules.append(_rule("node-exporter", "tcp", watch["exporter_port"], scrapers))
        wan = h["internet"]["interface"] if h["internet"] else None
        routing = "ospf" in h
        fw: dict = {
            "management_interface": h["management"]["interface"],
            "accept": rules,
            # routers forward the city's traffic; servers forward nothing
            "forward": routing,
            # OSPF speaks on the links and tunnels the design gives it
            "ospf_interfaces": [i["name"] for i in h["interfaces"] if i.get("ospf")] if routing
            else [],
            "tunnels": [{"interface": wan, "proto": "udp", "port": t["port"],
                         "peer": t["peer_public"]} for t in h["tunnels"]],
            "wan": wan,
            "egress": None,
        }
        if h["internet"] and h["internet"]["mode"] == "egress":
            fw["egress"] = {
                "nat_sources": nat_planes,
                "deny_sources": deny_planes,
                # the portal is published on the egress's Internet address
                "publish": [{"proto": proto, "port": port, "to": addr}
                            for addr in portal[:1]
                            for proto, port in standard.SERVICE_PORTS[m.Service.portal]],
            }
        out[name] = fw
    return out
