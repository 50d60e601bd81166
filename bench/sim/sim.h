/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "bench/sim/sim-trace.h"
#include "lib/vnuma-enum.h"
#include "lib/vnuma-host.h"
#include "lib/vnuma-rebalance.h"

G_BEGIN_DECLS

/* The placement-quality simulator: one host, one trace, one policy, in
 * steps of one second. Its own model is deliberately simple (see
 * docs/BENCHMARKS.md, "Simulator assumptions"); the vnuma policy is the
 * real lib/ code: sizing, placement and the rebalancer. */

typedef enum {
    SIM_POLICY_NONE,          /* Linux default: vCPUs float, memory first-touch */
    SIM_POLICY_STATIC_PACK,   /* placed at boot, lowest node with room, never moved */
    SIM_POLICY_STATIC_SPREAD, /* placed at boot, least committed node, never moved */
    SIM_POLICY_NUMAD,         /* numad-like: whole process, one move per 5–15 s scan */
    SIM_POLICY_VNUMA,         /* lib/: sizing, placement, rebalancer, fed what vnumad measures */
    SIM_POLICY_VNUMA_BEFORE,  /* ablation: the agent before run-queue delay and per-cell memory */
    SIM_POLICY_OPTIMUM,       /* clairvoyant exhaustive search, instant memory moves */
    SIM_POLICY_COUNT,
} SimPolicy;

typedef struct {
    double locality;          /* % of memory accesses local, weighted by CPU demand */
    double contention;        /* % of CPU demand above its node's capacity */
    double imbalance;         /* mean of (busiest − idlest node utilisation), % */
    double migrations;        /* client migrations per VM-hour (none: vCPU node changes) */
    double memory_moved_gib;
    double vm_hours;
    gboolean exact;           /* optimum: every search finished within its budget */
} SimResult;

/* One sample per bucket of the run, for the plot. */
typedef struct {
    double hours;             /* end of the bucket */
    double locality;          /* % in the bucket */
    double contention;        /* % in the bucket */
    double migrations;        /* cumulative client migrations */
} SimSample;

typedef struct {
    SimPolicy policy;
    guint bucket;             /* s per SimSample; 0: none */
    VnumaRebalanceParams params;   /* the vnuma policy's rebalancer settings */
    guint64 optimum_budget;   /* search nodes per optimum decision */
} SimOptions;

VNUMA_ENUM_DECL(sim_policy, SimPolicy);
void sim_options_init(SimOptions *options, SimPolicy policy);

/* What the trace generator needs to scale to @host. */
SimHostSize sim_host_size(const VnumaHost *host);

/* Runs @trace on @host (at most 64 nodes) under @options. @samples
 * (SimSample) may be NULL. */
void sim_run(const VnumaHost *host, const SimTrace *trace, const SimOptions *options,
             SimResult *result, GArray *samples);

G_END_DECLS
