"""The city's DNS answers from the model: every device, interface and service forward, every city
address reverse, asked with dig from every county host through its normal resolver path."""

from __future__ import annotations

import shlex

import pytest
from stackfacts import connect, county_hosts, dns, facts, selected, services


def _dns(host: str | None = None):
    """The city's zones and the DNS server ``host`` asks: its own plane's (the planes never meet)."""
    d, server = dns(), _server(host)
    return d, server.address


def _server(host: str | None = None):
    servers = [s for s in services().get("dns", []) if s.host in selected()
               and (host is None or s.address in facts(host).clients["dns"])]
    if not servers:
        pytest.skip("no DNS server of this host's plane in this selection")
    return servers[0]


def _answers(host: str, server: str, args: list[str]) -> dict[str, set[str]]:
    """One dig run for many questions: owner name -> answers."""
    out = connect(host).check_output(
        f"dig @{server} +noall +answer +time=2 +tries=2 {' '.join(map(shlex.quote, args))}")
    got: dict[str, set[str]] = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 5:
            got.setdefault(parts[0].rstrip(".").lower(), set()).add(parts[4].rstrip("."))
    return got


def test_every_name_resolves_forward(county_host):
    """Every device and interface; the shared services by the names of the server's own plane
    only (split horizon: ``gwjh`` is the intranet's exchange on the intranet, the extranet's on
    the extranet)."""
    d, server = _dns(county_host)
    plane = _server(county_host).plane
    zone = d.forward.zone
    want: dict[str, set[str]] = {}
    for r in d.forward.records:
        if r.plane in (None, plane):
            want.setdefault(f"{r.name}.{zone}", set()).add(r.value)
    args = [a for name in want for a in (name, "A")]
    got = _answers(county_host, server, args)
    wrong = {n: (v, got.get(n)) for n, v in want.items() if got.get(n) != v}
    assert not wrong, f"from {county_host}: {len(wrong)} names wrong, e.g. {list(wrong.items())[:3]}"
    # a service of the other plane only has no name here
    hidden = {f"{r.name}.{zone}" for r in d.forward.records if r.plane not in (None, plane)} - set(want)
    if hidden:
        seen = _answers(county_host, server, [a for name in sorted(hidden) for a in (name, "A")])
        assert not seen, f"from {county_host}: the other plane's services answer: {seen}"


def test_every_city_address_resolves_reverse(county_host):
    d, server = _dns(county_host)
    want: dict[str, str] = {}
    for zone, z in d.reverse.items():
        for r in z.records:
            want[f"{r.name}.{zone}"] = r.value.rstrip(".")
    assert want
    got = _answers(county_host, server, [a for name in want for a in (name, "PTR")])
    wrong = {n: (v, got.get(n)) for n, v in want.items() if got.get(n) != {v}}
    assert not wrong, f"from {county_host}: {len(wrong)} PTRs wrong, e.g. {list(wrong.items())[:3]}"


def test_the_resolver_is_the_city_dns(county_host):
    """Without @server: the host's resolver (resolv.conf from the baseline role) finds a device
    by its short name through the search domain."""
    d, _ = _dns(county_host)
    h = facts(county_host)
    short = f"mgmt.{h.device}.{h.site}"
    record = next(r for r in d.forward.records if r.name == short)
    out = connect(county_host).check_output(f"getent hosts {record.name}")
    assert out.split()[0] == record.value


def test_dns_server_hides_its_version():
    _, server = _dns()
    host = next((h for h in county_hosts() if server in facts(h).clients["dns"]), None)
    if host is None:
        pytest.skip("no county host of the DNS server's plane in this selection")
    out = connect(host).check_output(f"dig @{server} +short +time=2 version.bind TXT CH")
    assert "9." not in out
