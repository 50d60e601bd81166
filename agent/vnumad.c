/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vnumad: the vnuma agent. Places the NUMA clients of running domains on
 * home nodes through libvirt, sizes persistent definitions when they are
 * defined, and rebalances every rebalance_period (docs/spec.md §7). */
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include <glib-unix.h>
#include <libvirt/virterror.h>

#include "agent/vnuma-agent-events.h"
#include "agent/vnuma-agent.h"

#ifndef VNUMA_SYSCONFDIR
# define VNUMA_SYSCONFDIR "/etc"
#endif
#define DEFAULT_CONFIG VNUMA_SYSCONFDIR "/vnuma/vnuma.conf"
#define DEFAULT_URI "qemu:///system"

#define EXIT_FAILED 1
#define EXIT_USAGE 2

static char *opt_uri;
static char *opt_config;
static char *opt_report;
static gboolean opt_once;
static gboolean opt_dry_run;
static gboolean opt_verbose;
static char **opt_domains;

static const GOptionEntry entries[] = {
    { "connect", 'c', 0, G_OPTION_ARG_STRING, &opt_uri,
      "libvirt URI (default " DEFAULT_URI ")", "URI" },
    { "config", 0, 0, G_OPTION_ARG_FILENAME, &opt_config,
      "vnuma.conf (default " DEFAULT_CONFIG ", when it exists)", "FILE" },
    { "once", 0, 0, G_OPTION_ARG_NONE, &opt_once,
      "Make one pass, then exit", NULL },
    { "dry-run", 'n', 0, G_OPTION_ARG_NONE, &opt_dry_run,
      "Decide and report, change nothing", NULL },
    { "report", 0, 0, G_OPTION_ARG_STRING, &opt_report,
      "Print what each pass saw and did, one line per pass: json", "FORMAT" },
    { "domain", 'd', 0, G_OPTION_ARG_STRING_ARRAY, &opt_domains,
      "Act on this domain only (repeatable; default: every domain)", "NAME" },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &opt_verbose,
      "Log debug messages too", NULL },
    { NULL },
};

static int G_GNUC_PRINTF(2, 3)
fail(int code, const char *format, ...)
{
    va_list args;
    g_autofree char *message = NULL;

    va_start(args, format);
    message = g_strdup_vprintf(format, args);
    va_end(args);
    fprintf(stderr, "vnumad: error: %s\n", message);
    return code;
}

/* libvirt prints every error to stderr by default; the agent reports
 * the ones that matter itself, with context. */
static void
quiet_libvirt(void *data, virErrorPtr error)
{
}

/* glib's default writer prints info and debug messages to stdout, where
 * --report json writes; every log line goes to stderr (or the journal). */
static GLogWriterOutput
log_to_stderr(GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer data)
{
    g_autofree char *line = NULL;

    if (g_log_writer_is_journald(fileno(stderr)))
        return g_log_writer_journald(level, fields, n_fields, data);
    if (g_log_writer_default_would_drop(level, G_LOG_DOMAIN))
        return G_LOG_WRITER_HANDLED;
    line = g_log_writer_format_fields(level, fields, n_fields, g_log_writer_supports_color(fileno(stderr)));
    fprintf(stderr, "%s\n", line);
    fflush(stderr);
    return G_LOG_WRITER_HANDLED;
}

static gboolean
on_signal(gpointer data)
{
    g_main_loop_quit(data);
    return G_SOURCE_CONTINUE;
}

static int
run_once(VnumaAgent *agent)
{
    g_autoptr(GError) error = NULL;

    if (!vnuma_agent_connect(agent, &error) || !vnuma_agent_pass(agent, &error))
        return fail(EXIT_FAILED, "%s", error->message);
    if (vnuma_agent_report(agent))
        printf("%s\n", vnuma_agent_report(agent));
    if (fflush(stdout) != 0)
        return fail(EXIT_FAILED, "cannot write the report");
    return vnuma_agent_errors(agent) ? EXIT_FAILED : EXIT_SUCCESS;
}

static void
watch_signal(GMainContext *context, int signum, GSourceFunc func, gpointer data)
{
    GSource *source = g_unix_signal_source_new(signum);

    g_source_set_callback(source, func, data, NULL);
    g_source_attach(source, context);
    g_source_unref(source);
}

static const char *
config_path(void)
{
    return opt_config ? opt_config : DEFAULT_CONFIG;
}

static void
log_config_warnings(const VnumaAgentConfig *config)
{
    for (guint i = 0; i < config->warnings->len; i++)
        g_log_structured(G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "MESSAGE", "%s",
                         (const char *) config->warnings->pdata[i]);
}

/* SIGHUP: vnuma.conf read again; a file that no longer loads keeps the
 * configuration in use (bad values inside it are warned about and
 * ignored, as at start). */
static gboolean
on_reload(gpointer data)
{
    g_autoptr(VnumaAgentConfig) config = vnuma_agent_config_new();
    g_autoptr(GError) error = NULL;

    if (!vnuma_agent_config_load_file(config, config_path(), opt_config != NULL, &error)) {
        g_log_structured(G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "MESSAGE",
                         "reload failed, keeping the configuration in use: %s", error->message);
        return G_SOURCE_CONTINUE;
    }
    log_config_warnings(config);
    vnuma_agent_reload(data, g_steal_pointer(&config));
    return G_SOURCE_CONTINUE;
}

static int
run_daemon(VnumaAgent *agent)
{
    /* Not the default context: libvirt's event thread iterates that one. */
    g_autoptr(GMainContext) context = g_main_context_new();
    g_autoptr(GMainLoop) loop = g_main_loop_new(context, FALSE);
    g_autoptr(GError) error = NULL;
    gboolean ok;

    /* Before the first virConnectOpen, or it gets no events. */
    vnuma_events_register();
    if (!vnuma_agent_connect(agent, &error)) {
        /* A daemon outlives a libvirtd that is not up yet: it retries. */
        g_log_structured(G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "MESSAGE", "%s", error->message);
        g_clear_error(&error);
    }
    watch_signal(context, SIGTERM, on_signal, loop);
    watch_signal(context, SIGINT, on_signal, loop);
    watch_signal(context, SIGHUP, on_reload, agent);
    g_main_context_push_thread_default(context);
    ok = vnuma_agent_run(agent, loop, &error);
    g_main_context_pop_thread_default(context);
    return ok ? EXIT_SUCCESS : fail(EXIT_FAILED, "%s", error->message);
}

int
main(int argc, char **argv)
{
    g_autoptr(GOptionContext) options = g_option_context_new("- the vnuma NUMA placement agent");
    g_autoptr(GError) error = NULL;
    g_autoptr(VnumaAgentConfig) config = vnuma_agent_config_new();
    g_autoptr(VnumaAgent) agent = NULL;
    VnumaAgentFlags flags = 0;

    setlocale(LC_ALL, "");
    g_option_context_add_main_entries(options, entries, NULL);
    g_option_context_set_summary(options,
        "Places each running domain's NUMA clients on home nodes through libvirt, sizes\n"
        "persistent definitions on define, and rebalances every rebalance_period.");
    if (!g_option_context_parse(options, &argc, &argv, &error))
        return fail(EXIT_USAGE, "%s", error->message);
    if (argc != 1)
        return fail(EXIT_USAGE, "unexpected argument '%s'; see --help", argv[1]);
    if (opt_report && !g_str_equal(opt_report, "json"))
        return fail(EXIT_USAGE, "--report '%s' is not json", opt_report);
    g_log_set_writer_func(log_to_stderr, NULL, NULL);
    if (opt_verbose)
        g_log_set_debug_enabled(TRUE);

    if (!vnuma_agent_config_load_file(config, config_path(), opt_config != NULL, &error))
        return fail(EXIT_FAILED, "%s", error->message);
    log_config_warnings(config);

    virSetErrorFunc(NULL, quiet_libvirt);
    /* A libvirtd that dies under an RPC call must fail that call, not
     * kill the agent: libvirt leaves SIGPIPE to the application. */
    signal(SIGPIPE, SIG_IGN);
    if (opt_dry_run)
        flags |= VNUMA_AGENT_DRY_RUN;
    if (opt_report)
        flags |= VNUMA_AGENT_REPORT;
    agent = vnuma_agent_new(opt_uri ? opt_uri : DEFAULT_URI, g_steal_pointer(&config), flags);
    vnuma_agent_set_domains(agent, (const char *const *) opt_domains);
    return opt_once ? run_once(agent) : run_daemon(agent);
}
