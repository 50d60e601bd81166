/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The rebalancer's decisions, scenario by scenario (issue: imbalance
 * relieved in one move, no move when gain < cost, no ping-pong, budget,
 * swap beats two single moves). */
#include "tests/testutil.h"

#include "lib/vnuma-rebalance.h"

#define GIB (1024u * 1024u)
#define MAX_NODES 4

typedef struct {
    VnumaRebalanceNode nodes[MAX_NODES];
    guint n_nodes;
    VnumaRebalanceClient clients[16];
    guint64 memory[16][MAX_NODES];
    guint n_clients;
} Scene;

static void
scene_nodes(Scene *scene, guint n, double capacity)
{
    memset(scene, 0, sizeof(*scene));
    scene->n_nodes = n;
    for (guint i = 0; i < n; i++)
        scene->nodes[i] = (VnumaRebalanceNode) { .id = i, .capacity = capacity };
}

/* A client homed on @home using @demand CPUs, with @gib GiB on @mem_node. */
static guint
scene_client(Scene *scene, guint home, double demand, guint mem_node, guint gib)
{
    guint i = scene->n_clients++;

    scene->memory[i][mem_node] = (guint64) gib * GIB;
    scene->clients[i] = (VnumaRebalanceClient) {
        .id = i, .home = home, .demand = demand, .memory_kib = scene->memory[i], .last_move = -1,
    };
    return i;
}

static GArray *
pass(VnumaRebalancer *rb, Scene *scene, double now)
{
    return vnuma_rebalancer_pass(rb, scene->nodes, scene->n_nodes, scene->clients,
                                 scene->n_clients, now);
}

static void
test_imbalance_relieved_in_one_move(void **state)
{
    VnumaRebalanceParams params;
    Scene scene;

    vnuma_rebalance_params_init(&params);
    g_autoptr(VnumaRebalancer) rb = vnuma_rebalancer_new(&params);
    scene_nodes(&scene, 2, 10);
    scene_client(&scene, 0, 4, 0, 2);
    scene_client(&scene, 0, 4, 0, 2);
    scene_client(&scene, 0, 4, 0, 2);
    scene_client(&scene, 0, 2, 0, 2);
    scene_client(&scene, 1, 2, 1, 2);

    g_autoptr(GArray) moves = pass(rb, &scene, 0);
    assert_int_equal(moves->len, 1);
    VnumaMove *move = &g_array_index(moves, VnumaMove, 0);
    assert_int_equal(move->kind, VNUMA_MOVE_BALANCE);
    assert_int_equal(move->from, 0);
    assert_int_equal(move->to, 1);
    /* A 4-CPU client: node 0 drops from 14 to 10 CPUs, no contention left. */
    assert_true(scene.clients[move->client].demand == 4.0);
    assert_true(move->gain > move->cost);

    /* Relieved: the next pass, later, finds nothing worth doing. */
    g_autoptr(GArray) after = pass(rb, &scene, 100);
    assert_int_equal(after->len, 0);
}

static void
test_no_move_when_gain_below_cost(void **state)
{
    VnumaRebalanceParams params;
    Scene scene;

    vnuma_rebalance_params_init(&params);
    g_autoptr(VnumaRebalancer) rb = vnuma_rebalancer_new(&params);
    scene_nodes(&scene, 2, 10);
    /* 1 CPU of contention (30 CPU-s over the horizon) against 200 GiB to
     * copy (100 CPU-s): not worth it. */
    scene_client(&scene, 0, 6, 0, 200);
    scene_client(&scene, 0, 5, 0, 200);
    scene_client(&scene, 1, 1, 1, 1);
    g_autoptr(GArray) moves = pass(rb, &scene, 0);
    assert_int_equal(moves->len, 0);

    /* The same imbalance with little memory is worth a move. */
    scene.memory[1][0] = 1u * GIB;
    g_autoptr(GArray) cheap = pass(rb, &scene, 1);
    assert_int_equal(cheap->len, 1);
}

static void
test_no_move_below_hysteresis(void **state)
{
    VnumaRebalanceParams params;
    Scene scene;

    vnuma_rebalance_params_init(&params);
    g_autoptr(VnumaRebalancer) rb = vnuma_rebalancer_new(&params);
    scene_nodes(&scene, 2, 10);
    /* 6 vs 4 CPUs busy: uneven but no contention, below the hysteresis. */
    scene_client(&scene, 0, 3, 0, 1);
    scene_client(&scene, 0, 3, 0, 1);
    scene_client(&scene, 1, 4, 1, 1);
    g_autoptr(GArray) moves = pass(rb, &scene, 0);
    assert_int_equal(moves->len, 0);
}

static void
test_locality_migration(void **state)
{
    VnumaRebalanceParams params;
    Scene scene;

    vnuma_rebalance_params_init(&params);
    g_autoptr(VnumaRebalancer) rb = vnuma_rebalancer_new(&params);
    scene_nodes(&scene, 2, 10);
    /* Homed on 0, all its 16 GiB on node 1 (e.g. after a restore). */
    guint c = scene_client(&scene, 0, 4, 1, 16);
    scene_client(&scene, 1, 2, 1, 4);

    assert_true(vnuma_client_locality(&scene.clients[c], 2) == 0.0);
    g_autoptr(GArray) moves = pass(rb, &scene, 0);
    assert_int_equal(moves->len, 1);
    VnumaMove *move = &g_array_index(moves, VnumaMove, 0);
    assert_int_equal(move->kind, VNUMA_MOVE_LOCALITY);
    assert_int_equal(move->client, c);
    assert_int_equal(move->to, 1);
    /* Its memory is there already: the move costs less than staying. */
    assert_true(move->cost < params.cost_fixed);
    assert_true(vnuma_client_locality(&scene.clients[c], 2) == 1.0);
}

static void
test_prefers_client_with_memory_at_destination(void **state)
{
    VnumaRebalanceParams params;
    Scene scene;

    vnuma_rebalance_params_init(&params);
    g_autoptr(VnumaRebalancer) rb = vnuma_rebalancer_new(&params);
    scene_nodes(&scene, 2, 8);
    scene_client(&scene, 0, 4, 0, 32);
    guint split = scene_client(&scene, 0, 4, 0, 16);
    scene_client(&scene, 0, 4, 0, 32);
    scene.memory[split][1] = 16u * GIB;   /* half of it on node 1 already */
    scene_client(&scene, 1, 1, 1, 1);

    g_autoptr(GArray) moves = pass(rb, &scene, 0);
    assert_int_equal(moves->len, 1);
    assert_int_equal(g_array_index(moves, VnumaMove, 0).client, split);
}

static void
test_swap_beats_single_moves(void **state)
{
    VnumaRebalanceParams params;
    Scene scene;

    vnuma_rebalance_params_init(&params);
    g_autoptr(VnumaRebalancer) rb = vnuma_rebalancer_new(&params);
    /* Both nodes full: moving either client alone would overload the
     * other node; exchanging them makes both local. */
    scene_nodes(&scene, 2, 4);
    guint a = scene_client(&scene, 0, 4, 1, 8);
    guint b = scene_client(&scene, 1, 4, 0, 8);

    g_autoptr(GArray) moves = pass(rb, &scene, 0);
    assert_int_equal(moves->len, 1);
    VnumaMove *move = &g_array_index(moves, VnumaMove, 0);
    assert_int_equal(move->kind, VNUMA_MOVE_SWAP);
    assert_true((move->client == a && move->other == b) || (move->client == b && move->other == a));
    assert_int_equal(scene.clients[a].home, 1);
    assert_int_equal(scene.clients[b].home, 0);
    assert_true(vnuma_client_locality(&scene.clients[a], 2) == 1.0);
    assert_true(vnuma_client_locality(&scene.clients[b], 2) == 1.0);
}

static void
test_budget_respected(void **state)
{
    VnumaRebalanceParams params;
    Scene scene;
    guint total = 0;

    vnuma_rebalance_params_init(&params);
    params.max_moves_per_pass = 8;
    params.budget = 2;
    params.budget_window = 60;
    g_autoptr(VnumaRebalancer) rb = vnuma_rebalancer_new(&params);
    scene_nodes(&scene, 4, 4);
    /* Eight clients, each on the wrong node for its memory. */
    for (guint i = 0; i < 8; i++)
        scene_client(&scene, i % 4, 1, (i + 1) % 4, 4);

    for (guint t = 0; t < 30; t += 2) {   /* 30 s: half a window */
        g_autoptr(GArray) moves = pass(rb, &scene, t);
        total += moves->len;
    }
    assert_int_equal(total, 2);
    /* A new window refills the budget. */
    g_autoptr(GArray) later = pass(rb, &scene, 61);
    assert_int_equal(later->len, 2);
}

static void
test_no_ping_pong_under_oscillating_load(void **state)
{
    VnumaRebalanceParams params;
    Scene scene;
    guint total = 0;
    double last_move[4] = { -1, -1, -1, -1 };

    vnuma_rebalance_params_init(&params);
    g_autoptr(VnumaRebalancer) rb = vnuma_rebalancer_new(&params);
    scene_nodes(&scene, 2, 8);
    for (guint i = 0; i < 4; i++)
        scene_client(&scene, i % 2, 2, i % 2, 4);

    /* Every 2 s pass, demand swings between the two nodes' clients. */
    for (guint p = 0; p < 1000; p++) {
        double now = p * 2.0;
        gboolean phase = (p / 3) % 2;

        for (guint i = 0; i < 4; i++)
            scene.clients[i].demand = ((scene.clients[i].id % 2) == (guint) phase) ? 7.0 : 0.5;
        g_autoptr(GArray) moves = pass(rb, &scene, now);
        for (guint m = 0; m < moves->len; m++) {
            guint c = g_array_index(moves, VnumaMove, m).client;

            /* A client never moves again within its minimum residency. */
            if (last_move[c] >= 0)
                assert_true(now - last_move[c] >= params.min_residency);
            last_move[c] = now;
        }
        total += moves->len;
    }
    /* 2000 s of a load that flips every 6 s: at most a handful of moves,
     * nothing like one per flip (333). */
    print_message("moves over 1000 passes: %u\n", total);
    assert_true(total <= 2000 / params.min_residency * 4);
    assert_true(total < 40);
}

/* A CPU-only node (no memory of its own; its clients' memory is on node
 * 0): moving a client there relieves contention and costs no memory
 * copy, and its memory on node 0 is local there, so nothing pulls it
 * back. */
static void
test_cpu_only_node(void **state)
{
    VnumaRebalanceParams params;
    Scene scene;
    guint a, b;

    vnuma_rebalance_params_init(&params);
    g_autoptr(VnumaRebalancer) rb = vnuma_rebalancer_new(&params);
    scene_nodes(&scene, 2, 1);
    scene.nodes[1].cpu_only = TRUE;
    scene.nodes[1].memory_node = 0;
    a = scene_client(&scene, 0, 1, 0, 8);
    b = scene_client(&scene, 0, 1, 0, 8);

    g_autoptr(GArray) moves = pass(rb, &scene, 0);
    assert_int_equal(moves->len, 1);
    VnumaMove *move = &g_array_index(moves, VnumaMove, 0);
    assert_int_equal(move->kind, VNUMA_MOVE_BALANCE);
    assert_int_equal(move->to, 1);
    /* 8 GiB stay where they are: only the warm-up is paid. */
    assert_true(move->cost == params.cost_fixed);
    for (guint t = 1; t <= 1000; t++) {
        g_autoptr(GArray) later = pass(rb, &scene, 100.0 * t);

        assert_int_equal(later->len, 0);
    }
    assert_int_not_equal(scene.clients[a].home, scene.clients[b].home);

    /* The same host read as if node 1 had the memory elsewhere: the
     * move would have to copy 8 GiB, and a locality move back would
     * tempt it; the flag is what tells the two apart. */
    g_autoptr(VnumaRebalancer) naive = vnuma_rebalancer_new(&params);
    scene.nodes[1].cpu_only = FALSE;
    scene.clients[a].home = scene.clients[b].home = 0;
    g_autoptr(GArray) costly = pass(naive, &scene, 0);
    assert_int_equal(costly->len, 1);
    assert_true(g_array_index(costly, VnumaMove, 0).cost > params.cost_fixed);
}

/* The swap search keeps a few candidates per node pair: on a host with
 * more eligible clients than that, the one good swap is still found,
 * though both clients come last in the list. */
#define CROWD 60

static void
test_swap_found_in_a_crowd(void **state)
{
    VnumaRebalanceParams params;
    VnumaRebalanceNode nodes[2] = { { .id = 0, .capacity = CROWD }, { .id = 1, .capacity = CROWD } };
    VnumaRebalanceClient clients[2 * CROWD];
    guint64 memory[2 * CROWD][2];
    guint x = 2 * CROWD - 2, y = 2 * CROWD - 1;

    (void) state;
    vnuma_rebalance_params_init(&params);
    g_autoptr(VnumaRebalancer) rb = vnuma_rebalancer_new(&params);
    /* Both nodes exactly full; every client has memory on both nodes
     * (so every pair could swap), mostly at home... */
    for (guint i = 0; i < 2 * CROWD; i++) {
        guint home = i % 2;

        memory[i][home] = 4ull * GIB;
        memory[i][1 - home] = 1ull * GIB;
        clients[i] = (VnumaRebalanceClient) {
            .id = i, .home = home, .demand = 1, .memory_kib = memory[i], .last_move = -1,
        };
    }
    /* ...except the last two, each with nearly all of it on the other's node. */
    memory[x][0] = 1;
    memory[x][1] = 8ull * GIB;
    memory[y][0] = 8ull * GIB;
    memory[y][1] = 1;

    g_autoptr(GArray) moves = vnuma_rebalancer_pass(rb, nodes, 2, clients, 2 * CROWD, 0);
    assert_int_equal(moves->len, 1);
    VnumaMove *move = &g_array_index(moves, VnumaMove, 0);
    assert_int_equal(move->kind, VNUMA_MOVE_SWAP);
    assert_int_equal(move->client, x);
    assert_int_equal(move->other, y);
    assert_int_equal(clients[x].home, 1);
    assert_int_equal(clients[y].home, 0);
}

/* Two 4-CPU nodes, 6 vCPUs committed to each (clients of 4 and 2
 * vCPUs), idle at 0.2 per vCPU for 10 min; then node 0's clients burst
 * to full demand. Returns the seconds into the burst of the first move
 * (< 0: none within @burst s). With @vcpus_known FALSE the clients'
 * vCPUs are not given, as before the commitment rule. */
static double
first_move_into_burst(gboolean vcpus_known, double burst, VnumaMove *first)
{
    VnumaRebalanceParams params;
    Scene scene;
    const guint vcpus[] = { 4, 2, 4, 2 };

    vnuma_rebalance_params_init(&params);
    g_autoptr(VnumaRebalancer) rb = vnuma_rebalancer_new(&params);
    scene_nodes(&scene, 2, 4);
    for (guint i = 0; i < 4; i++) {
        scene_client(&scene, i / 2, 0, i / 2, 1);
        scene.clients[i].vcpus = vcpus_known ? vcpus[i] : 0;
    }
    for (double now = 0; now < 600 + burst; now += 2) {
        for (guint i = 0; i < 4; i++)
            scene.clients[i].demand = vcpus[i] * (now >= 600 && i < 2 ? 1.0 : 0.2);
        g_autoptr(GArray) moves = pass(rb, &scene, now);
        if (moves->len) {
            *first = g_array_index(moves, VnumaMove, 0);
            return now - 600;
        }
    }
    return -1;
}

/* A burst does not unbalance the committed vCPUs: moving the 2-vCPU
 * client off the bursting node would relieve it now and leave node 1
 * with 8 vCPUs on 4 CPUs for every later burst. Only when the overload
 * is sustained (its slow average above the node's CPUs) is it moved. */
static void
test_burst_keeps_commitment(void **state)
{
    VnumaMove move;
    double blind, kept;

    (void) state;
    /* Not knowing vCPUs, the rebalancer moves within the first minute... */
    blind = first_move_into_burst(FALSE, 600, &move);
    assert_true(blind >= 0 && blind < 60);
    assert_int_equal(move.kind, VNUMA_MOVE_BALANCE);
    /* ...knowing them, not while the burst is young... */
    assert_true(first_move_into_burst(TRUE, 90, &move) < 0);
    /* ...but it does once the overload is sustained. */
    kept = first_move_into_burst(TRUE, 600, &move);
    print_message("first move into the burst: %.0f s blind, %.0f s by commitment\n", blind, kept);
    assert_true(kept > 90);
    assert_int_equal(move.kind, VNUMA_MOVE_BALANCE);
    assert_int_equal(move.from, 0);
    assert_int_equal(move.to, 1);
}

/* The rebalancer's nodes from a host: a CPU-only node names its memory
 * node, as the agent and the simulator both build them. */
static void
test_nodes_from_host(void **state)
{
    g_autoptr(VnumaHost) host = vnuma_test_host("xeon-4s4c-ht");
    double capacity[] = { 8, 8, 8, 8 };
    g_autofree VnumaRebalanceNode *nodes = NULL;

    (void) state;
    ((VnumaHostNode *) host->nodes->pdata[2])->memory_kib = 0;
    nodes = vnuma_rebalance_nodes_new(host, capacity);
    assert_int_equal(nodes[2].id, 2);
    assert_true(nodes[2].cpu_only);
    assert_int_equal(nodes[2].memory_node, 0);
    assert_false(nodes[3].cpu_only);
    assert_int_equal(nodes[3].memory_node, 3);
    assert_true(nodes[1].capacity == 8);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cpu_only_node),
        cmocka_unit_test(test_nodes_from_host),
        cmocka_unit_test(test_imbalance_relieved_in_one_move),
        cmocka_unit_test(test_no_move_when_gain_below_cost),
        cmocka_unit_test(test_no_move_below_hysteresis),
        cmocka_unit_test(test_locality_migration),
        cmocka_unit_test(test_prefers_client_with_memory_at_destination),
        cmocka_unit_test(test_swap_beats_single_moves),
        cmocka_unit_test(test_swap_found_in_a_crowd),
        cmocka_unit_test(test_budget_respected),
        cmocka_unit_test(test_no_ping_pong_under_oscillating_load),
        cmocka_unit_test(test_burst_keeps_commitment),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
