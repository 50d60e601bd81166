/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vnumactl: the operator's view of vnuma. `plan` shows what vnuma would
 * do with a domain on a host; `explain` and `status` what it did on a
 * running host (cli/vnumactl-live.h); `advise` the Nova flavor that gives
 * an instance vnuma's layout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/vnumactl.h"
#include "plugin/vnuma.h"

#define EXIT_BAD_INPUT VNUMACTL_EXIT_BAD_INPUT
#define EXIT_USAGE VNUMACTL_EXIT_USAGE

static char *opt_caps;
static char *opt_config;
static char *opt_format = NULL;
static char *opt_sysfs = NULL;

static const GOptionEntry plan_entries[] = {
    { "caps", 'c', 0, G_OPTION_ARG_FILENAME, &opt_caps,
      "Host capabilities XML (virsh capabilities); default: read sysfs", "HOST.xml" },
    { "format", 'f', 0, G_OPTION_ARG_STRING, &opt_format,
      "Output: xml (the rewritten domain, default), json or text", "FORMAT" },
    { "config", 0, 0, G_OPTION_ARG_FILENAME, &opt_config,
      "vnuma.conf with host defaults (default: none)", "FILE" },
    { "sysfs", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_FILENAME, &opt_sysfs,
      "sysfs root when no --caps is given", "DIR" },
    { NULL },
};

int
vnumactl_fail(int code, const char *format, ...)
{
    va_list args;
    g_autofree char *message = NULL;

    va_start(args, format);
    message = g_strdup_vprintf(format, args);
    va_end(args);
    g_strdelimit(message, "\n", ' ');
    fprintf(stderr, "vnumactl: error: %s\n", message);
    return code;
}

gboolean
vnumactl_print(const char *text)
{
    gsize len = strlen(text);

    return fwrite(text, 1, len, stdout) == len && fflush(stdout) == 0;
}

char *
vnumactl_format_kib(guint64 kib)
{
    static const char *const units[] = { "KiB", "MiB", "GiB", "TiB" };
    guint u = 0;
    double value = (double) kib;

    while (value >= 1024 && u + 1 < G_N_ELEMENTS(units)) {
        value /= 1024;
        u++;
    }
    return value == (guint64) value ? g_strdup_printf("%" G_GUINT64_FORMAT " %s", (guint64) value, units[u])
                                    : g_strdup_printf("%.1f %s", value, units[u]);
}

static gboolean
read_input(const char *path, char **data, gsize *len, GError **error)
{
    if (g_str_equal(path, "-")) {
        g_autoptr(GIOChannel) in = g_io_channel_unix_new(STDIN_FILENO);

        g_io_channel_set_encoding(in, NULL, NULL);
        return g_io_channel_read_to_end(in, data, len, error) == G_IO_STATUS_NORMAL;
    }
    return g_file_get_contents(path, data, len, error);
}

static gboolean
parse_format(const char *text, VnumaFormat *format)
{
    static const char *const names[] = { "xml", "json", "text", NULL };

    for (guint i = 0; names[i]; i++) {
        if (g_str_equal(text, names[i])) {
            *format = (VnumaFormat) i;
            return TRUE;
        }
    }
    return FALSE;
}

static int
cmd_plan(int argc, char **argv)
{
    g_autoptr(GOptionContext) options = g_option_context_new("DOMAIN.xml|- - plan a domain for a host");
    g_autoptr(VnumaContext) ctx = vnuma_context_new();
    g_autoptr(VnumaPlan) plan = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *domain = NULL;
    g_autofree char *output = NULL;
    VnumaFormat format = VNUMA_FORMAT_XML;
    gsize len = 0;

    g_option_context_add_main_entries(options, plan_entries, NULL);
    g_option_context_set_summary(options, "Sizes the domain into NUMA clients, places them on home "
                                 "nodes and prints the result.");
    if (!g_option_context_parse(options, &argc, &argv, &error))
        return vnumactl_fail(EXIT_USAGE, "%s", error->message);
    if (argc != 2)
        return vnumactl_fail(EXIT_USAGE, "plan needs exactly one DOMAIN.xml (or - for stdin); see --help");
    if (opt_format && !parse_format(opt_format, &format))
        return vnumactl_fail(EXIT_USAGE, "--format '%s' is not xml, json or text", opt_format);

    if (opt_caps ? !vnuma_context_load_caps_file(ctx, opt_caps, &error)
                 : !vnuma_context_load_sysfs(ctx, opt_sysfs ? opt_sysfs : "/sys", &error))
        return vnumactl_fail(EXIT_BAD_INPUT, "%s", error->message);
    if (opt_config && !vnuma_context_load_config(ctx, opt_config, &error))
        return vnumactl_fail(EXIT_BAD_INPUT, "%s", error->message);
    if (!read_input(argv[1], &domain, &len, &error))
        return vnumactl_fail(EXIT_BAD_INPUT, "cannot read %s: %s", argv[1], error->message);
    if (!(plan = vnuma_plan_new(ctx, domain, len, &error)))
        return vnumactl_fail(EXIT_BAD_INPUT, "%s: %s", argv[1], error->message);

    if (format == VNUMA_FORMAT_XML) {
        for (const char *const *w = vnuma_plan_warnings(plan); *w; w++)
            fprintf(stderr, "vnumactl: warning: %s\n", *w);
        if (!vnuma_plan_is_managed(plan))
            fprintf(stderr, "vnumactl: not managed: %s\n", vnuma_plan_reason(plan));
    }
    output = vnuma_plan_render(plan, format, &len);
    if (fwrite(output, 1, len, stdout) != len || fflush(stdout) != 0)
        return vnumactl_fail(EXIT_BAD_INPUT, "cannot write the result");
    return EXIT_SUCCESS;
}

static int
usage(FILE *out, int code)
{
    fprintf(out,
            "Usage: vnumactl COMMAND [OPTION...]\n\n"
            "Commands:\n"
            "  plan --caps HOST.xml [--format xml|json|text] [--config FILE] DOMAIN.xml|-\n"
            "        size and place a domain on a host and print the result\n"
            "  explain [--connect URI] [--format text|json] DOMAIN\n"
            "        a running domain's clients, home nodes, cells, pins, locality, migrations\n"
            "  status [--connect URI] [--format text|json] [--watch] [--interval SECONDS]\n"
            "        host nodes (CPU load, free memory) and every running domain\n"
            "  advise --caps HOST.xml --vcpus N --memory SIZE [--prefer-ht] [--format nova|json]\n"
            "        the Nova flavor extra specs that give an instance vnuma's layout\n\n"
            "Run 'vnumactl COMMAND --help' for a command's options.\n");
    return code;
}

int
main(int argc, char **argv)
{
    if (argc < 2)
        return usage(stderr, EXIT_USAGE);
    if (g_str_equal(argv[1], "--help") || g_str_equal(argv[1], "-h") || g_str_equal(argv[1], "help"))
        return usage(stdout, EXIT_SUCCESS);
    if (g_str_equal(argv[1], "plan"))
        return cmd_plan(argc - 1, argv + 1);
    if (g_str_equal(argv[1], "explain"))
        return vnumactl_explain(argc - 1, argv + 1);
    if (g_str_equal(argv[1], "status"))
        return vnumactl_status(argc - 1, argv + 1);
    if (g_str_equal(argv[1], "advise"))
        return vnumactl_advise(argc - 1, argv + 1);
    fprintf(stderr, "vnumactl: error: unknown command '%s'\n", argv[1]);
    return usage(stderr, EXIT_USAGE);
}
