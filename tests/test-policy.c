/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The <vnuma:policy> / vnuma.conf knobs of docs/spec.md §5. */
#include "tests/testutil.h"

#include <string.h>

#include "lib/vnuma-error.h"
#include "lib/vnuma-policy.h"

static gboolean
policy_equal(const VnumaPolicy *a, const VnumaPolicy *b)
{
    return a->managed == b->managed && a->prefer_ht == b->prefer_ht &&
           a->max_per_machine_node == b->max_per_machine_node &&
           a->cores_per_socket == b->cores_per_socket && a->vcpu_min == b->vcpu_min &&
           a->autosize == b->autosize && a->topology == b->topology;
}

static void
set_ok(VnumaPolicy *policy, const char *name, const char *value)
{
    g_autoptr(GError) error = NULL;

    if (!vnuma_policy_set(policy, name, value, &error)) {
        print_error("%s='%s' refused: %s\n", name, value, error ? error->message : "(no error)");
        fail();
    }
    assert_null(error);
}

/* @name='@value' refused with an error naming the attribute (and the
 * value when @names_value), the policy unchanged. */
static void
check_rejected(const char *name, const char *value, gboolean names_value)
{
    g_autoptr(GError) error = NULL;
    VnumaPolicy policy, before;

    vnuma_policy_init(&policy);
    /* Start from non-default values so "unchanged" means something. */
    set_ok(&policy, "managed", "no");
    set_ok(&policy, "preferHT", "yes");
    set_ok(&policy, "maxPerMachineNode", "6");
    set_ok(&policy, "coresPerSocket", "3");
    set_ok(&policy, "vcpuMin", "5");
    set_ok(&policy, "autosize", "always");
    set_ok(&policy, "topology", "keep");
    before = policy;
    if (vnuma_policy_set(&policy, name, value, &error)) {
        print_error("%s='%s' was accepted\n", name, value ? value : "(null)");
        fail();
    }
    assert_non_null(error);
    assert_true(g_error_matches(error, VNUMA_ERROR, VNUMA_ERROR_INVALID));
    if (!strstr(error->message, name) ||
        (names_value && *value && !strstr(error->message, value))) {
        print_error("error '%s' does not name %s='%s'\n", error->message, name, value);
        fail();
    }
    assert_true(policy_equal(&policy, &before));
}

/* A bad value of a known attribute: the error names both. */
static void
assert_rejected(const char *name, const char *value)
{
    check_rejected(name, value, TRUE);
}

static void
test_defaults(void **state)
{
    VnumaPolicy policy;
    VnumaSettings settings;

    (void) state;
    memset(&policy, 0xa5, sizeof(policy));
    vnuma_policy_init(&policy);
    assert_true(policy.managed);
    assert_false(policy.prefer_ht);
    assert_int_equal(policy.max_per_machine_node, 0);
    assert_int_equal(policy.cores_per_socket, 0);
    assert_int_equal(policy.vcpu_min, 9);
    assert_int_equal(policy.autosize, VNUMA_AUTOSIZE_ONCE);
    assert_int_equal(policy.topology, VNUMA_TOPOLOGY_ALIGN);

    memset(&settings, 0xa5, sizeof(settings));
    vnuma_settings_init(&settings);
    assert_true(policy_equal(&settings.defaults, &policy));
    assert_null(settings.host_cpuset);
    assert_int_equal(settings.memory_mode, VNUMA_MEMORY_MODE_RESTRICTIVE);
    vnuma_settings_clear(&settings);
    assert_null(settings.host_cpuset);
}

static void
test_booleans(void **state)
{
    static const char *const yes[] = { "yes", "true", "1" };
    static const char *const no[] = { "no", "false", "0" };
    VnumaPolicy policy;

    (void) state;
    vnuma_policy_init(&policy);
    for (guint i = 0; i < G_N_ELEMENTS(yes); i++) {
        set_ok(&policy, "preferHT", no[i]);
        assert_false(policy.prefer_ht);
        set_ok(&policy, "preferHT", yes[i]);
        assert_true(policy.prefer_ht);
        set_ok(&policy, "managed", no[i]);
        assert_false(policy.managed);
        set_ok(&policy, "managed", yes[i]);
        assert_true(policy.managed);
    }
    /* Surrounding blanks are tolerated. */
    set_ok(&policy, "preferHT", " no ");
    assert_false(policy.prefer_ht);
}

static void
test_bad_booleans(void **state)
{
    (void) state;
    assert_rejected("preferHT", "maybe");
    assert_rejected("preferHT", "2");
    assert_rejected("managed", "nope");
    assert_rejected("managed", "");
}

static void
test_numbers(void **state)
{
    VnumaPolicy policy;

    (void) state;
    vnuma_policy_init(&policy);
    set_ok(&policy, "maxPerMachineNode", "4");
    assert_int_equal(policy.max_per_machine_node, 4);
    set_ok(&policy, "coresPerSocket", "8");
    assert_int_equal(policy.cores_per_socket, 8);
    set_ok(&policy, "vcpuMin", "1");
    assert_int_equal(policy.vcpu_min, 1);
    set_ok(&policy, "vcpuMin", "128");
    assert_int_equal(policy.vcpu_min, 128);
    set_ok(&policy, "maxPerMachineNode", "65535");
    assert_int_equal(policy.max_per_machine_node, 65535);
    /* Only the named attribute changed. */
    assert_int_equal(policy.cores_per_socket, 8);
    assert_true(policy.managed);
}

static void
test_bad_numbers(void **state)
{
    (void) state;
    assert_rejected("vcpuMin", "-3");
    assert_rejected("vcpuMin", "0");
    assert_rejected("vcpuMin", "abc");
    assert_rejected("vcpuMin", "4x");
    assert_rejected("vcpuMin", "1.5");
    assert_rejected("maxPerMachineNode", "0");
    assert_rejected("maxPerMachineNode", "99999999999999999999");
    assert_rejected("maxPerMachineNode", "65536");
    assert_rejected("coresPerSocket", "0");
    assert_rejected("coresPerSocket", "-1");
    assert_rejected("coresPerSocket", "0x10");
    assert_rejected("coresPerSocket", "");
}

static void
test_choices(void **state)
{
    VnumaPolicy policy;

    (void) state;
    vnuma_policy_init(&policy);
    set_ok(&policy, "autosize", "always");
    assert_int_equal(policy.autosize, VNUMA_AUTOSIZE_ALWAYS);
    set_ok(&policy, "autosize", "once");
    assert_int_equal(policy.autosize, VNUMA_AUTOSIZE_ONCE);
    set_ok(&policy, "topology", "keep");
    assert_int_equal(policy.topology, VNUMA_TOPOLOGY_KEEP);
    set_ok(&policy, "topology", "align");
    assert_int_equal(policy.topology, VNUMA_TOPOLOGY_ALIGN);
    assert_str_equal(vnuma_autosize_to_string(VNUMA_AUTOSIZE_ONCE), "once");
    assert_str_equal(vnuma_autosize_to_string(VNUMA_AUTOSIZE_ALWAYS), "always");
    assert_str_equal(vnuma_topology_mode_to_string(VNUMA_TOPOLOGY_ALIGN), "align");
    assert_str_equal(vnuma_topology_mode_to_string(VNUMA_TOPOLOGY_KEEP), "keep");
}

static void
test_bad_choices(void **state)
{
    (void) state;
    assert_rejected("autosize", "never");
    assert_rejected("autosize", "ONCE2");
    assert_rejected("topology", "auto");
    assert_rejected("topology", "");
}

static void
test_unknown_attribute(void **state)
{
    (void) state;
    check_rejected("numaNodes", "2", FALSE);
    check_rejected("prefer_ht", "yes", FALSE);
    check_rejected("PreferHT", "yes", FALSE);
    check_rejected("", "yes", FALSE);
}

static void
test_attribute_names(void **state)
{
    const char *const *names = vnuma_policy_attribute_names();
    static const char *const expected[] = {
        "managed", "preferHT", "maxPerMachineNode", "coresPerSocket", "vcpuMin", "autosize",
        "topology",
    };

    (void) state;
    assert_non_null(names);
    assert_int_equal(g_strv_length((char **) names), G_N_ELEMENTS(expected));
    for (guint i = 0; i < G_N_ELEMENTS(expected); i++)
        assert_true(g_strv_contains(names, expected[i]));
    /* Every listed name is one vnuma_policy_set() accepts. */
    for (guint i = 0; names[i]; i++) {
        g_autoptr(GError) error = NULL;
        VnumaPolicy policy;
        static const char *const good[] = { "yes", "no", "4", "4", "4", "once", "align" };

        vnuma_policy_init(&policy);
        for (guint j = 0; j < G_N_ELEMENTS(expected); j++) {
            if (g_str_equal(names[i], expected[j]))
                assert_true(vnuma_policy_set(&policy, names[i], good[j], &error));
        }
    }
}

static void
test_memory_mode(void **state)
{
    g_autoptr(GError) error = NULL;
    VnumaMemoryMode mode = VNUMA_MEMORY_MODE_RESTRICTIVE;

    (void) state;
    assert_true(vnuma_memory_mode_parse("strict", &mode, &error));
    assert_int_equal(mode, VNUMA_MEMORY_MODE_STRICT);
    assert_true(vnuma_memory_mode_parse("restrictive", &mode, &error));
    assert_int_equal(mode, VNUMA_MEMORY_MODE_RESTRICTIVE);
    assert_null(error);
    mode = VNUMA_MEMORY_MODE_STRICT;
    assert_false(vnuma_memory_mode_parse("interleave", &mode, &error));
    assert_non_null(error);
    assert_true(g_error_matches(error, VNUMA_ERROR, VNUMA_ERROR_INVALID));
    assert_non_null(strstr(error->message, "memory_mode"));
    assert_non_null(strstr(error->message, "interleave"));
    assert_int_equal(mode, VNUMA_MEMORY_MODE_STRICT);
    assert_str_equal(vnuma_memory_mode_to_string(VNUMA_MEMORY_MODE_STRICT), "strict");
    assert_str_equal(vnuma_memory_mode_to_string(VNUMA_MEMORY_MODE_RESTRICTIVE), "restrictive");
}

static void
test_settings_clear_frees(void **state)
{
    VnumaSettings settings;

    (void) state;
    vnuma_settings_init(&settings);
    settings.host_cpuset = vnuma_cpuset_new_range(0, 15);
    vnuma_settings_clear(&settings);
    assert_null(settings.host_cpuset);
    /* Clearing twice is harmless. */
    vnuma_settings_clear(&settings);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_booleans),
        cmocka_unit_test(test_bad_booleans),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_bad_numbers),
        cmocka_unit_test(test_choices),
        cmocka_unit_test(test_bad_choices),
        cmocka_unit_test(test_unknown_attribute),
        cmocka_unit_test(test_attribute_names),
        cmocka_unit_test(test_memory_mode),
        cmocka_unit_test(test_settings_clear_frees),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
