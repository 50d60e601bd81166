/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hook-bench: libvirt waits for the qemu hook at every domain start, so
 * its cost is the exec of a small program. Prints the median wall time
 * of vnuma-hook on a domain XML next to two floors run the same way in
 * the same run (interleaved): /bin/true (an exec) and parse-floor (an
 * exec of a program linked like the hook that only parses the XML with
 * the hook's parser and prints it), their ratios, and whether the
 * hook's targets hold (≤ 1.3 × the parse floor, ≤ 2.5 × /bin/true).
 * The host is whatever the hook reads: /sys, $VNUMA_SYSFS_ROOT or
 * $VNUMA_CAPS_FILE (inherited).
 *
 *   hook-bench [--runs N] [--floor PARSE-FLOOR] [--compare OTHER-HOOK] HOOK DOMAIN.xml
 *
 * --compare adds another build of the hook (prepare and migrate) to the
 * same interleaved run: before/after figures that share their noise.
 */
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>

#include "bench/bench-median.h"

extern char **environ;

typedef struct {
    const char *label;
    char **argv;
    gboolean after_uevent;   /* the uevent count moved before each run */
    GArray *samples;         /* double, microseconds */
} Subject;

static double
now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* One exec with @input on stdin and stdout/stderr discarded, as libvirt
 * runs a hook; returns microseconds. */
static double
time_once(char **argv, const char *input)
{
    posix_spawn_file_actions_t actions;
    pid_t pid;
    int status;
    double start;

    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, input, O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    start = now_us();
    if (posix_spawn(&pid, argv[0], &actions, NULL, argv, environ) != 0) {
        fprintf(stderr, "hook-bench: cannot run %s\n", argv[0]);
        exit(1);
    }
    waitpid(pid, &status, 0);
    posix_spawn_file_actions_destroy(&actions);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "hook-bench: %s failed\n", argv[0]);
        exit(1);
    }
    return now_us() - start;
}

/* What a device event (a VM's tap device) does to the tree's count:
 * the hook that follows finds its topology cache stamped with an older
 * one, as it does on a host without vnumad (docs/agent.md). */
static void
bump_uevents(const char *count_path)
{
    g_autofree char *text = NULL;
    g_autofree char *next = NULL;
    g_autoptr(GError) error = NULL;

    if (!g_file_get_contents(count_path, &text, NULL, &error) ||
        !(next = g_strdup_printf("%" G_GUINT64_FORMAT "\n", g_ascii_strtoull(text, NULL, 10) + 1)) ||
        !g_file_set_contents(count_path, next, -1, &error)) {
        fprintf(stderr, "hook-bench: %s\n", error->message);
        exit(1);
    }
}

#define TARGET_FLOOR 1.3
#define TARGET_TRUE 2.5

/* The host the hook will read, for the heading. */
static const char *
host_label(void)
{
    if (g_getenv("VNUMA_CAPS_FILE"))
        return g_getenv("VNUMA_CAPS_FILE");
    return g_getenv("VNUMA_SYSFS_ROOT") ? g_getenv("VNUMA_SYSFS_ROOT") : "/sys";
}

int
main(int argc, char **argv)
{
    gint runs = 301;
    g_autofree char *floor = NULL;
    g_autofree char *compare = NULL;
    gboolean after_uevent = FALSE;
    g_autofree char *count_path = NULL;
    g_autoptr(GOptionContext) options = g_option_context_new("HOOK DOMAIN.xml");
    GOptionEntry entries[] = {
        { "runs", 'n', 0, G_OPTION_ARG_INT, &runs, "Executions of each program (default 301)", "N" },
        { "floor", 'f', 0, G_OPTION_ARG_FILENAME, &floor,
          "The parse floor (default: parse-floor next to hook-bench)", "PROGRAM" },
        { "compare", 'c', 0, G_OPTION_ARG_FILENAME, &compare,
          "Another build of the hook, timed in the same run (not held to the targets)", "HOOK" },
        { "after-uevent", 'u', 0, G_OPTION_ARG_NONE, &after_uevent,
          "Also prepare with the uevent count moved before each run (needs $VNUMA_SYSFS_ROOT "
          "and $VNUMA_HOST_CACHE: a tree of one's own)", NULL },
        { NULL },
    };
    g_autoptr(GError) error = NULL;
    gboolean met = TRUE;

    g_option_context_add_main_entries(options, entries, NULL);
    if (!g_option_context_parse(options, &argc, &argv, &error) || argc != 3 || runs < 1) {
        fprintf(stderr, "usage: hook-bench [--runs N] [--floor PARSE-FLOOR] [--compare OTHER-HOOK] "
                        "[--after-uevent] HOOK DOMAIN.xml\n");
        return 2;
    }
    if (after_uevent) {
        if (!g_getenv("VNUMA_SYSFS_ROOT") || !g_getenv("VNUMA_HOST_CACHE")) {
            fprintf(stderr, "hook-bench: --after-uevent needs VNUMA_SYSFS_ROOT and VNUMA_HOST_CACHE "
                            "(the count of a tree of one's own is moved, not the kernel's)\n");
            return 2;
        }
        count_path = g_build_filename(g_getenv("VNUMA_SYSFS_ROOT"), "kernel", "uevent_seqnum", NULL);
    }
    if (!floor) {
        g_autofree char *dir = g_path_get_dirname(argv[0]);

        floor = g_build_filename(dir, "parse-floor", NULL);
    }
    char *true_argv[] = { "/bin/true", "instance", "prepare", "begin", "-", NULL };
    char *floor_argv[] = { floor, "instance", "prepare", "begin", "-", NULL };
    char *prepare_argv[] = { argv[1], "instance", "prepare", "begin", "-", NULL };
    char *migrate_argv[] = { argv[1], "instance", "migrate", "begin", "-", NULL };
    char *start_argv[] = { argv[1], "instance", "start", "begin", "-", NULL };
    char *compare_prepare_argv[] = { compare, "instance", "prepare", "begin", "-", NULL };
    char *compare_migrate_argv[] = { compare, "instance", "migrate", "begin", "-", NULL };
    Subject all[] = {
        { "/bin/true", true_argv, FALSE, NULL },
        { "parse floor (parse + print)", floor_argv, FALSE, NULL },
        { "vnuma-hook prepare begin", prepare_argv, FALSE, NULL },
        { "vnuma-hook migrate begin", migrate_argv, FALSE, NULL },
        { "vnuma-hook start begin", start_argv, FALSE, NULL },
        { "vnuma-hook prepare begin, after a uevent", prepare_argv, TRUE, NULL },
        { "compared hook prepare begin", compare_prepare_argv, FALSE, NULL },
        { "compared hook migrate begin", compare_migrate_argv, FALSE, NULL },
    };
    Subject subjects[G_N_ELEMENTS(all)];
    gsize n_subjects = 0;

    for (gsize s = 0; s < G_N_ELEMENTS(all); s++) {
        if ((all[s].after_uevent && !after_uevent) || (all[s].argv[0] == NULL))
            continue;
        subjects[n_subjects++] = all[s];
    }

    for (gsize s = 0; s < n_subjects; s++) {
        subjects[s].samples = g_array_new(FALSE, FALSE, sizeof(double));
        time_once(subjects[s].argv, argv[2]);   /* warm the page cache */
    }
    /* Interleaved, so drift in machine load hits every subject alike. */
    for (gint i = 0; i < runs; i++) {
        for (gsize s = 0; s < n_subjects; s++) {
            double t;

            if (subjects[s].after_uevent)
                bump_uevents(count_path);
            t = time_once(subjects[s].argv, argv[2]);

            g_array_append_val(subjects[s].samples, t);
        }
    }
    double base = bench_median(subjects[0].samples), parse = bench_median(subjects[1].samples);
    printf("domain: %s, host: %s, %d runs each, interleaved\n", argv[2], host_label(), runs);
    printf("| program | median µs | × /bin/true | × parse floor |\n|---|---:|---:|---:|\n");
    for (gsize s = 0; s < n_subjects; s++) {
        double m = bench_median(subjects[s].samples);

        printf("| %s | %.0f | %.2f | %.2f |\n", subjects[s].label, m, m / base, m / parse);
        /* The targets are for the hook's work: plan and re-home. */
        if (s == 2 || s == 3)
            met = met && m / parse <= TARGET_FLOOR && m / base <= TARGET_TRUE;
        g_array_unref(subjects[s].samples);
    }
    printf("targets (prepare and migrate ≤ %.1f × parse floor and ≤ %.1f × /bin/true): %s\n",
           TARGET_FLOOR, TARGET_TRUE, met ? "met" : "MISSED");
    return 0;
}
