/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "tests/testutil.h"

#include <unistd.h>
#include <glib/gstdio.h>

#include "xml/vnuma-caps.h"

char *
vnuma_test_path(const char *relative)
{
    const char *srcdir = g_getenv("VNUMA_SRCDIR");

    if (!srcdir) {
        print_error("VNUMA_SRCDIR is not set; run the tests through meson\n");
        fail();
    }
    return g_build_filename(srcdir, relative, NULL);
}

char *
vnuma_test_read(const char *relative, gsize *len)
{
    g_autofree char *path = vnuma_test_path(relative);
    g_autoptr(GError) error = NULL;
    char *data = NULL;

    if (!g_file_get_contents(path, &data, len, &error)) {
        print_error("%s\n", error->message);
        fail();
    }
    return data;
}

VnumaHost *
vnuma_test_host(const char *name)
{
    g_autofree char *relative = g_strdup_printf("examples/hosts/%s.xml", name);
    g_autofree char *path = vnuma_test_path(relative);
    g_autoptr(GError) error = NULL;
    VnumaHost *host = vnuma_host_from_caps_file(path, &error);

    if (!host) {
        print_error("%s: %s\n", path, error->message);
        fail();
    }
    return host;
}

void
vnuma_test_assert_contains(const char *haystack, const char *needle)
{
    if (!haystack || !strstr(haystack, needle)) {
        print_error("text does not contain\n[%s]\n--- text ---\n%s\n", needle,
                    haystack ? haystack : "(null)");
        fail();
    }
}

void
vnuma_test_assert_lacks(const char *haystack, const char *needle)
{
    if (!haystack || strstr(haystack, needle)) {
        print_error("text contains\n[%s]\n--- text ---\n%s\n", needle,
                    haystack ? haystack : "(null)");
        fail();
    }
}

void
vnuma_test_assert_valid(const char *xml, const char *schema)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *path = NULL;
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    int fd = g_file_open_tmp("vnuma-test-XXXXXX.xml", &path, &error);
    int status = -1;

    if (fd < 0 || !g_file_set_contents(path, xml, -1, &error)) {
        print_error("cannot write a temporary file: %s\n", error->message);
        fail();
    }
    close(fd);
    const char *argv[] = { "virt-xml-validate", path, schema, NULL };
    if (!g_spawn_sync(NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                      &out, &err, &status, &error)) {
        print_error("cannot run virt-xml-validate: %s\n", error->message);
        g_unlink(path);
        fail();
    }
    g_unlink(path);
    if (!g_spawn_check_wait_status(status, NULL)) {
        print_error("virt-xml-validate rejects the document:\n%s%s\n--- document ---\n%s\n",
                    out, err, xml);
        fail();
    }
}

VnumaCpuSet *
vnuma_test_cpuset(const char *text)
{
    g_autoptr(GError) error = NULL;
    VnumaCpuSet *set = vnuma_cpuset_parse(text, &error);

    if (!set) {
        print_error("'%s': %s\n", text, error->message);
        fail();
    }
    return set;
}

VnumaRequest *
vnuma_test_request(guint vcpus, guint64 memory_kib)
{
    VnumaRequest *r = vnuma_request_new();

    r->name = g_strdup("guest");
    r->type = g_strdup("kvm");
    r->vcpus = vcpus;
    r->current_vcpus = vcpus;
    r->memory_kib = memory_kib;
    return r;
}

void
vnuma_test_dump_layout(const VnumaLayout *layout)
{
    print_error("--- layout: managed=%d reason=%s L=%u exposed=%d\n", layout->managed,
                layout->reason ? layout->reason : "-", layout->client_limit, layout->exposed);
    for (guint i = 0; i < layout->notes->len; i++)
        print_error("  note: %s\n", (const char *) layout->notes->pdata[i]);
    for (guint i = 0; i < layout->warnings->len; i++)
        print_error("  warning: %s\n", (const char *) layout->warnings->pdata[i]);
}
