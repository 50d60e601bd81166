/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "lib/vnuma-host.h"

G_BEGIN_DECLS

/* A capabilities file named in place of the host (vnuma.conf's
 * `capabilities`, $VNUMA_CAPS_FILE) is parsed at every hook call, and
 * on a big host that parse alone costs more than the hook's whole work
 * on the domain. So the host read from it is kept at @cache_path, and
 * served while the file is the very one it was read from: same path,
 * device, inode, size, modification and change times. A file changed
 * within the last seconds is read but not cached, since its times may
 * not yet tell the next change apart (see vnuma-caps-cache.c). The
 * cache never makes a read fail. NULL or "" @cache_path:
 * vnuma_host_from_caps_file(). */
VnumaHost *vnuma_host_from_caps_file_cached(const char *path, const char *cache_path,
                                            GError **error);

#define VNUMA_CAPS_CACHE_PATH "/run/vnuma/caps-topology"

/* Seconds a file must be left unchanged before it is cached. */
#define VNUMA_CAPS_CACHE_SETTLE_S 2

G_END_DECLS
