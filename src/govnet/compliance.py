"""等保 2.0 level 3 (GB/T 22239-2019 §8.1.4, 安全计算环境) evidence from running hosts.

One job: for every host and every control, run a read-only probe on the host and judge it
against the stack's security settings: pass, fail or not applicable, with the evidence that
decided. The catalogue below is the single list of controls; the dengbao role applies them (one
toggle, tag and task per control) and tests/verify/test_dengbao.py asserts each on every host.
"""

from __future__ import annotations

import html
import json
import re
import subprocess
from collections.abc import Callable
from dataclasses import asdict, dataclass

from govnet import standard
from govnet.addressing import address
from govnet.facts import HostFacts

PASS, FAIL, NA = "pass", "fail", "n/a"


@dataclass(frozen=True)
class Control:
    id: str          # the clause, e.g. "8.1.4.1 a"
    title: str
    probe: str       # a read-only shell snippet; its output is the evidence
    judge: Callable[[str, HostFacts], tuple[str, str]]  # (output, host facts) -> (status, why)


@dataclass
class Finding:
    host: str
    control: str
    title: str
    status: str
    why: str
    evidence: str


def _kv(text: str, sep: str = r"\s*=\s*|\s+") -> dict[str, str]:
    out = {}
    for raw in text.splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            parts = re.split(sep, line, maxsplit=1)
            if len(parts) == 2:
                out[parts[0].lower()] = parts[1].strip()
    return out


def _int(value: str | None, default: int = -1) -> int:
    try:
        return int(str(value).split()[0])
    except (TypeError, ValueError, IndexError):
        return default


def _password(out: str, facts: HostFacts) -> tuple[str, str]:
    kv, sec = _kv(out), facts.security
    want_len, want_age = sec["password_min_length"], sec["password_max_age_days"]
    if _int(kv.get("minlen")) < want_len:
        return FAIL, f"pwquality minlen is {kv.get('minlen', 'unset')}, needs >= {want_len}"
    if _int(kv.get("minclass")) < 3:
        return FAIL, f"pwquality minclass is {kv.get('minclass', 'unset')}, needs >= 3"
    if not 0 < _int(kv.get("pass_max_days")) <= want_age:
        return FAIL, f"PASS_MAX_DAYS is {kv.get('pass_max_days', 'unset')}, needs <= {want_age}"
    return PASS, f"minlen {kv['minlen']}, minclass {kv['minclass']}, expiry {kv['pass_max_days']} days"


def _lockout(out: str, facts: HostFacts) -> tuple[str, str]:
    kv, sec = _kv(out), facts.security
    if not 0 < _int(kv.get("deny")) <= sec["login_attempts"]:
        return FAIL, f"faillock deny is {kv.get('deny', 'unset')}, needs <= {sec['login_attempts']}"
    if _int(kv.get("unlock_time")) < sec["lockout_minutes"] * 60:
        return FAIL, f"faillock unlock_time is {kv.get('unlock_time', 'unset')} s, needs >= " \
                     f"{sec['lockout_minutes'] * 60}"
    if _int(kv.get("pam_faillock_lines"), 0) < 2:
        return FAIL, "pam_faillock is not in /etc/pam.d/common-auth"
    return PASS, f"locked {kv['unlock_time']} s after {kv['deny']} failures"


def _timeout(out: str, facts: HostFacts) -> tuple[str, str]:
    kv = _kv(out)
    limit = facts.security["idle_timeout_minutes"] * 60
    tmout = _int(kv.get("tmout"))
    alive = _int(kv.get("clientaliveinterval")) * max(_int(kv.get("clientalivecountmax")), 1)
    if not 0 < tmout <= limit:
        return FAIL, f"shell TMOUT is {kv.get('tmout', 'unset')}, needs <= {limit} s"
    if not 0 < alive <= limit:
        return FAIL, f"sshd ends idle sessions after {alive} s, needs <= {limit} s"
    return PASS, f"shell TMOUT {tmout} s, SSH idle limit {alive} s"


def _remote(out: str, _facts: HostFacts) -> tuple[str, str]:
    kv = _kv(out)
    bad = []
    if kv.get("permitrootlogin") not in ("without-password", "prohibit-password", "no"):
        bad.append(f"PermitRootLogin {kv.get('permitrootlogin')}")
    for key in ("passwordauthentication", "kbdinteractiveauthentication"):
        if kv.get(key) != "no":
            bad.append(f"{key} {kv.get(key)}")
    if kv.get("telnet") not in (None, "none"):
        bad.append(f"something listens on the telnet port: {kv['telnet']}")
    return (FAIL, "; ".join(bad)) if bad else (PASS, "SSH 2 key-only, no password root login, no telnet")


def _umask(out: str, _facts: HostFacts) -> tuple[str, str]:
    kv = _kv(out)
    login, profile = kv.get("umask"), kv.get("profile_umask")
    if login != "027" or profile != "027":
        return FAIL, (f"login.defs UMASK {login or 'unset'}, /etc/profile.d umask "
                      f"{profile or 'unset'}: both must be 027")
    return PASS, "umask 027 for logins and shells"


#: the administrator accounts of 8.1.4.2 d (govnet.standard, as the dengbao role creates them)
ADMINS = tuple(a["name"] for a in standard.DENGBAO_ADMINS)
_SYSTEM, _AUDIT, _SECURITY = standard.DENGBAO_ADMINS


def _admins(out: str, _facts: HostFacts) -> tuple[str, str]:
    groups = {}
    for line in out.splitlines():
        if ":" in line:
            user, rest = line.split(":", 1)
            groups[user.strip()] = set(rest.split())
    missing = [a for a in ADMINS if a not in groups]
    if missing:
        return FAIL, f"administrator accounts missing: {', '.join(missing)}"
    if groups[_AUDIT["name"]] & {"sudo", _SYSTEM["group"]} or "adm" in groups[_SYSTEM["name"]]:
        return FAIL, "the system administrator can read the audit logs, or the auditor can administer"
    return PASS, "sysadmin, auditadmin and secadmin, each with its own rights"


def _audit(out: str, _facts: HostFacts) -> tuple[str, str]:
    kv = _kv(out)
    if kv.get("virtualization") not in (None, "none"):
        return NA, f"a {kv['virtualization']} container: the kernel's audit belongs to the machine " \
                   "that runs it"
    if kv.get("auditd") != "active":
        return FAIL, f"auditd is {kv.get('auditd', 'not installed')}"
    if _int(kv.get("rules"), 0) < 5:
        return FAIL, f"only {kv.get('rules', 0)} audit rules loaded"
    return PASS, f"auditd active with {kv['rules']} rules"


def _time(out: str, facts: HostFacts) -> tuple[str, str]:
    servers = facts.clients["ntp"]
    if not servers:
        return NA, "not a city host: it uses no city time source"
    if not any(s in out for s in servers):
        return FAIL, f"chrony follows none of the city's time sources {servers}"
    if "Leap status     : Normal" not in out:
        return FAIL, "chrony is not synchronised"
    return PASS, "synchronised with the city's time source"


def _central_logs(out: str, facts: HostFacts) -> tuple[str, str]:
    servers = facts.clients["syslog"]
    if not servers:
        return NA, "not a city host: it sends no logs to the city"
    missing = [s for s in servers if f"{s}:514" not in out]
    if missing:
        return FAIL, f"no TCP connection to the log host(s) {', '.join(missing)}"
    return PASS, f"forwarding to {', '.join(servers)} over TCP"


#: the packages of 8.1.4.4 a (govnet.standard, as the dengbao role removes them)
UNNEEDED = standard.DENGBAO_UNNEEDED_PACKAGES


def _minimal(out: str, _facts: HostFacts) -> tuple[str, str]:
    found = [line.split()[0] for line in out.splitlines() if "install ok installed" in line]
    return (FAIL, f"unneeded packages installed: {', '.join(found)}") if found else (
        PASS, "no telnet, rsh, NIS, TFTP, FTP or inetd server")


def _input_checks(out: str, facts: HostFacts) -> tuple[str, str]:
    """8.1.4.4 d on a host whose application takes the public's input (政民互动): its limits are
    set and nginx limits requests and closes the staff pages to everyone but the staff networks."""
    if "hudong" not in facts.services:
        return NA, "no application takes the public's input on this host"
    env = _kv(out, r"=")
    missing = [k for k in ("hudong_max_chars", "hudong_rate_limit") if _int(env.get(k)) <= 0]
    missing += [k for k in ("client_max_body_size", "deny all") if k not in out]
    if missing:
        return FAIL, f"政民互动's input checks are missing: {', '.join(missing)}"
    return PASS, (f"政民互动 refuses bodies over {env['hudong_max_chars']} characters and more than "
                  f"{env['hudong_rate_limit']} posts per address and hour; nginx limits requests "
                  "and admits the staff pages from the staff networks only")


def _listening(out: str, facts: HostFacts) -> tuple[str, str]:
    mgmt = address(facts.management.address)
    exposed = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 5:
            continue
        local = parts[4]
        addr, _, port = local.rpartition(":")
        addr = addr.strip("[]").split("%")[0]
        if addr.startswith("127.") or addr == "::1":
            continue
        if port == "22" and addr != mgmt:
            exposed.append(f"SSH on {addr}")
    if exposed:
        return FAIL, f"management reachable outside the management zone: {', '.join(exposed)}"
    return PASS, f"SSH listens on the management address {mgmt} only"


#: mail ports that carry logins or documents in clear text: SMTP, POP3, IMAP
_CLEAR_MAIL_PORTS = ("25", "110", "143")


def _mail_in_transit(out: str, facts: HostFacts) -> tuple[str, str]:
    if "docexchange" not in facts.services:
        return NA, "no document exchange on this host"
    kv, bad = _kv(out), []
    if kv.get("dovecot_ssl") != "required":
        bad.append(f"Dovecot ssl is {kv.get('dovecot_ssl') or 'unset'}, needs required")
    if kv.get("disable_plaintext_auth") != "yes":
        bad.append("Dovecot allows logins without TLS")
    smtpd = [line for line in out.splitlines() if " inet " in line and " smtpd" in line]
    bad += [f"Postfix {line.split()[0]} takes mail without TLS" for line in smtpd
            if "smtpd_tls_security_level=encrypt" not in line]
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 5 and parts[0] == "LISTEN":
            addr, _, port = parts[3].rpartition(":")
            if port in _CLEAR_MAIL_PORTS and not addr.startswith("127."):
                bad.append(f"a clear-text mail port listens on {parts[3]}")
    if bad:
        return FAIL, "; ".join(bad)
    return PASS, f"submission only with STARTTLS ({len(smtpd)} listener), IMAPS only, no clear-text mail port"


def _video_in_transit(out: str, facts: HostFacts) -> tuple[str, str]:
    if "videoconf" not in facts.services:
        return NA, "no video conferencing on this host"
    kv, bad = _kv(out), []
    if kv.get("https") != "true":
        bad.append("Janus's API is not on HTTPS")
    for key, what in (("http", "plain HTTP"), ("admin_http", "the admin API on plain HTTP"),
                      ("no_webrtc_encryption", "media without DTLS-SRTP")):
        if kv.get(key, "false") != "false":
            bad.append(f"Janus serves {what}")
    if bad:
        return FAIL, "; ".join(bad)
    return PASS, "Janus's API on HTTPS only, media encrypted (DTLS-SRTP, Janus's default kept)"


CATALOGUE: tuple[Control, ...] = (
    Control("8.1.4.1 a", "password complexity and periodic change",
            "grep -Eh '^[[:space:]]*(minlen|minclass)' /etc/security/pwquality.conf 2>/dev/null;"
            " grep -E '^PASS_MAX_DAYS' /etc/login.defs", _password),
    Control("8.1.4.1 b", "login failure handling: lockout",
            "grep -Eh '^[[:space:]]*(deny|unlock_time)' /etc/security/faillock.conf 2>/dev/null;"
            " echo pam_faillock_lines $(grep -c pam_faillock /etc/pam.d/common-auth)", _lockout),
    Control("8.1.4.1 b/timeout", "login failure handling: idle sessions end",
            "echo tmout $(sh -c '. /etc/profile.d/govnet-tmout.sh 2>/dev/null; echo ${TMOUT:-0}');"
            " sshd -T | grep -E '^clientalive'", _timeout),
    Control("8.1.4.1 c", "remote management encrypted: SSH 2 key-only, no password root login",
            "sshd -T | grep -E '^(permitrootlogin|passwordauthentication|kbdinteractiveauthentication) ';"
            " echo telnet $(ss -Hltn 'sport = :23' | head -1 | tr -s ' ' _ || true)none", _remote),
    Control("8.1.4.2 a", "default file permissions (umask 027)",
            "grep -E '^UMASK' /etc/login.defs;"
            " echo profile_umask $(sh -c '. /etc/profile.d/govnet-umask.sh 2>/dev/null; umask')"
            " | sed 's/ 0/ /'", _umask),
    Control("8.1.4.2 d", "separate system, audit and security administrators (三权分立)",
            "for u in " + " ".join(ADMINS) + "; do id -nG $u >/dev/null 2>&1 &&"
            " echo \"$u: $(id -nG $u)\"; done; true", _admins),
    Control("8.1.4.3 a", "security audit enabled for every user (auditd)",
            "echo virtualization $(systemd-detect-virt --container || true);"
            " echo auditd $(systemctl is-active auditd 2>/dev/null || true);"
            " echo rules $(auditctl -l 2>/dev/null | grep -vc '^No rules' || true)", _audit),
    Control("8.1.4.3 b", "audit records carry the right time (time synchronised)",
            "chronyc -n tracking; chronyc -n sources", _time),
    Control("8.1.4.3 c", "audit records kept on the central log host",
            "ss -Htn state established '( dport = :514 )'", _central_logs),
    Control("8.1.4.4 a", "minimal installation: no unneeded components",
            "dpkg-query -W -f='${Package} ${Status}\\n' " + " ".join(UNNEEDED) + " 2>/dev/null; true",
            _minimal),
    Control("8.1.4.4 c", "management only from the management zone",
            "ss -Hltnu", _listening),
    Control("8.1.4.4 d", "input validity checks on the public's input (政民互动)",
            "grep -E '^HUDONG_(MAX_CHARS|RATE_LIMIT)=' /etc/hudong/hudong.env 2>/dev/null;"
            " grep -hoE 'client_max_body_size [0-9]+[kKmM]?|deny all'"
            " /etc/nginx/govnet-portal.d/hudong.conf 2>/dev/null; true", _input_checks),
    Control("8.1.4.8 a", "important data encrypted in transit: the document exchange's mail",
            "echo dovecot_ssl $(doveconf -h ssl 2>/dev/null);"
            " echo disable_plaintext_auth $(doveconf -h disable_plaintext_auth 2>/dev/null);"
            " postconf -M 2>/dev/null | grep -E '^[^ ]+ +inet ' || true;"
            " ss -Hltn", _mail_in_transit),
    Control("8.1.4.8 a/video", "important data encrypted in transit: the video conference",
            "grep -shE '^[[:space:]]*(http|https|admin_http|no_webrtc_encryption)[[:space:]]*='"
            " /etc/janus/janus.transport.http.jcfg /etc/janus/janus.jcfg | tr -d '\"'; true",
            _video_in_transit),
)


def probe_script() -> str:
    """One shell script that runs every probe and marks each output section."""
    parts = []
    for c in CATALOGUE:
        parts.append(f"echo '@@control {c.id}'; ( {c.probe} ) 2>&1")
    return "\n".join(parts) + "\n"


def judge(host: str, output: str, facts: HostFacts) -> list[Finding]:
    """Split ``output`` of :func:`probe_script` and judge every control."""
    sections: dict[str, str] = {}
    current = None
    for line in output.splitlines():
        if line.startswith("@@control "):
            current = line.removeprefix("@@control ").strip()
            sections[current] = ""
        elif current:
            sections[current] += line + "\n"
    findings = []
    for c in CATALOGUE:
        out = sections.get(c.id)
        if out is None:
            findings.append(Finding(host, c.id, c.title, FAIL, "the probe did not run", ""))
            continue
        status, why = c.judge(out, facts)
        findings.append(Finding(host, c.id, c.title, status, why, out.strip()))
    return findings


def collect(host: str, ip: str, facts: HostFacts, ssh_args: list[str], timeout: float = 60) -> list[Finding]:
    """Probe one host (at ``ip``) over SSH and judge it."""
    cmd = ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", *ssh_args, f"root@{ip}",
           "sh -s"]
    try:
        proc = subprocess.run(cmd, input=probe_script(), capture_output=True, text=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return [Finding(host, c.id, c.title, FAIL, "the host did not answer in time", "")
                for c in CATALOGUE]
    if proc.returncode == 255:
        why = f"unreachable over SSH: {proc.stderr.strip()[-200:]}"
        return [Finding(host, c.id, c.title, FAIL, why, "") for c in CATALOGUE]
    return judge(host, proc.stdout, facts)


# --- reports ------------------------------------------------------------------------------------

def to_json(findings: list[Finding]) -> str:
    return json.dumps([asdict(f) for f in findings], ensure_ascii=False, indent=2)


def to_table(findings: list[Finding]) -> str:
    rows = [f"{'HOST':<18} {'CLAUSE':<18} {'STATUS':<6} WHY"]
    for f in findings:
        rows.append(f"{f.host:<18} {f.control:<18} {f.status.upper():<6} {f.why}")
    counts = {s: sum(f.status == s for f in findings) for s in (PASS, FAIL, NA)}
    rows.append(f"{counts[PASS]} pass, {counts[FAIL]} fail, {counts[NA]} not applicable "
                f"({len({f.host for f in findings})} hosts, {len(CATALOGUE)} controls each)")
    return "\n".join(rows)


def to_html(findings: list[Finding], stack: str) -> str:
    colour = {PASS: "#1a7f37", FAIL: "#cf222e", NA: "#6e7781"}
    rows = "\n".join(
        f"<tr><td>{html.escape(f.host)}</td><td>{html.escape(f.control)}</td>"
        f"<td>{html.escape(f.title)}</td>"
        f"<td style='color:{colour[f.status]};font-weight:bold'>{f.status}</td>"
        f"<td>{html.escape(f.why)}<details><summary>evidence</summary><pre>"
        f"{html.escape(f.evidence)}</pre></details></td></tr>" for f in findings)
    return (f"<!doctype html><meta charset='utf-8'><title>等保 2.0 level 3: {html.escape(stack)}</title>"
            "<style>body{font-family:sans-serif}td,th{border-bottom:1px solid #ddd;padding:4px;"
            "vertical-align:top;text-align:left}</style>"
            f"<h1>GB/T 22239-2019 level 3, §8.1.4 — {html.escape(stack)}</h1>"
            "<table><tr><th>host</th><th>clause</th><th>control</th><th>status</th><th>why</th></tr>"
            f"{rows}</table>")

