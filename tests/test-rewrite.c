/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* xml/vnuma-rewrite: the splicer that writes a layout into the original
 * bytes. Every output is checked with libvirt's own schema
 * (virt-xml-validate), planned again for idempotence (docs/spec.md §3 rule 11), and
 * read back with plain libxml2 XPath. */
#include "tests/testutil.h"

#include <string.h>
#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include "lib/vnuma-error.h"
#include "lib/vnuma-layout.h"
#include "lib/vnuma-pipeline.h"
#include "lib/vnuma-placement.h"
#include "lib/vnuma-sizing.h"
#include "xml/vnuma-domain.h"
#include "xml/vnuma-rewrite.h"

#define NS "urn:x-vnuma:domain:1"
#define LNS "urn:x-vnuma:layout:1"

/* ---- planning ---------------------------------------------------------- */

typedef struct {
    gboolean managed;
    char *reason;
    char *output;
    gsize len;
    VnumaLayout *layout;
} Outcome;

static void
outcome_free(Outcome *o)
{
    if (!o)
        return;
    g_free(o->reason);
    g_free(o->output);
    vnuma_layout_free(o->layout);
    g_free(o);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Outcome, outcome_free)

/* What libvnuma does, on the internal API: parse, read, size, place,
 * finish, rewrite. @settings NULL: built-in defaults. */
static Outcome *
plan_full(const char *host_name, const char *xml, gsize len, const VnumaSettings *settings,
          gboolean keep_guest_abi)
{
    g_autoptr(VnumaHost) host = vnuma_test_host(host_name);
    g_autoptr(GError) error = NULL;
    g_autoptr(VnumaXmlSource) src = vnuma_xml_source_parse(xml, len, "domain XML", &error);
    g_autoptr(VnumaRequest) request = NULL;
    VnumaSettings defaults;
    gboolean changes;
    Outcome *o = g_new0(Outcome, 1);

    if (!src) {
        print_error("%s\n--- document ---\n%s\n", error->message, xml);
        fail();
    }
    request = vnuma_request_from_domain(src, &error);
    if (!request) {
        print_error("%s\n--- document ---\n%s\n", error->message, xml);
        fail();
    }
    request->keep_guest_abi = keep_guest_abi;
    vnuma_settings_init(&defaults);
    o->layout = vnuma_pipeline_run(host, settings ? settings : &defaults, request, NULL, 0, NULL, 0);
    vnuma_settings_clear(&defaults);
    o->managed = o->layout->managed;
    o->reason = g_strdup(o->layout->reason);
    o->output = vnuma_domain_rewrite(src, request, o->layout, &o->len, &error);
    if (!o->output) {
        print_error("rewrite failed on %s: %s\n--- document ---\n%s\n", host_name, error->message, xml);
        fail();
    }
    assert_int_equal(strlen(o->output), o->len);
    /* Advice at domain start asks only whether the rewrite would change
     * the domain: on every plan of these tests, the answer must be what
     * the rewritten bytes say. */
    for (guint read_only = 0; read_only < 2; read_only++) {
        g_autoptr(VnumaXmlSource) advice_src = read_only ? vnuma_xml_source_parse_read_only(xml, len, "domain XML", &error)
                                                         : NULL;

        assert_true(vnuma_domain_rewrite_changes(read_only ? advice_src : src, request, o->layout, &changes, &error));
        if (changes != (o->len != len || memcmp(o->output, xml, len) != 0)) {
            print_error("on %s, vnuma_domain_rewrite_changes (%s) says %s, the rewrite did %s\n--- document ---\n%s\n",
                        host_name, read_only ? "read-only parse" : "parse", changes ? "changed" : "unchanged",
                        changes ? "not change it" : "change it", xml);
            fail();
        }
    }
    return o;
}

static Outcome *
plan(const char *host_name, const char *xml)
{
    return plan_full(host_name, xml, strlen(xml), NULL, FALSE);
}

static char *
read_example(const char *dir, const char *name)
{
    g_autofree char *relative = g_strdup_printf("examples/%s/%s.xml", dir, name);

    return vnuma_test_read(relative, NULL);
}

/* cmocka cuts long messages: show where two texts part, with context. */
static void
print_difference(const char *what, const char *expected, const char *got)
{
    gsize at = 0;
    gsize from;

    while (expected[at] && expected[at] == got[at])
        at++;
    from = at > 160 ? at - 160 : 0;
    while (from > 0 && expected[from - 1] != '\n')
        from--;
    print_error("%s: the bytes differ from offset %" G_GSIZE_FORMAT "\n", what, at);
    print_error("--- expected ---\n%.400s\n", expected + from);
    print_error("--- got ---\n%.400s\n", got + from);
}

static void
assert_same_bytes(const char *what, const char *got, const char *expected)
{
    if (strcmp(got, expected) != 0) {
        print_difference(what, expected, got);
        fail();
    }
}

/* Output valid for libvirt and a fixed point of planning on @host_name. */
static void
assert_valid_and_stable(const char *host_name, const char *output, const VnumaSettings *settings,
                        gboolean keep_guest_abi)
{
    g_autoptr(Outcome) again = NULL;

    vnuma_test_assert_valid(output, "domain");
    again = plan_full(host_name, output, strlen(output), settings, keep_guest_abi);
    if (strcmp(again->output, output) != 0) {
        g_autofree char *what = g_strdup_printf("planning the output again on %s (rule 11)", host_name);

        print_difference(what, output, again->output);
        fail();
    }
    assert_true(again->managed);
}

/* ---- reading the output back with plain libxml2 ---------------------------- */

typedef struct {
    xmlDoc *doc;
    xmlXPathContext *xpath;
} Parsed;

static void
parsed_free(Parsed *p)
{
    if (!p)
        return;
    xmlXPathFreeContext(p->xpath);
    xmlFreeDoc(p->doc);
    g_free(p);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Parsed, parsed_free)

static Parsed *
parse_output(const char *xml)
{
    Parsed *p = g_new0(Parsed, 1);

    p->doc = xmlReadMemory(xml, (int) strlen(xml), "output.xml", NULL,
                           XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!p->doc) {
        print_error("output is not well-formed:\n%s\n", xml);
        fail();
    }
    p->xpath = xmlXPathNewContext(p->doc);
    xmlXPathRegisterNs(p->xpath, BAD_CAST "v", BAD_CAST NS);
    xmlXPathRegisterNs(p->xpath, BAD_CAST "vl", BAD_CAST LNS);
    return p;
}

static char *
xp_string(Parsed *p, const char *format, ...) G_GNUC_PRINTF(2, 3);

static char *
xp_string(Parsed *p, const char *format, ...)
{
    va_list args;
    g_autofree char *expr = NULL;
    g_autofree char *wrapped = NULL;
    xmlXPathObject *obj;
    char *value;

    va_start(args, format);
    expr = g_strdup_vprintf(format, args);
    va_end(args);
    wrapped = g_strdup_printf("string(%s)", expr);
    obj = xmlXPathEvalExpression(BAD_CAST wrapped, p->xpath);
    assert_non_null(obj);
    value = g_strdup(obj->stringval ? (const char *) obj->stringval : "");
    xmlXPathFreeObject(obj);
    return value;
}

static int
xp_count(Parsed *p, const char *expr)
{
    g_autofree char *wrapped = g_strdup_printf("count(%s)", expr);
    xmlXPathObject *obj = xmlXPathEvalExpression(BAD_CAST wrapped, p->xpath);
    int count;

    assert_non_null(obj);
    count = (int) obj->floatval;
    xmlXPathFreeObject(obj);
    return count;
}

#define assert_xp(p, expected, ...) \
    do { \
        g_autofree char *xp_value_ = xp_string((p), __VA_ARGS__); \
        if (strcmp(xp_value_, (expected)) != 0) { \
            g_autofree char *xp_expr_ = g_strdup_printf(__VA_ARGS__); \
            print_error("%s = '%s', expected '%s'\n", xp_expr_, xp_value_, (expected)); \
            fail(); \
        } \
    } while (0)

/* ---- text helpers ---------------------------------------------------------- */

static gboolean
opens_element(const char *trimmed, const char *name)
{
    gsize n = strlen(name);

    return trimmed[0] == '<' && strncmp(trimmed + 1, name, n) == 0 &&
           (trimmed[1 + n] == ' ' || trimmed[1 + n] == '>' || trimmed[1 + n] == '/' ||
            trimmed[1 + n] == '\t' || trimmed[1 + n] == '\0');
}

/* The lines of @text outside the elements vnuma owns (one element per
 * line, as virsh dumpxml writes them). */
static GPtrArray *
lines_outside_owned(const char *text)
{
    static const char *const owned[] = { "cpu", "cputune", "numatune", "vnuma:layout", NULL };
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    GPtrArray *kept = g_ptr_array_new_with_free_func(g_free);
    const char *skipping = NULL;

    for (guint i = 0; lines[i]; i++) {
        const char *t = lines[i] + strspn(lines[i], " \t");
        gboolean owned_line = FALSE;

        /* An empty <metadata/> is necessarily reopened. */
        if (strcmp(t, "<metadata/>") == 0)
            continue;
        if (skipping) {
            g_autofree char *close = g_strdup_printf("</%s>", skipping);

            if (strstr(t, close))
                skipping = NULL;
            continue;
        }
        for (guint n = 0; owned[n]; n++) {
            g_autofree char *close = g_strdup_printf("</%s>", owned[n]);
            const char *gt;

            if (!opens_element(t, owned[n]))
                continue;
            owned_line = TRUE;
            gt = strchr(t, '>');
            if (!strstr(t, close) && !(gt && gt > t && gt[-1] == '/'))
                skipping = owned[n];
            break;
        }
        if (!owned_line)
            g_ptr_array_add(kept, g_strdup(lines[i]));
    }
    return kept;
}

/* Every input line outside vnuma's elements is in the output, verbatim
 * and in the same order. */
static void
assert_foreign_lines_kept(const char *what, const char *input, const char *output)
{
    g_autoptr(GPtrArray) kept = lines_outside_owned(input);
    g_auto(GStrv) out = g_strsplit(output, "\n", -1);
    guint j = 0;

    assert_true(kept->len > 3);
    for (guint i = 0; i < kept->len; i++) {
        while (out[j] && strcmp(out[j], kept->pdata[i]) != 0)
            j++;
        if (!out[j]) {
            print_error("%s: input line %u [%s] is missing or out of order in the output\n%s\n",
                        what, i, (const char *) kept->pdata[i], output);
            fail();
        }
        j++;
    }
}

static char *
line_indent(char **lines, guint line)
{
    const char *text = lines[line - 1];

    return g_strndup(text, strspn(text, " \t"));
}

/* Each element that starts its own line is indented deeper than its
 * parent, with the parent's indentation as a prefix. */
static void
assert_nested_indentation(const char *what, const char *output)
{
    g_autoptr(Parsed) p = parse_output(output);
    g_auto(GStrv) lines = g_strsplit(output, "\n", -1);
    g_autoptr(GPtrArray) stack = g_ptr_array_new();

    g_ptr_array_add(stack, xmlDocGetRootElement(p->doc));
    while (stack->len) {
        xmlNode *node = g_ptr_array_steal_index(stack, stack->len - 1);

        for (xmlNode *child = node->children; child; child = child->next) {
            long parent_line, child_line;

            if (child->type != XML_ELEMENT_NODE)
                continue;
            g_ptr_array_add(stack, child);
            parent_line = xmlGetLineNo(node);
            child_line = xmlGetLineNo(child);
            if (child_line == parent_line || node == xmlDocGetRootElement(p->doc))
                continue;
            {
                g_autofree char *outer = line_indent(lines, (guint) parent_line);
                g_autofree char *inner = line_indent(lines, (guint) child_line);
                const char *t = lines[child_line - 1] + strlen(inner);

                if (t[0] != '<')
                    continue;   /* something else starts that line */
                if (!g_str_has_prefix(inner, outer) || strlen(inner) <= strlen(outer)) {
                    print_error("%s: line %ld [%s] is not indented under its parent on line %ld [%s]\n",
                                what, child_line, lines[child_line - 1], parent_line,
                                lines[parent_line - 1]);
                    fail();
                }
            }
        }
    }
}

/* Bytes of @text from the line holding @first through the end of the
 * line holding @last (after @first). */
static char *
block(const char *text, const char *first, const char *last)
{
    const char *start = strstr(text, first);
    const char *end;

    assert_non_null(start);
    end = strstr(start, last);
    assert_non_null(end);
    while (start > text && start[-1] != '\n')
        start--;
    end += strlen(last);
    return g_strndup(start, (gsize) (end - start));
}

static char *
replace_once(const char *text, const char *from, const char *to)
{
    const char *at = strstr(text, from);

    if (!at) {
        print_error("[%s] not found in\n%s\n", from, text);
        fail();
    }
    return g_strdup_printf("%.*s%s%s", (int) (at - text), text, to, at + strlen(from));
}

static gint
compare_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

static char **
list_examples(const char *dir, guint *count)
{
    g_autofree char *path = vnuma_test_path(dir);
    g_autoptr(GError) error = NULL;
    g_autoptr(GDir) handle = g_dir_open(path, 0, &error);
    g_autoptr(GPtrArray) names = g_ptr_array_new();
    const char *entry;

    if (!handle) {
        print_error("%s\n", error->message);
        fail();
    }
    while ((entry = g_dir_read_name(handle))) {
        if (g_str_has_suffix(entry, ".xml"))
            g_ptr_array_add(names, g_strndup(entry, strlen(entry) - 4));
    }
    g_ptr_array_sort(names, compare_names);
    *count = names->len;
    g_ptr_array_add(names, NULL);
    return (char **) g_ptr_array_steal(names, NULL);
}

/* ---- every example on every host -------------------------------------------- */

static gboolean
is_unmanaged_example(const char *name)
{
    return g_str_equal(name, "unmanaged-optout") || g_str_equal(name, "numad-auto") ||
           g_str_equal(name, "nova-pinned");
}

/* With the lines from @first to @last gone from vnuma's @output (when it
 * has them), planning again writes them back (plan_full checks that the
 * advice agrees) into a valid, stable domain. */
static void
assert_written_again(const char *host_name, const char *output, const char *first, const char *last)
{
    g_autofree char *lines = NULL;
    g_autofree char *bare = NULL;
    g_autoptr(Outcome) again = NULL;

    if (!strstr(output, first))
        return;
    lines = block(output, first, last);
    bare = replace_once(output, lines, "");
    again = plan(host_name, bare);
    assert_true(again->managed);
    assert_true(strcmp(again->output, bare) != 0);
    assert_valid_and_stable(host_name, again->output, NULL, FALSE);
}

static void
test_examples_on_every_host(void **state)
{
    guint n_domains, n_hosts;
    g_auto(GStrv) domains = list_examples("examples/domains", &n_domains);
    g_auto(GStrv) hosts = list_examples("examples/hosts", &n_hosts);

    assert_true(n_domains >= 14);
    assert_true(n_hosts >= 8);
    for (guint d = 0; domains[d]; d++) {
        g_autofree char *input = read_example("domains", domains[d]);

        for (guint h = 0; hosts[h]; h++) {
            g_autofree char *what = g_strdup_printf("%s on %s", domains[d], hosts[h]);
            g_autoptr(Outcome) o = plan(hosts[h], input);

            if (is_unmanaged_example(domains[d])) {
                if (o->managed) {
                    print_error("%s: managed, but vnuma must leave it alone\n", what);
                    fail();
                }
                assert_non_null(o->reason);
                assert_same_bytes(what, o->output, input);
                continue;
            }
            if (!o->managed) {
                print_error("%s: not managed (%s)\n", what, o->reason);
                fail();
            }
            assert_true(strcmp(o->output, input) != 0);
            assert_valid_and_stable(hosts[h], o->output, NULL, FALSE);
            assert_foreign_lines_kept(what, input, o->output);
            assert_nested_indentation(what, o->output);
            /* The examples use single quotes only; so must vnuma. */
            assert_null(strchr(o->output, '"'));
            /* The leading comment stays first. */
            assert_true(g_str_has_prefix(o->output, "<!--"));
            /* What `virsh dumpxml` shows of it (the record re-quoted) is
             * vnuma's output too: nothing to change. */
            {
                g_autofree char *record = block(o->output, "<vnuma:layout", "</vnuma:layout>");
                g_autofree char *requoted = g_strdelimit(g_strdup(record), "'", '"');
                g_autofree char *dumped = replace_once(o->output, record, requoted);
                g_autoptr(Outcome) again = plan(hosts[h], dumped);

                assert_true(again->managed);
                assert_same_bytes(what, again->output, dumped);
            }
            /* Placed as planned, with a record that says otherwise:
             * only the record is rewritten (plan_full checks that the
             * advice agrees). */
            {
                g_autofree char *stale = replace_once(o->output, "<vnuma:client vcpus='0", "<vnuma:client vcpus='1");
                g_autoptr(Outcome) again = plan(hosts[h], stale);

                assert_true(again->managed);
                assert_true(strcmp(again->output, stale) != 0);
                assert_same_bytes(what, again->output, o->output);
            }
            /* The same with the guest cells, then the topology, it wrote gone. */
            assert_written_again(hosts[h], o->output, "<numa>", "</numa>\n");
            assert_written_again(hosts[h], o->output, "<topology ", "/>\n");
        }
    }
}

/* ---- byte preservation on a big Nova domain ------------------------------------ */

static void
test_nova_bytes_preserved(void **state)
{
    g_autofree char *input = read_example("domains", "nova-64vcpu");
    g_autofree char *nova = block(input, "<nova:instance", "</nova:instance>");
    g_autofree char *devices = block(input, "<devices>", "</devices>");
    g_autofree char *sysinfo = block(input, "<sysinfo", "</sysinfo>");
    g_autofree char *clock = block(input, "<clock", "</clock>");
    static const char *const hosts[] = { "xeon-2s10c-ht", "epyc-nps4-2s", "small-2node" };

    for (gsize h = 0; h < G_N_ELEMENTS(hosts); h++) {
        g_autoptr(Outcome) o = plan(hosts[h], input);
        g_autoptr(Parsed) p = NULL;
        g_autofree char *first_line = g_strndup(input, strcspn(input, "\n") + 1);

        assert_true(o->managed);
        assert_foreign_lines_kept(hosts[h], input, o->output);
        vnuma_test_assert_contains(o->output, nova);
        vnuma_test_assert_contains(o->output, devices);
        vnuma_test_assert_contains(o->output, sysinfo);
        vnuma_test_assert_contains(o->output, clock);
        assert_true(g_str_has_prefix(o->output, first_line));
        /* Start tags vnuma extends keep their attributes, order and quotes. */
        vnuma_test_assert_contains(o->output, "\n  <cpu mode='host-model'>\n");
        vnuma_test_assert_contains(o->output, "\n  <cputune>\n    <shares>65536</shares>\n");
        vnuma_test_assert_contains(o->output, "\n  <vcpu placement='static'>64</vcpu>\n");
        vnuma_test_assert_contains(o->output, "<metadata>\n    <nova:instance xmlns:nova='http://openstack.org/xmlns/libvirt/nova/1.1'>\n");
        assert_null(strchr(o->output, '"'));
        /* Exactly one of each element vnuma writes. */
        p = parse_output(o->output);
        assert_int_equal(xp_count(p, "/domain/cputune"), 1);
        assert_int_equal(xp_count(p, "/domain/cputune/shares"), 1);
        assert_int_equal(xp_count(p, "/domain/cputune/vcpupin"), 64);
        assert_int_equal(xp_count(p, "/domain/cputune/emulatorpin"), 1);
        assert_int_equal(xp_count(p, "/domain/numatune"), 1);
        assert_int_equal(xp_count(p, "/domain/cpu"), 1);
        assert_int_equal(xp_count(p, "/domain/cpu/topology"), 1);
        assert_int_equal(xp_count(p, "/domain/metadata"), 1);
        assert_int_equal(xp_count(p, "/domain/metadata/vl:layout"), 1);
        assert_int_equal(xp_count(p, "/domain/metadata/*[local-name()='instance']"), 1);
        /* The stamp goes after Nova's element, inside the same <metadata>. */
        assert_true(strstr(o->output, "</nova:instance>") < strstr(o->output, "<vnuma:layout"));
        assert_true(strstr(o->output, "<vnuma:layout") < strstr(o->output, "</metadata>"));
        vnuma_test_assert_valid(o->output, "domain");
    }
}

/* A managed Nova domain whose <devices> carries a comment: nova-pinned
 * without its pinning (as Nova writes shared-CPU instances). */
static void
test_comment_in_devices_survives(void **state)
{
    g_autofree char *pinned = read_example("domains", "nova-pinned");
    g_autoptr(GString) input = g_string_new(NULL);
    g_auto(GStrv) lines = g_strsplit(pinned, "\n", -1);
    g_autofree char *devices = NULL;
    g_autoptr(Outcome) o = NULL;

    for (guint i = 0; lines[i]; i++) {
        if (strstr(lines[i], "<vcpupin") || strstr(lines[i], "<emulatorpin") ||
            strstr(lines[i], "numatune>") || strstr(lines[i], "<memory mode=") ||
            strstr(lines[i], "<memnode"))
            continue;
        g_string_append(input, lines[i]);
        if (lines[i + 1])
            g_string_append_c(input, '\n');
    }
    devices = block(input->str, "<devices>", "</devices>");
    vnuma_test_assert_contains(devices, "<!-- Neutron port bound by the OVS hybrid plug; this comment must survive");
    o = plan("xeon-2s10c-ht", input->str);
    assert_true(o->managed);
    vnuma_test_assert_contains(o->output, devices);
    /* The owner's single cell is kept as written. */
    vnuma_test_assert_contains(o->output, "    <numa>\n      <cell id='0' cpus='0-3' memory='8388608' unit='KiB'/>\n    </numa>\n");
    vnuma_test_assert_contains(o->output, "<topology sockets='4' dies='1' cores='1' threads='1'/>");
    assert_foreign_lines_kept("nova-pinned without pins", input->str, o->output);
    assert_valid_and_stable("xeon-2s10c-ht", o->output, NULL, FALSE);
}

/* ---- what is written ------------------------------------------------------------- */

static void
test_wide_placement_written(void **state)
{
    g_autofree char *input = read_example("domains", "wide-12vcpu");
    g_autoptr(Outcome) o = plan("xeon-2s10c-ht", input);
    g_autoptr(Parsed) p = NULL;
    g_autoptr(VnumaHost) host = vnuma_test_host("xeon-2s10c-ht");
    g_autofree char *fingerprint = vnuma_host_fingerprint(host);

    assert_true(o->managed);
    p = parse_output(o->output);
    assert_int_equal(xp_count(p, "/domain/cputune/vcpupin"), 12);
    for (guint v = 0; v < 12; v++) {
        g_autofree char *vcpu = g_strdup_printf("%u", v);

        g_autofree char *one = g_strdup_printf("/domain/cputune/vcpupin[@vcpu='%u']", v);

        assert_int_equal(xp_count(p, one), 1);
        assert_xp(p, v < 6 ? "0-9,20-29" : "10-19,30-39", "/domain/cputune/vcpupin[@vcpu='%u']/@cpuset", v);
        assert_xp(p, vcpu, "/domain/cputune/vcpupin[%u]/@vcpu", v + 1);
    }
    assert_xp(p, "0-39", "/domain/cputune/emulatorpin/@cpuset");
    assert_int_equal(xp_count(p, "/domain/numatune/memory"), 1);
    assert_xp(p, "restrictive", "/domain/numatune/memory/@mode");
    assert_xp(p, "0-1", "/domain/numatune/memory/@nodeset");
    assert_int_equal(xp_count(p, "/domain/numatune/memnode"), 2);
    assert_xp(p, "restrictive", "/domain/numatune/memnode[@cellid='0']/@mode");
    assert_xp(p, "0", "/domain/numatune/memnode[@cellid='0']/@nodeset");
    assert_xp(p, "restrictive", "/domain/numatune/memnode[@cellid='1']/@mode");
    assert_xp(p, "1", "/domain/numatune/memnode[@cellid='1']/@nodeset");
    assert_int_equal(xp_count(p, "/domain/cpu/numa/cell"), 2);
    assert_xp(p, "0-5", "/domain/cpu/numa/cell[@id='0']/@cpus");
    assert_xp(p, "6-11", "/domain/cpu/numa/cell[@id='1']/@cpus");
    for (guint c = 0; c < 2; c++) {
        assert_xp(p, "25165824", "/domain/cpu/numa/cell[@id='%u']/@memory", c);
        assert_xp(p, "KiB", "/domain/cpu/numa/cell[@id='%u']/@unit", c);
    }
    assert_xp(p, "2", "/domain/cpu/topology/@sockets");
    assert_xp(p, "1", "/domain/cpu/topology/@dies");
    assert_xp(p, "6", "/domain/cpu/topology/@cores");
    assert_xp(p, "1", "/domain/cpu/topology/@threads");
    /* The <cpu> start tag keeps its attributes. */
    assert_xp(p, "host-passthrough", "/domain/cpu/@mode");
    assert_xp(p, "none", "/domain/cpu/@check");
    assert_xp(p, "on", "/domain/cpu/@migratable");
    /* vnuma's record. */
    assert_int_equal(xp_count(p, "/domain/metadata/vl:layout"), 1);
    assert_xp(p, "1", "/domain/metadata/vl:layout/@version");
    assert_xp(p, "12", "/domain/metadata/vl:layout/@vcpus");
    assert_xp(p, fingerprint, "/domain/metadata/vl:layout/@host");
    assert_int_equal(xp_count(p, "/domain/metadata/vl:layout/vl:client"), 2);
    assert_xp(p, "0-5", "/domain/metadata/vl:layout/vl:client[1]/@vcpus");
    assert_xp(p, "0", "/domain/metadata/vl:layout/vl:client[1]/@node");
    assert_xp(p, "6-11", "/domain/metadata/vl:layout/vl:client[2]/@vcpus");
    assert_xp(p, "1", "/domain/metadata/vl:layout/vl:client[2]/@node");
    /* Nothing else changed: the rest of the domain is the input's. */
    assert_foreign_lines_kept("wide-12vcpu", input, o->output);
}

static void
test_unmanaged_untouched(void **state)
{
    static const char *const names[] = { "unmanaged-optout", "numad-auto", "nova-pinned" };
    static const char *const reasons[] = { "managed='no'", "numad", "did not write" };

    for (gsize i = 0; i < G_N_ELEMENTS(names); i++) {
        g_autofree char *input = read_example("domains", names[i]);
        g_autoptr(Outcome) o = plan("xeon-2s10c-ht", input);

        assert_false(o->managed);
        vnuma_test_assert_contains(o->reason, reasons[i]);
        assert_same_bytes(names[i], o->output, input);
    }
}

/* ---- splicer edge cases ------------------------------------------------------------ */

/* A 12-vCPU / 48 GiB domain made of the given pieces (each a whole
 * number of lines, "" to leave it out). */
static char *
edge_domain(const char *metadata, const char *cputune, const char *cpu)
{
    return g_strdup_printf(
        "<domain type='kvm'>\n"
        "  <name>edge</name>\n"
        "  <uuid>0f0f2a3c-5d6e-4f70-8192-a3b4c5d6e7f8</uuid>\n"
        "%s"
        "  <memory unit='KiB'>50331648</memory>\n"
        "  <currentMemory unit='KiB'>50331648</currentMemory>\n"
        "  <vcpu placement='static'>12</vcpu>\n"
        "%s"
        "  <os>\n"
        "    <type arch='x86_64' machine='pc-q35-7.2'>hvm</type>\n"
        "  </os>\n"
        "%s"
        "  <devices>\n"
        "    <emulator>/usr/bin/qemu-system-x86_64</emulator>\n"
        "  </devices>\n"
        "</domain>\n", metadata, cputune, cpu);
}

/* The placement wide-12vcpu gets on xeon-2s10c-ht, whatever the shape
 * of the document it was written into. */
static void
assert_two_cell_layout(Parsed *p)
{
    assert_int_equal(xp_count(p, "/domain/cpu"), 1);
    assert_int_equal(xp_count(p, "/domain/cpu/topology"), 1);
    assert_xp(p, "2", "/domain/cpu/topology/@sockets");
    assert_xp(p, "6", "/domain/cpu/topology/@cores");
    assert_int_equal(xp_count(p, "/domain/cpu/numa"), 1);
    assert_int_equal(xp_count(p, "/domain/cpu/numa/cell"), 2);
    assert_xp(p, "6-11", "/domain/cpu/numa/cell[2]/@cpus");
    assert_int_equal(xp_count(p, "/domain/cputune"), 1);
    assert_int_equal(xp_count(p, "/domain/cputune/vcpupin"), 12);
    assert_xp(p, "10-19,30-39", "/domain/cputune/vcpupin[@vcpu='11']/@cpuset");
    assert_xp(p, "0-39", "/domain/cputune/emulatorpin/@cpuset");
    assert_int_equal(xp_count(p, "/domain/numatune"), 1);
    assert_int_equal(xp_count(p, "/domain/numatune/memnode"), 2);
    assert_int_equal(xp_count(p, "/domain/metadata"), 1);
    assert_int_equal(xp_count(p, "/domain/metadata/vl:layout"), 1);
}

static char *
plan_edge(const char *what, const char *input)
{
    g_autoptr(Outcome) o = plan("xeon-2s10c-ht", input);
    g_autoptr(Parsed) p = NULL;

    if (!o->managed) {
        print_error("%s: not managed: %s\n", what, o->reason);
        fail();
    }
    assert_valid_and_stable("xeon-2s10c-ht", o->output, NULL, FALSE);
    assert_foreign_lines_kept(what, input, o->output);
    assert_nested_indentation(what, o->output);
    p = parse_output(o->output);
    assert_two_cell_layout(p);
    return g_steal_pointer(&o->output);
}

static void
test_edge_empty_cpu_reopened(void **state)
{
    {
        g_autofree char *input = edge_domain("", "", "  <cpu mode='host-passthrough'/>\n");
        g_autofree char *out = plan_edge("<cpu/>", input);

        vnuma_test_assert_contains(out, "\n  <cpu mode='host-passthrough'>\n    <topology sockets='2' dies='1' "
                             "cores='6' threads='1'/>\n    <numa>\n      <cell id='0' cpus='0-5' "
                             "memory='25165824' unit='KiB'>\n        <distances>\n");
        vnuma_test_assert_contains(out, "    </numa>\n  </cpu>\n  <devices>");
    }
    {
        /* Blanks before '/>' are not carried into the reopened tag. */
        g_autofree char *input = edge_domain("", "", "  <cpu mode='host-passthrough' check='none'  />\n");
        g_autofree char *out = plan_edge("<cpu  />", input);

        vnuma_test_assert_contains(out, "\n  <cpu mode='host-passthrough' check='none'>\n    <topology ");
    }
    {
        g_autofree char *input = edge_domain("", "", "  <cpu mode='host-model'></cpu>\n");
        g_autofree char *out = plan_edge("<cpu></cpu>", input);

        vnuma_test_assert_contains(out, "\n  <cpu mode='host-model'>\n    <topology ");
    }
}

static void
test_edge_no_cpu_inserted(void **state)
{
    g_autofree char *input = edge_domain("", "", "");
    g_autofree char *out = plan_edge("no <cpu>", input);

    /* Each cell carries the host SLIT between the cells' home nodes. */
    vnuma_test_assert_contains(out, "\n  <cpu>\n    <topology sockets='2' dies='1' cores='6' threads='1'/>\n"
                         "    <numa>\n      <cell id='0' cpus='0-5' memory='25165824' unit='KiB'>\n"
                         "        <distances>\n          <sibling id='0' value='10'/>\n"
                         "          <sibling id='1' value='21'/>\n        </distances>\n      </cell>\n"
                         "      <cell id='1' cpus='6-11' memory='25165824' unit='KiB'>\n"
                         "        <distances>\n          <sibling id='0' value='21'/>\n"
                         "          <sibling id='1' value='10'/>\n        </distances>\n      </cell>\n"
                         "    </numa>\n  </cpu>\n");
}

static void
test_edge_cpu_with_children(void **state)
{
    g_autofree char *input = edge_domain("", "",
                                         "  <cpu mode='custom' match='exact' check='partial'>\n"
                                         "    <model fallback='allow'>Broadwell-noTSX-IBRS</model>\n"
                                         "    <feature policy='require' name='x2apic'/>\n"
                                         "    <!-- admin: keep this note -->\n"
                                         "  </cpu>\n");
    g_autofree char *out = plan_edge("<cpu> with model and features", input);
    g_autoptr(Parsed) p = parse_output(out);

    vnuma_test_assert_contains(out, "    <feature policy='require' name='x2apic'/>\n"
                         "    <topology sockets='2' dies='1' cores='6' threads='1'/>\n    <numa>\n");
    vnuma_test_assert_contains(out, "    <!-- admin: keep this note -->\n  </cpu>\n");
    assert_xp(p, "Broadwell-noTSX-IBRS", "/domain/cpu/model");
    assert_xp(p, "x2apic", "/domain/cpu/feature/@name");
}

static void
test_edge_cputune_kept(void **state)
{
    {
        g_autofree char *input = edge_domain("", "  <cputune>\n    <shares>2048</shares>\n"
                                                 "    <!-- tuned by hand -->\n"
                                                 "    <period>100000</period>\n  </cputune>\n", "");
        g_autofree char *out = plan_edge("<cputune> with shares", input);
        g_autoptr(Parsed) p = parse_output(out);

        vnuma_test_assert_contains(out, "  <cputune>\n    <shares>2048</shares>\n    <!-- tuned by hand -->\n"
                             "    <period>100000</period>\n    <vcpupin vcpu='0' cpuset='0-9,20-29'/>\n");
        vnuma_test_assert_contains(out, "    <emulatorpin cpuset='0-39'/>\n  </cputune>\n");
        assert_xp(p, "2048", "/domain/cputune/shares");
        assert_xp(p, "100000", "/domain/cputune/period");
    }
    {
        g_autofree char *input = edge_domain("", "  <cputune/>\n", "");
        g_autofree char *out = plan_edge("<cputune/>", input);

        vnuma_test_assert_contains(out, "\n  <cputune>\n    <vcpupin vcpu='0' cpuset='0-9,20-29'/>\n");
        vnuma_test_assert_contains(out, "    <emulatorpin cpuset='0-39'/>\n  </cputune>\n");
    }
    {
        g_autofree char *input = edge_domain("", "  <cputune>\n  </cputune>\n", "");
        g_autofree char *out = plan_edge("<cputune></cputune>", input);

        vnuma_test_assert_contains(out, "\n  <cputune>\n    <vcpupin vcpu='0' cpuset='0-9,20-29'/>\n");
        vnuma_test_assert_contains(out, "    <emulatorpin cpuset='0-39'/>\n  </cputune>\n");
    }
}

static void
test_edge_metadata(void **state)
{
    {
        /* No <metadata>: inserted after <uuid>. */
        g_autofree char *input = edge_domain("", "", "");
        g_autofree char *out = plan_edge("no <metadata>", input);

        vnuma_test_assert_contains(out, "</uuid>\n  <metadata>\n    <vnuma:layout xmlns:vnuma='" LNS "' version='1' ");
        vnuma_test_assert_contains(out, "    </vnuma:layout>\n  </metadata>\n  <memory unit='KiB'>");
    }
    {
        /* Another namespace's metadata stays as it is; the record follows it. */
        static const char other[] =
            "  <metadata>\n"
            "    <app:tags xmlns:app=\"http://example.com/app/1\">\n"
            "      <app:tag name=\"tier\">db &amp; cache</app:tag>\n"
            "    </app:tags>\n"
            "    <vnuma:policy xmlns:vnuma='" NS "' vcpuMin='9'/>\n"
            "  </metadata>\n";
        g_autofree char *input = edge_domain(other, "", "");
        g_autofree char *out = plan_edge("foreign <metadata>", input);
        g_autoptr(Parsed) p = parse_output(out);

        vnuma_test_assert_contains(out, "  <metadata>\n    <app:tags xmlns:app=\"http://example.com/app/1\">\n"
                             "      <app:tag name=\"tier\">db &amp; cache</app:tag>\n    </app:tags>\n"
                             "    <vnuma:policy xmlns:vnuma='" NS "' vcpuMin='9'/>\n"
                             "    <vnuma:layout xmlns:vnuma='" LNS "' version='1' ");
        assert_xp(p, "db & cache", "/domain/metadata/*[local-name()='tags']/*[local-name()='tag']");
    }
    {
        g_autofree char *input = edge_domain("  <metadata/>\n", "", "");
        g_autofree char *out = plan_edge("<metadata/>", input);

        vnuma_test_assert_contains(out, "\n  <metadata>\n    <vnuma:layout xmlns:vnuma='" LNS "' ");
        vnuma_test_assert_contains(out, "    </vnuma:layout>\n  </metadata>\n");
    }
}

static void
test_edge_declaration_utf8_cdata(void **state)
{
    g_autofree char *body = edge_domain("", "", "  <cpu mode='host-passthrough'/>\n");
    g_autofree char *with_title = replace_once(body, "  <uuid>",
                                               "  <title>Caf\xc3\xa9 cr\xc3\xa8me &amp; \xe2\x82\xac</title>\n"
                                               "  <description><![CDATA[a <b> & c]]></description>\n"
                                               "  <uuid>");
    g_autofree char *input = g_strconcat("<?xml version='1.0' encoding='UTF-8'?>\n"
                                         "<!-- leading comment -->\n", with_title, NULL);
    g_autofree char *out = plan_edge("declaration, UTF-8 and CDATA", input);

    assert_true(g_str_has_prefix(out, "<?xml version='1.0' encoding='UTF-8'?>\n<!-- leading comment -->\n"
                                      "<domain type='kvm'>\n"));
    vnuma_test_assert_contains(out, "  <title>Caf\xc3\xa9 cr\xc3\xa8me &amp; \xe2\x82\xac</title>\n"
                         "  <description><![CDATA[a <b> & c]]></description>\n");
}

static void
test_edge_minimal_domain(void **state)
{
    /* No <vcpu> (one vCPU), no <uuid>, nothing else vnuma could anchor on. */
    static const char input[] =
        "<domain type='kvm'>\n"
        "  <name>tiny</name>\n"
        "  <memory>1048576</memory>\n"
        "  <os>\n    <type>hvm</type>\n  </os>\n"
        "</domain>\n";
    g_autoptr(Outcome) o = plan("small-2node", input);
    g_autoptr(Parsed) p = NULL;

    assert_true(o->managed);
    assert_valid_and_stable("small-2node", o->output, NULL, FALSE);
    p = parse_output(o->output);
    assert_int_equal(xp_count(p, "/domain/cputune/vcpupin"), 1);
    assert_int_equal(xp_count(p, "/domain/cpu/numa"), 0);
    assert_int_equal(xp_count(p, "/domain/metadata/vl:layout"), 1);
    assert_foreign_lines_kept("minimal domain", input, o->output);
}

static void
test_edge_tabs(void **state)
{
    static const char input[] =
        "<domain type='kvm'>\n"
        "\t<name>tabs</name>\n"
        "\t<metadata>\n"
        "\t\t<app:x xmlns:app='urn:x-app'/>\n"
        "\t</metadata>\n"
        "\t<memory unit='KiB'>50331648</memory>\n"
        "\t<vcpu placement='static'>12</vcpu>\n"
        "\t<os>\n"
        "\t\t<type arch='x86_64' machine='pc-q35-7.2'>hvm</type>\n"
        "\t</os>\n"
        "\t<cpu mode='custom' match='exact'>\n"
        "\t\t<model fallback='allow'>qemu64</model>\n"
        "\t</cpu>\n"
        "\t<devices>\n"
        "\t\t<emulator>/usr/bin/qemu-system-x86_64</emulator>\n"
        "\t</devices>\n"
        "</domain>\n";
    g_autofree char *out = plan_edge("tab indentation", input);

    /* Children of existing elements take their siblings' indentation. */
    vnuma_test_assert_contains(out, "\t\t<model fallback='allow'>qemu64</model>\n\t\t<topology sockets='2' ");
    vnuma_test_assert_contains(out, "\n\t\t<numa>\n\t\t  <cell id='0' cpus='0-5' ");
    vnuma_test_assert_contains(out, "\t\t<app:x xmlns:app='urn:x-app'/>\n\t\t<vnuma:layout ");
    /* New top-level elements sit at <vcpu>'s indentation, their children
     * one step (two spaces) deeper. */
    vnuma_test_assert_contains(out, "\t<vcpu placement='static'>12</vcpu>\n\t<cputune>\n"
                         "\t  <vcpupin vcpu='0' cpuset='0-9,20-29'/>\n");
    vnuma_test_assert_contains(out, "\t  <emulatorpin cpuset='0-39'/>\n\t</cputune>\n");
    vnuma_test_assert_contains(out, "\t<numatune>\n\t  <memory mode='restrictive' nodeset='0-1'/>\n");
    vnuma_test_assert_contains(out, "\t\t<vnuma:layout xmlns:vnuma='" LNS "' version='1' ");
    vnuma_test_assert_contains(out, "\n\t\t  <vnuma:client vcpus='0-5' node='0' ");
    vnuma_test_assert_contains(out, "\n\t</cputune>\n");
    vnuma_test_assert_contains(out, "\n\t<numatune>\n");
    vnuma_test_assert_contains(out, "\n\t</numatune>\n");
    vnuma_test_assert_contains(out, "\n\t</cpu>\n");
}

static void
test_edge_four_spaces(void **state)
{
    g_autofree char *two = edge_domain("", "  <cputune>\n    <shares>1024</shares>\n  </cputune>\n",
                                       "  <cpu mode='host-model'>\n    <model fallback='allow'/>\n  </cpu>\n");
    g_auto(GStrv) lines = g_strsplit(two, "\n", -1);
    g_autoptr(GString) input = g_string_new(NULL);
    g_autofree char *out = NULL;

    /* Double every line's indentation. */
    for (guint i = 0; lines[i]; i++) {
        gsize spaces = strspn(lines[i], " ");

        for (gsize s = 0; s < spaces; s++)
            g_string_append_c(input, ' ');
        g_string_append(input, lines[i]);
        if (lines[i + 1])
            g_string_append_c(input, '\n');
    }
    out = plan_edge("four-space indentation", input->str);
    vnuma_test_assert_contains(out, "\n        <shares>1024</shares>\n        <vcpupin vcpu='0' ");
    vnuma_test_assert_contains(out, "\n        <model fallback='allow'/>\n        <topology ");
}

/* ---- host changes, policy changes, migration -------------------------------------- */

static char *
wide_with_policy(const char *attributes)
{
    g_autofree char *input = read_example("domains", "wide-12vcpu");
    g_autofree char *metadata = g_strdup_printf("</uuid>\n  <metadata>\n    <vnuma:policy xmlns:vnuma='" NS
                                                "' %s/>\n  </metadata>", attributes);

    return replace_once(input, "</uuid>", metadata);
}

static void
assert_cells(Parsed *p, guint count, guint per_cell, guint64 memory_kib)
{
    assert_int_equal(xp_count(p, "/domain/cpu/numa"), count ? 1 : 0);
    assert_int_equal(xp_count(p, "/domain/cpu/numa/cell"), (int) count);
    for (guint c = 0; c < count; c++) {
        g_autofree char *cpus = g_strdup_printf("%u-%u", c * per_cell, (c + 1) * per_cell - 1);
        g_autofree char *memory = g_strdup_printf("%" G_GUINT64_FORMAT, memory_kib);
        g_autofree char *id = g_strdup_printf("%u", c);

        assert_xp(p, id, "/domain/cpu/numa/cell[%u]/@id", c + 1);
        assert_xp(p, cpus, "/domain/cpu/numa/cell[%u]/@cpus", c + 1);
        assert_xp(p, memory, "/domain/cpu/numa/cell[%u]/@memory", c + 1);
    }
}

static void
test_host_change_autosize_always(void **state)
{
    g_autofree char *input = wide_with_policy("autosize='always'");
    g_autoptr(Outcome) four = plan("xeon-4s4c-ht", input);
    g_autoptr(Outcome) two = NULL;
    g_autoptr(Parsed) p4 = NULL;
    g_autoptr(Parsed) p2 = NULL;

    /* 4 cores per node: 3 cells of 4 vCPUs. */
    assert_true(four->managed);
    assert_valid_and_stable("xeon-4s4c-ht", four->output, NULL, FALSE);
    p4 = parse_output(four->output);
    assert_cells(p4, 3, 4, 16777216);
    assert_xp(p4, "3", "/domain/cpu/topology/@sockets");
    assert_xp(p4, "4", "/domain/cpu/topology/@cores");
    assert_int_equal(xp_count(p4, "/domain/numatune/memnode"), 3);

    /* On a 2 × 10-core host: vnuma's own three cells give way to two. */
    two = plan("xeon-2s10c-ht", four->output);
    assert_true(two->managed);
    assert_valid_and_stable("xeon-2s10c-ht", two->output, NULL, FALSE);
    p2 = parse_output(two->output);
    assert_cells(p2, 2, 6, 25165824);
    assert_two_cell_layout(p2);
    assert_xp(p2, "2", "/domain/cpu/topology/@sockets");
    assert_xp(p2, "6", "/domain/cpu/topology/@cores");
    assert_int_equal(xp_count(p2, "/domain/cpu/topology"), 1);
    assert_xp(p2, "0-1", "/domain/numatune/memory/@nodeset");
    assert_int_equal(xp_count(p2, "/domain/metadata/v:policy"), 1);
    assert_xp(p2, "always", "/domain/metadata/v:policy/@autosize");
    assert_int_equal(xp_count(p2, "/domain/metadata/vl:layout/vl:cell"), 2);
    assert_foreign_lines_kept("4-node -> 2-node", four->output, two->output);
    assert_nested_indentation("4-node -> 2-node", two->output);
    /* The same result as a first plan there. */
    {
        g_autoptr(Outcome) direct = plan("xeon-2s10c-ht", input);

        assert_same_bytes("replanned vs planned directly", two->output, direct->output);
    }
}

static void
test_host_change_autosize_once(void **state)
{
    g_autofree char *input = read_example("domains", "wide-12vcpu");
    g_autoptr(Outcome) four = plan("xeon-4s4c-ht", input);
    g_autoptr(Outcome) two = plan("xeon-2s10c-ht", four->output);
    g_autoptr(Parsed) p = NULL;
    g_autofree char *cpu_before = block(four->output, "<cpu ", "</cpu>");

    /* Rule 10: the record's sizing stays; only home nodes move (the cells
     * keep the distances they were written with: guest ABI). */
    assert_true(two->managed);
    assert_valid_and_stable("xeon-2s10c-ht", two->output, NULL, FALSE);
    vnuma_test_assert_contains(two->output, cpu_before);
    p = parse_output(two->output);
    assert_cells(p, 3, 4, 16777216);
    assert_int_equal(xp_count(p, "/domain/cputune/vcpupin"), 12);
    assert_xp(p, "0-9,20-29", "/domain/cputune/vcpupin[@vcpu='0']/@cpuset");
    assert_int_equal(xp_count(p, "/domain/cputune/vcpupin[@cpuset!='0-9,20-29' and @cpuset!='10-19,30-39']"), 0);
    assert_xp(p, "0-1", "/domain/numatune/memory/@nodeset");
    assert_int_equal(xp_count(p, "/domain/numatune/memnode"), 3);
}

static void
test_vnuma_removed_when_not_exposed(void **state)
{
    g_autofree char *input = wide_with_policy("autosize='always'");
    g_autoptr(Outcome) first = plan("xeon-2s10c-ht", input);
    g_autofree char *raised = replace_once(first->output, "autosize='always'", "autosize='always' vcpuMin='64'");
    g_autoptr(Outcome) second = plan("xeon-2s10c-ht", raised);
    g_autoptr(Parsed) p = NULL;

    assert_true(second->managed);
    assert_valid_and_stable("xeon-2s10c-ht", second->output, NULL, FALSE);
    p = parse_output(second->output);
    assert_cells(p, 0, 0, 0);
    assert_int_equal(xp_count(p, "/domain/cpu/topology"), 1);
    assert_xp(p, "1", "/domain/cpu/topology/@sockets");
    assert_xp(p, "12", "/domain/cpu/topology/@cores");
    assert_int_equal(xp_count(p, "/domain/numatune/memnode"), 0);
    assert_xp(p, "0-1", "/domain/numatune/memory/@nodeset");
    assert_int_equal(xp_count(p, "/domain/cputune/vcpupin"), 12);
    assert_int_equal(xp_count(p, "/domain/metadata/vl:layout/vl:cell"), 0);
    vnuma_test_assert_lacks(second->output, "<numa>");
    vnuma_test_assert_lacks(second->output, "\n\n");
    vnuma_test_assert_contains(second->output, "  <cpu mode='host-passthrough' check='none' migratable='on'>\n"
                                    "    <topology sockets='1' dies='1' cores='12' threads='1'/>\n"
                                    "  </cpu>\n");
    assert_foreign_lines_kept("vcpuMin raised", raised, second->output);
}

static void
test_vcpu_count_changed(void **state)
{
    g_autofree char *input = read_example("domains", "wide-12vcpu");
    g_autoptr(Outcome) first = plan("xeon-2s10c-ht", input);
    g_autofree char *grown = replace_once(first->output, "<vcpu placement='static'>12</vcpu>",
                                          "<vcpu placement='static'>16</vcpu>");
    g_autoptr(Outcome) second = plan("xeon-2s10c-ht", grown);
    g_autoptr(Parsed) p = NULL;

    /* V changed: vnuma's record no longer applies; sized afresh. */
    assert_true(second->managed);
    assert_valid_and_stable("xeon-2s10c-ht", second->output, NULL, FALSE);
    p = parse_output(second->output);
    assert_cells(p, 2, 8, 25165824);
    assert_int_equal(xp_count(p, "/domain/cputune/vcpupin"), 16);
    assert_xp(p, "16", "/domain/metadata/vl:layout/@vcpus");
}

static void
test_migrate_keeps_guest_abi(void **state)
{
    g_autofree char *input = wide_with_policy("autosize='always'");
    g_autoptr(Outcome) four = plan("xeon-4s4c-ht", input);
    g_autoptr(Outcome) moved = plan_full("xeon-2s10c-ht", four->output, four->len, NULL, TRUE);
    g_autofree char *cpu_before = block(four->output, "<cpu ", "</cpu>");
    g_autoptr(Parsed) p = NULL;

    assert_true(moved->managed);
    assert_valid_and_stable("xeon-2s10c-ht", moved->output, NULL, TRUE);
    /* Cells and topology are the guest's ABI: byte for byte the same. */
    vnuma_test_assert_contains(moved->output, cpu_before);
    p = parse_output(moved->output);
    assert_cells(p, 3, 4, 16777216);
    assert_xp(p, "3", "/domain/cpu/topology/@sockets");
    /* Only the host side moved. */
    assert_int_equal(xp_count(p, "/domain/cputune/vcpupin"), 12);
    assert_int_equal(xp_count(p, "/domain/cputune/vcpupin[@cpuset!='0-9,20-29' and @cpuset!='10-19,30-39']"), 0);
    assert_xp(p, "0-1", "/domain/numatune/memory/@nodeset");
    assert_int_equal(xp_count(p, "/domain/numatune/memnode"), 3);
}

/* ---- whose pins are these ------------------------------------------------------------ */

static void
test_admin_edit_makes_unmanaged(void **state)
{
    g_autofree char *input = read_example("domains", "wide-12vcpu");
    g_autoptr(Outcome) first = plan("xeon-2s10c-ht", input);
    static const char *const edits[][2] = {
        { "<vcpupin vcpu='3' cpuset='0-9,20-29'/>", "<vcpupin vcpu='3' cpuset='4'/>" },
        { "<emulatorpin cpuset='0-39'/>", "<emulatorpin cpuset='0-3'/>" },
        { "<memory mode='restrictive' nodeset='0-1'/>", "<memory mode='restrictive' nodeset='0'/>" },
        { "<memnode cellid='1' mode='restrictive' nodeset='1'/>", "<memnode cellid='1' mode='restrictive' nodeset='0'/>" },
        { "<memory mode='restrictive' nodeset='0-1'/>", "<memory mode='strict' nodeset='0-1'/>" },
    };

    assert_true(first->managed);
    for (gsize i = 0; i < G_N_ELEMENTS(edits); i++) {
        g_autofree char *edited = replace_once(first->output, edits[i][0], edits[i][1]);
        g_autoptr(Outcome) again = plan("xeon-2s10c-ht", edited);

        if (again->managed) {
            print_error("after the admin edit %s -> %s, vnuma still manages the domain\n",
                        edits[i][0], edits[i][1]);
            fail();
        }
        vnuma_test_assert_contains(again->reason, "did not write");
        assert_same_bytes(edits[i][1], again->output, edited);
    }
}

static void
test_equivalent_spelling_still_managed(void **state)
{
    g_autofree char *input = read_example("domains", "wide-12vcpu");
    g_autoptr(Outcome) first = plan("xeon-2s10c-ht", input);
    /* The same set in another spelling is the same pin. */
    g_autofree char *respelled = replace_once(first->output, "<vcpupin vcpu='3' cpuset='0-9,20-29'/>",
                                              "<vcpupin vcpu='3' cpuset='20-29,0-9'/>");
    g_autoptr(Outcome) again = plan("xeon-2s10c-ht", respelled);

    assert_true(again->managed);
    assert_same_bytes("respelled pin", again->output, respelled);
}

static void
test_placement_removed_is_restored(void **state)
{
    g_autofree char *input = read_example("domains", "wide-12vcpu");
    g_autoptr(Outcome) first = plan("xeon-2s10c-ht", input);
    g_autofree char *cputune = block(first->output, "<cputune>", "</cputune>\n");
    g_autofree char *numatune = block(first->output, "<numatune>", "</numatune>\n");
    g_autofree char *without_cputune = replace_once(first->output, cputune, "");
    g_autofree char *stripped = replace_once(without_cputune, numatune, "");
    g_autoptr(Outcome) again = plan("xeon-2s10c-ht", stripped);

    /* No pins left at all: nothing foreign, vnuma places it again. */
    assert_true(again->managed);
    assert_same_bytes("placement restored", again->output, first->output);
}

/* libvirt keeps <metadata> elements as parsed XML and prints them back
 * with double quotes: `virsh dumpxml` of vnuma's output (checked with
 * libvirt 9.0's test driver) differs from it only in the quotes of the
 * <vnuma:layout> element. That is still vnuma's own output: planning it
 * again on the same host must change nothing (rule 11); otherwise an
 * agent that redefines on every DEFINED event never settles. */
static void
test_libvirt_requoted_record_is_stable(void **state)
{
    g_autofree char *input = read_example("domains", "wide-12vcpu");
    g_autoptr(Outcome) first = plan("xeon-2s10c-ht", input);
    g_autofree char *record = block(first->output, "<vnuma:layout", "</vnuma:layout>");
    g_autofree char *requoted_record = g_strdup(record);
    g_autofree char *dumped = NULL;
    g_autoptr(Outcome) again = NULL;

    g_strdelimit(requoted_record, "'", '"');
    dumped = replace_once(first->output, record, requoted_record);
    again = plan("xeon-2s10c-ht", dumped);
    assert_true(again->managed);
    assert_same_bytes("plan of the dumpxml form", again->output, dumped);
}

/* topology='keep' on a domain without <cpu>: cells go in, but vnuma must
 * not invent a <topology> (libvirt wants positive counts). */
static void
test_topology_keep_without_cpu(void **state)
{
    g_autofree char *policy = wide_with_policy("topology='keep'");
    g_autofree char *cpu_line = block(policy, "<cpu ", "/>\n");
    g_autofree char *input = replace_once(policy, cpu_line, "");
    g_autoptr(Outcome) o = plan("xeon-2s10c-ht", input);
    g_autoptr(Parsed) p = NULL;

    assert_true(o->managed);
    assert_valid_and_stable("xeon-2s10c-ht", o->output, NULL, FALSE);
    p = parse_output(o->output);
    assert_int_equal(xp_count(p, "/domain/cpu/numa/cell"), 2);
    assert_int_equal(xp_count(p, "/domain/cpu/topology"), 0);
    vnuma_test_assert_lacks(o->output, "sockets='0'");
}

static void
test_strict_memory_mode_written(void **state)
{
    g_autofree char *input = read_example("domains", "wide-12vcpu");
    VnumaSettings settings;
    g_autoptr(Outcome) o = NULL;
    g_autoptr(Parsed) p = NULL;

    vnuma_settings_init(&settings);
    settings.memory_mode = VNUMA_MEMORY_MODE_STRICT;
    o = plan_full("xeon-2s10c-ht", input, strlen(input), &settings, FALSE);
    assert_valid_and_stable("xeon-2s10c-ht", o->output, &settings, FALSE);
    vnuma_settings_clear(&settings);
    p = parse_output(o->output);
    assert_xp(p, "strict", "/domain/numatune/memory/@mode");
    assert_int_equal(xp_count(p, "/domain/numatune/memnode[@mode='strict']"), 2);
    assert_int_equal(xp_count(p, "/domain/numatune/*[@mode='restrictive']"), 0);
}

/* ---- libvirt's own test corpus (tests/qemuxml2argvdata) --------------------- */

/* The host node whose CPUs @cpuset (a vcpupin of xeon-2s10c-ht) names. */
static const char *
xeon_node_of(const char *cpuset)
{
    if (strcmp(cpuset, "0-9,20-29") == 0)
        return "0";
    if (strcmp(cpuset, "10-19,30-39") == 0)
        return "1";
    return "?";
}

static void
test_corpus_cells_by_id(void **state)
{
    /* cpu-numa2.xml: the cells are listed id 1 first. */
    static const char input[] =
        "<domain type='qemu'>\n"
        "  <name>QEMUGuest1</name>\n"
        "  <memory unit='KiB'>219100</memory>\n"
        "  <vcpu placement='static'>16</vcpu>\n"
        "  <os>\n    <type arch='x86_64' machine='pc'>hvm</type>\n  </os>\n"
        "  <cpu>\n"
        "    <topology sockets='2' dies='1' cores='4' threads='2'/>\n"
        "    <numa>\n"
        "      <cell id='1' cpus='8-15' memory='109550' unit='KiB'/>\n"
        "      <cell id='0' cpus='0-7' memory='109550' unit='KiB'/>\n"
        "    </numa>\n"
        "  </cpu>\n"
        "</domain>\n";
    g_autoptr(Outcome) o = plan("xeon-2s10c-ht", input);
    g_autoptr(Parsed) p = NULL;

    assert_true(o->managed);
    assert_valid_and_stable("xeon-2s10c-ht", o->output, NULL, FALSE);
    p = parse_output(o->output);
    assert_int_equal(xp_count(p, "/domain/numatune/memnode"), 2);
    for (guint id = 0; id < 2; id++) {
        /* The first vCPU of cell @id: 0 or 8. */
        g_autofree char *pin = xp_string(p, "/domain/cputune/vcpupin[@vcpu='%u']/@cpuset", id * 8);
        g_autofree char *memnode = xp_string(p, "/domain/numatune/memnode[@cellid='%u']/@nodeset", id);

        if (strcmp(memnode, xeon_node_of(pin)) != 0) {
            print_error("cell %u: memory bound to node %s, its vCPUs pinned to %s\n", id, memnode, pin);
            fail();
        }
    }
}

static void
test_corpus_memory_only_cells(void **state)
{
    /* numatune-no-vcpu.xml: guest nodes with memory and no vCPU. */
    static const char input[] =
        "<domain type='kvm'>\n"
        "  <name>hmat</name>\n"
        "  <memory unit='KiB'>6291456</memory>\n"
        "  <vcpu placement='static'>8</vcpu>\n"
        "  <os>\n    <type arch='x86_64' machine='pc'>hvm</type>\n  </os>\n"
        "  <cpu>\n"
        "    <numa>\n"
        "      <cell id='0' cpus='0-3' memory='2097152' unit='KiB'/>\n"
        "      <cell id='1' cpus='4-7' memory='2097152' unit='KiB'/>\n"
        "      <cell id='2' memory='2097152' unit='KiB'/>\n"
        "    </numa>\n"
        "  </cpu>\n"
        "</domain>\n";
    g_autoptr(Outcome) o = plan("xeon-2s10c-ht", input);
    g_autoptr(Parsed) p = NULL;

    assert_true(o->managed);
    assert_int_equal(o->layout->clients->len, 2);
    assert_valid_and_stable("xeon-2s10c-ht", o->output, NULL, FALSE);
    p = parse_output(o->output);
    assert_int_equal(xp_count(p, "/domain/cpu/numa/cell"), 3);
    assert_int_equal(xp_count(p, "/domain/numatune/memnode"), 2);
    assert_int_equal(xp_count(p, "/domain/numatune/memnode[@cellid='2']"), 0);
    assert_int_equal(xp_count(p, "/domain/cputune/vcpupin"), 8);
}

static void
test_corpus_no_memory_element(void **state)
{
    /* cpu-numa-no-memory-element.xml: libvirt sums the cells. */
    static const char with_cells[] =
        "<domain type='qemu'>\n"
        "  <name>QEMUGuest1</name>\n"
        "  <vcpu placement='static'>16</vcpu>\n"
        "  <os>\n    <type arch='x86_64' machine='pc'>hvm</type>\n  </os>\n"
        "  <cpu>\n"
        "    <numa>\n"
        "      <cell id='0' cpus='0-7' memory='109550' unit='KiB'/>\n"
        "      <cell id='1' cpus='8-15' memory='109550' unit='KiB'/>\n"
        "    </numa>\n"
        "  </cpu>\n"
        "</domain>\n";
    /* minimal-no-memory.xml: no memory at all, libvirt refuses to start
     * it; nothing to share, so vnuma leaves it alone. */
    static const char without[] =
        "<domain type='qemu'>\n"
        "  <name>QEMUGuest1</name>\n"
        "  <vcpu placement='static'>1</vcpu>\n"
        "  <os>\n    <type arch='i686' machine='pc'>hvm</type>\n  </os>\n"
        "</domain>\n";
    g_autoptr(Outcome) o = plan("xeon-2s10c-ht", with_cells);
    g_autoptr(Outcome) none = plan("xeon-2s10c-ht", without);
    g_autoptr(Parsed) p = NULL;

    assert_true(o->managed);
    assert_int_equal(((VnumaClient *) o->layout->clients->pdata[0])->memory_kib +
                     ((VnumaClient *) o->layout->clients->pdata[1])->memory_kib, 219100);
    assert_valid_and_stable("xeon-2s10c-ht", o->output, NULL, FALSE);
    p = parse_output(o->output);
    assert_int_equal(xp_count(p, "/domain/memory"), 0);
    assert_int_equal(xp_count(p, "/domain/numatune/memnode"), 2);
    assert_false(none->managed);
    vnuma_test_assert_contains(none->reason, "no memory");
    assert_same_bytes("no memory, no cells", none->output, without);
}

static void
test_corpus_metadata_after_genid(void **state)
{
    /* genid.xml: libvirt's schema wants <metadata> after the whole
     * name/uuid/genid group. */
    static const char input[] =
        "<domain type='qemu' id='1'>\n"
        "  <name>QEMUGuest1</name>\n"
        "  <uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid>\n"
        "  <genid>e9392370-2917-565e-692b-d057f46512d6</genid>\n"
        "  <memory unit='KiB'>219136</memory>\n"
        "  <vcpu placement='static'>1</vcpu>\n"
        "  <os>\n    <type arch='x86_64' machine='pc'>hvm</type>\n  </os>\n"
        "</domain>\n";
    g_autoptr(Outcome) o = plan("xeon-2s10c-ht", input);

    assert_true(o->managed);
    vnuma_test_assert_contains(o->output, "</genid>\n  <metadata>\n");
    assert_valid_and_stable("xeon-2s10c-ht", o->output, NULL, FALSE);
}

static void
test_corpus_end_tag_with_space(void **state)
{
    /* "</metadata >" is a legal end tag, one byte longer than its name says. */
    static const char input[] =
        "<domain type='kvm'>\n"
        "  <name>spaced</name>\n"
        "  <metadata></metadata >\n"
        "  <memory unit='KiB'>1048576</memory>\n"
        "  <vcpu placement='static'>2</vcpu>\n"
        "  <os>\n    <type arch='x86_64' machine='pc'>hvm</type>\n  </os>\n"
        "</domain>\n";
    g_autoptr(Outcome) o = plan("xeon-2s10c-ht", input);
    g_autoptr(Parsed) p = NULL;

    assert_true(o->managed);
    p = parse_output(o->output);
    assert_int_equal(xp_count(p, "/domain/metadata/vl:layout"), 1);
    vnuma_test_assert_contains(o->output, "    </vnuma:layout>\n  </metadata >\n  <memory unit='KiB'>");
    assert_valid_and_stable("xeon-2s10c-ht", o->output, NULL, FALSE);
}

static void
test_rewrite_reads_its_output_back(void **state)
{
    /* A plan the splice cannot carry (a cell naming a vCPU beyond V) must
     * come back as an error, never as XML libvirt would refuse. */
    static const char input[] =
        "<domain type='kvm'>\n"
        "  <name>checked</name>\n"
        "  <memory unit='KiB'>50331648</memory>\n"
        "  <vcpu placement='static'>24</vcpu>\n"
        "  <os>\n    <type arch='x86_64' machine='pc'>hvm</type>\n  </os>\n"
        "</domain>\n";
    g_autoptr(VnumaHost) host = vnuma_test_host("xeon-2s10c-ht");
    g_autoptr(GError) error = NULL;
    g_autoptr(VnumaXmlSource) src = vnuma_xml_source_parse(input, strlen(input), "domain XML", &error);
    g_autoptr(VnumaRequest) request = vnuma_request_from_domain(src, &error);
    g_autoptr(VnumaLayout) layout = NULL;
    VnumaSettings settings;
    char *output;

    assert_non_null(request);
    vnuma_settings_init(&settings);
    layout = vnuma_pipeline_run(host, &settings, request, NULL, 0, NULL, 0);
    vnuma_settings_clear(&settings);
    assert_true(layout->exposed);
    vnuma_cpuset_add(((VnumaCell *) layout->cells->pdata[0])->vcpus, 99);
    output = vnuma_domain_rewrite(src, request, layout, NULL, &error);
    if (output) {
        print_error("a broken rewrite was returned:\n%s\n", output);
        g_free(output);
        fail();
    }
    vnuma_test_assert_contains(error->message, "rewritten domain");
    vnuma_test_assert_contains(error->message, "99");
}

static void
test_owner_topology_kept_and_stable(void **state)
{
    /* cpu-topology1.xml's 3 sockets × 2 cores, and a flavor's 3 sockets × 8:
     * the topology is the owner's, kept byte for byte; the cells follow it. */
    static const char *const topologies[][2] = {
        { "6", "<topology sockets=\"3\" dies=\"1\" cores=\"2\" threads=\"1\"/>" },
        { "24", "<topology sockets='3' cores='8' threads='1'/>" },
    };

    for (guint i = 0; i < G_N_ELEMENTS(topologies); i++) {
        g_autofree char *input = g_strdup_printf(
            "<domain type='kvm'>\n  <name>owner</name>\n  <memory unit='KiB'>25165824</memory>\n"
            "  <vcpu placement='static'>%s</vcpu>\n"
            "  <os>\n    <type arch='x86_64' machine='pc'>hvm</type>\n  </os>\n"
            "  <cpu>\n    %s\n  </cpu>\n</domain>\n", topologies[i][0], topologies[i][1]);
        g_autoptr(Outcome) o = plan("xeon-2s10c-ht", input);

        assert_true(o->managed);
        vnuma_test_assert_contains(o->output, topologies[i][1]);
        assert_valid_and_stable("xeon-2s10c-ht", o->output, NULL, FALSE);
    }
}

/* Every written cell carries the host SLIT between the cells' home nodes
 * (11 between two cells homed on one node: 10 is the cell itself). */
static void
assert_cell_distances(const char *host_name, const Outcome *o)
{
    g_autoptr(VnumaHost) host = vnuma_test_host(host_name);
    g_autoptr(Parsed) p = parse_output(o->output);
    const VnumaLayout *layout = o->layout;

    assert_true(layout->cells->len > 1);
    for (guint i = 0; i < layout->cells->len; i++) {
        for (guint j = 0; j < layout->cells->len; j++) {
            gint a = ((VnumaClient *) layout->clients->pdata[i])->home_node;
            gint b = ((VnumaClient *) layout->clients->pdata[j])->home_node;
            guint want = i == j ? 10 : a == b ? 11 : vnuma_host_distance(host, (guint) a, (guint) b);
            g_autofree char *expected = g_strdup_printf("%u", want);

            assert_xp(p, expected, "/domain/cpu/numa/cell[@id='%u']/distances/sibling[@id='%u']/@value", i, j);
        }
    }
    vnuma_test_assert_valid(o->output, "domain");
}

static void
test_cells_carry_host_distances(void **state)
{
    static const char wide[] =
        "<domain type='kvm'>\n  <name>far</name>\n%s  <memory unit='KiB'>50331648</memory>\n"
        "  <vcpu placement='static'>%u</vcpu>\n"
        "  <os>\n    <type arch='x86_64' machine='pc'>hvm</type>\n  </os>\n</domain>\n";
    g_autofree char *epyc_input = g_strdup_printf(wide, "", 24);
    /* maxPerMachineNode=4: 3 clients of 4 on 2 nodes, two of them on one. */
    g_autofree char *shared_input = g_strdup_printf(
        wide, "  <metadata>\n    <vnuma:policy xmlns:vnuma='" NS "' maxPerMachineNode='4'/>\n"
              "  </metadata>\n", 12);
    g_autoptr(Outcome) epyc = plan("epyc-nps4-2s", epyc_input);
    g_autoptr(Outcome) shared = plan("xeon-2s10c-ht", shared_input);
    guint one_node = 0;

    assert_int_equal(epyc->layout->clients->len, 3);
    assert_cell_distances("epyc-nps4-2s", epyc);
    assert_valid_and_stable("epyc-nps4-2s", epyc->output, NULL, FALSE);
    assert_int_equal(shared->layout->clients->len, 3);
    assert_cell_distances("xeon-2s10c-ht", shared);
    assert_valid_and_stable("xeon-2s10c-ht", shared->output, NULL, FALSE);
    for (guint i = 0; i < 3; i++)
        one_node += ((VnumaClient *) shared->layout->clients->pdata[i])->home_node == 0;
    assert_int_equal(one_node, 2);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_examples_on_every_host),
        cmocka_unit_test(test_nova_bytes_preserved),
        cmocka_unit_test(test_comment_in_devices_survives),
        cmocka_unit_test(test_wide_placement_written),
        cmocka_unit_test(test_unmanaged_untouched),
        cmocka_unit_test(test_edge_empty_cpu_reopened),
        cmocka_unit_test(test_edge_no_cpu_inserted),
        cmocka_unit_test(test_edge_cpu_with_children),
        cmocka_unit_test(test_edge_cputune_kept),
        cmocka_unit_test(test_edge_metadata),
        cmocka_unit_test(test_edge_declaration_utf8_cdata),
        cmocka_unit_test(test_edge_minimal_domain),
        cmocka_unit_test(test_edge_tabs),
        cmocka_unit_test(test_edge_four_spaces),
        cmocka_unit_test(test_host_change_autosize_always),
        cmocka_unit_test(test_host_change_autosize_once),
        cmocka_unit_test(test_vnuma_removed_when_not_exposed),
        cmocka_unit_test(test_vcpu_count_changed),
        cmocka_unit_test(test_migrate_keeps_guest_abi),
        cmocka_unit_test(test_admin_edit_makes_unmanaged),
        cmocka_unit_test(test_equivalent_spelling_still_managed),
        cmocka_unit_test(test_placement_removed_is_restored),
        cmocka_unit_test(test_libvirt_requoted_record_is_stable),
        cmocka_unit_test(test_topology_keep_without_cpu),
        cmocka_unit_test(test_strict_memory_mode_written),
        cmocka_unit_test(test_corpus_cells_by_id),
        cmocka_unit_test(test_corpus_memory_only_cells),
        cmocka_unit_test(test_corpus_no_memory_element),
        cmocka_unit_test(test_corpus_metadata_after_genid),
        cmocka_unit_test(test_corpus_end_tag_with_space),
        cmocka_unit_test(test_rewrite_reads_its_output_back),
        cmocka_unit_test(test_owner_topology_kept_and_stable),
        cmocka_unit_test(test_cells_carry_host_distances),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
