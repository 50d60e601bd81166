/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "lib/vnuma-host.h"

#include "lib/vnuma-error.h"

#define LOCAL_DISTANCE 10u
#define REMOTE_DISTANCE 20u

static void
host_cpu_clear(gpointer data)
{
    VnumaHostCpu *cpu = data;

    vnuma_cpuset_free(cpu->siblings);
}

static void
host_node_free(gpointer data)
{
    VnumaHostNode *node = data;

    g_array_unref(node->cpus);
    g_array_unref(node->pages);
    g_array_unref(node->distances);
    g_free(node);
}

VnumaHost *
vnuma_host_new(void)
{
    VnumaHost *host = g_new0(VnumaHost, 1);

    host->nodes = g_ptr_array_new_with_free_func(host_node_free);
    return host;
}

void
vnuma_host_free(VnumaHost *host)
{
    if (!host)
        return;
    g_ptr_array_unref(host->nodes);
    g_free(host->fingerprint);
    g_free(host);
}

VnumaHostNode *
vnuma_host_add_node(VnumaHost *host, guint id, guint64 memory_kib)
{
    VnumaHostNode *node = g_new0(VnumaHostNode, 1);

    node->id = id;
    node->memory_kib = memory_kib;
    node->cpus = g_array_new(FALSE, TRUE, sizeof(VnumaHostCpu));
    g_array_set_clear_func(node->cpus, host_cpu_clear);
    node->pages = g_array_new(FALSE, TRUE, sizeof(VnumaPagePool));
    node->distances = g_array_new(FALSE, TRUE, sizeof(VnumaDistance));
    g_ptr_array_add(host->nodes, node);
    return node;
}

void
vnuma_host_node_add_cpu(VnumaHostNode *node, guint id, gboolean online,
                        guint socket_id, guint die_id, guint core_id,
                        VnumaCpuSet *siblings)
{
    VnumaHostCpu cpu = {
        .id = id, .online = online, .socket_id = socket_id,
        .die_id = die_id, .core_id = core_id, .siblings = siblings,
    };

    if (!online) {
        cpu.socket_id = cpu.die_id = cpu.core_id = 0;
        g_clear_pointer(&cpu.siblings, vnuma_cpuset_free);
    }
    g_array_append_val(node->cpus, cpu);
}

void
vnuma_host_node_add_pages(VnumaHostNode *node, guint64 size_kib, guint64 total, gint64 free)
{
    VnumaPagePool pool = { .size_kib = size_kib, .total = total, .free = free };

    g_array_append_val(node->pages, pool);
}

void
vnuma_host_node_add_distance(VnumaHostNode *node, guint node_id, guint value)
{
    VnumaDistance distance = { .node_id = node_id, .value = value };

    g_array_append_val(node->distances, distance);
}

static gint
compare_node(gconstpointer a, gconstpointer b)
{
    const VnumaHostNode *x = *(VnumaHostNode * const *) a;
    const VnumaHostNode *y = *(VnumaHostNode * const *) b;

    return (x->id > y->id) - (x->id < y->id);
}

/* All three element types start with a guint key. */
static gint
compare_leading_uint(gconstpointer a, gconstpointer b)
{
    guint x = *(const guint *) a;
    guint y = *(const guint *) b;

    return (x > y) - (x < y);
}

static gint
compare_pages(gconstpointer a, gconstpointer b)
{
    const VnumaPagePool *x = a;
    const VnumaPagePool *y = b;

    return (x->size_kib > y->size_kib) - (x->size_kib < y->size_kib);
}

static gboolean
host_sort_and_check(VnumaHost *host, GError **error)
{
    g_autoptr(VnumaCpuSet) seen_cpus = vnuma_cpuset_new();

    if (host->nodes->len == 0) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID, "host topology has no NUMA cells");
        return FALSE;
    }
    g_ptr_array_sort(host->nodes, compare_node);
    for (guint i = 0; i < host->nodes->len; i++) {
        VnumaHostNode *node = host->nodes->pdata[i];

        if (i > 0 && ((VnumaHostNode *) host->nodes->pdata[i - 1])->id == node->id) {
            g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID,
                        "host topology lists NUMA cell %u twice", node->id);
            return FALSE;
        }
        g_array_sort(node->cpus, compare_leading_uint);
        g_array_sort(node->pages, compare_pages);
        g_array_sort(node->distances, compare_leading_uint);
        for (guint c = 0; c < node->cpus->len; c++) {
            guint id = g_array_index(node->cpus, VnumaHostCpu, c).id;

            if (vnuma_cpuset_contains(seen_cpus, id)) {
                g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID,
                            "host topology lists CPU %u in more than one place", id);
                return FALSE;
            }
            vnuma_cpuset_add(seen_cpus, id);
        }
    }
    return TRUE;
}

gboolean
vnuma_host_finish(VnumaHost *host, GError **error)
{
    if (!host_sort_and_check(host, error))
        return FALSE;
    g_clear_pointer(&host->fingerprint, g_free);
    host->fingerprint = vnuma_host_fingerprint(host);
    return TRUE;
}

gboolean
vnuma_host_finish_known(VnumaHost *host, const char *fingerprint, GError **error)
{
    if (!host_sort_and_check(host, error))
        return FALSE;
    g_free(host->fingerprint);
    host->fingerprint = g_strdup(fingerprint);
    return TRUE;
}

const VnumaHostNode *
vnuma_host_find_node(const VnumaHost *host, guint id)
{
    for (guint i = 0; i < host->nodes->len; i++) {
        const VnumaHostNode *node = host->nodes->pdata[i];

        if (node->id == id)
            return node;
    }
    return NULL;
}

guint
vnuma_host_distance(const VnumaHost *host, guint from, guint to)
{
    const VnumaHostNode *node = vnuma_host_find_node(host, from);

    if (node) {
        for (guint i = 0; i < node->distances->len; i++) {
            const VnumaDistance *d = &g_array_index(node->distances, VnumaDistance, i);

            if (d->node_id == to)
                return d->value;
        }
    }
    return from == to ? LOCAL_DISTANCE : REMOTE_DISTANCE;
}

guint64
vnuma_host_distance_sum(const VnumaHost *host, guint from, const VnumaCpuSet *to)
{
    guint64 sum = 0;

    VNUMA_CPUSET_FOREACH(to, id)
        sum += vnuma_host_distance(host, from, (guint) id);
    return sum;
}

VnumaCpuSet *
vnuma_host_node_cpus(const VnumaHostNode *node)
{
    VnumaCpuSet *set = vnuma_cpuset_new();

    for (guint i = 0; i < node->cpus->len; i++) {
        const VnumaHostCpu *cpu = &g_array_index(node->cpus, VnumaHostCpu, i);

        if (cpu->online)
            vnuma_cpuset_add(set, cpu->id);
    }
    return set;
}

typedef struct {
    guint socket_id;
    guint die_id;
    guint core_id;
} HostCoreKey;

static gint
compare_core_key(gconstpointer a, gconstpointer b)
{
    const HostCoreKey *x = a;
    const HostCoreKey *y = b;

    if (x->socket_id != y->socket_id)
        return x->socket_id < y->socket_id ? -1 : 1;
    if (x->die_id != y->die_id)
        return x->die_id < y->die_id ? -1 : 1;
    return (x->core_id > y->core_id) - (x->core_id < y->core_id);
}

guint
vnuma_host_node_cores(const VnumaHostNode *node, const VnumaCpuSet *usable)
{
    /* Whole triples, not one packed integer: sysfs ids are 32-bit and
     * need not be small (arm64 may report ACPI table offsets), so any
     * packing into 64 bits can make two cores collide. */
    g_autoptr(GArray) keys = g_array_sized_new(FALSE, FALSE, sizeof(HostCoreKey), node->cpus->len);
    guint cores = 0;

    for (guint i = 0; i < node->cpus->len; i++) {
        const VnumaHostCpu *cpu = &g_array_index(node->cpus, VnumaHostCpu, i);
        HostCoreKey key = { cpu->socket_id, cpu->die_id, cpu->core_id };

        if (!cpu->online || !vnuma_cpuset_contains(usable, cpu->id))
            continue;
        g_array_append_val(keys, key);
    }
    g_array_sort(keys, compare_core_key);
    for (guint i = 0; i < keys->len; i++) {
        if (i == 0 || compare_core_key(&g_array_index(keys, HostCoreKey, i - 1),
                                       &g_array_index(keys, HostCoreKey, i)) != 0)
            cores++;
    }
    return cores;
}

const VnumaPagePool *
vnuma_host_node_pages(const VnumaHostNode *node, guint64 size_kib)
{
    for (guint i = 0; i < node->pages->len; i++) {
        const VnumaPagePool *pool = &g_array_index(node->pages, VnumaPagePool, i);

        if (pool->size_kib == size_kib)
            return pool;
    }
    return NULL;
}

guint64
vnuma_host_default_hugepage_kib(const VnumaHost *host)
{
    guint64 best = 0;

    for (guint i = 0; i < host->nodes->len; i++) {
        const VnumaHostNode *node = host->nodes->pdata[i];

        for (guint p = 0; p < node->pages->len; p++) {
            guint64 size = g_array_index(node->pages, VnumaPagePool, p).size_kib;

            if (size > 4 && (best == 0 || size < best))
                best = size;
        }
    }
    return best ? best : 2048;
}

static char *
host_describe(const VnumaHost *host, gboolean with_memory)
{
    GString *out = g_string_new(NULL);

    for (guint i = 0; i < host->nodes->len; i++) {
        const VnumaHostNode *node = host->nodes->pdata[i];

        g_string_append_printf(out, "node %u", node->id);
        if (with_memory)
            g_string_append_printf(out, " memory_kib=%" G_GUINT64_FORMAT, node->memory_kib);
        g_string_append_c(out, '\n');
        for (guint p = 0; with_memory && p < node->pages->len; p++) {
            const VnumaPagePool *pool = &g_array_index(node->pages, VnumaPagePool, p);

            g_string_append_printf(out, "  pages size_kib=%" G_GUINT64_FORMAT " total=%" G_GUINT64_FORMAT "\n",
                                   pool->size_kib, pool->total);
        }
        for (guint d = 0; d < node->distances->len; d++) {
            const VnumaDistance *dist = &g_array_index(node->distances, VnumaDistance, d);

            g_string_append_printf(out, "  distance to=%u value=%u\n", dist->node_id, dist->value);
        }
        for (guint c = 0; c < node->cpus->len; c++) {
            const VnumaHostCpu *cpu = &g_array_index(node->cpus, VnumaHostCpu, c);

            /* libvirt on x86 leaves offline CPUs out of its capabilities
             * while sysfs still links them to their node: describe only
             * what both sources agree on. */
            if (!cpu->online)
                continue;
            /* "  cpu %u socket=%u die=%u core=%u siblings=%s\n", without
             * printf: every hook call fingerprints every CPU. */
            g_string_append(out, "  cpu ");
            vnuma_string_append_uint(out, cpu->id);
            g_string_append(out, " socket=");
            vnuma_string_append_uint(out, cpu->socket_id);
            g_string_append(out, " die=");
            vnuma_string_append_uint(out, cpu->die_id);
            g_string_append(out, " core=");
            vnuma_string_append_uint(out, cpu->core_id);
            g_string_append(out, " siblings=");
            if (cpu->siblings)
                vnuma_cpuset_append(out, cpu->siblings);
            g_string_append_c(out, '\n');
        }
    }
    return g_string_free(out, FALSE);
}

char *
vnuma_host_describe(const VnumaHost *host)
{
    return host_describe(host, TRUE);
}

char *
vnuma_host_fingerprint(const VnumaHost *host)
{
    /* Memory and huge page reservations change with configuration; the
     * fingerprint names the shape: nodes, CPUs and distances. */
    g_autofree char *text = NULL;
    g_autofree char *digest = NULL;

    if (host->fingerprint)
        return g_strdup(host->fingerprint);
    text = host_describe(host, FALSE);
    digest = g_compute_checksum_for_string(G_CHECKSUM_SHA256, text, -1);
    return g_strndup(digest, 16);
}

guint
vnuma_host_memory_node(const VnumaHost *host, guint node_id)
{
    const VnumaHostNode *home = vnuma_host_find_node(host, node_id);
    guint best = node_id, best_distance = G_MAXUINT;

    if (!home || home->memory_kib > 0)
        return node_id;
    for (guint i = 0; i < host->nodes->len; i++) {
        const VnumaHostNode *node = host->nodes->pdata[i];
        guint distance = vnuma_host_distance(host, node_id, node->id);

        /* Ascending ids: the first at the shortest distance wins. */
        if (node->memory_kib > 0 && distance < best_distance) {
            best = node->id;
            best_distance = distance;
        }
    }
    return best;
}

gint
vnuma_host_node_index(const VnumaHost *host, guint id)
{
    for (guint i = 0; i < host->nodes->len; i++) {
        if (((const VnumaHostNode *) host->nodes->pdata[i])->id == id)
            return (gint) i;
    }
    return -1;
}
