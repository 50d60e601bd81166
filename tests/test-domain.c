/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* xml/vnuma-domain: domain XML → VnumaRequest, on the example domains
 * and on inline documents. */
#include "tests/testutil.h"

#include <string.h>

#include "lib/vnuma-error.h"
#include "lib/vnuma-layout.h"
#include "lib/vnuma-pipeline.h"
#include "lib/vnuma-placement.h"
#include "lib/vnuma-sizing.h"
#include "xml/vnuma-domain.h"
#include "xml/vnuma-rewrite.h"

static VnumaRequest *
request_from_text(const char *xml, gsize len, GError **error)
{
    g_autoptr(VnumaXmlSource) src = vnuma_xml_source_parse(xml, len, "domain XML", error);

    if (!src)
        return NULL;
    return vnuma_request_from_domain(src, error);
}

static VnumaRequest *
request_ok(const char *xml)
{
    g_autoptr(GError) error = NULL;
    VnumaRequest *request = request_from_text(xml, strlen(xml), &error);

    if (!request) {
        print_error("domain refused: %s\n--- document ---\n%s\n", error->message, xml);
        fail();
    }
    return request;
}

static VnumaRequest *
request_from_example(const char *name)
{
    g_autofree char *relative = g_strdup_printf("examples/domains/%s.xml", name);
    gsize len;
    g_autofree char *xml = vnuma_test_read(relative, &len);
    g_autoptr(GError) error = NULL;
    VnumaRequest *request = request_from_text(xml, len, &error);

    if (!request) {
        print_error("%s: %s\n", relative, error->message);
        fail();
    }
    return request;
}

/* A domain with @body inside <domain type='kvm'> after <name>. */
static char *
domain_with(const char *body)
{
    return g_strdup_printf("<domain type='kvm'>\n  <name>inline</name>\n%s</domain>\n", body);
}

static char *
request_error(const char *xml)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(VnumaRequest) request = request_from_text(xml, strlen(xml), &error);

    if (request) {
        print_error("domain accepted but must be refused:\n%s\n", xml);
        fail();
    }
    assert_non_null(error);
    assert_true(g_error_matches(error, VNUMA_ERROR, VNUMA_ERROR_INVALID));
    return g_strdup(error->message);
}

static void
assert_set(const VnumaCpuSet *set, const char *expected)
{
    g_autofree char *text = NULL;

    if (!set) {
        print_error("no set, expected '%s'\n", expected);
        fail();
    }
    text = vnuma_cpuset_format(set);
    if (strcmp(text, expected) != 0) {
        print_error("set '%s', expected '%s'\n", text, expected);
        fail();
    }
}

static void
assert_topology(const VnumaGuestTopology *t, guint sockets, guint dies, guint cores, guint threads)
{
    if (t->sockets != sockets || t->dies != dies || t->cores != cores || t->threads != threads) {
        print_error("topology %u/%u/%u/%u, expected %u/%u/%u/%u\n", t->sockets, t->dies, t->cores,
                    t->threads, sockets, dies, cores, threads);
        fail();
    }
}

static void
assert_cell(const GPtrArray *cells, guint index, const char *vcpus, guint64 memory_kib)
{
    const VnumaCell *cell;

    assert_true(index < cells->len);
    cell = cells->pdata[index];
    assert_set(cell->vcpus, vcpus);
    assert_int_equal(cell->memory_kib, memory_kib);
}

static void
test_hotadd_vcpus(void **state)
{
    g_autoptr(VnumaRequest) request = request_from_example("hotadd-16of24");

    assert_str_equal(request->name, "hotadd-16of24");
    assert_str_equal(request->type, "kvm");
    assert_int_equal(request->vcpus, 24);
    assert_int_equal(request->current_vcpus, 16);
    assert_int_equal(request->memory_kib, 67108864);
    assert_false(request->placement_auto);
    assert_null(request->vcpu_cpuset);
    assert_false(request->hugepages);
    assert_int_equal(request->page_kib, 4);
    assert_true(vnuma_pinset_is_empty(request->pins));
    assert_int_equal(request->cells->len, 0);
    assert_topology(&request->topology, 0, 0, 0, 0);
    assert_false(request->policy_present);
    assert_int_equal(request->overrides->len, 0);
    assert_null(request->stamp);
    assert_int_equal(request->warnings->len, 0);
}

static void
test_vcpu_forms(void **state)
{
    {
        /* No current: every vCPU is online. */
        g_autoptr(VnumaRequest) request = request_from_example("wide-12vcpu");

        assert_int_equal(request->vcpus, 12);
        assert_int_equal(request->current_vcpus, 12);
        assert_int_equal(request->memory_kib, 50331648);
    }
    {
        /* No <vcpu> at all: libvirt's default of one. */
        g_autofree char *xml = domain_with("  <memory>1048576</memory>\n");
        g_autoptr(VnumaRequest) request = request_ok(xml);

        assert_int_equal(request->vcpus, 1);
        assert_int_equal(request->current_vcpus, 1);
    }
    {
        g_autofree char *xml = domain_with("  <memory>1048576</memory>\n"
                                           "  <vcpu placement='static' cpuset='0-7,^3,16'>  6\n  </vcpu>\n");
        g_autoptr(VnumaRequest) request = request_ok(xml);

        assert_int_equal(request->vcpus, 6);
        assert_set(request->vcpu_cpuset, "0-2,4-7,16");
        assert_false(request->placement_auto);
    }
}

static void
test_memory_units(void **state)
{
    static const struct {
        const char *memory;
        guint64 kib;
    } cases[] = {
        { "<memory>2097152</memory>", 2097152 },
        { "<memory unit='KiB'>2097152</memory>", 2097152 },
        { "<memory unit='k'>2097152</memory>", 2097152 },
        { "<memory unit='GiB'>48</memory>", 50331648 },
        { "<memory unit='G'>2</memory>", 2097152 },
        { "<memory unit='MiB'>512</memory>", 524288 },
        { "<memory unit='MB'>1000</memory>", 976563 },
        { "<memory unit='GB'>1</memory>", 976563 },
        { "<memory unit='b'>1073741824</memory>", 1048576 },
        { "<memory unit='bytes'>1025</memory>", 2 },
        { "<memory unit='TiB'>1</memory>", G_GUINT64_CONSTANT(1073741824) },
        { "<memory unit='KB'>1024</memory>", 1000 },
    };

    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *body = g_strdup_printf("  %s\n  <vcpu>2</vcpu>\n", cases[i].memory);
        g_autofree char *xml = domain_with(body);
        g_autoptr(VnumaRequest) request = request_ok(xml);

        if (request->memory_kib != cases[i].kib) {
            print_error("%s -> %" G_GUINT64_FORMAT " KiB, expected %" G_GUINT64_FORMAT "\n",
                        cases[i].memory, request->memory_kib, cases[i].kib);
            fail();
        }
    }
}

static void
test_hugepages(void **state)
{
    {
        g_autoptr(VnumaRequest) request = request_from_example("hugepages-16vcpu");

        assert_int_equal(request->vcpus, 16);
        assert_int_equal(request->memory_kib, 33554432);
        assert_true(request->hugepages);
        assert_int_equal(request->page_kib, 1048576);
    }
    {
        /* No page size: the host's default huge page (0 here). */
        g_autofree char *xml = domain_with("  <memory>4194304</memory>\n"
                                           "  <memoryBacking>\n    <hugepages/>\n  </memoryBacking>\n"
                                           "  <vcpu>4</vcpu>\n");
        g_autoptr(VnumaRequest) request = request_ok(xml);

        assert_true(request->hugepages);
        assert_int_equal(request->page_kib, 0);
    }
    {
        g_autofree char *xml = domain_with("  <memory>4194304</memory>\n"
                                           "  <memoryBacking><hugepages><page size='2' unit='M'/>"
                                           "</hugepages></memoryBacking>\n  <vcpu>4</vcpu>\n");
        g_autoptr(VnumaRequest) request = request_ok(xml);

        assert_true(request->hugepages);
        assert_int_equal(request->page_kib, 2048);
    }
    {
        /* The page without a nodeset is the guest's; the other is for node 0 only. */
        g_autofree char *xml = domain_with("  <memory>4194304</memory>\n"
                                           "  <memoryBacking><hugepages>\n"
                                           "    <page size='1' unit='G' nodeset='0'/>\n"
                                           "    <page size='2048'/>\n"
                                           "  </hugepages></memoryBacking>\n  <vcpu>4</vcpu>\n");
        g_autoptr(VnumaRequest) request = request_ok(xml);

        assert_int_equal(request->page_kib, 2048);
    }
    {
        /* Other memoryBacking children mean no huge pages. */
        g_autofree char *xml = domain_with("  <memory>4194304</memory>\n"
                                           "  <memoryBacking><source type='memfd'/><access mode='shared'/>"
                                           "</memoryBacking>\n  <vcpu>4</vcpu>\n");
        g_autoptr(VnumaRequest) request = request_ok(xml);

        assert_false(request->hugepages);
        assert_int_equal(request->page_kib, 4);
    }
}

static void
test_placement_auto(void **state)
{
    {
        g_autoptr(VnumaRequest) request = request_from_example("numad-auto");

        assert_int_equal(request->vcpus, 12);
        assert_true(request->placement_auto);
        assert_true(request->pins->has_numatune);
        assert_str_equal(request->pins->memory_mode, "strict");
        assert_null(request->pins->memory_nodeset);
        assert_int_equal(request->pins->vcpupins->len, 0);
    }
    {
        /* numatune placement='auto' alone also hands placement to numad. */
        g_autofree char *xml = domain_with("  <memory>4194304</memory>\n  <vcpu placement='static'>4</vcpu>\n"
                                           "  <numatune><memory mode='interleave' placement='auto'/></numatune>\n");
        g_autoptr(VnumaRequest) request = request_ok(xml);

        assert_true(request->placement_auto);
        assert_str_equal(request->pins->memory_mode, "interleave");
    }
}

static void
test_nova_pinned(void **state)
{
    g_autoptr(VnumaRequest) request = request_from_example("nova-pinned");
    const VnumaPinSet *pins = request->pins;

    assert_str_equal(request->name, "instance-00000515");
    assert_int_equal(request->vcpus, 4);
    assert_int_equal(request->memory_kib, 8388608);
    assert_int_equal(pins->vcpupins->len, 4);
    for (guint i = 0; i < 4; i++) {
        const VnumaVcpuPin *pin = &g_array_index(pins->vcpupins, VnumaVcpuPin, i);
        g_autofree char *cpu = g_strdup_printf("%u", i + 2);

        assert_int_equal(pin->vcpu, i);
        assert_set(pin->cpuset, cpu);
    }
    assert_set(pins->emulatorpin, "2-5");
    assert_true(pins->has_numatune);
    assert_str_equal(pins->memory_mode, "strict");
    assert_set(pins->memory_nodeset, "0");
    assert_int_equal(pins->memnodes->len, 1);
    assert_int_equal(g_array_index(pins->memnodes, VnumaMemnode, 0).cell_id, 0);
    assert_set(g_array_index(pins->memnodes, VnumaMemnode, 0).nodeset, "0");
    assert_int_equal(request->cells->len, 1);
    assert_cell(request->cells, 0, "0-3", 8388608);
    assert_topology(&request->topology, 4, 1, 1, 1);
    assert_false(request->placement_auto);
    assert_false(request->policy_present);
    assert_null(request->stamp);
}

static void
test_pins_any_order(void **state)
{
    /* Pins come out sorted by vCPU whatever the document order. */
    g_autofree char *xml = domain_with("  <memory>4194304</memory>\n  <vcpu>3</vcpu>\n"
                                       "  <cputune>\n"
                                       "    <vcpupin vcpu='2' cpuset='8-9'/>\n"
                                       "    <shares>1024</shares>\n"
                                       "    <vcpupin vcpu='0' cpuset='1,3'/>\n"
                                       "    <vcpupin vcpu='1' cpuset='0-3,^2'/>\n"
                                       "  </cputune>\n"
                                       "  <numatune>\n"
                                       "    <memnode cellid='1' mode='strict' nodeset='1'/>\n"
                                       "    <memnode cellid='0' mode='strict' nodeset='0'/>\n"
                                       "  </numatune>\n");
    g_autoptr(VnumaRequest) request = request_ok(xml);
    const VnumaPinSet *pins = request->pins;

    assert_int_equal(pins->vcpupins->len, 3);
    assert_int_equal(g_array_index(pins->vcpupins, VnumaVcpuPin, 0).vcpu, 0);
    assert_set(g_array_index(pins->vcpupins, VnumaVcpuPin, 0).cpuset, "1,3");
    assert_int_equal(g_array_index(pins->vcpupins, VnumaVcpuPin, 1).vcpu, 1);
    assert_set(g_array_index(pins->vcpupins, VnumaVcpuPin, 1).cpuset, "0-1,3");
    assert_int_equal(g_array_index(pins->vcpupins, VnumaVcpuPin, 2).vcpu, 2);
    assert_null(pins->emulatorpin);
    assert_null(pins->memory_mode);
    assert_null(pins->memory_nodeset);
    assert_true(pins->has_numatune);
    assert_int_equal(pins->memnodes->len, 2);
    assert_int_equal(g_array_index(pins->memnodes, VnumaMemnode, 0).cell_id, 0);
    assert_int_equal(g_array_index(pins->memnodes, VnumaMemnode, 1).cell_id, 1);
}

static void
test_owner_cells(void **state)
{
    g_autoptr(VnumaRequest) request = request_from_example("owner-cells-16vcpu");

    assert_int_equal(request->vcpus, 16);
    assert_int_equal(request->cells->len, 2);
    assert_cell(request->cells, 0, "0-3", 8388608);
    assert_cell(request->cells, 1, "4-15", 25165824);
    assert_topology(&request->topology, 0, 0, 0, 0);
    assert_true(vnuma_pinset_is_empty(request->pins));
}

static void
test_cell_units(void **state)
{
    g_autofree char *xml = domain_with("  <memory unit='GiB'>6</memory>\n  <vcpu>4</vcpu>\n"
                                       "  <cpu>\n    <topology sockets='2' dies='1' cores='2' threads='1'/>\n"
                                       "    <numa>\n"
                                       "      <cell id='0' cpus='0-1' memory='2' unit='GiB'/>\n"
                                       "      <cell id='1' cpus='2,3' memory='4194304'/>\n"
                                       "    </numa>\n  </cpu>\n");
    g_autoptr(VnumaRequest) request = request_ok(xml);

    assert_int_equal(request->cells->len, 2);
    assert_cell(request->cells, 0, "0-1", 2097152);
    assert_cell(request->cells, 1, "2-3", 4194304);
    assert_topology(&request->topology, 2, 1, 2, 1);
}

static void
test_topology(void **state)
{
    {
        g_autoptr(VnumaRequest) request = request_from_example("nova-64vcpu");

        assert_int_equal(request->vcpus, 64);
        assert_int_equal(request->memory_kib, 134217728);
        assert_topology(&request->topology, 64, 1, 1, 1);
        /* <cputune><shares> alone is no pinning. */
        assert_true(vnuma_pinset_is_empty(request->pins));
        assert_int_equal(request->cells->len, 0);
    }
    {
        /* dies left out reads as 1, as libvirt reads it; the others as 0. */
        g_autofree char *xml = domain_with("  <memory>4194304</memory>\n  <vcpu>8</vcpu>\n"
                                           "  <cpu><topology sockets='2' cores='2' threads='2'/></cpu>\n");
        g_autofree char *no_cores = domain_with("  <memory>4194304</memory>\n  <vcpu>8</vcpu>\n"
                                                "  <cpu><topology sockets='8'/></cpu>\n");
        g_autoptr(VnumaRequest) request = request_ok(xml);
        g_autoptr(VnumaRequest) sockets_only = request_ok(no_cores);

        assert_topology(&request->topology, 2, 1, 2, 2);
        assert_topology(&sockets_only->topology, 8, 1, 0, 0);
    }
}

static void
test_policy_overrides(void **state)
{
    {
        g_autoptr(VnumaRequest) request = request_from_example("bad-overrides-12vcpu");
        static const char *const expected[][2] = {
            { "preferHT", "maybe" }, { "coresPerSocket", "7" }, { "vcpuMin", "-3" },
        };

        assert_true(request->policy_present);
        assert_int_equal(request->overrides->len, G_N_ELEMENTS(expected));
        for (guint i = 0; i < G_N_ELEMENTS(expected); i++) {
            const VnumaOverride *o = &g_array_index(request->overrides, VnumaOverride, i);

            assert_str_equal(o->name, expected[i][0]);
            assert_str_equal(o->value, expected[i][1]);
        }
    }
    {
        g_autoptr(VnumaRequest) request = request_from_example("unmanaged-optout");

        assert_true(request->policy_present);
        assert_int_equal(request->overrides->len, 1);
        assert_str_equal(g_array_index(request->overrides, VnumaOverride, 0).name, "managed");
        assert_str_equal(g_array_index(request->overrides, VnumaOverride, 0).value, "no");
    }
    {
        /* Document order, raw text (entities resolved, spaces kept); a
         * look-alike element of another namespace is not vnuma's. */
        g_autofree char *xml = domain_with(
            "  <metadata>\n"
            "    <other:policy xmlns:other='urn:x-other' managed='no'/>\n"
            "    <v:policy xmlns:v='urn:x-vnuma:domain:1' vcpuMin='4' autosize=' always '"
            " topology='k&amp;p' preferHT=''/>\n"
            "  </metadata>\n"
            "  <memory>4194304</memory>\n  <vcpu>8</vcpu>\n");
        g_autoptr(VnumaRequest) request = request_ok(xml);
        static const char *const expected[][2] = {
            { "vcpuMin", "4" }, { "autosize", " always " }, { "topology", "k&p" }, { "preferHT", "" },
        };

        assert_true(request->policy_present);
        assert_int_equal(request->overrides->len, G_N_ELEMENTS(expected));
        for (guint i = 0; i < G_N_ELEMENTS(expected); i++) {
            const VnumaOverride *o = &g_array_index(request->overrides, VnumaOverride, i);

            assert_str_equal(o->name, expected[i][0]);
            assert_str_equal(o->value, expected[i][1]);
        }
    }
    /* Only vnuma's namespace is vnuma's policy: the same local name in
     * another namespace, a later version's or none is someone else's. */
    static const char *const foreign[] = {
        "<other:policy xmlns:other='urn:x-other' managed='no'/>",
        "<vnuma:policy xmlns:vnuma='urn:x-vnuma:domain:2' managed='no'/>",
        "<vnuma:policy xmlns:vnuma='urn:x-vnuma:layout:1' managed='no'/>",
        "<policy managed='no'/>",
    };
    for (gsize i = 0; i < G_N_ELEMENTS(foreign); i++) {
        g_autofree char *xml = g_strdup_printf("  <metadata>%s</metadata>\n"
                                               "  <memory>4194304</memory>\n  <vcpu>8</vcpu>\n",
                                               foreign[i]);
        g_autofree char *domain = domain_with(xml);
        g_autoptr(VnumaRequest) request = request_ok(domain);

        assert_false(request->policy_present);
        assert_int_equal(request->overrides->len, 0);
    }
}

/* The pipeline of libvnuma, on the internal API: size, place, finish, rewrite. */
static char *
plan_on(const char *host_name, const char *xml, gsize len, VnumaLayout **layout_out)
{
    g_autoptr(VnumaHost) host = vnuma_test_host(host_name);
    g_autoptr(GError) error = NULL;
    g_autoptr(VnumaXmlSource) src = vnuma_xml_source_parse(xml, len, "domain XML", &error);
    g_autoptr(VnumaRequest) request = NULL;
    g_autoptr(VnumaLayout) layout = NULL;
    VnumaSettings settings;
    char *out;

    assert_non_null(src);
    request = vnuma_request_from_domain(src, &error);
    assert_non_null(request);
    vnuma_settings_init(&settings);
    layout = vnuma_pipeline_run(host, &settings, request, NULL, 0, NULL, 0);
    vnuma_settings_clear(&settings);
    assert_true(layout->managed);
    out = vnuma_domain_rewrite(src, request, layout, NULL, &error);
    if (!out) {
        print_error("rewrite failed: %s\n", error->message);
        fail();
    }
    *layout_out = g_steal_pointer(&layout);
    return out;
}

static void
assert_stamps_equal(const VnumaStamp *got, const VnumaStamp *want)
{
    assert_int_equal(got->version, want->version);
    assert_int_equal(got->vcpus, want->vcpus);
    assert_str_equal(got->host, want->host);
    assert_str_equal(got->pins_digest, want->pins_digest);
    assert_int_equal(got->wrote_topology, want->wrote_topology);
    if (want->wrote_topology)
        assert_true(vnuma_guest_topology_equal(&got->topology, &want->topology));
    assert_int_equal(got->clients->len, want->clients->len);
    for (guint i = 0; i < want->clients->len; i++) {
        const VnumaStampClient *a = &g_array_index(got->clients, VnumaStampClient, i);
        const VnumaStampClient *b = &g_array_index(want->clients, VnumaStampClient, i);

        assert_true(vnuma_cpuset_equal(a->vcpus, b->vcpus));
        assert_int_equal(a->home_node, b->home_node);
        assert_int_equal(a->memory_kib, b->memory_kib);
    }
    assert_true(vnuma_cells_equal(got->cells, want->cells));
}

static void
test_stamp_round_trip(void **state)
{
    static const char *const cases[][2] = {
        { "wide-12vcpu", "xeon-2s10c-ht" },
        { "narrow-8vcpu", "xeon-4s4c-ht" },
        { "hotadd-16of24", "epyc-nps4-2s" },
        { "owner-cells-16vcpu", "small-2node" },
        { "hugepages-16vcpu", "xeon-2s12c-noht" },
        { "nova-64vcpu", "xeon-cod-2s" },
    };

    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *relative = g_strdup_printf("examples/domains/%s.xml", cases[i][0]);
        gsize len;
        g_autofree char *xml = vnuma_test_read(relative, &len);
        g_autoptr(VnumaLayout) layout = NULL;
        g_autofree char *out = plan_on(cases[i][1], xml, len, &layout);
        g_autoptr(VnumaStamp) want = vnuma_layout_to_stamp(layout);
        g_autoptr(VnumaRequest) request = request_ok(out);
        g_autofree char *digest = NULL;

        if (!request->stamp) {
            print_error("%s on %s: no readable stamp in the output (%s)\n%s\n", cases[i][0],
                        cases[i][1], request->warnings->len ? (char *) request->warnings->pdata[0] : "",
                        out);
            fail();
        }
        assert_int_equal(request->warnings->len, 0);
        assert_stamps_equal(request->stamp, want);
        /* The pins read back are the pins the stamp vouches for. */
        digest = vnuma_pinset_digest(request->pins);
        assert_str_equal(digest, request->stamp->pins_digest);
        /* And the layout element vnuma_stamp_format() prints is the one in the output. */
        {
            g_autofree char *formatted = vnuma_stamp_format(want, "    ");

            assert_non_null(strstr(out, formatted));
        }
    }
}

static void
test_unreadable_stamp(void **state)
{
    static const char *const layouts[] = {
        "<vnuma:layout xmlns:vnuma='urn:x-vnuma:layout:1' version='1' vcpus='x'>"
        "<vnuma:client vcpus='0-3' node='0' memory='1'/></vnuma:layout>",
        "<vnuma:layout xmlns:vnuma='urn:x-vnuma:layout:1' version='2' vcpus='4'>"
        "<vnuma:client vcpus='0-3' node='0' memory='1'/></vnuma:layout>",
        "<vnuma:layout xmlns:vnuma='urn:x-vnuma:layout:1' version='1' vcpus='4'/>",
        "<vnuma:layout xmlns:vnuma='urn:x-vnuma:layout:1' version='1' vcpus='4'>"
        "<vnuma:client vcpus='3-a' node='0' memory='1'/></vnuma:layout>",
        "<vnuma:layout xmlns:vnuma='urn:x-vnuma:layout:1' version='1' vcpus='4'>"
        "<vnuma:client vcpus='0-3' node='zero' memory='1'/></vnuma:layout>",
        "<vnuma:layout xmlns:vnuma='urn:x-vnuma:layout:1' version='1' vcpus='4'>"
        "<vnuma:client vcpus='0-3' node='0' memory='1'/><vnuma:cell cpus='0-3'/></vnuma:layout>",
        "<vnuma:layout xmlns:vnuma='urn:x-vnuma:layout:1' version='1' vcpus='4'>"
        "<vnuma:client vcpus='0-3' node='0' memory='1'/>"
        "<vnuma:topology sockets='many'/></vnuma:layout>",
        /* Found by tests/fuzz/fuzz-metadata: overlapping record cells made
         * the kept cells' memory underflow to ~2^64 KiB. */
        "<vnuma:layout xmlns:vnuma='urn:x-vnuma:layout:1' version='1' vcpus='4'>"
        "<vnuma:client vcpus='0-3' node='0' memory='1'/>"
        "<vnuma:cell cpus='0-2' memory='1'/><vnuma:cell cpus='1-3' memory='1'/></vnuma:layout>",
        "<vnuma:layout xmlns:vnuma='urn:x-vnuma:layout:1' version='1' vcpus='4'>"
        "<vnuma:client vcpus='0-2' node='0' memory='1'/>"
        "<vnuma:client vcpus='2-3' node='1' memory='1'/></vnuma:layout>",
        "<vnuma:layout xmlns:vnuma='urn:x-vnuma:layout:1' version='1' vcpus='4'>"
        "<vnuma:client vcpus='0-7' node='0' memory='1'/></vnuma:layout>",
    };

    for (gsize i = 0; i < G_N_ELEMENTS(layouts); i++) {
        g_autofree char *body = g_strdup_printf("  <metadata>\n    %s\n  </metadata>\n"
                                                "  <memory>4194304</memory>\n  <vcpu>4</vcpu>\n",
                                                layouts[i]);
        g_autofree char *xml = domain_with(body);
        g_autoptr(VnumaRequest) request = request_ok(xml);

        if (request->stamp) {
            print_error("a stamp was read from %s\n", layouts[i]);
            fail();
        }
        assert_int_equal(request->warnings->len, 1);
        vnuma_test_assert_contains(request->warnings->pdata[0], "vnuma:layout");
        /* Everything else still reads. */
        assert_int_equal(request->vcpus, 4);
        assert_int_equal(request->memory_kib, 4194304);
    }
}

static void
test_readable_stamp(void **state)
{
    g_autofree char *xml = domain_with(
        "  <metadata>\n"
        "    <vnuma:layout xmlns:vnuma='urn:x-vnuma:layout:1' version='1' host='abc' vcpus='4' pins='0123'>\n"
        "      <vnuma:client vcpus='0-1' node='1' memory='1048576'/>\n"
        "      <vnuma:client vcpus='2-3' node='3' memory='1048576'/>\n"
        "      <vnuma:cell cpus='0-1' memory='1048576'/>\n"
        "      <vnuma:cell cpus='2-3' memory='1048576'/>\n"
        "      <vnuma:topology sockets='2' dies='1' cores='2' threads='1'/>\n"
        "    </vnuma:layout>\n"
        "  </metadata>\n"
        "  <memory>2097152</memory>\n  <vcpu>4</vcpu>\n");
    g_autoptr(VnumaRequest) request = request_ok(xml);
    const VnumaStamp *stamp = request->stamp;

    assert_non_null(stamp);
    assert_int_equal(stamp->version, 1);
    assert_int_equal(stamp->vcpus, 4);
    assert_str_equal(stamp->host, "abc");
    assert_str_equal(stamp->pins_digest, "0123");
    assert_int_equal(stamp->clients->len, 2);
    assert_set(g_array_index(stamp->clients, VnumaStampClient, 1).vcpus, "2-3");
    assert_int_equal(g_array_index(stamp->clients, VnumaStampClient, 1).home_node, 3);
    assert_int_equal(g_array_index(stamp->clients, VnumaStampClient, 1).memory_kib, 1048576);
    assert_cell(stamp->cells, 1, "2-3", 1048576);
    assert_true(stamp->wrote_topology);
    assert_topology(&stamp->topology, 2, 1, 2, 1);
    assert_false(request->policy_present);
    assert_int_equal(request->warnings->len, 0);
}

/* Cells are indexed by id (libvirt's order), not by document order; a
 * cell may hold memory only; without <memory> the cells give it; hot-plug
 * devices count in <memory> but not in the cells. */
static void
test_cells_by_id_and_memory(void **state)
{
    static const char by_id[] =
        "<domain type='qemu'><vcpu>16</vcpu><cpu><numa>"
        "<cell id='1' cpus='8-15' memory='109550' unit='KiB'/>"
        "<cell id='0' cpus='0-7' memory='109550' unit='KiB'/>"
        "<cell memory='1' unit='GiB'/>"
        "</numa></cpu></domain>";
    static const char dimms[] =
        "<domain type='kvm'><memory unit='GiB'>6</memory><vcpu>2</vcpu><cpu><numa>"
        "<cell id='0' cpus='0-1' memory='4' unit='GiB'/></numa></cpu><devices>"
        "<memory model='dimm'><target><size unit='GiB'>1</size><node>0</node></target></memory>"
        "<memory model='dimm'><target><size unit='MiB'>1024</size><node>0</node></target></memory>"
        "</devices></domain>";
    g_autoptr(VnumaRequest) cells = request_ok(by_id);
    g_autoptr(VnumaRequest) devices = request_ok(dimms);

    assert_int_equal(cells->cells->len, 3);
    assert_cell(cells->cells, 0, "0-7", 109550);
    assert_cell(cells->cells, 1, "8-15", 109550);
    assert_cell(cells->cells, 2, "", 1048576);
    assert_int_equal(cells->memory_kib, 2 * 109550 + 1048576);
    assert_int_equal(devices->memory_kib, 6 * 1048576);
    assert_int_equal(devices->device_memory_kib, 2 * 1048576);
    assert_int_equal(vnuma_request_cell_memory_kib(devices), 4 * 1048576);
}

static void
test_errors(void **state)
{
    static const struct {
        const char *xml;
        const char *const words[3];
    } cases[] = {
        { "<capabilities><host/></capabilities>", { "not a domain", "capabilities" } },
        { "<domain type='kvm'><memory>1048576</memory><vcpu>abc</vcpu></domain>", { "vcpu", "abc" } },
        { "<domain type='kvm'><memory>1048576</memory><vcpu>0</vcpu></domain>", { "vcpu", "'0'" } },
        { "<domain type='kvm'><memory>1048576</memory><vcpu>-4</vcpu></domain>", { "vcpu", "-4" } },
        { "<domain type='kvm'><memory>1048576</memory><vcpu current='two'>4</vcpu></domain>",
          { "vcpu", "current" } },
        { "<domain type='kvm'><memory>1048576</memory><vcpu cpuset='0-x'>4</vcpu></domain>",
          { "vcpu", "cpuset" } },
        { "<domain type='kvm'><memory>lots</memory><vcpu>4</vcpu></domain>", { "memory", "lots" } },
        { "<domain type='kvm'><memory>2048</memory><vcpu>4</vcpu><cpu><numa>"
          "<cell id='0' cpus='0-1' memory='1024'/><cell id='0' cpus='2-3' memory='1024'/>"
          "</numa></cpu></domain>", { "two <cell>", "id='0'" } },
        { "<domain type='kvm'><memory>2048</memory><vcpu>4</vcpu><cpu><numa>"
          "<cell id='1' cpus='0-1' memory='1024'/><cell id='2' cpus='2-3' memory='1024'/>"
          "</numa></cpu></domain>", { "id='2'", "out of range" } },
        { "<domain type='kvm'><memory unit='parsec'>1</memory><vcpu>4</vcpu></domain>", { "parsec" } },
        { "<domain type='kvm'><memory>1048576</memory><vcpu>4</vcpu>"
          "<cputune><vcpupin vcpu='0' cpuset='1-'/></cputune></domain>", { "vcpupin", "cpuset", "1-" } },
        { "<domain type='kvm'><memory>1048576</memory><vcpu>4</vcpu>"
          "<cputune><vcpupin vcpu='0'/></cputune></domain>", { "vcpupin", "cpuset" } },
        { "<domain type='kvm'><memory>1048576</memory><vcpu>4</vcpu>"
          "<cputune><vcpupin vcpu='zero' cpuset='1'/></cputune></domain>", { "vcpupin", "vcpu" } },
        { "<domain type='kvm'><memory>1048576</memory><vcpu>4</vcpu>"
          "<cputune><emulatorpin cpuset='q'/></cputune></domain>", { "emulatorpin", "cpuset" } },
        { "<domain type='kvm'><memory>1048576</memory><vcpu>4</vcpu>"
          "<numatune><memory mode='strict' nodeset='0-'/></numatune></domain>", { "memory", "nodeset" } },
        { "<domain type='kvm'><memory>1048576</memory><vcpu>4</vcpu>"
          "<numatune><memnode cellid='0' mode='strict' nodeset=''/></numatune></domain>",
          { "memnode", "nodeset" } },
        { "<domain type='kvm'><memory>1048576</memory><vcpu>4</vcpu>"
          "<cpu><numa><cell id='0' cpus='0-3'/></numa></cpu></domain>", { "cell", "memory" } },
        { "<domain type='kvm'><memory>1048576</memory><vcpu>4</vcpu>"
          "<cpu><numa><cell id='0' cpus='0-3' memory='1G'/></numa></cpu></domain>", { "cell", "memory" } },
        { "<domain type='kvm'><memory>1048576</memory><vcpu>4</vcpu>"
          "<cpu><topology sockets='x' cores='4' threads='1'/></cpu></domain>", { "topology", "sockets" } },
        /* libvirt refuses these; vnuma counted the shared vCPUs twice. */
        { "<domain type='kvm'><memory>1048576</memory><vcpu>4</vcpu><cpu><numa>"
          "<cell id='0' cpus='0-2' memory='512'/><cell id='1' cpus='2-3' memory='512'/>"
          "</numa></cpu></domain>", { "cell", "2-3", "overlap" } },
        { "<domain type='kvm'><memory>1048576</memory><vcpu>4</vcpu><cpu><numa>"
          "<cell id='0' cpus='0-1' memory='512'/><cell id='1' cpus='20-21' memory='512'/>"
          "</numa></cpu></domain>", { "cell", "20-21", "4 vCPUs" } },
        /* Duplicated elements: vnuma would read one copy and libvirt another. */
        { "<domain type='kvm'><memory>1048576</memory><vcpu>4</vcpu><vcpu>64</vcpu></domain>",
          { "2 <vcpu>" } },
        { "<domain type='kvm'><memory>1048576</memory><memory>2</memory><vcpu>4</vcpu></domain>",
          { "2 <memory>" } },
        { "<domain type='kvm'><memory>1048576</memory><vcpu>4</vcpu><cpu/><cpu><numa>"
          "<cell id='0' cpus='0-3' memory='512'/></numa></cpu></domain>", { "2 <cpu>" } },
        { "<domain type='kvm'><memory>1048576</memory><vcpu>4</vcpu><cpu><numa>"
          "<cell id='0' cpus='0-1' memory='512'/></numa><numa><cell id='1' cpus='2-3' memory='512'/>"
          "</numa></cpu></domain>", { "2 <cpu/numa>" } },
        { "<domain type='kvm'><memory>1048576</memory><vcpu>4</vcpu>"
          "<numatune><memory mode='strict' nodeset='0'/></numatune>"
          "<numatune><memory mode='strict' nodeset='1'/></numatune></domain>", { "2 <numatune>" } },
        { "<domain type='kvm'><memory>1048576</memory><vcpu>4</vcpu><cputune>"
          "<emulatorpin cpuset='0'/><emulatorpin cpuset='1'/></cputune></domain>",
          { "2 <cputune/emulatorpin>" } },
    };

    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *message = request_error(cases[i].xml);

        for (guint w = 0; w < G_N_ELEMENTS(cases[i].words) && cases[i].words[w]; w++) {
            if (!strstr(message, cases[i].words[w])) {
                print_error("error for %s\nis '%s'; it does not name '%s'\n", cases[i].xml, message,
                            cases[i].words[w]);
                fail();
            }
        }
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hotadd_vcpus),
        cmocka_unit_test(test_vcpu_forms),
        cmocka_unit_test(test_memory_units),
        cmocka_unit_test(test_hugepages),
        cmocka_unit_test(test_placement_auto),
        cmocka_unit_test(test_nova_pinned),
        cmocka_unit_test(test_pins_any_order),
        cmocka_unit_test(test_owner_cells),
        cmocka_unit_test(test_cell_units),
        cmocka_unit_test(test_topology),
        cmocka_unit_test(test_policy_overrides),
        cmocka_unit_test(test_stamp_round_trip),
        cmocka_unit_test(test_unreadable_stamp),
        cmocka_unit_test(test_readable_stamp),
        cmocka_unit_test(test_cells_by_id_and_memory),
        cmocka_unit_test(test_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
