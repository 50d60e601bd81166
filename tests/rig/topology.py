#!/usr/bin/env python3
"""Turns a capabilities fixture (examples/hosts/*.xml) into the QEMU options
of an outer VM with the same NUMA shape, scaled down to fit this machine:

    topology.py FIXTURE [--cores-per-node N] [--threads N] [--memory-mib M]

prints one QEMU argument per line. Kept from the fixture: the number of
nodes, which nodes share a socket (QEMU dies = nodes of one socket, so
Linux sees socket_id/die_id/core_id as on the real box), SMT (up to
--threads), memory-only nodes, the SLIT distances, and each node's share
of the memory. Scaled: cores per node (at most --cores-per-node) and
memory (--memory-mib in total, each CPU node at least 256 MiB).
"""
import argparse
import sys
import xml.etree.ElementTree as ET


def die(message):
    print(f"topology.py: {message}", file=sys.stderr)
    sys.exit(1)


def read_cells(path):
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as e:
        die(f"{path}: {e}")
    cells = []
    for cell in root.findall("./host/topology/cells/cell"):
        cpus = [c for c in cell.findall("./cpus/cpu") if c.get("socket_id") is not None]
        cores = {(c.get("socket_id"), c.get("die_id", "0"), c.get("core_id")) for c in cpus}
        threads = max((len(c.get("siblings", "").split(",")) for c in cpus), default=1)
        mem = cell.find("memory")
        kib = int(mem.text) * {"KiB": 1, "MiB": 1024, "GiB": 1024 ** 2}[mem.get("unit", "KiB")]
        cells.append({
            "id": int(cell.get("id")),
            "socket": min((int(c.get("socket_id")) for c in cpus), default=None),
            "cores": len(cores),
            "threads": threads,
            "memory_kib": kib,
            "distances": {int(s.get("id")): int(s.get("value"))
                          for s in cell.findall("./distances/sibling")},
        })
    if not cells:
        die(f"{path}: no <cell> in <host><topology>")
    cells.sort(key=lambda c: c["id"])
    if [c["id"] for c in cells] != list(range(len(cells))):
        die(f"{path}: cell ids are not 0..{len(cells) - 1}")
    return cells


def smp_shape(cpu_cells, cores_per_node, max_threads):
    """sockets, dies (nodes per socket), cores, threads for -smp, and each
    CPU cell's (socket, die). Irregular hosts get one socket per node."""
    cores = min(min(c["cores"] for c in cpu_cells), cores_per_node)
    threads = min(min(c["threads"] for c in cpu_cells), max_threads)
    by_socket = {}
    for c in cpu_cells:
        by_socket.setdefault(c["socket"], []).append(c)
    per_socket = {len(v) for v in by_socket.values()}
    if len(per_socket) == 1:
        place = {}
        for s, (_, members) in enumerate(sorted(by_socket.items())):
            for d, c in enumerate(members):
                place[c["id"]] = (s, d)
        return len(by_socket), per_socket.pop(), cores, threads, place
    return len(cpu_cells), 1, cores, threads, {c["id"]: (i, 0) for i, c in enumerate(cpu_cells)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("fixture")
    ap.add_argument("--cores-per-node", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--memory-mib", type=int, default=3072)
    a = ap.parse_args()

    cells = read_cells(a.fixture)
    cpu_cells = [c for c in cells if c["cores"] > 0]
    if not cpu_cells:
        die(f"{a.fixture}: no cell has CPUs")
    sockets, dies, cores, threads, place = smp_shape(cpu_cells, a.cores_per_node, a.threads)
    ncpus = sockets * dies * cores * threads
    args = ["-smp", f"{ncpus},sockets={sockets},dies={dies},cores={cores},threads={threads}"]

    total_kib = sum(c["memory_kib"] for c in cells)
    sizes = [max(a.memory_mib * c["memory_kib"] // total_kib, 256 if c["cores"] else 64) // 2 * 2
             for c in cells]
    args = ["-m", f"{sum(sizes)}M"] + args
    for c, mib in zip(cells, sizes):
        args += ["-object", f"memory-backend-ram,id=rigmem{c['id']},size={mib}M",
                 "-numa", f"node,nodeid={c['id']},memdev=rigmem{c['id']}"]
    for c in cpu_cells:
        s, d = place[c["id"]]
        for core in range(cores):
            for t in range(threads):
                args += ["-numa", f"cpu,node-id={c['id']},socket-id={s},die-id={d},"
                                  f"core-id={core},thread-id={t}"]
    for c in cells:
        for other, value in sorted(c["distances"].items()):
            if other > c["id"]:
                args += ["-numa", f"dist,src={c['id']},dst={other},val={value}"]
    print("\n".join(args))


if __name__ == "__main__":
    main()
