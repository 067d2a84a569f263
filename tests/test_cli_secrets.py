"""The secrets' error paths of ``govnet deploy`` and ``govnet drift``, end to end through the real
command line (a subprocess), on real files in a temporary project: a stack whose Huawei router's
rendered configuration needs ``<<vault:…>>`` secrets, and a vault made by the real
``ansible-vault``. Each case stops before any device is contacted (the address is never dialled:
the secrets are filled or refused first), exits with the documented code, names what is missing
and how to fix it, and shows no traceback and no secret value."""

from __future__ import annotations

import os
import secrets as pysecrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SNMP_AUTH, SNMP_PRIV = "Auth-" + pysecrets.token_hex(8), "Priv-" + pysecrets.token_hex(8)


#: one Huawei VRP router (routing both planes in VRFs) and a server: the router's rendered
#: configuration holds local-user passwords and SNMPv3 keys as placeholders
STACK = """\
city: {name: vendor-town, display_name: 厂商镇, domain: vendor.example.gov.cn}
address_plan:
  intranet: 198.18.160.0/21
  extranet: 198.18.168.0/21
  management: 198.18.176.0/22
  loopbacks: 198.18.180.0/24
  links: 198.18.181.0/24
  tunnels: 198.18.182.0/24
  internet: 198.18.184.0/22
defaults: {platform: huawei-vrp}
sites:
  - name: dc
    kind: datacenter
    devices:
      - {name: core1, role: router, gateway_for: [intranet, extranet]}
      - {name: infra1, role: server, platform: debian, zone: intranet,
         services: [dns, ntp, syslog, monitoring]}
links: []
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project folder with stacks/vendor-town.yaml; its state goes to state/."""
    (tmp_path / "stacks").mkdir()
    (tmp_path / "stacks" / "vendor-town.yaml").write_text(STACK, encoding="utf-8")
    return tmp_path


def _vault(project: Path, content: str) -> Path:
    """secrets/vendor-town.vault.yml (the default place) encrypted by ansible-vault; its password file."""
    password = project / "vault-pass"
    password.write_text(pysecrets.token_urlsafe(24))
    vault = project / "secrets" / "vendor-town.vault.yml"
    vault.parent.mkdir()
    vault.write_text(content)
    exe = shutil.which("ansible-vault", path=str(Path(sys.executable).parent))
    subprocess.run([exe, "encrypt", "--vault-password-file", str(password), str(vault)],
                   check=True, capture_output=True)
    return password


def _wrong_password(project: Path, content: str) -> Path:
    """A vault as :func:`_vault` makes it, and a password file that does not open it."""
    password = _vault(project, content)
    password.write_text("not-the-password")
    return password


def govnet(project: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if k not in ("GOVNET_VAULT_PASSWORD_FILE", "GOVNET_SSH_KEY")}
    env["GOVNET_STATE_DIR"] = str(project / "state")
    return subprocess.run([sys.executable, "-m", "govnet.cli", *args], cwd=project, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def _no_leak(proc: subprocess.CompletedProcess) -> str:
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out
    assert SNMP_AUTH not in out and SNMP_PRIV not in out
    return out


def test_deploy_without_a_value_for_a_placeholder_fails_that_device_naming_it(project):
    password = _vault(project, f"govnet_vault:\n  snmp_auth_key: {SNMP_AUTH}\n"
                               f"  snmp_priv_key: {SNMP_PRIV}\n")
    proc = govnet(project, "deploy", "stacks/vendor-town.yaml", "--platform", "ssh",
                  "--limit", "dc-core1", "--vault-password-file", str(password))
    out = _no_leak(proc)
    assert proc.returncode == 1, out  # README: 1 a device failed
    failed = [line for line in proc.stdout.splitlines() if line.strip().startswith("dc-core1")]
    assert len(failed) == 1 and "failed" in failed[0], out
    # the missing names, not the ones the vault holds, and where they go
    assert "local_password:auditor, local_password:sysadmin" in failed[0]
    assert "snmp_auth_key" not in failed[0] and "govnet_vault: {NAME: value}" in failed[0]
    assert "summary of deploy: failed 1" in proc.stdout
    # nothing was backed up: the device was never read
    assert not (project / "state" / "stacks" / "vendor-town" / "backups").exists()


def test_deploy_with_a_wrong_vault_password_stops_with_exit_2_and_the_fix(project):
    password = _wrong_password(project, f"govnet_vault:\n  snmp_auth_key: {SNMP_AUTH}\n")
    proc = govnet(project, "deploy", "stacks/vendor-town.yaml", "--platform", "ssh",
                  "--vault-password-file", str(password))
    out = _no_leak(proc)
    assert proc.returncode == 2, out  # README: 2 invalid input
    assert "govnet deploy: " in proc.stderr and "vendor-town.vault.yml: cannot decrypt" in proc.stderr
    assert "--vault-password-file or GOVNET_VAULT_PASSWORD_FILE" in proc.stderr
    assert "==> deploy" not in proc.stdout and "summary of deploy" not in proc.stdout


def test_deploy_of_an_encrypted_vault_without_a_password_says_how_to_give_one(project):
    _vault(project, f"govnet_vault:\n  snmp_auth_key: {SNMP_AUTH}\n")
    proc = govnet(project, "deploy", "stacks/vendor-town.yaml", "--platform", "ssh", "--check")
    out = _no_leak(proc)
    assert proc.returncode == 2, out
    assert "vendor-town.vault.yml is encrypted: give --vault-password-file" in proc.stderr


def test_drift_with_a_wrong_vault_password_stops_before_any_host(project):
    password = _wrong_password(project, f"govnet_vault:\n  snmp_auth_key: {SNMP_AUTH}\n")
    proc = govnet(project, "drift", "stacks/vendor-town.yaml", "--platform", "ssh",
                  "--vault-password-file", str(password))
    out = _no_leak(proc)
    assert proc.returncode == 2, out
    assert "govnet drift: " in proc.stderr and "cannot decrypt" in proc.stderr
    assert "==> network devices" not in out and "==> Linux hosts" not in out


# ------------------------------------------------------------------ govnet up and the vault


def test_up_with_a_wrong_vault_password_stops_before_anything_is_provisioned(project):
    password = _wrong_password(project, f"govnet_vault:\n  snmp_auth_key: {SNMP_AUTH}\n"
                                        f"  snmp_priv_key: {SNMP_PRIV}\n")
    proc = govnet(project, "up", "stacks/vendor-town.yaml", "--platform", "ssh",
                  "--vault-password-file", str(password))
    out = _no_leak(proc)
    assert proc.returncode == 2, out  # README: 2 invalid input
    assert "govnet up: " in proc.stderr and "vendor-town.vault.yml: cannot decrypt" in proc.stderr
    assert "--vault-password-file or GOVNET_VAULT_PASSWORD_FILE" in proc.stderr
    # the validate phase stopped the run: no Pulumi, no Ansible, and the summary says so
    assert "==> validate" in proc.stdout and "==> provision" not in proc.stdout, out
    assert "==> configure" not in proc.stdout and "configured: not run" in proc.stdout, out
    state = project / "state"
    assert not (state / "stacks" / "vendor-town" / "ansible").exists()
    assert not [p for p in state.rglob("*") if "pulumi" in p.name.lower()
                       or (p.suffix == ".json" and p.name != "last-run.json")], sorted(state.rglob("*"))


def test_up_of_an_encrypted_vault_without_a_password_says_how_to_give_one(project):
    _vault(project, f"govnet_vault:\n  snmp_auth_key: {SNMP_AUTH}\n")
    proc = govnet(project, "up", "stacks/vendor-town.yaml", "--platform", "ssh", "--check")
    out = _no_leak(proc)
    assert proc.returncode == 2, out
    assert "vendor-town.vault.yml is encrypted: give --vault-password-file" in proc.stderr
    assert "==> provision" not in proc.stdout


def test_up_gives_ansible_the_vault_as_govnet_vault(project, tmp_path):
    """The validate phase reads the vault given with --vault; the configure phase's extra
    variables carry it as govnet_vault (the monitoring role's SNMPv3 keys, the router role's)."""
    from govnet import job, paths

    password = _vault(project, f"govnet_vault:\n  snmp_auth_key: {SNMP_AUTH}\n"
                               f"  snmp_priv_key: {SNMP_PRIV}\n")
    moved = tmp_path / "elsewhere.vault.yml"
    (project / "secrets" / "vendor-town.vault.yml").rename(moved)
    stack = project / "stacks" / "vendor-town.yaml"
    say: list[str] = []
    run = job._Run(stack, paths.Project(stack), "ssh", False, say.append,
                   job.Summary("vendor-town", "ssh"), vault=str(moved),
                   vault_password_file=str(password))
    assert "govnet_vault" not in run.extravars()  # nothing read yet
    job._validate_phase(run, None)
    extra = run.extravars()
    assert extra["govnet_vault"] == {"snmp_auth_key": SNMP_AUTH, "snmp_priv_key": SNMP_PRIV}
    assert extra["govnet_state_dir"] == str(paths.Project(stack).stack_state)
    assert "  the city's vault: 2 secret(s)" in say and not any(SNMP_AUTH in line for line in say)
    # the deploy phase fills the vendor configs' placeholders from the same values
    assert run.secrets.values["snmp_priv_key"] == SNMP_PRIV


def test_up_without_a_vault_gives_ansible_no_govnet_vault(project):
    from govnet import job, paths

    stack = project / "stacks" / "vendor-town.yaml"
    run = job._Run(stack, paths.Project(stack), "ssh", False, lambda _m: None,
                   job.Summary("vendor-town", "ssh"))
    job._validate_phase(run, None)
    assert "govnet_vault" not in run.extravars() and run.secrets.values == {}


def test_configure_run_leaves_no_secret_on_disk(project, monkeypatch):
    """configure.run through the real ansible-runner and ansible-playbook, with govnet_vault in
    its extra variables: the playbook sees the secret, and after the run no file under the state
    folder holds it (ansible-runner's env/ is removed; its artifacts keep no extra variables)."""
    from govnet import configure, paths

    monkeypatch.setenv("GOVNET_STATE_DIR", str(project / "state"))
    monkeypatch.delenv("GOVNET_SSH_KEY", raising=False)
    (project / "playbooks").mkdir()
    seen = project / "seen"
    (project / "playbooks" / "site.yml").write_text(f"""\
- name: Read the vault
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: The secret arrives
      ansible.builtin.assert:
        that: govnet_vault.snmp_auth_key | length == {len(SNMP_AUTH)}
    - name: Say that it did (without the secret)
      ansible.builtin.copy:
        content: "ok"
        dest: {seen}
        mode: "0600"
""")
    project_ = paths.Project(project / "stacks" / "vendor-town.yaml")
    conv = configure.run(project_, "ssh", extravars={"govnet_vault": {"snmp_auth_key": SNMP_AUTH}},
                         say=lambda _m: None)
    assert conv.rc == 0 and not conv.failures, conv.failures
    assert seen.read_text() == "ok"
    work = project_.stack_state / "ansible"
    assert not (work / "env").exists()
    files = [p for p in (project / "state").rglob("*") if p.is_file()]
    assert any("artifacts" in p.parts for p in files)  # the run's record is there, secret-free
    assert not [p for p in files if SNMP_AUTH.encode() in p.read_bytes()]
