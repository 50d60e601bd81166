/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "lib/vnuma-layout.h"
#include "lib/vnuma-request.h"
#include "xml/vnuma-xmlutil.h"

G_BEGIN_DECLS

/* Applies @layout to the domain @src was parsed from. Only what vnuma
 * owns changes — <cpu><topology>, <cpu><numa>, <cputune> vcpupin and
 * emulatorpin, <numatune>, <vnuma:layout> — by splicing new text into
 * the original bytes; everything else stays byte for byte. An unmanaged
 * layout returns the input unchanged. */
char *vnuma_domain_rewrite(const VnumaXmlSource *src, const VnumaRequest *request,
                           const VnumaLayout *layout, gsize *len, GError **error);

/* Whether vnuma_domain_rewrite() would change the domain (*@changes),
 * without writing or reading back the text (that is half the hook's
 * work): for advice at domain start, which only says whether the domain
 * fits. @src may be parsed read-only. Fails where the rewrite would fail
 * to splice (an input the parser re-encoded). */
gboolean vnuma_domain_rewrite_changes(const VnumaXmlSource *src, const VnumaRequest *request,
                                      const VnumaLayout *layout, gboolean *changes, GError **error);

/* The <vnuma:layout> element for @stamp, indented by @indent. */
char *vnuma_stamp_format(const VnumaStamp *stamp, const char *indent);

G_END_DECLS
