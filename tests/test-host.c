/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "tests/testutil.h"

#include <string.h>

#include "lib/vnuma-error.h"
#include "lib/vnuma-host.h"

static void
add_cpu(VnumaHostNode *node, guint id, guint socket_id, guint die_id, guint core_id,
        const char *siblings)
{
    vnuma_host_node_add_cpu(node, id, TRUE, socket_id, die_id, core_id, vnuma_test_cpuset(siblings));
}

static void
finish_ok(VnumaHost *host)
{
    g_autoptr(GError) error = NULL;

    if (!vnuma_host_finish(host, &error)) {
        print_error("vnuma_host_finish: %s\n", error->message);
        fail();
    }
}

static void
assert_finish_error(VnumaHost *host, const char *fragment)
{
    g_autoptr(GError) error = NULL;

    assert_false(vnuma_host_finish(host, &error));
    assert_non_null(error);
    assert_true(g_error_matches(error, VNUMA_ERROR, VNUMA_ERROR_INVALID));
    if (!strstr(error->message, fragment)) {
        print_error("error '%s' lacks '%s'\n", error->message, fragment);
        fail();
    }
}

/* Two nodes of 2 cores x 2 threads (Intel numbering: sibling = id + 4),
 * built in a scrambled order; @memory_kib and @hugepages vary the
 * memory side only. */
static VnumaHost *
build_small_host(guint64 memory_kib, guint64 hugepages)
{
    VnumaHost *host = vnuma_host_new();
    VnumaHostNode *n1 = vnuma_host_add_node(host, 1, memory_kib);
    VnumaHostNode *n0 = vnuma_host_add_node(host, 0, memory_kib);

    add_cpu(n1, 6, 1, 0, 1, "2,6");
    add_cpu(n1, 2, 1, 0, 1, "2,6");
    add_cpu(n1, 3, 1, 0, 0, "3,7");
    add_cpu(n1, 7, 1, 0, 0, "3,7");
    add_cpu(n0, 4, 0, 0, 0, "0,4");
    add_cpu(n0, 0, 0, 0, 0, "0,4");
    add_cpu(n0, 1, 0, 0, 1, "1,5");
    vnuma_host_node_add_cpu(n0, 5, FALSE, 0, 0, 0, NULL);
    for (guint i = 0; i < 2; i++) {
        VnumaHostNode *node = i ? n1 : n0;

        vnuma_host_node_add_pages(node, 2048, hugepages, -1);
        vnuma_host_node_add_pages(node, 4, memory_kib / 4, -1);
        vnuma_host_node_add_distance(node, 1, i ? 10 : 21);
        vnuma_host_node_add_distance(node, 0, i ? 21 : 10);
    }
    finish_ok(host);
    return host;
}

static void
test_finish_sorts(void **state)
{
    g_autoptr(VnumaHost) host = build_small_host(1048576, 0);
    const VnumaHostNode *n0 = host->nodes->pdata[0];
    const VnumaHostNode *n1 = host->nodes->pdata[1];
    g_autofree char *text = vnuma_host_describe(host);

    (void) state;
    assert_int_equal(host->nodes->len, 2);
    assert_int_equal(n0->id, 0);
    assert_int_equal(n1->id, 1);
    assert_ptr_equal(vnuma_host_find_node(host, 1), n1);
    assert_null(vnuma_host_find_node(host, 2));
    assert_str_equal(text,
        "node 0 memory_kib=1048576\n"
        "  pages size_kib=4 total=262144\n"
        "  pages size_kib=2048 total=0\n"
        "  distance to=0 value=10\n"
        "  distance to=1 value=21\n"
        "  cpu 0 socket=0 die=0 core=0 siblings=0,4\n"
        "  cpu 1 socket=0 die=0 core=1 siblings=1,5\n"
        "  cpu 4 socket=0 die=0 core=0 siblings=0,4\n"
        "node 1 memory_kib=1048576\n"
        "  pages size_kib=4 total=262144\n"
        "  pages size_kib=2048 total=0\n"
        "  distance to=0 value=21\n"
        "  distance to=1 value=10\n"
        "  cpu 2 socket=1 die=0 core=1 siblings=2,6\n"
        "  cpu 3 socket=1 die=0 core=0 siblings=3,7\n"
        "  cpu 6 socket=1 die=0 core=1 siblings=2,6\n"
        "  cpu 7 socket=1 die=0 core=0 siblings=3,7\n");
}

static void
test_finish_rejects(void **state)
{
    g_autoptr(VnumaHost) empty = vnuma_host_new();
    g_autoptr(VnumaHost) twice = vnuma_host_new();
    g_autoptr(VnumaHost) shared_cpu = vnuma_host_new();
    g_autoptr(VnumaHost) repeated_cpu = vnuma_host_new();
    VnumaHostNode *node;

    (void) state;
    assert_finish_error(empty, "no NUMA cells");

    vnuma_host_add_node(twice, 1, 0);
    vnuma_host_add_node(twice, 0, 0);
    vnuma_host_add_node(twice, 1, 0);
    assert_finish_error(twice, "NUMA cell 1 twice");

    node = vnuma_host_add_node(shared_cpu, 0, 0);
    add_cpu(node, 3, 0, 0, 3, "3");
    node = vnuma_host_add_node(shared_cpu, 1, 0);
    add_cpu(node, 3, 1, 0, 3, "3");
    assert_finish_error(shared_cpu, "CPU 3 in more than one place");

    /* Offline CPUs count too. */
    node = vnuma_host_add_node(repeated_cpu, 0, 0);
    vnuma_host_node_add_cpu(node, 9, FALSE, 0, 0, 0, NULL);
    add_cpu(node, 9, 0, 0, 1, "9");
    assert_finish_error(repeated_cpu, "CPU 9 in more than one place");
}

static void
test_distance_defaults(void **state)
{
    g_autoptr(VnumaHost) host = vnuma_host_new();
    VnumaHostNode *n0 = vnuma_host_add_node(host, 0, 0);

    (void) state;
    vnuma_host_add_node(host, 1, 0);
    vnuma_host_add_node(host, 2, 0);
    vnuma_host_node_add_distance(n0, 2, 32);
    finish_ok(host);

    assert_int_equal(vnuma_host_distance(host, 0, 2), 32);
    /* Only node 0 listed that one: node 2's row is empty. */
    assert_int_equal(vnuma_host_distance(host, 2, 0), 20);
    assert_int_equal(vnuma_host_distance(host, 0, 0), 10);
    assert_int_equal(vnuma_host_distance(host, 1, 1), 10);
    assert_int_equal(vnuma_host_distance(host, 0, 1), 20);
    assert_int_equal(vnuma_host_distance(host, 1, 2), 20);
    /* Nodes the host does not have. */
    assert_int_equal(vnuma_host_distance(host, 7, 7), 10);
    assert_int_equal(vnuma_host_distance(host, 7, 0), 20);
    /* Sums over a set of node ids: 0->0 + 0->1 + 0->2. */
    {
        g_autoptr(VnumaCpuSet) all = vnuma_test_cpuset("0-2");
        g_autoptr(VnumaCpuSet) none = vnuma_cpuset_new();

        assert_int_equal(vnuma_host_distance_sum(host, 0, all), 10 + 20 + 32);
        assert_int_equal(vnuma_host_distance_sum(host, 2, all), 20 + 20 + 10);
        assert_int_equal(vnuma_host_distance_sum(host, 0, none), 0);
    }
}

static void
assert_cores(const VnumaHostNode *node, const char *usable, guint expected)
{
    g_autoptr(VnumaCpuSet) set = vnuma_test_cpuset(usable);
    guint got = vnuma_host_node_cores(node, set);

    if (got != expected) {
        print_error("node %u, usable '%s': %u cores, expected %u\n",
                    node->id, usable, got, expected);
        fail();
    }
}

static void
test_node_cores(void **state)
{
    g_autoptr(VnumaHost) host = build_small_host(1048576, 0);
    const VnumaHostNode *n0 = host->nodes->pdata[0];
    const VnumaHostNode *n1 = host->nodes->pdata[1];
    g_autoptr(VnumaHost) odd = vnuma_host_new();
    VnumaHostNode *node = vnuma_host_add_node(odd, 0, 0);
    g_autoptr(VnumaCpuSet) cpus = vnuma_host_node_cpus(n0);
    g_autofree char *cpus_text = vnuma_cpuset_format(cpus);

    (void) state;
    /* Online CPUs only: 5 is offline. */
    assert_str_equal(cpus_text, "0-1,4");

    /* HT siblings count once. */
    assert_cores(n1, "0-65535", 2);
    assert_cores(n1, "2-3", 2);
    assert_cores(n1, "2,6", 1);
    assert_cores(n1, "2,6,7", 2);
    assert_cores(n1, "0-1", 0);
    /* Node 0: core 1 has its second thread (5) offline. */
    assert_cores(n0, "0-7", 2);
    assert_cores(n0, "0,4", 1);
    /* An offline CPU is never usable, even when the set names it. */
    assert_cores(n0, "5", 0);

    /* Same core_id on another socket or die is another core; ids far
     * apart (arm64 style) must not collide. */
    add_cpu(node, 0, 0, 0, 0, "0");
    add_cpu(node, 1, 1, 0, 0, "1");
    add_cpu(node, 2, 0, 1, 0, "2");
    add_cpu(node, 3, 0, 0, 1u << 20, "3");
    add_cpu(node, 4, 0, 1u << 20, 0, "4");
    add_cpu(node, 5, 1u << 24, 0, 0, "5");
    add_cpu(node, 6, G_MAXUINT, G_MAXUINT, G_MAXUINT, "6");
    add_cpu(node, 7, G_MAXUINT, G_MAXUINT, G_MAXUINT, "7");
    finish_ok(odd);
    assert_cores(node, "0-7", 7);
    assert_cores(node, "6-7", 1);
}

static void
test_pages(void **state)
{
    g_autoptr(VnumaHost) host = build_small_host(1048576, 16);
    g_autoptr(VnumaHost) bare = vnuma_host_new();
    g_autoptr(VnumaHost) gig = vnuma_host_new();
    g_autoptr(VnumaHost) both = vnuma_host_new();
    const VnumaHostNode *n0 = host->nodes->pdata[0];
    const VnumaPagePool *pool = vnuma_host_node_pages(n0, 2048);
    VnumaHostNode *node;

    (void) state;
    assert_non_null(pool);
    assert_int_equal(pool->total, 16);
    assert_int_equal(pool->free, -1);
    assert_null(vnuma_host_node_pages(n0, 1048576));
    assert_int_equal(vnuma_host_default_hugepage_kib(host), 2048);

    /* No pools at all, or only base pages: the x86 default. */
    node = vnuma_host_add_node(bare, 0, 0);
    vnuma_host_node_add_pages(node, 4, 100, 50);
    finish_ok(bare);
    assert_int_equal(vnuma_host_default_hugepage_kib(bare), 2048);

    node = vnuma_host_add_node(gig, 0, 0);
    vnuma_host_node_add_pages(node, 1048576, 4, 4);
    vnuma_host_node_add_pages(node, 4, 100, 50);
    finish_ok(gig);
    assert_int_equal(vnuma_host_default_hugepage_kib(gig), 1048576);

    /* The smallest huge size wins, whichever node lists it. */
    node = vnuma_host_add_node(both, 0, 0);
    vnuma_host_node_add_pages(node, 1048576, 0, 0);
    node = vnuma_host_add_node(both, 1, 0);
    vnuma_host_node_add_pages(node, 2048, 0, 0);
    finish_ok(both);
    assert_int_equal(vnuma_host_default_hugepage_kib(both), 2048);
    /* finish() sorted the pools by size. */
    node = both->nodes->pdata[0];
    assert_int_equal(g_array_index(node->pages, VnumaPagePool, 0).size_kib, 1048576);
}

static void
test_fingerprint(void **state)
{
    g_autoptr(VnumaHost) a = build_small_host(1048576, 0);
    g_autoptr(VnumaHost) b = build_small_host(1048576, 0);
    g_autoptr(VnumaHost) more_memory = build_small_host(4194304, 512);
    g_autoptr(VnumaHost) other_distance = build_small_host(1048576, 0);
    g_autoptr(VnumaHost) other_cpus = build_small_host(1048576, 0);
    g_autofree char *fa = vnuma_host_fingerprint(a);
    g_autofree char *fb = vnuma_host_fingerprint(b);
    g_autofree char *fm = vnuma_host_fingerprint(more_memory);
    g_autofree char *fd = NULL;
    g_autofree char *fc = NULL;
    g_autofree char *da = vnuma_host_describe(a);
    g_autofree char *dm = vnuma_host_describe(more_memory);
    VnumaHostNode *node;

    (void) state;
    assert_int_equal(strlen(fa), 16);
    for (const char *p = fa; *p; p++)
        assert_true(g_ascii_isxdigit(*p));
    assert_str_equal(fa, fb);
    /* Memory and huge page reservations are configuration, not shape. */
    assert_str_equal(fa, fm);
    assert_string_not_equal(da, dm);

    node = other_distance->nodes->pdata[0];
    g_array_index(node->distances, VnumaDistance, 1).value = 32;
    /* A changed model is finished again, which renews the cached fingerprint. */
    finish_ok(other_distance);
    fd = vnuma_host_fingerprint(other_distance);
    assert_string_not_equal(fa, fd);

    node = other_cpus->nodes->pdata[1];
    vnuma_host_node_add_cpu(node, 8, TRUE, 1, 0, 2, vnuma_test_cpuset("8"));
    finish_ok(other_cpus);
    fc = vnuma_host_fingerprint(other_cpus);
    assert_string_not_equal(fa, fc);
}

static void
test_offline_cpu_drops_topology(void **state)
{
    g_autoptr(VnumaHost) host = vnuma_host_new();
    VnumaHostNode *node = vnuma_host_add_node(host, 0, 0);
    const VnumaHostCpu *cpu;

    (void) state;
    /* Whatever the caller passes for an offline CPU is dropped (and the
     * siblings set freed: valgrind checks that). */
    vnuma_host_node_add_cpu(node, 3, FALSE, 1, 2, 3, vnuma_test_cpuset("3,7"));
    finish_ok(host);
    cpu = &g_array_index(node->cpus, VnumaHostCpu, 0);
    assert_false(cpu->online);
    assert_int_equal(cpu->socket_id, 0);
    assert_int_equal(cpu->core_id, 0);
    assert_null(cpu->siblings);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_finish_sorts),
        cmocka_unit_test(test_finish_rejects),
        cmocka_unit_test(test_distance_defaults),
        cmocka_unit_test(test_node_cores),
        cmocka_unit_test(test_pages),
        cmocka_unit_test(test_fingerprint),
        cmocka_unit_test(test_offline_cpu_drops_topology),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
