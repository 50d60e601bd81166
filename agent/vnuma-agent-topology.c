/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "agent/vnuma-agent-topology.h"

#include "lib/vnuma-host.h"
#include "probe/vnuma-sysfs.h"
#include "probe/vnuma-sysfs-cache.h"

struct _VnumaTopologyKeeper {
    char *root;
    char *cache_path;
    char *uevents;   /* the count read before the last refresh; NULL: none yet */
};

VnumaTopologyKeeper *
vnuma_topology_keeper_new(const char *root, const char *cache_path)
{
    VnumaTopologyKeeper *keeper = g_new0(VnumaTopologyKeeper, 1);

    keeper->root = g_strdup(root);
    keeper->cache_path = g_strdup(cache_path);
    return keeper;
}

void
vnuma_topology_keeper_free(VnumaTopologyKeeper *keeper)
{
    if (!keeper)
        return;
    g_free(keeper->root);
    g_free(keeper->cache_path);
    g_free(keeper->uevents);
    g_free(keeper);
}

gboolean
vnuma_topology_keeper_refresh(VnumaTopologyKeeper *keeper, gboolean *refreshed, GError **error)
{
    /* Read before the host: a uevent during the read moves the count past
     * this one, and the next look refreshes again. */
    g_autofree char *uevents = vnuma_sysfs_uevent_count(keeper->root);
    g_autoptr(VnumaHost) host = NULL;

    *refreshed = FALSE;
    if (!uevents || g_strcmp0(uevents, keeper->uevents) == 0)
        return TRUE;
    host = vnuma_host_from_sysfs_cached(keeper->root, keeper->cache_path, error);
    if (!host)
        return FALSE;
    g_free(keeper->uevents);
    keeper->uevents = g_steal_pointer(&uevents);
    *refreshed = TRUE;
    return TRUE;
}
