/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Issue 20: domain XML shaped as oVirt/VDSM, KubeVirt and libvirt's CPU
 * hot-add write it (tests/data/orchestrators/README.md), planned on a
 * two-node host (xeon-2s10c-ht: 2 × 10 cores × 2 threads, 192 GiB each).
 * Every managed output is checked with virt-xml-validate and planned
 * again for idempotence; locality is read back from the output's pins
 * and memnodes, not from the plan. */
#include "tests/testutil.h"

#include <string.h>

#include "lib/vnuma-pipeline.h"
#include "xml/vnuma-domain.h"
#include "xml/vnuma-rewrite.h"

#define HOST "xeon-2s10c-ht"

typedef struct {
    VnumaLayout *layout;
    VnumaRequest *request;       /* the input, as read */
    char *output;
} Planned;

static void
planned_free(Planned *p)
{
    if (!p)
        return;
    vnuma_layout_free(p->layout);
    vnuma_request_free(p->request);
    g_free(p->output);
    g_free(p);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Planned, planned_free)

static VnumaRequest *
read_request(const char *xml)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(VnumaXmlSource) src = vnuma_xml_source_parse(xml, strlen(xml), "domain XML", &error);
    VnumaRequest *request = src ? vnuma_request_from_domain(src, &error) : NULL;

    if (!request) {
        print_error("%s\n--- document ---\n%s\n", error->message, xml);
        fail();
    }
    return request;
}

/* parse → request → sizing → placement → layout → rewrite, as libvnuma does. */
static Planned *
plan_xml(const char *xml)
{
    g_autoptr(VnumaHost) host = vnuma_test_host(HOST);
    g_autoptr(GError) error = NULL;
    g_autoptr(VnumaXmlSource) src = vnuma_xml_source_parse(xml, strlen(xml), "domain XML", &error);
    Planned *p = g_new0(Planned, 1);
    VnumaSettings settings;

    assert_non_null(src);
    p->request = read_request(xml);
    vnuma_settings_init(&settings);
    p->layout = vnuma_pipeline_run(host, &settings, p->request, NULL, 0, NULL, 0);
    vnuma_settings_clear(&settings);
    p->output = vnuma_domain_rewrite(src, p->request, p->layout, NULL, &error);
    if (!p->output) {
        print_error("rewrite failed: %s\n", error->message);
        fail();
    }
    return p;
}

/* A managed output: valid for libvirt, and planned again unchanged. */
static Planned *
plan_checked(const char *xml)
{
    Planned *p = plan_xml(xml);
    g_autoptr(Planned) again = NULL;

    if (!p->layout->managed)
        return p;
    vnuma_test_assert_valid(p->output, "domain");
    again = plan_xml(p->output);
    if (g_strcmp0(again->output, p->output) != 0) {
        print_error("a second plan changed the domain:\n%s\n--- then ---\n%s\n", p->output, again->output);
        fail();
    }
    return p;
}

static char *
fixture(const char *name)
{
    g_autofree char *relative = g_strdup_printf("tests/data/orchestrators/%s.xml", name);

    return vnuma_test_read(relative, NULL);
}

/* @xml without the attribute matching @pattern (a regex). */
static char *
without(const char *xml, const char *pattern)
{
    g_autoptr(GRegex) re = g_regex_new(pattern, 0, 0, NULL);
    char *out = g_regex_replace_literal(re, xml, -1, 0, "", 0, NULL);

    assert_non_null(out);
    assert_string_not_equal(out, xml);
    return out;
}

/* Host nodes of the CPUs the output pins the vCPUs of @online to. */
static VnumaCpuSet *
nodes_of_online(const VnumaHost *host, const VnumaRequest *out, const VnumaCpuSet *online)
{
    VnumaCpuSet *nodes = vnuma_cpuset_new();

    for (guint i = 0; i < out->pins->vcpupins->len; i++) {
        const VnumaVcpuPin *pin = &g_array_index(out->pins->vcpupins, VnumaVcpuPin, i);

        if (!vnuma_cpuset_contains(online, pin->vcpu))
            continue;
        for (guint n = 0; n < host->nodes->len; n++) {
            const VnumaHostNode *node = host->nodes->pdata[n];
            g_autoptr(VnumaCpuSet) cpus = vnuma_host_node_cpus(node);

            if (vnuma_cpuset_intersects(cpus, pin->cpuset))
                vnuma_cpuset_add(nodes, node->id);
        }
    }
    return nodes;
}

static gboolean
subset(const VnumaCpuSet *a, const VnumaCpuSet *b)
{
    g_autoptr(VnumaCpuSet) rest = vnuma_cpuset_copy(a);

    vnuma_cpuset_subtract(rest, b);
    return vnuma_cpuset_is_empty(rest);
}

/* Share of the guest's memory that the output binds only to nodes where
 * the @online vCPUs are pinned: per cell (its <memnode>), else the
 * domain's <numatune> nodeset. */
static double
locality(const char *output, const VnumaCpuSet *online)
{
    g_autoptr(VnumaHost) host = vnuma_test_host(HOST);
    g_autoptr(VnumaRequest) out = read_request(output);
    g_autoptr(VnumaCpuSet) nodes = nodes_of_online(host, out, online);
    guint64 local = 0, total = 0;

    assert_false(vnuma_cpuset_is_empty(nodes));
    if (out->cells->len == 0)
        return out->pins->memory_nodeset && subset(out->pins->memory_nodeset, nodes) ? 1.0 : 0.0;
    for (guint i = 0; i < out->cells->len; i++) {
        const VnumaCell *cell = out->cells->pdata[i];
        const VnumaCpuSet *bound = NULL;

        for (guint m = 0; m < out->pins->memnodes->len; m++) {
            const VnumaMemnode *memnode = &g_array_index(out->pins->memnodes, VnumaMemnode, m);

            if (memnode->cell_id == i)
                bound = memnode->nodeset;
        }
        if (!bound)
            bound = out->pins->memory_nodeset;
        total += cell->memory_kib;
        if (bound && subset(bound, nodes))
            local += cell->memory_kib;
    }
    return total ? (double) local / (double) total : 0.0;
}

/* ---- 1. oVirt's cpuPolicy ------------------------------------------- */

static void
test_ovirt_shared_pool_gets_cells_not_pins(void **state)
{
    g_autofree char *xml = fixture("ovirt-shared-16vcpu");
    g_autoptr(Planned) p = plan_checked(xml);
    g_autofree char *pre45 = without(xml, "<ovirt-vm:cpuPolicy>none</ovirt-vm:cpuPolicy>");
    g_autoptr(Planned) old = plan_checked(pre45);

    assert_true(p->layout->managed);
    assert_int_equal(p->request->cpu_owner, VNUMA_CPU_OWNER_SHARED);
    /* VDSM re-pins every vCPU to its shared pool: no pins, no memnodes. */
    vnuma_test_assert_contains(p->output, "<cell id='1' cpus='8-15'");
    vnuma_test_assert_contains(p->output, "<topology sockets='2' dies='1' cores='8' threads='1'/>");
    vnuma_test_assert_lacks(p->output, "<vcpupin");
    vnuma_test_assert_lacks(p->output, "<emulatorpin");
    vnuma_test_assert_lacks(p->output, "<numatune");
    vnuma_test_assert_lacks(p->output, "<memnode");
    /* Without cpuPolicy (oVirt < 4.5 has no shared-pool manager) vnuma pins. */
    assert_true(old->layout->managed);
    vnuma_test_assert_contains(old->output, "<vcpupin vcpu='15'");
    vnuma_test_assert_contains(old->output, "<memnode cellid='1'");
}

static void
test_ovirt_dedicated_left_alone(void **state)
{
    static const char *const policies[] = { "dedicated", "siblings", "isolate-threads" };
    g_autofree char *xml = fixture("ovirt-dedicated-16vcpu");

    for (gsize i = 0; i < G_N_ELEMENTS(policies); i++) {
        g_autofree char *element = g_strdup_printf(">%s<", policies[i]);
        g_autoptr(GRegex) re = g_regex_new(">dedicated<", 0, 0, NULL);
        g_autofree char *input = g_regex_replace_literal(re, xml, -1, 0, element, 0, NULL);
        g_autoptr(Planned) p = plan_checked(input);

        assert_false(p->layout->managed);
        vnuma_test_assert_contains(p->layout->reason, policies[i]);
        assert_string_equal(p->output, input);
    }
}

/* ---- 2. hot-plug headroom ------------------------------------------- */

/* Locality of @name as planned, and as planned with every vCPU online
 * (what vnuma did before: placement ignored <vcpu current>), both measured
 * against the vCPUs online at start. */
static void
measure_headroom(const char *name, double *before, double *after, Planned **planned)
{
    g_autofree char *xml = fixture(name);
    g_autofree char *all_online = without(xml, " current='[0-9]+'");
    g_autoptr(Planned) old = plan_checked(all_online);
    Planned *p = plan_checked(xml);

    assert_true(p->layout->managed);
    *after = locality(p->output, p->request->online_vcpus);
    *before = locality(old->output, p->request->online_vcpus);
    printf("# %s: %u of %u vCPUs online, %u cells: memory local to the online vCPUs "
           "%.1f %% before, %.1f %% after\n", name, p->request->current_vcpus, p->request->vcpus,
           p->layout->cells->len, 100.0 * *before, 100.0 * *after);
    *planned = p;
}

static void
test_headroom_2_of_16(void **state)
{
    g_autoptr(Planned) p = NULL;
    double before, after;

    measure_headroom("libvirt-hotadd-2of16", &before, &after, &p);
    assert_int_equal(p->layout->cells->len, 2);
    assert_true(after > 0.999);
    assert_true(before < 0.501);
}

static void
test_headroom_8_of_160(void **state)
{
    g_autoptr(Planned) p = NULL;
    double before, after;

    measure_headroom("libvirt-hotadd-8of160", &before, &after, &p);
    assert_int_equal(p->layout->cells->len, 16);
    assert_true(after > 0.999);
    assert_true(before < 0.51);
}

static void
test_headroom_respects_node_memory(void **state)
{
    /* 320 GiB: the offline half (160 GiB) does not fit beside the online
     * half on a 192 GiB node, so it goes to the nearest node that holds it. */
    g_autoptr(Planned) p = NULL;
    double before, after;

    measure_headroom("libvirt-hotadd-2of16-320g", &before, &after, &p);
    assert_int_equal(((VnumaClient *) p->layout->clients->pdata[0])->home_node, 0);
    assert_int_equal(((VnumaClient *) p->layout->clients->pdata[1])->home_node, 1);
    for (guint i = 0; p->layout->warnings->pdata[i]; i++)
        vnuma_test_assert_lacks(p->layout->warnings->pdata[i], "remote memory is unavoidable");
}

/* ---- 3 and 4. KubeVirt's <vcpus> and socket hot-plug ------------------ */

static void
test_kubevirt_disabled_vcpus_are_offline(void **state)
{
    g_autofree char *flat = fixture("kubevirt-hotplug-16sockets");
    g_autofree char *wide = fixture("kubevirt-hotplug-8x2");
    g_autoptr(VnumaRequest) a = read_request(flat);
    g_autoptr(VnumaRequest) b = read_request(wide);
    g_autofree char *online_a = vnuma_cpuset_format(a->online_vcpus);
    g_autofree char *online_b = vnuma_cpuset_format(b->online_vcpus);

    assert_int_equal(a->vcpus, 16);
    assert_int_equal(a->current_vcpus, 4);
    assert_string_equal(online_a, "0-3");
    assert_int_equal(b->vcpus, 16);
    assert_int_equal(b->current_vcpus, 4);
    assert_string_equal(online_b, "0-3");
    assert_true(a->hotplug_by_socket);
}

/* Every cell of @p holds whole guest sockets of @per_socket vCPUs. */
static void
assert_cells_on_sockets(const Planned *p, guint per_socket)
{
    for (guint i = 0; i < p->layout->cells->len; i++) {
        const VnumaCell *cell = p->layout->cells->pdata[i];
        gint first = vnuma_cpuset_first(cell->vcpus);
        gint last = vnuma_cpuset_last(cell->vcpus);

        assert_int_equal(first % per_socket, 0);
        assert_int_equal((last + 1) % per_socket, 0);
    }
}

static void
test_kubevirt_hotplug_sockets_kept(void **state)
{
    g_autofree char *flat = fixture("kubevirt-hotplug-16sockets");
    g_autofree char *wide = fixture("kubevirt-hotplug-8x2");
    g_autoptr(Planned) a = plan_checked(flat);
    g_autoptr(Planned) b = plan_checked(wide);

    assert_true(a->layout->managed);
    assert_true(a->layout->cells->len >= 2);
    /* The guest's 16 one-vCPU sockets stay the hot-plug unit: not merged
     * into 2 sockets of 8 cores. */
    vnuma_test_assert_contains(a->output, "<topology sockets=\"16\" cores=\"1\" threads=\"1\"></topology>");
    vnuma_test_assert_lacks(a->output, "<topology sockets='");
    vnuma_test_assert_lacks(a->output, "<vnuma:topology");
    assert_true(b->layout->managed);
    vnuma_test_assert_contains(b->output, "<topology sockets=\"8\" cores=\"2\" threads=\"1\"></topology>");
    assert_cells_on_sockets(b, 2);
    /* The sockets KubeVirt has not plugged yet are homed with the online ones. */
    assert_true(locality(a->output, a->request->online_vcpus) > 0.999);
    assert_true(locality(b->output, b->request->online_vcpus) > 0.999);
}

/* ---- 5. vCPUs outside the owner's cells ------------------------------ */

static void
test_ovirt_vcpus_outside_cells_homed_with_cell0(void **state)
{
    g_autofree char *xml = fixture("ovirt-hotplug-2of16");
    g_autoptr(Planned) p = plan_checked(xml);
    g_autoptr(VnumaRequest) out = NULL;
    const VnumaVcpuPin *first;

    assert_true(p->layout->managed);
    assert_true(p->layout->owner_cells);
    out = read_request(p->output);
    /* Cell 0 keeps oVirt's cpus='0-1'; vCPUs 2-15 are cell 0's for libvirt. */
    assert_int_equal(out->cells->len, 1);
    assert_int_equal(out->pins->vcpupins->len, 16);
    first = &g_array_index(out->pins->vcpupins, VnumaVcpuPin, 0);
    for (guint i = 1; i < out->pins->vcpupins->len; i++)
        assert_true(vnuma_cpuset_equal(g_array_index(out->pins->vcpupins, VnumaVcpuPin, i).cpuset,
                                       first->cpuset));
    assert_int_equal(out->pins->memnodes->len, 1);
    assert_int_equal(vnuma_cpuset_count(out->pins->memory_nodeset), 1);
    assert_true(locality(p->output, p->request->online_vcpus) > 0.999);
}

/* ---- 6. rule 9 before the cells -------------------------------------- */

static void
test_pinned_fragment_not_managed(void **state)
{
    g_autofree char *xml = fixture("ovirt-pinned-fragment");
    g_autoptr(Planned) p = plan_xml(xml);
    g_autofree char *unpinned = without(xml, "<cputune>[^$]*</numatune>");
    g_autoptr(GError) error = NULL;
    g_autoptr(VnumaXmlSource) src = vnuma_xml_source_parse(unpinned, strlen(unpinned), "domain", &error);

    assert_false(p->layout->managed);
    vnuma_test_assert_contains(p->layout->reason, "did not write");
    assert_string_equal(p->output, xml);
    /* Without the pins the same cell is bad input: still a clear error. */
    assert_non_null(src);
    assert_null(vnuma_request_from_domain(src, &error));
    vnuma_test_assert_contains(error->message, "<cell> has no memory");
}

/* ---- 7. indentation without <vcpu> ----------------------------------- */

static void
test_no_vcpu_indentation(void **state)
{
    g_autofree char *xml = fixture("libvirt-no-vcpu");
    g_autoptr(Planned) p = plan_checked(xml);

    assert_true(p->layout->managed);
    /* The input indents by 4: what vnuma adds sits beside <name>, its
     * children two spaces deeper (docs/sizing.md, "The rewriter"). */
    vnuma_test_assert_contains(p->output, "\n    <metadata>\n      <vnuma:layout ");
    vnuma_test_assert_contains(p->output, "\n      </vnuma:layout>\n    </metadata>\n");
    vnuma_test_assert_contains(p->output, "\n    <cputune>\n      <vcpupin vcpu='0' ");
    vnuma_test_assert_contains(p->output, "\n      <emulatorpin ");
    vnuma_test_assert_contains(p->output, "\n    </cputune>\n");
    vnuma_test_assert_contains(p->output, "\n    <numatune>\n      <memory ");
    vnuma_test_assert_contains(p->output, "\n    </numatune>\n");
    vnuma_test_assert_contains(p->output, "\n    <cpu>\n      <topology ");
    vnuma_test_assert_contains(p->output, "\n    </cpu>\n");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ovirt_shared_pool_gets_cells_not_pins),
        cmocka_unit_test(test_ovirt_dedicated_left_alone),
        cmocka_unit_test(test_headroom_2_of_16),
        cmocka_unit_test(test_headroom_8_of_160),
        cmocka_unit_test(test_headroom_respects_node_memory),
        cmocka_unit_test(test_kubevirt_disabled_vcpus_are_offline),
        cmocka_unit_test(test_kubevirt_hotplug_sockets_kept),
        cmocka_unit_test(test_ovirt_vcpus_outside_cells_homed_with_cell0),
        cmocka_unit_test(test_pinned_fragment_not_managed),
        cmocka_unit_test(test_no_vcpu_indentation),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
