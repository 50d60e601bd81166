/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "lib/vnuma-pipeline.h"

#include "lib/vnuma-sizing.h"

void
vnuma_pipeline_place(const VnumaHost *host, VnumaLayout *layout, const VnumaRequest *request,
                     const VnumaNodeLoad *loads, guint n_loads)
{
    vnuma_placement_run(host, layout, loads, n_loads);
    if (request)
        vnuma_layout_finish(layout, host, request);
}

VnumaLayout *
vnuma_pipeline_run(const VnumaHost *host, const VnumaSettings *settings, const VnumaRequest *request,
                   const VnumaNodeLoad *loads, guint n_loads, const char *const *warnings,
                   VnumaPipelineFlags flags)
{
    VnumaLayout *layout = vnuma_sizing_run(host, settings, request);

    for (guint i = 0; warnings && warnings[i]; i++)
        vnuma_layout_warn(layout, "%s", warnings[i]);
    if (layout->managed && !(flags & VNUMA_PIPELINE_SIZE_ONLY))
        vnuma_pipeline_place(host, layout, request, loads, n_loads);
    return layout;
}
