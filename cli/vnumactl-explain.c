/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vnumactl explain DOMAIN: one running domain as vnuma sees it, in the
 * spirit of ESXi's vmdumper output and esxtop's NUMA columns (NHN home
 * node, N%L memory locality, NMIG migrations). */
#include <stdlib.h>

#include "cli/vnumactl-live.h"
#include "cli/vnumactl.h"
#include "lib/vnuma-cpuset.h"
#include "lib/vnuma-json.h"


static char *
format_time(gint64 epoch)
{
    g_autoptr(GDateTime) t = NULL;

    if (epoch < 0 || !(t = g_date_time_new_from_unix_utc(epoch)))
        return g_strdup("never");
    return g_date_time_format(t, "%Y-%m-%d %H:%M:%S UTC");
}

/* ---- JSON ------------------------------------------------------------ */

static void
json_clients(VnumaJson *json, const VnumactlDomain *d)
{
    g_autoptr(GArray) clients = vnumactl_domain_clients(d);

    vnuma_json_key(json, "clients");
    vnuma_json_begin_array(json);
    for (guint c = 0; c < clients->len; c++) {
        const VnumactlClient *client = &g_array_index(clients, VnumactlClient, c);

        vnuma_json_begin_object(json);
        vnuma_json_member_string(json, "vcpus", client->vcpus);
        vnuma_json_member_int(json, "home_node", client->home_node);
        vnuma_json_member_uint(json, "memory_kib", client->memory_kib);
        vnuma_json_member_int_or_null(json, "moved", client->moved);
        vnuma_json_end_object(json);
    }
    vnuma_json_end_array(json);
}

static void
json_layout(VnumaJson *json, const VnumactlDomain *d)
{
    const VnumaGuestTopology *t = &d->live->topology;

    vnuma_json_key(json, "cells");
    vnuma_json_begin_array(json);
    for (guint c = 0; c < d->live->cells->len; c++) {
        const VnumaCell *cell = d->live->cells->pdata[c];
        g_autofree char *vcpus = vnuma_cpuset_format(cell->vcpus);

        vnuma_json_begin_object(json);
        vnuma_json_member_string(json, "vcpus", vcpus);
        vnuma_json_member_uint(json, "memory_kib", cell->memory_kib);
        vnuma_json_end_object(json);
    }
    vnuma_json_end_array(json);
    vnuma_json_key(json, "topology");
    vnuma_json_begin_object(json);
    vnuma_json_member_uint(json, "sockets", t->sockets);
    vnuma_json_member_uint(json, "dies", t->dies);
    vnuma_json_member_uint(json, "cores", t->cores);
    vnuma_json_member_uint(json, "threads", t->threads);
    vnuma_json_end_object(json);
}

static void
json_pins(VnumaJson *json, const VnumactlDomain *d)
{
    vnuma_json_key(json, "pins");
    vnuma_json_begin_object(json);
    vnuma_json_key(json, "vcpus");
    vnuma_json_begin_array(json);
    for (guint i = 0; i < d->pins->len; i++) {
        const VnumactlPinGroup *group = &g_array_index(d->pins, VnumactlPinGroup, i);

        vnuma_json_begin_object(json);
        vnuma_json_member_string(json, "vcpus", group->vcpus);
        vnuma_json_member_string(json, "cpus", group->cpus);
        vnuma_json_end_object(json);
    }
    vnuma_json_end_array(json);
    vnuma_json_member_string(json, "emulator", d->emulator_pin);
    vnuma_json_member_string(json, "memory_mode", d->memory_mode);
    vnuma_json_member_string(json, "memory_nodeset", d->memory_nodeset);
    vnuma_json_end_object(json);
}

static void
json_memory(VnumaJson *json, const VnumactlDomain *d)
{
    vnuma_json_key(json, "memory_per_node_kib");
    if (d->memory) {
        vnuma_json_begin_object(json);
        for (guint n = 0; n < d->memory->len; n++) {
            g_autofree char *key = g_strdup_printf("%u", n);

            vnuma_json_member_uint(json, key, g_array_index(d->memory, guint64, n));
        }
        vnuma_json_end_object(json);
    } else {
        vnuma_json_null(json);
    }
    vnuma_json_member_double_or_null(json, "locality", d->locality);
}

static void
json_agent(VnumaJson *json, const VnumactlDomain *d)
{
    vnuma_json_member_bool(json, "placed_by_agent", d->record != NULL);
    vnuma_json_member_string(json, "record_error", d->record_error);
    vnuma_json_member_int_or_null(json, "placed", d->record ? d->record->placed : -1);
    vnuma_json_key(json, "migrations");
    vnuma_json_begin_object(json);
    for (guint k = 0; k < VNUMA_MOVE_KIND_LAST; k++)
        vnuma_json_member_uint(json, vnuma_move_kind_to_string(k), d->record ? d->record->migrations[k] : 0);
    vnuma_json_member_uint(json, "total", d->record ? vnuma_agent_state_migrations_total(d->record) : 0);
    vnuma_json_end_object(json);
}

static char *
explain_json(const VnumactlLive *live, const VnumactlDomain *d)
{
    g_autoptr(VnumaJson) json = vnuma_json_new();
    const char *reason;
    gboolean managed = vnumactl_domain_managed(live, d, &reason);

    vnuma_json_begin_object(json);
    vnuma_json_member_string(json, "domain", d->name);
    vnuma_json_member_string(json, "state", d->state);
    vnuma_json_member_uint(json, "vcpus", d->vcpus);
    vnuma_json_member_uint(json, "memory_kib", d->memory_kib);
    vnuma_json_key(json, "managed");
    if (d->plan || d->record)
        vnuma_json_bool(json, managed);
    else
        vnuma_json_null(json);
    vnuma_json_member_string(json, "reason", reason);
    vnuma_json_member_string(json, "host_error", live->host_error);
    json_agent(json, d);
    json_clients(json, d);
    json_layout(json, d);
    json_pins(json, d);
    json_memory(json, d);
    vnuma_json_key(json, "warnings");
    vnuma_json_begin_array(json);
    for (const char *const *w = d->plan ? vnuma_plan_warnings(d->plan) : NULL; w && *w; w++)
        vnuma_json_string(json, *w);
    vnuma_json_end_array(json);
    vnuma_json_end_object(json);
    return vnuma_json_steal(json);
}

/* ---- text ------------------------------------------------------------ */

static void
text_clients(GString *out, const VnumactlDomain *d)
{
    g_autoptr(GArray) clients = vnumactl_domain_clients(d);

    if (d->record_error)
        g_string_append_printf(out, "vnumad's record is unreadable: %s\n", d->record_error);
    if (!clients->len) {
        g_string_append(out, "NUMA clients: none (not managed, or no host topology)\n");
        return;
    }
    if (d->record) {
        g_autofree char *placed = format_time(d->record->placed);

        g_string_append_printf(out, "NUMA clients (vnumad's record, placed %s):\n", placed);
    } else {
        g_string_append(out, "NUMA clients (vnuma's plan; vnumad has not placed this domain):\n");
    }
    g_string_append(out, "  client  vCPUs         NHN  memory      last move\n");
    for (guint c = 0; c < clients->len; c++) {
        const VnumactlClient *client = &g_array_index(clients, VnumactlClient, c);
        g_autofree char *mem = vnumactl_format_kib(client->memory_kib);
        g_autofree char *moved = d->record ? format_time(client->moved) : g_strdup("-");

        g_string_append_printf(out, "  %-6u  %-12s  %-3d  %-10s  %s\n", c, client->vcpus, client->home_node, mem,
                               moved);
    }
}

static void
text_layout(GString *out, const VnumactlDomain *d)
{
    const VnumaGuestTopology *t = &d->live->topology;

    if (!d->live->cells->len)
        g_string_append(out, "vNUMA cells: none (the guest sees one NUMA node)\n");
    else
        g_string_append(out, "vNUMA cells (what the guest sees):\n");
    for (guint c = 0; c < d->live->cells->len; c++) {
        const VnumaCell *cell = d->live->cells->pdata[c];
        g_autofree char *vcpus = vnuma_cpuset_format(cell->vcpus);
        g_autofree char *mem = vnumactl_format_kib(cell->memory_kib);

        g_string_append_printf(out, "  cell %u: vCPUs %s, %s\n", c, vcpus, mem);
    }
    if (t->sockets)
        g_string_append_printf(out, "Guest topology: %u socket(s) x %u core(s) x %u thread(s)\n",
                               t->sockets * MAX(t->dies, 1), t->cores, t->threads);
}

static void
text_pins(GString *out, const VnumactlDomain *d)
{
    g_string_append(out, "Pins (live):\n");
    for (guint i = 0; i < d->pins->len; i++) {
        const VnumactlPinGroup *group = &g_array_index(d->pins, VnumactlPinGroup, i);

        g_string_append_printf(out, "  vCPUs %-10s -> CPUs %s\n", group->vcpus, group->cpus);
    }
    if (!d->pins->len)
        g_string_append(out, "  vCPUs: unknown\n");
    g_string_append_printf(out, "  emulator         -> CPUs %s\n", d->emulator_pin ? d->emulator_pin : "unknown");
    g_string_append_printf(out, "  memory: mode %s, nodeset %s\n", d->memory_mode ? d->memory_mode : "unknown",
                           d->memory_nodeset && *d->memory_nodeset ? d->memory_nodeset : "any");
}

static void
text_memory(GString *out, const VnumactlDomain *d)
{
    if (!d->memory) {
        g_string_append(out, "Memory per node: unknown (numa_maps is read for local qemu:///system only)\n");
        return;
    }
    g_string_append(out, "Memory per node (numa_maps):");
    for (guint n = 0; n < d->memory->len; n++) {
        g_autofree char *mem = vnumactl_format_kib(g_array_index(d->memory, guint64, n));

        g_string_append_printf(out, " node %u: %s%s", n, mem, n + 1 < d->memory->len ? "," : "");
    }
    g_string_append_c(out, '\n');
    if (d->locality >= 0)
        g_string_append_printf(out, "N%%L (memory on home nodes): %.0f%%\n", 100 * d->locality);
}

static char *
explain_text(const VnumactlLive *live, const VnumactlDomain *d)
{
    g_autoptr(GString) out = g_string_new(NULL);
    g_autofree char *mem = vnumactl_format_kib(d->memory_kib);

    const char *reason;

    g_string_append_printf(out, "Domain %s: %s, %u vCPUs, %s\n", d->name, d->state, d->vcpus, mem);
    if (!d->plan)
        g_string_append_printf(out, "Host topology unknown: %s\n", live->host_error);
    if (!vnumactl_domain_managed(live, d, &reason) && d->plan)
        g_string_append_printf(out, "Not managed by vnuma: %s\n", reason);
    text_clients(out, d);
    text_layout(out, d);
    text_pins(out, d);
    text_memory(out, d);
    g_string_append(out, "NMIG (migrations by vnumad):");
    for (guint k = 0; k < VNUMA_MOVE_KIND_LAST; k++)
        g_string_append_printf(out, " %s %" G_GUINT64_FORMAT "%s", vnuma_move_kind_to_string(k),
                               d->record ? d->record->migrations[k] : 0,
                               k + 1 < VNUMA_MOVE_KIND_LAST ? "," : "\n");
    for (const char *const *w = d->plan ? vnuma_plan_warnings(d->plan) : NULL; w && *w; w++)
        g_string_append_printf(out, "warning: %s\n", *w);
    return g_string_free(g_steal_pointer(&out), FALSE);
}

int
vnumactl_explain(int argc, char **argv)
{
    g_autofree char *uri = NULL;
    g_autofree char *format = NULL;
    g_autofree char *config = NULL;
    const GOptionEntry entries[] = {
        { "connect", 'c', 0, G_OPTION_ARG_STRING, &uri, "libvirt URI (default " VNUMACTL_DEFAULT_URI ")", "URI" },
        { "format", 'f', 0, G_OPTION_ARG_STRING, &format, "text (default) or json", "FORMAT" },
        { "config", 0, 0, G_OPTION_ARG_FILENAME, &config, "vnuma.conf (default: the host's, when it exists)", "FILE" },
        { NULL },
    };
    g_autoptr(GOptionContext) options = g_option_context_new("DOMAIN - what vnuma did with a running domain");
    g_autoptr(GError) error = NULL;
    g_autoptr(VnumactlLive) live = NULL;
    g_autoptr(VnumactlDomain) d = NULL;
    g_autofree char *output = NULL;
    gboolean json;

    g_option_context_add_main_entries(options, entries, NULL);
    if (!g_option_context_parse(options, &argc, &argv, &error))
        return vnumactl_fail(VNUMACTL_EXIT_USAGE, "%s", error->message);
    if (argc != 2)
        return vnumactl_fail(VNUMACTL_EXIT_USAGE, "explain needs exactly one DOMAIN; see --help");
    if (format && !g_str_equal(format, "text") && !g_str_equal(format, "json"))
        return vnumactl_fail(VNUMACTL_EXIT_USAGE, "--format '%s' is not text or json", format);
    json = format && g_str_equal(format, "json");

    if (!(live = vnumactl_live_open(uri ? uri : VNUMACTL_DEFAULT_URI, config, &error)) ||
        !(d = vnumactl_live_domain(live, argv[1], &error)))
        return vnumactl_fail(VNUMACTL_EXIT_BAD_INPUT, "%s", error->message);
    output = json ? explain_json(live, d) : explain_text(live, d);
    if (!vnumactl_print(output) || (json && !vnumactl_print("\n")))
        return vnumactl_fail(VNUMACTL_EXIT_BAD_INPUT, "cannot write the result");
    return EXIT_SUCCESS;
}
