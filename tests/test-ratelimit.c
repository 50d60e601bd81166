/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The page-migration rate limiter: the bound holds over any call
 * sequence, allowance is kept up to the burst, clocks going backwards
 * and rates of 0 allow nothing extra. */
#include "tests/testutil.h"

#include "lib/vnuma-ratelimit.h"

#define MIB (1024.0 * 1024.0)

static void
test_starts_empty_then_refills(void **unused)
{
    VnumaRateLimit l;

    vnuma_rate_limit_init(&l, 100 * MIB, 4);
    assert_int_equal(vnuma_rate_limit_allowance(&l, 10.0), 0);
    assert_int_equal(vnuma_rate_limit_allowance(&l, 12.0), (guint64) (200 * MIB));
    vnuma_rate_limit_spend(&l, (guint64) (150 * MIB));
    assert_int_equal(vnuma_rate_limit_allowance(&l, 12.0), (guint64) (50 * MIB));
    assert_int_equal(vnuma_rate_limit_allowance(&l, 13.0), (guint64) (150 * MIB));
    /* Spending past the allowance is a debt: nothing until it is paid. */
    vnuma_rate_limit_spend(&l, (guint64) (250 * MIB));
    assert_int_equal(vnuma_rate_limit_allowance(&l, 13.5), 0);
    assert_int_equal(vnuma_rate_limit_allowance(&l, 14.0), 0);
    assert_int_equal(vnuma_rate_limit_allowance(&l, 15.0), (guint64) (100 * MIB));
}

static void
test_burst_caps_idle_time(void **unused)
{
    VnumaRateLimit l;

    vnuma_rate_limit_init(&l, 10 * MIB, 2);
    vnuma_rate_limit_allowance(&l, 0);
    /* An hour idle buys two seconds' worth, not an hour's. */
    assert_int_equal(vnuma_rate_limit_allowance(&l, 3600), (guint64) (20 * MIB));
}

static void
test_clock_backwards_and_zero_rate(void **unused)
{
    VnumaRateLimit l, off;

    vnuma_rate_limit_init(&l, MIB, 10);
    vnuma_rate_limit_allowance(&l, 100);
    assert_int_equal(vnuma_rate_limit_allowance(&l, 105), (guint64) (5 * MIB));
    assert_int_equal(vnuma_rate_limit_allowance(&l, 50), (guint64) (5 * MIB));
    /* Back at 100 after the jump: nothing new until past 105. */
    assert_int_equal(vnuma_rate_limit_allowance(&l, 104), (guint64) (5 * MIB));
    vnuma_rate_limit_init(&off, 0, 10);
    vnuma_rate_limit_allowance(&off, 0);
    assert_int_equal(vnuma_rate_limit_allowance(&off, 1000), 0);
    vnuma_rate_limit_init(&off, -5, 10);
    vnuma_rate_limit_allowance(&off, 0);
    assert_int_equal(vnuma_rate_limit_allowance(&off, 1000), 0);
}

/* Whatever the pass times and however greedily the caller spends, the
 * bytes moved by time t are at most rate × (t − t0). */
static void
test_bound_over_random_passes(void **unused)
{
    g_autoptr(GRand) rand = g_rand_new_with_seed(42);

    for (guint run = 0; run < 200; run++) {
        double rate = g_rand_double_range(rand, 1, 1000) * MIB;
        double t = g_rand_double_range(rand, 0, 1e6), t0 = t, spent = 0;
        VnumaRateLimit l;

        vnuma_rate_limit_init(&l, rate, g_rand_double_range(rand, 0.5, 10));
        for (guint pass = 0; pass < 100; pass++) {
            guint64 allowed = vnuma_rate_limit_allowance(&l, t);
            guint64 spend = g_rand_boolean(rand) ? allowed : (guint64) g_rand_double_range(rand, 0, (double) allowed + 1);

            spend = MIN(spend, allowed);
            vnuma_rate_limit_spend(&l, spend);
            spent += (double) spend;
            assert_true(spent <= rate * (t - t0) + 1);
            t += g_rand_double_range(rand, 0, 5);
        }
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_starts_empty_then_refills),
        cmocka_unit_test(test_burst_caps_idle_time),
        cmocka_unit_test(test_clock_backwards_and_zero_rate),
        cmocka_unit_test(test_bound_over_random_passes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
