/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "plugin/vnuma-config.h"

#include "lib/vnuma-config-keys.h"
#include "lib/vnuma-error.h"

static void
load_key(VnumaSettings *settings, GKeyFile *file, const char *origin, const char *key,
         GPtrArray *warnings)
{
    g_autofree char *value = g_key_file_get_string(file, VNUMA_CONFIG_GROUP, key, NULL);
    g_autoptr(GError) error = NULL;

    if (!value)
        return;
    g_strstrip(value);
    if (g_str_equal(key, VNUMA_CONFIG_KEY_HOST_CPUSET)) {
        VnumaCpuSet *set = vnuma_cpuset_parse(value, &error);

        if (set) {
            vnuma_cpuset_free(settings->host_cpuset);
            settings->host_cpuset = set;
        }
    } else if (g_str_equal(key, VNUMA_CONFIG_KEY_MEMORY_MODE)) {
        /* "auto" is decided by a front end that knows the libvirt version. */
        if (!g_str_equal(value, "auto"))
            vnuma_memory_mode_parse(value, &settings->memory_mode, &error);
    } else if (g_strv_contains(vnuma_policy_attribute_names(), key)) {
        vnuma_policy_set(&settings->defaults, key, value, &error);
    } else if (!vnuma_config_key_known(key)) {
        /* Not a key of planning's, nor of the hook's or the agent's. */
        g_set_error(&error, VNUMA_ERROR, VNUMA_ERROR_INVALID, "unknown key");
    }
    if (error)
        g_ptr_array_add(warnings, g_strdup_printf("%s: [%s] %s=%s: %s; ignored", origin,
                                                  VNUMA_CONFIG_GROUP, key, value, error->message));
}

GKeyFile *
vnuma_config_load_data(VnumaSettings *settings, const char *data, gsize len, const char *origin,
                       GPtrArray *warnings, GError **error)
{
    g_autoptr(GKeyFile) file = g_key_file_new();
    g_autoptr(GError) local = NULL;
    g_auto(GStrv) keys = NULL;

    if (!g_key_file_load_from_data(file, data, len, G_KEY_FILE_NONE, &local)) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID, "%s: %s", origin, local->message);
        return NULL;
    }
    keys = g_key_file_get_keys(file, VNUMA_CONFIG_GROUP, NULL, NULL);
    for (guint i = 0; keys && keys[i]; i++)
        load_key(settings, file, origin, keys[i], warnings);
    return g_steal_pointer(&file);
}

GKeyFile *
vnuma_config_load_file(VnumaSettings *settings, const char *path, GPtrArray *warnings,
                       GError **error)
{
    g_autofree char *data = NULL;
    g_autoptr(GError) local = NULL;
    gsize len;

    if (!g_file_get_contents(path, &data, &len, &local)) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_IO, "cannot read config: %s", local->message);
        return NULL;
    }
    return vnuma_config_load_data(settings, data, len, path, warnings, error);
}
