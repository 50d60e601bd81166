/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "lib/vnuma-host.h"

G_BEGIN_DECLS

/* Host topology from sysfs, for callers that cannot ask libvirt (the
 * hook). @root is the sysfs mount point, "/sys" on a real host; tests
 * point it at a tree of their own. */
VnumaHost *vnuma_host_from_sysfs(const char *root, GError **error);

G_END_DECLS
