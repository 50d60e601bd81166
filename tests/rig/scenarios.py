#!/usr/bin/env python3
"""The rig's scenarios, run inside the outer VM by tests/rig/inner.sh with
a real libvirtd, vnuma-hook installed and vnumad started per scenario.

Every assertion is on what the kernel reports, never on vnuma's claims:
a vCPU thread's home is the node whose CPU list equals its
Cpus_allowed_list (/proc/PID/task/TID/status); memory per node is summed
from /proc/PID/numa_maps over the guest-RAM blocks QEMU reports
(`info ramblock`: name, size, host address); cpuset.mems is read from the
thread's cgroup. Figures go to OUT/results.json, time series to OUT/*.tsv,
a digest to OUT/summary.txt, "PASSED FAILED" to OUT/counts.

Locality of a guest = sum over its vNUMA cells (one cell when it has none)
of the cell's share of guest RAM times the mean, over the cell's vCPU
threads, of the fraction of the cell's RAM on the node the thread runs on
(its pinned node, or — unpinned — the node of the CPU it last ran on,
sampled). It is the share of memory accesses that stay local when the
guest keeps each vCPU's accesses inside its own cell.
"""
import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time

URI = "qemu:///system"
CONF = "/etc/vnuma/vnuma.conf"
MIB = 1024                       # KiB
BUDGET, BUDGET_WINDOW = 4, 60.0  # lib/vnuma-rebalance.c defaults: moves per window (s)
RATE_MIB = 8                     # memory_migrate_rate the rig configures (MiB/s)


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ---- host facts (sysfs) --------------------------------------------------

def cpulist(text):
    cpus = set()
    for part in text.strip().split(","):
        if part:
            lo, _, hi = part.partition("-")
            cpus.update(range(int(lo), int(hi or lo) + 1))
    return frozenset(cpus)


def read(path):
    with open(path) as f:
        return f.read()


class Host:
    def __init__(self):
        base = "/sys/devices/system/node"
        ids = sorted(int(d[4:]) for d in os.listdir(base) if re.fullmatch(r"node\d+", d))
        self.nodes = ids
        self.cpus = {n: cpulist(read(f"{base}/node{n}/cpulist")) for n in ids}
        self.distance = {n: dict(zip(ids, map(int, read(f"{base}/node{n}/distance").split())))
                         for n in ids}
        self.cpu_node = {c: n for n, cs in self.cpus.items() for c in cs}
        cores = {}
        for n, cs in self.cpus.items():
            cores[n] = {(read(f"/sys/devices/system/cpu/cpu{c}/topology/physical_package_id").strip(),
                         read(f"/sys/devices/system/cpu/cpu{c}/topology/die_id").strip(),
                         read(f"/sys/devices/system/cpu/cpu{c}/topology/core_id").strip())
                        for c in cs}
        self.client_limit = min(len(v) for n, v in cores.items() if self.cpus[n])

    def node_of(self, allowed):
        """The node whose CPUs are exactly @allowed, else None."""
        for n, cs in self.cpus.items():
            if cs and cs == allowed:
                return n
        return None


# ---- libvirt -------------------------------------------------------------

def virsh(*args, check=True):
    r = subprocess.run(["virsh", "-c", URI, *args], capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError(f"virsh {' '.join(args)}: {r.stderr.strip()}")
    return r.stdout


def guest_xml(name, vcpus, mem_mib, image, numatune="", cputune=""):
    return f"""<domain type='qemu'>
  <name>{name}</name>
  <memory unit='MiB'>{mem_mib}</memory>
  <vcpu placement='static'>{vcpus}</vcpu>
  <memoryBacking><allocation mode='immediate'/></memoryBacking>
  {numatune}
  {cputune}
  <os><type arch='x86_64' machine='pc'>hvm</type><kernel>{image}</kernel></os>
  <cpu mode='custom' match='exact'><model fallback='allow'>qemu64</model></cpu>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff><on_reboot>destroy</on_reboot><on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <controller type='usb' model='none'/>
    <memballoon model='none'/>
  </devices>
</domain>
"""


def define(name, vcpus, mem_mib, image, numatune="", cputune=""):
    path = f"/tmp/{name}.xml"
    with open(path, "w") as f:
        f.write(guest_xml(name, vcpus, mem_mib, image, numatune, cputune))
    virsh("define", path)


def remove(name):
    virsh("destroy", name, check=False)
    virsh("undefine", name, check=False)


def wait_sized(name, timeout=30):
    """Waits for the agent's define-time sizing (vnuma's record in the
    persistent definition); False when it did not come."""
    end = time.time() + timeout
    while time.time() < end:
        if "vnuma:layout" in virsh("dumpxml", "--inactive", name, check=False) or \
           "urn:x-vnuma:layout" in virsh("dumpxml", "--inactive", name, check=False):
            return True
        time.sleep(0.5)
    return False


_cells = {}


def cells_of(name, pid, vcpus):
    """[(vCPU set, ram block name)] from the live XML's <numa> cells;
    one cell of every vCPU (block pc.ram) without them. Cached per pid."""
    if pid not in _cells:
        _cells[pid] = read_cells(name, vcpus)
    return _cells[pid]


def read_cells(name, vcpus):
    xml = virsh("dumpxml", name)
    cells = re.findall(r"<cell id='(\d+)' cpus='([^']+)'", xml)
    if not cells:
        return [(frozenset(range(vcpus)), "pc.ram")]
    return [(cpulist(cpus), f"ram-node{cid}") for cid, cpus in cells]


# ---- the kernel's view of one guest --------------------------------------

_blocks = {}


def ramblocks(name, pid):
    """{block: (host address, size in bytes)} of the guest RAM (pc.ram or
    ram-nodeN), cached per pid. QEMU 7.2's `info ramblock` gives names and
    sizes but no host address, so each block is matched to an anonymous
    rw-p mapping of exactly its size in /proc/PID/maps (QEMU maps RAM at its
    exact size, a guard page after it); blocks of equal size by creation
    order, which the kernel's top-down mmap lays out at falling addresses."""
    if pid not in _blocks:
        out = virsh("qemu-monitor-command", name, "--hmp", "info ramblock")
        sizes = {}
        for line in out.splitlines():
            # "/objects/ram-node0    4 KiB  OFFSET USED TOTAL"
            f = line.split()
            block = f[0].rsplit("/", 1)[-1] if f else ""
            if len(f) >= 6 and re.fullmatch(r"pc\.ram|ram-node\d+", block):
                sizes[block] = int(f[5], 16)
        free = []
        for line in read(f"/proc/{pid}/maps").splitlines():
            f = line.split()
            if len(f) == 5 and f[1] == "rw-p":
                lo, hi = (int(x, 16) for x in f[0].split("-"))
                free.append((lo, hi - lo))
        free.sort(reverse=True)
        blocks = {}
        for block in sorted(sizes, key=lambda b: (len(b), b)):
            match = next((m for m in free if m[1] == sizes[block]), None)
            if match:
                free.remove(match)
                blocks[block] = match
        _blocks[pid] = blocks
    return _blocks[pid]


def numa_maps(pid):
    """[(start address, {node: KiB})] of every mapping."""
    maps = []
    for line in read(f"/proc/{pid}/numa_maps").splitlines():
        f = line.split()
        page_kib = 4
        counts = {}
        for tok in f[2:]:
            if tok.startswith("kernelpagesize_kB="):
                page_kib = int(tok.split("=")[1])
            m = re.fullmatch(r"N(\d+)=(\d+)", tok)
            if m:
                counts[int(m.group(1))] = int(m.group(2))
        maps.append((int(f[0], 16), {n: p * page_kib for n, p in counts.items()}))
    return maps


class Snapshot:
    """One guest as the kernel sees it now."""

    def __init__(self, host, name, vcpus):
        self.name = name
        self.pid = int(read(f"/run/libvirt/qemu/{name}.pid"))
        self.threads = {}
        for tid in os.listdir(f"/proc/{self.pid}/task"):
            try:
                comm = read(f"/proc/{self.pid}/task/{tid}/comm").strip()
                m = re.fullmatch(r"CPU (\d+)/TCG", comm)
                if not m:
                    continue
                status = read(f"/proc/{self.pid}/task/{tid}/status")
                allowed = cpulist(re.search(r"Cpus_allowed_list:\s*(\S+)", status).group(1))
                last_cpu = int(read(f"/proc/{self.pid}/task/{tid}/stat").rsplit(")", 1)[1].split()[36])
                cg = read(f"/proc/{self.pid}/task/{tid}/cgroup").strip().split("::", 1)[1]
                mems = read(f"/sys/fs/cgroup{cg}/cpuset.mems.effective").strip()
            except (OSError, AttributeError, IndexError):
                continue
            self.threads[int(m.group(1))] = {
                "tid": int(tid), "allowed": allowed, "node": host.node_of(allowed),
                "last_node": host.cpu_node.get(last_cpu), "mems": mems}
        blocks = ramblocks(name, self.pid)
        self.memory = {b: {} for b in blocks}
        for start, counts in numa_maps(self.pid):
            for b, (hva, size) in blocks.items():
                if hva <= start < hva + size:
                    for n, kib in counts.items():
                        self.memory[b][n] = self.memory[b].get(n, 0) + kib
        self.cells = cells_of(name, self.pid, vcpus)
        self.vcpus = vcpus

    def ram_by_node(self):
        total = {}
        for counts in self.memory.values():
            for n, kib in counts.items():
                total[n] = total.get(n, 0) + kib
        return total

    def ram_kib(self):
        return sum(self.ram_by_node().values())

    def homes(self):
        """{vCPU: pinned node or None}"""
        return {v: t["node"] for v, t in self.threads.items()}

    def home_nodes(self):
        return sorted({n for n in self.homes().values() if n is not None})

    def on_nodes(self, nodes):
        total = self.ram_kib()
        return sum(k for n, k in self.ram_by_node().items() if n in nodes) / total if total else 0.0

    def placed(self):
        """Every vCPU pinned to exactly one node's CPUs, ≥ 90 % of RAM there."""
        homes = self.homes()
        return (len(homes) == self.vcpus and None not in homes.values()
                and self.on_nodes(set(homes.values())) >= 0.9)

    def locality(self, running=False):
        total = self.ram_kib()
        if not total:
            return 0.0
        loc = 0.0
        for vcpus, block in self.cells:
            cell = self.memory.get(block, {})
            cell_kib = sum(cell.values())
            if not cell_kib:
                continue
            fracs = []
            for v in vcpus:
                t = self.threads.get(v)
                node = t and (t["last_node"] if running or t["node"] is None else t["node"])
                fracs.append(cell.get(node, 0) / cell_kib if node is not None else 0.0)
            loc += cell_kib / total * (sum(fracs) / len(fracs) if fracs else 0.0)
        return loc

    def summary(self):
        return {"pid": self.pid, "vcpu_nodes": {str(v): t["node"] for v, t in sorted(self.threads.items())},
                "cpuset_mems": sorted({t["mems"] for t in self.threads.values()}),
                "ram_kib_by_node": {str(n): k for n, k in sorted(self.ram_by_node().items())},
                "ram_kib_by_block": {b: {str(n): k for n, k in sorted(c.items())}
                                     for b, c in sorted(self.memory.items())}}


def snapshot(host, name, vcpus, tries=20):
    """A snapshot with every vCPU thread seen (QEMU names them as it starts)."""
    for _ in range(tries):
        try:
            s = Snapshot(host, name, vcpus)
            if len(s.threads) == vcpus and s.ram_kib() > 0:
                return s
        except (OSError, RuntimeError, ValueError):
            pass
        time.sleep(0.5)
    return Snapshot(host, name, vcpus)


def wait_placed(host, name, vcpus, timeout):
    end = time.time() + timeout
    s = None
    while time.time() < end:
        try:
            s = Snapshot(host, name, vcpus)
            if s.placed():
                return s
        except (OSError, RuntimeError, ValueError):
            pass
        time.sleep(0.5)
    return s


def cpu_seconds(tid_path):
    f = read(tid_path).rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def busy_fraction(snap, seconds=3.0):
    """Mean CPU use of the guest's vCPU threads over @seconds."""
    paths = [f"/proc/{snap.pid}/task/{t['tid']}/stat" for t in snap.threads.values()]
    before = [cpu_seconds(p) for p in paths]
    t0 = time.time()
    time.sleep(seconds)
    after = [cpu_seconds(p) for p in paths]
    return sum(a - b for a, b in zip(after, before)) / (time.time() - t0) / max(len(paths), 1)


# ---- the agent -----------------------------------------------------------

class Agent:
    def __init__(self, build, out):
        self.build, self.out, self.proc, self.runs = build, out, None, 0

    def start(self, **keys):
        self.stop()   # one agent at a time: a second would act beside the first
        conf = {"log_file": f"{self.out}/hook.log", "vcpuMin": "3", "rebalance_period": "2",
                "memory_migrate_rate": str(RATE_MIB)}
        conf.update({k: str(v) for k, v in keys.items()})
        with open(CONF, "w") as f:
            f.write("[vnuma]\n" + "".join(f"{k}={v}\n" for k, v in conf.items()))
        self.runs += 1
        report = open(f"{self.out}/agent-{self.runs}.jsonl", "w")
        errlog = open(f"{self.out}/agent.log", "a")
        self.proc = subprocess.Popen([f"{self.build}/agent/vnumad", "--verbose", "--connect", URI,
                                      "--config", CONF, "--report", "json"], stdout=report, stderr=errlog)
        time.sleep(2)
        return self.proc.poll() is None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None


    def stop(self):
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def last_report(self):
        """The agent's last report line (its claims: reported beside the
        kernel's view, never asserted on); None when there is none."""
        try:
            return json.loads(read(f"{self.out}/agent-{self.runs}.jsonl").strip().splitlines()[-1])
        except (OSError, IndexError, ValueError):
            return None

    def moved_kib(self, name):
        """KiB the agent says its page migration moved for @name."""
        r = self.last_report()
        return r and next((d.get("memory_moved_kib") for d in r.get("domains", []) if d.get("name") == name), None)

    def migrations(self):
        """Migrations by kind, over every domain the agent reports."""
        r = self.last_report()
        if r is None:
            return None
        total = {}
        for d in r.get("domains", []):
            for kind, n in (d.get("migrations") or {}).items():
                total[kind] = total.get(kind, 0) + n
        return total


def restart_libvirtd(out):
    pid = int(read("/run/libvirtd.pid"))
    os.kill(pid, signal.SIGTERM)
    for _ in range(100):
        if not os.path.exists(f"/proc/{pid}"):
            break
        time.sleep(0.2)
    subprocess.Popen(["libvirtd"], stdout=open(f"{out}/libvirtd.log", "a"), stderr=subprocess.STDOUT)
    for _ in range(240):
        if subprocess.run(["virsh", "-c", URI, "version"], capture_output=True).returncode == 0:
            return True
        time.sleep(0.5)
    return False


# ---- checks and results --------------------------------------------------

class Run:
    def __init__(self, host_name, out):
        self.out = out
        self.passed = self.failed = 0
        self.results = {"host": host_name, "scenarios": {}}
        self.summary = []
        self.scenario = None

    def begin(self, name):
        self.scenario = name
        self.results["scenarios"][name] = {"checks": [], "figures": {}}
        log(f"== scenario {name}")

    def check(self, name, ok, detail=""):
        ok = bool(ok)
        self.passed += ok
        self.failed += not ok
        self.results["scenarios"][self.scenario]["checks"].append(
            {"check": name, "passed": ok, "detail": detail})
        log(f"{'PASS' if ok else 'FAIL'}: {self.scenario}: {name}{': ' + detail if detail else ''}")
        if not ok:
            self.keep_evidence()
        return ok

    def keep_evidence(self):
        """The kernel's per-mapping view of every rig guest at a failed
        check (numa_maps beside maps, which tell the mappings apart),
        once per scenario and guest; run.sh copies it with the agent's
        and libvirtd's logs into the results and says where."""
        for dom in virsh("list", "--name", check=False).split():
            path = f"{self.out}/evidence-{self.scenario}-{dom}.txt"
            if not dom.startswith("rig-") or os.path.exists(path):
                continue
            try:
                pid = int(read(f"/run/libvirt/qemu/{dom}.pid"))
                text = (f"# {time.strftime('%H:%M:%S')} {dom} pid {pid}\n# /proc/{pid}/maps\n"
                        + read(f"/proc/{pid}/maps") + f"# /proc/{pid}/numa_maps\n" + read(f"/proc/{pid}/numa_maps"))
            except (OSError, ValueError) as e:
                text = f"# {dom}: {e}\n"
            with open(path, "w") as f:
                f.write(text)

    def figure(self, key, value, text=None):
        self.results["scenarios"][self.scenario]["figures"][key] = value
        if text:
            self.summary.append(f"{self.scenario}: {text}")
            log(text)

    def save(self):
        with open(f"{self.out}/results.json", "w") as f:
            json.dump(self.results, f, indent=1, default=sorted)
        with open(f"{self.out}/summary.txt", "w") as f:
            f.write("\n".join(self.summary + [f"{self.passed} passed, {self.failed} failed"]) + "\n")
        with open(f"{self.out}/counts", "w") as f:
            f.write(f"{self.passed} {self.failed}\n")


def sample_locality(host, names, seconds, running):
    """Mean locality of each guest over @seconds, sampled every second."""
    acc = {n: [] for n, _ in names}
    end = time.time() + seconds
    while time.time() < end:
        for name, vcpus in names:
            try:
                acc[name].append(Snapshot(host, name, vcpus).locality(running))
            except (OSError, RuntimeError, ValueError):
                pass
        time.sleep(1)
    return {n: sum(v) / len(v) if v else 0.0 for n, v in acc.items()}


def pct(x):
    return f"{100 * x:.1f} %"


# ---- scenarios -----------------------------------------------------------

def wide_size(host):
    return 2 * host.client_limit, 256


def scenario_baseline(run, host, agent, images):
    """The wide guest with vnuma off (no agent; the hook does nothing at a
    plain start): where Linux puts its threads and memory."""
    vcpus, mem = wide_size(host)
    define("rig-base", vcpus, mem, images["spin"])
    virsh("start", "rig-base")
    s = snapshot(host, "rig-base", vcpus)
    busy = busy_fraction(s)
    run.check("guest vCPUs burn CPU", busy > 0.5, f"mean vCPU thread use {pct(busy)}")
    run.check("no vCPU pinned (Linux default)", all(n is None for n in s.homes().values()))
    loc = sample_locality(host, [("rig-base", vcpus)], 20, running=True)["rig-base"]
    run.figure("locality_linux", loc, f"wide guest ({vcpus} vCPUs, {mem} MiB), vnuma off: locality {pct(loc)}"
               f", RAM by node {s.summary()['ram_kib_by_node']}")
    remove("rig-base")


def scenario_wide(run, host, agent, images):
    vcpus, mem = wide_size(host)
    run.check("agent starts", agent.start())
    define("rig-wide", vcpus, mem, images["spin"])
    sized = wait_sized("rig-wide")
    run.check("definition sized by the agent on define", sized)
    t0 = time.time()
    virsh("start", "rig-wide")
    t_started = time.time()   # virsh start returns once QEMU runs (memory allocated)
    s = wait_placed(host, "rig-wide", vcpus, 90)
    t_place = time.time() - t_started
    run.check("placed: every vCPU thread pinned to one node, >= 90 % of RAM there", s and s.placed(),
              json.dumps(s.summary()) if s else "no snapshot")
    if not s:
        return
    homes = s.homes()
    nodes = s.home_nodes()
    clients = -(-vcpus // host.client_limit)
    run.check(f"{clients} clients on {clients} distinct nodes", len(nodes) == clients, f"nodes {nodes}")
    groups = [sorted(v for v, n in homes.items() if n == node) for node in nodes]
    run.check("each client is a contiguous vCPU range, sizes balanced",
              all(g == list(range(g[0], g[-1] + 1)) for g in groups) and
              max(map(len, groups)) - min(map(len, groups)) <= 1, f"{groups}")
    # libvirt gives each vCPU's cgroup its cell's nodes (restrictive
    # memnode), the emulator the union: a vCPU's mems hold its own node
    # and no node outside the homes.
    mems = {v: cpulist(t["mems"]) for v, t in s.threads.items()}
    run.check("each vCPU cgroup's cpuset.mems holds its node, within the homes",
              all(homes[v] in m and m <= frozenset(nodes) for v, m in mems.items()),
              f"{ {v: sorted(m) for v, m in mems.items()} } vs homes {nodes}")
    on_home = s.on_nodes(set(nodes))
    run.check(">= 90 % of guest RAM on the home nodes", on_home >= 0.9, pct(on_home))
    if len(nodes) == 2:
        worst = max(host.distance[a][b] for a in nodes for b in nodes)
        best = min(max(host.distance[a][b] for a in sub for b in sub)
                   for sub in [[x, y] for x in host.nodes for y in host.nodes if x < y and host.cpus[y]])
        run.check("home nodes are the closest pair (SLIT)", worst == best, f"max distance {worst}, best {best}")
    time.sleep(mem / RATE_MIB + 10)   # time for per-cell memory to follow, at the configured rate
    s = snapshot(host, "rig-wide", vcpus)
    per_cell = s.locality()
    run.check("each vNUMA cell's RAM on its client's node (>= 90 %)", per_cell >= 0.9,
              f"{pct(per_cell)}; cells {s.cells}; RAM by block {s.summary()['ram_kib_by_block']}")
    run.figure("time_to_placement_s", t_place, f"placed (kernel view) {t_place:.1f} s after virsh start"
               f" returned (which took {t_started - t0:.1f} s)")
    loc = sample_locality(host, [("rig-wide", vcpus)], 20, running=False)["rig-wide"]
    run.figure("locality_vnuma", loc, f"wide guest ({vcpus} vCPUs, {mem} MiB), vnuma on: locality {pct(loc)}"
               f", homes {nodes}, RAM by node {s.summary()['ram_kib_by_node']}")
    run.figure("placement", s.summary())


def vcpu_affinities(pid):
    """{vCPU: Cpus_allowed_list} of the vCPU threads, read without the
    monitor (which a held job blocks)."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            m = re.fullmatch(r"CPU (\d+)/TCG", read(f"/proc/{pid}/task/{tid}/comm").strip())
            if m:
                status = read(f"/proc/{pid}/task/{tid}/status")
                out[int(m.group(1))] = cpulist(re.search(r"Cpus_allowed_list:\s*(\S+)", status).group(1))
        except (OSError, AttributeError):
            continue
    return out


def wait_logged(path, pattern, timeout, offset=0):
    """Waits for @pattern in @path after its first @offset characters."""
    end = time.time() + timeout
    while time.time() < end:
        try:
            if re.search(pattern, read(path)[offset:]):
                return True
        except OSError:
            pass
        time.sleep(0.5)
    return False


def scenario_busy(run, host, agent, images):
    """Issue 19, deterministically: the placement meets libvirt's real BUSY
    (a monitor job held on a SIGSTOPped QEMU: 'cannot acquire state change
    lock') while all the guest's RAM sits on one node (where QEMU left it
    before any pin: migratepages puts it there), is placed on a later pass
    once the job ends, and then each of the two cells' RAM must follow its
    own client: asserted per mapping (numa_maps), as the kernel shows it."""
    vcpus, mem = wide_size(host)
    name = "rig-busy"
    if not agent.alive():
        run.check("agent starts", agent.start())
    # Each vCPU capped at a quarter of a CPU: a client's demand (~0.5 CPU)
    # fits beside the other's on one node, so nothing but where its memory
    # lies could make the rebalancer move it: the case of the issue's
    # loaded machine, made the same on any machine.
    define(name, vcpus, mem, images["spin"],
           cputune="<cputune><period>100000</period><quota>25000</quota></cputune>")
    run.check("definition sized by the agent on define", wait_sized(name))
    # No agent while the guest starts and the job is taken: its first
    # placement (the next agent's first pass) meets the held job. (A
    # SIGSTOPped agent would lose its connection to libvirtd's keepalive.)
    agent.stop()
    virsh("start", name)
    pid = int(read(f"/run/libvirt/qemu/{name}.pid"))
    os.kill(pid, signal.SIGSTOP)
    monitor = subprocess.Popen(["virsh", "-c", URI, "qemu-monitor-command", name, '{"execute":"query-status"}'],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(3)   # libvirtd takes the job as soon as the call reaches it
        run.check("the monitor command waits on the stopped QEMU", monitor.poll() is None)
        # As in the issue: cell 0's RAM where the last cell's vCPUs run
        # (the define-time pins), i.e. off its own client's node.
        before = vcpu_affinities(pid)
        crowded = host.node_of(before.get(vcpus - 1, frozenset()))
        crowded = host.nodes[1] if crowded is None else crowded
        subprocess.run(["migratepages", str(pid), "all", str(crowded)], check=False)
        seen = len(read(f"{run.out}/agent.log"))   # this agent's lines only
        run.check("agent starts while the job is held", agent.start())
        busy = wait_logged(f"{run.out}/agent.log", rf"{name}: place: .*state change lock.*placing it again", 120,
                           seen)
        run.check("libvirt answered BUSY (state change lock) to the placement", busy)
        run.check("nothing applied while the job lasts (vCPU affinities as at start)",
                  vcpu_affinities(pid) == before, f"RAM crowded onto node {crowded}")
    finally:
        os.kill(pid, signal.SIGCONT)
        monitor.wait(120)
    s = wait_placed(host, name, vcpus, 180)
    run.check("placed on a later pass: every vCPU thread pinned to one node", s and s.placed(),
              json.dumps(s.summary()) if s else "no snapshot")
    if not s:
        return
    placed = s.homes()
    moved, fell = [], []
    last = {}   # cell block -> (its client's node, KiB there)
    with open(f"{run.out}/busy-cells.tsv", "w") as tsv:
        tsv.write("t_s\tvcpu_nodes\tram_kib_by_block\n")
        t0 = time.time()
        while time.time() - t0 < mem / RATE_MIB + 30:
            s = snapshot(host, name, vcpus)
            t = time.time() - t0
            tsv.write(f"{t:.0f}\t{json.dumps(s.summary()['vcpu_nodes'])}\t"
                      f"{json.dumps(s.summary()['ram_kib_by_block'])}\n")
            tsv.flush()
            if s.homes() != placed:
                moved.append(f"{t:.0f} s: {s.summary()['vcpu_nodes']}")
            # A follow never moves a cell's RAM off its client's node: while
            # the client stays, its cell's KiB there never fall (4 MiB slack).
            for cell_vcpus, block in s.cells:
                nodes = {s.homes().get(v) for v in cell_vcpus}
                if len(nodes) != 1:
                    continue
                node = nodes.pop()
                kib = s.memory.get(block, {}).get(node, 0)
                before = last.get(block)
                if before and before[0] == node and kib < before[1] - 4 * MIB:
                    fell.append(f"{t:.0f} s: {block} on node {node} {before[1]} -> {kib} KiB")
                last[block] = (node, kib)
            time.sleep(2)
    run.check("no client moved while its memory settled (vCPU homes as placed, kernel view)", not moved,
              f"placed {placed}; then {moved[:3]}")
    run.check("no cell's RAM left its client's node while following (numa_maps per mapping)", not fell,
              "; ".join(fell[:3]))
    s = snapshot(host, name, vcpus)
    homes = s.homes()
    worst = 1.0
    for cell_vcpus, block in s.cells:
        cell = s.memory.get(block, {})
        nodes = {homes.get(v) for v in cell_vcpus}
        kib = sum(cell.values())
        share = cell.get(next(iter(nodes)), 0) / kib if len(nodes) == 1 and kib else 0.0
        worst = min(worst, share)
    run.check("each cell's mapping (numa_maps) >= 90 % on its own client's node", worst >= 0.9,
              f"worst cell {pct(worst)}; cells {s.cells}; vCPU nodes {s.summary()['vcpu_nodes']}; "
              f"RAM by block {s.summary()['ram_kib_by_block']}")
    run.check("two clients on two distinct nodes", len(s.home_nodes()) == 2, f"nodes {s.home_nodes()}")


def mems_union(snap):
    return frozenset().union(*(cpulist(t["mems"]) for t in snap.threads.values()))


def same_placement(before, after):
    """Same home node per vCPU, same memory nodes (the vCPU cgroups'
    cpuset.mems together: libvirt narrows each to its cell's nodes or not)."""
    return before.homes() == after.homes() and mems_union(before) == mems_union(after)


def scenario_persist(run, host, agent, images):
    vcpus, _ = wide_size(host)
    if "rig-wide" not in virsh("list", "--name"):
        run.check("wide guest running (from scenario wide)", False)
        return
    before = snapshot(host, "rig-wide", vcpus)
    run.check("libvirtd restarts", restart_libvirtd(run.out))
    time.sleep(6)
    after = snapshot(host, "rig-wide", vcpus)
    run.check("libvirtd restart: same QEMU process", after.pid == before.pid)
    run.check("libvirtd restart: same vCPU homes and cpuset.mems", same_placement(before, after),
              f"{before.summary()} -> {after.summary()}")
    run.check("libvirtd restart: RAM still >= 90 % on the homes",
              after.on_nodes(set(after.home_nodes())) >= 0.9, pct(after.on_nodes(set(after.home_nodes()))))
    run.check("agent survived the restart", agent.alive())

    virsh("save", "rig-wide", "/tmp/rig-wide.save")
    virsh("restore", "/tmp/rig-wide.save")
    os.unlink("/tmp/rig-wide.save")
    restored = wait_placed(host, "rig-wide", vcpus, 60) or snapshot(host, "rig-wide", vcpus)
    run.check("save/restore: a new QEMU process", restored.pid != before.pid)
    run.check("save/restore: same vCPU homes and cpuset.mems", same_placement(before, restored),
              f"{before.summary()} -> {restored.summary()}")
    on = restored.on_nodes(set(before.home_nodes()))
    run.check("save/restore: >= 90 % of RAM on the same homes", on >= 0.9, pct(on))
    time.sleep(wide_size(host)[1] / RATE_MIB + 10)   # the restored cells' memory follows, at the rate
    settled = snapshot(host, "rig-wide", vcpus)
    run.check("save/restore: each vNUMA cell's RAM back on its client's node (>= 90 %)",
              settled.locality() >= 0.9, f"{pct(settled.locality())}; {settled.summary()['ram_kib_by_block']}")
    run.figure("after_restore", settled.summary())


def start_placed(run, host, guests, vcpus):
    """Defines and starts @guests ([(name, MiB, image)]) together — guest
    start-up is slow under nested TCG — in list order, and checks each got
    placed. The agent places them on their STARTED events, one by one."""
    for name, mem, image in guests:
        define(name, vcpus, mem, image)
    for name, _, _ in guests:
        wait_sized(name, 15)
    for name, _, _ in guests:
        virsh("start", name)
    snaps = []
    for name, _, _ in guests:
        s = wait_placed(host, name, vcpus, 120)
        run.check(f"{name} placed", s and s.placed(), json.dumps(s.summary()) if s else "")
        snaps.append(s)
    return snaps


def balance_names(host):
    """One guest more than there are nodes with CPUs."""
    return [f"rig-b{i}" for i in range(len([n for n in host.nodes if host.cpus[n]]) + 1)]


def scenario_balance(run, host, agent, images):
    """One client more than there are nodes, all idle while they are placed
    (so one node holds two); then the two on one node start to spin (an
    NMI wakes them). The agent must move one of them to a node whose client
    is idle, and its pages must follow at the configured rate."""
    if not agent.alive():
        run.check("agent starts", agent.start())
    vcpus = host.client_limit
    mem = 256
    names = balance_names(host)
    snaps = start_placed(run, host, [(name, mem, images["nmi"]) for name in names], vcpus)
    by_node = {}
    for name, s in zip(names, snaps):
        if s and len(s.home_nodes()) == 1:
            by_node.setdefault(s.home_nodes()[0], []).append(name)
    crowded = next((n for n, g in sorted(by_node.items()) if len(g) >= 2), None)
    run.check("precondition: two clients share one node", crowded is not None, f"{by_node}")
    if crowded is None:
        return
    pair = by_node[crowded][:2]
    for name in pair:
        virsh("inject-nmi", name)
    busy = min(busy_fraction(snapshot(host, name, vcpus)) for name in pair)
    run.check("the two clients on the crowded node now spin", busy > 0.3, f"least busy vCPU use {pct(busy)}")
    t0 = time.time()
    series = []
    moved = None
    with open(f"{run.out}/balance-pages.tsv", "w") as tsv:
        tsv.write("t_s\tguest\t" + "\t".join(f"node{n}_pages" for n in host.nodes) + "\thome\n")
        while time.time() - t0 < 300:
            for name in pair:
                s = Snapshot(host, name, vcpus)
                by = s.ram_by_node()
                home = s.home_nodes()
                t = time.time() - t0
                tsv.write(f"{t:.1f}\t{name}\t" + "\t".join(str(by.get(n, 0) // 4) for n in host.nodes) +
                          f"\t{','.join(map(str, home))}\n")
                tsv.flush()
                if moved in (None, name):
                    series.append((t, name, by, home))
                if moved is None and home and home != [crowded]:
                    moved = name
                    t_move = t
            if moved and series[-1][3]:
                last = series[-1]
                if sum(k for n, k in last[2].items() if n in last[3]) >= 0.9 * sum(last[2].values()):
                    break
            time.sleep(1)
    run.check("the agent moved one spinning client off the crowded node", moved is not None,
              f"within {time.time() - t0:.0f} s")
    if not moved:
        return
    dest = [p for p in series if p[1] == moved][-1][3]
    run.check("moved to a node that had only an idle client", len(dest) == 1 and dest[0] != crowded,
              f"node {dest}")
    mine = [(t, by.get(dest[0], 0)) for t, name, by, _ in series if name == moved]
    total = sum(series[-1][2].values())
    run.figure("move_detected_s", t_move, f"move detected {t_move:.0f} s after the overload began")
    lag, rate, arrived = follow_rate(mine, t_move, total)
    run.check("its pages followed (>= 90 % on the new node)", arrived is not None,
              f"{mine[-1][1] // 1024} of {total // 1024} MiB")
    if arrived is None:
        return
    run.figure("rehome_pages_per_s", rate / 4,
               f"re-home of {total // MIB} MiB: {rate / 4:.0f} pages/s ({rate / MIB:.1f} MiB/s; configured "
               f"{RATE_MIB} MiB/s); pages began to move {lag:.0f} s after the vCPUs, 90 % there "
               f"{arrived - t_move:.0f} s after")
    agent_kib = agent.moved_kib(moved)
    run.figure("agent_moved_mib", agent_kib // MIB if agent_kib is not None else None,
               f"vnumad's report says its page migration had moved "
               f"{agent_kib // MIB if agent_kib is not None else '?'} MiB of it by then (its claim, not asserted)")
    run.check(f"pages moved at the configured rate ({RATE_MIB} MiB/s, within 0.5x..1.5x)",
              0.5 * RATE_MIB <= rate / MIB <= 1.5 * RATE_MIB, f"{rate / MIB:.1f} MiB/s")


def follow_rate(samples, t_move, total):
    """From [(t, KiB on the new node)]: how long after the vCPU move the
    pages began to move, the rate (KiB/s) from the last sample before
    that to the first with >= 90 % there, and that time (None: never)."""
    after = [(t, k) for t, k in samples if t >= t_move]
    if not after:
        return None, 0.0, None
    start = after[0][1]
    first = next((i for i, (_, k) in enumerate(after) if k > start), None)
    arrived = next((i for i, (_, k) in enumerate(after) if k >= 0.9 * total), None)
    if first is None or arrived is None:
        return None, 0.0, None
    t0, k0 = after[max(first - 1, 0)]
    t1, k1 = after[arrived]
    return t0 - t_move, (k1 - k0) / max(t1 - t0, 0.5), t1


def scenario_locality(run, host, agent, images):
    """A placed client whose memory sits on another node is re-homed to it.
    The memory is put there behind libvirt's back, as memory left behind
    would be: the domain's cgroups get both nodes in cpuset.mems (libvirt's
    nodeset, which the agent reads, stays its own), then migratepages."""
    if not agent.alive():
        run.check("agent starts", agent.start())
    vcpus = host.client_limit
    s = start_placed(run, host, [("rig-loc", 256, images["spin"])], vcpus)[0]
    if not (s and s.placed()):
        return
    home = s.home_nodes()[0]
    far = max((n for n in host.nodes if host.cpus[n] and n != home), key=lambda n: (host.distance[home][n], -n))
    cg = read(f"/proc/{s.pid}/task/{s.threads[0]['tid']}/cgroup").strip().split("::", 1)[1]
    machine = "/sys/fs/cgroup" + os.path.dirname(cg)
    both = f"{min(home, far)},{max(home, far)}"
    for d in [machine] + [os.path.join(machine, c) for c in sorted(os.listdir(machine))
                          if os.path.exists(os.path.join(machine, c, "cpuset.mems"))]:
        with open(os.path.join(d, "cpuset.mems"), "w") as f:
            f.write(both)
    # A page the kernel could not isolate this instant (the guest is
    # running) stays behind: try again, this is the set-up, not the check.
    for _ in range(3):
        subprocess.run(["migratepages", str(s.pid), str(home), str(far)], check=False)
        moved = snapshot(host, "rig-loc", vcpus)
        if moved.on_nodes({far}) >= 0.9:
            break
    run.check(f"precondition: >= 90 % of RAM moved from node {home} to node {far}",
              moved.on_nodes({far}) >= 0.9, pct(moved.on_nodes({far})))
    # The vCPUs move first, with the nodeset widened to old and new
    # nodes; it narrows to the new one a pass or more later, once the
    # agent has seen the pages there (docs/agent.md). Both are waited for.
    t0 = time.time()
    end = t0 + 180
    rehomed = narrowed = None
    while time.time() < end and narrowed is None:
        try:
            now = Snapshot(host, "rig-loc", vcpus)
        except (OSError, RuntimeError, ValueError):
            time.sleep(1)
            continue
        if rehomed is None and now.home_nodes() == [far]:
            rehomed = time.time() - t0
        if rehomed is not None and {t["mems"] for t in now.threads.values()} == {str(far)}:
            narrowed = time.time() - t0
            break
        time.sleep(1)
    now = snapshot(host, "rig-loc", vcpus)
    run.check(f"re-homed to node {far}, where its memory is", now.home_nodes() == [far],
              f"homes {now.home_nodes()} after {time.time() - t0:.0f} s")
    run.check(f"cpuset.mems narrowed to {far}", {t["mems"] for t in now.threads.values()} == {str(far)},
              f"{sorted({t['mems'] for t in now.threads.values()})}"
              + (f" after {narrowed:.0f} s" if narrowed is not None else " after 180 s"))
    run.check("RAM stayed there (>= 90 %)", now.on_nodes({far}) >= 0.9, pct(now.on_nodes({far})))
    if rehomed is not None:
        run.figure("locality_rehome_s", rehomed,
                   f"locality re-home node {home} -> {far}: vCPUs {rehomed:.0f} s after its memory moved, "
                   + (f"cpuset.mems {narrowed:.0f} s after" if narrowed is not None else "cpuset.mems never"))
    remove("rig-loc")


# ---- CPU hot-plug and the hook's topology cache ---------------------------

SYSFS_READ_CACHE = "/run/rig-sysfs-topology"   # the scenario's own cache, beside the hook's
HOOK_CACHE = "/run/vnuma/sysfs-topology"


def sysfs_read(build, cached):
    """The host as the hook reads it (tests/sysfs-read.c): through a
    topology cache, or live."""
    args = [f"{build}/tests/sysfs-read"] + (["--cache", SYSFS_READ_CACHE] if cached else [])
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def uevents():
    return int(read("/sys/kernel/uevent_seqnum"))


def cache_line(path, prefix):
    try:
        return next((l[len(prefix):] for l in read(path).splitlines() if l.startswith(prefix)), None)
    except OSError:
        return None


def set_online(cpu, online):
    with open(f"/sys/devices/system/cpu/cpu{cpu}/online", "w") as f:
        f.write("1" if online else "0")


def scenario_hotplug(run, host, agent, images, build):
    """A CPU taken offline and back by the real kernel: the facts the
    topology cache relies on (docs/hook.md: a replug sends uevents, leaves
    the node's cpulist at once and gets a new topology directory), a read
    through the cache that agrees with a live one at every step, and
    vnumad restamping the hook's cache after the uevents."""
    cpu = max(c for cs in host.cpus.values() for c in cs)
    node = host.cpu_node[cpu]
    topology = f"/sys/devices/system/cpu/cpu{cpu}/topology"
    if os.path.exists(SYSFS_READ_CACHE):
        os.unlink(SYSFS_READ_CACHE)
    live = sysfs_read(build, False)
    run.check("cached read (cache written) agrees with a live one", sysfs_read(build, True) == live)
    run.check("cached read (from the cache) agrees with a live one", sysfs_read(build, True) == live)
    count, inode = uevents(), os.stat(topology).st_ino
    count_offline = count
    set_online(cpu, False)
    try:
        listed = cpulist(read(f"/sys/devices/system/node/node{node}/cpulist"))
        run.check(f"CPU {cpu} offline: gone from node {node}'s cpulist", cpu not in listed)
        run.check(f"CPU {cpu} offline: its topology directory gone", not os.path.exists(topology))
        count_offline = uevents()
        run.check("offline sent a uevent", count_offline > count, f"count {count} -> {count_offline}")
        live = sysfs_read(build, False)
        run.check(f"CPU {cpu} offline: not in the host read live", f"  cpu {cpu} " not in live)
        run.check("CPU offline: cached read agrees with a live one", sysfs_read(build, True) == live)
    finally:
        set_online(cpu, True)
    run.check("online sent a uevent", uevents() > count_offline, f"count {count_offline} -> {uevents()}")
    run.check(f"CPU {cpu} back: a new topology directory (inode {inode} -> {os.stat(topology).st_ino})",
              os.stat(topology).st_ino != inode)
    live = sysfs_read(build, False)
    run.check(f"CPU {cpu} back: in the host read live", f"  cpu {cpu} " in live)
    run.check("CPU back: cached read agrees with a live one", sysfs_read(build, True) == live)
    run.check("the cache took the new count",
              cache_line(SYSFS_READ_CACHE, "uevents ") == str(uevents()),
              f"cache {cache_line(SYSFS_READ_CACHE, 'uevents ')}, kernel {uevents()}")

    # vnumad keeps the hook's own cache stamped (docs/agent.md).
    run.check("agent starts", agent.start())
    set_online(cpu, False)
    set_online(cpu, True)
    stamped = False
    for _ in range(20):
        time.sleep(0.5)
        count = uevents()
        if cache_line(HOOK_CACHE, "uevents ") == str(count):
            stamped = True
            break
    run.check("vnumad restamped the hook's cache after a replug", stamped,
              f"cache {cache_line(HOOK_CACHE, 'uevents ')}, kernel {uevents()}")
    cached = cache_line(HOOK_CACHE, f"cpu {cpu} ")
    run.check(f"the hook's cache holds CPU {cpu}'s new topology inode",
              cached is not None and cached.split()[0] == str(os.stat(topology).st_ino),
              f"cache '{cached}', inode {os.stat(topology).st_ino}")
    agent.stop()


def scenario_steady(run, host, agent, images, seconds):
    """Steady, unbalanceable load (more spinning clients than nodes) for
    @seconds: count client moves as the kernel shows them. The guests of
    scenario balance, when it ran, are the load (guest start-up is the
    slowest step of the rig); else as many, started idle. An NMI makes
    every one of them spin from the same moment on, and the count starts
    there: moves the load's onset causes count too."""
    if not agent.alive():
        run.check("agent starts", agent.start())
    vcpus = host.client_limit
    names = balance_names(host)
    running = virsh("list", "--name").split()
    if not all(name in running for name in names):
        start_placed(run, host, [(name, 256, images["nmi"]) for name in names], vcpus)
    for name in names:
        virsh("inject-nmi", name)
    busy = min(busy_fraction(snapshot(host, name, vcpus)) for name in names)
    run.check("every guest spins", busy > 0.3, f"least busy vCPU use {pct(busy)}")
    open(f"{run.out}/background", "w").close()
    moves = []
    prev = {n: snapshot(host, n, vcpus).homes() for n in names}
    t0 = time.time()
    with open(f"{run.out}/steady-moves.tsv", "w") as tsv:
        tsv.write("t_s\tguest\tfrom\tto\n")
        while time.time() - t0 < seconds:
            time.sleep(2)
            for name in names:
                try:
                    cur = Snapshot(host, name, vcpus).homes()
                except (OSError, RuntimeError, ValueError):
                    continue
                pairs = {(prev[name][v], cur[v]) for v in cur if v in prev[name] and cur[v] != prev[name][v]}
                for a, b in sorted(pairs, key=str):
                    t = time.time() - t0
                    moves.append(t)
                    tsv.write(f"{t:.0f}\t{name}\t{a}\t{b}\n")
                    tsv.flush()
                prev[name] = cur
    windows = -(-seconds // BUDGET_WINDOW)
    worst = max((sum(1 for u in moves if t <= u < t + BUDGET_WINDOW) for t in moves), default=0)
    claim = agent.migrations()
    run.figure("steady_moves", len(moves),
               f"{len(names)} spinning guests for {seconds} s: {len(moves)} client moves (kernel view), "
               f"at most {worst} in any {BUDGET_WINDOW:.0f} s; agent reports {claim}")
    run.check(f"moves within the budget ({BUDGET} per {BUDGET_WINDOW:.0f} s: <= {BUDGET * windows:.0f})",
              len(moves) <= BUDGET * windows, f"{len(moves)} moves")
    run.check(f"no {BUDGET_WINDOW:.0f} s window with more than {BUDGET} moves", worst <= BUDGET, f"max {worst}")


ORDER = ["hotplug", "baseline", "wide", "persist", "busy", "locality", "balance", "steady"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--images", required=True)
    ap.add_argument("--build", required=True)
    ap.add_argument("--steady", type=int, default=600)
    ap.add_argument("--scenario", default=",".join(ORDER))
    a = ap.parse_args()
    wanted = a.scenario.split(",")
    unknown = [w for w in wanted if w not in ORDER]
    if unknown:
        print(f"scenarios.py: unknown scenario(s) {unknown}; known: {ORDER}", file=sys.stderr)
        return 2
    host = Host()
    images = {k: f"{a.images}/{k}.elf" for k in ("spin", "idle", "nmi")}
    run = Run(a.host, a.out)
    run.results["nodes"] = {str(n): sorted(c) for n, c in host.cpus.items()}
    run.results["client_limit"] = host.client_limit
    agent = Agent(a.build, a.out)
    for name in ORDER:
        if name not in wanted:
            continue
        run.begin(name)
        try:
            if name == "steady":
                scenario_steady(run, host, agent, images, a.steady)
            elif name == "hotplug":
                scenario_hotplug(run, host, agent, images, a.build)
            else:
                globals()[f"scenario_{name}"](run, host, agent, images)
        except Exception as e:  # a broken step fails its scenario, not the rig
            run.check("scenario ran to its end", False, f"{type(e).__name__}: {e}")
        if name == [w for w in ORDER if w in wanted][-1]:
            agent.stop()   # before the guests go: their going is no load change to act on
        keep = set()
        if name == "wide" and "persist" in wanted:
            keep = {"rig-wide"}
        if name == "balance" and "steady" in wanted:
            keep = set(balance_names(host))
        for dom in virsh("list", "--all", "--name", check=False).split():
            if dom.startswith("rig-") and dom not in keep:
                remove(dom)
        run.save()
    agent.stop()
    run.save()
    print(f"rig {a.host}: {run.passed} passed, {run.failed} failed")
    return 0 if run.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
