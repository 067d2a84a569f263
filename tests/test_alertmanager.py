"""Alerts by mail: each plane's monitoring server mails the network center through the mail
server of its own plane; one whose plane has none gets no Alertmanager. The
role's alertmanager.yml, rendered for example-city, passes ``amtool check-config`` and routes
every alert, resolved ones too, to the network center's mailbox over STARTTLS checked against the
city CA; prometheus.yml then sends its alerts to it and passes ``promtool check config``."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from govnet import standard
from govnet.pipeline import compile_stack
from test_snmp import CITY, _render, _template_vars, require


@pytest.fixture(scope="module")
def city():
    return compile_stack(CITY).design


def _vars(design, host: str) -> dict:
    mon = design.hosts[host].monitoring.dump()
    return {**_template_vars(design, {}), "govnet_monitoring": mon, "inventory_hostname": host,
            "monitoring__alert_for": "1m", "monitoring__alertmanager": True,
            "monitoring__alert_mail": mon["alert_mail"], "monitoring__alert_password": "not-a-secret",
            "monitoring__alert_group_wait": "30s", "monitoring__alert_group_interval": "5m",
            "monitoring__alert_repeat_interval": "4h"}


def _exchange(design, plane: str):
    entry = next(x for x in design.services["docexchange"] if x.plane == plane)
    return entry, design.hosts[entry.host].mail


@pytest.mark.parametrize(("monitor", "plane"), [("dc-infra1", "intranet"), ("dc-infra2", "extranet")])
def test_each_planes_monitor_mails_the_noc_on_its_own_planes_exchange(city, monitor, plane):
    exchange, mail = _exchange(city, plane)
    assert mail.noc == f"{standard.NOC_MAILBOX}@{city.city.domain}"
    assert standard.NOC_MAILBOX in [b.name for b in mail.mailboxes]
    alert = city.hosts[monitor].monitoring.alert_mail
    assert (alert.server, alert.port, alert.to) == (exchange.address, standard.MAIL_SUBMISSION_PORT, mail.noc)
    assert alert.server_name == mail.server_name


def test_a_monitor_without_a_mail_server_on_its_plane_mails_nobody(city):
    """smoke-town's extranet has a monitoring server and no mail server: the intranet's is out of
    its reach, so it gets no alert mail (and no Alertmanager)."""
    town = compile_stack(CITY.parent / "smoke-town.yaml").design
    monitors = {s.plane: s.host for s in town.services["monitoring"]}
    assert not [x for x in town.services["docexchange"] if x.plane == "extranet"]
    assert town.hosts[monitors["extranet"]].monitoring.alert_mail is None


@pytest.mark.parametrize(("plane", "sites"), [
    ("intranet", {"dc", "dr", "wolong", "wancheng", "wolong-edu"}),  # xixia, tanghe: extranet only
    ("extranet", {"dc", "wancheng", "xixia", "tanghe"}),  # wolong, wolong-edu, dr: intranet only
])
def test_a_mailbox_per_site_of_the_exchanges_plane_only(city, plane, sites):
    _, mail = _exchange(city, plane)
    assert {b.site for b in mail.mailboxes if b.site} == sites
    assert all(b.address == f"{b.name}@{city.city.domain}" for b in mail.mailboxes)


def test_alertmanager_yml_routes_every_alert_to_the_noc_and_passes_amtool(city, tmp_path):
    amtool = require("amtool")
    text = _render("etc/prometheus/alertmanager.yml.j2", _vars(city, "dc-infra1"))
    conf = yaml.safe_load(text)
    alert = city.hosts["dc-infra1"].monitoring.alert_mail
    assert conf["global"]["smtp_smarthost"] == f"{alert.server}:{alert.port}"
    assert conf["global"]["smtp_require_tls"] is True
    (receiver,) = conf["receivers"]
    assert conf["route"]["receiver"] == receiver["name"]
    assert "routes" not in conf["route"]  # one receiver: nothing is routed elsewhere
    (email,) = receiver["email_configs"]
    assert email["to"] == alert.to and email["send_resolved"] is True
    assert email["tls_config"]["server_name"] == alert.server_name
    assert "county=" in email["headers"]["Subject"]
    path = tmp_path / "alertmanager.yml"
    path.write_text(text, encoding="utf-8")
    proc = subprocess.run([amtool, "check-config", str(path)], capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_prometheus_sends_its_alerts_to_the_local_alertmanager(city, tmp_path):
    promtool = require("promtool")
    variables = _vars(city, "dc-infra1")
    rules = tmp_path / "govnet.rules.yml"
    rules.write_text(_render("etc/prometheus/rules/govnet.rules.yml.j2", variables), encoding="utf-8")
    text = _render("etc/prometheus/prometheus.yml.j2", variables)
    conf = yaml.safe_load(text)
    assert conf["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["127.0.0.1:9093"]
    path = tmp_path / "prometheus.yml"
    path.write_text(text.replace("/etc/prometheus/rules/govnet.rules.yml", str(rules)), encoding="utf-8")
    proc = subprocess.run([promtool, "check", "config", str(path)], capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
