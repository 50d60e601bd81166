/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The catalogue of vnuma.conf's keys: each key once, with a reader, and
 * every reader of the file takes its key names from it. */
#include "tests/testutil.h"

#include <string.h>

#include "lib/vnuma-config-keys.h"
#include "lib/vnuma-policy.h"

static void
test_catalogue(void **unused)
{
    guint n = 0;
    const VnumaConfigKey *keys = vnuma_config_keys(&n);
    const VnumaConfigReader all = VNUMA_CONFIG_READER_PLANNING | VNUMA_CONFIG_READER_HOOK |
                                  VNUMA_CONFIG_READER_AGENT;

    assert_true(n > 0);
    for (guint i = 0; i < n; i++) {
        assert_true(vnuma_config_key_known(keys[i].name));
        assert_int_not_equal(keys[i].readers, 0);
        assert_int_equal(keys[i].readers & ~all, 0);
        /* Not also a <vnuma:policy> default: those are planning's own. */
        assert_false(g_strv_contains(vnuma_policy_attribute_names(), keys[i].name));
        for (guint j = i + 1; j < n; j++)
            assert_string_not_equal(keys[i].name, keys[j].name);
    }
    assert_false(vnuma_config_key_known("no_such_key"));
    assert_false(vnuma_config_key_known(NULL));
}

/* Each reader's keys, as its source spells them: a key read by its name
 * in quotes, not through the catalogue, fails here. */
static void
test_readers_use_catalogue(void **unused)
{
    static const char *const readers[] = {
        "plugin/vnuma-config.c", "plugin/libvnuma.c", "agent/vnuma-agent-config.c",
        "hooks/vnuma-hook.c", NULL,
    };
    guint n = 0;
    const VnumaConfigKey *keys = vnuma_config_keys(&n);

    for (guint r = 0; readers[r]; r++) {
        g_autofree char *source = vnuma_test_read(readers[r], NULL);

        vnuma_test_assert_lacks(source, "VNUMA_CONFIG_GROUP, \"");
        vnuma_test_assert_lacks(source, "config_string(ctx, \"");
        for (guint i = 0; i < n; i++) {
            g_autofree char *quoted = g_strdup_printf("key, \"%s\"", keys[i].name);

            vnuma_test_assert_lacks(source, quoted);
        }
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_catalogue),
        cmocka_unit_test(test_readers_use_catalogue),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
