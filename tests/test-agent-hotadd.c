/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* agent/vnuma-agent-hotadd: hot-plug headroom that placement homed with
 * the online clients gets a node of its own once its vCPUs come online
 * (issue 20), on the two-node xeon-2s10c-ht host. */
#include "tests/testutil.h"

#include <stdio.h>
#include <string.h>

#include "agent/vnuma-agent-hotadd.h"
#include "agent/vnuma-agent-plan.h"
#include "lib/vnuma-sizing.h"

static GPtrArray *
usable_all(const VnumaHost *host)
{
    GPtrArray *usable = g_ptr_array_new_with_free_func((GDestroyNotify) vnuma_cpuset_free);

    for (guint i = 0; i < host->nodes->len; i++)
        g_ptr_array_add(usable, vnuma_host_node_cpus(host->nodes->pdata[i]));
    return usable;
}

/* @clients runs of @size vCPUs, all homed on node 0 (what placement gives
 * a domain with only the first run online). */
static VnumaAgentState *
headroom_state(guint clients, guint size)
{
    VnumaAgentState *state = vnuma_agent_state_new();

    for (guint c = 0; c < clients; c++)
        vnuma_agent_state_add_client(state, vnuma_cpuset_new_range(c * size, (c + 1) * size - 1), 0,
                                     1048576, -1);
    return state;
}

static guint
home(const VnumaAgentState *state, guint client)
{
    return g_array_index(state->clients, VnumaAgentClient, client).home_node;
}

static void
test_two_of_sixteen_hot_added(void **state_)
{
    g_autoptr(VnumaHost) host = vnuma_test_host("xeon-2s10c-ht");
    g_autoptr(GPtrArray) usable = usable_all(host);
    VnumaAgentState *state = headroom_state(2, 8);

    /* 2 → 6: still all in client 0, nothing moves. */
    assert_int_equal(vnuma_agent_rehome_hot_added(host, usable, state, 2, 6, 100), 0);
    assert_int_equal(home(state, 1), 0);
    /* 6 → 10: client 1 comes online and takes the free node. */
    assert_int_equal(vnuma_agent_rehome_hot_added(host, usable, state, 6, 10, 200), 1);
    assert_int_equal(home(state, 0), 0);
    assert_int_equal(home(state, 1), 1);
    assert_int_equal(g_array_index(state->clients, VnumaAgentClient, 1).moved, 200);
    /* 10 → 16: already online, it stays where it went. */
    assert_int_equal(vnuma_agent_rehome_hot_added(host, usable, state, 10, 16, 300), 0);
    printf("# 2 of 16, hot-added to 10: client 1 moved from node 0 to node %u\n", home(state, 1));
    vnuma_agent_state_free(state);
}

static void
test_every_node_taken_stays(void **state_)
{
    g_autoptr(VnumaHost) host = vnuma_test_host("xeon-2s10c-ht");
    g_autoptr(GPtrArray) usable = usable_all(host);
    VnumaAgentState *state = headroom_state(16, 10);

    /* 8 of 160 → 20 → 30: client 1 takes node 1, client 2 finds both
     * nodes holding an online client and stays with client 0. */
    assert_int_equal(vnuma_agent_rehome_hot_added(host, usable, state, 8, 20, 1), 1);
    assert_int_equal(home(state, 1), 1);
    assert_int_equal(vnuma_agent_rehome_hot_added(host, usable, state, 20, 30, 2), 0);
    assert_int_equal(home(state, 2), 0);
    for (guint c = 3; c < 16; c++)
        assert_int_equal(home(state, c), 0);
    vnuma_agent_state_free(state);
}

/* oVirt's cpuPolicy none: VDSM re-pins the vCPUs live, so vnumad must not
 * place the running domain; without the policy it does. */
static void
test_vdsm_shared_pool_not_placed_live(void **state_)
{
    g_autoptr(VnumaHost) host = vnuma_test_host("xeon-2s10c-ht");
    g_autofree char *xml = vnuma_test_read("tests/data/orchestrators/ovirt-shared-16vcpu.xml", NULL);
    g_autoptr(GRegex) re = g_regex_new("<ovirt-vm:cpuPolicy>none</ovirt-vm:cpuPolicy>", 0, 0, NULL);
    g_autofree char *pre45 = g_regex_replace_literal(re, xml, -1, 0, "", 0, NULL);
    g_autoptr(GError) error = NULL;
    g_autoptr(VnumaAgentPlacement) shared = NULL;
    g_autoptr(VnumaAgentPlacement) plain = NULL;
    VnumaSettings settings;

    vnuma_settings_init(&settings);
    shared = vnuma_agent_place(host, &settings, xml, strlen(xml), NULL, NULL, 0, 0, &error);
    plain = vnuma_agent_place(host, &settings, pre45, strlen(pre45), NULL, NULL, 0, 0, &error);
    vnuma_settings_clear(&settings);
    assert_non_null(shared);
    assert_non_null(plain);
    assert_false(shared->managed);
    assert_non_null(strstr(shared->reason, "cpuPolicy 'none'"));
    assert_true(plain->managed);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_of_sixteen_hot_added),
        cmocka_unit_test(test_every_node_taken_stays),
        cmocka_unit_test(test_vdsm_shared_pool_not_placed_live),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
