/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* libvirt's event loop next to the agent's GMainLoop.
 *
 * libvirt delivers domain events, close callbacks and keepalives only
 * while an event loop registered with it runs. vnumad uses libvirt's own
 * implementation (virEventRegisterDefaultImpl) in a dedicated thread
 * that calls virEventRunDefaultImpl, and its callbacks hand each event
 * to the agent's main loop as idle sources attached to its context
 * (never run in place: libvirt may call the close callback from the
 * main thread itself, holding a lock that disconnecting takes): every
 * libvirt call the agent makes, and all of its state, stay in the main
 * thread.
 *
 * Why not a virEventRegisterImpl on top of GMainContext: libvirt's
 * handle/timeout contract (removal from inside a dispatch, deferred free
 * callbacks, timeouts of 0 that fire each iteration) is subtle to
 * re-implement and would need its own tests, whereas the default impl
 * is libvirt's tested code. Events are rare (lifecycle changes), so the
 * hop between threads costs nothing measurable, and a slow libvirt call
 * in the main thread never delays keepalive replies.
 *
 * Since libvirt 6.x the default impl is itself built on GLib and
 * iterates the *global default* GMainContext (seen on 9.0:
 * virEventRunDefaultImpl → g_main_context_iteration(NULL)). So the
 * agent's loop must run a GMainContext of its own: on the default one,
 * both threads would dispatch the same sources. */

/* Registers libvirt's default event implementation (once per process;
 * must precede the first virConnectOpen that should see events). */
void vnuma_events_register(void);

/* Starts (once) the thread that runs libvirt's event loop. */
gboolean vnuma_events_start(GError **error);

/* Stops and joins that thread; safe when it never started. */
void vnuma_events_stop(void);

G_END_DECLS
