/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "lib/vnuma-rebalance.h"

#include <math.h>

#define KIB_PER_GIB (1024.0 * 1024.0)

typedef struct {
    double demand;
    double sustained;         /* the demand averaged over sustained_half_life */
    guint64 pass;             /* last pass that saw the client */
} Smoothed;

/* Per node index, during a pass: of the clients homed there. */
typedef struct {
    double sustained;         /* their sustained demand */
    double committed;         /* their vCPUs */
} NodeCommitment;

struct _VnumaRebalancer {
    VnumaRebalanceParams params;
    GArray *recent;           /* double: times of moves still inside the budget window */
    GHashTable *smoothed;     /* client id -> Smoothed */
    guint64 pass;
    double last_pass;
    const VnumaRebalanceNode *nodes;   /* during a pass */
    NodeCommitment *commitment;        /* during a pass, per node index */
    double *sustained;                 /* during a pass, per client index */
};

void
vnuma_rebalance_params_init(VnumaRebalanceParams *params)
{
    *params = (VnumaRebalanceParams) {
        .half_life = 30.0,
        .sustained_half_life = 120.0,
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

VnumaRebalanceNode *
vnuma_rebalance_nodes_new(const VnumaHost *host, const double *capacity)
{
    VnumaRebalanceNode *nodes = g_new0(VnumaRebalanceNode, MAX(host->nodes->len, 1));

    for (guint i = 0; i < host->nodes->len; i++) {
        guint id = ((const VnumaHostNode *) host->nodes->pdata[i])->id;
        guint memory_id = vnuma_host_memory_node(host, id);

        nodes[i] = (VnumaRebalanceNode) {
            .id = id,
            .capacity = capacity[i],
            .cpu_only = memory_id != id,
            .memory_node = (guint) MAX(vnuma_host_node_index(host, memory_id), 0),
        };
    }
    return nodes;
}

/* Also the names of the record's, the metrics' and the report's counts. */
VNUMA_ENUM_IMPL(vnuma_move_kind, VnumaMoveKind, VNUMA_MOVE_KIND_LAST, "balance", "locality", "swap");

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

/* Locality if the client, of @total KiB, lived on @node. */
static double
locality_on(const VnumaRebalancer *rb, const VnumaRebalanceClient *client, guint64 total, guint node)
{
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
memory_cost(const VnumaRebalancer *rb, const VnumaRebalanceClient *c, guint64 total, guint node)
{
    double gib = (double) total / KIB_PER_GIB;

    return (1.0 - locality_on(rb, c, total, node)) * gib * rb->params.cost_per_gib;
}

/* Until it is copied — on average half the horizon — those accesses are
 * remote. CPU-seconds over the horizon. */
static double
access_cost(const VnumaRebalancer *rb, const VnumaRebalanceClient *c, guint64 total, guint node)
{
    return (1.0 - locality_on(rb, c, total, node)) * c->demand * rb->params.remote_penalty *
           rb->params.horizon / 2.0;
}

/* Remote accesses avoided by living on @to instead of at home. */
static double
locality_gain(const VnumaRebalancer *rb, const VnumaRebalanceClient *c, guint64 total, guint to)
{
    return access_cost(rb, c, total, c->home) - access_cost(rb, c, total, to);
}

/* Staying also means copying the remote memory home, so a move costs
 * only the difference (negative when the memory already sits at @to:
 * that is what makes a locality migration cheap), plus the warm-up. */
static double
move_cost(const VnumaRebalancer *rb, const VnumaRebalanceClient *c, guint64 total, guint to)
{
    return rb->params.cost_fixed + memory_cost(rb, c, total, to) - memory_cost(rb, c, total, c->home);
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

/* Whether shifting @vcpus committed vCPUs from node @p to node @q (the
 * other way when negative) keeps the pair's commitment: the higher of
 * their vCPUs per CPU grows by at most one vCPU of the smaller node, or
 * the node giving them up is in sustained overload. On a host of bursty
 * VMs, the committed vCPUs are what predicts where the next burst
 * contends; a move made for a passing burst leaves them uneven for good
 * (docs/BENCHMARKS.md, issue 17). */
static gboolean
commitment_kept(const VnumaRebalancer *rb, const VnumaRebalanceNode *nodes, guint p, guint q, double vcpus)
{
    const NodeCommitment *lp = &rb->commitment[p], *lq = &rb->commitment[q];
    guint giver = vcpus > 0 ? p : q;
    double before, after;

    /* A node without CPUs has no commitment per CPU to keep. */
    if (vcpus == 0 || nodes[p].capacity <= 0 || nodes[q].capacity <= 0 ||
        rb->commitment[giver].sustained > nodes[giver].capacity)
        return TRUE;
    before = MAX(lp->committed / nodes[p].capacity, lq->committed / nodes[q].capacity);
    after = MAX((lp->committed - vcpus) / nodes[p].capacity, (lq->committed + vcpus) / nodes[q].capacity);
    return after <= before + 1.0 / MIN(nodes[p].capacity, nodes[q].capacity) + 1e-9;
}

static gboolean
imbalanced(const VnumaRebalancer *rb, const VnumaRebalanceNode *nodes, const double *load,
           guint from, guint to)
{
    return load[from] / nodes[from].capacity - load[to] / nodes[to].capacity > rb->params.hysteresis;
}

/* The best move so far. Among moves of equal worth the first in the
 * order of the exhaustive search wins (client by client: its single
 * moves, then its swaps with later clients), so that bounding the swap
 * search changes no decision where the bound is not reached. */
typedef struct {
    VnumaMove move;
    double worth;             /* gain − cost */
    guint64 order;
} Best;

static guint64
search_order(guint client, gboolean swap, guint second)
{
    return ((guint64) client << 33) | ((guint64) swap << 32) | second;
}

static void
offer(Best *best, const VnumaMove *move, guint64 order)
{
    double worth = move->gain - move->cost;

    if (worth > best->worth || (worth == best->worth && order < best->order)) {
        best->move = *move;
        best->worth = worth;
        best->order = order;
    }
}

/* Swap candidates. A swap of a (home p) and b (home q) is worth
 * s(a→q) + s(b→p) + g(d_a − d_b): each client's own locality gain
 * minus its move cost, plus the contention relieved, which depends only
 * on the demand exchanged. g is concave and piecewise linear with
 * slopes +H, 0 and −H (H the horizon): on each piece the worth is a sum
 * of one term per client, so the best pairs of a piece are among the
 * best clients of each side ranked by s + slope × demand. A pass keeps,
 * per ordered node pair and slope, the SWAP_CANDIDATES best such
 * clients, and weighs exactly every pair of the kept ones: the search is
 * linear in clients, and exhaustive while a node pair has no more
 * eligible clients than that. */
#define SWAP_CANDIDATES 8
#define SWAP_SLOPES 3

typedef struct {
    guint client;
    double rank;
    double locality;          /* locality_gain to the other node */
    double cost;              /* move_cost to the other node */
} Candidate;

typedef struct {
    guint len;
    Candidate kept[SWAP_CANDIDATES];   /* best rank first */
} Shortlist;

/* Ties keep the earlier client: clients arrive in index order. */
static void
shortlist_offer(Shortlist *list, const Candidate *candidate)
{
    guint at;

    if (list->len == SWAP_CANDIDATES && candidate->rank <= list->kept[SWAP_CANDIDATES - 1].rank)
        return;
    at = MIN(list->len, SWAP_CANDIDATES - 1);
    while (at > 0 && list->kept[at - 1].rank < candidate->rank) {
        list->kept[at] = list->kept[at - 1];
        at--;
    }
    list->kept[at] = *candidate;
    list->len = MIN(list->len + 1, SWAP_CANDIDATES);
}

typedef struct {
    guint n_nodes;
    Shortlist *lists;         /* [from][to][slope] */
} SwapCandidates;

static Shortlist *
shortlist_of(const SwapCandidates *sc, guint from, guint to, guint slope)
{
    return &sc->lists[(from * sc->n_nodes + to) * SWAP_SLOPES + slope];
}

/* @c may swap into @to if it has memory there: else a swap is two moves. */
static void
candidates_offer(SwapCandidates *sc, const VnumaRebalancer *rb, const VnumaRebalanceClient *clients,
                 guint i, guint to, double locality, double cost)
{
    const VnumaRebalanceClient *c = &clients[i];
    static const double slopes[SWAP_SLOPES] = { 0.0, 1.0, -1.0 };

    if (!c->memory_kib || !c->memory_kib[memory_of(rb, to)])
        return;
    for (guint s = 0; s < SWAP_SLOPES; s++) {
        Candidate candidate = {
            i, locality - cost + slopes[s] * rb->params.horizon * c->demand, locality, cost,
        };

        shortlist_offer(shortlist_of(sc, c->home, to, s), &candidate);
    }
}

/* The kept candidates of every slope for clients of @from into @to,
 * each once. Returns how many. */
static guint
candidates_union(const SwapCandidates *sc, guint from, guint to, Candidate *out)
{
    guint n = 0;

    for (guint s = 0; s < SWAP_SLOPES; s++) {
        const Shortlist *list = shortlist_of(sc, from, to, s);

        for (guint k = 0; k < list->len; k++) {
            guint seen = 0;

            while (seen < n && out[seen].client != list->kept[k].client)
                seen++;
            if (seen == n)
                out[n++] = list->kept[k];
        }
    }
    return n;
}

/* Single moves of client @i to every node, and its swap candidacies. */
static void
consider_single(const VnumaRebalancer *rb, const VnumaRebalanceNode *nodes, guint n_nodes,
                const double *load, const VnumaRebalanceClient *clients, guint i, guint64 total,
                SwapCandidates *sc, Best *best)
{
    const VnumaRebalanceClient *c = &clients[i];

    for (guint to = 0; to < n_nodes; to++) {
        double balance, locality, gain, cost;

        if (to == c->home)
            continue;
        locality = locality_gain(rb, c, total, to);
        cost = move_cost(rb, c, total, to);
        candidates_offer(sc, rb, clients, i, to, locality, cost);
        if (nodes[to].capacity <= 0)
            continue;
        balance = balance_gain(rb, nodes, load, c->home, to, c->demand);
        /* Below the hysteresis, load differences are noise; a burst
         * does not justify uneven commitment: then only locality may
         * justify a move, and it must not add contention. */
        if (!imbalanced(rb, nodes, load, c->home, to) ||
            !commitment_kept(rb, nodes, c->home, to, c->vcpus))
            balance = MIN(balance, 0.0);
        gain = balance + locality;
        offer(best, &(VnumaMove) {
            .kind = balance > 0 ? VNUMA_MOVE_BALANCE : VNUMA_MOVE_LOCALITY,
            .client = i, .other = i, .from = c->home, .to = to, .gain = gain, .cost = cost,
        }, search_order(i, FALSE, to));
    }
}

/* The swap of @a and @b (a the earlier client), from their kept terms. */
static void
consider_swap(const VnumaRebalancer *rb, const VnumaRebalanceNode *nodes, const double *load,
              const VnumaRebalanceClient *clients, const Candidate *a, const Candidate *b, Best *best)
{
    const VnumaRebalanceClient *ca = &clients[a->client];
    const VnumaRebalanceClient *cb = &clients[b->client];
    guint na = ca->home, nb = cb->home;
    double before, after, balance;

    before = contention(load[na], nodes[na].capacity) + contention(load[nb], nodes[nb].capacity);
    after = contention(load[na] - ca->demand + cb->demand, nodes[na].capacity) +
            contention(load[nb] - cb->demand + ca->demand, nodes[nb].capacity);
    balance = (before - after) * rb->params.horizon;
    if (!commitment_kept(rb, nodes, na, nb, (double) ca->vcpus - (double) cb->vcpus))
        balance = MIN(balance, 0.0);
    offer(best, &(VnumaMove) {
        .kind = VNUMA_MOVE_SWAP, .client = a->client, .other = b->client, .from = na, .to = nb,
        .gain = balance + a->locality + b->locality,
        .cost = a->cost + b->cost,
    }, search_order(a->client, TRUE, b->client));
}

/* Every pair of the kept candidates of nodes @p and @q. */
static void
consider_swaps_between(const VnumaRebalancer *rb, const VnumaRebalanceNode *nodes, const double *load,
                       const VnumaRebalanceClient *clients, const SwapCandidates *sc, guint p, guint q,
                       Best *best)
{
    Candidate from_p[SWAP_CANDIDATES * SWAP_SLOPES], from_q[SWAP_CANDIDATES * SWAP_SLOPES];
    guint n_p = candidates_union(sc, p, q, from_p), n_q = candidates_union(sc, q, p, from_q);

    for (guint x = 0; x < n_p; x++) {
        for (guint y = 0; y < n_q; y++) {
            if (from_p[x].client < from_q[y].client)
                consider_swap(rb, nodes, load, clients, &from_p[x], &from_q[y], best);
            else
                consider_swap(rb, nodes, load, clients, &from_q[y], &from_p[x], best);
        }
    }
}

/* The best move of a pass: every single move, and the swaps of the kept
 * candidates. */
static Best
best_move(const VnumaRebalancer *rb, const VnumaRebalanceNode *nodes, guint n_nodes, const double *load,
          const VnumaRebalanceClient *clients, guint n_clients, const guint64 *totals, double now)
{
    Best best = { .worth = 0, .order = G_MAXUINT64 };
    g_autofree Shortlist *lists = g_new0(Shortlist, (gsize) n_nodes * n_nodes * SWAP_SLOPES);
    SwapCandidates sc = { n_nodes, lists };

    for (guint i = 0; i < n_clients; i++) {
        if (clients[i].home < n_nodes && resident_long_enough(rb, &clients[i], now))
            consider_single(rb, nodes, n_nodes, load, clients, i, totals[i], &sc, &best);
    }
    for (guint p = 0; p < n_nodes; p++) {
        for (guint q = p + 1; q < n_nodes; q++)
            consider_swaps_between(rb, nodes, load, clients, &sc, p, q, &best);
    }
    return best;
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

/* Client @i's demand and vCPUs leave node @from for node @to. */
static void
shift(VnumaRebalancer *rb, double *load, const VnumaRebalanceClient *clients, guint i, guint from, guint to)
{
    load[from] -= clients[i].demand;
    load[to] += clients[i].demand;
    rb->commitment[from].sustained -= rb->sustained[i];
    rb->commitment[to].sustained += rb->sustained[i];
    rb->commitment[from].committed -= clients[i].vcpus;
    rb->commitment[to].committed += clients[i].vcpus;
}

static void
apply(VnumaRebalancer *rb, const VnumaMove *move, double *load, VnumaRebalanceClient *clients,
      double now)
{
    VnumaRebalanceClient *a = &clients[move->client];

    shift(rb, load, clients, move->client, move->from, move->to);
    a->home = move->to;
    a->last_move = now;
    g_array_append_val(rb->recent, now);
    if (move->kind == VNUMA_MOVE_SWAP) {
        VnumaRebalanceClient *b = &clients[move->other];

        shift(rb, load, clients, move->other, move->to, move->from);
        b->home = move->from;
        b->last_move = now;
        g_array_append_val(rb->recent, now);
    }
}

static double
ewma_weight(double dt, double half_life)
{
    return half_life > 0 ? 1.0 - exp2(-dt / half_life) : 1.0;
}

/* Replaces each client's demand sample by its exponentially weighted
 * average, keeps its sustained average in rb->sustained, and forgets
 * clients that are gone. */
static void
smooth_demand(VnumaRebalancer *rb, VnumaRebalanceClient *clients, guint n_clients, double now)
{
    double dt = rb->pass ? MAX(now - rb->last_pass, 0.0) : 0.0;
    double weight = ewma_weight(dt, rb->params.half_life);
    double slow = ewma_weight(dt, rb->params.sustained_half_life);
    GHashTableIter iter;
    gpointer value;

    rb->pass++;
    rb->last_pass = now;
    for (guint i = 0; i < n_clients; i++) {
        Smoothed *s = g_hash_table_lookup(rb->smoothed, GUINT_TO_POINTER(clients[i].id));

        if (!s) {
            s = g_new0(Smoothed, 1);
            s->demand = s->sustained = clients[i].demand;
            g_hash_table_insert(rb->smoothed, GUINT_TO_POINTER(clients[i].id), s);
        } else {
            s->demand += (clients[i].demand - s->demand) * weight;
            s->sustained += (clients[i].demand - s->sustained) * slow;
        }
        s->pass = rb->pass;
        clients[i].demand = s->demand;
        rb->sustained[i] = s->sustained;
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
    g_autofree guint64 *totals = g_new(guint64, MAX(n_clients, 1));
    g_autofree NodeCommitment *commitment = g_new0(NodeCommitment, MAX(n_nodes, 1));
    g_autofree double *sustained = g_new0(double, MAX(n_clients, 1));

    rb->nodes = nodes;
    rb->commitment = commitment;
    rb->sustained = sustained;
    smooth_demand(rb, clients, n_clients, now);
    for (guint i = 0; i < n_clients; i++) {
        if (clients[i].home < n_nodes) {
            load[clients[i].home] += clients[i].demand;
            commitment[clients[i].home].sustained += sustained[i];
            commitment[clients[i].home].committed += clients[i].vcpus;
        }
    }
    for (guint i = 0; i < n_clients; i++)
        totals[i] = total_memory(&clients[i], n_nodes);
    while (moves->len < rb->params.max_moves_per_pass) {
        Best best = best_move(rb, nodes, n_nodes, load, clients, n_clients, totals, now);

        if (best.worth <= 0 ||
            !budget_left(rb, now, best.move.kind == VNUMA_MOVE_SWAP ? 2 : 1))
            break;
        apply(rb, &best.move, load, clients, now);
        g_array_append_val(moves, best.move);
    }
    rb->nodes = NULL;
    rb->commitment = NULL;
    rb->sustained = NULL;
    return moves;
}
