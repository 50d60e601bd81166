/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libvnuma.so through its public header only: contexts (capabilities,
 * sysfs, vnuma.conf), plans and their three renderings. JSON is checked
 * with python3's json module, the XML with virt-xml-validate. */
#include "tests/testutil.h"

#include <dlfcn.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "plugin/vnuma.h"

static char *
example(const char *dir, const char *name, gsize *len)
{
    g_autofree char *relative = g_strdup_printf("examples/%s/%s.xml", dir, name);

    return vnuma_test_read(relative, len);
}

static VnumaContext *
context_on(const char *host_name)
{
    g_autofree char *relative = g_strdup_printf("examples/hosts/%s.xml", host_name);
    g_autofree char *path = vnuma_test_path(relative);
    g_autoptr(GError) error = NULL;
    VnumaContext *ctx = vnuma_context_new();

    if (!vnuma_context_load_caps_file(ctx, path, &error)) {
        print_error("%s\n", error->message);
        fail();
    }
    assert_null(error);
    return ctx;
}

static VnumaPlan *
plan_ok(VnumaContext *ctx, const char *xml, gsize len)
{
    g_autoptr(GError) error = NULL;
    VnumaPlan *plan = vnuma_plan_new(ctx, xml, len, &error);

    if (!plan) {
        print_error("plan failed: %s\n", error->message);
        fail();
    }
    assert_null(error);
    return plan;
}

static VnumaPlan *
plan_example(VnumaContext *ctx, const char *name)
{
    gsize len;
    g_autofree char *xml = example("domains", name, &len);

    return plan_ok(ctx, xml, len);
}

static guint
strv_length(const char *const *strv)
{
    guint n = 0;

    assert_non_null(strv);
    while (strv[n])
        n++;
    return n;
}

static gboolean
strv_mentions(const char *const *strv, const char *word)
{
    for (guint i = 0; strv[i]; i++) {
        if (strstr(strv[i], word))
            return TRUE;
    }
    return FALSE;
}

static char *
write_temp(const char *template, const char *content)
{
    g_autoptr(GError) error = NULL;
    char *path = NULL;
    int fd = g_file_open_tmp(template, &path, &error);

    if (fd < 0 || !g_file_set_contents(path, content, -1, &error)) {
        print_error("cannot write a temporary file: %s\n", error->message);
        fail();
    }
    close(fd);
    return path;
}

/* Parses @json with python3 and returns what @script prints about it
 * (the document is `d`). Fails the test when it is not JSON. */
static char *
python_json(const char *json, const char *script)
{
    g_autofree char *path = write_temp("vnuma-test-XXXXXX.json", json);
    g_autofree char *program = g_strdup_printf("import json, sys\n"
                                               "d = json.load(open(sys.argv[1], encoding='utf-8'))\n"
                                               "%s", script);
    const char *argv[] = { "python3", "-c", program, path, NULL };
    g_autoptr(GError) error = NULL;
    char *out = NULL;
    g_autofree char *err = NULL;
    int status = -1;

    if (!g_spawn_sync(NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err,
                      &status, &error)) {
        print_error("cannot run python3: %s\n", error->message);
        g_unlink(path);
        fail();
    }
    g_unlink(path);
    if (!g_spawn_check_wait_status(status, NULL)) {
        print_error("python3 rejects the JSON:\n%s\n--- JSON ---\n%s\n", err, json);
        g_free(out);
        fail();
    }
    return out;
}

/* Summaries (summary_script) of several JSON documents with one python3
 * run, separated by "---\n" lines. */
static char **
python_json_many(GPtrArray *documents, const char *script)
{
    GString *array = g_string_new("[\n");
    g_autofree char *indented = NULL;
    g_autofree char *loop = NULL;
    g_autofree char *out = NULL;
    g_auto(GStrv) lines = g_strsplit(script, "\n", -1);
    g_autoptr(GString) body = g_string_new(NULL);
    char **parts;

    for (guint i = 0; i < documents->len; i++)
        g_string_append_printf(array, "%s%s", i ? ",\n" : "", (const char *) documents->pdata[i]);
    g_string_append(array, "]\n");
    for (guint i = 0; lines[i]; i++) {
        if (*lines[i])
            g_string_append_printf(body, "    %s\n", lines[i]);
    }
    loop = g_strdup_printf("docs = d\nfor d in docs:\n%s    print('---')\n", body->str);
    out = python_json(array->str, loop);
    g_string_free(array, TRUE);
    parts = g_strsplit(out, "---\n", -1);
    assert_int_equal(g_strv_length(parts), documents->len + 1);
    return parts;
}

/* A line-per-fact summary of a plan's JSON, after checking its keys. */
static const char summary_script[] =
    "for key in ('managed', 'reason', 'clients', 'vnuma_cells', 'topology', 'warnings'):\n"
    "    assert key in d, 'missing key ' + key\n"
    "assert isinstance(d['clients'], list) and isinstance(d['vnuma_cells'], list)\n"
    "assert isinstance(d['warnings'], list)\n"
    "print('managed', json.dumps(d['managed']))\n"
    "print('reason', json.dumps(d['reason']))\n"
    "for c in d['clients']:\n"
    "    assert all(isinstance(v, int) for v in c['vcpus'])\n"
    "    print('client', ','.join(str(v) for v in c['vcpus']), c['memory_kib'], c['home_node'])\n"
    "for c in d['vnuma_cells']:\n"
    "    print('cell', ','.join(str(v) for v in c['vcpus']), c['memory_kib'])\n"
    "t = d['topology']\n"
    "print('topology', t['sockets'], t['dies'], t['cores'], t['threads'])\n"
    "print('warnings', len(d['warnings']))\n";

static char *
json_summary(const VnumaPlan *plan)
{
    gsize len = 0;
    g_autofree char *json = vnuma_plan_render(plan, VNUMA_FORMAT_JSON, &len);

    assert_int_equal(len, strlen(json));
    return python_json(json, summary_script);
}

static void
assert_summary(const VnumaPlan *plan, const char *expected)
{
    g_autofree char *summary = json_summary(plan);

    if (strcmp(summary, expected) != 0) {
        print_error("JSON summary\n%s\nexpected\n%s\n", summary, expected);
        fail();
    }
}

/* ---- contexts ----------------------------------------------------------------- */

static void
test_no_host(void **state)
{
    g_autoptr(VnumaContext) ctx = vnuma_context_new();
    g_autoptr(GError) error = NULL;
    gsize len;
    g_autofree char *xml = example("domains", "wide-12vcpu", &len);
    g_autoptr(VnumaPlan) plan = vnuma_plan_new(ctx, xml, len, &error);
    g_autofree char *described = vnuma_context_describe_host(ctx);

    assert_null(plan);
    assert_non_null(error);
    assert_true(strlen(error->message) > 0);
    vnuma_test_assert_contains(error->message, "host");
    assert_str_equal(described, "");
    assert_int_equal(strv_length(vnuma_context_warnings(ctx)), 0);
    assert_null(vnuma_context_config_string(ctx, "preferHT"));
}

static void
test_load_caps(void **state)
{
    g_autoptr(VnumaContext) from_file = context_on("xeon-2s10c-ht");
    g_autoptr(VnumaContext) from_xml = vnuma_context_new();
    g_autoptr(GError) error = NULL;
    gsize len;
    g_autofree char *caps = example("hosts", "xeon-2s10c-ht", &len);
    g_autofree char *a = NULL;
    g_autofree char *b = NULL;

    assert_true(vnuma_context_load_caps_xml(from_xml, caps, len, &error));
    a = vnuma_context_describe_host(from_file);
    b = vnuma_context_describe_host(from_xml);
    assert_str_equal(a, b);
    vnuma_test_assert_contains(a, "node 0");
    vnuma_test_assert_contains(a, "node 1");
    vnuma_test_assert_contains(a, "cpu 39 ");
    {
        /* Both contexts plan the same. */
        g_autoptr(VnumaPlan) p1 = plan_example(from_file, "wide-12vcpu");
        g_autoptr(VnumaPlan) p2 = plan_example(from_xml, "wide-12vcpu");
        g_autofree char *x1 = vnuma_plan_render(p1, VNUMA_FORMAT_XML, NULL);
        g_autofree char *x2 = vnuma_plan_render(p2, VNUMA_FORMAT_XML, NULL);

        assert_str_equal(x1, x2);
    }
}

static void
test_load_caps_errors(void **state)
{
    g_autoptr(VnumaContext) ctx = context_on("small-2node");
    g_autofree char *before = vnuma_context_describe_host(ctx);

    {
        g_autoptr(GError) error = NULL;

        assert_false(vnuma_context_load_caps_file(ctx, "/nonexistent/caps.xml", &error));
        assert_non_null(error);
        vnuma_test_assert_contains(error->message, "/nonexistent/caps.xml");
    }
    {
        g_autoptr(GError) error = NULL;
        static const char not_caps[] = "<domain type='kvm'><name>x</name></domain>";

        assert_false(vnuma_context_load_caps_xml(ctx, not_caps, strlen(not_caps), &error));
        assert_non_null(error);
        vnuma_test_assert_contains(error->message, "capabilities");
    }
    {
        g_autoptr(GError) error = NULL;

        assert_false(vnuma_context_load_caps_xml(ctx, "not xml", 7, &error));
        assert_non_null(error);
    }
    {
        /* A failed load leaves the loaded host in place. */
        g_autofree char *after = vnuma_context_describe_host(ctx);
        g_autoptr(VnumaPlan) plan = plan_example(ctx, "narrow-8vcpu");

        assert_str_equal(before, after);
        assert_true(vnuma_plan_is_managed(plan));
    }
}

static void
test_load_sysfs(void **state)
{
    g_autoptr(VnumaContext) ctx = vnuma_context_new();
    g_autoptr(GError) error = NULL;
    g_autofree char *described = NULL;
    g_autoptr(VnumaPlan) plan = NULL;
    g_autofree char *xml = NULL;
    g_autofree char *summary = NULL;

    if (!g_file_test("/sys/devices/system/node/node0", G_FILE_TEST_IS_DIR)) {
        skip();
    }
    if (!vnuma_context_load_sysfs(ctx, "/sys", &error)) {
        print_error("/sys: %s\n", error->message);
        fail();
    }
    described = vnuma_context_describe_host(ctx);
    assert_true(g_str_has_prefix(described, "node "));
    vnuma_test_assert_contains(described, "  cpu ");
    plan = plan_example(ctx, "narrow-8vcpu");
    assert_true(vnuma_plan_is_managed(plan));
    assert_true(vnuma_plan_changes_domain(plan));
    xml = vnuma_plan_render(plan, VNUMA_FORMAT_XML, NULL);
    vnuma_test_assert_valid(xml, "domain");
    summary = json_summary(plan);
    assert_true(g_str_has_prefix(summary, "managed true\nreason null\nclient 0"));
    {
        g_autoptr(GError) missing = NULL;
        g_autoptr(VnumaContext) other = vnuma_context_new();

        assert_false(vnuma_context_load_sysfs(other, "/nonexistent-sysfs-root", &missing));
        assert_non_null(missing);
        vnuma_test_assert_contains(missing->message, "/nonexistent-sysfs-root");
    }
}

/* ---- configuration ------------------------------------------------------------------ */

static const char brief_config[] =
    "[vnuma]\npreferHT=yes\nhost_cpuset=0-9\nmemory_mode=strict\nbogus=1\nvcpuMin=x\n";

static void
test_config_warnings(void **state)
{
    g_autoptr(VnumaContext) ctx = context_on("xeon-2s10c-ht");
    g_autofree char *path = write_temp("vnuma-XXXXXX.conf", brief_config);
    g_autoptr(GError) error = NULL;
    const char *const *warnings;

    assert_true(vnuma_context_load_config(ctx, path, &error));
    assert_null(error);
    g_unlink(path);
    warnings = vnuma_context_warnings(ctx);
    assert_int_equal(strv_length(warnings), 2);
    assert_true(strv_mentions(warnings, "bogus"));
    assert_true(strv_mentions(warnings, "vcpuMin"));
    /* Each warning says where it comes from. */
    vnuma_test_assert_contains(warnings[0], path);
    vnuma_test_assert_contains(warnings[1], path);
    assert_false(strv_mentions(warnings, "preferHT"));
    assert_false(strv_mentions(warnings, "host_cpuset"));
    assert_false(strv_mentions(warnings, "memory_mode"));
    {
        g_autofree char *prefer = vnuma_context_config_string(ctx, "preferHT");
        g_autofree char *bogus = vnuma_context_config_string(ctx, "bogus");
        g_autofree char *missing = vnuma_context_config_string(ctx, "enforce");

        assert_str_equal(prefer, "yes");
        assert_str_equal(bogus, "1");
        assert_null(missing);
    }
}

static void
test_config_honoured(void **state)
{
    g_autoptr(VnumaContext) ctx = context_on("xeon-2s10c-ht");
    g_autofree char *path = write_temp("vnuma-XXXXXX.conf", brief_config);
    g_autoptr(GError) error = NULL;
    g_autoptr(VnumaPlan) plan = NULL;
    g_autofree char *xml = NULL;
    g_autofree char *policy = NULL;
    const char *const *warnings;

    assert_true(vnuma_context_load_config(ctx, path, &error));
    g_unlink(path);
    plan = plan_example(ctx, "wide-12vcpu");
    assert_true(vnuma_plan_is_managed(plan));
    /* host_cpuset=0-9 leaves node 0 only: one CPU-bearing node, so one
     * client homed there, no guest cells, every pin inside 0-9. */
    assert_summary(plan, "managed true\nreason null\n"
                         "client 0,1,2,3,4,5,6,7,8,9,10,11 50331648 0\n"
                         "topology 1 1 12 1\n"
                         "warnings 2\n");
    xml = vnuma_plan_render(plan, VNUMA_FORMAT_XML, NULL);
    vnuma_test_assert_valid(xml, "domain");
    for (guint v = 0; v < 12; v++) {
        g_autofree char *pin = g_strdup_printf("<vcpupin vcpu='%u' cpuset='0-9'/>", v);

        vnuma_test_assert_contains(xml, pin);
    }
    vnuma_test_assert_contains(xml, "<emulatorpin cpuset='0-9'/>");
    vnuma_test_assert_contains(xml, "<memory mode='strict' nodeset='0'/>");
    assert_null(strstr(xml, "<memnode "));
    /* The config's warnings reach every plan. */
    warnings = vnuma_plan_warnings(plan);
    assert_true(strv_mentions(warnings, "bogus"));
    assert_true(strv_mentions(warnings, "vcpuMin"));
    {
        g_autofree char *json = vnuma_plan_render(plan, VNUMA_FORMAT_JSON, NULL);

        policy = python_json(json, "p = d['policy']\nprint(p['preferHT'], p['vcpuMin'], d['memory_mode'])\n");
        assert_str_equal(policy, "True 9 strict\n");
    }
}

static void
test_config_prefer_ht_changes_sizing(void **state)
{
    g_autoptr(VnumaContext) plain = context_on("xeon-2s10c-ht");
    g_autoptr(VnumaContext) ht = context_on("xeon-2s10c-ht");
    g_autofree char *path = write_temp("vnuma-XXXXXX.conf", "[vnuma]\npreferHT=yes\nenforce=yes\n");
    g_autoptr(GError) error = NULL;
    g_autoptr(VnumaPlan) without = NULL;
    g_autoptr(VnumaPlan) with = NULL;

    assert_true(vnuma_context_load_config(ht, path, &error));
    g_unlink(path);
    /* Keys other front ends own are not warned about. */
    assert_int_equal(strv_length(vnuma_context_warnings(ht)), 0);
    {
        g_autofree char *enforce = vnuma_context_config_string(ht, "enforce");

        assert_str_equal(enforce, "yes");
    }
    without = plan_example(plain, "wide-12vcpu");
    with = plan_example(ht, "wide-12vcpu");
    /* docs/spec.md §3 examples: 12 vCPUs on 2 × 10 cores HT → 6+6 and two cells;
     * with preferHT → one client of 12, no cells, one socket. */
    assert_summary(without, "managed true\nreason null\n"
                            "client 0,1,2,3,4,5 25165824 0\n"
                            "client 6,7,8,9,10,11 25165824 1\n"
                            "cell 0,1,2,3,4,5 25165824\n"
                            "cell 6,7,8,9,10,11 25165824\n"
                            "topology 2 1 6 1\n"
                            "warnings 0\n");
    assert_summary(with, "managed true\nreason null\n"
                         "client 0,1,2,3,4,5,6,7,8,9,10,11 50331648 0\n"
                         "topology 1 1 12 1\n"
                         "warnings 0\n");
}

static void
test_config_errors(void **state)
{
    g_autoptr(VnumaContext) ctx = vnuma_context_new();

    {
        g_autoptr(GError) error = NULL;

        assert_false(vnuma_context_load_config(ctx, "/nonexistent/etc/vnuma.conf", &error));
        assert_non_null(error);
        vnuma_test_assert_contains(error->message, "/nonexistent/etc/vnuma.conf");
    }
    {
        g_autofree char *path = write_temp("vnuma-XXXXXX.conf", "this is [not a key file\n");
        g_autoptr(GError) error = NULL;

        assert_false(vnuma_context_load_config(ctx, path, &error));
        g_unlink(path);
        assert_non_null(error);
        vnuma_test_assert_contains(error->message, path);
    }
    assert_null(vnuma_context_config_string(ctx, "preferHT"));
    {
        g_autoptr(GError) error = NULL;

        assert_false(vnuma_context_set_memory_mode(ctx, "loose", &error));
        assert_non_null(error);
        vnuma_test_assert_contains(error->message, "loose");
    }
}

static void
test_set_memory_mode(void **state)
{
    g_autoptr(VnumaContext) ctx = context_on("xeon-2s10c-ht");
    g_autoptr(GError) error = NULL;
    g_autoptr(VnumaPlan) plan = NULL;
    g_autofree char *xml = NULL;

    assert_true(vnuma_context_set_memory_mode(ctx, "strict", &error));
    plan = plan_example(ctx, "wide-12vcpu");
    xml = vnuma_plan_render(plan, VNUMA_FORMAT_XML, NULL);
    vnuma_test_assert_contains(xml, "<memory mode='strict' nodeset='0-1'/>");
    assert_true(vnuma_context_set_memory_mode(ctx, "restrictive", &error));
    {
        g_autoptr(VnumaPlan) again = plan_example(ctx, "wide-12vcpu");
        g_autofree char *xml2 = vnuma_plan_render(again, VNUMA_FORMAT_XML, NULL);

        vnuma_test_assert_contains(xml2, "<memory mode='restrictive' nodeset='0-1'/>");
    }
}

/* ---- plans ---------------------------------------------------------------------------- */

static void
test_plan_managed(void **state)
{
    g_autoptr(VnumaContext) ctx = context_on("xeon-2s10c-ht");
    gsize in_len;
    g_autofree char *input = example("domains", "wide-12vcpu", &in_len);
    g_autoptr(VnumaPlan) plan = plan_ok(ctx, input, in_len);
    gsize len = 0;
    g_autofree char *xml = vnuma_plan_render(plan, VNUMA_FORMAT_XML, &len);
    g_autofree char *text = NULL;

    assert_true(vnuma_plan_is_managed(plan));
    assert_null(vnuma_plan_reason(plan));
    assert_true(vnuma_plan_changes_domain(plan));
    assert_int_equal(strv_length(vnuma_plan_warnings(plan)), 0);
    assert_int_equal(len, strlen(xml));
    assert_true(len > in_len);
    vnuma_test_assert_valid(xml, "domain");
    vnuma_test_assert_contains(xml, "<vcpupin vcpu='0' cpuset='0-9,20-29'/>");
    vnuma_test_assert_contains(xml, "<vcpupin vcpu='11' cpuset='10-19,30-39'/>");
    assert_summary(plan, "managed true\nreason null\n"
                         "client 0,1,2,3,4,5 25165824 0\n"
                         "client 6,7,8,9,10,11 25165824 1\n"
                         "cell 0,1,2,3,4,5 25165824\n"
                         "cell 6,7,8,9,10,11 25165824\n"
                         "topology 2 1 6 1\n"
                         "warnings 0\n");
    text = vnuma_plan_render(plan, VNUMA_FORMAT_TEXT, &len);
    assert_int_equal(len, strlen(text));
    vnuma_test_assert_contains(text, "wide-12vcpu");
    vnuma_test_assert_contains(text, "client 0: vCPUs 0-5 ");
    vnuma_test_assert_contains(text, "client 1: vCPUs 6-11 ");
    {
        g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
        guint clients = 0;

        for (guint i = 0; lines[i]; i++) {
            if (g_str_has_prefix(lines[i], "  client 0:")) {
                vnuma_test_assert_contains(lines[i], "home node 0");
                clients++;
            } else if (g_str_has_prefix(lines[i], "  client 1:")) {
                vnuma_test_assert_contains(lines[i], "home node 1");
                clients++;
            }
        }
        assert_int_equal(clients, 2);
    }
    /* The plan of the plan: nothing left to do (rule 11). */
    {
        g_autoptr(VnumaPlan) again = plan_ok(ctx, xml, strlen(xml));
        g_autofree char *xml2 = vnuma_plan_render(again, VNUMA_FORMAT_XML, NULL);
        g_autofree char *text2 = vnuma_plan_render(again, VNUMA_FORMAT_TEXT, NULL);
        g_autofree char *changes = NULL;
        g_autofree char *json2 = vnuma_plan_render(again, VNUMA_FORMAT_JSON, NULL);

        assert_true(vnuma_plan_is_managed(again));
        assert_false(vnuma_plan_changes_domain(again));
        assert_str_equal(xml2, xml);
        vnuma_test_assert_contains(text2, "already as planned");
        changes = python_json(json2, "print(d['changes_domain'])\n");
        assert_str_equal(changes, "False\n");
    }
}

/* A <topology> without dies is one die per socket, in text and JSON. */
static void
test_plan_absent_dies(void **state)
{
    static const char input[] =
        "<domain type='kvm'>\n  <name>nodies</name>\n  <memory>4194304</memory>\n"
        "  <vcpu>8</vcpu>\n  <cpu>\n    <topology sockets='2' cores='2' threads='2'/>\n"
        "    <numa>\n      <cell id='0' cpus='0-3' memory='2097152'/>\n"
        "      <cell id='1' cpus='4-7' memory='2097152'/>\n    </numa>\n  </cpu>\n</domain>\n";
    g_autoptr(VnumaContext) ctx = context_on("xeon-2s10c-ht");
    g_autoptr(VnumaPlan) plan = plan_ok(ctx, input, strlen(input));
    g_autofree char *text = vnuma_plan_render(plan, VNUMA_FORMAT_TEXT, NULL);
    g_autofree char *summary = json_summary(plan);

    vnuma_test_assert_contains(text, "2 socket(s) x 1 die(s) x 2 core(s) x 2 thread(s)");
    vnuma_test_assert_contains(summary, "\ntopology 2 1 2 2\n");
}

static void
test_plan_unmanaged(void **state)
{
    g_autoptr(VnumaContext) ctx = context_on("xeon-2s10c-ht");
    gsize in_len;
    g_autofree char *input = example("domains", "nova-pinned", &in_len);
    g_autoptr(VnumaPlan) plan = plan_ok(ctx, input, in_len);
    gsize len = 0;
    g_autofree char *xml = vnuma_plan_render(plan, VNUMA_FORMAT_XML, &len);
    g_autofree char *text = vnuma_plan_render(plan, VNUMA_FORMAT_TEXT, NULL);
    g_autofree char *summary = json_summary(plan);

    assert_false(vnuma_plan_is_managed(plan));
    assert_non_null(vnuma_plan_reason(plan));
    vnuma_test_assert_contains(vnuma_plan_reason(plan), "did not write");
    assert_false(vnuma_plan_changes_domain(plan));
    assert_int_equal(len, in_len);
    assert_memory_equal(xml, input, in_len);
    vnuma_test_assert_contains(text, "not managed");
    vnuma_test_assert_contains(text, vnuma_plan_reason(plan));
    vnuma_test_assert_contains(text, "instance-00000515");
    assert_true(g_str_has_prefix(summary, "managed false\nreason \""));
    vnuma_test_assert_contains(summary, "\nwarnings 0\n");
    /* The domain's own topology and cell, no clients of vnuma's. */
    vnuma_test_assert_contains(summary, "\ntopology 4 1 1 1\n");
    assert_null(strstr(summary, "client "));
    vnuma_test_assert_contains(summary, "\ncell 0,1,2,3 8388608\n");
}

static void
test_plan_optout_and_numad(void **state)
{
    g_autoptr(VnumaContext) ctx = context_on("xeon-4s4c-ht");
    static const char *const names[] = { "unmanaged-optout", "numad-auto" };

    for (gsize i = 0; i < G_N_ELEMENTS(names); i++) {
        gsize in_len;
        g_autofree char *input = example("domains", names[i], &in_len);
        g_autoptr(VnumaPlan) plan = plan_ok(ctx, input, in_len);
        g_autofree char *xml = vnuma_plan_render(plan, VNUMA_FORMAT_XML, NULL);

        assert_false(vnuma_plan_is_managed(plan));
        assert_non_null(vnuma_plan_reason(plan));
        assert_false(vnuma_plan_changes_domain(plan));
        assert_str_equal(xml, input);
    }
}

static void
test_plan_bad_overrides_warn(void **state)
{
    g_autoptr(VnumaContext) ctx = context_on("xeon-2s10c-ht");
    g_autoptr(VnumaPlan) plan = plan_example(ctx, "bad-overrides-12vcpu");
    const char *const *warnings = vnuma_plan_warnings(plan);
    g_autofree char *xml = vnuma_plan_render(plan, VNUMA_FORMAT_XML, NULL);

    assert_true(vnuma_plan_is_managed(plan));
    assert_int_equal(strv_length(warnings), 3);
    assert_true(strv_mentions(warnings, "preferHT"));
    assert_true(strv_mentions(warnings, "coresPerSocket"));
    assert_true(strv_mentions(warnings, "vcpuMin"));
    vnuma_test_assert_valid(xml, "domain");
    /* Defaults apply: as wide-12vcpu. */
    vnuma_test_assert_contains(xml, "<topology sockets='2' dies='1' cores='6' threads='1'/>");
    assert_summary(plan, "managed true\nreason null\n"
                         "client 0,1,2,3,4,5 12582912 0\n"
                         "client 6,7,8,9,10,11 12582912 1\n"
                         "cell 0,1,2,3,4,5 12582912\n"
                         "cell 6,7,8,9,10,11 12582912\n"
                         "topology 2 1 6 1\n"
                         "warnings 3\n");
}

static void
test_json_escaping(void **state)
{
    g_autoptr(VnumaContext) ctx = context_on("small-2node");
    static const char xml[] =
        "<domain type='kvm'>\n"
        "  <name>q\"uo\\te caf\xc3\xa9</name>\n"
        "  <metadata><vnuma:policy xmlns:vnuma='urn:x-vnuma:domain:1' preferHT='&quot;x\\y&#10;z'/></metadata>\n"
        "  <memory>2097152</memory>\n"
        "  <vcpu>2</vcpu>\n"
        "  <os><type>hvm</type></os>\n"
        "</domain>\n";
    g_autoptr(VnumaPlan) plan = plan_ok(ctx, xml, strlen(xml));
    g_autofree char *json = vnuma_plan_render(plan, VNUMA_FORMAT_JSON, NULL);
    g_autofree char *out = python_json(json,
                                       "print(repr(d['domain']))\n"
                                       "print(len(d['warnings']), '\"x\\\\y\\nz' in d['warnings'][0])\n");

    assert_str_equal(out, "'q\"uo\\\\te café'\n1 True\n");
}

static void
test_plan_errors(void **state)
{
    g_autoptr(VnumaContext) ctx = context_on("small-2node");
    static const struct {
        const char *xml;
        const char *word;
    } cases[] = {
        { "", "domain XML" },
        { "not xml at all", "domain XML" },
        { "<domain type='kvm'><name>x</name>", "domain XML" },
        { "<capabilities/>", "not a domain" },
        { "<domain type='kvm'><memory>1</memory><vcpu>abc</vcpu></domain>", "vcpu" },
        { "<!DOCTYPE domain><domain type='kvm'/>", "DOCTYPE" },
    };

    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) error = NULL;
        g_autoptr(VnumaPlan) plan = vnuma_plan_new(ctx, cases[i].xml, strlen(cases[i].xml), &error);

        assert_null(plan);
        assert_non_null(error);
        vnuma_test_assert_contains(error->message, cases[i].word);
        assert_null(strchr(error->message, '\n'));
    }
}

static void
test_keep_guest_abi(void **state)
{
    g_autoptr(VnumaContext) four = context_on("xeon-4s4c-ht");
    g_autoptr(VnumaContext) two = context_on("xeon-2s10c-ht");
    gsize len;
    g_autofree char *wide = example("domains", "wide-12vcpu", &len);
    g_autofree char *input = NULL;
    g_autoptr(VnumaPlan) first = NULL;
    g_autofree char *defined = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(VnumaPlan) cold = NULL;
    g_autoptr(VnumaPlan) migrated = NULL;
    g_autofree char *migrated_xml = NULL;
    const char *at = strstr(wide, "</uuid>");

    assert_non_null(at);
    input = g_strdup_printf("%.*s</uuid>\n  <metadata>\n    <vnuma:policy xmlns:vnuma='urn:x-vnuma:domain:1'"
                            " autosize='always'/>\n  </metadata>%s", (int) (at - wide), wide,
                            at + strlen("</uuid>"));
    first = plan_ok(four, input, strlen(input));
    defined = vnuma_plan_render(first, VNUMA_FORMAT_XML, NULL);
    assert_summary(first, "managed true\nreason null\n"
                          "client 0,1,2,3 16777216 0\n"
                          "client 4,5,6,7 16777216 1\n"
                          "client 8,9,10,11 16777216 2\n"
                          "cell 0,1,2,3 16777216\n"
                          "cell 4,5,6,7 16777216\n"
                          "cell 8,9,10,11 16777216\n"
                          "topology 3 1 4 1\n"
                          "warnings 0\n");
    /* A cold boot elsewhere resizes (autosize='always')... */
    cold = plan_ok(two, defined, strlen(defined));
    assert_summary(cold, "managed true\nreason null\n"
                         "client 0,1,2,3,4,5 25165824 0\n"
                         "client 6,7,8,9,10,11 25165824 1\n"
                         "cell 0,1,2,3,4,5 25165824\n"
                         "cell 6,7,8,9,10,11 25165824\n"
                         "topology 2 1 6 1\n"
                         "warnings 0\n");
    /* ...a migration keeps the running guest's cells and topology. */
    migrated = vnuma_plan_new_full(two, defined, strlen(defined), VNUMA_PLAN_KEEP_GUEST_ABI, &error);
    assert_non_null(migrated);
    assert_true(vnuma_plan_is_managed(migrated));
    migrated_xml = vnuma_plan_render(migrated, VNUMA_FORMAT_XML, NULL);
    vnuma_test_assert_valid(migrated_xml, "domain");
    vnuma_test_assert_contains(migrated_xml, "<topology sockets='3' dies='1' cores='4' threads='1'/>");
    vnuma_test_assert_contains(migrated_xml, "<cell id='2' cpus='8-11' memory='16777216' unit='KiB'>");
    vnuma_test_assert_contains(migrated_xml, "<memory mode='restrictive' nodeset='0-1'/>");
    assert_null(strstr(migrated_xml, "cpuset='0-3,16-19'"));
    {
        g_autofree char *summary = json_summary(migrated);

        vnuma_test_assert_contains(summary, "cell 0,1,2,3 16777216\ncell 4,5,6,7 16777216\ncell 8,9,10,11 16777216\n"
                                 "topology 3 1 4 1\n");
    }
}

/* Nova rebuilds the domain at every start: the record kept beside the
 * instance (vnuma_plan_record) brings the first sizing back on any host. */
static void
test_plan_with_record(void **state)
{
    g_autoptr(VnumaContext) four = context_on("xeon-4s4c-ht");
    g_autoptr(VnumaContext) two = context_on("xeon-2s10c-ht");
    gsize len, record_len = 0;
    g_autofree char *wide = example("domains", "wide-12vcpu", &len);
    g_autofree char *narrow = NULL;
    g_autoptr(VnumaPlan) first = plan_ok(four, wide, len);
    g_autofree char *record = vnuma_plan_record(first, &record_len);
    g_autoptr(GError) error = NULL;
    g_autoptr(VnumaPlan) fresh = plan_ok(two, wide, len);
    g_autoptr(VnumaPlan) kept = NULL;
    g_autoptr(VnumaPlan) broken = NULL;
    g_autoptr(VnumaPlan) unmanaged = NULL;
    g_autofree char *kept_xml = NULL;
    gsize narrow_len;

    assert_non_null(record);
    assert_int_equal(record_len, strlen(record));
    assert_true(g_str_has_prefix(record, "<vnuma:layout xmlns:vnuma='urn:x-vnuma:layout:1' version='1'"));
    vnuma_test_assert_contains(record, "vcpus='12'");
    /* Without it, the other host sizes afresh: 2 cells of 6. */
    assert_int_equal(vnuma_plan_n_cells(fresh), 2);
    /* With it, the 4-node host's 3 × 4 stays; home nodes are this host's. */
    kept = vnuma_plan_new_with_record(two, wide, len, record, record_len, VNUMA_PLAN_DEFAULT, &error);
    assert_non_null(kept);
    assert_null(error);
    assert_summary(kept, "managed true\nreason null\n"
                         "client 0,1,2,3 16777216 0\n"
                         "client 4,5,6,7 16777216 1\n"
                         "client 8,9,10,11 16777216 0\n"
                         "cell 0,1,2,3 16777216\n"
                         "cell 4,5,6,7 16777216\n"
                         "cell 8,9,10,11 16777216\n"
                         "topology 3 1 4 1\n"
                         "warnings 1\n");
    kept_xml = vnuma_plan_render(kept, VNUMA_FORMAT_XML, NULL);
    vnuma_test_assert_valid(kept_xml, "domain");
    vnuma_test_assert_contains(kept_xml, "<topology sockets='3' dies='1' cores='4' threads='1'/>");
    /* The record the XML carries is the one vnuma_plan_record gives. */
    {
        g_autofree char *again = vnuma_plan_record(kept, NULL);

        vnuma_test_assert_contains(kept_xml, "<vnuma:layout xmlns:vnuma='urn:x-vnuma:layout:1'");
        vnuma_test_assert_contains(again, "vcpus='12'");
        vnuma_test_assert_contains(again, "<vnuma:topology sockets='3' dies='1' cores='4' threads='1'/>");
    }
    /* An unreadable record: a warning, sized afresh. */
    broken = vnuma_plan_new_with_record(two, wide, len, "<layout/>", 9, VNUMA_PLAN_DEFAULT, &error);
    assert_non_null(broken);
    assert_int_equal(vnuma_plan_n_cells(broken), 2);
    vnuma_test_assert_contains(vnuma_plan_warnings(broken)[0], "record given is unreadable");
    /* Another V: the record does not apply; an unmanaged plan has none. */
    narrow = example("domains", "narrow-8vcpu", &narrow_len);
    unmanaged = vnuma_plan_new_with_record(two, narrow, narrow_len, record, record_len,
                                           VNUMA_PLAN_DEFAULT, &error);
    assert_non_null(unmanaged);
    assert_int_equal(vnuma_plan_n_cells(unmanaged), 0);
    {
        guint s, d, c, t;

        vnuma_plan_topology(unmanaged, &s, &d, &c, &t);
        assert_int_not_equal(s, 3);
    }
}

static void
test_every_example_every_format(void **state)
{
    static const char *const hosts[] = { "epyc-nps4-2s", "asym-memory-2s", "offline-cpus-2s" };
    static const char *const domains[] = {
        "wide-12vcpu", "narrow-8vcpu", "prefer-ht-12vcpu", "cores-per-socket-10vcpu",
        "max-per-node-8vcpu", "hotadd-16of24", "hugepages-16vcpu", "nova-pinned", "nova-64vcpu",
        "owner-cells-16vcpu", "unmanaged-optout", "numad-auto", "bad-overrides-12vcpu",
        "qemu-tcg-wide",
    };
    g_autoptr(GPtrArray) jsons = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GPtrArray) texts = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GArray) managed = g_array_new(FALSE, FALSE, sizeof(gboolean));
    g_auto(GStrv) summaries = NULL;

    for (gsize h = 0; h < G_N_ELEMENTS(hosts); h++) {
        g_autoptr(VnumaContext) ctx = context_on(hosts[h]);

        for (gsize d = 0; d < G_N_ELEMENTS(domains); d++) {
            g_autoptr(VnumaPlan) plan = plan_example(ctx, domains[d]);
            char *text = vnuma_plan_render(plan, VNUMA_FORMAT_TEXT, NULL);
            gboolean is_managed = vnuma_plan_is_managed(plan);
            g_autofree char *expect = g_strdup_printf("domain '%s'", domains[d]);

            if (!g_str_has_prefix(domains[d], "nova"))
                vnuma_test_assert_contains(text, expect);
            g_ptr_array_add(jsons, vnuma_plan_render(plan, VNUMA_FORMAT_JSON, NULL));
            g_ptr_array_add(texts, text);
            g_array_append_val(managed, is_managed);
        }
    }
    summaries = python_json_many(jsons, summary_script);
    for (guint i = 0; i < jsons->len; i++) {
        g_auto(GStrv) lines = g_strsplit(summaries[i], "\n", -1);
        gboolean is_managed = g_array_index(managed, gboolean, i);
        guint clients = 0;

        assert_str_equal(lines[0], is_managed ? "managed true" : "managed false");
        for (guint l = 0; lines[l]; l++) {
            if (g_str_has_prefix(lines[l], "client ")) {
                /* Every client of the JSON is in the text with its home node. */
                g_auto(GStrv) parts = g_strsplit(lines[l], " ", -1);
                g_autofree char *home = g_strdup_printf("home node %s ", parts[3]);
                g_autofree char *client = g_strdup_printf("  client %u: vCPUs ", clients++);

                vnuma_test_assert_contains(texts->pdata[i], home);
                vnuma_test_assert_contains(texts->pdata[i], client);
            }
        }
        assert_true(is_managed ? clients > 0 : clients == 0);
    }
}

/* The example files of @dir without their .xml suffix, sorted. */
static GPtrArray *
example_names(const char *dir)
{
    g_autofree char *relative = g_strdup_printf("examples/%s", dir);
    g_autofree char *path = vnuma_test_path(relative);
    g_autoptr(GDir) listing = g_dir_open(path, 0, NULL);
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    const char *entry;

    assert_non_null(listing);
    while ((entry = g_dir_read_name(listing)))
        if (g_str_has_suffix(entry, ".xml"))
            g_ptr_array_add(names, g_strndup(entry, strlen(entry) - 4));
    g_ptr_array_sort(names, (GCompareFunc) g_strcmp0);
    return names;
}

static void
assert_same_render(const VnumaPlan *a, const VnumaPlan *b, VnumaFormat format)
{
    g_autofree char *one = vnuma_plan_render(a, format, NULL);
    g_autofree char *two = vnuma_plan_render(b, format, NULL);

    assert_non_null(one);
    assert_str_equal(one, two);
}

/* An advice-only plan (the hook at domain start) gives the verdict, the
 * warnings, the record and every rendering but XML of the full plan, on
 * every example domain and host; its XML is refused. */
static void
test_advice_only(void **state)
{
    g_autoptr(GPtrArray) hosts = example_names("hosts");
    g_autoptr(GPtrArray) domains = example_names("domains");
    guint changed = 0, unchanged = 0;

    assert_true(hosts->len >= 9 && domains->len >= 14);
    for (guint h = 0; h < hosts->len; h++) {
        g_autoptr(VnumaContext) ctx = context_on(hosts->pdata[h]);

        for (guint d = 0; d < domains->len; d++) {
            gsize len;
            g_autofree char *xml = example("domains", domains->pdata[d], &len);
            g_autoptr(VnumaPlan) full = plan_ok(ctx, xml, len);
            g_autoptr(GError) error = NULL;
            g_autoptr(VnumaPlan) advice = vnuma_plan_new_full(ctx, xml, len, VNUMA_PLAN_ADVICE_ONLY, &error);
            g_autofree char *full_record = vnuma_plan_record(full, NULL);
            g_autofree char *advice_record = NULL;
            const char *const *wf = vnuma_plan_warnings(full);
            const char *const *wa;

            assert_non_null(advice);
            assert_null(error);
            assert_int_equal(vnuma_plan_is_managed(advice), vnuma_plan_is_managed(full));
            assert_int_equal(vnuma_plan_changes_domain(advice), vnuma_plan_changes_domain(full));
            wa = vnuma_plan_warnings(advice);
            for (; *wf && *wa; wf++, wa++)
                assert_str_equal(*wa, *wf);
            assert_null(*wf);
            assert_null(*wa);
            assert_same_render(full, advice, VNUMA_FORMAT_JSON);
            assert_same_render(full, advice, VNUMA_FORMAT_TEXT);
            advice_record = vnuma_plan_record(advice, NULL);
            assert_str_equal(advice_record ? advice_record : "", full_record ? full_record : "");
            assert_null(vnuma_plan_render(advice, VNUMA_FORMAT_XML, NULL));
            if (vnuma_plan_changes_domain(full))
                changed++;
            else
                unchanged++;
        }
    }
    /* Both verdicts were compared, not one of them only. */
    assert_true(changed > 0 && unchanged > 0);
}

/* The sizing accessors: the wide example on 2 x 10 cores (docs/spec.md §3's
 * first public example) as clients, cells and guest topology. */
static void
test_plan_accessors(void **state)
{
    g_autoptr(VnumaContext) ctx = context_on("xeon-2s10c-ht");
    gsize len = 0;
    g_autofree char *xml = example("domains", "wide-12vcpu", &len);
    g_autoptr(VnumaPlan) plan = plan_ok(ctx, xml, len);
    g_autofree char *narrow = example("domains", "unmanaged-optout", &len);
    g_autoptr(VnumaPlan) unmanaged = plan_ok(ctx, narrow, len);
    guint sockets, dies, cores, threads;

    assert_int_equal(vnuma_plan_n_clients(plan), 2);
    for (guint c = 0; c < 2; c++) {
        gint home = -1;
        guint64 kib = 0;
        g_autofree char *vcpus = vnuma_plan_client(plan, c, &home, &kib);
        g_autofree char *cell = NULL;

        assert_string_equal(vcpus, c ? "6-11" : "0-5");
        assert_int_equal(home, (gint) c);
        assert_int_equal(kib, 25165824);
        cell = vnuma_plan_cell(plan, c, &kib);
        assert_string_equal(cell, vcpus);
        assert_int_equal(kib, 25165824);
    }
    assert_int_equal(vnuma_plan_n_cells(plan), 2);
    vnuma_plan_topology(plan, &sockets, &dies, &cores, &threads);
    assert_int_equal(sockets, 2);
    assert_int_equal(dies, 1);
    assert_int_equal(cores, 6);
    assert_int_equal(threads, 1);

    assert_int_equal(vnuma_plan_n_clients(unmanaged), 0);
    assert_int_equal(vnuma_plan_n_cells(unmanaged), 0);
}

/* vnuma_context_load_host: $VNUMA_CONFIG over the default path, the
 * capabilities from $VNUMA_CAPS_FILE over the config's key, kept in the
 * host cache ($VNUMA_HOST_CACHE here, so as not to touch /run); the
 * config stays loaded when the topology fails. */
static void
test_load_host(void **state)
{
    g_autofree char *caps = vnuma_test_path("examples/hosts/xeon-4s4c-ht.xml");
    g_autofree char *config_text = g_strdup_printf("[vnuma]\ncapabilities=%s\nlog_file=/tmp/x\n", caps);
    g_autofree char *config = write_temp("vnuma-XXXXXX.conf", config_text);
    g_autofree char *bad = write_temp("vnuma-XXXXXX.conf", "[vnuma]\ncapabilities=/nonexistent/caps.xml\nlog_file=/tmp/y\n");
    gsize len = 0;
    g_autofree char *xml = example("domains", "narrow-8vcpu", &len);
    g_autofree char *cache = g_strdup_printf("%s/vnuma-caps-cache-%d", g_get_tmp_dir(), (int) getpid());
    g_autofree char *cached = NULL;

    g_unsetenv("VNUMA_CAPS_FILE");
    g_setenv("VNUMA_HOST_CACHE", cache, TRUE);
    g_setenv("VNUMA_CONFIG", config, TRUE);
    {
        g_autoptr(VnumaContext) ctx = vnuma_context_new();
        g_autoptr(GError) error = NULL;
        g_autoptr(VnumaPlan) plan = NULL;

        assert_true(vnuma_context_load_host(ctx, "/nonexistent/default.conf", &error));
        plan = plan_ok(ctx, xml, len);
        /* 4 x 4 cores: the 8 vCPUs are two clients. */
        assert_int_equal(vnuma_plan_n_clients(plan), 2);
        /* The example is older than VNUMA_CAPS_CACHE_SETTLE_S: cached. */
        assert_true(g_file_get_contents(cache, &cached, NULL, NULL));
        vnuma_test_assert_contains(cached, caps);
    }
    g_setenv("VNUMA_CONFIG", bad, TRUE);
    {
        g_autoptr(VnumaContext) ctx = vnuma_context_new();
        g_autoptr(GError) error = NULL;
        g_autofree char *log_file = NULL;

        assert_false(vnuma_context_load_host(ctx, NULL, &error));
        vnuma_test_assert_contains(error->message, "/nonexistent/caps.xml");
        log_file = vnuma_context_config_string(ctx, "log_file");
        assert_string_equal(log_file, "/tmp/y");
    }
    g_setenv("VNUMA_CAPS_FILE", caps, TRUE);
    {
        g_autoptr(VnumaContext) ctx = vnuma_context_new();
        g_autoptr(GError) error = NULL;

        assert_true(vnuma_context_load_host(ctx, NULL, &error));
    }
    g_unsetenv("VNUMA_CAPS_FILE");
    g_unsetenv("VNUMA_CONFIG");
    g_unsetenv("VNUMA_HOST_CACHE");
    g_unlink(cache);
    g_unlink(config);
    g_unlink(bad);
}

/* The error domain is public: a caller tells errors apart with
 * g_error_matches(), and the quark is exported by the shared library
 * itself (looked up there, not in the test's own static copy). */
static void
test_error_domain(void **state)
{
    g_autoptr(VnumaContext) ctx = vnuma_context_new();
    g_autoptr(GError) error = NULL;
    g_autofree char *so = g_build_filename(g_getenv("VNUMA_BUILDDIR"), "plugin", "libvnuma.so", NULL);
    void *handle;
    GQuark (*quark)(void);

    assert_null(vnuma_plan_new(ctx, "<domain/>", 9, &error));
    assert_true(g_error_matches(error, VNUMA_ERROR, VNUMA_ERROR_NOT_FOUND));
    g_clear_error(&error);
    assert_false(vnuma_context_load_caps_xml(ctx, "<capabilities", 13, &error));
    assert_true(error && error->domain == VNUMA_ERROR);

    handle = dlopen(so, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        print_error("dlopen %s: %s\n", so, dlerror());
        fail();
    }
    quark = (GQuark(*)(void)) dlsym(handle, "vnuma_error_quark");
    assert_non_null(quark);
    assert_int_equal(quark(), VNUMA_ERROR);
    assert_string_equal(g_quark_to_string(quark()), "vnuma-error-quark");
    dlclose(handle);
}

/* A fallible call refuses a NULL object or required argument with an
 * INVALID error naming the function and the argument. */
static void
assert_refused(gboolean ok, GError *error, const char *func, const char *what)
{
    g_autofree char *want = g_strdup_printf("%s: %s", func, what);

    assert_false(ok);
    if (!g_error_matches(error, VNUMA_ERROR, VNUMA_ERROR_INVALID)) {
        print_error("%s: no INVALID error (%s)\n", func, error ? error->message : "none");
        fail();
    }
    vnuma_test_assert_contains(error->message, want);
}

#define REFUSED(call, func, what) \
    do { \
        g_autoptr(GError) error = NULL; \
        gboolean ok = (call); \
        assert_refused(ok, error, func, what); \
    } while (0)

static void
test_null_arguments(void **state)
{
    g_autoptr(VnumaContext) ctx = context_on("xeon-2s10c-ht");
    gsize len;
    g_autofree char *xml = example("domains", "wide-12vcpu", &len);

    REFUSED(vnuma_context_load_caps_file(NULL, "x", &error), "vnuma_context_load_caps_file", "ctx is NULL");
    REFUSED(vnuma_context_load_caps_file(ctx, NULL, &error), "vnuma_context_load_caps_file", "path is NULL");
    REFUSED(vnuma_context_load_caps_xml(NULL, "x", 1, &error), "vnuma_context_load_caps_xml", "ctx is NULL");
    REFUSED(vnuma_context_load_caps_xml(ctx, NULL, 0, &error), "vnuma_context_load_caps_xml", "xml is NULL");
    REFUSED(vnuma_context_load_sysfs(NULL, "/sys", &error), "vnuma_context_load_sysfs", "ctx is NULL");
    REFUSED(vnuma_context_load_sysfs(ctx, NULL, &error), "vnuma_context_load_sysfs", "root is NULL");
    REFUSED(vnuma_context_load_host(NULL, NULL, &error), "vnuma_context_load_host", "ctx is NULL");
    REFUSED(vnuma_context_load_config(NULL, "x", &error), "vnuma_context_load_config", "ctx is NULL");
    REFUSED(vnuma_context_load_config(ctx, NULL, &error), "vnuma_context_load_config", "path is NULL");
    REFUSED(vnuma_context_set_memory_mode(NULL, "strict", &error), "vnuma_context_set_memory_mode", "ctx is NULL");
    REFUSED(vnuma_context_set_memory_mode(ctx, NULL, &error), "vnuma_context_set_memory_mode", "mode is NULL");
    REFUSED(vnuma_plan_new(NULL, xml, len, &error) != NULL, "vnuma_plan_new", "ctx is NULL");
    REFUSED(vnuma_plan_new(ctx, NULL, 0, &error) != NULL, "vnuma_plan_new", "domain_xml is NULL");
    REFUSED(vnuma_plan_new_full(NULL, xml, len, 0, &error) != NULL, "vnuma_plan_new_full", "ctx is NULL");
    REFUSED(vnuma_plan_new_full(ctx, NULL, 0, 0, &error) != NULL, "vnuma_plan_new_full", "domain_xml is NULL");
    REFUSED(vnuma_plan_new_with_record(NULL, xml, len, NULL, 0, 0, &error) != NULL, "vnuma_plan_new_with_record",
            "ctx is NULL");
    REFUSED(vnuma_plan_new_with_record(ctx, NULL, 0, NULL, 0, 0, &error) != NULL, "vnuma_plan_new_with_record",
            "domain_xml is NULL");
    /* The context is untouched by the refused calls: it still plans. */
    {
        g_autoptr(VnumaPlan) plan = plan_ok(ctx, xml, len);

        assert_true(vnuma_plan_is_managed(plan));
    }
}

/* libvirt's test driver's domains (type 'test') are not managed unless
 * VNUMA_PLAN_TEST_AS_KVM plans them as kvm, as vnumad and vnumactl ask. */
static void
test_test_driver_as_kvm(void **state)
{
    g_autoptr(VnumaContext) ctx = context_on("xeon-2s10c-ht");
    gsize len;
    g_autofree char *xml = example("domains", "wide-12vcpu", &len);
    g_autoptr(GString) test = g_string_new(xml);
    g_autoptr(GError) error = NULL;
    g_autoptr(VnumaPlan) plain = NULL;
    g_autoptr(VnumaPlan) as_kvm = NULL;
    g_autoptr(VnumaPlan) kvm = NULL;

    assert_int_equal(g_string_replace(test, "<domain type='kvm'", "<domain type='test'", 1), 1);
    plain = vnuma_plan_new_full(ctx, test->str, test->len, VNUMA_PLAN_DEFAULT, &error);
    assert_non_null(plain);
    assert_false(vnuma_plan_is_managed(plain));
    vnuma_test_assert_contains(vnuma_plan_reason(plain), "test");
    as_kvm = vnuma_plan_new_full(ctx, test->str, test->len, VNUMA_PLAN_TEST_AS_KVM, &error);
    assert_non_null(as_kvm);
    assert_true(vnuma_plan_is_managed(as_kvm));
    /* The same plan as the kvm domain's. */
    kvm = vnuma_plan_new_full(ctx, xml, len, VNUMA_PLAN_DEFAULT, &error);
    assert_non_null(kvm);
    {
        g_autofree char *want = json_summary(kvm);
        g_autofree char *got = json_summary(as_kvm);

        assert_string_equal(got, want);
    }
    /* The flag leaves a kvm domain as it is. */
    {
        g_autoptr(VnumaPlan) kvm_flagged = vnuma_plan_new_full(ctx, xml, len, VNUMA_PLAN_TEST_AS_KVM, &error);
        g_autofree char *want = vnuma_plan_render(kvm, VNUMA_FORMAT_XML, NULL);
        g_autofree char *got = vnuma_plan_render(kvm_flagged, VNUMA_FORMAT_XML, NULL);

        assert_string_equal(got, want);
    }
}

/* Flags this version does not know are refused, named in hex, whether
 * or not a known flag comes with them. */
static void
test_unknown_flags(void **state)
{
    g_autoptr(VnumaContext) ctx = context_on("xeon-2s10c-ht");
    gsize len;
    g_autofree char *xml = example("domains", "wide-12vcpu", &len);
    guint unknown = 1u << 5;

    assert_int_equal(VNUMA_PLAN_FLAGS_ALL & unknown, 0);
    REFUSED(vnuma_plan_new_full(ctx, xml, len, unknown, &error) != NULL, "vnuma_plan_new_full",
            "unsupported flags 0x20");
    REFUSED(vnuma_plan_new_full(ctx, xml, len, VNUMA_PLAN_KEEP_GUEST_ABI | unknown, &error) != NULL,
            "vnuma_plan_new_full", "unsupported flags 0x20");
    REFUSED(vnuma_plan_new_with_record(ctx, xml, len, NULL, 0, unknown | (1u << 31), &error) != NULL,
            "vnuma_plan_new_with_record", "unsupported flags 0x80000020");
    /* Every known flag is accepted. */
    {
        g_autoptr(GError) error = NULL;
        g_autoptr(VnumaPlan) plan = vnuma_plan_new_full(ctx, xml, len, VNUMA_PLAN_FLAGS_ALL, &error);

        assert_non_null(plan);
        assert_null(error);
    }
}

/* The calls without a GError: a NULL object gives a critical naming
 * it and a neutral result, never a crash. */
static GString *criticals;

static void
record_critical(const char *domain, GLogLevelFlags level, const char *message, gpointer data)
{
    if (level & G_LOG_LEVEL_CRITICAL)
        g_string_append_printf(criticals, "%s\n", message);
}

static void
test_null_objects(void **state)
{
    g_autoptr(VnumaContext) ctx = context_on("xeon-2s10c-ht");
    gsize len;
    g_autofree char *xml = example("domains", "wide-12vcpu", &len);
    g_autoptr(VnumaPlan) plan = plan_ok(ctx, xml, len);
    guint sockets = 7;
    GLogFunc previous;

    criticals = g_string_new(NULL);
    previous = g_log_set_default_handler(record_critical, NULL);
    vnuma_context_free(NULL);
    vnuma_plan_free(NULL);
    assert_null(vnuma_context_config_string(NULL, "preferHT"));
    assert_null(vnuma_context_config_string(ctx, NULL));
    assert_null(vnuma_context_warnings(NULL));
    assert_null(vnuma_context_describe_host(NULL));
    assert_false(vnuma_plan_is_managed(NULL));
    assert_null(vnuma_plan_reason(NULL));
    assert_false(vnuma_plan_changes_domain(NULL));
    assert_null(vnuma_plan_warnings(NULL));
    assert_null(vnuma_plan_render(NULL, VNUMA_FORMAT_XML, NULL));
    assert_null(vnuma_plan_render(plan, (VnumaFormat) 42, NULL));
    assert_null(vnuma_plan_record(NULL, NULL));
    assert_int_equal(vnuma_plan_n_clients(NULL), 0);
    assert_null(vnuma_plan_client(NULL, 0, NULL, NULL));
    assert_int_equal(vnuma_plan_n_cells(NULL), 0);
    assert_null(vnuma_plan_cell(NULL, 0, NULL));
    vnuma_plan_topology(NULL, &sockets, NULL, NULL, NULL);
    assert_int_equal(sockets, 7);
    g_log_set_default_handler(previous, NULL);

    /* One critical per refused call (the two frees accept NULL, as free does). */
    {
        g_auto(GStrv) lines = g_strsplit(criticals->str, "\n", -1);

        assert_int_equal(g_strv_length(lines) - 1, 16);
    }
    vnuma_test_assert_contains(criticals->str, "vnuma_context_config_string: assertion 'ctx != NULL' failed");
    vnuma_test_assert_contains(criticals->str, "vnuma_context_config_string: assertion 'key != NULL' failed");
    vnuma_test_assert_contains(criticals->str, "vnuma_plan_render: assertion 'format == VNUMA_FORMAT_XML");
    vnuma_test_assert_contains(criticals->str, "vnuma_plan_topology: assertion 'plan != NULL' failed");
    g_string_free(criticals, TRUE);

    /* Out parameters of the topology may be NULL. */
    vnuma_plan_topology(plan, &sockets, NULL, NULL, NULL);
    assert_int_equal(sockets, 2);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_host),
        cmocka_unit_test(test_plan_with_record),
        cmocka_unit_test(test_test_driver_as_kvm),
        cmocka_unit_test(test_load_caps),
        cmocka_unit_test(test_load_caps_errors),
        cmocka_unit_test(test_load_sysfs),
        cmocka_unit_test(test_config_warnings),
        cmocka_unit_test(test_config_honoured),
        cmocka_unit_test(test_config_prefer_ht_changes_sizing),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_set_memory_mode),
        cmocka_unit_test(test_plan_managed),
        cmocka_unit_test(test_plan_unmanaged),
        cmocka_unit_test(test_plan_absent_dies),
        cmocka_unit_test(test_plan_optout_and_numad),
        cmocka_unit_test(test_plan_bad_overrides_warn),
        cmocka_unit_test(test_json_escaping),
        cmocka_unit_test(test_plan_errors),
        cmocka_unit_test(test_keep_guest_abi),
        cmocka_unit_test(test_every_example_every_format),
        cmocka_unit_test(test_advice_only),
        cmocka_unit_test(test_plan_accessors),
        cmocka_unit_test(test_load_host),
        cmocka_unit_test(test_error_domain),
        cmocka_unit_test(test_null_arguments),
        cmocka_unit_test(test_unknown_flags),
        cmocka_unit_test(test_null_objects),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
