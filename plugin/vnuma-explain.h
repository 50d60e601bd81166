/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "lib/vnuma-layout.h"
#include "lib/vnuma-request.h"

G_BEGIN_DECLS

/* The layout as JSON (the fields `vnumactl plan --format json` promises)
 * and as a human explanation in the spirit of ESXi's vmdumper output. */
char *vnuma_explain_json(const VnumaRequest *request, const VnumaLayout *layout, gboolean changes);
char *vnuma_explain_text(const VnumaRequest *request, const VnumaLayout *layout, gboolean changes);

G_END_DECLS
