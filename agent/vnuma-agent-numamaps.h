/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <sys/types.h>

G_BEGIN_DECLS

/* Where a QEMU process's memory sits, per host node. libvirt's stats
 * API has no per-node memory (SPEC.md §6), and the agent must not use
 * the QEMU monitor, so it reads the kernel's /proc/PID/numa_maps. */

/* KiB resident per host node id (index = node id; nodes the process has
 * nothing on are 0), summed over every mapping: "N<node>=<pages>" times
 * that mapping's "kernelpagesize_kB". Guest RAM dominates a QEMU
 * process, so the binary's and libraries' few pages are left in rather
 * than guessed out. Malformed lines are errors naming the line. */
GArray *vnuma_numa_maps_parse(const char *text, GError **error);

/* The same for a running process. */
GArray *vnuma_numa_maps_read(pid_t pid, GError **error);

/* The QEMU PID libvirt's qemu driver records in RUN_DIR/NAME.pid
 * (/run/libvirt/qemu for the system instance). */
gboolean vnuma_qemu_pid_read(const char *run_dir, const char *name, pid_t *pid, GError **error);

G_END_DECLS
