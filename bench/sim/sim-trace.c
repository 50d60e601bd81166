/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "bench/sim/sim-trace.h"

#include <math.h>

#include "lib/vnuma-error.h"

typedef struct {
    const char *name;
    double mean_life_h;
    gboolean mixed;       /* profiles drawn at random; else all of one */
    SimProfile profile;
} TraceKind;

static const TraceKind kinds[] = {
    { "steady", 8.0, FALSE, SIM_PROFILE_STEADY },
    { "bursty", 4.0, FALSE, SIM_PROFILE_BURSTY },
    { "phase", 4.0, FALSE, SIM_PROFILE_PHASE },
    { "churn", 0.5, TRUE, SIM_PROFILE_STEADY },
};

const char *const *
sim_trace_kinds(void)
{
    static const char *const names[] = { "steady", "bursty", "phase", "churn", NULL };

    return names;
}

static double
exponential(GRand *rand, double mean)
{
    return -mean * log(1.0 - g_rand_double(rand));
}

static float
clamp_level(double level)
{
    return (float) CLAMP(level, 0.0, 1.0);
}

/* The VM's demand for each second of its life, from its own generator
 * so that one VM's series does not depend on the others. */
static void
fill_demand(SimVm *vm, guint seed)
{
    g_autoptr(GRand) rand = g_rand_new_with_seed(seed);
    guint life = vm->leave - vm->arrive;
    double base = 0, burst_left = 0, phase_left = 0;
    guint8 phase = 0;

    vm->level = g_new(float, MAX(life, 1));
    vm->phase = g_new0(guint8, MAX(life, 1));
    if (vm->profile == SIM_PROFILE_STEADY)
        base = g_rand_double_range(rand, 0.3, 0.8);
    else if (vm->profile == SIM_PROFILE_BURSTY)
        base = g_rand_double_range(rand, 0.05, 0.2);
    else
        phase_left = g_rand_double_range(rand, 0, 1800);
    for (guint t = 0; t < life; t++) {
        double noise = g_rand_double_range(rand, -0.05, 0.05);

        switch (vm->profile) {
        case SIM_PROFILE_STEADY:
            vm->level[t] = clamp_level(base + noise);
            break;
        case SIM_PROFILE_BURSTY:
            if (burst_left <= 0 && g_rand_double(rand) < 1.0 / 240.0)
                burst_left = exponential(rand, 45.0);
            vm->level[t] = clamp_level(burst_left > 0 ? g_rand_double_range(rand, 0.8, 1.0) : base + noise);
            burst_left--;
            break;
        case SIM_PROFILE_PHASE:
        default:
            if (phase_left <= 0) {
                phase = t == 0 ? 0 : (phase + 1) % 3;
                base = phase == 0 ? g_rand_double_range(rand, 0.2, 0.5) : g_rand_double_range(rand, 0.7, 1.0);
                phase_left = g_rand_double_range(rand, 600, 1800);
            }
            vm->phase[t] = phase;
            vm->level[t] = clamp_level(base + noise);
            phase_left--;
            break;
        }
    }
}

static const TraceKind *
find_kind(const char *name)
{
    for (gsize i = 0; i < G_N_ELEMENTS(kinds); i++) {
        if (g_str_equal(kinds[i].name, name))
            return &kinds[i];
    }
    return NULL;
}

static SimVm *
new_vm(const TraceKind *kind, const SimHostSize *host, GRand *rand, guint arrive, guint duration)
{
    static const guint sizes[] = { 1, 2, 2, 4, 4, 4, 8, 8, 12, 16 };
    SimVm *vm = g_new0(SimVm, 1);
    guint max_vcpus = MIN(2 * host->node_cpus, host->cpus);
    double kib_per_vcpu = (double) host->memory_kib / host->cpus * g_rand_double_range(rand, 0.2, 0.47);
    guint64 quantum = 256 * 1024;
    double life;

    do
        vm->vcpus = sizes[g_rand_int_range(rand, 0, G_N_ELEMENTS(sizes))];
    while (vm->vcpus > max_vcpus);
    vm->memory_kib = MAX(2 * quantum, (guint64) (kib_per_vcpu * vm->vcpus) / quantum * quantum);
    vm->arrive = arrive;
    life = 60 + exponential(rand, kind->mean_life_h * 3600);
    vm->leave = (guint) MIN((double) duration, arrive + life);
    vm->profile = kind->mixed ? (SimProfile) g_rand_int_range(rand, 0, 3) : kind->profile;
    fill_demand(vm, g_rand_int(rand));
    return vm;
}

static void
vm_free(gpointer data)
{
    SimVm *vm = data;

    g_free(vm->level);
    g_free(vm->phase);
    g_free(vm);
}

SimTrace *
sim_trace_new(const char *name, const SimHostSize *host, guint hours, guint seed, GError **error)
{
    const TraceKind *kind = find_kind(name);
    g_autoptr(GRand) rand = NULL;
    SimTrace *trace;
    guint committed = 0;
    double rate, t;

    if (!kind) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID, "unknown trace '%s' (steady, bursty, phase, churn)", name);
        return NULL;
    }
    if (!host->cpus || !host->node_cpus || !hours) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID, "trace '%s': empty host or zero hours", name);
        return NULL;
    }
    rand = g_rand_new_with_seed(seed);
    trace = g_new0(SimTrace, 1);
    trace->name = g_strdup(name);
    trace->duration = hours * 3600;
    trace->vms = g_ptr_array_new_with_free_func(vm_free);
    /* Start full: vCPUs committed ≈ 1.5 × host CPUs (a usual cloud
     * overcommit), then arrivals at the rate that keeps that population. */
    while (committed < host->cpus * 3 / 2) {
        SimVm *vm = new_vm(kind, host, rand, 0, trace->duration);

        committed += vm->vcpus;
        g_ptr_array_add(trace->vms, vm);
    }
    rate = trace->vms->len / (kind->mean_life_h * 3600);
    for (t = exponential(rand, 1 / rate); t < trace->duration - 60; t += exponential(rand, 1 / rate))
        g_ptr_array_add(trace->vms, new_vm(kind, host, rand, (guint) t, trace->duration));
    return trace;
}

void
sim_trace_free(SimTrace *trace)
{
    if (!trace)
        return;
    g_free(trace->name);
    g_ptr_array_unref(trace->vms);
    g_free(trace);
}

double
sim_vm_vcpu_demand(const SimVm *vm, guint t, guint vcpu)
{
    guint i = t - vm->arrive;
    gboolean first_half = vcpu < (vm->vcpus + 1) / 2;

    switch (vm->phase[i]) {
    case 1:
        return vm->level[i] * (first_half ? 1.0 : 0.1);
    case 2:
        return vm->level[i] * (first_half ? 0.1 : 1.0);
    default:
        return vm->level[i];
    }
}

gboolean
sim_vm_phase_changes(const SimVm *vm, guint t)
{
    guint i = t - vm->arrive;

    return i > 0 && vm->phase[i] != vm->phase[i - 1];
}

