"""SNMPv3 polling of the vendor network devices: the design lists every vendor device of the city
with the credential set its configuration creates; the monitoring role's snmp.yml, rendered for
example-metro with fake keys, passes the real exporter's own check (``--dry-run``), and its
prometheus.yml with the snmp job passes ``promtool check config``. No lab: example-city has no
vendor gear, and the role on a monitoring server polling real devices is not run here."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import jinja2
import pytest
import yaml

from govnet import standard
from govnet.addressing import address
from govnet.pipeline import compile_stack

ROOT = Path(__file__).resolve().parents[1]
ROLE = ROOT / "roles" / "monitoring"
METRO = ROOT / "stacks" / "example-metro.yaml"
CITY = ROOT / "stacks" / "example-city.yaml"
VENDOR = {"huawei-vrp", "h3c-comware", "cisco-ios"}
SECRETS = {"snmp_auth_key": "fake-auth-key-1234", "snmp_priv_key": 'fake "priv" key 5678'}


def require(tool: str) -> str:
    """The tool's path; skip where it is not installed (scripts/setup installs it) — in CI a failure."""
    path = shutil.which(tool)
    if path is None:
        reason = f"needs {tool} (Debian package installed by scripts/setup)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run this check: {reason}")
        pytest.skip(reason)
    return path


@pytest.fixture(scope="module")
def metro():
    return compile_stack(METRO).design


def _template_vars(design, secrets: dict) -> dict:
    """The role's variables as Ansible would give them on the monitoring server (defaults/main.yml
    evaluated by hand for the ones the templates read)."""
    mon = design.monitoring.dump()
    snmp = bool(mon["snmp_targets"]) and all(secrets.get(k) for k in ("snmp_auth_key", "snmp_priv_key"))
    return {
        "ansible_managed": "Ansible managed",
        "govnet_city": {"name": design.city.name},
        "govnet_monitoring": mon,
        "monitoring__scrape_interval": "15s",
        "monitoring__listen": design.monitoring.servers[0],
        "monitoring__port": 9090,
        "monitoring__blackbox_listen": "127.0.0.1:9115",
        "monitoring__snmp_targets": mon["snmp_targets"],
        "monitoring__snmp_auths": mon["snmp_auths"],
        "monitoring__snmp_secrets": secrets,
        "monitoring__snmp": snmp,
        "monitoring__snmp_listen": "127.0.0.1:9116",
        "monitoring__alertmanager": False,
        "monitoring__alertmanager_listen": "127.0.0.1:9093",
    }


def _render(template: str, variables: dict) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(ROLE / "templates"),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.filters["to_json"] = json.dumps
    env.filters["bool"] = bool
    return env.get_template(template).render(**variables)


# --- the facts -----------------------------------------------------------------------------------

def test_every_vendor_device_of_metro_is_polled_and_no_linux_host(metro):
    polled = {t.host for t in metro.monitoring.snmp_targets}
    vendor = {n for n, h in metro.hosts.items()
              if h.platform in VENDOR and h.site_kind not in ("internet", "province")}
    assert polled == vendor
    assert len(polled) > 100
    linux = {p.value for p in standard.LINUX_PLATFORMS}
    assert not [n for n in polled if metro.hosts[n].platform in linux]
    assert "province-pe1" not in polled  # the province's router is not the city's


def test_each_target_uses_the_address_its_config_sources_snmp_from(metro):
    for t in metro.monitoring.snmp_targets:
        h = metro.hosts[t.host]
        want = h.loopback if h.role in ("router", "firewall") else address(h.management.address)
        assert t.address == want, t.host
        assert t.platform == h.platform


def test_the_auth_matches_the_user_the_vendor_config_creates(metro):
    auths = {a.name: a for a in metro.monitoring.snmp_auths}
    assert len(auths) == len(metro.monitoring.snmp_auths)
    seen_platforms = set()
    for t in metro.monitoring.snmp_targets:
        h, a = metro.hosts[t.host], auths[t.auth]
        seen_platforms.add(h.platform)
        assert a.user == h.snmp["user"] == "govnet-mon"
        assert a.security_level == "authPriv"
        assert a.auth_protocol == {"sha": "SHA", "sha256": "SHA256"}[h.snmp["auth"]]
        assert a.priv_protocol == "AES"  # example-metro: aes128 everywhere
    assert seen_platforms == VENDOR
    # the rendered vendor configuration creates that user with authPriv (privacy)
    cfg = (ROOT / "configs/example-metro/dc-core1/dc-core1.cfg").read_text(encoding="utf-8")
    assert re.search(r"snmp-agent usm-user v3 govnet-mon authentication-mode sha2-256 "
                     r"cipher <<vault:snmp_auth_key>>", cfg)
    assert "snmp-agent group v3 govnet-mon privacy" in cfg


def test_aes256_on_cisco_is_its_own_credential_set(metro):
    from govnet.monitoring import snmp_auth
    cisco = next(h for h in metro.hosts.values() if h.platform == "cisco-ios")
    huawei = next(h for h in metro.hosts.values() if h.platform == "huawei-vrp")
    for h in (cisco, huawei):
        h2 = h.model_copy(update={"snmp": {**h.snmp, "priv": "aes256", "auth": "sha"}})
        a = snmp_auth(h2)
        assert a.auth_protocol == "SHA"
        assert a.priv_protocol == ("AES256C" if h is cisco else "AES256")


def test_example_city_has_no_vendor_gear():
    design = compile_stack(CITY).design
    assert design.monitoring.snmp_targets == []
    assert design.monitoring.snmp_auths == []


# --- the role's templates ------------------------------------------------------------------------

def test_snmp_yml_has_one_module_per_auth_with_the_keys(metro):
    data = yaml.safe_load(_render("etc/prometheus/snmp.yml.j2", _template_vars(metro, SECRETS)))
    assert set(data) == {f"if_mib_{a.name}" for a in metro.monitoring.snmp_auths}
    module = data["if_mib_govnet-mon-sha256-aes"]
    assert module["version"] == 3
    assert module["auth"] == {"username": "govnet-mon", "security_level": "authPriv",
                              "auth_protocol": "SHA256", "password": SECRETS["snmp_auth_key"],
                              "priv_protocol": "AES", "priv_password": SECRETS["snmp_priv_key"]}
    names = {m["name"] for m in module["metrics"]}
    assert {"sysUpTime", "ifHCInOctets", "ifHCOutOctets", "ifInOctets", "ifOperStatus"} <= names


def test_snmp_yml_passes_the_exporters_own_check(metro, tmp_path):
    exporter = require("prometheus-snmp-exporter")
    path = tmp_path / "snmp.yml"
    path.write_text(_render("etc/prometheus/snmp.yml.j2", _template_vars(metro, SECRETS)), encoding="utf-8")
    proc = subprocess.run([exporter, "--dry-run", f"--config.file={path}"], capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    # the check is real: a wrong protocol is refused
    path.write_text(path.read_text(encoding="utf-8").replace("priv_protocol: AES", "priv_protocol: 3DES"),
                    encoding="utf-8")
    bad = subprocess.run([exporter, "--dry-run", f"--config.file={path}"], capture_output=True, text=True,
                         timeout=60, check=False)
    assert bad.returncode != 0


def test_prometheus_yml_scrapes_every_vendor_device_through_the_exporter(metro):
    data = yaml.safe_load(_render("etc/prometheus/prometheus.yml.j2", _template_vars(metro, SECRETS)))
    job = next(j for j in data["scrape_configs"] if j["job_name"] == "snmp")
    assert job["metrics_path"] == "/snmp"
    want = {t.address for t in metro.monitoring.snmp_targets}
    assert {c["targets"][0] for c in job["static_configs"]} == want
    relabel = {r["target_label"]: r for r in job["relabel_configs"]}
    assert relabel["__param_target"]["source_labels"] == ["__address__"]
    assert relabel["__param_module"] == {"source_labels": ["auth"], "target_label": "__param_module",
                                         "replacement": "if_mib_${1}"}
    assert relabel["__address__"]["replacement"] == "127.0.0.1:9116"


def test_without_the_keys_there_is_no_snmp_job(metro):
    data = yaml.safe_load(_render("etc/prometheus/prometheus.yml.j2", _template_vars(metro, {})))
    assert "snmp" not in {j["job_name"] for j in data["scrape_configs"]}


@pytest.mark.parametrize("stack", [METRO, CITY], ids=lambda p: p.stem)
def test_prometheus_yml_passes_promtool(stack, tmp_path):
    promtool = require("promtool")
    design = compile_stack(stack).design
    variables = {**_template_vars(design, SECRETS), "monitoring__alert_for": "1m"}
    rules = tmp_path / "govnet.rules.yml"  # promtool checks the rule file the config names too
    rules.write_text(_render("etc/prometheus/rules/govnet.rules.yml.j2", variables), encoding="utf-8")
    path = tmp_path / "prometheus.yml"
    text = _render("etc/prometheus/prometheus.yml.j2", variables)
    assert "/etc/prometheus/rules/govnet.rules.yml" in text
    path.write_text(text.replace("/etc/prometheus/rules/govnet.rules.yml", str(rules)), encoding="utf-8")
    proc = subprocess.run([promtool, "check", "config", str(path)], capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_exporter_listens_on_localhost_only():
    text = (ROLE / "templates/etc/default/prometheus-snmp-exporter.j2").read_text(encoding="utf-8")
    assert "--web.listen-address={{ monitoring__snmp_listen }}" in text
    defaults = yaml.safe_load((ROLE / "defaults/main.yml").read_text(encoding="utf-8"))
    assert defaults["monitoring__snmp_listen"].startswith("127.0.0.1:")


def test_the_task_writing_the_keys_hides_them():
    tasks = yaml.safe_load((ROLE / "tasks/snmp.yml").read_text(encoding="utf-8"))
    write = next(t for t in tasks
                 if t.get("ansible.builtin.template", {}).get("dest") == "/etc/prometheus/snmp.yml")
    assert write["no_log"] is True
    assert "--dry-run" in write["ansible.builtin.template"]["validate"]
