/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* KubeVirt hook sidecar, onDefineDomain: KubeVirt's sidecar-shim runs
 * `onDefineDomain --vmi VMI_JSON --domain DOMAIN_XML` and takes stdout as
 * the domain to define; a failing exit fails the VMI. So vnuma fails
 * open by printing the domain unchanged and exiting 0 whenever it has
 * nothing to change or anything goes wrong. Install as
 * /usr/bin/onDefineDomain in an image built on sidecar-shim. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/vnuma-adapter.h"

#define WHO "vnuma-kubevirt-sidecar"

/* The value of --NAME VALUE or --NAME=VALUE; NULL when absent. The shim
 * may add flags of later hook versions: anything else is passed over. */
static const char *
flag_value(int argc, char **argv, const char *name)
{
    gsize n = strlen(name);

    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--", 2) || strncmp(argv[i] + 2, name, n))
            continue;
        if (argv[i][2 + n] == '=')
            return argv[i] + 3 + n;
        if (!argv[i][2 + n] && i + 1 < argc)
            return argv[i + 1];
    }
    return NULL;
}

int
main(int argc, char **argv)
{
    const char *domain = flag_value(argc, argv, "domain");
    g_autofree char *new_xml = NULL;
    gsize len, new_len = 0;

    if (!domain || !*domain) {
        fprintf(stderr, WHO ": usage: onDefineDomain --vmi VMI_JSON --domain DOMAIN_XML\n");
        return 2;
    }
    len = strlen(domain);
    vnuma_adapter_fail_open_on_crash(domain, len);
    if (!(new_xml = vnuma_adapter_rewrite(WHO, domain, len, &new_len))) {
        new_xml = g_strdup(domain);
        new_len = len;
    }
    if (fwrite(new_xml, 1, new_len, stdout) != new_len || fflush(stdout) != 0)
        return EXIT_FAILURE;
    return EXIT_SUCCESS;
}
