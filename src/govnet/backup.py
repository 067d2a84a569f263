"""Backup: which hosts back up what, to which disaster-recovery repository, from the design.

One job: (design hosts, services) -> the ``govnet_backup`` facts the ``backup`` role turns into
borg repositories on the disaster-recovery host and nightly encrypted backups on the hosts that
keep the city's data (:data:`govnet.standard.BACKUP_PATHS`: database dumps, the central logs,
the portal's content). Without a host of the ``backup`` service there is nothing to back up to.
"""

from __future__ import annotations

from govnet import model as m
from govnet import standard


def build(hosts: dict[str, dict], services: dict[str, list[dict]]) -> dict:
    repositories = services.get(m.Service.backup.value, [])
    clients = []
    if repositories:
        for name, h in hosts.items():
            paths = [p for svc in h["services"] for p in standard.BACKUP_PATHS.get(m.Service(svc), ())]
            if paths:
                clients.append({"host": name, "paths": sorted(set(paths))})
    return {"repositories": [dict(r) for r in repositories[:1]], "clients": clients}
