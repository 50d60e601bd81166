/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The request model: pin digests (how vnuma tells its own pins from an
 * admin's), cells, stamps and requests. */
#include "tests/testutil.h"

#include <string.h>

#include "lib/vnuma-request.h"

/* The pins vnuma writes for 4 vCPUs on two nodes of a 2 × 4-core host. */
static VnumaPinSet *
sample_pins(gboolean reversed)
{
    VnumaPinSet *pins = vnuma_pinset_new();

    if (!reversed) {
        vnuma_pinset_add_vcpupin(pins, 0, vnuma_test_cpuset("0-3"));
        vnuma_pinset_add_vcpupin(pins, 1, vnuma_test_cpuset("0-3"));
        vnuma_pinset_add_vcpupin(pins, 2, vnuma_test_cpuset("4-7"));
        vnuma_pinset_add_vcpupin(pins, 3, vnuma_test_cpuset("4-7"));
        vnuma_pinset_add_memnode(pins, 0, vnuma_test_cpuset("0"));
        vnuma_pinset_add_memnode(pins, 1, vnuma_test_cpuset("1"));
    } else {
        /* Same pins, other order and spelling. */
        vnuma_pinset_add_memnode(pins, 1, vnuma_test_cpuset("1"));
        vnuma_pinset_add_vcpupin(pins, 3, vnuma_test_cpuset("4,5,6,7"));
        vnuma_pinset_add_vcpupin(pins, 1, vnuma_test_cpuset("0-2,3"));
        vnuma_pinset_add_memnode(pins, 0, vnuma_test_cpuset("0-1,^1"));
        vnuma_pinset_add_vcpupin(pins, 2, vnuma_test_cpuset("7,6,5,4"));
        vnuma_pinset_add_vcpupin(pins, 0, vnuma_test_cpuset("0-3"));
    }
    pins->emulatorpin = vnuma_test_cpuset("0-7");
    pins->has_numatune = TRUE;
    pins->memory_mode = g_strdup("restrictive");
    pins->memory_nodeset = vnuma_test_cpuset("0-1");
    return pins;
}

static char *
digest_of(const VnumaPinSet *pins)
{
    char *digest = vnuma_pinset_digest(pins);

    assert_non_null(digest);
    assert_true(strlen(digest) >= 8);
    return digest;
}

/* @pins (consumed) must have a digest other than sample_pins()'. */
static void
assert_digest_differs(VnumaPinSet *pins, const char *what)
{
    g_autoptr(VnumaPinSet) reference = sample_pins(FALSE);
    g_autofree char *a = digest_of(reference);
    g_autofree char *b = digest_of(pins);

    /* Equality says what the digests say. */
    gboolean equal = vnuma_pinset_equal(reference, pins);

    vnuma_pinset_free(pins);
    if (g_str_equal(a, b) || equal) {
        print_error("%s unchanged when %s\n", equal ? "canonical form" : "digest", what);
        fail();
    }
}

static void
replace_set(VnumaCpuSet **slot, const char *text)
{
    vnuma_cpuset_free(*slot);
    *slot = text ? vnuma_test_cpuset(text) : NULL;
}

static void
test_digest_order_and_spelling(void **state)
{
    g_autoptr(VnumaPinSet) a = sample_pins(FALSE);
    g_autoptr(VnumaPinSet) b = sample_pins(TRUE);
    g_autofree char *da = digest_of(a);
    g_autofree char *db = digest_of(b);
    g_autofree char *again = digest_of(a);

    (void) state;
    assert_str_equal(da, db);
    assert_str_equal(da, again);
    assert_true(vnuma_pinset_equal(a, b));
    assert_true(vnuma_pinset_equal(NULL, NULL));
    assert_false(vnuma_pinset_equal(a, NULL));
    /* Adding sorts: the arrays end up identical too. */
    for (guint i = 0; i < 4; i++)
        assert_int_equal(g_array_index(b->vcpupins, VnumaVcpuPin, i).vcpu, i);
    assert_int_equal(g_array_index(b->memnodes, VnumaMemnode, 0).cell_id, 0);
}

static void
test_digest_vcpupin_cpuset(void **state)
{
    VnumaPinSet *pins = sample_pins(FALSE);

    (void) state;
    replace_set(&g_array_index(pins->vcpupins, VnumaVcpuPin, 2).cpuset, "4-6");
    assert_digest_differs(pins, "a vCPU's cpuset changes");
}

static void
test_digest_vcpupin_moved(void **state)
{
    VnumaPinSet *pins = sample_pins(FALSE);

    (void) state;
    /* vCPU 1 and 2 swap homes. */
    replace_set(&g_array_index(pins->vcpupins, VnumaVcpuPin, 1).cpuset, "4-7");
    replace_set(&g_array_index(pins->vcpupins, VnumaVcpuPin, 2).cpuset, "0-3");
    assert_digest_differs(pins, "two vCPUs swap cpusets");
}

static void
test_digest_vcpupin_missing(void **state)
{
    VnumaPinSet *pins = sample_pins(FALSE);

    (void) state;
    g_array_remove_index(pins->vcpupins, 3);
    assert_digest_differs(pins, "a vcpupin is removed");
}

static void
test_digest_vcpupin_extra(void **state)
{
    VnumaPinSet *pins = sample_pins(FALSE);

    (void) state;
    vnuma_pinset_add_vcpupin(pins, 4, vnuma_test_cpuset("4-7"));
    assert_digest_differs(pins, "a vcpupin is added");
}

static void
test_digest_emulatorpin(void **state)
{
    VnumaPinSet *pins = sample_pins(FALSE);
    VnumaPinSet *none = sample_pins(FALSE);

    (void) state;
    replace_set(&pins->emulatorpin, "0-3");
    assert_digest_differs(pins, "the emulatorpin changes");
    replace_set(&none->emulatorpin, NULL);
    assert_digest_differs(none, "the emulatorpin goes");
}

static void
test_digest_mode(void **state)
{
    VnumaPinSet *pins = sample_pins(FALSE);
    VnumaPinSet *none = sample_pins(FALSE);

    (void) state;
    g_free(pins->memory_mode);
    pins->memory_mode = g_strdup("strict");
    assert_digest_differs(pins, "the memory mode changes");
    g_clear_pointer(&none->memory_mode, g_free);
    assert_digest_differs(none, "the memory mode goes");
}

static void
test_digest_nodeset(void **state)
{
    VnumaPinSet *pins = sample_pins(FALSE);
    VnumaPinSet *none = sample_pins(FALSE);

    (void) state;
    replace_set(&pins->memory_nodeset, "0");
    assert_digest_differs(pins, "the numatune nodeset changes");
    replace_set(&none->memory_nodeset, NULL);
    assert_digest_differs(none, "the numatune nodeset goes");
}

static void
test_digest_memnode(void **state)
{
    VnumaPinSet *pins = sample_pins(FALSE);
    VnumaPinSet *renumbered = sample_pins(FALSE);
    VnumaPinSet *missing = sample_pins(FALSE);

    (void) state;
    replace_set(&g_array_index(pins->memnodes, VnumaMemnode, 1).nodeset, "0-1");
    assert_digest_differs(pins, "a memnode nodeset changes");
    g_array_index(renumbered->memnodes, VnumaMemnode, 1).cell_id = 2;
    assert_digest_differs(renumbered, "a memnode's cell id changes");
    g_array_remove_index(missing->memnodes, 1);
    assert_digest_differs(missing, "a memnode is removed");
}

static void
test_digest_empty(void **state)
{
    g_autoptr(VnumaPinSet) a = vnuma_pinset_new();
    g_autoptr(VnumaPinSet) b = vnuma_pinset_new();
    g_autofree char *da = digest_of(a);
    g_autofree char *db = digest_of(b);
    g_autofree char *dn = NULL;

    (void) state;
    assert_true(vnuma_pinset_is_empty(a));
    assert_str_equal(da, db);
    /* A <numatune> with only a mode is not nothing. */
    b->has_numatune = TRUE;
    b->memory_mode = g_strdup("strict");
    assert_false(vnuma_pinset_is_empty(b));
    dn = digest_of(b);
    assert_string_not_equal(da, dn);
}

static void
test_pinset_is_empty(void **state)
{
    g_autoptr(VnumaPinSet) pin = vnuma_pinset_new();
    g_autoptr(VnumaPinSet) emulator = vnuma_pinset_new();
    g_autoptr(VnumaPinSet) memnode = vnuma_pinset_new();

    (void) state;
    vnuma_pinset_add_vcpupin(pin, 0, vnuma_test_cpuset("1"));
    assert_false(vnuma_pinset_is_empty(pin));
    emulator->emulatorpin = vnuma_test_cpuset("0");
    assert_false(vnuma_pinset_is_empty(emulator));
    vnuma_pinset_add_memnode(memnode, 0, vnuma_test_cpuset("0"));
    assert_true(memnode->has_numatune);
    assert_false(vnuma_pinset_is_empty(memnode));
}

static GPtrArray *
cells_of(const char *const *vcpus, const guint64 *memory, guint n)
{
    GPtrArray *cells = g_ptr_array_new_with_free_func((GDestroyNotify) vnuma_cell_free);

    for (guint i = 0; i < n; i++)
        g_ptr_array_add(cells, vnuma_cell_new(vnuma_test_cpuset(vcpus[i]), memory[i]));
    return cells;
}

static void
test_cells_equal(void **state)
{
    static const char *const two[] = { "0-5", "6-11" };
    static const char *const two_spelled[] = { "0,1,2,3,4,5", "6-11" };
    static const char *const moved[] = { "0-4", "5-11" };
    static const char *const swapped[] = { "6-11", "0-5" };
    static const guint64 mem[] = { 1048576, 1048576 };
    static const guint64 other_mem[] = { 1048576, 2097152 };
    g_autoptr(GPtrArray) a = cells_of(two, mem, 2);
    g_autoptr(GPtrArray) b = cells_of(two_spelled, mem, 2);
    g_autoptr(GPtrArray) c = cells_of(moved, mem, 2);
    g_autoptr(GPtrArray) d = cells_of(two, other_mem, 2);
    g_autoptr(GPtrArray) e = cells_of(two, mem, 1);
    g_autoptr(GPtrArray) f = cells_of(swapped, mem, 2);
    g_autoptr(GPtrArray) empty1 = cells_of(two, mem, 0);
    g_autoptr(GPtrArray) empty2 = cells_of(two, mem, 0);

    (void) state;
    assert_true(vnuma_cells_equal(a, b));
    assert_true(vnuma_cells_equal(b, a));
    assert_true(vnuma_cells_equal(a, a));
    assert_false(vnuma_cells_equal(a, c));
    assert_false(vnuma_cells_equal(a, d));
    assert_false(vnuma_cells_equal(a, e));
    assert_false(vnuma_cells_equal(e, a));
    /* Order matters: cell ids are what the guest sees. */
    assert_false(vnuma_cells_equal(a, f));
    assert_true(vnuma_cells_equal(empty1, empty2));
    assert_false(vnuma_cells_equal(empty1, a));
}

static void
test_guest_topology_equal(void **state)
{
    VnumaGuestTopology a = { .sockets = 2, .dies = 1, .cores = 6, .threads = 1 };
    VnumaGuestTopology b = a;
    VnumaGuestTopology none = { 0 };

    (void) state;
    assert_true(vnuma_guest_topology_equal(&a, &b));
    b.dies = 2;
    assert_false(vnuma_guest_topology_equal(&a, &b));
    b = a;
    b.threads = 2;
    assert_false(vnuma_guest_topology_equal(&a, &b));
    b = a;
    b.sockets = 1;
    assert_false(vnuma_guest_topology_equal(&a, &b));
    b = a;
    b.cores = 12;
    assert_false(vnuma_guest_topology_equal(&a, &b));
    assert_false(vnuma_guest_topology_equal(&a, &none));
}

static void
test_request_defaults(void **state)
{
    g_autoptr(VnumaRequest) r = vnuma_request_new();

    (void) state;
    assert_non_null(r->pins);
    assert_true(vnuma_pinset_is_empty(r->pins));
    assert_non_null(r->cells);
    assert_int_equal(r->cells->len, 0);
    assert_non_null(r->overrides);
    assert_int_equal(r->overrides->len, 0);
    assert_non_null(r->warnings);
    assert_null(r->stamp);
    assert_null(r->vcpu_cpuset);
    assert_false(r->placement_auto);
    assert_false(r->hugepages);
    assert_false(r->policy_present);
    assert_false(r->keep_guest_abi);
}

static void
test_request_overrides_in_order(void **state)
{
    g_autoptr(VnumaRequest) r = vnuma_request_new();
    char name[] = "preferHT";
    char value[] = "yes";

    (void) state;
    vnuma_request_add_override(r, name, value);
    vnuma_request_add_override(r, "vcpuMin", "4");
    /* The request keeps its own copies. */
    name[0] = 'X';
    value[0] = 'X';
    assert_int_equal(r->overrides->len, 2);
    assert_str_equal(g_array_index(r->overrides, VnumaOverride, 0).name, "preferHT");
    assert_str_equal(g_array_index(r->overrides, VnumaOverride, 0).value, "yes");
    assert_str_equal(g_array_index(r->overrides, VnumaOverride, 1).name, "vcpuMin");
    assert_str_equal(g_array_index(r->overrides, VnumaOverride, 1).value, "4");
}

static VnumaStamp *
full_stamp(void)
{
    VnumaStamp *stamp = vnuma_stamp_new();
    VnumaStampClient a = { .vcpus = vnuma_test_cpuset("0-5"), .home_node = 0, .memory_kib = 1048576 };
    VnumaStampClient b = { .vcpus = vnuma_test_cpuset("6-11"), .home_node = 1, .memory_kib = 1048576 };

    stamp->version = 1;
    stamp->vcpus = 12;
    stamp->host = g_strdup("0123456789abcdef");
    stamp->pins_digest = g_strdup("fedcba9876543210");
    stamp->wrote_topology = TRUE;
    stamp->topology = (VnumaGuestTopology) { 2, 1, 6, 1 };
    g_array_append_val(stamp->clients, a);
    g_array_append_val(stamp->clients, b);
    g_ptr_array_add(stamp->cells, vnuma_cell_new(vnuma_test_cpuset("0-5"), 1048576));
    g_ptr_array_add(stamp->cells, vnuma_cell_new(vnuma_test_cpuset("6-11"), 1048576));
    return stamp;
}

/* Everything a request can own, freed once: valgrind must see no leak. */
static void
test_request_free_everything(void **state)
{
    VnumaRequest *r = vnuma_request_new();
    VnumaPinSet *pins = sample_pins(TRUE);

    (void) state;
    r->name = g_strdup("guest");
    r->type = g_strdup("kvm");
    r->vcpus = 12;
    r->current_vcpus = 8;
    r->vcpu_cpuset = vnuma_test_cpuset("0-39");
    r->memory_kib = 2097152;
    vnuma_pinset_free(r->pins);
    r->pins = pins;
    g_ptr_array_add(r->cells, vnuma_cell_new(vnuma_test_cpuset("0-5"), 1048576));
    g_ptr_array_add(r->cells, vnuma_cell_new(vnuma_test_cpuset("6-11"), 1048576));
    vnuma_request_add_override(r, "preferHT", "no");
    r->stamp = full_stamp();
    g_ptr_array_add(r->warnings, g_strdup("something odd"));
    assert_int_equal(r->stamp->clients->len, 2);
    assert_true(vnuma_cells_equal(r->cells, r->stamp->cells));
    vnuma_request_free(r);
    vnuma_request_free(NULL);
}

static void
test_stamp_new_free(void **state)
{
    g_autoptr(VnumaStamp) empty = vnuma_stamp_new();
    VnumaStamp *stamp = full_stamp();

    (void) state;
    assert_non_null(empty->clients);
    assert_int_equal(empty->clients->len, 0);
    assert_non_null(empty->cells);
    assert_int_equal(empty->cells->len, 0);
    assert_null(empty->host);
    assert_null(empty->pins_digest);
    assert_false(empty->wrote_topology);
    vnuma_stamp_free(stamp);
    vnuma_stamp_free(NULL);
    vnuma_pinset_free(NULL);
    vnuma_cell_free(NULL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_digest_order_and_spelling),
        cmocka_unit_test(test_digest_vcpupin_cpuset),
        cmocka_unit_test(test_digest_vcpupin_moved),
        cmocka_unit_test(test_digest_vcpupin_missing),
        cmocka_unit_test(test_digest_vcpupin_extra),
        cmocka_unit_test(test_digest_emulatorpin),
        cmocka_unit_test(test_digest_mode),
        cmocka_unit_test(test_digest_nodeset),
        cmocka_unit_test(test_digest_memnode),
        cmocka_unit_test(test_digest_empty),
        cmocka_unit_test(test_pinset_is_empty),
        cmocka_unit_test(test_cells_equal),
        cmocka_unit_test(test_guest_topology_equal),
        cmocka_unit_test(test_request_defaults),
        cmocka_unit_test(test_request_overrides_in_order),
        cmocka_unit_test(test_request_free_everything),
        cmocka_unit_test(test_stamp_new_free),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
