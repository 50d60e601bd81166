/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "lib/vnuma-config-keys.h"

static const VnumaConfigKey config_keys[] = {
    { VNUMA_CONFIG_KEY_HOST_CPUSET, VNUMA_CONFIG_READER_PLANNING },
    /* "auto" is resolved by the loader of the host (libvnuma) or vnumad. */
    { VNUMA_CONFIG_KEY_MEMORY_MODE, VNUMA_CONFIG_READER_PLANNING | VNUMA_CONFIG_READER_AGENT },
    { VNUMA_CONFIG_KEY_CAPABILITIES, VNUMA_CONFIG_READER_PLANNING | VNUMA_CONFIG_READER_AGENT },
    { VNUMA_CONFIG_KEY_ENFORCE, VNUMA_CONFIG_READER_HOOK },
    { VNUMA_CONFIG_KEY_LOG_FILE, VNUMA_CONFIG_READER_HOOK },
    { VNUMA_CONFIG_KEY_REBALANCE_PERIOD, VNUMA_CONFIG_READER_AGENT },
    { VNUMA_CONFIG_KEY_DEFINE_SIZING, VNUMA_CONFIG_READER_AGENT },
    { VNUMA_CONFIG_KEY_METRICS_PATH, VNUMA_CONFIG_READER_AGENT },
    { VNUMA_CONFIG_KEY_MEMORY_MIGRATE_RATE, VNUMA_CONFIG_READER_AGENT },
};

const VnumaConfigKey *
vnuma_config_keys(guint *n_keys)
{
    *n_keys = G_N_ELEMENTS(config_keys);
    return config_keys;
}

gboolean
vnuma_config_key_known(const char *name)
{
    for (guint i = 0; i < G_N_ELEMENTS(config_keys); i++)
        if (g_strcmp0(config_keys[i].name, name) == 0)
            return TRUE;
    return FALSE;
}
