"""Alerts that reach people: on each plane, a county link cut reaches the network center's mailbox
on that plane's mail server (Alertmanager next to the plane's Prometheus) within the alert's
``for:`` plus 60 s, naming the county, and a resolved mail follows when the link is back."""

from __future__ import annotations

import base64
import email
import email.policy
import os
import time

import pytest
from exchange import Exchange, exchange
from stackfacts import connect, eventually, facts, selected, services

from govnet import job, standard

LAB = os.environ.get("GOVNET_VERIFY_PLATFORM", "lab") == "lab"


def _seconds(duration: str) -> int:
    units = {"s": 1, "m": 60, "h": 3600}
    return int(duration[:-1]) * units[duration[-1]]


PLANES = ["intranet", "extranet"]


def _monitor(plane: str):
    mail = exchange(plane)
    mon = next((s for s in services().get("monitoring", []) if s.plane == plane), None)
    if mail is None or mon is None or mon.host not in selected() or mail.server.host not in selected():
        pytest.skip(f"no mail server with a monitoring server on the {plane} in this selection")
    return mon, mail


@pytest.mark.parametrize("plane", PLANES)
def test_alertmanager_listens_on_localhost_and_prometheus_sends_to_it(plane):
    mon, _ = _monitor(plane)
    h = connect(mon.host)
    assert h.service("prometheus-alertmanager").is_running
    listening = {line.split()[3] for line in h.check_output(
        "ss -Hltn '( sport = :9093 or sport = :9094 )'").splitlines()}
    assert listening == {"127.0.0.1:9093"}, listening
    out = h.check_output("python3 -c \"import urllib.request as u; print(u.urlopen("
                         f"'http://{mon.address}:9090/api/v1/alertmanagers', timeout=10).read().decode())\"")
    assert "127.0.0.1:9093" in out


def test_no_alertmanager_where_the_plane_has_no_mail_server():
    """A Prometheus whose plane has no mail server cannot mail anybody (the other plane's is out of
    reach): it runs no Alertmanager."""
    for s in services().get("monitoring", []):
        if s.host in selected() and facts(s.host).monitoring.alert_mail is None:
            assert not connect(s.host).service("prometheus-alertmanager").is_running


def _text(raw: bytes) -> str:
    """A mail's subject and its decoded text parts."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    body = msg.get_body(preferencelist=("plain",))
    return f"Subject: {msg['Subject']}\n{body.get_content() if body else ''}"


def _mails(host: str, box: str, above: int, mail) -> list[tuple[int, str]]:
    got = Exchange(mail).fetch(host, box, above=above)
    assert got["ok"], got["error"]
    return sorted((int(uid), _text(base64.b64decode(raw))) for uid, raw in got["messages"].items())


@pytest.mark.serial
@pytest.mark.skipif(not LAB, reason="cuts a link: only in the lab, never on production hosts")
@pytest.mark.parametrize("plane", PLANES)
def test_a_county_link_cut_reaches_the_network_centers_mailbox(plane):
    mon, mail = _monitor(plane)
    watch = facts(mon.host).monitoring
    assert watch.alert_mail is not None and watch.alert_mail.to == mail.noc
    noc = standard.NOC_MAILBOX

    def wired(host):
        return [i for i in facts(host).interfaces if i.kind in ("link", "tunnel")]
    cut = next((x for x in watch.links if x.medium != "vpn" and x.host in selected()
                and len(wired(x.host)) == 1), None)
    if cut is None:
        pytest.skip("no county link with nothing behind it in this selection")
    # the lab's alert timings (govnet up passes them to the monitoring role)
    budget = _seconds(job.LAB_TIMINGS["monitoring__alert_for"]) + 60
    subject_firing = f"[FIRING] GovnetLinkDown county={cut.county} site={cut.site}"
    subject_resolved = f"[RESOLVED] GovnetLinkDown county={cut.county} site={cut.site}"
    before = Exchange(mail).last_uid(mon.host, noc)
    router = connect(cut.host)

    router.check_output(f"ip link set dev {cut.interface} down")
    started = time.monotonic()
    try:
        def fired():
            found = [(u, m) for u, m in _mails(mon.host, noc, before, mail) if subject_firing in m]
            assert found, f"no '{subject_firing}' mail in {mail.noc} yet"
            return found[0]
        _, text = eventually(fired, timeout=budget, interval=3)
        took = time.monotonic() - started
        assert took <= budget, took
        print(f"firing mail for {cut.county} after {took:.0f} s (budget {budget} s)")
        assert f"link: {cut.link}" in text
    finally:
        router.check_output(f"ip link set dev {cut.interface} up")
    restored = Exchange(mail).last_uid(mon.host, noc)

    def resolved():
        found = [m for u, m in _mails(mon.host, noc, restored, mail) if subject_resolved in m]
        assert found, f"no '{subject_resolved}' mail in {mail.noc} yet"
        return found[0]
    back = time.monotonic()
    text = eventually(resolved, timeout=150, interval=3)
    assert f"link: {cut.link}" in text
    print(f"resolved mail {time.monotonic() - back:.0f} s after the link came back")
