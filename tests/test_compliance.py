"""The 等保 catalogue's judgements on recorded probe output: each control passes on a hardened
host's evidence and fails, saying why, on a default Debian host's."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from govnet import compliance, inventory
from govnet.addressing import address
from govnet.pipeline import LockMode, compile_stack

DESIGN = compile_stack("stacks/example-city.yaml", LockMode.FROZEN).design
FACTS = DESIGN.hosts["wolong-gw1"]
#: controls judged on another host's facts: the mail control applies to the document exchange only
OTHER_HOST = {"8.1.4.8 a": "dc-oa1", "8.1.4.8 a/video": "dc-oa1"}

HARDENED = {
    "8.1.4.1 a": "minlen = 12\nminclass = 3\nPASS_MAX_DAYS\t90\n",
    "8.1.4.1 b": "deny = 5\nunlock_time = 900\npam_faillock_lines 3\n",
    "8.1.4.1 b/timeout": "tmout 600\nclientaliveinterval 300\nclientalivecountmax 2\n",
    "8.1.4.1 c": "permitrootlogin without-password\npasswordauthentication no\n"
                 "kbdinteractiveauthentication no\ntelnet none\n",
    "8.1.4.2 a": "UMASK\t\t027\nprofile_umask 027\n",
    "8.1.4.2 d": "sysadmin: govnet-sys\nauditadmin: govnet-audit adm\nsecadmin: govnet-sec\n",
    "8.1.4.3 a": "virtualization none\nauditd active\nrules 14\n",
    "8.1.4.3 b": "Reference ID    : C6120002 (198.18.0.2)\nLeap status     : Normal\n"
                 "^* 198.18.0.2  3   6   377    20   +1ns[ +1ns] +/- 1ms\n",
    "8.1.4.3 c": "ESTAB 0 0 198.18.145.3:40212 198.18.0.2:514\n",
    "8.1.4.4 a": "",
    "8.1.4.4 c": "tcp LISTEN 0 128 198.18.128.66:22 0.0.0.0:*\n"
                 "tcp LISTEN 0 128 127.0.0.1:2601 0.0.0.0:*\n",
    "8.1.4.8 a": "dovecot_ssl required\ndisable_plaintext_auth yes\n"
                 "198.18.0.4:587 inet n - n - - smtpd -o syslog_name=postfix/submission "
                 "-o smtpd_tls_security_level=encrypt -o smtpd_sasl_auth_enable=yes\n"
                 "LISTEN 0 100 198.18.0.4:587 0.0.0.0:*\nLISTEN 0 100 198.18.0.4:993 0.0.0.0:*\n",
    "8.1.4.8 a/video": "\thttp = false\n\thttps = true\n\tadmin_http = false\n",
}
DEFAULT_DEBIAN = {
    "8.1.4.1 a": "PASS_MAX_DAYS\t99999\n",
    "8.1.4.1 b": "pam_faillock_lines 0\n",
    "8.1.4.1 b/timeout": "tmout 0\nclientaliveinterval 0\nclientalivecountmax 3\n",
    "8.1.4.1 c": "permitrootlogin without-password\npasswordauthentication yes\n"
                 "kbdinteractiveauthentication no\ntelnet none\n",
    "8.1.4.2 a": "UMASK\t\t022\nprofile_umask \n",
    "8.1.4.2 d": "",
    "8.1.4.3 a": "virtualization none\nauditd inactive\nrules 0\n",
    "8.1.4.3 b": "506 Cannot talk to daemon\n",
    "8.1.4.3 c": "",
    "8.1.4.4 a": "telnetd install ok installed\n",
    "8.1.4.4 c": "tcp LISTEN 0 128 0.0.0.0:22 0.0.0.0:*\n",
    "8.1.4.8 a": "dovecot_ssl yes\ndisable_plaintext_auth no\n"
                 "smtp inet n - y - - smtpd\nLISTEN 0 100 0.0.0.0:25 0.0.0.0:*\n"
                 "LISTEN 0 100 0.0.0.0:143 0.0.0.0:*\n",
    # Debian's janus package as installed: plain HTTP on 8088, no HTTPS
    "8.1.4.8 a/video": "\thttp = true\n\thttps = false\n\tadmin_http = false\n",
}
IDS = [c.id for c in compliance.CATALOGUE]
#: the controls of every host (wolong-gw1's); 8.1.4.4 d applies to 政民互动's host only (below)
HOST_IDS = [cid for cid in IDS if cid != "8.1.4.4 d"]
PORTAL = compile_stack("stacks/example-city.yaml", LockMode.FROZEN).design.hosts["dc-portal1"]


def run(outputs: dict[str, str]) -> dict[str, compliance.Finding]:
    text = "".join(f"@@control {cid}\n{out}" for cid, out in outputs.items())
    found = {f.control: f for f in compliance.judge("wolong-gw1", text, FACTS)}
    for cid, host in OTHER_HOST.items():
        found[cid] = next(f for f in compliance.judge(host, text, DESIGN.hosts[host]) if f.control == cid)
    return found


@pytest.mark.parametrize("cid", ["8.1.4.8 a", "8.1.4.8 a/video"])
def test_the_mail_and_video_controls_do_not_apply_without_their_service(cid):
    assert run(HARDENED)[cid].status == compliance.PASS
    (control,) = [c for c in compliance.CATALOGUE if c.id == cid]
    assert control.judge(DEFAULT_DEBIAN[cid], FACTS)[0] == compliance.NA


@pytest.mark.parametrize("cid", HOST_IDS)
def test_hardened_host_passes(cid):
    f = run(HARDENED)[cid]
    assert f.status == compliance.PASS, f.why


@pytest.mark.parametrize("cid", HOST_IDS)
def test_default_host_fails_and_says_why(cid):
    f = run(DEFAULT_DEBIAN)[cid]
    assert f.status == compliance.FAIL
    assert f.why


def test_audit_is_not_applicable_in_a_container():
    f = run({**HARDENED, "8.1.4.3 a": "virtualization systemd-nspawn\nauditd inactive\n"})["8.1.4.3 a"]
    assert f.status == compliance.NA
    assert "container" in f.why


def test_a_probe_that_did_not_run_fails():
    outputs = dict(HARDENED)
    del outputs["8.1.4.2 d"]
    assert run(outputs)["8.1.4.2 d"].status == compliance.FAIL


def test_every_control_is_in_the_probe_script():
    script = compliance.probe_script()
    assert all(f"@@control {cid}'" in script for cid in IDS)


@pytest.mark.parametrize("fmt", ["table", "json", "html"])
def test_reports_name_every_finding(fmt):
    findings = list(run(DEFAULT_DEBIAN).values())
    text = {"table": compliance.to_table, "json": compliance.to_json,
            "html": lambda f: compliance.to_html(f, "example-city")}[fmt](findings)
    assert all(cid in text for cid in IDS)


def test_input_checks_apply_to_the_hudong_host_only():
    (control,) = [c for c in compliance.CATALOGUE if c.id == "8.1.4.4 d"]
    good = "HUDONG_MAX_CHARS=2000\nHUDONG_RATE_LIMIT=5\nclient_max_body_size 64k\ndeny all\n"
    assert control.judge(good, FACTS)[0] == compliance.NA
    assert control.judge(good, PORTAL)[0] == compliance.PASS
    status, why = control.judge("HUDONG_MAX_CHARS=2000\nclient_max_body_size 64k\n", PORTAL)
    assert status == compliance.FAIL and "hudong_rate_limit" in why and "deny all" in why



def test_the_backup_hosts_borg_sshd_is_not_management_ssh():
    """The DR host's second sshd (borg only) listens on the backup port, never on 22."""
    dr = compile_stack("stacks/example-city.yaml", LockMode.FROZEN).design.hosts["dr-bak1"]
    mgmt = address(dr.management.address)
    lan = address(dr.interfaces[0].address)
    (control,) = [c for c in compliance.CATALOGUE if c.id == "8.1.4.4 c"]
    out = f"tcp LISTEN 0 128 {mgmt}:22 0.0.0.0:*\ntcp LISTEN 0 128 {lan}:2222 0.0.0.0:*\n"
    assert control.judge(out, dr)[0] == compliance.PASS
    assert control.judge(out.replace(":2222", ":22"), dr)[0] == compliance.FAIL


def test_the_role_applies_the_accounts_and_packages_compliance_checks():
    """One declaration (govnet.standard): the dengbao role reads it from the inventory
    (govnet_dengbao), the catalogue checks the same names."""
    c = compile_stack("stacks/example-city.yaml", LockMode.FROZEN)
    given = inventory.build(c.vs, c.design).groups["all"]["vars"]["govnet_dengbao"]
    assert tuple(a["name"] for a in given["admins"]) == compliance.ADMINS
    assert tuple(given["unneeded_packages"]) == compliance.UNNEEDED
    defaults = yaml.safe_load(Path("roles/dengbao/defaults/main.yml").read_text(encoding="utf-8"))
    assert defaults["dengbao__admins"] == "{{ govnet_dengbao.admins }}"
    assert defaults["dengbao__unneeded_packages"] == "{{ govnet_dengbao.unneeded_packages }}"
