/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The agent itself: its life (made, scoped, freed), the pass that runs
 * every module in order (place, measure, follow memory, rebalance,
 * report), and the daemon's loop (passes, reconnecting, reload, the
 * hook's topology cache kept). The top of the agent: no other agent
 * module calls into this one. */
#include "agent/vnuma-agent-private.h"

#include <stdio.h>

#include "agent/vnuma-agent-events.h"
#include "agent/vnuma-agent-report.h"
#include "lib/vnuma-error.h"
#include "lib/vnuma-rebalance.h"
#include "probe/vnuma-sysfs.h"

#define BACKOFF_MAX_S 30
/* How often the hook's topology cache is restamped (a hook within this
 * long of a uevent still checks each CPU's inode). */
#define TOPOLOGY_PERIOD_MS 1000

VnumaAgent *
vnuma_agent_new(const char *uri, VnumaAgentConfig *config, VnumaAgentFlags flags)
{
    VnumaAgent *agent = g_new0(VnumaAgent, 1);
    VnumaRebalanceParams params;

    agent->uri = g_strdup(uri);
    agent->config = config;
    agent->flags = flags;
    agent->lifecycle_id = -1;
    agent->domains = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, vnuma_agent_domain_free);
    agent->own_defines = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    agent->actions = g_ptr_array_new_with_free_func((GDestroyNotify) vnuma_report_action_free);
    agent->backoff = 1;
    agent->fault = vnuma_agent_read_fault();
    vnuma_rebalance_params_init(&params);
    agent->rebalancer = vnuma_rebalancer_new(&params);
    return agent;
}

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
    vnuma_agent_disconnect(agent);
    drop_source(&agent->pass_source);
    drop_source(&agent->reconnect_source);
    drop_source(&agent->topology_source);
    vnuma_topology_keeper_free(agent->topology);
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
    if ((agent->sweep_definitions && !vnuma_agent_sweep_definitions(agent, error)) || !vnuma_agent_sync_running(agent, error)) {
        if (!vnuma_agent_connection_alive(agent))
            vnuma_agent_disconnect(agent);
        return FALSE;
    }
    vnuma_agent_measure_cpu(agent);
    domains = vnuma_agent_sorted_domains(agent);
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
    vnuma_agent_rebalance(agent, domains);
    /* Moves may have forgotten vanished domains: list again. */
    g_ptr_array_unref(domains);
    domains = vnuma_agent_sorted_domains(agent);
    nodes = vnuma_agent_node_metrics(agent, domains);
    if (agent->config->metrics_path)
        vnuma_agent_write_metrics(agent, domains, nodes);
    if (agent->flags & VNUMA_AGENT_REPORT)
        vnuma_agent_build_report(agent, domains, nodes);
    g_ptr_array_set_size(agent->actions, 0);
    if (!vnuma_agent_connection_alive(agent)) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_IO, "lost the connection to %s", agent->uri);
        vnuma_agent_disconnect(agent);
        return FALSE;
    }
    return TRUE;
}

/* ---- the daemon ----------------------------------------------------- */

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
        vnuma_agent_disconnect(agent);
        schedule_reconnect(agent);
    } else {
        vnuma_agent_handle_event(agent, h->uuid, h->event, h->detail);
    }
    return G_SOURCE_REMOVE;
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
    if (!vnuma_agent_connect(agent, &error) || !vnuma_agent_watch(agent, dispatch)) {
        g_log_structured(G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "MESSAGE", "%s; retrying in %u s",
                         error ? error->message : "cannot watch events", agent->backoff);
        vnuma_agent_disconnect(agent);
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

static gboolean
topology_tick(gpointer data)
{
    VnumaAgent *agent = data;
    g_autoptr(GError) error = NULL;
    gboolean refreshed;

    if (vnuma_topology_keeper_refresh(agent->topology, &refreshed, &error)) {
        if (refreshed)
            g_log_structured(G_LOG_DOMAIN, G_LOG_LEVEL_DEBUG, "MESSAGE", "topology cache refreshed");
        agent->topology_failing = FALSE;
    } else {
        /* Once, not every second: the hook reads sysfs itself meanwhile. */
        g_log_structured(G_LOG_DOMAIN, agent->topology_failing ? G_LOG_LEVEL_DEBUG : G_LOG_LEVEL_WARNING,
                         "MESSAGE", "cannot refresh the hook's topology cache: %s", error->message);
        agent->topology_failing = TRUE;
    }
    return G_SOURCE_CONTINUE;
}

/* The hook reads sysfs unless a capabilities file stands in for the host
 * (the `capabilities` key both read); then there is a cache to keep. */
static void
schedule_topology(VnumaAgent *agent)
{
    const char *root;
    const char *cache_path;

    drop_source(&agent->topology_source);
    g_clear_pointer(&agent->topology, vnuma_topology_keeper_free);
    vnuma_sysfs_location(&root, &cache_path);
    if (agent->config->capabilities || !cache_path || !*cache_path)
        return;
    agent->topology = vnuma_topology_keeper_new(root, cache_path);
    agent->topology_failing = FALSE;
    topology_tick(agent);
    agent->topology_source = add_timeout(agent, TOPOLOGY_PERIOD_MS, topology_tick);
}

void
vnuma_agent_reload(VnumaAgent *agent, VnumaAgentConfig *config)
{
    g_autoptr(GError) error = NULL;

    vnuma_agent_config_free(agent->config);
    agent->config = config;
    if (agent->conn) {
        if (!vnuma_agent_read_host(agent, &error))
            g_log_structured(G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "MESSAGE",
                             "reload: keeping the host model: %s", error->message);
        vnuma_agent_read_driver(agent);
        /* Looked at afresh with the new settings: the placed ones resume
         * from their records. */
        g_hash_table_remove_all(agent->domains);
    }
    if (agent->context) {
        schedule_passes(agent);
        schedule_topology(agent);
    }
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
    if (agent->conn && vnuma_agent_watch(agent, dispatch)) {
        run_pass(agent);
    } else {
        vnuma_agent_disconnect(agent);
        agent->reconnect_source = add_timeout(agent, 0, reconnect_tick);
    }
    schedule_passes(agent);
    schedule_topology(agent);
    g_main_loop_run(loop);
    drop_source(&agent->pass_source);
    drop_source(&agent->reconnect_source);
    drop_source(&agent->topology_source);
    vnuma_agent_disconnect(agent);
    vnuma_events_stop();
    return TRUE;
}
