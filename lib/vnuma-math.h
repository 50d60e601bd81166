/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

/* ceil(@n / @d) for @d > 0: how many groups of at most @d hold @n
 * (clients of at most L vCPUs, pages over a byte range). Written without
 * n + d - 1, which can wrap. */
static inline guint64
vnuma_div_ceil(guint64 n, guint64 d)
{
    return n / d + (n % d != 0);
}
