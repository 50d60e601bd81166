/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The pass report: every field the docs promise, nulls where unknown,
 * strings escaped. */
#include "tests/testutil.h"

#include <string.h>

#include "agent/vnuma-agent-report.h"

static void
test_report(void **unused)
{
    g_autoptr(VnumaAgentState) state = vnuma_agent_state_new();
    g_autoptr(GPtrArray) actions = g_ptr_array_new_with_free_func((GDestroyNotify) vnuma_report_action_free);
    g_autoptr(GArray) demand = g_array_new(FALSE, TRUE, sizeof(double));
    const double used[] = { 0.5, 0.25, 1.0, 0 };
    const char *const warnings[] = { "vNUMA node spans \"NUMA clients\"", NULL };
    VnumaReportNode nodes[] = {
        { .metrics = { .id = 0, .capacity = 8, .load = 1.75, .committed_vcpus = 3.5, .free_bytes = 4096 }, .cpus = "0-7" },
        { .metrics = { .id = 1, .capacity = 8, .free_bytes = -1 }, .cpus = "8-15" },
    };
    VnumaReportDomain domains[2] = {
        { .name = "web1", .uuid = "u-1", .managed = TRUE, .applied = TRUE, .state = state,
          .demand = demand, .locality = 0.75, .memory_source = "cells", .memory_following = TRUE,
          .memory_moved_kib = 2048, .warnings = warnings },
        { .name = "pinned", .uuid = "u-2", .managed = FALSE, .reason = "admin pins", .locality = -1 },
    };
    VnumaReport report = {
        .pass = 3, .time = 1700000000.5, .uri = "test:///default", .connected = TRUE, .host = "abc",
        .memory_mode = "restrictive", .memory_migrate_rate = 256, .nodes = nodes, .n_nodes = 2,
        .domains = domains, .n_domains = 2, .actions = actions, .errors = 1,
    };
    g_autofree char *json = NULL;

    g_array_append_vals(demand, used, G_N_ELEMENTS(used));
    vnuma_agent_state_add_client(state, vnuma_cpuset_new_range(0, 1), 0, 1024, -1);
    vnuma_agent_state_add_client(state, vnuma_cpuset_new_range(2, 3), 1, 1024, 1700000000);
    state->migrations[VNUMA_MOVE_LOCALITY] = 2;
    g_ptr_array_add(actions, vnuma_report_action_new("web1", "u-1", "move", TRUE, FALSE, "balance migration"));
    g_ptr_array_add(actions, vnuma_report_action_new("web1", "u-1", "rollback", FALSE, TRUE, "nodeset refused"));
    json = vnuma_report_format(&report);

    assert_true(g_str_has_prefix(json, "{\"pass\":3,"));
    vnuma_test_assert_contains(json, "\"uri\":\"test:///default\",\"dry_run\":false,\"connected\":true,\"host\":\"abc\"");
    vnuma_test_assert_contains(json, "\"memory_migrate_rate\":256");
    vnuma_test_assert_contains(json, "{\"id\":0,\"cpus\":\"0-7\",\"capacity\":8,\"load\":1.75,\"committed_vcpus\":3.5,\"free_bytes\":4096}");
    vnuma_test_assert_contains(json, "\"free_bytes\":null");
    vnuma_test_assert_contains(json, "{\"vcpus\":\"0-1\",\"home_node\":0,\"memory_kib\":1024,\"demand\":0.75,\"moved\":null}");
    vnuma_test_assert_contains(json, "{\"vcpus\":\"2-3\",\"home_node\":1,\"memory_kib\":1024,\"demand\":1,\"moved\":1700000000}");
    vnuma_test_assert_contains(json, "\"locality\":0.75,\"memory_source\":\"cells\",\"memory_following\":true,\"memory_moved_kib\":2048");
    vnuma_test_assert_contains(json, "\"migrations\":{\"balance\":0,\"locality\":2,\"swap\":0}");
    vnuma_test_assert_contains(json, "\"warnings\":[\"vNUMA node spans \\\"NUMA clients\\\"\"]");
    vnuma_test_assert_contains(json, "\"name\":\"pinned\",\"uuid\":\"u-2\",\"managed\":false,\"reason\":\"admin pins\",\"applied\":false,\"clients\":[],\"locality\":null,\"memory_source\":null");
    vnuma_test_assert_contains(json, "{\"domain\":\"web1\",\"uuid\":\"u-1\",\"action\":\"rollback\",\"applied\":false,\"failed\":true,\"detail\":\"nodeset refused\"}");
    assert_true(g_str_has_suffix(json, "],\"errors\":1}"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_report),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
