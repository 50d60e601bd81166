/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "agent/vnuma-agent.h"

#include <stdio.h>
#include <string.h>

#include <libvirt/virterror.h>

#include "agent/vnuma-agent-demand.h"
#include "agent/vnuma-agent-events.h"
#include "lib/vnuma-json.h"
#include "agent/vnuma-agent-metrics.h"
#include "agent/vnuma-agent-numamaps.h"
#include "agent/vnuma-agent-plan.h"
#include "agent/vnuma-agent-state.h"
#include "lib/vnuma-error.h"
#include "lib/vnuma-rebalance.h"
#include "lib/vnuma-sizing.h"
#include "xml/vnuma-caps.h"

#define QEMU_RUN_DIR "/run/libvirt/qemu"
#define BACKOFF_MAX_S 30
#define KEEPALIVE_INTERVAL_S 5
#define KEEPALIVE_COUNT 3
/* libvirt 7.3.0: the first with <numatune> mode restrictive. */
#define LIBVIRT_RESTRICTIVE_VERSION 7003000

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
} AgentDomain;

typedef struct {
    char *domain;
    char *uuid;
    char *action;                /* place, resume, unmanaged, define, move, forget, error */
    gboolean applied;
    gboolean failed;
    char *detail;
} AgentAction;

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

    GPtrArray *actions;          /* AgentAction *, since the last report */
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
    g_free(d);
}

static void
action_free(gpointer data)
{
    AgentAction *a = data;

    g_free(a->domain);
    g_free(a->uuid);
    g_free(a->action);
    g_free(a->detail);
    g_free(a);
}

/* Logs through glib's structured logging (journald fields VNUMA_DOMAIN,
 * VNUMA_ACTION) and keeps the action for the pass report. */
static void G_GNUC_PRINTF(6, 7)
record(VnumaAgent *agent, const char *domain, const char *uuid, const char *action,
       GLogLevelFlags level, const char *format, ...)
{
    AgentAction *a = g_new0(AgentAction, 1);
    gboolean changes = g_str_equal(action, "place") || g_str_equal(action, "define") ||
                       g_str_equal(action, "move");
    gboolean dry = (agent->flags & VNUMA_AGENT_DRY_RUN) != 0;
    va_list args;

    va_start(args, format);
    a->detail = g_strdup_vprintf(format, args);
    va_end(args);
    a->domain = g_strdup(domain);
    a->uuid = g_strdup(uuid);
    a->action = g_strdup(action);
    a->failed = level == G_LOG_LEVEL_CRITICAL;
    a->applied = changes && !a->failed && !dry;
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
    agent->actions = g_ptr_array_new_with_free_func(action_free);
    agent->backoff = 1;
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

static gboolean
read_host(VnumaAgent *agent, GError **error)
{
    g_autofree char *caps = virConnectGetCapabilities(agent->conn);
    g_autoptr(VnumaHost) host = NULL;
    gint max_cpu = 0;

    if (!caps) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_IO, "cannot read capabilities: %s", libvirt_message());
        return FALSE;
    }
    if (!(host = vnuma_host_from_caps_xml(caps, strlen(caps), error)))
        return FALSE;
    g_clear_pointer(&agent->usable, g_ptr_array_unref);
    agent->usable = g_ptr_array_new_with_free_func((GDestroyNotify) vnuma_cpuset_free);
    for (guint i = 0; i < host->nodes->len; i++) {
        VnumaCpuSet *cpus = vnuma_host_node_cpus(host->nodes->pdata[i]);

        if (agent->config->settings.host_cpuset)
            vnuma_cpuset_intersect(cpus, agent->config->settings.host_cpuset);
        max_cpu = MAX(max_cpu, vnuma_cpuset_last(cpus));
        g_ptr_array_add(agent->usable, cpus);
    }
    vnuma_host_free(agent->host);
    agent->host = g_steal_pointer(&host);
    g_free(agent->fingerprint);
    agent->fingerprint = vnuma_host_fingerprint(agent->host);
    agent->cpumap_len = VIR_CPU_MAPLEN(max_cpu + 1);
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
 * the failure is the domain's doing, not ours. */
static gboolean
domain_gone(virDomainPtr dom)
{
    return virDomainIsActive(dom) != 1;
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

/* What the other placed domains commit to each node: placement's
 * tie-breaker after SLIT distance. */
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

        if (!placed(d) || g_str_equal(d->uuid, except))
            continue;
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
                                      agent->pin_flags) < 0) {
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
 * for restrictive. A refusal is a warning: the CPUs still moved. */
static void
set_nodeset(VnumaAgent *agent, virDomainPtr dom, const AgentDomain *d,
            const VnumaAgentState *state, gboolean numatune_absent)
{
    g_autoptr(VnumaCpuSet) nodes = vnuma_cpuset_new();
    g_autofree char *nodeset = NULL;
    virTypedParameterPtr params = NULL;
    int n_params = 0, max_params = 0;

    for (guint c = 0; c < state->clients->len; c++)
        vnuma_cpuset_add(nodes, g_array_index(state->clients, VnumaAgentClient, c).home_node);
    nodeset = vnuma_cpuset_format(nodes);
    if (virTypedParamsAddString(&params, &n_params, &max_params, VIR_DOMAIN_NUMA_NODESET, nodeset) < 0 ||
        (numatune_absent &&
         virTypedParamsAddInt(&params, &n_params, &max_params, VIR_DOMAIN_NUMA_MODE,
                              VIR_DOMAIN_NUMATUNE_MEM_RESTRICTIVE) < 0) ||
        virDomainSetNumaParameters(dom, params, n_params, VIR_DOMAIN_AFFECT_LIVE) < 0)
        record(agent, d->name, d->uuid, "nodeset", G_LOG_LEVEL_WARNING,
               "memory nodeset %s not set (memory stays where it is): %s", nodeset, libvirt_message());
    virTypedParamsFree(params, n_params);
}

/* Pins, nodeset, then the record (with the digest of the pins as libvirt
 * now reports them, which is how a later pass knows they are ours). */
static gboolean
apply_state(VnumaAgent *agent, virDomainPtr dom, const AgentDomain *d, VnumaAgentState *state,
            gboolean nodeset_live, gboolean numatune_absent, GError **error)
{
    g_autofree char *xml = NULL;
    g_autofree char *record_xml = NULL;

    if (!pin_vcpus(agent, dom, d, state, error))
        return FALSE;
    if (nodeset_live && agent->config->settings.memory_mode == VNUMA_MEMORY_MODE_RESTRICTIVE)
        set_nodeset(agent, dom, d, state, numatune_absent);
    if (!(xml = virDomainGetXMLDesc(dom, 0))) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_IO, "reading the pins back: %s", libvirt_message());
        return FALSE;
    }
    g_free(state->pins_digest);
    if (!(state->pins_digest = vnuma_agent_pins_digest(xml, strlen(xml), error)))
        return FALSE;
    record_xml = vnuma_agent_state_format(state);
    if (virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, record_xml, VNUMA_AGENT_PREFIX,
                             VNUMA_AGENT_NAMESPACE, VIR_DOMAIN_AFFECT_LIVE) < 0) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_IO, "saving the record: %s", libvirt_message());
        return FALSE;
    }
    return TRUE;
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

    if (domain_gone(dom)) {
        forget(agent, uuid);
        record(agent, name, uuid, "forget", G_LOG_LEVEL_INFO, "stopped during %s", action);
        return;
    }
    record(agent, name, uuid, action, G_LOG_LEVEL_CRITICAL, "%s", copy);
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
    if (!p->managed) {
        d->reason = g_strdup(p->reason);
        record(agent, name, uuid, "unmanaged", G_LOG_LEVEL_INFO, "left alone: %s", p->reason);
        return;
    }
    d->usable = copy_sets(p->layout->usable);
    d->nodeset_live = p->nodeset_live;
    d->warnings = g_strdupv((char **) p->layout->warnings->pdata);
    d->client_base = agent->next_client_id;
    agent->next_client_id += p->layout->clients->len;
    if (p->resumed) {
        d->state = g_steal_pointer(&previous);
        what = describe_state(d->state);
        record(agent, name, uuid, "resume", G_LOG_LEVEL_INFO, "resumed from metadata: %s", what);
        return;
    }
    state = vnuma_agent_state_from_layout(p->layout, p->fingerprint, previous, now_s());
    what = describe_state(state);
    if (!(agent->flags & VNUMA_AGENT_DRY_RUN) &&
        !apply_state(agent, dom, d, state, p->nodeset_live, p->numatune_absent, &error)) {
        d->managed = FALSE;
        d->reason = g_strdup_printf("placement failed: %s", error->message);
        step_failed(agent, dom, name, uuid, "place", error->message);
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

        if (virDomainGetUUIDString(records[i]->dom, uuid) < 0 ||
            !(d = g_hash_table_lookup(agent->domains, uuid)) || !placed(d))
            continue;
        times = vnuma_vcpu_times_new();
        for (int p = 0; p < records[i]->nparams; p++) {
            const virTypedParameter *param = &records[i]->params[p];

            if (param->type == VIR_TYPED_PARAM_ULLONG)
                vnuma_vcpu_times_add_field(times, param->field, param->value.ul);
        }
        if (d->demand)
            g_array_unref(d->demand);
        d->demand = vnuma_vcpu_demand(d->vcpu_times ? d->vcpu_times : times, times,
                                      d->vcpu_times ? (double) (now - d->sampled) / G_USEC_PER_SEC : 0);
        if (d->vcpu_times)
            g_array_unref(d->vcpu_times);
        d->vcpu_times = times;
        d->sampled = now;
    }
    virDomainStatsRecordListFree(records);
}

static void
measure_memory(VnumaAgent *agent, AgentDomain *d)
{
    g_autoptr(GError) error = NULL;
    pid_t pid;

    g_clear_pointer(&d->memory, g_array_unref);
    if (!agent->read_numa_maps)
        return;
    if (!vnuma_qemu_pid_read(QEMU_RUN_DIR, d->name, &pid, &error) ||
        !(d->memory = vnuma_numa_maps_read(pid, &error)))
        g_log_structured(G_LOG_DOMAIN, G_LOG_LEVEL_DEBUG, "VNUMA_DOMAIN", d->name,
                         "MESSAGE", "%s: memory per node unknown: %s", d->name, error->message);
}

static guint64
state_memory(const VnumaAgentState *state)
{
    guint64 total = 0;

    for (guint c = 0; c < state->clients->len; c++)
        total += g_array_index(state->clients, VnumaAgentClient, c).memory_kib;
    return total;
}

/* The client's memory per node index, as the rebalancer wants it; NULL
 * when numa_maps was not readable. */
static guint64 *
client_memory_by_index(const VnumaAgent *agent, const AgentDomain *d, guint c)
{
    const VnumaAgentClient *client = &g_array_index(d->state->clients, VnumaAgentClient, c);
    g_autoptr(GArray) share = NULL;
    guint64 *by_index;

    if (!d->memory)
        return NULL;
    share = vnuma_client_memory(d->memory, client->memory_kib, state_memory(d->state));
    by_index = g_new0(guint64, agent->host->nodes->len);
    for (guint i = 0; i < agent->host->nodes->len; i++) {
        guint id = ((const VnumaHostNode *) agent->host->nodes->pdata[i])->id;

        if (id < share->len)
            by_index[i] = g_array_index(share, guint64, id);
    }
    return by_index;
}

/* Fraction of the domain's measured memory on its clients' home nodes;
 * -1 when unknown. */
static double
domain_locality(const VnumaAgent *agent, const AgentDomain *d)
{
    guint64 total = 0, local = 0;

    if (!d->memory || !placed(d))
        return -1;
    for (guint n = 0; n < d->memory->len; n++)
        total += g_array_index(d->memory, guint64, n);
    if (!total)
        return -1;
    for (guint c = 0; c < d->state->clients->len; c++) {
        const VnumaAgentClient *client = &g_array_index(d->state->clients, VnumaAgentClient, c);
        double weight = state_memory(d->state) ? (double) client->memory_kib / (double) state_memory(d->state)
                                               : 1.0 / d->state->clients->len;

        if (client->home_node < d->memory->len)
            local += (guint64) (weight * (double) g_array_index(d->memory, guint64, client->home_node));
    }
    return MIN(1.0, (double) local / (double) total);
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
    /* A nodeset the agent set at placement is restrictive by now. */
    ok = apply_state(agent, dom, d, next, d->nodeset_live, FALSE, &error);
    if (ok) {
        vnuma_agent_state_free(d->state);
        d->state = g_steal_pointer(&next);
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
    for (guint i = 0; i < domains->len; i++) {
        AgentDomain *d = domains->pdata[i];

        for (guint c = 0; placed(d) && c < d->state->clients->len; c++) {
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

/* Per host node index: CPUs used and vCPUs homed by placed clients. */
static void
node_loads(const VnumaAgent *agent, GPtrArray *domains, double *load, double *committed)
{
    for (guint i = 0; i < domains->len; i++) {
        const AgentDomain *d = domains->pdata[i];

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
report_client(VnumaJson *json, const AgentDomain *d, guint c)
{
    const VnumaAgentClient *client = &g_array_index(d->state->clients, VnumaAgentClient, c);
    g_autofree char *vcpus = vnuma_cpuset_format(client->vcpus);

    vnuma_json_begin_object(json);
    vnuma_json_member_string(json, "vcpus", vcpus);
    vnuma_json_member_uint(json, "home_node", client->home_node);
    vnuma_json_member_uint(json, "memory_kib", client->memory_kib);
    vnuma_json_member_double(json, "demand", d->demand ? vnuma_client_demand(d->demand, client->vcpus) : 0);
    vnuma_json_key(json, "moved");
    if (client->moved >= 0)
        vnuma_json_int(json, client->moved);
    else
        vnuma_json_null(json);
    vnuma_json_end_object(json);
}

static void
report_domain(VnumaJson *json, const VnumaAgent *agent, const AgentDomain *d)
{
    static const char *const kinds[VNUMA_AGENT_MOVE_KINDS] = { "balance", "locality", "swap" };
    double locality = domain_locality(agent, d);

    vnuma_json_begin_object(json);
    vnuma_json_member_string(json, "name", d->name);
    vnuma_json_member_string(json, "uuid", d->uuid);
    vnuma_json_member_bool(json, "managed", d->managed);
    vnuma_json_member_string(json, "reason", d->reason);
    vnuma_json_member_bool(json, "applied", placed(d) && !d->planned_only);
    vnuma_json_key(json, "clients");
    vnuma_json_begin_array(json);
    for (guint c = 0; placed(d) && c < d->state->clients->len; c++)
        report_client(json, d, c);
    vnuma_json_end_array(json);
    vnuma_json_key(json, "locality");
    if (locality >= 0)
        vnuma_json_double(json, locality);
    else
        vnuma_json_null(json);
    vnuma_json_key(json, "migrations");
    vnuma_json_begin_object(json);
    for (guint k = 0; k < VNUMA_AGENT_MOVE_KINDS; k++)
        vnuma_json_member_uint(json, kinds[k], placed(d) ? d->state->migrations[k] : 0);
    vnuma_json_end_object(json);
    vnuma_json_key(json, "warnings");
    vnuma_json_begin_array(json);
    for (guint i = 0; d->warnings && d->warnings[i]; i++)
        vnuma_json_string(json, d->warnings[i]);
    vnuma_json_end_array(json);
    vnuma_json_end_object(json);
}

static void
report_nodes(VnumaJson *json, const VnumaAgent *agent, const GArray *nodes)
{
    vnuma_json_key(json, "nodes");
    vnuma_json_begin_array(json);
    for (guint i = 0; i < nodes->len; i++) {
        const VnumaMetricsNode *node = &g_array_index(nodes, VnumaMetricsNode, i);
        g_autofree char *cpus = vnuma_cpuset_format(agent->usable->pdata[i]);

        vnuma_json_begin_object(json);
        vnuma_json_member_uint(json, "id", node->id);
        vnuma_json_member_string(json, "cpus", cpus);
        vnuma_json_member_double(json, "capacity", node->capacity);
        vnuma_json_member_double(json, "load", node->load);
        vnuma_json_member_double(json, "committed_vcpus", node->committed_vcpus);
        vnuma_json_key(json, "free_bytes");
        if (node->free_bytes >= 0)
            vnuma_json_int(json, node->free_bytes);
        else
            vnuma_json_null(json);
        vnuma_json_end_object(json);
    }
    vnuma_json_end_array(json);
}

static void
report_actions(VnumaJson *json, const VnumaAgent *agent)
{
    vnuma_json_key(json, "actions");
    vnuma_json_begin_array(json);
    for (guint i = 0; i < agent->actions->len; i++) {
        const AgentAction *a = agent->actions->pdata[i];

        vnuma_json_begin_object(json);
        vnuma_json_member_string(json, "domain", a->domain);
        vnuma_json_member_string(json, "uuid", a->uuid);
        vnuma_json_member_string(json, "action", a->action);
        vnuma_json_member_bool(json, "applied", a->applied);
        vnuma_json_member_bool(json, "failed", a->failed);
        vnuma_json_member_string(json, "detail", a->detail);
        vnuma_json_end_object(json);
    }
    vnuma_json_end_array(json);
}

static void
build_report(VnumaAgent *agent, GPtrArray *domains, const GArray *nodes)
{
    g_autoptr(VnumaJson) json = vnuma_json_new();

    vnuma_json_begin_object(json);
    vnuma_json_member_uint(json, "pass", agent->passes);
    vnuma_json_member_double(json, "time", (double) g_get_real_time() / G_USEC_PER_SEC);
    vnuma_json_member_string(json, "uri", agent->uri);
    vnuma_json_member_bool(json, "dry_run", (agent->flags & VNUMA_AGENT_DRY_RUN) != 0);
    vnuma_json_member_bool(json, "connected", agent->conn != NULL);
    vnuma_json_member_string(json, "host", agent->fingerprint);
    vnuma_json_member_string(json, "memory_mode",
                             vnuma_memory_mode_to_string(agent->config->settings.memory_mode));
    report_nodes(json, agent, nodes);
    vnuma_json_key(json, "domains");
    vnuma_json_begin_array(json);
    for (guint i = 0; i < domains->len; i++)
        report_domain(json, agent, domains->pdata[i]);
    vnuma_json_end_array(json);
    report_actions(json, agent);
    vnuma_json_member_uint(json, "errors", agent->errors);
    vnuma_json_end_object(json);
    g_free(agent->report);
    agent->report = vnuma_json_steal(json);
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
        if (placed(domains->pdata[i]))
            measure_memory(agent, domains->pdata[i]);
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

gboolean
vnuma_agent_run(VnumaAgent *agent, GMainLoop *loop, GError **error)
{
    double period = agent->config->rebalance_period;

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
    if (period > 0)
        agent->pass_source = add_timeout(agent, (guint) (period * 1000), pass_tick);
    g_main_loop_run(loop);
    drop_source(&agent->pass_source);
    drop_source(&agent->reconnect_source);
    disconnect(agent);
    vnuma_events_stop();
    return TRUE;
}
