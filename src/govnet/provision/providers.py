"""Pulumi dynamic providers: each resource kind maps onto one idempotent operation of the lab.

Inputs are plain values; any change of an input replaces the resource (a lab host is cheap to
recreate, and in-place edits of namespaces would be a second, less tested code path).
"""

from __future__ import annotations

import base64
import socket

from pulumi import Input, Output, ResourceOptions
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, Resource, ResourceProvider


class _ReplaceOnChange(ResourceProvider):
    #: the inputs that define the resource; outputs computed at creation are not compared
    KEYS: tuple[str, ...] = ()

    def diff(self, _id, olds, news):
        changed = [k for k in self.KEYS if olds.get(k) != news.get(k)]
        return DiffResult(changes=bool(changed), replaces=changed, stables=[],
                          delete_before_replace=True)

    def exists(self, _props) -> bool:
        return True

    def read(self, id_, props):
        """Refresh: a resource that is gone from the machine (a host that died, a lab wiped by a
        reboot) reads as deleted, so the next ``up`` creates it again."""
        return ReadResult(id_, props) if self.exists(props) else ReadResult("", {})


class FabricProvider(_ReplaceOnChange):
    KEYS = ("lab", "controller", "internet_gateway")

    def create(self, props):
        from govnet.lab import fabric
        out = fabric.ensure_fabric(props["lab"], props["controller"], props.get("internet_gateway"))
        return CreateResult(id_=props["lab"], outs={**props, "proxy": out["proxy"],
                                                    "bridge": out["bridge"]})

    def delete(self, _id, props):
        from govnet.lab import fabric
        fabric.remove_fabric(props["lab"])

    def exists(self, props):
        from govnet.lab import fabric, layout
        from govnet.lab.system import link_exists
        return link_exists(layout.mgmt_bridge(props["lab"])) and bool(fabric.proxy_pid(props["lab"]))


class GatewayProvider(_ReplaceOnChange):
    KEYS = ("lab", "site", "gateway")

    def create(self, props):
        from govnet.lab import fabric
        fabric.ensure_gateway(props["lab"], props["gateway"])
        return CreateResult(id_=f"{props['lab']}/{props['site']}", outs=props)

    def delete(self, _id, props):
        from govnet.lab import fabric
        fabric.remove_gateway(props["lab"], props["gateway"])

    def exists(self, props):
        from govnet.lab import layout
        from govnet.lab.system import ip
        shown = ip("-br", "addr", "show", "dev", layout.mgmt_bridge(props["lab"]), check=False)
        return f" {props['gateway']}" in f" {shown.stdout}"


class HostProvider(_ReplaceOnChange):
    KEYS = ("lab", "name", "base", "mgmt_address", "mgmt_gateway", "mgmt_network",
            "authorized_key", "apt_proxy")

    def create(self, props):
        from govnet.lab import hosts
        spec = hosts.HostSpec(**{k: props[k] for k in self.KEYS})
        st = hosts.start(spec)
        return CreateResult(id_=f"{props['lab']}/{props['name']}",
                            outs={**props, "pid": st["pid"], "boot_s": st.get("boot_s")})

    def delete(self, _id, props):
        from govnet.lab import hosts
        hosts.stop(props["lab"], props["name"])

    def exists(self, props):
        from govnet.lab import hosts
        return hosts.running(props["lab"], props["name"])


class PortProvider(_ReplaceOnChange):
    KEYS = ("lab", "host", "iface", "segment")

    def create(self, props):
        from govnet.lab import fabric
        fabric.ensure_port(props["lab"], props["host"], props["iface"], props.get("segment"))
        return CreateResult(id_=f"{props['lab']}/{props['host']}/{props['iface']}", outs=props)

    def delete(self, _id, props):
        from govnet.lab import fabric
        fabric.remove_iface(props["lab"], props["host"], props["iface"])

    def exists(self, props):
        from govnet.lab import layout
        from govnet.lab.system import link_exists, netns_exists
        ns = layout.host_netns(props["lab"], props["host"])
        return netns_exists(ns) and link_exists(props["iface"], ns)


class CableProvider(_ReplaceOnChange):
    KEYS = ("lab", "link", "a_host", "a_iface", "b_host", "b_iface")

    def create(self, props):
        from govnet.lab import fabric
        fabric.ensure_link(props["lab"], (props["a_host"], props["a_iface"]),
                           (props["b_host"], props["b_iface"]))
        return CreateResult(id_=f"{props['lab']}/{props['link']}", outs=props)

    def delete(self, _id, props):
        from govnet.lab import fabric
        fabric.remove_iface(props["lab"], props["a_host"], props["a_iface"])

    def exists(self, props):
        from govnet.lab import layout
        from govnet.lab.system import link_exists, netns_exists
        ends = ((props["a_host"], props["a_iface"]), (props["b_host"], props["b_iface"]))
        return all(netns_exists(layout.host_netns(props["lab"], h))
                   and link_exists(i, layout.host_netns(props["lab"], h)) for h, i in ends)


class SshHostProvider(_ReplaceOnChange):
    """An existing machine: recorded, and checked to answer SSH; nothing is created on it."""

    KEYS = ("name", "address", "port")

    def create(self, props):
        banner = ssh_banner(props["address"], int(props["port"]))
        return CreateResult(id_=props["name"], outs={**props, "banner": banner})

    def delete(self, _id, _props):
        return None


def ssh_banner(address: str, port: int, timeout: float = 5.0) -> str:
    try:
        with socket.create_connection((address, port), timeout=timeout) as s:
            s.settimeout(timeout)
            banner = s.recv(256).decode("ascii", "replace").strip()
    except OSError as exc:
        raise RuntimeError(f"{address}:{port} does not answer SSH ({exc}): check the host is on "
                           "and reachable from this machine, or fix its management address") from exc
    if not banner.startswith("SSH-"):
        raise RuntimeError(f"{address}:{port} answered, but not with SSH: {banner[:60]!r}")
    return banner


class WireGuardKeysProvider(ResourceProvider):
    """Both ends' X25519 key pairs for one tunnel, made at run time; the private keys are
    Pulumi secrets (encrypted in the state with the stack's passphrase), never in git."""

    def create(self, props):
        keys = {side: wireguard_keypair() for side in ("hub", "spoke")}
        return CreateResult(id_=props["link"], outs={**props, "keys": keys})

    def diff(self, _id, olds, news):
        changed = olds.get("link") != news.get("link")
        return DiffResult(changes=changed, replaces=["link"] if changed else [])


def wireguard_keypair() -> dict[str, str]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    private = X25519PrivateKey.generate()
    raw = serialization.Encoding.Raw
    priv = private.private_bytes(raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    pub = private.public_key().public_bytes(raw, serialization.PublicFormat.Raw)
    return {"private_key": base64.b64encode(priv).decode(), "public_key": base64.b64encode(pub).decode()}


# --- the resources ------------------------------------------------------------------------------

class _Dynamic(Resource):
    """A dynamic resource; subclasses name their provider, outputs and type
    (``pulumi-python:dynamic/govnet:<Name>``)."""

    PROVIDER: ResourceProvider
    OUTPUTS: tuple[str, ...] = ()

    def __init__(self, name: str, props: dict[str, Input], opts: ResourceOptions | None = None):
        super().__init__(self.PROVIDER, name, {**props, **dict.fromkeys(self.OUTPUTS)}, opts)


class LabFabric(_Dynamic, module="govnet", name="LabFabric"):
    PROVIDER, OUTPUTS = FabricProvider(), ("proxy", "bridge")
    proxy: Output[str]


class LabGateway(_Dynamic, module="govnet", name="LabGateway"):
    PROVIDER = GatewayProvider()


class LabHost(_Dynamic, module="govnet", name="LabHost"):
    PROVIDER, OUTPUTS = HostProvider(), ("pid", "boot_s")
    pid: Output[int]


class LabPort(_Dynamic, module="govnet", name="LabPort"):
    PROVIDER = PortProvider()


class LabCable(_Dynamic, module="govnet", name="LabCable"):
    PROVIDER = CableProvider()


class SshHost(_Dynamic, module="govnet", name="SshHost"):
    PROVIDER, OUTPUTS = SshHostProvider(), ("banner",)


class WireGuardKeys(_Dynamic, module="govnet", name="WireGuardKeys"):
    PROVIDER, OUTPUTS = WireGuardKeysProvider(), ("keys",)
    keys: Output[dict]
