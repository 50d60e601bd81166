/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "lib/vnuma-rebalance.h"

#include <math.h>

#define KIB_PER_GIB (1024.0 * 1024.0)

typedef struct {
    double demand;
    guint64 pass;             /* last pass that saw the client */
} Smoothed;

struct _VnumaRebalancer {
    VnumaRebalanceParams params;
    GArray *recent;           /* double: times of moves still inside the budget window */
    GHashTable *smoothed;     /* client id -> Smoothed */
    guint64 pass;
    double last_pass;
    const VnumaRebalanceNode *nodes;   /* during a pass */
};

void
vnuma_rebalance_params_init(VnumaRebalanceParams *params)
{
    *params = (VnumaRebalanceParams) {
        .half_life = 30.0,
        .hysteresis = 0.25,
        .min_residency = 60.0,
        .budget = 4,
        .budget_window = 60.0,
        .max_moves_per_pass = 1,
        .horizon = 30.0,
        .remote_penalty = 0.3,
        .cost_per_gib = 0.5,
        .cost_fixed = 0.5,
    };
}

VnumaRebalancer *
vnuma_rebalancer_new(const VnumaRebalanceParams *params)
{
    VnumaRebalancer *rebalancer = g_new0(VnumaRebalancer, 1);

    rebalancer->params = *params;
    rebalancer->recent = g_array_new(FALSE, FALSE, sizeof(double));
    rebalancer->smoothed = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
    return rebalancer;
}

void
vnuma_rebalancer_free(VnumaRebalancer *rebalancer)
{
    if (!rebalancer)
        return;
    g_array_unref(rebalancer->recent);
    g_hash_table_unref(rebalancer->smoothed);
    g_free(rebalancer);
}

const char *
vnuma_move_kind_to_string(VnumaMoveKind kind)
{
    switch (kind) {
    case VNUMA_MOVE_LOCALITY:
        return "locality";
    case VNUMA_MOVE_SWAP:
        return "swap";
    case VNUMA_MOVE_BALANCE:
    default:
        return "balance";
    }
}

static guint64
total_memory(const VnumaRebalanceClient *client, guint n_nodes)
{
    guint64 total = 0;

    for (guint n = 0; client->memory_kib && n < n_nodes; n++)
        total += client->memory_kib[n];
    return total;
}

double
vnuma_client_locality(const VnumaRebalanceClient *client, guint n_nodes)
{
    guint64 total = total_memory(client, n_nodes);

    return total ? (double) client->memory_kib[client->home] / (double) total : 1.0;
}

/* The node index whose memory is local to a client homed on @node. */
static guint
memory_of(const VnumaRebalancer *rb, guint node)
{
    return rb->nodes && rb->nodes[node].cpu_only ? rb->nodes[node].memory_node : node;
}

/* Locality if the client lived on @node. */
static double
locality_on(const VnumaRebalancer *rb, const VnumaRebalanceClient *client, guint node, guint n_nodes)
{
    guint64 total = total_memory(client, n_nodes);

    return total ? (double) client->memory_kib[memory_of(rb, node)] / (double) total : 1.0;
}

static double
contention(double load, double capacity)
{
    return MAX(0.0, load - capacity);
}

/* Memory follows its client: what is not on @node yet will be copied
 * there. CPU-seconds. */
static double
memory_cost(const VnumaRebalancer *rb, const VnumaRebalanceClient *c, guint node, guint n_nodes)
{
    double gib = (double) total_memory(c, n_nodes) / KIB_PER_GIB;

    return (1.0 - locality_on(rb, c, node, n_nodes)) * gib * rb->params.cost_per_gib;
}

/* Until it is copied — on average half the horizon — those accesses are
 * remote. CPU-seconds over the horizon. */
static double
access_cost(const VnumaRebalancer *rb, const VnumaRebalanceClient *c, guint node, guint n_nodes)
{
    return (1.0 - locality_on(rb, c, node, n_nodes)) * c->demand * rb->params.remote_penalty *
           rb->params.horizon / 2.0;
}

/* Remote accesses avoided by living on @to instead of at home. */
static double
locality_gain(const VnumaRebalancer *rb, const VnumaRebalanceClient *c, guint to, guint n_nodes)
{
    return access_cost(rb, c, c->home, n_nodes) - access_cost(rb, c, to, n_nodes);
}

/* Staying also means copying the remote memory home, so a move costs
 * only the difference (negative when the memory already sits at @to:
 * that is what makes a locality migration cheap), plus the warm-up. */
static double
move_cost(const VnumaRebalancer *rb, const VnumaRebalanceClient *c, guint to, guint n_nodes)
{
    return rb->params.cost_fixed + memory_cost(rb, c, to, n_nodes) -
           memory_cost(rb, c, c->home, n_nodes);
}

static gboolean
resident_long_enough(const VnumaRebalancer *rb, const VnumaRebalanceClient *c, double now)
{
    return c->last_move < 0 || now - c->last_move >= rb->params.min_residency;
}

/* Contention relieved by moving @demand from node @from to node @to. */
static double
balance_gain(const VnumaRebalancer *rb, const VnumaRebalanceNode *nodes, const double *load,
             guint from, guint to, double demand)
{
    double before = contention(load[from], nodes[from].capacity) + contention(load[to], nodes[to].capacity);
    double after = contention(load[from] - demand, nodes[from].capacity) +
                   contention(load[to] + demand, nodes[to].capacity);

    return (before - after) * rb->params.horizon;
}

static gboolean
imbalanced(const VnumaRebalancer *rb, const VnumaRebalanceNode *nodes, const double *load,
           guint from, guint to)
{
    return load[from] / nodes[from].capacity - load[to] / nodes[to].capacity > rb->params.hysteresis;
}

static void
consider_single(const VnumaRebalancer *rb, const VnumaRebalanceNode *nodes, guint n_nodes,
                const double *load, const VnumaRebalanceClient *clients, guint i, VnumaMove *best)
{
    const VnumaRebalanceClient *c = &clients[i];

    for (guint to = 0; to < n_nodes; to++) {
        double balance, locality, gain, cost;

        if (to == c->home || nodes[to].capacity <= 0)
            continue;
        balance = balance_gain(rb, nodes, load, c->home, to, c->demand);
        /* Below the hysteresis, load differences are noise: only
         * locality may justify a move, and it must not add contention. */
        if (!imbalanced(rb, nodes, load, c->home, to))
            balance = MIN(balance, 0.0);
        locality = locality_gain(rb, c, to, n_nodes);
        gain = balance + locality;
        cost = move_cost(rb, c, to, n_nodes);
        if (gain - cost > best->gain - best->cost) {
            *best = (VnumaMove) {
                .kind = balance > 0 ? VNUMA_MOVE_BALANCE : VNUMA_MOVE_LOCALITY,
                .client = i, .other = i, .from = c->home, .to = to, .gain = gain, .cost = cost,
            };
        }
    }
}

static void
consider_swap(const VnumaRebalancer *rb, const VnumaRebalanceNode *nodes, const double *load,
              guint n_nodes, const VnumaRebalanceClient *clients, guint i, guint j, VnumaMove *best)
{
    const VnumaRebalanceClient *a = &clients[i];
    const VnumaRebalanceClient *b = &clients[j];
    guint na = a->home, nb = b->home;
    double before, after, gain, cost;

    /* Each must have memory where the other lives, or a swap is two moves. */
    if (!a->memory_kib || !b->memory_kib || !a->memory_kib[memory_of(rb, nb)] ||
        !b->memory_kib[memory_of(rb, na)])
        return;
    before = contention(load[na], nodes[na].capacity) + contention(load[nb], nodes[nb].capacity);
    after = contention(load[na] - a->demand + b->demand, nodes[na].capacity) +
            contention(load[nb] - b->demand + a->demand, nodes[nb].capacity);
    gain = (before - after) * rb->params.horizon +
           locality_gain(rb, a, nb, n_nodes) + locality_gain(rb, b, na, n_nodes);
    cost = move_cost(rb, a, nb, n_nodes) + move_cost(rb, b, na, n_nodes);
    if (gain - cost > best->gain - best->cost)
        *best = (VnumaMove) {
            .kind = VNUMA_MOVE_SWAP, .client = i, .other = j, .from = na, .to = nb,
            .gain = gain, .cost = cost,
        };
}

static gboolean
budget_left(VnumaRebalancer *rb, double now, guint moves)
{
    guint kept = 0;

    for (guint i = 0; i < rb->recent->len; i++) {
        double t = g_array_index(rb->recent, double, i);

        if (now - t < rb->params.budget_window)
            g_array_index(rb->recent, double, kept++) = t;
    }
    g_array_set_size(rb->recent, kept);
    return kept + moves <= rb->params.budget;
}

static void
apply(VnumaRebalancer *rb, const VnumaMove *move, double *load, VnumaRebalanceClient *clients,
      double now)
{
    VnumaRebalanceClient *a = &clients[move->client];

    load[move->from] -= a->demand;
    load[move->to] += a->demand;
    a->home = move->to;
    a->last_move = now;
    g_array_append_val(rb->recent, now);
    if (move->kind == VNUMA_MOVE_SWAP) {
        VnumaRebalanceClient *b = &clients[move->other];

        load[move->to] -= b->demand;
        load[move->from] += b->demand;
        b->home = move->from;
        b->last_move = now;
        g_array_append_val(rb->recent, now);
    }
}

/* Replaces each client's demand sample by its exponentially weighted
 * average and forgets clients that are gone. */
static void
smooth_demand(VnumaRebalancer *rb, VnumaRebalanceClient *clients, guint n_clients, double now)
{
    double dt = rb->pass ? MAX(now - rb->last_pass, 0.0) : 0.0;
    double weight = rb->params.half_life > 0 ? 1.0 - exp2(-dt / rb->params.half_life) : 1.0;
    GHashTableIter iter;
    gpointer value;

    rb->pass++;
    rb->last_pass = now;
    for (guint i = 0; i < n_clients; i++) {
        Smoothed *s = g_hash_table_lookup(rb->smoothed, GUINT_TO_POINTER(clients[i].id));

        if (!s) {
            s = g_new0(Smoothed, 1);
            s->demand = clients[i].demand;
            g_hash_table_insert(rb->smoothed, GUINT_TO_POINTER(clients[i].id), s);
        } else {
            s->demand += (clients[i].demand - s->demand) * weight;
        }
        s->pass = rb->pass;
        clients[i].demand = s->demand;
    }
    g_hash_table_iter_init(&iter, rb->smoothed);
    while (g_hash_table_iter_next(&iter, NULL, &value)) {
        if (((Smoothed *) value)->pass != rb->pass)
            g_hash_table_iter_remove(&iter);
    }
}

GArray *
vnuma_rebalancer_pass(VnumaRebalancer *rb, const VnumaRebalanceNode *nodes, guint n_nodes,
                      VnumaRebalanceClient *clients, guint n_clients, double now)
{
    GArray *moves = g_array_new(FALSE, FALSE, sizeof(VnumaMove));
    g_autofree double *load = g_new0(double, n_nodes);

    rb->nodes = nodes;
    smooth_demand(rb, clients, n_clients, now);
    for (guint i = 0; i < n_clients; i++) {
        if (clients[i].home < n_nodes)
            load[clients[i].home] += clients[i].demand;
    }
    while (moves->len < rb->params.max_moves_per_pass) {
        VnumaMove best = { .gain = 0, .cost = 0 };
        gboolean found;

        for (guint i = 0; i < n_clients; i++) {
            if (clients[i].home >= n_nodes || !resident_long_enough(rb, &clients[i], now))
                continue;
            consider_single(rb, nodes, n_nodes, load, clients, i, &best);
            for (guint j = i + 1; j < n_clients; j++) {
                if (clients[j].home < n_nodes && clients[j].home != clients[i].home &&
                    resident_long_enough(rb, &clients[j], now))
                    consider_swap(rb, nodes, load, n_nodes, clients, i, j, &best);
            }
        }
        found = best.gain - best.cost > 0;
        if (!found || !budget_left(rb, now, best.kind == VNUMA_MOVE_SWAP ? 2 : 1))
            break;
        apply(rb, &best, load, clients, now);
        g_array_append_val(moves, best);
    }
    rb->nodes = NULL;
    return moves;
}
