/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "lib/vnuma-rebalance.h"

#include "lib/vnuma-policy.h"

G_BEGIN_DECLS

#define VNUMA_AGENT_DEFAULT_PERIOD VNUMA_REBALANCE_DEFAULT_PERIOD
#define VNUMA_AGENT_DEFAULT_MIGRATE_RATE VNUMA_MEMORY_MIGRATE_DEFAULT_RATE

/* vnumad's settings: the [vnuma] group of vnuma.conf that every front
 * end shares (sizing defaults, host_cpuset, memory_mode) plus the
 * agent's own keys:
 *   rebalance_period  seconds between passes (default 2, as ESXi); 0: placement only
 *   define_sizing     rewrite persistent definitions on DEFINED (default true)
 *   metrics_path      node_exporter textfile to write each pass (default: none)
 *   memory_migrate_rate  MiB/s at which a moved client's pages follow it
 *                     (default 256); 0: all at once, by the nodeset change
 *   capabilities      a capabilities XML file used instead of the connection's
 *                     (as for the hook); default: the connection's */
typedef struct {
    VnumaSettings settings;
    gboolean memory_mode_auto;   /* memory_mode=auto: decided from the libvirt version */
    double rebalance_period;
    gboolean define_sizing;
    char *metrics_path;
    double memory_migrate_rate;  /* MiB/s */
    char *capabilities;          /* path, or NULL */
    GPtrArray *warnings;         /* char *: bad values, ignored */
} VnumaAgentConfig;

VnumaAgentConfig *vnuma_agent_config_new(void);
void vnuma_agent_config_free(VnumaAgentConfig *config);

/* A bad value keeps the default and adds a warning naming the key;
 * only an unreadable or unparsable file is an error. */
gboolean vnuma_agent_config_load_data(VnumaAgentConfig *config, const char *data, gsize len,
                                      const char *origin, GError **error);
/* @required FALSE: a missing file means defaults (the packaged path may
 * not exist); TRUE (an explicit --config): missing is an error. */
gboolean vnuma_agent_config_load_file(VnumaAgentConfig *config, const char *path,
                                      gboolean required, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(VnumaAgentConfig, vnuma_agent_config_free)

G_END_DECLS
