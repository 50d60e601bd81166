/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The keys of the shared config file's [vnuma] group (vnuma.conf), each
 * spelled once: every reader takes its names from here, and a key not
 * in the catalogue (nor a <vnuma:policy> attribute, the planning
 * defaults of vnuma_policy_attribute_names()) is warned about. */

#define VNUMA_CONFIG_KEY_HOST_CPUSET         "host_cpuset"
#define VNUMA_CONFIG_KEY_MEMORY_MODE         "memory_mode"
#define VNUMA_CONFIG_KEY_CAPABILITIES        "capabilities"
#define VNUMA_CONFIG_KEY_ENFORCE             "enforce"
#define VNUMA_CONFIG_KEY_LOG_FILE            "log_file"
#define VNUMA_CONFIG_KEY_REBALANCE_PERIOD    "rebalance_period"
#define VNUMA_CONFIG_KEY_DEFINE_SIZING       "define_sizing"
#define VNUMA_CONFIG_KEY_METRICS_PATH        "metrics_path"
#define VNUMA_CONFIG_KEY_MEMORY_MIGRATE_RATE "memory_migrate_rate"

/* Which part of vnuma reads a key. */
typedef enum {
    VNUMA_CONFIG_READER_PLANNING = 1 << 0,  /* libvnuma: settings and host loading */
    VNUMA_CONFIG_READER_HOOK = 1 << 1,      /* the qemu hook */
    VNUMA_CONFIG_READER_AGENT = 1 << 2,     /* vnumad */
} VnumaConfigReader;

typedef struct {
    const char *name;
    VnumaConfigReader readers;
} VnumaConfigKey;

/* The catalogue, @n_keys entries. */
const VnumaConfigKey *vnuma_config_keys(guint *n_keys);
/* Whether @name is in the catalogue. */
gboolean vnuma_config_key_known(const char *name);

G_END_DECLS
