/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "lib/vnuma-cpuset.h"

G_BEGIN_DECLS

/* Measurements → the rebalancer's inputs. CPU demand comes from the
 * cumulative vCPU times of one virConnectGetAllDomainStats call per pass:
 * "vcpu.<n>.time" (ns run) plus "vcpu.<n>.delay" (ns runnable but
 * waiting in the host's run queue, libvirt >= 7.9; ESXi's ready time).
 * Time run alone can never exceed a node's CPUs, so it would hide the
 * very contention a balance migration relieves. Memory per node comes
 * from numa_maps. */

#define VNUMA_VCPU_TIME_UNKNOWN G_MAXUINT64

/* Adds field @field = @value into @times (guint64 ns indexed by vCPU,
 * VNUMA_VCPU_TIME_UNKNOWN where absent) when it is a "vcpu.<n>.time" or
 * "vcpu.<n>.delay" field; returns whether it was one. */
gboolean vnuma_vcpu_times_add_field(GArray *times, const char *field, guint64 value);
GArray *vnuma_vcpu_times_new(void);

/* CPUs each vCPU used between two samples @elapsed seconds apart, in
 * [0, 1]. A vCPU missing from either sample, or whose counter went
 * backwards (vCPU unplugged and plugged again), counts 0. */
GArray *vnuma_vcpu_demand(const GArray *before, const GArray *after, double elapsed);

/* Sum of @demand (double per vCPU) over @vcpus. */
double vnuma_client_demand(const GArray *demand, const VnumaCpuSet *vcpus);

/* A client's share of its domain's memory per node: the domain's KiB
 * per node (index = node id) scaled by client_kib / domain_kib. Without
 * per-cell backing regions the process's memory cannot be told apart by
 * client, so each client is assumed to be spread like the whole. */
GArray *vnuma_client_memory(const GArray *domain_kib, guint64 client_kib, guint64 domain_total_kib);

/* Where a domain the agent does not place can run, as vCPUs per node:
 * each vCPU (@vcpu_cpus: VnumaCpuSet * of the host CPUs it may run on,
 * its pinning or all CPUs) counts as one vCPU spread over the nodes
 * (@node_cpus: VnumaCpuSet * per node) in proportion to its CPUs there.
 * A vCPU allowed on no listed node counts nowhere. Returns double per
 * node, in @node_cpus' order. */
GArray *vnuma_vcpu_spread(const GPtrArray *vcpu_cpus, const GPtrArray *node_cpus);

G_END_DECLS
