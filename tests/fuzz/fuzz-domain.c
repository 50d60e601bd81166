/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: a whole domain XML planned and rewritten. */
#include <stdint.h>

#include "tests/fuzz/fuzz-plan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Host chosen by the input's length, so every byte stays XML. */
    vnuma_fuzz_plan((guint8) size, (const char *) data, size);
    return 0;
}
