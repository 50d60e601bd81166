/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The enum <-> string idiom: one table gives both directions, out of
 * range gives NULL or -1, and every enum vnuma prints round-trips. */
#include "tests/testutil.h"

#include "lib/vnuma-enum.h"
#include "lib/vnuma-layout.h"
#include "lib/vnuma-policy.h"
#include "lib/vnuma-rebalance.h"

typedef enum { COLOUR_RED, COLOUR_GREEN, COLOUR_LAST } Colour;
VNUMA_ENUM_DECL(colour, Colour);
VNUMA_ENUM_IMPL(colour, Colour, COLOUR_LAST, "red", "green");

static void
test_both_directions(void **unused)
{
    g_autofree char *joined = colour_join(" or ");

    assert_string_equal(colour_to_string(COLOUR_GREEN), "green");
    assert_int_equal(colour_from_string("red"), COLOUR_RED);
    assert_int_equal(colour_from_string("blue"), -1);
    assert_int_equal(colour_from_string(NULL), -1);
    assert_null(colour_to_string(COLOUR_LAST));
    assert_null(colour_to_string((Colour) -1));
    assert_string_equal(joined, "red or green");
}

#define ROUND_TRIP(prefix, last) \
    for (gint v = 0; v < (last); v++) \
        assert_int_equal(prefix##_from_string(prefix##_to_string(v)), v)

static void
test_vnuma_enums_round_trip(void **unused)
{
    ROUND_TRIP(vnuma_move_kind, VNUMA_MOVE_KIND_LAST);
    ROUND_TRIP(vnuma_autosize, VNUMA_AUTOSIZE_LAST);
    ROUND_TRIP(vnuma_topology_mode, VNUMA_TOPOLOGY_LAST);
    ROUND_TRIP(vnuma_memory_mode, VNUMA_MEMORY_MODE_LAST);
    ROUND_TRIP(vnuma_sized_by, VNUMA_SIZED_BY_LAST);
    assert_string_equal(vnuma_move_kind_to_string(VNUMA_MOVE_LOCALITY), "locality");
    assert_string_equal(vnuma_sized_by_to_string(VNUMA_SIZED_BY_OWNER_CELLS), "owner-cells");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_both_directions),
        cmocka_unit_test(test_vnuma_enums_round_trip),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
