/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "xml/vnuma-record.h"
#include "lib/vnuma-host.h"
#include "lib/vnuma-layout.h"
#include "lib/vnuma-policy.h"
#include "lib/vnuma-request.h"
#include "plugin/vnuma.h"

G_BEGIN_DECLS

/* The agent's decisions about one domain, pure (no libvirt): the sizing
 * engine of lib/ and xml/ applied to the XML libvirt returned. The agent
 * (vnuma-agent-place.c) fetches and applies. Of the plan flags
 * (plugin/vnuma.h) it reads VNUMA_PLAN_TEST_AS_KVM. */

typedef struct {
    gboolean managed;
    char *reason;                 /* why not managed */
    /* The live pins are still the ones the agent set (its state's digest
     * matches): keep the state's home nodes, apply nothing. */
    gboolean resumed;
    /* The record says an apply was under way (pending): the live pins
     * are taken for the agent's own and the domain is placed afresh. */
    gboolean recovered;
    VnumaRequest *request;
    /* The live <numatune> nodeset (NULL: none), read before a resumed
     * domain's pins are dropped from @request: a move's memory may
     * still be following (the nodeset wider than the homes). */
    VnumaCpuSet *live_nodeset;
    VnumaLayout *layout;          /* sized, and placed unless resumed; NULL when unmanaged */
    /* libvirt changes a running domain's nodeset only without a
     * <numatune> yet or in mode restrictive. */
    gboolean nodeset_live;
    gboolean numatune_absent;     /* then the agent sets the mode along with the nodeset */
    char *fingerprint;            /* of the host planned for */
} VnumaAgentPlacement;

void vnuma_agent_placement_free(VnumaAgentPlacement *placement);

/* Initial placement of a running domain from its live XML: sized as at
 * define time, home nodes chosen with @loads (the other domains' clients
 * per node). @state is the agent's record read from the domain, or NULL. */
VnumaAgentPlacement *vnuma_agent_place(const VnumaHost *host, const VnumaSettings *settings,
                                       const char *xml, gsize len, const VnumaAgentState *state,
                                       const VnumaNodeLoad *loads, guint n_loads,
                                       VnumaPlanFlags flags, GError **error);

/* The agent's record for a fresh placement: the clients on their home
 * nodes at @now; migration counts carried over from @previous (a record
 * that no longer matches the domain's pins, e.g. after a migration). */
VnumaAgentState *vnuma_agent_state_from_layout(const VnumaLayout *layout, const char *fingerprint,
                                               const VnumaAgentState *previous, gint64 now);

/* Sizing on define: the persistent definition @xml (inactive, with
 * secure parts) rewritten by the sizing engine. Returns NULL with
 * *@skip set to the reason when there is nothing to define (unchanged,
 * unmanaged, or unsafe), NULL with @error on unreadable XML. */
char *vnuma_agent_size_definition(const VnumaHost *host, const VnumaSettings *settings,
                                  const char *xml, gsize len, VnumaPlanFlags flags,
                                  char **skip, GError **error);


/* The memory nodeset for @state: every client's memory node. */
VnumaCpuSet *vnuma_agent_memory_nodes(const VnumaHost *host, const VnumaAgentState *state);

/* Digest of the pins and numatune in a domain's XML, as the agent
 * records it after applying (vnuma_pinset_digest). */
char *vnuma_agent_pins_digest(const char *xml, gsize len, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(VnumaAgentPlacement, vnuma_agent_placement_free)

G_END_DECLS
