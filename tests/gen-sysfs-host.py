#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Writes the sysfs tree of a generated host: the files the kernel has
under /sys/devices/system/{node,cpu,memory}, kernel/mm/hugepages and
kernel/uevent_seqnum that probe/vnuma-sysfs.c reads (plus the neighbours
a reader must skip), for hosts we do not own.

Default: 2 sockets x 4 nodes (EPYC in NPS4), 16 cores x 2 threads per
node = 256 threads, 32 GiB and 512 x 2 MiB huge pages per node;
distances 10 / 12 within a socket / 32 across. Threads are numbered as
Linux numbers them on EPYC: first threads 0-127, their siblings 128-255.

  gen-sysfs-host.py [--sockets 2] [--nodes-per-socket 4]
                    [--cores-per-node 16] [--threads 2] ROOT
  VNUMA_SYSFS_ROOT=ROOT build/hooks/vnuma-hook ...
"""
import argparse
import os


def write(root, relative, text):
    path = os.path.join(root, relative)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def link(root, relative, target):
    path = os.path.join(root, relative)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if os.path.islink(path):
        os.unlink(path)
    os.symlink(target, path)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sockets", type=int, default=2)
    p.add_argument("--nodes-per-socket", type=int, default=4)
    p.add_argument("--cores-per-node", type=int, default=16)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--memory-gib", type=int, default=32, help="per node")
    p.add_argument("--memory-block-mib", type=int, default=2048,
                   help="memory block size (x86-64 servers: 2048)")
    p.add_argument("root")
    a = p.parse_args()

    n_nodes = a.sockets * a.nodes_per_socket
    n_cores = n_nodes * a.cores_per_node
    node_dir = "devices/system/node"
    cpu_dir = "devices/system/cpu"
    for node in range(n_nodes):
        socket = node // a.nodes_per_socket
        kib = a.memory_gib * 1024 * 1024
        nd = f"{node_dir}/node{node}"
        write(a.root, f"{nd}/meminfo",
              f"Node {node} MemTotal:       {kib} kB\n"
              f"Node {node} MemFree:        {kib // 2} kB\n"
              f"Node {node} MemUsed:        {kib - kib // 2} kB\n"
              f"Node {node} HugePages_Total:   512\n")
        write(a.root, f"{nd}/hugepages/hugepages-2048kB/nr_hugepages", "512\n")
        write(a.root, f"{nd}/hugepages/hugepages-2048kB/free_hugepages", "256\n")
        write(a.root, f"{nd}/hugepages/hugepages-1048576kB/nr_hugepages", "0\n")
        write(a.root, f"{nd}/hugepages/hugepages-1048576kB/free_hugepages", "0\n")
        write(a.root, f"{nd}/distance", " ".join(
            "10" if o == node else "12" if o // a.nodes_per_socket == socket else "32"
            for o in range(n_nodes)) + "\n")
        first = node * a.cores_per_node
        ranges = [f"{first + t * n_cores}-{first + t * n_cores + a.cores_per_node - 1}"
                  for t in range(a.threads)]
        write(a.root, f"{nd}/cpulist", ",".join(ranges) + "\n")
        write(a.root, f"{nd}/cpumap", "ffffffff\n")
        # One memoryN link per memory block of the node, as the kernel has.
        blocks = a.memory_gib * 1024 // a.memory_block_mib
        for block in range(node * blocks, (node + 1) * blocks):
            write(a.root, f"devices/system/memory/memory{block}/online", "1\n")
            link(a.root, f"{nd}/memory{block}", f"../../memory/memory{block}")
        for core in range(a.cores_per_node):
            core_index = first + core
            siblings = [core_index + t * n_cores for t in range(a.threads)]
            sib_list = ",".join(str(s) for s in siblings)
            for cpu in siblings:
                cd = f"{cpu_dir}/cpu{cpu}"
                link(a.root, f"{nd}/cpu{cpu}", f"../../cpu/cpu{cpu}")
                link(a.root, f"{cd}/node{node}", f"../../node/node{node}")
                if cpu != 0:   # the boot CPU has no 'online'
                    write(a.root, f"{cd}/online", "1\n")
                write(a.root, f"{cd}/topology/physical_package_id", f"{socket}\n")
                write(a.root, f"{cd}/topology/die_id", f"{node % a.nodes_per_socket}\n")
                write(a.root, f"{cd}/topology/core_id", f"{core_index % (a.nodes_per_socket * a.cores_per_node)}\n")
                write(a.root, f"{cd}/topology/thread_siblings_list", sib_list + "\n")
                write(a.root, f"{cd}/topology/core_siblings_list", f"0-{n_cores * a.threads - 1}\n")
    total = n_cores * a.threads
    write(a.root, f"{node_dir}/online", f"0-{n_nodes - 1}\n")
    write(a.root, f"{node_dir}/possible", f"0-{n_nodes - 1}\n")
    write(a.root, f"{cpu_dir}/online", f"0-{total - 1}\n")
    write(a.root, f"{cpu_dir}/possible", f"0-{total - 1}\n")
    write(a.root, f"{cpu_dir}/present", f"0-{total - 1}\n")
    # The huge page sizes the kernel has, each with its global pool.
    for size in (2048, 1048576):
        write(a.root, f"kernel/mm/hugepages/hugepages-{size}kB/nr_hugepages",
              f"{512 * n_nodes if size == 2048 else 0}\n")
    write(a.root, "devices/system/memory/block_size_bytes",
              f"{a.memory_block_mib * 1024 * 1024:x}\n")
    write(a.root, f"{cpu_dir}/cpufreq/boost", "1\n")
    # The kernel's uevent count: a booted host has sent thousands.
    write(a.root, "kernel/uevent_seqnum", "4321\n")


if __name__ == "__main__":
    main()
