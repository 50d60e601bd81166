/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vnumactl status: the host's nodes (CPU load sampled over an interval,
 * committed vCPUs, free memory) and every running domain's home nodes
 * (NHN), memory locality (N%L) and migrations (NMIG), as esxtop's NUMA
 * view shows them; --watch redraws in place. */
#include <stdlib.h>

#include "cli/vnumactl-live.h"
#include "cli/vnumactl.h"
#include "lib/vnuma-cpuset.h"
#include "lib/vnuma-json.h"

/* vCPUs the agent homed on each host node (index as host->nodes). */
static GArray *
committed_vcpus(const VnumactlLive *live, const GPtrArray *domains)
{
    GArray *committed = g_array_new(FALSE, TRUE, sizeof(guint));

    g_array_set_size(committed, live->host ? live->host->nodes->len : 0);
    for (guint i = 0; i < domains->len; i++) {
        const VnumactlDomain *d = domains->pdata[i];
        g_autoptr(GArray) clients = d->record ? vnumactl_domain_clients(d) : NULL;

        for (guint c = 0; clients && c < clients->len; c++) {
            const VnumactlClient *client = &g_array_index(clients, VnumactlClient, c);
            g_autoptr(VnumaCpuSet) vcpus = vnuma_cpuset_parse(client->vcpus, NULL);

            for (guint n = 0; n < committed->len; n++)
                if ((gint) ((const VnumaHostNode *) live->host->nodes->pdata[n])->id == client->home_node)
                    g_array_index(committed, guint, n) += vcpus ? vnuma_cpuset_count(vcpus) : 0;
        }
    }
    return committed;
}

static const char *
domain_role(const VnumactlLive *live, const VnumactlDomain *d)
{
    const char *reason;

    if (d->record)
        return "placed by vnumad";
    if (d->record_error)
        return "record unreadable";
    if (!d->plan)
        return "not planned: host topology unknown";
    if (!vnumactl_domain_managed(live, d, &reason))
        return reason;
    return "planned, not placed";
}

static char *
status_json(VnumactlLive *live, const GPtrArray *domains, const GArray *load, double interval)
{
    g_autoptr(VnumaJson) json = vnuma_json_new();
    g_autoptr(GArray) committed = committed_vcpus(live, domains);

    vnuma_json_begin_object(json);
    vnuma_json_member_double(json, "interval", interval);
    vnuma_json_member_string(json, "host_error", live->host_error);
    vnuma_json_key(json, "nodes");
    vnuma_json_begin_array(json);
    for (guint n = 0; live->host && n < live->host->nodes->len; n++) {
        const VnumaHostNode *node = live->host->nodes->pdata[n];
        gint64 free_kib = vnumactl_live_node_free(live, node->id);

        vnuma_json_begin_object(json);
        vnuma_json_member_uint(json, "id", node->id);
        vnuma_json_member_uint(json, "cpus", node->cpus->len);
        vnuma_json_member_double_or_null(json, "load", load ? g_array_index(load, double, n) : -1);
        vnuma_json_member_uint(json, "committed_vcpus", g_array_index(committed, guint, n));
        vnuma_json_member_uint(json, "memory_kib", node->memory_kib);
        vnuma_json_member_int_or_null(json, "free_kib", free_kib);
        vnuma_json_end_object(json);
    }
    vnuma_json_end_array(json);
    vnuma_json_key(json, "domains");
    vnuma_json_begin_array(json);
    for (guint i = 0; i < domains->len; i++) {
        const VnumactlDomain *d = domains->pdata[i];
        g_autofree char *homes = vnumactl_domain_home_nodes(d);
        const char *reason;

        vnuma_json_begin_object(json);
        vnuma_json_member_string(json, "name", d->name);
        vnuma_json_member_uint(json, "vcpus", d->vcpus);
        vnuma_json_member_uint(json, "memory_kib", d->memory_kib);
        vnuma_json_member_bool(json, "managed", vnumactl_domain_managed(live, d, &reason));
        vnuma_json_member_bool(json, "placed_by_agent", d->record != NULL);
        vnuma_json_member_string(json, "role", domain_role(live, d));
        vnuma_json_member_string(json, "home_nodes", homes);
        vnuma_json_member_double_or_null(json, "locality", d->locality);
        vnuma_json_member_uint(json, "migrations", d->record ? vnuma_agent_state_migrations_total(d->record) : 0);
        vnuma_json_end_object(json);
    }
    vnuma_json_end_array(json);
    vnuma_json_end_object(json);
    return vnuma_json_steal(json);
}

static char *
status_text(VnumactlLive *live, const GPtrArray *domains, const GArray *load, double interval)
{
    g_autoptr(GString) out = g_string_new(NULL);
    g_autoptr(GArray) committed = committed_vcpus(live, domains);
    g_autoptr(GDateTime) now = g_date_time_new_now_utc();
    g_autofree char *stamp = g_date_time_format(now, "%Y-%m-%d %H:%M:%S UTC");

    g_string_append_printf(out, "vnuma status %s (CPU load over %.1f s)\n", stamp, interval);
    if (!live->host)
        g_string_append_printf(out, "host topology unknown: %s\n", live->host_error);
    else
        g_string_append(out, "NODE  CPUS  LOAD    COMMITTED  MEMORY      FREE\n");
    for (guint n = 0; live->host && n < live->host->nodes->len; n++) {
        const VnumaHostNode *node = live->host->nodes->pdata[n];
        gint64 free_kib = vnumactl_live_node_free(live, node->id);
        g_autofree char *mem = vnumactl_format_kib(node->memory_kib);
        g_autofree char *free_text = free_kib >= 0 ? vnumactl_format_kib((guint64) free_kib) : g_strdup("-");
        g_autofree char *load_text = load ? g_strdup_printf("%.2f", g_array_index(load, double, n)) : g_strdup("-");

        g_string_append_printf(out, "%-4u  %-4u  %-6s  %-9u  %-10s  %s\n", node->id, node->cpus->len, load_text,
                               g_array_index(committed, guint, n), mem, free_text);
    }
    g_string_append(out, "\nDOMAIN                VCPUS  MEMORY      NHN    N%L   NMIG  STATE\n");
    for (guint i = 0; i < domains->len; i++) {
        const VnumactlDomain *d = domains->pdata[i];
        g_autofree char *homes = vnumactl_domain_home_nodes(d);
        g_autofree char *mem = vnumactl_format_kib(d->memory_kib);
        g_autofree char *locality = d->locality >= 0 ? g_strdup_printf("%.0f%%", 100 * d->locality) : g_strdup("-");
        g_autofree char *migrations = d->record ? g_strdup_printf("%" G_GUINT64_FORMAT,
                                                                  vnuma_agent_state_migrations_total(d->record))
                                                : g_strdup("-");

        g_string_append_printf(out, "%-20s  %-5u  %-10s  %-5s  %-4s  %-4s  %s\n", d->name, d->vcpus, mem,
                               homes ? homes : "-", locality, migrations, domain_role(live, d));
    }
    if (!domains->len)
        g_string_append(out, "(no running domains)\n");
    return g_string_free(g_steal_pointer(&out), FALSE);
}

int
vnumactl_status(int argc, char **argv)
{
    g_autofree char *uri = NULL;
    g_autofree char *format = NULL;
    g_autofree char *config = NULL;
    gboolean watch = FALSE;
    double interval = 1.0;
    gint iterations = 0;
    const GOptionEntry entries[] = {
        { "connect", 'c', 0, G_OPTION_ARG_STRING, &uri, "libvirt URI (default " VNUMACTL_DEFAULT_URI ")", "URI" },
        { "format", 'f', 0, G_OPTION_ARG_STRING, &format, "text (default) or json", "FORMAT" },
        { "config", 0, 0, G_OPTION_ARG_FILENAME, &config, "vnuma.conf (default: the host's, when it exists)", "FILE" },
        { "watch", 'w', 0, G_OPTION_ARG_NONE, &watch, "Refresh in place until interrupted", NULL },
        { "interval", 'i', 0, G_OPTION_ARG_DOUBLE, &interval, "CPU load sampling interval (default 1)", "SECONDS" },
        { "iterations", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_INT, &iterations, "Stop --watch after N", "N" },
        { NULL },
    };
    g_autoptr(GOptionContext) options = g_option_context_new("- the host's NUMA nodes and its running domains");
    g_autoptr(GError) error = NULL;
    g_autoptr(VnumactlLive) live = NULL;
    gboolean json;

    g_option_context_add_main_entries(options, entries, NULL);
    if (!g_option_context_parse(options, &argc, &argv, &error))
        return vnumactl_fail(VNUMACTL_EXIT_USAGE, "%s", error->message);
    if (argc != 1)
        return vnumactl_fail(VNUMACTL_EXIT_USAGE, "status takes no arguments; see --help");
    if (format && !g_str_equal(format, "text") && !g_str_equal(format, "json"))
        return vnumactl_fail(VNUMACTL_EXIT_USAGE, "--format '%s' is not text or json", format);
    if (!(interval > 0 && interval <= 3600))
        return vnumactl_fail(VNUMACTL_EXIT_USAGE, "--interval must be in (0, 3600] seconds");
    json = format && g_str_equal(format, "json");
    if (!(live = vnumactl_live_open(uri ? uri : VNUMACTL_DEFAULT_URI, config, &error)))
        return vnumactl_fail(VNUMACTL_EXIT_BAD_INPUT, "%s", error->message);

    for (gint i = 0; !watch || iterations <= 0 || i < iterations; i++) {
        g_autoptr(GArray) load = vnumactl_live_node_load(live, interval);
        g_autoptr(GPtrArray) domains = vnumactl_live_domains(live, &error);
        g_autofree char *output = NULL;

        if (!domains)
            return vnumactl_fail(VNUMACTL_EXIT_BAD_INPUT, "%s", error->message);
        output = json ? status_json(live, domains, load, interval) : status_text(live, domains, load, interval);
        /* Home the cursor and clear: each frame replaces the last. */
        if ((watch && !json && !vnumactl_print("\033[H\033[2J")) || !vnumactl_print(output) ||
            (json && !vnumactl_print("\n")))
            return vnumactl_fail(VNUMACTL_EXIT_BAD_INPUT, "cannot write the result");
        if (!watch)
            break;
    }
    return EXIT_SUCCESS;
}
