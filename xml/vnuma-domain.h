/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "lib/vnuma-request.h"
#include "xml/vnuma-xmlutil.h"

G_BEGIN_DECLS

/* <vnuma:policy>: the admin's overrides. */
#define VNUMA_NAMESPACE "urn:x-vnuma:domain:1"
/* <vnuma:layout>: vnuma's own record. libvirt keeps one <metadata> element
 * per namespace URI (virXMLNodeSanitizeNamespaces drops the rest at
 * define time), so the record needs a URI of its own. */
#define VNUMA_LAYOUT_NAMESPACE "urn:x-vnuma:layout:1"

/* Reads what sizing needs from a parsed domain: vCPUs, memory, huge
 * pages, pins, numatune, guest cells and topology, vnuma:policy
 * overrides and vnuma's own record. A malformed record is dropped with
 * a warning (vnuma then treats the domain as never sized); malformed
 * libvirt elements are errors naming the element. */
VnumaRequest *vnuma_request_from_domain(const VnumaXmlSource *src, GError **error);

/* A <vnuma:layout> element on its own (as vnuma_stamp_format writes it),
 * for records kept outside the domain (an orchestrator's instance data). */
VnumaStamp *vnuma_stamp_from_xml(const char *xml, gsize len, GError **error);

G_END_DECLS
