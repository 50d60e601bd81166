/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* NUMA client sizing, docs/spec.md §3: every rule and the six public examples,
 * run through sizing → placement → layout on the host fixtures of
 * examples/hosts/. */
#include "tests/testutil.h"

#include <string.h>

#include "lib/vnuma-layout.h"
#include "lib/vnuma-placement.h"
#include "lib/vnuma-sizing.h"

#define GIB 1048576ull   /* KiB */

/* ---- helpers ---------------------------------------------------------- */

/* sizing → placement → layout, as the plugin runs them. */
static VnumaLayout *
plan_with(const VnumaHost *host, const VnumaSettings *settings, const VnumaRequest *r)
{
    VnumaLayout *layout = vnuma_sizing_run(host, settings, r);

    assert_non_null(layout);
    if (layout->managed) {
        vnuma_placement_run(host, layout, NULL, 0);
        vnuma_layout_finish(layout, host, r);
    }
    return layout;
}

static VnumaLayout *
plan(const VnumaHost *host, const VnumaRequest *r)
{
    VnumaSettings settings;
    VnumaLayout *layout;

    vnuma_settings_init(&settings);
    layout = plan_with(host, &settings, r);
    vnuma_settings_clear(&settings);
    return layout;
}

/* A plan for a fresh domain of @vcpus and @memory_kib on @host_name. */
static VnumaLayout *
plan_on(const char *host_name, guint vcpus, guint64 memory_kib)
{
    g_autoptr(VnumaHost) host = vnuma_test_host(host_name);
    g_autoptr(VnumaRequest) r = vnuma_test_request(vcpus, memory_kib);

    return plan(host, r);
}

static void
check_text(const VnumaLayout *layout, const char *what, char *actual, const char *const *expected)
{
    g_autofree char *want = g_strjoinv(" ", (char **) expected);

    if (!g_str_equal(actual, want)) {
        print_error("%s: got '%s', want '%s'\n", what, actual, want);
        vnuma_test_dump_layout(layout);
        g_free(actual);
        fail();
    }
    g_free(actual);
}

/* The vCPUs of each of @items (clients or cells, whose VnumaCpuSet * sits
 * at @vcpus_offset), "0-5 6-11". */
static char *
vcpus_text(const GPtrArray *items, glong vcpus_offset)
{
    g_autoptr(GPtrArray) parts = g_ptr_array_new_null_terminated(4, g_free, TRUE);

    for (guint i = 0; i < items->len; i++)
        g_ptr_array_add(parts, vnuma_cpuset_format(G_STRUCT_MEMBER(VnumaCpuSet *, items->pdata[i], vcpus_offset)));
    return g_strjoinv(" ", (char **) parts->pdata);
}

static char *
clients_text(const VnumaLayout *layout)
{
    return vcpus_text(layout->clients, G_STRUCT_OFFSET(VnumaClient, vcpus));
}

static char *
cells_text(const VnumaLayout *layout)
{
    return vcpus_text(layout->cells, G_STRUCT_OFFSET(VnumaCell, vcpus));
}

static char *
homes_text(const VnumaLayout *layout)
{
    GString *out = g_string_new(NULL);

    for (guint i = 0; i < layout->clients->len; i++)
        g_string_append_printf(out, "%s%d", i ? " " : "",
                               ((VnumaClient *) layout->clients->pdata[i])->home_node);
    return g_string_free(out, FALSE);
}

/* assert_clients(layout, "0-5", "6-11"): the clients' vCPUs, in order. */
#define assert_clients(layout, ...) \
    check_text((layout), "clients", clients_text(layout), (const char *const[]) { __VA_ARGS__, NULL })
/* assert_cells(layout, "0-5", "6-11"); assert_no_cells(layout). */
#define assert_cells(layout, ...) \
    check_text((layout), "cells", cells_text(layout), (const char *const[]) { __VA_ARGS__, NULL })
/* assert_homes(layout, "0", "1"): each client's home node id. */
#define assert_homes(layout, ...) \
    check_text((layout), "home nodes", homes_text(layout), (const char *const[]) { __VA_ARGS__, NULL })

static void
assert_no_cells(const VnumaLayout *layout)
{
    if (layout->exposed || layout->cells->len) {
        g_autofree char *cells = cells_text(layout);

        print_error("expected no vNUMA cells, got exposed=%d cells '%s'\n", layout->exposed, cells);
        vnuma_test_dump_layout(layout);
        fail();
    }
}

static void
assert_topology(const VnumaLayout *layout, guint sockets, guint dies, guint cores, guint threads)
{
    const VnumaGuestTopology *t = &layout->topology;

    if (t->sockets != sockets || t->dies != dies || t->cores != cores || t->threads != threads) {
        print_error("topology: got sockets=%u dies=%u cores=%u threads=%u, want %u/%u/%u/%u\n",
                    t->sockets, t->dies, t->cores, t->threads, sockets, dies, cores, threads);
        vnuma_test_dump_layout(layout);
        fail();
    }
}

static guint
topology_product(const VnumaLayout *layout)
{
    const VnumaGuestTopology *t = &layout->topology;

    return t->sockets * t->dies * t->cores * t->threads;
}

static const char *
find_warning(const VnumaLayout *layout, const char *fragment)
{
    for (guint i = 0; i < layout->warnings->len; i++) {
        const char *w = layout->warnings->pdata[i];

        if (strstr(w, fragment))
            return w;
    }
    return NULL;
}

static void
assert_warning(const VnumaLayout *layout, const char *fragment)
{
    if (!find_warning(layout, fragment)) {
        print_error("no warning contains '%s'\n", fragment);
        vnuma_test_dump_layout(layout);
        fail();
    }
}

static void
assert_no_warning(const VnumaLayout *layout, const char *fragment)
{
    const char *w = find_warning(layout, fragment);

    if (w) {
        print_error("unexpected warning: '%s'\n", w);
        vnuma_test_dump_layout(layout);
        fail();
    }
}

static void
assert_no_warnings(const VnumaLayout *layout)
{
    if (layout->warnings->len) {
        print_error("expected no warnings\n");
        vnuma_test_dump_layout(layout);
        fail();
    }
}

static void
assert_managed(const VnumaLayout *layout)
{
    if (!layout->managed) {
        print_error("expected a managed layout\n");
        vnuma_test_dump_layout(layout);
        fail();
    }
}

static void
assert_unmanaged(const VnumaLayout *layout, const char *fragment)
{
    if (layout->managed || !layout->reason || !strstr(layout->reason, fragment)) {
        print_error("expected unmanaged with a reason containing '%s'\n", fragment);
        vnuma_test_dump_layout(layout);
        fail();
    }
}

static void
assert_set(const VnumaCpuSet *set, const char *expected)
{
    g_autofree char *text = set ? vnuma_cpuset_format(set) : g_strdup("(null)");

    assert_str_equal(text, expected);
}

static guint64
client_memory(const VnumaLayout *layout, guint i)
{
    return ((VnumaClient *) layout->clients->pdata[i])->memory_kib;
}

static guint64
cell_memory(const VnumaLayout *layout, guint i)
{
    return ((VnumaCell *) layout->cells->pdata[i])->memory_kib;
}

/* Rule 6 invariants: the parts are page multiples and sum to <memory>. */
static void
assert_memory_tiles(const VnumaLayout *layout, guint64 memory_kib, guint64 page_kib)
{
    guint64 sum = 0;

    for (guint i = 0; i < layout->clients->len; i++) {
        assert_int_equal(client_memory(layout, i) % page_kib, 0);
        sum += client_memory(layout, i);
    }
    assert_int_equal(sum, memory_kib);
    if (!layout->exposed)
        return;
    sum = 0;
    for (guint i = 0; i < layout->cells->len; i++) {
        assert_int_equal(cell_memory(layout, i) % page_kib, 0);
        sum += cell_memory(layout, i);
    }
    assert_int_equal(sum, memory_kib);
}

static VnumaPinSet *
pinset_copy(const VnumaPinSet *src)
{
    VnumaPinSet *pins = vnuma_pinset_new();

    for (guint i = 0; i < src->vcpupins->len; i++) {
        const VnumaVcpuPin *pin = &g_array_index(src->vcpupins, VnumaVcpuPin, i);

        vnuma_pinset_add_vcpupin(pins, pin->vcpu, vnuma_cpuset_copy(pin->cpuset));
    }
    pins->emulatorpin = src->emulatorpin ? vnuma_cpuset_copy(src->emulatorpin) : NULL;
    pins->has_numatune = src->has_numatune;
    pins->memory_mode = g_strdup(src->memory_mode);
    pins->memory_nodeset = src->memory_nodeset ? vnuma_cpuset_copy(src->memory_nodeset) : NULL;
    for (guint i = 0; i < src->memnodes->len; i++) {
        const VnumaMemnode *m = &g_array_index(src->memnodes, VnumaMemnode, i);

        vnuma_pinset_add_memnode(pins, m->cell_id, vnuma_cpuset_copy(m->nodeset));
    }
    return pins;
}

/* What the domain looks like after vnuma wrote @layout into it: its pins,
 * cells, topology and stamp; @vcpus and @memory_kib as before. */
static VnumaRequest *
request_after(const VnumaLayout *layout, guint vcpus, guint64 memory_kib)
{
    VnumaRequest *r = vnuma_test_request(vcpus, memory_kib);

    vnuma_pinset_free(r->pins);
    r->pins = pinset_copy(layout->pins);
    for (guint i = 0; layout->exposed && i < layout->cells->len; i++) {
        const VnumaCell *cell = layout->cells->pdata[i];

        g_ptr_array_add(r->cells, vnuma_cell_new(vnuma_cpuset_copy(cell->vcpus), cell->memory_kib));
    }
    r->topology = layout->topology;
    r->stamp = vnuma_layout_to_stamp(layout);
    return r;
}

static char *
pins_digest(const VnumaLayout *layout)
{
    assert_non_null(layout->pins);
    return vnuma_pinset_digest(layout->pins);
}

/* ---- the table: one row per (host, V, memory, overrides) -------------- */

/* A checked count: { TRUE, n } through N(n); unset fields are not checked. */
typedef struct {
    gboolean set;
    guint n;
} Count;
#define N(x) { TRUE, (x) }

typedef enum { ANY = 0, YES, NO } Expect;

typedef struct {
    const char *name;
    /* the input */
    const char *host;               /* examples/hosts/NAME.xml */
    guint vcpus;
    guint64 memory_kib;
    const char *overrides;          /* "key=value key=value", <vnuma:policy> attributes */
    VnumaGuestTopology given;       /* the domain's <topology>; sockets 0: none */
    guint64 page_kib;               /* the backing huge page; 0: none */
    guint current;                  /* <vcpu current>; 0: V */
    const char *owner_cells;        /* the domain's own cells, "0-3=4 4-7=4" (vCPUs=GiB) */
    const char *type;               /* the domain type; NULL: kvm */
    gboolean placement_auto;        /* <vcpu placement='auto'> */
    const char *vcpu_cpuset;        /* <vcpu cpuset>; NULL: none */
    const char *host_cpuset;        /* vnuma.conf host_cpuset; NULL: all */
    void (*configure)(VnumaSettings *settings);  /* other vnuma.conf defaults */
    void (*setup)(VnumaRequest *r); /* what the fields above cannot say; last */
    /* The domain as vnuma left it after planning it on this host first
     * (autosize, rule 10), with record_vcpus (0: V) and as much memory
     * per vCPU; the overrides apply to the second plan only. */
    const char *record_on;
    guint record_vcpus;
    /* what the layout must be */
    const char *unmanaged;          /* a fragment of the reason; NULL: managed */
    Count n_clients;
    Count layout_vcpus;
    Count layout_page_kib;
    Expect owner;                   /* the owner's cells kept */
    Count limit;                    /* L of rule 1 */
    Count sized_by;                 /* VnumaSizedBy */
    const char *clients;            /* each client's vCPUs, "0-5 6-11" */
    const char *homes;              /* each client's home node, "0 1" */
    const char *cells;              /* the guest cells; "": none exposed */
    Expect write_topology;
    VnumaGuestTopology topology;    /* sockets 0: not checked */
    guint cell_gib[4];              /* the first cells' memory, GiB; 0 ends */
    guint client_gib[4];            /* the first clients' memory, GiB; 0 ends */
    guint64 tiles_page_kib;         /* rule 6: page multiples summing to <memory> */
    Count memnodes;                 /* <memnode> count */
    Count vcpupins;                 /* <vcpupin> count */
    gboolean no_warnings;
    Count n_warnings;
    const char *warn[4];            /* fragments some warning contains */
    const char *no_warn[3];         /* fragments no warning contains */
    void (*extra)(const VnumaLayout *layout);  /* what a row cannot say */
} SizingRow;

static void
homes_distinct(const VnumaLayout *layout)
{
    const VnumaClient *a = layout->clients->pdata[0];
    const VnumaClient *b = layout->clients->pdata[1];

    assert_true(a->home_node >= 0 && b->home_node >= 0);
    assert_int_not_equal(a->home_node, b->home_node);
}

/* Node 2 has no CPU: never a home, never in the nodeset, although it is
 * nearer to node 0 (17) than node 1 is (21). */
static void
memory_only_node_unused(const VnumaLayout *layout)
{
    for (guint i = 0; i < layout->clients->len; i++)
        assert_int_not_equal(((VnumaClient *) layout->clients->pdata[i])->home_node, 2);
    assert_false(vnuma_cpuset_contains(layout->pins->memory_nodeset, 2));
}

/* Offline CPUs are never pinned to. */
static void
first_client_online_cpus(const VnumaLayout *layout)
{
    const VnumaClient *first = layout->clients->pdata[0];

    assert_int_equal(first->home_node, 0);
    assert_set(first->cpus, "0-3,12-15");
}

/* 48 GiB per client: node 0 has 256 GiB, node 1 only 32 GiB. */
static void
remote_memory_on_node_1(const VnumaLayout *layout)
{
    const char *w = find_warning(layout, "remote memory is unavoidable");

    assert_non_null(w);
    assert_non_null(strstr(w, "home node 1"));
}

/* 10 GiB + 512 KiB of 1 GiB pages: the remainder goes to the last part. */
static void
remainder_on_last_part(const VnumaLayout *layout)
{
    assert_int_equal(client_memory(layout, 0), 5 * GIB);
    assert_int_equal(client_memory(layout, 1), 5 * GIB + 512);
    assert_int_equal(cell_memory(layout, 0) + cell_memory(layout, 1), 10 * GIB + 512);
}

/* 10 pages over three equal parts: 3 + 3 + 4 in some order. */
static void
three_three_four_gib(const VnumaLayout *layout)
{
    guint fours = 0;

    for (guint i = 0; i < 3; i++) {
        guint64 m = client_memory(layout, i);

        assert_true(m == 3 * GIB || m == 4 * GIB);
        fours += m == 4 * GIB;
        assert_int_equal(cell_memory(layout, i), m);
    }
    assert_int_equal(fours, 1);
}

/* 12 + 11 vCPUs over 1000 MiB: each part within a MiB of its exact share. */
static void
shares_within_a_mib(const VnumaLayout *layout)
{
    for (guint i = 0; i < layout->clients->len; i++) {
        guint64 exact = 1024000ull * vnuma_cpuset_count(((VnumaClient *) layout->clients->pdata[i])->vcpus) / 23;

        assert_true(client_memory(layout, i) + 1024 >= exact && client_memory(layout, i) <= exact + 1024);
    }
}

/* Each cell's <memnode> holds the home nodes of its clients; the owner's
 * cells are not vnuma's record. */
static void
memnodes_follow_owner_cells(const VnumaLayout *layout)
{
    const VnumaMemnode *m0 = &g_array_index(layout->pins->memnodes, VnumaMemnode, 0);
    const VnumaMemnode *m1 = &g_array_index(layout->pins->memnodes, VnumaMemnode, 1);
    g_autoptr(VnumaStamp) stamp = vnuma_layout_to_stamp(layout);

    assert_int_equal(m0->cell_id, 0);
    assert_int_equal(m1->cell_id, 1);
    assert_true(vnuma_cpuset_contains(m0->nodeset,
                                      (guint) ((VnumaClient *) layout->clients->pdata[0])->home_node));
    assert_true(vnuma_cpuset_contains(m1->nodeset,
                                      (guint) ((VnumaClient *) layout->clients->pdata[1])->home_node));
    assert_true(vnuma_cpuset_contains(m1->nodeset,
                                      (guint) ((VnumaClient *) layout->clients->pdata[2])->home_node));
    assert_int_equal(stamp->cells->len, 0);
    assert_int_equal(stamp->clients->len, 3);
}

static void
unmanaged_by_default(VnumaSettings *settings)
{
    settings->defaults.managed = FALSE;
}

static void
prefer_ht_by_default(VnumaSettings *settings)
{
    settings->defaults.prefer_ht = TRUE;
}

static void
foreign_vcpupins(VnumaRequest *r)
{
    vnuma_pinset_add_vcpupin(r->pins, 0, vnuma_test_cpuset("2"));
    vnuma_pinset_add_vcpupin(r->pins, 1, vnuma_test_cpuset("3"));
}

static void
foreign_emulatorpin(VnumaRequest *r)
{
    r->pins->emulatorpin = vnuma_test_cpuset("0-1");
}

static void
foreign_numatune(VnumaRequest *r)
{
    r->pins->has_numatune = TRUE;
    r->pins->memory_mode = g_strdup("strict");
    r->pins->memory_nodeset = vnuma_test_cpuset("1");
}

static void
numatune_mode_only(VnumaRequest *r)
{
    r->pins->has_numatune = TRUE;
    r->pins->memory_mode = g_strdup("strict");
}

/* An admin re-pinned vCPU 0 to one pCPU after vnuma wrote its pins. */
static void
admin_repins_vcpu_0(VnumaRequest *r)
{
    VnumaVcpuPin *pin = &g_array_index(r->pins->vcpupins, VnumaVcpuPin, 0);

    assert_int_equal(pin->vcpu, 0);
    vnuma_cpuset_free(pin->cpuset);
    pin->cpuset = vnuma_test_cpuset("3");
    assert_int_equal(r->pins->vcpupins->len, 12);
}

/* A record whose clients do not cover every vCPU. */
static void
record_loses_client_1(VnumaRequest *r)
{
    g_array_remove_index(r->stamp->clients, 1);
}

/* Under topology='align', exposed even cells mean one guest socket per
 * cell (rule 5), whatever decided the cells. */
static void
one_socket_per_cell(const VnumaLayout *layout)
{
    guint cell_size;

    assert_true(layout->exposed);
    cell_size = vnuma_cpuset_count(((VnumaCell *) layout->cells->pdata[0])->vcpus);
    if (layout->topology.sockets != layout->cells->len || layout->topology.cores != cell_size) {
        g_autofree char *cells = cells_text(layout);

        print_error("guest topology %u sockets x %u cores does not match the %u cells '%s' "
                    "(sized_by %s)\n", layout->topology.sockets, layout->topology.cores,
                    layout->cells->len, cells, vnuma_sized_by_to_string(layout->sized_by));
        vnuma_test_dump_layout(layout);
        fail();
    }
}

/* Each client runs on its home node's usable CPUs, and so does vCPU 0. */
static void
pins_on_five_cores_of_node_0(const VnumaLayout *layout)
{
    for (guint i = 0; i < layout->clients->len; i++) {
        const VnumaClient *c = layout->clients->pdata[i];

        assert_set(c->cpus, c->home_node == 0 ? "0-4,20-24" : "10-19,30-39");
    }
    assert_set(g_array_index(layout->pins->vcpupins, VnumaVcpuPin, 0).cpuset,
               ((VnumaClient *) layout->clients->pdata[0])->home_node == 0 ? "0-4,20-24"
                                                                              : "10-19,30-39");
    assert_set(layout->pins->emulatorpin, "0-4,10-24,30-39");
}

static void
clients_on_first_threads(const VnumaLayout *layout)
{
    assert_set(((VnumaClient *) layout->clients->pdata[0])->cpus, "0-9");
    assert_set(((VnumaClient *) layout->clients->pdata[1])->cpus, "10-19");
}

static void
pins_on_node_1(const VnumaLayout *layout)
{
    for (guint i = 0; i < layout->pins->vcpupins->len; i++)
        assert_set(g_array_index(layout->pins->vcpupins, VnumaVcpuPin, i).cpuset, "10-19,30-39");
    assert_set(layout->pins->emulatorpin, "10-19,30-39");
    assert_set(layout->pins->memory_nodeset, "1");
}

/* The bad values are dropped: the defaults stay. */
static void
default_prefer_ht_and_vcpu_min(const VnumaLayout *layout)
{
    assert_false(layout->policy.prefer_ht);
    assert_int_equal(layout->policy.vcpu_min, 9);
}

/* vCPUs homed on host node @id. */
static guint
vcpus_on_node(const VnumaLayout *layout, gint id)
{
    guint count = 0;

    for (guint i = 0; i < layout->clients->len; i++) {
        const VnumaClient *client = layout->clients->pdata[i];

        if (client->home_node == id)
            count += vnuma_cpuset_count(client->vcpus);
    }
    return count;
}

/* Node 0 takes one client of 8, node 1, which has room left, the other two. */
static void
one_client_on_node_0(const VnumaLayout *layout)
{
    assert_int_equal(vcpus_on_node(layout, 0), 8);
    assert_int_equal(vcpus_on_node(layout, 1), 16);
}

#define HOST_2S10C "xeon-2s10c-ht"
#define HOST_4S4C "xeon-4s4c-ht"
#define TOPO(s, d, c, t) { .sockets = (s), .dies = (d), .cores = (c), .threads = (t) }

static const SizingRow sizing_rows[] = {
    /* The six public examples of docs/spec.md §3. */
    { "example: 12 vCPUs", HOST_2S10C, 12, 24 * GIB, "",
      .limit = N(10), .sized_by = N(VNUMA_SIZED_BY_CLIENT_LIMIT), .clients = "0-5 6-11", .homes = "0 1",
      .cells = "0-5 6-11", .cell_gib = { 12, 12 }, .write_topology = YES, .topology = TOPO(2, 1, 6, 1),
      .no_warnings = TRUE },
    { "example: 12 vCPUs, preferHT", HOST_2S10C, 12, 24 * GIB, "preferHT=yes",
      .limit = N(20), .clients = "0-11", .homes = "0", .cells = "", .topology = TOPO(1, 1, 12, 1),
      .no_warnings = TRUE },
    { "example: 10 vCPUs", HOST_2S10C, 10, 16 * GIB, "",
      .clients = "0-9", .homes = "0", .cells = "", .topology = TOPO(1, 1, 10, 1), .client_gib = { 16 },
      .no_warnings = TRUE },
    { "example: 10 vCPUs, coresPerSocket 5", HOST_2S10C, 10, 16 * GIB, "coresPerSocket=5",
      .sized_by = N(VNUMA_SIZED_BY_CORES_PER_SOCKET), .clients = "0-4 5-9", .homes = "0 1",
      .cells = "0-4 5-9", .topology = TOPO(2, 1, 5, 1), .no_warnings = TRUE },
    { "example: 4 x 4 cores, 8 vCPUs (8 < vcpuMin 9)", HOST_4S4C, 8, 16 * GIB, "",
      .limit = N(4), .clients = "0-3 4-7", .cells = "", .topology = TOPO(1, 1, 8, 1),
      .extra = homes_distinct },
    { "example: 8 vCPUs, maxPerMachineNode 4", HOST_2S10C, 8, 16 * GIB, "maxPerMachineNode=4",
      .limit = N(4), .clients = "0-3 4-7", .homes = "0 1", .cells = "", .topology = TOPO(1, 1, 8, 1) },

    /* Rule 1: the client limit L. */
    { "rule 1: a memory-only node does not count", "asym-memory-2s", 16, 32 * GIB, "",
      .limit = N(8), .clients = "0-7 8-15", .homes = "0 1", .extra = memory_only_node_unused },
    /* 3 clients of 8 would outnumber the 2 CPU nodes: 2 of 12 (16 threads each). */
    { "rule 1: a memory-only node does not count, wide", "asym-memory-2s", 24, 48 * GIB, "",
      .limit = N(8), .clients = "0-11 12-23", .extra = memory_only_node_unused },
    { "rule 1: preferHT counts threads", "asym-memory-2s", 16, 32 * GIB, "preferHT=true",
      .limit = N(16), .clients = "0-15", .cells = "" },
    { "rule 1: maxPerMachineNode caps L", HOST_2S10C, 12, 24 * GIB, "maxPerMachineNode=3",
      .limit = N(3), .clients = "0-2 3-5 6-8 9-11", .cells = "0-2 3-5 6-8 9-11",
      .topology = TOPO(4, 1, 3, 1) },
    { "rule 1: maxPerMachineNode caps the thread count too", HOST_2S10C, 12, 24 * GIB,
      "preferHT=yes maxPerMachineNode=8", .limit = N(8), .clients = "0-5 6-11" },
    { "rule 1: a maxPerMachineNode above the node changes nothing", HOST_2S10C, 12, 24 * GIB,
      "maxPerMachineNode=64", .limit = N(10), .clients = "0-5 6-11" },
    /* Node 0 has 4 online cores (8 threads), node 1 has 6 (12); 3 clients
     * of 4 would outnumber the 2 nodes: 2 of 6. */
    { "rule 1: offline CPUs", "offline-cpus-2s", 12, 24 * GIB, "",
      .limit = N(4), .clients = "0-5 6-11", .cells = "0-5 6-11", .topology = TOPO(2, 1, 6, 1),
      .extra = first_client_online_cpus },
    { "rule 1: offline CPUs, preferHT", "offline-cpus-2s", 12, 24 * GIB, "preferHT=yes",
      .limit = N(8), .clients = "0-5 6-11" },

    /* Rule 3: balanced clients; 8 nodes, so three clients do not outnumber them. */
    { "rule 3: 21 vCPUs split evenly", "epyc-nps4-2s", 21, 42 * GIB, "",
      .clients = "0-6 7-13 14-20", .cells = "0-6 7-13 14-20", .topology = TOPO(3, 1, 7, 1),
      .tiles_page_kib = 4, .client_gib = { 14 } },
    /* Larger clients first, contiguous, ascending (L=8); uneven cells are
     * still exposed, but the guest gets 1 socket x V. */
    { "rule 3: 23 vCPUs split unevenly", "epyc-nps4-2s", 23, 23 * GIB, "",
      .clients = "0-7 8-15 16-22", .cells = "0-7 8-15 16-22", .write_topology = YES,
      .topology = TOPO(1, 1, 23, 1), .cell_gib = { 8, 8, 7 }, .tiles_page_kib = 4 },

    /* Rule 2: coresPerSocket. */
    { "rule 2: a coresPerSocket that does not divide V", HOST_2S10C, 12, 24 * GIB, "coresPerSocket=7",
      .warn = { "coresPerSocket" }, .sized_by = N(VNUMA_SIZED_BY_CLIENT_LIMIT), .clients = "0-5 6-11",
      .cells = "0-5 6-11", .topology = TOPO(2, 1, 6, 1) },
    /* ceil(24 / min(10, 12)) = 3 clients would outnumber the 2 nodes: one
     * client per cell instead (12 vCPUs fit a node's 20 threads). */
    { "rule 2: coresPerSocket above L", HOST_2S10C, 24, 48 * GIB, "coresPerSocket=12",
      .sized_by = N(VNUMA_SIZED_BY_CORES_PER_SOCKET), .cells = "0-11 12-23", .clients = "0-11 12-23",
      .no_warn = { "vNUMA node spans NUMA clients" }, .topology = TOPO(2, 1, 12, 1), .tiles_page_kib = 4,
      .cell_gib = { 24 }, .client_gib = { 24 } },
    /* C < L: clients follow the cells; 3 would outnumber the 2 nodes, so
     * whole cells are grouped, one client per node. */
    { "rule 2: coresPerSocket below L", HOST_2S10C, 12, 24 * GIB, "coresPerSocket=4",
      .cells = "0-3 4-7 8-11", .clients = "0-7 8-11", .topology = TOPO(3, 1, 4, 1), .no_warn = { "spans" } },
    /* 8 < vcpuMin: no cells; the guest still gets the cores per socket
     * the admin asked for (docs/sizing.md: "exposed or not"). */
    { "rule 2: coresPerSocket, not exposed", HOST_2S10C, 8, 16 * GIB, "coresPerSocket=4",
      .clients = "0-3 4-7", .cells = "", .write_topology = YES, .topology = TOPO(2, 1, 4, 1),
      .memnodes = N(0) },

    /* Rule 4: exposure. */
    { "rule 4: vcpuMin lowered", HOST_4S4C, 8, 16 * GIB, "vcpuMin=4",
      .clients = "0-3 4-7", .cells = "0-3 4-7", .topology = TOPO(2, 1, 4, 1), .memnodes = N(2) },
    /* A wide VM still has several clients on several nodes. */
    { "rule 4: vcpuMin raised", HOST_2S10C, 12, 24 * GIB, "vcpuMin=20",
      .clients = "0-5 6-11", .homes = "0 1", .cells = "", .topology = TOPO(1, 1, 12, 1), .memnodes = N(0) },
    { "rule 4: V = vcpuMin = 9 is exposed", HOST_4S4C, 9, 18 * GIB, "",
      .clients = "0-2 3-5 6-8", .cells = "0-2 3-5 6-8", .topology = TOPO(3, 1, 3, 1) },

    /* Rule 5: guest topology. */
    { "rule 5: keep, a socket straddles cells", HOST_2S10C, 12, 24 * GIB, "topology=keep",
      .given = TOPO(1, 1, 12, 1), .cells = "0-5 6-11", .write_topology = NO, .topology = TOPO(1, 1, 12, 1),
      .warn = { "straddles" } },
    { "rule 5: keep, aligned", HOST_2S10C, 12, 24 * GIB, "topology=keep",
      .given = TOPO(2, 1, 3, 2), .cells = "0-5 6-11", .write_topology = NO, .topology = TOPO(2, 1, 3, 2),
      .no_warn = { "straddles" } },
    /* The flat default Nova writes when nothing was asked is not the owner's. */
    { "rule 5: align replaces the flat default", HOST_2S10C, 12, 24 * GIB, "",
      .given = TOPO(12, 1, 1, 1), .write_topology = YES, .topology = TOPO(2, 1, 6, 1) },

    /* Rule 6: memory. */
    { "rule 6: 1 GiB pages in three parts", HOST_2S10C, 12, 48 * GIB, "maxPerMachineNode=4", .page_kib = GIB,
      .layout_page_kib = N(GIB), .clients = "0-3 4-7 8-11", .client_gib = { 16, 16, 16 },
      .cell_gib = { 16, 16, 16 }, .tiles_page_kib = GIB },
    { "rule 6: memory larger than a node", "asym-memory-2s", 16, 96 * GIB, "",
      .homes = "0 1", .warn = { "remote memory is unavoidable" }, .no_warn = { "home node 0" },
      .extra = remote_memory_on_node_1 },
    { "rule 6: memory that fits the nodes", "asym-memory-2s", 16, 48 * GIB, "", .no_warn = { "remote memory" } },
    /* 24 GiB per client of 1 GiB pages; each node holds 16 of them. */
    { "rule 6: more huge pages than the pool", HOST_2S10C, 12, 48 * GIB, "", .page_kib = GIB,
      .clients = "0-5 6-11", .client_gib = { 24 }, .warn = { "remote memory is unavoidable", "huge pages" } },
    /* No 2 MiB pages reserved at all on this host. */
    { "rule 6: a page size with no pool", HOST_2S10C, 12, 8 * GIB, "", .page_kib = 2048,
      .warn = { "huge pages" } },
    { "rule 6: huge pages within the pool", HOST_2S10C, 12, 24 * GIB, "", .page_kib = GIB,
      .client_gib = { 12 }, .no_warnings = TRUE },
    { "rule 6: memory not a page multiple", HOST_2S10C, 12, 10 * GIB + 512, "", .page_kib = GIB,
      .warn = { "not a multiple" }, .extra = remainder_on_last_part },

    /* Rule 7: CPU hot-add; every possible vCPU is sized and pinned. */
    { "rule 7: hot-add, 16 of 24", HOST_2S10C, 24, 48 * GIB, "", .current = 16,
      .layout_vcpus = N(24), .clients = "0-11 12-23", .cells = "0-11 12-23", .topology = TOPO(2, 1, 12, 1),
      .vcpupins = N(24) },

    /* Rule 8: the owner's cells. */
    /* Below vcpuMin, but the owner asked for two cells: they stay. */
    { "rule 8: the owner's cells below vcpuMin", HOST_2S10C, 8, 8 * GIB, "", .owner_cells = "0-3=4 4-7=4",
      .owner = YES, .cells = "0-3 4-7", .clients = "0-3 4-7", .homes = "0 1" },
    { "rule 8: vCPUs outside the owner's cells", HOST_2S10C, 12, 12 * GIB, "", .owner_cells = "0-3=4 4-7=4",
      .owner = YES, .cells = "0-3 4-7", .clients = "0-3 4-7 8-11", .warn = { "outside" }, .vcpupins = N(12) },
    { "rule 8: the owner's cells straddle the topology", HOST_2S10C, 12, 12 * GIB, "",
      .owner_cells = "0-5=6 6-11=6", .given = TOPO(1, 1, 12, 1), .owner = YES, .write_topology = NO,
      .topology = TOPO(1, 1, 12, 1), .warn = { "straddles" } },

    /* Rule 9: not managed. */
    { "rule 9: managed=no", HOST_2S10C, 12, 24 * GIB, "managed=no", .unmanaged = "managed", .n_clients = N(0) },
    { "rule 9: a xen domain", HOST_2S10C, 12, 24 * GIB, "", .type = "xen", .unmanaged = "xen" },
    { "rule 9: a qemu domain is managed", HOST_2S10C, 12, 24 * GIB, "", .type = "qemu" },
    { "rule 9: placement='auto' is numad's", HOST_2S10C, 12, 24 * GIB, "", .placement_auto = TRUE,
      .unmanaged = "numad" },

    /* Rule 10: autosize, on a domain vnuma planned before. */
    /* On the 2 x 10 host alone it would be one client of 8. */
    { "rule 10: once keeps 4 + 4 from 4 x 4 cores, not exposed", HOST_2S10C, 8, 16 * GIB, "",
      .record_on = HOST_4S4C, .sized_by = N(VNUMA_SIZED_BY_RECORD), .clients = "0-3 4-7", .homes = "0 1",
      .cells = "" },
    { "rule 10: always sizes for this host", HOST_2S10C, 12, 24 * GIB, "autosize=always", .record_on = HOST_4S4C,
      .sized_by = N(VNUMA_SIZED_BY_CLIENT_LIMIT), .clients = "0-5 6-11", .cells = "0-5 6-11",
      .topology = TOPO(2, 1, 6, 1) },
    /* The owner raised <vcpu> from 12 to 16; vnuma's old cells and pins stay in the XML. */
    { "rule 10: V changed", HOST_2S10C, 16, 32 * GIB, "", .record_on = HOST_2S10C, .record_vcpus = 12,
      .sized_by = N(VNUMA_SIZED_BY_CLIENT_LIMIT), .owner = NO, .clients = "0-7 8-15", .cells = "0-7 8-15",
      .topology = TOPO(2, 1, 8, 1), .vcpupins = N(16) },
    /* 6 + 6 kept on a host whose nodes have 4 cores. */
    { "rule 10: a kept client above this host's L warns", HOST_4S4C, 12, 24 * GIB, "", .record_on = HOST_2S10C,
      .sized_by = N(VNUMA_SIZED_BY_RECORD), .limit = N(4), .clients = "0-5 6-11", .homes = "0 1",
      .warn = { "client limit is 4" } },
    { "rule 9: vnuma's own pins are not foreign", HOST_2S10C, 12, 24 * GIB, "", .record_on = HOST_2S10C,
      .clients = "0-5 6-11" },
    /* Rule 6, continued. */
    { "rule 6: uneven pages", HOST_2S10C, 12, 10 * GIB, "maxPerMachineNode=4", .page_kib = GIB,
      .clients = "0-3 4-7 8-11", .tiles_page_kib = GIB, .extra = three_three_four_gib },
    /* Parts are cut on whole MiB, since libvirt rounds each guest cell up to 1 MiB. */
    { "rule 6: uneven vCPUs, small pages", HOST_2S10C, 23, 1024000, "",
      .tiles_page_kib = 1024, .no_warn = { "not a multiple" }, .extra = shares_within_a_mib },

    /* Rule 8, continued: the owner's memory split stays; cell 4-15 is
     * larger than L = 10: split 6 + 6. */
    { "rule 8: the owner's cells", HOST_2S10C, 16, 16 * GIB, "", .owner_cells = "0-3=4 4-15=12",
      .given = TOPO(16, 1, 1, 1), .sized_by = N(VNUMA_SIZED_BY_OWNER_CELLS), .owner = YES,
      .cells = "0-3 4-15", .cell_gib = { 4, 12 }, .clients = "0-3 4-9 10-15", .write_topology = NO,
      .topology = TOPO(16, 1, 1, 1), .memnodes = N(2), .extra = memnodes_follow_owner_cells },

    /* Rule 9, continued. */
    { "rule 9: managed=no in vnuma.conf", HOST_2S10C, 12, 24 * GIB, "", .configure = unmanaged_by_default,
      .unmanaged = "managed" },
    { "rule 9: a domain opts back in", HOST_2S10C, 12, 24 * GIB, "managed=yes",
      .configure = unmanaged_by_default, .clients = "0-5 6-11" },
    { "rule 9: a foreign <vcpupin>", HOST_2S10C, 12, 24 * GIB, "", .setup = foreign_vcpupins,
      .unmanaged = "vnuma did not write" },
    { "rule 9: a foreign <emulatorpin>", HOST_2S10C, 12, 24 * GIB, "", .setup = foreign_emulatorpin,
      .unmanaged = "vnuma did not write" },
    { "rule 9: a foreign <numatune>", HOST_2S10C, 12, 24 * GIB, "", .setup = foreign_numatune,
      .unmanaged = "numatune" },
    { "rule 9: a <numatune> mode alone", HOST_2S10C, 12, 24 * GIB, "", .setup = numatune_mode_only,
      .clients = "0-5 6-11" },
    { "rule 9: vnuma's pins, changed since", HOST_2S10C, 12, 24 * GIB, "", .record_on = HOST_2S10C,
      .setup = admin_repins_vcpu_0, .unmanaged = "vnuma did not write" },
    { "rule 9: no vCPUs", HOST_2S10C, 0, GIB, "", .unmanaged = "" },

    /* Rule 10, continued. */
    { "rule 10: a record missing vCPUs is not used", HOST_2S10C, 12, 24 * GIB, "maxPerMachineNode=4",
      .record_on = HOST_2S10C, .setup = record_loses_client_1, .sized_by = N(VNUMA_SIZED_BY_CLIENT_LIMIT),
      .clients = "0-3 4-7 8-11" },
    /* A record of 6 + 6 (autosize=once) meets a coresPerSocket=4 the admin added later. */
    { "rule 10: a record, then coresPerSocket", HOST_2S10C, 12, 24 * GIB, "coresPerSocket=4",
      .record_on = HOST_2S10C, .write_topology = YES, .no_warn = { "straddles" },
      .extra = one_socket_per_cell },

    /* Usable CPUs: host_cpuset and <vcpu cpuset>. */
    /* Node 0 keeps 5 of its 10 cores (both threads each); 3 clients would
     * outnumber the 2 nodes; 6 vCPUs fit node 0's 10 threads. */
    { "usable: host_cpuset lowers L", HOST_2S10C, 12, 24 * GIB, "", .host_cpuset = "0-4,10-24,30-39",
      .limit = N(5), .clients = "0-5 6-11", .topology = TOPO(2, 1, 6, 1), .extra = pins_on_five_cores_of_node_0 },
    /* One thread of every core: still 10 cores per node. */
    { "usable: host_cpuset of one thread a core", HOST_2S10C, 12, 24 * GIB, "", .host_cpuset = "0-19",
      .limit = N(10), .clients = "0-5 6-11", .extra = clients_on_first_threads },
    /* preferHT counts the usable threads: 10 as well. */
    { "usable: host_cpuset of one thread a core, preferHT", HOST_2S10C, 12, 24 * GIB, "preferHT=yes",
      .host_cpuset = "0-19", .limit = N(10), .clients = "0-5 6-11" },
    /* One CPU-bearing node: one client, no guest cells. */
    { "usable: <vcpu cpuset> on one node", HOST_2S10C, 12, 24 * GIB, "", .vcpu_cpuset = "10-19,30-39",
      .limit = N(10), .clients = "0-11", .homes = "1", .cells = "", .no_warn = { "share" },
      .extra = pins_on_node_1 },
    { "usable: nothing", HOST_2S10C, 12, 24 * GIB, "", .host_cpuset = "0-9", .vcpu_cpuset = "10-19",
      .unmanaged = "no usable host CPU" },
    /* No SMT sibling left: node 0 has 8 threads, node 1 has 10. Three
     * clients of 8 (12 would not fit node 0) on two nodes. */
    { "usable: clients within a node's threads", HOST_2S10C, 24, 48 * GIB, "", .host_cpuset = "0-7,10-19",
      .clients = "0-7 8-15 16-23", .extra = one_client_on_node_0 },
    /* Nova's host_cpuset leaving 8 and 10 cores (with their threads): L=8
     * would make 3 clients on 2 nodes; 2 clients of 12 fit 16 threads. */
    { "usable: fewer, larger clients", HOST_2S10C, 24, 48 * GIB, "", .host_cpuset = "0-7,20-27,10-19,30-39",
      .limit = N(8), .clients = "0-11 12-23", .cells = "0-11 12-23", .homes = "0 1" },

    /* Overrides and vnuma.conf defaults. */
    { "overrides: bad ones are ignored", HOST_2S10C, 12, 24 * GIB, "preferHT=maybe vcpuMin=-3 numaNodes=2",
      .warn = { "preferHT", "maybe", "vcpuMin", "numaNodes" }, .n_warnings = N(3), .limit = N(10),
      .clients = "0-5 6-11", .cells = "0-5 6-11", .topology = TOPO(2, 1, 6, 1),
      .extra = default_prefer_ht_and_vcpu_min },
    { "overrides: a bad one keeps an earlier good one", HOST_2S10C, 12, 24 * GIB,
      "maxPerMachineNode=4 maxPerMachineNode=0", .warn = { "maxPerMachineNode" }, .limit = N(4),
      .clients = "0-3 4-7 8-11" },
    { "vnuma.conf: defaults apply", HOST_2S10C, 12, 24 * GIB, "", .configure = prefer_ht_by_default,
      .clients = "0-11" },
    /* The domain's override wins over vnuma.conf. */
    { "vnuma.conf: the domain's override wins", HOST_2S10C, 12, 24 * GIB, "preferHT=no",
      .configure = prefer_ht_by_default, .clients = "0-5 6-11" },

    /* The owner's topology (a flavor's hw:cpu_*): kept, cells of whole sockets. */
    /* hw:cpu_sockets=3 on 24 vCPUs: 3 sockets of 8; two on one node, one on the other. */
    { "owner topology: 3 sockets of 8", HOST_2S10C, 24, 24 * GIB, "", .given = TOPO(3, 1, 8, 1),
      .sized_by = N(VNUMA_SIZED_BY_OWNER_TOPOLOGY), .write_topology = NO, .topology = TOPO(3, 1, 8, 1),
      .cells = "0-15 16-23", .clients = "0-15 16-23", .homes = "0 1",
      .no_warn = { "larger than the client limit" } },
    /* hw:cpu_threads=2: SMT stays, and a socket of 12 is larger than L=10. */
    { "owner topology: SMT", HOST_2S10C, 24, 24 * GIB, "", .given = TOPO(2, 1, 6, 2),
      .sized_by = N(VNUMA_SIZED_BY_OWNER_TOPOLOGY), .write_topology = NO, .topology = TOPO(2, 1, 6, 2),
      .cells = "0-11 12-23", .clients = "0-11 12-23",
      .warn = { "guest socket of 12 vCPUs is larger than the client limit L=10" } },
    /* hw:cpu_max_sockets=2: 2 sockets of 12 cores. */
    { "owner topology: a socket licence", HOST_2S10C, 24, 24 * GIB, "", .given = TOPO(2, 1, 12, 1),
      .write_topology = NO, .topology = TOPO(2, 1, 12, 1), .cells = "0-11 12-23" },
    /* One socket of 24 threads fits no node's 20: one cell, split into
     * clients of at most L. */
    { "owner topology: a socket wider than the nodes", HOST_2S10C, 24, 24 * GIB, "",
      .given = TOPO(1, 1, 12, 2), .sized_by = N(VNUMA_SIZED_BY_OWNER_TOPOLOGY),
      .clients = "0-7 8-15 16-23", .cells = "", .topology = TOPO(1, 1, 12, 2),
      .warn = { "larger than the client limit" } },
};

static void
add_overrides(VnumaRequest *r, const char *overrides)
{
    g_auto(GStrv) pairs = g_strsplit(overrides, " ", -1);

    for (guint i = 0; pairs[i]; i++) {
        g_auto(GStrv) kv = NULL;

        if (!*pairs[i])
            continue;
        kv = g_strsplit(pairs[i], "=", 2);
        assert_non_null(kv[1]);
        vnuma_request_add_override(r, kv[0], kv[1]);
    }
}

/* "0-3=4 4-7=4": cells of those vCPUs and GiB, in order. */
static void
add_owner_cells(VnumaRequest *r, const char *cells)
{
    g_auto(GStrv) parts = g_strsplit(cells, " ", -1);

    for (guint i = 0; parts[i]; i++) {
        g_auto(GStrv) kv = g_strsplit(parts[i], "=", 2);

        assert_non_null(kv[1]);
        g_ptr_array_add(r->cells, vnuma_cell_new(vnuma_test_cpuset(kv[0]), g_ascii_strtoull(kv[1], NULL, 10) * GIB));
    }
}

static void
check_memory(const VnumaLayout *layout, const char *what, const guint *gib, guint n,
             guint64 (*memory)(const VnumaLayout *, guint))
{
    for (guint i = 0; i < 4 && gib[i]; i++) {
        if (i >= n || memory(layout, i) != gib[i] * GIB) {
            print_error("%s %u: got %" G_GUINT64_FORMAT " KiB, want %u GiB\n", what, i,
                        i < n ? memory(layout, i) : 0, gib[i]);
            vnuma_test_dump_layout(layout);
            fail();
        }
    }
}

static void
check_row(const SizingRow *row, const VnumaLayout *layout)
{
    const VnumaGuestTopology *t = &row->topology;

    if (row->unmanaged) {
        assert_unmanaged(layout, row->unmanaged);
    } else {
        assert_managed(layout);
    }
    if (row->n_clients.set)
        assert_int_equal(layout->clients->len, row->n_clients.n);
    if (row->layout_vcpus.set)
        assert_int_equal(layout->vcpus, row->layout_vcpus.n);
    if (row->layout_page_kib.set)
        assert_int_equal(layout->page_kib, row->layout_page_kib.n);
    if (row->owner != ANY)
        assert_int_equal(layout->owner_cells, row->owner == YES);
    if (row->limit.set)
        assert_int_equal(layout->client_limit, row->limit.n);
    if (row->sized_by.set)
        assert_int_equal(layout->sized_by, row->sized_by.n);
    if (row->clients)
        check_text(layout, "clients", clients_text(layout), (const char *const[]) { row->clients, NULL });
    if (row->homes)
        check_text(layout, "home nodes", homes_text(layout), (const char *const[]) { row->homes, NULL });
    if (row->cells && !*row->cells) {
        assert_no_cells(layout);
    } else if (row->cells) {
        assert_true(layout->exposed);
        check_text(layout, "cells", cells_text(layout), (const char *const[]) { row->cells, NULL });
    }
    if (row->write_topology != ANY)
        assert_int_equal(layout->write_topology, row->write_topology == YES);
    if (t->sockets) {
        assert_topology(layout, t->sockets, t->dies, t->cores, t->threads);
        assert_int_equal(topology_product(layout), t->sockets * t->dies * t->cores * t->threads);
    }
    check_memory(layout, "cell", row->cell_gib, layout->exposed ? layout->cells->len : 0, cell_memory);
    check_memory(layout, "client", row->client_gib, layout->clients->len, client_memory);
    if (row->tiles_page_kib)
        assert_memory_tiles(layout, row->memory_kib, row->tiles_page_kib);
    if (row->memnodes.set)
        assert_int_equal(layout->pins->memnodes->len, row->memnodes.n);
    if (row->vcpupins.set)
        assert_int_equal(layout->pins->vcpupins->len, row->vcpupins.n);
    if (row->no_warnings)
        assert_no_warnings(layout);
    if (row->n_warnings.set)
        assert_int_equal(layout->warnings->len, row->n_warnings.n);
    for (guint i = 0; i < G_N_ELEMENTS(row->warn) && row->warn[i]; i++)
        assert_warning(layout, row->warn[i]);
    for (guint i = 0; i < G_N_ELEMENTS(row->no_warn) && row->no_warn[i]; i++)
        assert_no_warning(layout, row->no_warn[i]);
    if (row->extra)
        row->extra(layout);
}

static void
test_row(void **state)
{
    const SizingRow *row = *state;
    g_autoptr(VnumaHost) host = vnuma_test_host(row->host);
    g_autoptr(VnumaRequest) r = NULL;
    g_autoptr(VnumaLayout) layout = NULL;
    VnumaSettings settings;

    if (row->record_on) {
        guint v = row->record_vcpus ? row->record_vcpus : row->vcpus;
        g_autoptr(VnumaLayout) previous = plan_on(row->record_on, v, row->memory_kib / row->vcpus * v);

        r = request_after(previous, row->vcpus, row->memory_kib);
        assert_int_equal(r->pins->vcpupins->len, v);
    } else {
        r = vnuma_test_request(row->vcpus, row->memory_kib);
    }
    add_overrides(r, row->overrides);
    if (row->given.sockets)
        r->topology = row->given;
    if (row->page_kib) {
        r->hugepages = TRUE;
        r->page_kib = row->page_kib;
    }
    if (row->current)
        r->current_vcpus = row->current;
    if (row->owner_cells)
        add_owner_cells(r, row->owner_cells);
    if (row->type) {
        g_free(r->type);
        r->type = g_strdup(row->type);
    }
    r->placement_auto = row->placement_auto;
    if (row->vcpu_cpuset)
        r->vcpu_cpuset = vnuma_test_cpuset(row->vcpu_cpuset);
    if (row->setup)
        row->setup(r);
    vnuma_settings_init(&settings);
    if (row->host_cpuset)
        settings.host_cpuset = vnuma_test_cpuset(row->host_cpuset);
    if (row->configure)
        row->configure(&settings);
    layout = plan_with(host, &settings, r);
    vnuma_settings_clear(&settings);
    check_row(row, layout);
}

/* ---- rule 6: memory ----------------------------------------------------- */

/* Two nodes of 4 single-thread cores, 64 GiB each, with a 1 GiB pool of
 * 16 pages of which @free are free (sysfs knows free counts). */
static VnumaHost *
host_with_free_pages(gint64 free)
{
    g_autoptr(GError) error = NULL;
    VnumaHost *host = vnuma_host_new();

    for (guint n = 0; n < 2; n++) {
        VnumaHostNode *node = vnuma_host_add_node(host, n, 64 * GIB);

        for (guint c = 0; c < 4; c++) {
            VnumaCpuSet *self = vnuma_cpuset_new();

            vnuma_cpuset_add(self, 4 * n + c);
            vnuma_host_node_add_cpu(node, 4 * n + c, TRUE, n, 0, c, self);
        }
        vnuma_host_node_add_pages(node, 4, 12 * GIB / 4, -1);
        vnuma_host_node_add_pages(node, GIB, 16, free);
        vnuma_host_node_add_distance(node, 0, n == 0 ? 10 : 21);
        vnuma_host_node_add_distance(node, 1, n == 1 ? 10 : 21);
    }
    if (!vnuma_host_finish(host, &error))
        fail_msg("vnuma_host_finish: %s", error->message);
    return host;
}

static void
test_rule6_free_hugepages(void **state)
{
    g_autoptr(VnumaHost) tight = host_with_free_pages(4);
    g_autoptr(VnumaHost) roomy = host_with_free_pages(16);
    g_autoptr(VnumaRequest) r = vnuma_test_request(8, 16 * GIB);
    g_autoptr(VnumaLayout) tight_layout = NULL;
    g_autoptr(VnumaLayout) roomy_layout = NULL;

    (void) state;
    r->hugepages = TRUE;
    r->page_kib = GIB;
    /* 8 GiB per client: more than 4 free pages, within 16. */
    tight_layout = plan(tight, r);
    assert_clients(tight_layout, "0-3", "4-7");
    assert_warning(tight_layout, "remote memory is unavoidable");
    roomy_layout = plan(roomy, r);
    assert_no_warnings(roomy_layout);
}

/* Several clients homed on one node must fit it together. */
static void
test_rule6_clients_sharing_a_node(void **state)
{
    g_autoptr(VnumaHost) host = host_with_free_pages(16);
    g_autoptr(VnumaRequest) r = vnuma_test_request(12, 48 * GIB);
    g_autoptr(VnumaLayout) layout = NULL;
    const char *w;

    (void) state;
    r->hugepages = TRUE;
    r->page_kib = GIB;
    vnuma_request_add_override(r, "maxPerMachineNode", "4");
    /* 3 clients of 16 GiB on 2 nodes with 16 free 1 GiB pages each: each
     * client fits alone, but the node holding two does not. */
    layout = plan(host, r);
    assert_int_equal(layout->clients->len, 3);
    w = find_warning(layout, "remote memory is unavoidable");
    assert_non_null(w);
    assert_non_null(strstr(w, "home node 0"));
    assert_non_null(strstr(w, "0,2"));
    assert_null(strstr(w, "home node 1"));
}

/* ---- rule 11: idempotence ---------------------------------------------- */

/* Rule 11: planning vnuma's own output changes nothing. */
static void
test_rule11_idempotent(void **state)
{
    g_autoptr(VnumaHost) host = vnuma_test_host("xeon-2s10c-ht");
    g_autoptr(VnumaLayout) previous = plan_on("xeon-2s10c-ht", 12, 24 * GIB);
    g_autoptr(VnumaRequest) r = request_after(previous, 12, 24 * GIB);
    g_autoptr(VnumaLayout) layout = plan(host, r);
    g_autofree char *before = pins_digest(previous);
    g_autofree char *after = pins_digest(layout);
    g_autofree char *homes_before = homes_text(previous);

    (void) state;
    assert_managed(layout);
    assert_int_equal(layout->sized_by, VNUMA_SIZED_BY_RECORD);
    assert_clients(layout, "0-5", "6-11");
    assert_homes(layout, homes_before);
    assert_true(vnuma_cells_equal(layout->cells, previous->cells));
    assert_true(vnuma_guest_topology_equal(&layout->topology, &previous->topology));
    assert_str_equal(after, before);
    assert_no_warnings(layout);
}

/* ---- rule 10: autosize ---------------------------------------------------- */

/* Home nodes are chosen for this host, of nodes 0 and 1. */
static void
assert_homes_on_two_nodes(const VnumaLayout *layout)
{
    for (guint i = 0; i < layout->clients->len; i++) {
        gint home = ((VnumaClient *) layout->clients->pdata[i])->home_node;

        assert_true(home == 0 || home == 1);
    }
}

static void
test_rule10_autosize_once_keeps_record(void **state)
{
    g_autoptr(VnumaHost) host2 = vnuma_test_host("xeon-2s10c-ht");
    g_autoptr(VnumaLayout) previous = plan_on("xeon-4s4c-ht", 12, 24 * GIB);
    g_autoptr(VnumaRequest) r = request_after(previous, 12, 24 * GIB);
    g_autoptr(VnumaLayout) layout = NULL;

    (void) state;
    assert_clients(previous, "0-3", "4-7", "8-11");
    assert_cells(previous, "0-3", "4-7", "8-11");
    /* The domain moves to the 2-node host (same V): sizing stays. */
    layout = plan(host2, r);
    assert_managed(layout);
    assert_int_equal(layout->sized_by, VNUMA_SIZED_BY_RECORD);
    assert_clients(layout, "0-3", "4-7", "8-11");
    assert_true(layout->exposed);
    assert_cells(layout, "0-3", "4-7", "8-11");
    assert_topology(layout, 3, 1, 4, 1);
    assert_homes_on_two_nodes(layout);
    assert_string_not_equal(layout->host_fingerprint, previous->host_fingerprint);
}

/* Migrate/restore (docs/spec.md §6): cells and topology stay, whatever autosize says. */
static void
test_keep_guest_abi(void **state)
{
    g_autoptr(VnumaHost) host2 = vnuma_test_host("xeon-2s10c-ht");
    g_autoptr(VnumaLayout) previous = plan_on("xeon-4s4c-ht", 12, 24 * GIB);
    g_autoptr(VnumaRequest) r = request_after(previous, 12, 24 * GIB);
    g_autoptr(VnumaLayout) layout = NULL;

    (void) state;
    vnuma_request_add_override(r, "autosize", "always");
    r->keep_guest_abi = TRUE;
    layout = plan(host2, r);
    assert_managed(layout);
    assert_clients(layout, "0-3", "4-7", "8-11");
    assert_true(layout->exposed);
    assert_true(vnuma_cells_equal(layout->cells, r->cells));
    assert_topology(layout, 3, 1, 4, 1);
    assert_homes_on_two_nodes(layout);
}

/* ---- usable CPUs: host_cpuset and <vcpu cpuset> -------------------------- */

static void
test_usable_cpus(void **state)
{
    g_autoptr(VnumaHost) host = vnuma_test_host("offline-cpus-2s");
    g_autoptr(VnumaRequest) r = vnuma_test_request(4, GIB);
    g_autoptr(VnumaCpuSet) all = NULL;
    g_autoptr(VnumaCpuSet) restricted = NULL;
    VnumaSettings settings;

    (void) state;
    vnuma_settings_init(&settings);
    all = vnuma_usable_cpus(host->nodes->pdata[0], &settings, r);
    assert_set(all, "0-3,12-15");
    settings.host_cpuset = vnuma_test_cpuset("1-5,13-40");
    r->vcpu_cpuset = vnuma_test_cpuset("0-2,12-14");
    restricted = vnuma_usable_cpus(host->nodes->pdata[0], &settings, r);
    assert_set(restricted, "1-2,13-14");
    vnuma_settings_clear(&settings);
}

/* ---- helpers of the sizing engine --------------------------------------- */

static void
assert_runs(GPtrArray *runs, const char *const *expected)
{
    g_autoptr(GPtrArray) parts = g_ptr_array_new_null_terminated(4, g_free, TRUE);
    g_autofree char *got = NULL;
    g_autofree char *want = g_strjoinv(" ", (char **) expected);

    for (guint i = 0; i < runs->len; i++)
        g_ptr_array_add(parts, vnuma_cpuset_format(runs->pdata[i]));
    got = g_strjoinv(" ", (char **) parts->pdata);
    g_ptr_array_unref(runs);
    assert_str_equal(got, want);
}

#define assert_split(text, parts, ...) do { \
        g_autoptr(VnumaCpuSet) split_set_ = vnuma_test_cpuset(text); \
        assert_runs(vnuma_split_balanced(split_set_, (parts)), \
                    (const char *const[]) { __VA_ARGS__, NULL }); \
    } while (0)

static void
test_split_balanced(void **state)
{
    (void) state;
    assert_split("0-11", 2, "0-5", "6-11");
    assert_split("0-22", 3, "0-7", "8-15", "16-22");
    assert_split("0-9", 4, "0-2", "3-5", "6-7", "8-9");
    /* More parts than vCPUs: one vCPU each. */
    assert_split("0-2", 5, "0", "1", "2");
    /* Zero parts means one. */
    assert_split("0-3", 0, "0-3");
    /* Gaps in the set are kept in order. */
    assert_split("0-2,8-9,20", 2, "0-2", "8-9,20");
}

static void
test_memory_share(void **state)
{
    guint64 sum = 0;

    (void) state;
    /* Even split. */
    assert_int_equal(vnuma_memory_share(24 * GIB, GIB, 0, 6, 12), 12 * GIB);
    assert_int_equal(vnuma_memory_share(24 * GIB, GIB, 6, 6, 12), 12 * GIB);
    /* 10 pages over 4 + 4 + 4 vCPUs: 3, 3, then the rest. */
    assert_int_equal(vnuma_memory_share(10 * GIB, GIB, 0, 4, 12), 3 * GIB);
    assert_int_equal(vnuma_memory_share(10 * GIB, GIB, 4, 4, 12), 3 * GIB);
    assert_int_equal(vnuma_memory_share(10 * GIB, GIB, 8, 4, 12), 4 * GIB);
    /* <memory> not a multiple of the page: the last part takes the tail. */
    assert_int_equal(vnuma_memory_share(10 * GIB + 3, GIB, 0, 4, 12), 3 * GIB);
    assert_int_equal(vnuma_memory_share(10 * GIB + 3, GIB, 8, 4, 12), 4 * GIB + 3);
    /* Fewer pages than parts: still page multiples summing to the total. */
    for (guint i = 0; i < 3; i++) {
        guint64 part = vnuma_memory_share(2 * GIB, GIB, i * 4, 4, 12);

        assert_int_equal(part % GIB, 0);
        sum += part;
    }
    assert_int_equal(sum, 2 * GIB);
    /* One part gets everything. */
    assert_int_equal(vnuma_memory_share(12345, 4, 0, 7, 7), 12345);
    /* Large memory does not overflow: 16 TiB over 3 parts of 2 MiB pages. */
    sum = 0;
    for (guint i = 0; i < 3; i++)
        sum += vnuma_memory_share(16ull * 1024 * GIB, 2048, i * 100, 100, 300);
    assert_int_equal(sum, 16ull * 1024 * GIB);
}

static void
test_client_size_limit(void **state)
{
    g_autoptr(VnumaHost) host = vnuma_test_host("xeon-cod-2s");
    g_autoptr(GPtrArray) usable = g_ptr_array_new_with_free_func((GDestroyNotify) vnuma_cpuset_free);
    VnumaPolicy policy;

    (void) state;
    vnuma_policy_init(&policy);
    for (guint i = 0; i < host->nodes->len; i++)
        g_ptr_array_add(usable, vnuma_host_node_cpus(host->nodes->pdata[i]));
    assert_int_equal(vnuma_client_size_limit(host, usable, &policy), 7);
    policy.prefer_ht = TRUE;
    assert_int_equal(vnuma_client_size_limit(host, usable, &policy), 14);
    policy.max_per_machine_node = 9;
    assert_int_equal(vnuma_client_size_limit(host, usable, &policy), 9);
    /* Empty nodes do not count; the smallest non-empty one does. */
    policy.prefer_ht = FALSE;
    policy.max_per_machine_node = 0;
    vnuma_cpuset_free(usable->pdata[0]);
    usable->pdata[0] = vnuma_cpuset_new();
    vnuma_cpuset_free(usable->pdata[1]);
    usable->pdata[1] = vnuma_test_cpuset("7-9,35-37");
    assert_int_equal(vnuma_client_size_limit(host, usable, &policy), 3);
    for (guint i = 0; i < usable->len; i++) {
        vnuma_cpuset_free(usable->pdata[i]);
        usable->pdata[i] = vnuma_cpuset_new();
    }
    assert_int_equal(vnuma_client_size_limit(host, usable, &policy), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rule6_free_hugepages),
        cmocka_unit_test(test_rule6_clients_sharing_a_node),
        cmocka_unit_test(test_rule11_idempotent),
        cmocka_unit_test(test_rule10_autosize_once_keeps_record),
        cmocka_unit_test(test_keep_guest_abi),
        cmocka_unit_test(test_usable_cpus),
        cmocka_unit_test(test_split_balanced),
        cmocka_unit_test(test_memory_share),
        cmocka_unit_test(test_client_size_limit),
    };

    g_autoptr(GArray) all = g_array_new(FALSE, FALSE, sizeof(struct CMUnitTest));

    for (guint i = 0; i < G_N_ELEMENTS(sizing_rows); i++) {
        struct CMUnitTest row = { sizing_rows[i].name, test_row, NULL, NULL, (void *) &sizing_rows[i] };

        g_array_append_val(all, row);
    }
    g_array_append_vals(all, tests, G_N_ELEMENTS(tests));
    return _cmocka_run_group_tests("test-sizing", (const struct CMUnitTest *) all->data, all->len, NULL, NULL);
}
