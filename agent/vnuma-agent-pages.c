/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "agent/vnuma-agent-pages.h"

#include <errno.h>
#include <numa.h>
#include <numaif.h>
#include <unistd.h>

#include "lib/vnuma-error.h"
#include "lib/vnuma-math.h"

/* The walk goes by windows aligned to 2 MiB, the size of a transparent
 * huge page on x86-64: moving any address of one moves all of it, so a
 * window that split one would move more than it counts. */
#define WINDOW_BYTES (2ull << 20)
#define CHUNK_PAGES (WINDOW_BYTES / 4096)   /* pages of a window, at the smallest page size */

static gboolean
move_failed(GError **error, pid_t pid, const char *what)
{
    g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_IO, "%s pages of process %d: %s", what, (int) pid,
                g_strerror(errno));
    return FALSE;
}

/* Of @n pages at @pages, keeps those resident off @allowed (status: the
 * node each is on, or -errno when not resident). */
static guint
off_allowed(void **pages, const int *status, guint n, const VnumaCpuSet *allowed)
{
    guint kept = 0;

    for (guint i = 0; i < n; i++) {
        if (status[i] >= 0 && !vnuma_cpuset_contains(allowed, (guint) status[i]))
            pages[kept++] = pages[i];
    }
    return kept;
}

gboolean
vnuma_pages_follow(pid_t pid, guint64 *cursor, guint64 end, int target, const VnumaCpuSet *allowed,
                   guint64 max_move, guint64 max_scan, VnumaPagesStep *step, GError **error)
{
    const guint64 page = (guint64) sysconf(_SC_PAGESIZE);
    void *pages[CHUNK_PAGES];
    int status[CHUNK_PAGES];
    int nodes[CHUNK_PAGES];

    *step = (VnumaPagesStep) { 0 };
    if (numa_available() < 0) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_IO, "the kernel has no NUMA support");
        return FALSE;
    }
    for (guint i = 0; i < CHUNK_PAGES; i++)
        nodes[i] = target;
    *cursor -= *cursor % page;
    while (*cursor < end && step->moved < max_move && step->scanned < max_scan) {
        guint64 window_end = MIN((*cursor / WINDOW_BYTES + 1) * WINDOW_BYTES, end);
        guint n = (guint) vnuma_div_ceil(window_end - *cursor, page);
        guint wanted;

        for (guint i = 0; i < n; i++)
            pages[i] = (void *) (guintptr) (*cursor + i * page);
        /* Where they are (nodes NULL: query only), then move the ones
         * off the allowed nodes. */
        if (numa_move_pages((int) pid, n, pages, NULL, status, 0) < 0)
            return move_failed(error, pid, "locating");
        wanted = off_allowed(pages, status, n, allowed);
        /* The whole window or none of it; the first of a call moves even
         * past the allowance, so that a small one still makes progress
         * (the caller carries the excess as a debt). */
        if (step->moved > 0 && (guint64) wanted * page > max_move - step->moved)
            break;
        /* Where they are afterwards, asked again: the status the move
         * returns is per address, and a huge page moves whole with its
         * first address while the others may read -EBUSY. */
        if (wanted && (numa_move_pages((int) pid, wanted, pages, nodes, status, MPOL_MF_MOVE) < 0 ||
                       numa_move_pages((int) pid, wanted, pages, NULL, status, 0) < 0))
            return move_failed(error, pid, "moving");
        for (guint i = 0; i < wanted; i++) {
            if (status[i] == target)
                step->moved += page;
            else
                step->failed += page;
        }
        step->scanned += window_end - *cursor;
        *cursor = window_end;
    }
    return TRUE;
}
