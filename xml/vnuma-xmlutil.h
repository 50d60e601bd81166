/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>

G_BEGIN_DECLS

/* Inputs above this size are refused: a domain or capabilities document
 * is tens of KiB; a hook must not buffer whatever arrives on stdin. */
#define VNUMA_XML_MAX_BYTES (16u * 1024u * 1024u)

/* A parsed document that remembers where each element sits in the
 * original bytes, so a rewrite can splice new text in and leave every
 * other byte (quotes, comments, attribute order) as it was. */
typedef struct _VnumaXmlSource VnumaXmlSource;

typedef struct {
    gsize start;      /* offset of '<' of the start tag */
    gsize tag_end;    /* offset just past the start tag's '>' */
    gsize end;        /* offset just past the element's last byte */
    gboolean empty;   /* written as <x/> */
} VnumaXmlSpan;

/* Parses untrusted XML: no network, no DTD loading, no entity expansion,
 * no DOCTYPE at all, size bounded. @what names the input in errors. */
VnumaXmlSource *vnuma_xml_source_parse(const char *data, gsize len, const char *what,
                                       GError **error);
/* The same parser and checks for a document that is only read
 * (capabilities, records, a rewrite's own output read back): no element's
 * bytes are remembered, so vnuma_xml_source_span() knows none. */
VnumaXmlSource *vnuma_xml_source_parse_read_only(const char *data, gsize len, const char *what,
                                                 GError **error);
/* TRUE when the parser converted the input from another encoding (an
 * XML declaration naming one): the document's offsets are not the
 * input's bytes, so nothing can be spliced into them. */
gboolean vnuma_xml_source_reencoded(const VnumaXmlSource *src);
void vnuma_xml_source_free(VnumaXmlSource *src);
xmlDoc *vnuma_xml_source_doc(const VnumaXmlSource *src);
const char *vnuma_xml_source_text(const VnumaXmlSource *src, gsize *len);
/* FALSE when the element's offsets are unknown (e.g. a re-encoded input). */
gboolean vnuma_xml_source_span(const VnumaXmlSource *src, const xmlNode *node, VnumaXmlSpan *span);

/* The whitespace that precedes @node on its line ("" when something else does). */
char *vnuma_xml_source_indent(const VnumaXmlSource *src, const xmlNode *node);

/* XPath helpers; @node is the context node (NULL: the document root). */
xmlXPathContext *vnuma_xml_xpath_new(xmlDoc *doc);
xmlNode *vnuma_xml_node(xmlXPathContext *xpath, xmlNode *node, const char *expr);
GPtrArray *vnuma_xml_nodes(xmlXPathContext *xpath, xmlNode *node, const char *expr);
/* Value of an XPath string expression, NULL when empty. */
char *vnuma_xml_string(xmlXPathContext *xpath, xmlNode *node, const char *expr);

char *vnuma_xml_prop(const xmlNode *node, const char *name);
/* Reads an unsigned attribute; *present tells whether it was there.
 * A present but malformed value is an error naming element and attribute. */
gboolean vnuma_xml_prop_uint(const xmlNode *node, const char *name, guint64 *value,
                             gboolean *present, GError **error);
/* Reads an element's text as a memory amount scaled by its 'unit'
 * attribute (libvirt's units; default KiB), in KiB. */
gboolean vnuma_xml_memory_kib(const xmlNode *node, const char *unit_attr, guint64 *kib,
                              GError **error);
gboolean vnuma_xml_scale_kib(guint64 value, const char *unit, guint64 *kib, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(VnumaXmlSource, vnuma_xml_source_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlXPathContext, xmlXPathFreeContext)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlXPathObject, xmlXPathFreeObject)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlDoc, xmlFreeDoc)

G_END_DECLS
