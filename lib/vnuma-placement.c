/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "lib/vnuma-placement.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Beyond this many candidate sets, search greedily instead of
 * exhaustively (C(16,8) = 12870 is still exhaustive). */
#define EXHAUSTIVE_LIMIT 20000u

typedef struct {
    const VnumaHost *host;
    GArray *candidates;          /* guint node indexes with usable CPUs */
    double *cpu_load;            /* per node index: committed vCPUs per usable CPU */
    guint64 *mem_load;           /* per node index */
} PlacementInput;

typedef struct {
    guint64 distance;
    double cpu;
    guint64 mem;
} SetScore;

static guint
node_id_at(const VnumaHost *host, guint index)
{
    return ((const VnumaHostNode *) host->nodes->pdata[index])->id;
}

/* The committed load of the node at @index, or NULL (the last entry,
 * should @loads name a node twice). */
static const VnumaNodeLoad *
load_of(const VnumaHost *host, guint index, const VnumaNodeLoad *loads, guint n_loads)
{
    const VnumaNodeLoad *found = NULL;

    for (guint l = 0; l < n_loads; l++) {
        if (loads[l].node_id == node_id_at(host, index))
            found = &loads[l];
    }
    return found;
}

/* Committed vCPUs per usable CPU of a node with @load (NULL: none). */
static double
node_cpu_load(const VnumaNodeLoad *load, const VnumaCpuSet *usable)
{
    guint cpus = vnuma_cpuset_count(usable);

    return load && cpus ? load->vcpus / cpus : 0;
}

static SetScore
score_set(const PlacementInput *in, const guint *set, guint count)
{
    SetScore score = { 0, 0.0, 0 };

    for (guint i = 0; i < count; i++) {
        const VnumaHostNode *a = in->host->nodes->pdata[set[i]];

        score.cpu += in->cpu_load[set[i]];
        score.mem += in->mem_load[set[i]];
        for (guint j = i + 1; j < count; j++) {
            const VnumaHostNode *b = in->host->nodes->pdata[set[j]];

            score.distance += vnuma_host_distance(in->host, a->id, b->id);
        }
    }
    return score;
}

/* Strictly better; equal scores keep the earlier (lower-id) set. */
static gboolean
score_better(const SetScore *a, const SetScore *b)
{
    if (a->distance != b->distance)
        return a->distance < b->distance;
    /* Loads are sums of ratios: equal loads may differ in the last bit. */
    if (fabs(a->cpu - b->cpu) > 1e-9)
        return a->cpu < b->cpu;
    return a->mem < b->mem;
}

static guint64
binomial(guint n, guint k)
{
    guint64 result = 1;

    for (guint i = 1; i <= k; i++) {
        result = result * (n - k + i) / i;
        if (result > G_MAXUINT32)
            return G_MAXUINT32;
    }
    return result;
}

/* Enumerates k-subsets of the candidates in lexicographic order. */
static void
choose_exhaustive(const PlacementInput *in, guint k, guint *best)
{
    guint n = in->candidates->len;
    g_autofree guint *pick = g_new(guint, k);
    g_autofree guint *set = g_new(guint, k);
    SetScore best_score = { G_MAXUINT64, 0, 0 };

    for (guint i = 0; i < k; i++)
        pick[i] = i;
    for (;;) {
        SetScore score;
        gint i;

        for (guint j = 0; j < k; j++)
            set[j] = g_array_index(in->candidates, guint, pick[j]);
        score = score_set(in, set, k);
        if (score_better(&score, &best_score)) {
            best_score = score;
            memcpy(best, set, k * sizeof(guint));
        }
        for (i = (gint) k - 1; i >= 0 && pick[i] == n - k + (guint) i; i--)
            ;
        if (i < 0)
            break;
        pick[i]++;
        for (guint j = (guint) i + 1; j < k; j++)
            pick[j] = pick[j - 1] + 1;
    }
}

static gint
compare_uint(gconstpointer a, gconstpointer b)
{
    guint x = *(const guint *) a, y = *(const guint *) b;

    return (x > y) - (x < y);
}

/* From each seed, grow the set by the node that adds the least. */
static void
choose_greedy(const PlacementInput *in, guint k, guint *best)
{
    guint n = in->candidates->len;
    g_autofree guint *set = g_new(guint, k);
    g_autofree gboolean *used = g_new(gboolean, in->host->nodes->len);
    SetScore best_score = { G_MAXUINT64, 0, 0 };

    for (guint seed = 0; seed < n; seed++) {
        SetScore score;

        memset(used, 0, in->host->nodes->len * sizeof(gboolean));
        set[0] = g_array_index(in->candidates, guint, seed);
        used[set[0]] = TRUE;
        for (guint size = 1; size < k; size++) {
            SetScore step_best = { G_MAXUINT64, 0, 0 };
            guint pick = 0;

            for (guint c = 0; c < n; c++) {
                guint node = g_array_index(in->candidates, guint, c);

                if (used[node])
                    continue;
                set[size] = node;
                score = score_set(in, set, size + 1);
                if (score_better(&score, &step_best)) {
                    step_best = score;
                    pick = node;
                }
            }
            set[size] = pick;
            used[pick] = TRUE;
        }
        qsort(set, k, sizeof(guint), (GCompareFunc) compare_uint);
        score = score_set(in, set, k);
        if (score_better(&score, &best_score)) {
            best_score = score;
            memcpy(best, set, k * sizeof(guint));
        }
    }
}

GArray *
vnuma_placement_choose_nodes(const VnumaHost *host, const GPtrArray *usable, guint count,
                             const VnumaNodeLoad *loads, guint n_loads)
{
    guint nodes = host->nodes->len;
    g_autofree double *cpu_load = g_new0(double, nodes);
    g_autofree guint64 *mem_load = g_new0(guint64, nodes);
    g_autoptr(GArray) candidates = g_array_new(FALSE, FALSE, sizeof(guint));
    PlacementInput in = { host, candidates, cpu_load, mem_load };
    GArray *chosen = g_array_new(FALSE, FALSE, sizeof(guint));
    guint k;

    for (guint i = 0; i < nodes; i++) {
        const VnumaNodeLoad *load;

        if (vnuma_cpuset_is_empty(usable->pdata[i]))
            continue;
        g_array_append_val(candidates, i);
        load = load_of(host, i, loads, n_loads);
        cpu_load[i] = node_cpu_load(load, usable->pdata[i]);
        mem_load[i] = load ? load->memory_kib : 0;
    }
    if (candidates->len == 0 || count == 0)
        return chosen;
    k = MIN(count, candidates->len);
    g_array_set_size(chosen, k);
    if (binomial(candidates->len, k) <= EXHAUSTIVE_LIMIT)
        choose_exhaustive(&in, k, (guint *) (void *) chosen->data);
    else
        choose_greedy(&in, k, (guint *) (void *) chosen->data);
    return chosen;
}

/* More clients than nodes: each goes where most usable threads are left
 * (the first such node on a tie), so no node takes more vCPUs than its
 * threads while another still has room. */
static guint
roomiest(const gint64 *room, guint n)
{
    guint best = 0;

    for (guint c = 1; c < n; c++) {
        if (room[c] > room[best])
            best = c;
    }
    return best;
}

/* What is left on each host node (indexed like host->nodes) as clients
 * are homed: usable threads less online vCPUs, memory less what this
 * layout and the committed load put there. A CPU-only node's clients
 * take their memory from its nearest memory node (vnuma_host_memory_node),
 * so their memory is counted there. */
typedef struct {
    gint64 *threads;
    gint64 *memory_kib;
    guint *memory_at;            /* per node index: index of its memory node */
} NodeRoom;

static void
node_room_init(NodeRoom *room, const VnumaHost *host, const VnumaLayout *layout,
               const VnumaNodeLoad *loads, guint n_loads)
{
    guint nodes = host->nodes->len;

    room->threads = g_new0(gint64, nodes);
    room->memory_kib = g_new0(gint64, nodes);
    room->memory_at = g_new0(guint, nodes);
    for (guint i = 0; i < nodes; i++) {
        const VnumaHostNode *node = host->nodes->pdata[i];

        room->threads[i] = vnuma_cpuset_count(layout->usable->pdata[i]);
        room->memory_kib[i] = (gint64) vnuma_layout_node_memory_kib(layout, node);
        room->memory_at[i] = (guint) MAX(vnuma_host_node_index(host, vnuma_host_memory_node(host, node->id)), 0);
    }
    for (guint i = 0; i < nodes; i++) {
        const VnumaHostNode *node = host->nodes->pdata[i];

        for (guint l = 0; l < n_loads; l++) {
            if (loads[l].node_id == node->id)
                room->memory_kib[room->memory_at[i]] -= (gint64) loads[l].memory_kib;
        }
    }
}

/* The memory left for a client homed on the node at @index. */
static gint64
room_memory_kib(const NodeRoom *room, guint index)
{
    return room->memory_kib[room->memory_at[index]];
}

static void
node_room_clear(NodeRoom *room)
{
    g_free(room->threads);
    g_free(room->memory_kib);
    g_free(room->memory_at);
}

static guint
online_count(const VnumaLayout *layout, const VnumaClient *client)
{
    g_autoptr(VnumaCpuSet) online = vnuma_cpuset_copy(client->vcpus);

    vnuma_cpuset_intersect(online, layout->online);
    return vnuma_cpuset_count(online);
}

static void
home_client(const VnumaHost *host, VnumaLayout *layout, NodeRoom *room, VnumaClient *client,
            guint index)
{
    client->home_node = (gint) node_id_at(host, index);
    vnuma_cpuset_free(client->cpus);
    client->cpus = vnuma_cpuset_copy(layout->usable->pdata[index]);
    room->threads[index] -= online_count(layout, client);
    room->memory_kib[room->memory_at[index]] -= (gint64) client->memory_kib;
}

/* Hot-plug headroom (vCPUs beyond <vcpu current>, all offline) and vCPUs
 * libvirt counts in cell 0 do not choose nodes of their own: a running
 * guest's memory would sit on nodes its vCPUs never use (2 of 16 online
 * put half of it there). They follow the clients they belong with. */
static gboolean
client_follows(const VnumaLayout *layout, const VnumaClient *client)
{
    return client->home_with >= 0 || !vnuma_cpuset_intersects(client->vcpus, layout->online);
}

static gboolean
room_fits(const VnumaLayout *layout, const NodeRoom *room, guint index, const VnumaClient *client)
{
    return room->threads[index] >= (gint64) online_count(layout, client) &&
           room_memory_kib(room, index) >= (gint64) client->memory_kib;
}

/* A client's home (-1: none yet) as an index into host->nodes, or -1. */
static gint
node_index(const VnumaHost *host, gint node_id)
{
    return node_id < 0 ? -1 : vnuma_host_node_index(host, (guint) node_id);
}

/* The node a following client goes to: among @targets (its anchor's node,
 * or the nodes of the online clients) the one with most memory left that
 * holds it; else the nearest usable node that holds it; else the target
 * with most memory left (remote memory then is unavoidable and warned). */
static guint
follower_node(const VnumaHost *host, const VnumaLayout *layout, const NodeRoom *room,
              const GArray *targets, const VnumaClient *client)
{
    g_autoptr(VnumaCpuSet) target_ids = vnuma_cpuset_new();
    gint best = -1;

    for (guint t = 0; t < targets->len; t++) {
        guint index = g_array_index(targets, guint, t);

        vnuma_cpuset_add(target_ids, node_id_at(host, index));
        if (room_fits(layout, room, index, client) &&
            (best < 0 || room_memory_kib(room, index) > room_memory_kib(room, (guint) best)))
            best = (gint) index;
    }
    /* No target holds it: the nearest usable node that does (the first
     * of equals). */
    if (best < 0) {
        guint64 best_distance = 0;

        for (guint i = 0; i < host->nodes->len; i++) {
            guint64 distance;

            if (vnuma_cpuset_is_empty(layout->usable->pdata[i]) || !room_fits(layout, room, i, client))
                continue;
            distance = vnuma_host_distance_sum(host, node_id_at(host, i), target_ids);
            if (best < 0 || distance < best_distance) {
                best = (gint) i;
                best_distance = distance;
            }
        }
    }
    for (guint t = 0; best < 0 && t < targets->len; t++) {
        guint index = g_array_index(targets, guint, t);

        if (best < 0 || room_memory_kib(room, index) > room_memory_kib(room, (guint) best))
            best = (gint) index;
    }
    return (guint) MAX(best, 0);
}

/* A key to sort by, and the position it belongs to. */
typedef struct {
    double key;
    guint at;
} Ranked;

/* Ascending key; equal keys keep their positions' order. */
static gint
compare_ranked(gconstpointer a, gconstpointer b)
{
    const Ranked *x = a, *y = b;

    if (fabs(x->key - y->key) > 1e-9)
        return x->key < y->key ? -1 : 1;
    return (x->at > y->at) - (x->at < y->at);
}

/* One client per chosen node. The set's distance and load do not depend
 * on which client takes which node, so the client with most online vCPUs
 * takes the least loaded node, as a greedy spread would. Equal clients
 * keep client order and equal nodes id order: on an idle host client i
 * still gets the i-th node. */
static void
order_by_load(const VnumaHost *host, const VnumaLayout *layout, const GPtrArray *leaders,
              GArray *chosen, const VnumaNodeLoad *loads, guint n_loads)
{
    guint k = chosen->len;
    g_autofree Ranked *clients = g_new(Ranked, k);
    g_autofree Ranked *nodes = g_new(Ranked, k);
    g_autofree guint *index = g_memdup2(chosen->data, k * sizeof(guint));

    for (guint i = 0; i < k; i++) {
        /* Negated: the most online vCPUs first. */
        clients[i] = (Ranked) { -(double) online_count(layout, leaders->pdata[i]), i };
        nodes[i] = (Ranked) { node_cpu_load(load_of(host, index[i], loads, n_loads),
                                            layout->usable->pdata[index[i]]), i };
    }
    qsort(clients, k, sizeof(Ranked), compare_ranked);
    qsort(nodes, k, sizeof(Ranked), compare_ranked);
    for (guint i = 0; i < k; i++)
        g_array_index(chosen, guint, clients[i].at) = index[nodes[i].at];
}

/* The clients choosing nodes by distance, then load (§4). */
static void
place_leaders(const VnumaHost *host, VnumaLayout *layout, const GPtrArray *leaders, NodeRoom *room,
              const VnumaNodeLoad *loads, guint n_loads)
{
    g_autoptr(GArray) chosen = vnuma_placement_choose_nodes(host, layout->usable, leaders->len, loads,
                                                            n_loads);
    g_autofree gint64 *threads = NULL;
    guint k = leaders->len;

    if (chosen->len == 0)
        return;
    if (chosen->len < k)
        vnuma_layout_warn(layout, "%u clients share %u usable host nodes", k, chosen->len);
    if (chosen->len == k)
        order_by_load(host, layout, leaders, chosen, loads, n_loads);
    threads = g_new0(gint64, chosen->len);
    for (guint c = 0; c < chosen->len; c++)
        threads[c] = vnuma_cpuset_count(layout->usable->pdata[g_array_index(chosen, guint, c)]);
    for (guint i = 0; i < k; i++) {
        VnumaClient *client = leaders->pdata[i];
        guint pick = chosen->len < k ? roomiest(threads, chosen->len) : i;

        threads[pick] -= vnuma_cpuset_count(client->vcpus);
        home_client(host, layout, room, client, g_array_index(chosen, guint, pick));
    }
}

void
vnuma_placement_run(const VnumaHost *host, VnumaLayout *layout, const VnumaNodeLoad *loads,
                    guint n_loads)
{
    g_autoptr(GPtrArray) leaders = g_ptr_array_new();
    g_autoptr(GArray) online_nodes = g_array_new(FALSE, FALSE, sizeof(guint));
    NodeRoom room;
    guint followers = 0;

    if (!layout->managed || layout->clients->len == 0)
        return;
    for (guint i = 0; i < layout->clients->len; i++) {
        VnumaClient *client = layout->clients->pdata[i];

        if (!layout->online || !client_follows(layout, client))
            g_ptr_array_add(leaders, client);
    }
    if (leaders->len == 0)
        g_ptr_array_extend(leaders, layout->clients, NULL, NULL);
    node_room_init(&room, host, layout, loads, n_loads);
    place_leaders(host, layout, leaders, &room, loads, n_loads);
    for (guint i = 0; i < leaders->len; i++) {
        guint index = (guint) node_index(host, ((VnumaClient *) leaders->pdata[i])->home_node);

        if (((VnumaClient *) leaders->pdata[i])->home_node >= 0 &&
            !g_array_binary_search(online_nodes, &index, (GCompareFunc) compare_uint, NULL)) {
            g_array_append_val(online_nodes, index);
            g_array_sort(online_nodes, (GCompareFunc) compare_uint);
        }
    }
    for (guint i = 0; online_nodes->len && i < layout->clients->len; i++) {
        VnumaClient *client = layout->clients->pdata[i];
        g_autoptr(GArray) targets = NULL;
        gint anchor;

        if (client->home_node >= 0)
            continue;
        anchor = client->home_with >= 0
                     ? node_index(host, ((VnumaClient *) layout->clients->pdata[client->home_with])->home_node)
                     : -1;
        if (anchor >= 0) {
            targets = g_array_new(FALSE, FALSE, sizeof(guint));
            g_array_append_val(targets, anchor);
        } else {
            targets = g_array_copy(online_nodes);
        }
        home_client(host, layout, &room, client, follower_node(host, layout, &room, targets, client));
        followers++;
    }
    node_room_clear(&room);
    vnuma_layout_note(layout, "placement: %u client(s) on the node set with the least SLIT distance, "
                      "then load, then lowest id", leaders->len);
    if (followers)
        vnuma_layout_note(layout, "placement: %u client(s) of hot-plug headroom or of cell 0 homed "
                          "with the clients they belong with, where memory allows", followers);
}
