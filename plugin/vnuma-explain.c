/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "plugin/vnuma-explain.h"

/* A JSON string, or null for NULL. */
static void
json_string(GString *out, const char *text)
{
    if (!text) {
        g_string_append(out, "null");
        return;
    }
    g_string_append_c(out, '"');
    for (const unsigned char *p = (const unsigned char *) text; *p; p++) {
        switch (*p) {
        case '"':
            g_string_append(out, "\\\"");
            break;
        case '\\':
            g_string_append(out, "\\\\");
            break;
        case '\n':
            g_string_append(out, "\\n");
            break;
        case '\t':
            g_string_append(out, "\\t");
            break;
        default:
            if (*p < 0x20)
                g_string_append_printf(out, "\\u%04x", *p);
            else
                g_string_append_c(out, (char) *p);
        }
    }
    g_string_append_c(out, '"');
}

static void
json_int_array(GString *out, const VnumaCpuSet *set)
{
    gboolean first = TRUE;

    g_string_append_c(out, '[');
    VNUMA_CPUSET_FOREACH(set, id) {
        g_string_append_printf(out, "%s%d", first ? "" : ", ", id);
        first = FALSE;
    }
    g_string_append_c(out, ']');
}

static void
json_strings(GString *out, const GPtrArray *strings)
{
    g_string_append_c(out, '[');
    for (guint i = 0; i < strings->len; i++) {
        if (i)
            g_string_append(out, ", ");
        json_string(out, strings->pdata[i]);
    }
    g_string_append_c(out, ']');
}

static void
json_topology(GString *out, const VnumaGuestTopology *t)
{
    g_string_append_printf(out, "{\"sockets\": %u, \"dies\": %u, \"cores\": %u, \"threads\": %u}",
                           t->sockets, t->dies, t->cores, t->threads);
}

static void
json_clients(GString *out, const VnumaLayout *layout)
{
    g_string_append(out, "[");
    for (guint i = 0; i < layout->clients->len; i++) {
        const VnumaClient *client = layout->clients->pdata[i];
        g_autofree char *cpus = client->cpus ? vnuma_cpuset_format(client->cpus) : g_strdup("");

        g_string_append_printf(out, "%s\n    {\"vcpus\": ", i ? "," : "");
        json_int_array(out, client->vcpus);
        g_string_append_printf(out, ", \"memory_kib\": %" G_GUINT64_FORMAT ", \"home_node\": %d, "
                               "\"home_cpus\": ", client->memory_kib, client->home_node);
        json_string(out, cpus);
        g_string_append(out, "}");
    }
    g_string_append(out, layout->clients->len ? "\n  ]" : "]");
}

static void
json_cells(GString *out, const VnumaLayout *layout)
{
    g_string_append(out, "[");
    for (guint i = 0; layout->exposed && i < layout->cells->len; i++) {
        const VnumaCell *cell = layout->cells->pdata[i];

        g_string_append_printf(out, "%s\n    {\"vcpus\": ", i ? "," : "");
        json_int_array(out, cell->vcpus);
        g_string_append_printf(out, ", \"memory_kib\": %" G_GUINT64_FORMAT "}", cell->memory_kib);
    }
    g_string_append(out, layout->exposed && layout->cells->len ? "\n  ]" : "]");
}

static void
json_policy(GString *out, const VnumaPolicy *p)
{
    g_string_append_printf(out, "{\"managed\": %s, \"preferHT\": %s, \"maxPerMachineNode\": %u, "
                           "\"coresPerSocket\": %u, \"vcpuMin\": %u, \"autosize\": \"%s\", "
                           "\"topology\": \"%s\"}",
                           p->managed ? "true" : "false", p->prefer_ht ? "true" : "false",
                           p->max_per_machine_node, p->cores_per_socket, p->vcpu_min,
                           vnuma_autosize_to_string(p->autosize),
                           vnuma_topology_mode_to_string(p->topology));
}

char *
vnuma_explain_json(const VnumaRequest *request, const VnumaLayout *layout, gboolean changes)
{
    GString *out = g_string_new("{\n  \"domain\": ");
    const VnumaGuestTopology *topology = layout->managed ? &layout->topology : &request->topology;

    json_string(out, request->name);
    g_string_append_printf(out, ",\n  \"managed\": %s,\n  \"reason\": ",
                           layout->managed ? "true" : "false");
    json_string(out, layout->reason);
    g_string_append(out, ",\n  \"host\": ");
    json_string(out, layout->host_fingerprint);
    g_string_append_printf(out, ",\n  \"vcpus\": %u,\n  \"current_vcpus\": %u,\n  \"memory_kib\": %"
                           G_GUINT64_FORMAT ",\n  \"client_limit\": %u,\n  \"sized_by\": ",
                           request->vcpus, request->current_vcpus, request->memory_kib,
                           layout->client_limit);
    json_string(out, layout->managed ? vnuma_sized_by_to_string(layout->sized_by) : NULL);
    g_string_append(out, ",\n  \"clients\": ");
    json_clients(out, layout);
    g_string_append_printf(out, ",\n  \"vnuma_exposed\": %s,\n  \"owner_cells\": %s,\n  \"vnuma_cells\": ",
                           layout->exposed ? "true" : "false", layout->owner_cells ? "true" : "false");
    json_cells(out, layout);
    g_string_append(out, ",\n  \"topology\": ");
    json_topology(out, topology);
    g_string_append_printf(out, ",\n  \"topology_written\": %s,\n  \"memory_mode\": ",
                           layout->write_topology ? "true" : "false");
    json_string(out, layout->managed ? vnuma_memory_mode_to_string(layout->memory_mode) : NULL);
    g_string_append(out, ",\n  \"policy\": ");
    json_policy(out, &layout->policy);
    g_string_append_printf(out, ",\n  \"changes_domain\": %s,\n  \"warnings\": ",
                           changes ? "true" : "false");
    json_strings(out, layout->warnings);
    g_string_append(out, ",\n  \"notes\": ");
    json_strings(out, layout->notes);
    g_string_append(out, "\n}\n");
    return g_string_free(out, FALSE);
}

static char *
gib(guint64 kib)
{
    return g_strdup_printf("%.2f GiB", (double) kib / (1024.0 * 1024.0));
}

static void
text_clients(GString *out, const VnumaLayout *layout)
{
    g_string_append_printf(out, "NUMA clients: %u (limit L=%u vCPUs per client)\n",
                           layout->clients->len, layout->client_limit);
    for (guint i = 0; i < layout->clients->len; i++) {
        const VnumaClient *client = layout->clients->pdata[i];
        g_autofree char *vcpus = vnuma_cpuset_format(client->vcpus);
        g_autofree char *cpus = client->cpus ? vnuma_cpuset_format(client->cpus) : g_strdup("-");
        g_autofree char *memory = gib(client->memory_kib);

        g_string_append_printf(out, "  client %u: vCPUs %-9s home node %d (host CPUs %s), memory %s\n",
                               i, vcpus, client->home_node, cpus, memory);
    }
}

static void
text_cells(GString *out, const VnumaLayout *layout)
{
    if (!layout->exposed || layout->cells->len == 0) {
        g_string_append(out, "guest vNUMA: not exposed (the guest sees one node)\n");
        return;
    }
    g_string_append_printf(out, "guest vNUMA: %u cell(s)%s\n", layout->cells->len,
                           layout->owner_cells ? ", the domain owner's" : "");
    for (guint i = 0; i < layout->cells->len; i++) {
        const VnumaCell *cell = layout->cells->pdata[i];
        g_autofree char *vcpus = vnuma_cpuset_format(cell->vcpus);
        g_autofree char *memory = gib(cell->memory_kib);
        g_autofree char *nodes = NULL;

        for (guint m = 0; layout->pins && m < layout->pins->memnodes->len; m++) {
            const VnumaMemnode *memnode = &g_array_index(layout->pins->memnodes, VnumaMemnode, m);

            if (memnode->cell_id == i)
                nodes = vnuma_cpuset_format(memnode->nodeset);
        }
        g_string_append_printf(out, "  cell %u: vCPUs %-9s memory %s, backed by host node(s) %s\n",
                               i, vcpus, memory, nodes ? nodes : "-");
    }
}

static void
text_list(GString *out, const char *title, const GPtrArray *lines)
{
    if (!lines->len)
        return;
    g_string_append_printf(out, "%s:\n", title);
    for (guint i = 0; i < lines->len; i++)
        g_string_append_printf(out, "  - %s\n", (const char *) lines->pdata[i]);
}

char *
vnuma_explain_text(const VnumaRequest *request, const VnumaLayout *layout, gboolean changes)
{
    GString *out = g_string_new(NULL);
    const VnumaGuestTopology *t = &layout->topology;
    g_autofree char *memory = gib(request->memory_kib);

    g_string_append_printf(out, "domain '%s': %u vCPUs", request->name ? request->name : "?",
                           request->vcpus);
    if (request->current_vcpus < request->vcpus)
        g_string_append_printf(out, " (%u online)", request->current_vcpus);
    g_string_append_printf(out, ", %s memory, host %s\n", memory, layout->host_fingerprint);
    if (!layout->managed) {
        g_string_append_printf(out, "not managed: %s\nthe domain XML is left unchanged\n",
                               layout->reason);
        text_list(out, "warnings", layout->warnings);
        return g_string_free(out, FALSE);
    }
    text_clients(out, layout);
    text_cells(out, layout);
    g_string_append_printf(out, "guest topology: %u socket(s) × %u die(s) × %u core(s) × %u thread(s)%s\n",
                           t->sockets, t->dies, t->cores, t->threads,
                           layout->write_topology ? "" : " (left as the domain has it)");
    if (layout->pins && layout->pins->memory_nodeset) {
        g_autofree char *nodes = vnuma_cpuset_format(layout->pins->memory_nodeset);

        g_string_append_printf(out, "memory: mode %s on host node(s) %s\n",
                               layout->pins->memory_mode, nodes);
    }
    text_list(out, "why", layout->notes);
    text_list(out, "warnings", layout->warnings);
    g_string_append(out, changes ? "the domain XML changes\n" : "the domain XML is already as planned\n");
    return g_string_free(out, FALSE);
}
