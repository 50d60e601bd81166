/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "lib/vnuma-sizing.h"

#include "lib/vnuma-error.h"
#include "lib/vnuma-math.h"

VnumaCpuSet *
vnuma_usable_cpus(const VnumaHostNode *node, const VnumaSettings *settings,
                  const VnumaRequest *request)
{
    VnumaCpuSet *usable = vnuma_host_node_cpus(node);

    if (settings->host_cpuset)
        vnuma_cpuset_intersect(usable, settings->host_cpuset);
    if (request->vcpu_cpuset)
        vnuma_cpuset_intersect(usable, request->vcpu_cpuset);
    return usable;
}

guint
vnuma_client_size_limit(const VnumaHost *host, const GPtrArray *usable, const VnumaPolicy *policy)
{
    guint limit = 0;

    for (guint i = 0; i < host->nodes->len; i++) {
        const VnumaCpuSet *cpus = usable->pdata[i];
        guint size;

        if (vnuma_cpuset_is_empty(cpus))
            continue;
        size = policy->prefer_ht ? vnuma_cpuset_count(cpus)
                                 : vnuma_host_node_cores(host->nodes->pdata[i], cpus);
        if (limit == 0 || size < limit)
            limit = size;
    }
    if (limit && policy->max_per_machine_node)
        limit = MIN(limit, policy->max_per_machine_node);
    return limit;
}

GPtrArray *
vnuma_split_balanced(const VnumaCpuSet *vcpus, guint parts)
{
    GPtrArray *runs = g_ptr_array_new_with_free_func((GDestroyNotify) vnuma_cpuset_free);
    guint total = vnuma_cpuset_count(vcpus);
    gint id = vnuma_cpuset_first(vcpus);

    parts = CLAMP(parts, 1, MAX(total, 1));
    for (guint p = 0; p < parts; p++) {
        guint size = total / parts + (p < total % parts ? 1 : 0);
        VnumaCpuSet *run = vnuma_cpuset_new();

        for (guint n = 0; n < size && id >= 0; n++) {
            vnuma_cpuset_add(run, (guint) id);
            id = vnuma_cpuset_next(vcpus, id);
        }
        g_ptr_array_add(runs, run);
    }
    return runs;
}

guint64
vnuma_memory_share(guint64 memory_kib, guint64 page_kib, guint vcpus_before,
                   guint part_vcpus, guint total_vcpus)
{
    guint64 pages = memory_kib / page_kib;
    guint64 start, end;

    /* Cumulative rounding: part i ends where the first i+1 parts' exact
     * share ends, rounded down to a page, so the parts tile the total. */
    start = pages * vcpus_before / total_vcpus;
    end = pages * (vcpus_before + part_vcpus) / total_vcpus;
    if (vcpus_before + part_vcpus >= total_vcpus)
        return memory_kib - start * page_kib;   /* the tail of an unaligned size */
    return (end - start) * page_kib;
}

static void
apply_override(VnumaLayout *layout, VnumaPolicy *policy, const char *origin,
               const char *name, const char *value)
{
    g_autoptr(GError) error = NULL;

    if (!vnuma_policy_set(policy, name, value, &error))
        vnuma_layout_warn(layout, "%s: %s; ignored", origin, error->message);
}

static void
resolve_policy(VnumaLayout *layout, const VnumaSettings *settings, const VnumaRequest *request)
{
    layout->policy = settings->defaults;
    for (guint i = 0; i < request->overrides->len; i++) {
        const VnumaOverride *o = &g_array_index(request->overrides, VnumaOverride, i);

        apply_override(layout, &layout->policy, "vnuma:policy", o->name, o->value);
    }
    /* Rule 2: a coresPerSocket that does not divide V is ignored. */
    if (layout->policy.cores_per_socket && request->vcpus % layout->policy.cores_per_socket) {
        vnuma_layout_warn(layout, "vnuma:policy: coresPerSocket='%u' does not divide the %u vCPUs; "
                          "ignored", layout->policy.cores_per_socket, request->vcpus);
        layout->policy.cores_per_socket = 0;
    }
}

/* Rule 9, and whatever leaves no host CPU to run on. */
static gboolean
check_managed(VnumaLayout *layout, const VnumaRequest *request)
{
    if (!layout->policy.managed) {
        vnuma_layout_set_unmanaged(layout, "managed='no' (vnuma:policy or vnuma.conf)");
        return FALSE;
    }
    if (!request->type || (!g_str_equal(request->type, "kvm") && !g_str_equal(request->type, "qemu"))) {
        vnuma_layout_set_unmanaged(layout, "domain type '%s' is not kvm or qemu",
                                   request->type ? request->type : "");
        return FALSE;
    }
    if (request->placement_auto) {
        vnuma_layout_set_unmanaged(layout, "placement='auto' hands placement to numad");
        return FALSE;
    }
    if (vnuma_request_has_foreign_pins(request)) {
        vnuma_layout_set_unmanaged(layout,
                                   "<cputune> pins or a <numatune> nodeset that vnuma did not write "
                                   "(admin or orchestrator placement)");
        return FALSE;
    }
    if (request->cpu_owner == VNUMA_CPU_OWNER_DEDICATED) {
        vnuma_layout_set_unmanaged(layout, "oVirt cpuPolicy '%s': VDSM dedicates host CPUs to the "
                                   "vCPUs", request->cpu_owner_policy);
        return FALSE;
    }
    return TRUE;
}

static void
add_balanced_clients(VnumaLayout *layout, const VnumaCpuSet *vcpus, guint parts)
{
    g_autoptr(GPtrArray) runs = vnuma_split_balanced(vcpus, parts);

    for (guint i = 0; i < runs->len; i++)
        vnuma_layout_add_client(layout, g_steal_pointer(&runs->pdata[i]), 0);
}

/* The first client holding a vCPU of @vcpus; -1 when none does. */
static gint
first_client_of(const VnumaLayout *layout, const VnumaCpuSet *vcpus)
{
    for (guint i = 0; i < layout->clients->len; i++) {
        if (vnuma_cpuset_intersects(((VnumaClient *) layout->clients->pdata[i])->vcpus, vcpus))
            return (gint) i;
    }
    return -1;
}

static void
add_cells_from_runs(VnumaLayout *layout, GPtrArray *runs)
{
    for (guint i = 0; i < runs->len; i++)
        g_ptr_array_add(layout->cells, vnuma_cell_new(g_steal_pointer(&runs->pdata[i]), 0));
}

/* The domain's <numa> cells are its owner's (Nova, oVirt, an admin), not
 * the ones vnuma's record says it wrote: they must stay. */
static gboolean
cells_are_owners(const VnumaRequest *request)
{
    return request->cells->len > 0 &&
           !(request->stamp && vnuma_cells_equal(request->cells, request->stamp->cells));
}

/* Rule 8: the owner's cells stay; each becomes a client, split further
 * only when larger than L. vCPUs outside every cell form clients too. */
static void
size_from_owner_cells(VnumaLayout *layout, const VnumaRequest *request, const VnumaCpuSet *all)
{
    g_autoptr(VnumaCpuSet) rest = vnuma_cpuset_copy(all);
    guint limit = layout->client_limit;

    layout->sized_by = VNUMA_SIZED_BY_OWNER_CELLS;
    layout->owner_cells = TRUE;
    for (guint i = 0; i < request->cells->len; i++) {
        const VnumaCell *cell = request->cells->pdata[i];
        guint n = vnuma_cpuset_count(cell->vcpus);

        g_ptr_array_add(layout->cells, vnuma_cell_new(vnuma_cpuset_copy(cell->vcpus), cell->memory_kib));
        /* A memory-only cell has no vCPU to form a client. */
        if (n)
            add_balanced_clients(layout, cell->vcpus, (guint) vnuma_div_ceil(n, limit));
        vnuma_cpuset_subtract(rest, cell->vcpus);
    }
    if (!vnuma_cpuset_is_empty(rest)) {
        guint n = vnuma_cpuset_count(rest);

        const VnumaCell *cell0 = request->cells->pdata[0];
        gint anchor = first_client_of(layout, cell0->vcpus);
        guint first = layout->clients->len;

        /* libvirt puts them in cell 0 (oVirt's one cell covers only the
         * online vCPUs): their memory is cell 0's, so they share its home
         * node wherever that node has room. */
        vnuma_layout_warn(layout, "vCPUs outside every <numa> cell are in cell 0 for libvirt: "
                          "homed with cell 0 where its node has room");
        add_balanced_clients(layout, rest, (guint) vnuma_div_ceil(n, limit));
        for (guint i = first; i < layout->clients->len; i++)
            ((VnumaClient *) layout->clients->pdata[i])->home_with = anchor;
    }
    vnuma_layout_note(layout, "rule 8: kept the domain's own %u <numa> cells; each is a client "
                      "(split where larger than L=%u)", request->cells->len, limit);
}

/* Rule 10: under @autosize once, a vnuma record for the same V keeps its
 * sizing. */
static gboolean
size_from_record(VnumaLayout *layout, const VnumaRequest *request, const VnumaCpuSet *all,
                 VnumaAutosize autosize)
{
    const VnumaStamp *stamp = request->stamp;
    g_autoptr(VnumaCpuSet) covered = vnuma_cpuset_new();

    if (!stamp || stamp->vcpus != layout->vcpus || stamp->clients->len == 0 ||
        autosize != VNUMA_AUTOSIZE_ONCE)
        return FALSE;
    /* An admin who set coresPerSocket since asks for new sizing. */
    if (layout->policy.cores_per_socket && !request->keep_guest_abi &&
        (!stamp->wrote_topology || stamp->topology.cores != layout->policy.cores_per_socket)) {
        vnuma_layout_note(layout, "rule 10: coresPerSocket=%u differs from vnuma's record: sized "
                          "afresh", layout->policy.cores_per_socket);
        return FALSE;
    }
    for (guint i = 0; i < stamp->clients->len; i++)
        vnuma_cpuset_union(covered, g_array_index(stamp->clients, VnumaStampClient, i).vcpus);
    if (!vnuma_cpuset_equal(covered, all))
        return FALSE;

    layout->sized_by = VNUMA_SIZED_BY_RECORD;
    for (guint i = 0; i < stamp->clients->len; i++) {
        const VnumaStampClient *client = &g_array_index(stamp->clients, VnumaStampClient, i);

        if (vnuma_cpuset_count(client->vcpus) > layout->client_limit)
            vnuma_layout_warn(layout, "client %u keeps %u vCPUs from vnuma's record but this host's "
                              "client limit is %u", i, vnuma_cpuset_count(client->vcpus),
                              layout->client_limit);
        vnuma_layout_add_client(layout, vnuma_cpuset_copy(client->vcpus), 0);
    }
    for (guint i = 0; i < stamp->cells->len; i++) {
        const VnumaCell *cell = stamp->cells->pdata[i];

        g_ptr_array_add(layout->cells, vnuma_cell_new(vnuma_cpuset_copy(cell->vcpus), 0));
    }
    vnuma_layout_note(layout, "rule 10: autosize=once and V=%u unchanged: kept the %u clients and "
                      "%u cells of vnuma's record (sized for host %s)", layout->vcpus,
                      stamp->clients->len, stamp->cells->len, stamp->host ? stamp->host : "?");
    return TRUE;
}

/* @k clients of whole units (@units of @unit vCPUs each) would outnumber
 * the CPU-bearing nodes: fewer and larger clients instead, one per node,
 * as long as each fits a node's usable threads. Clients sharing a node
 * gain nothing from being apart, and the guest would see cells at equal
 * distance that are one node. Returns the new count (@k when unchanged). */
static guint
fewer_clients(VnumaLayout *layout, guint k, guint units, guint unit)
{
    guint n = layout->cpu_nodes;
    /* An admin's maxPerMachineNode still caps a client. */
    guint most = layout->policy.max_per_machine_node
                     ? MIN(layout->min_node_threads, layout->policy.max_per_machine_node)
                     : layout->min_node_threads;

    if (k > n && n > 0 && (guint) vnuma_div_ceil(units, n) * unit <= most) {
        vnuma_layout_note(layout, "%u clients would outnumber the %u CPU-bearing nodes: %u larger "
                          "clients instead, one per node (at most %u threads each)", k, n,
                          MIN(n, units), most);
        k = MIN(n, units);
    }
    return k;
}

/* @units runs of @unit vCPUs (guest sockets or cells) grouped into
 * @groups balanced runs of whole units; each group is split into @parts
 * clients and, with @cells, is one guest cell. */
static void
add_unit_groups(VnumaLayout *layout, guint units, guint unit, guint groups, guint parts,
                gboolean cells)
{
    g_autoptr(VnumaCpuSet) ids = vnuma_cpuset_new_range(0, units - 1);
    g_autoptr(GPtrArray) runs = vnuma_split_balanced(ids, groups);
    guint first = 0;

    for (guint g = 0; g < runs->len; g++) {
        guint count = vnuma_cpuset_count(runs->pdata[g]);
        VnumaCpuSet *vcpus = vnuma_cpuset_new_range(first, first + count * unit - 1);

        first += count * unit;
        add_balanced_clients(layout, vcpus, parts);
        if (cells)
            g_ptr_array_add(layout->cells, vnuma_cell_new(vcpus, 0));
        else
            vnuma_cpuset_free(vcpus);
    }
}

/* Rule 2: coresPerSocket fixes the cells; clients follow min(L, C). */
static gboolean
size_by_cores_per_socket(VnumaLayout *layout, const VnumaCpuSet *all)
{
    guint v = layout->vcpus;
    guint c = layout->policy.cores_per_socket;
    guint per_client, k, groups;
    g_autoptr(GPtrArray) runs = NULL;

    if (!c)
        return FALSE;
    per_client = MIN(layout->client_limit, c);
    k = (guint) vnuma_div_ceil(v, per_client);
    layout->sized_by = VNUMA_SIZED_BY_CORES_PER_SOCKET;
    runs = vnuma_split_balanced(all, layout->cpu_nodes == 1 ? 1 : v / c);
    add_cells_from_runs(layout, runs);
    /* More clients than nodes: whole cells per client instead, one per node. */
    groups = layout->cpu_nodes == 1 ? 1 : fewer_clients(layout, k, v / c, c);
    if (groups < k)
        add_unit_groups(layout, v / c, c, groups, 1, FALSE);
    else
        add_balanced_clients(layout, all, k);
    vnuma_layout_note(layout, "rule 2: coresPerSocket=%u: %u cells of %u vCPUs; %u clients of at "
                      "most min(L=%u, %u) vCPUs", c, v / c, c, layout->clients->len,
                      layout->client_limit, c);
    return TRUE;
}

/* Rule 3: k = ceil(V / L) balanced clients, one cell each. */
static void
size_by_client_limit(VnumaLayout *layout, const VnumaCpuSet *all)
{
    guint v = layout->vcpus;
    guint k = layout->cpu_nodes == 1 ? 1
              : fewer_clients(layout, (guint) vnuma_div_ceil(v, layout->client_limit), v, 1);
    g_autoptr(GPtrArray) runs = vnuma_split_balanced(all, k);

    layout->sized_by = VNUMA_SIZED_BY_CLIENT_LIMIT;
    add_balanced_clients(layout, all, k);
    add_cells_from_runs(layout, runs);
    if (layout->cpu_nodes == 1)
        vnuma_layout_note(layout, "one CPU-bearing host node: one client of %u vCPUs, no guest "
                          "cells (nothing to align to)", v);
    else
        vnuma_layout_note(layout, "rule 3: %u vCPUs / L=%u -> %u client(s), sizes balanced", v,
                          layout->client_limit, k);
}

/* The flat default (what Nova writes when nothing was asked): every vCPU
 * its own socket, or one socket of V cores, one thread each. */
static gboolean
topology_is_owners(const VnumaGuestTopology *t, guint v)
{
    gboolean flat = t->threads == 1 && t->dies == 1 && (t->sockets == v || t->cores == v);

    return t->sockets && t->dies && t->cores && t->threads &&
           t->sockets * t->dies * t->cores * t->threads == v && !flat;
}

/* A topology vnuma wrote itself is not the owner's. With vCPUs hot-pluggable
 * by socket (KubeVirt's LiveUpdate adds whole sockets up to maxSockets),
 * even a flat topology is the owner's: its sockets are the hot-plug unit. */
static gboolean
owners_topology(const VnumaRequest *request)
{
    const VnumaGuestTopology *t = &request->topology;
    gboolean complete = t->sockets && t->dies && t->cores && t->threads &&
                        t->sockets * t->dies * t->cores * t->threads == request->vcpus;
    gboolean by_socket = request->hotplug_by_socket && complete && t->sockets > 1;

    return (by_socket || topology_is_owners(t, request->vcpus)) &&
           !(request->stamp && request->stamp->wrote_topology &&
             vnuma_guest_topology_equal(&request->stamp->topology, t));
}

/* The domain's own guest topology (a flavor's hw:cpu_sockets, a licence
 * limit, SMT): kept, and the cells are cut on whole sockets, each client
 * one run of sockets and one cell; a socket larger than L is one cell
 * split into clients. */
static gboolean
size_by_owner_topology(VnumaLayout *layout, const VnumaRequest *request)
{
    const VnumaGuestTopology *t = &request->topology;
    guint socket = t->dies * t->cores * t->threads;
    guint groups, parts, k;

    if (!owners_topology(request))
        return FALSE;
    layout->sized_by = VNUMA_SIZED_BY_OWNER_TOPOLOGY;
    if (socket <= layout->client_limit) {
        guint per_client = layout->client_limit / socket;

        groups = (guint) vnuma_div_ceil(t->sockets, per_client);
        parts = 1;
    } else {
        groups = t->sockets;
        parts = (guint) vnuma_div_ceil(socket, layout->client_limit);
    }
    k = layout->cpu_nodes == 1 ? 1 : fewer_clients(layout, groups * parts, t->sockets, socket);
    if (k < groups * parts) {
        groups = k;
        parts = 1;
    }
    if (socket > layout->client_limit)
        vnuma_layout_warn(layout, "the domain's guest socket of %u vCPUs is larger than the client "
                          "limit L=%u", socket, layout->client_limit);
    add_unit_groups(layout, t->sockets, socket, groups, parts, TRUE);
    vnuma_layout_note(layout, "the domain's topology %u socket(s) x %u die(s) x %u core(s) x %u "
                      "thread(s) is the owner's: kept; %u cell(s) of whole sockets, %u client(s)",
                      t->sockets, t->dies, t->cores, t->threads, layout->cells->len,
                      layout->clients->len);
    return TRUE;
}

static void
warn_cells_spanning_clients(VnumaLayout *layout)
{
    for (guint i = 0; i < layout->cells->len; i++) {
        const VnumaCell *cell = layout->cells->pdata[i];
        guint spanned = 0;

        for (guint c = 0; c < layout->clients->len; c++) {
            if (vnuma_cpuset_intersects(((VnumaClient *) layout->clients->pdata[c])->vcpus, cell->vcpus))
                spanned++;
        }
        if (spanned > 1) {
            g_autofree char *vcpus = vnuma_cpuset_format(cell->vcpus);

            vnuma_layout_warn(layout, "vNUMA node spans NUMA clients: cell %u (vCPUs %s) spans %u "
                              "clients", i, vcpus, spanned);
        }
    }
}

/* Rule 6: memory in proportion to vCPUs, page aligned, summing to <memory>.
 * The cells' share is left alone when they are not vnuma's to write. */
static void
share_memory(VnumaLayout *layout, const VnumaRequest *request, gboolean cells_too)
{
    /* libvirt rounds each guest cell up to 1 MiB on x86: cut on whole
     * MiB (or whole backing pages when larger) so what vnuma writes is
     * what the guest gets. */
    guint64 page = MAX(layout->page_kib, 1024);
    guint64 memory = vnuma_request_cell_memory_kib(request);
    guint before = 0;

    if (memory % page)
        vnuma_layout_warn(layout, "<memory> %" G_GUINT64_FORMAT " KiB (less hot-plug devices) is "
                          "not a multiple of %" G_GUINT64_FORMAT " KiB (the backing page, at least "
                          "1 MiB); the last part takes the remainder", memory, page);
    for (guint i = 0; i < layout->clients->len; i++) {
        VnumaClient *client = layout->clients->pdata[i];
        guint n = vnuma_cpuset_count(client->vcpus);

        client->memory_kib = vnuma_memory_share(memory, page, before, n, layout->vcpus);
        before += n;
    }
    if (!cells_too)
        return;
    before = 0;
    for (guint i = 0; i < layout->cells->len; i++) {
        VnumaCell *cell = layout->cells->pdata[i];
        guint n = vnuma_cpuset_count(cell->vcpus);

        cell->memory_kib = vnuma_memory_share(memory, page, before, n, layout->vcpus);
        before += n;
    }
}

static gboolean
cells_even(const GPtrArray *cells)
{
    guint first = vnuma_cpuset_count(((VnumaCell *) cells->pdata[0])->vcpus);

    for (guint i = 1; i < cells->len; i++) {
        if (vnuma_cpuset_count(((VnumaCell *) cells->pdata[i])->vcpus) != first)
            return FALSE;
    }
    return TRUE;
}

/* Guest sockets that hold vCPUs of more than one cell. */
static void
warn_sockets_straddling_cells(VnumaLayout *layout, const VnumaGuestTopology *topo)
{
    guint per_socket = MAX(topo->dies, 1) * MAX(topo->cores, 1) * MAX(topo->threads, 1);

    if (!topo->sockets || layout->cells->len < 2)
        return;
    for (guint s = 0; s < topo->sockets; s++) {
        g_autoptr(VnumaCpuSet) socket = vnuma_cpuset_new_range(s * per_socket, (s + 1) * per_socket - 1);
        guint touched = 0;

        for (guint i = 0; i < layout->cells->len; i++) {
            if (vnuma_cpuset_intersects(((VnumaCell *) layout->cells->pdata[i])->vcpus, socket))
                touched++;
        }
        if (touched > 1) {
            vnuma_layout_warn(layout, "guest socket %u straddles %u vNUMA cells (topology left as "
                              "the domain has it)", s, touched);
            return;
        }
    }
}

/* Rule 5: the guest's <topology>. */
static void
choose_topology(VnumaLayout *layout, const VnumaRequest *request)
{
    guint v = layout->vcpus;
    guint c = layout->policy.cores_per_socket;
    gboolean owners = !c && owners_topology(request);

    layout->topology = request->topology;
    if (layout->policy.topology == VNUMA_TOPOLOGY_KEEP || layout->owner_cells || owners) {
        vnuma_layout_note(layout, "rule 5: topology left as the domain has it (%s)",
                          layout->owner_cells ? "owner's cells"
                          : owners ? "the owner's topology" : "topology='keep'");
        warn_sockets_straddling_cells(layout, &request->topology);
        return;
    }
    layout->write_topology = TRUE;
    if (c) {
        layout->topology = (VnumaGuestTopology) { v / c, 1, c, 1 };
        vnuma_layout_note(layout, "rule 5: coresPerSocket=%u -> %u socket(s) x %u cores", c, v / c, c);
    } else if (layout->exposed && cells_even(layout->cells)) {
        guint cell_size = vnuma_cpuset_count(((VnumaCell *) layout->cells->pdata[0])->vcpus);

        layout->topology = (VnumaGuestTopology) { layout->cells->len, 1, cell_size, 1 };
        vnuma_layout_note(layout, "rule 5: align: one guest socket per cell -> %u sockets x %u cores",
                          layout->cells->len, cell_size);
    } else {
        layout->topology = (VnumaGuestTopology) { 1, 1, v, 1 };
        vnuma_layout_note(layout, "rule 5: align: %s -> 1 socket x %u cores",
                          layout->exposed ? "uneven cells" : "no vNUMA", v);
    }
}

/* Migrate and restore (docs/spec.md §6): the guest already runs on its cells
 * and topology, so they stay; only home nodes are chosen for this host. */
static void
size_keeping_guest_abi(VnumaLayout *layout, const VnumaRequest *request, const VnumaCpuSet *all)
{
    const VnumaStamp *stamp = request->stamp;

    /* The guest was built on the record's clients, whatever autosize says. */
    if (!size_from_record(layout, request, all, VNUMA_AUTOSIZE_ONCE)) {
        if (request->cells->len)
            size_from_owner_cells(layout, request, all);
        else
            size_by_client_limit(layout, all);
    }

    g_ptr_array_set_size(layout->cells, 0);
    for (guint i = 0; i < request->cells->len; i++)
        g_ptr_array_add(layout->cells, vnuma_cell_copy(request->cells->pdata[i]));
    layout->owner_cells = cells_are_owners(request);
    layout->exposed = request->cells->len > 0;
    layout->topology = request->topology;
    layout->write_topology = stamp && stamp->wrote_topology &&
                             vnuma_guest_topology_equal(&stamp->topology, &request->topology);
    share_memory(layout, request, FALSE);
    vnuma_layout_note(layout, "guest ABI kept (migrate/restore): %u cell(s) and the topology stay; "
                      "home nodes are chosen for this host", request->cells->len);
}

static void
count_cpu_nodes(VnumaLayout *layout)
{
    layout->cpu_nodes = layout->min_node_threads = 0;
    for (guint i = 0; i < layout->usable->len; i++) {
        guint threads = vnuma_cpuset_count(layout->usable->pdata[i]);

        if (!threads)
            continue;
        layout->cpu_nodes++;
        if (!layout->min_node_threads || threads < layout->min_node_threads)
            layout->min_node_threads = threads;
    }
}

static void
compute_usable(VnumaLayout *layout, const VnumaHost *host, const VnumaSettings *settings,
               const VnumaRequest *request)
{
    for (guint i = 0; i < host->nodes->len; i++)
        g_ptr_array_add(layout->usable, vnuma_usable_cpus(host->nodes->pdata[i], settings, request));
}

VnumaLayout *
vnuma_sizing_run(const VnumaHost *host, const VnumaSettings *settings, const VnumaRequest *request)
{
    g_autoptr(VnumaLayout) layout = vnuma_layout_new();
    g_autoptr(VnumaCpuSet) all = NULL;

    layout->vcpus = request->vcpus;
    layout->online = request->online_vcpus ? vnuma_cpuset_copy(request->online_vcpus)
                                           : vnuma_cpuset_new_range(0, MAX(request->vcpus, 1) - 1);
    layout->pin_vcpus = request->cpu_owner != VNUMA_CPU_OWNER_SHARED;
    layout->memory_mode = settings->memory_mode;
    layout->host_fingerprint = vnuma_host_fingerprint(host);
    layout->page_kib = request->page_kib ? request->page_kib : vnuma_host_default_hugepage_kib(host);
    for (guint i = 0; i < request->warnings->len; i++)
        vnuma_layout_warn(layout, "%s", (const char *) request->warnings->pdata[i]);
    resolve_policy(layout, settings, request);
    if (!check_managed(layout, request))
        return g_steal_pointer(&layout);
    if (request->vcpus == 0) {
        vnuma_layout_set_unmanaged(layout, "the domain has no vCPUs");
        return g_steal_pointer(&layout);
    }
    if (vnuma_request_cell_memory_kib(request) == 0) {
        vnuma_layout_set_unmanaged(layout, "the domain has no memory to share between cells "
                                   "(no <memory>, no <numa> cells, or only hot-plug devices)");
        return g_steal_pointer(&layout);
    }

    compute_usable(layout, host, settings, request);
    layout->client_limit = vnuma_client_size_limit(host, layout->usable, &layout->policy);
    count_cpu_nodes(layout);
    if (layout->client_limit == 0) {
        vnuma_layout_set_unmanaged(layout, "no usable host CPU (online, in host_cpuset and in <vcpu cpuset>)");
        return g_steal_pointer(&layout);
    }
    vnuma_layout_note(layout, "rule 1: client limit L=%u (fewest %s per node%s)", layout->client_limit,
                      layout->policy.prefer_ht ? "threads, preferHT" : "cores",
                      layout->policy.max_per_machine_node ? ", capped by maxPerMachineNode" : "");
    if (request->current_vcpus && request->current_vcpus < request->vcpus)
        vnuma_layout_note(layout, "rule 7: %u of %u vCPUs online; sized on all %u so hot-added "
                          "vCPUs land in their cell", request->current_vcpus, request->vcpus,
                          request->vcpus);

    if (!layout->pin_vcpus)
        vnuma_layout_note(layout, "oVirt cpuPolicy '%s': VDSM re-pins every vCPU to its shared pool "
                          "at start; guest cells and topology written, no pins or memnodes",
                          request->cpu_owner_policy);
    all = vnuma_cpuset_new_range(0, request->vcpus - 1);
    if (request->keep_guest_abi) {
        size_keeping_guest_abi(layout, request, all);
        return g_steal_pointer(&layout);
    }
    if (cells_are_owners(request))
        size_from_owner_cells(layout, request, all);
    else if (!size_from_record(layout, request, all, layout->policy.autosize) && !size_by_cores_per_socket(layout, all) &&
             !size_by_owner_topology(layout, request))
        size_by_client_limit(layout, all);

    if (layout->owner_cells) {
        layout->exposed = TRUE;
    } else {
        layout->exposed = request->vcpus >= layout->policy.vcpu_min && layout->cells->len > 1;
        vnuma_layout_note(layout, "rule 4: vNUMA %s (V=%u %s vcpuMin=%u, %u cell(s))",
                          layout->exposed ? "exposed" : "not exposed", request->vcpus,
                          request->vcpus >= layout->policy.vcpu_min ? ">=" : "<",
                          layout->policy.vcpu_min, layout->cells->len);
        if (!layout->exposed)
            g_ptr_array_set_size(layout->cells, 0);
    }
    if (layout->exposed)
        warn_cells_spanning_clients(layout);
    share_memory(layout, request, !layout->owner_cells);
    choose_topology(layout, request);
    return g_steal_pointer(&layout);
}
