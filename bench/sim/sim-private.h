/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "bench/sim/sim.h"
#include "lib/vnuma-layout.h"

G_BEGIN_DECLS

/* Shared by the engine (sim.c) and the policies (sim-policy.c). */

/* A NUMA client as the simulator tracks it: a run of vCPUs of one VM
 * with its own memory (the guest keeps a vCPU group's data in that
 * group's memory, whatever the policy). */
typedef struct {
    guint id;
    guint vm;                 /* index into the trace */
    guint first_vcpu;         /* within the VM */
    guint vcpus;
    VnumaCpuSet *vcpu_ids;    /* first_vcpu.., as the agent's client records them */
    /* The agent can tell this client's memory from its siblings': the VM
     * has one client, or a guest cell per client (each its own QEMU memory
     * backend, agent/vnuma-agent-memory.c). Otherwise it splits pro rata. */
    gboolean own_cell;
    guint64 memory_kib;       /* its share of the VM's memory */
    double touched;           /* KiB first-touched so far */
    double *mem;              /* KiB per node index */
    gint home;                /* node index; -1: its vCPUs float within @allowed */
    guint64 allowed;          /* node mask its vCPUs may run on (floating) */
    guint *vcpu_node;         /* per vCPU: the node it runs on this second */
    double *vcpu_demand;      /* per vCPU: CPUs wanted this second */
    double used_sum;          /* CPU-seconds obtained since the policy's last look (numad) */
    /* libvirt's cumulative per-vCPU counters: vcpu.N.time (ns run) and
     * vcpu.N.delay (ns runnable, waiting for a CPU). */
    guint64 *run_ns;
    guint64 *delay_ns;
    double last_move;         /* s; < 0: never */
} SimClient;

typedef struct {
    const VnumaHost *host;
    const SimTrace *trace;
    const SimOptions *options;
    guint n;                  /* host nodes */
    double *cap;              /* CPUs per node index (0: memory only) */
    double *mem_cap;          /* KiB per node index */
    double *mem_used;
    guint *by_distance;       /* n × n: for each node, all nodes nearest first */
    double *load;             /* CPUs wanted per node this second */
    GPtrArray *clients;       /* SimClient *, live ones */
    GPtrArray *vm_clients;    /* per trace VM: GPtrArray of its SimClient *, or NULL */
    GRand *rand;              /* the floating vCPUs' scheduler */
    guint t;                  /* s */
    guint next_id;
    double migrate_kib_per_s; /* memory following a moved client; 0: at once */
    double migrations;
    double memory_moved_kib;
    gboolean exact;

    /* policy state */
    VnumaRebalancer *rebalancer;
    guint64 *vm_mask;         /* numad: node mask each VM is bound to */
    double *vm_bound;         /* numad: when each VM was last bound, s */
    GPtrArray *vm_times;      /* vnuma: per trace VM, its last vCPU counter sample (GArray) or NULL */
    double *vm_sampled;       /* vnuma: when, s */
    double next_pass;         /* s */
    double last_pass;         /* s */
} Sim;

#define SIM_NODE_BIT(i) (G_GUINT64_CONSTANT(1) << (i))

/* Engine services for the policies. */
void sim_recompute_load(Sim *sim);
/* Where a floating client's vCPUs go when it starts or is re-bound:
 * each to the allowed node with the most spare CPU. */
void sim_float_place(Sim *sim, SimClient *client);
/* Linux's load balancing of floating vCPUs within their masks. */
void sim_float_balance(Sim *sim);
/* vCPUs committed (pinned clients) and memory homed per node index. */
void sim_committed(const Sim *sim, double *vcpus, double *memory_kib);
double sim_client_memory(const SimClient *client, guint n);

/* The policies. @layout is lib/'s sizing of the VM (placed by the vnuma
 * policy only); @clients its SimClients, homes unset. */
void sim_policy_init(Sim *sim);
void sim_policy_clear(Sim *sim);
void sim_policy_place(Sim *sim, guint vm, GPtrArray *clients, VnumaLayout *layout);
/* Called every second after the demands are known. */
void sim_policy_step(Sim *sim);
gboolean sim_policy_moves_memory(const Sim *sim);

G_END_DECLS
