/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: vnuma.conf as the agent reads it, which is the
 * shared parser (plugin/vnuma-config.c) plus the agent's own keys. */
#include <stdint.h>

#include "agent/vnuma-agent-config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autoptr(VnumaAgentConfig) config = vnuma_agent_config_new();
    g_autoptr(GError) error = NULL;

    if (!vnuma_agent_config_load_data(config, (const char *) data, size, "fuzz.conf", &error) &&
        (!error || !error->message[0]))
        __builtin_trap();
    return 0;
}
