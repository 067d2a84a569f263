"""Render: the design as device configurations.

One job: :class:`~govnet.design.Design` -> configuration texts, one file per device (plus a
strongSwan ``swanctl.conf`` for an FRR host that ends an IPsec tunnel), and writing them to a tree.
The templates live in the repository's top-level ``templates/`` directory, one folder per platform.

Secrets are never rendered: every key or password is a ``<<vault:NAME>>`` placeholder that the push
step replaces from ansible-vault. Servers (platform debian) get no device configuration; Ansible
roles configure them.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import netaddr
from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template

from govnet import output
from govnet.addressing import address
from govnet.design import DISCARD_DISTANCE, Design
from govnet.perf import no_gc

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates"

#: Template of each platform that gets a device configuration, and the file it renders to
#: (``{host}`` is replaced by the host name). Every platform is either here or unconfigured.
DEVICE_TEMPLATES: dict[str, tuple[str, str]] = {
    "frr": ("frr/frr.conf.j2", "{host}/frr.conf"),
    "huawei-vrp": ("huawei-vrp/device.cfg.j2", "{host}/{host}.cfg"),
    "h3c-comware": ("h3c-comware/device.cfg.j2", "{host}/{host}.cfg"),
    "cisco-ios": ("cisco-ios/device.cfg.j2", "{host}/{host}.cfg"),
}
UNCONFIGURED_PLATFORMS = frozenset({"debian"})  # servers: configured by Ansible roles
SWANCTL_TEMPLATE = ("strongswan/swanctl.conf.j2", "{host}/swanctl.conf")

#: Files govnet owns in a host directory: stale ones are removed by :func:`write`.
OWNED_SUFFIXES = (".conf", ".cfg")

#: The one IPsec suite of the city, the same on every platform so both ends of a tunnel agree.
#: Algorithm keywords are platform syntax and live in the templates; the numbers live here.
IPSEC = {
    "ike_version": 2,
    "dh_group": 14,
    "pfs_group": 14,
    "ike_lifetime": 86400,
    "ipsec_lifetime": 3600,
}

_MASKS = tuple(((0xFFFFFFFF << (32 - n)) & 0xFFFFFFFF) for n in range(33))


def _dotted(value: int) -> str:
    return f"{value >> 24}.{(value >> 16) & 255}.{(value >> 8) & 255}.{value & 255}"


_NETMASK = tuple(_dotted(m) for m in _MASKS)
_WILDCARD = tuple(_dotted(m ^ 0xFFFFFFFF) for m in _MASKS)


def prefixlen(cidr: str) -> int:
    """'198.18.0.1/24' -> 24; a bare address is a /32."""
    _, _, plen = cidr.partition("/")
    return int(plen) if plen else 32


def netmask(cidr: str) -> str:
    """'198.18.0.1/24' -> '255.255.255.0'."""
    return _NETMASK[prefixlen(cidr)]


def wildcard(cidr: str) -> str:
    """'198.18.0.1/24' -> '0.0.0.255' (Cisco ACLs, Huawei/H3C ACLs and OSPF networks)."""
    return _WILDCARD[prefixlen(cidr)]


def word(text: str) -> str:
    """A description as one token, for commands that take a single word: 'a b' -> 'a-b'."""
    return "-".join(text.split())


class _FactsEnvironment(Environment):
    """Looks ``a.b`` up as a key first when ``a`` is a dict (the facts are plain dicts): Jinja's
    default tries the attribute first and pays for an AttributeError on every lookup."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict:
            try:
                return obj[attribute]
            except KeyError:
                pass
        return super().getattr(obj, attribute)


@cache
def environment() -> Environment:
    """The one Jinja2 environment (templates compile once per process)."""
    env = _FactsEnvironment(
        loader=FileSystemLoader(str(TEMPLATES_DIR)),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
        auto_reload=False,
        cache_size=-1,
    )
    env.filters.update(ip=address, prefixlen=prefixlen, netmask=netmask, wildcard=wildcard, word=word)
    return env


@cache
def _template(name: str) -> Template:
    return environment().get_template(name)


@cache
def timezone(name: str) -> dict:
    """Standard-time UTC offset of a zone as devices want it: name, sign ('add'/'minus'),
    hours and minutes (both unsigned)."""
    when = datetime(2024, 1, 1, tzinfo=ZoneInfo(name))
    offset = int(when.utcoffset().total_seconds()) // 60  # type: ignore[union-attr]
    hours, minutes = divmod(abs(offset), 60)
    return {"name": when.tzname() or "UTC", "sign": "add" if offset >= 0 else "minus",
            "hours": hours, "minutes": minutes}


def _management_supernet(design: Design) -> str:
    """The smallest block covering every site's management subnet (when the caller gives none)."""
    nets = [v for k, v in design.plan.entries.items() if k.startswith("mgmt:")]
    return str(netaddr.spanning_cidr(nets))


@no_gc
def render(design: Design, *, management_supernet: str | None = None,
           hosts: Collection[str] | None = None) -> dict[str, str]:
    """Relative path -> content of every device configuration of the design (of ``hosts`` only,
    when given: a run limited to some hosts renders theirs).

    ``management_supernet`` is the city's management plane (``address_plan.management``); the
    devices accept management sessions and SNMP polls from it only. Without it, the smallest block
    covering the allocated management subnets is used.
    """
    common = {
        "stack": design.stack,
        "city": design.city.dump(),
        "management_supernet": management_supernet or _management_supernet(design),
        "tz": timezone(design.city.timezone),
        "ipsec": IPSEC,
        "discard_distance": DISCARD_DISTANCE,
    }
    files: dict[str, str] = {}
    for name, facts in design.hosts.items():
        platform = facts.platform
        if platform in UNCONFIGURED_PLATFORMS or (hosts is not None and name not in hosts):
            continue
        template, path = DEVICE_TEMPLATES[platform]
        context = {**common, "h": facts.dump()}
        files[path.format(host=name)] = _template(template).render(context)
        if platform == "frr" and any(t.protocol == "ipsec" for t in facts.tunnels):
            template, path = SWANCTL_TEMPLATE
            files[path.format(host=name)] = _template(template).render(context)
    return files


def write(files: dict[str, str], out_dir: str | os.PathLike, *,
          hosts: Collection[str] | None = None) -> list[str]:
    """Write ``files`` under ``out_dir`` and remove the stale configurations govnet wrote there.

    Only files whose content changed are written (atomically: temporary file, then rename).
    Removed are files ending in ``.conf``/``.cfg`` directly inside a host directory that are no
    longer rendered; host directories left empty go too. With ``hosts`` (a limited run), only
    those hosts' directories are looked at: the other hosts' files stay as they are. Returns the
    relative paths written or removed, sorted.
    """
    return output.write_tree(files, out_dir, dirs=hosts,
                             owns=lambda rel: rel.count("/") == 1 and rel.endswith(OWNED_SUFFIXES))
