/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* What the orchestrator adapters share: each is a thin front end over
 * libvnuma.so that gets a domain XML before the domain is defined and
 * hands back vnuma's rewrite. They fail open: any problem, or a crash,
 * leaves the domain as it was and the VM starts. */

/* From here on a crash exits 0 instead of dying by a signal, after
 * writing @fallback (@len bytes; NULL: nothing) to stdout: each adapter
 * leaves the orchestrator's copy of the XML untouched until its last
 * step, so that is the domain unchanged. */
void vnuma_adapter_fail_open_on_crash(const char *fallback, gsize len);

/* vnuma's rewrite of @xml for this host (vnuma_context_load_host with
 * /etc/vnuma/vnuma.conf); NULL when there is nothing to change or
 * anything went wrong. Each decision is one line on stderr prefixed
 * with @who, which the orchestrator logs. */
char *vnuma_adapter_rewrite(const char *who, const char *xml, gsize len, gsize *new_len);

G_END_DECLS
