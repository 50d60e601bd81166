/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

/* The benchmarks' one statistic: the median of @samples (doubles, sorted
 * in place). On a shared machine a few runs lose the CPU; a median is not
 * moved by them, a mean is. */

static inline gint
bench_compare_double(gconstpointer a, gconstpointer b)
{
    double x = *(const double *) a, y = *(const double *) b;

    return (x > y) - (x < y);
}

static inline double
bench_median(GArray *samples)
{
    g_array_sort(samples, bench_compare_double);
    return g_array_index(samples, double, samples->len / 2);
}
