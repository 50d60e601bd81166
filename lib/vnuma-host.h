/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "lib/vnuma-cpuset.h"

G_BEGIN_DECLS

/* The host topology model: what libvirt's capabilities <topology> and
 * sysfs both describe. Built by xml/vnuma-caps.c and probe/vnuma-sysfs.c; read
 * by the pure core. */

typedef struct {
    guint id;
    gboolean online;   /* offline CPUs carry no topology ids */
    guint socket_id;
    guint die_id;
    guint core_id;
    VnumaCpuSet *siblings; /* thread siblings, including the CPU itself; NULL when offline */
} VnumaHostCpu;

typedef struct {
    guint64 size_kib;
    guint64 total;
    gint64 free;       /* -1 when the source does not say (capabilities XML) */
} VnumaPagePool;

typedef struct {
    guint node_id;
    guint value;
} VnumaDistance;

typedef struct {
    guint id;
    guint64 memory_kib;
    GArray *cpus;      /* VnumaHostCpu, ascending id */
    GArray *pages;     /* VnumaPagePool, ascending size */
    GArray *distances; /* VnumaDistance, ascending node id */
} VnumaHostNode;

typedef struct {
    GPtrArray *nodes;  /* VnumaHostNode *, ascending id after vnuma_host_finish() */
    char *fingerprint; /* cached by vnuma_host_finish(): every plan records it */
} VnumaHost;

VnumaHost *vnuma_host_new(void);
void vnuma_host_free(VnumaHost *host);

VnumaHostNode *vnuma_host_add_node(VnumaHost *host, guint id, guint64 memory_kib);
/* Takes ownership of @siblings. */
void vnuma_host_node_add_cpu(VnumaHostNode *node, guint id, gboolean online,
                             guint socket_id, guint die_id, guint core_id,
                             VnumaCpuSet *siblings);
void vnuma_host_node_add_pages(VnumaHostNode *node, guint64 size_kib, guint64 total, gint64 free);
void vnuma_host_node_add_distance(VnumaHostNode *node, guint node_id, guint value);

/* Sorts everything and checks the model is usable: at least one node,
 * unique node and CPU ids. The fingerprint is computed here once (every
 * plan records it): a model changed afterwards must be finished again. */
gboolean vnuma_host_finish(VnumaHost *host, GError **error);
/* The same, with @fingerprint taken as the fingerprint instead of computed
 * (SHA-256 over every CPU): for a reader that has checked that the model
 * has the very shape @fingerprint was computed from (the sysfs cache). */
gboolean vnuma_host_finish_known(VnumaHost *host, const char *fingerprint, GError **error);

const VnumaHostNode *vnuma_host_find_node(const VnumaHost *host, guint id);
/* SLIT distance between two nodes: 10 to itself, 20 when the source
 * gave none (the kernel's REMOTE_DISTANCE default). */
guint vnuma_host_distance(const VnumaHost *host, guint from, guint to);
/* Sum of the SLIT distances from node @from to each node (id) in @to. */
guint64 vnuma_host_distance_sum(const VnumaHost *host, guint from, const VnumaCpuSet *to);
/* Online CPUs of a node. */
VnumaCpuSet *vnuma_host_node_cpus(const VnumaHostNode *node);
/* Distinct (socket, die, core) triples among @usable CPUs of @node. */
guint vnuma_host_node_cores(const VnumaHostNode *node, const VnumaCpuSet *usable);
const VnumaPagePool *vnuma_host_node_pages(const VnumaHostNode *node, guint64 size_kib);
/* Smallest page size above 4 KiB that the host offers (its default huge
 * page size), or 2048 when it lists none. */
guint64 vnuma_host_default_hugepage_kib(const VnumaHost *host);

/* A canonical, line-per-fact description (online CPUs only): two sources describe the same
 * host iff their descriptions are equal. Free page counts are left out. */
char *vnuma_host_describe(const VnumaHost *host);
/* Short stable id of the topology shape (nodes, CPUs, distances; not memory), recorded in the
 * vnuma stamp so a later plan knows whether it runs on the same shape. */
char *vnuma_host_fingerprint(const VnumaHost *host);

/* The host node that holds the memory of a client homed on @node_id:
 * the node itself, or for a node without memory (CPU-only), the
 * nearest one with memory (SLIT distance, then lowest id). */
guint vnuma_host_memory_node(const VnumaHost *host, guint node_id);
/* Index of node @id in host->nodes, or -1. */
gint vnuma_host_node_index(const VnumaHost *host, guint id);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(VnumaHost, vnuma_host_free)

G_END_DECLS
