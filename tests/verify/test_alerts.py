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
    mon, mail = _monitor_or_none(plane)
    if mon is None:
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


class _Cut:
    """One plane's part of the proof: its Prometheus, its mail server and the county link cut."""

    def __init__(self, plane: str):
        self.mon, self.mail = _monitor_or_none(plane)
        self.link = None
        if self.mon is None:
            return
        watch = facts(self.mon.host).monitoring
        assert watch.alert_mail is not None and watch.alert_mail.to == self.mail.noc

        def wired(host):
            return [i for i in facts(host).interfaces if i.kind in ("link", "tunnel")]
        self.link = next((x for x in watch.links if x.medium != "vpn" and x.host in selected()
                          and len(wired(x.host)) == 1), None)

    def subject(self, state: str) -> str:
        return f"[{state}] GovnetLinkDown county={self.link.county} site={self.link.site}"

    def last(self) -> int:
        return Exchange(self.mail).last_uid(self.mon.host, standard.NOC_MAILBOX)

    def mail_with(self, subject: str, above: int) -> str:
        found = [m for _, m in _mails(self.mon.host, standard.NOC_MAILBOX, above, self.mail)
                 if subject in m]
        assert found, f"no '{subject}' mail in {self.mail.noc} of the {self.mon.plane} yet"
        return found[0]

    def set_link(self, state: str) -> None:
        connect(self.link.host).check_output(f"ip link set dev {self.link.interface} {state}")


def _monitor_or_none(plane: str):
    mail = exchange(plane)
    mon = next((s for s in services().get("monitoring", []) if s.plane == plane), None)
    if mail is None or mon is None or mon.host not in selected() or mail.server.host not in selected():
        return None, None
    return mon, mail


@pytest.mark.serial
@pytest.mark.skipif(not LAB, reason="cuts a link: only in the lab, never on production hosts")
def test_a_county_link_cut_reaches_each_planes_network_center_mailbox():
    """On each plane at once (the planes never meet, so the cuts cannot mask each other): a county
    link is cut, the plane's NOC mailbox gets a firing mail naming the county within the alert's
    ``for:`` plus 60 s; the link comes back and the resolved mail follows."""
    cuts = [c for c in map(_Cut, PLANES) if c.link is not None]
    if not cuts:
        pytest.skip("no plane with a mail server, a monitoring server and a county link to cut here")
    # the lab's alert timings (govnet up passes them to the monitoring role)
    budget = _seconds(job.LAB_TIMINGS["monitoring__alert_for"]) + 60
    before = [c.last() for c in cuts]
    for c in cuts:
        c.set_link("down")
    started = time.monotonic()
    try:
        for c, above in zip(cuts, before, strict=True):
            text = eventually(lambda c=c, above=above: c.mail_with(c.subject("FIRING"), above),
                              timeout=max(1, budget - (time.monotonic() - started)), interval=3)
            took = time.monotonic() - started
            assert took <= budget, took
            print(f"{c.mon.plane}: firing mail for {c.link.county} after {took:.0f} s (budget {budget} s)")
            assert f"link: {c.link.link}" in text
    finally:
        for c in cuts:
            c.set_link("up")
    restored = [c.last() for c in cuts]
    back = time.monotonic()
    for c, above in zip(cuts, restored, strict=True):
        text = eventually(lambda c=c, above=above: c.mail_with(c.subject("RESOLVED"), above),
                          timeout=150, interval=3)
        assert f"link: {c.link.link}" in text
        print(f"{c.mon.plane}: resolved mail {time.monotonic() - back:.0f} s after the link came back")
