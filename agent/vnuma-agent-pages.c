/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "agent/vnuma-agent-pages.h"

#include <errno.h>
#include <numa.h>
#include <numaif.h>
#include <unistd.h>

#include "lib/vnuma-error.h"

#define CHUNK_PAGES 512

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
        guint64 room = (max_move - step->moved) / page;
        guint n = (guint) MIN((end - *cursor + page - 1) / page, (guint64) CHUNK_PAGES);
        guint wanted;

        for (guint i = 0; i < n; i++)
            pages[i] = (void *) (guintptr) (*cursor + i * page);
        /* Where they are (nodes NULL: query only), then move the ones
         * off the allowed nodes, as many as the allowance covers. */
        if (numa_move_pages((int) pid, n, pages, NULL, status, 0) < 0)
            return move_failed(error, pid, "locating");
        wanted = off_allowed(pages, status, n, allowed);
        if (wanted > room) {
            /* Stop at the page the allowance runs out on: the rest of
             * the chunk is looked at again next time. */
            wanted = (guint) room;
            n = wanted ? (guint) (((guint64) (guintptr) pages[wanted - 1] - *cursor) / page) + 1 : 0;
        }
        /* Where they are afterwards, asked again: the status the move
         * returns is per address, and a transparent huge page moves
         * whole with its first address while the others read -EBUSY. */
        if (wanted && (numa_move_pages((int) pid, wanted, pages, nodes, status, MPOL_MF_MOVE) < 0 ||
                       numa_move_pages((int) pid, wanted, pages, NULL, status, 0) < 0))
            return move_failed(error, pid, "moving");
        for (guint i = 0; i < wanted; i++) {
            if (status[i] == target)
                step->moved += page;
            else
                step->failed += page;
        }
        if (n == 0)
            break;
        *cursor = MIN(*cursor + (guint64) n * page, end);
        step->scanned += (guint64) n * page;
    }
    return TRUE;
}
