"""Scale benchmark: how long the govnet pipeline takes for a city of N devices.

    .venv/bin/python benchmarks/scale.py --devices 10000 [--keep DIR] [--repeat 3]
    .venv/bin/python benchmarks/scale.py --sweep

1. Generates a realistic stack of about N devices (not timed): a data center (two core routers,
   the egress firewall, servers with the city's services), the provincial uplink, and counties
   with their units in a tree (townships under counties, villages and offices under townships).
   Every site has one router; a share of sites also has one or two servers; platforms are mixed
   (frr, huawei-vrp, h3c-comware, cisco-ios) at the kind, site and device levels; links are fiber,
   broadband or leased, and some units join over the Internet by VPN with the data center's
   egress firewall as the hub. Address pools are sized from the generated sites.
2. Times the whole pipeline in a fresh child process, stage by stage: load + validate, allocate
   (no lock: every address is fresh), design, render + write the configs, inventory build + write
   the static inventory. Interpreter start and imports are reported but not counted.
3. Peak memory is the child's ``ru_maxrss``: the generator and Ansible do not pollute it.
4. Times ``ansible-inventory -i <static inventory dir> --list`` on the generated hosts.yml,
   host_vars/ and group_vars/ (a private, empty ansible.cfg: yaml plugin only, the default
   host_group_vars vars plugin), and computes R = pipeline seconds / ansible-inventory seconds
   (R < 1: govnet writes the inventory faster than Ansible reads it back).
5. Its last line is ``devices=N seconds=S peak_mb=M inventory_ratio=R``.

With ``--repeat K`` the child and ansible-inventory each run K times; the fastest run counts (the
usual best-of-K for wall-clock timing) and the peak memory is the largest seen. Pending disk writes
are flushed (``os.sync``) before every timed run. The files go to a temporary directory on the
default temp filesystem, or to ``--keep DIR`` (kept afterwards; ``--keep /dev/shm/...`` takes the
disk out of the measurement). ``--sweep`` runs
N=1000 and N=10000 and checks the targets: time(10000)/time(1000) <= 12, time(10000) < 10 s and
R < 1. Misses are printed, never raised: the exit status is 0 unless something crashed.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

SWEEP = (1000, 10000)
TARGET_SCALING = 12.0  # time(10000) / time(1000)
TARGET_SECONDS_10K = 10.0
TARGET_RATIO = 1.0  # pipeline seconds / ansible-inventory seconds

PLATFORMS = ("frr", "huawei-vrp", "h3c-comware", "cisco-ios")
MAX_VPN_SPOKES = 200  # the Internet segment is at most a /24: 253 addresses for every attachment

# ------------------------------------------------------------------------------------- generator

# effective subnet sizes per site kind, as the generated stack declares them (standard + kinds)
KIND_SUBNETS = {
    "datacenter": {"intranet": 24, "extranet": 24},
    "county": {"intranet": 24, "extranet": 24},  # kinds.county: extranet /24
    "unit": {"intranet": 26, "extranet": 27},  # kinds.unit: extranet /27
    "province": {},
}
KIND_MGMT = {"datacenter": 26, "county": 27, "unit": 28, "province": 29}

DC_SERVERS = (
    ("portal1", "extranet", ["portal"], "门户网站1"),
    ("portal2", "extranet", ["portal"], "门户网站2"),
    ("dns2", "extranet", ["dns", "ntp"], "外网DNS"),
    ("mon2", "extranet", ["syslog", "monitoring"], "外网网管与日志"),
    ("infra1", "intranet", ["dns", "ntp", "syslog"], "基础服务"),
    ("mon1", "intranet", ["monitoring"], "网管监控"),
    ("db1", "intranet", ["database"], "信息资源库"),
    ("oa1", "intranet", ["docexchange"], "公文交换"),
    ("vc1", "intranet", ["videoconf"], "视频会议MCU"),
    ("backup1", "intranet", ["backup"], "备份服务器"),
)
UNIT_WORDS = ("镇", "乡", "街道", "教育局", "卫健委", "公安局", "财政局", "人社局", "村委会", "社区")


@dataclass
class GenSite:
    name: str
    kind: str
    display: str
    parent: str | None = None
    area: int | None = None
    platform: str | None = None
    subnets: dict[str, int | None] = field(default_factory=dict)  # overrides written to the file
    devices: list[str] = field(default_factory=list)  # flow mappings, already YAML
    depth: int = 0

    def effective_subnets(self) -> dict[str, int]:
        eff = dict(KIND_SUBNETS[self.kind])
        for zone, plen in self.subnets.items():
            if plen is None:
                eff.pop(zone, None)
            else:
                eff[zone] = plen
        return eff


def _q(text: str) -> str:
    """A YAML double-quoted scalar (JSON strings are valid YAML)."""
    return json.dumps(text, ensure_ascii=False)


def _router(rng: random.Random, vpn: bool = False) -> str:
    extra = ""
    if rng.random() < 0.03:  # device-level override: a router handed over by another system
        extra += ", platform: cisco-ios"
    if vpn:
        extra += ", internet: {mode: vpn}"
    return f"{{name: gw1, role: router{extra}}}"


def _servers(rng: random.Random, site: GenSite) -> list[str]:
    zones = list(site.effective_subnets())
    out = []
    for i in range(1 if rng.random() < 0.6 else 2):
        zone = rng.choice(zones)
        svc = rng.choice(([], ["videoconf"], ["backup"]))
        out.append(f"{{name: srv{i + 1}, role: server, zone: {zone}, services: [{', '.join(svc)}]}}")
    return out


def _prefix_for(addresses: int) -> int:
    """The prefix length of a pool that holds ``addresses`` with 2x room for alignment holes."""
    return max(8, 32 - math.ceil(math.log2(max(2 * addresses, 4))))


def _address_plan(sites: list[GenSite], n_links: int, n_tunnels: int) -> dict[str, str]:
    need = {"intranet": 0, "extranet": 0, "management": 0, "loopbacks": 1,
            "links": 2 * n_links, "tunnels": 2 * n_tunnels}
    for s in sites:
        for zone, plen in s.effective_subnets().items():
            need[zone] += 1 << (32 - plen)
        need["management"] += 1 << (32 - KIND_MGMT[s.kind])
        need["loopbacks"] += sum(1 for d in s.devices if "role: server" not in d)
    # largest plane first: every block then starts aligned, packed from 10.0.0.0 up
    plan: dict[str, str] = {}
    cursor = 10 << 24
    for plane, addrs in sorted(need.items(), key=lambda kv: -kv[1]):
        plen = _prefix_for(addrs)
        cursor = -(-cursor // (1 << (32 - plen))) * (1 << (32 - plen))
        plan[plane] = f"{cursor >> 24}.{(cursor >> 16) & 255}.{(cursor >> 8) & 255}.{cursor & 255}/{plen}"
        cursor += 1 << (32 - plen)
    if cursor > 11 << 24:
        raise SystemExit(f"scale.py: {len(sites)} sites do not fit in 10.0.0.0/8; use fewer devices")
    plan["internet"] = "203.0.113.0/24"
    return plan


@dataclass
class _City:
    """The generated city as it grows: its sites, its links (flow mappings, already YAML) and how
    many devices it has. Every random choice comes from ``rng``, in a fixed order."""

    rng: random.Random
    sites: list[GenSite] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    count: int = 0

    def add(self, site: GenSite) -> None:
        self.sites.append(site)
        self.count += len(site.devices)


def generate(n_devices: int, seed: int = 2026) -> tuple[str, dict]:
    """YAML text of a stack with ``n_devices`` devices (exactly), and a summary of its shape."""
    city = _City(random.Random(seed + n_devices))
    _add_data_center(city)
    n_counties = max(3, round(math.sqrt(n_devices) / 3))
    counties = [_add_county(city, c) for c in range(1, n_counties + 1)]
    if city.count > n_devices:
        raise SystemExit(f"scale.py: {n_devices} devices are too few; the skeleton alone has {city.count}")
    _add_units(city, counties, n_devices)
    n_tunnels = sum(1 for ln in city.links if "medium: vpn" in ln)
    plan = _address_plan(city.sites, len(city.links) - n_tunnels, n_tunnels)
    summary = {"devices": city.count, "sites": len(city.sites), "counties": n_counties,
               "links": len(city.links), "vpn_links": n_tunnels,
               "max_depth": max(s.depth for s in city.sites)}
    return _stack_yaml(n_devices, city, plan), summary


def _add_data_center(city: _City) -> None:
    """The data center (core routers, egress firewall, the city's servers) and the province."""
    dc = GenSite("dc", "datacenter", "市电子政务网络中心机房")
    dc.devices = [
        "{name: core1, role: router, display_name: 核心路由器1, gateway_for: [intranet], "
        "planes: [intranet, extranet]}",
        "{name: core2, role: router, display_name: 核心路由器2}",
        "{name: fw1, role: firewall, platform: frr, display_name: 出口防火墙, gateway_for: [extranet], "
        "internet: {mode: egress}}",
        *(f"{{name: {n}, role: server, zone: {z}, services: [{', '.join(s)}], display_name: {d}}}"
          for n, z, s, d in DC_SERVERS),
    ]
    province = GenSite("province", "province", "省电子政务外网省级平台",
                       devices=["{name: pe1, role: router, display_name: 省平台接入路由器}"])
    city.add(dc)
    city.add(province)
    city.links += ["{a: dc.core1, b: dc.core2, medium: fiber, bandwidth_mbps: 40000}",
                   "{a: dc.core1, b: dc.fw1, medium: fiber, bandwidth_mbps: 10000}",
                   "{a: dc.core2, b: dc.fw1, medium: fiber, bandwidth_mbps: 10000}",
                   "{a: province.pe1, b: dc.core1, medium: leased, bandwidth_mbps: 155}",
                   "{a: province.pe1, b: dc.core2, medium: leased, bandwidth_mbps: 155, cost: 100}"]


def _add_county(city: _City, c: int) -> GenSite:
    """County ``c``: its router (sometimes servers) and its uplink to a core, sometimes both."""
    rng = city.rng
    county = GenSite(f"county{c:02d}", "county", f"第{c}县区", area=c, platform=rng.choice(PLATFORMS))
    if county.platform == "frr":  # no VRFs: one plane per router, so an intranet-only county
        county.subnets = {"extranet": None}
    county.devices = [_router(rng)]
    if rng.random() < 0.25:
        county.devices += _servers(rng, county)
    core = "core1" if c % 2 else "core2"
    medium = rng.choice(("fiber", "fiber", "leased", "broadband"))
    city.links.append(f"{{a: dc.{core}, b: {county.name}.gw1, medium: {medium}, bandwidth_mbps: 1000}}")
    if rng.random() < 0.3:  # dual-homed: a leased backup to the other core
        other = "core2" if core == "core1" else "core1"
        city.links.append(f"{{a: dc.{other}, b: {county.name}.gw1, medium: leased, cost: 100, "
                          f"bandwidth_mbps: 100}}")
    city.add(county)
    return county


def _add_units(city: _City, counties: list[GenSite], n_devices: int) -> None:
    """Units until the city has ``n_devices`` devices, round-robin over the counties, each below
    its county or a unit of it (depth <= 3), a few of them joined by VPN."""
    rng = city.rng
    units_of: dict[str, list[GenSite]] = {c.name: [] for c in counties}
    vpn_budget = min(MAX_VPN_SPOKES, max(1, n_devices // 50))
    n_vpn = i = 0
    while city.count < n_devices:
        county = counties[i % len(counties)]
        i += 1
        mine = units_of[county.name]
        # a VPN unit carries the extranet only: nothing hangs below it
        shallow = [u for u in mine[-40:] if u.depth < 3 and "intranet" in u.effective_subnets()]
        parent = county if not shallow or rng.random() < 0.35 else rng.choice(shallow)
        unit = _unit(rng, county, parent, len(mine) + 1)
        vpn = n_vpn < vpn_budget and rng.random() < 0.04
        if vpn:  # across the Internet: the extranet only (the intranet never crosses it)
            unit.subnets = {**unit.subnets, "intranet": None, "extranet": unit.subnets.get("extranet") or 27}
        elif "extranet" not in parent.effective_subnets() or unit.platform == "frr":
            unit.subnets = {**unit.subnets, "extranet": None}  # no extranet path, or no VRFs
        unit.devices = [_router(rng, vpn)]
        if rng.random() < 0.2:
            unit.devices += _servers(rng, unit)
        unit.devices = unit.devices[: n_devices - city.count]
        if vpn:
            n_vpn += 1
            city.links.append(f"{{a: dc.fw1, b: {unit.name}.gw1, medium: vpn, bandwidth_mbps: 100}}")
        else:
            medium = rng.choices(("fiber", "broadband", "leased"), (55, 35, 10))[0]
            city.links.append(f"{{a: {parent.name}.gw1, b: {unit.name}.gw1, medium: {medium}}}")
        mine.append(unit)
        city.add(unit)


def _unit(rng: random.Random, county: GenSite, parent: GenSite, number: int) -> GenSite:
    """The ``number``-th unit of ``county`` below ``parent``: its name, platform and subnets."""
    unit = GenSite(f"{county.name}-u{number:04d}", "unit",
                   f"{county.display}{rng.choice(UNIT_WORDS)}{number}",
                   parent=parent.name, depth=parent.depth + 1)
    r = rng.random()
    if r < 0.35:
        unit.platform = "huawei-vrp"
    elif r < 0.50:
        unit.platform = "frr"
    elif r < 0.60:
        unit.platform = "cisco-ios"  # else kinds.unit: h3c-comware
    if rng.random() < 0.10:
        unit.subnets = {"extranet": None}  # 党委 offices: intranet only
    elif rng.random() < 0.05:
        unit.subnets = {"extranet": 25}  # a 便民服务 hall
    return unit


def _stack_yaml(n_devices: int, city: _City, plan: dict[str, str]) -> str:
    """The stack file's text: the city, its address plan and settings, its sites and links."""
    out = [
        f"# Generated by benchmarks/scale.py: {n_devices} devices, {len(city.sites)} sites, "
        f"{len(city.links)} links.",
        "city:",
        f"  name: scale-{n_devices}",
        f"  display_name: {_q(f'规模测试市（{n_devices}台设备）')}",
        "  domain: scale.example.gov.cn",
        "  timezone: Asia/Shanghai",
        "  asn: 64601",
        "",
        "address_plan:",
        *(f"  {k}: {v}" for k, v in plan.items()),
        "",
        "defaults:",
        "  platform: huawei-vrp",
        "  security: {login_attempts: 5, lockout_minutes: 30, idle_timeout_minutes: 10, "
        "password_min_length: 12}",
        "  snmp: {user: govnet-mon, auth: sha256, priv: aes128}",
        "",
        "kinds:",
        "  county:",
        "    subnets: {extranet: 24}",
        "  unit:",
        "    platform: h3c-comware",
        "    subnets: {extranet: 27}",
        "",
        "services:",
        "  portal: {server_name: www.scale.example.gov.cn}",
        "  database: {databases: [ziyuanku, zhiban]}",
        "",
        "sites:",
    ]
    for s in city.sites:
        out += _site_yaml(s)
    out += ["", "links:"]
    out += [f"  - {ln}" for ln in city.links]
    return "\n".join(out) + "\n"


def _site_yaml(s: GenSite) -> list[str]:
    """One entry of the stack's ``sites`` list."""
    out = [f"  - name: {s.name}", f"    kind: {s.kind}", f"    display_name: {_q(s.display)}"]
    if s.parent:
        out.append(f"    parent: {s.parent}")
    if s.area is not None:
        out.append(f"    ospf_area: {s.area}")
    if s.platform:
        out.append(f"    platform: {s.platform}")
    if s.kind == "province":  # the provincial uplink is eBGP
        out.append("    bgp: {asn: 64600, prefixes: [172.16.0.0/16]}")
    if s.subnets:
        body = ", ".join(f"{k}: {'null' if v is None else v}" for k, v in s.subnets.items())
        out.append(f"    subnets: {{{body}}}")
    out.append("    devices:")
    out += [f"      - {d}" for d in s.devices]
    return out


# ------------------------------------------------------------------------------------- child


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def child(stack: Path, out: Path) -> None:
    """Run the pipeline once and print its timings as one JSON line."""
    t0 = time.perf_counter()
    from govnet import addressing, design, inventory, render, validate

    imports = time.perf_counter() - t0
    gc_time = [0.0, 0, 0.0]  # seconds in the cyclic garbage collector, collections, start

    def on_gc(phase: str, _info: dict) -> None:
        if phase == "start":
            gc_time[2] = time.perf_counter()
        else:
            gc_time[0] += time.perf_counter() - gc_time[2]
            gc_time[1] += 1

    gc.callbacks.append(on_gc)
    stages: dict[str, float] = {}
    parts: dict[str, float] = {}  # where the time of the compound stages goes
    t = time.perf_counter()
    vs = validate.load(stack)
    stages["load+validate"] = time.perf_counter() - t
    t = time.perf_counter()
    plan = addressing.allocate(vs, {})
    stages["allocate"] = time.perf_counter() - t
    t = time.perf_counter()
    dsg = design.build(vs, plan)
    stages["design"] = time.perf_counter() - t
    t = time.perf_counter()
    configs = render.render(dsg, management_supernet=vs.stack.address_plan.management)
    parts["render: templates"] = time.perf_counter() - t
    render.write(configs, out / "configs")
    stages["render+write"] = time.perf_counter() - t
    parts["render: write files"] = stages["render+write"] - parts["render: templates"]
    t = time.perf_counter()
    inv = inventory.build(vs, dsg)
    parts["inventory: build"] = time.perf_counter() - t
    contents = inventory.files(inv, vs.name)
    parts["inventory: YAML text"] = time.perf_counter() - t - parts["inventory: build"]
    inventory.write_tree(contents, out / "inventory", owned=(".yml",))
    stages["inventory+write"] = time.perf_counter() - t
    parts["inventory: write files"] = (stages["inventory+write"] - parts["inventory: build"]
                                       - parts["inventory: YAML text"])
    gc.callbacks.remove(on_gc)
    print(json.dumps({"stages": stages, "parts": parts, "seconds": sum(stages.values()),
                      "imports": imports, "gc_seconds": gc_time[0], "gc_collections": gc_time[1],
                      "peak_mb": _peak_mb(), "hosts": len(dsg.hosts), "configs": len(configs),
                      "inventory_files": len(contents)}))


# ------------------------------------------------------------------------------------- parent


def _settle() -> None:
    """Flush pending writes (the stack, earlier runs' files and deletions) before a timed run."""
    os.sync()


def _run_child(stack: Path, out: Path) -> dict:
    _settle()
    proc = subprocess.run([sys.executable, __file__, "--_child", "--stack", str(stack),
                           "--out", str(out)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"scale.py: the pipeline failed (exit {proc.returncode})")
    return json.loads(proc.stdout.strip().splitlines()[-1])


ANSIBLE_CFG = """\
# written by benchmarks/scale.py: a neutral configuration, so the project's ansible.cfg
# (govnet inventory plugin) plays no part; host_vars/ and group_vars/ come from host_group_vars
[defaults]
vars_plugins_enabled = host_group_vars
[inventory]
enable_plugins = yaml
unparsed_is_failed = true
any_unparsed_is_failed = true
"""


def _time_ansible(inventory_dir: Path, work: Path) -> float:
    exe = Path(sys.executable).parent / "ansible-inventory"
    cfg = work / "ansible.cfg"
    cfg.write_text(ANSIBLE_CFG, encoding="utf-8")
    env = {**os.environ, "ANSIBLE_CONFIG": str(cfg), "ANSIBLE_LOCAL_TEMP": str(work / "ansible-tmp"),
           "ANSIBLE_HOME": str(work / "ansible-home")}
    _settle()
    t = time.perf_counter()
    proc = subprocess.run([str(exe), "-i", str(inventory_dir), "--list"], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True, env=env, cwd=work, check=False)
    seconds = time.perf_counter() - t
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"scale.py: ansible-inventory failed (exit {proc.returncode})")
    return seconds


def measure(n: int, keep: Path | None, repeat: int) -> dict:
    """Generate, run the pipeline child and ansible-inventory; print the human lines."""
    tmp = None
    if keep is not None:
        work = keep
        if work.exists() and any(work.iterdir()):
            if not any(work.glob("scale-*.yaml")):  # never empty a directory this script did not fill
                raise SystemExit(f"scale.py: {work} is not empty and holds no earlier benchmark run; "
                                 "give a new or empty directory to --keep")
            shutil.rmtree(work)
        work.mkdir(parents=True, exist_ok=True)
    else:
        tmp = tempfile.TemporaryDirectory(prefix=f"govnet-scale-{n}-")
        work = Path(tmp.name)
    try:
        t = time.perf_counter()
        text, shape = generate(n)
        stack = work / f"scale-{n}.yaml"
        stack.write_text(text, encoding="utf-8")
        gen_s = time.perf_counter() - t
        print(f"stack: {shape['devices']} devices, {shape['sites']} sites ({shape['counties']} counties, "
              f"tree depth {shape['max_depth']}), {shape['links']} links ({shape['vpn_links']} vpn), "
              f"{len(text.encode()) / 1e6:.2f} MB; generated in {gen_s:.2f}s (not timed)")
        runs = []
        for k in range(repeat):
            out = work / "out" if k == repeat - 1 else work / f"out-{k}"
            runs.append(_run_child(stack, out))
            if out.name != "out":
                shutil.rmtree(out)
        best = min(runs, key=lambda r: r["seconds"])
        peak = max(r["peak_mb"] for r in runs)
        for name, s in best["stages"].items():
            print(f"  {name:<16} {s:7.2f} s")
        print("    (" + ", ".join(f"{k} {v:.2f}" for k, v in best["parts"].items()) + ")")
        print(f"    (cyclic GC: {best['gc_seconds']:.2f} s in {best['gc_collections']} collections)")
        print(f"  {'pipeline':<16} {best['seconds']:7.2f} s   (imports {best['imports']:.2f} s not "
              f"counted; best of {repeat})")
        print(f"  {best['hosts']} hosts -> {best['configs']} config files, "
              f"{best['inventory_files']} inventory files; peak memory {peak:.2f} MB")
        inv_dir = work / "out" / "inventory"
        ans = min(_time_ansible(inv_dir, work) for _ in range(repeat))
        ratio = best["seconds"] / ans
        print(f"  ansible-inventory --list {ans:7.2f} s   -> inventory_ratio {ratio:.2f}")
        if keep is not None:
            print(f"  kept in {work}")
        return {"devices": shape["devices"], "seconds": best["seconds"], "peak_mb": peak,
                "ratio": ratio, "ansible": ans}
    finally:
        if tmp is not None:
            tmp.cleanup()


def figures(r: dict) -> str:
    return (f"devices={r['devices']} seconds={r['seconds']:.2f} peak_mb={r['peak_mb']:.2f} "
            f"inventory_ratio={r['ratio']:.2f}")


def _mark(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def sweep(keep: Path | None, repeat: int) -> None:
    results = []
    for n in SWEEP:
        print(f"== N={n}")
        results.append(measure(n, keep / f"n{n}" if keep else None, repeat))
        print(figures(results[-1]))
    small, big = results
    scaling = big["seconds"] / small["seconds"]
    print(f"scaling time({big['devices']})/time({small['devices']}) = {scaling:.2f} "
          f"(target <= {TARGET_SCALING:g}): {_mark(scaling <= TARGET_SCALING)}")
    print(f"time({big['devices']}) = {big['seconds']:.2f} s (target < {TARGET_SECONDS_10K:g} s): "
          f"{_mark(big['seconds'] < TARGET_SECONDS_10K)}")
    for r in results:
        print(f"inventory_ratio({r['devices']}) = {r['ratio']:.2f} (pipeline {r['seconds']:.2f} s / "
              f"ansible-inventory --list {r['ansible']:.2f} s; target < {TARGET_RATIO:g}): "
              f"{_mark(r['ratio'] < TARGET_RATIO)}")
    for r in results:
        print(figures(r))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="govnet pipeline scale benchmark")
    p.add_argument("--devices", type=int, help="number of devices of the generated stack")
    p.add_argument("--sweep", action="store_true", help=f"run N={' and N='.join(map(str, SWEEP))} "
                   "and check the targets")
    p.add_argument("--keep", type=Path, help="keep the stack, configs and inventory in this directory "
                   "(new, empty, or an earlier run of this script: replaced)")
    p.add_argument("--repeat", type=int, default=1, help="runs per measurement; the fastest counts")
    p.add_argument("--_child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--stack", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args._child:
        child(args.stack, args.out)
        return 0
    if args.repeat < 1:
        p.error("--repeat must be at least 1")
    if args.sweep:
        sweep(args.keep, args.repeat)
        return 0
    if not args.devices or args.devices < 1:
        p.error("give --devices N (or --sweep)")
    print(figures(measure(args.devices, args.keep, args.repeat)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
