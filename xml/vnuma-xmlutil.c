/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "xml/vnuma-xmlutil.h"

#include <string.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/SAX2.h>
#include <libxml/xpathInternals.h>

#include "lib/vnuma-error.h"
#include "lib/vnuma-math.h"

struct _VnumaXmlSource {
    char *text;
    gsize len;
    xmlDoc *doc;
    GHashTable *spans;   /* xmlNode * -> VnumaXmlSpan * */
    gboolean spans_valid;
    gboolean reencoded;  /* the parser converted the input from another encoding */
};

typedef struct {
    VnumaXmlSource *src;
    startElementNsSAX2Func start_element;
    endElementNsSAX2Func end_element;
} SpanRecorder;

static void
record_start(void *user_data, const xmlChar *localname, const xmlChar *prefix,
             const xmlChar *uri, int nb_namespaces, const xmlChar **namespaces,
             int nb_attributes, int nb_defaulted, const xmlChar **attributes)
{
    xmlParserCtxt *ctxt = user_data;
    SpanRecorder *rec = ctxt->_private;
    VnumaXmlSource *src = rec->src;
    long pos;
    VnumaXmlSpan *span;

    rec->start_element(user_data, localname, prefix, uri, nb_namespaces, namespaces,
                       nb_attributes, nb_defaulted, attributes);
    /* The parser has read the attributes and stands on '>' or '/>'. */
    pos = xmlByteConsumed(ctxt);
    if (pos < 0 || (gsize) pos >= src->len || !ctxt->node) {
        src->spans_valid = FALSE;
        return;
    }
    span = g_new0(VnumaXmlSpan, 1);
    span->empty = src->text[pos] == '/';
    span->tag_end = (gsize) pos + (span->empty ? 2 : 1);
    /* '<' cannot occur inside attribute values, so the last one before
     * here opens this tag. */
    while (pos > 0 && src->text[pos] != '<')
        pos--;
    span->start = (gsize) pos;
    if (src->text[pos] != '<')
        src->spans_valid = FALSE;
    g_hash_table_insert(src->spans, ctxt->node, span);
}

static void
record_end(void *user_data, const xmlChar *localname, const xmlChar *prefix, const xmlChar *uri)
{
    xmlParserCtxt *ctxt = user_data;
    SpanRecorder *rec = ctxt->_private;
    VnumaXmlSpan *span = ctxt->node ? g_hash_table_lookup(rec->src->spans, ctxt->node) : NULL;
    long pos = xmlByteConsumed(ctxt);

    if (span && pos > 0 && (gsize) pos <= rec->src->len && rec->src->text[pos - 1] == '>')
        span->end = (gsize) pos;
    else
        rec->src->spans_valid = FALSE;
    rec->end_element(user_data, localname, prefix, uri);
}

static void
set_parse_error(GError **error, xmlParserCtxt *ctxt, const char *what)
{
    const xmlError *err = xmlCtxtGetLastError(ctxt);
    g_autofree char *message = g_strdup(err && err->message ? err->message : "unknown error");

    /* Some libxml2 messages span lines ("... indicate encoding !\nBytes: ..."). */
    g_strdelimit(g_strchomp(message), "\n", ' ');
    if (err && err->line > 0)
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID,
                    "%s is not well-formed XML (line %d: %s)", what, err->line, message);
    else
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID,
                    "%s is not well-formed XML (%s)", what, message);
}

static VnumaXmlSource *
source_parse(const char *data, gsize len, const char *what, gboolean spans, GError **error)
{
    g_autoptr(VnumaXmlSource) src = g_new0(VnumaXmlSource, 1);
    SpanRecorder rec = { .src = src };
    xmlParserCtxt *ctxt;
    xmlSAXHandler *sax;

    if (len > VNUMA_XML_MAX_BYTES) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID,
                    "%s is too large (%" G_GSIZE_FORMAT " bytes, limit %u)",
                    what, len, VNUMA_XML_MAX_BYTES);
        return NULL;
    }
    if (len == 0 || memchr(data, '<', len) == NULL) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID, "%s is empty or not XML", what);
        return NULL;
    }
    src->text = g_strndup(data, len);
    src->len = len;
    if (spans)
        src->spans = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
    src->spans_valid = spans;

    ctxt = xmlCreateMemoryParserCtxt(src->text, (int) len);
    if (!ctxt) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID, "%s could not be read", what);
        return NULL;
    }
    /* No XML_PARSE_NOENT / DTDLOAD: entities are never substituted and
     * nothing external is fetched. A document only read needs no blank
     * text nodes and never changes: fewer nodes to make (a capabilities
     * file is mostly indentation). */
    xmlCtxtUseOptions(ctxt, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
                            XML_PARSE_NOCDATA | (spans ? 0 : XML_PARSE_NOBLANKS | XML_PARSE_COMPACT));
    if (spans) {
        sax = ctxt->sax;
        rec.start_element = sax->startElementNs;
        rec.end_element = sax->endElementNs;
        sax->startElementNs = record_start;
        sax->endElementNs = record_end;
        ctxt->_private = &rec;
    }

    xmlParseDocument(ctxt);
    src->doc = ctxt->myDoc;
    ctxt->myDoc = NULL;
    if (!ctxt->wellFormed || !src->doc) {
        set_parse_error(error, ctxt, what);
        xmlFreeParserCtxt(ctxt);
        return NULL;
    }
    if (ctxt->input && ctxt->input->buf && ctxt->input->buf->encoder) {
        src->reencoded = TRUE;
        src->spans_valid = FALSE;
    }
    xmlFreeParserCtxt(ctxt);

    if (src->doc->intSubset || src->doc->extSubset) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID,
                    "%s has a DOCTYPE declaration, which is not accepted", what);
        return NULL;
    }
    if (!xmlDocGetRootElement(src->doc)) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID, "%s has no root element", what);
        return NULL;
    }
    return g_steal_pointer(&src);
}

VnumaXmlSource *
vnuma_xml_source_parse(const char *data, gsize len, const char *what, GError **error)
{
    return source_parse(data, len, what, TRUE, error);
}

/* Without the spans: recording one per element is a third of the parse. */
VnumaXmlSource *
vnuma_xml_source_parse_read_only(const char *data, gsize len, const char *what, GError **error)
{
    return source_parse(data, len, what, FALSE, error);
}

gboolean
vnuma_xml_source_reencoded(const VnumaXmlSource *src)
{
    return src->reencoded;
}

void
vnuma_xml_source_free(VnumaXmlSource *src)
{
    if (!src)
        return;
    if (src->doc)
        xmlFreeDoc(src->doc);
    if (src->spans)
        g_hash_table_unref(src->spans);
    g_free(src->text);
    g_free(src);
}

xmlDoc *
vnuma_xml_source_doc(const VnumaXmlSource *src)
{
    return src->doc;
}

const char *
vnuma_xml_source_text(const VnumaXmlSource *src, gsize *len)
{
    if (len)
        *len = src->len;
    return src->text;
}

gboolean
vnuma_xml_source_span(const VnumaXmlSource *src, const xmlNode *node, VnumaXmlSpan *span)
{
    const VnumaXmlSpan *found;

    if (!src->spans_valid || !src->spans || !node)
        return FALSE;
    found = g_hash_table_lookup(src->spans, node);
    if (!found || found->end <= found->start)
        return FALSE;
    *span = *found;
    return TRUE;
}

char *
vnuma_xml_source_indent(const VnumaXmlSource *src, const xmlNode *node)
{
    VnumaXmlSpan span;
    gsize begin;

    if (!vnuma_xml_source_span(src, node, &span))
        return g_strdup("");
    begin = span.start;
    while (begin > 0 && (src->text[begin - 1] == ' ' || src->text[begin - 1] == '\t'))
        begin--;
    if (begin > 0 && src->text[begin - 1] != '\n')
        return g_strdup("");
    return g_strndup(src->text + begin, span.start - begin);
}

xmlXPathContext *
vnuma_xml_xpath_new(xmlDoc *doc)
{
    xmlXPathContext *xpath = xmlXPathNewContext(doc);

    xmlXPathRegisterNs(xpath, BAD_CAST "vnuma", BAD_CAST "urn:x-vnuma:domain:1");
    xmlXPathRegisterNs(xpath, BAD_CAST "vnumal", BAD_CAST "urn:x-vnuma:layout:1");
    /* oVirt's VM metadata (VDSM's vdsm/virt/metadata.py). */
    xmlXPathRegisterNs(xpath, BAD_CAST "ovirtvm", BAD_CAST "http://ovirt.org/vm/1.0");
    return xpath;
}

/* A plain location path ("/domain/devices/memory", "cpus/cpu": names and
 * slashes only) with each step's axis spelled out ("/child::domain/…").
 * libxml2 evaluates a plain path as a stream pattern, walking every
 * element of the document down to the path's depth, and takes that form
 * only without "::" (xmlXPathTryStreamCompile); step by step, each step
 * looks only at the children of the nodes the last one found. Same nodes
 * in the same (document) order; for the domain reader's few dozen queries
 * a fifth of their cost. NULL for anything else (predicates, functions,
 * attributes, prefixes, "//", "." or "*"), which is evaluated as given. */
static char *
xpath_child_steps(const char *expr)
{
    GString *out;

    if (!*expr || strpbrk(expr, "[]()@:.*|$ \t\n") || strstr(expr, "//"))
        return NULL;
    out = g_string_sized_new(strlen(expr) + 32);
    for (const char *p = expr; *p;) {
        if (*p == '/') {
            g_string_append_c(out, *p++);
            continue;
        }
        g_string_append(out, "child::");
        while (*p && *p != '/')
            g_string_append_c(out, *p++);
    }
    return g_string_free(out, FALSE);
}

static xmlXPathObject *
xpath_eval(xmlXPathContext *xpath, xmlNode *node, const char *expr)
{
    g_autofree char *steps = xpath_child_steps(expr);

    xpath->node = node ? node : xmlDocGetRootElement(xpath->doc);
    return xmlXPathEvalExpression(BAD_CAST (steps ? steps : expr), xpath);
}

xmlNode *
vnuma_xml_node(xmlXPathContext *xpath, xmlNode *node, const char *expr)
{
    g_autoptr(xmlXPathObject) obj = xpath_eval(xpath, node, expr);

    if (!obj || obj->type != XPATH_NODESET || !obj->nodesetval || obj->nodesetval->nodeNr == 0)
        return NULL;
    return obj->nodesetval->nodeTab[0];
}

GPtrArray *
vnuma_xml_nodes(xmlXPathContext *xpath, xmlNode *node, const char *expr)
{
    g_autoptr(xmlXPathObject) obj = xpath_eval(xpath, node, expr);
    GPtrArray *nodes = g_ptr_array_new();

    if (obj && obj->type == XPATH_NODESET && obj->nodesetval) {
        for (int i = 0; i < obj->nodesetval->nodeNr; i++)
            g_ptr_array_add(nodes, obj->nodesetval->nodeTab[i]);
    }
    return nodes;
}

char *
vnuma_xml_string(xmlXPathContext *xpath, xmlNode *node, const char *expr)
{
    g_autoptr(xmlXPathObject) obj = xpath_eval(xpath, node, expr);

    if (!obj || obj->type != XPATH_STRING || !obj->stringval || !*obj->stringval)
        return NULL;
    return g_strdup((const char *) obj->stringval);
}

char *
vnuma_xml_prop(const xmlNode *node, const char *name)
{
    xmlChar *value = xmlGetNoNsProp(node, BAD_CAST name);
    char *copy;

    if (!value)
        return NULL;
    copy = g_strdup((const char *) value);
    xmlFree(value);
    return copy;
}

gboolean
vnuma_xml_prop_uint(const xmlNode *node, const char *name, guint64 *value,
                    gboolean *present, GError **error)
{
    xmlChar *raw = xmlGetNoNsProp(node, BAD_CAST name);
    const char *p = (const char *) raw;
    gboolean ok;

    *present = raw != NULL;
    if (!raw)
        return TRUE;
    /* One copy, libxml2's, and no strtoull: capabilities have four of
     * these per CPU. Spaces around the number are allowed, as before. */
    while (g_ascii_isspace(*p))
        p++;
    ok = vnuma_parse_decimal(&p, G_MAXUINT64, value);
    while (ok && g_ascii_isspace(*p))
        p++;
    ok = ok && !*p;
    if (!ok) {
        g_autofree char *text = g_strstrip(g_strdup((const char *) raw));

        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID,
                    "<%s %s='%s'>: not an unsigned integer", (const char *) node->name, name, text);
    }
    xmlFree(raw);
    return ok;
}

/* libvirt's unit syntax (virScaleInteger): case-insensitive; "b",
 * "byte", "bytes"; or k/m/g/t/p/e alone or with "iB" (powers of 1024),
 * or with "B" (powers of 1000). No unit means KiB. */
static gboolean
unit_factor(const char *unit, guint64 *factor)
{
    static const char prefixes[] = "kmgtpe";
    const char *where;
    guint64 base;

    if (!unit || !*unit) {
        *factor = 1024;
        return TRUE;
    }
    if (!g_ascii_strcasecmp(unit, "b") || !g_ascii_strcasecmp(unit, "byte") ||
        !g_ascii_strcasecmp(unit, "bytes")) {
        *factor = 1;
        return TRUE;
    }
    where = strchr(prefixes, g_ascii_tolower(unit[0]));
    if (!where || !unit[0])
        return FALSE;
    if (!unit[1] || !g_ascii_strcasecmp(unit + 1, "iB"))
        base = 1024;
    else if (!g_ascii_strcasecmp(unit + 1, "B"))
        base = 1000;
    else
        return FALSE;
    *factor = 1;
    for (long i = 0; i <= where - prefixes; i++)
        *factor *= base;
    return TRUE;
}

gboolean
vnuma_xml_scale_kib(guint64 value, const char *unit, guint64 *kib, GError **error)
{
    guint64 factor;

    if (!unit_factor(unit, &factor)) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID, "unknown memory unit '%s'", unit);
        return FALSE;
    }
    if (value > G_MAXUINT64 / factor) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID,
                    "memory size %" G_GUINT64_FORMAT " %s is too large", value, unit);
        return FALSE;
    }
    /* Round bytes up to whole KiB, as libvirt does. */
    *kib = value * factor / 1024 + (value * factor % 1024 ? 1 : 0);
    return TRUE;
}

gboolean
vnuma_xml_memory_kib(const xmlNode *node, const char *unit_attr, guint64 *kib, GError **error)
{
    xmlChar *content = xmlNodeGetContent(node);
    g_autofree char *text = g_strstrip(g_strdup(content ? (const char *) content : ""));
    g_autofree char *unit = vnuma_xml_prop(node, unit_attr);
    guint64 value;

    xmlFree(content);
    if (!g_ascii_string_to_unsigned(text, 10, 0, G_MAXUINT64, &value, NULL)) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID,
                    "<%s> holds '%s', not a memory size", (const char *) node->name, text);
        return FALSE;
    }
    return vnuma_xml_scale_kib(value, unit, kib, error);
}
