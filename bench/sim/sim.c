/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "bench/sim/sim-private.h"

#include <math.h>
#include <string.h>

#include "lib/vnuma-pipeline.h"
#include "lib/vnuma-sizing.h"

#define KIB_PER_GIB (1024.0 * 1024.0)
#define WARMUP_S 300.0            /* a VM first-touches its memory over this long */
#define PHASE_RETOUCH 0.25        /* share of memory a new phase drops and touches again */

VNUMA_ENUM_IMPL(sim_policy, SimPolicy, SIM_POLICY_COUNT,
                "none", "static-pack", "static-spread", "numad", "vnuma", "vnuma-before", "optimum");

void
sim_options_init(SimOptions *options, SimPolicy policy)
{
    *options = (SimOptions) { .policy = policy, .bucket = 0, .optimum_budget = 2000000 };
    vnuma_rebalance_params_init(&options->params);
}

SimHostSize
sim_host_size(const VnumaHost *host)
{
    SimHostSize size = { 0, G_MAXUINT, 0 };

    for (guint i = 0; i < host->nodes->len; i++) {
        const VnumaHostNode *node = host->nodes->pdata[i];
        g_autoptr(VnumaCpuSet) cpus = vnuma_host_node_cpus(node);
        guint count = vnuma_cpuset_count(cpus);

        size.cpus += count;
        size.memory_kib += node->memory_kib;
        if (count)
            size.node_cpus = MIN(size.node_cpus, count);
    }
    if (size.node_cpus == G_MAXUINT)
        size.node_cpus = 0;
    return size;
}

/* ---- host ----------------------------------------------------------- */

static void
init_host(Sim *sim, const VnumaHost *host)
{
    sim->host = host;
    sim->n = host->nodes->len;
    sim->cap = g_new0(double, sim->n);
    sim->mem_cap = g_new0(double, sim->n);
    sim->mem_used = g_new0(double, sim->n);
    sim->load = g_new0(double, sim->n);
    sim->by_distance = g_new(guint, sim->n * sim->n);
    for (guint i = 0; i < sim->n; i++) {
        const VnumaHostNode *node = host->nodes->pdata[i];
        g_autoptr(VnumaCpuSet) cpus = vnuma_host_node_cpus(node);
        guint *row = &sim->by_distance[i * sim->n];

        sim->cap[i] = vnuma_cpuset_count(cpus);
        sim->mem_cap[i] = (double) node->memory_kib;
        for (guint j = 0; j < sim->n; j++)
            row[j] = j;
        /* Insertion sort by distance from i, stable on index. */
        for (guint a = 1; a < sim->n; a++) {
            for (guint b = a; b > 0; b--) {
                guint x = row[b - 1], y = row[b];
                guint dx = vnuma_host_distance(host, node->id, ((VnumaHostNode *) host->nodes->pdata[x])->id);
                guint dy = vnuma_host_distance(host, node->id, ((VnumaHostNode *) host->nodes->pdata[y])->id);

                if (dx <= dy)
                    break;
                row[b - 1] = y;
                row[b] = x;
            }
        }
    }
}

static double
spare(const Sim *sim, guint node)
{
    return sim->cap[node] - sim->load[node];
}

double
sim_client_memory(const SimClient *client, guint n)
{
    double total = 0;

    for (guint i = 0; i < n; i++)
        total += client->mem[i];
    return total;
}

void
sim_committed(const Sim *sim, double *vcpus, double *memory_kib)
{
    memset(vcpus, 0, sim->n * sizeof(double));
    memset(memory_kib, 0, sim->n * sizeof(double));
    for (guint c = 0; c < sim->clients->len; c++) {
        const SimClient *client = sim->clients->pdata[c];

        if (client->home >= 0) {
            vcpus[client->home] += client->vcpus;
            memory_kib[client->home] += (double) client->memory_kib;
        }
    }
}

/* ---- memory --------------------------------------------------------- */

/* First touch: on @node, or the nearest node with room (the kernel's
 * fallback zonelist) when @node is full. Returns KiB placed. */
static double
allocate(Sim *sim, SimClient *client, guint node, double kib)
{
    double placed = 0;

    for (guint k = 0; k < sim->n && placed < kib; k++) {
        guint n = sim->by_distance[node * sim->n + k];
        double room = MIN(kib - placed, sim->mem_cap[n] - sim->mem_used[n]);

        if (room <= 0)
            continue;
        client->mem[n] += room;
        sim->mem_used[n] += room;
        placed += room;
    }
    return placed;
}

static void
release(Sim *sim, SimClient *client, double share)
{
    for (guint n = 0; n < sim->n; n++) {
        double freed = client->mem[n] * share;

        client->mem[n] -= freed;
        sim->mem_used[n] -= freed;
        client->touched -= freed;
    }
}

/* Pages are touched by the vCPUs that run, where they run. */
static void
touch_memory(Sim *sim, SimClient *client)
{
    double want = MIN((double) client->memory_kib - client->touched, client->memory_kib / WARMUP_S);
    double weight = 0;

    if (want <= 0)
        return;
    for (guint v = 0; v < client->vcpus; v++)
        weight += client->vcpu_demand[v] + 1e-3;
    for (guint v = 0; v < client->vcpus; v++)
        client->touched += allocate(sim, client, client->vcpu_node[v],
                                    want * (client->vcpu_demand[v] + 1e-3) / weight);
}

/* Memory follows a bound client: what sits outside the nodes it may
 * use moves to the node running most of its vCPUs, at a bounded rate
 * (or at once when the rate is 0: the optimum's free, instant moves). */
static void
migrate_memory(Sim *sim, SimClient *client)
{
    guint64 target = client->home >= 0 ? SIM_NODE_BIT(client->home) : client->allowed;
    double budget = sim->migrate_kib_per_s > 0 ? sim->migrate_kib_per_s : G_MAXDOUBLE;
    g_autofree double *on = g_new0(double, sim->n);
    guint dest = 0;

    for (guint v = 0; v < client->vcpus; v++)
        on[client->vcpu_node[v]] += client->vcpu_demand[v] + 1e-3;
    for (guint n = 1; n < sim->n; n++) {
        if (on[n] > on[dest])
            dest = n;
    }
    for (guint n = 0; n < sim->n && budget > 0; n++) {
        double moved;

        if ((target & SIM_NODE_BIT(n)) || client->mem[n] <= 0)
            continue;
        moved = MIN(MIN(client->mem[n], budget), sim->mem_cap[dest] - sim->mem_used[dest]);
        if (moved <= 0)
            break;
        client->mem[n] -= moved;
        sim->mem_used[n] -= moved;
        client->mem[dest] += moved;
        sim->mem_used[dest] += moved;
        sim->memory_moved_kib += moved;
        budget -= moved;
    }
}

/* ---- vCPUs ---------------------------------------------------------- */

void
sim_recompute_load(Sim *sim)
{
    memset(sim->load, 0, sim->n * sizeof(double));
    for (guint c = 0; c < sim->clients->len; c++) {
        SimClient *client = sim->clients->pdata[c];

        for (guint v = 0; v < client->vcpus; v++) {
            if (client->home >= 0)
                client->vcpu_node[v] = (guint) client->home;
            sim->load[client->vcpu_node[v]] += client->vcpu_demand[v];
        }
    }
}

static gint
most_spare(const Sim *sim, guint64 allowed)
{
    gint best = -1;

    for (guint n = 0; n < sim->n; n++) {
        if ((allowed & SIM_NODE_BIT(n)) && sim->cap[n] > 0 &&
            (best < 0 || spare(sim, n) > spare(sim, (guint) best)))
            best = (gint) n;
    }
    return best;
}

static void
move_vcpu(Sim *sim, SimClient *client, guint v, guint to)
{
    sim->load[client->vcpu_node[v]] -= client->vcpu_demand[v];
    sim->load[to] += client->vcpu_demand[v];
    client->vcpu_node[v] = to;
    if (sim->options->policy == SIM_POLICY_NONE)
        sim->migrations++;
}

void
sim_float_place(Sim *sim, SimClient *client)
{
    for (guint v = 0; v < client->vcpus; v++) {
        gint to = most_spare(sim, client->allowed);

        client->vcpu_node[v] = (guint) to;
        /* A new vCPU counts as half busy until it is measured. */
        sim->load[to] += 0.5;
    }
}

/* Linux, seen at one-second grain: an overloaded node sheds vCPUs to
 * allowed nodes with room at once, and a vCPU wakes up on the allowed
 * node with the most spare CPU now and then (2% a second), wherever its
 * memory is. */
void
sim_float_balance(Sim *sim)
{
    for (guint c = 0; c < sim->clients->len; c++) {
        SimClient *client = sim->clients->pdata[c];

        for (guint v = 0; client->home < 0 && v < client->vcpus; v++) {
            guint from = client->vcpu_node[v];
            gint to = most_spare(sim, client->allowed);
            double d = client->vcpu_demand[v];
            gboolean overloaded = spare(sim, from) < -1e-9;
            gboolean wakes = g_rand_double(sim->rand) < 0.02;

            if (to < 0 || (guint) to == from || !(overloaded || wakes))
                continue;
            if (spare(sim, (guint) to) - d > spare(sim, from) + 1e-9)
                move_vcpu(sim, client, v, (guint) to);
        }
    }
}

/* ---- VMs ------------------------------------------------------------ */

static void
client_free(gpointer data)
{
    SimClient *client = data;

    g_free(client->mem);
    vnuma_cpuset_free(client->vcpu_ids);
    g_free(client->run_ns);
    g_free(client->delay_ns);
    g_free(client->vcpu_node);
    g_free(client->vcpu_demand);
    g_free(client);
}

static SimClient *
client_new(Sim *sim, guint vm, guint first_vcpu, guint vcpus, guint64 memory_kib)
{
    SimClient *client = g_new0(SimClient, 1);

    client->id = sim->next_id++;
    client->vm = vm;
    client->first_vcpu = first_vcpu;
    client->vcpus = vcpus;
    client->vcpu_ids = vnuma_cpuset_new();
    vnuma_cpuset_add_range(client->vcpu_ids, first_vcpu, first_vcpu + vcpus - 1);
    client->run_ns = g_new0(guint64, vcpus);
    client->delay_ns = g_new0(guint64, vcpus);
    client->memory_kib = memory_kib;
    client->mem = g_new0(double, sim->n);
    client->home = -1;
    client->vcpu_node = g_new0(guint, vcpus);
    client->vcpu_demand = g_new0(double, vcpus);
    client->last_move = -1;
    return client;
}

/* lib/'s sizing of the VM: its NUMA clients, as every policy sees them. */
static VnumaLayout *
size_vm(Sim *sim, guint index, const SimVm *vm)
{
    g_autoptr(VnumaRequest) request = vnuma_request_new();
    VnumaSettings settings;
    VnumaLayout *layout;

    vnuma_settings_init(&settings);
    request->name = g_strdup_printf("vm%u", index);
    request->type = g_strdup("kvm");
    request->vcpus = vm->vcpus;
    request->memory_kib = vm->memory_kib;
    layout = vnuma_pipeline_run(sim->host, &settings, request, NULL, 0, NULL, VNUMA_PIPELINE_SIZE_ONLY);
    vnuma_settings_clear(&settings);
    return layout;
}

/* Whether the agent can tell this VM's memory apart by client: its guest
 * RAM is one mapping per guest cell (one QEMU memory backend each), every
 * cell within one client; or one client has it all. Otherwise (several
 * clients, no cells exposed to the guest) it splits the VM's pro rata. */
static gboolean
memory_per_cell(const VnumaLayout *layout)
{
    if (!layout->managed || layout->clients->len <= 1)
        return TRUE;
    if (!layout->exposed)
        return FALSE;
    for (guint i = 0; i < layout->cells->len; i++) {
        const VnumaCell *cell = layout->cells->pdata[i];
        gboolean owned = FALSE;

        for (guint c = 0; c < layout->clients->len && !owned; c++)
            owned = vnuma_cpuset_is_subset(cell->vcpus, ((const VnumaClient *) layout->clients->pdata[c])->vcpus);
        if (!owned)
            return FALSE;
    }
    return TRUE;
}

static void
arrive(Sim *sim, guint index)
{
    const SimVm *vm = sim->trace->vms->pdata[index];
    g_autoptr(VnumaLayout) layout = size_vm(sim, index, vm);
    GPtrArray *clients = g_ptr_array_new();

    if (layout->managed && layout->clients->len) {
        for (guint i = 0; i < layout->clients->len; i++) {
            const VnumaClient *c = layout->clients->pdata[i];

            g_ptr_array_add(clients, client_new(sim, index, (guint) vnuma_cpuset_first(c->vcpus),
                                                vnuma_cpuset_count(c->vcpus), c->memory_kib));
        }
    } else {
        g_ptr_array_add(clients, client_new(sim, index, 0, vm->vcpus, vm->memory_kib));
    }
    for (guint i = 0; i < clients->len; i++) {
        ((SimClient *) clients->pdata[i])->own_cell = memory_per_cell(layout);
        g_ptr_array_add(sim->clients, clients->pdata[i]);
    }
    sim->vm_clients->pdata[index] = clients;
    sim_policy_place(sim, index, clients, layout);
}

static void
depart(Sim *sim, guint index)
{
    GPtrArray *clients = sim->vm_clients->pdata[index];

    for (guint i = 0; i < clients->len; i++) {
        SimClient *client = clients->pdata[i];

        release(sim, client, 1.0);
        g_ptr_array_remove_fast(sim->clients, client);
        client_free(client);
    }
    g_ptr_array_unref(clients);
    sim->vm_clients->pdata[index] = NULL;
    if (sim->vm_times)
        g_clear_pointer(&sim->vm_times->pdata[index], g_array_unref);
}

static void
set_demand(Sim *sim)
{
    for (guint c = 0; c < sim->clients->len; c++) {
        SimClient *client = sim->clients->pdata[c];
        const SimVm *vm = sim->trace->vms->pdata[client->vm];

        for (guint v = 0; v < client->vcpus; v++)
            client->vcpu_demand[v] = sim_vm_vcpu_demand(vm, sim->t, client->first_vcpu + v);
    }
    sim_recompute_load(sim);
}

/* ---- figures -------------------------------------------------------- */

typedef struct {
    double demand, local, contention, imbalance, vm_seconds;
    guint seconds;
} Tally;

/* What the policies measure. A vCPU on an overloaded node runs its
 * proportional share of the node and waits in the run queue the rest of
 * what it wanted: libvirt's vcpu.N.time and vcpu.N.delay (vnuma), CPU
 * time alone (numad reads the process's). */
static void
account_used(Sim *sim)
{
    for (guint c = 0; c < sim->clients->len; c++) {
        SimClient *client = sim->clients->pdata[c];

        for (guint v = 0; v < client->vcpus; v++) {
            guint n = client->vcpu_node[v];
            double share = sim->load[n] > sim->cap[n] ? sim->cap[n] / sim->load[n] : 1.0;
            double run = client->vcpu_demand[v] * share;

            client->used_sum += run;
            client->run_ns[v] += (guint64) llround(run * 1e9);
            client->delay_ns[v] += (guint64) llround((client->vcpu_demand[v] - run) * 1e9);
        }
    }
}

static void
measure(const Sim *sim, Tally *tally)
{
    double busiest = -G_MAXDOUBLE, idlest = G_MAXDOUBLE;

    for (guint c = 0; c < sim->clients->len; c++) {
        const SimClient *client = sim->clients->pdata[c];
        double total = sim_client_memory(client, sim->n);

        for (guint v = 0; v < client->vcpus; v++) {
            double d = client->vcpu_demand[v];

            tally->demand += d;
            tally->local += total > 0 ? d * client->mem[client->vcpu_node[v]] / total : d;
        }
    }
    for (guint n = 0; n < sim->n; n++) {
        if (sim->cap[n] <= 0)
            continue;
        tally->contention += MAX(0.0, sim->load[n] - sim->cap[n]);
        busiest = MAX(busiest, sim->load[n] / sim->cap[n]);
        idlest = MIN(idlest, sim->load[n] / sim->cap[n]);
    }
    tally->imbalance += busiest - idlest;
    tally->seconds++;
    for (guint i = 0; i < sim->vm_clients->len; i++)
        tally->vm_seconds += sim->vm_clients->pdata[i] != NULL;
}

static double
percent(double part, double whole)
{
    return whole > 0 ? 100.0 * part / whole : 100.0;
}

/* ---- the run -------------------------------------------------------- */

static void
step(Sim *sim)
{
    sim_policy_step(sim);
    account_used(sim);
    for (guint c = 0; c < sim->clients->len; c++) {
        SimClient *client = sim->clients->pdata[c];

        if (sim_vm_phase_changes(sim->trace->vms->pdata[client->vm], sim->t))
            release(sim, client, PHASE_RETOUCH);
        touch_memory(sim, client);
        if (sim_policy_moves_memory(sim))
            migrate_memory(sim, client);
    }
}

void
sim_run(const VnumaHost *host, const SimTrace *trace, const SimOptions *options,
        SimResult *result, GArray *samples)
{
    Sim sim = { 0 };
    Tally total = { 0 }, bucket = { 0 };
    guint next_vm = 0;

    init_host(&sim, host);
    sim.trace = trace;
    sim.options = options;
    sim.clients = g_ptr_array_new();
    sim.vm_clients = g_ptr_array_new();
    g_ptr_array_set_size(sim.vm_clients, trace->vms->len);
    sim.rand = g_rand_new_with_seed(42);
    sim.exact = TRUE;
    /* Memory follows a moved client at vnumad's default memory_migrate_rate. */
    sim.migrate_kib_per_s = options->policy == SIM_POLICY_OPTIMUM ? 0 : VNUMA_MEMORY_MIGRATE_DEFAULT_RATE * 1024.0;
    sim_policy_init(&sim);
    for (sim.t = 0; sim.t < trace->duration; sim.t++) {
        for (guint i = 0; i < trace->vms->len; i++) {
            const SimVm *vm = trace->vms->pdata[i];

            if (sim.vm_clients->pdata[i] && vm->leave <= sim.t)
                depart(&sim, i);
        }
        set_demand(&sim);
        for (; next_vm < trace->vms->len &&
               ((SimVm *) trace->vms->pdata[next_vm])->arrive <= sim.t; next_vm++) {
            arrive(&sim, next_vm);
            set_demand(&sim);
        }
        step(&sim);
        /* An optimum that could not search every assignment is no ceiling. */
        if (!sim.exact)
            break;
        measure(&sim, &total);
        if (samples && options->bucket) {
            measure(&sim, &bucket);
            if ((sim.t + 1) % options->bucket == 0) {
                SimSample s = {
                    (sim.t + 1) / 3600.0, percent(bucket.local, bucket.demand),
                    bucket.demand > 0 ? 100.0 * bucket.contention / bucket.demand : 0, sim.migrations,
                };

                g_array_append_val(samples, s);
                bucket = (Tally) { 0 };
            }
        }
    }
    *result = (SimResult) {
        .locality = percent(total.local, total.demand),
        .contention = total.demand > 0 ? 100.0 * total.contention / total.demand : 0,
        .imbalance = total.seconds ? 100.0 * total.imbalance / total.seconds : 0,
        .migrations = total.vm_seconds > 0 ? sim.migrations / (total.vm_seconds / 3600.0) : 0,
        .memory_moved_gib = sim.memory_moved_kib / KIB_PER_GIB,
        .vm_hours = total.vm_seconds / 3600.0,
        .exact = sim.exact,
    };
    for (guint i = 0; i < trace->vms->len; i++) {
        if (sim.vm_clients->pdata[i])
            depart(&sim, i);
    }
    sim_policy_clear(&sim);
    g_ptr_array_unref(sim.clients);
    g_ptr_array_unref(sim.vm_clients);
    g_rand_free(sim.rand);
    g_free(sim.cap);
    g_free(sim.mem_cap);
    g_free(sim.mem_used);
    g_free(sim.load);
    g_free(sim.by_distance);
}
