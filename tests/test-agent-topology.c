/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* agent/vnuma-agent-topology: vnumad's keeper of the hook's topology
 * cache, on a sysfs tree written by tests/gen-sysfs-host.py (1 socket,
 * 2 nodes, 8 threads). What the keeper leaves is what the hook reads:
 * the cache's uevent stamp, and which source answers a cached read. */
#include "tests/testutil.h"

#include <string.h>
#include <sys/stat.h>
#include <glib/gstdio.h>

#include "agent/vnuma-agent-topology.h"
#include "lib/vnuma-error.h"
#include "probe/vnuma-sysfs.h"

typedef struct {
    char *root;
    char *cache;
} Tree;

static void
write_text(const char *path, const char *text)
{
    g_autoptr(GError) error = NULL;

    if (!g_file_set_contents(path, text, -1, &error))
        fail_msg("%s", error->message);
}

static char *
tree_path(const Tree *tree, const char *relative)
{
    return g_build_filename(tree->root, relative, NULL);
}

static void
set_uevents(const Tree *tree, const char *count)
{
    g_autofree char *path = tree_path(tree, "kernel/uevent_seqnum");
    g_autofree char *text = g_strdup_printf("%s\n", count);

    write_text(path, text);
}

/* CPU 1's topology attributes rewritten in place, which the kernel never
 * does: a read that still says core 1 was served by the cache. */
static void
set_core_id(const Tree *tree, const char *core)
{
    g_autofree char *path = tree_path(tree, "devices/system/cpu/cpu1/topology/core_id");
    g_autofree char *text = g_strdup_printf("%s\n", core);

    write_text(path, text);
}

/* CPU 1 offline and back, as the kernel shows it: a new topology
 * directory (a new inode) holding core @core. */
static void
replug_cpu1(const Tree *tree, const char *core)
{
    g_autofree char *dir = tree_path(tree, "devices/system/cpu/cpu1/topology");
    g_autofree char *moved = g_strconcat(dir, ".gone", NULL);
    g_autoptr(GDir) files = NULL;
    const char *name;

    assert_int_equal(g_rename(dir, moved), 0);
    assert_int_equal(g_mkdir(dir, 0755), 0);
    files = g_dir_open(moved, 0, NULL);
    assert_non_null(files);
    while ((name = g_dir_read_name(files))) {
        g_autofree char *from = g_build_filename(moved, name, NULL);
        g_autofree char *to = g_build_filename(dir, name, NULL);
        g_autofree char *text = NULL;

        assert_true(g_file_get_contents(from, &text, NULL, NULL));
        write_text(to, text);
        assert_int_equal(g_unlink(from), 0);
    }
    assert_int_equal(g_rmdir(moved), 0);
    set_core_id(tree, core);
}

/* The cache line that starts with @prefix, without it. */
static char *
cache_line(const Tree *tree, const char *prefix)
{
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;

    assert_true(g_file_get_contents(tree->cache, &text, NULL, NULL));
    lines = g_strsplit(text, "\n", -1);
    for (guint i = 0; lines[i]; i++) {
        if (g_str_has_prefix(lines[i], prefix))
            return g_strdup(lines[i] + strlen(prefix));
    }
    fail_msg("no '%s' line in %s", prefix, tree->cache);
    return NULL;
}

/* "cpu 1 INO SOCKET DIE CORE SIBLINGS": CORE. */
static char *
cached_core_of_cpu1(const Tree *tree)
{
    g_autofree char *rest = cache_line(tree, "cpu 1 ");
    g_auto(GStrv) words = g_strsplit(rest, " ", -1);

    assert_true(g_strv_length(words) == 5);
    return g_strdup(words[3]);
}

static guint64
cache_inode(const Tree *tree)
{
    struct stat st;

    assert_int_equal(g_stat(tree->cache, &st), 0);
    return st.st_ino;
}

/* What the hook would read now: CPU 1's core id. */
static guint
hook_core_of_cpu1(const Tree *tree)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(VnumaHost) host = vnuma_host_from_sysfs_cached(tree->root, tree->cache, &error);

    if (!host)
        fail_msg("%s", error->message);
    for (guint n = 0; n < host->nodes->len; n++) {
        const VnumaHostNode *node = host->nodes->pdata[n];

        for (guint c = 0; c < node->cpus->len; c++) {
            const VnumaHostCpu *cpu = &g_array_index(node->cpus, VnumaHostCpu, c);

            if (cpu->id == 1)
                return cpu->core_id;
        }
    }
    fail_msg("CPU 1 is not in the host read from %s", tree->root);
    return 0;
}

static gboolean
refresh(VnumaTopologyKeeper *keeper)
{
    g_autoptr(GError) error = NULL;
    gboolean refreshed = TRUE;

    if (!vnuma_topology_keeper_refresh(keeper, &refreshed, &error))
        fail_msg("refresh: %s", error->message);
    return refreshed;
}

static int
setup(void **state)
{
    Tree *tree = g_new0(Tree, 1);
    g_autofree char *generator = vnuma_test_path("tests/gen-sysfs-host.py");
    g_autoptr(GError) error = NULL;
    g_autofree char *err = NULL;
    int status = -1;

    tree->root = g_dir_make_tmp("vnuma-keeper-XXXXXX", &error);
    assert_non_null(tree->root);
    tree->cache = g_build_filename(tree->root, "sysfs-topology", NULL);
    const char *argv[] = { "python3", generator, "--sockets", "1", "--nodes-per-socket", "2",
                           "--cores-per-node", "2", "--threads", "2", tree->root, NULL };
    if (!g_spawn_sync(NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, &err,
                      &status, &error) ||
        !g_spawn_check_wait_status(status, &error))
        fail_msg("gen-sysfs-host.py: %s\n%s", error->message, err ? err : "");
    *state = tree;
    return 0;
}

static int
teardown(void **state)
{
    Tree *tree = *state;
    const char *argv[] = { "rm", "-rf", tree->root, NULL };

    g_spawn_sync(NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, NULL, NULL);
    g_free(tree->root);
    g_free(tree->cache);
    g_free(tree);
    return 0;
}

/* A new count is taken up at once; an unchanged one costs nothing; a
 * replugged CPU is read again; other devices' uevents leave the cache
 * serving. */
static void
test_keeper_restamps(void **state)
{
    Tree *tree = *state;
    g_autoptr(VnumaTopologyKeeper) keeper = vnuma_topology_keeper_new(tree->root, tree->cache);
    guint64 written;
    g_autofree char *stamp = NULL;
    g_autofree char *core = NULL;

    set_uevents(tree, "4321");
    assert_true(refresh(keeper));
    stamp = cache_line(tree, "uevents ");
    assert_string_equal(stamp, "4321");
    written = cache_inode(tree);

    /* Nothing happened: no read, the cache left as it is. */
    assert_false(refresh(keeper));
    assert_true(cache_inode(tree) == written);

    /* A VM's tap device (any uevent): restamped, and the hook's next read
     * is served by the cache without looking at a CPU. */
    set_uevents(tree, "4330");
    assert_true(refresh(keeper));
    g_free(stamp);
    stamp = cache_line(tree, "uevents ");
    assert_string_equal(stamp, "4330");
    assert_true(cache_inode(tree) != written);
    set_core_id(tree, "9");
    assert_int_equal(hook_core_of_cpu1(tree), 1);

    /* CPU 1 replugged and its uevents counted: the keeper reads it again. */
    replug_cpu1(tree, "7");
    set_uevents(tree, "4332");
    assert_true(refresh(keeper));
    core = cached_core_of_cpu1(tree);
    assert_string_equal(core, "7");
    g_free(stamp);
    stamp = cache_line(tree, "uevents ");
    assert_string_equal(stamp, "4332");
    assert_int_equal(hook_core_of_cpu1(tree), 7);
}

/* No count (an old kernel): nothing to keep. A host that cannot be read:
 * an error naming it, and the next look tries again. */
static void
test_keeper_without_count(void **state)
{
    Tree *tree = *state;
    g_autoptr(VnumaTopologyKeeper) keeper = vnuma_topology_keeper_new(tree->root, tree->cache);
    g_autofree char *count = tree_path(tree, "kernel/uevent_seqnum");
    g_autofree char *nodes = tree_path(tree, "devices/system/node");
    g_autofree char *hidden = tree_path(tree, "devices/system/node.hidden");
    g_autoptr(GError) error = NULL;
    gboolean refreshed = TRUE;

    assert_int_equal(g_unlink(count), 0);
    assert_true(vnuma_topology_keeper_refresh(keeper, &refreshed, &error));
    assert_false(refreshed);
    assert_false(g_file_test(tree->cache, G_FILE_TEST_EXISTS));

    set_uevents(tree, "50");
    assert_int_equal(g_rename(nodes, hidden), 0);
    assert_false(vnuma_topology_keeper_refresh(keeper, &refreshed, &error));
    assert_false(refreshed);
    assert_non_null(error);
    vnuma_test_assert_contains(error->message, nodes);
    g_clear_error(&error);

    assert_int_equal(g_rename(hidden, nodes), 0);
    assert_true(refresh(keeper));
    assert_true(g_file_test(tree->cache, G_FILE_TEST_EXISTS));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_keeper_restamps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keeper_without_count, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
