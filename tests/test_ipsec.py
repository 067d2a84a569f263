"""IPsec for real on this machine: strongSwan's charon with kernel-libipsec (userspace ESP over a TUN
device, since the kernel has no ESP/XFRM), in throwaway network namespaces.

- Every swanctl.conf that `govnet render` makes for the example stacks loads into a running charon
  (connections named after the tunnel interfaces, one PSK per tunnel).
- The two ends of one rendered pair per stack, each in its own namespace joined by a veth,
  negotiate IKEv2 (PSK) and install the CHILD_SA in userspace, ESP in UDP.
- Traffic crosses such a tunnel, and a capture on the outer link holds only UDP 500/4500 and no
  inner address or payload in clear.

As they stand, the example stacks render no swanctl.conf (example-city and smoke-town tunnel with
WireGuard between FRR hosts, example-metro's VPN ends are vendor routers), so each stack is also
rendered in its IPsec form: every VPN link on `protocol: ipsec` with both ends on FRR — the change
that puts a county on IPsec. Any swanctl.conf a stack renders as it stands is included too.

charon runs with the vpn role's own charon settings (roles/vpn/files/etc/strongswan.d/), plus a
socket, log and runtime files under the test's temporary directory so that daemons coexist.
Namespaces are named gvtest-ipsec-*, addresses come from 198.18.248.0/21 only, and everything is
removed afterwards, also when a test fails.
"""

from __future__ import annotations

import contextlib
import copy
import ipaddress
import os
import re
import secrets
import select
import shutil
import signal
import struct
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from govnet.facts import Tunnel
from govnet.pipeline import compile_stack
from govnet.render import render
from lab_support import require_tools

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[1]
STACKS = ["example-city", "example-metro", "smoke-town"]
CHARON = "/usr/sbin/charon-systemd"
ROLE_CHARON_CONF = ROOT / "roles" / "vpn" / "files" / "etc" / "strongswan.d" / "govnet-libipsec.conf"
#: outer (the stacks' public addresses, rewritten) and inner addresses of the tests
OUTER = ipaddress.ip_network("198.18.248.0/24")
INNER = ipaddress.ip_network("198.18.249.0/31")
PLACEHOLDER = re.compile(r"<<vault:ipsec_psk:([^>]+)>>")
ADDRESS_LINE = re.compile(r"^(\s*(?:local_addrs|remote_addrs|id|id-local|id-remote)\s*=\s*)(\S+)\s*$")
WAIT = 20.0  # seconds for a daemon to answer or an SA to come up (it takes about one)


def require_ipsec() -> None:
    require_tools(CHARON, "swanctl", "tcpdump", "ping", "ip")


def run(*cmd: str, check: bool = True, timeout: float = 30, **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False, **kw)
    if check and proc.returncode:
        raise AssertionError(f"$ {' '.join(cmd)} -> {proc.returncode}\n{proc.stdout}{proc.stderr}")
    return proc


# --------------------------------------------------------------------------- the rendered files


def ipsec_form(data: dict) -> dict:
    """The stack with every VPN link on IPsec and both ends of each on FRR, except the ends that
    route both planes: FRR has no VRFs, so those stay on their vendor platform (and their links
    render no swanctl.conf)."""
    from govnet.model import Stack
    from govnet.rules.resolver import resolve_stack

    planes = resolve_stack(Stack.model_validate(copy.deepcopy(data))).planes
    ends = {e for link in data["links"] if link["medium"] == "vpn" for e in (link["a"], link["b"])}
    for link in data["links"]:
        if link["medium"] == "vpn":
            link["tunnel"] = {**(link.get("tunnel") or {}), "protocol": "ipsec"}
    for site in data["sites"]:
        for dev in site["devices"]:
            key = f"{site['name']}.{dev['name']}"
            if key in ends and len(planes[key]) == 1:
                dev["platform"] = "frr"
    return data


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict[str, dict]:
    """stack -> {files: host -> swanctl.conf text, tunnels: host -> its IPsec tunnels, pairs: [(a, b)]}."""
    out = {}
    for stack in STACKS:
        data = yaml.safe_load((ROOT / "stacks" / f"{stack}.yaml").read_text(encoding="utf-8"))
        files: dict[str, str] = {}
        tunnels: dict[str, list[Tunnel]] = {}
        pairs: list[tuple[str, str]] = []
        for form in (data, ipsec_form(yaml.safe_load(yaml.safe_dump(data)))):
            path = tmp_path_factory.mktemp(stack) / f"{stack}.yaml"
            path.write_text(yaml.safe_dump(form, allow_unicode=True, sort_keys=False), encoding="utf-8")
            c = compile_stack(path)
            made = render(c.design, management_supernet=c.vs.stack.address_plan.management)
            for name, text in made.items():
                if name.endswith("/swanctl.conf"):
                    host = name.split("/", 1)[0]
                    files[host] = text
                    tunnels[host] = [t for t in c.design.hosts[host].tunnels if t.protocol == "ipsec"]
            pairs += sorted({tuple(sorted((h, t.peer))) for h, ts in tunnels.items() for t in ts
                             if t.peer in files})
        assert files, f"{stack}: no swanctl.conf rendered, not even in its IPsec form"
        out[stack] = {"files": files, "tunnels": tunnels, "pairs": pairs}
    return out


def with_psks(text: str, psks: dict[str, str]) -> str:
    """Fill every <<vault:ipsec_psk:LINK>> placeholder (one random PSK per link, same on both ends)."""
    return PLACEHOLDER.sub(lambda m: psks.setdefault(m.group(1), secrets.token_hex(32)), text)


def readdressed(text: str, mapping: dict[str, str]) -> str:
    """The public addresses (IKE endpoints and identities) replaced one to one.

    The rendered files carry the stacks' public addresses: example-city's are the lab's simulated
    Internet (198.19/16) and example-metro's are documentation and private ranges (203.0.113/24,
    10/8), which must never be put on an interface of this machine. A one-to-one rewrite into
    198.18.248.0/24, applied to both ends alike, keeps the test honest: ends that agree still agree,
    ends that disagree (a wrong peer address or identity) still disagree, and every proposal,
    traffic selector and secret is exactly what was rendered. That both ends mirror each other's
    public address before the rewrite is test_link_agreement's job.
    """
    lines = []
    for line in text.splitlines():
        m = ADDRESS_LINE.match(line)
        lines.append(f"{m.group(1)}{mapping[m.group(2)]}" if m else line)
    return "\n".join(lines) + "\n"


def public_mapping(texts: list[str]) -> dict[str, str]:
    found = sorted({m.group(2) for text in texts for line in text.splitlines()
                    if (m := ADDRESS_LINE.match(line))}, key=ipaddress.ip_address)
    assert len(found) < OUTER.num_addresses - 2
    return {address: str(OUTER[i + 1]) for i, address in enumerate(found)}


# --------------------------------------------------------------------------- namespaces and daemons


class Charon:
    """charon (charon-systemd's binary) in one network namespace with its own config and socket."""

    def __init__(self, netns: str, workdir: Path):
        self.netns, self.dir = netns, workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.conf = workdir / "strongswan.conf"
        self.log = workdir / "charon.log"
        self.uri = f"unix://{workdir}/charon.vici"
        # the system's settings, then the vpn role's, then what lets two daemons share this machine
        self.conf.write_text(f"""include /etc/strongswan.conf
include {ROLE_CHARON_CONF}
charon {{
    filelog {{
        test {{
            path = {self.log}
            time_format = %T
            flush_line = yes
            default = 1
        }}
    }}
    plugins {{
        vici {{
            socket = {self.uri}
        }}
        lookip {{
            socket = unix://{workdir}/charon.lkp
        }}
        error-notify {{
            socket = unix://{workdir}/charon.enfy
        }}
    }}
}}
charon-systemd {{
    journal {{
        default = -1
    }}
}}
""", encoding="utf-8")
        self.env = {**os.environ, "STRONGSWAN_CONF": str(self.conf)}
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(["ip", "netns", "exec", self.netns, CHARON], env=self.env,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"charon in {self.netns} exited {self.proc.returncode}:\n{self.logs()}")
            if run("swanctl", "--stats", "--uri", self.uri, check=False, env=self.env).returncode == 0:
                return
            time.sleep(0.1)
        raise AssertionError(f"charon in {self.netns} did not answer within {WAIT}s:\n{self.logs()}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def swanctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return run("swanctl", *args, "--uri", self.uri, check=check, env=self.env)

    def load(self, text: str) -> str:
        path = self.dir / "swanctl.conf"
        path.write_text(text, encoding="utf-8")
        path.chmod(0o600)
        return self.swanctl("--load-all", "--noprompt", "--file", str(path)).stdout

    def logs(self) -> str:
        return self.log.read_text(errors="replace")[-6000:] if self.log.exists() else "(no log)"

    def wait_up(self, name: str) -> str:
        """`swanctl --list-sas` once connection ``name`` is ESTABLISHED and its child INSTALLED."""
        deadline = time.monotonic() + WAIT
        sas = ""
        while time.monotonic() < deadline:
            sas = self.swanctl("--list-sas", "--ike", name, check=False).stdout
            if re.search(rf"^{name}: #\d+, ESTABLISHED, IKEv2", sas, re.MULTILINE) and \
                    re.search(rf"^\s+{name}: #\d+, reqid \d+, INSTALLED, ", sas, re.MULTILINE):
                return sas
            time.sleep(0.2)
        raise AssertionError(f"{name} in {self.netns} not up within {WAIT}s:\n{sas}\n{self.logs()}")


class Netns:
    """Throwaway namespaces (gvtest-ipsec-<pid>-<name>), veths between them and charons in them;
    all removed on exit."""

    def __init__(self, workdir: Path):
        self.dir = workdir
        self.tag = f"{os.getpid() % 100000}{secrets.token_hex(2)}"
        self.names: list[str] = []
        self.daemons: list[Charon] = []

    def add(self, name: str) -> str:
        netns = f"gvtest-ipsec-{self.tag}-{name}"
        run("ip", "netns", "add", netns)
        self.names.append(netns)
        run("ip", "-n", netns, "link", "set", "lo", "up")
        # no IPv6 on the links, so a capture holds nothing but what the test sends
        for scope in ("all", "default"):
            run("ip", "netns", "exec", netns, "sh", "-c",
                f"echo 1 > /proc/sys/net/ipv6/conf/{scope}/disable_ipv6")
        return netns

    def veth(self, a: str, b: str, addr_a: str, addr_b: str, prefix: int) -> tuple[str, str]:
        ends = (f"gvi{self.tag}a", f"gvi{self.tag}b")
        run("ip", "link", "add", ends[0], "netns", a, "type", "veth", "peer", "name", ends[1], "netns", b)
        for netns, dev, address in ((a, ends[0], addr_a), (b, ends[1], addr_b)):
            run("ip", "-n", netns, "address", "add", f"{address}/{prefix}", "dev", dev)
            run("ip", "-n", netns, "link", "set", dev, "up")
        return ends

    def charon(self, netns: str) -> Charon:
        daemon = Charon(netns, self.dir / netns)
        self.daemons.append(daemon)
        daemon.start()
        return daemon

    def close(self) -> None:
        for daemon in self.daemons:
            daemon.stop()
        for netns in self.names:  # takes the veths and ipsec0 along
            run("ip", "netns", "delete", netns, check=False)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def netns(tmp_path) -> Iterator[Netns]:
    require_ipsec()
    box = Netns(tmp_path / "ipsec")
    try:
        yield box
    finally:
        box.close()
    left = [n for n in run("ip", "netns", "list").stdout.split() if n.startswith(f"gvtest-ipsec-{box.tag}")]
    assert not left, f"namespaces left behind: {left}"


@contextlib.contextmanager
def capture(netns: str, dev: str, path: Path) -> Iterator[None]:
    """tcpdump on ``dev`` into ``path`` while the block runs (started when it listens)."""
    proc = subprocess.Popen(["ip", "netns", "exec", netns, "tcpdump", "-n", "-U", "-p", "-i", dev,
                             "-w", str(path)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        ready, _, _ = select.select([proc.stderr], [], [], 10)
        assert ready and b"listening on" in proc.stderr.readline(), "tcpdump did not start"  # type: ignore
        yield
        time.sleep(0.3)  # the last replies
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def frames(path: Path) -> list[bytes]:
    """The frames of a pcap file (Ethernet link type)."""
    data = path.read_bytes()
    magic, _, _, _, _, _, linktype = struct.unpack("<IHHiIII", data[:24])
    assert magic == 0xA1B2C3D4 and linktype == 1, (hex(magic), linktype)
    out, offset = [], 24
    while offset + 16 <= len(data):
        caplen = struct.unpack("<IIII", data[offset:offset + 16])[2]
        out.append(data[offset + 16:offset + 16 + caplen])
        offset += 16 + caplen
    return out


# --------------------------------------------------------------------------- the tests


@pytest.mark.parametrize("stack", STACKS)
def test_every_rendered_swanctl_loads(rendered, netns, stack):
    """Each rendered file loads as it is (PSKs filled): its connections are the tunnels of the host."""
    daemon = netns.charon(netns.add("load"))
    psks: dict[str, str] = {}
    for host, text in rendered[stack]["files"].items():
        out = daemon.load(with_psks(text, psks))
        names = sorted(t.interface for t in rendered[stack]["tunnels"][host])
        assert f"successfully loaded {len(names)} connections" in out, f"{host}:\n{out}"
        for name in names:
            assert f"loaded ike secret 'ike-{name}'" in out, f"{host}:\n{out}"
        conns = daemon.swanctl("--list-conns").stdout
        assert sorted(re.findall(r"^(\S+): IKEv2", conns, re.MULTILINE)) == names, f"{host}:\n{conns}"


@pytest.mark.parametrize("stack", STACKS)
def test_rendered_pair_negotiates_ikev2(rendered, netns, stack):
    """Both ends of the stack's first IPsec pair, each in its namespace, bring their tunnel up."""
    r = rendered[stack]
    assert r["pairs"], f"{stack}: no link with strongSwan on both ends"
    a_host, b_host = r["pairs"][0]
    tunnel = {h: next(t for t in r["tunnels"][h] if t.peer == p) for h, p in
              ((a_host, b_host), (b_host, a_host))}
    mapping = public_mapping([r["files"][a_host], r["files"][b_host]])
    a, b = netns.add("a"), netns.add("b")
    netns.veth(a, b, mapping[tunnel[a_host].local_public], mapping[tunnel[b_host].local_public],
               OUTER.prefixlen)
    psks: dict[str, str] = {}
    daemons = {}
    for host, ns in ((a_host, a), (b_host, b)):
        daemons[host] = netns.charon(ns)
        daemons[host].load(readdressed(with_psks(r["files"][host], psks), mapping))
    for host, daemon in daemons.items():
        name = tunnel[host].interface
        sas = daemon.wait_up(name)
        # userspace ESP, in UDP: kernel-libipsec, not the kernel (which has no ESP here)
        assert re.search(rf"^\s+{name}: #\d+, reqid \d+, INSTALLED, TUNNEL-in-UDP, ESP:AES_CBC-256/"
                         "HMAC_SHA2_256_128", sas, re.MULTILINE), sas
        assert "AES_CBC-256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048" in sas, sas
        assert "unable to add SAD entry" not in daemon.logs()


def test_traffic_through_kernel_libipsec_is_esp_in_udp_only(rendered, netns):
    """example-city's IPsec pair: pings cross ipsec0; the outer link carries UDP 500/4500 only."""
    r = rendered["example-city"]
    a_host, b_host = r["pairs"][0]
    tunnel = {h: next(t for t in r["tunnels"][h] if t.peer == p) for h, p in
              ((a_host, b_host), (b_host, a_host))}
    mapping = public_mapping([r["files"][a_host], r["files"][b_host]])
    a, b = netns.add("a"), netns.add("b")
    outer_a, outer_b = mapping[tunnel[a_host].local_public], mapping[tunnel[b_host].local_public]
    veth_a, _ = netns.veth(a, b, outer_a, outer_b, OUTER.prefixlen)
    psks: dict[str, str] = {}
    daemons = {}
    for host, ns in ((a_host, a), (b_host, b)):
        daemons[host] = netns.charon(ns)
        daemons[host].load(readdressed(with_psks(r["files"][host], psks), mapping))
    for host, daemon in daemons.items():
        daemon.wait_up(tunnel[host].interface)
    # the tunnel's inner /31 on the TUN device, as FRR puts the design's tunnel address there;
    # the rendered traffic selectors are 0.0.0.0/0 (route-based), so the route decides
    inner_a, inner_b = str(INNER[0]), str(INNER[1])
    for ns, address, host in ((a, inner_a, a_host), (b, inner_b, b_host)):
        dev = tunnel[host].interface
        assert dev == "ipsec0", f"kernel-libipsec's TUN device is ipsec0; the design named it {dev}"
        run("ip", "-n", ns, "address", "add", f"{address}/{INNER.prefixlen}", "dev", dev)
    pcap = netns.dir / "outer.pcap"
    pattern = b"govnet-ipsec".hex()[:32]  # ping -p takes up to 16 bytes
    with capture(a, veth_a, pcap):
        ping = run("ip", "netns", "exec", a, "ping", "-n", "-c", "5", "-i", "0.2", "-W", "2",
                   "-p", pattern, inner_b)
    assert " 0% packet loss" in ping.stdout, ping.stdout
    sas = daemons[a_host].swanctl("--list-sas").stdout
    out = re.search(r"^\s+out [0-9a-f]+[^,]*,\s+\d+ bytes,\s+(\d+) packets", sas, re.MULTILINE)
    assert out and int(out.group(1)) >= 5, sas

    seen: dict[str, int] = {}
    secret = [ipaddress.ip_address(inner_a).packed, ipaddress.ip_address(inner_b).packed,
              bytes.fromhex(pattern)]
    for frame in frames(pcap):
        ethertype = struct.unpack("!H", frame[12:14])[0]
        if ethertype == 0x0806:  # ARP for the outer addresses
            continue
        assert ethertype == 0x0800, f"not IPv4 on the outer link: {frame[:34].hex()}"
        ip = frame[14:]
        header = (ip[0] & 0x0F) * 4
        assert not any(s in ip for s in secret), f"inner address or payload in clear: {ip.hex()}"
        if ip[9] == 2 and ip[16:20] == bytes([224, 0, 0, 22]):  # the outer link's own IGMPv3 reports
            continue
        assert ip[9] == 17, f"not UDP on the outer link: protocol {ip[9]}"
        ports = struct.unpack("!HH", ip[header:header + 4])
        assert set(ports) <= {500, 4500}, f"UDP ports {ports} on the outer link"
        assert {ip[12:16], ip[16:20]} == {ipaddress.ip_address(outer_a).packed,
                                          ipaddress.ip_address(outer_b).packed}
        payload = ip[header + 8:]
        kind = "ike" if ports[0] == 500 or payload[:4] == bytes(4) else "esp"  # non-ESP marker: 0
        seen[kind] = seen.get(kind, 0) + 1
    # ESP in UDP 4500: at least the 5 requests and 5 replies
    assert seen.get("esp", 0) >= 10, seen
