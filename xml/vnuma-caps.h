/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "lib/vnuma-host.h"

G_BEGIN_DECLS

/* Host topology from libvirt capabilities XML (<host><topology><cells>). */
VnumaHost *vnuma_host_from_caps_xml(const char *xml, gsize len, GError **error);
VnumaHost *vnuma_host_from_caps_file(const char *path, GError **error);

G_END_DECLS
