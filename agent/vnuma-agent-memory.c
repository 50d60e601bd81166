/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Memory per client from the QEMU process's mappings (numa_maps), and
 * memory following a moved client at memory_migrate_rate (docs/agent.md). */
#include "agent/vnuma-agent-private.h"

#include "lib/vnuma-demand.h"
#include "agent/vnuma-agent-follow.h"
#include "probe/vnuma-numamaps.h"
#include "agent/vnuma-agent-pages.h"
#include "lib/vnuma-error.h"
#include "lib/vnuma-locality.h"

#define QEMU_RUN_DIR "/run/libvirt/qemu"
#define MIB_BYTES (1024.0 * 1024.0)
/* Page migration looks at no more than this many times the bytes it
 * may move in a pass (most pages of a region may already be in place),
 * and at least this much, so a slow rate still finishes the walk. */
#define FOLLOW_SCAN_FACTOR 8
#define FOLLOW_SCAN_MIN (64ull << 20)
/* Memory left off the homes after placement that is not worth a walk. */
#define SETTLE_SLACK 0.02

static void
follow_span_clear(gpointer data)
{
    vnuma_cpuset_free(((VnumaFollowSpan *) data)->allowed);
}

VnumaFollow *
vnuma_agent_follow_new(const VnumaAgent *agent, const char *cause)
{
    VnumaFollow *follow = g_new0(VnumaFollow, 1);

    follow->cause = cause;

    /* Two periods' worth at most: a late pass keeps its share. */
    vnuma_rate_limit_init(&follow->limit, agent->config->memory_migrate_rate * MIB_BYTES,
                          2 * MAX(agent->config->rebalance_period, 1.0));
    return follow;
}

/* Pages follow moves at a bounded rate when the agent can reach them
 * (local qemu: numa_maps and move_pages) and the nodeset is its to set. */
gboolean
vnuma_agent_follows_memory(const VnumaAgent *agent, const VnumaAgentDomain *d)
{
    return agent->config->memory_migrate_rate > 0 && agent->read_numa_maps && !d->follow_stopped &&
           vnuma_agent_nodeset_applies(agent, d);
}

void
vnuma_agent_measure_memory(VnumaAgent *agent, VnumaAgentDomain *d)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) regions = NULL;

    g_clear_pointer(&d->memory, g_array_unref);
    g_clear_pointer(&d->regions, g_ptr_array_unref);
    g_clear_pointer(&d->ram, g_array_unref);
    if (!agent->read_numa_maps)
        return;
    if (!vnuma_qemu_pid_read(QEMU_RUN_DIR, d->name, &d->pid, &error) ||
        !(regions = vnuma_mem_regions_read(d->pid, &error))) {
        g_log_structured(G_LOG_DOMAIN, G_LOG_LEVEL_DEBUG, "VNUMA_DOMAIN", d->name,
                         "MESSAGE", "%s: memory per node unknown: %s", d->name, error->message);
        return;
    }
    d->memory = vnuma_mem_regions_total(regions);
    d->ram = vnuma_guest_ram_match(regions, (const guint64 *) d->cell_kib->data, d->cell_kib->len);
    d->regions = g_steal_pointer(&regions);
}

static GArray *
memory_clients(const VnumaAgentDomain *d)
{
    return vnuma_agent_state_memory_clients(d->state);
}

static GPtrArray *
cell_memory(const VnumaAgentDomain *d)
{
    return d->ram ? vnuma_guest_ram_kib(d->regions, d->ram) : NULL;
}

static gint
cell_owner(const VnumaAgentDomain *d, guint cell)
{
    g_autoptr(GArray) clients = memory_clients(d);

    return vnuma_memory_cell_owner(d->cell_vcpus->pdata[cell], (const VnumaMemoryClient *) clients->data,
                                   clients->len);
}

/* Whether each client's memory can be told from numa_maps: every cell
 * matched to its backing mapping and owned by one client ("cells"). */
static gboolean
cells_identified(const VnumaAgentDomain *d)
{
    g_autoptr(GArray) clients = NULL;
    g_autoptr(GPtrArray) cells = NULL;
    VnumaMemoryView view;

    if (!d->ram || !vnuma_agent_placed(d))
        return FALSE;
    clients = memory_clients(d);
    cells = cell_memory(d);
    view = (VnumaMemoryView) { d->memory, d->cell_vcpus, cells };
    return vnuma_memory_by_cells(&view, (const VnumaMemoryClient *) clients->data, clients->len);
}

const char *
vnuma_agent_memory_source(const VnumaAgentDomain *d)
{
    if (!d->memory || !vnuma_agent_placed(d))
        return NULL;
    return cells_identified(d) ? "cells" : "proportional";
}

guint64 *
vnuma_agent_client_memory(const VnumaAgent *agent, const VnumaAgentDomain *d, guint c)
{
    g_autoptr(GArray) clients = memory_clients(d);
    g_autoptr(GPtrArray) cells = cell_memory(d);
    VnumaMemoryView view = { d->memory, d->cell_vcpus, cells };

    return vnuma_client_memory_by_index(agent->host, &view, (const VnumaMemoryClient *) clients->data,
                                        clients->len, c);
}

double
vnuma_agent_locality(const VnumaAgent *agent, const VnumaAgentDomain *d)
{
    g_autoptr(GArray) clients = NULL;
    g_autoptr(GPtrArray) cells = NULL;
    VnumaMemoryView view;

    if (!d->memory || !vnuma_agent_placed(d))
        return -1;
    clients = memory_clients(d);
    cells = cell_memory(d);
    view = (VnumaMemoryView) { d->memory, d->cell_vcpus, cells };
    return vnuma_memory_locality(agent->host, &view, (const VnumaMemoryClient *) clients->data, clients->len);
}

/* ---- memory following a move ---------------------------------------- */

void
vnuma_agent_settle_memory(VnumaAgent *agent, VnumaAgentDomain *d)
{
    double locality;

    if (!d->regions)
        return;   /* numa_maps not read this pass: try next time */
    d->settle = FALSE;
    /* Without each cell's own mapping, the nodeset is all there is. */
    if (d->follow || d->planned_only || !vnuma_agent_follows_memory(agent, d) || !cells_identified(d))
        return;
    locality = vnuma_agent_locality(agent, d);
    if (locality < 0 || locality >= 1.0 - SETTLE_SLACK)
        return;
    d->follow = vnuma_agent_follow_new(agent, "the placement");
    vnuma_agent_record(agent, d->name, d->uuid, "memory", G_LOG_LEVEL_MESSAGE,
           "%.1f %% of the clients' memory is off their home nodes: it follows them at <= %g MiB/s",
           100.0 * (1.0 - locality), agent->config->memory_migrate_rate);
    d->follow->decided = TRUE;
}

void
vnuma_agent_follow_stop(VnumaAgent *agent, VnumaAgentDomain *d, const char *why)
{
    g_autofree char *copy = g_strdup(why);   /* @why may live in d->follow */

    g_clear_pointer(&d->follow, vnuma_agent_follow_free);
    d->follow_stopped = TRUE;
    d->settle = FALSE;
    vnuma_agent_record_failure(agent, d->name, d->uuid, "memory",
           "invariant violated: %s; no longer following this domain's memory", copy);
}

static void
follow_add_span(VnumaFollow *follow, guint cell, gboolean shared, const VnumaMemRegion *region, guint target,
                VnumaCpuSet *allowed)
{
    VnumaFollowSpan span = {
        .cell = cell, .shared = shared, .start = region->start, .end = region->end, .cursor = region->start,
        .target = (gint) target, .allowed = allowed,
    };

    g_array_append_val(follow->spans, span);
}

/* What to walk, from this pass's numa_maps: each cell's mapping, its
 * pages going to its client's memory node; a mapping that cannot be
 * given to one client (cells spanning clients, RAM without cells in a
 * wide VM) has its pages off the domain's nodeset go to the first
 * client's memory node. Nothing found: the nodeset alone moves them. */
static void
follow_resolve(VnumaAgent *agent, VnumaAgentDomain *d)
{
    VnumaFollow *follow = d->follow;
    g_autoptr(VnumaCpuSet) nodes = vnuma_agent_memory_nodes(agent->host, d->state);

    follow->spans = g_array_new(FALSE, TRUE, sizeof(VnumaFollowSpan));
    g_array_set_clear_func(follow->spans, follow_span_clear);
    for (guint i = 0; d->ram && i < d->ram->len; i++) {
        gint r = g_array_index(d->ram, gint, i);
        gint owner = cell_owner(d, i);
        guint target;

        if (r < 0)
            continue;
        target = vnuma_host_memory_node(agent->host, g_array_index(d->state->clients, VnumaAgentClient,
                                                                    MAX(owner, 0)).home_node);
        if (owner >= 0) {
            VnumaCpuSet *only = vnuma_cpuset_new();

            vnuma_cpuset_add(only, target);
            follow_add_span(follow, i, FALSE, d->regions->pdata[r], target, only);
        } else {
            follow_add_span(follow, i, TRUE, d->regions->pdata[r], target, vnuma_cpuset_copy(nodes));
        }
    }
}

/* The nodeset about to be narrowed must be the union of the homes'
 * memory nodes, of the agent's state and of the record libvirt holds
 * (a state that drifted from its record would narrow to the wrong
 * nodes, and with cgroup v2 the kernel moves every page at once). A
 * record that cannot be read now is checked next pass. */
static gboolean
narrowing_checked(VnumaAgent *agent, VnumaAgentDomain *d, virDomainPtr dom, const VnumaCpuSet *nodes)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(VnumaAgentState) record = vnuma_agent_read_record(dom, &error);
    g_autoptr(VnumaCpuSet) homes = vnuma_agent_memory_nodes(agent->host, d->state);
    g_autoptr(VnumaCpuSet) recorded = NULL;

    if (!record && error)
        return FALSE;
    if (!record) {
        vnuma_agent_follow_stop(agent, d, "the domain has no record to narrow its nodeset by");
        return FALSE;
    }
    recorded = vnuma_agent_memory_nodes(agent->host, record);
    if (!vnuma_follow_check_narrowing(nodes, homes, recorded, &error)) {
        vnuma_agent_follow_stop(agent, d, error->message);
        return FALSE;
    }
    return TRUE;
}

/* The nodeset narrowed to the clients' memory nodes once their pages
 * followed, and the record renewed (the digest covers the nodeset). */
static void
follow_finish(VnumaAgent *agent, VnumaAgentDomain *d, virDomainPtr dom, const char *why)
{
    g_autoptr(VnumaCpuSet) nodes = vnuma_agent_memory_nodes(agent->host, d->state);
    g_autofree char *list = vnuma_cpuset_format(nodes);
    g_autoptr(GError) error = NULL;
    VnumaFollow *follow = d->follow;

    if (!narrowing_checked(agent, d, dom, nodes))
        return;
    if (!vnuma_agent_set_nodeset(dom, nodes, FALSE, &error) ||
        !vnuma_agent_save_record(agent, dom, d->state, &error)) {
        vnuma_agent_record(agent, d->name, d->uuid, "memory", G_LOG_LEVEL_WARNING,
               "narrowing the nodeset to %s: %s; trying again next pass", list, error->message);
        return;
    }
    d->memory_moved_kib += follow->moved / 1024;
    vnuma_agent_record(agent, d->name, d->uuid, "memory", G_LOG_LEVEL_MESSAGE,
           "memory followed %s (%s): %.1f MiB moved by page migration at <= %g MiB/s%s; nodeset now %s",
           follow->cause, why, (double) follow->moved / MIB_BYTES, agent->config->memory_migrate_rate,
           follow->failed ? " (some pages the kernel would not move stay for the nodeset change)" : "", list);
    g_clear_pointer(&d->follow, vnuma_agent_follow_free);
}

/* Before any page moves this pass: each span is still its cell's
 * mapping in this pass's numa_maps, and goes to its owner's home
 * memory node in the state as it is now. */
static gboolean
spans_checked(VnumaAgent *agent, VnumaAgentDomain *d)
{
    for (guint i = 0; i < d->follow->spans->len; i++) {
        const VnumaFollowSpan *span = &g_array_index(d->follow->spans, VnumaFollowSpan, i);
        VnumaFollowSpanView view = {
            .cell = span->cell, .shared = span->shared, .start = span->start, .end = span->end,
            .target = span->target,
        };
        gint r = d->ram && span->cell < d->ram->len ? g_array_index(d->ram, gint, span->cell) : -1;
        gint owner = cell_owner(d, span->cell);
        guint home = span->shared || owner < 0 ? (guint) span->target
                     : vnuma_host_memory_node(agent->host, g_array_index(d->state->clients, VnumaAgentClient,
                                                                          owner).home_node);
        g_autoptr(GError) error = NULL;

        if (!vnuma_follow_check_span(&view, r >= 0 ? d->regions->pdata[r] : NULL, home, &error)) {
            vnuma_agent_follow_stop(agent, d, error->message);
            return FALSE;
        }
    }
    return TRUE;
}

/* One pass's share of page migration: as many bytes as the rate limit
 * allows, then, when every span is walked, the nodeset narrowed. */
void
vnuma_agent_follow_memory(VnumaAgent *agent, VnumaAgentDomain *d)
{
    VnumaFollow *follow = d->follow;
    guint64 allowance, scan_cap, moved = 0, scanned = 0;
    gboolean done = TRUE;
    virDomainPtr dom;

    if (!d->regions)
        return;   /* numa_maps not read this pass: try next time */
    if (!follow->decided) {
        vnuma_agent_follow_stop(agent, d, "memory would follow with no logged decision (a move, a settle)");
        return;
    }
    if (!follow->spans)
        follow_resolve(agent, d);
    if (!spans_checked(agent, d))
        return;
    allowance = vnuma_rate_limit_allowance(&follow->limit, (double) g_get_monotonic_time() / G_USEC_PER_SEC);
    scan_cap = MAX(allowance * FOLLOW_SCAN_FACTOR, FOLLOW_SCAN_MIN);
    for (guint i = 0; i < follow->spans->len; i++) {
        VnumaFollowSpan *span = &g_array_index(follow->spans, VnumaFollowSpan, i);
        g_autoptr(GError) error = NULL;
        VnumaPagesStep step = { 0 };

        if (span->cursor < span->end && moved < allowance && scanned < scan_cap) {
            if (!vnuma_pages_follow(d->pid, &span->cursor, span->end, span->target, span->allowed,
                                    allowance - moved, scan_cap - scanned, &step, &error)) {
                vnuma_agent_record(agent, d->name, d->uuid, "memory", G_LOG_LEVEL_WARNING,
                       "page migration stopped: %s; the nodeset change moves the rest", error->message);
                span->cursor = span->end;
            }
            moved += step.moved;
            scanned += step.scanned;
            follow->failed += step.failed;
        }
        done = done && span->cursor >= span->end;
    }
    vnuma_rate_limit_spend(&follow->limit, moved);
    follow->moved += moved;
    if (!done || !(dom = virDomainLookupByUUIDString(agent->conn, d->uuid)))
        return;
    follow_finish(agent, d, dom, follow->spans->len ? "its own mappings" : "no guest RAM mapping identified");
    virDomainFree(dom);
}

