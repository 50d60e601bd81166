/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "agent/vnuma-agent-private.h"

#include <stdio.h>
#include <string.h>

#include <libvirt/virterror.h>

#include "agent/vnuma-agent-demand.h"
#include "agent/vnuma-agent-events.h"
#include "agent/vnuma-agent-follow.h"
#include "agent/vnuma-agent-hotadd.h"
#include "agent/vnuma-agent-metrics.h"
#include "agent/vnuma-agent-plan.h"
#include "agent/vnuma-agent-report.h"
#include "agent/vnuma-agent-state.h"
#include "lib/vnuma-error.h"
#include "lib/vnuma-rebalance.h"
#include "lib/vnuma-sizing.h"
#include "xml/vnuma-caps.h"

#define BACKOFF_MAX_S 30
#define KEEPALIVE_INTERVAL_S 5
#define KEEPALIVE_COUNT 3
/* libvirt 7.3.0: the first with <numatune> mode restrictive. */
#define LIBVIRT_RESTRICTIVE_VERSION 7003000
#define NUMA_BALANCING_SYSCTL "/proc/sys/kernel/numa_balancing"

/* ---- bookkeeping ---------------------------------------------------- */

static void
agent_domain_free(gpointer data)
{
    VnumaAgentDomain *d = data;

    g_free(d->uuid);
    g_free(d->name);
    g_free(d->reason);
    g_strfreev(d->warnings);
    vnuma_agent_state_free(d->state);
    if (d->usable)
        g_ptr_array_unref(d->usable);
    if (d->vcpu_times)
        g_array_unref(d->vcpu_times);
    if (d->demand)
        g_array_unref(d->demand);
    if (d->memory)
        g_array_unref(d->memory);
    if (d->cell_vcpus)
        g_ptr_array_unref(d->cell_vcpus);
    if (d->cell_kib)
        g_array_unref(d->cell_kib);
    if (d->spread)
        g_array_unref(d->spread);
    if (d->regions)
        g_ptr_array_unref(d->regions);
    if (d->ram)
        g_array_unref(d->ram);
    vnuma_agent_follow_free(d->follow);
    g_free(d);
}

void
vnuma_agent_record(VnumaAgent *agent, const char *domain, const char *uuid, const char *action,
                   GLogLevelFlags level, const char *format, ...)
{
    static const char *const changing[] = { "place", "define", "move", "vcpus", "memory", NULL };
    gboolean changes = g_strv_contains(changing, action);
    gboolean dry = (agent->flags & VNUMA_AGENT_DRY_RUN) != 0;
    gboolean failed = level == G_LOG_LEVEL_CRITICAL;
    g_autofree char *detail = NULL;
    VnumaReportAction *a;
    va_list args;

    va_start(args, format);
    detail = g_strdup_vprintf(format, args);
    va_end(args);
    a = vnuma_report_action_new(domain, uuid, action, changes && !failed && !dry, failed, detail);
    if (a->failed)
        agent->errors++;
    /* CRITICAL marks a failed action for the report; glib's CRITICAL
     * would abort under G_DEBUG=fatal-criticals, so log it as a warning. */
    g_log_structured(G_LOG_DOMAIN, a->failed ? G_LOG_LEVEL_WARNING : level,
                     "VNUMA_DOMAIN", domain ? domain : "",
                     "VNUMA_ACTION", action,
                     "MESSAGE", "%s%s%s%s: %s", domain ? domain : "", domain ? ": " : "",
                     changes && dry && !a->failed ? "(dry run) " : "", action, a->detail);
    g_ptr_array_add(agent->actions, a);
}

static gint64
now_s(void)
{
    return g_get_real_time() / G_USEC_PER_SEC;
}

gint
vnuma_agent_node_index(const VnumaHost *host, guint id)
{
    for (guint i = 0; i < host->nodes->len; i++) {
        if (((const VnumaHostNode *) host->nodes->pdata[i])->id == id)
            return (gint) i;
    }
    return -1;
}

static GPtrArray *
copy_sets(const GPtrArray *sets)
{
    GPtrArray *copy = g_ptr_array_new_with_free_func((GDestroyNotify) vnuma_cpuset_free);

    for (guint i = 0; i < sets->len; i++)
        g_ptr_array_add(copy, vnuma_cpuset_copy(sets->pdata[i]));
    return copy;
}

VnumaAgent *
vnuma_agent_new(const char *uri, VnumaAgentConfig *config, VnumaAgentFlags flags)
{
    VnumaAgent *agent = g_new0(VnumaAgent, 1);
    VnumaRebalanceParams params;

    agent->uri = g_strdup(uri);
    agent->config = config;
    agent->flags = flags;
    agent->lifecycle_id = -1;
    agent->domains = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, agent_domain_free);
    agent->own_defines = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    agent->actions = g_ptr_array_new_with_free_func((GDestroyNotify) vnuma_report_action_free);
    agent->backoff = 1;
    agent->fault = vnuma_agent_read_fault();
    vnuma_rebalance_params_init(&params);
    agent->rebalancer = vnuma_rebalancer_new(&params);
    return agent;
}

static void disconnect(VnumaAgent *agent);
static void schedule_reconnect(VnumaAgent *agent);

/* Sources go on the agent's own context: g_timeout_add() would put them
 * on the global default one, which libvirt's event thread iterates. */
static GSource *
add_timeout(VnumaAgent *agent, guint ms, GSourceFunc func)
{
    GSource *source = ms ? g_timeout_source_new(ms) : g_idle_source_new();

    g_source_set_callback(source, func, agent, NULL);
    g_source_attach(source, agent->context);
    return source;
}

static void
drop_source(GSource **source)
{
    if (!*source)
        return;
    g_source_destroy(*source);
    g_source_unref(*source);
    *source = NULL;
}

void
vnuma_agent_free(VnumaAgent *agent)
{
    if (!agent)
        return;
    disconnect(agent);
    drop_source(&agent->pass_source);
    drop_source(&agent->reconnect_source);
    g_hash_table_unref(agent->domains);
    g_hash_table_unref(agent->own_defines);
    if (agent->only)
        g_hash_table_unref(agent->only);
    g_ptr_array_unref(agent->actions);
    vnuma_rebalancer_free(agent->rebalancer);
    vnuma_host_free(agent->host);
    g_free(agent->fingerprint);
    if (agent->usable)
        g_ptr_array_unref(agent->usable);
    vnuma_cpuset_free(agent->host_cpus);
    vnuma_agent_config_free(agent->config);
    g_free(agent->report);
    g_free(agent->uri);
    g_free(agent);
}

void
vnuma_agent_set_domains(VnumaAgent *agent, const char *const *names)
{
    g_clear_pointer(&agent->only, g_hash_table_unref);
    if (!names || !names[0])
        return;
    agent->only = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    for (guint i = 0; names[i]; i++)
        g_hash_table_add(agent->only, g_strdup(names[i]));
}

static gboolean
in_scope(const VnumaAgent *agent, virDomainPtr dom)
{
    return !agent->only || g_hash_table_contains(agent->only, virDomainGetName(dom));
}

const char *
vnuma_agent_report(const VnumaAgent *agent)
{
    return agent->report;
}

guint
vnuma_agent_errors(const VnumaAgent *agent)
{
    return agent->errors;
}

/* ---- connection ----------------------------------------------------- */

/* The host's capabilities: the connection's, or the file named by the
 * `capabilities` key (as for the hook: a host whose libvirt misreports
 * its topology, or a test that describes this machine another way). */
static char *
read_caps(VnumaAgent *agent, GError **error)
{
    const char *file = agent->config->capabilities;
    g_autoptr(GError) local = NULL;
    char *caps = NULL;

    if (file) {
        if (!g_file_get_contents(file, &caps, NULL, &local))
            g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_IO, "cannot read capabilities: %s", local->message);
        return caps;
    }
    if (!(caps = virConnectGetCapabilities(agent->conn)))
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_IO, "cannot read capabilities: %s", vnuma_virt_error());
    return caps;
}

static gboolean
read_host(VnumaAgent *agent, GError **error)
{
    g_autofree char *caps = read_caps(agent, error);
    g_autoptr(VnumaHost) host = NULL;

    if (!caps || !(host = vnuma_host_from_caps_xml(caps, strlen(caps), error)))
        return FALSE;
    g_clear_pointer(&agent->usable, g_ptr_array_unref);
    g_clear_pointer(&agent->host_cpus, vnuma_cpuset_free);
    agent->usable = g_ptr_array_new_with_free_func((GDestroyNotify) vnuma_cpuset_free);
    agent->host_cpus = vnuma_cpuset_new();
    for (guint i = 0; i < host->nodes->len; i++) {
        VnumaCpuSet *cpus = vnuma_host_node_cpus(host->nodes->pdata[i]);

        vnuma_cpuset_union(agent->host_cpus, cpus);
        if (agent->config->settings.host_cpuset)
            vnuma_cpuset_intersect(cpus, agent->config->settings.host_cpuset);
        g_ptr_array_add(agent->usable, cpus);
    }
    vnuma_host_free(agent->host);
    agent->host = g_steal_pointer(&host);
    g_free(agent->fingerprint);
    agent->fingerprint = vnuma_host_fingerprint(agent->host);
    /* Maps cover every host CPU: pin info read back for a rollback. */
    agent->cpumap_len = VIR_CPU_MAPLEN(MAX(vnuma_cpuset_last(agent->host_cpus), 0) + 1);
    return TRUE;
}

/* The kernel's automatic NUMA balancing migrates the pages a pinned
 * guest touches on its own, at no rate of ours: said once per connection
 * (docs/agent.md). */
static void
warn_numa_balancing(void)
{
    g_autofree char *mode = NULL;

    if (g_file_get_contents(NUMA_BALANCING_SYSCTL, &mode, NULL, NULL) && g_strstrip(mode)[0] != '0')
        g_warning("%s is %s: the kernel also migrates guest pages itself, beside memory_migrate_rate; "
                  "set it to 0 on hosts vnumad manages", NUMA_BALANCING_SYSCTL, mode);
}

/* What differs between hypervisor drivers. */
static void
read_driver(VnumaAgent *agent)
{
    const char *type = virConnectGetType(agent->conn);
    unsigned long version = 0;

    agent->plan_flags = 0;
    agent->pin_flags = VIR_DOMAIN_AFFECT_LIVE;
    agent->read_numa_maps = FALSE;
    if (g_strcmp0(type, "TEST") == 0) {
        agent->plan_flags |= VNUMA_AGENT_PLAN_TEST_STANDS_IN;
        /* The test driver's virDomainPinVcpuFlags accepts no flags at
         * all; CURRENT is LIVE on its running domains. */
        agent->pin_flags = VIR_DOMAIN_AFFECT_CURRENT;
    }
    /* numa_maps of the QEMU process: only for a local system qemu
     * driver, whose pid files sit in /run/libvirt/qemu. */
    agent->nodeset_possible = TRUE;
    if (g_strcmp0(type, "QEMU") == 0) {
        g_autofree char *hostname = virConnectGetHostname(agent->conn);
        g_autofree char *uri = virConnectGetURI(agent->conn);

        agent->read_numa_maps = hostname && g_str_equal(hostname, g_get_host_name());
        /* An unprivileged (session) qemu driver has no cgroups: it cannot
         * change a running domain's nodeset at all. Pins only. */
        agent->nodeset_possible = !uri || !strstr(uri, "/session");
    }
    if (agent->read_numa_maps && agent->config->memory_migrate_rate > 0)
        warn_numa_balancing();
    if (agent->config->memory_mode_auto && virConnectGetLibVersion(agent->conn, &version) == 0)
        agent->config->settings.memory_mode = version >= LIBVIRT_RESTRICTIVE_VERSION
                                              ? VNUMA_MEMORY_MODE_RESTRICTIVE
                                              : VNUMA_MEMORY_MODE_STRICT;
}

static gboolean
setup_connection(VnumaAgent *agent, GError **error)
{
    if (!read_host(agent, error)) {
        disconnect(agent);
        return FALSE;
    }
    read_driver(agent);
    g_atomic_int_inc(&agent->generation);
    agent->sweep_definitions = agent->config->define_sizing;
    g_hash_table_remove_all(agent->domains);
    g_log_structured(G_LOG_DOMAIN, G_LOG_LEVEL_INFO, "MESSAGE",
                     "connected to %s: %u host node(s), host %s", agent->uri,
                     agent->host->nodes->len, agent->fingerprint);
    return TRUE;
}

gboolean
vnuma_agent_connect(VnumaAgent *agent, GError **error)
{
    disconnect(agent);
    if (!(agent->conn = virConnectOpen(agent->uri))) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_IO, "cannot connect to %s: %s", agent->uri,
                    vnuma_virt_error());
        return FALSE;
    }
    return setup_connection(agent, error);
}

gboolean
vnuma_agent_adopt(VnumaAgent *agent, virConnectPtr conn, GError **error)
{
    disconnect(agent);
    virConnectRef(conn);
    agent->conn = conn;
    return setup_connection(agent, error);
}

static void on_close(virConnectPtr conn, int reason, void *opaque);

static void
disconnect(VnumaAgent *agent)
{
    if (!agent->conn)
        return;
    if (agent->lifecycle_id >= 0)
        virConnectDomainEventDeregisterAny(agent->conn, agent->lifecycle_id);
    agent->lifecycle_id = -1;
    if (agent->close_registered)
        virConnectUnregisterCloseCallback(agent->conn, on_close);
    agent->close_registered = FALSE;
    virConnectClose(agent->conn);
    agent->conn = NULL;
    g_atomic_int_inc(&agent->generation);
    g_hash_table_remove_all(agent->domains);
}

/* After a failed call: is the connection still there? libvirtd going
 * away shows up as failed calls before the close callback arrives. */
static gboolean
connection_alive(VnumaAgent *agent)
{
    return agent->conn && virConnectIsAlive(agent->conn) == 1;
}

/* After a failed call on @dom: did it stop or vanish meanwhile? Then
 * the failure is the domain's doing, not ours. (With the connection
 * gone, nothing can be told: not gone.) */
gboolean
vnuma_agent_domain_gone(VnumaAgent *agent, virDomainPtr dom)
{
    int active = virDomainIsActive(dom);

    return active == 0 || (active < 0 && connection_alive(agent));
}

/* ---- the domain table ----------------------------------------------- */

static VnumaAgentDomain *
domain_add(VnumaAgent *agent, const char *uuid, const char *name)
{
    VnumaAgentDomain *d = g_new0(VnumaAgentDomain, 1);

    d->uuid = g_strdup(uuid);
    d->name = g_strdup(name);
    g_hash_table_replace(agent->domains, d->uuid, d);
    return d;
}

static void
forget(VnumaAgent *agent, const char *uuid)
{
    g_hash_table_remove(agent->domains, uuid);
}

/* Domains in UUID order, so passes and reports are deterministic. */
static gint
compare_uuid(gconstpointer a, gconstpointer b)
{
    return g_strcmp0((*(VnumaAgentDomain *const *) a)->uuid, (*(VnumaAgentDomain *const *) b)->uuid);
}

static GPtrArray *
sorted_domains(VnumaAgent *agent)
{
    GPtrArray *list = g_ptr_array_new();
    GHashTableIter iter;
    gpointer value;

    g_hash_table_iter_init(&iter, agent->domains);
    while (g_hash_table_iter_next(&iter, NULL, &value))
        g_ptr_array_add(list, value);
    g_ptr_array_sort(list, compare_uuid);
    return list;
}

/* What the other running domains commit to each node: placement's
 * tie-breaker after SLIT distance. Placed domains count their clients
 * on their home nodes; the others (unmanaged, or whose placement
 * failed) their vCPUs where they may run, and their memory likewise. */
static double
sum_doubles(const GArray *values)
{
    double total = 0;

    for (guint i = 0; values && i < values->len; i++)
        total += g_array_index(values, double, i);
    return total;
}

static void
add_spread(GArray *loads, const VnumaAgentDomain *d)
{
    double vcpus = sum_doubles(d->spread);

    for (guint i = 0; d->spread && vcpus > 0 && i < MIN(d->spread->len, loads->len); i++) {
        double share = g_array_index(d->spread, double, i);

        g_array_index(loads, VnumaNodeLoad, i).vcpus += share;
        g_array_index(loads, VnumaNodeLoad, i).memory_kib +=
            (guint64) ((double) d->memory_kib * share / vcpus);
    }
}

static GArray *
committed_loads(VnumaAgent *agent, const char *except)
{
    GArray *loads = g_array_new(FALSE, TRUE, sizeof(VnumaNodeLoad));
    GHashTableIter iter;
    gpointer value;

    for (guint i = 0; i < agent->host->nodes->len; i++) {
        VnumaNodeLoad load = { .node_id = ((VnumaHostNode *) agent->host->nodes->pdata[i])->id };

        g_array_append_val(loads, load);
    }
    g_hash_table_iter_init(&iter, agent->domains);
    while (g_hash_table_iter_next(&iter, NULL, &value)) {
        const VnumaAgentDomain *d = value;

        if (g_str_equal(d->uuid, except))
            continue;
        if (!vnuma_agent_placed(d)) {
            add_spread(loads, d);
            continue;
        }
        for (guint c = 0; c < d->state->clients->len; c++) {
            const VnumaAgentClient *client = &g_array_index(d->state->clients, VnumaAgentClient, c);
            gint index = vnuma_agent_node_index(agent->host, client->home_node);

            if (index < 0)
                continue;
            g_array_index(loads, VnumaNodeLoad, index).vcpus += vnuma_cpuset_count(client->vcpus);
            g_array_index(loads, VnumaNodeLoad, index).memory_kib += client->memory_kib;
        }
    }
    return loads;
}

/* ---- initial placement ---------------------------------------------- */

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

/* A failed libvirt step on @dom: forget a domain that vanished, report
 * anything else. */
static void
step_failed(VnumaAgent *agent, virDomainPtr dom, const char *name, const char *uuid,
            const char *action, const char *message)
{
    /* @message may be libvirt's last error, which the next call frees;
     * @name and @uuid may be the table entry's, which forget frees. */
    g_autofree char *copy = g_strdup(message);
    g_autofree char *name_copy = g_strdup(name);
    g_autofree char *uuid_copy = g_strdup(uuid);

    if (vnuma_agent_domain_gone(agent, dom)) {
        forget(agent, uuid_copy);
        vnuma_agent_record(agent, name_copy, uuid_copy, "forget", G_LOG_LEVEL_INFO, "stopped during %s", action);
        return;
    }
    vnuma_agent_record(agent, name_copy, uuid_copy, action, G_LOG_LEVEL_CRITICAL, "%s", copy);
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
    d->cell_vcpus = g_ptr_array_new_with_free_func((GDestroyNotify) vnuma_cpuset_free);
    d->cell_kib = g_array_new(FALSE, FALSE, sizeof(guint64));
    for (guint i = 0; i < request->cells->len; i++) {
        const VnumaCell *cell = request->cells->pdata[i];

        g_ptr_array_add(d->cell_vcpus, vnuma_cpuset_copy(cell->vcpus));
        g_array_append_val(d->cell_kib, cell->memory_kib);
    }
    if (!request->cells->len) {
        g_ptr_array_add(d->cell_vcpus, vnuma_cpuset_new_range(0, MAX(request->vcpus, 1) - 1));
        g_array_append_val(d->cell_kib, request->memory_kib);
    }
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

static void
place_domain(VnumaAgent *agent, virDomainPtr dom)
{
    char uuid[VIR_UUID_STRING_BUFLEN];
    const char *name = virDomainGetName(dom);
    g_autofree char *xml = NULL;
    g_autoptr(VnumaAgentState) previous = NULL;
    g_autoptr(VnumaAgentPlacement) p = NULL;
    g_autoptr(VnumaAgentState) state = NULL;
    g_autoptr(GArray) loads = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *what = NULL;
    VnumaAgentDomain *d;

    if (virDomainGetUUIDString(dom, uuid) < 0)
        return;
    forget(agent, uuid);
    if (!(xml = virDomainGetXMLDesc(dom, 0))) {
        step_failed(agent, dom, name, uuid, "place", vnuma_virt_error());
        return;
    }
    previous = read_state(agent, dom, name, uuid);
    loads = committed_loads(agent, uuid);
    p = vnuma_agent_place(agent->host, &agent->config->settings, xml, strlen(xml), previous,
                          (const VnumaNodeLoad *) loads->data, loads->len, agent->plan_flags, &error);
    if (!p) {
        vnuma_agent_record(agent, name, uuid, "place", G_LOG_LEVEL_CRITICAL, "%s", error->message);
        return;
    }
    d = domain_add(agent, uuid, name);
    d->domain_id = (int) virDomainGetID(dom);
    d->managed = p->managed;
    keep_cells(d, p->request);
    if (!p->managed) {
        d->reason = g_strdup(p->reason);
        read_spread(agent, dom, d, p->request->vcpus);
        vnuma_agent_record(agent, name, uuid, "unmanaged", G_LOG_LEVEL_INFO, "left alone: %s", p->reason);
        return;
    }
    d->usable = copy_sets(p->layout->usable);
    d->nodeset_live = p->nodeset_live;
    d->warnings = g_strdupv((char **) p->layout->warnings->pdata);
    d->client_base = agent->next_client_id;
    agent->next_client_id += p->layout->clients->len;
    if (p->resumed) {
        g_autoptr(VnumaCpuSet) nodes = vnuma_agent_memory_nodes(agent->host, previous);
        guint home;

        d->state = g_steal_pointer(&previous);
        what = describe_state(d->state);
        vnuma_agent_record(agent, name, uuid, "resume", G_LOG_LEVEL_INFO, "resumed from metadata: %s", what);
        /* vCPUs hot-added while no agent watched (or between placing
         * and this resume) are not on their home yet: the next pass
         * pins them as hot-added. */
        home = vnuma_agent_vcpus_on_home(agent, dom, d, d->vcpus_current);
        if (home > 0)
            d->vcpus_current = MIN(d->vcpus_current, home);
        d->settle = TRUE;
        if (vnuma_agent_nodeset_applies(agent, d))
            resume_follow(agent, d, p->live_nodeset, nodes);
        return;
    }
    if (p->recovered)
        vnuma_agent_record(agent, name, uuid, "recover", G_LOG_LEVEL_MESSAGE,
               "the record says an apply was interrupted: the pins are the agent's; placing afresh");
    state = vnuma_agent_state_from_layout(p->layout, p->fingerprint, previous, now_s());
    what = describe_state(state);
    if (!(agent->flags & VNUMA_AGENT_DRY_RUN) &&
        !vnuma_agent_apply_state(agent, dom, d, state, NULL, p->numatune_absent, NULL, &error)) {
        if (g_error_matches(error, VNUMA_ERROR, VNUMA_ERROR_BUSY)) {
            /* Typically the start job itself, still finishing: the next
             * pass (sync_running) places a domain it does not know. */
            forget(agent, uuid);
            vnuma_agent_record(agent, name, uuid, "place", G_LOG_LEVEL_WARNING,
                               "%s; placing it again next pass", error->message);
            return;
        }
        d->managed = FALSE;
        d->reason = g_strdup_printf("placement failed: %s", error->message);
        step_failed(agent, dom, name, uuid, "place", error->message);
        /* Still running (and not forgotten): it counts where it may run. */
        if ((d = g_hash_table_lookup(agent->domains, uuid)))
            read_spread(agent, dom, d, p->request->vcpus);
        return;
    }
    d->planned_only = (agent->flags & VNUMA_AGENT_DRY_RUN) != 0;
    d->settle = TRUE;
    d->state = g_steal_pointer(&state);
    vnuma_agent_record(agent, name, uuid, "place", G_LOG_LEVEL_MESSAGE, "%s", what);
}

/* Places every running domain the table does not know yet and forgets
 * the ones that are gone. */
static gboolean
sync_running(VnumaAgent *agent, GError **error)
{
    virDomainPtr *doms = NULL;
    int n = virConnectListAllDomains(agent->conn, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
    g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    GHashTableIter iter;
    gpointer key;

    if (n < 0) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_IO, "cannot list domains: %s", vnuma_virt_error());
        return FALSE;
    }
    for (int i = 0; i < n; i++) {
        char uuid[VIR_UUID_STRING_BUFLEN];

        if (in_scope(agent, doms[i]) && virDomainGetUUIDString(doms[i], uuid) == 0) {
            g_hash_table_add(seen, g_strdup(uuid));
            if (!g_hash_table_contains(agent->domains, uuid))
                place_domain(agent, doms[i]);
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
               vnuma_virt_error());
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
            vnuma_agent_record(agent, name, uuid, "define", G_LOG_LEVEL_CRITICAL, "%s", error->message);
        else
            vnuma_agent_record(agent, name, uuid, "define-skip", G_LOG_LEVEL_DEBUG, "%s", skip);
        return;
    }
    if (agent->flags & VNUMA_AGENT_DRY_RUN) {
        vnuma_agent_record(agent, name, uuid, "define", G_LOG_LEVEL_MESSAGE, "would size the persistent definition");
        return;
    }
    if (!(defined = virDomainDefineXML(agent->conn, output))) {
        vnuma_agent_record(agent, name, uuid, "define", G_LOG_LEVEL_CRITICAL, "defining the sized XML: %s",
               vnuma_virt_error());
        return;
    }
    after = read_definition(defined);
    virDomainFree(defined);
    if (after)
        g_hash_table_replace(agent->own_defines, g_strdup(uuid), checksum(after));
    vnuma_agent_record(agent, name, uuid, "define", G_LOG_LEVEL_MESSAGE,
           "persistent definition sized (takes effect at the next cold boot)");
}

static gboolean
sweep_definitions(VnumaAgent *agent, GError **error)
{
    virDomainPtr *doms = NULL;
    int n = virConnectListAllDomains(agent->conn, &doms, VIR_CONNECT_LIST_DOMAINS_PERSISTENT);

    if (n < 0) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_IO, "cannot list domains: %s", vnuma_virt_error());
        return FALSE;
    }
    for (int i = 0; i < n; i++) {
        if (in_scope(agent, doms[i]))
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
        forget(agent, uuid);
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
    if (in_scope(agent, dom) && event == VIR_DOMAIN_EVENT_STARTED) {
        if (!started_before(agent, uuid, dom))
            place_domain(agent, dom);
    }
    else if (in_scope(agent, dom) && agent->config->define_sizing &&
             detail != VIR_DOMAIN_EVENT_DEFINED_FROM_SNAPSHOT)
        size_definition(agent, dom);
    virDomainFree(dom);
}

/* ---- measuring ------------------------------------------------------ */

/* vCPUs hot-added since the last pass (current count grew): pinned to
 * their clients' home nodes, by applying the state again. */
static void
pin_hot_added(VnumaAgent *agent, VnumaAgentDomain *d, virDomainStatsRecordPtr stats, guint current)
{
    g_autoptr(VnumaAgentState) again = vnuma_agent_state_copy(d->state);
    g_autoptr(GError) error = NULL;
    guint before = d->vcpus_current;
    g_autoptr(VnumaCpuSet) widen = NULL;
    guint rehomed = vnuma_agent_rehome_hot_added(agent->host, d->usable, again, before, current, now_s());

    d->vcpus_current = current;
    if (agent->flags & VNUMA_AGENT_DRY_RUN) {
        vnuma_agent_record(agent, d->name, d->uuid, "vcpus", G_LOG_LEVEL_MESSAGE,
               "vCPUs %u-%u hot-added: would pin them to their clients' home nodes", before, current - 1);
        return;
    }
    /* Headroom homed with the online clients gets its own node now; its
     * memory follows as after a move. */
    if (rehomed && vnuma_agent_follows_memory(agent, d))
        widen = vnuma_agent_memory_nodes(agent->host, d->state);
    if (!vnuma_agent_apply_state(agent, stats->dom, d, again, d->state, FALSE, widen, &error)) {
        step_failed(agent, stats->dom, d->name, d->uuid, "vcpus", error->message);
        return;
    }
    vnuma_agent_state_free(d->state);
    d->state = g_steal_pointer(&again);
    if (widen) {
        vnuma_agent_follow_free(d->follow);
        d->follow = vnuma_agent_follow_new(agent, "the move");
    }
    vnuma_agent_record(agent, d->name, d->uuid, "vcpus", G_LOG_LEVEL_MESSAGE,
           "vCPUs %u-%u hot-added: pinned to their clients' home nodes (%u client(s) of hot-plug "
           "headroom given a node of their own)", before, current - 1, rehomed);
    /* The line above is the logged decision the memory follows. */
    if (d->follow && widen)
        d->follow->decided = TRUE;
}

static void
measure_cpu(VnumaAgent *agent)
{
    virDomainStatsRecordPtr *records = NULL;
    gint64 now = g_get_monotonic_time();
    int n = virConnectGetAllDomainStats(agent->conn, VIR_DOMAIN_STATS_VCPU, &records,
                                        VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE);

    if (n < 0) {
        g_log_structured(G_LOG_DOMAIN, G_LOG_LEVEL_DEBUG, "MESSAGE", "no vCPU stats: %s",
                         vnuma_virt_error());
        return;
    }
    for (int i = 0; i < n; i++) {
        char uuid[VIR_UUID_STRING_BUFLEN];
        VnumaAgentDomain *d;
        GArray *times;
        guint current = 0;

        if (virDomainGetUUIDString(records[i]->dom, uuid) < 0 ||
            !(d = g_hash_table_lookup(agent->domains, uuid)) || (!vnuma_agent_placed(d) && !d->spread))
            continue;
        times = vnuma_vcpu_times_new();
        for (int p = 0; p < records[i]->nparams; p++) {
            const virTypedParameter *param = &records[i]->params[p];

            if (param->type == VIR_TYPED_PARAM_ULLONG)
                vnuma_vcpu_times_add_field(times, param->field, param->value.ul);
            else if (param->type == VIR_TYPED_PARAM_UINT && g_str_equal(param->field, "vcpu.current"))
                current = param->value.ui;
        }
        g_clear_pointer(&d->demand, g_array_unref);
        /* The first sample has nothing to compare with: no demand yet
         * (a zero would drag the rebalancer's average down). */
        if (d->vcpu_times) {
            d->demand = vnuma_vcpu_demand(d->vcpu_times, times, (double) (now - d->sampled) / G_USEC_PER_SEC);
            g_array_unref(d->vcpu_times);
        }
        d->vcpu_times = times;
        d->sampled = now;
        if (vnuma_agent_placed(d) && !d->planned_only && current > d->vcpus_current && d->vcpus_current > 0)
            pin_hot_added(agent, d, records[i], current);
        else if (current)
            d->vcpus_current = current;
    }
    virDomainStatsRecordListFree(records);
}

/* ---- rebalancing ---------------------------------------------------- */

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
        forget(agent, uuid);
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
        step_failed(agent, dom, d->name, uuid, "move", error->message);
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
    gint to = agent->host ? vnuma_agent_node_index(agent->host, node_id) : -1;
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
    move.from = (guint) MAX(vnuma_agent_node_index(agent->host,
                                       g_array_index(d->state->clients, VnumaAgentClient, client).home_node), 0);
    move.to = (guint) to;
    if (agent->flags & VNUMA_AGENT_DRY_RUN)
        return TRUE;
    if (!move_domain(agent, uuid, &move, &ref, nodes, now_s())) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_IO, "moving client %u of %s failed", client, uuid);
        return FALSE;
    }
    /* move_domain() may not forget @d on success. */
    vnuma_agent_record(agent, d->name, uuid, "move", G_LOG_LEVEL_MESSAGE, "requested %s migration of client %u to node %u",
           vnuma_move_kind_to_string(kind), client, node_id);
    move_decided(agent, uuid);
    return TRUE;
}

/* CPUs an unplaced domain used on node index @n over the last period:
 * its measured demand, spread where its vCPUs may run. */
static double
unplaced_load(const VnumaAgentDomain *d, guint n)
{
    double vcpus = sum_doubles(d->spread);

    if (vnuma_agent_placed(d) || !d->demand || vcpus <= 0 || n >= d->spread->len)
        return 0;
    return sum_doubles(d->demand) * g_array_index(d->spread, double, n) / vcpus;
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

static void
rebalance(VnumaAgent *agent, GPtrArray *domains)
{
    guint n_nodes = agent->host->nodes->len;
    g_autofree VnumaRebalanceNode *nodes = g_new0(VnumaRebalanceNode, n_nodes);
    g_autoptr(GArray) clients = g_array_new(FALSE, TRUE, sizeof(VnumaRebalanceClient));
    g_autoptr(GArray) refs = g_array_new(FALSE, TRUE, sizeof(ClientRef));
    g_autoptr(GPtrArray) memory = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GArray) moves = NULL;
    gint64 now = now_s();

    g_array_set_clear_func(refs, client_ref_clear);
    for (guint i = 0; i < n_nodes; i++) {
        guint id = ((VnumaHostNode *) agent->host->nodes->pdata[i])->id;
        guint memory_id = vnuma_agent_memory_node(agent->host, id);

        nodes[i] = (VnumaRebalanceNode) {
            .id = id,
            .capacity = vnuma_cpuset_count(agent->usable->pdata[i]),
            /* A CPU-only node's clients keep their memory on its memory node. */
            .cpu_only = memory_id != id,
            .memory_node = (guint) MAX(vnuma_agent_node_index(agent->host, memory_id), 0),
        };
    }
    /* What domains the agent does not place use of a node is not there
     * for the clients it does. */
    for (guint i = 0; i < domains->len; i++) {
        for (guint n = 0; n < n_nodes; n++)
            nodes[n].capacity = MAX(0.0, nodes[n].capacity - unplaced_load(domains->pdata[i], n));
    }
    for (guint i = 0; i < domains->len; i++) {
        VnumaAgentDomain *d = domains->pdata[i];

        /* Not measured yet (first pass since it was placed or resumed):
         * not a candidate this pass. */
        for (guint c = 0; vnuma_agent_placed(d) && d->demand && c < d->state->clients->len; c++) {
            const VnumaAgentClient *client = &g_array_index(d->state->clients, VnumaAgentClient, c);
            gint home = vnuma_agent_node_index(agent->host, client->home_node);
            guint64 *mem = memory_settled(d) ? vnuma_agent_client_memory(agent, d, c) : NULL;
            VnumaRebalanceClient rc = {
                .id = d->client_base + c,
                .home = home < 0 ? n_nodes : (guint) home,
                .demand = d->demand ? vnuma_client_demand(d->demand, client->vcpus) : 0,
                .memory_kib = mem,
                .last_move = client->moved >= 0 ? (double) client->moved : -1,
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

/* ---- report and metrics --------------------------------------------- */

/* Per host node index: CPUs used and vCPUs committed, by the placed
 * clients homed there and by unplaced domains where they may run. */
static void
node_loads(const VnumaAgent *agent, GPtrArray *domains, double *load, double *committed)
{
    for (guint i = 0; i < domains->len; i++) {
        const VnumaAgentDomain *d = domains->pdata[i];
        guint spread = !vnuma_agent_placed(d) && d->spread ? MIN(d->spread->len, agent->host->nodes->len) : 0;

        for (guint n = 0; n < spread; n++) {
            committed[n] += g_array_index(d->spread, double, n);
            load[n] += unplaced_load(d, n);
        }
        for (guint c = 0; vnuma_agent_placed(d) && c < d->state->clients->len; c++) {
            const VnumaAgentClient *client = &g_array_index(d->state->clients, VnumaAgentClient, c);
            gint index = vnuma_agent_node_index(agent->host, client->home_node);

            if (index < 0)
                continue;
            committed[index] += vnuma_cpuset_count(client->vcpus);
            if (d->demand)
                load[index] += vnuma_client_demand(d->demand, client->vcpus);
        }
    }
}

static gint64
free_bytes(const VnumaAgent *agent, guint node_id)
{
    unsigned long long free = 0;

    if (!agent->conn || virNodeGetCellsFreeMemory(agent->conn, &free, (int) node_id, 1) != 1)
        return -1;
    return (gint64) MIN(free, (unsigned long long) G_MAXINT64);
}

static GArray *
node_metrics(const VnumaAgent *agent, GPtrArray *domains)
{
    guint n = agent->host->nodes->len;
    g_autofree double *load = g_new0(double, n);
    g_autofree double *committed = g_new0(double, n);
    GArray *nodes = g_array_new(FALSE, TRUE, sizeof(VnumaMetricsNode));

    node_loads(agent, domains, load, committed);
    for (guint i = 0; i < n; i++) {
        VnumaMetricsNode node = {
            .id = ((const VnumaHostNode *) agent->host->nodes->pdata[i])->id,
            .capacity = vnuma_cpuset_count(agent->usable->pdata[i]),
            .load = load[i],
            .committed_vcpus = committed[i],
        };

        node.free_bytes = free_bytes(agent, node.id);
        g_array_append_val(nodes, node);
    }
    return nodes;
}

static void
write_metrics(VnumaAgent *agent, GPtrArray *domains, const GArray *nodes)
{
    g_autoptr(VnumaMetrics) metrics = vnuma_metrics_new();
    g_autoptr(GError) error = NULL;

    for (guint i = 0; i < domains->len; i++) {
        const VnumaAgentDomain *d = domains->pdata[i];

        if (vnuma_agent_placed(d))
            vnuma_metrics_add_domain(metrics, d->name, d->uuid, d->state, vnuma_agent_locality(agent, d));
    }
    for (guint i = 0; i < nodes->len; i++)
        vnuma_metrics_add_node(metrics, &g_array_index(nodes, VnumaMetricsNode, i));
    metrics->passes = agent->passes;
    metrics->last_pass = (double) g_get_real_time() / G_USEC_PER_SEC;
    metrics->connected = agent->conn != NULL;
    if (!vnuma_metrics_write(metrics, agent->config->metrics_path, &error))
        g_log_structured(G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "MESSAGE", "%s", error->message);
}

static void
build_report(VnumaAgent *agent, GPtrArray *domains, const GArray *nodes)
{
    g_autofree VnumaReportNode *report_nodes = g_new0(VnumaReportNode, nodes->len);
    g_autofree VnumaReportDomain *report_domains = g_new0(VnumaReportDomain, MAX(domains->len, 1));
    g_autoptr(GPtrArray) cpus = g_ptr_array_new_with_free_func(g_free);
    VnumaReport report = {
        .pass = agent->passes,
        .time = (double) g_get_real_time() / G_USEC_PER_SEC,
        .uri = agent->uri,
        .dry_run = (agent->flags & VNUMA_AGENT_DRY_RUN) != 0,
        .connected = agent->conn != NULL,
        .host = agent->fingerprint,
        .memory_mode = vnuma_memory_mode_to_string(agent->config->settings.memory_mode),
        .memory_migrate_rate = agent->config->memory_migrate_rate,
        .nodes = report_nodes,
        .n_nodes = nodes->len,
        .domains = report_domains,
        .n_domains = domains->len,
        .actions = agent->actions,
        .errors = agent->errors,
    };

    for (guint i = 0; i < nodes->len; i++) {
        report_nodes[i].metrics = g_array_index(nodes, VnumaMetricsNode, i);
        g_ptr_array_add(cpus, vnuma_cpuset_format(agent->usable->pdata[i]));
        report_nodes[i].cpus = cpus->pdata[i];
    }
    for (guint i = 0; i < domains->len; i++) {
        const VnumaAgentDomain *d = domains->pdata[i];

        report_domains[i] = (VnumaReportDomain) {
            .name = d->name,
            .uuid = d->uuid,
            .managed = d->managed,
            .reason = d->reason,
            .applied = vnuma_agent_placed(d) && !d->planned_only,
            .state = vnuma_agent_placed(d) ? d->state : NULL,
            .demand = vnuma_agent_placed(d) ? d->demand : NULL,
            .locality = vnuma_agent_locality(agent, d),
            .memory_source = vnuma_agent_memory_source(d),
            .memory_following = d->follow != NULL,
            .memory_moved_kib = d->memory_moved_kib + (d->follow ? d->follow->moved / 1024 : 0),
            .warnings = (const char *const *) d->warnings,
        };
    }
    g_free(agent->report);
    agent->report = vnuma_report_format(&report);
}

/* ---- the pass ------------------------------------------------------- */

gboolean
vnuma_agent_pass(VnumaAgent *agent, GError **error)
{
    g_autoptr(GPtrArray) domains = NULL;
    g_autoptr(GArray) nodes = NULL;

    if (!agent->conn) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_IO, "not connected to %s", agent->uri);
        return FALSE;
    }
    agent->passes++;
    if ((agent->sweep_definitions && !sweep_definitions(agent, error)) || !sync_running(agent, error)) {
        if (!connection_alive(agent))
            disconnect(agent);
        return FALSE;
    }
    measure_cpu(agent);
    domains = sorted_domains(agent);
    for (guint i = 0; i < domains->len; i++) {
        VnumaAgentDomain *d = domains->pdata[i];

        if (!vnuma_agent_placed(d))
            continue;
        vnuma_agent_measure_memory(agent, d);
        if (d->settle)
            vnuma_agent_settle_memory(agent, d);
        if (d->follow && !(agent->flags & VNUMA_AGENT_DRY_RUN))
            vnuma_agent_follow_memory(agent, d);
    }
    rebalance(agent, domains);
    /* Moves may have forgotten vanished domains: list again. */
    g_ptr_array_unref(domains);
    domains = sorted_domains(agent);
    nodes = node_metrics(agent, domains);
    if (agent->config->metrics_path)
        write_metrics(agent, domains, nodes);
    if (agent->flags & VNUMA_AGENT_REPORT)
        build_report(agent, domains, nodes);
    g_ptr_array_set_size(agent->actions, 0);
    if (!connection_alive(agent)) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_IO, "lost the connection to %s", agent->uri);
        disconnect(agent);
        return FALSE;
    }
    return TRUE;
}

/* ---- the daemon ----------------------------------------------------- */

typedef struct {
    VnumaAgent *agent;
    gint generation;
    char uuid[VIR_UUID_STRING_BUFLEN];
    int event;
    int detail;
    gboolean closed;
} Handoff;

static gboolean
dispatch(gpointer data)
{
    Handoff *h = data;
    VnumaAgent *agent = h->agent;

    /* From a connection that has been replaced since: stale. */
    if (h->generation != g_atomic_int_get(&agent->generation))
        return G_SOURCE_REMOVE;
    if (h->closed) {
        g_log_structured(G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "MESSAGE",
                         "connection to %s closed; reconnecting", agent->uri);
        disconnect(agent);
        schedule_reconnect(agent);
    } else {
        vnuma_agent_handle_event(agent, h->uuid, h->event, h->detail);
    }
    return G_SOURCE_REMOVE;
}

/* Always queued, never run in place: libvirt also calls the close
 * callback from the main thread itself (an RPC there finds the socket
 * dead), holding a lock that disconnecting takes; g_main_context_invoke
 * would then run dispatch() right there, on a thread that owns the
 * context, and deadlock (found by test-agent-faults). */
static void
hand_off(VnumaAgent *agent, Handoff *h)
{
    GSource *source = g_idle_source_new();

    h->agent = agent;
    h->generation = g_atomic_int_get(&agent->generation);
    g_source_set_priority(source, G_PRIORITY_DEFAULT);
    g_source_set_callback(source, dispatch, h, g_free);
    g_source_attach(source, agent->context);
    g_source_unref(source);
}

/* In libvirt's event thread. */
static int
on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque)
{
    Handoff *h = g_new0(Handoff, 1);

    if (virDomainGetUUIDString(dom, h->uuid) < 0) {
        g_free(h);
        return 0;
    }
    h->event = event;
    h->detail = detail;
    hand_off(opaque, h);
    return 0;
}

/* In libvirt's event thread. */
static void
on_close(virConnectPtr conn, int reason, void *opaque)
{
    Handoff *h = g_new0(Handoff, 1);

    h->closed = TRUE;
    hand_off(opaque, h);
}

static gboolean
register_callbacks(VnumaAgent *agent)
{
    /* Keepalive notices a libvirtd that hangs or vanished without a
     * clean close; refused by drivers without a remote side (test). */
    virConnectSetKeepAlive(agent->conn, KEEPALIVE_INTERVAL_S, KEEPALIVE_COUNT);
    agent->lifecycle_id = virConnectDomainEventRegisterAny(agent->conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                                           VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle),
                                                           agent, NULL);
    if (agent->lifecycle_id < 0) {
        g_log_structured(G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "MESSAGE",
                         "cannot register for domain events: %s", vnuma_virt_error());
        return FALSE;
    }
    agent->close_registered = virConnectRegisterCloseCallback(agent->conn, on_close, agent, NULL) == 0;
    return TRUE;
}

static void
print_report(VnumaAgent *agent)
{
    if (agent->report) {
        g_print("%s\n", agent->report);
        fflush(stdout);
    }
}

static void
run_pass(VnumaAgent *agent)
{
    g_autoptr(GError) error = NULL;

    agent->errors = 0;
    if (!vnuma_agent_pass(agent, &error)) {
        g_log_structured(G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "MESSAGE", "pass failed: %s", error->message);
        if (!agent->conn)
            schedule_reconnect(agent);
        return;
    }
    print_report(agent);
}

static gboolean
pass_tick(gpointer data)
{
    VnumaAgent *agent = data;

    if (agent->conn)
        run_pass(agent);
    return G_SOURCE_CONTINUE;
}

static gboolean
reconnect_tick(gpointer data)
{
    VnumaAgent *agent = data;
    g_autoptr(GError) error = NULL;

    /* Returning REMOVE destroys it; only our reference is left to drop. */
    g_clear_pointer(&agent->reconnect_source, g_source_unref);
    if (!vnuma_agent_connect(agent, &error) || !register_callbacks(agent)) {
        g_log_structured(G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "MESSAGE", "%s; retrying in %u s",
                         error ? error->message : "cannot watch events", agent->backoff);
        disconnect(agent);
        schedule_reconnect(agent);
        return G_SOURCE_REMOVE;
    }
    agent->backoff = 1;
    run_pass(agent);
    return G_SOURCE_REMOVE;
}

/* Exponential backoff (1, 2, 4 … 30 s) so a libvirtd that is down is
 * not hammered, and one that restarts is found again within seconds. */
static void
schedule_reconnect(VnumaAgent *agent)
{
    if (agent->reconnect_source)
        return;
    agent->reconnect_source = add_timeout(agent, agent->backoff * 1000, reconnect_tick);
    agent->backoff = MIN(agent->backoff * 2, BACKOFF_MAX_S);
}

static void
schedule_passes(VnumaAgent *agent)
{
    double period = agent->config->rebalance_period;

    drop_source(&agent->pass_source);
    if (period > 0)
        agent->pass_source = add_timeout(agent, (guint) (period * 1000), pass_tick);
}

void
vnuma_agent_reload(VnumaAgent *agent, VnumaAgentConfig *config)
{
    g_autoptr(GError) error = NULL;

    vnuma_agent_config_free(agent->config);
    agent->config = config;
    if (agent->conn) {
        if (!read_host(agent, &error))
            g_log_structured(G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "MESSAGE",
                             "reload: keeping the host model: %s", error->message);
        read_driver(agent);
        /* Looked at afresh with the new settings: the placed ones resume
         * from their records. */
        g_hash_table_remove_all(agent->domains);
    }
    if (agent->context)
        schedule_passes(agent);
    g_log_structured(G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, "MESSAGE",
                     "configuration reloaded: rebalance_period %g s, memory_migrate_rate %g MiB/s%s%s",
                     config->rebalance_period, config->memory_migrate_rate,
                     config->metrics_path ? ", metrics to " : "",
                     config->metrics_path ? config->metrics_path : "");
}

gboolean
vnuma_agent_run(VnumaAgent *agent, GMainLoop *loop, GError **error)
{
    agent->context = g_main_loop_get_context(loop);
    if (agent->context == g_main_context_default()) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID,
                    "the agent's loop needs its own GMainContext (libvirt's event thread runs the default one)");
        return FALSE;
    }
    if (!vnuma_events_start(error))
        return FALSE;
    if (agent->conn && register_callbacks(agent)) {
        run_pass(agent);
    } else {
        disconnect(agent);
        agent->reconnect_source = add_timeout(agent, 0, reconnect_tick);
    }
    schedule_passes(agent);
    g_main_loop_run(loop);
    drop_source(&agent->pass_source);
    drop_source(&agent->reconnect_source);
    disconnect(agent);
    vnuma_events_stop();
    return TRUE;
}
