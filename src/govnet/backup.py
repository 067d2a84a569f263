"""Backup: which hosts back up what, to which disaster-recovery repository, from the design.

One job: (design hosts, services) -> the ``govnet_backup`` facts the ``backup`` role turns into
borg repositories on the disaster-recovery host and nightly encrypted backups on the hosts that
keep the city's data (:data:`govnet.standard.BACKUP_PATHS`: database dumps, the central logs,
the portal's content). Without a host of the ``backup`` service there is nothing to back up to;
hosts on the other plane than the repository's are not backed up (the planes never meet: a plane
needs a repository of its own, which the role does not yet support).
"""

from __future__ import annotations

from govnet import model as m
from govnet import standard
from govnet.facts import BackupClient, BackupFacts, HostFacts, ServiceEntry


def build(hosts: dict[str, HostFacts], services: dict[str, list[ServiceEntry]]) -> BackupFacts:
    repositories = services.get(m.Service.backup.value, [])
    clients = []
    if repositories:
        for name, h in hosts.items():
            if repositories[0].plane not in h.planes:
                continue  # the repository is out of its plane's reach (the planes never meet)
            paths = [p for svc in h.services for p in standard.BACKUP_PATHS.get(m.Service(svc), ())]
            if paths:
                clients.append(BackupClient(host=name, paths=sorted(set(paths))))
    return BackupFacts(repositories=repositories[:1], clients=clients)
