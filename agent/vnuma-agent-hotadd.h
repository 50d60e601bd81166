/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "xml/vnuma-record.h"
#include "lib/vnuma-host.h"

G_BEGIN_DECLS

/* Hot-plug headroom (issue 20): placement homes a client whose vCPUs are
 * all offline with the online ones, so a running guest's memory sits
 * where its vCPUs run. Once vCPUs @before … @current−1 come online, a
 * client that had no online vCPU before gets the home placement would
 * have given it: a usable node (@usable, indexed like host->nodes) with
 * no other online client of the domain, the nearest to their homes by
 * SLIT, then the one with most usable threads, then the lowest id. When
 * every usable node holds one, it stays. Moved clients get @now as
 * their move time. Returns how many clients moved. */
guint vnuma_agent_rehome_hot_added(const VnumaHost *host, const GPtrArray *usable,
                                   VnumaAgentState *state, guint before, guint current, gint64 now);

G_END_DECLS
