/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "tests/testutil.h"

#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "lib/vnuma-error.h"
#include "xml/vnuma-caps.h"

/* What examples/hosts/README.md says about each fixture, node by node. */
typedef struct {
    const char *online;   /* online CPUs in list syntax, "" for none */
    const char *offline;  /* offline CPUs, "" for none */
    guint cores;
    guint64 memory_kib;
    guint64 pages_2m;
    guint64 pages_1g;
} NodeExpect;

typedef struct {
    guint from;
    guint to;
    guint value;
} DistanceExpect;

typedef struct {
    const char *name;
    guint nodes;
    NodeExpect node[8];
    DistanceExpect distances[8];  /* ends at value 0 */
} HostExpect;

#define GIB (G_GUINT64_CONSTANT(1024) * 1024)

static const HostExpect expectations[] = {
    { "xeon-2s10c-ht", 2, {
        { "0-9,20-29", "", 10, 192 * GIB, 0, 16 },
        { "10-19,30-39", "", 10, 192 * GIB, 0, 16 } },
      { { 0, 0, 10 }, { 0, 1, 21 }, { 1, 0, 21 } } },
    { "xeon-4s4c-ht", 4, {
        { "0-3,16-19", "", 4, 64 * GIB, 4096, 0 },
        { "4-7,20-23", "", 4, 64 * GIB, 4096, 0 },
        { "8-11,24-27", "", 4, 64 * GIB, 4096, 0 },
        { "12-15,28-31", "", 4, 64 * GIB, 4096, 0 } },
      { { 0, 3, 21 }, { 2, 1, 21 }, { 3, 3, 10 } } },
    { "xeon-2s12c-noht", 2, {
        { "0-11", "", 12, 128 * GIB, 2048, 8 },
        { "12-23", "", 12, 128 * GIB, 2048, 8 } },
      { { 0, 1, 21 } } },
    { "epyc-nps4-2s", 8, {
        { "0-7,64-71", "", 8, 64 * GIB, 1024, 8 },
        { "8-15,72-79", "", 8, 64 * GIB, 1024, 8 },
        { "16-23,80-87", "", 8, 64 * GIB, 1024, 8 },
        { "24-31,88-95", "", 8, 64 * GIB, 1024, 8 },
        { "32-39,96-103", "", 8, 64 * GIB, 1024, 8 },
        { "40-47,104-111", "", 8, 64 * GIB, 1024, 8 },
        { "48-55,112-119", "", 8, 64 * GIB, 1024, 8 },
        { "56-63,120-127", "", 8, 64 * GIB, 1024, 8 } },
      { { 0, 0, 10 }, { 0, 1, 12 }, { 0, 3, 12 }, { 0, 4, 32 }, { 7, 0, 32 },
        { 5, 6, 12 }, { 3, 7, 32 } } },
    { "epyc-nps2-2s", 4, {
        { "0-7,32-39", "", 8, 128 * GIB, 2048, 16 },
        { "8-15,40-47", "", 8, 128 * GIB, 2048, 16 },
        { "16-23,48-55", "", 8, 128 * GIB, 2048, 16 },
        { "24-31,56-63", "", 8, 128 * GIB, 2048, 16 } },
      { { 0, 0, 10 }, { 0, 1, 12 }, { 1, 0, 12 }, { 0, 2, 32 }, { 3, 1, 32 }, { 2, 3, 12 } } },
    { "xeon-cod-2s", 4, {
        { "0-6,28-34", "", 7, 64 * GIB, 0, 0 },
        { "7-13,35-41", "", 7, 64 * GIB, 0, 0 },
        { "14-20,42-48", "", 7, 64 * GIB, 0, 0 },
        { "21-27,49-55", "", 7, 64 * GIB, 0, 0 } },
      { { 0, 1, 11 }, { 0, 2, 21 }, { 1, 3, 21 }, { 2, 3, 11 }, { 3, 2, 11 } } },
    { "asym-memory-2s", 3, {
        { "0-7,16-23", "", 8, 256 * GIB, 8192, 0 },
        { "8-15,24-31", "", 8, 32 * GIB, 0, 0 },
        { "", "", 0, 512 * GIB, 0, 0 } },
      { { 0, 1, 21 }, { 0, 2, 17 }, { 1, 2, 28 }, { 2, 1, 28 }, { 2, 2, 10 } } },
    { "offline-cpus-2s", 2, {
        { "0-3,12-15", "4-5,16-17", 4, 96 * GIB, 0, 0 },
        { "6-11,18-23", "", 6, 96 * GIB, 0, 0 } },
      { { 0, 1, 21 }, { 1, 0, 21 } } },
    { "small-2node", 2, {
        { "0-3", "", 4, 8 * GIB, 0, 0 },
        { "4-7", "", 4, 8 * GIB, 0, 0 } },
      { { 0, 1, 20 }, { 1, 1, 10 } } },
};

static VnumaCpuSet *
set_of(const char *text)
{
    g_autoptr(GError) error = NULL;
    VnumaCpuSet *set;

    if (!*text)
        return vnuma_cpuset_new();
    set = vnuma_cpuset_parse(text, &error);
    assert_non_null(set);
    return set;
}

static void
assert_set(const char *fixture, guint node, const char *what, const VnumaCpuSet *got,
           const char *expected)
{
    g_autofree char *text = vnuma_cpuset_format(got);

    if (strcmp(text, expected) != 0) {
        print_error("%s node %u: %s CPUs '%s', expected '%s'\n", fixture, node, what, text, expected);
        fail();
    }
}

static guint64
pool_total(const VnumaHostNode *node, guint64 size_kib)
{
    const VnumaPagePool *pool = vnuma_host_node_pages(node, size_kib);

    assert_non_null(pool);
    assert_int_equal(pool->free, -1);
    return pool->total;
}

/* What holds for any libvirt host: a symmetric SLIT with 10 on the
 * diagonal, siblings that contain the CPU and agree on the core, and a
 * base page pool of what the huge pages leave. */
static void
check_invariants(const char *fixture, const VnumaHost *host)
{
    for (guint i = 0; i < host->nodes->len; i++) {
        const VnumaHostNode *node = host->nodes->pdata[i];
        guint64 huge_kib = 0;

        assert_int_equal(vnuma_host_distance(host, node->id, node->id), 10);
        for (guint j = 0; j < host->nodes->len; j++) {
            const VnumaHostNode *other = host->nodes->pdata[j];

            assert_int_equal(vnuma_host_distance(host, node->id, other->id),
                             vnuma_host_distance(host, other->id, node->id));
        }
        for (guint p = 0; p < node->pages->len; p++) {
            const VnumaPagePool *pool = &g_array_index(node->pages, VnumaPagePool, p);

            if (pool->size_kib > 4)
                huge_kib += pool->size_kib * pool->total;
        }
        if (pool_total(node, 4) != (node->memory_kib - huge_kib) / 4) {
            print_error("%s node %u: 4 KiB pool is not memory minus huge pages\n",
                        fixture, node->id);
            fail();
        }
        for (guint c = 0; c < node->cpus->len; c++) {
            const VnumaHostCpu *cpu = &g_array_index(node->cpus, VnumaHostCpu, c);

            if (!cpu->online)
                continue;
            assert_non_null(cpu->siblings);
            assert_true(vnuma_cpuset_contains(cpu->siblings, cpu->id));
            VNUMA_CPUSET_FOREACH(cpu->siblings, sibling) {
                for (guint k = 0; k < node->cpus->len; k++) {
                    const VnumaHostCpu *s = &g_array_index(node->cpus, VnumaHostCpu, k);

                    if (s->id != (guint) sibling)
                        continue;
                    assert_int_equal(s->socket_id, cpu->socket_id);
                    assert_int_equal(s->core_id, cpu->core_id);
                }
            }
        }
    }
}

static void
check_expectation(const HostExpect *want, const VnumaHost *host)
{
    g_autoptr(VnumaCpuSet) all = vnuma_cpuset_new_range(0, VNUMA_CPUSET_MAX_ID);

    if (host->nodes->len != want->nodes) {
        print_error("%s: %u nodes, expected %u\n", want->name, host->nodes->len, want->nodes);
        fail();
    }
    for (guint i = 0; i < want->nodes; i++) {
        const NodeExpect *w = &want->node[i];
        const VnumaHostNode *node = host->nodes->pdata[i];
        g_autoptr(VnumaCpuSet) online = vnuma_host_node_cpus(node);
        g_autoptr(VnumaCpuSet) offline = vnuma_cpuset_new();
        g_autoptr(VnumaCpuSet) expected_online = set_of(w->online);
        g_autoptr(VnumaCpuSet) expected_offline = set_of(w->offline);
        g_autofree char *online_text = vnuma_cpuset_format(expected_online);
        g_autofree char *offline_text = vnuma_cpuset_format(expected_offline);

        assert_int_equal(node->id, i);
        for (guint c = 0; c < node->cpus->len; c++) {
            const VnumaHostCpu *cpu = &g_array_index(node->cpus, VnumaHostCpu, c);

            if (!cpu->online)
                vnuma_cpuset_add(offline, cpu->id);
        }
        assert_set(want->name, i, "online", online, online_text);
        assert_set(want->name, i, "offline", offline, offline_text);
        assert_int_equal(node->cpus->len,
                         vnuma_cpuset_count(expected_online) + vnuma_cpuset_count(expected_offline));
        if (vnuma_host_node_cores(node, all) != w->cores) {
            print_error("%s node %u: %u cores, expected %u\n", want->name, i,
                        vnuma_host_node_cores(node, all), w->cores);
            fail();
        }
        assert_int_equal(node->memory_kib, w->memory_kib);
        assert_int_equal(pool_total(node, 2048), w->pages_2m);
        assert_int_equal(pool_total(node, 1048576), w->pages_1g);
        assert_int_equal(node->distances->len, want->nodes);
    }
    for (const DistanceExpect *d = want->distances; d->value; d++) {
        if (vnuma_host_distance(host, d->from, d->to) != d->value) {
            print_error("%s: distance %u->%u is %u, expected %u\n", want->name, d->from, d->to,
                        vnuma_host_distance(host, d->from, d->to), d->value);
            fail();
        }
    }
}

/* Every fixture in examples/hosts parses; the ones the README describes
 * have exactly the shape it states. */
static void
test_fixtures(void **state)
{
    g_autofree char *dir_path = vnuma_test_path("examples/hosts");
    g_autoptr(GError) error = NULL;
    g_autoptr(GDir) dir = g_dir_open(dir_path, 0, &error);
    gboolean seen[G_N_ELEMENTS(expectations)] = { FALSE };
    const char *file;
    guint parsed = 0;

    (void) state;
    if (!dir) {
        print_error("%s\n", error->message);
        fail();
    }
    while ((file = g_dir_read_name(dir))) {
        g_autofree char *name = NULL;
        g_autoptr(VnumaHost) host = NULL;

        if (!g_str_has_suffix(file, ".xml"))
            continue;
        name = g_strndup(file, strlen(file) - strlen(".xml"));
        host = vnuma_test_host(name);
        check_invariants(name, host);
        parsed++;
        for (gsize i = 0; i < G_N_ELEMENTS(expectations); i++) {
            if (strcmp(expectations[i].name, name) == 0) {
                check_expectation(&expectations[i], host);
                seen[i] = TRUE;
            }
        }
    }
    for (gsize i = 0; i < G_N_ELEMENTS(expectations); i++) {
        if (!seen[i]) {
            print_error("examples/hosts/%s.xml is missing\n", expectations[i].name);
            fail();
        }
    }
    assert_true(parsed >= G_N_ELEMENTS(expectations));
}

/* A few fixture facts the table cannot express. */
static void
test_fixture_details(void **state)
{
    g_autoptr(VnumaHost) cod = vnuma_test_host("xeon-cod-2s");
    g_autoptr(VnumaHost) noht = vnuma_test_host("xeon-2s12c-noht");
    g_autoptr(VnumaHost) epyc = vnuma_test_host("epyc-nps4-2s");
    g_autoptr(VnumaHost) asym = vnuma_test_host("asym-memory-2s");
    g_autoptr(VnumaCpuSet) half = NULL;
    const VnumaHostNode *node;
    const VnumaHostCpu *cpu;

    (void) state;
    /* Cluster-on-Die: nodes 0 and 1 are one socket. */
    node = vnuma_host_find_node(cod, 1);
    cpu = &g_array_index(node->cpus, VnumaHostCpu, 0);
    assert_int_equal(cpu->id, 7);
    assert_int_equal(cpu->socket_id, 0);
    node = vnuma_host_find_node(cod, 2);
    assert_int_equal(g_array_index(node->cpus, VnumaHostCpu, 0).socket_id, 1);
    assert_int_equal(vnuma_host_default_hugepage_kib(cod), 2048);

    /* No SMT: every CPU is its own only sibling. */
    node = vnuma_host_find_node(noht, 1);
    cpu = &g_array_index(node->cpus, VnumaHostCpu, 5);
    assert_int_equal(cpu->id, 17);
    assert_int_equal(vnuma_cpuset_count(cpu->siblings), 1);

    /* AMD numbering: SMT sibling is id + 64; socket 1 restarts core ids. */
    node = vnuma_host_find_node(epyc, 4);
    cpu = &g_array_index(node->cpus, VnumaHostCpu, 0);
    assert_int_equal(cpu->id, 32);
    assert_int_equal(cpu->socket_id, 1);
    assert_int_equal(cpu->core_id, 0);
    assert_true(vnuma_cpuset_contains(cpu->siblings, 96));
    /* One thread of each of four cores: four cores, not eight. */
    half = vnuma_cpuset_parse("32-35,96-99", NULL);
    assert_int_equal(vnuma_host_node_cores(node, half), 4);

    /* The memory-only node has memory and no CPUs. */
    node = vnuma_host_find_node(asym, 2);
    assert_int_equal(node->cpus->len, 0);
    assert_int_equal(node->memory_kib, 512 * GIB);
}

static void
test_units(void **state)
{
    static const char xml[] =
        "<capabilities><host><topology><cells num='1'>\n"
        "  <cell id='0'>\n"
        "    <memory unit='GiB'>2</memory>\n"
        "    <pages unit='KiB' size='4'>262144</pages>\n"
        "    <pages unit='MiB' size='2'>  0 </pages>\n"
        "    <pages unit='G' size='1'>1</pages>\n"
        "    <cpus num='2'>\n"
        "      <cpu id='1' socket_id='3' core_id='5' siblings='0-1'/>\n"
        "      <cpu id='0' socket_id='3' die_id='2' core_id='5' siblings='0-1'/>\n"
        "    </cpus>\n"
        "  </cell>\n"
        "</cells></topology></host></capabilities>\n";
    g_autoptr(GError) error = NULL;
    g_autoptr(VnumaHost) host = vnuma_host_from_caps_xml(xml, sizeof(xml) - 1, &error);
    const VnumaHostNode *node;
    const VnumaHostCpu *cpu;

    (void) state;
    assert_non_null(host);
    node = host->nodes->pdata[0];
    assert_int_equal(node->memory_kib, 2 * 1024 * 1024);
    assert_int_equal(node->pages->len, 3);
    assert_int_equal(pool_total(node, 4), 262144);
    assert_int_equal(pool_total(node, 2048), 0);
    assert_int_equal(pool_total(node, 1048576), 1);
    /* No <distances>: the kernel's defaults. */
    assert_int_equal(node->distances->len, 0);
    assert_int_equal(vnuma_host_distance(host, 0, 0), 10);
    cpu = &g_array_index(node->cpus, VnumaHostCpu, 0);
    assert_int_equal(cpu->id, 0);
    assert_int_equal(cpu->die_id, 2);
    cpu = &g_array_index(node->cpus, VnumaHostCpu, 1);
    assert_int_equal(cpu->id, 1);
    assert_true(cpu->online);
    /* Older libvirt printed no die_id. */
    assert_int_equal(cpu->die_id, 0);
    assert_int_equal(cpu->socket_id, 3);
}

static void
assert_error_has(const GError *error, const char *fragment)
{
    assert_non_null(error);
    if (!strstr(error->message, fragment)) {
        print_error("error '%s' lacks '%s'\n", error->message, fragment);
        fail();
    }
    /* One line naming the problem. */
    assert_null(strchr(error->message, '\n'));
}

static void
assert_caps_error(const char *xml, const char *fragment, const char *fragment2)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(VnumaHost) host = vnuma_host_from_caps_xml(xml, strlen(xml), &error);

    if (host) {
        print_error("accepted:\n%s\n", xml);
        fail();
    }
    assert_true(error->domain == VNUMA_ERROR);
    assert_error_has(error, fragment);
    if (fragment2)
        assert_error_has(error, fragment2);
}

#define CELL_HEAD "<capabilities><host><topology><cells num='1'>"
#define CELL_TAIL "</cells></topology></host></capabilities>"
#define ONE_CPU(attrs) \
    CELL_HEAD "<cell id='0'><memory unit='KiB'>1024</memory><cpus num='1'>" \
    "<cpu id='3' " attrs "/></cpus></cell>" CELL_TAIL

static void
test_errors(void **state)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(VnumaHost) host = NULL;
    g_autofree char *bad_path = g_build_filename(g_get_tmp_dir(), "vnuma-no-such-dir",
                                                 "caps.xml", NULL);

    (void) state;
    host = vnuma_host_from_caps_file(bad_path, &error);
    assert_null(host);
    assert_true(g_error_matches(error, VNUMA_ERROR, VNUMA_ERROR_NOT_FOUND));
    assert_error_has(error, bad_path);
    g_clear_error(&error);

    assert_caps_error("this is plain text", "not XML", NULL);
    assert_caps_error("", "not XML", NULL);
    assert_caps_error("<capabilities><host>", "not well-formed", NULL);
    assert_caps_error("<domain type='kvm'><name>vm</name></domain>",
                      "root element is <domain>", "<capabilities>");
    assert_caps_error("<capabilities><host><cpu/></host></capabilities>",
                      "capabilities XML has no NUMA cells (<host><topology><cells>)", NULL);
    assert_caps_error(CELL_HEAD CELL_TAIL, "no NUMA cells", NULL);

    assert_caps_error(ONE_CPU("socket_id='x' core_id='0' siblings='3'"),
                      "cell 0 cpu 3", "socket_id='x'");
    assert_caps_error(ONE_CPU("socket_id='0' core_id='-1' siblings='3'"),
                      "cell 0 cpu 3", "core_id");
    assert_caps_error(ONE_CPU("socket_id='0' siblings='3'"), "cell 0 cpu 3", "'core_id'");
    assert_caps_error(ONE_CPU("socket_id='0' core_id='0'"), "cell 0 cpu 3", "'siblings'");
    assert_caps_error(ONE_CPU("socket_id='0' core_id='0' siblings='3-1'"),
                      "cell 0 cpu 3", "siblings");
    assert_caps_error(CELL_HEAD "<cell id='0'><cpus><cpu id='70000'/></cpus></cell>" CELL_TAIL,
                      "cell 0", "id='70000'");
    assert_caps_error(CELL_HEAD "<cell><memory>1</memory></cell>" CELL_TAIL, "cell", "'id'");
    assert_caps_error(CELL_HEAD "<cell id='zero'/>" CELL_TAIL, "cell", "id='zero'");
    assert_caps_error(CELL_HEAD "<cell id='0'><memory unit='parsecs'>1</memory></cell>" CELL_TAIL,
                      "cell 0", "parsecs");
    assert_caps_error(CELL_HEAD "<cell id='0'><pages unit='KiB' size='2048'>many</pages></cell>"
                      CELL_TAIL, "cell 0", "many");
    assert_caps_error(CELL_HEAD "<cell id='0'><distances><sibling id='1'/></distances></cell>"
                      CELL_TAIL, "cell 0", "'value'");
    assert_caps_error(CELL_HEAD "<cell id='1'/><cell id='1'/>" CELL_TAIL, "cell 1 twice", NULL);
    assert_caps_error(CELL_HEAD "<cell id='0'><cpus><cpu id='2'/></cpus></cell>"
                      "<cell id='1'><cpus><cpu id='2'/></cpus></cell>" CELL_TAIL,
                      "CPU 2 in more than one place", NULL);
}

/* A parse error read from a file says which file. */
static void
test_file_error_names_path(void **state)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *path = NULL;
    g_autoptr(VnumaHost) host = NULL;
    int fd = g_file_open_tmp("vnuma-caps-XXXXXX.xml", &path, &error);

    (void) state;
    assert_true(fd >= 0);
    close(fd);
    assert_true(g_file_set_contents(path, "<domain/>", -1, &error));
    host = vnuma_host_from_caps_file(path, &error);
    g_unlink(path);
    assert_null(host);
    assert_error_has(error, path);
    assert_error_has(error, "<domain>");
}

static void
assert_no_passwd(const GError *error)
{
    g_autofree char *passwd = NULL;

    assert_null(strstr(error->message, "root:"));
    if (g_file_get_contents("/etc/passwd", &passwd, NULL, NULL)) {
        g_auto(GStrv) lines = g_strsplit(passwd, "\n", 2);

        if (lines[0] && *lines[0])
            assert_null(strstr(error->message, lines[0]));
    }
}

/* An external entity must neither be fetched nor expanded: the document
 * is refused, and nothing of the file shows up in the error. */
static void
test_external_entity(void **state)
{
    static const char in_text[] =
        "<?xml version='1.0'?>\n"
        "<!DOCTYPE c [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>\n"
        "<capabilities><host><topology><cells num='1'>\n"
        "<cell id='0'><memory unit='KiB'>&x;</memory></cell>\n"
        "</cells></topology></host></capabilities>\n";
    static const char in_attribute[] =
        "<!DOCTYPE c [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>\n"
        "<capabilities><host><topology><cells num='1'><cell id='0'>\n"
        "<cpus num='1'><cpu id='0' socket_id='0' core_id='0' siblings='&x;'/></cpus>\n"
        "</cell></cells></topology></host></capabilities>\n";
    g_autoptr(GError) error = NULL;
    g_autoptr(GError) error2 = NULL;
    g_autoptr(VnumaHost) host = vnuma_host_from_caps_xml(in_text, sizeof(in_text) - 1, &error);
    g_autoptr(VnumaHost) host2 = vnuma_host_from_caps_xml(in_attribute, sizeof(in_attribute) - 1,
                                                          &error2);

    (void) state;
    assert_null(host);
    assert_error_has(error, "DOCTYPE");
    assert_no_passwd(error);
    /* XML itself forbids external entities in attribute values. */
    assert_null(host2);
    assert_error_has(error2, "entity");
    assert_no_passwd(error2);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixtures),
        cmocka_unit_test(test_fixture_details),
        cmocka_unit_test(test_units),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_file_error_names_path),
        cmocka_unit_test(test_external_entity),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
