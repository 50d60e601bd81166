/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The agent's insides, shared by its modules (not installed, not for
 * other parts of vnuma). The modules, from the top down; each calls
 * only the ones below it (no cycle):
 *   vnuma-agent.c             its life, the pass, the daemon's loop
 *   vnuma-agent-place.c       placement, sizing on define, events
 *   vnuma-agent-measure.c     CPU demand, hot-added vCPUs
 *   vnuma-agent-rebalance.c   the rebalancer's input, its moves applied
 *   vnuma-agent-outputs.c     metrics file and report
 *   vnuma-agent-memory.c      memory per client, memory following a move
 *   vnuma-agent-apply.c       a state applied to a running domain, all or nothing
 *   vnuma-agent-domains.c     the domain table, the action log
 *   vnuma-agent-connection.c  libvirt: connection, host, driver, events */

#include <glib.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <sys/types.h>

#include "agent/vnuma-agent.h"
#include "agent/vnuma-agent-plan.h"
#include "agent/vnuma-agent-topology.h"
#include "xml/vnuma-record.h"
#include "lib/vnuma-enum.h"
#include "lib/vnuma-host.h"
#include "lib/vnuma-ratelimit.h"
#include "virt/vnuma-virt-error.h"

G_BEGIN_DECLS

/* Test-only fault points (docs/agent.md), from VNUMA_AGENT_FAULT, read
 * once when the agent is made: failures that cannot be provoked for
 * real at the right moment. Unset in production: no effect. */
typedef enum {
    VNUMA_AGENT_FAULT_NONE,
    VNUMA_AGENT_FAULT_STOP_BEFORE_APPLY,     /* SIGSTOP itself after deciding, before changing anything */
    VNUMA_AGENT_FAULT_STOP_AFTER_PINS,       /* SIGSTOP itself after the pins, before nodeset and record */
    VNUMA_AGENT_FAULT_FAIL_RECORD,           /* the final record write fails as if libvirt refused it */
    VNUMA_AGENT_FAULT_LAST
} VnumaAgentFault;
VNUMA_ENUM_DECL(vnuma_agent_fault, VnumaAgentFault);

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
    VnumaPlanFlags plan_flags;
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
    GSourceFunc dispatch;        /* runs a Handoff on the context (vnuma-agent.c) */
    GSource *pass_source;
    GSource *reconnect_source;
    guint backoff;
    VnumaTopologyKeeper *topology;   /* the hook's topology cache; NULL: the host is not read from sysfs */
    GSource *topology_source;
    gboolean topology_failing;       /* the last refresh failed (warned once) */
};

/* A lifecycle event or the connection's close, from libvirt's event
 * thread to the agent's context. */
typedef struct {
    VnumaAgent *agent;
    gint generation;
    char uuid[VIR_UUID_STRING_BUFLEN];
    int event;
    int detail;
    gboolean closed;
} Handoff;

static inline gboolean
vnuma_agent_placed(const VnumaAgentDomain *d)
{
    return d->managed && d->state != NULL;
}

static inline gint64
vnuma_agent_now_s(void)
{
    return g_get_real_time() / G_USEC_PER_SEC;
}

/* ---- vnuma-agent-connection.c ---- */

gboolean vnuma_agent_read_host(VnumaAgent *agent, GError **error);
void vnuma_agent_read_driver(VnumaAgent *agent);
void vnuma_agent_disconnect(VnumaAgent *agent);
/* After a failed call: is the connection still there? */
gboolean vnuma_agent_connection_alive(VnumaAgent *agent);
/* After a failed call on @dom: did it stop or vanish meanwhile? */
gboolean vnuma_agent_domain_gone(VnumaAgent *agent, virDomainPtr dom);
/* Registers for lifecycle events and the close; each is handed to
 * @dispatch (a Handoff) on the agent's context. */
gboolean vnuma_agent_watch(VnumaAgent *agent, GSourceFunc dispatch);

/* ---- vnuma-agent-domains.c ---- */

void vnuma_agent_domain_free(gpointer data);
VnumaAgentDomain *vnuma_agent_domain_add(VnumaAgent *agent, const char *uuid, const char *name);
void vnuma_agent_forget(VnumaAgent *agent, const char *uuid);
/* Domains in UUID order, so passes and reports are deterministic. */
GPtrArray *vnuma_agent_sorted_domains(VnumaAgent *agent);
gboolean vnuma_agent_in_scope(const VnumaAgent *agent, virDomainPtr dom);
/* What the running domains but @except commit to each node. */
GArray *vnuma_agent_committed_loads(VnumaAgent *agent, const char *except);
/* CPUs an unplaced domain used on node index @n over the last period. */
double vnuma_agent_unplaced_load(const VnumaAgentDomain *d, guint n);
void vnuma_agent_follow_free(VnumaFollow *follow);

/* Logs through glib's structured logging (journald fields VNUMA_DOMAIN,
 * VNUMA_ACTION) and keeps the action for the pass report. */
void vnuma_agent_record(VnumaAgent *agent, const char *domain, const char *uuid, const char *action,
                        GLogLevelFlags level, const char *format, ...) G_GNUC_PRINTF(6, 7);
/* The same for an action that failed: counted, logged as a warning. */
void vnuma_agent_record_failure(VnumaAgent *agent, const char *domain, const char *uuid, const char *action,
                                const char *format, ...) G_GNUC_PRINTF(5, 6);
/* A failed libvirt step on @dom: forgets a domain that vanished,
 * records a failure otherwise. */
void vnuma_agent_step_failed(VnumaAgent *agent, virDomainPtr dom, const char *name, const char *uuid,
                             const char *action, const char *message);

/* ---- vnuma-agent-place.c ---- */

/* Places every running domain the table does not know yet and forgets
 * the ones that are gone. */
gboolean vnuma_agent_sync_running(VnumaAgent *agent, GError **error);
gboolean vnuma_agent_sweep_definitions(VnumaAgent *agent, GError **error);

/* ---- vnuma-agent-measure.c ---- */

void vnuma_agent_measure_cpu(VnumaAgent *agent);

/* ---- vnuma-agent-rebalance.c ---- */

void vnuma_agent_rebalance(VnumaAgent *agent, GPtrArray *domains);

/* ---- vnuma-agent-outputs.c ---- */

/* VnumaMetricsNode per host node index. */
GArray *vnuma_agent_node_metrics(const VnumaAgent *agent, GPtrArray *domains);
void vnuma_agent_write_metrics(VnumaAgent *agent, GPtrArray *domains, const GArray *nodes);
void vnuma_agent_build_report(VnumaAgent *agent, GPtrArray *domains, const GArray *nodes);

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
