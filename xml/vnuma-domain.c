/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "xml/vnuma-domain.h"

#include "lib/vnuma-error.h"

static VnumaCpuSet *
parse_set_prop(const xmlNode *node, const char *attr, gboolean required, GError **error)
{
    g_autofree char *text = vnuma_xml_prop(node, attr);
    g_autoptr(GError) local = NULL;
    VnumaCpuSet *set;

    if (!text) {
        if (required)
            g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID,
                        "domain XML: <%s> has no %s", (const char *) node->name, attr);
        return NULL;
    }
    set = vnuma_cpuset_parse(text, &local);
    if (!set)
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID, "domain XML: <%s %s='%s'>: %s",
                    (const char *) node->name, attr, text, local->message);
    return set;
}

static gboolean
parse_uint_prop(const xmlNode *node, const char *attr, guint *out, gboolean *present, GError **error)
{
    guint64 value = 0;
    gboolean here = FALSE;

    if (!vnuma_xml_prop_uint(node, attr, &value, &here, error))
        return FALSE;
    if (here && value > VNUMA_CPUSET_MAX_ID) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID, "domain XML: <%s %s='%" G_GUINT64_FORMAT
                    "'> is out of range", (const char *) node->name, attr, value);
        return FALSE;
    }
    *out = (guint) value;
    if (present)
        *present = here;
    return TRUE;
}

/* <vcpus><vcpu id enabled hotpluggable/></vcpus> (libvirt ≥ 2.2): the
 * vCPUs online at start are the enabled ones, whatever <vcpu current>
 * says (KubeVirt writes no current). Without it: 0 … current−1. */
static gboolean
read_vcpu_states(VnumaRequest *request, xmlXPathContext *xpath, GError **error)
{
    g_autoptr(GPtrArray) states = vnuma_xml_nodes(xpath, NULL, "/domain/vcpus/vcpu");
    g_autoptr(VnumaCpuSet) online = vnuma_cpuset_new();

    if (states->len == 0) {
        request->online_vcpus = vnuma_cpuset_new_range(0, MAX(request->current_vcpus, 1) - 1);
        return TRUE;
    }
    for (guint i = 0; i < states->len; i++) {
        g_autofree char *enabled = vnuma_xml_prop(states->pdata[i], "enabled");
        g_autofree char *hotpluggable = vnuma_xml_prop(states->pdata[i], "hotpluggable");
        guint id;

        if (!parse_uint_prop(states->pdata[i], "id", &id, NULL, error))
            return FALSE;
        if (id >= request->vcpus) {
            g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID,
                        "domain XML: <vcpus><vcpu id='%u'> is beyond the %u vCPUs", id, request->vcpus);
            return FALSE;
        }
        if (g_strcmp0(enabled, "no") != 0)
            vnuma_cpuset_add(online, id);
        if (g_strcmp0(hotpluggable, "yes") == 0)
            request->hotplug_by_socket = TRUE;
    }
    if (vnuma_cpuset_is_empty(online)) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID,
                    "domain XML: <vcpus> enables no vCPU");
        return FALSE;
    }
    request->current_vcpus = vnuma_cpuset_count(online);
    request->online_vcpus = g_steal_pointer(&online);
    return TRUE;
}

static gboolean
read_vcpus(VnumaRequest *request, xmlXPathContext *xpath, GError **error)
{
    xmlNode *vcpu = vnuma_xml_node(xpath, NULL, "/domain/vcpu");
    g_autofree char *text = NULL;
    g_autofree char *placement = NULL;
    guint64 count;
    gboolean present;

    if (!vcpu) {
        request->vcpus = request->current_vcpus = 1;   /* libvirt's default */
        request->online_vcpus = vnuma_cpuset_new_range(0, 0);
        return TRUE;
    }
    text = vnuma_xml_string(xpath, vcpu, "normalize-space(.)");
    if (!text || !g_ascii_string_to_unsigned(text, 10, 1, VNUMA_CPUSET_MAX_ID, &count, NULL)) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID,
                    "domain XML: <vcpu> holds '%s', not a vCPU count", text ? text : "");
        return FALSE;
    }
    request->vcpus = (guint) count;
    if (!parse_uint_prop(vcpu, "current", &request->current_vcpus, &present, error))
        return FALSE;
    if (!present)
        request->current_vcpus = request->vcpus;
    if (!read_vcpu_states(request, xpath, error))
        return FALSE;
    placement = vnuma_xml_prop(vcpu, "placement");
    request->placement_auto = g_strcmp0(placement, "auto") == 0;
    if (vnuma_xml_node(xpath, vcpu, "@cpuset"))
        return (request->vcpu_cpuset = parse_set_prop(vcpu, "cpuset", TRUE, error)) != NULL;
    return TRUE;
}

/* Hot-plug memory devices (DIMM, NVDIMM, virtio-mem, ...): <memory>
 * counts them, the guest cells do not. */
static gboolean
read_memory_devices(VnumaRequest *request, xmlXPathContext *xpath, GError **error)
{
    g_autoptr(GPtrArray) sizes = vnuma_xml_nodes(xpath, NULL, "/domain/devices/memory/target/size");

    request->device_memory_kib = 0;
    for (guint i = 0; i < sizes->len; i++) {
        guint64 kib;

        if (!vnuma_xml_memory_kib(sizes->pdata[i], "unit", &kib, error))
            return FALSE;
        request->device_memory_kib += kib;
    }
    return TRUE;
}

static gboolean
read_memory(VnumaRequest *request, xmlXPathContext *xpath, GError **error)
{
    xmlNode *memory = vnuma_xml_node(xpath, NULL, "/domain/memory");
    xmlNode *page;
    guint64 size;
    gboolean present;

    /* Without <memory>, libvirt sums the <numa> cells (read_guest_cpu). */
    if (memory && !vnuma_xml_memory_kib(memory, "unit", &request->memory_kib, error))
        return FALSE;
    if (!read_memory_devices(request, xpath, error))
        return FALSE;
    if (!vnuma_xml_node(xpath, NULL, "/domain/memoryBacking/hugepages"))
        return TRUE;
    request->hugepages = TRUE;
    request->page_kib = 0;
    /* A page without a nodeset applies to the whole guest. */
    page = vnuma_xml_node(xpath, NULL, "/domain/memoryBacking/hugepages/page[not(@nodeset)]");
    if (!page)
        page = vnuma_xml_node(xpath, NULL, "/domain/memoryBacking/hugepages/page");
    if (!page)
        return TRUE;
    if (!vnuma_xml_prop_uint(page, "size", &size, &present, error))
        return FALSE;
    if (present) {
        g_autofree char *unit = vnuma_xml_prop(page, "unit");

        if (!vnuma_xml_scale_kib(size, unit, &request->page_kib, error))
            return FALSE;
    }
    return TRUE;
}

static gboolean
read_pins(VnumaRequest *request, xmlXPathContext *xpath, GError **error)
{
    g_autoptr(GPtrArray) vcpupins = vnuma_xml_nodes(xpath, NULL, "/domain/cputune/vcpupin");
    g_autoptr(GPtrArray) memnodes = vnuma_xml_nodes(xpath, NULL, "/domain/numatune/memnode");
    xmlNode *emulatorpin = vnuma_xml_node(xpath, NULL, "/domain/cputune/emulatorpin");
    xmlNode *memory = vnuma_xml_node(xpath, NULL, "/domain/numatune/memory");
    VnumaPinSet *pins = request->pins;

    for (guint i = 0; i < vcpupins->len; i++) {
        guint vcpu;
        VnumaCpuSet *cpuset;

        if (!parse_uint_prop(vcpupins->pdata[i], "vcpu", &vcpu, NULL, error) ||
            !(cpuset = parse_set_prop(vcpupins->pdata[i], "cpuset", TRUE, error)))
            return FALSE;
        vnuma_pinset_add_vcpupin(pins, vcpu, cpuset);
    }
    if (emulatorpin && !(pins->emulatorpin = parse_set_prop(emulatorpin, "cpuset", TRUE, error)))
        return FALSE;
    pins->has_numatune = vnuma_xml_node(xpath, NULL, "/domain/numatune") != NULL;
    if (memory) {
        g_autofree char *placement = vnuma_xml_prop(memory, "placement");

        pins->memory_mode = vnuma_xml_prop(memory, "mode");
        if (g_strcmp0(placement, "auto") == 0)
            request->placement_auto = TRUE;
        else if (vnuma_xml_node(xpath, memory, "@nodeset") &&
                 !(pins->memory_nodeset = parse_set_prop(memory, "nodeset", TRUE, error)))
            return FALSE;
    }
    for (guint i = 0; i < memnodes->len; i++) {
        guint cell;
        VnumaCpuSet *nodeset;

        if (!parse_uint_prop(memnodes->pdata[i], "cellid", &cell, NULL, error) ||
            !(nodeset = parse_set_prop(memnodes->pdata[i], "nodeset", TRUE, error)))
            return FALSE;
        vnuma_pinset_add_memnode(pins, cell, nodeset);
    }
    return TRUE;
}

/* An absent dies is 1, as libvirt reads it (dies came in libvirt 5.1). */
static gboolean
read_topology(const xmlNode *node, VnumaGuestTopology *topo, GError **error)
{
    gboolean has_dies = FALSE;

    if (!parse_uint_prop(node, "sockets", &topo->sockets, NULL, error) ||
        !parse_uint_prop(node, "dies", &topo->dies, &has_dies, error) ||
        !parse_uint_prop(node, "cores", &topo->cores, NULL, error) ||
        !parse_uint_prop(node, "threads", &topo->threads, NULL, error))
        return FALSE;
    if (!has_dies)
        topo->dies = 1;
    return TRUE;
}

/* <distances><sibling id value/></distances> of a guest cell. */
static gboolean
read_distances(VnumaCell *cell, const xmlNode *node, GError **error)
{
    for (const xmlNode *child = node->children; child; child = child->next) {
        if (child->type != XML_ELEMENT_NODE || !xmlStrEqual(child->name, BAD_CAST "distances"))
            continue;
        for (const xmlNode *sibling = child->children; sibling; sibling = sibling->next) {
            guint id, value;

            if (sibling->type != XML_ELEMENT_NODE || !xmlStrEqual(sibling->name, BAD_CAST "sibling"))
                continue;
            if (!parse_uint_prop(sibling, "id", &id, NULL, error) ||
                !parse_uint_prop(sibling, "value", &value, NULL, error))
                return FALSE;
            vnuma_cell_set_distance(cell, id, value);
        }
    }
    return TRUE;
}

static VnumaCell *
read_cell(const xmlNode *node, const char *memory_attr, GError **error)
{
    g_autoptr(VnumaCpuSet) vcpus = NULL;
    g_autoptr(VnumaCell) cell = NULL;
    guint64 value, kib;
    gboolean present;
    g_autofree char *unit = vnuma_xml_prop(node, "unit");

    /* A guest cell may hold memory only (libvirt ≥ 6.5: HMAT, CXL-like guests). */
    vcpus = xmlHasProp(node, BAD_CAST "cpus") ? parse_set_prop(node, "cpus", TRUE, error)
                                                 : vnuma_cpuset_new();
    if (!vcpus || !vnuma_xml_prop_uint(node, memory_attr, &value, &present, error))
        return NULL;
    if (!present) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID, "domain XML: <%s> has no %s",
                    (const char *) node->name, memory_attr);
        return NULL;
    }
    if (!vnuma_xml_scale_kib(value, unit, &kib, error))
        return NULL;
    cell = vnuma_cell_new(g_steal_pointer(&vcpus), kib);
    if (!read_distances(cell, node, error))
        return NULL;
    return g_steal_pointer(&cell);
}

/* libvirt's rule for guest cells, applied to vnuma's record too: a vCPU
 * sits in at most one set, and below V. An overlap would count a vCPU's
 * memory twice and pin it twice. Adds @vcpus to @claimed. */
static gboolean
claim_vcpus(VnumaCpuSet *claimed, const VnumaCpuSet *vcpus, guint v, const xmlNode *node,
            GError **error)
{
    g_autofree char *text = vnuma_cpuset_format(vcpus);
    gint last = vnuma_cpuset_last(vcpus);

    if (vnuma_cpuset_intersects(claimed, vcpus)) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID,
                    "domain XML: <%s> vCPUs %s overlap an earlier <%s>",
                    (const char *) node->name, text, (const char *) node->name);
        return FALSE;
    }
    if (last >= 0 && (guint) last >= v) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID,
                    "domain XML: <%s> vCPUs %s go beyond the %u vCPUs",
                    (const char *) node->name, text, v);
        return FALSE;
    }
    vnuma_cpuset_union(claimed, vcpus);
    return TRUE;
}

/* libvirt's rule: ids 0..n-1 (absent: the position), each once. */
static gboolean
check_cell_id(const GPtrArray *cells, guint id, GError **error)
{
    if (id >= cells->len) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID,
                    "domain XML: <cell id='%u'> is out of range for %u cells (ids are 0 to %u)",
                    id, cells->len, cells->len - 1);
        return FALSE;
    }
    if (cells->pdata[id]) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID,
                    "domain XML: two <cell> elements have id='%u'", id);
        return FALSE;
    }
    return TRUE;
}

static gboolean
read_guest_cpu(VnumaRequest *request, xmlXPathContext *xpath, GError **error)
{
    xmlNode *topology = vnuma_xml_node(xpath, NULL, "/domain/cpu/topology");
    g_autoptr(GPtrArray) cells = vnuma_xml_nodes(xpath, NULL, "/domain/cpu/numa/cell");
    g_autoptr(VnumaCpuSet) claimed = vnuma_cpuset_new();

    if (topology && !read_topology(topology, &request->topology, error))
        return FALSE;
    /* request->cells is indexed by cell id, as libvirt stores them: the
     * document order is not the guest's order (cpu-numa2.xml lists id 1
     * first), and <memnode cellid> refers to the id. */
    g_ptr_array_set_size(request->cells, cells->len);
    for (guint i = 0; i < cells->len; i++) {
        guint id;
        gboolean has_id;
        VnumaCell *cell;

        if (!parse_uint_prop(cells->pdata[i], "id", &id, &has_id, error))
            return FALSE;
        if (!has_id)
            id = i;
        if (!check_cell_id(request->cells, id, error) ||
            !(cell = read_cell(cells->pdata[i], "memory", error)))
            return FALSE;
        request->cells->pdata[id] = cell;
        if (!claim_vcpus(claimed, cell->vcpus, request->vcpus, cells->pdata[i], error))
            return FALSE;
    }
    if (!vnuma_xml_node(xpath, NULL, "/domain/memory")) {
        for (guint i = 0; i < request->cells->len; i++)
            request->memory_kib += ((VnumaCell *) request->cells->pdata[i])->memory_kib;
        request->memory_kib += request->device_memory_kib;
    }
    return TRUE;
}

static void
read_policy(VnumaRequest *request, xmlXPathContext *xpath)
{
    xmlNode *policy = vnuma_xml_node(xpath, NULL, "/domain/metadata/vnuma:policy");

    if (!policy)
        return;
    request->policy_present = TRUE;
    for (xmlAttr *attr = policy->properties; attr; attr = attr->next) {
        xmlChar *value = xmlNodeListGetString(policy->doc, attr->children, 1);

        vnuma_request_add_override(request, (const char *) attr->name,
                                   value ? (const char *) value : "");
        xmlFree(value);
    }
}

/* oVirt ≥ 4.5: <ovirt-vm:vm><ovirt-vm:cpuPolicy>. With "none" (and
 * "manual" for the vCPUs it leaves unpinned) VDSM re-pins every vCPU
 * to its shared CPU pool once the domain runs (cpumanagement.py); the
 * dedicated policies give each vCPU host CPUs of its own. */
static void
read_cpu_owner(VnumaRequest *request, xmlXPathContext *xpath)
{
    g_autofree char *policy =
        vnuma_xml_string(xpath, NULL, "normalize-space(/domain/metadata/ovirtvm:vm/ovirtvm:cpuPolicy)");

    if (!policy || !*policy)
        return;
    if (g_str_equal(policy, "none") || g_str_equal(policy, "manual"))
        request->cpu_owner = VNUMA_CPU_OWNER_SHARED;
    else
        request->cpu_owner = VNUMA_CPU_OWNER_DEDICATED;   /* dedicated, siblings, isolate-threads, … */
    request->cpu_owner_policy = g_steal_pointer(&policy);
}

static VnumaStamp *
read_stamp(xmlXPathContext *xpath, xmlNode *record, GError **error)
{
    g_autoptr(VnumaStamp) stamp = vnuma_stamp_new();
    g_autoptr(GPtrArray) clients = vnuma_xml_nodes(xpath, record, "vnumal:client");
    g_autoptr(GPtrArray) cells = vnuma_xml_nodes(xpath, record, "vnumal:cell");
    xmlNode *topology = vnuma_xml_node(xpath, record, "vnumal:topology");
    g_autoptr(VnumaCpuSet) claimed_by_clients = vnuma_cpuset_new();
    g_autoptr(VnumaCpuSet) claimed_by_cells = vnuma_cpuset_new();
    gboolean present;

    if (!parse_uint_prop(record, "version", &stamp->version, NULL, error) ||
        !parse_uint_prop(record, "vcpus", &stamp->vcpus, &present, error))
        return NULL;
    stamp->host = vnuma_xml_prop(record, "host");
    stamp->pins_digest = vnuma_xml_prop(record, "pins");
    for (guint i = 0; i < clients->len; i++) {
        g_autoptr(VnumaCpuSet) vcpus = parse_set_prop(clients->pdata[i], "vcpus", TRUE, error);
        VnumaStampClient client = { 0 };

        if (!vcpus ||
            !claim_vcpus(claimed_by_clients, vcpus, stamp->vcpus, clients->pdata[i], error) ||
            !parse_uint_prop(clients->pdata[i], "node", &client.home_node, NULL, error) ||
            !vnuma_xml_prop_uint(clients->pdata[i], "memory", &client.memory_kib, &present, error))
            return NULL;
        client.vcpus = g_steal_pointer(&vcpus);
        g_array_append_val(stamp->clients, client);
    }
    for (guint i = 0; i < cells->len; i++) {
        VnumaCell *cell = read_cell(cells->pdata[i], "memory", error);

        if (!cell)
            return NULL;
        g_ptr_array_add(stamp->cells, cell);
        if (!claim_vcpus(claimed_by_cells, cell->vcpus, stamp->vcpus, cells->pdata[i], error))
            return NULL;
    }
    if (topology) {
        stamp->wrote_topology = TRUE;
        if (!read_topology(topology, &stamp->topology, error))
            return NULL;
    }
    if (stamp->version != 1 || stamp->vcpus == 0 || stamp->clients->len == 0) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID,
                    "version 1, vcpus and at least one client are required");
        return NULL;
    }
    return g_steal_pointer(&stamp);
}

/* Elements libvirt has once per domain and vnuma reads or rewrites: a
 * second copy would make vnuma read one and libvirt another. */
static gboolean
check_single_elements(xmlXPathContext *xpath, GError **error)
{
    static const char *const singles[] = {
        "vcpu", "memory", "memoryBacking", "cpu", "cpu/topology", "cpu/numa", "cputune",
        "cputune/emulatorpin", "numatune", "numatune/memory",
    };

    for (gsize i = 0; i < G_N_ELEMENTS(singles); i++) {
        g_autofree char *expr = g_strconcat("/domain/", singles[i], NULL);
        g_autoptr(GPtrArray) nodes = vnuma_xml_nodes(xpath, NULL, expr);

        if (nodes->len > 1) {
            g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID,
                        "domain XML has %u <%s> elements; libvirt allows one",
                        nodes->len, singles[i]);
            return FALSE;
        }
    }
    return TRUE;
}

/* Memory and guest cells, which only sizing needs. Rule 9 comes first:
 * a domain someone else placed is not managed whatever its cells say,
 * so a pinned fragment without <memory> or with a cell vnuma cannot
 * read is "not managed", not an error. */
static gboolean
read_sized_parts(VnumaRequest *request, xmlXPathContext *xpath, GError **error)
{
    g_autoptr(GError) local = NULL;

    if (read_memory(request, xpath, &local) && read_guest_cpu(request, xpath, &local))
        return TRUE;
    if (!vnuma_request_has_foreign_pins(request)) {
        g_propagate_error(error, g_steal_pointer(&local));
        return FALSE;
    }
    g_ptr_array_add(request->warnings,
                    g_strdup_printf("%s (not read: the domain carries placement vnuma did not write)",
                                    local->message));
    g_ptr_array_set_size(request->cells, 0);
    return TRUE;
}

VnumaStamp *
vnuma_stamp_from_xml(const char *xml, gsize len, GError **error)
{
    g_autoptr(VnumaXmlSource) src = vnuma_xml_source_parse_read_only(xml, len, "vnuma:layout record", error);
    g_autoptr(xmlXPathContext) xpath = NULL;
    xmlNode *record;

    if (!src)
        return NULL;
    xpath = vnuma_xml_xpath_new(vnuma_xml_source_doc(src));
    record = vnuma_xml_node(xpath, NULL, "/vnumal:layout");
    if (!record) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID,
                    "not a vnuma record: the root element is not <layout> in " VNUMA_LAYOUT_NAMESPACE);
        return NULL;
    }
    return read_stamp(xpath, record, error);
}

VnumaRequest *
vnuma_request_from_domain(const VnumaXmlSource *src, GError **error)
{
    xmlDoc *doc = vnuma_xml_source_doc(src);
    xmlNode *root = xmlDocGetRootElement(doc);
    g_autoptr(xmlXPathContext) xpath = vnuma_xml_xpath_new(doc);
    g_autoptr(VnumaRequest) request = vnuma_request_new();
    xmlNode *record;

    if (!xmlStrEqual(root->name, BAD_CAST "domain")) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID,
                    "not a domain XML: the root element is <%s>", (const char *) root->name);
        return NULL;
    }
    if (!check_single_elements(xpath, error))
        return NULL;
    request->type = vnuma_xml_prop(root, "type");
    request->name = vnuma_xml_string(xpath, NULL, "normalize-space(/domain/name)");
    if (!read_vcpus(request, xpath, error) || !read_pins(request, xpath, error))
        return NULL;
    read_policy(request, xpath);
    read_cpu_owner(request, xpath);
    record = vnuma_xml_node(xpath, NULL, "/domain/metadata/vnumal:layout");
    if (record) {
        g_autoptr(GError) local = NULL;

        request->stamp = read_stamp(xpath, record, &local);
        if (!request->stamp)
            g_ptr_array_add(request->warnings,
                            g_strdup_printf("vnuma:layout record is unreadable (%s); sizing afresh",
                                            local->message));
    }
    if (!read_sized_parts(request, xpath, error))
        return NULL;
    return g_steal_pointer(&request);
}
