/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Outputs: what a pass shows of the agent, the metrics file
 * (Prometheus text) and the report (--report, JSON). */
#include "agent/vnuma-agent-private.h"

#include "lib/vnuma-demand.h"
#include "agent/vnuma-agent-metrics.h"
#include "agent/vnuma-agent-report.h"
#include "lib/vnuma-policy.h"

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
            load[n] += vnuma_agent_unplaced_load(d, n);
        }
        for (guint c = 0; vnuma_agent_placed(d) && c < d->state->clients->len; c++) {
            const VnumaAgentClient *client = &g_array_index(d->state->clients, VnumaAgentClient, c);
            gint index = vnuma_host_node_index(agent->host, client->home_node);

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

GArray *
vnuma_agent_node_metrics(const VnumaAgent *agent, GPtrArray *domains)
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

void
vnuma_agent_write_metrics(VnumaAgent *agent, GPtrArray *domains, const GArray *nodes)
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

void
vnuma_agent_build_report(VnumaAgent *agent, GPtrArray *domains, const GArray *nodes)
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
