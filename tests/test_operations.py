"""Tests of govnet.monitoring and govnet.backup: what is watched and what is backed up, from the
design of the example city."""

from __future__ import annotations

from pathlib import Path

import pytest

from govnet.addressing import address
from govnet.pipeline import compile_stack

ROOT = Path(__file__).resolve().parents[1]
CITY = ROOT / "stacks" / "example-city.yaml"


@pytest.fixture(scope="module")
def design():
    return compile_stack(CITY).design


def test_every_city_host_is_scraped_on_its_primary_address(design):
    targets = {t.host: t.address for t in design.monitoring.targets}
    assert "internet-citizen1" not in targets
    # the province's router is not the city's: its loopback is not routed in the city (eBGP uplink)
    assert set(targets) == set(design.hosts) - {"internet-citizen1", "province-pe1"}
    assert targets["dc-core1"] == design.hosts["dc-core1"].loopback
    assert targets["dc-db1"] == address(design.hosts["dc-db1"].interfaces[0].address)


def test_every_county_link_is_probed_at_its_far_end(design):
    links = {x.link: x for x in design.monitoring.links}
    assert set(links) == {"dc.core1~wolong.gw1", "wolong-backup", "dc.core1~wancheng.gw1",
                          "dc.fw1~wancheng.ext1", "dc.fw1~xixia.gw1", "dc.fw1~tanghe.gw1",
                          "wolong.gw1~wolong-edu.gw1"}
    # each plane's links are probed by that plane's monitoring server only
    assert {x.link for x in design.hosts["dc-infra2"].monitoring.links} == {
        "dc.fw1~wancheng.ext1", "dc.fw1~xixia.gw1", "dc.fw1~tanghe.gw1"}
    assert {x.plane for x in design.hosts["dc-infra1"].monitoring.links} == {"intranet"}
    # the county end of a DC link, the unit end of a county link, the tunnel address of a VPN
    assert links["dc.core1~wancheng.gw1"].host == "wancheng-gw1"
    assert links["wolong.gw1~wolong-edu.gw1"].host == "wolong-edu-gw1"
    assert links["wolong.gw1~wolong-edu.gw1"].county == "wolong"
    assert links["dc.fw1~xixia.gw1"].address.startswith("198.18.146.")
    far = design.hosts["wancheng-gw1"]
    iface = next(i for i in far.interfaces if i.link == "dc.core1~wancheng.gw1")
    assert links["dc.core1~wancheng.gw1"].address == address(iface.address)


def test_the_portal_is_probed_by_its_public_name(design):
    assert design.monitoring.portal == ["https://www.example.gov.cn/"]
    assert design.monitoring.servers == [s.address for s in design.services["monitoring"]]
    # by the extranet's monitoring server, on the portal's plane; the intranet's cannot reach it
    assert design.hosts["dc-infra2"].monitoring.portal == ["https://www.example.gov.cn/"]
    assert design.hosts["dc-infra1"].monitoring.portal == []


def test_a_stack_without_monitoring_watches_nothing(tmp_path):
    text = (ROOT / "stacks" / "smoke-town.yaml").read_text()
    assert "services: [dns, ntp, syslog, monitoring]" in text
    stack = tmp_path / "smoke-town.yaml"
    stack.write_text(text.replace("services: [dns, ntp, syslog, monitoring]",
                                  "services: [dns, ntp, syslog]"))
    d = compile_stack(stack).design
    assert d.monitoring.targets == [] and d.monitoring.links == []
    assert all(r.service != "node-exporter" for h in d.hosts.values() if h.firewall
               for r in h.firewall.accept)


def test_the_data_holders_back_up_to_the_dr_host(design):
    assert [r.dump() for r in design.backup.repositories] == [
        {"host": "dr-bak1", "address": design.services["backup"][0].address, "plane": "intranet"}]
    clients = {c.host: c.paths for c in design.backup.clients}
    # the repository is on the intranet: the extranet's hosts (the portal, dc-infra2's logs)
    # cannot reach it, and the planes never meet (the DR site has no extranet yet)
    assert clients == {"dc-db1": ["/var/backups/govnet-db"], "dc-infra1": ["/var/log/govnet"],
                       "dc-oa1": ["/var/mail/govnet"]}  # the document exchange's mailboxes


def test_the_dr_backup_service_admits_its_clients_only(design):
    fw = design.hosts["dr-bak1"].firewall
    (rule,) = [r for r in fw.accept if r.service == "backup"]
    assert (rule.proto, rule.port) == ("tcp", 2222)  # never 22: that is management's sshd
    clients = {c.host for c in design.backup.clients}
    assert rule.sources == [f"{design.hosts[c].primary_address}/32" for c in
                            ("dc-infra1", "dc-db1", "dc-oa1") if c in clients]
    # never from the extranet
    assert f"{design.hosts['dc-portal1'].primary_address}/32" not in rule.sources


def test_prometheus_answers_the_management_network_only(design):
    (rule,) = [r for r in design.hosts["dc-infra1"].firewall.accept
               if r.service == "monitoring"]
    assert rule.sources == [design.city.management_network]


def test_vendor_devices_are_not_node_exporter_targets():
    d = compile_stack(ROOT / "stacks" / "example-metro.yaml").design
    targets = {t.host for t in d.monitoring.targets}
    vendor = {n for n, h in d.hosts.items() if h.platform not in ("frr", "debian")}
    assert vendor and not targets & vendor


def test_roles_read_service_ports_from_the_inventory(design):
    from govnet import inventory, standard

    compiled = compile_stack(CITY)
    ports = inventory.build(compiled.vs, compiled.design).group("all")["vars"]["govnet_service_ports"]
    assert ports["syslog"] == [{"proto": "tcp", "port": 514}]
    assert {k: [(p["proto"], p["port"]) for p in v] for k, v in ports.items()} == {
        **{s.value: list(v) for s, v in standard.SERVICE_PORTS.items()},
        "node-exporter": [("tcp", standard.NODE_EXPORTER_PORT)]}  # every scraped host's exporter
    defaults = (ROOT / "roles" / "logging" / "defaults" / "main.yml").read_text()
    assert "govnet_service_ports.syslog[0].port" in defaults


def test_the_portal_publishes_an_application_of_its_own_plane(tmp_path):
    text = CITY.read_text()
    portal = "      - {name: portal1, role: server, zone: extranet, services: [portal, hudong]}\n"
    assert portal in text and "    server_name: www.example.gov.cn\n" in text
    text = text.replace(portal, portal + "      - {name: vc1, role: server, zone: extranet, "
                                         "services: [videoconf]}\n")
    text = text.replace("    server_name: www.example.gov.cn\n",
                        "    server_name: www.example.gov.cn\n    applications: {/video/: videoconf}\n")
    stack = tmp_path / "city.yaml"
    stack.write_text(text)
    d = compile_stack(stack).design
    vc1 = next(s.address for s in d.services["videoconf"] if s.host == "dc-vc1")
    assert d.city.portal_applications == {"/video/": f"https://{vc1}:443/"}


def test_hudong_listens_on_loopback_with_no_firewall_rule_and_extranet_staff():
    """政民互动 is the portal host's own: loopback only (no zone policy rule opens its port), its
    staff networks are the city's extranet and never the intranet or the Internet."""
    from govnet import model as m
    from govnet import standard

    d = compile_stack(CITY).design
    port = standard.SERVICE_PORTS[m.Service.hudong][0][1]
    portal = d.hosts["dc-portal1"]
    assert portal.listen["hudong"] == "127.0.0.1"
    assert all(r.port != port for h in d.hosts.values() if h.firewall for r in h.firewall.accept)
    assert d.city.hudong_staff_networks == ["198.18.64.0/18"]
