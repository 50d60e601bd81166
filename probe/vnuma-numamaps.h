/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <sys/types.h>

G_BEGIN_DECLS

/* Where a QEMU process's memory sits, per host node. libvirt's stats
 * API has no per-node memory (docs/spec.md §6), and the agent must not use
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

/* One mapping of a process: its extent from /proc/PID/maps, where its
 * pages are from numa_maps. */
typedef struct {
    guint64 start;                 /* bytes */
    guint64 end;
    gboolean writable;
    gboolean executable;
    char *path;                    /* NULL: anonymous */
    GArray *kib;                   /* guint64 KiB per node id */
} VnumaMemRegion;

void vnuma_mem_region_free(VnumaMemRegion *region);

/* The mappings of @numa_maps that @maps also lists (by start address),
 * in address order. A malformed line of either is an error. */
GPtrArray *vnuma_mem_regions_parse(const char *numa_maps, const char *maps, GError **error);
GPtrArray *vnuma_mem_regions_read(pid_t pid, GError **error);
/* The regions' KiB per node id, summed: the process's memory. */
GArray *vnuma_mem_regions_total(const GPtrArray *regions);

/* Guest RAM regions of a QEMU process: which mapping backs each guest
 * cell (or, without cells, the whole RAM: one "cell" of <memory>).
 * QEMU maps each memory backend as one writable, non-executable
 * mapping of exactly its size, so a cell is matched by size. Cells of
 * equal size are told apart by allocation order: QEMU creates the
 * backends in cell order and the kernel hands out mappings top-down,
 * so cell i gets the i-th highest of the same-sized candidates. When
 * there are not exactly as many candidates of a size as cells of it,
 * those cells stay unmatched (-1): guessing wrong would move the wrong
 * client's memory.
 * Returns gint per cell: an index into @regions, or -1. */
GArray *vnuma_guest_ram_match(const GPtrArray *regions, const guint64 *cell_kib, guint n_cells);
/* Each cell's backing mapping's KiB per node id (const GArray *, owned
 * by @regions), NULL for a cell @ram did not match; NULL without @ram. */
GPtrArray *vnuma_guest_ram_kib(const GPtrArray *regions, const GArray *ram);

G_END_DECLS
