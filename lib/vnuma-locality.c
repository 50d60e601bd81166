/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "lib/vnuma-locality.h"

#include "lib/vnuma-demand.h"

void
vnuma_memory_cells(const VnumaRequest *request, GPtrArray **cell_vcpus, GArray **cell_kib)
{
    *cell_vcpus = g_ptr_array_new_with_free_func((GDestroyNotify) vnuma_cpuset_free);
    *cell_kib = g_array_new(FALSE, FALSE, sizeof(guint64));
    for (guint i = 0; i < request->cells->len; i++) {
        const VnumaCell *cell = request->cells->pdata[i];

        g_ptr_array_add(*cell_vcpus, vnuma_cpuset_copy(cell->vcpus));
        g_array_append_val(*cell_kib, cell->memory_kib);
    }
    if (!request->cells->len) {
        g_ptr_array_add(*cell_vcpus, vnuma_cpuset_new_range(0, MAX(request->vcpus, 1) - 1));
        g_array_append_val(*cell_kib, request->memory_kib);
    }
}

gint
vnuma_memory_cell_owner(const VnumaCpuSet *cell_vcpus, const VnumaMemoryClient *clients, guint n_clients)
{
    for (guint c = 0; c < n_clients; c++) {
        if (vnuma_cpuset_is_subset(cell_vcpus, clients[c].vcpus))
            return (gint) c;
    }
    return -1;
}

static gint
cell_owner(const VnumaMemoryView *view, const VnumaMemoryClient *clients, guint n_clients, guint cell)
{
    return vnuma_memory_cell_owner(view->cell_vcpus->pdata[cell], clients, n_clients);
}

gboolean
vnuma_memory_by_cells(const VnumaMemoryView *view, const VnumaMemoryClient *clients, guint n_clients)
{
    if (!view->cell_memory || !view->cell_vcpus)
        return FALSE;
    for (guint i = 0; i < view->cell_memory->len; i++) {
        if (!view->cell_memory->pdata[i] || i >= view->cell_vcpus->len ||
            cell_owner(view, clients, n_clients, i) < 0)
            return FALSE;
    }
    return TRUE;
}

static void
add_kib(GArray *sum, const GArray *kib)
{
    if (sum->len < kib->len)
        g_array_set_size(sum, kib->len);
    for (guint n = 0; n < kib->len; n++)
        g_array_index(sum, guint64, n) += g_array_index(kib, guint64, n);
}

guint64 *
vnuma_client_memory_by_index(const VnumaHost *host, const VnumaMemoryView *view,
                             const VnumaMemoryClient *clients, guint n_clients, guint c)
{
    g_autoptr(GArray) share = NULL;
    guint64 *by_index;

    if (!view->memory)
        return NULL;
    if (vnuma_memory_by_cells(view, clients, n_clients)) {
        share = g_array_new(FALSE, TRUE, sizeof(guint64));
        for (guint i = 0; i < view->cell_memory->len; i++) {
            if (cell_owner(view, clients, n_clients, i) == (gint) c)
                add_kib(share, view->cell_memory->pdata[i]);
        }
    } else {
        guint64 total = 0;

        for (guint k = 0; k < n_clients; k++)
            total += clients[k].memory_kib;
        share = vnuma_client_memory(view->memory, clients[c].memory_kib, total);
    }
    by_index = g_new0(guint64, host->nodes->len);
    for (guint i = 0; i < host->nodes->len; i++) {
        guint id = ((const VnumaHostNode *) host->nodes->pdata[i])->id;

        if (id < share->len)
            by_index[i] = g_array_index(share, guint64, id);
    }
    return by_index;
}

double
vnuma_memory_locality(const VnumaHost *host, const VnumaMemoryView *view,
                      const VnumaMemoryClient *clients, guint n_clients)
{
    guint64 total = 0, local = 0;

    if (!view->memory)
        return -1;
    for (guint c = 0; c < n_clients; c++) {
        g_autofree guint64 *mem = vnuma_client_memory_by_index(host, view, clients, n_clients, c);
        gint index = vnuma_host_node_index(host, vnuma_host_memory_node(host, clients[c].home_node));

        for (guint i = 0; i < host->nodes->len; i++)
            total += mem[i];
        if (index >= 0)
            local += mem[index];
    }
    return total ? MIN(1.0, (double) local / (double) total) : -1;
}
