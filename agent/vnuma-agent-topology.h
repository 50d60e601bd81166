/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* vnumad keeps the hook's topology cache (docs/hook.md) stamped with the
 * kernel's uevent count. The hook trusts the cache without a stat per CPU
 * only while the count is the cache's; every VM start (its tap device)
 * and every other device moves it, so without a keeper the next hook
 * pays the stats, and on a host starting VMs one after another every
 * prepare would. The keeper looks at the count and, when it has moved,
 * reads the host through the cache the way the hook does: the cache is
 * restamped when every CPU is the one it holds, and read again whole when
 * one is not. */
typedef struct _VnumaTopologyKeeper VnumaTopologyKeeper;

/* For the sysfs tree @root and the cache at @cache_path (both copied). */
VnumaTopologyKeeper *vnuma_topology_keeper_new(const char *root, const char *cache_path);
void vnuma_topology_keeper_free(VnumaTopologyKeeper *keeper);

/* One look: *@refreshed TRUE when the count had moved since the last
 * refresh and the host was read through the cache. No count to read (a
 * kernel without it): nothing to keep, *@refreshed FALSE and no error.
 * FALSE with @error when the host could not be read (the count is then
 * looked at again next time). */
gboolean vnuma_topology_keeper_refresh(VnumaTopologyKeeper *keeper, gboolean *refreshed,
                                       GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(VnumaTopologyKeeper, vnuma_topology_keeper_free)

G_END_DECLS
