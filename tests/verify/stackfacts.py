"""What the verification suite expects, derived from the stack named by GOVNET_VERIFY_STACK."""

from __future__ import annotations

import json
import os
import shlex
import time
from functools import cache

from govnet.addressing import address
from govnet.facts import BackupFacts, CityFacts, DnsFacts, HostFacts, Interface, MonitoringFacts, ServiceEntry

STACK = os.environ.get("GOVNET_VERIFY_STACK")


@cache
def compiled():
    from govnet.pipeline import LockMode, compile_stack

    return compile_stack(STACK, LockMode.READ)


@cache
def selected() -> tuple[str, ...]:
    """Host names within ``GOVNET_VERIFY_LIMIT`` (hosts or inventory groups), else all."""
    from govnet import inventory

    c = compiled()
    return tuple(inventory.select(c.vs, c.design, os.environ.get("GOVNET_VERIFY_LIMIT")))


def facts(name: str) -> HostFacts:
    """A host's facts, as the inventory gives them to the roles (typed: read by attribute)."""
    return compiled().design.hosts[name]


def all_facts() -> dict[str, HostFacts]:
    return compiled().design.hosts


def services() -> dict[str, list[ServiceEntry]]:
    """Where each shared service listens: service -> [ServiceEntry(host, address)]."""
    return compiled().design.services


def city() -> CityFacts:
    return compiled().design.city


def dns() -> DnsFacts:
    return compiled().design.dns


def monitoring() -> MonitoringFacts:
    return compiled().design.monitoring


def backup() -> BackupFacts:
    return compiled().design.backup


@cache
def connect(name: str):
    import testinfra

    if os.environ.get("GOVNET_VERIFY_PLATFORM", "lab") == "lab":
        hostkeys = "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"
    else:
        known = os.environ["GOVNET_VERIFY_KNOWN_HOSTS"]
        hostkeys = f"-o StrictHostKeyChecking=accept-new -o UserKnownHostsFile={known}"
    addr = address(facts(name).management.address)
    # one SSH connection per host for the whole run, shared by every check and every xdist worker
    # (testinfra asks for ControlMaster but gives no ControlPath, which means no multiplexing)
    return testinfra.get_host(f"ssh://root@{addr}", ssh_identity_file=os.environ["GOVNET_VERIFY_KEY"],
                              ssh_extra_args=hostkeys, controlpersist=120,
                              controlpath=_control_path())


def _control_path() -> str | None:
    """Where the SSH master sockets live (ssh expands %C); testinfra %-formats its command line."""
    path = os.environ.get("GOVNET_VERIFY_CONTROL_PATH")
    return path.replace("%", "%%") if path else None


def eventually(check, timeout: float = 60.0, interval: float = 2.0):
    """Retry ``check`` (which asserts) until it passes or ``timeout`` runs out; routing
    protocols and log forwarding settle some seconds after the configuration run."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
        time.sleep(interval)


def county_hosts() -> list[str]:
    return [h for h in selected() if facts(h).site_kind in ("county", "unit")]


def dc_servers() -> list[tuple[str, str]]:
    """(host, LAN address) of every server in the data center."""
    out = []
    for name, h in all_facts().items():
        if h.site_kind == "datacenter" and h.role == "server":
            lan = [i for i in h.interfaces if i.kind == "lan"]
            if lan:
                out.append((name, address(lan[0].address)))
    return out


def links() -> list[tuple[str, str, Interface]]:
    """(link id, host on side a, its interface facts) per routed link, each once."""
    seen, out = set(), []
    for name in selected():
        for iface in facts(name).interfaces:
            if iface.link and iface.ospf is not None and iface.link not in seen:
                seen.add(iface.link)
                out.append((iface.link, name, iface))
    return out


PROBE = ("import socket,sys\n"
         "s=socket.socket(); s.settimeout(float(sys.argv[3]))\n"
         "try:\n s.connect((sys.argv[1], int(sys.argv[2]))); print('open')\n"
         "except ConnectionRefusedError: print('refused')\n"
         "except OSError: print('silent')\n")


def tcp_probe(name: str, address: str, port: int, timeout: float = 2.0) -> str:
    """From host ``name``, connect to ``address:port``: 'open', 'refused' (something answered: a
    reset) or 'silent' (a firewall dropped it, or nothing routes there)."""
    return connect(name).check_output(f"python3 -c {shlex.quote(PROBE)} {address} {port} {timeout}")


SWEEP = ("import json,socket,subprocess,sys\n"
         "from concurrent.futures import ThreadPoolExecutor\n"
         "port, timeout = int(sys.argv[1]), float(sys.argv[2])\n"
         "def probe(a):\n"
         " echo = subprocess.run(['ping','-n','-q','-c','1','-W',str(int(timeout)),a],\n"
         "                       capture_output=True).returncode == 0\n"
         " s = socket.socket(); s.settimeout(timeout)\n"
         " try:\n  s.connect((a, port)); tcp = 'open'\n"
         " except ConnectionRefusedError: tcp = 'refused'\n"
         " except OSError: tcp = 'silent'\n"
         " return a, {'ping': echo, 'tcp': tcp}\n"
         "with ThreadPoolExecutor(32) as ex: print(json.dumps(dict(ex.map(probe, sys.argv[3:]))))\n")


def sweep(name: str, addresses: list[str], port: int, timeout: float = 1.0) -> dict[str, dict]:
    """From host ``name``, at once for every address: does it answer a ping, and what does
    ``port`` do ('open', 'refused' or 'silent', as :func:`tcp_probe`)."""
    out = connect(name).check_output(
        f"python3 -c {shlex.quote(SWEEP)} {port} {timeout} {' '.join(addresses)}")
    return json.loads(out)


def answers_ping(name: str, address: str) -> bool:
    return connect(name).run(f"ping -n -q -c 1 -W 1 {address}").rc == 0


def internet_hosts() -> list[str]:
    return [h for h in selected() if facts(h).site_kind == "internet"]


def egress_host() -> str | None:
    for name, h in all_facts().items():
        if h.firewall is not None and h.firewall.egress is not None:
            return name
    return None


HTTP_PROBE = """\
import json, socket, ssl, sys
address, port, name, path, cafile = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
sock = socket.create_connection((address, port), timeout=5)
if cafile != "-":
    ctx = ssl.create_default_context(cafile=cafile)
    sock = ctx.wrap_socket(sock, server_hostname=name)
sock.sendall(f"GET {path} HTTP/1.1\\r\\nHost: {name}\\r\\nConnection: close\\r\\n\\r\\n".encode())
data = b""
while chunk := sock.recv(65536):
    data += chunk
head, _, body = data.partition(b"\\r\\n\\r\\n")
lines = head.decode("latin-1").split("\\r\\n")
headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])}
print(json.dumps({"status": int(lines[0].split()[1]), "headers": headers,
                  "body": body.decode("utf-8", "replace"),
                  "tls": sock.version() if cafile != "-" else None}))
"""


def http_get(name: str, address: str, port: int, server_name: str, path: str = "/",
             cafile: str | None = None) -> dict:
    """From host ``name``, one HTTP(S) GET of ``path`` at ``address:port`` with Host/SNI
    ``server_name``; with ``cafile`` (a path on that host) over TLS verified against it."""
    out = connect(name).check_output(
        f"python3 -c {shlex.quote(HTTP_PROBE)} {address} {port} {server_name} {path} {cafile or '-'}")
    return json.loads(out)


def county_router() -> str | None:
    """A county router of the selection: its own packets come from link addresses."""
    return next((h for h in selected()
                 if facts(h).site_kind == "county" and facts(h).ospf is not None), None)
