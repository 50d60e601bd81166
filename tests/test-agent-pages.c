/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Page migration through libnuma on this very process: real
 * move_pages(2) calls. On a one-node host every page is moved to the
 * node it is on, which the kernel still does page by page and reports;
 * the multi-node proof is the NUMA rig's. */
#include "tests/testutil.h"

#include <numa.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "agent/vnuma-agent-pages.h"

#define MIB (1024ull * 1024ull)

typedef struct {
    char *mapped;
    gsize mapped_len;
    char *area;      /* 2 MiB-aligned, inside mapped */
    gsize len;
} Area;

static int
setup(void **state)
{
    Area *a = g_new0(Area, 1);

    a->len = 4 * MIB;
    a->mapped_len = a->len + 2 * MIB;
    a->mapped = mmap(NULL, a->mapped_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(a->mapped != MAP_FAILED);
    a->area = (char *) (((guintptr) a->mapped + 2 * MIB - 1) & ~(guintptr) (2 * MIB - 1));
    /* Resident, and not as transparent huge pages: 4 KiB pages. */
    madvise(a->area, a->len, MADV_NOHUGEPAGE);
    memset(a->area, 7, a->len);
    *state = a;
    return 0;
}

static int
teardown(void **state)
{
    Area *a = *state;

    munmap(a->mapped, a->mapped_len);
    g_free(a);
    return 0;
}

static void
test_bounded_steps(void **state)
{
    Area *a = *state;
    guint64 start = (guint64) (guintptr) a->area, end = start + a->len, cursor = start;
    g_autoptr(VnumaCpuSet) nowhere = vnuma_cpuset_new();
    g_autoptr(GError) error = NULL;
    VnumaPagesStep step;

    /* Allowed nowhere: every resident page is to go to node 0. The walk
     * goes by 2 MiB windows, each whole or not at all: 1 MiB allowed
     * still moves the call's first window (2 MiB) … */
    assert_true(vnuma_pages_follow(getpid(), &cursor, end, 0, nowhere, MIB, G_MAXUINT64, &step, &error));
    assert_int_equal(step.moved, 2 * MIB);
    assert_int_equal(step.failed, 0);
    assert_int_equal(cursor, start + 2 * MIB);
    /* … 3 MiB allowed stops before the second window … */
    cursor = start;
    assert_true(vnuma_pages_follow(getpid(), &cursor, end, 0, nowhere, 3 * MIB, G_MAXUINT64, &step, &error));
    assert_int_equal(step.moved, 2 * MIB);
    assert_int_equal(cursor, start + 2 * MIB);
    /* … a cursor inside a window walks to its end first, then on by
     * whole windows; 4 MiB allowed takes both that remainder and the
     * next window. */
    cursor = start + MIB;
    assert_true(vnuma_pages_follow(getpid(), &cursor, end, 0, nowhere, 4 * MIB, G_MAXUINT64, &step, &error));
    assert_int_equal(step.moved, 3 * MIB);
    assert_int_equal(step.scanned, 3 * MIB);
    assert_int_equal(cursor, end);
    assert_int_equal(numa_node_of_cpu(0) >= 0, TRUE);
}

static void
test_allowed_pages_stay(void **state)
{
    Area *a = *state;
    guint64 start = (guint64) (guintptr) a->area, end = start + a->len, cursor = start;
    g_autoptr(VnumaCpuSet) all = vnuma_cpuset_new_range(0, (guint) numa_max_node());
    g_autoptr(GError) error = NULL;
    VnumaPagesStep step;

    /* Every page is on an allowed node: looked at, none moved; the scan
     * bound stops the walk half way. */
    assert_true(vnuma_pages_follow(getpid(), &cursor, end, 0, all, G_MAXUINT64, 2 * MIB, &step, &error));
    assert_int_equal(step.moved, 0);
    assert_int_equal(step.scanned, 2 * MIB);
    assert_int_equal(cursor, start + 2 * MIB);
}

static void
test_errors(void **state)
{
    Area *a = *state;
    guint64 start = (guint64) (guintptr) a->area, cursor = start;
    g_autoptr(VnumaCpuSet) nowhere = vnuma_cpuset_new();
    g_autoptr(GError) error = NULL;
    VnumaPagesStep step;

    /* A process that does not exist. */
    assert_false(vnuma_pages_follow(G_MAXINT32 - 1, &cursor, start + MIB, 0, nowhere, MIB,
                                    G_MAXUINT64, &step, &error));
    assert_non_null(strstr(error->message, "process"));
    g_clear_error(&error);
    /* A node the host does not have: the kernel refuses the move. */
    cursor = start;
    assert_false(vnuma_pages_follow(getpid(), &cursor, start + MIB, numa_max_node() + 1, nowhere,
                                    MIB, G_MAXUINT64, &step, &error));
    assert_non_null(strstr(error->message, "moving pages"));
    assert_int_equal(step.moved, 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bounded_steps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_allowed_pages_stay, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
