/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Prints the host the hook would read from sysfs: its fingerprint and
 * its description (nodes, memory, distances, online CPUs). With --cache,
 * through the topology cache as the hook reads it; without, live. The
 * NUMA rig compares the two on a real kernel around a CPU's offline and
 * online (tests/rig/scenarios.py, scenario hotplug).
 *   sysfs-read [--cache PATH] [ROOT]      (ROOT: default /sys) */
#include <stdio.h>
#include <stdlib.h>

#include <glib.h>

#include "lib/vnuma-host.h"
#include "probe/vnuma-sysfs.h"

int
main(int argc, char **argv)
{
    g_autofree char *cache = NULL;
    g_autoptr(GOptionContext) options = g_option_context_new("[ROOT]");
    GOptionEntry entries[] = {
        { "cache", 'c', 0, G_OPTION_ARG_FILENAME, &cache, "Read through this topology cache", "PATH" },
        { NULL },
    };
    g_autoptr(GError) error = NULL;
    g_autoptr(VnumaHost) host = NULL;
    g_autofree char *fingerprint = NULL;
    g_autofree char *description = NULL;
    const char *root;

    g_option_context_add_main_entries(options, entries, NULL);
    if (!g_option_context_parse(options, &argc, &argv, &error) || argc > 2) {
        fprintf(stderr, "usage: sysfs-read [--cache PATH] [ROOT]\n");
        return 2;
    }
    root = argc == 2 ? argv[1] : "/sys";
    host = cache ? vnuma_host_from_sysfs_cached(root, cache, &error) : vnuma_host_from_sysfs(root, &error);
    if (!host) {
        fprintf(stderr, "sysfs-read: %s\n", error->message);
        return 1;
    }
    fingerprint = vnuma_host_fingerprint(host);
    description = vnuma_host_describe(host);
    printf("fingerprint %s\n%s", fingerprint, description);
    return 0;
}
