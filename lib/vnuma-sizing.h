/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "lib/vnuma-host.h"
#include "lib/vnuma-layout.h"
#include "lib/vnuma-policy.h"
#include "lib/vnuma-request.h"

G_BEGIN_DECLS

/* NUMA client sizing, docs/spec.md §3: decides whether vnuma manages the
 * domain and, if so, its clients, guest cells and guest topology.
 * Never fails: bad overrides become warnings, unmanaged domains come
 * back with managed = FALSE and a reason. */
VnumaLayout *vnuma_sizing_run(const VnumaHost *host, const VnumaSettings *settings,
                              const VnumaRequest *request);

/* Usable CPUs of @node: its online CPUs ∩ host_cpuset ∩ <vcpu cpuset>. */
VnumaCpuSet *vnuma_usable_cpus(const VnumaHostNode *node, const VnumaSettings *settings,
                               const VnumaRequest *request);

/* L of rule 1: the most vCPUs one client may hold. 0 when no node has a
 * usable CPU. @usable is indexed like host->nodes. */
guint vnuma_client_size_limit(const VnumaHost *host, const GPtrArray *usable,
                              const VnumaPolicy *policy);

/* Splits @vcpus (ascending) into @parts contiguous runs whose sizes
 * differ by at most one, larger ones first. */
GPtrArray *vnuma_split_balanced(const VnumaCpuSet *vcpus, guint parts);

/* Memory of a part holding @part_vcpus of @total_vcpus, cut so that the
 * parts are multiples of @page_kib and sum exactly to @memory_kib. */
guint64 vnuma_memory_share(guint64 memory_kib, guint64 page_kib, guint vcpus_before,
                           guint part_vcpus, guint total_vcpus);

G_END_DECLS
