/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Memory per client and locality, the one definition vnumad's report
 * and `vnumactl explain` both call (lib/vnuma-locality.h): per cell
 * when numa_maps tells the cells apart, proportional otherwise, and a
 * client homed on a CPU-only node is local on its memory node. */
#include "tests/testutil.h"

#include "lib/vnuma-locality.h"

static GArray *
kib_per_node(guint64 n0, guint64 n1, guint64 n2, guint64 n3)
{
    GArray *kib = g_array_new(FALSE, TRUE, sizeof(guint64));
    guint64 values[] = { n0, n1, n2, n3 };

    g_array_append_vals(kib, values, 4);
    return kib;
}

/* xeon-4s4c-ht with node 2 CPU-only: its memory node is node 0. */
static VnumaHost *
cpu_only_host(void)
{
    VnumaHost *host = vnuma_test_host("xeon-4s4c-ht");

    ((VnumaHostNode *) host->nodes->pdata[2])->memory_kib = 0;
    return host;
}

static void
test_cpu_only_home_is_local_on_its_memory_node(void **unused)
{
    g_autoptr(VnumaHost) host = cpu_only_host();
    g_autoptr(VnumaCpuSet) a = vnuma_cpuset_new_range(0, 3);
    g_autoptr(VnumaCpuSet) b = vnuma_cpuset_new_range(4, 7);
    g_autoptr(GPtrArray) cell_vcpus = g_ptr_array_new();
    g_autoptr(GPtrArray) cells = g_ptr_array_new_with_free_func((GDestroyNotify) g_array_unref);
    g_autoptr(GArray) total = kib_per_node(1024, 0, 0, 1024);
    VnumaMemoryClient clients[] = { { a, 2, 1024 }, { b, 3, 1024 } };
    VnumaMemoryView view = { total, cell_vcpus, cells };
    g_autofree guint64 *first = NULL;

    /* Client 0 homed on CPU-only node 2, its cell's memory on node 0;
     * client 1 on node 3 with its memory there: all of it is local. */
    g_ptr_array_add(cell_vcpus, a);
    g_ptr_array_add(cell_vcpus, b);
    g_ptr_array_add(cells, kib_per_node(1024, 0, 0, 0));
    g_ptr_array_add(cells, kib_per_node(0, 0, 0, 1024));
    assert_true(vnuma_memory_by_cells(&view, clients, 2));
    first = vnuma_client_memory_by_index(host, &view, clients, 2, 0);
    assert_int_equal(first[0], 1024);
    assert_int_equal(first[3], 0);
    assert_true(vnuma_memory_locality(host, &view, clients, 2) == 1.0);
    /* The old vnumactl definition (home node as memory node, shares
     * pro rata) said 0.5 here, while vnumad said 1.0. */
}

static void
test_proportional_without_cells(void **unused)
{
    g_autoptr(VnumaHost) host = cpu_only_host();
    g_autoptr(VnumaCpuSet) a = vnuma_cpuset_new_range(0, 3);
    g_autoptr(VnumaCpuSet) b = vnuma_cpuset_new_range(4, 7);
    g_autoptr(VnumaCpuSet) all = vnuma_cpuset_new_range(0, 7);
    g_autoptr(GPtrArray) cell_vcpus = g_ptr_array_new();
    g_autoptr(GArray) total = kib_per_node(3072, 1024, 0, 0);
    VnumaMemoryClient clients[] = { { a, 2, 1024 }, { b, 1, 1024 } };
    VnumaMemoryView view = { total, cell_vcpus, NULL };

    /* One cell spanning both clients: each is spread like the whole,
     * 3/4 on node 0 (client 0's memory node), 1/4 on node 1 (client 1's). */
    g_ptr_array_add(cell_vcpus, all);
    assert_false(vnuma_memory_by_cells(&view, clients, 2));
    assert_true(vnuma_memory_locality(host, &view, clients, 2) == 0.5);
    view.memory = NULL;
    assert_true(vnuma_memory_locality(host, &view, clients, 2) == -1);
    assert_null(vnuma_client_memory_by_index(host, &view, clients, 2, 0));
}

static void
test_cells_of_a_request(void **unused)
{
    g_autoptr(VnumaRequest) r = vnuma_test_request(8, 4096);
    g_autoptr(GPtrArray) vcpus = NULL;
    g_autoptr(GArray) kib = NULL;
    g_autofree char *list = NULL;

    vnuma_memory_cells(r, &vcpus, &kib);
    assert_int_equal(vcpus->len, 1);
    list = vnuma_cpuset_format(vcpus->pdata[0]);
    assert_string_equal(list, "0-7");
    assert_int_equal(g_array_index(kib, guint64, 0), 4096);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cpu_only_home_is_local_on_its_memory_node),
        cmocka_unit_test(test_proportional_without_cells),
        cmocka_unit_test(test_cells_of_a_request),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
