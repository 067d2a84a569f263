"""A participant of the city's video conference: a real WebRTC client (aiortc) of Janus's
VideoRoom, run from the controller inside a county's network namespace by the verify suite
(tests/verify/test_videoconf.py) and by benchmarks/videoconf.py.

A participant joins the room under its site's name, publishes a synthetic video track, waits for
the other county's feed, subscribes to it and counts the frames it decodes. It prints one JSON
line when it has published (``{"event": "published", ...}``) and one with its result
(``{"event": "result", "frames": n, ...}``; times in seconds from its start), then keeps
publishing until its standard input closes, so that the other side can finish counting.

    python tests/videoconf_client.py --server ADDR --name video.example.gov.cn --ca CA.pem \\
        --api-secret-file F --room 1000 --display wolong --peer wancheng --frames 30 \\
        [--turn-secret-file F --turn-port 3478 --relay]

``--relay`` makes every connection of the participant go through coturn (ICE relay candidates
only): the proof that coturn relays media for a client that cannot reach Janus directly.

:func:`run_pair` runs two participants in two namespaces and returns their results.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import hmac
import http.client
import json
import secrets
import select
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

PLUGIN = "janus.plugin.videoroom"


class JanusError(RuntimeError):
    pass


class _Https(http.client.HTTPSConnection):
    """HTTPS to an address, verified against the city CA for the service's DNS name (the client
    may not resolve that name: the namespace has no resolver of the city)."""

    def __init__(self, address: str, port: int, name: str, context: ssl.SSLContext):
        super().__init__(address, port, timeout=40, context=context)
        self._name, self._ctx = name, context

    def connect(self):
        sock = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self._ctx.wrap_socket(sock, server_hostname=self._name)


class Janus:
    """Janus's HTTP API (https://janus.conf.meetecho.com/docs/rest.html): one session, its events
    read by a long poll in the background."""

    def __init__(self, address: str, port: int, name: str, ca: str, api_secret: str):
        self.address, self.port, self.name, self.secret = address, port, name, api_secret
        self.ctx = ssl.create_default_context(cafile=ca)
        self.session: int | None = None
        self.events: dict[str, asyncio.Queue] = {}
        self._poll: asyncio.Task | None = None

    def _call(self, method: str, path: str, body: dict | None = None) -> dict:
        conn = _Https(self.address, self.port, self.name, self.ctx)
        try:
            conn.request(method, path, body=json.dumps(body) if body is not None else None,
                         headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            data = resp.read()
        finally:
            conn.close()
        return json.loads(data)

    async def request(self, path: str, body: dict) -> dict:
        body = {**body, "transaction": secrets.token_hex(8), "apisecret": self.secret}
        reply = await asyncio.to_thread(self._call, "POST", path, body)
        if reply.get("janus") == "error":
            raise JanusError(f"{body['janus']}: {reply['error']}")
        return reply

    async def start(self) -> None:
        self.session = (await self.request("/janus", {"janus": "create"}))["data"]["id"]
        self._poll = asyncio.create_task(self._pump())

    async def _pump(self) -> None:
        path = f"/janus/{self.session}?maxev=10&apisecret={self.secret}"
        while True:
            got = await asyncio.to_thread(self._call, "GET", path)
            for ev in got if isinstance(got, list) else [got]:
                if ev.get("janus") == "keepalive":
                    continue
                self.events.setdefault(str(ev.get("sender")), asyncio.Queue()).put_nowait(ev)

    async def attach(self) -> int:
        handle = (await self.request(f"/janus/{self.session}",
                                     {"janus": "attach", "plugin": PLUGIN}))["data"]["id"]
        self.events.setdefault(str(handle), asyncio.Queue())
        return handle

    async def message(self, handle: int, body: dict, jsep: dict | None = None,
                      timeout: float = 30) -> dict:
        """A request to the plugin: its answer, synchronous or the event that follows the ack."""
        req = {"janus": "message", "body": body, **({"jsep": jsep} if jsep else {})}
        reply = await self.request(f"/janus/{self.session}/{handle}", req)
        if reply.get("janus") == "success":
            return reply
        while True:  # "ack": the answer comes as an event of the handle
            ev = await asyncio.wait_for(self.events[str(handle)].get(), timeout)
            if ev.get("janus") == "event" and "plugindata" in ev:
                data = ev["plugindata"]["data"]
                if data.get("error"):
                    raise JanusError(f"{body.get('request')}: {data['error']}")
                return ev

    async def close(self) -> None:
        if self._poll:
            self._poll.cancel()
        if self.session is not None:
            with contextlib.suppress(JanusError, OSError):  # the session times out anyway
                await self.request(f"/janus/{self.session}", {"janus": "destroy"})


def turn_credentials(secret: str, user: str, ttl: int = 3600) -> tuple[str, str]:
    """Time-limited TURN credentials from coturn's shared secret (TURN REST API)."""
    username = f"{int(time.time()) + ttl}:{user}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


def _configuration(args):
    from aiortc import RTCConfiguration, RTCIceServer
    from aiortc.rtcconfiguration import RTCIceTransportPolicy

    if not args.turn_secret_file:
        return RTCConfiguration(iceServers=[])
    user, password = turn_credentials(Path(args.turn_secret_file).read_text().strip(), args.display)
    server = RTCIceServer(urls=[f"turn:{args.server}:{args.turn_port}?transport=udp"],
                          username=user, credential=password)
    policy = RTCIceTransportPolicy.RELAY if args.relay else RTCIceTransportPolicy.ALL
    return RTCConfiguration(iceServers=[server], iceTransportPolicy=policy)


async def _connected(pc, timeout: float) -> None:
    end = time.monotonic() + timeout
    while pc.connectionState != "connected":
        if pc.connectionState == "failed" or time.monotonic() > end:
            raise JanusError(f"the connection did not come up ({pc.connectionState}, "
                             f"ICE {pc.iceConnectionState})")
        await asyncio.sleep(0.02)


def _route(pc) -> str | None:
    """The type of the local ICE candidate a connection's media flows through: "host" (straight to
    Janus) or "relay" (through coturn). aiortc keeps the nominated pair in its ICE agent (aioice)."""
    try:
        ice = pc.getTransceivers()[0].receiver.transport.transport
        pair = next(iter(ice._connection._nominated.values()))
        return pair.local_candidate.type
    except (AttributeError, IndexError, StopIteration):
        return None


def _say(event: str, **fields) -> None:
    print(json.dumps({"event": event, **fields}), flush=True)


async def publish(janus: Janus, args):
    """Join the room under the site's name and publish a synthetic video track: (the connection,
    the feed's id) once media flows to Janus."""
    from aiortc import RTCPeerConnection, RTCSessionDescription
    from aiortc.mediastreams import VideoStreamTrack

    handle = await janus.attach()
    joined = await janus.message(handle, {"request": "join", "ptype": "publisher",
                                          "room": args.room, "display": args.display})
    pc = RTCPeerConnection(_configuration(args))
    pc.addTrack(VideoStreamTrack())
    await pc.setLocalDescription(await pc.createOffer())
    answer = await janus.message(handle, {"request": "publish", "audio": False, "video": True},
                                 jsep={"type": "offer", "sdp": pc.localDescription.sdp, "trickle": False})
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["jsep"]["sdp"], type="answer"))
    await _connected(pc, args.timeout)
    return pc, handle, joined["plugindata"]["data"]["id"]


async def find_feed(janus: Janus, handle: int, args) -> int:
    """The feed the other county publishes in the room, once it does."""
    end = time.monotonic() + args.timeout
    while True:
        listed = await janus.message(handle, {"request": "listparticipants", "room": args.room})
        feed = next((p["id"] for p in listed["plugindata"]["data"]["participants"]
                     if p.get("display") == args.peer and p.get("publisher")), None)
        if feed is not None:
            return feed
        if time.monotonic() > end:
            raise JanusError(f"{args.peer} did not publish in room {args.room} within {args.timeout} s")
        await asyncio.sleep(0.2)


async def subscribe(janus: Janus, feed: int, args, since) -> tuple:
    """Subscribe to a feed and decode its frames: (the connection, what was counted) once
    ``args.frames`` arrived or the time ran out."""
    from aiortc import RTCPeerConnection, RTCSessionDescription

    handle = await janus.attach()
    offer = await janus.message(handle, {"request": "join", "ptype": "subscriber", "room": args.room,
                                         "streams": [{"feed": feed}]})
    pc = RTCPeerConnection(_configuration(args))
    frames: dict = {"count": 0, "first": None, "size": None}
    tracks: list = []

    async def count(track):
        while frames["count"] < args.frames:
            frame = await track.recv()
            frames["count"] += 1
            frames["first"] = frames["first"] or since()
            frames["size"] = [frame.width, frame.height]

    pc.on("track", lambda track: tracks.append(asyncio.ensure_future(count(track))))
    await pc.setRemoteDescription(RTCSessionDescription(sdp=offer["jsep"]["sdp"], type="offer"))
    await pc.setLocalDescription(await pc.createAnswer())
    await janus.message(handle, {"request": "start", "room": args.room},
                        jsep={"type": "answer", "sdp": pc.localDescription.sdp, "trickle": False})
    end = time.monotonic() + args.timeout
    while frames["count"] < args.frames and time.monotonic() < end:
        await asyncio.sleep(0.05)
    for t in tracks:
        t.cancel()
    return pc, frames


async def participant(args) -> int:
    t0 = time.monotonic()

    def since() -> float:
        return round(time.monotonic() - t0, 3)

    janus = Janus(args.server, args.api_port, args.name, args.ca,
                  Path(args.api_secret_file).read_text().strip())
    pcs = []
    try:
        await janus.start()
        pub, handle, me = await publish(janus, args)
        pcs.append(pub)
        _say("published", display=args.display, feed=me, joined=since())
        rx, frames = await subscribe(janus, await find_feed(janus, handle, args), args, since)
        pcs.append(rx)
        _say("result", display=args.display, peer=args.peer, frames=frames["count"],
             first_frame=frames["first"], size=frames["size"], sent_via=_route(pub),
             received_via=_route(rx), elapsed=since())
        # keep publishing until the harness closes standard input (the other side may still count)
        end = time.monotonic() + args.timeout
        while time.monotonic() < end and not _stdin_closed():
            await asyncio.sleep(0.2)
        return 0 if frames["count"] >= args.frames else 1
    finally:
        for pc in pcs:
            await pc.close()
        await janus.close()


async def turn_probe(args) -> int:
    """Allocate a relay on coturn with credentials from ``--turn-secret-file`` and ask it to relay
    to each ``--turn-peer``: prints the relayed address and, per peer, whether coturn agreed."""
    from aioice import stun, turn

    user, password = turn_credentials(Path(args.turn_secret_file).read_text().strip(), args.display)
    server = (args.server, args.turn_port)
    udp, client = await asyncio.get_running_loop().create_datagram_endpoint(
        lambda: turn.TurnClientUdpProtocol(server, username=user, password=password, lifetime=60,
                                           channel_refresh_time=50), remote_addr=server)
    try:
        try:
            relayed = await asyncio.wait_for(client.connect(), args.timeout)
        except (stun.TransactionFailed, stun.TransactionTimeout, ConnectionError, TimeoutError) as e:
            _say("turn", relayed=None, error=f"{type(e).__name__}: {e}")
            return 1
        peers = {}
        for n, peer in enumerate(args.turn_peer):
            try:
                await asyncio.wait_for(client.channel_bind(0x4000 + n, (peer, 9)), args.timeout)
                peers[peer] = "allowed"
            except (stun.TransactionFailed, stun.TransactionTimeout, TimeoutError) as e:
                peers[peer] = f"refused: {e}"
        _say("turn", relayed=list(relayed), peers=peers)
        await client.delete()
    finally:
        udp.close()
    return 0


def _stdin_closed() -> bool:
    ready, _, _ = select.select([sys.stdin], [], [], 0)
    return bool(ready) and sys.stdin.read(1) == ""


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--server", required=True, help="Janus's (and coturn's) address")
    ap.add_argument("--name", required=True, help="the service's DNS name, its certificate's")
    ap.add_argument("--ca", required=True, help="the city CA's certificate (PEM file)")
    ap.add_argument("--api-port", type=int, default=443)
    ap.add_argument("--api-secret-file")
    ap.add_argument("--room", type=int)
    ap.add_argument("--display", required=True, help="this participant's site")
    ap.add_argument("--peer", help="the site whose video to receive")
    ap.add_argument("--frames", type=int, default=30, help="frames to receive")
    ap.add_argument("--timeout", type=float, default=40)
    ap.add_argument("--turn-secret-file")
    ap.add_argument("--turn-port", type=int, default=3478)
    ap.add_argument("--relay", action="store_true", help="through coturn only (relay candidates)")
    ap.add_argument("--turn-probe", action="store_true",
                    help="only allocate a relay on coturn and try to relay to each --turn-peer")
    ap.add_argument("--turn-peer", action="append", default=[], help="an address to relay to")
    args = ap.parse_args(argv)
    try:
        return asyncio.run(turn_probe(args) if args.turn_probe else participant(args))
    except (JanusError, OSError, KeyError) as e:
        _say("error", display=args.display, error=f"{type(e).__name__}: {e}")
        return 2


def counties(design, plane: str, among=None) -> list[str]:
    """County routers of ``plane``, one per county, in file order (within ``among``, host names,
    if given): where the checks and the benchmark seat their participants."""
    sites, out = set(), []
    for name, h in design.hosts.items():
        if (among is None or name in among) and h.site_kind == "county" and h.routing \
                and plane in h.planes and h.site not in sites:
            sites.add(h.site)
            out.append(name)
    return out


def client_args(v, state: Path) -> list[str]:
    """The arguments naming a videoconf server (``Videoconf`` facts) and the controller's CA and
    secrets under the stack's state folder ``state``."""
    return ["--server", v.server.address, "--name", v.server_name,
            "--ca", str(state / "pki" / "city-ca.crt"), "--api-port", str(v.api_port),
            "--api-secret-file", str(state / "secrets" / "videoconf-api"), "--room", str(v.room.id),
            "--turn-secret-file", str(state / "secrets" / "videoconf-turn"),
            "--turn-port", str(v.turn_port)]


@contextlib.contextmanager
def county_pc(lab: str, design, router: str):
    """A county PC for the length of a check: a client of the lab (``fabric.ensure_client``, a
    helper namespace that ``govnet down`` sweeps too) on the router's LAN segment, with the LAN's
    highest free address and the router as its gateway, as a unit's own PC sits. Yields
    (namespace, address); the PC and its cable are gone afterwards."""
    import ipaddress

    from govnet.lab import fabric

    h = design.hosts[router]
    lan = next(i for i in h.interfaces if i.kind == "lan")
    gateway = ipaddress.ip_interface(lan.address)
    used = {str(ipaddress.ip_interface(i.address).ip) for x in design.hosts.values()
            for i in x.interfaces if i.address}
    addr = next(str(a) for a in reversed(list(gateway.network.hosts())) if str(a) not in used)
    name = f"pc-{h.site}"
    fabric.remove_client(lab, name)  # a leftover of an interrupted check
    try:
        ns = fabric.ensure_client(lab, name, f"{h.site}:{lan.zone}",
                                  f"{addr}/{gateway.network.prefixlen}", str(gateway.ip))
        yield ns, addr
    finally:
        fabric.remove_client(lab, name)


def run_pair(sides: list[dict], common: list[str], timeout: float = 90) -> list[dict]:
    """Run one participant per side at once, each in its network namespace (``sides``: dicts of
    ``netns``, ``display``, ``peer`` and ``extra`` arguments); their events, per side, in order.
    Standard input of both closes once both have reported a result (or failed)."""
    procs = [subprocess.Popen(
        ["ip", "netns", "exec", s["netns"], sys.executable, __file__, *common,
         "--display", s["display"], "--peer", s["peer"], *s.get("extra", [])],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for s in sides]
    events: list[list[dict]] = [[] for _ in sides]
    end = time.monotonic() + timeout
    try:
        pending = {p.stdout.fileno(): i for i, p in enumerate(procs)}
        while pending and time.monotonic() < end:
            ready, _, _ = select.select(list(pending), [], [], 0.5)
            for fd in ready:
                i = pending[fd]
                line = procs[i].stdout.readline()
                if not line:
                    pending.pop(fd)
                    continue
                ev = json.loads(line)
                events[i].append(ev)
                if ev["event"] in ("result", "error"):
                    pending.pop(fd)
    finally:
        for p in procs:
            with contextlib.suppress(OSError):
                p.stdin.close()
        for i, p in enumerate(procs):
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            err = p.stderr.read().strip()
            if err and not any(e["event"] == "result" for e in events[i]):
                events[i].append({"event": "stderr", "text": err[-2000:]})
    return events


if __name__ == "__main__":
    sys.exit(main())
