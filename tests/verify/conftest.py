"""The verification suite run by ``govnet up`` / ``govnet verify`` against running hosts.

Everything it expects is derived from the stack named by ``GOVNET_VERIFY_STACK`` (set by
:mod:`govnet.verify`); without it (a plain ``pytest`` run) these tests are not collected.
"""

from __future__ import annotations

import os

import pytest

if not os.environ.get("GOVNET_VERIFY_STACK"):
    collect_ignore_glob = ["test_*.py"]


def pytest_generate_tests(metafunc):
    from stackfacts import county_hosts, dc_servers, facts, links, selected

    params = {
        "host_name": lambda: [pytest.param(h, id=h) for h in selected()],
        "router_name": lambda: [pytest.param(h, id=h) for h in selected() if facts(h).ospf is not None],
        "county_host": lambda: [pytest.param(h, id=h) for h in county_hosts()],
        "link": lambda: [pytest.param(x, id=x[0]) for x in links()],
        "tunnel_host": lambda: [pytest.param(h, id=h) for h in county_hosts()
                                if facts(h).tunnels],
    }
    for name, make in params.items():
        if name in metafunc.fixturenames:
            metafunc.parametrize(name, make())
    if "dc_server" in metafunc.fixturenames:
        metafunc.parametrize("dc_server", [pytest.param(s, id=s[0]) for s in dc_servers()])


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "serial: changes the lab for a moment (a link cut, a forced route); runs alone, "
                   "after the read-only checks")

