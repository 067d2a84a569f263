"""Monitoring: node exporter on every city host, for its plane's monitoring server only; each
plane's Prometheus sees every target of its plane up, probes its plane's county links and (on the
portal's plane) the portal, and a county link cut shows as down (and raises its alert) until the
link is back."""

from __future__ import annotations

import json
import os
import shlex
import urllib.parse

import pytest
from stackfacts import connect, eventually, facts, monitoring, selected, services, tcp_probe

from govnet.facts import MonitoringFacts

LAB = os.environ.get("GOVNET_VERIFY_PLATFORM", "lab") == "lab"


def _watch(host: str | None = None) -> MonitoringFacts:
    """What ``host`` (a monitoring server) watches: its plane's part; without one, the city's."""
    return facts(host).monitoring if host else monitoring()


def _monitors() -> list:
    """A test parameter per monitoring server (one per plane)."""
    return [pytest.param((s.host, s.address), id=s.host) for s in services().get("monitoring", [])]


def _server(monitor: tuple[str, str]) -> tuple[str, str]:
    if monitor[0] not in selected():
        pytest.skip(f"{monitor[0]} is not in this selection")
    return monitor


def _api(monitor: tuple[str, str], path: str) -> dict:
    """GET Prometheus' HTTP API from the monitoring server itself."""
    host, address = _server(monitor)
    url = f"http://{address}:9090{path}"
    out = connect(host).check_output(
        "python3 -c " + shlex.quote("import sys, urllib.request as u; "
                                    "print(u.urlopen(sys.argv[1], timeout=10).read().decode())")
        + " " + shlex.quote(url))
    body = json.loads(out)
    assert body["status"] == "success", body
    return body["data"]


def _query(monitor: tuple[str, str], expr: str) -> list[dict]:
    return _api(monitor, "/api/v1/query?" + urllib.parse.urlencode({"query": expr}))["result"]


def _values(monitor: tuple[str, str], expr: str, label: str) -> dict[str, float]:
    """Latest value per ``label``; series without it are left out (the package's own default
    configuration scraped a 'node' job before the role's replaced it, and a restarted Prometheus
    shows those series for its 5-minute lookback)."""
    return {r["metric"][label]: float(r["value"][1]) for r in _query(monitor, expr)
            if label in r["metric"]}


def test_node_exporter_listens_on_the_scrape_address_only(host_name):
    listening = {line.split()[3] for line in
                 connect(host_name).check_output("ss -Hltn 'sport = :9100'").splitlines()}
    target = [t.address for t in _watch().targets if t.host == host_name]
    assert listening == {f"{a}:9100" for a in target}, listening


@pytest.mark.parametrize("monitor", _monitors())
def test_only_the_monitoring_server_may_scrape(monitor):
    host, _ = _server(monitor)
    others = [t for t in _watch(host).targets if t.host in selected() and t.host != host]
    if len(others) < 2:
        pytest.skip("fewer than two other scraped hosts in this selection")
    assert tcp_probe(host, others[0].address, 9100) == "open"
    # another host (a server if there is one: its packets come from its zone address)
    prober = next((t.host for t in others if facts(t.host).role == "server"),
                  others[0].host)
    victim = next(t for t in others if t.host != prober)
    assert tcp_probe(prober, victim.address, 9100) == "silent"


@pytest.mark.parametrize("monitor", _monitors())
def test_prometheus_is_closed_to_the_data_planes(monitor):
    """Operators reach it from the management network; no county or server host may."""
    host, address = _server(monitor)
    others = [t.host for t in _watch(host).targets if t.host in selected() and t.host != host]
    if not others:
        pytest.skip("no other host in this selection")
    assert tcp_probe(others[-1], address, 9090) == "silent"


@pytest.mark.parametrize("monitor", _monitors())
def test_every_target_of_its_plane_is_up(monitor):
    host, _ = _server(monitor)
    want = {t.host for t in _watch(host).targets}
    assert {facts(t).planes[0] for t in want} == {_watch(host).plane}

    def check():
        up = _values(monitor, 'up{job="node"}', "host")
        assert set(up) == want
        assert {h for h, v in up.items() if v != 1} == set()
    eventually(check, timeout=90)


@pytest.mark.parametrize("monitor", _monitors())
def test_every_county_link_and_the_portal_probe_up(monitor):
    host, _ = _server(monitor)
    want = {x.link for x in _watch(host).links}

    def check():
        links = _values(monitor, 'probe_success{job="links"}', "link")
        assert set(links) == want
        assert {k for k, v in links.items() if v != 1} == set()
        portal = _values(monitor, 'probe_success{job="portal"}', "instance")
        assert portal == dict.fromkeys(_watch(host).portal, 1.0)
    eventually(check, timeout=90)


@pytest.mark.parametrize("monitor", _monitors())
def test_the_alert_rules_are_loaded(monitor):
    names = {r["name"] for g in _api(monitor, "/api/v1/rules")["groups"] for r in g["rules"]}
    assert {"GovnetLinkDown", "GovnetHostDown", "GovnetPortalDown"} <= names


@pytest.mark.serial
@pytest.mark.skipif(not LAB, reason="cuts a link: only in the lab, never on production hosts")
def test_a_county_link_cut_shows_as_down():
    # the first monitoring server (the intranet's) and a wired county link of its plane
    monitors = [p.values[0] for p in _monitors()]
    if not monitors:
        pytest.skip("no monitoring server")
    monitor = _server(monitors[0])
    watch = _watch(monitor[0])
    links = [x for x in watch.links if x.medium != "vpn" and x.host in selected()]
    if not links:
        pytest.skip("no wired county link in this selection")
    # a link whose far end has no other link: cutting it isolates one router, nothing behind it
    def wired(host):
        return [i for i in facts(host).interfaces if i.kind in ("link", "tunnel")]
    cut = next((x for x in links if len(wired(x.host)) == 1), None)
    if cut is None:
        pytest.skip("every county link has more of the city behind it")
    others = {x.link for x in watch.links} - {cut.link}
    router = connect(cut.host)

    router.check_output(f"ip link set dev {cut.interface} down")
    try:
        def down():
            links_now = _values(monitor, 'probe_success{job="links"}', "link")
            assert links_now[cut.link] == 0
            assert all(links_now[o] == 1 for o in others), links_now
            alerts = _query(monitor, f'ALERTS{{alertname="GovnetLinkDown",alertstate="firing",'
                            f'link="{cut.link}"}}')
            assert alerts, "GovnetLinkDown not firing"
        eventually(down, timeout=90)
    finally:
        router.check_output(f"ip link set dev {cut.interface} up")

    def back():
        assert _values(monitor, 'probe_success{job="links"}', "link")[cut.link] == 1
        assert _values(monitor, 'up{job="node"}', "host")[cut.host] == 1
    eventually(back, timeout=150)
