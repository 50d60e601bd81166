/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Where a placed domain's memory lies, against its clients' homes: the
 * one definition of memory per client and of locality, shared by
 * vnumad (its report, its metrics, the rebalancer's input) and
 * `vnumactl explain`, so the two agree by construction.
 *
 * A client's memory is its own guest cells' backing mappings when
 * numa_maps tells them apart (every cell matched to a mapping, and
 * owned by one client: "cells"), else its share of the process's
 * memory in proportion to its size ("proportional"). A client is local
 * on its home node's memory node: a CPU-only node's nearest node with
 * memory (vnuma_host_memory_node). */

#include <glib.h>

#include "lib/vnuma-cpuset.h"
#include "lib/vnuma-host.h"
#include "lib/vnuma-request.h"

G_BEGIN_DECLS

typedef struct {
    const VnumaCpuSet *vcpus;
    guint home_node;             /* host node id */
    guint64 memory_kib;
} VnumaMemoryClient;

/* What numa_maps says of one domain. */
typedef struct {
    const GArray *memory;        /* guint64 KiB per host node id, the whole process; NULL: not measured */
    const GPtrArray *cell_vcpus; /* VnumaCpuSet * per guest cell (no cells: one, every vCPU) */
    /* const GArray * (guint64 KiB per node id) per guest cell, its
     * backing mapping, NULL where none was found; NULL: none known. */
    const GPtrArray *cell_memory;
} VnumaMemoryView;

/* The guest cells of @request as the view wants them: their vCPUs
 * (VnumaCpuSet *, g_ptr_array_unref) and sizes (guint64 KiB). */
void vnuma_memory_cells(const VnumaRequest *request, GPtrArray **cell_vcpus, GArray **cell_kib);

/* The client holding every vCPU of a guest cell (@cell_vcpus); -1 when
 * the cell spans clients. */
gint vnuma_memory_cell_owner(const VnumaCpuSet *cell_vcpus, const VnumaMemoryClient *clients, guint n_clients);

/* Whether each client's memory is told by its own cells ("cells"). */
gboolean vnuma_memory_by_cells(const VnumaMemoryView *view, const VnumaMemoryClient *clients, guint n_clients);

/* Client @c's memory per host node index (g_free); NULL when not measured. */
guint64 *vnuma_client_memory_by_index(const VnumaHost *host, const VnumaMemoryView *view,
                                      const VnumaMemoryClient *clients, guint n_clients, guint c);

/* Fraction of the clients' memory on their home nodes' memory nodes,
 * in [0, 1]; -1 when unknown (not measured, no clients, no memory). */
double vnuma_memory_locality(const VnumaHost *host, const VnumaMemoryView *view,
                             const VnumaMemoryClient *clients, guint n_clients);

G_END_DECLS
