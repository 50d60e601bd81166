/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "lib/vnuma-policy.h"

G_BEGIN_DECLS

#define VNUMA_CONFIG_GROUP "vnuma"

/* Reads vnuma.conf into @settings. Every key of the [vnuma] group is a
 * <vnuma:policy> attribute default, or host_cpuset, or memory_mode; keys
 * that later front ends read (enforce, capabilities, ...) are passed
 * over. Bad values are appended to @warnings and ignored. Returns the
 * key file, so front ends can read their own keys from it. */
GKeyFile *vnuma_config_load_data(VnumaSettings *settings, const char *data, gsize len,
                                 const char *origin, GPtrArray *warnings, GError **error);
GKeyFile *vnuma_config_load_file(VnumaSettings *settings, const char *path, GPtrArray *warnings,
                                 GError **error);

G_END_DECLS
