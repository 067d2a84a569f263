"""Backup: each client's data, encrypted, in its own append-only repository on the disaster-
recovery host; restored there with the passphrase from the controller, it matches the original."""

from __future__ import annotations

import os
import secrets
import shlex
from pathlib import Path

import pytest
from stackfacts import backup, connect, facts, selected, tcp_probe

from govnet import model as m
from govnet import standard
from govnet.addressing import address
from govnet.facts import BackupClient, ServiceEntry


def _setup() -> tuple[ServiceEntry, list[BackupClient]]:
    b = backup()
    if not b.repositories or b.repositories[0].host not in selected():
        pytest.skip("no disaster-recovery host in this selection")
    clients = [c for c in b.clients if c.host in selected()]
    if not clients:
        pytest.skip("no backup client in this selection")
    return b.repositories[0], clients


def _borg_on_dr(repo: ServiceEntry, client: str, args: str):
    """Run borg as the repository owner on the DR host, with the client's passphrase from the
    controller's secrets (as a restore after losing the client would)."""
    passphrase = (Path(os.environ["GOVNET_VERIFY_SECRETS"]) / f"borg-{client}").read_text().strip()
    return connect(repo.host).run(
        f"cd /tmp && BORG_PASSPHRASE={shlex.quote(passphrase)} BORG_BASE_DIR=/tmp/borg-verify "
        f"runuser -u borg -- borg {args}")


def _port() -> int:
    return standard.SERVICE_PORTS[m.Service.backup][0][1]


def _listening(host: str, port: int) -> set[str]:
    return {line.split()[3] for line in
            connect(host).check_output(f"ss -Hltn 'sport = :{port}'").splitlines()}


def test_backup_sshd_listens_on_the_backup_address_management_sshd_on_management():
    repo, _ = _setup()
    mgmt = address(facts(repo.host).management.address)
    assert _listening(repo.host, _port()) == {f"{repo.address}:{_port()}"}
    assert _listening(repo.host, 22) == {f"{mgmt}:22"}


def test_the_backup_service_admits_its_clients_only():
    repo, clients = _setup()
    assert tcp_probe(clients[0].host, repo.address, _port()) == "open"
    others = [h for h in selected() if h not in {c.host for c in clients} | {repo.host}
              and facts(h).firewall is not None]
    citizens = [h for h in selected() if facts(h).site_kind == "internet"]
    if not others and not citizens:
        pytest.skip("no other host in this selection")
    for h in others[:2] + citizens:
        assert tcp_probe(h, repo.address, _port()) == "silent", h


def test_backup_restores_on_the_dr_host_and_matches():
    repo, clients = _setup()
    for client in clients:
        h = connect(client.host)
        assert h.service("govnet-backup.timer").is_enabled
        marker = f"{client.paths[0]}/.govnet-backup-check"
        content = secrets.token_hex(16)
        h.check_output(f"echo {content} > {marker}")
        try:
            h.check_output("systemctl start govnet-backup.service")
            archives = _borg_on_dr(repo, client.host,
                                   f"list --short /srv/backup/{client.host}")
            assert archives.rc == 0, archives.stderr
            last = archives.stdout.split()[-1]
            restored = _borg_on_dr(repo, client.host,
                                   f"extract --stdout /srv/backup/{client.host}::{last} "
                                   f"{marker.lstrip('/')}")
            assert restored.rc == 0, restored.stderr
            assert restored.stdout.strip() == content
        finally:
            h.run(f"rm -f {marker}")


def test_the_repository_is_encrypted():
    repo, clients = _setup()
    out = _borg_on_dr(repo, clients[0].host, f"info /srv/backup/{clients[0].host}")
    assert out.rc == 0, out.stderr
    assert "Encrypted: Yes (repokey BLAKE2b)" in out.stdout
    wrong = connect(repo.host).run(
        f"cd /tmp && BORG_PASSPHRASE=wrong BORG_BASE_DIR=/tmp/borg-verify-wrong "
        f"runuser -u borg -- borg list /srv/backup/{clients[0].host}")
    assert wrong.rc != 0


def test_a_client_reaches_only_its_own_repository():
    repo, clients = _setup()
    if len(clients) < 2:
        pytest.skip("one backup client only")
    a, b = clients[0].host, clients[1].host
    out = connect(a).run(
        "set -a; . /etc/govnet/backup/env; set +a; "
        f"borg list ssh://borg@{repo.address}:{_port()}/srv/backup/{b}")
    assert out.rc != 0
    assert "not allowed" in (out.stderr + out.stdout).lower(), out.stderr
