/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "xml/vnuma-record.h"

G_BEGIN_DECLS

/* What the agent shows of its work (ESXi's NHN, N%L, NMIG), as
 * Prometheus metrics in node_exporter's textfile format. */

typedef struct {
    char *name;
    char *uuid;
    const VnumaAgentState *state;  /* borrowed: home nodes and migrations */
    double locality;               /* fraction of memory on home nodes; < 0 unknown */
} VnumaMetricsDomain;

typedef struct {
    guint id;
    double capacity;               /* usable CPUs */
    double load;                   /* CPUs used by the clients homed here */
    double committed_vcpus;        /* vCPUs homed here */
    gint64 free_bytes;             /* < 0: unknown */
} VnumaMetricsNode;

typedef struct {
    GArray *domains;               /* VnumaMetricsDomain */
    GArray *nodes;                 /* VnumaMetricsNode */
    guint64 passes;
    double last_pass;              /* s since the epoch */
    gboolean connected;
} VnumaMetrics;

VnumaMetrics *vnuma_metrics_new(void);
void vnuma_metrics_free(VnumaMetrics *metrics);
/* @state is borrowed and must outlive @metrics. */
void vnuma_metrics_add_domain(VnumaMetrics *metrics, const char *name, const char *uuid,
                              const VnumaAgentState *state, double locality);
void vnuma_metrics_add_node(VnumaMetrics *metrics, const VnumaMetricsNode *node);

/* The exposition text, families in a fixed order, HELP and TYPE first. */
char *vnuma_metrics_format(const VnumaMetrics *metrics);

/* Writes @metrics to @path with vnuma_file_replace() (mode 0644), so
 * node_exporter never reads half a file. */
gboolean vnuma_metrics_write(const VnumaMetrics *metrics, const char *path, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(VnumaMetrics, vnuma_metrics_free)

G_END_DECLS
