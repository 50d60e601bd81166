/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "agent/vnuma-agent-hotadd.h"

static gboolean
has_vcpu_below(const VnumaCpuSet *vcpus, guint limit)
{
    gint first = vnuma_cpuset_first(vcpus);

    return first >= 0 && (guint) first < limit;
}

/* Home nodes of the clients other than @skip with a vCPU below @online. */
static VnumaCpuSet *
online_homes(const VnumaAgentState *state, guint online, guint skip)
{
    VnumaCpuSet *homes = vnuma_cpuset_new();

    for (guint c = 0; c < state->clients->len; c++) {
        const VnumaAgentClient *client = &g_array_index(state->clients, VnumaAgentClient, c);

        if (c != skip && has_vcpu_below(client->vcpus, online))
            vnuma_cpuset_add(homes, client->home_node);
    }
    return homes;
}

/* The free node nearest to @homes; -1 when every usable node is taken. */
static gint
nearest_free_node(const VnumaHost *host, const GPtrArray *usable, const VnumaCpuSet *homes)
{
    gint best = -1;
    guint64 best_distance = 0;
    guint best_threads = 0;

    for (guint i = 0; i < host->nodes->len; i++) {
        guint id = ((const VnumaHostNode *) host->nodes->pdata[i])->id;
        guint threads = vnuma_cpuset_count(usable->pdata[i]);
        guint64 distance;

        if (!threads || vnuma_cpuset_contains(homes, id))
            continue;
        distance = vnuma_host_distance_sum(host, id, homes);
        if (best < 0 || distance < best_distance ||
            (distance == best_distance && threads > best_threads)) {
            best = (gint) id;
            best_distance = distance;
            best_threads = threads;
        }
    }
    return best;
}

guint
vnuma_agent_rehome_hot_added(const VnumaHost *host, const GPtrArray *usable,
                             VnumaAgentState *state, guint before, guint current, gint64 now)
{
    guint moved = 0;

    for (guint c = 0; c < state->clients->len; c++) {
        VnumaAgentClient *client = &g_array_index(state->clients, VnumaAgentClient, c);
        g_autoptr(VnumaCpuSet) homes = NULL;
        gint node;

        /* Only headroom that just came online: a client already online
         * chose its node (or the rebalancer did). */
        if (has_vcpu_below(client->vcpus, before) || !has_vcpu_below(client->vcpus, current))
            continue;
        homes = online_homes(state, current, c);
        if (!vnuma_cpuset_contains(homes, client->home_node))
            continue;   /* alone on its node already */
        node = nearest_free_node(host, usable, homes);
        if (node < 0)
            continue;
        client->home_node = (guint) node;
        client->moved = now;
        moved++;
    }
    return moved;
}
