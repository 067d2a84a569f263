"""Deploy: push the rendered configurations to the network devices, safely, and find drift.

Per device (routers and firewalls), in NAPALM's order (:mod:`govnet.netdrivers`):

1. **back up** the running configuration under the stack's state (``backups/<host>/<time>.cfg``,
   0600 in 0700 folders, newest :data:`KEEP_BACKUPS` kept; a backup that holds a secret is
   encrypted with the city's ansible-vault password, else its secrets are masked);
2. **diff** running against intended (the rendered ``configs/<host>/frr.conf`` with its
   ``<<vault:NAME>>`` placeholders filled), both canonicalised per platform so that what a device
   only shows differently is no difference; ``check`` stops here;
3. **replace** the whole configuration with a revert timer on the device;
4. **confirm** only once the controller reaches the device again over a fresh connection; if it
   cannot before the timer runs out, the device restores its previous configuration by itself and
   the run waits until it answers again.

Devices deploy in parallel and fail alone. Secrets never reach the screen, a log or a diff: every
text shown goes through :func:`mask`.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from govnet import netdrivers
from govnet.netdrivers import DeviceError, Driver, UnreachableError

Say = Callable[[str], None]

#: backups kept per device (the oldest go first)
KEEP_BACKUPS = 10
#: the roles whose devices deploy handles (the others are Linux hosts: Ansible's job)
NETWORK_ROLES = ("router", "firewall")
PLACEHOLDER = re.compile(r"<<vault:([^>]+)>>")
#: the run's exit codes: ok, a device failed or rolled back, a check found differences
EXIT_OK, EXIT_FAILED, EXIT_DIFFERS = 0, 1, 2


# ------------------------------------------------------------------ secrets


class SecretError(ValueError):
    """A placeholder has no value in the vault (or the vault cannot be read)."""


def load_vault(path: Path, password_file: Path | None) -> dict[str, str]:
    """``govnet_vault: {NAME: value}`` from an ansible-vault encrypted YAML file; {} when the file
    does not exist. The password comes from ``password_file``."""
    import yaml
    from ansible.parsing.vault import VaultLib, VaultSecret

    if not path.is_file():
        return {}
    if password_file is None:
        raise SecretError(f"{path} is encrypted: give --vault-password-file or GOVNET_VAULT_PASSWORD_FILE")
    secret = VaultSecret(password_file.read_bytes().strip())
    try:
        text = VaultLib([("default", secret)]).decrypt(path.read_bytes())
    except Exception as exc:  # ansible raises its AnsibleError subclasses
        raise SecretError(f"{path}: cannot decrypt: {exc}") from None
    data = yaml.safe_load(text) or {}
    values = data.get("govnet_vault") if isinstance(data, dict) else None
    if not isinstance(values, dict):
        raise SecretError(f"{path}: expected a mapping 'govnet_vault: {{NAME: value}}'")
    return {str(k): str(v) for k, v in values.items()}


def fill(text: str, secrets: dict[str, str]) -> str:
    """Replace ``<<vault:NAME>>`` on configuration lines; comment lines (``!``/``#``) keep them."""
    missing: set[str] = set()

    def one(line: str) -> str:
        if line.lstrip().startswith(("!", "#")):
            return line
        names = PLACEHOLDER.findall(line)
        missing.update(n for n in names if n not in secrets)
        return PLACEHOLDER.sub(lambda m: secrets.get(m.group(1), m.group(0)), line)

    out = "\n".join(one(line) for line in text.splitlines())
    if missing:
        raise SecretError(f"no value for {', '.join(sorted(missing))} in the vault "
                          "(govnet_vault: {NAME: value})")
    return out + ("\n" if text.endswith("\n") else "")


def secret_patterns(intended: str) -> list[re.Pattern]:
    """One pattern per configuration line of the intended text that holds a placeholder: the
    same line with any value in its place, so old or unknown values on the device are found too."""
    pats = []
    for line in intended.splitlines():
        if PLACEHOLDER.search(line) and not line.lstrip().startswith(("!", "#")):
            parts = PLACEHOLDER.split(line)
            # split gives text, name, text, name, …: the names' places become (\S+)
            rx = "".join(re.escape(p) if i % 2 == 0 else r"(\S+)" for i, p in enumerate(parts))
            names = parts[1::2]
            pats.append((re.compile(r"^\s*" + rx.strip().replace(r"\ ", r"\s+") + r"\s*$"), names))
    return pats


def mask(text: str, secrets: dict[str, str], patterns: Iterable = ()) -> str:
    """``text`` with every secret value shown as its placeholder ``<<vault:NAME>>``: the known
    values anywhere, and the values on lines shaped like a secret-bearing intended line."""
    for name, value in sorted(secrets.items(), key=lambda kv: -len(kv[1])):
        if value:
            text = text.replace(value, f"<<vault:{name}>>")
    pats = list(patterns)
    if not pats:
        return text
    out = []
    for original in text.split("\n"):
        line = original
        for rx, names in pats:
            m = rx.match(line.lstrip("+- ") if line[:1] in "+- " else line)
            if m:
                for group, name in zip(range(1, len(names) + 1), names, strict=True):
                    if m.group(group) != f"<<vault:{name}>>":
                        line = line.replace(m.group(group), f"<<vault:{name}>>", 1)
        out.append(line)
    return "\n".join(out)


@dataclass
class Secrets:
    """The city's vault values (NAME -> value) and the vault password (to encrypt backups)."""

    values: dict[str, str] = field(default_factory=dict)
    password: bytes | None = None


def holds_secret(text: str, secrets: dict[str, str], patterns: Iterable) -> bool:
    return mask(text, secrets, patterns) != text


# ------------------------------------------------------------------ diff


@dataclass(frozen=True)
class Canon:
    """How a platform's configuration text is compared, as data: lines never compared, lines
    one side only shows, and equivalent spellings."""

    ignore: tuple[str, ...]  # regexes of (context-free) lines never compared
    comment: tuple[str, ...] = ("!",)
    ignore_in: tuple[tuple[str, str], ...] = ()  # (context regex, line regex) never compared
    # FRR: 'router ospf' + ' passive-interface IF' is 'interface IF' + ' ip ospf passive'
    passive: bool = False
    rewrite: tuple[tuple[str, str], ...] = ()  # (regex, replacement): one spelling of a line


CANON = {
    "frr": Canon(
        ignore=(r"^Building configuration\.\.\.$", r"^Current configuration:$", r"^frr version ",
                r"^end$", r"^exit$", r"^exit-vrf$",
                # FRR does not show these back in 'show running-config'
                r"^banner motd "),
        ignore_in=((r"^interface ", r"^ip ospf network broadcast$"), (r"^line vty$", r"^exec-timeout "),
                   # the default on a point-to-point (tunnel) interface, so FRR does not show it
                   (r"^interface wg\d+$", r"^ip ospf network point-to-point$")),
        passive=True,
        # a static route's default distance (1) is not shown
        rewrite=((r"^(ip route \S+ \S+) 1$", r"\1"),)),
    "huawei-vrp": Canon(ignore=(r"^return$", r"^!Software Version", r"^!Last configuration",
                                r"^#$"), comment=("#",)),
    "h3c-comware": Canon(ignore=(r"^return$", r"^ version ", r"^#$"), comment=("#",)),
    "cisco-ios": Canon(ignore=(r"^Building configuration\.\.\.$", r"^Current configuration : ",
                               r"^end$", r"^version ", r"^! Last configuration change",
                               r"^! NVRAM config last updated")),
}


def canonical(text: str, platform: str) -> list[str]:
    """The configuration as sorted ``context`` / `` line`` text: order-free, comments, blank lines
    and what the platform never shows dropped, equivalent spellings made one."""
    canon = CANON.get(platform, CANON["cisco-ios"])
    blocks: dict[str, set[str]] = {}
    context = ""
    for raw in text.replace("\r", "").splitlines():
        line = raw.rstrip()
        for rx, repl in canon.rewrite:
            line = re.sub(rx, repl, line)
        stripped = line.strip()
        if not stripped or (stripped.startswith(canon.comment) and not line.startswith(" ")) \
                or any(re.match(rx, line) for rx in canon.ignore):
            continue
        if stripped.startswith(canon.comment) and stripped in canon.comment:
            continue
        if not line.startswith(" "):
            context = line
            blocks.setdefault(context, set())
            continue
        if any(re.match(c, context) and re.match(rx, stripped) for c, rx in canon.ignore_in):
            continue
        if canon.passive and context.startswith("router ospf") and stripped.startswith("passive-interface "):
            blocks.setdefault(f"interface {stripped.split()[1]}", set()).add(" ip ospf passive")
            continue
        blocks.setdefault(context, set()).add(" " + stripped)
    out = []
    for ctx in sorted(blocks):
        if any(re.match(c, ctx) for c, _ in canon.ignore_in) and not blocks[ctx]:
            continue  # an empty block whose only lines are never shown (line vty)
        out.append(ctx)
        out.extend(sorted(blocks[ctx]))
    return out


def diff(running: str, intended: str, platform: str, host: str = "device") -> list[str]:
    """The canonical forms compared block by block: `` context`` then ``-`` (running only) and
    ``+`` (intended only) lines; [] when in step."""
    def blocks(lines: list[str]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        ctx = ""
        for line in lines:
            if line.startswith(" "):
                out[ctx].append(line)
            else:
                ctx = line
                out[ctx] = []
        return out

    run_b, want_b = blocks(canonical(running, platform)), blocks(canonical(intended, platform))
    out: list[str] = []
    for ctx in sorted(set(run_b) | set(want_b)):
        if ctx not in want_b:
            out += [f"-{ctx}", *(f"-{line}" for line in run_b[ctx])]
        elif ctx not in run_b:
            out += [f"+{ctx}", *(f"+{line}" for line in want_b[ctx])]
        elif run_b[ctx] != want_b[ctx]:
            have, want = set(run_b[ctx]), set(want_b[ctx])
            out += [f" {ctx}", *(f"-{line}" for line in run_b[ctx] if line not in want),
                    *(f"+{line}" for line in want_b[ctx] if line not in have)]
    return [f"--- {host} running", f"+++ {host} intended", *out] if out else []


# ------------------------------------------------------------------ backups


@dataclass
class Backups:
    """Running configurations per device and time: ``<root>/<host>/<UTC time>.cfg`` (or
    ``.cfg.vault``), 0600 files in 0700 folders, the newest ``keep`` kept."""

    root: Path
    keep: int = KEEP_BACKUPS

    def save(self, host: str, text: str, secrets: Secrets, patterns: Iterable = (), *,
             now: datetime | None = None) -> Path:
        folder = self.root / host
        for p in (self.root, folder):
            p.mkdir(parents=True, exist_ok=True)
            p.chmod(0o700)
        stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S.%fZ")
        data, suffix = text.encode(), ".cfg"
        patterns = list(patterns)
        if holds_secret(text, secrets.values, patterns):
            if secrets.password:
                from ansible.parsing.vault import VaultLib, VaultSecret

                data = VaultLib([("default", VaultSecret(secrets.password))]).encrypt(text)
                suffix = ".cfg.vault"
            else:  # no password to encrypt with: keep the file without its secrets
                data = mask(text, secrets.values, patterns).encode()
        path = folder / f"{stamp}{suffix}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        self.rotate(host)
        return path

    def list(self, host: str) -> list[Path]:
        folder = self.root / host
        return sorted(folder.glob("*.cfg*")) if folder.is_dir() else []

    def rotate(self, host: str) -> list[Path]:
        """Remove all but the newest ``keep`` backups of ``host``; return what was removed."""
        old = self.list(host)[:-self.keep] if self.keep > 0 else []
        for p in old:
            p.unlink()
        return old


# ------------------------------------------------------------------ the pipeline


@dataclass
class Result:
    host: str
    platform: str
    status: str = "pending"  # in-step, changed, differs (check), rolled-back, failed
    diff: list[str] = field(default_factory=list)  # masked
    error: str = ""
    backup: str = ""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status in ("in-step", "changed", "differs")


@dataclass
class Device:
    """One network device to deploy: its driver and its intended configuration."""

    name: str
    platform: str
    driver: Driver
    intended: str  # rendered text with placeholders


@dataclass
class Options:
    check: bool = False
    confirm_timeout: int = 120
    backups: Backups | None = None  # None: no backup (drift only looks)
    secrets: Secrets = field(default_factory=Secrets)
    hold: dict[str, float] = field(default_factory=dict)  # host -> seconds to wait after its backup
    poll: float = 2.0  # seconds between tries to reach a device after a change


def deploy_device(dev: Device, opts: Options, say: Say) -> Result:
    """Backup → diff → replace with a revert timer → confirm (or the device's own rollback)."""
    res = Result(dev.name, dev.platform)
    t0 = time.monotonic()
    patterns = secret_patterns(dev.intended)

    def shown(text: str) -> str:
        return mask(text, opts.secrets.values, patterns)

    try:
        intended = fill(dev.intended, opts.secrets.values)
        if not opts.check and dev.driver.pending_commit():
            say(f"  {dev.name}: a change of an earlier run was never confirmed: rolling it back first")
            dev.driver.rollback()
        running = dev.driver.get_config()
        if opts.backups is not None:
            res.backup = str(opts.backups.save(dev.name, running, opts.secrets, patterns))
        if dev.name in opts.hold:
            time.sleep(opts.hold[dev.name])
        res.diff = [shown(line) for line in diff(running, intended, dev.platform, dev.name)]
        if not res.diff:
            res.status = "in-step"
            return res
        if opts.check:
            res.status = "differs"
            return res
        dev.driver.load_replace_candidate(intended)
        _commit_and_confirm(dev, res, running, opts, say)
    except (DeviceError, SecretError, ValueError) as exc:
        res.status, res.error = "failed", shown(str(exc))
    finally:
        res.seconds = round(time.monotonic() - t0, 1)
    return res


def _commit_and_confirm(dev: Device, res: Result, running: str, opts: Options, say: Say) -> None:
    """Commit with the revert timer, then confirm over a fresh connection before the timer ends;
    else wait for the device's own rollback, until it answers again, and check it runs its
    previous configuration. A session that breaks during the commit is no failure yet: the
    change may have cut it, and the timer was armed first."""
    timer = dev.driver.timer(opts.confirm_timeout)
    deadline = time.monotonic() + timer
    try:
        dev.driver.commit_config(revert_in=opts.confirm_timeout)
    except UnreachableError as exc:
        say(f"  {dev.name}: the session broke during the change ({exc}); trying to confirm")
    except DeviceError as exc:  # refused: take back whatever part of it the device applied
        res.status, res.error = "failed", f"the device refused the change: {exc}"
        try:
            dev.driver.rollback()
            res.error += "; rolled back"
        except DeviceError as again:
            res.error += f"; the rollback failed too: {again}"
        return
    margin = max(opts.poll, min(3.0, timer / 10))  # kept free before the device's timer fires
    while True:
        try:
            dev.driver.confirm_commit()
            res.status = "changed"
            return
        except UnreachableError as exc:
            if time.monotonic() + opts.poll + margin > deadline:
                res.error = f"unreachable after the change: {exc}"
                break
            time.sleep(opts.poll)
    say(f"  {dev.name}: unreachable after the change; the device restores its previous "
        f"configuration when its {timer} s timer ends")
    back = netdrivers.wait_reachable(dev.driver.probe, deadline + timer + 60, opts.poll)
    res.status = "rolled-back" if back else "failed"
    if not back:
        res.error += "; the device did not answer again after its timer"
        return
    try:
        after = diff(running, dev.driver.get_config(), dev.platform, dev.name)
    except DeviceError as exc:
        res.error += f"; reachable again, but reading its configuration failed: {exc}"
        return
    res.error += ("; rolled back by the device: reachable again, running its previous configuration"
                  if not after else "; reachable again, but its configuration differs from before")


def run(devices: list[Device], opts: Options, say: Say, workers: int = 8) -> list[Result]:
    """Every device in parallel; each fails alone."""
    def one(dev: Device) -> Result:
        res = deploy_device(dev, opts, say)
        tail = f": {res.error}" if res.error else ""
        say(f"  {res.host:<18} {res.status}{tail} ({res.seconds:.0f} s)")
        return res

    if not devices:
        return []
    with ThreadPoolExecutor(max_workers=min(workers, len(devices))) as pool:
        return list(pool.map(one, devices))


def exit_code(results: list[Result]) -> int:
    if any(not r.ok for r in results):
        return EXIT_FAILED
    return EXIT_DIFFERS if any(r.status == "differs" for r in results) else EXIT_OK


# ------------------------------------------------------------------ a stack's devices


@dataclass
class Plan:
    """What a deploy or drift run of a stack works on."""

    project: object  # paths.Project
    compiled: object  # pipeline.Compiled
    hosts: list[str]  # the selected hosts
    network: list[str]  # of those, the network devices


def plan(stack_file: str | Path, limit: str | None) -> Plan:
    from govnet import job, paths
    from govnet.pipeline import LockMode, compile_stack

    compiled = compile_stack(stack_file, LockMode.READ)
    selection = job.select_hosts(compiled, limit)
    hosts = compiled.design.hosts
    network = [h for h in selection.hosts if hosts[h].role in NETWORK_ROLES]
    return Plan(paths.Project(Path(stack_file)), compiled, selection.hosts, network)


def render_configs(p: Plan, say: Say) -> None:
    """Render the selected devices' configurations into the stack's state, as ``govnet up`` does."""
    from govnet import render

    only = set(p.hosts)
    files = render.render(p.compiled.design, management_supernet=p.compiled.vs.stack.address_plan.management,
                          hosts=only)
    render.write(files, p.project.configs, hosts=only)
    say(f"  {len(files)} device configuration(s) in {p.project.configs}")


def intended_file(p: Plan, host: str, configs: Path | None = None) -> Path:
    platform = p.compiled.design.hosts[host].platform
    folder = (configs or p.project.configs) / host
    if platform == "frr":
        return folder / "frr.conf"
    files = sorted(f for f in folder.glob("*") if f.is_file()) if folder.is_dir() else []
    if not files:
        raise FileNotFoundError(f"{folder} holds no rendered configuration")
    return files[0]


def devices(p: Plan, platform: str, configs: Path | None = None) -> list[Device]:
    """A driver per selected network device: FRR over SSH; the vendors over an SSH terminal."""
    import shlex

    from govnet import configure

    conn = configure.connection_vars(p.project, platform)
    ssh_args = ["-i", conn["ansible_ssh_private_key_file"], *shlex.split(conn["ansible_ssh_common_args"])]
    out = []
    for name in p.network:
        host = p.compiled.design.hosts[name]
        addr = host.management.address.split("/")[0]
        text = intended_file(p, name, configs).read_text(encoding="utf-8")
        if host.platform == "frr":
            transport = netdrivers.SshTransport(addr, ssh_args)
            out.append(Device(name, "frr", netdrivers.FrrDriver(transport), text))
        else:
            cls = netdrivers.VENDOR_DRIVERS[host.platform]
            user = os.environ.get("GOVNET_DEVICE_USER", "govnet")

            def channel(a=addr, c=cls, u=user):
                return netdrivers.SshChannel(a, u, ssh_args, c.dialect)

            out.append(Device(name, host.platform, _LazyCli(cls, channel), text))
    return out


class _LazyCli(Driver):
    """A vendor driver whose terminal opens at first use (so an unreachable device fails alone)."""

    def __init__(self, cls: type, channel: Callable):
        self.cls, self.channel, self._d = cls, channel, None
        self.platform = cls.platform

    def _driver(self):
        if self._d is None:
            self._d = self.cls(self.channel(), reconnect=self.channel)
        return self._d

    def pending_commit(self) -> bool:
        return self._driver().pending_commit()

    def get_config(self) -> str:
        return self._driver().get_config()

    def load_replace_candidate(self, config: str) -> None:
        self._driver().load_replace_candidate(config)

    def commit_config(self, revert_in: int) -> None:
        self._driver().commit_config(revert_in)

    def confirm_commit(self) -> None:
        self._driver().confirm_commit()

    def rollback(self) -> None:
        self._driver().rollback()

    def probe(self) -> None:
        self._driver().probe()

    def timer(self, revert_in: int) -> int:
        return self.cls.timer(self.cls.__new__(self.cls), revert_in)


def vault_settings(p: Plan, vault: str | None, password_file: str | None) -> Secrets:
    """The city's secrets (``secrets/<city>.vault.yml``, or ``vault``) and the vault password."""
    return city_secrets(p.project, p.compiled, vault, password_file)


def city_secrets(project, compiled, vault: str | None, password_file: str | None) -> Secrets:
    """:func:`vault_settings` for a project (a ``paths.Project``) and its compiled stack: the vault
    ``vault`` (default ``secrets/<city>.vault.yml`` beside the stacks), its password from
    ``password_file`` or ``$GOVNET_VAULT_PASSWORD_FILE``. Raises :class:`SecretError` when the
    vault cannot be read; no vault file: no secrets."""
    pw_file = password_file or os.environ.get("GOVNET_VAULT_PASSWORD_FILE")
    path = Path(vault) if vault else project.root / "secrets" / f"{compiled.vs.stack.city.name}.vault.yml"
    pw = Path(pw_file) if pw_file else None
    return Secrets(load_vault(path, pw), pw.read_bytes().strip() if pw else None)


def hold_from_env() -> dict[str, float]:
    """``GOVNET_DEPLOY_HOLD=host:seconds[,…]``: wait after that host's backup (the lab tests use
    it to cut a device's path in the middle of a deploy)."""
    out = {}
    for part in filter(None, os.environ.get("GOVNET_DEPLOY_HOLD", "").split(",")):
        host, _, secs = part.partition(":")
        out[host.strip()] = float(secs or 5)
    return out


@dataclass
class Request:
    """A ``govnet deploy`` or ``govnet drift`` run's options."""

    limit: str | None = None
    check: bool = False
    confirm_timeout: int = 120
    platform: str = "lab"
    vault: str | None = None  # default: secrets/<city>.vault.yml
    vault_password_file: str | None = None  # default: $GOVNET_VAULT_PASSWORD_FILE
    configs: str | None = None  # deploy these rendered files (<dir>/<host>/…) instead of rendering


def deploy_stack(stack_file: str | Path, req: Request, say: Say = print) -> list[Result]:
    """``govnet deploy``: render, then every selected network device through :func:`deploy_device`."""
    p = plan(stack_file, req.limit)
    configs = Path(req.configs) if req.configs else None
    if configs is None:
        say("==> render")
        render_configs(p, say)
    else:
        say(f"==> intended configurations from {configs} (not rendered)")
    secrets = vault_settings(p, req.vault, req.vault_password_file)
    check, confirm_timeout = req.check, req.confirm_timeout
    say(f"==> deploy {'(check: nothing changes) ' if check else ''}{len(p.network)} network device(s)"
        + ("" if check else f", confirm within {confirm_timeout} s"))
    opts = Options(check=check, confirm_timeout=confirm_timeout, secrets=secrets,
                   backups=Backups(p.project.stack_state / "backups"), hold=hold_from_env())
    results = run(devices(p, req.platform, configs), opts, say)
    for r in results:
        for line in r.diff:
            say(f"    {line}")
    return results
