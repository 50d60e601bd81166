/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "xml/vnuma-caps.h"

#include "lib/vnuma-error.h"
#include "xml/vnuma-xmlutil.h"

/* Every error from here starts with this, so a caller that prints it
 * alone still says which input was wrong. */
#define WHAT "capabilities XML"

/* Reads an unsigned attribute no larger than @max. @where names the
 * element for errors ("cell 1", "cell 1 cpu 7"); NULL for the cell's own
 * id, which is not known yet. */
/* "cell N", or "cell N cpu M" for @cpu >= 0: where a message points.
 * Formatted only for an error: a host has hundreds of CPUs to read. */
static char *
caps_where(const char *where, gint64 cpu)
{
    if (cpu < 0)
        return g_strdup(where ? where : "cell");
    return g_strdup_printf("%s cpu %" G_GINT64_FORMAT, where, cpu);
}

static gboolean
caps_uint(const xmlNode *node, const char *name, guint64 max, const char *where, gint64 cpu,
          guint64 *value, gboolean *present, GError **error)
{
    if (!vnuma_xml_prop_uint(node, name, value, present, error)) {
        g_autofree char *at = caps_where(where, cpu);

        g_prefix_error(error, WHAT ", %s: ", at);
        return FALSE;
    }
    if (*present && *value > max) {
        g_autofree char *at = caps_where(where, cpu);

        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID,
                    WHAT ", %s: <%s %s='%" G_GUINT64_FORMAT "'> is above %" G_GUINT64_FORMAT,
                    at, (const char *) node->name, name, *value, max);
        return FALSE;
    }
    return TRUE;
}

/* Like caps_uint(), for attributes the element cannot do without. */
static gboolean
caps_required_uint(const xmlNode *node, const char *name, guint64 max, const char *where,
                   gint64 cpu, guint64 *value, GError **error)
{
    gboolean present;

    if (!caps_uint(node, name, max, where, cpu, value, &present, error))
        return FALSE;
    if (!present) {
        g_autofree char *at = caps_where(where, cpu);

        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID,
                    WHAT ", %s: <%s> has no '%s' attribute", at, (const char *) node->name, name);
        return FALSE;
    }
    return TRUE;
}

/* <pages unit='KiB' size='2048'>512</pages>: the element text is a page
 * count, not an amount of memory, so only the size is scaled. */
static gboolean
caps_parse_pages(const xmlNode *pages, VnumaHostNode *node, const char *where, GError **error)
{
    g_autofree char *unit = vnuma_xml_prop(pages, "unit");
    xmlChar *content = NULL;
    g_autofree char *text = NULL;
    guint64 size, size_kib, count;

    if (!caps_required_uint(pages, "size", G_MAXUINT64, where, -1, &size, error))
        return FALSE;
    if (!vnuma_xml_scale_kib(size, unit, &size_kib, error)) {
        g_prefix_error(error, WHAT ", %s: <pages>: ", where);
        return FALSE;
    }
    if (size_kib == 0) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID,
                    WHAT ", %s: <pages size='%" G_GUINT64_FORMAT "'> is zero", where, size);
        return FALSE;
    }
    content = xmlNodeGetContent(pages);
    text = g_strstrip(g_strdup(content ? (const char *) content : ""));
    xmlFree(content);
    if (!g_ascii_string_to_unsigned(text, 10, 0, G_MAXUINT64, &count, NULL)) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID,
                    WHAT ", %s: <pages size='%" G_GUINT64_FORMAT "'> holds '%s', not a page count",
                    where, size, text);
        return FALSE;
    }
    /* Capabilities give pool sizes only; free counts need the live host. */
    vnuma_host_node_add_pages(node, size_kib, count, -1);
    return TRUE;
}

static gboolean
caps_parse_distance(const xmlNode *sibling, VnumaHostNode *node, const char *where,
                    GError **error)
{
    guint64 id, value;

    if (!caps_required_uint(sibling, "id", VNUMA_CPUSET_MAX_ID, where, -1, &id, error) ||
        !caps_required_uint(sibling, "value", G_MAXUINT, where, -1, &value, error))
        return FALSE;
    vnuma_host_node_add_distance(node, (guint) id, (guint) value);
    return TRUE;
}

/* libvirt prints an offline CPU as a bare <cpu id='N'/>: its topology
 * files are gone from sysfs, so socket_id is what tells the two apart. */
static gboolean
caps_parse_cpu(const xmlNode *cpu, VnumaHostNode *node, const char *cell_where, GError **error)
{
    g_autofree char *siblings_text = NULL;
    g_autoptr(VnumaCpuSet) siblings = NULL;
    guint64 id, socket_id, die_id = 0, core_id;
    gboolean present;

    if (!caps_required_uint(cpu, "id", VNUMA_CPUSET_MAX_ID, cell_where, -1, &id, error))
        return FALSE;
    if (!caps_uint(cpu, "socket_id", G_MAXUINT, cell_where, (gint64) id, &socket_id, &present, error))
        return FALSE;
    if (!present) {
        vnuma_host_node_add_cpu(node, (guint) id, FALSE, 0, 0, 0, NULL);
        return TRUE;
    }
    /* libvirt before 6.0 printed no die_id: one die per socket. */
    if (!caps_uint(cpu, "die_id", G_MAXUINT, cell_where, (gint64) id, &die_id, &present, error) ||
        !caps_required_uint(cpu, "core_id", G_MAXUINT, cell_where, (gint64) id, &core_id, error))
        return FALSE;
    siblings_text = vnuma_xml_prop(cpu, "siblings");
    if (!siblings_text) {
        g_autofree char *at = caps_where(cell_where, (gint64) id);

        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID,
                    WHAT ", %s: <cpu> has no 'siblings' attribute", at);
        return FALSE;
    }
    siblings = vnuma_cpuset_parse(siblings_text, error);
    if (!siblings) {
        g_autofree char *at = caps_where(cell_where, (gint64) id);

        g_prefix_error(error, WHAT ", %s: attribute 'siblings': ", at);
        return FALSE;
    }
    vnuma_host_node_add_cpu(node, (guint) id, TRUE, (guint) socket_id, (guint) die_id,
                            (guint) core_id, g_steal_pointer(&siblings));
    return TRUE;
}

static gboolean
caps_parse_cell(xmlXPathContext *xpath, xmlNode *cell, VnumaHost *host, GError **error)
{
    g_autofree char *where = NULL;
    g_autoptr(GPtrArray) pages = NULL;
    g_autoptr(GPtrArray) siblings = NULL;
    g_autoptr(GPtrArray) cpus = NULL;
    xmlNode *memory;
    guint64 id, memory_kib = 0;
    VnumaHostNode *node;

    if (!caps_required_uint(cell, "id", VNUMA_CPUSET_MAX_ID, NULL, -1, &id, error))
        return FALSE;
    where = g_strdup_printf("cell %" G_GUINT64_FORMAT, id);

    /* The schema makes <memory> optional; a cell without it has none to offer. */
    memory = vnuma_xml_node(xpath, cell, "memory");
    if (memory && !vnuma_xml_memory_kib(memory, "unit", &memory_kib, error)) {
        g_prefix_error(error, WHAT ", %s: ", where);
        return FALSE;
    }
    node = vnuma_host_add_node(host, (guint) id, memory_kib);

    pages = vnuma_xml_nodes(xpath, cell, "pages");
    for (guint i = 0; i < pages->len; i++) {
        if (!caps_parse_pages(pages->pdata[i], node, where, error))
            return FALSE;
    }
    siblings = vnuma_xml_nodes(xpath, cell, "distances/sibling");
    for (guint i = 0; i < siblings->len; i++) {
        if (!caps_parse_distance(siblings->pdata[i], node, where, error))
            return FALSE;
    }
    cpus = vnuma_xml_nodes(xpath, cell, "cpus/cpu");
    for (guint i = 0; i < cpus->len; i++) {
        if (!caps_parse_cpu(cpus->pdata[i], node, where, error))
            return FALSE;
    }
    return TRUE;
}

VnumaHost *
vnuma_host_from_caps_xml(const char *xml, gsize len, GError **error)
{
    g_autoptr(VnumaXmlSource) src = vnuma_xml_source_parse_read_only(xml, len, WHAT, error);
    g_autoptr(xmlXPathContext) xpath = NULL;
    g_autoptr(GPtrArray) cells = NULL;
    g_autoptr(VnumaHost) host = NULL;
    xmlNode *root;

    if (!src)
        return NULL;
    root = xmlDocGetRootElement(vnuma_xml_source_doc(src));
    if (!xmlStrEqual(root->name, BAD_CAST "capabilities")) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID,
                    WHAT ": root element is <%s>, not <capabilities>", (const char *) root->name);
        return NULL;
    }
    xpath = vnuma_xml_xpath_new(vnuma_xml_source_doc(src));
    cells = vnuma_xml_nodes(xpath, NULL, "/capabilities/host/topology/cells/cell");
    if (cells->len == 0) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_NOT_FOUND,
                    WHAT " has no NUMA cells (<host><topology><cells>)");
        return NULL;
    }
    host = vnuma_host_new();
    for (guint i = 0; i < cells->len; i++) {
        if (!caps_parse_cell(xpath, cells->pdata[i], host, error))
            return NULL;
    }
    if (!vnuma_host_finish(host, error)) {
        g_prefix_error(error, WHAT ": ");
        return NULL;
    }
    return g_steal_pointer(&host);
}

VnumaHost *
vnuma_host_from_caps_file(const char *path, GError **error)
{
    g_autoptr(GError) local = NULL;
    g_autofree char *data = NULL;
    gsize len = 0;
    VnumaHost *host;

    if (!g_file_get_contents(path, &data, &len, &local)) {
        /* GLib's message already names the file. */
        g_set_error(error, VNUMA_ERROR,
                    g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT)
                        ? VNUMA_ERROR_NOT_FOUND : VNUMA_ERROR_IO,
                    "cannot read capabilities: %s", local->message);
        return NULL;
    }
    host = vnuma_host_from_caps_xml(data, len, error);
    if (!host)
        g_prefix_error(error, "%s: ", path);
    return host;
}
