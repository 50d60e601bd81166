/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The report's JSON writer: commas, nesting, escaping, numbers. */
#include "tests/testutil.h"

#include <math.h>

#include "lib/vnuma-json.h"

static void
test_nesting_and_commas(void **state)
{
    g_autoptr(VnumaJson) json = vnuma_json_new();

    vnuma_json_begin_object(json);
    vnuma_json_member_uint(json, "pass", 3);
    vnuma_json_key(json, "nodes");
    vnuma_json_begin_array(json);
    vnuma_json_begin_object(json);
    vnuma_json_member_int(json, "id", -1);
    vnuma_json_member_bool(json, "ok", TRUE);
    vnuma_json_end_object(json);
    vnuma_json_begin_array(json);
    vnuma_json_end_array(json);
    vnuma_json_null(json);
    vnuma_json_end_array(json);
    vnuma_json_member_string(json, "reason", NULL);
    vnuma_json_end_object(json);
    assert_str_equal(vnuma_json_text(json),
                     "{\"pass\":3,\"nodes\":[{\"id\":-1,\"ok\":true},[],null],\"reason\":null}");
}

static void
test_escaping(void **state)
{
    g_autoptr(VnumaJson) json = vnuma_json_new();

    vnuma_json_string(json, "a\"b\\c\nd\te\x01");
    assert_str_equal(vnuma_json_text(json), "\"a\\\"b\\\\c\\nd\\te\\u0001\"");
}

static void
test_numbers(void **state)
{
    g_autoptr(VnumaJson) json = vnuma_json_new();
    g_autofree char *text = NULL;

    vnuma_json_begin_array(json);
    vnuma_json_double(json, 0.25);
    vnuma_json_double(json, 1795450336.976);   /* epoch seconds keep their ms */
    vnuma_json_double(json, NAN);
    vnuma_json_double(json, INFINITY);
    vnuma_json_end_array(json);
    text = vnuma_json_steal(json);
    assert_str_equal(text, "[0.25,1795450336.976,null,null]");
    /* Stealing resets the writer. */
    vnuma_json_begin_object(json);
    vnuma_json_end_object(json);
    assert_str_equal(vnuma_json_text(json), "{}");
}

/* Unknown measurements (negative) are null, known ones numbers. */
static void
test_or_null(void **state)
{
    g_autoptr(VnumaJson) json = vnuma_json_new();

    vnuma_json_begin_object(json);
    vnuma_json_member_int_or_null(json, "a", -1);
    vnuma_json_member_int_or_null(json, "b", 0);
    vnuma_json_member_double_or_null(json, "c", -0.5);
    vnuma_json_member_double_or_null(json, "d", 0.75);
    vnuma_json_end_object(json);
    assert_str_equal(vnuma_json_text(json), "{\"a\":null,\"b\":0,\"c\":null,\"d\":0.75}");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nesting_and_commas),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_or_null),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
