/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "lib/vnuma-enum.h"
#include "lib/vnuma-host.h"

G_BEGIN_DECLS

/* The rebalancer's decision core (docs/spec.md §7), pure: given each node's
 * capacity and each client's CPU demand and memory per node, it proposes
 * moves of clients between home nodes. The agent measures and applies;
 * this only decides.
 *
 * Every move must pay for itself: its expected gain over the horizon
 * (contention relieved, remote accesses avoided) must beat its cost
 * (memory to move, cache warm-up). On top of that, three brakes against
 * thrashing (docs/spec.md §8): hysteresis on load imbalance, a minimum
 * residency per client, and a per-host migration budget. And a burst is
 * no reason to unbalance the vCPUs committed to each node, which are
 * what the next burst lands on: a balance move or a swap that leaves
 * the more committed node of the pair more committed is made only for a
 * sustained overload (docs/spec.md §7).
 *
 * A pass weighs every single move, and swaps among a few candidates per
 * node pair (exactly where a pair has few clients): its cost is linear
 * in clients (docs/BENCHMARKS.md, cost-bench). */

/* The defaults of the agent's rebalance_period (s) and
 * memory_migrate_rate (MiB/s), which the simulator runs with too. */
#define VNUMA_REBALANCE_DEFAULT_PERIOD 2.0
#define VNUMA_MEMORY_MIGRATE_DEFAULT_RATE 256.0

typedef enum {
    VNUMA_MOVE_BALANCE,   /* relieve CPU contention */
    VNUMA_MOVE_LOCALITY,  /* go where the memory is */
    VNUMA_MOVE_SWAP,      /* exchange two clients' home nodes */
    VNUMA_MOVE_KIND_LAST
} VnumaMoveKind;

typedef struct {
    guint id;
    double capacity;          /* usable CPUs */
    /* A node without memory of its own (CPU-only): its clients' memory
     * lives on node index @memory_node, so that is where "local" is. */
    gboolean cpu_only;
    guint memory_node;
} VnumaRebalanceNode;

typedef struct {
    guint id;                 /* the caller's handle */
    guint home;               /* node index (into the nodes array) */
    double demand;            /* CPUs used over the last period */
    const guint64 *memory_kib;/* per node index: where its memory is */
    double last_move;         /* time of its last move, s; < 0: never moved */
    guint vcpus;              /* its vCPUs; 0: unknown */
} VnumaRebalanceClient;

typedef struct {
    double half_life;         /* s: demand is smoothed (EWMA) so short bursts move nothing */
    double sustained_half_life; /* s: a node whose demand averaged this slowly exceeds its CPUs is
                                 * in sustained overload, and may shed vCPUs past an even commitment */
    double hysteresis;        /* load imbalance (busiest − idlest, per CPU) below which no balance move */
    double min_residency;     /* s a client stays on a node after a move */
    guint budget;             /* moves allowed per budget window */
    double budget_window;     /* s */
    guint max_moves_per_pass;
    double horizon;           /* s over which a move's gain is counted */
    double remote_penalty;    /* extra cost of a remote access, as a fraction of CPU time */
    double cost_per_gib;      /* CPU-seconds to migrate one GiB */
    double cost_fixed;        /* CPU-seconds of cache warm-up per move */
} VnumaRebalanceParams;

typedef struct {
    VnumaMoveKind kind;
    guint client;             /* index into the clients array */
    guint other;              /* swap: the second client's index */
    guint from;               /* node index */
    guint to;                 /* node index */
    double gain;              /* CPU-seconds over the horizon */
    double cost;              /* CPU-seconds */
} VnumaMove;

typedef struct _VnumaRebalancer VnumaRebalancer;

void vnuma_rebalance_params_init(VnumaRebalanceParams *params);

VnumaRebalancer *vnuma_rebalancer_new(const VnumaRebalanceParams *params);
void vnuma_rebalancer_free(VnumaRebalancer *rebalancer);

/* One pass at time @now (s). Returns the moves to apply (VnumaMove),
 * best first; @clients' home and last_move are updated as if applied.
 * Decisions use each client's smoothed demand (kept by client id across
 * passes), not the last sample. */
GArray *vnuma_rebalancer_pass(VnumaRebalancer *rebalancer,
                              const VnumaRebalanceNode *nodes, guint n_nodes,
                              VnumaRebalanceClient *clients, guint n_clients, double now);

/* Fraction of a client's memory on its home node (1 when it has none). */
double vnuma_client_locality(const VnumaRebalanceClient *client, guint n_nodes);

VNUMA_ENUM_DECL(vnuma_move_kind, VnumaMoveKind);

/* The rebalancer's nodes for @host (g_free), in host->nodes order:
 * @capacity usable CPUs per node index, and a CPU-only node's memory
 * node (its clients' memory is there). The agent's and the simulator's
 * input alike. */
VnumaRebalanceNode *vnuma_rebalance_nodes_new(const VnumaHost *host, const double *capacity);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(VnumaRebalancer, vnuma_rebalancer_free)

G_END_DECLS
