/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Rebalancing: the placed clients, their demand and memory, go to the
 * rebalancer (lib/vnuma-rebalance.c); the moves it returns, and the
 * ones asked for by vnuma_agent_move(), are applied here. */
#include "agent/vnuma-agent-private.h"

#include "lib/vnuma-demand.h"
#include "xml/vnuma-record.h"
#include "lib/vnuma-error.h"
#include "lib/vnuma-rebalance.h"

/* A rebalancer client: which domain (by UUID: a move may make the agent
 * forget a vanished domain while later moves of the pass still refer
 * to it) and which of its clients. */
typedef struct {
    char *uuid;
    guint client;
} ClientRef;

static void
client_ref_clear(gpointer data)
{
    g_free(((ClientRef *) data)->uuid);
}

/* Applies the part of @move that concerns domain @uuid: its new state
 * (home nodes, move time, counts) is committed once libvirt took it. */
static gboolean
move_domain(VnumaAgent *agent, const char *uuid, const VnumaMove *move, const ClientRef *refs,
            const VnumaRebalanceNode *nodes, gint64 now)
{
    VnumaAgentDomain *d = g_hash_table_lookup(agent->domains, uuid);
    g_autoptr(VnumaAgentState) next = NULL;
    g_autoptr(VnumaCpuSet) widen = NULL;
    g_autoptr(GError) error = NULL;
    virDomainPtr dom;
    gboolean ok;

    if (!d || !vnuma_agent_placed(d))
        return FALSE;
    next = vnuma_agent_state_copy(d->state);
    /* Both clients of a swap may belong to this domain, or only one. */
    for (guint k = 0; k < (move->kind == VNUMA_MOVE_SWAP ? 2u : 1u); k++) {
        const ClientRef *ref = &refs[k == 0 ? move->client : move->other];
        VnumaAgentClient *client;

        if (!g_str_equal(ref->uuid, uuid))
            continue;
        client = &g_array_index(next->clients, VnumaAgentClient, ref->client);
        client->home_node = nodes[k == 0 ? move->to : move->from].id;
        client->moved = now;
        next->migrations[move->kind]++;
    }
    if (!(dom = virDomainLookupByUUIDString(agent->conn, uuid))) {
        vnuma_agent_record(agent, d->name, uuid, "forget", G_LOG_LEVEL_INFO, "gone before its move");
        vnuma_agent_forget(agent, uuid);
        return FALSE;
    }
    /* Memory that follows at a bounded rate: the nodeset is widened
     * to old and new nodes, so the kernel moves nothing at once, and
     * narrowed when the pages have followed (follow_memory). A nodeset
     * the agent set at placement is restrictive by now. */
    if (vnuma_agent_follows_memory(agent, d))
        widen = vnuma_agent_memory_nodes(agent->host, d->state);
    ok = vnuma_agent_apply_state(agent, dom, d, next, d->state, FALSE, widen, &error);
    if (ok) {
        vnuma_agent_state_free(d->state);
        d->state = g_steal_pointer(&next);
        if (widen) {
            vnuma_agent_follow_free(d->follow);
            d->follow = vnuma_agent_follow_new(agent, "the move");
        }
    } else {
        vnuma_agent_step_failed(agent, dom, d->name, uuid, "move", error->message);
    }
    virDomainFree(dom);
    return ok;
}

static char *
describe_move(const VnumaAgent *agent, const VnumaMove *move, const ClientRef *refs,
              const VnumaRebalanceNode *nodes)
{
    GString *out = g_string_new(NULL);

    g_string_append_printf(out, "%s migration of client %u from node %u to node %u",
                           vnuma_move_kind_to_string(move->kind), refs[move->client].client,
                           nodes[move->from].id, nodes[move->to].id);
    if (move->kind == VNUMA_MOVE_SWAP) {
        const VnumaAgentDomain *other = g_hash_table_lookup(agent->domains, refs[move->other].uuid);

        g_string_append_printf(out, ", swapped with client %u of %s", refs[move->other].client,
                               other ? other->name : refs[move->other].uuid);
    }
    g_string_append_printf(out, " (gain %.2f > cost %.2f CPU-s)", move->gain, move->cost);
    return g_string_free(out, FALSE);
}

/* The move of domain @uuid is logged: its memory may follow now. */
static void
move_decided(VnumaAgent *agent, const char *uuid)
{
    VnumaAgentDomain *d = g_hash_table_lookup(agent->domains, uuid);

    if (d && d->follow)
        d->follow->decided = TRUE;
}

static void
apply_move(VnumaAgent *agent, const VnumaMove *move, const ClientRef *refs,
           const VnumaRebalanceNode *nodes, gint64 now)
{
    const char *a = refs[move->client].uuid;
    const char *b = refs[move->other].uuid;
    VnumaAgentDomain *d = g_hash_table_lookup(agent->domains, a);
    g_autofree char *name = g_strdup(d ? d->name : a);
    g_autofree char *what = describe_move(agent, move, refs, nodes);

    if (agent->flags & VNUMA_AGENT_DRY_RUN) {
        vnuma_agent_record(agent, name, a, "move", G_LOG_LEVEL_MESSAGE, "%s", what);
        return;
    }
    if (!move_domain(agent, a, move, refs, nodes, now))
        return;
    vnuma_agent_record(agent, name, a, "move", G_LOG_LEVEL_MESSAGE, "%s", what);
    move_decided(agent, a);
    if (!g_str_equal(a, b) && move_domain(agent, b, move, refs, nodes, now))
        move_decided(agent, b);
}

gboolean
vnuma_agent_move(VnumaAgent *agent, const char *uuid, guint client, guint node_id,
                 VnumaMoveKind kind, GError **error)
{
    VnumaAgentDomain *d = g_hash_table_lookup(agent->domains, uuid);
    gint to = agent->host ? vnuma_host_node_index(agent->host, node_id) : -1;
    g_autofree VnumaRebalanceNode *nodes = NULL;
    ClientRef ref = { (char *) uuid, client };
    VnumaMove move = { .kind = kind, .client = 0, .other = 0 };
    guint n_nodes;

    if (!agent->conn || !d || !vnuma_agent_placed(d) || client >= d->state->clients->len || to < 0 ||
        kind == VNUMA_MOVE_SWAP) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID,
                    "no placed domain %s with client %u, or no node %u", uuid, client, node_id);
        return FALSE;
    }
    n_nodes = agent->host->nodes->len;
    nodes = g_new0(VnumaRebalanceNode, n_nodes);
    for (guint i = 0; i < n_nodes; i++)
        nodes[i].id = ((VnumaHostNode *) agent->host->nodes->pdata[i])->id;
    move.from = (guint) MAX(vnuma_host_node_index(agent->host,
                                       g_array_index(d->state->clients, VnumaAgentClient, client).home_node), 0);
    move.to = (guint) to;
    if (agent->flags & VNUMA_AGENT_DRY_RUN)
        return TRUE;
    if (!move_domain(agent, uuid, &move, &ref, nodes, vnuma_agent_now_s())) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_IO, "moving client %u of %s failed", client, uuid);
        return FALSE;
    }
    /* move_domain() may not forget @d on success. */
    vnuma_agent_record(agent, d->name, uuid, "move", G_LOG_LEVEL_MESSAGE, "requested %s migration of client %u to node %u",
           vnuma_move_kind_to_string(kind), client, node_id);
    move_decided(agent, uuid);
    return TRUE;
}

/* Where a client's memory lies is a locality signal only once it has
 * settled: right after placement it is where QEMU allocated it before
 * the pins, and while it follows a move or a placement it is on its way
 * home. A rebalancer that read it then would move the client to memory
 * that is leaving (issue 19: a just-placed client moved onto another's
 * node, where its cell's RAM was, with that RAM already following it
 * home), so it counts as unknown (no locality gain, no copy cost). */
static gboolean
memory_settled(const VnumaAgentDomain *d)
{
    return !d->settle && !d->follow && !d->follow_stopped;
}

void
vnuma_agent_rebalance(VnumaAgent *agent, GPtrArray *domains)
{
    guint n_nodes = agent->host->nodes->len;
    g_autofree double *capacity = g_new0(double, MAX(n_nodes, 1));
    g_autofree VnumaRebalanceNode *nodes = NULL;
    g_autoptr(GArray) clients = g_array_new(FALSE, TRUE, sizeof(VnumaRebalanceClient));
    g_autoptr(GArray) refs = g_array_new(FALSE, TRUE, sizeof(ClientRef));
    g_autoptr(GPtrArray) memory = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GArray) moves = NULL;
    gint64 now = vnuma_agent_now_s();

    g_array_set_clear_func(refs, client_ref_clear);
    for (guint i = 0; i < n_nodes; i++)
        capacity[i] = vnuma_cpuset_count(agent->usable->pdata[i]);
    nodes = vnuma_rebalance_nodes_new(agent->host, capacity);
    /* What domains the agent does not place use of a node is not there
     * for the clients it does. */
    for (guint i = 0; i < domains->len; i++) {
        for (guint n = 0; n < n_nodes; n++)
            nodes[n].capacity = MAX(0.0, nodes[n].capacity - vnuma_agent_unplaced_load(domains->pdata[i], n));
    }
    for (guint i = 0; i < domains->len; i++) {
        VnumaAgentDomain *d = domains->pdata[i];

        /* Not measured yet (first pass since it was placed or resumed):
         * not a candidate this pass. */
        for (guint c = 0; vnuma_agent_placed(d) && d->demand && c < d->state->clients->len; c++) {
            const VnumaAgentClient *client = &g_array_index(d->state->clients, VnumaAgentClient, c);
            gint home = vnuma_host_node_index(agent->host, client->home_node);
            guint64 *mem = memory_settled(d) ? vnuma_agent_client_memory(agent, d, c) : NULL;
            VnumaRebalanceClient rc = {
                .id = d->client_base + c,
                .home = home < 0 ? n_nodes : (guint) home,
                .demand = d->demand ? vnuma_client_demand(d->demand, client->vcpus) : 0,
                .memory_kib = mem,
                .last_move = client->moved >= 0 ? (double) client->moved : -1,
                .vcpus = vnuma_cpuset_count(client->vcpus),
            };
            ClientRef ref = { g_strdup(d->uuid), c };

            g_ptr_array_add(memory, mem);
            g_array_append_val(clients, rc);
            g_array_append_val(refs, ref);
        }
    }
    moves = vnuma_rebalancer_pass(agent->rebalancer, nodes, n_nodes,
                                  (VnumaRebalanceClient *) clients->data, clients->len, (double) now);
    for (guint m = 0; m < moves->len; m++)
        apply_move(agent, &g_array_index(moves, VnumaMove, m), (const ClientRef *) refs->data, nodes, now);
}
