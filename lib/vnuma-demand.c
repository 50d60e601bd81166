/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "lib/vnuma-demand.h"

#include <string.h>

GArray *
vnuma_vcpu_times_new(void)
{
    return g_array_new(FALSE, FALSE, sizeof(guint64));
}

gboolean
vnuma_vcpu_times_add_field(GArray *times, const char *field, guint64 value)
{
    const char *rest;
    const char *dot;
    g_autofree char *id_text = NULL;
    guint64 id;

    if (!g_str_has_prefix(field, "vcpu."))
        return FALSE;
    rest = field + strlen("vcpu.");
    dot = strchr(rest, '.');
    if (!dot || (!g_str_equal(dot, ".time") && !g_str_equal(dot, ".delay")))
        return FALSE;
    id_text = g_strndup(rest, (gsize) (dot - rest));
    if (!g_ascii_string_to_unsigned(id_text, 10, 0, VNUMA_CPUSET_MAX_ID, &id, NULL))
        return FALSE;
    while (times->len <= id) {
        guint64 unknown = VNUMA_VCPU_TIME_UNKNOWN;

        g_array_append_val(times, unknown);
    }
    /* Both are cumulative: their sum is the time the vCPU wanted. */
    if (g_array_index(times, guint64, id) == VNUMA_VCPU_TIME_UNKNOWN)
        g_array_index(times, guint64, id) = value;
    else
        g_array_index(times, guint64, id) += value;
    return TRUE;
}

GArray *
vnuma_vcpu_demand(const GArray *before, const GArray *after, double elapsed)
{
    GArray *demand = g_array_sized_new(FALSE, TRUE, sizeof(double), after->len);

    g_array_set_size(demand, after->len);
    if (elapsed <= 0)
        return demand;
    for (guint i = 0; i < after->len && i < before->len; i++) {
        guint64 t0 = g_array_index(before, guint64, i);
        guint64 t1 = g_array_index(after, guint64, i);

        if (t0 == VNUMA_VCPU_TIME_UNKNOWN || t1 == VNUMA_VCPU_TIME_UNKNOWN || t1 < t0)
            continue;
        /* Sampling jitter can push a busy vCPU slightly above one CPU. */
        g_array_index(demand, double, i) = CLAMP((double) (t1 - t0) / 1e9 / elapsed, 0.0, 1.0);
    }
    return demand;
}

double
vnuma_client_demand(const GArray *demand, const VnumaCpuSet *vcpus)
{
    double sum = 0;

    VNUMA_CPUSET_FOREACH(vcpus, id) {
        if ((guint) id < demand->len)
            sum += g_array_index(demand, double, id);
    }
    return sum;
}

GArray *
vnuma_client_memory(const GArray *domain_kib, guint64 client_kib, guint64 domain_total_kib)
{
    GArray *share = g_array_sized_new(FALSE, TRUE, sizeof(guint64), domain_kib->len);
    double fraction = domain_total_kib ? (double) client_kib / (double) domain_total_kib : 0.0;

    g_array_set_size(share, domain_kib->len);
    for (guint n = 0; n < domain_kib->len; n++)
        g_array_index(share, guint64, n) = (guint64) ((double) g_array_index(domain_kib, guint64, n) *
                                                      MIN(fraction, 1.0));
    return share;
}

GArray *
vnuma_vcpu_spread(const GPtrArray *vcpu_cpus, const GPtrArray *node_cpus)
{
    GArray *spread = g_array_new(FALSE, TRUE, sizeof(double));
    g_autofree guint *here = g_new0(guint, node_cpus->len);

    g_array_set_size(spread, node_cpus->len);
    for (guint v = 0; v < vcpu_cpus->len; v++) {
        guint total = 0;

        for (guint n = 0; n < node_cpus->len; n++) {
            g_autoptr(VnumaCpuSet) both = vnuma_cpuset_copy(vcpu_cpus->pdata[v]);

            vnuma_cpuset_intersect(both, node_cpus->pdata[n]);
            here[n] = vnuma_cpuset_count(both);
            total += here[n];
        }
        for (guint n = 0; total && n < node_cpus->len; n++)
            g_array_index(spread, double, n) += (double) here[n] / (double) total;
    }
    return spread;
}
