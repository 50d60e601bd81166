/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * stat-cost: what proving the hook's topology cache fresh costs on a
 * host, apart from everything else the hook does. The hook stats every
 * CPU's topology directory at each call (docs/hook.md); this times those
 * stats against the same number of the cheapest system call (getppid),
 * interleaved round by round, and prints the medians and their ratio.
 *
 *   stat-cost [--runs N] [SYSFS_ROOT]     (default /sys)
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>

#include "bench/bench-median.h"

static gint64
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (gint64) ts.tv_sec * G_GINT64_CONSTANT(1000000000) + ts.tv_nsec;
}

/* ROOT/devices/system/cpu/cpuN/topology for every cpuN there is. */
static GPtrArray *
topology_dirs(const char *root, GError **error)
{
    g_autofree char *cpu_dir = g_build_filename(root, "devices", "system", "cpu", NULL);
    g_autoptr(GDir) dir = g_dir_open(cpu_dir, 0, error);
    g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func(g_free);
    const char *name;

    if (!dir)
        return NULL;
    while ((name = g_dir_read_name(dir))) {
        if (g_str_has_prefix(name, "cpu") && g_ascii_isdigit(name[3]))
            g_ptr_array_add(paths, g_build_filename(cpu_dir, name, "topology", NULL));
    }
    if (paths->len == 0) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT, "%s has no cpuN directories", cpu_dir);
        return NULL;
    }
    return g_steal_pointer(&paths);
}

static gint64
time_stats(const GPtrArray *paths)
{
    gint64 start = now_ns();
    struct stat st;

    for (guint i = 0; i < paths->len; i++)
        if (stat(paths->pdata[i], &st) != 0)
            return -1;
    return now_ns() - start;
}

static gint64
time_getppid(guint count)
{
    gint64 start = now_ns();
    volatile pid_t sink = 0;

    for (guint i = 0; i < count; i++)
        sink += getppid();
    (void) sink;
    return now_ns() - start;
}

int
main(int argc, char **argv)
{
    gint runs = 201;
    GOptionEntry entries[] = {
        { "runs", 'n', 0, G_OPTION_ARG_INT, &runs, "Rounds of each (default 201)", "N" },
        { NULL },
    };
    g_autoptr(GOptionContext) options = g_option_context_new("[SYSFS_ROOT]");
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) paths = NULL;
    g_autoptr(GArray) stats = g_array_new(FALSE, FALSE, sizeof(double));   /* µs */
    g_autoptr(GArray) calls = g_array_new(FALSE, FALSE, sizeof(double));
    double stat_us, call_us;

    g_option_context_add_main_entries(options, entries, NULL);
    if (!g_option_context_parse(options, &argc, &argv, &error) || argc > 2 || runs < 1) {
        fprintf(stderr, "stat-cost: %s\n", error ? error->message : "usage: stat-cost [--runs N] [SYSFS_ROOT]");
        return EXIT_FAILURE;
    }
    paths = topology_dirs(argc == 2 ? argv[1] : "/sys", &error);
    if (!paths) {
        fprintf(stderr, "stat-cost: %s\n", error->message);
        return EXIT_FAILURE;
    }
    for (gint r = 0; r < runs; r++) {
        gint64 s = time_stats(paths), c = time_getppid(paths->len);
        double s_us = (double) s / 1000.0, c_us = (double) c / 1000.0;

        if (s < 0) {
            fprintf(stderr, "stat-cost: a topology directory went away during the run\n");
            return EXIT_FAILURE;
        }
        g_array_append_val(stats, s_us);
        g_array_append_val(calls, c_us);
    }
    stat_us = bench_median(stats);
    call_us = bench_median(calls);
    printf("%u CPUs, %d rounds each, interleaved\n", paths->len, runs);
    printf("| per hook call | median µs | µs per CPU | × getppid |\n|---|---:|---:|---:|\n");
    printf("| %u × getppid | %.1f | %.2f | 1.00 |\n", paths->len, call_us, call_us / paths->len);
    printf("| %u × stat cpuN/topology | %.1f | %.2f | %.2f |\n", paths->len, stat_us,
           stat_us / paths->len, call_us > 0 ? stat_us / call_us : 0.0);
    return EXIT_SUCCESS;
}
