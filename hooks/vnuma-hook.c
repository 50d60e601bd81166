/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vnuma-hook: the libvirt qemu hook (/etc/libvirt/hooks/qemu.d/vnuma).
 * Called as `HOOK DOMAIN OP SUBOP EXTRA` with the domain XML on stdin.
 *
 *   migrate begin, restore begin  print the XML re-homed for this host
 *   prepare begin                 log advice; refuse only with enforce=true
 *   anything else                 nothing
 *
 * Fail open: a bug, a crash, a bad config or bad XML never blocks a
 * domain; the only refusal is enforce.
 * Never links libvirt (it costs ~6 ms per exec) and never calls back into
 * it (libvirt holds locks while hooks run).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "lib/vnuma-config-keys.h"
#include "plugin/vnuma.h"

#ifndef VNUMA_SYSCONFDIR
# define VNUMA_SYSCONFDIR "/etc"
#endif
#define DEFAULT_CONFIG VNUMA_SYSCONFDIR "/vnuma/vnuma.conf"
#define HOOK_MAX_INPUT (16u * 1024u * 1024u)
/* run()'s status that means "enforce refuses this domain". */
#define EXIT_REFUSE 3

typedef enum {
    ACTION_NONE,
    ACTION_REHOME,
    ACTION_ADVISE,
} HookAction;

typedef struct {
    const char *domain;
    const char *op;
    const char *subop;
    char *log_file;
} Hook;

/* The hook runs as root: the log file is appended to only as a regular
 * file reached without a symlink at its last component (O_NOFOLLOW), and
 * a FIFO cannot hold up a domain start (O_NONBLOCK, then S_ISREG). Each
 * line is one write() to an O_APPEND file, so lines of hooks running at
 * once never interleave. */
static void
append_log_line(const char *path, const char *line)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC,
                  0640);
    struct stat st;
    const char *why = NULL;

    if (fd < 0)
        why = g_strerror(errno);   /* ELOOP: a symlink */
    else if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        why = "not a regular file";
    else if (write(fd, line, strlen(line)) < 0)
        why = g_strerror(errno);
    if (why)
        fprintf(stderr, "vnuma-hook: log_file %s not written: %s\n", path, why);
    if (fd >= 0)
        close(fd);
}

static void G_GNUC_PRINTF(3, 4)
hook_log(const Hook *hook, int priority, const char *format, ...)
{
    g_autofree char *message = NULL;
    va_list args;

    va_start(args, format);
    message = g_strdup_vprintf(format, args);
    va_end(args);
    g_strdelimit(message, "\n", ' ');
    syslog(priority, "%s %s %s: %s", hook->domain, hook->op, hook->subop, message);
    fprintf(stderr, "vnuma-hook: %s %s %s: %s\n", hook->domain, hook->op, hook->subop, message);
    if (hook->log_file) {
        g_autoptr(GDateTime) now = g_date_time_new_now_utc();
        g_autofree char *stamp = g_date_time_format_iso8601(now);
        g_autofree char *line = g_strdup_printf("%s %s %s %s: %s\n", stamp, hook->domain,
                                                hook->op, hook->subop, message);

        append_log_line(hook->log_file, line);
    }
}

static HookAction
action_for(const char *op, const char *subop)
{
    if (g_str_equal(subop, "begin") && (g_str_equal(op, "migrate") || g_str_equal(op, "restore")))
        return ACTION_REHOME;
    if (g_str_equal(op, "prepare") && g_str_equal(subop, "begin"))
        return ACTION_ADVISE;
    return ACTION_NONE;
}

/* Reads stdin up to HOOK_MAX_INPUT; FALSE (with the input drained) beyond. */
static gboolean
read_stdin(GString *buffer)
{
    char chunk[65536];
    ssize_t n;

    while ((n = read(STDIN_FILENO, chunk, sizeof(chunk))) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return FALSE;
        }
        if (buffer->len + (gsize) n > HOOK_MAX_INPUT) {
            while (read(STDIN_FILENO, chunk, sizeof(chunk)) > 0)
                ;
            return FALSE;
        }
        g_string_append_len(buffer, chunk, n);
    }
    return TRUE;
}

static gboolean
load_context(Hook *hook, VnumaContext *ctx, GError **error)
{
    gboolean ok = vnuma_context_load_host(ctx, DEFAULT_CONFIG, error);

    /* Read even when the host failed to load: that failure is logged there too. */
    hook->log_file = vnuma_context_config_string(ctx, VNUMA_CONFIG_KEY_LOG_FILE);
    return ok;
}

static gboolean
config_enforce(VnumaContext *ctx)
{
    g_autofree char *value = vnuma_context_config_string(ctx, VNUMA_CONFIG_KEY_ENFORCE);

    return value && (g_str_equal(value, "true") || g_str_equal(value, "yes") || g_str_equal(value, "1"));
}

/* Plans @xml; NULL, with the reason logged, when the domain needs
 * nothing from this host (unreadable, unmanaged, or already as planned). */
static VnumaPlan *
plan_with_changes(Hook *hook, VnumaContext *ctx, const GString *xml, VnumaPlanFlags flags,
                  const char *settled)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(VnumaPlan) plan = vnuma_plan_new_full(ctx, xml->str, xml->len, flags, &error);

    if (!plan) {
        hook_log(hook, LOG_ERR, "left unchanged: %s", error->message);
        return NULL;
    }
    for (const char *const *w = vnuma_plan_warnings(plan); *w; w++)
        hook_log(hook, LOG_WARNING, "warning: %s", *w);
    if (!vnuma_plan_is_managed(plan)) {
        hook_log(hook, LOG_INFO, "not managed: %s", vnuma_plan_reason(plan));
        return NULL;
    }
    if (!vnuma_plan_changes_domain(plan)) {
        hook_log(hook, LOG_INFO, "%s", settled);
        return NULL;
    }
    return g_steal_pointer(&plan);
}

static int
rehome(Hook *hook, VnumaContext *ctx, const GString *xml)
{
    g_autoptr(VnumaPlan) plan = plan_with_changes(hook, ctx, xml, VNUMA_PLAN_KEEP_GUEST_ABI,
                                                  "placement already fits this host");
    g_autofree char *out = NULL;
    gsize len;

    if (!plan)
        return EXIT_SUCCESS;
    out = vnuma_plan_render(plan, VNUMA_FORMAT_XML, &len);
    if (fwrite(out, 1, len, stdout) != len || fflush(stdout) != 0)
        return EXIT_FAILURE;
    hook_log(hook, LOG_INFO, "re-homed for this host (pins and nodesets; cells and topology kept)");
    return EXIT_SUCCESS;
}

static int
advise(Hook *hook, VnumaContext *ctx, const GString *xml)
{
    /* Advice only: nothing goes back to libvirt, so no read-back. */
    g_autoptr(VnumaPlan) plan = plan_with_changes(hook, ctx, xml, VNUMA_PLAN_ADVICE_ONLY,
                                                  "sized and placed for this host");

    if (!plan)
        return EXIT_SUCCESS;
    hook_log(hook, LOG_NOTICE, "not sized for this host: `vnumactl plan` would rewrite its "
             "topology, cells, pins or numatune");
    if (config_enforce(ctx)) {
        fprintf(stderr, "vnuma: domain '%s' is not sized for this host (enforce=true); "
                "run vnumactl plan on its XML\n", hook->domain);
        return EXIT_REFUSE;
    }
    return EXIT_SUCCESS;
}

static int
run(Hook *hook, HookAction action)
{
    g_autoptr(GString) xml = g_string_new(NULL);
    g_autoptr(VnumaContext) ctx = vnuma_context_new();
    g_autoptr(GError) error = NULL;

    /* The config first: it names the log file every outcome goes to. */
    if (!load_context(hook, ctx, &error)) {
        hook_log(hook, LOG_ERR, "left unchanged: %s", error->message);
        read_stdin(xml);   /* drained, so libvirt's write does not fail */
        return EXIT_SUCCESS;
    }
    if (!read_stdin(xml)) {
        hook_log(hook, LOG_ERR, "left unchanged: domain XML unreadable or larger than %u bytes",
                 HOOK_MAX_INPUT);
        return EXIT_SUCCESS;
    }
    return action == ACTION_REHOME ? rehome(hook, ctx, xml) : advise(hook, ctx, xml);
}

/* A crash must not fail the operation: libvirt treats a non-zero exit
 * as a refusal. Output is written once, at the very end, so a crash
 * before it leaves stdout empty, which libvirt reads as "unchanged". */
static void
crash_handler(int signo)
{
    static const char message[] = "vnuma-hook: internal error (a vnuma bug); domain left unchanged\n";
    ssize_t ignored = write(STDERR_FILENO, message, sizeof(message) - 1);

    (void) ignored;
    (void) signo;
    _exit(EXIT_SUCCESS);
}

static void
fail_open_on_crash(void)
{
    static const int signals[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP };
    struct sigaction action = { .sa_handler = crash_handler };

    sigemptyset(&action.sa_mask);
    for (gsize i = 0; i < G_N_ELEMENTS(signals); i++)
        sigaction(signals[i], &action, NULL);
}

int
main(int argc, char **argv)
{
    Hook hook = { "?", "?", "?", NULL };
    HookAction action;
    int status;

    openlog("vnuma-hook", LOG_PID, LOG_DAEMON);
    if (argc < 4) {
        hook_log(&hook, LOG_ERR, "expected DOMAIN OP SUBOP EXTRA, got %d argument(s)", argc - 1);
        return EXIT_SUCCESS;
    }
    hook.domain = argv[1];
    hook.op = argv[2];
    hook.subop = argv[3];
    action = action_for(hook.op, hook.subop);
    if (action == ACTION_NONE) {
        /* reconnect must always exit 0: a failing one kills the VM. */
        return EXIT_SUCCESS;
    }
    fail_open_on_crash();
    status = run(&hook, action);
    g_free(hook.log_file);
    /* Only the explicit enforce refusal fails the operation. */
    return status == EXIT_REFUSE ? EXIT_FAILURE : EXIT_SUCCESS;
}
