"""The central log store keeps at least six calendar months, compressed (网络安全法 §21): the
retention job itself is run on the log host against files of known ages."""

from __future__ import annotations

import datetime as dt
import secrets

import pytest
from stackfacts import connect, selected, services

PROBE = "/var/log/govnet/govnet-retention-probe"  # a sending host's folder in the store, + a token


def _months_back(day: dt.date, months: int) -> dt.date:
    y, m = divmod(day.year * 12 + day.month - 1 - months, 12)
    return dt.date(y, m + 1, 1)


@pytest.fixture
def log_host():
    hosts = [s.host for s in services().get("syslog", []) if s.host in selected()]
    if not hosts:
        pytest.skip("no log host in this selection")
    host = connect(hosts[0])
    probe = f"{PROBE}-{secrets.token_hex(4)}"  # its own folder: checks run in parallel
    host.check_output(f"mkdir -p {probe}")
    try:
        yield host, probe
    finally:
        host.run(f"rm -rf {probe}")


def _run(log_host, days: dict[str, dt.date]) -> dict[str, str]:
    host, probe = log_host
    for name, day in days.items():
        host.check_output(f"echo {name} > {probe}/{day.isoformat()}.log")
    host.check_output("systemctl start govnet-log-retention.service")
    present = set(host.check_output(f"ls {probe}").split())
    out = {}
    for name, day in days.items():
        f = day.isoformat()
        out[name] = ("plain" if f"{f}.log" in present else
                     "compressed" if f"{f}.log.gz" in present else "gone")
    return out


def test_retention_keeps_six_calendar_months_compressed(log_host):
    today = dt.date.fromisoformat(log_host[0].check_output("date +%Y-%m-%d"))
    first_kept = _months_back(today, 6)
    got = _run(log_host, {
        "today": today,
        "last-week": today - dt.timedelta(days=7),
        "first-kept-day": first_kept,
        "181-days": today - dt.timedelta(days=181),
        "day-before-first-kept": first_kept - dt.timedelta(days=1),
        "two-years": today - dt.timedelta(days=730),
    })
    assert got["today"] == "plain"
    assert got["last-week"] == "compressed"
    assert got["first-kept-day"] == "compressed"
    # 180 days is too short: a file from 181 days ago is still within six calendar months
    assert got["181-days"] == "compressed"
    assert got["day-before-first-kept"] == "gone"
    assert got["two-years"] == "gone"


def test_retention_runs_daily(log_host):
    host, _ = log_host
    assert host.service("govnet-log-retention.timer").is_enabled
    assert host.service("govnet-log-retention.timer").is_running
