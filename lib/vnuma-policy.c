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

static gboolean
parse_choice(const char *name, const char *value, const char *const *choices, guint *out,
             GError **error)
{
    for (guint i = 0; choices[i]; i++) {
        if (g_str_equal(value, choices[i])) {
            *out = i;
            return TRUE;
        }
    }
    g_autofree char *list = g_strjoinv(" or ", (char **) choices);
    g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID,
                "%s='%s' is not %s", name, value, list);
    return FALSE;
}

gboolean
vnuma_policy_set(VnumaPolicy *policy, const char *name, const char *value, GError **error)
{
    static const char *const autosize[] = { "once", "always", NULL };
    static const char *const topology[] = { "align", "keep", NULL };
    VnumaPolicy next = *policy;
    g_autofree char *text = g_strstrip(g_strdup(value ? value : ""));
    guint choice;

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
        if (!parse_choice(name, text, autosize, &choice, error))
            return FALSE;
        next.autosize = (VnumaAutosize) choice;
    } else if (g_str_equal(name, "topology")) {
        if (!parse_choice(name, text, topology, &choice, error))
            return FALSE;
        next.topology = (VnumaTopologyMode) choice;
    } else {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID, "unknown attribute '%s'", name);
        return FALSE;
    }
    *policy = next;
    return TRUE;
}

const char *
vnuma_autosize_to_string(VnumaAutosize autosize)
{
    return autosize == VNUMA_AUTOSIZE_ALWAYS ? "always" : "once";
}

const char *
vnuma_topology_mode_to_string(VnumaTopologyMode mode)
{
    return mode == VNUMA_TOPOLOGY_KEEP ? "keep" : "align";
}

const char *
vnuma_memory_mode_to_string(VnumaMemoryMode mode)
{
    return mode == VNUMA_MEMORY_MODE_STRICT ? "strict" : "restrictive";
}

gboolean
vnuma_memory_mode_from_string(const char *text, VnumaMemoryMode *mode, GError **error)
{
    static const char *const modes[] = { "restrictive", "strict", NULL };
    guint choice;

    if (!parse_choice("memory_mode", text, modes, &choice, error))
        return FALSE;
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
