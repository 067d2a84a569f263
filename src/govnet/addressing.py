"""Address plan: every subnet and address the stack needs, allocated deterministically.

One job: (validated stack, previous lock) -> :class:`Plan`. Allocation is pure: entries in the lock
that are still wanted and still fit are kept as they are, so adding or removing a site renumbers
nothing else; new needs take the lowest free aligned block of their pool. Reading and writing the
lock file are separate functions so the allocation itself can be tested without I/O.
"""

from __future__ import annotations

import bisect
import itertools
import os
from dataclasses import dataclass, field
from pathlib import Path

import netaddr
import yaml

from govnet import model as m
from govnet.diagnostics import Diagnostic, StackError
from govnet.perf import no_gc
from govnet.rules import ValidStack


def address(cidr: str) -> str:
    """The address part of ``a.b.c.d/len`` (a plain address is returned as it is)."""
    return cidr.split("/", 1)[0]


# Integer address arithmetic for the hot loops (a 10 000-device city parses ~300 000 addresses;
# a netaddr object costs ~4 us each). Only canonical dotted quads take the fast path; anything
# else (leading zeros, no prefix length, junk) goes through netaddr, so the results and errors
# are exactly netaddr's.

_OCTETS = {str(i): i for i in range(256)}
_PREFIXES = {str(i): i for i in range(33)}


def to_int(ip: str) -> int:
    """``'10.0.0.1'`` -> 167772161 (netaddr.IPAddress semantics)."""
    try:
        a, b, c, d = ip.split(".")
        return (_OCTETS[a] << 24) | (_OCTETS[b] << 16) | (_OCTETS[c] << 8) | _OCTETS[d]
    except (ValueError, KeyError):
        return int(netaddr.IPAddress(ip, 4))


def from_int(value: int) -> str:
    """167772161 -> ``'10.0.0.1'``."""
    return f"{value >> 24}.{(value >> 16) & 255}.{(value >> 8) & 255}.{value & 255}"


def parse_cidr(cidr: str) -> tuple[int, int]:
    """``'10.0.0.5/24'`` -> (the address as an integer, 24), as netaddr.IPNetwork(cidr, version=4)
    reads it (and raises what it raises)."""
    ip, sep, plen = cidr.partition("/")
    prefix = _PREFIXES.get(plen) if sep else None
    if prefix is not None:
        try:
            a, b, c, d = ip.split(".")
            return (_OCTETS[a] << 24) | (_OCTETS[b] << 16) | (_OCTETS[c] << 8) | _OCTETS[d], prefix
        except (ValueError, KeyError):
            pass
    net = netaddr.IPNetwork(cidr, version=4)
    return int(net.ip), net.prefixlen


def network_first(cidr: str) -> int:
    """The network address of ``cidr`` as an integer (netaddr.IPNetwork(cidr).first)."""
    ip, plen = parse_cidr(cidr)
    return ip & (0xFFFFFFFF ^ ((1 << (32 - plen)) - 1))


def canonical(cidr: str) -> str:
    """``str(netaddr.IPNetwork(cidr))``: the address and prefix length as netaddr writes them."""
    ip, plen = parse_cidr(cidr)
    return f"{from_int(ip)}/{plen}"


LOCK_VERSION = 1
INTERNET_SEGMENT_PREFIX = 24


class _Pool:
    """Free-space tracker for one IPv4 block; allocations are aligned, lowest first."""

    __slots__ = ("cursor", "ends", "first", "last", "prefixlen", "starts")

    def __init__(self, first: int, last: int, prefixlen: int = 32):
        self.first = first
        self.last = last
        self.prefixlen = prefixlen  # a host pool's: the enclosing subnet's, carried by each address
        self.starts: list[int] = []
        self.ends: list[int] = []
        self.cursor: dict[int, int] = {}

    def _collides(self, start: int, end: int) -> int:
        """Index of a used block overlapping [start, end], or -1."""
        i = bisect.bisect_right(self.starts, end) - 1
        if i >= 0 and self.ends[i] >= start:
            return i
        return -1

    def take(self, start: int, size: int) -> bool:
        end = start + size - 1
        if start < self.first or end > self.last or self._collides(start, end) >= 0:
            return False
        i = bisect.bisect_left(self.starts, start)
        self.starts.insert(i, start)
        self.ends.insert(i, end)
        return True

    def alloc(self, size: int) -> int | None:
        pos = max(self.cursor.get(size, self.first), self.first)
        while True:
            cand = -(-pos // size) * size  # align up
            end = cand + size - 1
            if end > self.last:
                self.cursor[size] = self.last + 1
                return None
            hit = self._collides(cand, end)
            if hit >= 0:
                pos = self.ends[hit] + 1
                continue
            self.take(cand, size)
            self.cursor[size] = cand + size
            return cand


@dataclass
class Plan:
    """The allocations of one stack: key -> CIDR (networks) or address/prefix (hosts)."""

    stack: str
    entries: dict[str, str]
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    moved: dict[str, str] = field(default_factory=dict)  # key -> old value it no longer fits

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed or self.moved)

    def get(self, key: str) -> str | None:
        return self.entries.get(key)


@dataclass(frozen=True)
class _Need:
    key: str
    pool: str  # pool id: plane name, or "in:<key of the enclosing subnet>"
    prefix: int  # prefix length wanted
    what: str  # human description for error messages
    path: tuple  # where in the stack the need comes from


def _needs(vs: ValidStack) -> tuple[list[_Need], list[_Need]]:
    """Block needs (from the address plan's pools) and host needs (inside allocated subnets)."""
    blocks: list[_Need] = []
    hosts: list[_Need] = []
    has_internet = False
    for name, site in vs.sites.items():
        eff = vs.site_settings[name]
        if site.devices:
            blocks.append(_Need(f"mgmt:{name}", "management", eff["management_prefix"],
                                "management subnets", site._path))
        for zone, plen in eff["subnets"].items():
            plane = vs.zones[zone].plane
            blocks.append(_Need(f"subnet:{name}:{zone}", plane, plen, f"{zone} site subnets",
                                site._path))
    for key, dev in vs.devices.items():
        site_name = vs.site_of[key]
        site = vs.sites[site_name]
        hosts.append(_Need(f"mgmt-host:{key}", f"in:mgmt:{site_name}", 32,
                           "management addresses", dev._path))
        if dev.role in (m.Role.router, m.Role.firewall):
            blocks.append(_Need(f"loopback:{key}", "loopbacks", 32, "router loopbacks", dev._path))
        if dev.role == m.Role.server and dev.zone and site.kind != m.SiteKind.internet:
            hosts.append(_Need(f"host:{key}", f"in:subnet:{site_name}:{dev.zone}", 32,
                               f"{dev.zone} host addresses", dev._path))
        if dev.internet is not None or site.kind == m.SiteKind.internet:
            has_internet = True
            hosts.append(_Need(f"internet:{key}", "in:internet-segment", 32,
                               "Internet addresses", dev._path))
    for link in vs.stack.links:
        if link.medium == m.Medium.vpn:
            blocks.append(_Need(f"tunnel:{link.id}", "tunnels", 31, "VPN tunnel networks",
                                link._path))
        else:
            blocks.append(_Need(f"link:{link.id}", "links", 31, "point-to-point link networks",
                                link._path))
    blocks += _vrf_needs(vs)
    if has_internet:
        plen = max(netaddr.IPNetwork(vs.stack.address_plan.internet).prefixlen,
                   INTERNET_SEGMENT_PREFIX)
        blocks.insert(0, _Need("internet-segment", "internet", plen, "the Internet segment",
                               ("address_plan", "internet")))
    return blocks, hosts


def _vrf_needs(vs: ValidStack) -> list[_Need]:
    """What a VRF per plane adds (vendor routers that route both planes): a loopback for each
    plane after the first (``loopback:<device>:<plane>``; the first plane keeps
    ``loopback:<device>``), and a /31 for each plane after the first of a link that carries both
    (``link:<id>:<plane>``, one dot1q sub-interface per plane). They come after every other need,
    so a stack without such routers is planned exactly as before and a lock only gains entries."""
    out: list[_Need] = []
    for key, dev in vs.devices.items():
        if dev.role in (m.Role.router, m.Role.firewall):
            out += [_Need(f"loopback:{key}:{plane}", "loopbacks", 32, "router loopbacks", dev._path)
                    for plane in vs.planes[key][1:]]
    for link in vs.stack.links:
        if link.medium != m.Medium.vpn:
            out += [_Need(f"link:{link.id}:{plane}", "links", 31, "point-to-point link networks",
                          link._path) for plane in vs.link_planes.get(link.id, ())[1:]]
    return out


def _fix_prefix(have: int, needed: int, plen: int) -> int:
    """The prefix length a pool would need to hold ``needed`` addresses."""
    while have < needed and plen > 0:
        plen -= 1
        have *= 2
    return plen


@no_gc
def allocate(vs: ValidStack, lock: dict[str, str] | None = None) -> Plan:
    """Allocate every need of ``vs``, keeping what ``lock`` already holds; raise StackError."""
    lock = dict(lock or {})
    plan_nets = {plane: netaddr.IPNetwork(getattr(vs.stack.address_plan, plane))
                 for plane in m.AddressPlan.model_fields}
    pools: dict[str, _Pool] = {plane: _Pool(net.first, net.last) for plane, net in plan_nets.items()}
    diags: list[Diagnostic] = []
    src = vs.source

    # the planes must not overlap each other
    planes = sorted(plan_nets.items(), key=lambda kv: kv[1].first)
    for (pa, na), (pb, nb) in itertools.pairwise(planes):
        if nb.first <= na.last:
            diags.append(src.diag(("address_plan", pb), "overlapping-pools",
                                  f"address_plan.{pb} ({nb}) overlaps address_plan.{pa} ({na})",
                                  "give every plane its own, separate supernet"))
    if diags:
        raise StackError(diags)

    pools["loopbacks"].take(plan_nets["loopbacks"].first, 1)  # no router ID ends in .0
    entries: dict[str, str] = {}
    blocks, hosts = _needs(vs)

    def run(needs: list[_Need], pool_of) -> None:
        fresh: list[_Need] = []
        for need in needs:  # first keep what the lock holds
            pool = pool_of(need)
            old = lock.get(need.key)
            if pool is None:
                continue
            if old is not None and _keep(old, need, pool, entries):
                entries[need.key] = old
                continue
            fresh.append(need)
        short: dict[str, list[_Need]] = {}
        for need in fresh:  # then allocate the rest, lowest free block first
            pool = pool_of(need)
            if need.pool.startswith("in:"):
                start = pool.alloc(1)
                if start is None:
                    short.setdefault(need.pool, []).append(need)
                    continue
                entries[need.key] = f"{from_int(start)}/{pool.prefixlen}"
            else:
                size = 1 << (32 - need.prefix)
                start = pool.alloc(size)
                if start is None:
                    short.setdefault(need.pool, []).append(need)
                    continue
                entries[need.key] = f"{from_int(start)}/{need.prefix}"
        for pool_id, missing in short.items():
            diags.append(_exhausted(vs, pool_id, needs, missing, plan_nets, entries))

    run(blocks, lambda need: pools.get(need.pool))
    if diags:
        raise StackError(diags)

    host_pools: dict[str, _Pool] = {}

    def host_pool(need: _Need) -> _Pool | None:
        key = need.pool[3:]
        pool = host_pools.get(key)
        if pool is None:
            first = network_first(entries[key])
            plen = parse_cidr(entries[key])[1]
            pool = _Pool(first, first + (1 << (32 - plen)) - 1, plen)
            pool.take(pool.first, 2)  # the network address and the gateway (.1)
            pool.take(pool.last, 1)  # broadcast
            host_pools[key] = pool
        return pool

    run(hosts, host_pool)
    if diags:
        raise StackError(diags)
    added = sorted(k for k in entries if k not in lock)
    removed = sorted(k for k in lock if k not in entries)
    moved = {k: lock[k] for k in sorted(entries) if k in lock and lock[k] != entries[k]}
    return Plan(vs.name, dict(sorted(entries.items())), added, removed, moved)


def _keep(old: str, need: _Need, pool: _Pool, entries: dict[str, str]) -> bool:
    """Claim a locked entry again if it still fits its need; False means re-allocate it."""
    try:
        ip, plen = parse_cidr(old)
    except (netaddr.AddrFormatError, ValueError, TypeError, AttributeError):
        return False
    if need.pool.startswith("in:"):  # a host address inside an allocated subnet
        return plen == pool.prefixlen and pool.take(ip, 1)
    size = 1 << (32 - plen)
    return plen == need.prefix and ip % size == 0 and pool.take(ip, size)


def _exhausted(vs, pool_id, needs, missing, plan_nets, entries) -> Diagnostic:
    src = vs.source
    if pool_id.startswith("in:"):
        subnet_key = pool_id[3:]
        net = netaddr.IPNetwork(entries[subnet_key])
        usable = max(net.size - 3, 0)
        wanted = sum(1 for n in needs if n.pool == pool_id)
        if subnet_key == "internet-segment":
            return src.diag(("address_plan", "internet"), "pool-exhausted",
                            f"the Internet segment {net} holds {usable} addresses; {wanted} devices "
                            f"need one: {wanted - usable} short",
                            "attach fewer devices to the Internet")
        _, site, *zone = subnet_key.split(":")
        what = f"{zone[0]} subnet" if zone else "management subnet"
        plen = _fix_prefix(usable + 3, wanted + 3, net.prefixlen)
        key = f"subnets: {{{zone[0]}: {plen}}}" if zone else f"management_prefix: {plen}"
        return src.diag(vs.sites[site]._path, "pool-exhausted",
                        f"site {site!r}: its {what} {net} holds {usable} hosts; {wanted} devices "
                        f"need an address in it: {wanted - usable} short",
                        f"give the site a larger subnet, e.g. '{key}'")
    net = plan_nets[pool_id]
    wanted = [n for n in needs if n.pool == pool_id]
    needed = sum(1 << (32 - n.prefix) for n in wanted)
    what = missing[0].what
    if needed > net.size:
        plen = _fix_prefix(net.size, needed, net.prefixlen)
        return src.diag(("address_plan", pool_id), "pool-exhausted",
                        f"address pool {pool_id!r} ({net}) ran out: {len(wanted)} {what} need "
                        f"{needed:,} addresses, it holds {net.size:,}: {needed - net.size:,} short "
                        f"({len(missing)} allocations failed)",
                        f"widen address_plan.{pool_id} to a /{plen} or larger, or use smaller "
                        "subnets")
    return src.diag(("address_plan", pool_id), "pool-fragmented",
                    f"address pool {pool_id!r} ({net}) is too fragmented: {len(missing)} {what} "
                    f"found no aligned free block although {net.size - needed:,} addresses are free",
                    f"widen address_plan.{pool_id}, or delete the lock file to re-pack it "
                    "(this renumbers every site)")


# ----------------------------------------------------------------- the lock file


def lock_path(stack_path: str | os.PathLike) -> Path:
    """``stacks/example-city.yaml`` -> ``stacks/example-city.lock``."""
    p = Path(stack_path)
    return p.with_suffix(".lock")


def read_lock(path: str | os.PathLike) -> dict[str, str]:
    """The allocations recorded in a lock file; {} when there is none."""
    p = Path(path)
    if not p.exists():
        return {}
    name = str(p)
    try:
        data = yaml.load(p.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader",
                                                                          yaml.SafeLoader))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise StackError([Diagnostic(name, 0, 0, "bad-lock", f"the lock file is unreadable: {exc}",
                                     "restore it from git; deleting it renumbers every site")]
                         ) from None
    if not isinstance(data, dict) or not isinstance(data.get("allocations", {}), dict):
        raise StackError([Diagnostic(name, 0, 0, "bad-lock", "the lock file has no allocations "
                                     "mapping", "restore it from git; deleting it renumbers "
                                     "every site")])
    version = data.get("version")
    if version != LOCK_VERSION:
        raise StackError([Diagnostic(name, 0, 0, "bad-lock", f"lock version {version!r} is not "
                                     f"{LOCK_VERSION}", "upgrade govnet or restore the lock file")])
    return {str(k): str(v) for k, v in (data.get("allocations") or {}).items()}


def dump_lock(plan: Plan) -> str:
    header = (f"# Address allocations of stack {plan.stack!r}, written by govnet. Commit this file:\n"
              "# govnet keeps every entry that is still wanted, so adding or removing a site\n"
              "# renumbers nothing else. Do not edit by hand.\n")
    body = yaml.dump({"version": LOCK_VERSION, "stack": plan.stack, "allocations": plan.entries},
                     Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), sort_keys=False,
                     default_flow_style=False, width=200)
    return header + body


def write_lock(path: str | os.PathLike, plan: Plan) -> bool:
    """Write the lock if its content changed; return whether it did."""
    p = Path(path)
    text = dump_lock(plan)
    if p.exists() and p.read_text(encoding="utf-8") == text:
        return False
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, p)
    return True
