/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "tests/testutil.h"

#include <string.h>

#include "lib/vnuma-cpuset.h"
#include "lib/vnuma-error.h"
#include "lib/vnuma-math.h"

static VnumaCpuSet *
parse_ok(const char *text)
{
    g_autoptr(GError) error = NULL;
    VnumaCpuSet *set = vnuma_cpuset_parse(text, &error);

    if (!set) {
        print_error("'%s' should parse: %s\n", text, error->message);
        fail();
    }
    return set;
}

static void
assert_format(const VnumaCpuSet *set, const char *expected)
{
    g_autofree char *text = vnuma_cpuset_format(set);

    assert_str_equal(text, expected);
}

/* Parses @text, checks its canonical form, and that the canonical form
 * reads back as the same set. */
static void
assert_round_trip(const char *text, const char *expected)
{
    g_autoptr(VnumaCpuSet) set = parse_ok(text);
    g_autoptr(VnumaCpuSet) again = parse_ok(expected);

    assert_format(set, expected);
    assert_true(vnuma_cpuset_equal(set, again));
}

static void
test_parse_format(void **state)
{
    (void) state;
    assert_round_trip("0-3,8,^2", "0-1,3,8");
    assert_round_trip("0", "0");
    assert_round_trip("5-5", "5");
    assert_round_trip("3,1,2", "1-3");
    assert_round_trip("  0-1 , 4 ,6-7\n", "0-1,4,6-7");
    assert_round_trip("0 - 3", "0-3");
    assert_round_trip("0-63,64-127", "0-127");
    assert_round_trip("0-7,^0,^7", "1-6");
    assert_round_trip("65535", "65535");
    /* libvirt reads left to right: an exclusion applies to what came before. */
    assert_round_trip("^2,0-3", "0-3");
    assert_round_trip("0-3,^2,2", "0-3");
}

static void
assert_parse_error(const char *text, const char *fragment)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(VnumaCpuSet) set = vnuma_cpuset_parse(text, &error);

    if (set) {
        g_autofree char *got = vnuma_cpuset_format(set);

        print_error("'%s' should be refused, parsed as '%s'\n", text, got);
        fail();
    }
    assert_non_null(error);
    assert_true(g_error_matches(error, VNUMA_ERROR, VNUMA_ERROR_INVALID));
    if (!strstr(error->message, fragment)) {
        print_error("'%s': error '%s' lacks '%s'\n", text, error->message, fragment);
        fail();
    }
}

static void
test_parse_errors(void **state)
{
    (void) state;
    assert_parse_error("3-1", "range 3-1 is reversed");
    assert_parse_error("abc", "expected a number");
    assert_parse_error("1,,2", "expected a number");
    assert_parse_error("1-", "expected a number");
    assert_parse_error("-1", "expected a number");
    assert_parse_error("1;2", "unexpected ';'");
    assert_parse_error("1-3-5", "unexpected '-'");
    assert_parse_error("^1-3", "unexpected '-'");
    assert_parse_error("0x3", "unexpected 'x'");
    assert_parse_error("", "empty CPU list");
    assert_parse_error("   ", "empty CPU list");
    assert_parse_error("2,^2", "is empty");
    assert_parse_error("^4", "is empty");
    assert_parse_error("65536", "above 65535");
    assert_parse_error("0-65536", "above 65535");
    assert_parse_error("99999999999999999999999", "above 65535");
}

static void
test_set_operations(void **state)
{
    g_autoptr(VnumaCpuSet) a = parse_ok("0-7");
    g_autoptr(VnumaCpuSet) b = parse_ok("4-11,100");
    g_autoptr(VnumaCpuSet) work = NULL;
    g_autoptr(VnumaCpuSet) empty = vnuma_cpuset_new();

    (void) state;
    assert_int_equal(vnuma_cpuset_count(a), 8);
    assert_int_equal(vnuma_cpuset_count(b), 9);
    assert_true(vnuma_cpuset_intersects(a, b));
    assert_false(vnuma_cpuset_is_subset(a, b));

    work = vnuma_cpuset_copy(a);
    vnuma_cpuset_union(work, b);
    assert_format(work, "0-11,100");
    assert_true(vnuma_cpuset_is_subset(a, work));
    assert_true(vnuma_cpuset_is_subset(b, work));
    g_clear_pointer(&work, vnuma_cpuset_free);

    work = vnuma_cpuset_copy(a);
    vnuma_cpuset_intersect(work, b);
    assert_format(work, "4-7");
    g_clear_pointer(&work, vnuma_cpuset_free);

    /* @b is longer than @a: its high word must not leak in. */
    work = vnuma_cpuset_copy(a);
    vnuma_cpuset_subtract(work, b);
    assert_format(work, "0-3");
    g_clear_pointer(&work, vnuma_cpuset_free);

    work = vnuma_cpuset_copy(b);
    vnuma_cpuset_subtract(work, a);
    assert_format(work, "8-11,100");
    assert_false(vnuma_cpuset_intersects(work, a));
    g_clear_pointer(&work, vnuma_cpuset_free);

    /* A copy is independent of its source. */
    work = vnuma_cpuset_copy(a);
    vnuma_cpuset_add(work, 40);
    assert_false(vnuma_cpuset_contains(a, 40));
    assert_false(vnuma_cpuset_equal(a, work));
    g_clear_pointer(&work, vnuma_cpuset_free);

    /* The empty set, and sets of different storage sizes. */
    assert_true(vnuma_cpuset_is_empty(empty));
    assert_int_equal(vnuma_cpuset_count(empty), 0);
    assert_true(vnuma_cpuset_is_subset(empty, a));
    assert_false(vnuma_cpuset_intersects(empty, a));
    assert_format(empty, "");
    work = vnuma_cpuset_copy(empty);
    assert_true(vnuma_cpuset_equal(work, empty));
    vnuma_cpuset_add(work, 1000);
    vnuma_cpuset_remove(work, 1000);
    assert_true(vnuma_cpuset_is_empty(work));
    assert_true(vnuma_cpuset_equal(work, empty));
    assert_true(vnuma_cpuset_equal(empty, work));
    vnuma_cpuset_remove(work, 5000);  /* beyond the storage: no-op */
    assert_false(vnuma_cpuset_contains(work, 5000));
    vnuma_cpuset_intersect(work, empty);
    assert_true(vnuma_cpuset_is_empty(work));
    g_clear_pointer(&work, vnuma_cpuset_free);

    work = vnuma_cpuset_new_range(2, 5);
    assert_format(work, "2-5");
    vnuma_cpuset_add_range(work, 7, 7);
    vnuma_cpuset_remove(work, 3);
    assert_format(work, "2,4-5,7");
    assert_true(vnuma_cpuset_contains(work, 7));
    assert_false(vnuma_cpuset_contains(work, 3));
    assert_false(vnuma_cpuset_contains(work, 65535));
}

static void
test_iteration(void **state)
{
    g_autoptr(VnumaCpuSet) set = parse_ok("63,64,127,128");
    g_autoptr(VnumaCpuSet) empty = vnuma_cpuset_new();
    g_autoptr(VnumaCpuSet) full = vnuma_cpuset_new_range(0, 191);
    g_autoptr(GString) seen = g_string_new(NULL);
    guint n = 0;

    (void) state;
    assert_int_equal(vnuma_cpuset_first(set), 63);
    assert_int_equal(vnuma_cpuset_next(set, 63), 64);
    assert_int_equal(vnuma_cpuset_next(set, 64), 127);
    assert_int_equal(vnuma_cpuset_next(set, 127), 128);
    assert_int_equal(vnuma_cpuset_next(set, 128), -1);
    assert_int_equal(vnuma_cpuset_next(set, 0), 63);
    assert_int_equal(vnuma_cpuset_next(set, 65), 127);
    assert_int_equal(vnuma_cpuset_next(set, 1000), -1);
    assert_int_equal(vnuma_cpuset_last(set), 128);
    assert_int_equal(vnuma_cpuset_count(set), 4);
    assert_format(set, "63-64,127-128");

    VNUMA_CPUSET_FOREACH(set, id)
        g_string_append_printf(seen, "%d;", id);
    assert_str_equal(seen->str, "63;64;127;128;");

    assert_int_equal(vnuma_cpuset_first(empty), -1);
    assert_int_equal(vnuma_cpuset_last(empty), -1);
    VNUMA_CPUSET_FOREACH(empty, id) {
        (void) id;
        fail();
    }

    VNUMA_CPUSET_FOREACH(full, id) {
        assert_int_equal(id, (gint) n);
        n++;
    }
    assert_int_equal(n, 192);
    assert_int_equal(vnuma_cpuset_last(full), 191);
    assert_format(full, "0-191");
}

/* The printf-free decimal and the appended list read as printf's and
 * vnuma_cpuset_format's would, appended after what @out already holds. */
static void
test_append(void **state)
{
    static const guint64 values[] = { 0, 7, 9, 10, 99, 100, 65535, 4294967295u, G_MAXUINT64 };
    g_autoptr(VnumaCpuSet) set = parse_ok("0-3,8,10-11,200");

    (void) state;
    for (gsize i = 0; i < G_N_ELEMENTS(values); i++) {
        g_autoptr(GString) out = g_string_new("x");
        g_autofree char *expected = g_strdup_printf("x%" G_GUINT64_FORMAT, values[i]);

        vnuma_string_append_uint(out, values[i]);
        assert_str_equal(out->str, expected);
    }
    g_autoptr(GString) list = g_string_new("cpus=");
    vnuma_cpuset_append(list, set);
    assert_str_equal(list->str, "cpus=0-3,8,10-11,200");
}

/* Ceiling division, at the edges and where n + d - 1 would wrap. */
static void
test_div_ceil(void **state)
{
    assert_int_equal(vnuma_div_ceil(0, 4), 0);
    assert_int_equal(vnuma_div_ceil(1, 4), 1);
    assert_int_equal(vnuma_div_ceil(12, 10), 2);
    assert_int_equal(vnuma_div_ceil(20, 10), 2);
    assert_int_equal(vnuma_div_ceil(21, 10), 3);
    assert_int_equal(vnuma_div_ceil(7, 1), 7);
    assert_true(vnuma_div_ceil(G_MAXUINT64, 2) == G_MAXUINT64 / 2 + 1);
}

static void
assert_decimal(const char *text, guint64 max, gboolean ok, guint64 expected, gsize consumed)
{
    const char *p = text;
    guint64 value = 12345;

    if (vnuma_parse_decimal(&p, max, &value) != ok)
        fail_msg("'%s' (max %" G_GUINT64_FORMAT "): expected %s", text, max, ok ? "a number" : "a refusal");
    if (ok)
        assert_true(value == expected);
    else
        assert_true(value == 12345);
    assert_int_equal(p - text, consumed);
}

static void
test_parse_decimal(void **state)
{
    (void) state;
    assert_decimal("0", 10, TRUE, 0, 1);
    assert_decimal("42 rest", 100, TRUE, 42, 2);
    assert_decimal("007,", 100, TRUE, 7, 3);
    assert_decimal("4095", 4095, TRUE, 4095, 4);
    assert_decimal("4096", 4095, FALSE, 0, 0);
    assert_decimal("18446744073709551615", G_MAXUINT64, TRUE, G_MAXUINT64, 20);
    assert_decimal("18446744073709551616", G_MAXUINT64, FALSE, 0, 0);
    assert_decimal("99999999999999999999999", G_MAXUINT64, FALSE, 0, 0);
    assert_decimal("4294967296", G_MAXUINT, FALSE, 0, 0);
    assert_decimal("5", 3, FALSE, 0, 0);
    assert_decimal("", 10, FALSE, 0, 0);
    assert_decimal(" 1", 10, FALSE, 0, 0);
    assert_decimal("+1", 10, FALSE, 0, 0);
    assert_decimal("-1", 10, FALSE, 0, 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_format),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_set_operations),
        cmocka_unit_test(test_iteration),
        cmocka_unit_test(test_append),
        cmocka_unit_test(test_div_ceil),
        cmocka_unit_test(test_parse_decimal),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
