/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "plugin/vnuma-explain.h"

#include "lib/vnuma-json.h"

static void
json_ids(VnumaJson *json, const char *key, const VnumaCpuSet *set)
{
    vnuma_json_key(json, key);
    vnuma_json_begin_array(json);
    VNUMA_CPUSET_FOREACH(set, id)
        vnuma_json_int(json, id);
    vnuma_json_end_array(json);
}

static void
json_strings(VnumaJson *json, const char *key, const GPtrArray *strings)
{
    vnuma_json_key(json, key);
    vnuma_json_begin_array(json);
    for (guint i = 0; i < strings->len; i++)
        vnuma_json_string(json, strings->pdata[i]);
    vnuma_json_end_array(json);
}

static void
json_topology(VnumaJson *json, const VnumaGuestTopology *t)
{
    vnuma_json_key(json, "topology");
    vnuma_json_begin_object(json);
    vnuma_json_member_uint(json, "sockets", t->sockets);
    vnuma_json_member_uint(json, "dies", t->dies);
    vnuma_json_member_uint(json, "cores", t->cores);
    vnuma_json_member_uint(json, "threads", t->threads);
    vnuma_json_end_object(json);
}

static void
json_clients(VnumaJson *json, const VnumaLayout *layout)
{
    vnuma_json_key(json, "clients");
    vnuma_json_begin_array(json);
    for (guint i = 0; i < layout->clients->len; i++) {
        const VnumaClient *client = layout->clients->pdata[i];
        g_autofree char *cpus = client->cpus ? vnuma_cpuset_format(client->cpus) : g_strdup("");

        vnuma_json_begin_object(json);
        json_ids(json, "vcpus", client->vcpus);
        vnuma_json_member_uint(json, "memory_kib", client->memory_kib);
        vnuma_json_member_int(json, "home_node", client->home_node);
        vnuma_json_member_string(json, "home_cpus", cpus);
        vnuma_json_end_object(json);
    }
    vnuma_json_end_array(json);
}

/* The cells the guest sees: the plan's, or, when vnuma leaves the domain
 * alone, the cells it already has. Indexed by cell id. */
static void
json_cells(VnumaJson *json, const VnumaRequest *request, const VnumaLayout *layout)
{
    const GPtrArray *cells = layout->managed ? layout->cells : request->cells;
    gboolean shown = layout->managed ? layout->exposed : TRUE;

    vnuma_json_key(json, "vnuma_cells");
    vnuma_json_begin_array(json);
    for (guint i = 0; shown && i < cells->len; i++) {
        const VnumaCell *cell = cells->pdata[i];

        vnuma_json_begin_object(json);
        vnuma_json_member_uint(json, "id", i);
        json_ids(json, "vcpus", cell->vcpus);
        vnuma_json_member_uint(json, "memory_kib", cell->memory_kib);
        vnuma_json_end_object(json);
    }
    vnuma_json_end_array(json);
}

static void
json_policy(VnumaJson *json, const VnumaPolicy *p)
{
    vnuma_json_key(json, "policy");
    vnuma_json_begin_object(json);
    vnuma_json_member_bool(json, "managed", p->managed);
    vnuma_json_member_bool(json, "preferHT", p->prefer_ht);
    vnuma_json_member_uint(json, "maxPerMachineNode", p->max_per_machine_node);
    vnuma_json_member_uint(json, "coresPerSocket", p->cores_per_socket);
    vnuma_json_member_uint(json, "vcpuMin", p->vcpu_min);
    vnuma_json_member_string(json, "autosize", vnuma_autosize_to_string(p->autosize));
    vnuma_json_member_string(json, "topology", vnuma_topology_mode_to_string(p->topology));
    vnuma_json_end_object(json);
}

char *
vnuma_explain_json(const VnumaRequest *request, const VnumaLayout *layout, gboolean changes)
{
    g_autoptr(VnumaJson) json = vnuma_json_new();
    gboolean managed = layout->managed;
    g_autofree char *text = NULL;

    vnuma_json_begin_object(json);
    vnuma_json_member_string(json, "domain", request->name);
    vnuma_json_member_bool(json, "managed", managed);
    vnuma_json_member_string(json, "reason", layout->reason);
    vnuma_json_member_string(json, "host", layout->host_fingerprint);
    vnuma_json_member_uint(json, "vcpus", request->vcpus);
    vnuma_json_member_uint(json, "current_vcpus", request->current_vcpus);
    vnuma_json_member_uint(json, "memory_kib", request->memory_kib);
    vnuma_json_member_uint(json, "client_limit", layout->client_limit);
    vnuma_json_member_string(json, "sized_by",
                             managed ? vnuma_sized_by_to_string(layout->sized_by) : NULL);
    json_clients(json, layout);
    vnuma_json_member_bool(json, "vnuma_exposed", layout->exposed);
    vnuma_json_member_bool(json, "owner_cells", layout->owner_cells);
    json_cells(json, request, layout);
    json_topology(json, managed ? &layout->topology : &request->topology);
    vnuma_json_member_bool(json, "topology_written", layout->write_topology);
    vnuma_json_member_string(json, "memory_mode",
                             managed ? vnuma_memory_mode_to_string(layout->memory_mode) : NULL);
    json_policy(json, &layout->policy);
    vnuma_json_member_bool(json, "changes_domain", changes);
    json_strings(json, "warnings", layout->warnings);
    json_strings(json, "notes", layout->notes);
    vnuma_json_end_object(json);
    text = vnuma_json_steal(json);
    return g_strconcat(text, "\n", NULL);
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
    g_string_append_printf(out, "guest topology: %u socket(s) x %u die(s) x %u core(s) x %u thread(s)%s\n",
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
