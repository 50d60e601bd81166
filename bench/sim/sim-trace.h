/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A seeded trace of VMs arriving and leaving, with each VM's vCPU demand
 * for every second of its life. Every policy replays the same trace. */

typedef enum {
    SIM_PROFILE_STEADY,   /* a constant level, small noise */
    SIM_PROFILE_BURSTY,   /* mostly idle, bursts to full speed */
    SIM_PROFILE_PHASE,    /* long phases: level and busy half of the vCPUs change */
} SimProfile;

typedef struct {
    guint vcpus;
    guint64 memory_kib;
    guint arrive;         /* s */
    guint leave;          /* s, exclusive; <= the trace's duration */
    SimProfile profile;
    float *level;         /* per second of its life: busy fraction of a busy vCPU */
    guint8 *phase;        /* per second of its life: 0 all busy, 1 first half, 2 second half */
} SimVm;

typedef struct {
    char *name;
    guint duration;       /* s */
    GPtrArray *vms;       /* SimVm *, ascending arrival */
} SimTrace;

typedef struct {
    guint cpus;           /* host CPUs (threads) that can run vCPUs */
    guint node_cpus;      /* the smallest CPU-bearing node's CPUs */
    guint64 memory_kib;   /* host memory */
} SimHostSize;

/* Trace kinds: steady, bursty, phase, churn. NULL-terminated. */
const char *const *sim_trace_kinds(void);

/* Scaled to the host: vCPUs committed ≈ 1.5 × host CPUs, memory ≈ half the
 * host's, VM sizes from 1 vCPU to twice the smallest node. */
SimTrace *sim_trace_new(const char *kind, const SimHostSize *host, guint hours, guint seed,
                        GError **error);
void sim_trace_free(SimTrace *trace);

/* CPUs vCPU @vcpu of @vm uses at second @t (inside its life), in [0, 1]. */
double sim_vm_vcpu_demand(const SimVm *vm, guint t, guint vcpu);
/* True when @vm enters a new phase at second @t: it then drops a quarter
 * of its memory and touches it again (a new working set). */
gboolean sim_vm_phase_changes(const SimVm *vm, guint t);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(SimTrace, sim_trace_free)

G_END_DECLS
