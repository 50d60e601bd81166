/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "lib/vnuma-ratelimit.h"

#include <math.h>

void
vnuma_rate_limit_init(VnumaRateLimit *limit, double bytes_per_s, double burst_s)
{
    *limit = (VnumaRateLimit) {
        .rate = isfinite(bytes_per_s) && bytes_per_s > 0 ? bytes_per_s : 0,
        .burst = isfinite(burst_s) && burst_s > 0 ? burst_s : 0,
    };
}

guint64
vnuma_rate_limit_allowance(VnumaRateLimit *limit, double now)
{
    if (!limit->started) {
        limit->started = TRUE;
        limit->last = now;
        return 0;
    }
    if (now > limit->last) {
        limit->tokens = MIN(limit->tokens + (now - limit->last) * limit->rate, limit->burst * limit->rate);
        limit->last = now;
    }
    return limit->tokens > 0 ? (guint64) floor(limit->tokens) : 0;
}

void
vnuma_rate_limit_spend(VnumaRateLimit *limit, guint64 bytes)
{
    /* Spending past the allowance (a step that cannot be split) is a
     * debt the next allowances pay back. */
    limit->tokens -= (double) bytes;
}
