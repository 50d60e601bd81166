/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "agent/vnuma-agent-events.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "lib/vnuma-error.h"

static GThread *event_thread;
static gint event_quit;

void
vnuma_events_register(void)
{
    static gsize once;

    if (g_once_init_enter(&once)) {
        if (virEventRegisterDefaultImpl() < 0)
            g_warning("cannot register libvirt's event loop: %s", virGetLastErrorMessage());
        g_once_init_leave(&once, 1);
    }
}

static gpointer
run_events(gpointer data)
{
    while (!g_atomic_int_get(&event_quit)) {
        if (virEventRunDefaultImpl() < 0) {
            g_warning("libvirt event loop: %s", virGetLastErrorMessage());
            g_usleep(G_USEC_PER_SEC / 10);
        }
    }
    return NULL;
}

gboolean
vnuma_events_start(GError **error)
{
    vnuma_events_register();
    if (event_thread)
        return TRUE;
    g_atomic_int_set(&event_quit, 0);
    event_thread = g_thread_try_new("libvirt-events", run_events, NULL, error);
    return event_thread != NULL;
}

/* A zero timeout fires on the next iteration: it wakes the blocked
 * poll() so the loop sees event_quit. It removes itself. */
static void
wake_once(int timer, void *opaque)
{
    virEventRemoveTimeout(timer);
}

void
vnuma_events_stop(void)
{
    if (!event_thread)
        return;
    g_atomic_int_set(&event_quit, 1);
    if (virEventAddTimeout(0, wake_once, NULL, NULL) < 0)
        g_warning("cannot wake libvirt's event loop: %s", virGetLastErrorMessage());
    g_thread_join(event_thread);
    event_thread = NULL;
}
