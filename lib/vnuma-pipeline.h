/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The pipeline, owned here and nowhere else:
 *   topology + domain -> sizing -> placement -> finish (pins, numatune)
 * The plugin, the agent, the simulator and the tests call this instead
 * of chaining the stages themselves; what is left to them is reading
 * the domain before and writing the layout after (xml/, libvirt). */

#include <glib.h>

#include "lib/vnuma-host.h"
#include "lib/vnuma-layout.h"
#include "lib/vnuma-placement.h"
#include "lib/vnuma-policy.h"
#include "lib/vnuma-request.h"

G_BEGIN_DECLS

typedef enum {
    /* Stop after sizing: the layout has no home nodes and no pins (a
     * domain resumed from its record keeps the ones it has; the
     * simulator places a VM it sized with vnuma_pipeline_place()). */
    VNUMA_PIPELINE_SIZE_ONLY = 1 << 0,
} VnumaPipelineFlags;

/* The layout of @request on @host. @loads (@n_loads, may be 0) is what
 * other domains commit per node, placement's tie-breaker; @warnings
 * (NULL-terminated, may be NULL) are the caller's own (its
 * configuration's), kept after sizing's and before placement's. An
 * unmanaged domain's layout says why (layout->reason) and is not placed. */
VnumaLayout *vnuma_pipeline_run(const VnumaHost *host, const VnumaSettings *settings,
                                const VnumaRequest *request, const VnumaNodeLoad *loads, guint n_loads,
                                const char *const *warnings, VnumaPipelineFlags flags);

/* The stages after sizing, on a managed @layout sized earlier. A NULL
 * @request stops at the home nodes (no pins: the simulator). */
void vnuma_pipeline_place(const VnumaHost *host, VnumaLayout *layout, const VnumaRequest *request,
                          const VnumaNodeLoad *loads, guint n_loads);

G_END_DECLS
