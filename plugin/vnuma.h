/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libvnuma — the public C API of vnuma, the NUMA scheduler for
 * libvirt/KVM, for integrations that size and rewrite a domain's XML
 * before libvirt sees it: the qemu hook, vnumactl and the orchestrator
 * adapters (oVirt, KubeVirt, Nova) use it. (vnumad, the agent, works on
 * running domains through libvirt and links the core directly.)
 *
 *   VnumaContext  the host: its topology (capabilities XML or sysfs) and
 *                 its settings (vnuma.conf).
 *   VnumaPlan     one domain sized and placed on that host: whether it
 *                 is managed, the rewritten domain XML, and an
 *                 explanation (JSON or text).
 *
 * Nothing here talks to libvirt. Fallible calls take a GError ** and
 * fail in the VNUMA_ERROR domain (vnuma-error.h); error messages are one
 * line naming what is wrong. As libvirt's virCheckFlags does, every call
 * refuses a NULL object or required argument and flags it does not know:
 * a fallible call with VNUMA_ERROR_INVALID naming them, any other with a
 * g_critical() and a neutral result (FALSE, 0, NULL). Objects are not
 * shared between threads.
 */
#pragma once

#include <glib.h>

#include "vnuma-error.h"

G_BEGIN_DECLS

#define VNUMA_API_VERSION 1

typedef struct _VnumaContext VnumaContext;
typedef struct _VnumaPlan VnumaPlan;

typedef enum {
    VNUMA_FORMAT_XML,   /* the rewritten domain XML */
    VNUMA_FORMAT_JSON,  /* the layout, machine-readable */
    VNUMA_FORMAT_TEXT,  /* the layout and the reasons, for people */
} VnumaFormat;

typedef enum {
    VNUMA_PLAN_DEFAULT = 0,
    /* Migrate/restore: the guest already runs, so its cells and guest
     * topology stay; only pins and nodesets are chosen for this host. */
    VNUMA_PLAN_KEEP_GUEST_ABI = 1 << 0,
    /* libvirt's test driver (test:///default) reports domain type
     * 'test', which is never managed; with this flag such a domain is
     * planned as if it were kvm, so vnumad and vnumactl have something
     * to place there. Never set for a real hypervisor. */
    VNUMA_PLAN_TEST_AS_KVM = 1 << 1,
    /* The caller only asks whether the domain fits (changes_domain,
     * warnings, the plan in JSON or text) and never takes the XML: the
     * rewritten domain is neither written nor read back, which halves
     * the cost, and vnuma_plan_render(VNUMA_FORMAT_XML) returns NULL. The
     * hook's advice at domain start. */
    VNUMA_PLAN_ADVICE_ONLY = 1 << 2,
} VnumaPlanFlags;

/* Every flag this version knows; others are refused. */
#define VNUMA_PLAN_FLAGS_ALL (VNUMA_PLAN_KEEP_GUEST_ABI | VNUMA_PLAN_TEST_AS_KVM | VNUMA_PLAN_ADVICE_ONLY)

/* A context with built-in defaults and no host yet. */
VnumaContext *vnuma_context_new(void);
void vnuma_context_free(VnumaContext *ctx);

/* The host topology, from `virsh capabilities` output (a file, or text). */
gboolean vnuma_context_load_caps_file(VnumaContext *ctx, const char *path, GError **error);
gboolean vnuma_context_load_caps_xml(VnumaContext *ctx, const char *xml, gsize len, GError **error);
/* The host topology from sysfs; @root is "/sys" on a real host. */
gboolean vnuma_context_load_sysfs(VnumaContext *ctx, const char *root, GError **error);

/* The host as a front end running on it loads it (the qemu hook, the
 * orchestrator adapters): the config at $VNUMA_CONFIG, else
 * @default_config when that exists (NULL: none); the topology from
 * $VNUMA_CAPS_FILE, else the config's `capabilities` file, else sysfs at
 * $VNUMA_SYSFS_ROOT or /sys, each through its cache (docs/hook.md);
 * memory_mode=auto resolved from this libvirt's own schema (restrictive
 * from 7.3), since such a front end may not ask the daemon. When the
 * topology fails, the config stays loaded for the caller's own keys. */
gboolean vnuma_context_load_host(VnumaContext *ctx, const char *default_config, GError **error);

/* Host settings from a vnuma.conf (GKeyFile, group [vnuma]): a default
 * for every <vnuma:policy> attribute, host_cpuset and memory_mode. A bad
 * value is ignored with a warning naming the key; an unreadable file is
 * an error. */
gboolean vnuma_context_load_config(VnumaContext *ctx, const char *path, GError **error);
/* A key of the loaded config's [vnuma] group, for front ends' own keys
 * (enforce, capabilities, ...); NULL when unset or no config loaded. */
char *vnuma_context_config_string(const VnumaContext *ctx, const char *key);
/* "restrictive" or "strict": the <numatune> mode plans write. */
gboolean vnuma_context_set_memory_mode(VnumaContext *ctx, const char *mode, GError **error);
/* Warnings the configuration produced, NULL-terminated. */
const char *const *vnuma_context_warnings(const VnumaContext *ctx);
/* The canonical description of the loaded host, for diagnostics. */
char *vnuma_context_describe_host(const VnumaContext *ctx);

/* Sizes and places one domain. Fails only on unreadable input (not XML,
 * not a domain, malformed libvirt elements) or with no host loaded; a
 * bad override or an unmanaged domain is a successful plan. */
VnumaPlan *vnuma_plan_new(VnumaContext *ctx, const char *domain_xml, gsize len, GError **error);
VnumaPlan *vnuma_plan_new_full(VnumaContext *ctx, const char *domain_xml, gsize len,
                               VnumaPlanFlags flags, GError **error);
/* autosize=once for orchestrators that rebuild the domain XML at every
 * start and keep their own per-instance data (Nova's system_metadata):
 * @record is a <vnuma:layout> element an earlier plan gave
 * (vnuma_plan_record), read as if it were in the domain's <metadata>
 * when the domain has no record of its own. NULL or empty: as
 * vnuma_plan_new_full. An unreadable record is a plan warning and the
 * domain is sized afresh, as an unreadable record in the domain is. */
VnumaPlan *vnuma_plan_new_with_record(VnumaContext *ctx, const char *domain_xml, gsize len,
                                      const char *record, gsize record_len,
                                      VnumaPlanFlags flags, GError **error);
void vnuma_plan_free(VnumaPlan *plan);

gboolean vnuma_plan_is_managed(const VnumaPlan *plan);
/* Why vnuma leaves the domain alone; NULL when managed. */
const char *vnuma_plan_reason(const VnumaPlan *plan);
/* Whether the rewritten XML differs from the input (for an advice-only
 * plan: would differ). */
gboolean vnuma_plan_changes_domain(const VnumaPlan *plan);
/* Warnings, NULL-terminated (bad overrides, spanning cells, memory). */
const char *const *vnuma_plan_warnings(const VnumaPlan *plan);

/* The plan in @format. XML is the whole domain, the input unchanged when
 * there is nothing to change; NULL for a VNUMA_PLAN_ADVICE_ONLY plan. */
char *vnuma_plan_render(const VnumaPlan *plan, VnumaFormat format, gsize *len);

/* The plan's <vnuma:layout> record (the element the rewritten XML
 * carries), to keep beside the instance for vnuma_plan_new_with_record;
 * NULL when the plan is not managed. */
char *vnuma_plan_record(const VnumaPlan *plan, gsize *len);

/* The sizing itself, for front ends that translate it into another
 * system's terms (vnumactl advise → Nova flavor extra specs). Lists are
 * libvirt CPU-list text ("0-5"), freed by the caller. An unmanaged plan
 * has no clients and no cells. */
guint vnuma_plan_n_clients(const VnumaPlan *plan);
/* Client @index: its vCPUs; its home node (-1 when not placed) and
 * memory in KiB through the optional out parameters. */
char *vnuma_plan_client(const VnumaPlan *plan, guint index, gint *home_node, guint64 *memory_kib);
/* The vNUMA cells the guest sees: 0 when vNUMA is not exposed. */
guint vnuma_plan_n_cells(const VnumaPlan *plan);
char *vnuma_plan_cell(const VnumaPlan *plan, guint index, guint64 *memory_kib);
/* The guest CPU topology after the plan; all 0 when it has none. Each
 * out parameter may be NULL. */
void vnuma_plan_topology(const VnumaPlan *plan, guint *sockets, guint *dies, guint *cores,
                         guint *threads);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(VnumaContext, vnuma_context_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VnumaPlan, vnuma_plan_free)

G_END_DECLS
