/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "bench/sim/sim-private.h"

#include <string.h>

#include "lib/vnuma-demand.h"
#include "lib/vnuma-pipeline.h"
#include "lib/vnuma-placement.h"

#define NUMAD_MIN_SCAN_S 5.0      /* numad -i 5:15 */
#define NUMAD_MAX_SCAN_S 15.0
#define NUMAD_TARGET_UTIL 0.85    /* numad -u 85 */
#define NUMAD_MIN_LOCALITY 0.90   /* numad -m 90 */
#define NUMAD_MIN_MIB 300.0       /* numad leaves smaller processes alone */
#define NUMAD_MIN_BOUND_S 300.0   /* between two moves of one process */
#define OPTIMUM_EPOCH_S 10.0
#define EPSILON 1e-9

static guint64
cpu_nodes(const Sim *sim)
{
    guint64 mask = 0;

    for (guint n = 0; n < sim->n; n++) {
        if (sim->cap[n] > 0)
            mask |= SIM_NODE_BIT(n);
    }
    return mask;
}

static void
set_home(Sim *sim, SimClient *client, guint node, gboolean counts)
{
    if (client->home == (gint) node)
        return;
    client->home = (gint) node;
    if (counts) {
        client->last_move = sim->t;
        sim->migrations++;
    }
}

/* ---- static: placed once, never moved -------------------------------- */

static gint
least_committed(const Sim *sim, const double *committed)
{
    gint best = -1;

    for (guint n = 0; n < sim->n; n++) {
        if (sim->cap[n] > 0 && (best < 0 || committed[n] / sim->cap[n] < committed[best] / sim->cap[best] - EPSILON))
            best = (gint) n;
    }
    return best;
}

/* Pack: the lowest node whose committed vCPUs stay within its CPUs;
 * spread: the least committed node. Clients of one VM on distinct nodes
 * where possible (Nova's hw:numa_nodes does the same). */
static void
place_static(Sim *sim, GPtrArray *clients, gboolean pack)
{
    g_autofree double *committed = g_new0(double, sim->n);
    g_autofree double *memory = g_new0(double, sim->n);
    guint64 used = 0;

    sim_committed(sim, committed, memory);
    for (guint i = 0; i < clients->len; i++) {
        SimClient *client = clients->pdata[i];
        gint best = -1;

        /* First among nodes this VM does not use yet, then among all. */
        for (guint pass = 0; pack && pass < 2 && best < 0; pass++) {
            for (guint n = 0; n < sim->n && best < 0; n++) {
                if (sim->cap[n] > 0 && !(pass == 0 && (used & SIM_NODE_BIT(n))) &&
                    committed[n] + client->vcpus <= sim->cap[n])
                    best = (gint) n;
            }
        }
        if (!pack && (used & cpu_nodes(sim)) != cpu_nodes(sim)) {
            g_autofree double *masked = g_memdup2(committed, sim->n * sizeof(double));

            for (guint n = 0; n < sim->n; n++) {
                if (used & SIM_NODE_BIT(n))
                    masked[n] = G_MAXDOUBLE / 2;
            }
            best = least_committed(sim, masked);
        }
        if (best < 0)
            best = least_committed(sim, committed);
        set_home(sim, client, (guint) best, FALSE);
        committed[best] += client->vcpus;
        used |= SIM_NODE_BIT(best);
    }
}

/* ---- vnuma: the real lib/ ------------------------------------------- */

static void
place_vnuma(Sim *sim, GPtrArray *clients, VnumaLayout *layout)
{
    g_autofree double *committed = g_new0(double, sim->n);
    g_autofree double *memory = g_new0(double, sim->n);
    g_autofree VnumaNodeLoad *loads = g_new0(VnumaNodeLoad, sim->n);

    sim_committed(sim, committed, memory);
    for (guint n = 0; n < sim->n; n++)
        loads[n] = (VnumaNodeLoad) {
            ((VnumaHostNode *) sim->host->nodes->pdata[n])->id, committed[n], (guint64) memory[n],
        };
    vnuma_pipeline_place(sim->host, layout, NULL, loads, sim->n);
    for (guint i = 0; i < clients->len; i++) {
        const VnumaClient *placed = layout->clients->pdata[i];

        for (guint n = 0; n < sim->n; n++) {
            if ((gint) ((VnumaHostNode *) sim->host->nodes->pdata[n])->id == placed->home_node)
                set_home(sim, clients->pdata[i], n, FALSE);
        }
    }
}

/* A client's memory per node as vnumad reads it from numa_maps: its own
 * cell's mapping when the VM's memory can be told apart by cell, else its
 * share of the whole VM's (lib/vnuma-locality.c); the agent before
 * per-cell attribution always took the share. */
static void
agent_client_memory(const Sim *sim, const SimClient *client, guint64 *out)
{
    GPtrArray *siblings = sim->vm_clients->pdata[client->vm];
    g_autoptr(GArray) domain = g_array_new(FALSE, TRUE, sizeof(guint64));
    g_autoptr(GArray) share = NULL;
    guint64 total = 0;

    if (client->own_cell && sim->options->policy == SIM_POLICY_VNUMA) {
        for (guint n = 0; n < sim->n; n++)
            out[n] = (guint64) client->mem[n];
        return;
    }
    g_array_set_size(domain, sim->n);
    for (guint i = 0; i < siblings->len; i++) {
        const SimClient *sibling = siblings->pdata[i];

        total += sibling->memory_kib;
        for (guint n = 0; n < sim->n; n++)
            g_array_index(domain, guint64, n) += (guint64) sibling->mem[n];
    }
    share = vnuma_client_memory(domain, client->memory_kib, total);
    memcpy(out, share->data, sim->n * sizeof(guint64));
}

/* The VM's vCPU counters as one virConnectGetAllDomainStats record
 * gives them to the agent: vcpu.N.time, and vcpu.N.delay unless the
 * policy is the agent before it read the delay. */
static GArray *
sample_vcpu_times(const Sim *sim, GPtrArray *clients)
{
    GArray *times = vnuma_vcpu_times_new();

    for (guint i = 0; i < clients->len; i++) {
        const SimClient *client = clients->pdata[i];

        for (guint v = 0; v < client->vcpus; v++) {
            char field[32];

            g_snprintf(field, sizeof(field), "vcpu.%u.time", client->first_vcpu + v);
            vnuma_vcpu_times_add_field(times, field, client->run_ns[v]);
            if (sim->options->policy != SIM_POLICY_VNUMA)
                continue;
            g_snprintf(field, sizeof(field), "vcpu.%u.delay", client->first_vcpu + v);
            vnuma_vcpu_times_add_field(times, field, client->delay_ns[v]);
        }
    }
    return times;
}

/* One pass of the rebalancer on what vnumad measures, through its own
 * code (lib/vnuma-demand.c): each vCPU's demand from two counter
 * samples, summed per client; a VM sampled for the first time has no
 * demand yet and its clients are not candidates this pass. */
static void
rebalance_vnuma(Sim *sim)
{
    g_autofree VnumaRebalanceNode *nodes = vnuma_rebalance_nodes_new(sim->host, sim->cap);
    g_autoptr(GArray) rc = g_array_new(FALSE, TRUE, sizeof(VnumaRebalanceClient));
    g_autoptr(GPtrArray) owners = g_ptr_array_new();
    g_autoptr(GPtrArray) memory = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GArray) moves = NULL;

    for (guint vm = 0; vm < sim->vm_clients->len; vm++) {
        GPtrArray *clients = sim->vm_clients->pdata[vm];
        GArray *before = sim->vm_times->pdata[vm];
        g_autoptr(GArray) demand = NULL;

        if (!clients)
            continue;
        sim->vm_times->pdata[vm] = sample_vcpu_times(sim, clients);
        if (before) {
            demand = vnuma_vcpu_demand(before, sim->vm_times->pdata[vm], sim->t - sim->vm_sampled[vm]);
            g_array_unref(before);
        }
        sim->vm_sampled[vm] = sim->t;
        for (guint i = 0; demand && i < clients->len; i++) {
            SimClient *client = clients->pdata[i];
            guint64 *mem = g_new0(guint64, sim->n);
            VnumaRebalanceClient c = {
                .id = client->id, .home = (guint) client->home,
                .demand = vnuma_client_demand(demand, client->vcpu_ids),
                .memory_kib = mem, .last_move = client->last_move,
                .vcpus = vnuma_cpuset_count(client->vcpu_ids),
            };

            agent_client_memory(sim, client, mem);
            g_ptr_array_add(memory, mem);
            g_ptr_array_add(owners, client);
            g_array_append_val(rc, c);
        }
    }
    moves = vnuma_rebalancer_pass(sim->rebalancer, nodes, sim->n, (VnumaRebalanceClient *) rc->data,
                                  rc->len, sim->t);
    for (guint c = 0; c < rc->len; c++)
        set_home(sim, owners->pdata[c], g_array_index(rc, VnumaRebalanceClient, c).home, TRUE);
}

/* ---- numad-like ----------------------------------------------------- */

/* numad's node choice for a process needing @cpus and @kib: the node
 * with the most room (favouring where its memory already is), then the
 * nearest nodes until there is room for it at the target utilisation. */
static guint64
numad_pick(const Sim *sim, guint vm, double cpus, double kib)
{
    GPtrArray *clients = sim->vm_clients->pdata[vm];
    g_autofree double *mine_load = g_new0(double, sim->n);
    g_autofree double *mine_mem = g_new0(double, sim->n);
    double mine_total = 0, have_cpu = 0, have_mem = 0, best_score = -G_MAXDOUBLE;
    guint first = 0;
    guint64 mask;

    for (guint i = 0; clients && i < clients->len; i++) {
        const SimClient *client = clients->pdata[i];

        for (guint v = 0; v < client->vcpus; v++)
            mine_load[client->vcpu_node[v]] += client->vcpu_demand[v];
        for (guint n = 0; n < sim->n; n++) {
            mine_mem[n] += client->mem[n];
            mine_total += client->mem[n];
        }
    }
    for (guint n = 0; n < sim->n; n++) {
        double score;

        if (sim->cap[n] <= 0)
            continue;
        score = (NUMAD_TARGET_UTIL * sim->cap[n] - sim->load[n] + mine_load[n]) / sim->cap[n] +
                (sim->mem_cap[n] - sim->mem_used[n] + mine_mem[n]) / sim->mem_cap[n] +
                (mine_total > 0 ? 2.0 * mine_mem[n] / mine_total : 0);
        if (score > best_score) {
            best_score = score;
            first = n;
        }
    }
    mask = 0;
    for (guint k = 0; k < sim->n && (mask == 0 || have_cpu < cpus || have_mem < kib); k++) {
        guint n = sim->by_distance[first * sim->n + k];

        if (sim->cap[n] <= 0)
            continue;
        mask |= SIM_NODE_BIT(n);
        have_cpu += NUMAD_TARGET_UTIL * sim->cap[n] - sim->load[n] + mine_load[n];
        have_mem += sim->mem_cap[n] - sim->mem_used[n] + mine_mem[n];
    }
    return mask;
}

static void
numad_bind(Sim *sim, guint vm, guint64 mask)
{
    GPtrArray *clients = sim->vm_clients->pdata[vm];

    sim->vm_mask[vm] = mask;
    sim->vm_bound[vm] = sim->t;
    for (guint i = 0; i < clients->len; i++) {
        SimClient *client = clients->pdata[i];

        client->allowed = mask;
        sim_float_place(sim, client);
    }
    sim_recompute_load(sim);
}

/* Is the process's placement bad enough for numad to act: memory not
 * local enough, or its nodes busier than the target? */
static gboolean
numad_unhappy(const Sim *sim, guint vm)
{
    GPtrArray *clients = sim->vm_clients->pdata[vm];
    double local = 0, total = 0;

    for (guint n = 0; n < sim->n; n++) {
        if ((sim->vm_mask[vm] & SIM_NODE_BIT(n)) && sim->load[n] > NUMAD_TARGET_UTIL * sim->cap[n])
            return TRUE;
    }
    for (guint i = 0; i < clients->len; i++) {
        const SimClient *client = clients->pdata[i];

        for (guint n = 0; n < sim->n; n++) {
            total += client->mem[n];
            if (sim->vm_mask[vm] & SIM_NODE_BIT(n))
                local += client->mem[n];
        }
    }
    return total > 0 && local / total < NUMAD_MIN_LOCALITY;
}

typedef struct {
    guint vm;
    double cpus, kib;
} NumadCandidate;

static gint
compare_magnitude(gconstpointer a, gconstpointer b)
{
    const NumadCandidate *x = a, *y = b;
    double mx = x->cpus * x->kib, my = y->cpus * y->kib;

    return (mx < my) - (mx > my);
}

/* One numad scan: the biggest processes first, at most one move. */
static gboolean
numad_scan(Sim *sim)
{
    double elapsed = MAX(sim->t - sim->last_pass, 1.0);
    g_autoptr(GArray) candidates = g_array_new(FALSE, FALSE, sizeof(NumadCandidate));

    for (guint vm = 0; vm < sim->vm_clients->len; vm++) {
        GPtrArray *clients = sim->vm_clients->pdata[vm];
        NumadCandidate c = { vm, 0, 0 };

        for (guint i = 0; clients && i < clients->len; i++) {
            SimClient *client = clients->pdata[i];

            c.cpus += client->used_sum / elapsed;
            c.kib += sim_client_memory(client, sim->n);
            client->used_sum = 0;
        }
        if (clients && c.kib >= NUMAD_MIN_MIB * 1024 && sim->t - sim->vm_bound[vm] >= NUMAD_MIN_BOUND_S)
            g_array_append_val(candidates, c);
    }
    g_array_sort(candidates, compare_magnitude);
    for (guint i = 0; i < candidates->len; i++) {
        const NumadCandidate *c = &g_array_index(candidates, NumadCandidate, i);
        guint64 mask = numad_pick(sim, c->vm, c->cpus, c->kib);

        if (mask == sim->vm_mask[c->vm] || !numad_unhappy(sim, c->vm))
            continue;
        numad_bind(sim, c->vm, mask);
        sim->migrations++;
        return TRUE;
    }
    return FALSE;
}

/* ---- optimum: clairvoyant exhaustive search --------------------------- */

typedef struct {
    Sim *sim;
    guint k;
    SimClient **clients;      /* most demanding first */
    double *demand;           /* mean over the coming epoch */
    double *memory;           /* KiB */
    double *rest;             /* demand of clients i.. */
    guint *assign, *best;
    double best_cost;
    guint best_moves;
    double *load;             /* per node: demand of the clients assigned so far */
    double *mem_load;         /* per node: their memory */
    guint64 visits;
    gboolean exhausted;
} Search;

/* CPU time lost: demand above a node's CPUs, plus the remote accesses of
 * memory that does not fit on its node (at the rebalancer's penalty).
 * Adding clients never lowers it, so it bounds every completion. */
static double
search_cost(const Search *s)
{
    const Sim *sim = s->sim;
    double cost = 0;

    for (guint n = 0; n < sim->n; n++) {
        double overflow = MAX(0.0, s->mem_load[n] - sim->mem_cap[n]);

        cost += MAX(0.0, s->load[n] - sim->cap[n]);
        if (overflow > 0)
            cost += sim->options->params.remote_penalty * s->load[n] * overflow / s->mem_load[n];
    }
    return cost;
}

static gboolean
search_better(double cost, guint moves, const Search *s)
{
    return cost < s->best_cost - EPSILON || (cost < s->best_cost + EPSILON && moves < s->best_moves);
}

static void
search(Search *s, guint i, guint moves)
{
    const Sim *sim = s->sim;
    double cost = search_cost(s), spare = 0;

    if (++s->visits > sim->options->optimum_budget) {
        s->exhausted = TRUE;
        return;
    }
    if (i == s->k) {
        if (search_better(cost, moves, s)) {
            s->best_cost = cost;
            s->best_moves = moves;
            memcpy(s->best, s->assign, s->k * sizeof(guint));
        }
        return;
    }
    for (guint n = 0; n < sim->n; n++)
        spare += MAX(0.0, sim->cap[n] - s->load[n]);
    /* Whatever does not fit in the spare CPUs is contention anyway. */
    if (!search_better(cost + MAX(0.0, s->rest[i] - spare), moves, s))
        return;
    for (guint k = 0; k <= sim->n && !s->exhausted; k++) {
        /* Its current home first: the search then meets few-move answers early. */
        guint n = k == 0 ? (guint) s->clients[i]->home : k - 1;

        if (sim->cap[n] <= 0 || (k > 0 && n == (guint) s->clients[i]->home))
            continue;
        s->load[n] += s->demand[i];
        s->mem_load[n] += s->memory[i];
        s->assign[i] = n;
        search(s, i + 1, moves + (k > 0));
        s->load[n] -= s->demand[i];
        s->mem_load[n] -= s->memory[i];
    }
}

static double
coming_demand(const Sim *sim, const SimClient *client)
{
    const SimVm *vm = sim->trace->vms->pdata[client->vm];
    guint end = MIN(vm->leave, sim->t + (guint) OPTIMUM_EPOCH_S);
    double sum = 0;

    for (guint t = sim->t; t < end; t++) {
        for (guint v = 0; v < client->vcpus; v++)
            sum += sim_vm_vcpu_demand(vm, t, client->first_vcpu + v);
    }
    return end > sim->t ? sum / (end - sim->t) : 0;
}

static gint
compare_demand(gconstpointer a, gconstpointer b, gpointer data)
{
    const double *demand = data;
    double x = demand[((SimClient *const *) a)[0]->id], y = demand[((SimClient *const *) b)[0]->id];

    return (x < y) - (x > y);
}

/* Every client → node assignment: least CPU time lost over the coming
 * epoch first, then fewest moves. */
static void
optimise(Sim *sim)
{
    guint k = sim->clients->len;
    g_autofree double *by_id = g_new0(double, sim->next_id);
    Search s = { .sim = sim, .k = k, .best_moves = 0 };

    s.clients = g_new(SimClient *, MAX(k, 1));
    memcpy(s.clients, sim->clients->pdata, k * sizeof(SimClient *));
    for (guint c = 0; c < k; c++)
        by_id[s.clients[c]->id] = coming_demand(sim, s.clients[c]);
    g_qsort_with_data(s.clients, k, sizeof(SimClient *), compare_demand, by_id);
    s.demand = g_new0(double, k + 1);
    s.memory = g_new0(double, k + 1);
    s.rest = g_new0(double, k + 1);
    s.assign = g_new0(guint, k + 1);
    s.best = g_new0(guint, k + 1);
    s.load = g_new0(double, sim->n);
    s.mem_load = g_new0(double, sim->n);
    for (guint c = 0; c < k; c++) {
        s.demand[c] = by_id[s.clients[c]->id];
        s.memory[c] = sim_client_memory(s.clients[c], sim->n);
        s.best[c] = (guint) s.clients[c]->home;
        s.load[s.best[c]] += s.demand[c];
        s.mem_load[s.best[c]] += s.memory[c];
    }
    for (gint c = (gint) k - 1; c >= 0; c--)
        s.rest[c] = s.rest[c + 1] + s.demand[c];
    /* The current homes are the answer to beat. */
    s.best_cost = search_cost(&s);
    memset(s.load, 0, sim->n * sizeof(double));
    memset(s.mem_load, 0, sim->n * sizeof(double));
    search(&s, 0, 0);
    if (s.exhausted)
        sim->exact = FALSE;
    for (guint c = 0; c < k; c++)
        set_home(sim, s.clients[c], s.best[c], TRUE);
    sim_recompute_load(sim);
    g_free(s.clients);
    g_free(s.demand);
    g_free(s.memory);
    g_free(s.rest);
    g_free(s.assign);
    g_free(s.best);
    g_free(s.load);
    g_free(s.mem_load);
}

/* ---- dispatch ------------------------------------------------------- */

static void
vcpu_times_free(gpointer times)
{
    if (times)
        g_array_unref(times);
}

void
sim_policy_init(Sim *sim)
{
    guint vms = sim->trace->vms->len;

    if (sim->options->policy == SIM_POLICY_VNUMA || sim->options->policy == SIM_POLICY_VNUMA_BEFORE) {
        sim->rebalancer = vnuma_rebalancer_new(&sim->options->params);
        sim->vm_times = g_ptr_array_new_with_free_func(vcpu_times_free);
        g_ptr_array_set_size(sim->vm_times, vms);
        sim->vm_sampled = g_new0(double, vms);
    }
    sim->vm_mask = g_new0(guint64, vms);
    sim->vm_bound = g_new0(double, vms);
}

void
sim_policy_clear(Sim *sim)
{
    vnuma_rebalancer_free(sim->rebalancer);
    if (sim->vm_times)
        g_ptr_array_unref(sim->vm_times);
    g_free(sim->vm_sampled);
    g_free(sim->vm_mask);
    g_free(sim->vm_bound);
}

void
sim_policy_place(Sim *sim, guint vm, GPtrArray *clients, VnumaLayout *layout)
{
    const SimVm *spec = sim->trace->vms->pdata[vm];

    switch (sim->options->policy) {
    case SIM_POLICY_NONE:
        for (guint i = 0; i < clients->len; i++) {
            ((SimClient *) clients->pdata[i])->allowed = cpu_nodes(sim);
            sim_float_place(sim, clients->pdata[i]);
        }
        break;
    case SIM_POLICY_NUMAD:
        /* libvirt's <vcpu placement='auto'> asks numad for advice at start. */
        numad_bind(sim, vm, numad_pick(sim, vm, spec->vcpus, (double) spec->memory_kib));
        break;
    case SIM_POLICY_STATIC_PACK:
        place_static(sim, clients, TRUE);
        break;
    case SIM_POLICY_VNUMA:
    case SIM_POLICY_VNUMA_BEFORE:
        if (layout->managed && layout->clients->len == clients->len)
            place_vnuma(sim, clients, layout);
        else
            place_static(sim, clients, FALSE);
        break;
    case SIM_POLICY_OPTIMUM:
        /* Somewhere to start from; the search re-decides everything now. */
        place_static(sim, clients, FALSE);
        sim->next_pass = sim->t;
        break;
    case SIM_POLICY_STATIC_SPREAD:
    default:
        place_static(sim, clients, FALSE);
        break;
    }
    sim_recompute_load(sim);
}

void
sim_policy_step(Sim *sim)
{
    gboolean due = sim->t >= sim->next_pass;

    switch (sim->options->policy) {
    case SIM_POLICY_NONE:
        sim_float_balance(sim);
        return;
    case SIM_POLICY_NUMAD:
        sim_float_balance(sim);
        if (due)
            sim->next_pass = sim->t + (numad_scan(sim) ? NUMAD_MIN_SCAN_S : NUMAD_MAX_SCAN_S);
        break;
    case SIM_POLICY_VNUMA:
    case SIM_POLICY_VNUMA_BEFORE:
        if (due) {
            rebalance_vnuma(sim);
            sim->next_pass = sim->t + VNUMA_REBALANCE_DEFAULT_PERIOD;
        }
        break;
    case SIM_POLICY_OPTIMUM:
        if (due) {
            optimise(sim);
            sim->next_pass = sim->t + OPTIMUM_EPOCH_S;
        }
        break;
    default:
        return;
    }
    if (due)
        sim->last_pass = sim->t;
    sim_recompute_load(sim);
}

gboolean
sim_policy_moves_memory(const Sim *sim)
{
    return sim->options->policy != SIM_POLICY_NONE && sim->options->policy != SIM_POLICY_STATIC_PACK &&
           sim->options->policy != SIM_POLICY_STATIC_SPREAD;
}
