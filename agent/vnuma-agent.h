/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <libvirt/libvirt.h>

#include "agent/vnuma-agent-config.h"
#include "lib/vnuma-rebalance.h"

G_BEGIN_DECLS

/* vnumad's engine (docs/spec.md §7): keeps a model of the running domains
 * from libvirt, places each managed domain's NUMA clients on home nodes
 * when it starts, sizes persistent definitions when they are defined,
 * and every rebalance_period measures vCPU time and memory per node,
 * asks the rebalancer (lib/vnuma-rebalance.h) for moves and applies
 * them. Its per-domain state lives in the domains' live metadata
 * (xml/vnuma-record.h), so a restart resumes without a database.
 *
 * Everything here runs in the thread that owns the main context; libvirt
 * callbacks from the event thread are handed over (vnuma-agent-events.h). */

typedef enum {
    VNUMA_AGENT_DRY_RUN = 1 << 0,  /* decide and report, apply nothing */
    VNUMA_AGENT_REPORT = 1 << 1,   /* keep a JSON report of each pass */
} VnumaAgentFlags;

typedef struct _VnumaAgent VnumaAgent;

/* Takes ownership of @config. */
VnumaAgent *vnuma_agent_new(const char *uri, VnumaAgentConfig *config, VnumaAgentFlags flags);
void vnuma_agent_free(VnumaAgent *agent);

/* Restricts the agent to the domains named in @names (NULL-terminated;
 * NULL or empty: every domain). Others are neither placed, sized nor
 * counted in the load: for trying vnumad on a shared host. */
void vnuma_agent_set_domains(VnumaAgent *agent, const char *const *names);

/* Opens the URI and reads the host topology from its capabilities. */
gboolean vnuma_agent_connect(VnumaAgent *agent, GError **error);
/* The same on a connection the caller opened (libvirt's test driver
 * keeps one in-memory host per connection, so tests share theirs). */
gboolean vnuma_agent_adopt(VnumaAgent *agent, virConnectPtr conn, GError **error);

/* One pass: sizes the definitions missed while not connected (first
 * pass on a connection, when define_sizing is on), places running
 * managed domains not placed yet (or resumes them from their metadata),
 * measures, rebalances, writes the metrics file and the report. FALSE
 * only when there is no usable connection. */
gboolean vnuma_agent_pass(VnumaAgent *agent, GError **error);

/* A lifecycle event, as libvirt numbers them (virDomainEventType and its
 * detail), for the domain with this UUID string. */
void vnuma_agent_handle_event(VnumaAgent *agent, const char *uuid, int event, int detail);

/* Moves client @client of the placed domain @uuid to host node @node_id
 * as a migration of @kind (balance or locality), exactly as a
 * rebalancer move is applied: re-pin, nodeset, record. For operators
 * and tests; the rebalancer's own moves come from passes. */
gboolean vnuma_agent_move(VnumaAgent *agent, const char *uuid, guint client, guint node_id,
                          VnumaMoveKind kind, GError **error);

/* Runs until @loop quits: lifecycle events, a pass every
 * rebalance_period, reconnection with backoff when the connection
 * closes. Connects first when not connected (retrying with backoff).
 * @loop must run a context of its own, not the global default one (see
 * vnuma-agent-events.h); its sources are all attached there. */
gboolean vnuma_agent_run(VnumaAgent *agent, GMainLoop *loop, GError **error);

/* SIGHUP: takes ownership of @config and uses it from now on: the host
 * model is read again (host_cpuset, capabilities), the running domains
 * are looked at afresh (the placed ones resume from their records; new
 * settings apply to new placements and moves), and the pass timer
 * follows rebalance_period. */
void vnuma_agent_reload(VnumaAgent *agent, VnumaAgentConfig *config);

/* The last pass's report, one line of JSON (NULL without
 * VNUMA_AGENT_REPORT or before the first pass). */
const char *vnuma_agent_report(const VnumaAgent *agent);
/* Actions that failed in the last pass (a domain that vanished is not a
 * failure). */
guint vnuma_agent_errors(const VnumaAgent *agent);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(VnumaAgent, vnuma_agent_free)

G_END_DECLS
