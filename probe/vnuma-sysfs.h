/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "lib/vnuma-host.h"

G_BEGIN_DECLS

/* Host topology from sysfs, for callers that cannot ask libvirt (the
 * hook). @root is the sysfs mount point, "/sys" on a real host; tests
 * point it at a tree of their own. */
VnumaHost *vnuma_host_from_sysfs(const char *root, GError **error);

/* The same host, with each CPU's topology taken from the cache at
 * @cache_path while the kernel shows that CPU unchanged since the cache
 * was written (see vnuma-sysfs-cache.c); otherwise read live and the cache
 * rewritten. The cache never makes a read fail. NULL or "" @cache_path:
 * vnuma_host_from_sysfs(). */
VnumaHost *vnuma_host_from_sysfs_cached(const char *root, const char *cache_path,
                                        GError **error);

#define VNUMA_SYSFS_CACHE_PATH "/run/vnuma/sysfs-topology"

/* Where this host's sysfs and its topology cache are, for every reader of
 * them (the plugin, vnumad's cache keeper): $VNUMA_SYSFS_ROOT, else
 * "/sys"; $VNUMA_HOST_CACHE ("" for none), else VNUMA_SYSFS_CACHE_PATH
 * for /sys and none (NULL) for another tree. The strings are the
 * environment's or static: not to be freed. */
void vnuma_sysfs_location(const char **root, const char **cache_path);

G_END_DECLS
