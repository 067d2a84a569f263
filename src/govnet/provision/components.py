"""The city as Pulumi ``ComponentResource``s: City ⊃ Site ⊃ Host, and City ⊃ Link.

Each component reads the validated design and creates its platform's resources as children, so
``pulumi preview`` groups every change under the site, host or link it belongs to. Adding a county
adds one Site (its hosts) and its Links; no input of any other resource changes.
"""

from __future__ import annotations

from dataclasses import dataclass

from pulumi import ComponentResource, ResourceOptions

from govnet.addressing import address
from govnet.lab.topology import LabCable, LabHost, LabPort
from govnet.provision import providers as p

PLATFORMS = ("lab", "ssh")

#: the components' type tokens; a resource's URN chains its ancestors' types (see program.targets)
CITY_TYPE, SITE_TYPE, HOST_TYPE, LINK_TYPE = (f"govnet:index:{k}" for k in ("City", "Site", "Host", "Link"))
FABRIC_NAME = "fabric"


def gateway_name(site: str) -> str:
    return f"{site}.mgmt-gateway"


def port_name(host: str, iface: str) -> str:
    return f"{host}.{iface}"


def keys_name(link_id: str) -> str:
    return f"{link_id}.keys"


@dataclass(frozen=True)
class LabSettings:
    """What the lab platform needs beyond the design (none of it is secret)."""

    base: str            # the cached base image's root directory
    authorized_key: str  # the SSH public key Ansible connects with
    controller: str
    management_network: str
    internet_gateway: str | None


class City(ComponentResource):
    """The whole stack; on the lab, also the shared wiring (bridges, namespaces, package proxy)."""

    def __init__(self, name: str, platform: str, lab: LabSettings | None,
                 opts: ResourceOptions | None = None):
        super().__init__(CITY_TYPE, name, None, opts)
        self.stack = name
        self.platform = platform
        self.fabric = None
        if platform == "lab":
            self.fabric = p.LabFabric(FABRIC_NAME, {"lab": name, "controller": lab.controller,
                                                 "internet_gateway": lab.internet_gateway},
                                      ResourceOptions(parent=self))
        self.register_outputs({})


class Site(ComponentResource):
    def __init__(self, city: City, name: str, gateway: str | None):
        super().__init__(SITE_TYPE, name, None, ResourceOptions(parent=city))
        self.city = city
        self.gateway = None
        if city.platform == "lab":
            self.gateway = p.LabGateway(gateway_name(name),
                                        {"lab": city.stack, "site": name, "gateway": gateway},
                                        ResourceOptions(parent=self, depends_on=[city.fabric]))
        self.register_outputs({})


class Host(ComponentResource):
    """One device: a lab container (with its LAN/Internet ports) or an existing SSH host."""

    def __init__(self, site: Site, host: LabHost, ports: list[LabPort], lab: LabSettings | None):
        super().__init__(HOST_TYPE, host.name, None, ResourceOptions(parent=site))
        city = site.city
        self.address = address(host.mgmt_address)
        if city.platform == "lab":
            self.machine = p.LabHost(host.name, {
                "lab": city.stack, "name": host.name, "base": lab.base,
                "mgmt_address": host.mgmt_address, "mgmt_gateway": host.mgmt_gateway,
                "mgmt_network": lab.management_network, "authorized_key": lab.authorized_key,
                "apt_proxy": city.fabric.proxy,
            }, ResourceOptions(parent=self, depends_on=[site.gateway]))
            for port in ports:
                p.LabPort(port_name(host.name, port.iface), {
                    "lab": city.stack, "host": host.name, "iface": port.iface,
                    "segment": port.segment}, ResourceOptions(parent=self, depends_on=[self.machine]))
        else:
            self.machine = p.SshHost(host.name, {"name": host.name, "address": self.address,
                                                 "port": 22}, ResourceOptions(parent=self))
        self.register_outputs({"address": self.address})


class Link(ComponentResource):
    """A link between two devices: a cable in the lab, or a VPN tunnel with its keys."""

    def __init__(self, city: City, link_id: str, ends: tuple[Host, Host], cable: LabCable | None,
                 tunnel: bool):
        super().__init__(LINK_TYPE, link_id, None, ResourceOptions(parent=city))
        self.keys = None
        if cable is not None and city.platform == "lab":
            p.LabCable(link_id, {"lab": city.stack, "link": link_id,
                                 "a_host": cable.a[0], "a_iface": cable.a[1],
                                 "b_host": cable.b[0], "b_iface": cable.b[1]},
                       ResourceOptions(parent=self, depends_on=[end.machine for end in ends]))
        if tunnel:
            self.keys = p.WireGuardKeys(keys_name(link_id), {"link": link_id},
                                        ResourceOptions(parent=self,
                                                        additional_secret_outputs=["keys"]))
        self.register_outputs({})

