/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "agent/vnuma-agent-metrics.h"

#include <math.h>
#include <string.h>

#include "agent/vnuma-agent-file.h"
#include "lib/vnuma-error.h"


static void
domain_clear(gpointer data)
{
    VnumaMetricsDomain *d = data;

    g_free(d->name);
    g_free(d->uuid);
}

VnumaMetrics *
vnuma_metrics_new(void)
{
    VnumaMetrics *metrics = g_new0(VnumaMetrics, 1);

    metrics->domains = g_array_new(FALSE, TRUE, sizeof(VnumaMetricsDomain));
    g_array_set_clear_func(metrics->domains, domain_clear);
    metrics->nodes = g_array_new(FALSE, TRUE, sizeof(VnumaMetricsNode));
    return metrics;
}

void
vnuma_metrics_free(VnumaMetrics *metrics)
{
    if (!metrics)
        return;
    g_array_unref(metrics->domains);
    g_array_unref(metrics->nodes);
    g_free(metrics);
}

void
vnuma_metrics_add_domain(VnumaMetrics *metrics, const char *name, const char *uuid,
                         const VnumaAgentState *state, double locality)
{
    VnumaMetricsDomain d = {
        .name = g_strdup(name), .uuid = g_strdup(uuid), .state = state, .locality = locality,
    };

    g_array_append_val(metrics->domains, d);
}

void
vnuma_metrics_add_node(VnumaMetrics *metrics, const VnumaMetricsNode *node)
{
    g_array_append_val(metrics->nodes, *node);
}

/* Label values: the exposition format escapes \, " and newline only. */
static void
append_label(GString *out, const char *name, const char *value)
{
    g_string_append_printf(out, "%s=\"", name);
    for (const char *p = value ? value : ""; *p; p++) {
        if (*p == '\\' || *p == '"')
            g_string_append_c(out, '\\');
        if (*p == '\n')
            g_string_append(out, "\\n");
        else
            g_string_append_c(out, *p);
    }
    g_string_append_c(out, '"');
}

static void
append_value(GString *out, double value)
{
    char buf[G_ASCII_DTOSTR_BUF_SIZE];

    g_string_append_printf(out, " %s\n", g_ascii_formatd(buf, sizeof(buf), "%.15g", value));
}

static void
family(GString *out, const char *name, const char *type, const char *help)
{
    g_string_append_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
domain_labels(GString *out, const char *metric, const VnumaMetricsDomain *d)
{
    g_string_append_printf(out, "%s{", metric);
    append_label(out, "domain", d->name);
    g_string_append_c(out, ',');
    append_label(out, "uuid", d->uuid);
}

static void
format_domains(GString *out, const VnumaMetrics *m)
{
    family(out, "vnuma_client_home_node", "gauge",
           "Home node of each NUMA client (ESXi NHN); the value is the host node id.");
    for (guint i = 0; i < m->domains->len; i++) {
        const VnumaMetricsDomain *d = &g_array_index(m->domains, VnumaMetricsDomain, i);

        for (guint c = 0; c < d->state->clients->len; c++) {
            const VnumaAgentClient *client = &g_array_index(d->state->clients, VnumaAgentClient, c);
            g_autofree char *vcpus = vnuma_cpuset_format(client->vcpus);
            g_autofree char *index = g_strdup_printf("%u", c);

            domain_labels(out, "vnuma_client_home_node", d);
            g_string_append_c(out, ',');
            append_label(out, "client", index);
            g_string_append_c(out, ',');
            append_label(out, "vcpus", vcpus);
            g_string_append_c(out, '}');
            append_value(out, client->home_node);
        }
    }
    family(out, "vnuma_domain_memory_locality_ratio", "gauge",
           "Fraction of the domain's memory on its clients' home nodes (ESXi N%L / 100).");
    for (guint i = 0; i < m->domains->len; i++) {
        const VnumaMetricsDomain *d = &g_array_index(m->domains, VnumaMetricsDomain, i);

        if (d->locality < 0)
            continue;
        domain_labels(out, "vnuma_domain_memory_locality_ratio", d);
        g_string_append_c(out, '}');
        append_value(out, d->locality);
    }
    family(out, "vnuma_domain_migrations_total", "counter",
           "Client home-node moves by kind (ESXi NMIG), kept in the domain's metadata.");
    for (guint i = 0; i < m->domains->len; i++) {
        const VnumaMetricsDomain *d = &g_array_index(m->domains, VnumaMetricsDomain, i);

        for (guint k = 0; k < VNUMA_MOVE_KIND_LAST; k++) {
            domain_labels(out, "vnuma_domain_migrations_total", d);
            g_string_append_c(out, ',');
            append_label(out, "kind", vnuma_move_kind_to_string(k));
            g_string_append_c(out, '}');
            append_value(out, (double) d->state->migrations[k]);
        }
    }
}

static void
node_value(GString *out, const char *metric, guint id, double value)
{
    g_string_append_printf(out, "%s{node=\"%u\"}", metric, id);
    append_value(out, value);
}

static void
format_nodes(GString *out, const VnumaMetrics *m)
{
    static const struct {
        const char *name;
        const char *help;
        gsize offset;
    } gauges[] = {
        { "vnuma_node_capacity_cpus", "Usable host CPUs of the node.",
          G_STRUCT_OFFSET(VnumaMetricsNode, capacity) },
        { "vnuma_node_load_cpus", "CPUs used by the NUMA clients homed on the node (last pass).",
          G_STRUCT_OFFSET(VnumaMetricsNode, load) },
        { "vnuma_node_committed_vcpus", "vCPUs of the NUMA clients homed on the node.",
          G_STRUCT_OFFSET(VnumaMetricsNode, committed_vcpus) },
    };

    for (guint g = 0; g < G_N_ELEMENTS(gauges); g++) {
        family(out, gauges[g].name, "gauge", gauges[g].help);
        for (guint i = 0; i < m->nodes->len; i++) {
            const VnumaMetricsNode *n = &g_array_index(m->nodes, VnumaMetricsNode, i);

            node_value(out, gauges[g].name, n->id,
                       G_STRUCT_MEMBER(double, n, gauges[g].offset));
        }
    }
    family(out, "vnuma_node_memory_free_bytes", "gauge", "Free memory of the node.");
    for (guint i = 0; i < m->nodes->len; i++) {
        const VnumaMetricsNode *n = &g_array_index(m->nodes, VnumaMetricsNode, i);

        if (n->free_bytes >= 0)
            node_value(out, "vnuma_node_memory_free_bytes", n->id, (double) n->free_bytes);
    }
}

char *
vnuma_metrics_format(const VnumaMetrics *m)
{
    GString *out = g_string_new(NULL);

    format_domains(out, m);
    format_nodes(out, m);
    family(out, "vnuma_agent_connected", "gauge", "1 when vnumad is connected to libvirt.");
    g_string_append(out, "vnuma_agent_connected");
    append_value(out, m->connected ? 1 : 0);
    family(out, "vnuma_agent_passes_total", "counter", "Passes vnumad has made.");
    g_string_append(out, "vnuma_agent_passes_total");
    append_value(out, (double) m->passes);
    family(out, "vnuma_agent_last_pass_timestamp_seconds", "gauge", "When the last pass ended.");
    g_string_append(out, "vnuma_agent_last_pass_timestamp_seconds");
    append_value(out, m->last_pass);
    return g_string_free(out, FALSE);
}

gboolean
vnuma_metrics_write(const VnumaMetrics *metrics, const char *path, GError **error)
{
    g_autofree char *text = vnuma_metrics_format(metrics);

    if (!vnuma_file_replace(path, text, strlen(text), 0644, error)) {
        g_prefix_error(error, "cannot write metrics: ");
        return FALSE;
    }
    return TRUE;
}
