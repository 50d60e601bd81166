/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cost-bench: what the agent's decisions cost as the host grows. For
 * 100 / 1,000 / 5,000 / 10,000 clients on 2 / 8 / 16 nodes: the time of
 * one rebalancer pass (lib/vnuma-rebalance.c), its growth exponent, and
 * the memory of the agent's per-client model; and the time to choose
 * home nodes for one VM (lib/vnuma-placement.c). Each configuration runs
 * in its own child so its RSS growth is its own. Figures are per unit,
 * from one run.
 *
 *   cost-bench [--seed N]
 *   cost-bench --nodes N --clients N --passes N    one configuration, exactly N passes
 *
 * The second form is for instruction counts, which are repeatable where
 * times on a shared machine are not:
 *   valgrind --tool=callgrind --toggle-collect=vnuma_rebalancer_pass \
 *     build/bench/sim/cost-bench --nodes 8 --clients 1000 --passes 10
 * (the collected instructions over 10, per pass).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>

#include "bench/bench-median.h"
#include "lib/vnuma-placement.h"
#include "lib/vnuma-rebalance.h"

#define CPUS_PER_NODE 16
#define VCPUS_PER_CLIENT 4
#define MIN_SECONDS 1.0
#define MAX_PASSES 41

/* --passes: exactly this many passes (0: by time, as above). */
static guint fixed_passes;

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double
rss_kib(void)
{
    g_autofree char *status = NULL;
    const char *line;

    if (!g_file_get_contents("/proc/self/status", &status, NULL, NULL) || !(line = strstr(status, "VmRSS:")))
        return 0;
    return g_ascii_strtod(line + strlen("VmRSS:"), NULL);
}

/* What the agent keeps per client besides the rebalancer's own state:
 * its vCPUs, memory per node (numa_maps) and demand per vCPU. */
typedef struct {
    VnumaCpuSet *vcpus;
    GArray *memory_kib;       /* guint64 per node */
    GArray *vcpu_demand;      /* double per vCPU */
} ModelClient;

static void
model_client_clear(gpointer data)
{
    ModelClient *c = data;

    vnuma_cpuset_free(c->vcpus);
    g_array_unref(c->memory_kib);
    g_array_unref(c->vcpu_demand);
}

static GArray *
build_model(GRand *rand, guint n_nodes, guint n_clients, VnumaRebalanceClient *rc)
{
    GArray *model = g_array_sized_new(FALSE, TRUE, sizeof(ModelClient), n_clients);

    g_array_set_clear_func(model, model_client_clear);
    for (guint c = 0; c < n_clients; c++) {
        ModelClient m = {
            vnuma_cpuset_new_range(0, VCPUS_PER_CLIENT - 1),
            g_array_sized_new(FALSE, TRUE, sizeof(guint64), n_nodes),
            g_array_sized_new(FALSE, TRUE, sizeof(double), VCPUS_PER_CLIENT),
        };
        guint home = g_rand_int_range(rand, 0, n_nodes);

        g_array_set_size(m.memory_kib, n_nodes);
        /* Mostly at home, some elsewhere: locality and swap moves have
         * something to weigh. */
        g_array_index(m.memory_kib, guint64, home) = 4 * 1024 * 1024;
        g_array_index(m.memory_kib, guint64, g_rand_int_range(rand, 0, n_nodes)) += 512 * 1024;
        for (guint v = 0; v < VCPUS_PER_CLIENT; v++) {
            double d = g_rand_double_range(rand, 0, 1);

            g_array_append_val(m.vcpu_demand, d);
        }
        g_array_append_val(model, m);
        rc[c] = (VnumaRebalanceClient) {
            .id = c, .home = home, .memory_kib = (const guint64 *) (void *) m.memory_kib->data,
            .last_move = -1, .vcpus = VCPUS_PER_CLIENT,
        };
    }
    return model;
}

/* One configuration, in a child: prints its line; returns the RSS
 * growth, KiB, and the ms per pass. */
static void
rebalance_cost(guint n_nodes, guint n_clients, guint seed, double out[2])
{
    g_autoptr(GRand) rand = g_rand_new_with_seed(seed);
    g_autofree VnumaRebalanceNode *nodes = g_new0(VnumaRebalanceNode, n_nodes);
    VnumaRebalanceClient *rc;
    g_autoptr(GArray) model = NULL;
    g_autoptr(VnumaRebalancer) rebalancer = NULL;
    VnumaRebalanceParams params;
    double rss_before = rss_kib(), rss_grown, start, elapsed = 0, first = 0, taken;
    g_autoptr(GArray) times = g_array_new(FALSE, FALSE, sizeof(double));
    guint passes = 0;

    vnuma_rebalance_params_init(&params);
    rebalancer = vnuma_rebalancer_new(&params);
    for (guint n = 0; n < n_nodes; n++)
        nodes[n] = (VnumaRebalanceNode) { n, CPUS_PER_NODE };
    rc = g_new0(VnumaRebalanceClient, n_clients);
    model = build_model(rand, n_nodes, n_clients, rc);
    while (fixed_passes ? passes < fixed_passes : passes < MAX_PASSES && (passes < 3 || elapsed < MIN_SECONDS)) {
        g_autoptr(GArray) moves = NULL;

        /* A fresh sample every pass, as the agent measures one. */
        for (guint c = 0; c < n_clients; c++) {
            const ModelClient *m = &g_array_index(model, ModelClient, c);

            rc[c].demand = 0;
            for (guint v = 0; v < VCPUS_PER_CLIENT; v++)
                rc[c].demand += g_array_index(m->vcpu_demand, double, v) * g_rand_double_range(rand, 0.8, 1.2);
        }
        start = now_s();
        moves = vnuma_rebalancer_pass(rebalancer, nodes, n_nodes, rc, n_clients, 2.0 * (passes + 1));
        taken = now_s() - start;
        if (passes == 0) {
            first = taken;
        } else {
            elapsed += taken;
            g_array_append_val(times, taken);
        }
        passes++;
    }
    elapsed = bench_median(times);
    rss_grown = rss_kib() - rss_before;
    printf("| %u | %u | %.2f | %.2f | %.2f | %.2f | %.0f | %.2f |\n", n_nodes, n_clients, elapsed * 1e3,
           elapsed * 1e6 / n_clients, elapsed * 1e9 / ((double) n_clients * n_clients), first * 1e3,
           rss_grown, rss_grown / n_clients);
    g_free(rc);
    out[0] = rss_grown;
    out[1] = elapsed * 1e3;
}

/* A host of @n_nodes nodes of CPUS_PER_NODE CPUs, four nodes to a
 * socket (like EPYC in NPS4): distance 12 within a socket, 32 across. */
static VnumaHost *
generated_host(guint n_nodes)
{
    VnumaHost *host = vnuma_host_new();

    for (guint n = 0; n < n_nodes; n++) {
        VnumaHostNode *node = vnuma_host_add_node(host, n, 64ull * 1024 * 1024);

        for (guint c = 0; c < CPUS_PER_NODE; c++) {
            guint id = n * CPUS_PER_NODE + c;

            vnuma_host_node_add_cpu(node, id, TRUE, n / 4, 0, id, vnuma_cpuset_new_range(id, id));
        }
        for (guint m = 0; m < n_nodes; m++)
            vnuma_host_node_add_distance(node, m, m == n ? 10 : m / 4 == n / 4 ? 12 : 32);
    }
    if (!vnuma_host_finish(host, NULL))
        g_error("generated host is invalid");
    return host;
}

/* Home nodes for one VM with @count clients, on a loaded host. */
static void
placement_cost(guint n_nodes, guint count, guint seed, double out[2])
{
    g_autoptr(GRand) rand = g_rand_new_with_seed(seed);
    g_autoptr(VnumaHost) host = generated_host(n_nodes);
    g_autoptr(GPtrArray) usable = g_ptr_array_new_with_free_func((GDestroyNotify) vnuma_cpuset_free);
    g_autofree VnumaNodeLoad *loads = g_new0(VnumaNodeLoad, n_nodes);
    double start, elapsed = 0;
    guint runs = 0;

    for (guint n = 0; n < n_nodes; n++) {
        g_ptr_array_add(usable, vnuma_host_node_cpus(host->nodes->pdata[n]));
        loads[n] = (VnumaNodeLoad) { n, g_rand_double_range(rand, 0, 24), g_rand_int_range(rand, 0, 1 << 26) };
    }
    while (runs < 3 || (elapsed < MIN_SECONDS && runs < 1000)) {
        g_autoptr(GArray) chosen = NULL;

        start = now_s();
        chosen = vnuma_placement_choose_nodes(host, usable, count, loads, n_nodes);
        elapsed += now_s() - start;
        runs++;
    }
    printf("| %u | %u | %.3f |\n", n_nodes, count, elapsed * 1e3 / runs);
    out[0] = out[1] = elapsed * 1e3 / runs;
}

typedef void (*Bench)(guint a, guint b, guint seed, double out[2]);

/* Runs @bench in a child, so that its RSS is its own; @out gets what
 * @bench gave. */
static void
in_child(Bench bench, guint a, guint b, guint seed, double out[2])
{
    int fds[2];
    double value[2] = { 0, 0 };
    pid_t pid;
    int status;

    fflush(stdout);
    if (pipe(fds) < 0 || (pid = fork()) < 0) {
        perror("cost-bench");
        exit(1);
    }
    if (pid == 0) {
        bench(a, b, seed, value);
        fflush(stdout);
        _exit(write(fds[1], value, sizeof(value)) == sizeof(value) ? 0 : 1);
    }
    close(fds[1]);
    if (read(fds[0], value, sizeof(value)) != sizeof(value) || waitpid(pid, &status, 0) < 0 ||
        !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "cost-bench: a configuration failed\n");
        exit(1);
    }
    close(fds[0]);
    out[0] = value[0];
    out[1] = value[1];
}

/* The targets for a pass: nodes, clients, ms. */
static const struct {
    guint nodes, clients;
    double ms;
} pass_targets[] = { { 8, 1000, 1.0 }, { 16, 10000, 15.0 } };

int
main(int argc, char **argv)
{
    static const guint node_counts[] = { 2, 8, 16 };
    static const guint client_counts[] = { 100, 1000, 5000, 10000 };
    double rss[G_N_ELEMENTS(client_counts)], marginal[G_N_ELEMENTS(node_counts)];
    double ms[G_N_ELEMENTS(node_counts)][G_N_ELEMENTS(client_counts)], out[2];
    gint seed = 1, only_nodes = 0, only_clients = 0, passes = 0;
    GOptionEntry entries[] = {
        { "seed", 's', 0, G_OPTION_ARG_INT, &seed, "Seed of the generated clients (default 1)", "N" },
        { "nodes", 0, 0, G_OPTION_ARG_INT, &only_nodes, "Only this many nodes (with --clients)", "N" },
        { "clients", 0, 0, G_OPTION_ARG_INT, &only_clients, "Only this many clients (with --nodes)", "N" },
        { "passes", 0, 0, G_OPTION_ARG_INT, &passes, "Exactly N passes, at least 2 (with --nodes)", "N" },
        { NULL },
    };
    g_autoptr(GOptionContext) options = g_option_context_new(NULL);
    g_autoptr(GError) error = NULL;

    g_option_context_add_main_entries(options, entries, NULL);
    if (!g_option_context_parse(options, &argc, &argv, &error) || argc != 1 ||
        (only_nodes > 0) != (only_clients > 0) || (passes && (passes < 2 || only_nodes <= 0))) {
        fprintf(stderr, "usage: cost-bench [--seed N] | --nodes N --clients N [--passes N]\n");
        return 2;
    }
    fixed_passes = (guint) passes;
    if (only_nodes > 0) {
        printf("| nodes | clients | ms / pass | µs / client | ns / client² | first pass ms | RSS growth KiB | KiB / client |\n");
        printf("|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        rebalance_cost((guint) only_nodes, (guint) only_clients, (guint) seed, out);
        return 0;
    }
    printf("Rebalancer pass (%d CPUs per node, %d vCPUs per client; median of passes 2.., "
           "RSS growth of the model per client):\n\n", CPUS_PER_NODE, VCPUS_PER_CLIENT);
    printf("| nodes | clients | ms / pass | µs / client | ns / client² | first pass ms | RSS growth KiB | KiB / client |\n");
    printf("|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (gsize n = 0; n < G_N_ELEMENTS(node_counts); n++) {
        guint few = client_counts[0], many = client_counts[G_N_ELEMENTS(client_counts) - 1];

        for (gsize c = 0; c < G_N_ELEMENTS(client_counts); c++) {
            in_child(rebalance_cost, node_counts[n], client_counts[c], (guint) seed, out);
            rss[c] = out[0];
            ms[n][c] = out[1];
        }
        /* The allocator's first arena is in every row: the slope is the cost. */
        marginal[n] = (rss[G_N_ELEMENTS(client_counts) - 1] - rss[0]) / (many - few);
    }
    printf("\nMarginal model RSS per client (slope from %u to %u clients):", client_counts[0],
           client_counts[G_N_ELEMENTS(client_counts) - 1]);
    for (gsize n = 0; n < G_N_ELEMENTS(node_counts); n++)
        printf("%s%u nodes %.2f KiB", n ? ", " : " ", node_counts[n], marginal[n]);
    printf("\n");
    /* Time ∝ clients^k: k = 1 is linear, 2 the old all-pairs search. */
    printf("\nGrowth exponent of a pass, %u → %u clients (log(t₂/t₁) / log(n₂/n₁)):", client_counts[1],
           client_counts[G_N_ELEMENTS(client_counts) - 1]);
    for (gsize n = 0; n < G_N_ELEMENTS(node_counts); n++)
        printf("%s%u nodes %.2f", n ? ", " : " ", node_counts[n],
               log(ms[n][G_N_ELEMENTS(client_counts) - 1] / ms[n][1]) /
                   log((double) client_counts[G_N_ELEMENTS(client_counts) - 1] / client_counts[1]));
    printf("\n");
    for (gsize t = 0; t < G_N_ELEMENTS(pass_targets); t++) {
        for (gsize n = 0; n < G_N_ELEMENTS(node_counts); n++) {
            for (gsize c = 0; c < G_N_ELEMENTS(client_counts); c++) {
                if (node_counts[n] == pass_targets[t].nodes && client_counts[c] == pass_targets[t].clients)
                    printf("Target ≤ %.0f ms per pass, %u clients × %u nodes: %.2f ms, %s\n", pass_targets[t].ms,
                           client_counts[c], node_counts[n], ms[n][c],
                           ms[n][c] <= pass_targets[t].ms ? "met" : "MISSED");
            }
        }
    }
    printf("\nHome nodes for one VM (vnuma_placement_choose_nodes, generated host, 4 nodes per socket):\n\n");
    printf("| nodes | clients of the VM | ms |\n|---:|---:|---:|\n");
    for (gsize n = 0; n < G_N_ELEMENTS(node_counts); n++) {
        in_child(placement_cost, node_counts[n], 2, (guint) seed, out);
        if (node_counts[n] / 2 > 2)
            in_child(placement_cost, node_counts[n], node_counts[n] / 2, (guint) seed, out);
    }
    return 0;
}
