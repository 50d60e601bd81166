/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Highest CPU, vCPU or node id accepted from any input. libvirt caps
 * vCPUs at 16384 for KVM; hosts stay well below this too. */
#define VNUMA_CPUSET_MAX_ID 65535u

/* A set of small non-negative ids (host CPUs, vCPUs or NUMA nodes),
 * written in libvirt's list syntax "0-3,8,^2". */
typedef struct _VnumaCpuSet VnumaCpuSet;

VnumaCpuSet *vnuma_cpuset_new(void);
VnumaCpuSet *vnuma_cpuset_new_range(guint first, guint last);
VnumaCpuSet *vnuma_cpuset_copy(const VnumaCpuSet *set);
void vnuma_cpuset_free(VnumaCpuSet *set);

VnumaCpuSet *vnuma_cpuset_parse(const char *text, GError **error);
char *vnuma_cpuset_format(const VnumaCpuSet *set);
/* The same list appended to @out. */
void vnuma_cpuset_append(GString *out, const VnumaCpuSet *set);
/* Appends @value in decimal, as "%" G_GUINT64_FORMAT would, without
 * printf's cost (format parsing, a temporary string): the hook formats
 * every CPU of the host at each call. */
void vnuma_string_append_uint(GString *out, guint64 value);

void vnuma_cpuset_add(VnumaCpuSet *set, guint id);
void vnuma_cpuset_add_range(VnumaCpuSet *set, guint first, guint last);
void vnuma_cpuset_remove(VnumaCpuSet *set, guint id);
gboolean vnuma_cpuset_contains(const VnumaCpuSet *set, guint id);
guint vnuma_cpuset_count(const VnumaCpuSet *set);
gboolean vnuma_cpuset_is_empty(const VnumaCpuSet *set);
gboolean vnuma_cpuset_equal(const VnumaCpuSet *a, const VnumaCpuSet *b);
gboolean vnuma_cpuset_is_subset(const VnumaCpuSet *sub, const VnumaCpuSet *set);
gboolean vnuma_cpuset_intersects(const VnumaCpuSet *a, const VnumaCpuSet *b);
void vnuma_cpuset_intersect(VnumaCpuSet *set, const VnumaCpuSet *other);
void vnuma_cpuset_union(VnumaCpuSet *set, const VnumaCpuSet *other);
void vnuma_cpuset_subtract(VnumaCpuSet *set, const VnumaCpuSet *other);

/* Iteration: returns the smallest member greater than @after (pass -1 to
 * start), or -1 when there is none. */
gint vnuma_cpuset_next(const VnumaCpuSet *set, gint after);
gint vnuma_cpuset_first(const VnumaCpuSet *set);
gint vnuma_cpuset_last(const VnumaCpuSet *set);

#define VNUMA_CPUSET_FOREACH(set, id) \
    for (gint id = vnuma_cpuset_first(set); id >= 0; id = vnuma_cpuset_next(set, id))

G_DEFINE_AUTOPTR_CLEANUP_FUNC(VnumaCpuSet, vnuma_cpuset_free)

G_END_DECLS
