"""Deploy without a lab: the canonical diff, secrets (fill, mask, vault), backups and their
rotation, and the whole pipeline per vendor against recorded CLI sessions (tests/sessions/)."""

from __future__ import annotations

import shutil
import stat
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from govnet import deploy, netdrivers
from replay import FakeClock, Replay, ReplayMismatchError

FRR_RUNNING = """Building configuration...

Current configuration:
!
frr version 8.4.4
frr defaults traditional
hostname gw1
!
ip route 0.0.0.0/0 198.18.181.2 250
!
interface lan0
 ip address 198.18.161.1/24
 ip ospf cost 10
 ip ospf passive
exit
!
router ospf
 ospf router-id 198.18.180.3
exit
!
line vty
 access-class GOVNET-NO-VTY
exit
!
end
"""

FRR_INTENDED = """! rendered by govnet
frr version 8.4
frr defaults traditional
hostname gw1
banner motd line authorised users only
!
interface lan0
 ip address 198.18.161.1/24
 ip ospf network broadcast
 ip ospf cost 10
exit
!
ip route 0.0.0.0/0 198.18.181.2 250
!
router ospf
 ospf router-id 198.18.180.3
 passive-interface lan0
exit
!
line vty
 exec-timeout 10 0
 access-class GOVNET-NO-VTY
exit
!
end
"""


# ------------------------------------------------------------------ diff


def test_frr_running_and_its_rendered_source_are_in_step():
    assert deploy.diff(FRR_RUNNING, FRR_INTENDED, "frr") == []


def test_a_changed_line_shows_under_its_context():
    changed = FRR_INTENDED.replace(" ip ospf cost 10", " ip ospf cost 20")
    assert deploy.diff(FRR_RUNNING, changed, "frr", "gw1") == [
        "--- gw1 running", "+++ gw1 intended", " interface lan0", "- ip ospf cost 10", "+ ip ospf cost 20"]


def test_a_line_only_on_the_device_is_drift():
    running = FRR_RUNNING.replace("!\nend", "ip route 198.18.176.65/32 Null0\n!\nend")
    assert deploy.diff(running, FRR_INTENDED, "frr") == [
        "--- device running", "+++ device intended", "-ip route 198.18.176.65/32 Null0"]


@pytest.mark.parametrize("platform", ["huawei-vrp", "h3c-comware"])
def test_vendor_separators_and_order_do_not_count(platform):
    running = "#\nsysname r1\n#\ninterface G0/0\n ospf cost 10\n description up\n#\nreturn\n"
    intended = "sysname r1\ninterface G0/0\n description up\n ospf cost 10\n"
    assert deploy.diff(running, intended, platform) == []


# ------------------------------------------------------------------ secrets


SECRETS = {"snmp_auth_key": "Auth-Secret-123", "snmp_priv_key": "Priv-Secret-456"}
VENDOR_LINE = "snmp-agent usm-user v3 mon authentication-mode sha <<vault:snmp_auth_key>>"


def test_fill_replaces_placeholders_on_configuration_lines_only():
    text = "! keys <<vault:snmp_auth_key>>\n" + VENDOR_LINE + "\n"
    filled = "snmp-agent usm-user v3 mon authentication-mode sha Auth-Secret-123\n"
    assert deploy.fill(text, SECRETS) == "! keys <<vault:snmp_auth_key>>\n" + filled


def test_fill_refuses_a_placeholder_without_a_value():
    with pytest.raises(deploy.SecretError, match="snmp_priv_key"):
        deploy.fill("x <<vault:snmp_priv_key>>\n", {})


def test_mask_hides_known_values_and_unknown_old_values_on_secret_lines():
    patterns = deploy.secret_patterns(VENDOR_LINE)
    shown = deploy.mask("-snmp-agent usm-user v3 mon authentication-mode sha Old-Value-9\n"
                        "+snmp-agent usm-user v3 mon authentication-mode sha Auth-Secret-123",
                        SECRETS, patterns)
    assert "Old-Value-9" not in shown and "Auth-Secret-123" not in shown
    assert shown.count("<<vault:snmp_auth_key>>") == 2


def test_mask_hides_known_values_anywhere_without_patterns():
    assert deploy.mask("error near 'Priv-Secret-456' on line 3", SECRETS) == \
        "error near '<<vault:snmp_priv_key>>' on line 3"


def _vault_file(tmp_path: Path, content: str) -> tuple[Path, Path]:
    """A vault file made by the real ansible-vault CLI with a generated password."""
    import secrets as pysecrets

    password = tmp_path / "vault-pass"
    password.write_text(pysecrets.token_urlsafe(24))
    vault = tmp_path / "city.vault.yml"
    vault.write_text(content)
    exe = shutil.which("ansible-vault", path=str(Path(sys.executable).parent))
    subprocess.run([exe, "encrypt", "--vault-password-file", str(password), str(vault)],
                   check=True, capture_output=True)
    return vault, password


def test_vault_file_is_read_with_its_password(tmp_path):
    vault, password = _vault_file(tmp_path, "govnet_vault:\n  snmp_auth_key: Auth-Secret-123\n")
    assert b"Auth-Secret-123" not in vault.read_bytes()
    assert deploy.load_vault(vault, password) == {"snmp_auth_key": "Auth-Secret-123"}


def test_vault_with_a_wrong_password_is_refused(tmp_path):
    vault, password = _vault_file(tmp_path, "govnet_vault: {a: b}\n")
    password.write_text("wrong")
    with pytest.raises(deploy.SecretError, match="cannot decrypt"):
        deploy.load_vault(vault, password)


# ------------------------------------------------------------------ backups


def test_backups_are_private_and_rotated_to_the_newest(tmp_path):
    backups = deploy.Backups(tmp_path / "backups", keep=3)
    start = datetime(2026, 12, 1, tzinfo=UTC)
    for i in range(5):
        backups.save("gw1", f"config {i}\n", deploy.Secrets(), now=start + timedelta(minutes=i))
    kept = backups.list("gw1")
    assert [p.read_text() for p in kept] == ["config 2\n", "config 3\n", "config 4\n"]
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in kept)
    assert stat.S_IMODE((tmp_path / "backups").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "backups" / "gw1").stat().st_mode) == 0o700


def test_a_backup_with_a_secret_is_encrypted(tmp_path):
    from ansible.parsing.vault import VaultLib, VaultSecret

    text = "sysname r1\nsnmp-agent usm-user v3 mon authentication-mode sha Auth-Secret-123\n"
    path = deploy.Backups(tmp_path).save("r1", text, deploy.Secrets(SECRETS, b"pw"),
                                          deploy.secret_patterns(VENDOR_LINE))
    assert path.name.endswith(".cfg.vault")
    assert b"Auth-Secret-123" not in path.read_bytes()
    assert VaultLib([("default", VaultSecret(b"pw"))]).decrypt(path.read_bytes()).decode() == text


def test_a_backup_with_a_secret_and_no_password_is_masked(tmp_path):
    text = "snmp-agent usm-user v3 mon authentication-mode sha Other-Old-Key\n"
    path = deploy.Backups(tmp_path).save("r1", text, deploy.Secrets(SECRETS),
                                          deploy.secret_patterns(VENDOR_LINE))
    assert "Other-Old-Key" not in path.read_text() and "<<vault:snmp_auth_key>>" in path.read_text()


# ------------------------------------------------------------------ the pipeline per vendor

INTENDED = {
    "huawei-vrp": "sysname core1\ninterface GigabitEthernet0/1/0\n description fiber to gw1\n"
                  " ip address 198.18.145.0 255.255.255.254\n ospf cost 20\n"
                  "ospf 1 router-id 198.18.144.1\n area 0.0.0.0\n" + VENDOR_LINE + "\n",
    "h3c-comware": " version 7.1.064, Release 0821P16\n sysname gw1\ninterface GigabitEthernet0/0\n"
                   " description fiber to core1\n ip address 198.18.145.1 255.255.255.254\n ospf cost 20\n",
    "cisco-ios": "hostname core1\nvrf definition Mgmt-intf\n address-family ipv4\n exit-address-family\n"
                 "interface GigabitEthernet0/0/1\n description fiber to gw1\n"
                 " ip address 198.18.145.0 255.255.255.254\n ip ospf cost 20\n",
}
VENDORS = list(INTENDED)


def _device(platform: str, scenario: str, clock: FakeClock) -> tuple[deploy.Device, Replay]:
    replay = Replay.load(f"{platform}-{'commit' if scenario == 'commit' else 'rollback'}", scenario, clock)
    driver = netdrivers.VENDOR_DRIVERS[platform](replay.connect(), reconnect=replay.connect)
    intended = INTENDED[platform] if scenario == "commit" else "sysname changed\n"
    return deploy.Device("r1", platform, driver, intended), replay


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(deploy, "time", fake)
    monkeypatch.setattr(netdrivers, "time", fake)
    return fake


def _opts(tmp_path, **kw) -> deploy.Options:
    return deploy.Options(confirm_timeout=60, backups=deploy.Backups(tmp_path / "b"),
                          secrets=deploy.Secrets(SECRETS, b"pw"), poll=1.0, **kw)


@pytest.mark.parametrize("platform", VENDORS)
def test_vendor_change_is_backed_up_replaced_with_a_timer_and_confirmed(platform, tmp_path, clock):
    dev, replay = _device(platform, "commit", clock)
    res = deploy.deploy_device(dev, _opts(tmp_path), print)
    assert (res.status, res.error) == ("changed", "")
    replay.assert_done()
    assert len(replay.channels) == 2  # the confirmation came over a new session
    assert "+ ospf cost 20" in res.diff or "+ ip ospf cost 20" in res.diff
    assert Path(res.backup).is_file()
    [(_path, text)] = replay.files.items()
    assert text == deploy.fill(dev.intended, SECRETS)  # the device got the secret …
    assert "Auth-Secret-123" not in "\n".join(res.diff)  # … the screen did not


@pytest.mark.parametrize("platform", VENDORS)
def test_vendor_check_only_backs_up_and_diffs(platform, tmp_path, clock):
    dev, replay = _device(platform, "commit", clock)
    res = deploy.deploy_device(dev, _opts(tmp_path, check=True), print)
    assert res.status == "differs" and res.diff
    assert [k for k, _ in replay.log if k == "put"] == []  # nothing was sent to change


@pytest.mark.parametrize("platform", VENDORS)
def test_vendor_refused_change_is_rolled_back(platform, tmp_path, clock):
    dev, replay = _device(platform, "refused", clock)
    res = deploy.deploy_device(dev, _opts(tmp_path), print)
    assert res.status == "failed"
    assert "refused" in res.error and res.error.endswith("rolled back")
    replay.assert_done()


@pytest.mark.parametrize("platform", VENDORS)
def test_vendor_cut_off_device_reverts_by_itself_within_its_timer(platform, tmp_path, clock):
    dev, replay = _device(platform, "revert", clock)
    start = clock.monotonic()
    res = deploy.deploy_device(dev, _opts(tmp_path), print)
    assert res.status == "rolled-back", res.error
    assert "running its previous configuration" in res.error
    timer = dev.driver.timer(60)
    assert timer <= clock.monotonic() - start <= 2 * timer + 60
    replay.assert_done()


def test_replay_fails_on_an_unexpected_command(clock):
    replay = Replay.load("cisco-ios-commit", "commit", clock)
    driver = netdrivers.IosXeDriver(replay.connect())
    with pytest.raises(ReplayMismatchError, match="show running-config"):
        driver.cmd("show startup-config")


def test_driver_pages_through_more_prompts(clock):
    replay = Replay.load("huawei-vrp-commit", "commit", clock)
    text = netdrivers.VrpDriver(replay.connect()).get_config()
    assert "---- More ----" not in text
    assert "ospf 1 router-id 198.18.144.1" in text and text.rstrip().endswith("return")


def test_device_error_lines_raise(clock):
    replay = Replay.load("cisco-ios-rollback", "refused", clock)
    driver = netdrivers.IosXeDriver(replay.connect())
    driver.get_config()
    driver.load_replace_candidate("hostname x\n")
    with pytest.raises(netdrivers.DeviceError, match="archive path is not configured"):
        driver.commit_config(60)


def test_exit_codes():
    r = deploy.Result
    assert deploy.exit_code([r("a", "frr", "in-step"), r("b", "frr", "changed")]) == 0
    assert deploy.exit_code([r("a", "frr", "differs")]) == 2
    assert deploy.exit_code([r("a", "frr", "differs"), r("b", "frr", "rolled-back")]) == 1
