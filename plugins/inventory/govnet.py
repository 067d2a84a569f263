"""Ansible inventory plugin: a govnet stack file is an inventory.

    ansible-inventory -i stacks/example-city.yaml --graph

The stack is compiled by govnet itself (validate -> address plan from the committed lock -> design),
so hosts, groups and variables are exactly those ``govnet inventory`` writes statically.
"""

from __future__ import annotations

DOCUMENTATION = r"""
name: govnet
short_description: Use a govnet stack file (stacks/*.yaml) as an inventory
description:
  - Reads a govnet stack, validates it, takes addresses from its committed lock file and
    produces groups by site, county, site kind, role, platform, zone and service.
  - Host variables carry the allocated addresses and service parameters with the C(govnet_) prefix.
  - Fails with govnet's file:line:column diagnostics when the stack is invalid, and when the lock
    file does not hold every address yet (run C(govnet plan STACK) first).
options: {}
"""

from pathlib import Path

from ansible.errors import AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin


class InventoryModule(BaseInventoryPlugin):
    NAME = "govnet"

    def verify_file(self, path):
        """Accept YAML files whose top level has a 'city:' key (govnet stacks)."""
        if not super().verify_file(path) or not str(path).endswith((".yaml", ".yml")):
            return False
        try:
            with Path(path).open(encoding="utf-8") as fh:
                return any(line.startswith("city:") for line in fh)
        except (OSError, UnicodeDecodeError):
            return False

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache)
        try:
            from govnet import inventory as govnet_inventory
            from govnet.diagnostics import StackError
            from govnet.pipeline import LockMode, compile_stack
        except ImportError as exc:
            raise AnsibleParserError(
                f"the govnet package is not importable ({exc}); run Ansible from the project's "
                "virtualenv (scripts/setup)") from exc
        try:
            compiled = compile_stack(path, LockMode.FROZEN)
        except StackError as exc:
            raise AnsibleParserError(f"govnet stack {path} is not usable:\n{exc}") from None
        inv = govnet_inventory.build(compiled.vs, compiled.design)
        for name in inv.groups:
            if name != "all":
                self.inventory.add_group(name)
        for name, group in inv.groups.items():
            for host in group["hosts"]:
                self.inventory.add_host(host, group=name)
            for child in group["children"]:
                self.inventory.add_child(name, child)
            for key, value in group["vars"].items():
                self.inventory.set_variable(name, key, value)
        for host, hostvars in inv.hostvars.items():
            for key, value in hostvars.items():
                self.inventory.set_variable(host, key, value)
