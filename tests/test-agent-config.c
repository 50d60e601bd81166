/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vnumad's settings: the shared [vnuma] keys plus rebalance_period,
 * define_sizing and metrics_path; bad values warn and keep defaults. */
#include "tests/testutil.h"

#include "agent/vnuma-agent-config.h"

static VnumaAgentConfig *
load(const char *text)
{
    VnumaAgentConfig *config = vnuma_agent_config_new();
    g_autoptr(GError) error = NULL;

    if (!vnuma_agent_config_load_data(config, text, strlen(text), "test.conf", &error)) {
        print_error("%s\n", error->message);
        fail();
    }
    return config;
}

static gboolean
warned_about(const VnumaAgentConfig *config, const char *key)
{
    for (guint i = 0; i < config->warnings->len; i++) {
        if (strstr(config->warnings->pdata[i], key))
            return TRUE;
    }
    return FALSE;
}

static void
test_defaults(void **state)
{
    g_autoptr(VnumaAgentConfig) config = load("[vnuma]\n");

    assert_true(config->rebalance_period == 2.0);
    assert_true(config->define_sizing);
    assert_null(config->metrics_path);
    assert_false(config->memory_mode_auto);
    assert_true(config->memory_migrate_rate == 256);
    assert_int_equal(config->warnings->len, 0);
}

static void
test_agent_keys(void **state)
{
    g_autoptr(VnumaAgentConfig) config = load("[vnuma]\nrebalance_period = 0.5\ndefine_sizing = false\n"
                                              "metrics_path = /var/lib/node_exporter/vnuma.prom\n"
                                              "host_cpuset = 2-5\nmemory_mode = auto\npreferHT = yes\n"
                                              "memory_migrate_rate = 64.5\ncapabilities = /etc/vnuma/caps.xml\n");
    g_autofree char *cpus = vnuma_cpuset_format(config->settings.host_cpuset);

    assert_true(config->rebalance_period == 0.5);
    assert_false(config->define_sizing);
    assert_str_equal(config->metrics_path, "/var/lib/node_exporter/vnuma.prom");
    assert_str_equal(cpus, "2-5");
    assert_true(config->memory_mode_auto);
    assert_true(config->settings.defaults.prefer_ht);
    assert_true(config->memory_migrate_rate == 64.5);
    assert_str_equal(config->capabilities, "/etc/vnuma/caps.xml");
    assert_int_equal(config->warnings->len, 0);
}

static void
test_bad_values_warn(void **state)
{
    g_autoptr(VnumaAgentConfig) config = load("[vnuma]\nrebalance_period = often\ndefine_sizing = maybe\n"
                                              "metrics_path = relative.prom\nmemory_migrate_rate = -1\n");

    assert_true(config->rebalance_period == 2.0);
    assert_true(config->define_sizing);
    assert_null(config->metrics_path);
    assert_true(warned_about(config, "rebalance_period=often"));
    assert_true(warned_about(config, "define_sizing=maybe"));
    assert_true(warned_about(config, "metrics_path=relative.prom"));
    assert_true(warned_about(config, "memory_migrate_rate=-1"));
    assert_true(config->memory_migrate_rate == 256);
    g_autoptr(VnumaAgentConfig) fast = load("[vnuma]\nrebalance_period = 0.01\n");
    assert_true(fast->rebalance_period == 2.0);
    g_autoptr(VnumaAgentConfig) off = load("[vnuma]\nrebalance_period = 0\n");
    assert_true(off->rebalance_period == 0);
}

static void
test_files(void **state)
{
    g_autoptr(VnumaAgentConfig) config = vnuma_agent_config_new();
    g_autoptr(GError) error = NULL;
    g_autofree char *example = vnuma_test_path("examples/vnuma.conf");

    /* The packaged default may be absent; an explicit --config may not. */
    assert_true(vnuma_agent_config_load_file(config, "/nonexistent/vnuma.conf", FALSE, &error));
    assert_false(vnuma_agent_config_load_file(config, "/nonexistent/vnuma.conf", TRUE, &error));
    assert_non_null(strstr(error->message, "/nonexistent/vnuma.conf"));
    g_clear_error(&error);
    assert_true(vnuma_agent_config_load_file(config, example, TRUE, &error));
    g_clear_error(&error);
    assert_false(vnuma_agent_config_load_data(config, "not a key file", 14, "x.conf", &error));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_agent_keys),
        cmocka_unit_test(test_bad_values_warn),
        cmocka_unit_test(test_files),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
