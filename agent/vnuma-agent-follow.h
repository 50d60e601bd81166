/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "probe/vnuma-numamaps.h"
#include "lib/vnuma-cpuset.h"

G_BEGIN_DECLS

/* The invariants of memory following a client (docs/agent.md, issue 19),
 * as pure checks: vnumad calls them before each step of page migration
 * and before narrowing a nodeset, and on a violation logs an error and
 * stops following that domain rather than move memory on. Each returns
 * FALSE with @error naming what is wrong. */

/* One guest RAM mapping being walked: guest cell @cell's, from @start to
 * @end, its pages going to host node @target; @shared: the cell spans
 * clients (its pages go to the first one's node: no home to check). */
typedef struct {
    guint cell;
    gboolean shared;
    guint64 start;
    guint64 end;
    gint target;
} VnumaFollowSpanView;

/* A follow never moves memory off a cell's own home node: the span's
 * mapping must still be the one @cell is matched to in this pass's
 * numa_maps (@matched, NULL when it no longer is matched: the mapping
 * could now be another cell's), and its target must be the memory node
 * of the home of the client owning the cell (@home_memory_node). */
gboolean vnuma_follow_check_span(const VnumaFollowSpanView *span, const VnumaMemRegion *matched,
                                 guint home_memory_node, GError **error);

/* A narrowing nodeset is always the union of the domain's home nodes'
 * memory nodes: @narrow must equal @homes (from the agent's state) and,
 * when known, @recorded (the same union over the record libvirt holds). */
gboolean vnuma_follow_check_narrowing(const VnumaCpuSet *narrow, const VnumaCpuSet *homes,
                                      const VnumaCpuSet *recorded, GError **error);

/* What a resumed domain's live nodeset @live (NULL: none) says, against
 * its homes' memory nodes @homes: equal (or none), nothing follows;
 * wider while the record holds a move (@move_recorded, a logged
 * decision), that move's memory is still following (@following).
 * Anything else — narrower, disjoint, or wider with no move recorded —
 * is a nodeset the agent never set: a violation. */
gboolean vnuma_follow_check_resume(const VnumaCpuSet *live, const VnumaCpuSet *homes, gboolean move_recorded,
                                   gboolean *following, GError **error);

G_END_DECLS
