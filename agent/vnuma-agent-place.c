/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Placement: a running domain the agent does not know yet is sized and
 * placed (or resumed from its record, or left alone), a persistent
 * definition is sized on define, and lifecycle events say which. */
#include "agent/vnuma-agent-private.h"

#include <string.h>

#include "lib/vnuma-demand.h"
#include "agent/vnuma-agent-follow.h"
#include "agent/vnuma-agent-plan.h"
#include "xml/vnuma-record.h"
#include "lib/vnuma-error.h"
#include "lib/vnuma-locality.h"
#include "lib/vnuma-sizing.h"

static GPtrArray *
copy_sets(const GPtrArray *sets)
{
    GPtrArray *copy = g_ptr_array_new_with_free_func((GDestroyNotify) vnuma_cpuset_free);

    for (guint i = 0; i < sets->len; i++)
        g_ptr_array_add(copy, vnuma_cpuset_copy(sets->pdata[i]));
    return copy;
}

static VnumaAgentState *
read_state(VnumaAgent *agent, virDomainPtr dom, const char *name, const char *uuid)
{
    g_autoptr(GError) error = NULL;
    VnumaAgentState *state = vnuma_agent_read_record(dom, &error);

    if (!state && error)
        vnuma_agent_record(agent, name, uuid, "resume", G_LOG_LEVEL_WARNING, "%s; placing afresh", error->message);
    return state;
}

static char *
describe_state(const VnumaAgentState *state)
{
    GString *out = g_string_new(NULL);

    for (guint c = 0; c < state->clients->len; c++) {
        const VnumaAgentClient *client = &g_array_index(state->clients, VnumaAgentClient, c);
        g_autofree char *vcpus = vnuma_cpuset_format(client->vcpus);

        g_string_append_printf(out, "%sclient %u (vCPUs %s) on node %u", c ? ", " : "", c, vcpus,
                               client->home_node);
    }
    return g_string_free(out, FALSE);
}

/* Where an unplaced domain's vCPUs may run, from the pins libvirt
 * reports (an unpinned vCPU: every CPU). */
static void
read_spread(VnumaAgent *agent, virDomainPtr dom, VnumaAgentDomain *d, guint vcpus)
{
    g_autofree unsigned char *maps = g_new0(unsigned char, (gsize) MAX(vcpus, 1) * agent->cpumap_len);
    g_autoptr(GPtrArray) sets = g_ptr_array_new_with_free_func((GDestroyNotify) vnuma_cpuset_free);
    g_autoptr(GPtrArray) nodes = g_ptr_array_new_with_free_func((GDestroyNotify) vnuma_cpuset_free);
    int n = virDomainGetVcpuPinInfo(dom, (int) vcpus, maps, agent->cpumap_len, VIR_DOMAIN_AFFECT_LIVE);

    for (int v = 0; v < (int) vcpus; v++) {
        VnumaCpuSet *set = vnuma_cpuset_new();

        for (int cpu = 0; cpu < agent->cpumap_len * 8; cpu++) {
            if (v >= n || VIR_CPU_USED(maps + (gsize) v * agent->cpumap_len, cpu))
                vnuma_cpuset_add(set, (guint) cpu);
        }
        if (v >= n)
            vnuma_cpuset_intersect(set, agent->host_cpus);
        g_ptr_array_add(sets, set);
    }
    for (guint i = 0; i < agent->host->nodes->len; i++)
        g_ptr_array_add(nodes, vnuma_host_node_cpus(agent->host->nodes->pdata[i]));
    d->spread = vnuma_vcpu_spread(sets, nodes);
}

/* What the live XML says of the guest's cells, for telling their
 * memory apart in numa_maps. */
static void
keep_cells(VnumaAgentDomain *d, const VnumaRequest *request)
{
    vnuma_memory_cells(request, &d->cell_vcpus, &d->cell_kib);
    d->memory_kib = request->memory_kib;
    d->vcpus_current = request->current_vcpus;
}

static gboolean
move_recorded(const VnumaAgentState *state)
{
    for (guint c = 0; c < state->clients->len; c++) {
        if (g_array_index(state->clients, VnumaAgentClient, c).moved >= 0)
            return TRUE;
    }
    return FALSE;
}

/* A resumed domain's live nodeset (read before its pins were dropped)
 * against its homes: wider after a recorded move means the agent was
 * stopped while that move's memory followed: finish it. A nodeset the
 * agent would never have left is an invariant violated. */
static void
resume_follow(VnumaAgent *agent, VnumaAgentDomain *d, const VnumaCpuSet *live, const VnumaCpuSet *homes)
{
    g_autoptr(GError) error = NULL;
    gboolean following;

    if (!vnuma_follow_check_resume(live, homes, move_recorded(d->state), &following, &error)) {
        vnuma_agent_follow_stop(agent, d, error->message);
        return;
    }
    if (!following || !vnuma_agent_follows_memory(agent, d))
        return;
    d->follow = vnuma_agent_follow_new(agent, "the move");
    vnuma_agent_record(agent, d->name, d->uuid, "memory", G_LOG_LEVEL_MESSAGE,
           "the record holds a move whose memory was still following (nodeset wider than the homes): "
           "it follows on at <= %g MiB/s", agent->config->memory_migrate_rate);
    d->follow->decided = TRUE;
}

/* What became of a running domain the agent met. */
typedef enum {
    PLACE_UNMANAGED,   /* not vnuma's: left alone, counted where it may run */
    PLACE_RESUMED,     /* its record holds: taken over as it is */
    PLACE_PLACED,      /* placed afresh (decided only, in a dry run) */
    PLACE_RETRY,       /* libvirt busy (its start job): forgotten, placed next pass */
    PLACE_FAILED,      /* recorded as failed (or gone meanwhile) */
} PlaceOutcome;

/* The placement @p resumes the record the domain already holds. */
static PlaceOutcome
place_resume(VnumaAgent *agent, virDomainPtr dom, VnumaAgentDomain *d, const VnumaAgentPlacement *p,
             VnumaAgentState *previous)
{
    g_autoptr(VnumaCpuSet) nodes = vnuma_agent_memory_nodes(agent->host, previous);
    g_autofree char *what = NULL;
    guint home;

    d->state = previous;
    what = describe_state(d->state);
    vnuma_agent_record(agent, d->name, d->uuid, "resume", G_LOG_LEVEL_INFO, "resumed from metadata: %s", what);
    /* vCPUs hot-added while no agent watched (or between placing
     * and this resume) are not on their home yet: the next pass
     * pins them as hot-added. */
    home = vnuma_agent_vcpus_on_home(agent, dom, d, d->vcpus_current);
    if (home > 0)
        d->vcpus_current = MIN(d->vcpus_current, home);
    d->settle = TRUE;
    if (vnuma_agent_nodeset_applies(agent, d))
        resume_follow(agent, d, p->live_nodeset, nodes);
    return PLACE_RESUMED;
}

/* The layout of @p applied (pins, nodeset, record), all or nothing. */
static PlaceOutcome
place_apply(VnumaAgent *agent, virDomainPtr dom, VnumaAgentDomain *d, const VnumaAgentPlacement *p,
            const VnumaAgentState *previous)
{
    g_autofree char *name = g_strdup(d->name);
    g_autofree char *uuid = g_strdup(d->uuid);
    g_autoptr(VnumaAgentState) state = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *what = NULL;

    if (p->recovered)
        vnuma_agent_record(agent, name, uuid, "recover", G_LOG_LEVEL_MESSAGE,
               "the record says an apply was interrupted: the pins are the agent's; placing afresh");
    state = vnuma_agent_state_from_layout(p->layout, p->fingerprint, previous, vnuma_agent_now_s());
    what = describe_state(state);
    if (!(agent->flags & VNUMA_AGENT_DRY_RUN) &&
        !vnuma_agent_apply_state(agent, dom, d, state, NULL, p->numatune_absent, NULL, &error)) {
        if (g_error_matches(error, VNUMA_ERROR, VNUMA_ERROR_BUSY)) {
            /* Typically the start job itself, still finishing: the next
             * pass (sync_running) places a domain it does not know. */
            vnuma_agent_forget(agent, uuid);
            vnuma_agent_record(agent, name, uuid, "place", G_LOG_LEVEL_WARNING,
                               "%s; placing it again next pass", error->message);
            return PLACE_RETRY;
        }
        d->managed = FALSE;
        d->reason = g_strdup_printf("placement failed: %s", error->message);
        vnuma_agent_step_failed(agent, dom, name, uuid, "place", error->message);
        /* Still running (and not forgotten): it counts where it may run. */
        if ((d = g_hash_table_lookup(agent->domains, uuid)))
            read_spread(agent, dom, d, p->request->vcpus);
        return PLACE_FAILED;
    }
    d->planned_only = (agent->flags & VNUMA_AGENT_DRY_RUN) != 0;
    d->settle = TRUE;
    d->state = g_steal_pointer(&state);
    vnuma_agent_record(agent, name, uuid, "place", G_LOG_LEVEL_MESSAGE, "%s", what);
    return PLACE_PLACED;
}

static PlaceOutcome
place_domain(VnumaAgent *agent, virDomainPtr dom)
{
    char uuid[VIR_UUID_STRING_BUFLEN];
    const char *name = virDomainGetName(dom);
    g_autofree char *xml = NULL;
    g_autoptr(VnumaAgentState) previous = NULL;
    g_autoptr(VnumaAgentPlacement) p = NULL;
    g_autoptr(GArray) loads = NULL;
    g_autoptr(GError) error = NULL;
    VnumaAgentDomain *d;

    if (virDomainGetUUIDString(dom, uuid) < 0)
        return PLACE_FAILED;
    vnuma_agent_forget(agent, uuid);
    if (!(xml = virDomainGetXMLDesc(dom, 0))) {
        vnuma_agent_step_failed(agent, dom, name, uuid, "place", vnuma_virt_error_message());
        return PLACE_FAILED;
    }
    previous = read_state(agent, dom, name, uuid);
    loads = vnuma_agent_committed_loads(agent, uuid);
    p = vnuma_agent_place(agent->host, &agent->config->settings, xml, strlen(xml), previous,
                          (const VnumaNodeLoad *) loads->data, loads->len, agent->plan_flags, &error);
    if (!p) {
        vnuma_agent_record_failure(agent, name, uuid, "place", "%s", error->message);
        return PLACE_FAILED;
    }
    d = vnuma_agent_domain_add(agent, uuid, name);
    d->domain_id = (int) virDomainGetID(dom);
    d->managed = p->managed;
    keep_cells(d, p->request);
    if (!p->managed) {
        d->reason = g_strdup(p->reason);
        read_spread(agent, dom, d, p->request->vcpus);
        vnuma_agent_record(agent, name, uuid, "unmanaged", G_LOG_LEVEL_INFO, "left alone: %s", p->reason);
        return PLACE_UNMANAGED;
    }
    d->usable = copy_sets(p->layout->usable);
    d->nodeset_live = p->nodeset_live;
    d->warnings = g_strdupv((char **) p->layout->warnings->pdata);
    d->client_base = agent->next_client_id;
    agent->next_client_id += p->layout->clients->len;
    if (p->resumed)
        return place_resume(agent, dom, d, p, g_steal_pointer(&previous));
    return place_apply(agent, dom, d, p, previous);
}

/* Places every running domain the table does not know yet and forgets
 * the ones that are gone. */
gboolean
vnuma_agent_sync_running(VnumaAgent *agent, GError **error)
{
    virDomainPtr *doms = NULL;
    int n = virConnectListAllDomains(agent->conn, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
    g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    GHashTableIter iter;
    gpointer key;

    if (n < 0) {
        vnuma_virt_set_error(error, "cannot list domains");
        return FALSE;
    }
    for (int i = 0; i < n; i++) {
        char uuid[VIR_UUID_STRING_BUFLEN];

        if (vnuma_agent_in_scope(agent, doms[i]) && virDomainGetUUIDString(doms[i], uuid) == 0) {
            g_hash_table_add(seen, g_strdup(uuid));
            if (!g_hash_table_contains(agent->domains, uuid))
                (void) place_domain(agent, doms[i]);
        }
        virDomainFree(doms[i]);
    }
    g_free(doms);
    g_hash_table_iter_init(&iter, agent->domains);
    while (g_hash_table_iter_next(&iter, &key, NULL)) {
        if (!g_hash_table_contains(seen, key))
            g_hash_table_iter_remove(&iter);
    }
    return TRUE;
}

/* ---- sizing on define ----------------------------------------------- */

static char *
checksum(const char *text)
{
    return g_compute_checksum_for_string(G_CHECKSUM_SHA256, text, -1);
}

/* The definition as libvirt would hand it back: SECURE, or redefining
 * would drop passwords (graphics, secrets) from it. */
static char *
read_definition(virDomainPtr dom)
{
    return virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_SECURE);
}

static void
size_definition(VnumaAgent *agent, virDomainPtr dom)
{
    char uuid[VIR_UUID_STRING_BUFLEN];
    const char *name = virDomainGetName(dom);
    g_autofree char *xml = NULL;
    g_autofree char *sum = NULL;
    g_autofree char *output = NULL;
    g_autofree char *skip = NULL;
    g_autofree char *after = NULL;
    g_autoptr(GError) error = NULL;
    virDomainPtr defined;

    if (virDomainGetUUIDString(dom, uuid) < 0)
        return;
    if (!(xml = read_definition(dom))) {
        vnuma_agent_record(agent, name, uuid, "define", G_LOG_LEVEL_WARNING, "cannot read the definition: %s",
               vnuma_virt_error_message());
        return;
    }
    /* The DEFINED event of the agent's own define: the definition is
     * exactly what it wrote. (Planning again would change nothing either,
     * rule 11, but this does not depend on it.) */
    sum = checksum(xml);
    if (g_strcmp0(g_hash_table_lookup(agent->own_defines, uuid), sum) == 0)
        return;
    output = vnuma_agent_size_definition(agent->host, &agent->config->settings, xml, strlen(xml),
                                         agent->plan_flags, &skip, &error);
    if (!output) {
        if (error)
            vnuma_agent_record_failure(agent, name, uuid, "define", "%s", error->message);
        else
            vnuma_agent_record(agent, name, uuid, "define-skip", G_LOG_LEVEL_DEBUG, "%s", skip);
        return;
    }
    if (agent->flags & VNUMA_AGENT_DRY_RUN) {
        vnuma_agent_record(agent, name, uuid, "define", G_LOG_LEVEL_MESSAGE, "would size the persistent definition");
        return;
    }
    if (!(defined = virDomainDefineXML(agent->conn, output))) {
        vnuma_agent_record_failure(agent, name, uuid, "define", "defining the sized XML: %s",
               vnuma_virt_error_message());
        return;
    }
    after = read_definition(defined);
    virDomainFree(defined);
    if (after)
        g_hash_table_replace(agent->own_defines, g_strdup(uuid), checksum(after));
    vnuma_agent_record(agent, name, uuid, "define", G_LOG_LEVEL_MESSAGE,
           "persistent definition sized (takes effect at the next cold boot)");
}

gboolean
vnuma_agent_sweep_definitions(VnumaAgent *agent, GError **error)
{
    virDomainPtr *doms = NULL;
    int n = virConnectListAllDomains(agent->conn, &doms, VIR_CONNECT_LIST_DOMAINS_PERSISTENT);

    if (n < 0) {
        vnuma_virt_set_error(error, "cannot list domains");
        return FALSE;
    }
    for (int i = 0; i < n; i++) {
        if (vnuma_agent_in_scope(agent, doms[i]))
            size_definition(agent, doms[i]);
        virDomainFree(doms[i]);
    }
    g_free(doms);
    agent->sweep_definitions = FALSE;
    return TRUE;
}

/* ---- events --------------------------------------------------------- */

/* The STARTED event of a run the agent already placed: a pass met the
 * domain first (its start job still held the domain, so the placement
 * was refused as busy and placed again once the job ended, and the
 * event comes when it ends). Placing it again would forget its state
 * mid-way, memory following included (issue 19). */
static gboolean
started_before(VnumaAgent *agent, const char *uuid, virDomainPtr dom)
{
    const VnumaAgentDomain *d = g_hash_table_lookup(agent->domains, uuid);

    if (!d || d->domain_id <= 0 || d->domain_id != (int) virDomainGetID(dom))
        return FALSE;
    g_log_structured(G_LOG_DOMAIN, G_LOG_LEVEL_DEBUG, "VNUMA_DOMAIN", d->name, "MESSAGE",
                     "%s: STARTED event of the run already placed (ID %d): nothing to do", d->name, d->domain_id);
    return TRUE;
}

void
vnuma_agent_handle_event(VnumaAgent *agent, const char *uuid, int event, int detail)
{
    virDomainPtr dom;

    if (!agent->conn)
        return;
    switch (event) {
    case VIR_DOMAIN_EVENT_STOPPED:
    case VIR_DOMAIN_EVENT_UNDEFINED:
        vnuma_agent_forget(agent, uuid);
        if (event == VIR_DOMAIN_EVENT_UNDEFINED)
            g_hash_table_remove(agent->own_defines, uuid);
        return;
    case VIR_DOMAIN_EVENT_STARTED:
    case VIR_DOMAIN_EVENT_DEFINED:
        break;
    default:
        return;
    }
    if (!(dom = virDomainLookupByUUIDString(agent->conn, uuid)))
        return;   /* gone again already */
    if (vnuma_agent_in_scope(agent, dom) && event == VIR_DOMAIN_EVENT_STARTED) {
        if (!started_before(agent, uuid, dom))
            (void) place_domain(agent, dom);
    }
    else if (vnuma_agent_in_scope(agent, dom) && agent->config->define_sizing &&
             detail != VIR_DOMAIN_EVENT_DEFINED_FROM_SNAPSHOT)
        size_definition(agent, dom);
    virDomainFree(dom);
}
