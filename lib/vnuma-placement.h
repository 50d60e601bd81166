/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "lib/vnuma-host.h"
#include "lib/vnuma-layout.h"

G_BEGIN_DECLS

/* Home-node placement, docs/spec.md §4: gives each client of a sized layout
 * a home node. Clients go to distinct nodes when there are enough; the
 * node set minimises the sum of pairwise SLIT distances, then committed
 * CPU load, then committed memory, then the lowest ids. @loads may be
 * NULL (an idle host). */
void vnuma_placement_run(const VnumaHost *host, VnumaLayout *layout,
                         const VnumaNodeLoad *loads, guint n_loads);

/* The chosen node indexes (into host->nodes) for @count clients among
 * the nodes whose @usable set is non-empty, ascending. */
GArray *vnuma_placement_choose_nodes(const VnumaHost *host, const GPtrArray *usable,
                                     guint count, const VnumaNodeLoad *loads, guint n_loads);

G_END_DECLS
