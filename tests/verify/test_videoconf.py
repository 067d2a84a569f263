"""Video conferencing to the counties: Janus (VideoRoom) and coturn on the city's videoconf host.

Two counties of the server's plane join the city's room with a real WebRTC client (aiortc, run
from the controller inside a county PC's network namespace on each county's intranet LAN, made
for the test: tests/videoconf_client.py),
each publishes a synthetic video track and receives the other's frames; one of them only through
coturn's relays. Janus's API answers over HTTPS (the city CA) and only with its secret; coturn
hands out relays only for credentials from its shared secret, and relays to its plane only; the
other plane reaches neither."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from exchange import STATE, lan_address
from stackfacts import STACK, compiled, connect, facts, selected, services, tcp_probe

from govnet.addressing import address

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import videoconf_client

FRAMES = 30  # frames each county must receive (one second of the synthetic track)


def _server():
    """The first videoconf server in this selection, or skip."""
    entry = next((s for s in services().get("videoconf", []) if s.host in selected()), None)
    if entry is None:
        pytest.skip("no videoconf server in this selection")
    return facts(entry.host).videoconf


def _counties(plane: str) -> list[str]:
    return videoconf_client.counties(compiled().design, plane, among=set(selected()))


def _other_plane_host(plane: str) -> str | None:
    """A city server of the other plane, or None."""
    return next((h for h in selected() if facts(h).role == "server" and facts(h).planes
                 and plane not in facts(h).planes and facts(h).site_kind == "datacenter"), None)


def _lab() -> str:
    if os.environ.get("GOVNET_VERIFY_PLATFORM", "lab") != "lab":
        pytest.skip("the WebRTC client runs from the controller inside a lab county's namespace")
    return Path(STACK).stem


# Janus's API from a county host: the answer to a request, verified against the city CA by the
# service's name (python3's http.client runs there; the CA rides in the command)
API = r"""
import http.client, json, socket, ssl, sys
addr, name, port, source, ca, body = sys.argv[1:7]
ctx = ssl.create_default_context(cadata=ca)
class C(http.client.HTTPSConnection):
    def connect(self):
        sock = socket.create_connection((addr, int(port)), 10, source_address=(source, 0))
        self.sock = ctx.wrap_socket(sock, server_hostname=name)
c = C(addr, int(port), context=ctx)
c.request("POST", "/janus", body=body, headers={"Content-Type": "application/json"})
print(c.getresponse().read().decode())
"""


def _api(host: str, v, body: dict) -> dict:
    """From the county router's LAN address, as the county's own hosts connect (the service
    answers its plane, not the routers' link networks)."""
    ca = (STATE / "pki" / "city-ca.crt").read_text()
    return json.loads(connect(host).check_output(
        "python3 -c " + " ".join(shlex.quote(x) for x in (
            API, v.server.address, v.server_name, str(v.api_port), lan_address(host), ca,
            json.dumps(body)))))


def test_janus_and_coturn_listen_on_the_videoconf_address_only():
    v = _server()
    host = connect(v.server.host)
    tcp = {line.split()[3] for line in host.check_output(
        "ss -Hltnp | grep -E 'janus|turnserver' || true").splitlines()}
    udp = {line.split()[3] for line in host.check_output(
        f"ss -Hlunp '( sport = :{v.turn_port} )'").splitlines()}
    assert tcp == {f"{v.server.address}:{v.api_port}", f"{v.server.address}:{v.turn_port}"}, tcp
    assert udp == {f"{v.server.address}:{v.turn_port}"}, udp


def test_janus_offers_the_videoroom_over_https_and_only_with_its_secret():
    v = _server()
    county = next(iter(_counties(v.server.plane)), None)
    if county is None:
        pytest.skip("no county of the videoconf plane in this selection")
    info = _api(county, v, {"janus": "info", "transaction": "t"})
    assert info["janus"] == "server_info", info
    assert sorted(info["plugins"]) == ["janus.plugin.videoroom"], info["plugins"]
    assert sorted(info["transports"]) == ["janus.transport.http"], info["transports"]
    assert info["api_secret"] is True
    refused = _api(county, v, {"janus": "create", "transaction": "t"})
    assert refused["janus"] == "error" and refused["error"]["code"] == 403, refused


@pytest.mark.serial  # a PC joins each county's LAN for the test
def test_two_counties_see_each_others_video_one_through_coturn():
    v = _server()
    lab = _lab()
    counties = _counties(v.server.plane)
    if len(counties) < 2:
        pytest.skip(f"fewer than two counties of the {v.server.plane} in this selection")
    a, b = counties[:2]
    sa, sb = facts(a).site, facts(b).site
    design = compiled().design
    with videoconf_client.county_pc(lab, design, a) as (ns_a, _), \
            videoconf_client.county_pc(lab, design, b) as (ns_b, _):
        events = videoconf_client.run_pair(
            [{"netns": ns_a, "display": sa, "peer": sb},
             {"netns": ns_b, "display": sb, "peer": sa, "extra": ["--relay"]}],
            [*videoconf_client.client_args(v, STATE), "--frames", str(FRAMES), "--timeout", "60"],
            timeout=150)
    results = [next((e for e in evs if e["event"] == "result"), None) for evs in events]
    assert all(results), events
    for r in results:
        assert r["frames"] >= FRAMES, results
        assert r["size"] == [640, 480], results
    assert (results[0]["sent_via"], results[0]["received_via"]) == ("host", "host"), results
    # the second county's media both ways through coturn's relay
    assert (results[1]["sent_via"], results[1]["received_via"]) == ("relay", "relay"), results


@pytest.mark.serial  # a PC joins a county's LAN for the test
def test_coturn_relays_for_its_secret_and_to_its_plane_only():
    v = _server()
    lab = _lab()
    county = next(iter(_counties(v.server.plane)), None)
    other = _other_plane_host(v.server.plane)
    if county is None or other is None:
        pytest.skip("no county of the videoconf plane or no server of the other plane here")
    peer_other = address(facts(other).primary_address)

    def probe(secret_file: str) -> dict:
        cmd = ["ip", "netns", "exec", ns, sys.executable, videoconf_client.__file__, "--turn-probe",
               "--server", v.server.address, "--name", v.server_name, "--ca", "-",
               "--display", facts(county).site, "--turn-port", str(v.turn_port), "--timeout", "10",
               "--turn-peer", v.server.address, "--turn-peer", peer_other,
               "--turn-secret-file", secret_file]
        done = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=60)
        assert done.stdout, done.stderr
        return json.loads(done.stdout)

    with videoconf_client.county_pc(lab, compiled().design, county) as (ns, _), \
            tempfile.NamedTemporaryFile("w", suffix=".secret") as wrong:
        good = probe(str(STATE / "secrets" / "videoconf-turn"))
        wrong.write("not the shared secret\n")
        wrong.flush()
        bad = probe(wrong.name)
    assert good["relayed"] and good["relayed"][0] == v.server.address, good
    assert good["peers"][v.server.address] == "allowed", good
    assert good["peers"][peer_other].startswith("refused"), good  # the other plane
    assert bad["relayed"] is None and "401" in bad["error"], bad


def test_the_other_plane_reaches_neither_janus_nor_coturn():
    v = _server()
    other = _other_plane_host(v.server.plane)
    if other is None:
        pytest.skip("no server of the other plane in this selection")
    for port in (v.api_port, v.turn_port):
        assert tcp_probe(other, v.server.address, port) == "silent", port
