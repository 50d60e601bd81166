/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Measurements to rebalancer inputs: vCPU time deltas from the stats
 * fields, client demand, client memory shares. */
#include "tests/testutil.h"

#include "lib/vnuma-demand.h"

#define SEC 1000000000ull

static GArray *
times_of(const char *const *fields, const guint64 *values, guint n)
{
    GArray *times = vnuma_vcpu_times_new();

    for (guint i = 0; i < n; i++)
        vnuma_vcpu_times_add_field(times, fields[i], values[i]);
    return times;
}

static void
test_fields(void **state)
{
    g_autoptr(GArray) times = vnuma_vcpu_times_new();

    /* The fields virConnectGetAllDomainStats(VIR_DOMAIN_STATS_VCPU) gives. */
    assert_false(vnuma_vcpu_times_add_field(times, "vcpu.current", 4));
    assert_false(vnuma_vcpu_times_add_field(times, "vcpu.maximum", 4));
    assert_false(vnuma_vcpu_times_add_field(times, "vcpu.0.state", 1));
    assert_false(vnuma_vcpu_times_add_field(times, "vcpu.0.wait", 7));
    assert_false(vnuma_vcpu_times_add_field(times, "vcpu.x.time", 9));
    assert_false(vnuma_vcpu_times_add_field(times, "vcpu.0.timex", 9));
    assert_true(vnuma_vcpu_times_add_field(times, "vcpu.0.time", 270000000));
    assert_true(vnuma_vcpu_times_add_field(times, "vcpu.2.time", 5));
    /* Run-queue delay: wanted but not run; counted with the time. */
    assert_true(vnuma_vcpu_times_add_field(times, "vcpu.0.delay", 9));
    assert_int_equal(times->len, 3);
    assert_int_equal(g_array_index(times, guint64, 0), 270000009);
    assert_true(g_array_index(times, guint64, 1) == VNUMA_VCPU_TIME_UNKNOWN);
    assert_int_equal(g_array_index(times, guint64, 2), 5);
}

static void
test_demand(void **state)
{
    static const char *const fields[] = { "vcpu.0.time", "vcpu.1.time", "vcpu.2.time", "vcpu.3.time" };
    static const guint64 before_v[] = { 10 * SEC, 10 * SEC, 50 * SEC, 1 * SEC };
    /* 2 s later: vCPU 0 busy 1 s, vCPU 1 idle, vCPU 2 reset (unplugged and
     * plugged again), vCPU 3 used 2.1 s of 2 s (sampling jitter). */
    static const guint64 after_v[] = { 11 * SEC, 10 * SEC, 1 * SEC, 3 * SEC + SEC / 10 };
    g_autoptr(GArray) before = times_of(fields, before_v, 4);
    g_autoptr(GArray) after = times_of(fields, after_v, 4);
    g_autoptr(GArray) demand = vnuma_vcpu_demand(before, after, 2.0);
    g_autoptr(VnumaCpuSet) client = vnuma_cpuset_new_range(0, 1);
    g_autoptr(VnumaCpuSet) all = vnuma_cpuset_new_range(0, 7);

    assert_int_equal(demand->len, 4);
    assert_true(g_array_index(demand, double, 0) == 0.5);
    assert_true(g_array_index(demand, double, 1) == 0.0);
    assert_true(g_array_index(demand, double, 2) == 0.0);
    assert_true(g_array_index(demand, double, 3) == 1.0);
    assert_true(vnuma_client_demand(demand, client) == 0.5);
    /* vCPUs beyond the sample (offline) count nothing. */
    assert_true(vnuma_client_demand(demand, all) == 1.5);
}

static void
test_first_sample(void **state)
{
    static const char *const fields[] = { "vcpu.0.time" };
    static const guint64 v[] = { 5 * SEC };
    g_autoptr(GArray) times = times_of(fields, v, 1);
    g_autoptr(GArray) demand = vnuma_vcpu_demand(times, times, 0);

    assert_int_equal(demand->len, 1);
    assert_true(g_array_index(demand, double, 0) == 0.0);
}

static void
test_client_memory(void **state)
{
    g_autoptr(GArray) domain = g_array_new(FALSE, TRUE, sizeof(guint64));
    guint64 per_node[] = { 600, 0, 200 };

    g_array_append_vals(domain, per_node, 3);
    /* A client holding a quarter of the domain's memory. */
    g_autoptr(GArray) share = vnuma_client_memory(domain, 256, 1024);
    assert_int_equal(share->len, 3);
    assert_int_equal(g_array_index(share, guint64, 0), 150);
    assert_int_equal(g_array_index(share, guint64, 1), 0);
    assert_int_equal(g_array_index(share, guint64, 2), 50);
    g_autoptr(GArray) none = vnuma_client_memory(domain, 256, 0);
    assert_int_equal(g_array_index(none, guint64, 0), 0);
}

static void
test_spread(void **state)
{
    g_autoptr(GPtrArray) nodes = g_ptr_array_new_with_free_func((GDestroyNotify) vnuma_cpuset_free);
    g_autoptr(GPtrArray) vcpus = g_ptr_array_new_with_free_func((GDestroyNotify) vnuma_cpuset_free);
    g_autoptr(GArray) spread = NULL;

    g_ptr_array_add(nodes, vnuma_cpuset_new_range(0, 3));
    g_ptr_array_add(nodes, vnuma_cpuset_new_range(4, 7));
    /* Pinned to node 1; unpinned (all CPUs); three CPUs on node 0 and
     * one on node 1; CPUs the nodes do not list. */
    g_ptr_array_add(vcpus, vnuma_cpuset_new_range(4, 7));
    g_ptr_array_add(vcpus, vnuma_cpuset_new_range(0, 7));
    g_ptr_array_add(vcpus, vnuma_cpuset_new_range(1, 4));
    g_ptr_array_add(vcpus, vnuma_cpuset_new_range(20, 21));
    spread = vnuma_vcpu_spread(vcpus, nodes);
    assert_int_equal(spread->len, 2);
    assert_float_equal(g_array_index(spread, double, 0), 0.5 + 0.75, 1e-9);
    assert_float_equal(g_array_index(spread, double, 1), 1 + 0.5 + 0.25, 1e-9);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_demand),
        cmocka_unit_test(test_first_sample),
        cmocka_unit_test(test_client_memory),
        cmocka_unit_test(test_spread),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
