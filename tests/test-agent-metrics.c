/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Prometheus textfile output: families, labels, escaping, atomic write. */
#include "tests/testutil.h"

#include <glib/gstdio.h>

#include "agent/vnuma-agent-metrics.h"

static VnumaAgentState *
two_clients(void)
{
    VnumaAgentState *state = vnuma_agent_state_new();

    vnuma_agent_state_add_client(state, vnuma_cpuset_new_range(0, 5), 0, 1024, -1);
    vnuma_agent_state_add_client(state, vnuma_cpuset_new_range(6, 11), 1, 1024, 1700000000);
    state->migrations[VNUMA_MOVE_BALANCE] = 3;
    state->migrations[VNUMA_MOVE_SWAP] = 1;
    return state;
}

static VnumaMetrics *
sample(const VnumaAgentState *state, const char *name)
{
    VnumaMetrics *m = vnuma_metrics_new();
    VnumaMetricsNode n0 = { .id = 0, .capacity = 20, .load = 3.5, .committed_vcpus = 6, .free_bytes = 1073741824 };
    VnumaMetricsNode n1 = { .id = 1, .capacity = 20, .load = 0.25, .committed_vcpus = 6, .free_bytes = -1 };

    vnuma_metrics_add_domain(m, name, "9955e790-bbeb-58c8-9016-cf76bfe15191", state, 0.875);
    vnuma_metrics_add_node(m, &n0);
    vnuma_metrics_add_node(m, &n1);
    m->passes = 7;
    m->last_pass = 1700000123.5;
    m->connected = TRUE;
    return m;
}

static void
assert_line(const char *text, const char *line)
{
    g_autofree char *needle = g_strconcat("\n", line, "\n", NULL);

    if (!strstr(text, needle))
        print_error("missing line: %s\n", line);
    assert_non_null(strstr(text, needle));
}

static void
test_format(void **unused)
{
    g_autoptr(VnumaAgentState) state = two_clients();
    g_autoptr(VnumaMetrics) m = sample(state, "web1");
    g_autofree char *text = vnuma_metrics_format(m);

#define UUID "uuid=\"9955e790-bbeb-58c8-9016-cf76bfe15191\""
    assert_true(g_str_has_prefix(text, "# HELP vnuma_client_home_node "));
    assert_line(text, "# TYPE vnuma_client_home_node gauge");
    assert_line(text, "vnuma_client_home_node{domain=\"web1\"," UUID ",client=\"0\",vcpus=\"0-5\"} 0");
    assert_line(text, "vnuma_client_home_node{domain=\"web1\"," UUID ",client=\"1\",vcpus=\"6-11\"} 1");
    assert_line(text, "vnuma_domain_memory_locality_ratio{domain=\"web1\"," UUID "} 0.875");
    assert_line(text, "# TYPE vnuma_domain_migrations_total counter");
    assert_line(text, "vnuma_domain_migrations_total{domain=\"web1\"," UUID ",kind=\"balance\"} 3");
    assert_line(text, "vnuma_domain_migrations_total{domain=\"web1\"," UUID ",kind=\"locality\"} 0");
    assert_line(text, "vnuma_domain_migrations_total{domain=\"web1\"," UUID ",kind=\"swap\"} 1");
    assert_line(text, "vnuma_node_capacity_cpus{node=\"0\"} 20");
    assert_line(text, "vnuma_node_load_cpus{node=\"0\"} 3.5");
    assert_line(text, "vnuma_node_load_cpus{node=\"1\"} 0.25");
    assert_line(text, "vnuma_node_committed_vcpus{node=\"1\"} 6");
    assert_line(text, "vnuma_node_memory_free_bytes{node=\"0\"} 1073741824");
    /* Unknown values are left out, not written as 0. */
    assert_null(strstr(text, "vnuma_node_memory_free_bytes{node=\"1\"}"));
    assert_line(text, "vnuma_agent_connected 1");
    assert_line(text, "vnuma_agent_passes_total 7");
    assert_line(text, "vnuma_agent_last_pass_timestamp_seconds 1700000123.5");
    assert_true(g_str_has_suffix(text, "\n"));
#undef UUID
}

static void
test_label_escaping(void **unused)
{
    g_autoptr(VnumaAgentState) state = two_clients();
    g_autoptr(VnumaMetrics) m = sample(state, "we\"ird\\na\nme");
    g_autofree char *text = vnuma_metrics_format(m);

    assert_non_null(strstr(text, "domain=\"we\\\"ird\\\\na\\nme\""));
}

static void
test_atomic_write(void **unused)
{
    g_autoptr(VnumaAgentState) state = two_clients();
    g_autoptr(VnumaMetrics) m = sample(state, "web1");
    g_autofree char *dir = g_dir_make_tmp("vnuma-metrics-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "vnuma.prom", NULL);
    g_autofree char *expected = vnuma_metrics_format(m);
    g_autofree char *written = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(GDir) listing = NULL;
    GStatBuf st;
    guint files = 0;

    assert_true(g_file_set_contents(path, "stale\n", -1, NULL));
    assert_true(vnuma_metrics_write(m, path, &error));
    assert_true(g_file_get_contents(path, &written, NULL, NULL));
    assert_str_equal(written, expected);
    assert_int_equal(g_stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    /* Nothing left behind but the file itself. */
    listing = g_dir_open(dir, 0, NULL);
    while (g_dir_read_name(listing))
        files++;
    assert_int_equal(files, 1);
    assert_false(vnuma_metrics_write(m, "/nonexistent-dir/vnuma.prom", &error));
    g_unlink(path);
    g_rmdir(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_label_escaping),
        cmocka_unit_test(test_atomic_write),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
