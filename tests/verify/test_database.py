"""The information-resource database (一库): PostgreSQL on the intranet only, each database's
login role admitted from its application hosts with scram-sha-256 and refused elsewhere, nightly
dumps that pg_restore can read."""

from __future__ import annotations

import pytest
from stackfacts import city, connect, selected, services


def _db():
    servers = [s for s in services().get("database", []) if s.host in selected()]
    dbs = city().databases
    if not servers or not dbs:
        pytest.skip("no database server or database in this selection")
    return servers[0].host, servers[0].address, dbs


def test_listens_on_the_intranet_and_localhost_only():
    host, address, _ = _db()
    listening = {line.split()[3] for line in
                 connect(host).check_output("ss -Hltn 'sport = :5432'").splitlines()}
    assert listening == {"127.0.0.1:5432", f"{address}:5432"}, listening


def test_passwords_are_scram():
    host, _, dbs = _db()
    for db in dbs:
        out = connect(host).check_output(
            "runuser -u postgres -- psql -tAc "
            f"\"select left(rolpassword, 14) from pg_authid where rolname = '{db.role}'\"")
        assert out == "SCRAM-SHA-256$"


def test_application_host_logs_in():
    _, address, dbs = _db()
    if not any(db.clients for db in dbs):
        pytest.skip("the stack names no services.database.clients")
    for db in dbs:
        for client in db.clients:
            if client.host not in selected():
                continue
            out = connect(client.host).check_output(
                f"psql 'host={address} dbname={db.name} user={db.role}' -tAc "
                "'select current_user, current_database()'")
            assert out == f"{db.role}|{db.name}"


def test_other_hosts_are_refused():
    """The database host itself, over the network and not one of the clients: no pg_hba line."""
    host, address, dbs = _db()
    db = dbs[0]
    res = connect(host).run(f"PGCONNECT_TIMEOUT=5 psql 'host={address} dbname={db.name} "
                            f"user={db.role} password=x' -tAc 'select 1'")
    assert res.rc != 0
    assert "no pg_hba.conf entry" in res.stderr


def test_nightly_dump_restores():
    host, _, dbs = _db()
    h = connect(host)
    assert h.service("govnet-db-dump.timer").is_enabled
    h.check_output("systemctl start govnet-db-dump.service")
    for db in dbs:
        dump = h.check_output(f"ls -1t /var/backups/govnet-db/{db.name}-*.dump | head -1")
        toc = h.check_output(f"pg_restore --list {dump}")
        assert f"dbname: {db.name}" in toc

