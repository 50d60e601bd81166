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
        const VnumaHostNode *node = host->nodes->pdata[i];
        guint cpus = vnuma_cpuset_count(usable->pdata[i]);

        if (cpus == 0)
            continue;
        g_array_append_val(candidates, i);
        for (guint l = 0; l < n_loads; l++) {
            if (loads[l].node_id == node->id) {
                cpu_load[i] = loads[l].vcpus / cpus;
                mem_load[i] = loads[l].memory_kib;
            }
        }
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

void
vnuma_placement_run(const VnumaHost *host, VnumaLayout *layout, const VnumaNodeLoad *loads,
                    guint n_loads)
{
    g_autoptr(GArray) chosen = NULL;
    g_autofree gint64 *room = NULL;
    guint k = layout->clients->len;

    if (!layout->managed || k == 0)
        return;
    chosen = vnuma_placement_choose_nodes(host, layout->usable, k, loads, n_loads);
    if (chosen->len == 0)
        return;
    if (chosen->len < k)
        vnuma_layout_warn(layout, "%u clients share %u usable host nodes", k, chosen->len);
    room = g_new0(gint64, chosen->len);
    for (guint c = 0; c < chosen->len; c++)
        room[c] = vnuma_cpuset_count(layout->usable->pdata[g_array_index(chosen, guint, c)]);
    for (guint i = 0; i < k; i++) {
        VnumaClient *client = layout->clients->pdata[i];
        guint pick = chosen->len < k ? roomiest(room, chosen->len) : i;
        guint index = g_array_index(chosen, guint, pick);
        const VnumaHostNode *node = host->nodes->pdata[index];

        room[pick] -= vnuma_cpuset_count(client->vcpus);
        client->home_node = (gint) node->id;
        vnuma_cpuset_free(client->cpus);
        client->cpus = vnuma_cpuset_copy(layout->usable->pdata[index]);
    }
    vnuma_layout_note(layout, "placement: %u client(s) on the node set with the least SLIT distance, "
                      "then load, then lowest id", k);
}
