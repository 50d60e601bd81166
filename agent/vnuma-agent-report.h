/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "agent/vnuma-agent-metrics.h"
#include "xml/vnuma-record.h"

G_BEGIN_DECLS

/* What one pass of vnumad saw and did, as the one line of JSON that
 * `vnumad --report json` prints (docs/agent.md lists the fields). Pure:
 * the agent fills these views from its model; nothing here is owned but
 * the actions. */

/* One thing the agent did or decided, logged and reported. */
typedef struct {
    char *domain;
    char *uuid;
    char *action;                 /* place, resume, unmanaged, define, move, memory, rollback, … */
    gboolean applied;
    gboolean failed;
    char *detail;
} VnumaReportAction;

VnumaReportAction *vnuma_report_action_new(const char *domain, const char *uuid, const char *action,
                                           gboolean applied, gboolean failed, const char *detail);
void vnuma_report_action_free(VnumaReportAction *action);

typedef struct {
    VnumaMetricsNode metrics;
    const char *cpus;             /* usable CPUs, as a list */
} VnumaReportNode;

typedef struct {
    const char *name;
    const char *uuid;
    gboolean managed;
    const char *reason;           /* why not managed; NULL */
    gboolean applied;             /* placed and not only decided (dry run) */
    const VnumaAgentState *state; /* NULL unless placed */
    const GArray *demand;         /* double per vCPU, CPUs used; NULL: not measured yet */
    double locality;              /* fraction of memory on home nodes; < 0 unknown */
    /* How memory per client was told: "cells" (each cell's backing
     * region found in numa_maps), "proportional" (the process's memory
     * shared by clients' sizes), NULL (not measured). */
    const char *memory_source;
    gboolean memory_following;    /* pages are being moved after a move */
    guint64 memory_moved_kib;     /* by the agent's page migration, since it placed it */
    const char *const *warnings;  /* NULL-terminated or NULL */
} VnumaReportDomain;

typedef struct {
    guint64 pass;
    double time;                  /* s since the epoch */
    const char *uri;
    gboolean dry_run;
    gboolean connected;
    const char *host;             /* fingerprint */
    const char *memory_mode;
    double memory_migrate_rate;   /* MiB/s; 0: pages follow only the nodeset */
    const VnumaReportNode *nodes;
    guint n_nodes;
    const VnumaReportDomain *domains;
    guint n_domains;
    const GPtrArray *actions;     /* VnumaReportAction * */
    guint errors;
} VnumaReport;

char *vnuma_report_format(const VnumaReport *report);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(VnumaReportAction, vnuma_report_action_free)

G_END_DECLS
