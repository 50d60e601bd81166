/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "agent/vnuma-agent.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libvirt/virterror.h>

#include "agent/vnuma-agent-demand.h"
#include "agent/vnuma-agent-events.h"
#include "agent/vnuma-agent-metrics.h"
#include "agent/vnuma-agent-numamaps.h"
#include "agent/vnuma-agent-pages.h"
#include "agent/vnuma-agent-plan.h"
#include "agent/vnuma-agent-report.h"
#include "agent/vnuma-agent-state.h"
#include "lib/vnuma-error.h"
#include "lib/vnuma-ratelimit.h"
#include "lib/vnuma-rebalance.h"
#include "lib/vnuma-sizing.h"
#include "xml/vnuma-caps.h"

#define QEMU_RUN_DIR "/run/libvirt/qemu"
#define BACKOFF_MAX_S 30
#define KEEPALIVE_INTERVAL_S 5
#define KEEPALIVE_COUNT 3
/* libvirt 7.3.0: the first with <numatune> mode restrictive. */
#define LIBVIRT_RESTRICTIVE_VERSION 7003000
#define MIB_BYTES (1024.0 * 1024.0)
/* Page migration looks at no more than this many times the bytes it
 * may move in a pass (most pages of a region may already be in place),
 * and at least this much, so a slow rate still finishes the walk. */
#define FOLLOW_SCAN_FACTOR 8
#define FOLLOW_SCAN_MIN (64ull << 20)

/* Test-only fault points (docs/agent.md), from VNUMA_AGENT_FAULT, read
 * once when the agent is made: failures that cannot be provoked for
 * real at the right moment. Unset in production: no effect. */
typedef enum {
    FAULT_NONE,
    FAULT_STOP_BEFORE_APPLY,     /* SIGSTOP itself after deciding, before changing anything */
    FAULT_STOP_AFTER_PINS,       /* SIGSTOP itself after the pins, before nodeset and record */
    FAULT_FAIL_RECORD,           /* the final record write fails as if libvirt refused it */
} Fault;

/* Memory following a moved client (memory_migrate_rate): one span per
 * guest RAM mapping to walk, pages off @allowed going to @target. */
typedef struct {
    guint64 start;
    guint64 end;
    guint64 cursor;
    gint target;
    VnumaCpuSet *allowed;
} FollowSpan;

typedef struct {
    GArray *spans;               /* FollowSpan; NULL until resolved from numa_maps */
    VnumaRateLimit limit;
    guint64 moved;               /* bytes */
    guint64 failed;
} Follow;

/* One running domain as the agent knows it. */
typedef struct {
    char *uuid;
    char *name;
    gboolean managed;
    char *reason;                /* why not managed, or why placement failed */
    VnumaAgentState *state;      /* managed and placed: clients on home nodes */
    gboolean planned_only;       /* --dry-run: decided, not applied */
    gboolean nodeset_live;       /* libvirt lets its nodeset change while it runs */
    GStrv warnings;              /* the sizing engine's, from placement */
    GPtrArray *usable;           /* VnumaCpuSet * per host node index, this domain's view */
    guint client_base;           /* rebalancer ids: client_base + client index */
    GArray *vcpu_times;          /* last "vcpu.N.time" sample, ns */
    gint64 sampled;              /* monotonic µs of that sample */
    GArray *demand;              /* double per vCPU, CPUs used over the last period */
    GArray *memory;              /* KiB per host node id from numa_maps; NULL: unknown */
    GPtrArray *cell_vcpus;       /* VnumaCpuSet * per guest cell; no cells: one, every vCPU */
    GArray *cell_kib;            /* guint64 per guest cell; no cells: one, <memory> */
    guint64 memory_kib;          /* <memory> */
    guint vcpus_current;         /* online vCPUs, last seen */
    GArray *spread;              /* not placed: vCPUs per host node index, where they may run */
    pid_t pid;                   /* QEMU's, when numa_maps is readable */
    GPtrArray *regions;          /* VnumaMemRegion *: the process's mappings, last pass */
    GArray *ram;                 /* gint per cell: its backing mapping in regions, or -1 */
    Follow *follow;              /* pages still following a move */
    guint64 memory_moved_kib;    /* by page migration since placed */
} AgentDomain;

struct _VnumaAgent {
    char *uri;
    VnumaAgentConfig *config;
    VnumaAgentFlags flags;

    virConnectPtr conn;
    gint generation;             /* bumped on every (dis)connection; atomic */
    int lifecycle_id;            /* -1: not registered */
    gboolean close_registered;
    VnumaHost *host;
    char *fingerprint;
    GPtrArray *usable;           /* VnumaCpuSet * per host node index: CPUs ∩ host_cpuset */
    VnumaCpuSet *host_cpus;      /* every CPU of the host: an unpinned vCPU's map */
    int cpumap_len;
    VnumaAgentPlanFlags plan_flags;
    unsigned int pin_flags;      /* for virDomainPinVcpuFlags */
    gboolean read_numa_maps;     /* local qemu driver: /proc/PID/numa_maps is ours to read */
    gboolean sweep_definitions;  /* next pass sizes every persistent definition */
    GHashTable *only;            /* domain names the agent may touch; NULL: all */

    GHashTable *domains;         /* uuid -> AgentDomain */
    GHashTable *own_defines;     /* uuid -> checksum of the definition the agent wrote */
    guint next_client_id;
    VnumaRebalancer *rebalancer;

    GPtrArray *actions;          /* VnumaReportAction *, since the last report */
    Fault fault;
    guint errors;
    guint64 passes;
    char *report;

    GMainContext *context;
    GSource *pass_source;
    GSource *reconnect_source;
    guint backoff;
};

/* ---- bookkeeping ---------------------------------------------------- */

static void
follow_span_clear(gpointer data)
{
    vnuma_cpuset_free(((FollowSpan *) data)->allowed);
}

static void
follow_free(Follow *follow)
{
    if (!follow)
        return;
    if (follow->spans)
        g_array_unref(follow->spans);
    g_free(follow);
}

static void
agent_domain_free(gpointer data)
{
    AgentDomain *d = data;

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
    follow_free(d->follow);
    g_free(d);
}

/* Logs through glib's structured logging (journald fields VNUMA_DOMAIN,
 * VNUMA_ACTION) and keeps the action for the pass report. */
static void G_GNUC_PRINTF(6, 7)
record(VnumaAgent *agent, const char *domain, const char *uuid, const char *action,
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

static const char *
libvirt_message(void)
{
    const char *message = virGetLastErrorMessage();

    return message ? message : "unknown libvirt error";
}

static gint64
now_s(void)
{
    return g_get_real_time() / G_USEC_PER_SEC;
}

static gint
node_index(const VnumaHost *host, guint id)
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

static Fault
read_fault(void)
{
    static const char *const names[] = { "", "stop-before-apply", "stop-after-pins", "fail-record" };
    const char *value = getenv("VNUMA_AGENT_FAULT");

    for (guint i = 1; value && i < G_N_ELEMENTS(names); i++) {
        if (g_str_equal(value, names[i])) {
            g_log_structured(G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "MESSAGE",
                             "test fault point armed: VNUMA_AGENT_FAULT=%s", value);
            return (Fault) i;
        }
    }
    return FAULT_NONE;
}

/* A fault point: the process stops itself, for a test to act meanwhile
 * (destroy the domain, kill libvirtd, SIGKILL the agent). */
static void
fault_stop(VnumaAgent *agent, Fault point, const char *where)
{
    if (agent->fault != point)
        return;
    g_log_structured(G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "MESSAGE", "test fault point: stopping %s", where);
    raise(SIGSTOP);
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
    agent->fault = read_fault();
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
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_IO, "cannot read capabilities: %s", libvirt_message());
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
     * driver, whose pid files sit in QEMU_RUN_DIR. */
    if (g_strcmp0(type, "QEMU") == 0) {
        g_autofree char *hostname = virConnectGetHostname(agent->conn);

        agent->read_numa_maps = hostname && g_str_equal(hostname, g_get_host_name());
    }
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
                    libvirt_message());
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
static gboolean
domain_gone(VnumaAgent *agent, virDomainPtr dom)
{
    int active = virDomainIsActive(dom);

    return active == 0 || (active < 0 && connection_alive(agent));
}

/* ---- the domain table ----------------------------------------------- */

static AgentDomain *
domain_add(VnumaAgent *agent, const char *uuid, const char *name)
{
    AgentDomain *d = g_new0(AgentDomain, 1);

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
    return g_strcmp0((*(AgentDomain *const *) a)->uuid, (*(AgentDomain *const *) b)->uuid);
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

static gboolean
placed(const AgentDomain *d)
{
    return d->managed && d->state != NULL;
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
add_spread(GArray *loads, const AgentDomain *d)
{
    double vcpus = sum_doubles(d->spread);

    for (guint i = 0; d->spread && vcpus > 0 && i < MIN(d->spread->len, loads->len); i++) {
        double share = g_array_index(d->spread, double, i);

        g_array_index(loads, VnumaNodeLoad, i).vcpus += share;
        g_array_index(loads, VnumaNodeLoad, i).memory_kib += (guint64) ((double) d->memory_kib * share / vcpus);
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
        const AgentDomain *d = value;

        if (g_str_equal(d->uuid, except))
            continue;
        if (!placed(d)) {
            add_spread(loads, d);
            continue;
        }
        for (guint c = 0; c < d->state->clients->len; c++) {
            const VnumaAgentClient *client = &g_array_index(d->state->clients, VnumaAgentClient, c);
            gint index = node_index(agent->host, client->home_node);

            if (index < 0)
                continue;
            g_array_index(loads, VnumaNodeLoad, index).vcpus += vnuma_cpuset_count(client->vcpus);
            g_array_index(loads, VnumaNodeLoad, index).memory_kib += client->memory_kib;
        }
    }
    return loads;
}

/* ---- applying pins -------------------------------------------------- */

static unsigned char *
cpumap_new(const VnumaAgent *agent, const VnumaCpuSet *cpus)
{
    unsigned char *map = g_new0(unsigned char, agent->cpumap_len);

    VNUMA_CPUSET_FOREACH(cpus, id) {
        if (id < agent->cpumap_len * 8)
            VIR_USE_CPU(map, id);
    }
    return map;
}

/* The CPUs of a client's home node as this domain may use them. */
static const VnumaCpuSet *
home_cpus(const VnumaAgent *agent, const AgentDomain *d, guint home_node)
{
    gint index = node_index(agent->host, home_node);

    return index < 0 ? NULL : d->usable->pdata[index];
}

/* A vCPU not online yet (hot-pluggable, beyond the current count) may
 * refuse a live pin; it is pinned when it comes (see measure_cpu). */
static gboolean
vcpu_offline(const AgentDomain *d, int vcpu)
{
    return d->vcpus_current > 0 && (guint) vcpu >= d->vcpus_current;
}

static gboolean
pin_vcpus(VnumaAgent *agent, virDomainPtr dom, const AgentDomain *d, const VnumaAgentState *state,
          GError **error)
{
    g_autoptr(VnumaCpuSet) emulator = vnuma_cpuset_new();

    for (guint c = 0; c < state->clients->len; c++) {
        const VnumaAgentClient *client = &g_array_index(state->clients, VnumaAgentClient, c);
        const VnumaCpuSet *cpus = home_cpus(agent, d, client->home_node);
        g_autofree unsigned char *map = NULL;

        if (!cpus || vnuma_cpuset_is_empty(cpus)) {
            g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID, "node %u has no usable CPU",
                        client->home_node);
            return FALSE;
        }
        map = cpumap_new(agent, cpus);
        vnuma_cpuset_union(emulator, cpus);
        VNUMA_CPUSET_FOREACH(client->vcpus, vcpu) {
            if (virDomainPinVcpuFlags(dom, (unsigned int) vcpu, map, agent->cpumap_len,
                                      agent->pin_flags) < 0 && !vcpu_offline(d, vcpu)) {
                g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_IO, "pinning vCPU %d: %s", vcpu,
                            libvirt_message());
                return FALSE;
            }
        }
    }
    g_autofree unsigned char *map = cpumap_new(agent, emulator);
    if (virDomainPinEmulator(dom, map, agent->cpumap_len, VIR_DOMAIN_AFFECT_LIVE) < 0) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_IO, "pinning the emulator: %s", libvirt_message());
        return FALSE;
    }
    return TRUE;
}

/* The memory nodeset of a running domain. libvirt allows the change only
 * without a <numatune> yet or in mode restrictive; setting it without
 * one makes the mode strict and locks it, so the first change also asks
 * for restrictive. */
static gboolean
set_nodeset(virDomainPtr dom, const VnumaCpuSet *nodes, gboolean numatune_absent, GError **error)
{
    g_autofree char *nodeset = vnuma_cpuset_format(nodes);
    virTypedParameterPtr params = NULL;
    int n_params = 0, max_params = 0;
    gboolean ok;

    ok = virTypedParamsAddString(&params, &n_params, &max_params, VIR_DOMAIN_NUMA_NODESET, nodeset) == 0 &&
         (!numatune_absent ||
          virTypedParamsAddInt(&params, &n_params, &max_params, VIR_DOMAIN_NUMA_MODE,
                               VIR_DOMAIN_NUMATUNE_MEM_RESTRICTIVE) == 0) &&
         virDomainSetNumaParameters(dom, params, n_params, VIR_DOMAIN_AFFECT_LIVE) == 0;
    if (!ok)
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_IO, "memory nodeset %s refused: %s", nodeset,
                    libvirt_message());
    virTypedParamsFree(params, n_params);
    return ok;
}

/* Whether the agent changes this domain's nodeset at all. */
static gboolean
nodeset_applies(const VnumaAgent *agent, const AgentDomain *d)
{
    return d->nodeset_live && agent->config->settings.memory_mode == VNUMA_MEMORY_MODE_RESTRICTIVE;
}

static gboolean
write_record(VnumaAgent *agent, virDomainPtr dom, const VnumaAgentState *state, GError **error)
{
    g_autofree char *record_xml = vnuma_agent_state_format(state);

    if (agent->fault == FAULT_FAIL_RECORD && !state->pending) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_IO,
                    "saving the record: refused (test fault point VNUMA_AGENT_FAULT=fail-record)");
        return FALSE;
    }
    if (virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, record_xml, VNUMA_AGENT_PREFIX,
                             VNUMA_AGENT_NAMESPACE, VIR_DOMAIN_AFFECT_LIVE) < 0) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_IO, "saving the record: %s", libvirt_message());
        return FALSE;
    }
    return TRUE;
}

/* The record, complete: with the digest of the pins as libvirt now
 * reports them, which is how a later pass knows they are the agent's. */
static gboolean
save_record(VnumaAgent *agent, virDomainPtr dom, VnumaAgentState *state, GError **error)
{
    g_autofree char *xml = virDomainGetXMLDesc(dom, 0);

    if (!xml) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_IO, "reading the pins back: %s", libvirt_message());
        return FALSE;
    }
    g_free(state->pins_digest);
    if (!(state->pins_digest = vnuma_agent_pins_digest(xml, strlen(xml), error)))
        return FALSE;
    state->pending = FALSE;
    return write_record(agent, dom, state, error);
}

/* The pins and nodeset a domain had before an apply, to roll back to.
 * A part libvirt would not report (the test driver has no emulator pin
 * info) is restored as unpinned: all CPUs. */
typedef struct {
    unsigned char *vcpus;        /* n_vcpus maps; NULL: not read */
    int n_vcpus;
    unsigned char *emulator;     /* NULL: not read */
    char *nodeset;               /* NULL: not read */
} PinSnapshot;

static void
pin_snapshot_clear(PinSnapshot *snap)
{
    g_free(snap->vcpus);
    g_free(snap->emulator);
    g_free(snap->nodeset);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(PinSnapshot, pin_snapshot_clear)

static guint
state_max_vcpus(const VnumaAgentState *state)
{
    gint last = -1;

    for (guint c = 0; c < state->clients->len; c++)
        last = MAX(last, vnuma_cpuset_last(g_array_index(state->clients, VnumaAgentClient, c).vcpus));
    return (guint) (last + 1);
}

static char *
read_nodeset(virDomainPtr dom)
{
    virTypedParameterPtr params = NULL;
    int n_params = 0;
    const char *nodeset = NULL;
    char *copy = NULL;

    if (virDomainGetNumaParameters(dom, NULL, &n_params, VIR_DOMAIN_AFFECT_LIVE) < 0 || n_params <= 0)
        return NULL;
    params = g_new0(virTypedParameter, n_params);
    if (virDomainGetNumaParameters(dom, params, &n_params, VIR_DOMAIN_AFFECT_LIVE) == 0 &&
        virTypedParamsGetString(params, n_params, VIR_DOMAIN_NUMA_NODESET, &nodeset) == 1 && nodeset)
        copy = g_strdup(nodeset);
    virTypedParamsClear(params, n_params);
    g_free(params);
    return copy;
}

static void
read_snapshot(const VnumaAgent *agent, virDomainPtr dom, guint max_vcpus, PinSnapshot *snap)
{
    snap->vcpus = g_new0(unsigned char, (gsize) max_vcpus * agent->cpumap_len);
    snap->n_vcpus = virDomainGetVcpuPinInfo(dom, (int) max_vcpus, snap->vcpus, agent->cpumap_len,
                                            VIR_DOMAIN_AFFECT_LIVE);
    if (snap->n_vcpus < 0)
        g_clear_pointer(&snap->vcpus, g_free);
    snap->emulator = g_new0(unsigned char, agent->cpumap_len);
    if (virDomainGetEmulatorPinInfo(dom, snap->emulator, agent->cpumap_len, VIR_DOMAIN_AFFECT_LIVE) < 0)
        g_clear_pointer(&snap->emulator, g_free);
    snap->nodeset = read_nodeset(dom);
}

static gboolean
restore_snapshot(VnumaAgent *agent, virDomainPtr dom, const AgentDomain *d, const PinSnapshot *snap,
                 guint max_vcpus, gboolean nodeset_changed, GError **error)
{
    g_autofree unsigned char *all = cpumap_new(agent, agent->host_cpus);

    for (guint v = 0; v < max_vcpus; v++) {
        const unsigned char *map = snap->vcpus && (int) v < snap->n_vcpus
                                   ? snap->vcpus + (gsize) v * agent->cpumap_len : all;

        if (virDomainPinVcpuFlags(dom, v, (unsigned char *) map, agent->cpumap_len, agent->pin_flags) < 0 &&
            !vcpu_offline(d, (int) v)) {
            g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_IO, "restoring vCPU %u's pins: %s", v,
                        libvirt_message());
            return FALSE;
        }
    }
    if (virDomainPinEmulator(dom, snap->emulator ? snap->emulator : all, agent->cpumap_len,
                             VIR_DOMAIN_AFFECT_LIVE) < 0) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_IO, "restoring the emulator's pins: %s", libvirt_message());
        return FALSE;
    }
    if (nodeset_changed && snap->nodeset) {
        g_autoptr(VnumaCpuSet) nodes = vnuma_cpuset_parse(snap->nodeset, NULL);

        if (nodes && !vnuma_cpuset_is_empty(nodes) && !set_nodeset(dom, nodes, FALSE, error))
            return FALSE;
    }
    return TRUE;
}

/* Undoes a failed apply (SPEC §7: no half-applied state): the pins and
 * nodeset go back to what they were; a move's record goes back to the
 * previous one. A first placement's record stays pending, so whatever
 * libvirt now shows of its pins is never taken for an admin's. */
static void
roll_back(VnumaAgent *agent, virDomainPtr dom, const AgentDomain *d, const PinSnapshot *snap,
          guint max_vcpus, gboolean nodeset_changed, const VnumaAgentState *previous, GError **error)
{
    g_autoptr(GError) again = NULL;
    g_autoptr(VnumaAgentState) back = previous ? vnuma_agent_state_copy(previous) : NULL;

    if (domain_gone(agent, dom))
        return;   /* nothing left to undo: the caller forgets it */
    if (restore_snapshot(agent, dom, d, snap, max_vcpus, nodeset_changed, &again) &&
        (!back || save_record(agent, dom, back, &again))) {
        g_prefix_error(error, "rolled back (pins%s restored%s) after: ", nodeset_changed ? " and nodeset" : "",
                       back ? ", previous record kept" : ", record left pending");
        return;
    }
    g_prefix_error(error, "ROLLBACK FAILED (%s; the record stays pending: the domain is placed afresh "
                   "next time) after: ", again->message);
}

/* Applies @next to the running domain (pins, nodeset, record) as one
 * step that either completes or is rolled back. A pending record goes
 * first (write-ahead), so an agent killed half way leaves a mark that
 * the pins may be its own. @previous is the state now applied (a move,
 * vCPUs hot-added) or NULL (a first placement); @widen adds nodes to
 * the nodeset while memory follows a move. */
static gboolean
apply_state(VnumaAgent *agent, virDomainPtr dom, const AgentDomain *d, VnumaAgentState *next,
            const VnumaAgentState *previous, gboolean numatune_absent, const VnumaCpuSet *widen,
            GError **error)
{
    g_auto(PinSnapshot) snap = { 0 };
    guint max_vcpus = state_max_vcpus(next);
    gboolean nodeset_changed = FALSE;
    g_autoptr(VnumaCpuSet) nodes = vnuma_agent_memory_nodes(agent->host, next);

    fault_stop(agent, FAULT_STOP_BEFORE_APPLY, "before applying");
    read_snapshot(agent, dom, max_vcpus, &snap);
    next->pending = TRUE;
    if (!write_record(agent, dom, next, error)) {
        next->pending = FALSE;
        g_prefix_error(error, "nothing applied: ");
        return FALSE;
    }
    if (widen)
        vnuma_cpuset_union(nodes, widen);
    if (pin_vcpus(agent, dom, d, next, error)) {
        fault_stop(agent, FAULT_STOP_AFTER_PINS, "after the pins");
        if (!nodeset_applies(agent, d) || (nodeset_changed = set_nodeset(dom, nodes, numatune_absent, error))) {
            if (save_record(agent, dom, next, error))
                return TRUE;
        }
    }
    roll_back(agent, dom, d, &snap, max_vcpus, nodeset_changed, previous, error);
    return FALSE;
}

/* ---- initial placement ---------------------------------------------- */

static VnumaAgentState *
read_state(VnumaAgent *agent, virDomainPtr dom, const char *name, const char *uuid)
{
    g_autofree char *xml = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT,
                                                VNUMA_AGENT_NAMESPACE, VIR_DOMAIN_AFFECT_LIVE);
    g_autoptr(GError) error = NULL;
    VnumaAgentState *state;

    if (!xml)
        return NULL;   /* VIR_ERR_NO_DOMAIN_METADATA: never placed */
    if (!(state = vnuma_agent_state_parse(xml, &error)))
        record(agent, name, uuid, "resume", G_LOG_LEVEL_WARNING, "%s; placing afresh", error->message);
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
    /* @message may be libvirt's last error, which the next call frees. */
    g_autofree char *copy = g_strdup(message);

    if (domain_gone(agent, dom)) {
        forget(agent, uuid);
        record(agent, name, uuid, "forget", G_LOG_LEVEL_INFO, "stopped during %s", action);
        return;
    }
    record(agent, name, uuid, action, G_LOG_LEVEL_CRITICAL, "%s", copy);
}

/* Where an unplaced domain's vCPUs may run, from the pins libvirt
 * reports (an unpinned vCPU: every CPU). */
static void
read_spread(VnumaAgent *agent, virDomainPtr dom, AgentDomain *d, guint vcpus)
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
keep_cells(AgentDomain *d, const VnumaRequest *request)
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

static Follow *
follow_new(const VnumaAgent *agent)
{
    Follow *follow = g_new0(Follow, 1);

    /* Two periods' worth at most: a late pass keeps its share. */
    vnuma_rate_limit_init(&follow->limit, agent->config->memory_migrate_rate * MIB_BYTES,
                          2 * MAX(agent->config->rebalance_period, 1.0));
    return follow;
}

/* Pages follow moves at a bounded rate when the agent can reach them
 * (local qemu: numa_maps and move_pages) and the nodeset is its to set. */
static gboolean
follows_memory(const VnumaAgent *agent, const AgentDomain *d)
{
    return agent->config->memory_migrate_rate > 0 && agent->read_numa_maps && nodeset_applies(agent, d);
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
    AgentDomain *d;

    if (virDomainGetUUIDString(dom, uuid) < 0)
        return;
    forget(agent, uuid);
    if (!(xml = virDomainGetXMLDesc(dom, 0))) {
        step_failed(agent, dom, name, uuid, "place", libvirt_message());
        return;
    }
    previous = read_state(agent, dom, name, uuid);
    loads = committed_loads(agent, uuid);
    p = vnuma_agent_place(agent->host, &agent->config->settings, xml, strlen(xml), previous,
                          (const VnumaNodeLoad *) loads->data, loads->len, agent->plan_flags, &error);
    if (!p) {
        record(agent, name, uuid, "place", G_LOG_LEVEL_CRITICAL, "%s", error->message);
        return;
    }
    d = domain_add(agent, uuid, name);
    d->managed = p->managed;
    keep_cells(d, p->request);
    if (!p->managed) {
        d->reason = g_strdup(p->reason);
        read_spread(agent, dom, d, p->request->vcpus);
        record(agent, name, uuid, "unmanaged", G_LOG_LEVEL_INFO, "left alone: %s", p->reason);
        return;
    }
    d->usable = copy_sets(p->layout->usable);
    d->nodeset_live = p->nodeset_live;
    d->warnings = g_strdupv((char **) p->layout->warnings->pdata);
    d->client_base = agent->next_client_id;
    agent->next_client_id += p->layout->clients->len;
    if (p->resumed) {
        g_autoptr(VnumaCpuSet) nodes = vnuma_agent_memory_nodes(agent->host, previous);
        const VnumaCpuSet *live = p->request->pins->memory_nodeset;

        d->state = g_steal_pointer(&previous);
        what = describe_state(d->state);
        record(agent, name, uuid, "resume", G_LOG_LEVEL_INFO, "resumed from metadata: %s", what);
        /* Killed while memory followed a move: the nodeset is still the
         * widened one. Finish the job. */
        if (live && nodeset_applies(agent, d) && !vnuma_cpuset_equal(live, nodes))
            d->follow = follow_new(agent);
        return;
    }
    if (p->recovered)
        record(agent, name, uuid, "recover", G_LOG_LEVEL_MESSAGE,
               "the record says an apply was interrupted: the pins are the agent's; placing afresh");
    state = vnuma_agent_state_from_layout(p->layout, p->fingerprint, previous, now_s());
    what = describe_state(state);
    if (!(agent->flags & VNUMA_AGENT_DRY_RUN) &&
        !apply_state(agent, dom, d, state, NULL, p->numatune_absent, NULL, &error)) {
        d->managed = FALSE;
        d->reason = g_strdup_printf("placement failed: %s", error->message);
        step_failed(agent, dom, name, uuid, "place", error->message);
        /* Still running (and not forgotten): it counts where it may run. */
        if ((d = g_hash_table_lookup(agent->domains, uuid)))
            read_spread(agent, dom, d, p->request->vcpus);
        return;
    }
    d->planned_only = (agent->flags & VNUMA_AGENT_DRY_RUN) != 0;
    d->state = g_steal_pointer(&state);
    record(agent, name, uuid, "place", G_LOG_LEVEL_MESSAGE, "%s", what);
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
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_IO, "cannot list domains: %s", libvirt_message());
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
        record(agent, name, uuid, "define", G_LOG_LEVEL_WARNING, "cannot read the definition: %s",
               libvirt_message());
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
            record(agent, name, uuid, "define", G_LOG_LEVEL_CRITICAL, "%s", error->message);
        else
            record(agent, name, uuid, "define-skip", G_LOG_LEVEL_DEBUG, "%s", skip);
        return;
    }
    if (agent->flags & VNUMA_AGENT_DRY_RUN) {
        record(agent, name, uuid, "define", G_LOG_LEVEL_MESSAGE, "would size the persistent definition");
        return;
    }
    if (!(defined = virDomainDefineXML(agent->conn, output))) {
        record(agent, name, uuid, "define", G_LOG_LEVEL_CRITICAL, "defining the sized XML: %s",
               libvirt_message());
        return;
    }
    after = read_definition(defined);
    virDomainFree(defined);
    if (after)
        g_hash_table_replace(agent->own_defines, g_strdup(uuid), checksum(after));
    record(agent, name, uuid, "define", G_LOG_LEVEL_MESSAGE,
           "persistent definition sized (takes effect at the next cold boot)");
}

static gboolean
sweep_definitions(VnumaAgent *agent, GError **error)
{
    virDomainPtr *doms = NULL;
    int n = virConnectListAllDomains(agent->conn, &doms, VIR_CONNECT_LIST_DOMAINS_PERSISTENT);

    if (n < 0) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_IO, "cannot list domains: %s", libvirt_message());
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
    if (in_scope(agent, dom) && event == VIR_DOMAIN_EVENT_STARTED)
        place_domain(agent, dom);
    else if (in_scope(agent, dom) && agent->config->define_sizing &&
             detail != VIR_DOMAIN_EVENT_DEFINED_FROM_SNAPSHOT)
        size_definition(agent, dom);
    virDomainFree(dom);
}

/* ---- measuring ------------------------------------------------------ */

/* vCPUs hot-added since the last pass (current count grew): pinned to
 * their clients' home nodes, by applying the state again. */
static void
pin_hot_added(VnumaAgent *agent, AgentDomain *d, virDomainStatsRecordPtr stats, guint current)
{
    g_autoptr(VnumaAgentState) again = vnuma_agent_state_copy(d->state);
    g_autoptr(GError) error = NULL;
    guint before = d->vcpus_current;

    d->vcpus_current = current;
    if (agent->flags & VNUMA_AGENT_DRY_RUN) {
        record(agent, d->name, d->uuid, "vcpus", G_LOG_LEVEL_MESSAGE,
               "vCPUs %u-%u hot-added: would pin them to their clients' home nodes", before, current - 1);
        return;
    }
    if (!apply_state(agent, stats->dom, d, again, d->state, FALSE, NULL, &error)) {
        step_failed(agent, stats->dom, d->name, d->uuid, "vcpus", error->message);
        return;
    }
    vnuma_agent_state_free(d->state);
    d->state = g_steal_pointer(&again);
    record(agent, d->name, d->uuid, "vcpus", G_LOG_LEVEL_MESSAGE,
           "vCPUs %u-%u hot-added: pinned to their clients' home nodes", before, current - 1);
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
                         libvirt_message());
        return;
    }
    for (int i = 0; i < n; i++) {
        char uuid[VIR_UUID_STRING_BUFLEN];
        AgentDomain *d;
        GArray *times;
        guint current = 0;

        if (virDomainGetUUIDString(records[i]->dom, uuid) < 0 ||
            !(d = g_hash_table_lookup(agent->domains, uuid)) || (!placed(d) && !d->spread))
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
        if (placed(d) && !d->planned_only && current > d->vcpus_current && d->vcpus_current > 0)
            pin_hot_added(agent, d, records[i], current);
        else if (current)
            d->vcpus_current = current;
    }
    virDomainStatsRecordListFree(records);
}

static void
measure_memory(VnumaAgent *agent, AgentDomain *d)
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
    d->memory = g_array_new(FALSE, TRUE, sizeof(guint64));
    for (guint r = 0; r < regions->len; r++) {
        const GArray *kib = ((const VnumaMemRegion *) regions->pdata[r])->kib;

        if (d->memory->len < kib->len)
            g_array_set_size(d->memory, kib->len);
        for (guint n = 0; n < kib->len; n++)
            g_array_index(d->memory, guint64, n) += g_array_index(kib, guint64, n);
    }
    d->ram = vnuma_guest_ram_match(regions, (const guint64 *) d->cell_kib->data, d->cell_kib->len);
    d->regions = g_steal_pointer(&regions);
}

static guint64
state_memory(const VnumaAgentState *state)
{
    guint64 total = 0;

    for (guint c = 0; c < state->clients->len; c++)
        total += g_array_index(state->clients, VnumaAgentClient, c).memory_kib;
    return total;
}

/* The client a guest cell belongs to: the one holding all its vCPUs;
 * -1 when the cell spans clients. */
static gint
cell_owner(const AgentDomain *d, guint cell)
{
    for (guint c = 0; c < d->state->clients->len; c++) {
        g_autoptr(VnumaCpuSet) rest = vnuma_cpuset_copy(d->cell_vcpus->pdata[cell]);

        vnuma_cpuset_subtract(rest, g_array_index(d->state->clients, VnumaAgentClient, c).vcpus);
        if (vnuma_cpuset_is_empty(rest))
            return (gint) c;
    }
    return -1;
}

/* Whether each client's memory can be told from numa_maps: every cell
 * matched to its backing mapping and owned by one client ("cells"); a
 * domain with one client and its RAM found counts too. */
static gboolean
cells_identified(const AgentDomain *d)
{
    if (!d->ram || !placed(d))
        return FALSE;
    for (guint i = 0; i < d->ram->len; i++) {
        if (g_array_index(d->ram, gint, i) < 0 || cell_owner(d, i) < 0)
            return FALSE;
    }
    return TRUE;
}

static const char *
memory_source(const AgentDomain *d)
{
    if (!d->memory || !placed(d))
        return NULL;
    return cells_identified(d) ? "cells" : "proportional";
}

/* The client's memory per node index, as the rebalancer wants it: the
 * mappings of its own cells when they are known, else its share of the
 * process's memory in proportion to its size; NULL when numa_maps was
 * not readable. */
static guint64 *
client_memory_by_index(const VnumaAgent *agent, const AgentDomain *d, guint c)
{
    const VnumaAgentClient *client = &g_array_index(d->state->clients, VnumaAgentClient, c);
    g_autoptr(GArray) share = NULL;
    guint64 *by_index;

    if (!d->memory)
        return NULL;
    if (cells_identified(d)) {
        share = g_array_new(FALSE, TRUE, sizeof(guint64));
        for (guint i = 0; i < d->ram->len; i++) {
            const GArray *kib = ((const VnumaMemRegion *) d->regions->pdata[g_array_index(d->ram, gint, i)])->kib;

            if (cell_owner(d, i) != (gint) c)
                continue;
            if (share->len < kib->len)
                g_array_set_size(share, kib->len);
            for (guint n = 0; n < kib->len; n++)
                g_array_index(share, guint64, n) += g_array_index(kib, guint64, n);
        }
    } else {
        share = vnuma_client_memory(d->memory, client->memory_kib, state_memory(d->state));
    }
    by_index = g_new0(guint64, agent->host->nodes->len);
    for (guint i = 0; i < agent->host->nodes->len; i++) {
        guint id = ((const VnumaHostNode *) agent->host->nodes->pdata[i])->id;

        if (id < share->len)
            by_index[i] = g_array_index(share, guint64, id);
    }
    return by_index;
}

/* Fraction of the clients' measured memory on their home nodes' memory
 * nodes; -1 when unknown. */
static double
domain_locality(const VnumaAgent *agent, const AgentDomain *d)
{
    guint64 total = 0, local = 0;

    if (!d->memory || !placed(d))
        return -1;
    for (guint c = 0; c < d->state->clients->len; c++) {
        g_autofree guint64 *mem = client_memory_by_index(agent, d, c);
        guint home = vnuma_agent_memory_node(agent->host,
                                             g_array_index(d->state->clients, VnumaAgentClient, c).home_node);
        gint index = node_index(agent->host, home);

        for (guint i = 0; i < agent->host->nodes->len; i++)
            total += mem[i];
        if (index >= 0)
            local += mem[index];
    }
    return total ? MIN(1.0, (double) local / (double) total) : -1;
}

/* ---- memory following a move ---------------------------------------- */

static void
follow_add_span(Follow *follow, const VnumaMemRegion *region, guint target, VnumaCpuSet *allowed)
{
    FollowSpan span = {
        .start = region->start, .end = region->end, .cursor = region->start,
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
follow_resolve(VnumaAgent *agent, AgentDomain *d)
{
    Follow *follow = d->follow;
    g_autoptr(VnumaCpuSet) nodes = vnuma_agent_memory_nodes(agent->host, d->state);

    follow->spans = g_array_new(FALSE, TRUE, sizeof(FollowSpan));
    g_array_set_clear_func(follow->spans, follow_span_clear);
    for (guint i = 0; d->ram && i < d->ram->len; i++) {
        gint r = g_array_index(d->ram, gint, i);
        gint owner = cell_owner(d, i);
        guint target;

        if (r < 0)
            continue;
        target = vnuma_agent_memory_node(agent->host, g_array_index(d->state->clients, VnumaAgentClient,
                                                                    MAX(owner, 0)).home_node);
        if (owner >= 0) {
            VnumaCpuSet *only = vnuma_cpuset_new();

            vnuma_cpuset_add(only, target);
            follow_add_span(follow, d->regions->pdata[r], target, only);
        } else {
            follow_add_span(follow, d->regions->pdata[r], target, vnuma_cpuset_copy(nodes));
        }
    }
}

/* The nodeset narrowed to the clients' memory nodes once their pages
 * followed, and the record renewed (the digest covers the nodeset). */
static void
follow_finish(VnumaAgent *agent, AgentDomain *d, virDomainPtr dom, const char *why)
{
    g_autoptr(VnumaCpuSet) nodes = vnuma_agent_memory_nodes(agent->host, d->state);
    g_autofree char *list = vnuma_cpuset_format(nodes);
    g_autoptr(GError) error = NULL;
    Follow *follow = d->follow;

    if (!set_nodeset(dom, nodes, FALSE, &error) || !save_record(agent, dom, d->state, &error)) {
        record(agent, d->name, d->uuid, "memory", G_LOG_LEVEL_WARNING,
               "narrowing the nodeset to %s: %s; trying again next pass", list, error->message);
        return;
    }
    d->memory_moved_kib += follow->moved / 1024;
    record(agent, d->name, d->uuid, "memory", G_LOG_LEVEL_MESSAGE,
           "memory followed the move (%s): %.1f MiB moved by page migration at <= %g MiB/s%s; nodeset now %s",
           why, (double) follow->moved / MIB_BYTES, agent->config->memory_migrate_rate,
           follow->failed ? " (some pages the kernel would not move stay for the nodeset change)" : "", list);
    g_clear_pointer(&d->follow, follow_free);
}

/* One pass's share of page migration: as many bytes as the rate limit
 * allows, then, when every span is walked, the nodeset narrowed. */
static void
follow_memory(VnumaAgent *agent, AgentDomain *d)
{
    Follow *follow = d->follow;
    guint64 allowance, scan_cap, moved = 0, scanned = 0;
    gboolean done = TRUE;
    virDomainPtr dom;

    if (!d->regions)
        return;   /* numa_maps not read this pass: try next time */
    if (!follow->spans)
        follow_resolve(agent, d);
    allowance = vnuma_rate_limit_allowance(&follow->limit, (double) g_get_monotonic_time() / G_USEC_PER_SEC);
    scan_cap = MAX(allowance * FOLLOW_SCAN_FACTOR, FOLLOW_SCAN_MIN);
    for (guint i = 0; i < follow->spans->len; i++) {
        FollowSpan *span = &g_array_index(follow->spans, FollowSpan, i);
        g_autoptr(GError) error = NULL;
        VnumaPagesStep step = { 0 };

        if (span->cursor < span->end && moved < allowance && scanned < scan_cap) {
            if (!vnuma_pages_follow(d->pid, &span->cursor, span->end, span->target, span->allowed,
                                    allowance - moved, scan_cap - scanned, &step, &error)) {
                record(agent, d->name, d->uuid, "memory", G_LOG_LEVEL_WARNING,
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
    AgentDomain *d = g_hash_table_lookup(agent->domains, uuid);
    g_autoptr(VnumaAgentState) next = NULL;
    g_autoptr(VnumaCpuSet) widen = NULL;
    g_autoptr(GError) error = NULL;
    virDomainPtr dom;
    gboolean ok;

    if (!d || !placed(d))
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
        record(agent, d->name, uuid, "forget", G_LOG_LEVEL_INFO, "gone before its move");
        forget(agent, uuid);
        return FALSE;
    }
    /* Memory that follows at a bounded rate: the nodeset is widened
     * to old and new nodes, so the kernel moves nothing at once, and
     * narrowed when the pages have followed (follow_memory). A nodeset
     * the agent set at placement is restrictive by now. */
    if (follows_memory(agent, d))
        widen = vnuma_agent_memory_nodes(agent->host, d->state);
    ok = apply_state(agent, dom, d, next, d->state, FALSE, widen, &error);
    if (ok) {
        vnuma_agent_state_free(d->state);
        d->state = g_steal_pointer(&next);
        if (widen) {
            follow_free(d->follow);
            d->follow = follow_new(agent);
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
        const AgentDomain *other = g_hash_table_lookup(agent->domains, refs[move->other].uuid);

        g_string_append_printf(out, ", swapped with client %u of %s", refs[move->other].client,
                               other ? other->name : refs[move->other].uuid);
    }
    g_string_append_printf(out, " (gain %.2f > cost %.2f CPU-s)", move->gain, move->cost);
    return g_string_free(out, FALSE);
}

static void
apply_move(VnumaAgent *agent, const VnumaMove *move, const ClientRef *refs,
           const VnumaRebalanceNode *nodes, gint64 now)
{
    const char *a = refs[move->client].uuid;
    const char *b = refs[move->other].uuid;
    AgentDomain *d = g_hash_table_lookup(agent->domains, a);
    g_autofree char *name = g_strdup(d ? d->name : a);
    g_autofree char *what = describe_move(agent, move, refs, nodes);

    if (agent->flags & VNUMA_AGENT_DRY_RUN) {
        record(agent, name, a, "move", G_LOG_LEVEL_MESSAGE, "%s", what);
        return;
    }
    if (!move_domain(agent, a, move, refs, nodes, now))
        return;
    record(agent, name, a, "move", G_LOG_LEVEL_MESSAGE, "%s", what);
    if (!g_str_equal(a, b))
        move_domain(agent, b, move, refs, nodes, now);
}

gboolean
vnuma_agent_move(VnumaAgent *agent, const char *uuid, guint client, guint node_id,
                 VnumaMoveKind kind, GError **error)
{
    AgentDomain *d = g_hash_table_lookup(agent->domains, uuid);
    gint to = agent->host ? node_index(agent->host, node_id) : -1;
    g_autofree VnumaRebalanceNode *nodes = NULL;
    ClientRef ref = { (char *) uuid, client };
    VnumaMove move = { .kind = kind, .client = 0, .other = 0 };
    guint n_nodes;

    if (!agent->conn || !d || !placed(d) || client >= d->state->clients->len || to < 0 ||
        kind == VNUMA_MOVE_SWAP) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID,
                    "no placed domain %s with client %u, or no node %u", uuid, client, node_id);
        return FALSE;
    }
    n_nodes = agent->host->nodes->len;
    nodes = g_new0(VnumaRebalanceNode, n_nodes);
    for (guint i = 0; i < n_nodes; i++)
        nodes[i].id = ((VnumaHostNode *) agent->host->nodes->pdata[i])->id;
    move.from = (guint) MAX(node_index(agent->host,
                                       g_array_index(d->state->clients, VnumaAgentClient, client).home_node), 0);
    move.to = (guint) to;
    if (agent->flags & VNUMA_AGENT_DRY_RUN)
        return TRUE;
    if (!move_domain(agent, uuid, &move, &ref, nodes, now_s())) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_IO, "moving client %u of %s failed", client, uuid);
        return FALSE;
    }
    /* move_domain() may not forget @d on success. */
    record(agent, d->name, uuid, "move", G_LOG_LEVEL_MESSAGE, "requested %s migration of client %u to node %u",
           vnuma_move_kind_to_string(kind), client, node_id);
    return TRUE;
}

/* CPUs an unplaced domain used on node index @n over the last period:
 * its measured demand, spread where its vCPUs may run. */
static double
unplaced_load(const AgentDomain *d, guint n)
{
    double vcpus = sum_doubles(d->spread);

    if (placed(d) || !d->demand || vcpus <= 0 || n >= d->spread->len)
        return 0;
    return sum_doubles(d->demand) * g_array_index(d->spread, double, n) / vcpus;
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
    for (guint i = 0; i < n_nodes; i++)
        nodes[i] = (VnumaRebalanceNode) {
            .id = ((VnumaHostNode *) agent->host->nodes->pdata[i])->id,
            .capacity = vnuma_cpuset_count(agent->usable->pdata[i]),
        };
    /* What domains the agent does not place use of a node is not there
     * for the clients it does. */
    for (guint i = 0; i < domains->len; i++) {
        for (guint n = 0; n < n_nodes; n++)
            nodes[n].capacity = MAX(0.0, nodes[n].capacity - unplaced_load(domains->pdata[i], n));
    }
    for (guint i = 0; i < domains->len; i++) {
        AgentDomain *d = domains->pdata[i];

        /* Not measured yet (first pass since it was placed or resumed):
         * not a candidate this pass. */
        for (guint c = 0; placed(d) && d->demand && c < d->state->clients->len; c++) {
            const VnumaAgentClient *client = &g_array_index(d->state->clients, VnumaAgentClient, c);
            gint home = node_index(agent->host, client->home_node);
            guint64 *mem = client_memory_by_index(agent, d, c);
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
        const AgentDomain *d = domains->pdata[i];

        for (guint n = 0; !placed(d) && d->spread && n < MIN(d->spread->len, agent->host->nodes->len); n++) {
            committed[n] += g_array_index(d->spread, double, n);
            load[n] += unplaced_load(d, n);
        }
        for (guint c = 0; placed(d) && c < d->state->clients->len; c++) {
            const VnumaAgentClient *client = &g_array_index(d->state->clients, VnumaAgentClient, c);
            gint index = node_index(agent->host, client->home_node);

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
        const AgentDomain *d = domains->pdata[i];

        if (placed(d))
            vnuma_metrics_add_domain(metrics, d->name, d->uuid, d->state, domain_locality(agent, d));
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
        const AgentDomain *d = domains->pdata[i];

        report_domains[i] = (VnumaReportDomain) {
            .name = d->name,
            .uuid = d->uuid,
            .managed = d->managed,
            .reason = d->reason,
            .applied = placed(d) && !d->planned_only,
            .state = placed(d) ? d->state : NULL,
            .demand = placed(d) ? d->demand : NULL,
            .locality = domain_locality(agent, d),
            .memory_source = memory_source(d),
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
        AgentDomain *d = domains->pdata[i];

        if (!placed(d))
            continue;
        measure_memory(agent, d);
        if (d->follow && !(agent->flags & VNUMA_AGENT_DRY_RUN))
            follow_memory(agent, d);
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

static void
hand_off(VnumaAgent *agent, Handoff *h)
{
    h->agent = agent;
    h->generation = g_atomic_int_get(&agent->generation);
    g_main_context_invoke_full(agent->context, G_PRIORITY_DEFAULT, dispatch, h, g_free);
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
                         "cannot register for domain events: %s", libvirt_message());
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
