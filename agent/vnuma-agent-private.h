/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The agent's insides, shared by its modules (not installed, not for
 * other parts of vnuma): vnuma-agent.c (connection, domain table,
 * placement, rebalancing, the pass and the daemon), vnuma-agent-apply.c
 * (applying a state to a running domain, all or nothing) and
 * vnuma-agent-memory.c (memory per client, memory following a move). */

#include <glib.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <sys/types.h>

#include "agent/vnuma-agent.h"
#include "agent/vnuma-agent-plan.h"
#include "agent/vnuma-agent-state.h"
#include "lib/vnuma-host.h"
#include "lib/vnuma-ratelimit.h"

G_BEGIN_DECLS

/* Test-only fault points (docs/agent.md), from VNUMA_AGENT_FAULT, read
 * once when the agent is made: failures that cannot be provoked for
 * real at the right moment. Unset in production: no effect. */
typedef enum {
    VNUMA_AGENT_FAULT_NONE,
    VNUMA_AGENT_FAULT_STOP_BEFORE_APPLY,     /* SIGSTOP itself after deciding, before changing anything */
    VNUMA_AGENT_FAULT_STOP_AFTER_PINS,       /* SIGSTOP itself after the pins, before nodeset and record */
    VNUMA_AGENT_FAULT_FAIL_RECORD,           /* the final record write fails as if libvirt refused it */
} VnumaAgentFault;

/* Memory following a moved client (memory_migrate_rate): one span per
 * guest RAM mapping to walk, pages off @allowed going to @target. */
typedef struct {
    guint cell;                  /* the guest cell whose mapping this is */
    gboolean shared;             /* the cell spans clients: no one home */
    guint64 start;
    guint64 end;
    guint64 cursor;
    gint target;
    VnumaCpuSet *allowed;
} VnumaFollowSpan;

typedef struct {
    const char *cause;           /* "the move", "the placement": for the log */
    /* Its decision is logged (a move, a settle, a resumed record's
     * move): no page moves before (issue 19). */
    gboolean decided;
    GArray *spans;               /* VnumaFollowSpan; NULL until resolved from numa_maps */
    VnumaRateLimit limit;
    guint64 moved;               /* bytes */
    guint64 failed;
} VnumaFollow;

/* One running domain as the agent knows it. */
typedef struct {
    char *uuid;
    char *name;
    gboolean managed;
    char *reason;                /* why not managed, or why placement failed */
    VnumaAgentState *state;      /* managed and placed: clients on home nodes */
    gboolean planned_only;       /* --dry-run: decided, not applied */
    gboolean nodeset_live;       /* libvirt lets its nodeset change while it runs */
    GStrv warnings;              /* the sizing engine's, from placement */
    GPtrArray *usable;           /* VnumaCpuSet * per host node index, this domain's view */
    guint client_base;           /* rebalancer ids: client_base + client index */
    GArray *vcpu_times;          /* last "vcpu.N.time" sample, ns */
    gint64 sampled;              /* monotonic µs of that sample */
    GArray *demand;              /* double per vCPU, CPUs used over the last period */
    GArray *memory;              /* KiB per host node id from numa_maps; NULL: unknown */
    GPtrArray *cell_vcpus;       /* VnumaCpuSet * per guest cell; no cells: one, every vCPU */
    GArray *cell_kib;            /* guint64 per guest cell; no cells: one, <memory> */
    guint64 memory_kib;          /* <memory> */
    guint vcpus_current;         /* online vCPUs, last seen */
    GArray *spread;              /* not placed: vCPUs per host node index, where they may run */
    pid_t pid;                   /* QEMU's, when numa_maps is readable */
    GPtrArray *regions;          /* VnumaMemRegion *: the process's mappings, last pass */
    GArray *ram;                 /* gint per cell: its backing mapping in regions, or -1 */
    VnumaFollow *follow;         /* pages still following a move or a placement */
    gboolean settle;             /* placed or resumed, memory not checked against the homes yet */
    /* An invariant of following was violated (logged as an error): its
     * memory is no longer followed (nor a locality signal) this run. */
    gboolean follow_stopped;
    int domain_id;               /* libvirt's ID of the run placed: a STARTED event of that run is no new start */
    guint64 memory_moved_kib;    /* by page migration since placed */
} VnumaAgentDomain;

struct _VnumaAgent {
    char *uri;
    VnumaAgentConfig *config;
    VnumaAgentFlags flags;

    virConnectPtr conn;
    gint generation;             /* bumped on every (dis)connection; atomic */
    int lifecycle_id;            /* -1: not registered */
    gboolean close_registered;
    VnumaHost *host;
    char *fingerprint;
    GPtrArray *usable;           /* VnumaCpuSet * per host node index: CPUs ∩ host_cpuset */
    VnumaCpuSet *host_cpus;      /* every CPU of the host: an unpinned vCPU's map */
    int cpumap_len;
    VnumaAgentPlanFlags plan_flags;
    unsigned int pin_flags;      /* for virDomainPinVcpuFlags */
    gboolean read_numa_maps;     /* local qemu driver: /proc/PID/numa_maps is ours to read */
    gboolean nodeset_possible;   /* the driver can change a running domain's nodeset */
    gboolean sweep_definitions;  /* next pass sizes every persistent definition */
    GHashTable *only;            /* domain names the agent may touch; NULL: all */

    GHashTable *domains;         /* uuid -> VnumaAgentDomain */
    GHashTable *own_defines;     /* uuid -> checksum of the definition the agent wrote */
    guint next_client_id;
    VnumaRebalancer *rebalancer;

    GPtrArray *actions;          /* VnumaReportAction *, since the last report */
    VnumaAgentFault fault;
    guint errors;
    guint64 passes;
    char *report;

    GMainContext *context;
    GSource *pass_source;
    GSource *reconnect_source;
    guint backoff;
};

static inline const char *
vnuma_virt_error(void)
{
    const char *message = virGetLastErrorMessage();

    return message ? message : "unknown libvirt error";
}

static inline gboolean
vnuma_agent_placed(const VnumaAgentDomain *d)
{
    return d->managed && d->state != NULL;
}

/* Index of host node @id in host->nodes, or -1. */
gint vnuma_agent_node_index(const VnumaHost *host, guint id);

/* Logs through glib's structured logging (journald fields VNUMA_DOMAIN,
 * VNUMA_ACTION) and keeps the action for the pass report; CRITICAL
 * marks a failed action. */
void vnuma_agent_record(VnumaAgent *agent, const char *domain, const char *uuid, const char *action,
                        GLogLevelFlags level, const char *format, ...) G_GNUC_PRINTF(6, 7);

/* After a failed call on @dom: did it stop or vanish meanwhile? */
gboolean vnuma_agent_domain_gone(VnumaAgent *agent, virDomainPtr dom);

/* ---- vnuma-agent-apply.c ---- */

VnumaAgentFault vnuma_agent_read_fault(void);
unsigned char *vnuma_agent_cpumap_new(const VnumaAgent *agent, const VnumaCpuSet *cpus);
/* How many vCPUs, from vCPU 0, are pinned to their client's home node. */
guint vnuma_agent_vcpus_on_home(const VnumaAgent *agent, virDomainPtr dom, const VnumaAgentDomain *d,
                                guint online);
/* Whether the agent changes this domain's nodeset at all. */
gboolean vnuma_agent_nodeset_applies(const VnumaAgent *agent, const VnumaAgentDomain *d);
gboolean vnuma_agent_set_nodeset(virDomainPtr dom, const VnumaCpuSet *nodes, gboolean numatune_absent,
                                 GError **error);
/* The agent's record as libvirt holds it (live metadata); NULL with
 * @error unset when there is none. */
VnumaAgentState *vnuma_agent_read_record(virDomainPtr dom, GError **error);
/* The complete record, with the digest of the pins libvirt now reports. */
gboolean vnuma_agent_save_record(VnumaAgent *agent, virDomainPtr dom, VnumaAgentState *state, GError **error);
/* Applies @next (pins, nodeset, record) all or nothing; see the .c. */
gboolean vnuma_agent_apply_state(VnumaAgent *agent, virDomainPtr dom, const VnumaAgentDomain *d,
                                 VnumaAgentState *next, const VnumaAgentState *previous,
                                 gboolean numatune_absent, const VnumaCpuSet *widen, GError **error);

/* ---- vnuma-agent-memory.c ---- */

void vnuma_agent_measure_memory(VnumaAgent *agent, VnumaAgentDomain *d);
/* "cells", "proportional", or NULL (not measured). */
const char *vnuma_agent_memory_source(const VnumaAgentDomain *d);
/* Client @c's memory per node index (g_free), NULL when not measured. */
guint64 *vnuma_agent_client_memory(const VnumaAgent *agent, const VnumaAgentDomain *d, guint c);
/* Fraction of the clients' memory on their home nodes' memory nodes; -1 unknown. */
double vnuma_agent_locality(const VnumaAgent *agent, const VnumaAgentDomain *d);
VnumaFollow *vnuma_agent_follow_new(const VnumaAgent *agent, const char *cause);
void vnuma_agent_follow_free(VnumaFollow *follow);
/* Whether pages follow this domain's moves at a bounded rate. */
gboolean vnuma_agent_follows_memory(const VnumaAgent *agent, const VnumaAgentDomain *d);
/* After a placement or resume (d->settle), once memory is measured:
 * the clients' own memory that lies off their home nodes (QEMU
 * allocated it before the pins; a restore put it back anywhere) follows
 * them at the bounded rate. */
void vnuma_agent_settle_memory(VnumaAgent *agent, VnumaAgentDomain *d);
/* An invariant of following is violated (@why): logged as an error,
 * and this domain's memory is no longer followed. */
void vnuma_agent_follow_stop(VnumaAgent *agent, VnumaAgentDomain *d, const char *why);
/* One pass's share of page migration after a move. */
void vnuma_agent_follow_memory(VnumaAgent *agent, VnumaAgentDomain *d);

G_END_DECLS
