"""The network is up: every host as the stack describes it, routing converged, the city reachable.

Each test is derived from the stack (see conftest.py) and checks one behaviour on the real hosts.
"""

from __future__ import annotations

import json
import secrets

import pytest
from stackfacts import city, connect, eventually, facts, services


def test_hostname(host_name):
    assert connect(host_name).check_output("hostname") == host_name


def test_addresses(host_name):
    h = facts(host_name)
    want = {h.management.interface: h.management.address}
    want.update({i.name: i.address for i in h.interfaces})
    have = {}
    for link in json.loads(connect(host_name).check_output("ip -j -4 addr show")):
        for a in link.get("addr_info", []):
            have.setdefault(link["ifname"], set()).add(f"{a['local']}/{a['prefixlen']}")
    missing = {i: a for i, a in want.items() if a not in have.get(i, set())}
    assert not missing, f"addresses missing on {host_name}: {missing}"


def test_sshd_key_only_and_hardened(host_name):
    conf = dict(line.split(" ", 1) for line in
                connect(host_name).check_output("sshd -T").splitlines() if " " in line)
    assert conf["passwordauthentication"] == "no"
    assert conf["kbdinteractiveauthentication"] == "no"
    assert conf["permitrootlogin"] in ("without-password", "prohibit-password", "no")
    assert conf["x11forwarding"] == "no"
    assert int(conf["maxauthtries"]) == facts(host_name).security["login_attempts"]


def test_time_zone(host_name):
    tz = city().timezone
    assert connect(host_name).file("/etc/localtime").linked_to == f"/usr/share/zoneinfo/{tz}"


def test_time_source(host_name):
    servers = facts(host_name).clients["ntp"]
    if not servers:
        pytest.skip("not a city host: no city time source")
    sources = connect(host_name).check_output("chronyc -n sources")
    assert any(s in sources for s in servers), f"no NTP source of {servers} in:\n{sources}"


def test_ospf_neighbour_full(link):
    link_id, host_name, iface = link

    def full():
        out = connect(host_name).check_output("vtysh -c 'show ip ospf neighbor json'")
        neighbours = [n for ns in json.loads(out).get("neighbors", {}).values() for n in ns]
        states = {n.get("ifaceAddress") or n.get("address"): n.get("nbrState") or n.get("state")
                  for n in neighbours}
        state = states.get(iface.peer_address, "absent")
        assert str(state).startswith("Full"), (
            f"{link_id}: {host_name} {iface.name} sees {iface.peer} as {state}")
    eventually(full, timeout=90)


def test_county_reaches_the_dc_servers_of_its_plane_only(county_host, dc_server):
    """A county router reaches every data-center server of its own plane, and none of the other
    plane's: the planes never meet."""
    name, address = dc_server
    if facts(name).planes[0] not in facts(county_host).planes:
        cmd = connect(county_host).run(f"ping -c 2 -W 1 -i 0.3 {address}")
        assert cmd.rc != 0, f"{county_host} ({facts(county_host).planes}) reaches {name} " \
                            f"({facts(name).planes[0]}) at {address}"
        return

    def ping():
        cmd = connect(county_host).run(f"ping -c 2 -W 2 -i 0.3 {address}")
        assert cmd.rc == 0, f"{county_host} cannot reach {name} ({address}):\n{cmd.stdout}"
    eventually(ping, timeout=90)


def test_vpn_county_routes_through_its_tunnel(tunnel_host, dc_server):
    name, address = dc_server
    if facts(name).planes[0] not in facts(tunnel_host).planes:
        pytest.skip(f"{name} is on the other plane")
    tunnels = {t.interface for t in facts(tunnel_host).tunnels}

    def via_tunnel():
        route = json.loads(connect(tunnel_host).check_output(f"ip -j route get {address}"))[0]
        assert route["dev"] in tunnels, f"{tunnel_host} reaches {address} via {route['dev']}"
    eventually(via_tunnel, timeout=90)


def test_log_host_receives_from_county(county_host):
    # the log server of the county's own plane
    log_hosts = [s.host for s in services()["syslog"] if s.address in facts(county_host).clients["syslog"]]
    assert log_hosts, f"{county_host} has no syslog server"
    token = f"govnet-verify-{secrets.token_hex(6)}"
    connect(county_host).check_output(f"logger -t govnet-verify {token}")

    def arrived():
        found = connect(log_hosts[0]).run(f"grep -rl {token} /var/log/govnet/{county_host}/")
        assert found.rc == 0, f"{token} from {county_host} not in /var/log/govnet/{county_host}/"
    eventually(arrived, timeout=30, interval=1)
