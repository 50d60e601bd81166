/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "lib/vnuma-enum.h"

#include "lib/vnuma-cpuset.h"

G_BEGIN_DECLS

/* The per-domain knobs of docs/spec.md §5, named after the ESXi settings
 * operators know. Host defaults come from vnuma.conf, domain overrides
 * from <vnuma:policy/>; both go through vnuma_policy_set(). */

typedef enum {
    VNUMA_AUTOSIZE_ONCE,
    VNUMA_AUTOSIZE_ALWAYS,
    VNUMA_AUTOSIZE_LAST
} VnumaAutosize;

typedef enum {
    VNUMA_TOPOLOGY_ALIGN,
    VNUMA_TOPOLOGY_KEEP,
    VNUMA_TOPOLOGY_LAST
} VnumaTopologyMode;

typedef enum {
    VNUMA_MEMORY_MODE_RESTRICTIVE,
    VNUMA_MEMORY_MODE_STRICT,
    VNUMA_MEMORY_MODE_LAST
} VnumaMemoryMode;

typedef struct {
    gboolean managed;
    gboolean prefer_ht;
    guint max_per_machine_node;  /* 0: no limit */
    guint cores_per_socket;      /* 0: not set */
    guint vcpu_min;
    VnumaAutosize autosize;
    VnumaTopologyMode topology;
} VnumaPolicy;

/* Host-wide settings: policy defaults plus what only the host knows. */
typedef struct {
    VnumaPolicy defaults;
    VnumaCpuSet *host_cpuset;    /* NULL: every online CPU */
    VnumaMemoryMode memory_mode;
} VnumaSettings;

#define VNUMA_DEFAULT_VCPU_MIN 9u

void vnuma_policy_init(VnumaPolicy *policy);
/* Sets attribute @name from its text. An unknown name or a bad value
 * leaves @policy unchanged and returns an error naming the attribute. */
gboolean vnuma_policy_set(VnumaPolicy *policy, const char *name, const char *value,
                          GError **error);
/* The attribute names vnuma_policy_set() knows, NULL-terminated. */
const char *const *vnuma_policy_attribute_names(void);

VNUMA_ENUM_DECL(vnuma_autosize, VnumaAutosize);
VNUMA_ENUM_DECL(vnuma_topology_mode, VnumaTopologyMode);
VNUMA_ENUM_DECL(vnuma_memory_mode, VnumaMemoryMode);
/* memory_mode=@text of a configuration file. */
gboolean vnuma_memory_mode_parse(const char *text, VnumaMemoryMode *mode, GError **error);

void vnuma_settings_init(VnumaSettings *settings);
void vnuma_settings_clear(VnumaSettings *settings);

G_END_DECLS
