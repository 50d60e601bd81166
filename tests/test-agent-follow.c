/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The invariants of memory following a client (issue 19): spans checked
 * against the cells matched in numa_maps fixtures of a two-cell QEMU,
 * the narrowing nodeset against the homes, a resumed nodeset. */
#include "tests/testutil.h"

#include <string.h>

#include "agent/vnuma-agent-follow.h"
#include "lib/vnuma-error.h"

#define CELL_KIB 131072ull   /* two cells of 128 MiB */

#define assert_no_error(e) assert_null(e)
/* The message names what is wrong: the test's words must be in it. */
#define assert_error_contains(e, text)                                   \
    do {                                                                 \
        assert_non_null(e);                                              \
        if (!strstr((e)->message, (text)))                               \
            fail_msg("'%s' does not say '%s'", (e)->message, (text));    \
    } while (0)

/* A QEMU with two 128 MiB cells (ram-node0 above ram-node1: created in
 * cell order, mapped top-down), each followed by its guard page, on a
 * host with nodes 0 and 1: the state right after a placement that came
 * late, cell 0's RAM mostly on node 1 (issue 19's run). */
static const char maps_two_cells[] =
    "55d0c8a00000-55d0c8b00000 r-xp 00000000 08:01 1234 /usr/bin/qemu-system-x86_64\n"
    "7f1b00000000-7f1b08000000 rw-p 00000000 00:00 0 \n"
    "7f1b08000000-7f1b08001000 ---p 00000000 00:00 0 \n"
    "7f1c00000000-7f1c08000000 rw-p 00000000 00:00 0 \n"
    "7f1c08000000-7f1c08001000 ---p 00000000 00:00 0 \n";
static const char numa_two_cells[] =
    "55d0c8a00000 default file=/usr/bin/qemu-system-x86_64 mapped=256 N0=256 kernelpagesize_kB=4\n"
    "7f1b00000000 default anon=32768 dirty=32768 N0=16384 N1=16384 kernelpagesize_kB=4\n"
    "7f1b08000000 default\n"
    "7f1c00000000 default anon=32768 dirty=32768 N0=3584 N1=29184 kernelpagesize_kB=4\n"
    "7f1c08000000 default\n";

/* The same process a pass later with a third writable 128 MiB mapping
 * above them (any allocation of that size): the candidates of the size
 * are no longer as many as the cells. */
static const char maps_three[] =
    "7f1b00000000-7f1b08000000 rw-p 00000000 00:00 0 \n"
    "7f1c00000000-7f1c08000000 rw-p 00000000 00:00 0 \n"
    "7f1d00000000-7f1d08000000 rw-p 00000000 00:00 0 \n";
static const char numa_three[] =
    "7f1b00000000 default anon=32768 N1=32768 kernelpagesize_kB=4\n"
    "7f1c00000000 default anon=32768 N0=32768 kernelpagesize_kB=4\n"
    "7f1d00000000 default anon=10 N0=10 kernelpagesize_kB=4\n";

/* One 128 MiB cell's mapping gone and another in its place lower down:
 * still two candidates, but cell 0's is not the mapping it was. */
static const char maps_moved[] =
    "7f1a00000000-7f1a08000000 rw-p 00000000 00:00 0 \n"
    "7f1b00000000-7f1b08000000 rw-p 00000000 00:00 0 \n";
static const char numa_moved[] =
    "7f1a00000000 default anon=32768 N0=32768 kernelpagesize_kB=4\n"
    "7f1b00000000 default anon=32768 N1=32768 kernelpagesize_kB=4\n";

static GPtrArray *
regions_of(const char *numa_maps, const char *maps)
{
    g_autoptr(GError) error = NULL;
    GPtrArray *regions = vnuma_mem_regions_parse(numa_maps, maps, &error);

    assert_no_error(error);
    assert_non_null(regions);
    return regions;
}

static const VnumaMemRegion *
matched(const GPtrArray *regions, const GArray *match, guint cell)
{
    gint r = g_array_index(match, gint, cell);

    return r >= 0 ? regions->pdata[r] : NULL;
}

/* Spans as the agent resolves them at a follow's first pass: cell i's
 * mapping, its pages going to @targets[i]. */
static VnumaFollowSpanView
span_of(const GPtrArray *regions, const GArray *match, guint cell, gint target)
{
    const VnumaMemRegion *r = matched(regions, match, cell);

    assert_non_null(r);
    return (VnumaFollowSpanView) { .cell = cell, .start = r->start, .end = r->end, .target = target };
}

static VnumaCpuSet *
set_of(const char *list)
{
    return vnuma_cpuset_parse(list, NULL);
}

static void
test_spans_follow_their_homes(void **state)
{
    const guint64 cells[] = { CELL_KIB, CELL_KIB };
    g_autoptr(GPtrArray) regions = regions_of(numa_two_cells, maps_two_cells);
    g_autoptr(GArray) match = vnuma_guest_ram_match(regions, cells, 2);
    VnumaFollowSpanView span0 = span_of(regions, match, 0, 0);
    VnumaFollowSpanView span1 = span_of(regions, match, 1, 1);
    g_autoptr(GError) error = NULL;

    /* Cell 0 is the highest mapping (created first, mapped top-down). */
    assert_int_equal(span0.start, 0x7f1c00000000ull);
    assert_int_equal(span1.start, 0x7f1b00000000ull);
    assert_true(vnuma_follow_check_span(&span0, matched(regions, match, 0), 0, &error));
    assert_true(vnuma_follow_check_span(&span1, matched(regions, match, 1), 1, &error));
    assert_no_error(error);
}

static void
test_span_off_its_home(void **state)
{
    const guint64 cells[] = { CELL_KIB, CELL_KIB };
    g_autoptr(GPtrArray) regions = regions_of(numa_two_cells, maps_two_cells);
    g_autoptr(GArray) match = vnuma_guest_ram_match(regions, cells, 2);
    /* Cell 0's client is homed on node 0 now; its pages going to node 1
     * would leave its home (issue 19's end state: both cells on 1). */
    VnumaFollowSpanView span0 = span_of(regions, match, 0, 1);
    VnumaFollowSpanView shared = span_of(regions, match, 0, 1);
    g_autoptr(GError) error = NULL;

    assert_false(vnuma_follow_check_span(&span0, matched(regions, match, 0), 0, &error));
    assert_error_contains(error, "cell 0's pages would go to node 1, off its client's home node 0");
    g_clear_error(&error);
    shared.shared = TRUE;   /* a cell spanning clients has no one home */
    assert_true(vnuma_follow_check_span(&shared, matched(regions, match, 0), 0, &error));
}

static void
test_span_mapping_no_longer_matched(void **state)
{
    const guint64 cells[] = { CELL_KIB, CELL_KIB };
    g_autoptr(GPtrArray) before = regions_of(numa_two_cells, maps_two_cells);
    g_autoptr(GArray) match_before = vnuma_guest_ram_match(before, cells, 2);
    VnumaFollowSpanView span0 = span_of(before, match_before, 0, 0);
    g_autoptr(GPtrArray) three = regions_of(numa_three, maps_three);
    g_autoptr(GArray) match_three = vnuma_guest_ram_match(three, cells, 2);
    g_autoptr(GPtrArray) moved = regions_of(numa_moved, maps_moved);
    g_autoptr(GArray) match_moved = vnuma_guest_ram_match(moved, cells, 2);
    g_autoptr(GError) error = NULL;

    /* Three candidates for two cells: unmatched, not guessed. */
    assert_null(matched(three, match_three, 0));
    assert_false(vnuma_follow_check_span(&span0, matched(three, match_three, 0), 0, &error));
    assert_error_contains(error, "is no longer the one numa_maps matches to it");
    g_clear_error(&error);
    /* Matched again, but to another mapping than the span walks. */
    assert_non_null(matched(moved, match_moved, 0));
    assert_false(vnuma_follow_check_span(&span0, matched(moved, match_moved, 0), 0, &error));
    assert_error_contains(error, "cell 0's mapping 0x7f1c00000000-0x7f1c08000000");
}

static void
test_narrowing_is_the_homes(void **state)
{
    g_autoptr(VnumaCpuSet) homes = set_of("0-1");
    g_autoptr(VnumaCpuSet) one = set_of("1");
    g_autoptr(GError) error = NULL;

    assert_true(vnuma_follow_check_narrowing(homes, homes, homes, &error));
    assert_no_error(error);
    /* "nodeset now 1" for a domain homed on nodes 0 and 1. */
    assert_false(vnuma_follow_check_narrowing(one, homes, homes, &error));
    assert_error_contains(error, "narrowing the nodeset to 1, not to the home nodes' memory nodes 0-1");
    g_clear_error(&error);
    /* The agent's state drifted from the record libvirt holds. */
    assert_false(vnuma_follow_check_narrowing(one, one, homes, &error));
    assert_error_contains(error, "the record libvirt holds has the homes' memory nodes 0-1, the agent's state 1");
}

static void
test_resume_nodeset(void **state)
{
    g_autoptr(VnumaCpuSet) homes = set_of("0-1");
    g_autoptr(VnumaCpuSet) wider = set_of("0-2");
    g_autoptr(VnumaCpuSet) narrower = set_of("1");
    g_autoptr(GError) error = NULL;
    gboolean following = TRUE;

    assert_true(vnuma_follow_check_resume(NULL, homes, FALSE, &following, &error));
    assert_false(following);
    assert_true(vnuma_follow_check_resume(homes, homes, TRUE, &following, &error));
    assert_false(following);
    /* Wider after a recorded move: that move's memory still follows. */
    assert_true(vnuma_follow_check_resume(wider, homes, TRUE, &following, &error));
    assert_true(following);
    assert_no_error(error);
    /* Wider with no move decided: no follow of "the move". */
    assert_false(vnuma_follow_check_resume(wider, homes, FALSE, &following, &error));
    assert_false(following);
    assert_error_contains(error, "the record holds no move");
    g_clear_error(&error);
    assert_false(vnuma_follow_check_resume(narrower, homes, TRUE, &following, &error));
    assert_error_contains(error, "the live nodeset 1 lacks home nodes' memory nodes of 0-1");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spans_follow_their_homes),
        cmocka_unit_test(test_span_off_its_home),
        cmocka_unit_test(test_span_mapping_no_longer_matched),
        cmocka_unit_test(test_narrowing_is_the_homes),
        cmocka_unit_test(test_resume_nodeset),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
