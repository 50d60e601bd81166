/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "xml/vnuma-rewrite.h"

#include <string.h>

#include "lib/vnuma-error.h"
#include "xml/vnuma-domain.h"

#define INDENT_STEP "  "

/* One splice: bytes [start, end) of the input become @text. */
typedef struct {
    gsize start;
    gsize end;
    char *text;
    guint order;
} Edit;

typedef struct {
    const VnumaXmlSource *src;
    xmlXPathContext *xpath;
    GArray *edits;
    const VnumaStamp *stamp;   /* the layout's record, made once for the splice and its check */
} Rewriter;

static void
edit_clear(gpointer data)
{
    g_free(((Edit *) data)->text);
}

static void
add_edit(Rewriter *rw, gsize start, gsize end, char *text)
{
    Edit edit = { start, end, text, rw->edits->len };

    g_array_append_val(rw->edits, edit);
}

static xmlNode *
find(Rewriter *rw, const char *expr)
{
    return vnuma_xml_node(rw->xpath, NULL, expr);
}

static gboolean
span_of(Rewriter *rw, const xmlNode *node, VnumaXmlSpan *span, GError **error)
{
    if (vnuma_xml_source_span(rw->src, node, span))
        return TRUE;
    g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID,
                "cannot locate <%s> in the input bytes (not UTF-8?)", (const char *) node->name);
    return FALSE;
}

/* Child indentation: that of an existing element child, else one step
 * deeper than @parent. */
static char *
child_indent(Rewriter *rw, xmlNode *parent)
{
    g_autofree char *own = vnuma_xml_source_indent(rw->src, parent);

    for (xmlNode *child = parent->children; child; child = child->next) {
        if (child->type == XML_ELEMENT_NODE)
            return vnuma_xml_source_indent(rw->src, child);
    }
    return g_strconcat(own, INDENT_STEP, NULL);
}

/* Indentation of a new child of <domain>: that of its children (a
 * domain without <vcpu> gave the column-0 indent of no element). */
static char *
top_level_indent(Rewriter *rw)
{
    return child_indent(rw, xmlDocGetRootElement(vnuma_xml_source_doc(rw->src)));
}

/* Removes @node together with the indentation and newline before it. */
static gboolean
remove_element(Rewriter *rw, xmlNode *node, GError **error)
{
    const char *text = vnuma_xml_source_text(rw->src, NULL);
    VnumaXmlSpan span;
    gsize start;

    if (!span_of(rw, node, &span, error))
        return FALSE;
    start = span.start;
    while (start > 0 && (text[start - 1] == ' ' || text[start - 1] == '\t'))
        start--;
    if (start > 0 && text[start - 1] == '\n')
        start--;
    else
        start = span.start;
    add_edit(rw, start, span.end, g_strdup(""));
    return TRUE;
}

static gboolean
replace_element(Rewriter *rw, xmlNode *node, char *text, GError **error)
{
    VnumaXmlSpan span;

    if (!span_of(rw, node, &span, error)) {
        g_free(text);
        return FALSE;
    }
    add_edit(rw, span.start, span.end, text);
    return TRUE;
}

/* Where the end tag of a non-empty element starts: its last '<'. The
 * end tag may be "</name >" or carry a prefix, so its length is not
 * that of the name. */
static gsize
end_tag_start(const char *text, const VnumaXmlSpan *span)
{
    gsize at = span->end;

    while (at > span->tag_end && text[at - 1] != '<')
        at--;
    return at > span->tag_end ? at - 1 : span->tag_end;
}

/* Appends @fragment (already indented for its first line only) as the
 * last child of @parent. An empty <x/> is reopened as <x>…</x>. */
static gboolean
append_child(Rewriter *rw, xmlNode *parent, const char *fragment, GError **error)
{
    const char *text = vnuma_xml_source_text(rw->src, NULL);
    g_autofree char *indent = vnuma_xml_source_indent(rw->src, parent);
    g_autofree char *inner = child_indent(rw, parent);
    VnumaXmlSpan span;
    gsize close_at;

    if (!span_of(rw, parent, &span, error))
        return FALSE;
    if (span.empty) {
        gsize tag_close = span.tag_end - 2;

        while (tag_close > span.start && g_ascii_isspace(text[tag_close - 1]))
            tag_close--;
        add_edit(rw, span.start, span.end,
                 g_strdup_printf("%.*s>\n%s%s\n%s</%s>", (int) (tag_close - span.start),
                                 text + span.start, inner, fragment, indent,
                                 (const char *) parent->name));
        return TRUE;
    }
    /* Just after the last child element, or after the start tag. */
    close_at = span.tag_end;
    for (xmlNode *child = parent->last; child; child = child->prev) {
        VnumaXmlSpan child_span;

        if (child->type == XML_ELEMENT_NODE && span_of(rw, child, &child_span, NULL)) {
            close_at = child_span.end;
            break;
        }
    }
    if (close_at == span.tag_end) {
        /* No child element: replace whatever whitespace sits inside. */
        add_edit(rw, span.tag_end, end_tag_start(text, &span),
                 g_strdup_printf("\n%s%s\n%s", inner, fragment, indent));
        return TRUE;
    }
    add_edit(rw, close_at, close_at, g_strdup_printf("\n%s%s", inner, fragment));
    return TRUE;
}

/* Inserts @fragment as a sibling right after @anchor, at its indentation. */
static gboolean
insert_after(Rewriter *rw, xmlNode *anchor, const char *fragment, GError **error)
{
    g_autofree char *indent = vnuma_xml_source_indent(rw->src, anchor);
    VnumaXmlSpan span;

    if (!span_of(rw, anchor, &span, error))
        return FALSE;
    add_edit(rw, span.end, span.end, g_strdup_printf("\n%s%s", indent, fragment));
    return TRUE;
}

/* Adds a new top-level element after the first anchor that exists. */
static gboolean
insert_top_level(Rewriter *rw, const char *const *anchors, const char *fragment, GError **error)
{
    for (guint i = 0; anchors[i]; i++) {
        xmlNode *anchor = find(rw, anchors[i]);

        if (anchor)
            return insert_after(rw, anchor, fragment, error);
    }
    return append_child(rw, xmlDocGetRootElement(vnuma_xml_source_doc(rw->src)), fragment, error);
}

/* Adds a new top-level element after whichever of @anchors comes last in
 * the document. libvirt's schema keeps <name>, <uuid> and <genid> as one
 * group that libxml2's validator will not see split (genid.xml lists
 * <genid> after <uuid>), so a new element goes after all of them. */
static gboolean
insert_after_last(Rewriter *rw, const char *const *anchors, const char *fragment, GError **error)
{
    xmlNode *last = NULL;
    VnumaXmlSpan last_span = { 0 };

    for (guint i = 0; anchors[i]; i++) {
        xmlNode *anchor = find(rw, anchors[i]);
        VnumaXmlSpan span;

        if (!anchor)
            continue;
        if (!span_of(rw, anchor, &span, error))
            return FALSE;
        if (!last || span.start > last_span.start) {
            last = anchor;
            last_span = span;
        }
    }
    if (last)
        return insert_after(rw, last, fragment, error);
    return append_child(rw, xmlDocGetRootElement(vnuma_xml_source_doc(rw->src)), fragment, error);
}

static char *
format_topology(const VnumaGuestTopology *t)
{
    return g_strdup_printf("<topology sockets='%u' dies='%u' cores='%u' threads='%u'/>",
                           t->sockets, t->dies, t->cores, t->threads);
}

static char *
format_numa(const GPtrArray *cells, const char *indent)
{
    GString *out = g_string_new("<numa>");

    for (guint i = 0; i < cells->len; i++) {
        const VnumaCell *cell = cells->pdata[i];
        g_autofree char *cpus = vnuma_cpuset_format(cell->vcpus);

        g_string_append_printf(out, "\n%s" INDENT_STEP "<cell id='%u' cpus='%s' memory='%"
                               G_GUINT64_FORMAT "' unit='KiB'", indent, i, cpus, cell->memory_kib);
        if (!cell->distances) {
            g_string_append(out, "/>");
            continue;
        }
        g_string_append_printf(out, ">\n%s" INDENT_STEP INDENT_STEP "<distances>", indent);
        for (guint j = 0; j < cell->distances->len; j++)
            g_string_append_printf(out, "\n%s" INDENT_STEP INDENT_STEP INDENT_STEP
                                   "<sibling id='%u' value='%u'/>", indent, j,
                                   g_array_index(cell->distances, guint, j));
        g_string_append_printf(out, "\n%s" INDENT_STEP INDENT_STEP "</distances>\n%s" INDENT_STEP
                               "</cell>", indent, indent);
    }
    g_string_append_printf(out, "\n%s</numa>", indent);
    return g_string_free(out, FALSE);
}

/* The <vcpupin>/<emulatorpin> lines, joined at @indent. */
static char *
format_cputune_pins(const VnumaPinSet *pins, const char *indent)
{
    GString *out = g_string_new(NULL);

    /* Appended piece by piece: one line per vCPU, and printf is the
     * costliest part of a rewrite (hundreds of vCPUs on a large guest). */
    for (guint i = 0; i < pins->vcpupins->len; i++) {
        const VnumaVcpuPin *pin = &g_array_index(pins->vcpupins, VnumaVcpuPin, i);

        if (i)
            g_string_append(out, indent);
        g_string_append(out, "<vcpupin vcpu='");
        vnuma_string_append_uint(out, pin->vcpu);
        g_string_append(out, "' cpuset='");
        vnuma_cpuset_append(out, pin->cpuset);
        g_string_append(out, "'/>\n");
    }
    if (pins->emulatorpin) {
        g_autofree char *cpuset = vnuma_cpuset_format(pins->emulatorpin);

        g_string_append_printf(out, "%s<emulatorpin cpuset='%s'/>", out->len ? indent : "", cpuset);
    } else if (out->len) {
        g_string_truncate(out, out->len - 1);
    }
    return g_string_free(out, FALSE);
}

static char *
format_numatune(const VnumaPinSet *pins, const char *indent)
{
    GString *out = g_string_new("<numatune>");
    g_autofree char *nodeset = vnuma_cpuset_format(pins->memory_nodeset);

    g_string_append_printf(out, "\n%s" INDENT_STEP "<memory mode='%s' nodeset='%s'/>", indent,
                           pins->memory_mode, nodeset);
    for (guint i = 0; i < pins->memnodes->len; i++) {
        const VnumaMemnode *memnode = &g_array_index(pins->memnodes, VnumaMemnode, i);
        g_autofree char *set = vnuma_cpuset_format(memnode->nodeset);

        g_string_append_printf(out, "\n%s" INDENT_STEP "<memnode cellid='%u' mode='%s' nodeset='%s'/>",
                               indent, memnode->cell_id, pins->memory_mode, set);
    }
    g_string_append_printf(out, "\n%s</numatune>", indent);
    return g_string_free(out, FALSE);
}

char *
vnuma_stamp_format(const VnumaStamp *stamp, const char *indent)
{
    GString *out = g_string_new(NULL);

    g_string_append_printf(out, "<vnuma:layout xmlns:vnuma='" VNUMA_LAYOUT_NAMESPACE "' version='%u' "
                           "host='%s' vcpus='%u' pins='%s'>", stamp->version,
                           stamp->host ? stamp->host : "", stamp->vcpus,
                           stamp->pins_digest ? stamp->pins_digest : "");
    for (guint i = 0; i < stamp->clients->len; i++) {
        const VnumaStampClient *client = &g_array_index(stamp->clients, VnumaStampClient, i);
        g_autofree char *vcpus = vnuma_cpuset_format(client->vcpus);

        g_string_append_printf(out, "\n%s" INDENT_STEP "<vnuma:client vcpus='%s' node='%u' memory='%"
                               G_GUINT64_FORMAT "'/>", indent, vcpus, client->home_node,
                               client->memory_kib);
    }
    for (guint i = 0; i < stamp->cells->len; i++) {
        const VnumaCell *cell = stamp->cells->pdata[i];
        g_autofree char *vcpus = vnuma_cpuset_format(cell->vcpus);

        g_string_append_printf(out, "\n%s" INDENT_STEP "<vnuma:cell cpus='%s' memory='%"
                               G_GUINT64_FORMAT "'/>", indent, vcpus, cell->memory_kib);
    }
    if (stamp->wrote_topology)
        g_string_append_printf(out, "\n%s" INDENT_STEP "<vnuma:topology sockets='%u' dies='%u' "
                               "cores='%u' threads='%u'/>", indent, stamp->topology.sockets,
                               stamp->topology.dies, stamp->topology.cores, stamp->topology.threads);
    g_string_append_printf(out, "\n%s</vnuma:layout>", indent);
    return g_string_free(out, FALSE);
}

/* What of the domain the layout changes. Each part is compared as
 * read, not as bytes: the rewrite edits a part only when it differs, so
 * these also say whether the rewrite changes the domain at all
 * (vnuma_domain_rewrite_changes()). */
static gboolean
topology_changes(const xmlNode *topology, const VnumaRequest *request, const VnumaLayout *layout)
{
    return layout->write_topology &&
           (!topology || !vnuma_guest_topology_equal(&request->topology, &layout->topology));
}

static gboolean
cells_change(const VnumaRequest *request, const VnumaLayout *layout)
{
    return !layout->owner_cells &&
           (!vnuma_cells_equal(request->cells, layout->cells) ||
            !vnuma_cells_distances_equal(request->cells, layout->cells));
}

static gboolean
pins_change(const VnumaRequest *request, const VnumaLayout *layout)
{
    return !vnuma_pinset_equal(request->pins, layout->pins);
}

/* libvirt re-quotes metadata it stores: the record is compared, not its
 * bytes. A record given beside the domain (request->stamp without
 * @record) is still to be written into it. */
static gboolean
record_changes(const xmlNode *record, const VnumaRequest *request, const VnumaStamp *stamp)
{
    return !record || !request->stamp || !vnuma_stamp_equal(request->stamp, stamp);
}

/* <cpu>: topology and vnuma's cells, as one fragment when <cpu> is new. */
static gboolean
rewrite_cpu(Rewriter *rw, const VnumaRequest *request, const VnumaLayout *layout, GError **error)
{
    static const char *const anchors[] = { "/domain/features", "/domain/os", "/domain/vcpu", NULL };
    xmlNode *cpu = find(rw, "/domain/cpu");
    xmlNode *topology = find(rw, "/domain/cpu/topology");
    xmlNode *numa = find(rw, "/domain/cpu/numa");
    gboolean want_topology = topology_changes(topology, request, layout);
    gboolean want_cells = cells_change(request, layout);
    g_autofree char *inner = NULL;
    g_autoptr(GString) fresh = g_string_new(NULL);

    if (!want_topology && !want_cells)
        return TRUE;
    if (!cpu) {
        g_autofree char *indent = top_level_indent(rw);
        g_autofree char *inner_indent = g_strconcat(indent, INDENT_STEP, NULL);

        g_string_append(fresh, "<cpu>");
        if (want_topology) {
            g_autofree char *topo = format_topology(&layout->topology);

            g_string_append_printf(fresh, "\n%s%s", inner_indent, topo);
        }
        if (want_cells && layout->cells->len) {
            g_autofree char *cells = format_numa(layout->cells, inner_indent);

            g_string_append_printf(fresh, "\n%s%s", inner_indent, cells);
        }
        g_string_append_printf(fresh, "\n%s</cpu>", indent);
        return insert_top_level(rw, anchors, fresh->str, error);
    }
    inner = child_indent(rw, cpu);
    if (want_topology) {
        char *topo = format_topology(&layout->topology);

        if (topology) {
            if (!replace_element(rw, topology, topo, error))
                return FALSE;
        } else {
            g_string_append(fresh, topo);
            g_free(topo);
        }
    }
    if (want_cells) {
        if (numa && layout->cells->len == 0) {
            if (!remove_element(rw, numa, error))
                return FALSE;
        } else if (numa) {
            if (!replace_element(rw, numa, format_numa(layout->cells, inner), error))
                return FALSE;
        } else if (layout->cells->len) {
            g_autofree char *cells = format_numa(layout->cells, inner);

            /* append_child() indents the first line; later ones carry their own. */
            if (fresh->len)
                g_string_append_printf(fresh, "\n%s", inner);
            g_string_append(fresh, cells);
        }
    }
    return fresh->len == 0 || append_child(rw, cpu, fresh->str, error);
}

static gboolean
rewrite_cputune(Rewriter *rw, const VnumaLayout *layout, GError **error)
{
    static const char *const anchors[] = { "/domain/vcpu", "/domain/memory", NULL };
    xmlNode *cputune = find(rw, "/domain/cputune");
    g_autoptr(GPtrArray) old = vnuma_xml_nodes(rw->xpath, NULL,
                                               "/domain/cputune/vcpupin | /domain/cputune/emulatorpin");
    g_autofree char *indent = NULL;
    g_autofree char *pins = NULL;

    if (!cputune) {
        g_autofree char *outer = top_level_indent(rw);
        g_autofree char *fragment = NULL;

        indent = g_strconcat(outer, INDENT_STEP, NULL);
        pins = format_cputune_pins(layout->pins, indent);
        fragment = g_strdup_printf("<cputune>\n%s%s\n%s</cputune>", indent, pins, outer);
        return insert_top_level(rw, anchors, fragment, error);
    }
    for (guint i = 0; i < old->len; i++) {
        if (!remove_element(rw, old->pdata[i], error))
            return FALSE;
    }
    indent = child_indent(rw, cputune);
    pins = format_cputune_pins(layout->pins, indent);
    return append_child(rw, cputune, pins, error);
}

static gboolean
rewrite_numatune(Rewriter *rw, const VnumaLayout *layout, GError **error)
{
    static const char *const anchors[] = { "/domain/cputune", "/domain/vcpu", "/domain/memory", NULL };
    xmlNode *numatune = find(rw, "/domain/numatune");
    g_autofree char *indent = NULL;

    if (numatune) {
        indent = vnuma_xml_source_indent(rw->src, numatune);
        return replace_element(rw, numatune, format_numatune(layout->pins, indent), error);
    }
    indent = top_level_indent(rw);
    g_autofree char *fragment = format_numatune(layout->pins, indent);
    return insert_top_level(rw, anchors, fragment, error);
}

static gboolean
rewrite_record(Rewriter *rw, const VnumaRequest *request, const VnumaLayout *layout, GError **error)
{
    static const char *const anchors[] = { "/domain/name", "/domain/uuid", "/domain/genid",
                                           "/domain/title", "/domain/description", NULL };
    xmlNode *metadata = find(rw, "/domain/metadata");
    xmlNode *record = find(rw, "/domain/metadata/vnumal:layout");
    const VnumaStamp *stamp = rw->stamp;
    g_autofree char *indent = NULL;
    g_autofree char *formatted = NULL;

    if (!record_changes(record, request, stamp))
        return TRUE;
    if (record) {
        indent = vnuma_xml_source_indent(rw->src, record);
        formatted = vnuma_stamp_format(stamp, indent);
        return replace_element(rw, record, g_steal_pointer(&formatted), error);
    }
    if (metadata) {
        indent = child_indent(rw, metadata);
        formatted = vnuma_stamp_format(stamp, indent);
        return append_child(rw, metadata, formatted, error);
    }
    g_autofree char *outer = top_level_indent(rw);
    indent = g_strconcat(outer, INDENT_STEP, NULL);
    formatted = vnuma_stamp_format(stamp, indent);
    g_autofree char *fragment = g_strdup_printf("<metadata>\n%s%s\n%s</metadata>", indent, formatted, outer);
    return insert_after_last(rw, anchors, fragment, error);
}

static gint
compare_edits(gconstpointer a, gconstpointer b)
{
    const Edit *x = a, *y = b;

    if (x->start != y->start)
        return (x->start > y->start) - (x->start < y->start);
    return (x->order > y->order) - (x->order < y->order);
}

static char *
apply_edits(Rewriter *rw, gsize *len, GError **error)
{
    gsize in_len;
    const char *text = vnuma_xml_source_text(rw->src, &in_len);
    GString *out = g_string_sized_new(in_len + 1024);
    gsize pos = 0;

    g_array_sort(rw->edits, compare_edits);
    for (guint i = 0; i < rw->edits->len; i++) {
        const Edit *edit = &g_array_index(rw->edits, Edit, i);

        if (edit->start < pos) {
            g_string_free(out, TRUE);
            g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID, "internal error: overlapping edits");
            return NULL;
        }
        g_string_append_len(out, text + pos, (gssize) (edit->start - pos));
        g_string_append(out, edit->text);
        pos = edit->end;
    }
    g_string_append_len(out, text + pos, (gssize) (in_len - pos));
    if (len)
        *len = out->len;
    return g_string_free(out, FALSE);
}

/* What the rewritten domain, read back, fails to carry of the plan; NULL
 * when it carries all of it. */
static const char *
broken_invariant(const VnumaRequest *again, const VnumaRequest *request, const VnumaLayout *layout,
                 const VnumaStamp *stamp)
{
    const GPtrArray *cells = layout->owner_cells ? request->cells : layout->cells;
    const VnumaGuestTopology *topology = layout->write_topology ? &layout->topology : &request->topology;

    if (again->vcpus != request->vcpus || again->current_vcpus != request->current_vcpus)
        return "changed the vCPU count";
    if (again->memory_kib != request->memory_kib)
        return "changed the memory size";
    if (!vnuma_cells_equal(again->cells, cells) || !vnuma_cells_distances_equal(again->cells, cells))
        return "does not hold the planned guest cells";
    if (!vnuma_guest_topology_equal(&again->topology, topology))
        return "does not hold the planned guest topology";
    if (!vnuma_pinset_equal(layout->pins, again->pins))
        return "does not hold the planned pins and numatune";
    if (!again->stamp || !vnuma_stamp_equal(again->stamp, stamp))
        return "does not hold vnuma's record of the plan";
    return NULL;
}

/* The splice is checked by reading its result back as any consumer
 * would: output that is not well-formed or lost part of the plan is an
 * error, so the caller (the hook fails open) keeps the input. */
static gboolean
check_rewritten(const char *text, gsize len, const VnumaRequest *request,
                const VnumaLayout *layout, const VnumaStamp *stamp, GError **error)
{
    g_autoptr(GError) local = NULL;
    g_autoptr(VnumaXmlSource) src = vnuma_xml_source_parse_read_only(text, len, "the rewritten domain", &local);
    g_autoptr(VnumaRequest) again = src ? vnuma_request_from_domain(src, &local) : NULL;
    const char *broken;

    if (!again) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID,
                    "internal error: the rewritten domain does not read back: %s", local->message);
        return FALSE;
    }
    broken = broken_invariant(again, request, layout, stamp);
    if (broken) {
        /* What reading it back found odd says why (a part it could not read). */
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID, "internal error: the rewritten domain %s%s%s",
                    broken, again->warnings->len ? ": " : "",
                    again->warnings->len ? (const char *) again->warnings->pdata[0] : "");
        return FALSE;
    }
    return TRUE;
}

/* Only a managed layout with pins changes the domain; any other leaves
 * the input as it is. */
static gboolean
layout_rewrites(const VnumaLayout *layout)
{
    return layout->managed && layout->pins;
}

/* The splice of a layout that rewrites the domain, with its record @stamp. */
static char *
rewrite_spliced(const VnumaXmlSource *src, const VnumaRequest *request, const VnumaLayout *layout,
                const VnumaStamp *stamp, gsize *len, GError **error)
{
    g_autoptr(xmlXPathContext) xpath = vnuma_xml_xpath_new(vnuma_xml_source_doc(src));
    g_autoptr(GArray) edits = g_array_new(FALSE, TRUE, sizeof(Edit));
    Rewriter rw = { src, xpath, edits, stamp };

    g_array_set_clear_func(edits, edit_clear);
    if (!rewrite_cpu(&rw, request, layout, error))
        return NULL;
    if (pins_change(request, layout) &&
        (!rewrite_cputune(&rw, layout, error) || !rewrite_numatune(&rw, layout, error)))
        return NULL;
    if (!rewrite_record(&rw, request, layout, error))
        return NULL;
    return apply_edits(&rw, len, error);
}

/* The input as it is, for a layout that leaves it. */
static char *
rewrite_nothing(const VnumaXmlSource *src, gsize *len)
{
    gsize in_len;
    const char *text = vnuma_xml_source_text(src, &in_len);

    if (len)
        *len = in_len;
    return g_strndup(text, in_len);
}

/* Whether any part changes (the splice edits a part only then). */
static gboolean
layout_changes(const VnumaXmlSource *src, const VnumaRequest *request, const VnumaLayout *layout)
{
    g_autoptr(xmlXPathContext) xpath = NULL;
    g_autoptr(VnumaStamp) stamp = NULL;

    if (cells_change(request, layout) || pins_change(request, layout))
        return TRUE;
    xpath = vnuma_xml_xpath_new(vnuma_xml_source_doc(src));
    if (topology_changes(vnuma_xml_node(xpath, NULL, "/domain/cpu/topology"), request, layout))
        return TRUE;
    stamp = vnuma_layout_to_stamp(layout);
    return record_changes(vnuma_xml_node(xpath, NULL, "/domain/metadata/vnumal:layout"), request, stamp);
}

gboolean
vnuma_domain_rewrite_changes(const VnumaXmlSource *src, const VnumaRequest *request,
                             const VnumaLayout *layout, gboolean *changes, GError **error)
{
    *changes = layout_rewrites(layout) && layout_changes(src, request, layout);
    /* A splice needs the input's bytes where the parser saw them. */
    if (*changes && vnuma_xml_source_reencoded(src)) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID,
                    "cannot locate <domain> in the input bytes (not UTF-8?)");
        return FALSE;
    }
    return TRUE;
}

char *
vnuma_domain_rewrite(const VnumaXmlSource *src, const VnumaRequest *request,
                     const VnumaLayout *layout, gsize *len, GError **error)
{
    g_autoptr(VnumaStamp) stamp = NULL;
    g_autofree char *output = NULL;
    gsize out_len = 0;

    /* The input given back unchanged needs no check. */
    if (!layout_rewrites(layout))
        return rewrite_nothing(src, len);
    stamp = vnuma_layout_to_stamp(layout);
    output = rewrite_spliced(src, request, layout, stamp, &out_len, error);
    if (!output || !check_rewritten(output, out_len, request, layout, stamp, error))
        return NULL;
    if (len)
        *len = out_len;
    return g_steal_pointer(&output);
}
