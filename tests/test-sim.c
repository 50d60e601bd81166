/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The simulator's own guarantees: a seed gives one answer, static
 * placement never migrates, the optimum is a ceiling for contention; and
 * the vnuma policy sees the run-queue delay the agent reads. */
#include "tests/testutil.h"

#include "bench/sim/sim.h"

static void
run_hours(const VnumaHost *host, const char *kind, guint hours, guint seed, SimPolicy policy,
          SimResult *result)
{
    SimHostSize size = sim_host_size(host);
    g_autoptr(SimTrace) trace = sim_trace_new(kind, &size, hours, seed, NULL);
    SimOptions options;

    assert_non_null(trace);
    sim_options_init(&options, policy);
    sim_run(host, trace, &options, result, NULL);
}

static void
run(const VnumaHost *host, const char *kind, guint seed, SimPolicy policy, SimResult *result)
{
    run_hours(host, kind, 1, seed, policy, result);
}

static void
test_seeded(void **state)
{
    g_autoptr(VnumaHost) host = vnuma_test_host("small-2node");
    SimResult a, b, c;

    run(host, "churn", 7, SIM_POLICY_VNUMA, &a);
    run(host, "churn", 7, SIM_POLICY_VNUMA, &b);
    run(host, "churn", 8, SIM_POLICY_VNUMA, &c);
    /* Bit for bit, not just close. */
    assert_true(a.locality == b.locality && a.contention == b.contention && a.imbalance == b.imbalance &&
                a.migrations == b.migrations && a.memory_moved_gib == b.memory_moved_gib &&
                a.vm_hours == b.vm_hours);
    assert_true(a.vm_hours != c.vm_hours || a.locality != c.locality);
}

static void
test_static_never_moves(void **state)
{
    g_autoptr(VnumaHost) host = vnuma_test_host("small-2node");

    for (const char *const *kind = sim_trace_kinds(); *kind; kind++) {
        SimResult pack, spread;

        run(host, *kind, 1, SIM_POLICY_STATIC_PACK, &pack);
        run(host, *kind, 1, SIM_POLICY_STATIC_SPREAD, &spread);
        assert_true(pack.migrations == 0 && pack.memory_moved_gib == 0);
        assert_true(spread.migrations == 0 && spread.memory_moved_gib == 0);
        assert_true(pack.vm_hours > 0);
    }
}

static void
test_optimum_is_a_contention_ceiling(void **state)
{
    g_autoptr(VnumaHost) host = vnuma_test_host("small-2node");

    for (const char *const *kind = sim_trace_kinds(); *kind; kind++) {
        SimResult optimum, spread, none;

        run(host, *kind, 1, SIM_POLICY_OPTIMUM, &optimum);
        run(host, *kind, 1, SIM_POLICY_STATIC_SPREAD, &spread);
        run(host, *kind, 1, SIM_POLICY_NONE, &none);
        assert_true(optimum.exact);
        assert_true(optimum.contention <= spread.contention + 1e-9);
        /* Floating vCPUs read memory on both nodes. */
        assert_true(none.locality < spread.locality);
    }
}

/* CPU time alone adds up to at most a node's CPUs, so the rebalancer fed
 * only vcpu.N.time sees no contention to relieve; with vcpu.N.delay it
 * does. The phase trace overloads nodes for minutes at a time. */
static void
test_vnuma_sees_run_queue_delay(void **state)
{
    g_autoptr(VnumaHost) host = vnuma_test_host("xeon-4s4c-ht");
    SimResult now, before;

    run_hours(host, "phase", 4, 1, SIM_POLICY_VNUMA, &now);
    run_hours(host, "phase", 4, 1, SIM_POLICY_VNUMA_BEFORE, &before);
    assert_true(before.contention > 0);
    assert_true(now.contention < before.contention);
    assert_true(now.migrations > before.migrations);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seeded),
        cmocka_unit_test(test_static_never_moves),
        cmocka_unit_test(test_optimum_is_a_contention_ceiling),
        cmocka_unit_test(test_vnuma_sees_run_queue_delay),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
