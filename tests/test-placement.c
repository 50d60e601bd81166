/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Home-node placement, docs/spec.md §4: least pairwise SLIT distance, then
 * committed CPU, then committed memory, then the lowest id; and the pins
 * and numatune vnuma_layout_finish() derives from it. */
#include "tests/testutil.h"

#include <string.h>

#include "lib/vnuma-layout.h"
#include "lib/vnuma-pipeline.h"
#include "lib/vnuma-placement.h"
#include "lib/vnuma-sizing.h"

#define GIB 1048576ull   /* KiB */

/* ---- helpers ---------------------------------------------------------- */

static VnumaLayout *
plan_full(const VnumaHost *host, const VnumaSettings *settings, const VnumaRequest *r,
          const VnumaNodeLoad *loads, guint n_loads)
{
    VnumaLayout *layout = vnuma_pipeline_run(host, settings, r, loads, n_loads, NULL, 0);

    assert_non_null(layout);
    if (!layout->managed) {
        vnuma_test_dump_layout(layout);
        fail_msg("sizing did not manage the domain");
    }
    return layout;
}

/* @r planned under the default settings and @loads. */
static VnumaLayout *
plan_request(const VnumaHost *host, const VnumaRequest *r, const VnumaNodeLoad *loads, guint n_loads)
{
    VnumaSettings settings;
    VnumaLayout *layout;

    vnuma_settings_init(&settings);
    layout = plan_full(host, &settings, r, loads, n_loads);
    vnuma_settings_clear(&settings);
    return layout;
}

/* A plain kvm domain of @vcpus with at most @per_client vCPUs per client
 * (maxPerMachineNode; 0: the host's limit), placed under @loads. */
static VnumaLayout *
plan_loaded(const VnumaHost *host, guint vcpus, guint per_client, const VnumaNodeLoad *loads,
            guint n_loads)
{
    g_autoptr(VnumaRequest) r = vnuma_test_request(vcpus, vcpus * GIB);

    if (per_client) {
        g_autofree char *text = g_strdup_printf("%u", per_client);

        vnuma_request_add_override(r, "maxPerMachineNode", text);
    }
    return plan_request(host, r, loads, n_loads);
}

static VnumaLayout *
plan(const VnumaHost *host, guint vcpus, guint per_client)
{
    return plan_loaded(host, vcpus, per_client, NULL, 0);
}

static char *
homes_text(const VnumaLayout *layout)
{
    GString *out = g_string_new(NULL);

    for (guint i = 0; i < layout->clients->len; i++)
        g_string_append_printf(out, "%s%d", i ? " " : "",
                               ((VnumaClient *) layout->clients->pdata[i])->home_node);
    return g_string_free(out, FALSE);
}

/* assert_homes(layout, "0 1 2 3"): each client's home node, in client order. */
static void
assert_homes(const VnumaLayout *layout, const char *expected)
{
    g_autofree char *got = homes_text(layout);

    if (!g_str_equal(got, expected)) {
        print_error("home nodes: got '%s', want '%s'\n", got, expected);
        vnuma_test_dump_layout(layout);
        fail();
    }
}

/* The set of home nodes used, as a node list ("0-3"). */
static char *
home_set_text(const VnumaLayout *layout)
{
    g_autoptr(VnumaCpuSet) nodes = vnuma_cpuset_new();

    for (guint i = 0; i < layout->clients->len; i++) {
        gint home = ((VnumaClient *) layout->clients->pdata[i])->home_node;

        assert_true(home >= 0);
        vnuma_cpuset_add(nodes, (guint) home);
    }
    return vnuma_cpuset_format(nodes);
}

static void
assert_home_set(const VnumaLayout *layout, const char *expected)
{
    g_autofree char *got = home_set_text(layout);

    if (!g_str_equal(got, expected)) {
        print_error("home node set: got '%s', want '%s'\n", got, expected);
        vnuma_test_dump_layout(layout);
        fail();
    }
}

static void
assert_warning(const VnumaLayout *layout, const char *fragment)
{
    for (guint i = 0; i < layout->warnings->len; i++) {
        if (strstr(layout->warnings->pdata[i], fragment))
            return;
    }
    print_error("no warning contains '%s'\n", fragment);
    vnuma_test_dump_layout(layout);
    fail();
}

static void
assert_no_warnings(const VnumaLayout *layout)
{
    if (layout->warnings->len) {
        vnuma_test_dump_layout(layout);
        fail_msg("expected no warnings");
    }
}

static void
assert_set(const VnumaCpuSet *set, const char *expected)
{
    g_autofree char *text = set ? vnuma_cpuset_format(set) : g_strdup("(null)");

    assert_str_equal(text, expected);
}

/* Node ids of a choose_nodes() answer (indexes into host->nodes). */
static char *
chosen_text(const VnumaHost *host, GArray *chosen)
{
    g_autoptr(VnumaCpuSet) nodes = vnuma_cpuset_new();

    for (guint i = 0; i < chosen->len; i++) {
        guint index = g_array_index(chosen, guint, i);

        assert_true(index < host->nodes->len);
        vnuma_cpuset_add(nodes, ((VnumaHostNode *) host->nodes->pdata[index])->id);
    }
    /* Distinct and ascending. */
    assert_int_equal(vnuma_cpuset_count(nodes), chosen->len);
    for (guint i = 1; i < chosen->len; i++)
        assert_true(g_array_index(chosen, guint, i - 1) < g_array_index(chosen, guint, i));
    return vnuma_cpuset_format(nodes);
}

static GPtrArray *
usable_all(const VnumaHost *host)
{
    GPtrArray *usable = g_ptr_array_new_with_free_func((GDestroyNotify) vnuma_cpuset_free);

    for (guint i = 0; i < host->nodes->len; i++)
        g_ptr_array_add(usable, vnuma_host_node_cpus(host->nodes->pdata[i]));
    return usable;
}

static char *
choose(const VnumaHost *host, const GPtrArray *usable, guint count, const VnumaNodeLoad *loads,
       guint n_loads)
{
    g_autoptr(GArray) chosen = vnuma_placement_choose_nodes(host, usable, count, loads, n_loads);

    return chosen_text(host, chosen);
}

/* A synthetic host of @n nodes, two CPUs (one core, two threads) each;
 * distance(i, j) for i != j comes from @distance. */
static VnumaHost *
synthetic_host(guint n, guint (*distance)(guint, guint))
{
    g_autoptr(GError) error = NULL;
    VnumaHost *host = vnuma_host_new();

    for (guint i = 0; i < n; i++) {
        VnumaHostNode *node = vnuma_host_add_node(host, i, 16 * GIB);
        g_autofree char *siblings = g_strdup_printf("%u,%u", 2 * i, 2 * i + 1);

        vnuma_host_node_add_cpu(node, 2 * i, TRUE, i, 0, 0, vnuma_test_cpuset(siblings));
        vnuma_host_node_add_cpu(node, 2 * i + 1, TRUE, i, 0, 0, vnuma_test_cpuset(siblings));
        vnuma_host_node_add_pages(node, 4, 4 * GIB, -1);
        for (guint j = 0; j < n; j++)
            vnuma_host_node_add_distance(node, j, i == j ? 10 : distance(i, j));
    }
    if (!vnuma_host_finish(host, &error))
        fail_msg("vnuma_host_finish: %s", error->message);
    return host;
}

/* 10 self, 12 within groups of 4 nodes, 30 otherwise. */
static guint
groups_of_four(guint i, guint j)
{
    return i / 4 == j / 4 ? 12 : 30;
}

/* Groups {0-2} {3-7} | {8-11} {12-15} | {16}: 12 within a group, 20
 * between groups of one socket, 32 across sockets, 40 to the lone node. */
static guint
uneven_groups(guint i, guint j)
{
    static const guint group[] = { 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4 };

    if (group[i] == 4 || group[j] == 4)
        return 40;
    if (group[i] == group[j])
        return 12;
    if (group[i] / 2 == group[j] / 2)
        return 20;
    return 32;
}

/* ---- EPYC NPS4: 8 nodes, 10 / 12 same socket / 32 other socket --------- */

static void
test_epyc_four_clients_one_socket(void **state)
{
    g_autoptr(VnumaHost) host = vnuma_test_host("epyc-nps4-2s");
    g_autoptr(VnumaLayout) layout = plan(host, 32, 0);

    (void) state;
    assert_int_equal(layout->client_limit, 8);
    assert_int_equal(layout->clients->len, 4);
    assert_homes(layout, "0 1 2 3");
    assert_no_warnings(layout);
}

static void
test_epyc_two_clients(void **state)
{
    g_autoptr(VnumaHost) host = vnuma_test_host("epyc-nps4-2s");
    g_autoptr(VnumaLayout) layout = plan(host, 16, 0);

    (void) state;
    assert_int_equal(layout->clients->len, 2);
    assert_homes(layout, "0 1");
}

static void
test_epyc_busy_socket(void **state)
{
    g_autoptr(VnumaHost) host = vnuma_test_host("epyc-nps4-2s");
    const VnumaNodeLoad loads[] = {
        { .node_id = 0, .vcpus = 16, .memory_kib = 32 * GIB },
        { .node_id = 1, .vcpus = 16, .memory_kib = 32 * GIB },
        { .node_id = 2, .vcpus = 16, .memory_kib = 32 * GIB },
        { .node_id = 3, .vcpus = 16, .memory_kib = 32 * GIB },
    };
    g_autoptr(VnumaLayout) layout = plan_loaded(host, 32, 0, loads, G_N_ELEMENTS(loads));

    (void) state;
    assert_homes(layout, "4 5 6 7");
}

static void
test_epyc_distance_before_load(void **state)
{
    g_autoptr(VnumaHost) host = vnuma_test_host("epyc-nps4-2s");
    /* Nodes 1-3 and 5-7 are busy; 0 and 4 are idle but on different
     * sockets (32). Two clients stay in one socket (12) anyway. */
    const VnumaNodeLoad loads[] = {
        { .node_id = 1, .vcpus = 8 }, { .node_id = 2, .vcpus = 16 }, { .node_id = 3, .vcpus = 16 },
        { .node_id = 5, .vcpus = 16 }, { .node_id = 6, .vcpus = 16 }, { .node_id = 7, .vcpus = 16 },
    };
    g_autoptr(VnumaLayout) layout = plan_loaded(host, 16, 0, loads, G_N_ELEMENTS(loads));

    (void) state;
    assert_homes(layout, "0 1");
}

/* The node set's order is free: the larger client takes the less loaded
 * node of the set, as a greedy spread would (a 7-vCPU VM on 4-core nodes:
 * 4 + 3). */
static void
test_larger_client_takes_less_loaded_node(void **state)
{
    g_autoptr(VnumaHost) host = vnuma_test_host("xeon-4s4c-ht");
    const VnumaNodeLoad loads[] = {
        { .node_id = 0, .vcpus = 2 }, { .node_id = 1, .vcpus = 1 },
        { .node_id = 2, .vcpus = 8 }, { .node_id = 3, .vcpus = 8 },
    };
    g_autoptr(VnumaLayout) layout = plan_loaded(host, 7, 4, loads, G_N_ELEMENTS(loads));
    g_autoptr(VnumaLayout) idle = plan(host, 7, 4);

    (void) state;
    assert_int_equal(layout->clients->len, 2);
    assert_int_equal(vnuma_cpuset_count(((VnumaClient *) layout->clients->pdata[0])->vcpus), 4);
    assert_homes(layout, "1 0");
    /* Equal loads keep the ids' order. */
    assert_homes(idle, "0 1");
}

static void
test_epyc_eight_clients(void **state)
{
    g_autoptr(VnumaHost) host = vnuma_test_host("epyc-nps4-2s");
    g_autoptr(VnumaLayout) layout = plan(host, 64, 0);

    (void) state;
    assert_int_equal(layout->clients->len, 8);
    assert_home_set(layout, "0-7");
    assert_no_warnings(layout);
}

static void
test_epyc_twelve_clients(void **state)
{
    g_autoptr(VnumaHost) host = vnuma_test_host("epyc-nps4-2s");
    /* maxPerMachineNode=8 keeps 12 clients of 8: without it, 96 vCPUs are 8
     * clients of 12, one per node (each node has 16 threads). */
    g_autoptr(VnumaLayout) layout = plan(host, 96, 8);
    g_autoptr(VnumaLayout) fewer = plan(host, 96, 0);
    guint per_node[8] = { 0 };

    (void) state;
    assert_int_equal(fewer->clients->len, 8);
    assert_home_set(fewer, "0-7");
    assert_int_equal(layout->clients->len, 12);
    assert_warning(layout, "share");
    assert_home_set(layout, "0-7");
    for (guint i = 0; i < layout->clients->len; i++)
        per_node[((VnumaClient *) layout->clients->pdata[i])->home_node]++;
    /* 12 clients on 8 nodes: no node holds more than two. */
    for (guint n = 0; n < 8; n++)
        assert_true(per_node[n] >= 1 && per_node[n] <= 2);
}

static void
test_epyc_one_client_least_loaded(void **state)
{
    g_autoptr(VnumaHost) host = vnuma_test_host("epyc-nps4-2s");
    const VnumaNodeLoad loads[] = {
        { .node_id = 0, .vcpus = 8 }, { .node_id = 1, .vcpus = 4 }, { .node_id = 2, .vcpus = 6 },
        { .node_id = 3, .vcpus = 8 }, { .node_id = 4, .vcpus = 8 }, { .node_id = 5, .vcpus = 5 },
        { .node_id = 6, .vcpus = 8 }, { .node_id = 7, .vcpus = 3 },
    };
    g_autoptr(VnumaLayout) layout = plan_loaded(host, 8, 0, loads, G_N_ELEMENTS(loads));

    (void) state;
    assert_homes(layout, "7");
}

/* ---- Cluster-on-Die: 4 nodes, 10 / 11 same socket / 21 ---------------- */

static void
test_cod_two_clients_same_socket(void **state)
{
    g_autoptr(VnumaHost) host = vnuma_test_host("xeon-cod-2s");
    g_autoptr(VnumaLayout) layout = plan(host, 14, 0);

    (void) state;
    assert_int_equal(layout->client_limit, 7);
    assert_homes(layout, "0 1");
}

static void
test_cod_lowest_cpu_first(void **state)
{
    g_autoptr(VnumaHost) host = vnuma_test_host("xeon-cod-2s");
    /* Node 1 has the least CPU load, though the most memory. */
    const VnumaNodeLoad loads[] = {
        { .node_id = 0, .vcpus = 14, .memory_kib = 0 },
        { .node_id = 1, .vcpus = 3, .memory_kib = 50 * GIB },
        { .node_id = 2, .vcpus = 7, .memory_kib = 0 },
        { .node_id = 3, .vcpus = 14, .memory_kib = 0 },
    };
    g_autoptr(VnumaLayout) layout = plan_loaded(host, 7, 0, loads, G_N_ELEMENTS(loads));

    (void) state;
    assert_homes(layout, "1");
}

static void
test_cod_memory_breaks_cpu_tie(void **state)
{
    g_autoptr(VnumaHost) host = vnuma_test_host("xeon-cod-2s");
    const VnumaNodeLoad loads[] = {
        { .node_id = 0, .vcpus = 14, .memory_kib = 0 },
        { .node_id = 1, .vcpus = 7, .memory_kib = 20 * GIB },
        { .node_id = 2, .vcpus = 7, .memory_kib = 10 * GIB },
        { .node_id = 3, .vcpus = 14, .memory_kib = 0 },
    };
    g_autoptr(VnumaLayout) layout = plan_loaded(host, 7, 0, loads, G_N_ELEMENTS(loads));

    (void) state;
    assert_homes(layout, "2");
}

static void
test_cod_memory_breaks_cpu_tie_pairs(void **state)
{
    g_autoptr(VnumaHost) host = vnuma_test_host("xeon-cod-2s");
    /* Both same-socket pairs carry 6 committed vCPUs on 28 CPUs (0 + 6
     * and 1 + 5): equal CPU load, so the lower memory, (2,3), wins. */
    const VnumaNodeLoad loads[] = {
        { .node_id = 0, .vcpus = 0, .memory_kib = 10 * GIB },
        { .node_id = 1, .vcpus = 6, .memory_kib = 10 * GIB },
        { .node_id = 2, .vcpus = 1, .memory_kib = 5 * GIB },
        { .node_id = 3, .vcpus = 5, .memory_kib = 5 * GIB },
    };
    g_autoptr(VnumaLayout) layout = plan_loaded(host, 14, 0, loads, G_N_ELEMENTS(loads));

    (void) state;
    assert_homes(layout, "2 3");
}

static void
test_cod_lowest_id_breaks_full_tie(void **state)
{
    g_autoptr(VnumaHost) host = vnuma_test_host("xeon-cod-2s");
    const VnumaNodeLoad loads[] = {
        { .node_id = 0, .vcpus = 14, .memory_kib = 10 * GIB },
        { .node_id = 1, .vcpus = 7, .memory_kib = 10 * GIB },
        { .node_id = 2, .vcpus = 7, .memory_kib = 10 * GIB },
        { .node_id = 3, .vcpus = 7, .memory_kib = 10 * GIB },
    };
    g_autoptr(VnumaLayout) layout = plan_loaded(host, 7, 0, loads, G_N_ELEMENTS(loads));

    (void) state;
    assert_homes(layout, "1");
}

static void
test_cod_pair_avoids_busy_socket(void **state)
{
    g_autoptr(VnumaHost) host = vnuma_test_host("xeon-cod-2s");
    const VnumaNodeLoad loads[] = { { .node_id = 0, .vcpus = 10, .memory_kib = 8 * GIB } };
    g_autoptr(VnumaLayout) layout = plan_loaded(host, 14, 0, loads, G_N_ELEMENTS(loads));

    (void) state;
    assert_homes(layout, "2 3");
}

static void
test_cod_distance_before_load(void **state)
{
    g_autoptr(VnumaHost) host = vnuma_test_host("xeon-cod-2s");
    /* Pairs (0,1) and (2,3) are one socket (11) and equally loaded; the
     * idle cross-socket pair (0,2) costs 21. Same socket, lowest id. */
    const VnumaNodeLoad loads[] = {
        { .node_id = 1, .vcpus = 7, .memory_kib = 4 * GIB },
        { .node_id = 3, .vcpus = 7, .memory_kib = 4 * GIB },
    };
    g_autoptr(VnumaLayout) layout = plan_loaded(host, 14, 0, loads, G_N_ELEMENTS(loads));

    (void) state;
    assert_homes(layout, "0 1");
}

static void
test_cod_loads_for_unknown_nodes_ignored(void **state)
{
    g_autoptr(VnumaHost) host = vnuma_test_host("xeon-cod-2s");
    const VnumaNodeLoad loads[] = { { .node_id = 9, .vcpus = 100, .memory_kib = 100 * GIB } };
    g_autoptr(VnumaLayout) layout = plan_loaded(host, 14, 0, loads, G_N_ELEMENTS(loads));

    (void) state;
    assert_homes(layout, "0 1");
}

/* ---- vnuma_placement_choose_nodes --------------------------------------- */

static void
test_choose_greedy_whole_groups(void **state)
{
    g_autoptr(VnumaHost) host = synthetic_host(24, groups_of_four);
    g_autoptr(GPtrArray) usable = usable_all(host);
    g_autofree char *idle = NULL;
    g_autofree char *busy = NULL;
    VnumaNodeLoad loads[4];

    (void) state;
    /* C(24, 12) = 2704156 sets: beyond the exhaustive search. */
    idle = choose(host, usable, 12, NULL, 0);
    assert_str_equal(idle, "0-11");

    /* The first group busy: three whole groups among the others. */
    for (guint i = 0; i < 4; i++)
        loads[i] = (VnumaNodeLoad) { .node_id = i, .vcpus = 2, .memory_kib = GIB };
    busy = choose(host, usable, 12, loads, 4);
    assert_str_equal(busy, "4-15");
}

static void
test_choose_greedy_matches_exhaustive(void **state)
{
    g_autoptr(VnumaHost) host = synthetic_host(17, uneven_groups);
    g_autoptr(GPtrArray) usable = usable_all(host);
    g_autofree char *greedy = NULL;
    g_autofree char *exhaustive = NULL;
    guint best_sum = G_MAXUINT, best_mask = 0;

    (void) state;
    /* Brute force over all 8-subsets of the 17 nodes. */
    for (guint mask = 0; mask < (1u << 17); mask++) {
        guint sum = 0;

        if (__builtin_popcount(mask) != 8)
            continue;
        for (guint i = 0; i < 17; i++) {
            for (guint j = i + 1; j < 17; j++) {
                if ((mask >> i & 1) && (mask >> j & 1))
                    sum += uneven_groups(i, j);
            }
        }
        if (sum < best_sum) {
            best_sum = sum;
            best_mask = mask;
        }
    }
    assert_int_equal(best_sum, 456);
    assert_int_equal(best_mask, 0xff);

    /* 17 candidates: C(17, 8) = 24310 sets, searched greedily. */
    greedy = choose(host, usable, 8, NULL, 0);
    assert_str_equal(greedy, "0-7");
    /* Node 16 unusable: C(16, 8) = 12870 sets, searched exhaustively. */
    vnuma_cpuset_free(usable->pdata[16]);
    usable->pdata[16] = vnuma_cpuset_new();
    exhaustive = choose(host, usable, 8, NULL, 0);
    assert_str_equal(exhaustive, greedy);
}

static void
test_choose_edges(void **state)
{
    g_autoptr(VnumaHost) host = vnuma_test_host("epyc-nps4-2s");
    g_autoptr(GPtrArray) usable = usable_all(host);
    g_autofree char *all = NULL;
    g_autofree char *none = NULL;
    g_autofree char *restricted = NULL;

    (void) state;
    /* More clients than nodes: every node, once. */
    all = choose(host, usable, 20, NULL, 0);
    assert_str_equal(all, "0-7");
    none = choose(host, usable, 0, NULL, 0);
    assert_str_equal(none, "");
    /* Unusable nodes are never chosen: nodes 0-2 and 5 have no usable CPU;
     * 3 and 4 are adjacent in id but on different sockets. */
    for (guint i = 0; i < 8; i++) {
        if (i <= 2 || i == 5) {
            vnuma_cpuset_free(usable->pdata[i]);
            usable->pdata[i] = vnuma_cpuset_new();
        }
    }
    restricted = choose(host, usable, 2, NULL, 0);
    assert_str_equal(restricted, "4,6");
}

static void
test_placement_skips_unmanaged(void **state)
{
    g_autoptr(VnumaHost) host = vnuma_test_host("xeon-2s10c-ht");
    g_autoptr(VnumaRequest) r = vnuma_test_request(12, 12 * GIB);
    g_autoptr(VnumaLayout) layout = NULL;
    VnumaSettings settings;

    (void) state;
    vnuma_settings_init(&settings);
    vnuma_request_add_override(r, "managed", "no");
    layout = vnuma_sizing_run(host, &settings, r);
    assert_false(layout->managed);
    vnuma_placement_run(host, layout, NULL, 0);
    for (guint i = 0; i < layout->clients->len; i++)
        assert_int_equal(((VnumaClient *) layout->clients->pdata[i])->home_node, -1);
    vnuma_settings_clear(&settings);
}

/* ---- pins and numatune from vnuma_layout_finish ------------------------- */

static void
test_finish_pins_exposed(void **state)
{
    g_autoptr(VnumaHost) host = vnuma_test_host("xeon-2s10c-ht");
    g_autoptr(VnumaLayout) layout = plan(host, 12, 0);
    const VnumaPinSet *pins = layout->pins;

    (void) state;
    assert_homes(layout, "0 1");
    assert_set(((VnumaClient *) layout->clients->pdata[0])->cpus, "0-9,20-29");
    assert_set(((VnumaClient *) layout->clients->pdata[1])->cpus, "10-19,30-39");
    assert_int_equal(pins->vcpupins->len, 12);
    for (guint i = 0; i < pins->vcpupins->len; i++) {
        const VnumaVcpuPin *pin = &g_array_index(pins->vcpupins, VnumaVcpuPin, i);

        assert_int_equal(pin->vcpu, i);
        /* The whole home node, not single pCPUs. */
        assert_set(pin->cpuset, i < 6 ? "0-9,20-29" : "10-19,30-39");
    }
    assert_set(pins->emulatorpin, "0-39");
    assert_true(pins->has_numatune);
    assert_str_equal(pins->memory_mode, "restrictive");
    assert_set(pins->memory_nodeset, "0-1");
    assert_int_equal(pins->memnodes->len, 2);
    assert_int_equal(g_array_index(pins->memnodes, VnumaMemnode, 0).cell_id, 0);
    assert_set(g_array_index(pins->memnodes, VnumaMemnode, 0).nodeset, "0");
    assert_int_equal(g_array_index(pins->memnodes, VnumaMemnode, 1).cell_id, 1);
    assert_set(g_array_index(pins->memnodes, VnumaMemnode, 1).nodeset, "1");
}

static void
test_finish_pins_strict(void **state)
{
    g_autoptr(VnumaHost) host = vnuma_test_host("xeon-2s10c-ht");
    g_autoptr(VnumaRequest) r = vnuma_test_request(12, 12 * GIB);
    g_autoptr(VnumaLayout) layout = NULL;
    VnumaSettings settings;

    (void) state;
    vnuma_settings_init(&settings);
    settings.memory_mode = VNUMA_MEMORY_MODE_STRICT;
    layout = plan_full(host, &settings, r, NULL, 0);
    assert_str_equal(layout->pins->memory_mode, "strict");
    assert_set(layout->pins->memory_nodeset, "0-1");
    assert_int_equal(layout->pins->memnodes->len, 2);
    vnuma_settings_clear(&settings);
}

static void
test_finish_pins_not_exposed(void **state)
{
    g_autoptr(VnumaHost) host = vnuma_test_host("xeon-2s10c-ht");
    g_autoptr(VnumaLayout) layout = plan(host, 10, 0);
    const VnumaPinSet *pins = layout->pins;

    (void) state;
    assert_int_equal(pins->vcpupins->len, 10);
    for (guint i = 0; i < pins->vcpupins->len; i++)
        assert_set(g_array_index(pins->vcpupins, VnumaVcpuPin, i).cpuset, "0-9,20-29");
    assert_set(pins->emulatorpin, "0-9,20-29");
    assert_set(pins->memory_nodeset, "0");
    /* No guest cell, so no <memnode>. */
    assert_int_equal(pins->memnodes->len, 0);
}

static void
test_finish_pins_epyc_four_cells(void **state)
{
    g_autoptr(VnumaHost) host = vnuma_test_host("epyc-nps4-2s");
    g_autoptr(VnumaLayout) layout = plan(host, 32, 0);
    const VnumaPinSet *pins = layout->pins;

    (void) state;
    assert_set(g_array_index(pins->vcpupins, VnumaVcpuPin, 0).cpuset, "0-7,64-71");
    assert_set(g_array_index(pins->vcpupins, VnumaVcpuPin, 31).cpuset, "24-31,88-95");
    assert_set(pins->emulatorpin, "0-31,64-95");
    assert_set(pins->memory_nodeset, "0-3");
    assert_int_equal(pins->memnodes->len, 4);
    for (guint i = 0; i < 4; i++) {
        g_autofree char *want = g_strdup_printf("%u", i);

        assert_int_equal(g_array_index(pins->memnodes, VnumaMemnode, i).cell_id, i);
        assert_set(g_array_index(pins->memnodes, VnumaMemnode, i).nodeset, want);
    }
}

static void
test_finish_shared_node(void **state)
{
    g_autoptr(VnumaHost) host = vnuma_test_host("xeon-2s10c-ht");
    g_autoptr(VnumaLayout) layout = plan(host, 12, 4);
    const VnumaPinSet *pins = layout->pins;

    (void) state;
    /* 3 clients on 2 nodes: the node set is still the union of homes. */
    assert_int_equal(layout->clients->len, 3);
    assert_warning(layout, "share");
    assert_home_set(layout, "0-1");
    assert_set(pins->memory_nodeset, "0-1");
    assert_int_equal(pins->memnodes->len, 3);
    for (guint i = 0; i < 3; i++) {
        const VnumaClient *c = layout->clients->pdata[i];
        g_autofree char *want = g_strdup_printf("%d", c->home_node);

        assert_set(g_array_index(pins->memnodes, VnumaMemnode, i).nodeset, want);
        assert_set(g_array_index(pins->vcpupins, VnumaVcpuPin, 4 * i).cpuset,
                   c->home_node == 0 ? "0-9,20-29" : "10-19,30-39");
    }
}

/* Hot-plug headroom follows its online client onto a CPU-only node: the
 * memory it will use is on that node's memory node, so that is where its
 * room is counted, not on the CPU-only node itself (which has none). */
static void
test_headroom_follows_onto_cpu_only_node(void **state)
{
    g_autoptr(VnumaHost) host = vnuma_test_host("xeon-2s10c-ht");
    g_autoptr(VnumaRequest) r = vnuma_test_request(20, 20 * GIB);
    g_autoptr(VnumaLayout) layout = NULL;

    (void) state;
    ((VnumaHostNode *) host->nodes->pdata[0])->memory_kib = 0;
    r->current_vcpus = 10;
    r->online_vcpus = vnuma_cpuset_parse("0-9", NULL);
    vnuma_request_add_override(r, "maxPerMachineNode", "10");
    layout = plan_request(host, r, NULL, 0);
    assert_int_equal(layout->clients->len, 2);
    /* The online client on the CPU-only node 0 (least loaded, lowest id);
     * the headroom beside it, its memory on node 1 like its partner's. */
    assert_homes(layout, "0 0");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_epyc_four_clients_one_socket),
        cmocka_unit_test(test_epyc_two_clients),
        cmocka_unit_test(test_epyc_busy_socket),
        cmocka_unit_test(test_epyc_distance_before_load),
        cmocka_unit_test(test_larger_client_takes_less_loaded_node),
        cmocka_unit_test(test_epyc_eight_clients),
        cmocka_unit_test(test_epyc_twelve_clients),
        cmocka_unit_test(test_epyc_one_client_least_loaded),
        cmocka_unit_test(test_cod_two_clients_same_socket),
        cmocka_unit_test(test_cod_lowest_cpu_first),
        cmocka_unit_test(test_cod_memory_breaks_cpu_tie),
        cmocka_unit_test(test_cod_memory_breaks_cpu_tie_pairs),
        cmocka_unit_test(test_cod_lowest_id_breaks_full_tie),
        cmocka_unit_test(test_cod_pair_avoids_busy_socket),
        cmocka_unit_test(test_cod_distance_before_load),
        cmocka_unit_test(test_cod_loads_for_unknown_nodes_ignored),
        cmocka_unit_test(test_choose_greedy_whole_groups),
        cmocka_unit_test(test_choose_greedy_matches_exhaustive),
        cmocka_unit_test(test_choose_edges),
        cmocka_unit_test(test_placement_skips_unmanaged),
        cmocka_unit_test(test_finish_pins_exposed),
        cmocka_unit_test(test_finish_pins_strict),
        cmocka_unit_test(test_finish_pins_not_exposed),
        cmocka_unit_test(test_finish_pins_epyc_four_cells),
        cmocka_unit_test(test_finish_shared_node),
        cmocka_unit_test(test_headroom_follows_onto_cpu_only_node),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
