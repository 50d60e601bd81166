/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "tests/testutil.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "lib/vnuma-error.h"
#include "xml/vnuma-caps.h"
#include "probe/vnuma-sysfs.h"

/* Fake sysfs trees are written from a capabilities model the way the
 * kernel lays them out, read back, and compared with the model. */

static void
write_file(const char *root, const char *relative, const char *text)
{
    g_autofree char *path = g_build_filename(root, relative, NULL);
    g_autofree char *dir = g_path_get_dirname(path);
    g_autoptr(GError) error = NULL;

    if (g_mkdir_with_parents(dir, 0755) < 0 || !g_file_set_contents(path, text, -1, &error)) {
        print_error("cannot write %s: %s\n", path, error ? error->message : g_strerror(errno));
        fail();
    }
}

static void
write_link(const char *root, const char *relative, const char *target)
{
    g_autofree char *path = g_build_filename(root, relative, NULL);
    g_autofree char *dir = g_path_get_dirname(path);

    if (g_mkdir_with_parents(dir, 0755) < 0 || symlink(target, path) < 0) {
        print_error("cannot link %s: %s\n", path, g_strerror(errno));
        fail();
    }
}

static void
remove_tree(const char *path)
{
    g_autoptr(GDir) dir = NULL;
    const char *name;

    /* Never follow a link: the fake nodeN/cpuM links point back inside. */
    if (g_file_test(path, G_FILE_TEST_IS_SYMLINK) || !g_file_test(path, G_FILE_TEST_IS_DIR)) {
        g_unlink(path);
        return;
    }
    dir = g_dir_open(path, 0, NULL);
    while (dir && (name = g_dir_read_name(dir))) {
        g_autofree char *child = g_build_filename(path, name, NULL);

        remove_tree(child);
    }
    g_rmdir(path);
}

static char *
make_root(void)
{
    g_autoptr(GError) error = NULL;
    char *root = g_dir_make_tmp("vnuma-sysfs-XXXXXX", &error);

    if (!root) {
        print_error("%s\n", error->message);
        fail();
    }
    return root;
}

typedef enum {
    TREE_CURRENT = 0,
    /* No node/online (listing nodeN instead) and no die_id (Linux < 5.2). */
    TREE_OLD_KERNEL = 1,
} TreeStyle;

static void
write_node(const char *root, const VnumaHost *host, const VnumaHostNode *node)
{
    g_autofree char *dir = g_strdup_printf("devices/system/node/node%u", node->id);
    g_autofree char *meminfo = NULL;
    g_autoptr(VnumaCpuSet) online = vnuma_host_node_cpus(node);
    g_autofree char *cpulist = vnuma_cpuset_format(online);
    g_autoptr(GString) distance = g_string_new(NULL);
    g_autofree char *path = NULL;

    /* The kernel pads the values; the reader must not care. */
    meminfo = g_strdup_printf("Node %u MemTotal:       %" G_GUINT64_FORMAT " kB\n"
                              "Node %u MemFree:        %" G_GUINT64_FORMAT " kB\n"
                              "Node %u MemUsed:        %" G_GUINT64_FORMAT " kB\n"
                              "Node %u HugePages_Total:     0\n",
                              node->id, node->memory_kib, node->id, node->memory_kib / 2,
                              node->id, node->memory_kib - node->memory_kib / 2, node->id);
    path = g_build_filename(dir, "meminfo", NULL);
    write_file(root, path, meminfo);

    g_free(path);
    path = g_build_filename(dir, "cpulist", NULL);
    write_file(root, path, *cpulist ? cpulist : "");
    /* cpumap starts with "cpu" like the cpuN links do. */
    g_free(path);
    path = g_build_filename(dir, "cpumap", NULL);
    write_file(root, path, "00000000,000000ff\n");

    for (guint i = 0; i < host->nodes->len; i++) {
        const VnumaHostNode *other = host->nodes->pdata[i];

        g_string_append_printf(distance, "%s%u", i ? " " : "",
                               vnuma_host_distance(host, node->id, other->id));
    }
    g_string_append_c(distance, '\n');
    g_free(path);
    path = g_build_filename(dir, "distance", NULL);
    write_file(root, path, distance->str);

    for (guint p = 0; p < node->pages->len; p++) {
        const VnumaPagePool *pool = &g_array_index(node->pages, VnumaPagePool, p);
        g_autofree char *pool_dir = NULL;
        g_autofree char *count = NULL;
        g_autofree char *nr_path = NULL;
        g_autofree char *free_path = NULL;

        /* The base pool is not a sysfs pool: it is what MemTotal leaves. */
        if (pool->size_kib <= 4)
            continue;
        pool_dir = g_strdup_printf("%s/hugepages/hugepages-%" G_GUINT64_FORMAT "kB",
                                   dir, pool->size_kib);
        nr_path = g_build_filename(pool_dir, "nr_hugepages", NULL);
        free_path = g_build_filename(pool_dir, "free_hugepages", NULL);
        count = g_strdup_printf("%" G_GUINT64_FORMAT "\n", pool->total);
        write_file(root, nr_path, count);
        g_free(count);
        count = g_strdup_printf("%" G_GUINT64_FORMAT "\n", pool->total / 2);
        write_file(root, free_path, count);
    }
}

static void
write_cpu(const char *root, const VnumaHostNode *node, const VnumaHostCpu *cpu, TreeStyle style)
{
    g_autofree char *dir = g_strdup_printf("devices/system/cpu/cpu%u", cpu->id);
    g_autofree char *link = g_strdup_printf("devices/system/node/node%u/cpu%u", node->id, cpu->id);
    g_autofree char *target = g_strdup_printf("../../cpu/cpu%u", cpu->id);
    g_autofree char *back = g_strdup_printf("%s/node%u", dir, node->id);
    g_autofree char *back_target = g_strdup_printf("../../node/node%u", node->id);
    g_autofree char *path = NULL;
    g_autofree char *value = NULL;
    g_autofree char *siblings = NULL;

    write_link(root, link, target);
    write_link(root, back, back_target);
    /* The boot CPU usually cannot go offline and has no 'online' file. */
    if (cpu->id != 0 || !cpu->online) {
        path = g_build_filename(dir, "online", NULL);
        write_file(root, path, cpu->online ? "1\n" : "0\n");
    }
    /* An offline CPU loses its topology directory. */
    if (!cpu->online)
        return;

    g_free(path);
    path = g_build_filename(dir, "topology", "physical_package_id", NULL);
    value = g_strdup_printf("%u\n", cpu->socket_id);
    write_file(root, path, value);
    if (style != TREE_OLD_KERNEL) {
        g_free(path);
        g_free(value);
        path = g_build_filename(dir, "topology", "die_id", NULL);
        value = g_strdup_printf("%u\n", cpu->die_id);
        write_file(root, path, value);
    }
    g_free(path);
    g_free(value);
    path = g_build_filename(dir, "topology", "core_id", NULL);
    value = g_strdup_printf("%u\n", cpu->core_id);
    write_file(root, path, value);

    g_free(path);
    g_free(value);
    siblings = vnuma_cpuset_format(cpu->siblings);
    path = g_build_filename(dir, "topology", "thread_siblings_list", NULL);
    value = g_strdup_printf("%s\n", siblings);
    write_file(root, path, value);
}

/* kernel/mm/hugepages: one directory per huge page size of any node. */
static void
write_page_sizes(const char *root, const VnumaHost *host)
{
    for (guint i = 0; i < host->nodes->len; i++) {
        const VnumaHostNode *node = host->nodes->pdata[i];

        for (guint p = 0; p < node->pages->len; p++) {
            guint64 size_kib = g_array_index(node->pages, VnumaPagePool, p).size_kib;
            g_autofree char *path = NULL;

            if (size_kib <= 4)
                continue;
            path = g_strdup_printf("kernel/mm/hugepages/hugepages-%" G_GUINT64_FORMAT "kB/nr_hugepages",
                                   size_kib);
            write_file(root, path, "0\n");
        }
    }
}

static void
write_tree(const char *root, const VnumaHost *host, TreeStyle style)
{
    g_autoptr(VnumaCpuSet) ids = vnuma_cpuset_new();
    g_autoptr(VnumaCpuSet) present = vnuma_cpuset_new();
    g_autofree char *online = NULL;

    for (guint i = 0; i < host->nodes->len; i++) {
        const VnumaHostNode *node = host->nodes->pdata[i];

        vnuma_cpuset_add(ids, node->id);
        write_node(root, host, node);
        for (guint c = 0; c < node->cpus->len; c++) {
            const VnumaHostCpu *cpu = &g_array_index(node->cpus, VnumaHostCpu, c);

            write_cpu(root, node, cpu, style);
            vnuma_cpuset_add(present, cpu->id);
        }
    }
    online = vnuma_cpuset_format(ids);
    /* Old kernels have neither file: the reader lists every node's
     * directory for offline CPUs then. */
    if (style != TREE_OLD_KERNEL) {
        g_autofree char *line = g_strdup_printf("%s\n", online);
        g_autofree char *cpus = vnuma_cpuset_format(present);
        g_autofree char *cpus_line = g_strdup_printf("%s\n", cpus);

        write_file(root, "devices/system/node/online", line);
        write_file(root, "devices/system/cpu/present", cpus_line);
        write_page_sizes(root, host);
    }
    /* Neighbours that are not nodes or CPUs. */
    write_file(root, "devices/system/node/possible", "0-1023\n");
    write_file(root, "devices/system/cpu/online", "0\n");
    write_file(root, "devices/system/cpu/cpufreq/boost", "1\n");
}

static VnumaHost *
read_tree(const char *root)
{
    g_autoptr(GError) error = NULL;
    VnumaHost *host = vnuma_host_from_sysfs(root, &error);

    if (!host) {
        print_error("%s\n", error->message);
        fail();
    }
    return host;
}

static void
assert_same_host(const char *what, const VnumaHost *expected, const VnumaHost *got)
{
    g_autofree char *a = vnuma_host_describe(expected);
    g_autofree char *b = vnuma_host_describe(got);

    if (strcmp(a, b) != 0) {
        print_error("%s: sysfs and capabilities disagree\n--- capabilities ---\n%s"
                    "--- sysfs ---\n%s", what, a, b);
        fail();
    }
}

/* Every fixture, written as sysfs, reads back as the same host. */
static void
test_fixture_trees(void **state)
{
    g_autofree char *dir_path = vnuma_test_path("examples/hosts");
    g_autoptr(GError) error = NULL;
    g_autoptr(GDir) dir = g_dir_open(dir_path, 0, &error);
    const char *file;
    guint checked = 0;

    (void) state;
    /* The fixtures' base pages are 4 KiB, as the reader's are on x86. */
    if (sysconf(_SC_PAGESIZE) != 4096) {
        print_message("base pages are not 4 KiB here: the fixtures do not apply\n");
        skip();
    }
    if (!dir) {
        print_error("%s\n", error->message);
        fail();
    }
    while ((file = g_dir_read_name(dir))) {
        g_autofree char *name = NULL;
        g_autofree char *root = NULL;
        g_autoptr(VnumaHost) caps = NULL;
        g_autoptr(VnumaHost) sysfs = NULL;
        TreeStyle style;

        if (!g_str_has_suffix(file, ".xml"))
            continue;
        name = g_strndup(file, strlen(file) - strlen(".xml"));
        caps = vnuma_test_host(name);
        style = (checked % 2) ? TREE_OLD_KERNEL : TREE_CURRENT;
        /* An old kernel has no die_id: only fixtures with die 0 fit. */
        for (guint i = 0; i < caps->nodes->len && style == TREE_OLD_KERNEL; i++) {
            const VnumaHostNode *node = caps->nodes->pdata[i];

            for (guint c = 0; c < node->cpus->len; c++) {
                if (g_array_index(node->cpus, VnumaHostCpu, c).die_id != 0)
                    style = TREE_CURRENT;
            }
        }
        root = make_root();
        write_tree(root, caps, style);
        sysfs = read_tree(root);
        remove_tree(root);
        assert_false(g_file_test(root, G_FILE_TEST_EXISTS));
        assert_same_host(name, caps, sysfs);
        checked++;
    }
    assert_true(checked > 0);
}

/* Free counts are not in the description; check them directly. */
static void
test_free_pages(void **state)
{
    g_autoptr(VnumaHost) caps = vnuma_test_host("xeon-2s10c-ht");
    g_autofree char *root = make_root();
    g_autoptr(VnumaHost) sysfs = NULL;
    const VnumaHostNode *node;
    const VnumaPagePool *pool;

    (void) state;
    write_tree(root, caps, TREE_CURRENT);
    sysfs = read_tree(root);
    remove_tree(root);
    node = sysfs->nodes->pdata[1];
    pool = vnuma_host_node_pages(node, 1048576);
    assert_non_null(pool);
    assert_int_equal(pool->total, 16);
    assert_int_equal(pool->free, 8);
    pool = vnuma_host_node_pages(node, 4);
    assert_non_null(pool);
    /* MemFree is half of MemTotal in the fake tree. */
    assert_int_equal(pool->free, (gint64) (node->memory_kib / 2 / 4));
}

static void
assert_sysfs_error(const char *root, const char *fragment, const char *fragment2)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(VnumaHost) host = vnuma_host_from_sysfs(root, &error);

    if (host) {
        print_error("%s: a broken tree was accepted\n", root);
        fail();
    }
    assert_true(error->domain == VNUMA_ERROR);
    if (!strstr(error->message, fragment) || (fragment2 && !strstr(error->message, fragment2))) {
        print_error("error '%s' lacks '%s' or '%s'\n", error->message, fragment,
                    fragment2 ? fragment2 : "");
        fail();
    }
    assert_null(strchr(error->message, '\n'));
}

/* A small valid tree to break in one place. */
static char *
small_tree(void)
{
    g_autoptr(VnumaHost) caps = vnuma_test_host("offline-cpus-2s");
    char *root = make_root();

    write_tree(root, caps, TREE_CURRENT);
    return root;
}

static void
break_and_check(const char *relative, const char *content, const char *fragment2)
{
    g_autofree char *root = small_tree();
    g_autofree char *path = g_build_filename(root, relative, NULL);

    if (content)
        write_file(root, relative, content);
    else
        g_unlink(path);
    assert_sysfs_error(root, path, fragment2);
    remove_tree(root);
}

static void
test_errors(void **state)
{
    g_autofree char *root = make_root();
    g_autofree char *node_dir = g_build_filename(root, "devices", "system", "node", NULL);
    g_autoptr(GError) error = NULL;
    g_autoptr(VnumaHost) host = NULL;

    (void) state;
    /* No devices/system/node at all (no NUMA in the kernel, or a wrong root). */
    host = vnuma_host_from_sysfs(root, &error);
    assert_null(host);
    assert_true(g_error_matches(error, VNUMA_ERROR, VNUMA_ERROR_NOT_FOUND));
    assert_non_null(strstr(error->message, node_dir));
    remove_tree(root);

    break_and_check("devices/system/node/node1/meminfo", NULL, "No such file");
    break_and_check("devices/system/node/node0/meminfo", "Node 0 MemFree: 5 kB\n", "MemTotal");
    break_and_check("devices/system/node/node0/meminfo", "Node 0 MemTotal: lots\n", "MemTotal");
    break_and_check("devices/system/node/node0/distance", "10\n", "1 distances for 2 online nodes");
    break_and_check("devices/system/node/node1/distance", "21 ten\n", "'ten'");
    break_and_check("devices/system/node/node0/cpulist", "0-3,x\n", "invalid CPU list");
    break_and_check("devices/system/cpu/cpu1/topology/core_id", "one\n", "'one'");
    break_and_check("devices/system/cpu/cpu2/topology/physical_package_id", NULL, NULL);
    break_and_check("devices/system/cpu/cpu3/topology/thread_siblings_list", NULL, NULL);
    break_and_check("devices/system/cpu/cpu6/online", "maybe\n", "'maybe'");
    break_and_check("devices/system/node/node1/hugepages/hugepages-2048kB/nr_hugepages",
                    "-5\n", "'-5'");
}

/* A node listed online without a directory is named as such. */
static void
test_missing_node(void **state)
{
    g_autofree char *root = small_tree();
    g_autofree char *path = g_build_filename(root, "devices/system/node/node2", NULL);

    (void) state;
    write_file(root, "devices/system/node/online", "0-2\n");
    assert_sysfs_error(root, path, "node 2 is online");
    remove_tree(root);
}

static char *
run_virsh_capabilities(const char *uri)
{
    const char *argv[] = { "virsh", "-c", uri, "capabilities", NULL };
    g_autoptr(GError) error = NULL;
    g_autofree char *err = NULL;
    char *out = NULL;
    int status = -1;

    if (!g_spawn_sync(NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                      &out, &err, &status, &error)) {
        print_error("cannot run virsh: %s\n", error->message);
        fail();
    }
    if (!g_spawn_check_wait_status(status, &error)) {
        print_error("virsh -c %s capabilities: %s\n%s\n", uri, error->message, err);
        g_free(out);
        fail();
    }
    return out;
}

/* The hook reads sysfs, the agent asks libvirt: on a real host both must
 * see the same topology. */
static void
test_real_machine(void **state)
{
    const char *uri = g_getenv("VNUMA_TEST_LIBVIRT_URI");
    g_autofree char *xml = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(VnumaHost) caps = NULL;
    g_autoptr(VnumaHost) sysfs = NULL;

    (void) state;
    if (!uri || !*uri) {
        print_message("VNUMA_TEST_LIBVIRT_URI not set: start libvirtd with scripts/test.sh\n");
        skip();
    }
    xml = run_virsh_capabilities(uri);
    caps = vnuma_host_from_caps_xml(xml, strlen(xml), &error);
    if (!caps) {
        print_error("capabilities of %s: %s\n", uri, error->message);
        fail();
    }
    sysfs = vnuma_host_from_sysfs("/sys", &error);
    if (!sysfs) {
        print_error("/sys: %s\n", error->message);
        fail();
    }
    assert_same_host(uri, caps, sysfs);
}

/* --- The topology cache ---------------------------------------------- */

/* A read through the cache @cache. Whatever the cache served, the host's
 * fingerprint must be the one computed afresh from what was read. */
static VnumaHost *
read_tree_cached(const char *root, const char *cache)
{
    g_autoptr(GError) error = NULL;
    VnumaHost *host = vnuma_host_from_sysfs_cached(root, cache, &error);
    g_autofree char *served = NULL;
    g_autofree char *computed = NULL;

    if (!host) {
        print_error("%s\n", error->message);
        fail();
    }
    served = g_steal_pointer(&host->fingerprint);
    computed = vnuma_host_fingerprint(host);
    if (g_strcmp0(served, computed) != 0) {
        print_error("cached read: fingerprint %s, computed afresh %s\n", served, computed);
        fail();
    }
    host->fingerprint = g_steal_pointer(&served);
    return host;
}

static const VnumaHostCpu *
find_cpu(const VnumaHost *host, guint id, guint *node_id)
{
    for (guint i = 0; i < host->nodes->len; i++) {
        const VnumaHostNode *node = host->nodes->pdata[i];

        for (guint c = 0; c < node->cpus->len; c++) {
            const VnumaHostCpu *cpu = &g_array_index(node->cpus, VnumaHostCpu, c);

            if (cpu->id == id) {
                if (node_id)
                    *node_id = node->id;
                return cpu;
            }
        }
    }
    print_error("no CPU %u\n", id);
    fail();
    return NULL;
}

static void
set_core_id(const char *root, guint cpu, guint core_id)
{
    g_autofree char *path = g_strdup_printf("devices/system/cpu/cpu%u/topology/core_id", cpu);
    g_autofree char *value = g_strdup_printf("%u\n", core_id);

    write_file(root, path, value);
}

/* What the kernel does at an offline and online of @cpu: its topology
 * directory is a new one (made before the old one goes, so that no file
 * system can hand out the old inode number again). */
static void
replug_cpu(const char *root, const VnumaHostCpu *cpu, guint core_id)
{
    g_autofree char *dir = g_strdup_printf("%s/devices/system/cpu/cpu%u", root, cpu->id);
    g_autofree char *old = g_build_filename(dir, "topology", NULL);
    g_autofree char *gone = g_build_filename(dir, "topology.gone", NULL);
    g_autofree char *fresh = g_build_filename(dir, "topology.new", NULL);
    g_autofree char *siblings = vnuma_cpuset_format(cpu->siblings);
    const char *names[] = { "physical_package_id", "die_id", "core_id", "thread_siblings_list" };
    guint values[] = { cpu->socket_id, cpu->die_id, core_id };

    for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
        g_autofree char *path = g_build_filename(fresh, names[i], NULL);
        g_autofree char *text = i < 3 ? g_strdup_printf("%u\n", values[i])
                                      : g_strdup_printf("%s\n", siblings);

        write_file("/", path, text);
    }
    assert_int_equal(g_rename(old, gone), 0);
    assert_int_equal(g_rename(fresh, old), 0);
    remove_tree(gone);
}

/* @cpu offline: no topology directory, 'online' 0, out of its node's cpulist. */
static void
unplug_cpu(const char *root, const VnumaHost *host, guint id)
{
    guint node_id = 0;
    const VnumaHostCpu *cpu = find_cpu(host, id, &node_id);
    g_autoptr(VnumaCpuSet) online = vnuma_host_node_cpus(vnuma_host_find_node(host, node_id));
    g_autofree char *dir = g_strdup_printf("%s/devices/system/cpu/cpu%u/topology", root, id);
    g_autofree char *online_path = g_strdup_printf("devices/system/cpu/cpu%u/online", id);
    g_autofree char *cpulist_path = g_strdup_printf("devices/system/node/node%u/cpulist", node_id);
    g_autofree char *cpulist = NULL;

    assert_true(cpu->online);
    vnuma_cpuset_remove(online, id);
    cpulist = vnuma_cpuset_format(online);
    remove_tree(dir);
    write_file(root, online_path, "0\n");
    write_file(root, cpulist_path, cpulist);
}

static void
assert_core_id(const char *what, const VnumaHost *host, guint cpu, guint expected)
{
    guint got = find_cpu(host, cpu, NULL)->core_id;

    if (got != expected) {
        print_error("%s: CPU %u has core %u, expected %u\n", what, cpu, got, expected);
        fail();
    }
}

/* The cache answers only while the kernel shows every CPU unchanged;
 * a core id edited in place (which the kernel never does) shows which
 * source answered. */
static void
test_topology_cache(void **state)
{
    g_autoptr(VnumaHost) caps = vnuma_test_host("xeon-2s10c-ht");
    g_autofree char *root = make_root();
    g_autofree char *cache = g_build_filename(root, "run", "vnuma", "sysfs-topology", NULL);
    guint core3 = find_cpu(caps, 3, NULL)->core_id;

    (void) state;
    write_tree(root, caps, TREE_CURRENT);
    {
        g_autoptr(VnumaHost) first = read_tree_cached(root, cache);

        assert_same_host("first read (no cache yet)", caps, first);
        assert_true(g_file_test(cache, G_FILE_TEST_IS_REGULAR));
    }
    set_core_id(root, 3, 77);
    {
        g_autoptr(VnumaHost) cached = read_tree_cached(root, cache);
        g_autoptr(VnumaHost) live = read_tree(root);

        assert_core_id("cached, CPU unchanged", cached, 3, core3);
        assert_core_id("live", live, 3, 77);
    }
    /* An offline and online of CPU 3: the cache must not serve. */
    replug_cpu(root, find_cpu(caps, 3, NULL), 78);
    {
        g_autoptr(VnumaHost) after = read_tree_cached(root, cache);
        g_autoptr(VnumaHost) live = read_tree(root);

        assert_core_id("cached, CPU 3 replugged", after, 3, 78);
        assert_same_host("cached read after a replug", live, after);
    }
    /* Rewritten: it serves again. */
    set_core_id(root, 3, 79);
    {
        g_autoptr(VnumaHost) cached = read_tree_cached(root, cache);

        assert_core_id("cache rewritten after the replug", cached, 3, 78);
    }
    /* CPU 5 offline: its sibling's list changes; the cache must not serve. */
    unplug_cpu(root, caps, 5);
    {
        g_autoptr(VnumaHost) after = read_tree_cached(root, cache);
        g_autoptr(VnumaHost) live = read_tree(root);

        assert_false(find_cpu(after, 5, NULL)->online);
        assert_core_id("cached, CPU 5 unplugged", after, 3, 79);
        assert_same_host("cached read after an unplug", live, after);
    }
    /* New distances (a firmware SLIT change between boots would also
     * change the boot id): the cached fingerprint must not serve. */
    {
        g_autoptr(VnumaHost) before = read_tree_cached(root, cache);
        g_autoptr(VnumaHost) after = NULL;

        write_file(root, "devices/system/node/node0/distance", "10 31\n");
        write_file(root, "devices/system/node/node1/distance", "31 10\n");
        after = read_tree_cached(root, cache);
        assert_int_equal(vnuma_host_distance(after, 0, 1), 31);
        assert_string_not_equal(before->fingerprint, after->fingerprint);
    }
    /* A cache others may write is not read. */
    set_core_id(root, 3, 80);
    assert_int_equal(g_chmod(cache, 0666), 0);
    {
        g_autoptr(VnumaHost) after = read_tree_cached(root, cache);

        assert_core_id("cache writable by others", after, 3, 80);
    }
    /* Nor is one of another format, or another sysfs root. */
    set_core_id(root, 3, 81);
    write_file("/", cache, "vnuma sysfs topology cache 0\ngarbage\n");
    {
        g_autoptr(VnumaHost) after = read_tree_cached(root, cache);
        g_autoptr(VnumaHost) other_root = NULL;
        g_autofree char *root2 = make_root();

        assert_core_id("cache of another format", after, 3, 81);
        write_tree(root2, caps, TREE_CURRENT);
        other_root = read_tree_cached(root2, cache);
        assert_same_host("another root", caps, other_root);
        remove_tree(root2);
    }
    remove_tree(root);
}

static void
set_uevents(const char *root, guint count)
{
    g_autofree char *text = g_strdup_printf("%u\n", count);

    write_file(root, "kernel/uevent_seqnum", text);
}

/* The "uevents" line of the cache file. */
static char *
cache_uevents(const char *cache)
{
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;

    assert_true(g_file_get_contents(cache, &text, NULL, NULL));
    lines = g_strsplit(text, "\n", -1);
    for (guint i = 0; lines[i]; i++)
        if (g_str_has_prefix(lines[i], "uevents "))
            return g_strdup(lines[i] + strlen("uevents "));
    fail_msg("no uevents line in %s", cache);
    return NULL;
}

/* With the kernel's uevent count (kernel/uevent_seqnum) the cache serves
 * without a stat per CPU while the count is the one it was written at;
 * a new count sends it back to the inodes, and a changed cpulist (the
 * moment before a change's uevent) is never served. A replug without a
 * uevent, which the kernel never does, shows which source answered. */
static void
test_topology_cache_uevents(void **state)
{
    g_autoptr(VnumaHost) caps = vnuma_test_host("xeon-2s10c-ht");
    g_autofree char *root = make_root();
    g_autofree char *cache = g_build_filename(root, "run", "vnuma", "sysfs-topology", NULL);
    guint core3 = find_cpu(caps, 3, NULL)->core_id;

    (void) state;
    write_tree(root, caps, TREE_CURRENT);
    set_uevents(root, 1000);
    {
        g_autoptr(VnumaHost) first = read_tree_cached(root, cache);
        g_autofree char *stamp = cache_uevents(cache);

        assert_same_host("first read (no cache yet)", caps, first);
        assert_str_equal(stamp, "1000");
    }
    /* The count unchanged: no inode is looked at. */
    replug_cpu(root, find_cpu(caps, 3, NULL), 90);
    {
        g_autoptr(VnumaHost) cached = read_tree_cached(root, cache);

        assert_core_id("count unchanged: from the cache", cached, 3, core3);
    }
    /* The replug's offline and online uevents: the inodes are checked. */
    set_uevents(root, 1002);
    {
        g_autoptr(VnumaHost) after = read_tree_cached(root, cache);
        g_autoptr(VnumaHost) live = read_tree(root);
        g_autofree char *stamp = cache_uevents(cache);

        assert_core_id("new count, CPU 3 replugged", after, 3, 90);
        assert_same_host("new count, after a replug", live, after);
        assert_str_equal(stamp, "1002");
    }
    /* Other devices' uevents (a VM's tap device): the inodes match, the
     * cache serves and takes the new count. */
    set_core_id(root, 3, 91);
    set_uevents(root, 1010);
    {
        g_autoptr(VnumaHost) cached = read_tree_cached(root, cache);
        g_autofree char *stamp = cache_uevents(cache);

        assert_core_id("new count, nothing replugged", cached, 3, 90);
        assert_str_equal(stamp, "1010");
    }
    /* CPU 5 offline before its uevent is counted: its node's cpulist
     * shows it, and the cache does not serve. */
    unplug_cpu(root, caps, 5);
    {
        g_autoptr(VnumaHost) after = read_tree_cached(root, cache);
        g_autoptr(VnumaHost) live = read_tree(root);

        assert_false(find_cpu(after, 5, NULL)->online);
        assert_core_id("count unchanged, CPU 5 unplugged", after, 3, 91);
        assert_same_host("count unchanged, after an unplug", live, after);
    }
    /* No count to read: back to the inodes, and the cache says so. */
    {
        g_autofree char *count_path = g_build_filename(root, "kernel", "uevent_seqnum", NULL);

        assert_int_equal(g_unlink(count_path), 0);
    }
    replug_cpu(root, find_cpu(caps, 3, NULL), 92);
    {
        g_autoptr(VnumaHost) after = read_tree_cached(root, cache);
        g_autofree char *stamp = cache_uevents(cache);

        assert_core_id("no count, CPU 3 replugged", after, 3, 92);
        assert_str_equal(stamp, "unknown");
    }
    remove_tree(root);
}

/* The node directories are listed for offline CPUs' cpuN links only
 * when some present CPU is in no node's cpulist. A link the kernel would
 * never make (a CPU that is not present) shows which way the reader went. */
static void
test_node_links_when_offline(void **state)
{
    g_autoptr(VnumaHost) caps = vnuma_test_host("xeon-2s10c-ht");
    g_autofree char *root = make_root();

    (void) state;
    write_tree(root, caps, TREE_CURRENT);
    write_link(root, "devices/system/node/node0/cpu99", "../../cpu/cpu99");
    {
        g_autoptr(VnumaHost) host = read_tree(root);

        assert_same_host("every present CPU online: links not listed", caps, host);
    }
    /* CPU 99 present and offline (no topology directory, 'online' 0):
     * found through its link, in node 0. */
    write_file(root, "devices/system/cpu/cpu99/online", "0\n");
    write_file(root, "devices/system/cpu/present", "0-39,99\n");
    {
        g_autoptr(VnumaHost) host = read_tree(root);
        guint node_id = 1;
        const VnumaHostCpu *cpu = find_cpu(host, 99, &node_id);

        assert_false(cpu->online);
        assert_int_equal(node_id, 0);
    }
    remove_tree(root);
}

/* With kernel/mm/hugepages the sizes are listed once, not per node: a
 * node's pool of a size the kernel does not have (it never makes one)
 * shows which way the reader went. A node without a pool of a listed
 * size (memory-less) has none. */
static void
test_page_sizes_listed_once(void **state)
{
    g_autoptr(VnumaHost) caps = vnuma_test_host("xeon-2s10c-ht");
    g_autofree char *root = make_root();

    (void) state;
    write_tree(root, caps, TREE_CURRENT);
    write_file(root, "devices/system/node/node1/hugepages/hugepages-64kB/nr_hugepages", "8\n");
    write_file(root, "devices/system/node/node1/hugepages/hugepages-64kB/free_hugepages", "8\n");
    {
        g_autoptr(VnumaHost) host = read_tree(root);

        assert_same_host("sizes from kernel/mm/hugepages", caps, host);
    }
    {
        g_autofree char *pools = g_build_filename(root, "devices/system/node/node0/hugepages", NULL);

        remove_tree(pools);
    }
    {
        g_autoptr(VnumaHost) host = read_tree(root);
        const VnumaHostNode *node0 = vnuma_host_find_node(host, 0);

        for (guint p = 0; p < node0->pages->len; p++)
            assert_true(g_array_index(node0->pages, VnumaPagePool, p).size_kib <= 4);
    }
    /* Without the kernel's list, each node's own is read. */
    {
        g_autofree char *sizes = g_build_filename(root, "kernel/mm/hugepages", NULL);

        remove_tree(sizes);
    }
    {
        g_autoptr(VnumaHost) host = read_tree(root);
        const VnumaHostNode *node1 = vnuma_host_find_node(host, 1);
        gboolean found = FALSE;

        for (guint p = 0; p < node1->pages->len; p++)
            found = found || g_array_index(node1->pages, VnumaPagePool, p).size_kib == 64;
        assert_true(found);
    }
    remove_tree(root);
}

/* A node coming online (memory only: hot-added memory, a CXL expander)
 * and going again, with no uevent counted: node ids, distances and memory
 * are read live at every call, so the cache never serves the old set of
 * nodes, and the fingerprint follows the shape (read_tree_cached checks
 * the one served against one computed afresh). */
static void
test_topology_cache_node_online(void **state)
{
    g_autoptr(VnumaHost) caps = vnuma_test_host("xeon-2s10c-ht");
    g_autofree char *root = make_root();
    g_autofree char *cache = g_build_filename(root, "run", "vnuma", "sysfs-topology", NULL);
    g_autofree char *node2 = g_build_filename(root, "devices/system/node/node2", NULL);
    g_autofree char *before = NULL;

    (void) state;
    write_tree(root, caps, TREE_CURRENT);
    set_uevents(root, 500);
    {
        g_autoptr(VnumaHost) first = read_tree_cached(root, cache);

        assert_same_host("two nodes", caps, first);
        before = vnuma_host_fingerprint(first);
    }
    write_file(root, "devices/system/node/node2/meminfo",
               "Node 2 MemTotal:       16777216 kB\nNode 2 MemFree:        16777216 kB\n");
    write_file(root, "devices/system/node/node2/cpulist", "\n");
    write_file(root, "devices/system/node/node2/distance", "40 40 10\n");
    write_file(root, "devices/system/node/node0/distance", "10 21 40\n");
    write_file(root, "devices/system/node/node1/distance", "21 10 40\n");
    write_file(root, "devices/system/node/online", "0-2\n");
    {
        g_autoptr(VnumaHost) cached = read_tree_cached(root, cache);
        g_autoptr(VnumaHost) live = read_tree(root);
        g_autofree char *after = vnuma_host_fingerprint(cached);

        assert_same_host("node 2 online", live, cached);
        assert_int_equal(cached->nodes->len, 3);
        assert_true(vnuma_host_find_node(cached, 2)->memory_kib == 16777216);
        assert_string_not_equal(after, before);
    }
    remove_tree(node2);
    write_file(root, "devices/system/node/node0/distance", "10 21\n");
    write_file(root, "devices/system/node/node1/distance", "21 10\n");
    write_file(root, "devices/system/node/online", "0-1\n");
    {
        g_autoptr(VnumaHost) cached = read_tree_cached(root, cache);
        g_autofree char *again = vnuma_host_fingerprint(cached);

        assert_same_host("node 2 gone again", caps, cached);
        assert_string_equal(again, before);
    }
    remove_tree(root);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture_trees),
        cmocka_unit_test(test_free_pages),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_missing_node),
        cmocka_unit_test(test_topology_cache),
        cmocka_unit_test(test_topology_cache_uevents),
        cmocka_unit_test(test_node_links_when_offline),
        cmocka_unit_test(test_page_sizes_listed_once),
        cmocka_unit_test(test_topology_cache_node_online),
        cmocka_unit_test(test_real_machine),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
