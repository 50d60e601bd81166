/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vnuma-sim: replays seeded traces of VMs on capabilities fixtures under
 * each placement policy and prints the figures as a markdown table.
 *
 *   vnuma-sim [--trace T]... [--policy P]... [--hours H] [--seed N]
 *             [--series FILE] [--check] HOST.xml...
 *
 * --check (the CI short version) exits 1 when vnuma's locality falls
 * below a static policy's on any run by more than a tie (0.05 points).
 * --static-target prints, per run and summed over every run (hosts ×
 * traces × --seeds FIRST-LAST), whether vnuma meets issue 17's "no pair
 * where static wins": contention at most the better static policy's,
 * locality at least the better one's less 0.1 point.
 */
#include <stdio.h>
#include <stdlib.h>

#include "bench/sim/sim.h"
#include "xml/vnuma-caps.h"

/* Locality is printed to 0.1 %: closer than this is a tie, not a lead. */
#define LOCALITY_TIE 0.05

typedef struct {
    SimResult results[SIM_POLICY_COUNT];
    gboolean ran[SIM_POLICY_COUNT];
} TraceRun;

static const char *
policy_label(SimPolicy policy, const SimResult *r)
{
    if (policy == SIM_POLICY_OPTIMUM && !r->exact)
        return "optimum (search too large)";
    /* The ablation says what it is in the table itself. */
    if (policy == SIM_POLICY_VNUMA_BEFORE)
        return "vnuma-before (time only, pro rata)";
    return sim_policy_to_string(policy);
}

static void
print_row(const char *trace, SimPolicy policy, const SimResult *r)
{
    if (policy == SIM_POLICY_OPTIMUM && !r->exact) {
        printf("| %s | %s | — | — | — | — | — |\n", trace, policy_label(policy, r));
        return;
    }
    printf("| %s | %s | %.1f | %.2f | %.1f | %.2f%s | %.1f |\n", trace, policy_label(policy, r),
           r->locality, r->contention, r->imbalance, r->migrations,
           policy == SIM_POLICY_NONE ? "¹" : "", r->memory_moved_gib);
}

static gboolean
is_vnuma(guint policy)
{
    return policy == SIM_POLICY_VNUMA || policy == SIM_POLICY_VNUMA_BEFORE;
}

/* The targets for @policy (a vnuma variant) on one trace: one
 * line naming each miss. */
static void
print_targets(const char *host, const char *trace, const TraceRun *run, SimPolicy policy)
{
    const SimResult *v = &run->results[policy];
    const SimResult *opt = &run->results[SIM_POLICY_OPTIMUM];
    double best_contention = G_MAXDOUBLE, best_static = G_MAXDOUBLE;
    guint best = 0;
    g_autoptr(GString) misses = g_string_new(NULL);
    g_autoptr(GString) ties = g_string_new(NULL);

    if (!run->ran[policy])
        return;
    if (run->ran[SIM_POLICY_OPTIMUM] && opt->exact && v->locality < opt->locality - 2.0)
        g_string_append_printf(misses, " locality %.1f more than 2 below the optimum's %.1f;",
                               v->locality, opt->locality);
    for (guint p = 0; p < SIM_POLICY_COUNT; p++) {
        const SimResult *other = &run->results[p];

        if (is_vnuma(p) || p == SIM_POLICY_OPTIMUM || !run->ran[p])
            continue;
        if (other->locality > v->locality + LOCALITY_TIE)
            g_string_append_printf(misses, " locality behind %s (%.1f > %.1f);",
                                   sim_policy_to_string(p), other->locality, v->locality);
        else if (other->locality > v->locality - LOCALITY_TIE)
            g_string_append_printf(ties, "%s%s", ties->len ? ", " : "", sim_policy_to_string(p));
        if (other->contention < best_contention) {
            best_contention = other->contention;
            best = p;
        }
        if (p == SIM_POLICY_STATIC_PACK || p == SIM_POLICY_STATIC_SPREAD)
            best_static = MIN(best_static, other->contention);
    }
    if (v->contention > best_contention + 0.005)
        g_string_append_printf(misses, " contention %.2f above %s's %.2f%s;", v->contention,
                               sim_policy_to_string(best), best_contention,
                               v->contention > best_static + 0.005 ? " and above static's" : " (at most static's)");
    if (g_str_equal(trace, "steady") && v->migrations > 1.0)
        g_string_append_printf(misses, " %.2f migrations per VM-hour on a steady trace;", v->migrations);
    printf("- %s / %s / %s: %s%s", host, trace, sim_policy_to_string(policy),
           misses->len ? "MISSED:" : "targets met", misses->str);
    if (ties->len)
        printf(" (locality tied with %s)", ties->str);
    printf("\n");
}

/* The CI short version: the product as it is (vnuma) must not fall below
 * static placement's locality by more than a tie. A static policy with
 * memory to spare sits at 100 %, and every move vnuma makes to relieve
 * contention reads a little remote memory while its pages follow: an
 * exact comparison would forbid moving at all. */
static gboolean
check_locality(const char *host, const char *trace, const TraceRun *run)
{
    const SimResult *v = &run->results[SIM_POLICY_VNUMA];
    gboolean ok = TRUE;

    for (guint p = SIM_POLICY_STATIC_PACK; p <= SIM_POLICY_STATIC_SPREAD; p++) {
        if (v->locality < run->results[p].locality - LOCALITY_TIE) {
            fprintf(stderr, "vnuma-sim: %s / %s: vnuma's locality %.3f%% is below %s's %.3f%%\n",
                    host, trace, v->locality, sim_policy_to_string(p), run->results[p].locality);
            ok = FALSE;
        }
    }
    return ok;
}

/* Issue 17, point 3: the better static policy of each run is the bar. */
#define STATIC_LOCALITY_SLACK 0.1

typedef struct {
    guint runs;
    guint misses;
    double contention;        /* vnuma's, summed over the runs */
    double locality;
} StaticTarget;

static void
static_target_add(StaticTarget *t, const char *host, const char *trace, gint seed, const TraceRun *run)
{
    const SimResult *v = &run->results[SIM_POLICY_VNUMA];
    const SimResult *pack = &run->results[SIM_POLICY_STATIC_PACK];
    const SimResult *spread = &run->results[SIM_POLICY_STATIC_SPREAD];
    double contention = MIN(pack->contention, spread->contention);
    double locality = MAX(pack->locality, spread->locality);
    g_autoptr(GString) misses = g_string_new(NULL);

    /* Compared as printed (0.01 and 0.1 points): beyond is noise. */
    if (v->contention > contention + 0.005)
        g_string_append_printf(misses, " contention %.2f > %.2f;", v->contention, contention);
    if (v->locality < locality - STATIC_LOCALITY_SLACK - 0.05)
        g_string_append_printf(misses, " locality %.1f < %.1f − %.1f;", v->locality, locality,
                               STATIC_LOCALITY_SLACK);
    printf("- static target / %s / %s / seed %d: %s%s\n", host, trace, seed,
           misses->len ? "MISSED:" : "met", misses->str);
    t->runs++;
    t->misses += misses->len > 0;
    t->contention += v->contention;
    t->locality += v->locality;
}

/* "N" or "FIRST-LAST". */
static gboolean
parse_seeds(const char *text, gint *first, gint *last)
{
    g_auto(GStrv) parts = g_strsplit(text, "-", 2);
    gint64 a, b;

    if (!g_ascii_string_to_signed(parts[0], 10, 0, G_MAXINT, &a, NULL))
        return FALSE;
    if (!parts[1]) {
        *first = *last = (gint) a;
        return TRUE;
    }
    if (!g_ascii_string_to_signed(parts[1], 10, a, G_MAXINT, &b, NULL))
        return FALSE;
    *first = (gint) a;
    *last = (gint) b;
    return TRUE;
}

static void
write_series(FILE *out, const char *host, const char *trace, SimPolicy policy, GArray *samples)
{
    fprintf(out, "# %s %s %s: hours locality%% cumulative-migrations contention%%\n", host, trace,
            sim_policy_to_string(policy));
    for (guint i = 0; i < samples->len; i++) {
        const SimSample *s = &g_array_index(samples, SimSample, i);

        fprintf(out, "%.3f %.3f %.0f %.3f\n", s->hours, s->locality, s->migrations, s->contention);
    }
    fprintf(out, "\n\n");
}

static gboolean
parse_policies(char **names, gboolean *wanted, GError **error)
{
    for (guint p = 0; p < SIM_POLICY_COUNT; p++)
        wanted[p] = names == NULL;
    for (guint i = 0; names && names[i]; i++) {
        gint policy = sim_policy_from_string(names[i]);

        if (policy < 0) {
            g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "unknown policy '%s'", names[i]);
            return FALSE;
        }
        wanted[policy] = TRUE;
    }
    return TRUE;
}

int
main(int argc, char **argv)
{
    g_auto(GStrv) traces = NULL, policies = NULL;
    g_autofree char *series = NULL;
    g_autofree char *seeds = NULL;
    gint hours = 4, seed = 1, last_seed;
    gboolean check = FALSE, check_failed = FALSE, static_target = FALSE;
    StaticTarget target = { 0 };
    gboolean wanted[SIM_POLICY_COUNT];
    GOptionEntry entries[] = {
        { "trace", 't', 0, G_OPTION_ARG_STRING_ARRAY, &traces, "steady, bursty, phase or churn (default: all)", "T" },
        { "policy", 'p', 0, G_OPTION_ARG_STRING_ARRAY, &policies,
          "none, static-pack, static-spread, numad, vnuma, vnuma-before or optimum (default: all)", "P" },
        { "hours", 'H', 0, G_OPTION_ARG_INT, &hours, "Simulated hours (default 4)", "H" },
        { "seed", 's', 0, G_OPTION_ARG_INT, &seed, "Trace seed (default 1)", "N" },
        { "series", 0, 0, G_OPTION_ARG_FILENAME, &series, "Write locality, migrations and contention over time (5 min buckets)", "FILE" },
        { "seeds", 0, 0, G_OPTION_ARG_STRING, &seeds, "Trace seeds FIRST-LAST, each run in turn (instead of --seed)", "A-B" },
        { "check", 0, 0, G_OPTION_ARG_NONE, &check, "Exit 1 when vnuma's locality is below a static policy's (by 0.05 points or more)", NULL },
        { "static-target", 0, 0, G_OPTION_ARG_NONE, &static_target,
          "Print per run and in all whether vnuma's contention and locality are within the better static policy's (issue 17)", NULL },
        { NULL },
    };
    g_autoptr(GOptionContext) options = g_option_context_new("HOST.xml...");
    g_autoptr(GError) error = NULL;
    FILE *series_out = NULL;

    g_option_context_add_main_entries(options, entries, NULL);
    if (!g_option_context_parse(options, &argc, &argv, &error) || !parse_policies(policies, wanted, &error)) {
        fprintf(stderr, "vnuma-sim: %s\n", error->message);
        return 2;
    }
    if (argc < 2 || hours < 1) {
        fprintf(stderr, "usage: vnuma-sim [--trace T]... [--policy P]... [--hours H] [--seed N] "
                        "[--series FILE] [--check] HOST.xml...\n");
        return 2;
    }
    if ((check || static_target) &&
        !(wanted[SIM_POLICY_VNUMA] && wanted[SIM_POLICY_STATIC_PACK] && wanted[SIM_POLICY_STATIC_SPREAD])) {
        fprintf(stderr, "vnuma-sim: --check and --static-target compare vnuma with static-pack and "
                        "static-spread: run all three\n");
        return 2;
    }
    last_seed = seed;
    if (seeds && !parse_seeds(seeds, &seed, &last_seed)) {
        fprintf(stderr, "vnuma-sim: --seeds '%s' is not N or FIRST-LAST\n", seeds);
        return 2;
    }
    if (series && !(series_out = fopen(series, "w"))) {
        fprintf(stderr, "vnuma-sim: cannot write %s\n", series);
        return 1;
    }
    for (; seed <= last_seed; seed++)
    for (int h = 1; h < argc; h++) {
        g_autoptr(VnumaHost) host = vnuma_host_from_caps_file(argv[h], &error);
        g_autofree char *name = NULL;
        SimHostSize size;

        if (!host) {
            fprintf(stderr, "vnuma-sim: %s: %s\n", argv[h], error->message);
            return 1;
        }
        if (host->nodes->len > 64) {
            fprintf(stderr, "vnuma-sim: %s: %u nodes; the simulator handles at most 64\n", argv[h],
                    host->nodes->len);
            return 1;
        }
        name = g_path_get_basename(argv[h]);
        size = sim_host_size(host);
        printf("\n### %s (%u nodes, %u CPUs), %d h, seed %d\n\n", name, host->nodes->len, size.cpus, hours, seed);
        printf("| trace | policy | locality %% | contention %% | imbalance %% | migrations / VM-h | memory moved GiB |\n");
        printf("|---|---|---:|---:|---:|---:|---:|\n");
        g_autoptr(GPtrArray) runs = g_ptr_array_new_with_free_func(g_free);
        const char *const *kinds = traces ? (const char *const *) traces : sim_trace_kinds();

        for (guint k = 0; kinds[k]; k++) {
            g_autoptr(SimTrace) trace = sim_trace_new(kinds[k], &size, (guint) hours, (guint) seed, &error);
            TraceRun *run = g_new0(TraceRun, 1);

            if (!trace) {
                fprintf(stderr, "vnuma-sim: %s\n", error->message);
                return 1;
            }
            g_ptr_array_add(runs, run);
            for (guint p = 0; p < SIM_POLICY_COUNT; p++) {
                g_autoptr(GArray) samples = g_array_new(FALSE, FALSE, sizeof(SimSample));
                SimOptions opts;

                if (!wanted[p])
                    continue;
                sim_options_init(&opts, (SimPolicy) p);
                opts.bucket = series_out ? 300 : 0;
                sim_run(host, trace, &opts, &run->results[p], samples);
                run->ran[p] = TRUE;
                print_row(kinds[k], (SimPolicy) p, &run->results[p]);
                if (series_out)
                    write_series(series_out, name, kinds[k], (SimPolicy) p, samples);
            }
        }
        printf("\nTargets for vnuma:\n\n");
        for (guint k = 0; kinds[k]; k++) {
            const TraceRun *run = runs->pdata[k];

            print_targets(name, kinds[k], run, SIM_POLICY_VNUMA);
            print_targets(name, kinds[k], run, SIM_POLICY_VNUMA_BEFORE);
            if (check && !check_locality(name, kinds[k], run))
                check_failed = TRUE;
            if (static_target)
                static_target_add(&target, name, kinds[k], seed, run);
        }
    }
    if (static_target)
        printf("\nstatic target: %u of %u runs missed; vnuma's contention summed %.2f, locality summed %.1f\n",
               target.misses, target.runs, target.contention, target.locality);
    if (series_out)
        fclose(series_out);
    printf("\n¹ none has no clients to migrate: its figure is vCPU moves between nodes per VM-hour.\n");
    return check_failed ? 1 : 0;
}
