/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: capabilities XML -> host model. */
#include <stdint.h>

#include "xml/vnuma-caps.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(VnumaHost) host = vnuma_host_from_caps_xml((const char *) data, size, &error);

    /* Every refusal says why. */
    if (!host && (!error || !error->message[0]))
        __builtin_trap();
    return 0;
}
