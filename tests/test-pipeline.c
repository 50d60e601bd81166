/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The pipeline: sizing -> placement -> finish as one call gives what the
 * stages give by hand; SIZE_ONLY stops before home nodes; the caller's
 * warnings come after sizing's; an unmanaged domain is not placed. */
#include "tests/testutil.h"

#include "lib/vnuma-pipeline.h"
#include "lib/vnuma-sizing.h"

#define GIB 1048576ull   /* KiB */

static void
assert_same_layout(const VnumaLayout *a, const VnumaLayout *b)
{
    g_autofree char *pins_a = vnuma_pinset_digest(a->pins);
    g_autofree char *pins_b = vnuma_pinset_digest(b->pins);

    assert_int_equal(a->managed, b->managed);
    assert_int_equal(a->clients->len, b->clients->len);
    for (guint i = 0; i < a->clients->len; i++)
        assert_int_equal(((VnumaClient *) a->clients->pdata[i])->home_node,
                         ((VnumaClient *) b->clients->pdata[i])->home_node);
    assert_string_equal(pins_a, pins_b);
    assert_int_equal(a->warnings->len, b->warnings->len);
}

static void
test_run_is_the_stages(void **unused)
{
    g_autoptr(VnumaHost) host = vnuma_test_host("epyc-nps4-2s");
    g_autoptr(VnumaRequest) r = vnuma_test_request(32, 64 * GIB);
    VnumaNodeLoad loads[] = { { .node_id = 0, .vcpus = 8 }, { .node_id = 1, .vcpus = 4 } };
    g_autoptr(VnumaLayout) by_hand = NULL;
    g_autoptr(VnumaLayout) piped = NULL;
    VnumaSettings settings;

    vnuma_settings_init(&settings);
    by_hand = vnuma_sizing_run(host, &settings, r);
    vnuma_placement_run(host, by_hand, loads, G_N_ELEMENTS(loads));
    vnuma_layout_finish(by_hand, host, r);
    piped = vnuma_pipeline_run(host, &settings, r, loads, G_N_ELEMENTS(loads), NULL, 0);
    assert_true(piped->managed);
    assert_same_layout(by_hand, piped);
    vnuma_settings_clear(&settings);
}

static void
test_size_only_and_warnings(void **unused)
{
    g_autoptr(VnumaHost) host = vnuma_test_host("epyc-nps4-2s");
    g_autoptr(VnumaRequest) r = vnuma_test_request(32, 64 * GIB);
    const char *const warnings[] = { "from the configuration", NULL };
    g_autoptr(VnumaLayout) layout = NULL;
    VnumaSettings settings;

    vnuma_settings_init(&settings);
    layout = vnuma_pipeline_run(host, &settings, r, NULL, 0, warnings, VNUMA_PIPELINE_SIZE_ONLY);
    assert_true(layout->managed);
    for (guint i = 0; i < layout->clients->len; i++)
        assert_int_equal(((VnumaClient *) layout->clients->pdata[i])->home_node, -1);
    assert_int_equal(layout->warnings->len, 1);
    assert_string_equal(layout->warnings->pdata[0], "from the configuration");
    vnuma_pipeline_place(host, layout, r, NULL, 0);
    for (guint i = 0; i < layout->clients->len; i++)
        assert_true(((VnumaClient *) layout->clients->pdata[i])->home_node >= 0);
    vnuma_settings_clear(&settings);
}

static void
test_unmanaged_not_placed(void **unused)
{
    g_autoptr(VnumaHost) host = vnuma_test_host("epyc-nps4-2s");
    g_autoptr(VnumaRequest) r = vnuma_test_request(32, 64 * GIB);
    g_autoptr(VnumaLayout) layout = NULL;
    VnumaSettings settings;

    vnuma_settings_init(&settings);
    vnuma_request_add_override(r, "managed", "no");
    layout = vnuma_pipeline_run(host, &settings, r, NULL, 0, NULL, 0);
    assert_false(layout->managed);
    assert_non_null(layout->reason);
    for (guint i = 0; i < layout->clients->len; i++)
        assert_int_equal(((VnumaClient *) layout->clients->pdata[i])->home_node, -1);
    vnuma_settings_clear(&settings);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_is_the_stages),
        cmocka_unit_test(test_size_only_and_warnings),
        cmocka_unit_test(test_unmanaged_not_placed),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
