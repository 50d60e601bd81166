/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: the <metadata> of a wide managed domain, where the
 * admin's <vnuma:policy> and vnuma's own <vnuma:layout> record live. */
#include <stdint.h>

#include "tests/fuzz/fuzz-plan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char head[] =
    "<domain type='kvm'>\n  <name>fuzz</name>\n"
    "  <memory unit='GiB'>24</memory>\n  <vcpu>12</vcpu>\n"
    "  <os><type arch='x86_64' machine='q35'>hvm</type></os>\n"
    "  <metadata>\n";
static const char tail[] = "\n  </metadata>\n</domain>\n";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autoptr(GString) xml = g_string_new(head);

    g_string_append_len(xml, (const char *) data, size);
    g_string_append(xml, tail);
    vnuma_fuzz_plan((guint8) size, xml->str, xml->len);
    return 0;
}
