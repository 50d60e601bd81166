/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "lib/vnuma-cpuset.h"
#include "lib/vnuma-locality.h"
#include "lib/vnuma-rebalance.h"

G_BEGIN_DECLS

/* The agent's record in a running domain's live metadata, so that a
 * restarted agent resumes with no local database:
 *
 *   <vnumad:state xmlns:vnumad="urn:x-vnuma:agent:1" version="1"
 *       host="FINGERPRINT" pins="DIGEST" placed="EPOCH">
 *     <vnumad:client vcpus="0-4" node="0" memory="262144" moved="EPOCH"/>
 *     <vnumad:migrations balance="0" locality="1" swap="0"/>
 *   </vnumad:state>
 *
 * It has its own namespace: libvirt keeps one metadata element per
 * namespace URI (at define time and in virDomainSetMetadata), so writing
 * it under urn:x-vnuma:domain:1 would replace the admin's <vnuma:policy>.
 * `pins` is the digest of the live pins as read back after the agent set
 * them: equal digest, the pins are still the agent's. `pending="yes"`
 * (only while the agent applies a placement or a move, or after one it
 * rolled back) says the live pins may be partly the agent's whatever
 * their digest: a restarted agent places such a domain afresh instead of
 * taking its pins for an admin's. */

#define VNUMA_AGENT_NAMESPACE "urn:x-vnuma:agent:1"
#define VNUMA_AGENT_PREFIX "vnumad"

typedef struct {
    VnumaCpuSet *vcpus;
    guint home_node;               /* host node id */
    guint64 memory_kib;
    gint64 moved;                  /* s since the epoch of its last move; -1: never */
} VnumaAgentClient;

typedef struct {
    char *host;                    /* host fingerprint the home nodes refer to */
    char *pins_digest;
    gint64 placed;                 /* s since the epoch */
    gboolean pending;              /* an apply was under way (see above) */
    GArray *clients;               /* VnumaAgentClient, ascending vCPUs */
    guint64 migrations[VNUMA_MOVE_KIND_LAST];
} VnumaAgentState;

VnumaAgentState *vnuma_agent_state_new(void);
void vnuma_agent_state_free(VnumaAgentState *state);
VnumaAgentState *vnuma_agent_state_copy(const VnumaAgentState *state);

/* Takes ownership of @vcpus. */
void vnuma_agent_state_add_client(VnumaAgentState *state, VnumaCpuSet *vcpus, guint home_node,
                                  guint64 memory_kib, gint64 moved);
guint64 vnuma_agent_state_migrations_total(const VnumaAgentState *state);

/* The element as virDomainGetMetadata returns it (without namespace) or
 * as the domain XML shows it (in ours). A record that is not readable is
 * an error naming what is wrong. */
VnumaAgentState *vnuma_agent_state_parse(const char *xml, GError **error);
/* The element for virDomainSetMetadata, without namespace: libvirt puts
 * it and its children into VNUMA_AGENT_NAMESPACE with the prefix given. */
char *vnuma_agent_state_format(const VnumaAgentState *state);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(VnumaAgentState, vnuma_agent_state_free)

/* The record's clients as lib/vnuma-locality.h wants them
 * (VnumaMemoryClient, pointing into @state, which must outlive them). */
GArray *vnuma_agent_state_memory_clients(const VnumaAgentState *state);

G_END_DECLS
