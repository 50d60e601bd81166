/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "adapters/vnuma-adapter.h"

#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "plugin/vnuma.h"

#ifndef VNUMA_SYSCONFDIR
# define VNUMA_SYSCONFDIR "/etc"
#endif

static const char *crash_fallback;
static gsize crash_fallback_len;

/* Only async-signal-safe calls here. */
static void
exit_unchanged(int signum)
{
    const char *at = crash_fallback;
    gsize left = crash_fallback_len;

    while (at && left > 0) {
        ssize_t n = write(STDOUT_FILENO, at, left);

        if (n <= 0)
            break;
        at += n;
        left -= (gsize) n;
    }
    _exit(0);
}

void
vnuma_adapter_fail_open_on_crash(const char *fallback, gsize len)
{
    static const int signals[] = { SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL };

    crash_fallback = fallback;
    crash_fallback_len = len;
    for (guint i = 0; i < G_N_ELEMENTS(signals); i++)
        signal(signals[i], exit_unchanged);
}

char *
vnuma_adapter_rewrite(const char *who, const char *xml, gsize len, gsize *new_len)
{
    g_autoptr(VnumaContext) ctx = vnuma_context_new();
    g_autoptr(VnumaPlan) plan = NULL;
    g_autoptr(GError) error = NULL;

    if (!vnuma_context_load_host(ctx, VNUMA_SYSCONFDIR "/vnuma/vnuma.conf", &error) ||
        !(plan = vnuma_plan_new(ctx, xml, len, &error))) {
        fprintf(stderr, "%s: left unchanged: %s\n", who, error->message);
        return NULL;
    }
    for (const char *const *w = vnuma_plan_warnings(plan); *w; w++)
        fprintf(stderr, "%s: warning: %s\n", who, *w);
    if (!vnuma_plan_is_managed(plan)) {
        fprintf(stderr, "%s: not managed: %s\n", who, vnuma_plan_reason(plan));
        return NULL;
    }
    if (!vnuma_plan_changes_domain(plan)) {
        fprintf(stderr, "%s: already as vnuma plans it\n", who);
        return NULL;
    }
    fprintf(stderr, "%s: sized and placed for this host\n", who);
    return vnuma_plan_render(plan, VNUMA_FORMAT_XML, new_len);
}
