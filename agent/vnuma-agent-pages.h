/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <sys/types.h>

#include "lib/vnuma-cpuset.h"

G_BEGIN_DECLS

/* Page migration of a running QEMU process through libnuma
 * (numa_move_pages, i.e. move_pages(2) on another process; root or
 * CAP_SYS_NICE), a bounded step at a time, so memory follows a moved
 * client at the rate the caller's limiter allows instead of all at once
 * as a cpuset.mems change would move it. */

typedef struct {
    guint64 scanned;   /* bytes of address range looked at */
    guint64 moved;     /* bytes of pages that now sit on the target */
    guint64 failed;    /* bytes of pages the kernel would not move (busy, no memory) */
} VnumaPagesStep;

/* Walks [*@cursor, @end) of process @pid from *@cursor, in windows
 * aligned to 2 MiB (a transparent huge page moves whole): every resident
 * page not on a node of @allowed is moved to node @target. Stops before
 * a window whose pages would take the bytes moved past @max_move (the
 * first window moves regardless), or after @max_scan bytes scanned, and
 * advances *@cursor past what it dealt with (== @end: done). Pages not
 * resident are skipped. An error (the process is gone, no NUMA support,
 * not permitted) names the cause; *@step counts what was done before it. */
gboolean vnuma_pages_follow(pid_t pid, guint64 *cursor, guint64 end, int target,
                            const VnumaCpuSet *allowed, guint64 max_move, guint64 max_scan,
                            VnumaPagesStep *step, GError **error);

G_END_DECLS
