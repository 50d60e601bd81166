/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "lib/vnuma-policy.h"

#include <string.h>

#include "lib/vnuma-error.h"

static const char *const attribute_names[] = {
    "managed", "preferHT", "maxPerMachineNode", "coresPerSocket", "vcpuMin",
    "autosize", "topology", NULL,
};

void
vnuma_policy_init(VnumaPolicy *policy)
{
    *policy = (VnumaPolicy) {
        .managed = TRUE,
        .vcpu_min = VNUMA_DEFAULT_VCPU_MIN,
        .autosize = VNUMA_AUTOSIZE_ONCE,
        .topology = VNUMA_TOPOLOGY_ALIGN,
    };
}

const char *const *
vnuma_policy_attribute_names(void)
{
    return attribute_names;
}

static gboolean
parse_bool(const char *name, const char *value, gboolean *out, GError **error)
{
    static const char *const yes[] = { "yes", "true", "on", "1", NULL };
    static const char *const no[] = { "no", "false", "off", "0", NULL };

    if (g_strv_contains(yes, value)) {
        *out = TRUE;
        return TRUE;
    }
    if (g_strv_contains(no, value)) {
        *out = FALSE;
        return TRUE;
    }
    g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID,
                "%s='%s' is not yes or no", name, value);
    return FALSE;
}

static gboolean
parse_count(const char *name, const char *value, guint min, guint *out, GError **error)
{
    guint64 number;

    if (!g_ascii_string_to_unsigned(value, 10, min, VNUMA_CPUSET_MAX_ID, &number, NULL)) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID,
                    "%s='%s' is not a whole number from %u to %u",
                    name, value, min, VNUMA_CPUSET_MAX_ID);
        return FALSE;
    }
    *out = (guint) number;
    return TRUE;
}

static void
set_choice_error(const char *name, const char *value, char *choices, GError **error)
{
    g_autofree char *list = choices;

    g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID, "%s='%s' is not %s", name, value, list);
}

VNUMA_ENUM_IMPL(vnuma_autosize, VnumaAutosize, VNUMA_AUTOSIZE_LAST, "once", "always");
VNUMA_ENUM_IMPL(vnuma_topology_mode, VnumaTopologyMode, VNUMA_TOPOLOGY_LAST, "align", "keep");
VNUMA_ENUM_IMPL(vnuma_memory_mode, VnumaMemoryMode, VNUMA_MEMORY_MODE_LAST, "restrictive", "strict");

gboolean
vnuma_policy_set(VnumaPolicy *policy, const char *name, const char *value, GError **error)
{
    VnumaPolicy next = *policy;
    g_autofree char *text = g_strstrip(g_strdup(value ? value : ""));
    gint choice;

    if (g_str_equal(name, "managed")) {
        if (!parse_bool(name, text, &next.managed, error))
            return FALSE;
    } else if (g_str_equal(name, "preferHT")) {
        if (!parse_bool(name, text, &next.prefer_ht, error))
            return FALSE;
    } else if (g_str_equal(name, "maxPerMachineNode")) {
        /* 0 would mean "no vCPU may run anywhere"; ESXi wants >= 1. */
        if (!parse_count(name, text, 1, &next.max_per_machine_node, error))
            return FALSE;
    } else if (g_str_equal(name, "coresPerSocket")) {
        if (!parse_count(name, text, 1, &next.cores_per_socket, error))
            return FALSE;
    } else if (g_str_equal(name, "vcpuMin")) {
        if (!parse_count(name, text, 1, &next.vcpu_min, error))
            return FALSE;
    } else if (g_str_equal(name, "autosize")) {
        if ((choice = vnuma_autosize_from_string(text)) < 0) {
            set_choice_error(name, text, vnuma_autosize_join(" or "), error);
            return FALSE;
        }
        next.autosize = (VnumaAutosize) choice;
    } else if (g_str_equal(name, "topology")) {
        if ((choice = vnuma_topology_mode_from_string(text)) < 0) {
            set_choice_error(name, text, vnuma_topology_mode_join(" or "), error);
            return FALSE;
        }
        next.topology = (VnumaTopologyMode) choice;
    } else {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID, "unknown attribute '%s'", name);
        return FALSE;
    }
    *policy = next;
    return TRUE;
}

gboolean
vnuma_memory_mode_parse(const char *text, VnumaMemoryMode *mode, GError **error)
{
    gint choice = vnuma_memory_mode_from_string(text);

    if (choice < 0) {
        set_choice_error("memory_mode", text, vnuma_memory_mode_join(" or "), error);
        return FALSE;
    }
    *mode = (VnumaMemoryMode) choice;
    return TRUE;
}

void
vnuma_settings_init(VnumaSettings *settings)
{
    vnuma_policy_init(&settings->defaults);
    settings->host_cpuset = NULL;
    settings->memory_mode = VNUMA_MEMORY_MODE_RESTRICTIVE;
}

void
vnuma_settings_clear(VnumaSettings *settings)
{
    g_clear_pointer(&settings->host_cpuset, vnuma_cpuset_free);
}
