/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

/* Plans @xml through libvnuma on the example host @host_byte picks, with
 * and without VNUMA_PLAN_KEEP_GUEST_ABI, and renders every format: the
 * domain parser, the metadata parser, sizing, placement and the rewriter. */
void vnuma_fuzz_plan(guint8 host_byte, const char *xml, gsize len);
