/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* xml/vnuma-xmlutil: the safe parser that remembers byte spans, the
 * indentation helper, libvirt memory units and attribute readers. */
#include "tests/testutil.h"

#include <string.h>

#include "lib/vnuma-error.h"
#include "xml/vnuma-xmlutil.h"

static VnumaXmlSource *
parse_ok(const char *text)
{
    g_autoptr(GError) error = NULL;
    VnumaXmlSource *src = vnuma_xml_source_parse(text, strlen(text), "test document", &error);

    if (!src) {
        print_error("parse failed: %s\n--- document ---\n%s\n", error->message, text);
        fail();
    }
    return src;
}

/* Parses @text expecting a refusal; returns the message. */
static char *
parse_error(const char *text, gsize len, const char *what)
{
    g_autoptr(GError) error = NULL;
    VnumaXmlSource *src = vnuma_xml_source_parse(text, len, what, &error);

    if (src) {
        vnuma_xml_source_free(src);
        print_error("document was accepted but must be refused:\n%.*s\n", (int) MIN(len, 400), text);
        fail();
    }
    assert_non_null(error);
    assert_true(g_error_matches(error, VNUMA_ERROR, VNUMA_ERROR_INVALID));
    return g_strdup(error->message);
}

static xmlNode *
node_at(const VnumaXmlSource *src, const char *expr)
{
    g_autoptr(xmlXPathContext) xpath = vnuma_xml_xpath_new(vnuma_xml_source_doc(src));
    xmlNode *node = vnuma_xml_node(xpath, NULL, expr);

    if (!node) {
        print_error("no node matches %s\n", expr);
        fail();
    }
    return node;
}

/* The bytes the span of @expr's node covers, and its start tag. */
static void
assert_span(const VnumaXmlSource *src, const char *expr, const char *element, const char *start_tag,
            gboolean empty)
{
    xmlNode *node = node_at(src, expr);
    const char *text = vnuma_xml_source_text(src, NULL);
    VnumaXmlSpan span;
    g_autofree char *got = NULL;
    g_autofree char *got_tag = NULL;

    if (!vnuma_xml_source_span(src, node, &span)) {
        print_error("%s: no span recorded\n", expr);
        fail();
    }
    got = g_strndup(text + span.start, span.end - span.start);
    got_tag = g_strndup(text + span.start, span.tag_end - span.start);
    if (strcmp(got, element) != 0 || strcmp(got_tag, start_tag) != 0) {
        print_error("%s: span cuts out\n[%s]\n(start tag [%s])\nexpected\n[%s]\n(start tag [%s])\n",
                    expr, got, got_tag, element, start_tag);
        fail();
    }
    assert_int_equal(span.empty, empty);
}

static const char spans_doc[] =
    "<?xml version='1.0' encoding='UTF-8'?>\n"
    "<!-- a comment with <tags> and '>' in it -->\n"
    "<root a='1' b=\"two\">\n"
    "  <!-- <a x='not me'/> -->\n"
    "  <a x='1>2' y=\"q'uote\">text &amp; more &lt;b&gt; caf\xc3\xa9</a>\n"
    "  <empty/>\n"
    "  <spaced z='>'   />\n"
    "  <multi\n"
    "      one='1'\n"
    "      two='&gt;'\n"
    "  >body</multi  >\n"
    "  <nest><inner><leaf k='v'/></inner><inner>second</inner></nest>\n"
    "  <pi><?target some data?>after</pi>\n"
    "  <ns:thing xmlns:ns='urn:x-test'><ns:child/></ns:thing>\n"
    "  <hollow></hollow>\n"
    "</root>\n"
    "<!-- trailing comment -->\n";

static void
test_spans(void **state)
{
    g_autoptr(VnumaXmlSource) src = parse_ok(spans_doc);
    gsize len;
    const char *text = vnuma_xml_source_text(src, &len);
    const char *root_start = strstr(spans_doc, "<root");
    const char *root_end = strstr(spans_doc, "</root>") + strlen("</root>");
    g_autofree char *root = g_strndup(root_start, (gsize) (root_end - root_start));

    /* The text is the input, byte for byte. */
    assert_int_equal(len, strlen(spans_doc));
    assert_memory_equal(text, spans_doc, len);

    assert_span(src, "/root", root, "<root a='1' b=\"two\">", FALSE);
    assert_span(src, "/root/a",
                "<a x='1>2' y=\"q'uote\">text &amp; more &lt;b&gt; caf\xc3\xa9</a>",
                "<a x='1>2' y=\"q'uote\">", FALSE);
    assert_span(src, "/root/empty", "<empty/>", "<empty/>", TRUE);
    assert_span(src, "/root/spaced", "<spaced z='>'   />", "<spaced z='>'   />", TRUE);
    assert_span(src, "/root/multi",
                "<multi\n      one='1'\n      two='&gt;'\n  >body</multi  >",
                "<multi\n      one='1'\n      two='&gt;'\n  >", FALSE);
    assert_span(src, "/root/nest",
                "<nest><inner><leaf k='v'/></inner><inner>second</inner></nest>", "<nest>", FALSE);
    assert_span(src, "/root/nest/inner[1]", "<inner><leaf k='v'/></inner>", "<inner>", FALSE);
    assert_span(src, "/root/nest/inner[2]", "<inner>second</inner>", "<inner>", FALSE);
    assert_span(src, "/root/nest/inner/leaf", "<leaf k='v'/>", "<leaf k='v'/>", TRUE);
    assert_span(src, "/root/pi", "<pi><?target some data?>after</pi>", "<pi>", FALSE);
    assert_span(src, "/root/*[local-name()='thing']",
                "<ns:thing xmlns:ns='urn:x-test'><ns:child/></ns:thing>",
                "<ns:thing xmlns:ns='urn:x-test'>", FALSE);
    assert_span(src, "/root/*[local-name()='thing']/*", "<ns:child/>", "<ns:child/>", TRUE);
    assert_span(src, "/root/hollow", "<hollow></hollow>", "<hollow>", FALSE);
}

/* Every element of a large document (well past libxml2's input chunks)
 * has the span of its own bytes. */
static void
test_spans_large_document(void **state)
{
    GString *doc = g_string_new("<list>\n");
    g_autoptr(VnumaXmlSource) src = NULL;
    g_autoptr(xmlXPathContext) xpath = NULL;
    g_autoptr(GPtrArray) items = NULL;
    const char *text;

    for (guint i = 0; i < 20000; i++) {
        if (i % 3 == 0)
            g_string_append_printf(doc, "  <item n='%u' pad='%0*u'/>\n", i, (int) (i % 200), i);
        else
            g_string_append_printf(doc, "  <item n='%u'><v>%u</v><!-- c%u --></item>\n", i, i, i);
    }
    g_string_append(doc, "</list>\n");
    src = parse_ok(doc->str);
    text = vnuma_xml_source_text(src, NULL);
    xpath = vnuma_xml_xpath_new(vnuma_xml_source_doc(src));
    items = vnuma_xml_nodes(xpath, NULL, "/list/item");
    assert_int_equal(items->len, 20000);
    for (guint i = 0; i < items->len; i++) {
        VnumaXmlSpan span;
        g_autofree char *expected = NULL;
        g_autofree char *got = NULL;

        assert_true(vnuma_xml_source_span(src, items->pdata[i], &span));
        if (i % 3 == 0)
            expected = g_strdup_printf("<item n='%u' pad='%0*u'/>", i, (int) (i % 200), i);
        else
            expected = g_strdup_printf("<item n='%u'><v>%u</v><!-- c%u --></item>", i, i, i);
        got = g_strndup(text + span.start, span.end - span.start);
        if (strcmp(got, expected) != 0) {
            print_error("item %u: span cuts out [%s], expected [%s]\n", i, got, expected);
            fail();
        }
        assert_int_equal(span.empty, i % 3 == 0);
    }
    g_string_free(doc, TRUE);
}

/* Offsets are only trustworthy on the bytes as given: a document the
 * parser re-encodes has no spans (the rewriter then refuses to splice). */
static void
test_spans_reencoded(void **state)
{
    static const char latin1[] =
        "<?xml version='1.0' encoding='ISO-8859-1'?>\n<root>\n  <a>caf\xe9</a>\n</root>\n";
    g_autoptr(VnumaXmlSource) src = parse_ok(latin1);
    VnumaXmlSpan span;

    assert_false(vnuma_xml_source_span(src, node_at(src, "/root/a"), &span));
    assert_false(vnuma_xml_source_span(src, NULL, &span));
}

static void
test_indent(void **state)
{
    static const char doc[] =
        "<root>\n"
        "  <two>\n"
        "    <four/>\n"
        "  </two>\n"
        "\t<tab>\n"
        "\t\t<tabtab/>\n"
        "\t</tab>\n"
        " \t<mixed/>\n"
        "  <x/><after/>\n"
        "</root>";
    g_autoptr(VnumaXmlSource) src = parse_ok(doc);
    struct {
        const char *expr;
        const char *indent;
    } cases[] = {
        { "/root", "" },
        { "/root/two", "  " },
        { "/root/two/four", "    " },
        { "/root/tab", "\t" },
        { "/root/tab/tabtab", "\t\t" },
        { "/root/mixed", " \t" },
        { "/root/x", "  " },
        { "/root/after", "" },   /* something else precedes it on its line */
    };

    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *indent = vnuma_xml_source_indent(src, node_at(src, cases[i].expr));

        if (strcmp(indent, cases[i].indent) != 0) {
            print_error("%s: indent [%s], expected [%s]\n", cases[i].expr, indent, cases[i].indent);
            fail();
        }
    }
}

static void
test_refuses_doctype(void **state)
{
    static const char doc[] = "<!DOCTYPE domain>\n<domain type='kvm'><name>x</name></domain>\n";
    g_autofree char *message = parse_error(doc, strlen(doc), "domain XML");

    vnuma_test_assert_contains(message, "domain XML");
    vnuma_test_assert_contains(message, "DOCTYPE");
}

static char *
passwd_first_line(void)
{
    g_autofree char *passwd = NULL;
    char *newline;

    if (!g_file_get_contents("/etc/passwd", &passwd, NULL, NULL) || !*passwd)
        return g_strdup("root:x:0:0");
    newline = strchr(passwd, '\n');
    if (newline)
        *newline = '\0';
    return g_steal_pointer(&passwd);
}

static void
test_refuses_external_entity(void **state)
{
    static const char *const docs[] = {
        "<?xml version='1.0'?>\n<!DOCTYPE domain [\n"
        "  <!ENTITY x SYSTEM \"file:///etc/passwd\">\n]>\n"
        "<domain type='kvm'><name>&x;</name><description>&x;</description></domain>\n",
        "<!DOCTYPE domain [\n  <!ENTITY % p SYSTEM \"file:///etc/passwd\">\n  %p;\n]>\n"
        "<domain type='kvm'><name>y</name></domain>\n",
        "<!DOCTYPE domain SYSTEM \"file:///etc/passwd\">\n<domain type='kvm'/>\n",
        "<!DOCTYPE domain [\n  <!ENTITY x SYSTEM \"http://127.0.0.1:9/evil.xml\">\n]>\n"
        "<domain type='kvm'><name>&x;</name></domain>\n",
    };
    g_autofree char *passwd = passwd_first_line();

    for (gsize i = 0; i < G_N_ELEMENTS(docs); i++) {
        g_autofree char *message = parse_error(docs[i], strlen(docs[i]), "untrusted input");

        vnuma_test_assert_contains(message, "untrusted input");
        if (strstr(message, passwd) || strstr(message, "root:")) {
            print_error("the error shows /etc/passwd content: %s\n", message);
            fail();
        }
    }
}

static void
test_refuses_billion_laughs(void **state)
{
    GString *doc = g_string_new("<?xml version='1.0'?>\n<!DOCTYPE lolz [\n"
                                "  <!ENTITY lol0 \"lol\">\n");
    g_autofree char *message = NULL;
    gint64 begin = g_get_monotonic_time();

    /* Each level names the previous one ten times: 10^9 "lol"s. */
    for (guint i = 1; i <= 9; i++) {
        g_string_append_printf(doc, "  <!ENTITY lol%u \"", i);
        for (guint j = 0; j < 10; j++)
            g_string_append_printf(doc, "&lol%u;", i - 1);
        g_string_append(doc, "\">\n");
    }
    g_string_append(doc, "]>\n<lolz>&lol9;</lolz>\n");
    message = parse_error(doc->str, doc->len, "laughs");
    vnuma_test_assert_contains(message, "laughs");
    /* Refused without expanding 10^9 entities. */
    assert_true(g_get_monotonic_time() - begin < 5 * G_USEC_PER_SEC);
    g_string_free(doc, TRUE);
}

/* libxml2's depth limit holds (XML_PARSE_HUGE is never set): a deep
 * document is refused at once, not walked recursively later. */
static void
test_refuses_deep_nesting(void **state)
{
    static const guint depths[] = { 300, 200000 };

    for (gsize i = 0; i < G_N_ELEMENTS(depths); i++) {
        GString *doc = g_string_new("<domain type='kvm'><metadata>");
        g_autofree char *message = NULL;

        for (guint d = 0; d < depths[i]; d++)
            g_string_append(doc, "<a>");
        for (guint d = 0; d < depths[i]; d++)
            g_string_append(doc, "</a>");
        g_string_append(doc, "</metadata></domain>");
        message = parse_error(doc->str, doc->len, "deep");
        vnuma_test_assert_contains(message, "deep");
        vnuma_test_assert_contains(message, "depth");
        g_string_free(doc, TRUE);
    }
}

static void
test_size_limit(void **state)
{
    gsize len = VNUMA_XML_MAX_BYTES + 1;
    char *big = g_malloc(len);
    g_autofree char *message = NULL;
    g_autoptr(VnumaXmlSource) src = NULL;
    g_autoptr(GError) error = NULL;

    /* A well-formed document one byte over the limit. */
    memset(big, ' ', len);
    memcpy(big, "<a>", 3);
    memcpy(big + len - 4, "</a>", 4);
    message = parse_error(big, len, "stdin");
    vnuma_test_assert_contains(message, "too large");
    vnuma_test_assert_contains(message, "stdin");

    /* Exactly at the limit is accepted. */
    memcpy(big + len - 5, "</a>", 4);
    src = vnuma_xml_source_parse(big, len - 1, "stdin", &error);
    assert_non_null(src);
    assert_null(error);
    g_free(big);
}

static void
test_malformed_inputs_name_the_input(void **state)
{
    static const struct {
        const char *text;
        const char *expect;
    } cases[] = {
        { "", "empty" },
        { "   \n\t", "empty" },
        { "hello, world", "not XML" },
        { "{\"json\": true}", "not XML" },
        { "<domain type='kvm'><name>x</na", "not well-formed" },
        { "<domain type='kvm'><name>x</name>", "not well-formed" },
        { "<domain type='kvm' type='qemu'/>", "not well-formed" },
        { "<a><b></a></b>", "not well-formed" },
        { "<a/><b/>", "not well-formed" },
        { "<!-- only a comment -->", "" },
        /* Not UTF-8, yet declared as (by default) UTF-8. */
        { "<domain type='kvm'><name>caf\xe9</name></domain>", "not proper UTF-8" },
        { "<domain type='kvm'><name>\xc0\xaf\xff\xfe</name></domain>", "not proper UTF-8" },
        { "<?xml version='1.0'?>", "" },
    };

    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *message = parse_error(cases[i].text, strlen(cases[i].text),
                                               "the domain file /tmp/x.xml");

        vnuma_test_assert_contains(message, "the domain file /tmp/x.xml");
        vnuma_test_assert_contains(message, cases[i].expect);
        assert_null(strchr(message, '\n'));
    }
    /* A length shorter than the text: only @len bytes count. */
    {
        static const char doc[] = "<domain type='kvm'><name>x</name></domain>";
        g_autofree char *message = parse_error(doc, 20, "cut");

        vnuma_test_assert_contains(message, "cut");
    }
}

static void
test_scale_kib(void **state)
{
    static const struct {
        guint64 value;
        const char *unit;
        guint64 kib;
    } cases[] = {
        { 2048, "b", 2 },
        { 1, "b", 1 },             /* bytes round up to whole KiB */
        { 0, "b", 0 },
        { 4096, "bytes", 4 },
        { 1025, "bytes", 2 },
        { 1024, "KB", 1000 },
        { 1, "KB", 1 },            /* 1000 bytes → 1 KiB, rounded up */
        { 5, "k", 5 },
        { 7, "KiB", 7 },
        { 33554432, NULL, 33554432 },   /* libvirt's default unit is KiB */
        { 33554432, "", 33554432 },
        { 1, "MB", 977 },          /* 1000000 / 1024 = 976.56 */
        { 1000, "MB", 976563 },
        { 1, "M", 1024 },
        { 512, "MiB", 524288 },
        { 1, "GB", 976563 },
        { 32, "G", 33554432 },
        { 48, "GiB", 50331648 },
        { 1, "TB", 976562500 },
        { 2, "T", G_GUINT64_CONSTANT(2147483648) },
        { 1, "TiB", G_GUINT64_CONSTANT(1073741824) },
    };

    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) error = NULL;
        guint64 kib = G_MAXUINT64;

        if (!vnuma_xml_scale_kib(cases[i].value, cases[i].unit, &kib, &error)) {
            print_error("%" G_GUINT64_FORMAT " %s: %s\n", cases[i].value, cases[i].unit,
                        error->message);
            fail();
        }
        if (kib != cases[i].kib) {
            print_error("%" G_GUINT64_FORMAT " %s = %" G_GUINT64_FORMAT " KiB, expected %"
                        G_GUINT64_FORMAT "\n", cases[i].value, cases[i].unit, kib, cases[i].kib);
            fail();
        }
    }
}

static void
test_scale_kib_errors(void **state)
{
    static const char *const bad_units[] = { "XB", "KiBB", "kilobytes", "iB", "1", "Q" };

    for (gsize i = 0; i < G_N_ELEMENTS(bad_units); i++) {
        g_autoptr(GError) error = NULL;
        guint64 kib = 42;

        assert_false(vnuma_xml_scale_kib(1, bad_units[i], &kib, &error));
        assert_non_null(error);
        assert_true(g_error_matches(error, VNUMA_ERROR, VNUMA_ERROR_INVALID));
        vnuma_test_assert_contains(error->message, "unknown memory unit");
        vnuma_test_assert_contains(error->message, bad_units[i]);
        assert_int_equal(kib, 42);
    }
    {
        g_autoptr(GError) error = NULL;
        guint64 kib;

        assert_false(vnuma_xml_scale_kib(G_MAXUINT64 / 2, "TiB", &kib, &error));
        vnuma_test_assert_contains(error->message, "too large");
    }
}

/* libvirt's own parser (virScaleInteger) and its schema take the unit
 * case-insensitively and know P and E and 'byte': checked against
 * libvirt 9.0's test driver, which stores <memory unit='pib'>1</memory>
 * as 1099511627776 KiB and <currentMemory unit='mb'>1000</...> as
 * 976563 KiB. A domain libvirt accepts must not be unreadable here. */
static void
test_scale_kib_libvirt_spellings(void **state)
{
    static const struct {
        guint64 value;
        const char *unit;
        guint64 kib;
    } cases[] = {
        { 1000, "mb", 976563 },
        { 3, "g", 3145728 },
        { 2, "kib", 2 },
        { 1, "MIB", 1024 },
        { 1, "gib", 1048576 },
        { 1, "Kb", 1 },
        { 2048, "B", 2 },
        { 2048, "byte", 2 },
        { 2048, "BYTES", 2 },
        { 1, "P", G_GUINT64_CONSTANT(1099511627776) },
        { 1, "pib", G_GUINT64_CONSTANT(1099511627776) },
        { 1, "PB", G_GUINT64_CONSTANT(976562500000) },
        { 1, "E", G_GUINT64_CONSTANT(1125899906842624) },
        { 1, "EiB", G_GUINT64_CONSTANT(1125899906842624) },
    };

    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) error = NULL;
        guint64 kib = 0;

        if (!vnuma_xml_scale_kib(cases[i].value, cases[i].unit, &kib, &error)) {
            print_error("unit '%s' (valid for libvirt) refused: %s\n", cases[i].unit, error->message);
            g_clear_error(&error);   /* fail() skips the cleanups */
            fail();
        }
        if (kib != cases[i].kib) {
            print_error("%" G_GUINT64_FORMAT " %s = %" G_GUINT64_FORMAT " KiB, expected %"
                        G_GUINT64_FORMAT "\n", cases[i].value, cases[i].unit, kib, cases[i].kib);
            fail();
        }
    }
}

static void
test_memory_kib(void **state)
{
    static const char doc[] =
        "<domain>\n"
        "  <memory unit='GiB'> 48 </memory>\n"
        "  <currentMemory>1024</currentMemory>\n"
        "  <maxMemory unit='MB'>1000</maxMemory>\n"
        "  <bad unit='KiB'>12x</bad>\n"
        "  <badunit unit='parsecs'>12</badunit>\n"
        "  <negative>-5</negative>\n"
        "</domain>";
    g_autoptr(VnumaXmlSource) src = parse_ok(doc);
    guint64 kib = 0;

    assert_true(vnuma_xml_memory_kib(node_at(src, "/domain/memory"), "unit", &kib, NULL));
    assert_int_equal(kib, 50331648);
    assert_true(vnuma_xml_memory_kib(node_at(src, "/domain/currentMemory"), "unit", &kib, NULL));
    assert_int_equal(kib, 1024);
    assert_true(vnuma_xml_memory_kib(node_at(src, "/domain/maxMemory"), "unit", &kib, NULL));
    assert_int_equal(kib, 976563);
    {
        g_autoptr(GError) error = NULL;

        assert_false(vnuma_xml_memory_kib(node_at(src, "/domain/bad"), "unit", &kib, &error));
        vnuma_test_assert_contains(error->message, "<bad>");
        vnuma_test_assert_contains(error->message, "12x");
    }
    {
        g_autoptr(GError) error = NULL;

        assert_false(vnuma_xml_memory_kib(node_at(src, "/domain/badunit"), "unit", &kib, &error));
        vnuma_test_assert_contains(error->message, "parsecs");
    }
    {
        g_autoptr(GError) error = NULL;

        assert_false(vnuma_xml_memory_kib(node_at(src, "/domain/negative"), "unit", &kib, &error));
        vnuma_test_assert_contains(error->message, "negative");
    }
}

static void
test_prop_uint(void **state)
{
    static const char doc[] =
        "<cputune>\n"
        "  <vcpupin vcpu='3' cpuset='1'/>\n"
        "  <vcpupin vcpu=' 7 ' cpuset='1'/>\n"
        "  <vcpupin vcpu='x' cpuset='1'/>\n"
        "  <vcpupin vcpu='-1' cpuset='1'/>\n"
        "  <vcpupin vcpu='' cpuset='1'/>\n"
        "  <vcpupin vcpu='18446744073709551616' cpuset='1'/>\n"
        "  <vcpupin vcpu='0x10' cpuset='1'/>\n"
        "  <vcpupin cpuset='1'/>\n"
        "</cputune>";
    g_autoptr(VnumaXmlSource) src = parse_ok(doc);
    g_autoptr(xmlXPathContext) xpath = vnuma_xml_xpath_new(vnuma_xml_source_doc(src));
    g_autoptr(GPtrArray) pins = vnuma_xml_nodes(xpath, NULL, "/cputune/vcpupin");
    guint64 value = 0;
    gboolean present = FALSE;

    assert_int_equal(pins->len, 8);
    assert_true(vnuma_xml_prop_uint(pins->pdata[0], "vcpu", &value, &present, NULL));
    assert_true(present);
    assert_int_equal(value, 3);
    assert_true(vnuma_xml_prop_uint(pins->pdata[1], "vcpu", &value, &present, NULL));
    assert_true(present);
    assert_int_equal(value, 7);
    for (guint i = 2; i <= 6; i++) {
        g_autoptr(GError) error = NULL;

        present = FALSE;
        assert_false(vnuma_xml_prop_uint(pins->pdata[i], "vcpu", &value, &present, &error));
        assert_true(present);
        assert_non_null(error);
        assert_true(g_error_matches(error, VNUMA_ERROR, VNUMA_ERROR_INVALID));
        vnuma_test_assert_contains(error->message, "vcpupin");
        vnuma_test_assert_contains(error->message, "vcpu=");
    }
    {
        g_autoptr(GError) error = NULL;

        assert_false(vnuma_xml_prop_uint(pins->pdata[2], "vcpu", &value, &present, &error));
        vnuma_test_assert_contains(error->message, "<vcpupin vcpu='x'>");
    }
    value = 99;
    present = TRUE;
    assert_true(vnuma_xml_prop_uint(pins->pdata[7], "vcpu", &value, &present, NULL));
    assert_false(present);
    assert_int_equal(value, 99);
}

static void
test_xpath_helpers(void **state)
{
    static const char doc[] =
        "<domain type='kvm'>\n"
        "  <name>  guest-1 </name>\n"
        "  <metadata>\n"
        "    <vnuma:policy xmlns:vnuma='urn:x-vnuma:domain:1' managed='yes'/>\n"
        "    <other:policy xmlns:other='urn:x-other' managed='no'/>\n"
        "  </metadata>\n"
        "  <empty></empty>\n"
        "</domain>";
    g_autoptr(VnumaXmlSource) src = parse_ok(doc);
    g_autoptr(xmlXPathContext) xpath = vnuma_xml_xpath_new(vnuma_xml_source_doc(src));
    g_autofree char *name = vnuma_xml_string(xpath, NULL, "normalize-space(/domain/name)");
    g_autofree char *empty = vnuma_xml_string(xpath, NULL, "string(/domain/empty)");
    g_autofree char *type = NULL;
    g_autofree char *missing = NULL;
    xmlNode *policy = vnuma_xml_node(xpath, NULL, "/domain/metadata/vnuma:policy");
    g_autoptr(GPtrArray) none = vnuma_xml_nodes(xpath, NULL, "/domain/nothing");

    assert_str_equal(name, "guest-1");
    assert_null(empty);
    assert_non_null(policy);
    type = vnuma_xml_prop(xmlDocGetRootElement(vnuma_xml_source_doc(src)), "type");
    assert_str_equal(type, "kvm");
    missing = vnuma_xml_prop(policy, "preferHT");
    assert_null(missing);
    {
        g_autofree char *managed = vnuma_xml_prop(policy, "managed");

        /* The vnuma prefix means vnuma's namespace, not any 'policy'. */
        assert_str_equal(managed, "yes");
    }
    assert_int_equal(none->len, 0);
    assert_null(vnuma_xml_node(xpath, NULL, "/domain/nothing"));
    /* A relative expression uses the given context node. */
    assert_ptr_equal(vnuma_xml_node(xpath, policy->parent, "vnuma:policy"), policy);
}

/* Plain paths are evaluated step by step (vnuma-xmlutil.c explains why):
 * the same nodes, in the same order, as libxml2's own evaluation of the
 * path as written, from the document and from a context node, including
 * names that recur at other depths and under other parents. */
static void
test_plain_paths_same_nodes(void **state)
{
    static const char doc[] =
        "<domain><devices><memory><target><size>1</size></target></memory>"
        "<disk><target dev='a'/></disk><memory><target><size>2</size><size>3</size></target></memory>"
        "</devices><cpu><numa><cell id='0'/><cell id='1'/></numa></cpu>"
        "<cputune><vcpupin vcpu='0'/><vcpupin vcpu='1'/></cputune>"
        "<memory>4</memory><on-crash>x</on-crash><devices><memory/></devices></domain>";
    static const struct {
        const char *context;
        const char *expr;
        int count;
    } cases[] = {
        { NULL, "/domain/devices/memory/target/size", 3 },
        { NULL, "/domain/devices/memory", 3 },
        { NULL, "/domain/memory", 1 },
        { NULL, "/domain/cpu/numa/cell", 2 },
        { NULL, "/domain/cputune/vcpupin", 2 },
        { NULL, "/domain/on-crash", 1 },
        { NULL, "/domain/absent/size", 0 },
        { NULL, "devices/memory/target", 2 },
        { NULL, "/", 1 },
        { "/domain/cpu", "numa/cell", 2 },
        { "/domain/devices", "memory", 2 },
    };
    g_autoptr(VnumaXmlSource) src = parse_ok(doc);
    g_autoptr(xmlXPathContext) xpath = vnuma_xml_xpath_new(vnuma_xml_source_doc(src));

    (void) state;
    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        xmlNode *context = cases[i].context ? node_at(src, cases[i].context) : NULL;
        g_autoptr(GPtrArray) got = vnuma_xml_nodes(xpath, context, cases[i].expr);
        g_autoptr(xmlXPathObject) want = NULL;

        xpath->node = context ? context : xmlDocGetRootElement(vnuma_xml_source_doc(src));
        want = xmlXPathEvalExpression(BAD_CAST cases[i].expr, xpath);
        assert_non_null(want);
        if ((int) got->len != cases[i].count ||
            (want->nodesetval ? want->nodesetval->nodeNr : 0) != cases[i].count)
            fail_msg("%s: %u nodes, libxml2 %d, expected %d", cases[i].expr, got->len,
                     want->nodesetval ? want->nodesetval->nodeNr : 0, cases[i].count);
        for (guint n = 0; n < got->len; n++)
            assert_ptr_equal(got->pdata[n], want->nodesetval->nodeTab[n]);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spans),
        cmocka_unit_test(test_plain_paths_same_nodes),
        cmocka_unit_test(test_spans_large_document),
        cmocka_unit_test(test_spans_reencoded),
        cmocka_unit_test(test_indent),
        cmocka_unit_test(test_refuses_doctype),
        cmocka_unit_test(test_refuses_external_entity),
        cmocka_unit_test(test_refuses_billion_laughs),
        cmocka_unit_test(test_refuses_deep_nesting),
        cmocka_unit_test(test_size_limit),
        cmocka_unit_test(test_malformed_inputs_name_the_input),
        cmocka_unit_test(test_scale_kib),
        cmocka_unit_test(test_scale_kib_errors),
        cmocka_unit_test(test_scale_kib_libvirt_spellings),
        cmocka_unit_test(test_memory_kib),
        cmocka_unit_test(test_prop_uint),
        cmocka_unit_test(test_xpath_helpers),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
