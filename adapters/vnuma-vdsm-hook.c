/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* oVirt VDSM before_vm_start hook: VDSM puts the domain XML it is about
 * to create in the file named by $_hook_domxml and reads it back after
 * its hooks ran (vdsm/hooking.py). Exit codes per VDSM: 0 ok, 1 failed
 * but later hooks run, 2 failed and the rest stop. vnuma fails open:
 * always 0, the file replaced only by a complete rewrite (written beside
 * it, then renamed over it). Install as
 * /usr/libexec/vdsm/hooks/before_vm_start/50_vnuma. */
#include <stdio.h>
#include <stdlib.h>

#include "adapters/vnuma-adapter.h"

#define WHO "vnuma-vdsm-hook"
#define MAX_XML (16 << 20)

int
main(int argc, char **argv)
{
    const char *path = g_getenv("_hook_domxml");
    g_autofree char *xml = NULL;
    g_autofree char *new_xml = NULL;
    g_autoptr(GError) error = NULL;
    gsize len = 0, new_len = 0;

    vnuma_adapter_fail_open_on_crash(NULL, 0);
    if (!path || !*path) {
        fprintf(stderr, WHO ": $_hook_domxml is not set: not run by VDSM; nothing done\n");
        return EXIT_SUCCESS;
    }
    if (!g_file_get_contents(path, &xml, &len, &error) || len > MAX_XML) {
        fprintf(stderr, WHO ": left unchanged: %s\n", error ? error->message : "domain XML above 16 MiB");
        return EXIT_SUCCESS;
    }
    if (!(new_xml = vnuma_adapter_rewrite(WHO, xml, len, &new_len)))
        return EXIT_SUCCESS;
    if (!g_file_set_contents_full(path, new_xml, (gssize) new_len, G_FILE_SET_CONTENTS_CONSISTENT, 0644, &error))
        fprintf(stderr, WHO ": left unchanged: %s\n", error->message);
    return EXIT_SUCCESS;
}
