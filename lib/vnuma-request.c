/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "lib/vnuma-request.h"

gboolean
vnuma_guest_topology_equal(const VnumaGuestTopology *a, const VnumaGuestTopology *b)
{
    return a->sockets == b->sockets && a->dies == b->dies && a->cores == b->cores &&
           a->threads == b->threads;
}

VnumaCell *
vnuma_cell_new(VnumaCpuSet *vcpus, guint64 memory_kib)
{
    VnumaCell *cell = g_new0(VnumaCell, 1);

    cell->vcpus = vcpus;
    cell->memory_kib = memory_kib;
    return cell;
}

void
vnuma_cell_free(VnumaCell *cell)
{
    if (!cell)
        return;
    vnuma_cpuset_free(cell->vcpus);
    if (cell->distances)
        g_array_unref(cell->distances);
    g_free(cell);
}

VnumaCell *
vnuma_cell_copy(const VnumaCell *cell)
{
    VnumaCell *copy = vnuma_cell_new(vnuma_cpuset_copy(cell->vcpus), cell->memory_kib);

    for (guint i = 0; cell->distances && i < cell->distances->len; i++)
        vnuma_cell_set_distance(copy, i, g_array_index(cell->distances, guint, i));
    return copy;
}

void
vnuma_cell_set_distance(VnumaCell *cell, guint sibling, guint value)
{
    if (!cell->distances)
        cell->distances = g_array_new(FALSE, TRUE, sizeof(guint));
    if (sibling >= cell->distances->len)
        g_array_set_size(cell->distances, sibling + 1);
    g_array_index(cell->distances, guint, sibling) = value;
}

static gboolean
distances_equal(const GArray *a, const GArray *b)
{
    guint len_a = a ? a->len : 0, len_b = b ? b->len : 0;

    for (guint i = 0; i < MAX(len_a, len_b); i++) {
        guint x = i < len_a ? g_array_index(a, guint, i) : 0;
        guint y = i < len_b ? g_array_index(b, guint, i) : 0;

        if (x != y)
            return FALSE;
    }
    return TRUE;
}

gboolean
vnuma_cells_distances_equal(const GPtrArray *a, const GPtrArray *b)
{
    if (a->len != b->len)
        return FALSE;
    for (guint i = 0; i < a->len; i++) {
        if (!distances_equal(((const VnumaCell *) a->pdata[i])->distances,
                             ((const VnumaCell *) b->pdata[i])->distances))
            return FALSE;
    }
    return TRUE;
}

gboolean
vnuma_cells_equal(const GPtrArray *a, const GPtrArray *b)
{
    if (a->len != b->len)
        return FALSE;
    for (guint i = 0; i < a->len; i++) {
        const VnumaCell *x = a->pdata[i];
        const VnumaCell *y = b->pdata[i];

        if (x->memory_kib != y->memory_kib || !vnuma_cpuset_equal(x->vcpus, y->vcpus))
            return FALSE;
    }
    return TRUE;
}

static void
vcpupin_clear(gpointer data)
{
    vnuma_cpuset_free(((VnumaVcpuPin *) data)->cpuset);
}

static void
memnode_clear(gpointer data)
{
    vnuma_cpuset_free(((VnumaMemnode *) data)->nodeset);
}

VnumaPinSet *
vnuma_pinset_new(void)
{
    VnumaPinSet *pins = g_new0(VnumaPinSet, 1);

    pins->vcpupins = g_array_new(FALSE, TRUE, sizeof(VnumaVcpuPin));
    g_array_set_clear_func(pins->vcpupins, vcpupin_clear);
    pins->memnodes = g_array_new(FALSE, TRUE, sizeof(VnumaMemnode));
    g_array_set_clear_func(pins->memnodes, memnode_clear);
    return pins;
}

void
vnuma_pinset_free(VnumaPinSet *pins)
{
    if (!pins)
        return;
    g_array_unref(pins->vcpupins);
    g_array_unref(pins->memnodes);
    vnuma_cpuset_free(pins->emulatorpin);
    vnuma_cpuset_free(pins->memory_nodeset);
    g_free(pins->memory_mode);
    g_free(pins);
}

/* Keeps @array, of structs led by a guint, sorted as it grows: the new
 * element goes after every one whose key is not above its own, the
 * order a stable sort after appending gave, without a sort per element
 * (a 64-vCPU domain's pins were 64 sorts at every hook call). */
static void
insert_sorted(GArray *array, gconstpointer element)
{
    guint key = *(const guint *) element;
    guint size = g_array_get_element_size(array);
    guint lo = 0, hi = array->len;

    while (lo < hi) {
        guint mid = lo + (hi - lo) / 2;

        if (*(const guint *) (void *) (array->data + (gsize) mid * size) <= key)
            lo = mid + 1;
        else
            hi = mid;
    }
    g_array_insert_vals(array, lo, element, 1);
}

void
vnuma_pinset_add_vcpupin(VnumaPinSet *pins, guint vcpu, VnumaCpuSet *cpuset)
{
    VnumaVcpuPin pin = { .vcpu = vcpu, .cpuset = cpuset };

    insert_sorted(pins->vcpupins, &pin);
}

void
vnuma_pinset_add_memnode(VnumaPinSet *pins, guint cell_id, VnumaCpuSet *nodeset)
{
    VnumaMemnode memnode = { .cell_id = cell_id, .nodeset = nodeset };

    pins->has_numatune = TRUE;
    insert_sorted(pins->memnodes, &memnode);
}

gboolean
vnuma_pinset_is_empty(const VnumaPinSet *pins)
{
    return pins->vcpupins->len == 0 && !pins->emulatorpin && !pins->has_numatune;
}

/* "label=LIST;" ("-" for none), without printf: the hook digests every
 * vCPU's pins at each call. */
static void
append_set(GString *out, const char *label, const VnumaCpuSet *set)
{
    g_string_append(out, label);
    g_string_append_c(out, '=');
    if (set)
        vnuma_cpuset_append(out, set);
    else
        g_string_append_c(out, '-');
    g_string_append_c(out, ';');
}

static GString *
pinset_canonical(const VnumaPinSet *pins)
{
    GString *out = g_string_new(NULL);

    for (guint i = 0; i < pins->vcpupins->len; i++) {
        const VnumaVcpuPin *pin = &g_array_index(pins->vcpupins, VnumaVcpuPin, i);

        g_string_append(out, "vcpu");
        vnuma_string_append_uint(out, pin->vcpu);
        g_string_append_c(out, ':');
        append_set(out, "cpuset", pin->cpuset);
    }
    append_set(out, "emulator", pins->emulatorpin);
    g_string_append_printf(out, "numatune=%d;mode=%s;", pins->has_numatune,
                           pins->memory_mode ? pins->memory_mode : "-");
    append_set(out, "nodeset", pins->memory_nodeset);
    for (guint i = 0; i < pins->memnodes->len; i++) {
        const VnumaMemnode *memnode = &g_array_index(pins->memnodes, VnumaMemnode, i);

        g_string_append(out, "memnode");
        vnuma_string_append_uint(out, memnode->cell_id);
        g_string_append_c(out, ':');
        append_set(out, "nodeset", memnode->nodeset);
    }
    return out;
}

char *
vnuma_pinset_digest(const VnumaPinSet *pins)
{
    g_autoptr(GString) out = pinset_canonical(pins);
    g_autofree char *digest = g_compute_checksum_for_string(G_CHECKSUM_SHA256, out->str,
                                                            (gssize) out->len);

    return g_strndup(digest, 16);
}

/* The canonical forms compared as they are: hashing them first (the hook
 * compares pins twice per call) would cost more than the comparison. */
gboolean
vnuma_pinset_equal(const VnumaPinSet *a, const VnumaPinSet *b)
{
    g_autoptr(GString) text_a = NULL;
    g_autoptr(GString) text_b = NULL;

    if (!a || !b)
        return a == b;
    text_a = pinset_canonical(a);
    text_b = pinset_canonical(b);
    return g_string_equal(text_a, text_b);
}

static void
stamp_client_clear(gpointer data)
{
    vnuma_cpuset_free(((VnumaStampClient *) data)->vcpus);
}

VnumaStamp *
vnuma_stamp_new(void)
{
    VnumaStamp *stamp = g_new0(VnumaStamp, 1);

    stamp->clients = g_array_new(FALSE, TRUE, sizeof(VnumaStampClient));
    g_array_set_clear_func(stamp->clients, stamp_client_clear);
    stamp->cells = g_ptr_array_new_with_free_func((GDestroyNotify) vnuma_cell_free);
    return stamp;
}

gboolean
vnuma_stamp_equal(const VnumaStamp *a, const VnumaStamp *b)
{
    if (a->version != b->version || a->vcpus != b->vcpus || g_strcmp0(a->host, b->host) ||
        g_strcmp0(a->pins_digest, b->pins_digest) || a->wrote_topology != b->wrote_topology ||
        (a->wrote_topology && !vnuma_guest_topology_equal(&a->topology, &b->topology)) ||
        a->clients->len != b->clients->len || !vnuma_cells_equal(a->cells, b->cells))
        return FALSE;
    for (guint i = 0; i < a->clients->len; i++) {
        const VnumaStampClient *x = &g_array_index(a->clients, VnumaStampClient, i);
        const VnumaStampClient *y = &g_array_index(b->clients, VnumaStampClient, i);

        if (x->home_node != y->home_node || x->memory_kib != y->memory_kib ||
            !vnuma_cpuset_equal(x->vcpus, y->vcpus))
            return FALSE;
    }
    return TRUE;
}

void
vnuma_stamp_free(VnumaStamp *stamp)
{
    if (!stamp)
        return;
    g_array_unref(stamp->clients);
    g_ptr_array_unref(stamp->cells);
    g_free(stamp->host);
    g_free(stamp->pins_digest);
    g_free(stamp);
}

static void
override_clear(gpointer data)
{
    VnumaOverride *override = data;

    g_free(override->name);
    g_free(override->value);
}

VnumaRequest *
vnuma_request_new(void)
{
    VnumaRequest *request = g_new0(VnumaRequest, 1);

    request->pins = vnuma_pinset_new();
    request->cells = g_ptr_array_new_with_free_func((GDestroyNotify) vnuma_cell_free);
    request->overrides = g_array_new(FALSE, TRUE, sizeof(VnumaOverride));
    g_array_set_clear_func(request->overrides, override_clear);
    request->page_kib = 4;
    request->warnings = g_ptr_array_new_with_free_func(g_free);
    return request;
}

void
vnuma_request_free(VnumaRequest *request)
{
    if (!request)
        return;
    g_free(request->name);
    g_free(request->type);
    vnuma_cpuset_free(request->vcpu_cpuset);
    vnuma_cpuset_free(request->online_vcpus);
    g_free(request->cpu_owner_policy);
    vnuma_pinset_free(request->pins);
    g_ptr_array_unref(request->cells);
    g_array_unref(request->overrides);
    vnuma_stamp_free(request->stamp);
    g_ptr_array_unref(request->warnings);
    g_free(request);
}

void
vnuma_request_add_override(VnumaRequest *request, const char *name, const char *value)
{
    VnumaOverride override = { .name = g_strdup(name), .value = g_strdup(value) };

    g_array_append_val(request->overrides, override);
}

void
vnuma_request_take_test_as_kvm(VnumaRequest *request)
{
    if (g_strcmp0(request->type, "test") != 0)
        return;
    g_free(request->type);
    request->type = g_strdup("kvm");
}

guint64
vnuma_request_cell_memory_kib(const VnumaRequest *request)
{
    return request->memory_kib > request->device_memory_kib
               ? request->memory_kib - request->device_memory_kib : 0;
}

gboolean
vnuma_request_has_foreign_pins(const VnumaRequest *request)
{
    const VnumaPinSet *pins = request->pins;
    g_autofree char *digest = NULL;

    /* A <numatune> with a mode but no nodeset places nothing. */
    if (!pins->vcpupins->len && !pins->emulatorpin && !pins->memory_nodeset && !pins->memnodes->len)
        return FALSE;
    digest = vnuma_pinset_digest(pins);
    return !request->stamp || g_strcmp0(request->stamp->pins_digest, digest) != 0;
}
