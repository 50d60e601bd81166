/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "lib/vnuma-enum.h"
#include "lib/vnuma-host.h"
#include "lib/vnuma-policy.h"
#include "lib/vnuma-request.h"

G_BEGIN_DECLS

/* The decision for one domain on one host. Filled in one direction:
 * vnuma_sizing_run() (clients, cells, topology) → vnuma_placement_run()
 * (home nodes) → vnuma_layout_finish() (pins, numatune, memory checks).
 * xml/vnuma-rewrite.c writes it into the domain; plugin/ explains it. */

typedef enum {
    VNUMA_SIZED_BY_CLIENT_LIMIT,     /* rule 3 */
    VNUMA_SIZED_BY_CORES_PER_SOCKET, /* rule 2 */
    VNUMA_SIZED_BY_OWNER_CELLS,      /* rule 8 */
    VNUMA_SIZED_BY_RECORD,           /* rule 10, autosize=once */
    VNUMA_SIZED_BY_OWNER_TOPOLOGY,   /* the domain's own <topology>, cut on whole sockets */
    VNUMA_SIZED_BY_LAST
} VnumaSizedBy;

/* A NUMA client (ESXi's PPD): vCPUs placed as a unit on one home node. */
typedef struct {
    VnumaCpuSet *vcpus;
    guint64 memory_kib;
    gint home_node;          /* -1 until placed */
    gint home_with;          /* index of the client whose home it shares when room allows; -1: none */
    VnumaCpuSet *cpus;       /* the home node's usable CPUs, once placed */
} VnumaClient;

typedef struct {
    gboolean managed;
    char *reason;                /* why not managed */
    char *host_fingerprint;

    VnumaPolicy policy;          /* effective: defaults, config, then overrides */
    guint vcpus;                 /* V */
    VnumaCpuSet *online;         /* vCPUs online at start; the others are hot-plug headroom */
    gboolean pin_vcpus;          /* FALSE: the orchestrator re-pins the vCPUs at start (oVirt's
                                  * shared pool), so vnuma writes cells, not pins or memnodes */
    guint client_limit;          /* L */
    guint cpu_nodes;             /* host nodes with a usable CPU */
    guint min_node_threads;      /* fewest usable threads on such a node */
    VnumaSizedBy sized_by;
    GPtrArray *clients;          /* VnumaClient * */

    gboolean exposed;            /* vNUMA cells reach the guest */
    gboolean owner_cells;        /* the cells are the owner's: leave <numa> alone */
    GPtrArray *cells;            /* VnumaCell *: the guest's cells (empty: none) */

    gboolean write_topology;
    VnumaGuestTopology topology; /* the guest topology after the plan */

    guint64 page_kib;            /* backing page size the memory is cut to */
    VnumaMemoryMode memory_mode;
    VnumaPinSet *pins;           /* what vnuma writes into <cputune>/<numatune> */

    GPtrArray *usable;           /* VnumaCpuSet * per host node (index as host->nodes) */
    GPtrArray *warnings;         /* char *, NULL-terminated */
    GPtrArray *notes;            /* char *, NULL-terminated: which rule decided what */
} VnumaLayout;

/* Committed load on a host node, as placement's tie-breaker. */
typedef struct {
    guint node_id;
    double vcpus;                /* vCPUs already homed there */
    guint64 memory_kib;          /* memory already homed there */
} VnumaNodeLoad;

VnumaLayout *vnuma_layout_new(void);
void vnuma_layout_free(VnumaLayout *layout);
void vnuma_layout_warn(VnumaLayout *layout, const char *format, ...) G_GNUC_PRINTF(2, 3);
void vnuma_layout_note(VnumaLayout *layout, const char *format, ...) G_GNUC_PRINTF(2, 3);
void vnuma_layout_set_unmanaged(VnumaLayout *layout, const char *format, ...) G_GNUC_PRINTF(2, 3);
void vnuma_layout_add_client(VnumaLayout *layout, VnumaCpuSet *vcpus, guint64 memory_kib);

/* What @node can back of this layout's memory: its memory, or with huge
 * pages its pool of the backing size (free count, else total). */
guint64 vnuma_layout_node_memory_kib(const VnumaLayout *layout, const VnumaHostNode *node);

/* Builds the pins and numatune from the placed clients and checks each
 * client's memory against its home node. */
void vnuma_layout_finish(VnumaLayout *layout, const VnumaHost *host, const VnumaRequest *request);

/* The record vnuma keeps in the domain (<vnuma:layout>). */
VnumaStamp *vnuma_layout_to_stamp(const VnumaLayout *layout);

VNUMA_ENUM_DECL(vnuma_sized_by, VnumaSizedBy);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(VnumaLayout, vnuma_layout_free)

G_END_DECLS
