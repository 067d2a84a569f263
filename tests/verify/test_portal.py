"""The government portal: HTTPS with the city CA, HTTP redirected, security headers, the site
from the repository — seen from the Internet's citizen host through the egress firewall and from
a county by the portal's name."""

from __future__ import annotations

import pytest
from stackfacts import (
    city,
    connect,
    county_hosts,
    egress_host,
    facts,
    http_get,
    internet_hosts,
    services,
)

from govnet.addressing import address

CA_ON_CLIENT = "/tmp/govnet-city-ca.crt"


def _portal():
    portals = services().get("portal", [])
    if not portals:
        pytest.skip("the stack has no portal")
    return portals[0].host, city().portal_server_name


@pytest.fixture(scope="module")
def from_internet():
    """(citizen host, the egress's Internet address, server name) with the city CA on the citizen."""
    host, name = _portal()
    egress = egress_host()
    if not internet_hosts() or not egress:
        pytest.skip("no Internet host or egress firewall")
    citizen = internet_hosts()[0]
    ca = connect(host).file("/etc/nginx/tls/city-ca.crt").content_string
    connect(citizen).check_output(f"cat > {CA_ON_CLIENT} <<'EOF'\n{ca}EOF")
    return citizen, address(facts(egress).internet.address), name


def test_http_redirects_to_https(from_internet):
    citizen, address, name = from_internet
    r = http_get(citizen, address, 80, name, "/xxgk/")
    assert r["status"] == 301
    assert r["headers"]["location"] == f"https://{name}/xxgk/"


def test_https_with_the_city_ca(from_internet):
    citizen, address, name = from_internet
    r = http_get(citizen, address, 443, name, "/", cafile=CA_ON_CLIENT)
    assert r["status"] == 200
    assert r["tls"] in ("TLSv1.2", "TLSv1.3")
    assert "示例市" in r["body"] or city().display_name in r["body"]


@pytest.mark.parametrize("header", ["strict-transport-security", "x-content-type-options",
                                    "x-frame-options", "content-security-policy"])
def test_security_headers(from_internet, header):
    citizen, address, name = from_internet
    r = http_get(citizen, address, 443, name, "/", cafile=CA_ON_CLIENT)
    assert header in r["headers"]


def test_no_version_banner(from_internet):
    citizen, address, name = from_internet
    r = http_get(citizen, address, 443, name, "/no-such-page", cafile=CA_ON_CLIENT)
    assert r["status"] == 404
    assert r["headers"].get("server") == "nginx"


def test_public_qa_channel_is_served(from_internet):
    citizen, address, name = from_internet
    r = http_get(citizen, address, 443, name, "/hudong/", cafile=CA_ON_CLIENT)
    assert r["status"] == 200 and "<form" in r["body"]


def test_county_reaches_the_portal_by_name():
    host, name = _portal()
    # a county of the portal's plane: the intranet's never reach the extranet
    counties = [h for h in county_hosts() if facts(h).planes[:1] == facts(host).planes]
    if not counties:
        pytest.skip("no county host of the portal's plane in this selection")
    county = counties[0]
    ca = connect(host).file("/etc/nginx/tls/city-ca.crt").content_string
    connect(county).check_output(f"cat > {CA_ON_CLIENT} <<'EOF'\n{ca}EOF")
    address = connect(county).check_output(f"getent hosts {name}").split()[0]
    r = http_get(county, address, 443, name, "/", cafile=CA_ON_CLIENT)
    assert r["status"] == 200
