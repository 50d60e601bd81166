/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A token bucket for the agent's page migration (docs/spec.md §7: memory
 * follows a moved client at a bounded rate). Pure: the caller says what
 * time it is. It starts empty, so whatever the calls, the bytes spent
 * between the first call at t0 and time t never exceed rate × (t − t0);
 * unspent allowance is kept up to @burst seconds' worth, so a pass that
 * comes late does not lose its share, and one idle stretch never buys
 * a flood. */
typedef struct {
    double rate;        /* bytes per second; <= 0: nothing is ever allowed */
    double burst;       /* s of allowance kept at most */
    double tokens;      /* bytes allowed now */
    double last;        /* time of the last refill, s */
    gboolean started;
} VnumaRateLimit;

void vnuma_rate_limit_init(VnumaRateLimit *limit, double bytes_per_s, double burst_s);

/* Bytes that may be spent at time @now (s; a clock that went backwards
 * adds nothing). */
guint64 vnuma_rate_limit_allowance(VnumaRateLimit *limit, double now);

/* Records @bytes as spent; more than the last allowance gave is a debt
 * that later allowances pay back. */
void vnuma_rate_limit_spend(VnumaRateLimit *limit, guint64 bytes);

G_END_DECLS
