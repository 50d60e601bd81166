/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "probe/vnuma-sysfs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/vnuma-error.h"
#include "probe/vnuma-sysfs-cache.h"

/* Everything here mirrors what libvirt reads to build the capabilities
 * <topology>, so that the hook, which cannot ask libvirt, sees the same
 * host the agent sees. */

static char *
sysfs_read(const char *path, GError **error)
{
    return vnuma_sysfs_read_attribute(path, NULL, error);
}

static gboolean
sysfs_parse_uint(const char *path, char *text, guint64 max, guint64 *value, GError **error)
{
    g_strstrip(text);
    if (!g_ascii_string_to_unsigned(text, 10, 0, max, value, NULL)) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID,
                    "%s: '%s' is not a number in 0-%" G_GUINT64_FORMAT, path, text, max);
        return FALSE;
    }
    return TRUE;
}

static gboolean
sysfs_read_uint(const char *path, guint64 max, guint64 *value, GError **error)
{
    g_autofree char *text = sysfs_read(path, error);

    return text && sysfs_parse_uint(path, text, max, value, error);
}

/* Topology ids are printed signed: some platforms write -1 for "not
 * known"; with nothing to tell packages or cores apart, that is id 0. */
static gboolean
sysfs_parse_topology_id(const char *path, char *text, guint *value, GError **error)
{
    gint64 parsed;

    g_strstrip(text);
    if (!g_ascii_string_to_signed(text, 10, -1, G_MAXUINT, &parsed, NULL)) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID,
                    "%s: '%s' is not a topology id", path, text);
        return FALSE;
    }
    *value = parsed < 0 ? 0 : (guint) parsed;
    return TRUE;
}

static gboolean
sysfs_read_topology_id(const char *path, guint *value, GError **error)
{
    g_autofree char *text = sysfs_read(path, error);

    return text && sysfs_parse_topology_id(path, text, value, error);
}

/* An id list such as nodeN/cpulist; empty (a memory-only node) is an
 * empty set, not an error. */
static VnumaCpuSet *
sysfs_parse_list(const char *path, char *text, GError **error)
{
    VnumaCpuSet *set;

    g_strstrip(text);
    if (!*text)
        return vnuma_cpuset_new();
    set = vnuma_cpuset_parse(text, error);
    if (!set)
        g_prefix_error(error, "%s: ", path);
    return set;
}

static VnumaCpuSet *
sysfs_read_list(const char *path, GError **error)
{
    g_autofree char *text = sysfs_read(path, error);

    return text ? sysfs_parse_list(path, text, error) : NULL;
}

/* "@prefix<number>@suffix" → number (at most @max); FALSE for anything
 * else, so that "cpulist" never passes for a CPU. */
static gboolean
sysfs_name_number(const char *name, const char *prefix, const char *suffix, guint64 max,
                  guint64 *number)
{
    g_autofree char *digits = NULL;
    gsize len;

    if (!g_str_has_prefix(name, prefix) || !g_str_has_suffix(name, suffix))
        return FALSE;
    len = strlen(name) - strlen(prefix);
    if (len <= strlen(suffix))
        return FALSE;
    digits = g_strndup(name + strlen(prefix), len - strlen(suffix));
    return g_ascii_string_to_unsigned(digits, 10, 0, max, number, NULL);
}

/* Ids of the entries "<prefix>N" in @dir (nodeN, cpuN). */
static VnumaCpuSet *
sysfs_list_dir(const char *dir, const char *prefix, GError **error)
{
    g_autoptr(GError) local = NULL;
    g_autoptr(GDir) handle = g_dir_open(dir, 0, &local);
    g_autoptr(VnumaCpuSet) ids = vnuma_cpuset_new();
    const char *name;

    if (!handle) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_IO, "%s", local->message);
        return NULL;
    }
    while ((name = g_dir_read_name(handle))) {
        guint64 id;

        if (sysfs_name_number(name, prefix, "", VNUMA_CPUSET_MAX_ID, &id))
            vnuma_cpuset_add(ids, (guint) id);
    }
    return g_steal_pointer(&ids);
}

static VnumaCpuSet *
sysfs_online_nodes(const char *node_dir, GError **error)
{
    g_autofree char *path = g_build_filename(node_dir, "online", NULL);

    /* Kernels without the file still have one directory per node. */
    if (!g_file_test(path, G_FILE_TEST_EXISTS))
        return sysfs_list_dir(node_dir, "node", error);
    return sysfs_read_list(path, error);
}

/* "Node 0 MemTotal:  4417312 kB" → 4417312. */
static gboolean
sysfs_meminfo_field(const char *path, const char *meminfo, guint node_id, const char *field,
                    guint64 *kib, GError **error)
{
    g_autofree char *label = g_strdup_printf("Node %u %s:", node_id, field);
    g_auto(GStrv) lines = g_strsplit(meminfo, "\n", -1);

    for (guint i = 0; lines[i]; i++) {
        const char *value = lines[i];
        char *end = NULL;

        if (!g_str_has_prefix(value, label))
            continue;
        value += strlen(label);
        *kib = g_ascii_strtoull(value, &end, 10);
        while (end != value && *end == ' ')
            end++;
        if (end == value || !g_str_has_prefix(end, "kB")) {
            g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID,
                        "%s: cannot parse the line '%s'", path, lines[i]);
            return FALSE;
        }
        return TRUE;
    }
    g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID,
                "%s has no '%s' line", path, label);
    return FALSE;
}

/* One pool of a node (@dir: its hugepages directory): @size_kib pages.
 * A node without the pool (a memory-less node has no hugepages
 * directory) has none. */
static gboolean
sysfs_read_pool(const char *dir, guint64 size_kib, VnumaHostNode *node, guint64 *reserved_kib,
                GError **error)
{
    g_autofree char *name = g_strdup_printf("hugepages-%" G_GUINT64_FORMAT "kB", size_kib);
    g_autofree char *nr_path = g_build_filename(dir, name, "nr_hugepages", NULL);
    g_autofree char *free_path = g_build_filename(dir, name, "free_hugepages", NULL);
    g_autofree char *nr_text = NULL;
    gboolean absent = FALSE;
    guint64 total, free_count;

    nr_text = vnuma_sysfs_read_attribute(nr_path, &absent, error);
    if (!nr_text)
        return absent;
    if (!sysfs_parse_uint(nr_path, nr_text, G_MAXUINT64 / size_kib, &total, error) ||
        !sysfs_read_uint(free_path, G_MAXINT64, &free_count, error))
        return FALSE;
    vnuma_host_node_add_pages(node, size_kib, total, (gint64) free_count);
    *reserved_kib += total * size_kib;
    return TRUE;
}

static gint
compare_guint64(gconstpointer a, gconstpointer b)
{
    guint64 x = *(const guint64 *) a, y = *(const guint64 *) b;

    return (x > y) - (x < y);
}

/* The huge page sizes in KiB, from the directories "hugepages-<N>kB" in
 * @dir, ascending; NULL with @error when @dir cannot be listed. */
static GArray *
sysfs_list_page_sizes(const char *dir, GError **error)
{
    g_autoptr(GError) local = NULL;
    g_autoptr(GDir) handle = g_dir_open(dir, 0, &local);
    GArray *sizes;
    const char *name;

    if (!handle) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_IO, "%s", local->message);
        return NULL;
    }
    sizes = g_array_new(FALSE, FALSE, sizeof(guint64));
    while ((name = g_dir_read_name(handle))) {
        guint64 size_kib;

        if (sysfs_name_number(name, "hugepages-", "kB", G_MAXUINT, &size_kib) && size_kib)
            g_array_append_val(sizes, size_kib);
    }
    g_array_sort(sizes, compare_guint64);
    return sizes;
}

/* The kernel's huge page sizes (kernel/mm/hugepages), listed once for
 * every node: each node has a pool of each size. NULL when the directory
 * is not there (no hugetlbfs, or a tree without it): then each node's own
 * directory is listed. */
static GArray *
sysfs_host_page_sizes(const char *root)
{
    g_autofree char *dir = g_build_filename(root, "kernel", "mm", "hugepages", NULL);

    return sysfs_list_page_sizes(dir, NULL);
}

/* Huge page pools of one node, of @sizes (NULL: those its directory
 * lists); returns the KiB they hold in *reserved_kib, which the kernel
 * still counts in MemTotal. */
static gboolean
sysfs_read_hugepages(const char *node_path, const GArray *sizes, VnumaHostNode *node,
                     guint64 *reserved_kib, GError **error)
{
    g_autofree char *dir = g_build_filename(node_path, "hugepages", NULL);
    g_autoptr(GArray) listed = NULL;

    *reserved_kib = 0;
    if (!sizes) {
        /* No hugetlbfs support in the kernel: no pools, not an error. */
        if (!g_file_test(dir, G_FILE_TEST_IS_DIR))
            return TRUE;
        listed = sysfs_list_page_sizes(dir, error);
        if (!listed)
            return FALSE;
        sizes = listed;
    }
    for (guint i = 0; i < sizes->len; i++) {
        if (!sysfs_read_pool(dir, g_array_index(sizes, guint64, i), node, reserved_kib, error))
            return FALSE;
    }
    return TRUE;
}

/* One distance per online node, in ascending node id order. */
static gboolean
sysfs_read_distances(const char *node_path, const VnumaCpuSet *nodes, VnumaHostNode *node,
                     GError **error)
{
    g_autofree char *path = g_build_filename(node_path, "distance", NULL);
    g_autofree char *text = sysfs_read(path, error);
    g_auto(GStrv) words = NULL;
    guint count;
    guint i = 0;

    if (!text)
        return FALSE;
    words = g_strsplit_set(g_strstrip(text), " \t\n", -1);
    count = 0;
    for (guint w = 0; words[w]; w++)
        count += *words[w] != '\0';
    if (count != vnuma_cpuset_count(nodes)) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID,
                    "%s lists %u distances for %u online nodes",
                    path, count, vnuma_cpuset_count(nodes));
        return FALSE;
    }
    VNUMA_CPUSET_FOREACH(nodes, to) {
        guint64 value;

        while (*words[i] == '\0')
            i++;
        if (!g_ascii_string_to_unsigned(words[i], 10, 0, G_MAXUINT, &value, NULL)) {
            g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID,
                        "%s: '%s' is not a distance", path, words[i]);
            return FALSE;
        }
        vnuma_host_node_add_distance(node, (guint) to, (guint) value);
        i++;
    }
    return TRUE;
}

static gboolean
sysfs_read_cpu_live(const char *cpu_root, guint id, VnumaHostNode *node, GError **error)
{
    /* g_strconcat, not g_build_filename: @cpu_root is already a clean
     * path, and this runs for every CPU at every hook call. */
    g_autofree char *dir = g_strdup_printf("%s/cpu%u", cpu_root, id);
    g_autofree char *online_path = g_strconcat(dir, "/online", NULL);
    g_autofree char *socket_path = g_strconcat(dir, "/topology/physical_package_id", NULL);
    g_autofree char *die_path = g_strconcat(dir, "/topology/die_id", NULL);
    g_autofree char *core_path = g_strconcat(dir, "/topology/core_id", NULL);
    g_autofree char *siblings_path = g_strconcat(dir, "/topology/thread_siblings_list", NULL);
    g_autoptr(VnumaCpuSet) siblings = NULL;
    guint socket_id, die_id = 0, core_id;

    g_autofree char *online_text = NULL;
    g_autofree char *die_text = NULL;
    gboolean absent;

    /* CPUs that cannot be taken offline (often cpu0) have no 'online'. */
    online_text = vnuma_sysfs_read_attribute(online_path, &absent, error);
    if (!online_text && !absent)
        return FALSE;
    if (online_text) {
        guint64 online;

        if (!sysfs_parse_uint(online_path, online_text, 1, &online, error))
            return FALSE;
        if (!online) {
            vnuma_host_node_add_cpu(node, id, FALSE, 0, 0, 0, NULL);
            return TRUE;
        }
    }
    if (!sysfs_read_topology_id(socket_path, &socket_id, error))
        return FALSE;
    /* die_id appeared in Linux 5.2; before that a socket was one die. */
    die_text = vnuma_sysfs_read_attribute(die_path, &absent, error);
    if (!die_text && !absent)
        return FALSE;
    if (die_text && !sysfs_parse_topology_id(die_path, die_text, &die_id, error))
        return FALSE;
    if (!sysfs_read_topology_id(core_path, &core_id, error))
        return FALSE;
    siblings = sysfs_read_list(siblings_path, error);
    if (!siblings)
        return FALSE;
    if (vnuma_cpuset_is_empty(siblings))
        vnuma_cpuset_add(siblings, id);
    vnuma_host_node_add_cpu(node, id, TRUE, socket_id, die_id, core_id,
                            g_steal_pointer(&siblings));
    return TRUE;
}

/* --- The topology cache -------------------------------------------------
 * Package, die, core and thread siblings of every CPU are most of what a
 * read costs: five attributes per CPU at every hook call. A read from the
 * cache (vnuma-sysfs-cache.c, which says when it may serve) takes them
 * from there for every CPU whose topology directory is still the one the
 * cache saw; the rest of the host is always read live. */

/* How one read goes: from the cache (@cached, checked CPU by CPU), or
 * live, recording what it reads for the next cache (@fresh). */
typedef struct {
    GHashTable *cached;  /* CPU id -> VnumaSysfsCachedCpu *; NULL: read live */
    const char *cached_fingerprint;  /* with the cache: the host's, for ... */
    const char *cached_shape;        /* ... this shape (sysfs_host_shape) */
    gboolean trusted;    /* no uevent since it was written: no inode to check */
    guint cached_used;
    gboolean stale;      /* a CPU did not match: the cache must not serve */
    GString *fresh;      /* cache lines of the CPUs read live or checked; NULL: none */
} SysfsReadMode;

/* What the fingerprint covers beyond the CPUs' cached facts, all read
 * live: "ID:DISTANCES:ONLINE-CPUS;" per node, in reading order (ascending
 * ids). Equal shapes and the cache's CPUs give the cached fingerprint. */
static char *
sysfs_host_shape(const VnumaHost *host)
{
    GString *out = g_string_new(NULL);

    for (guint i = 0; i < host->nodes->len; i++) {
        const VnumaHostNode *node = host->nodes->pdata[i];
        g_autoptr(VnumaCpuSet) online = vnuma_cpuset_new();

        vnuma_string_append_uint(out, node->id);
        for (guint d = 0; d < node->distances->len; d++) {
            const VnumaDistance *dist = &g_array_index(node->distances, VnumaDistance, d);

            g_string_append_c(out, d ? ',' : ':');
            vnuma_string_append_uint(out, dist->node_id);
            g_string_append_c(out, '=');
            vnuma_string_append_uint(out, dist->value);
        }
        for (guint c = 0; c < node->cpus->len; c++) {
            const VnumaHostCpu *cpu = &g_array_index(node->cpus, VnumaHostCpu, c);

            if (cpu->online)
                vnuma_cpuset_add(online, cpu->id);
        }
        g_string_append_c(out, ':');
        vnuma_cpuset_append(out, online);
        g_string_append_c(out, ';');
    }
    return g_string_free(out, FALSE);
}

/* Whether the cache served the whole read: every online CPU matched it,
 * and every cached CPU is still online (a sibling gone offline changes
 * the others' sibling lists). */
static gboolean
sysfs_cache_served_all(const SysfsReadMode *mode)
{
    return mode->cached && !mode->stale && mode->cached_used == g_hash_table_size(mode->cached);
}

/* The fingerprint is the cache's when the cache served every CPU and the
 * rest of the shape is the one it was computed for; else computed. */
static gboolean
sysfs_finish_host(VnumaHost *host, const SysfsReadMode *mode, GError **error)
{
    if (sysfs_cache_served_all(mode) && mode->cached_fingerprint) {
        g_autofree char *shape = sysfs_host_shape(host);

        if (g_str_equal(shape, mode->cached_shape))
            return vnuma_host_finish_known(host, mode->cached_fingerprint, error);
    }
    return vnuma_host_finish(host, error);
}

/* The inode of cpu@id/topology. The path is put together by hand (it is
 * built for every CPU at every cached read, and printf would cost more
 * than the stat). */
static gboolean
sysfs_topology_ino(const char *cpu_root, guint id, guint64 *ino)
{
    char path[PATH_MAX];
    char digits[16];
    gsize root_len = strlen(cpu_root);
    gsize n = 0;
    struct stat st;

    do {
        digits[n++] = (char) ('0' + id % 10);
        id /= 10;
    } while (id);
    if (root_len + strlen("/cpu") + n + strlen("/topology") + 1 > sizeof(path))
        return FALSE;
    memcpy(path, cpu_root, root_len);
    memcpy(path + root_len, "/cpu", 4);
    root_len += 4;
    while (n)
        path[root_len++] = digits[--n];
    memcpy(path + root_len, "/topology", sizeof("/topology"));
    if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
        return FALSE;
    *ino = (guint64) st.st_ino;
    return TRUE;
}

/* A CPU from the cache, if its topology directory is still the one the
 * cache saw (or no uevent says it could have changed); FALSE (and the
 * read marked stale) otherwise. */
static gboolean
sysfs_cpu_from_cache(SysfsReadMode *mode, const char *cpu_root, guint id, VnumaHostNode *node)
{
    const VnumaSysfsCachedCpu *cpu = g_hash_table_lookup(mode->cached, GUINT_TO_POINTER(id));
    guint64 ino;

    if (!cpu || (!mode->trusted && (!sysfs_topology_ino(cpu_root, id, &ino) || ino != cpu->topology_ino))) {
        mode->stale = TRUE;
        return FALSE;
    }
    vnuma_host_node_add_cpu(node, id, TRUE, cpu->socket_id, cpu->die_id, cpu->core_id,
                            vnuma_cpuset_copy(cpu->siblings));
    if (mode->fresh)
        vnuma_sysfs_cache_append_cpu(mode->fresh, cpu->topology_ino,
                                     &g_array_index(node->cpus, VnumaHostCpu, node->cpus->len - 1));
    mode->cached_used++;
    return TRUE;
}

/* One CPU of @node; @listed: in the node's cpulist, i.e. online. */
static gboolean
sysfs_read_cpu(SysfsReadMode *mode, const char *cpu_root, guint id, gboolean listed,
               VnumaHostNode *node, GError **error)
{
    guint64 ino = 0;
    gboolean have_ino;
    const VnumaHostCpu *cpu;

    if (mode->cached) {
        if (!listed) {
            vnuma_host_node_add_cpu(node, id, FALSE, 0, 0, 0, NULL);
            return TRUE;
        }
        if (sysfs_cpu_from_cache(mode, cpu_root, id, node))
            return TRUE;
    }
    /* The inode before the attributes: had the CPU gone and come back in
     * between, the next read sees another inode and reads it again. */
    have_ino = mode->fresh && sysfs_topology_ino(cpu_root, id, &ino);
    if (!sysfs_read_cpu_live(cpu_root, id, node, error))
        return FALSE;
    cpu = &g_array_index(node->cpus, VnumaHostCpu, node->cpus->len - 1);
    if (have_ino && cpu->online) {
        vnuma_sysfs_cache_append_cpu(mode->fresh, ino, cpu);
    }
    return TRUE;
}

/* nodeN/cpulist of an online node. */
static VnumaCpuSet *
sysfs_read_node_cpulist(const char *node_dir, guint id, GError **error)
{
    g_autofree char *node_path = g_strdup_printf("%s/node%u", node_dir, id);
    g_autofree char *path = g_build_filename(node_path, "cpulist", NULL);
    g_autoptr(GError) local = NULL;
    g_autofree char *text = vnuma_sysfs_read_attribute(path, NULL, &local);

    if (text)
        return sysfs_parse_list(path, text, error);
    /* Named for what is missing: the node's directory, not just its file. */
    if (g_error_matches(local, VNUMA_ERROR, VNUMA_ERROR_NOT_FOUND) &&
        !g_file_test(node_path, G_FILE_TEST_IS_DIR))
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_NOT_FOUND,
                    "%s does not exist, yet node %u is online", node_path, id);
    else
        g_propagate_error(error, g_steal_pointer(&local));
    return NULL;
}

/* Whether some CPU is present (devices/system/cpu/present) but in no
 * node's cpulist (@listed, one set per node, read before): an offline
 * CPU, which only its node directory's cpuN link names. The links are
 * the present CPUs' (the kernel registers a CPU device, and links it
 * under its node, for each present CPU), so when every present CPU is
 * listed, the links add nothing and the node directories, which also
 * hold a memoryN link per memory block (thousands on a large host), need
 * not be listed. TRUE when the file cannot be read: list them. */
static gboolean
sysfs_offline_cpus_present(const char *root, const GPtrArray *listed)
{
    g_autofree char *path = g_build_filename(root, "devices", "system", "cpu", "present", NULL);
    g_autoptr(VnumaCpuSet) present = sysfs_read_list(path, NULL);
    g_autoptr(VnumaCpuSet) online = vnuma_cpuset_new();

    if (!present)
        return TRUE;
    for (guint i = 0; i < listed->len; i++)
        vnuma_cpuset_union(online, listed->pdata[i]);
    return !vnuma_cpuset_is_subset(present, online);
}

/* Node @id; @listed: its cpulist, read before; @offline_present: some
 * present CPU is offline (sysfs_offline_cpus_present); @page_sizes: the
 * host's huge page sizes, or NULL (sysfs_host_page_sizes). */
static gboolean
sysfs_read_node(const char *root, const char *node_dir, guint id, const VnumaCpuSet *nodes,
                const VnumaCpuSet *listed, gboolean offline_present, const GArray *page_sizes,
                guint64 page_kib, SysfsReadMode *mode, VnumaHost *host, GError **error)
{
    g_autofree char *node_path = g_strdup_printf("%s/node%u", node_dir, id);
    g_autofree char *meminfo_path = g_build_filename(node_path, "meminfo", NULL);
    g_autofree char *cpu_root = g_build_filename(root, "devices", "system", "cpu", NULL);
    g_autofree char *meminfo = NULL;
    g_autoptr(VnumaCpuSet) cpus = vnuma_cpuset_copy(listed);
    guint64 total_kib, free_kib, reserved_kib;
    VnumaHostNode *node;

    meminfo = sysfs_read(meminfo_path, error);
    if (!meminfo ||
        !sysfs_meminfo_field(meminfo_path, meminfo, id, "MemTotal", &total_kib, error) ||
        !sysfs_meminfo_field(meminfo_path, meminfo, id, "MemFree", &free_kib, error))
        return FALSE;
    node = vnuma_host_add_node(host, id, total_kib);

    if (!sysfs_read_hugepages(node_path, page_sizes, node, &reserved_kib, error))
        return FALSE;
    /* Huge pages are carved out of MemTotal; what is left is the base
     * page pool (libvirt computes its <pages size='4'> the same way). */
    vnuma_host_node_add_pages(node, page_kib,
                              (total_kib > reserved_kib ? total_kib - reserved_kib : 0) / page_kib,
                              (gint64) (free_kib / page_kib));

    if (!sysfs_read_distances(node_path, nodes, node, error))
        return FALSE;

    /* cpulist holds online CPUs only; the cpuN links also name the
     * offline ones, which libvirt lists in their cell too. */
    if (offline_present) {
        g_autoptr(VnumaCpuSet) linked = sysfs_list_dir(node_path, "cpu", error);

        if (!linked)
            return FALSE;
        vnuma_cpuset_union(cpus, linked);
    }
    VNUMA_CPUSET_FOREACH(cpus, cpu) {
        if (!sysfs_read_cpu(mode, cpu_root, (guint) cpu, vnuma_cpuset_contains(listed, (guint) cpu),
                            node, error))
            return FALSE;
    }
    return TRUE;
}

static VnumaHost *
sysfs_read_host(const char *root, SysfsReadMode *mode, GError **error)
{
    g_autofree char *node_dir = g_build_filename(root, "devices", "system", "node", NULL);
    g_autoptr(VnumaCpuSet) nodes = NULL;
    g_autoptr(GPtrArray) listed = NULL;
    gboolean offline_present;
    g_autoptr(GArray) page_sizes = NULL;
    guint index = 0;
    g_autoptr(VnumaHost) host = NULL;
    long page_size = sysconf(_SC_PAGESIZE);
    guint64 page_kib = page_size >= 1024 ? (guint64) page_size / 1024 : 4;

    if (!g_file_test(node_dir, G_FILE_TEST_IS_DIR)) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_NOT_FOUND,
                    "%s does not exist: the kernel reports no NUMA topology there", node_dir);
        return NULL;
    }
    nodes = sysfs_online_nodes(node_dir, error);
    if (!nodes)
        return NULL;
    /* Every node's cpulist first: a node that is online but has no
     * directory is named as such, not as another node's distance list
     * being one short. And before `present`: a CPU that goes offline in
     * between is still listed, one that was offline is not (and is then
     * looked for in the node directories). */
    listed = g_ptr_array_new_with_free_func((GDestroyNotify) vnuma_cpuset_free);
    VNUMA_CPUSET_FOREACH(nodes, id) {
        VnumaCpuSet *cpus = sysfs_read_node_cpulist(node_dir, (guint) id, error);

        if (!cpus)
            return NULL;
        g_ptr_array_add(listed, cpus);
    }
    offline_present = sysfs_offline_cpus_present(root, listed);
    page_sizes = sysfs_host_page_sizes(root);
    host = vnuma_host_new();
    VNUMA_CPUSET_FOREACH(nodes, id) {
        if (!sysfs_read_node(root, node_dir, (guint) id, nodes, listed->pdata[index++],
                             offline_present, page_sizes, page_kib, mode, host, error))
            return NULL;
    }
    if (!sysfs_finish_host(host, mode, error)) {
        g_prefix_error(error, "%s: ", node_dir);
        return NULL;
    }
    return g_steal_pointer(&host);
}

VnumaHost *
vnuma_host_from_sysfs(const char *root, GError **error)
{
    SysfsReadMode live = { 0 };

    return sysfs_read_host(root, &live, error);
}

VnumaHost *
vnuma_host_from_sysfs_cached(const char *root, const char *cache_path, GError **error)
{
    g_autofree char *boot_id = NULL;
    g_autofree char *uevents = NULL;
    g_autoptr(GHashTable) cached = NULL;
    g_autofree char *cached_uevents = NULL;
    g_autofree char *fingerprint = NULL;
    g_autofree char *shape = NULL;
    g_autoptr(GString) fresh = NULL;
    VnumaHost *host;

    if (!cache_path || !*cache_path)
        return vnuma_host_from_sysfs(root, error);
    boot_id = vnuma_sysfs_boot_id();
    /* Before any other read: a replug from here on shows in the next count. */
    uevents = vnuma_sysfs_uevent_count(root);
    cached = vnuma_sysfs_cache_load(cache_path, root, boot_id, &cached_uevents, &fingerprint, &shape);
    if (cached) {
        gboolean trusted = uevents && g_str_equal(uevents, cached_uevents);
        /* A new count: the CPUs checked after reading it make the cache again. */
        g_autoptr(GString) checked = trusted || !uevents ? NULL : g_string_new(NULL);
        SysfsReadMode from_cache = {
            .cached = cached, .cached_fingerprint = fingerprint, .cached_shape = shape,
            .trusted = trusted, .fresh = checked,
        };

        host = sysfs_read_host(root, &from_cache, NULL);
        if (host && sysfs_cache_served_all(&from_cache)) {
            if (checked) {
                g_autofree char *checked_shape = sysfs_host_shape(host);

                vnuma_sysfs_cache_save(cache_path, root, boot_id, uevents, host->fingerprint,
                                       checked_shape, checked);
            }
            return host;
        }
        g_clear_pointer(&host, vnuma_host_free);
    }
    fresh = g_string_new(NULL);
    {
        SysfsReadMode live = { .fresh = fresh };

        host = sysfs_read_host(root, &live, error);
    }
    if (host) {
        g_autofree char *live_shape = sysfs_host_shape(host);

        vnuma_sysfs_cache_save(cache_path, root, boot_id, uevents, host->fingerprint, live_shape, fresh);
    }
    return host;
}

void
vnuma_sysfs_location(const char **root, const char **cache_path)
{
    *root = g_getenv("VNUMA_SYSFS_ROOT");
    *cache_path = g_getenv("VNUMA_HOST_CACHE");
    if (!*root)
        *root = "/sys";
    /* A tree of one's own (tests, benchmarks) gets a cache only when asked:
     * the default path belongs to the real host. */
    if (!*cache_path && g_str_equal(*root, "/sys"))
        *cache_path = VNUMA_SYSFS_CACHE_PATH;
}
