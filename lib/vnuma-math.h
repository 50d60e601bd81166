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

/* The decimal number at *@p, at most @max, into *@value, and *@p moved
 * past its digits; FALSE, *@p unmoved, when no digit is there or the
 * number is above @max. No sign, no space, no locale: what the kernel
 * and the topology cache write. The hook reads a few per CPU at every
 * call, where strtoull costs ten times this loop. */
static inline gboolean
vnuma_parse_decimal(const char **p, guint64 max, guint64 *value)
{
    const char *s = *p;
    guint64 v = 0;

    if (!g_ascii_isdigit(*s))
        return FALSE;
    for (; g_ascii_isdigit(*s); s++) {
        guint digit = (guint) (*s - '0');

        if (digit > max || v > (max - digit) / 10)
            return FALSE;
        v = v * 10 + digit;
    }
    *value = v;
    *p = s;
    return TRUE;
}
