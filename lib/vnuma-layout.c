/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "lib/vnuma-layout.h"

static void
client_free(gpointer data)
{
    VnumaClient *client = data;

    vnuma_cpuset_free(client->vcpus);
    vnuma_cpuset_free(client->cpus);
    g_free(client);
}

VnumaLayout *
vnuma_layout_new(void)
{
    VnumaLayout *layout = g_new0(VnumaLayout, 1);

    vnuma_policy_init(&layout->policy);
    layout->managed = TRUE;
    layout->pin_vcpus = TRUE;
    layout->clients = g_ptr_array_new_with_free_func(client_free);
    layout->cells = g_ptr_array_new_with_free_func((GDestroyNotify) vnuma_cell_free);
    layout->usable = g_ptr_array_new_with_free_func((GDestroyNotify) vnuma_cpuset_free);
    layout->warnings = g_ptr_array_new_null_terminated(4, g_free, TRUE);
    layout->notes = g_ptr_array_new_null_terminated(4, g_free, TRUE);
    return layout;
}

void
vnuma_layout_free(VnumaLayout *layout)
{
    if (!layout)
        return;
    g_free(layout->reason);
    g_free(layout->host_fingerprint);
    vnuma_cpuset_free(layout->online);
    g_ptr_array_unref(layout->clients);
    g_ptr_array_unref(layout->cells);
    g_ptr_array_unref(layout->usable);
    g_ptr_array_unref(layout->warnings);
    g_ptr_array_unref(layout->notes);
    vnuma_pinset_free(layout->pins);
    g_free(layout);
}

void
vnuma_layout_warn(VnumaLayout *layout, const char *format, ...)
{
    va_list args;

    va_start(args, format);
    g_ptr_array_add(layout->warnings, g_strdup_vprintf(format, args));
    va_end(args);
}

void
vnuma_layout_note(VnumaLayout *layout, const char *format, ...)
{
    va_list args;

    va_start(args, format);
    g_ptr_array_add(layout->notes, g_strdup_vprintf(format, args));
    va_end(args);
}

void
vnuma_layout_set_unmanaged(VnumaLayout *layout, const char *format, ...)
{
    va_list args;

    va_start(args, format);
    g_free(layout->reason);
    layout->reason = g_strdup_vprintf(format, args);
    layout->managed = FALSE;
    va_end(args);
}

void
vnuma_layout_add_client(VnumaLayout *layout, VnumaCpuSet *vcpus, guint64 memory_kib)
{
    VnumaClient *client = g_new0(VnumaClient, 1);

    client->vcpus = vcpus;
    client->memory_kib = memory_kib;
    client->home_node = -1;
    client->home_with = -1;
    g_ptr_array_add(layout->clients, client);
}

/* Home nodes of the clients that hold any of @vcpus. */
static VnumaCpuSet *
home_nodes_of(const VnumaLayout *layout, const VnumaCpuSet *vcpus)
{
    VnumaCpuSet *nodes = vnuma_cpuset_new();

    for (guint i = 0; i < layout->clients->len; i++) {
        const VnumaClient *client = layout->clients->pdata[i];

        if (client->home_node >= 0 && vnuma_cpuset_intersects(client->vcpus, vcpus))
            vnuma_cpuset_add(nodes, (guint) client->home_node);
    }
    return nodes;
}

guint64
vnuma_layout_node_memory_kib(const VnumaLayout *layout, const VnumaHostNode *node)
{
    const VnumaPagePool *pool;

    /* Without huge pages the backing page is 4 KiB (vnuma_sizing_run). */
    if (layout->page_kib <= 4)
        return node->memory_kib;
    pool = vnuma_host_node_pages(node, layout->page_kib);
    return pool ? (pool->free >= 0 ? (guint64) pool->free : pool->total) * pool->size_kib : 0;
}

/* Rule 6: the clients homed on a node must fit its memory (or its pool of
 * the backing huge page size; free count from sysfs, total otherwise). */
static void
check_node_memory(VnumaLayout *layout, const VnumaRequest *request,
                  const VnumaHostNode *node)
{
    g_autoptr(VnumaCpuSet) clients = vnuma_cpuset_new();
    g_autofree char *names = NULL;
    guint64 need = 0, available = node->memory_kib;
    const char *what = "";

    for (guint i = 0; i < layout->clients->len; i++) {
        const VnumaClient *client = layout->clients->pdata[i];

        if (client->home_node == (gint) node->id) {
            need += client->memory_kib;
            vnuma_cpuset_add(clients, i);
        }
    }
    if (request->hugepages) {
        available = vnuma_layout_node_memory_kib(layout, node);
        what = " of huge pages";
    }
    if (need <= available)
        return;
    names = vnuma_cpuset_format(clients);
    vnuma_layout_warn(layout, "client(s) %s need %" G_GUINT64_FORMAT " KiB%s but home node %u has %"
                      G_GUINT64_FORMAT " KiB: remote memory is unavoidable",
                      names, need, what, node->id, available);
}

/* The home node of a cell: that of the client holding its first vCPU. */
static gint
cell_home(const VnumaLayout *layout, const VnumaCell *cell)
{
    gint first = vnuma_cpuset_first(cell->vcpus);

    for (guint i = 0; first >= 0 && i < layout->clients->len; i++) {
        const VnumaClient *client = layout->clients->pdata[i];

        if (vnuma_cpuset_contains(client->vcpus, (guint) first))
            return client->home_node;
    }
    return -1;
}

/* The cells vnuma writes carry the host SLIT between their home nodes,
 * so the guest scheduler sees which cells are near. Two cells on one
 * host node are as near as libvirt allows distinct cells to be (11:
 * 10 is reserved for a cell itself). Distances are part of the guest's
 * ABI, like the cells: cells the domain already has keep theirs, even
 * when their clients move (restore, a kept record). */
static void
set_cell_distances(VnumaLayout *layout, const VnumaHost *host, const VnumaRequest *request)
{
    if (vnuma_cells_equal(request->cells, layout->cells)) {
        for (guint i = 0; i < layout->cells->len; i++) {
            vnuma_cell_free(layout->cells->pdata[i]);
            layout->cells->pdata[i] = vnuma_cell_copy(request->cells->pdata[i]);
        }
        return;
    }
    for (guint i = 0; i < layout->cells->len; i++) {
        VnumaCell *cell = layout->cells->pdata[i];
        gint home = cell_home(layout, cell);

        for (guint j = 0; home >= 0 && j < layout->cells->len; j++) {
            gint other = cell_home(layout, layout->cells->pdata[j]);
            guint value = i == j ? 10 : home == other ? 11
                                      : vnuma_host_distance(host, (guint) home, (guint) MAX(other, 0));

            vnuma_cell_set_distance(cell, j, value);
        }
    }
}

void
vnuma_layout_finish(VnumaLayout *layout, const VnumaHost *host, const VnumaRequest *request)
{
    g_autoptr(VnumaPinSet) pins = vnuma_pinset_new();
    VnumaCpuSet *emulator = vnuma_cpuset_new();
    VnumaCpuSet *nodes = vnuma_cpuset_new();

    for (guint i = 0; i < layout->clients->len; i++) {
        const VnumaClient *client = layout->clients->pdata[i];

        if (client->home_node < 0 || !client->cpus)
            continue;
        VNUMA_CPUSET_FOREACH(client->vcpus, vcpu)
            vnuma_pinset_add_vcpupin(pins, (guint) vcpu, vnuma_cpuset_copy(client->cpus));
        vnuma_cpuset_union(emulator, client->cpus);
        vnuma_cpuset_add(nodes, (guint) client->home_node);
    }
    VNUMA_CPUSET_FOREACH(nodes, id) {
        const VnumaHostNode *node = vnuma_host_find_node(host, (guint) id);

        if (node)
            check_node_memory(layout, request, node);
    }
    vnuma_pinset_free(layout->pins);
    if (!layout->pin_vcpus) {
        /* VDSM re-pins every vCPU to its shared pool at start: pins or
         * memnodes written now would be contradicted, and memory bound to
         * nodes the vCPUs then leave is remote. The guest cells stay. */
        vnuma_cpuset_free(emulator);
        vnuma_cpuset_free(nodes);
        layout->pins = vnuma_pinset_new();
        if (layout->exposed && !layout->owner_cells && !request->keep_guest_abi)
            set_cell_distances(layout, host, request);
        return;
    }
    pins->emulatorpin = emulator;
    pins->has_numatune = TRUE;
    pins->memory_mode = g_strdup(vnuma_memory_mode_to_string(layout->memory_mode));
    pins->memory_nodeset = nodes;
    /* <memnode> needs a guest cell to refer to; layout->cells is indexed
     * by cell id. A memory-only cell has no vCPU to follow: the domain's
     * nodeset covers it. */
    for (guint i = 0; i < layout->cells->len && (layout->exposed || layout->owner_cells); i++) {
        const VnumaCell *cell = layout->cells->pdata[i];

        if (!vnuma_cpuset_is_empty(cell->vcpus))
            vnuma_pinset_add_memnode(pins, i, home_nodes_of(layout, cell->vcpus));
    }
    layout->pins = g_steal_pointer(&pins);
    if (layout->exposed && !layout->owner_cells && !request->keep_guest_abi)
        set_cell_distances(layout, host, request);
}

VnumaStamp *
vnuma_layout_to_stamp(const VnumaLayout *layout)
{
    VnumaStamp *stamp = vnuma_stamp_new();

    stamp->version = 1;
    stamp->vcpus = layout->vcpus;
    stamp->host = g_strdup(layout->host_fingerprint);
    stamp->pins_digest = layout->pins ? vnuma_pinset_digest(layout->pins) : NULL;
    stamp->wrote_topology = layout->write_topology;
    stamp->topology = layout->topology;
    for (guint i = 0; i < layout->clients->len; i++) {
        const VnumaClient *client = layout->clients->pdata[i];
        VnumaStampClient entry = {
            .vcpus = vnuma_cpuset_copy(client->vcpus),
            .home_node = (guint) MAX(client->home_node, 0),
            .memory_kib = client->memory_kib,
        };

        g_array_append_val(stamp->clients, entry);
    }
    for (guint i = 0; layout->exposed && !layout->owner_cells && i < layout->cells->len; i++) {
        const VnumaCell *cell = layout->cells->pdata[i];

        g_ptr_array_add(stamp->cells, vnuma_cell_new(vnuma_cpuset_copy(cell->vcpus), cell->memory_kib));
    }
    return stamp;
}

VNUMA_ENUM_IMPL(vnuma_sized_by, VnumaSizedBy, VNUMA_SIZED_BY_LAST,
                "client-limit", "coresPerSocket", "owner-cells", "record", "owner-topology");
