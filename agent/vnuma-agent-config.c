/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "agent/vnuma-agent-config.h"

#include <math.h>

#include "lib/vnuma-config-keys.h"
#include "lib/vnuma-error.h"
#include "plugin/vnuma-config.h"

VnumaAgentConfig *
vnuma_agent_config_new(void)
{
    VnumaAgentConfig *config = g_new0(VnumaAgentConfig, 1);

    vnuma_settings_init(&config->settings);
    config->rebalance_period = VNUMA_AGENT_DEFAULT_PERIOD;
    config->define_sizing = TRUE;
    config->memory_migrate_rate = VNUMA_AGENT_DEFAULT_MIGRATE_RATE;
    config->warnings = g_ptr_array_new_with_free_func(g_free);
    return config;
}

void
vnuma_agent_config_free(VnumaAgentConfig *config)
{
    if (!config)
        return;
    vnuma_settings_clear(&config->settings);
    g_free(config->metrics_path);
    g_free(config->capabilities);
    g_ptr_array_unref(config->warnings);
    g_free(config);
}

static void
warn_key(VnumaAgentConfig *config, const char *origin, const char *key, const char *value,
         const char *why)
{
    g_ptr_array_add(config->warnings, g_strdup_printf("%s: [%s] %s=%s: %s; ignored", origin,
                                                      VNUMA_CONFIG_GROUP, key, value, why));
}

/* The spellings vnuma.conf uses for policy booleans, plus GKeyFile's. */
static gboolean
parse_bool(const char *text, gboolean *value)
{
    static const char *const yes[] = { "yes", "true", "1", "on", NULL };
    static const char *const no[] = { "no", "false", "0", "off", NULL };

    if (g_strv_contains(yes, text))
        *value = TRUE;
    else if (g_strv_contains(no, text))
        *value = FALSE;
    else
        return FALSE;
    return TRUE;
}

/* A number >= 0 (and >= @min when not 0), or a warning. */
static void
load_number(VnumaAgentConfig *config, const char *origin, const char *key, char *text, double min,
            double *value)
{
    char *end = NULL;
    double parsed;

    if (!text)
        return;
    parsed = g_ascii_strtod(g_strstrip(text), &end);
    if (!*text || *end || !isfinite(parsed) || parsed < 0 || (parsed > 0 && parsed < min)) {
        g_autofree char *why = g_strdup_printf("not 0 or a number >= %g", min);

        warn_key(config, origin, key, text, why);
        return;
    }
    *value = parsed;
}

static void
load_agent_keys(VnumaAgentConfig *config, GKeyFile *file, const char *origin)
{
    g_autofree char *period = g_key_file_get_string(file, VNUMA_CONFIG_GROUP, VNUMA_CONFIG_KEY_REBALANCE_PERIOD, NULL);
    g_autofree char *sizing = g_key_file_get_string(file, VNUMA_CONFIG_GROUP, VNUMA_CONFIG_KEY_DEFINE_SIZING, NULL);
    g_autofree char *metrics = g_key_file_get_string(file, VNUMA_CONFIG_GROUP, VNUMA_CONFIG_KEY_METRICS_PATH, NULL);
    g_autofree char *mode = g_key_file_get_string(file, VNUMA_CONFIG_GROUP, VNUMA_CONFIG_KEY_MEMORY_MODE, NULL);
    g_autofree char *rate = g_key_file_get_string(file, VNUMA_CONFIG_GROUP, VNUMA_CONFIG_KEY_MEMORY_MIGRATE_RATE, NULL);
    g_autofree char *caps = g_key_file_get_string(file, VNUMA_CONFIG_GROUP, VNUMA_CONFIG_KEY_CAPABILITIES, NULL);

    /* Faster than 10 passes a second only burns CPU on libvirtd. */
    load_number(config, origin, VNUMA_CONFIG_KEY_REBALANCE_PERIOD, period, 0.1, &config->rebalance_period);
    load_number(config, origin, VNUMA_CONFIG_KEY_MEMORY_MIGRATE_RATE, rate, 0, &config->memory_migrate_rate);
    if (sizing && !parse_bool(g_strstrip(sizing), &config->define_sizing))
        warn_key(config, origin, VNUMA_CONFIG_KEY_DEFINE_SIZING, sizing, "not true or false");
    if (metrics) {
        g_strstrip(metrics);
        if (*metrics && !g_path_is_absolute(metrics)) {
            warn_key(config, origin, VNUMA_CONFIG_KEY_METRICS_PATH, metrics, "not an absolute path");
        } else {
            g_free(config->metrics_path);
            config->metrics_path = *metrics ? g_steal_pointer(&metrics) : NULL;
        }
    }
    if (caps) {
        g_free(config->capabilities);
        config->capabilities = *g_strstrip(caps) ? g_steal_pointer(&caps) : NULL;
    }
    config->memory_mode_auto = mode && g_str_equal(g_strstrip(mode), "auto");
}

gboolean
vnuma_agent_config_load_data(VnumaAgentConfig *config, const char *data, gsize len,
                             const char *origin, GError **error)
{
    g_autoptr(GKeyFile) file = vnuma_config_load_data(&config->settings, data, len, origin,
                                                      config->warnings, error);

    if (!file)
        return FALSE;
    load_agent_keys(config, file, origin);
    return TRUE;
}

gboolean
vnuma_agent_config_load_file(VnumaAgentConfig *config, const char *path, gboolean required,
                             GError **error)
{
    g_autofree char *data = NULL;
    g_autoptr(GError) local = NULL;
    gsize len;

    if (!g_file_get_contents(path, &data, &len, &local)) {
        if (!required && g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
            return TRUE;
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_IO, "cannot read config: %s", local->message);
        return FALSE;
    }
    return vnuma_agent_config_load_data(config, data, len, path, error);
}
