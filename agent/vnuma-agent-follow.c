/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "agent/vnuma-agent-follow.h"

#include "lib/vnuma-error.h"

static gboolean G_GNUC_PRINTF(2, 3)
violation(GError **error, const char *format, ...)
{
    va_list args;

    va_start(args, format);
    g_propagate_error(error, g_error_new_valist(VNUMA_ERROR, VNUMA_ERROR_INVALID, format, args));
    va_end(args);
    return FALSE;
}

gboolean
vnuma_follow_check_span(const VnumaFollowSpanView *span, const VnumaMemRegion *matched,
                        guint home_memory_node, GError **error)
{
    if (!matched || matched->start != span->start || matched->end != span->end)
        return violation(error, "cell %u's mapping %#" G_GINT64_MODIFIER "x-%#" G_GINT64_MODIFIER "x is no longer "
                         "the one numa_maps matches to it: its pages may be another cell's", span->cell,
                         span->start, span->end);
    if (!span->shared && span->target != (gint) home_memory_node)
        return violation(error, "cell %u's pages would go to node %d, off its client's home node %u", span->cell,
                         span->target, home_memory_node);
    return TRUE;
}

gboolean
vnuma_follow_check_narrowing(const VnumaCpuSet *narrow, const VnumaCpuSet *homes, const VnumaCpuSet *recorded,
                             GError **error)
{
    g_autofree char *a = vnuma_cpuset_format(narrow);
    g_autofree char *b = vnuma_cpuset_format(homes);

    if (!vnuma_cpuset_equal(narrow, homes))
        return violation(error, "narrowing the nodeset to %s, not to the home nodes' memory nodes %s", a, b);
    if (recorded && !vnuma_cpuset_equal(recorded, homes)) {
        g_autofree char *c = vnuma_cpuset_format(recorded);

        return violation(error, "the record libvirt holds has the homes' memory nodes %s, the agent's state %s",
                         c, b);
    }
    return TRUE;
}

gboolean
vnuma_follow_check_resume(const VnumaCpuSet *live, const VnumaCpuSet *homes, gboolean move_recorded,
                          gboolean *following, GError **error)
{
    g_autoptr(VnumaCpuSet) missing = NULL;
    g_autofree char *a = NULL;
    g_autofree char *b = NULL;

    *following = FALSE;
    if (!live || vnuma_cpuset_is_empty(live) || vnuma_cpuset_equal(live, homes))
        return TRUE;
    missing = vnuma_cpuset_copy(homes);
    vnuma_cpuset_subtract(missing, live);
    if (vnuma_cpuset_is_empty(missing) && move_recorded) {
        *following = TRUE;
        return TRUE;
    }
    a = vnuma_cpuset_format(live);
    b = vnuma_cpuset_format(homes);
    if (!vnuma_cpuset_is_empty(missing))
        return violation(error, "the live nodeset %s lacks home nodes' memory nodes of %s", a, b);
    return violation(error, "the live nodeset %s is wider than the home nodes' memory nodes %s, "
                     "and the record holds no move", a, b);
}
