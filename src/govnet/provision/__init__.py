"""Provisioning: the validated stack as Pulumi resources, and the engine that drives Pulumi.

- :mod:`.providers` — Python dynamic providers: the lab's hosts, ports and cables, existing hosts
  reached over SSH, WireGuard keys (Pulumi secrets);
- :mod:`.components` — ``ComponentResource`` per city, site, host and link;
- :mod:`.program` — the Pulumi program: one Pulumi stack per stack file (``stacks/__main__.py``);
- :mod:`.engine` — the Automation API: local file backend, passphrase secrets, progress events.
"""
