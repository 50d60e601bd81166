/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The capabilities cache (probe/vnuma-caps-cache.c) on the example hosts
 * and on copies of them changed every way a file changes: a cache
 * serves only the very file it was read from, and a bad cache is only
 * a slower read. */
#include "tests/testutil.h"

#include <fcntl.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "probe/vnuma-caps-cache.h"
#include "xml/vnuma-caps.h"

typedef struct {
    char *dir;
    char *cache;
} Fixture;

static int
setup(void **state)
{
    Fixture *f = g_new0(Fixture, 1);

    f->dir = g_dir_make_tmp("vnuma-caps-cache-XXXXXX", NULL);
    assert_non_null(f->dir);
    f->cache = g_build_filename(f->dir, "cache", NULL);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    Fixture *f = *state;
    g_autoptr(GDir) dir = g_dir_open(f->dir, 0, NULL);
    const char *name;

    while (dir && (name = g_dir_read_name(dir))) {
        g_autofree char *path = g_build_filename(f->dir, name, NULL);

        g_unlink(path);
    }
    g_rmdir(f->dir);
    g_free(f->cache);
    g_free(f->dir);
    g_free(f);
    return 0;
}

static VnumaHost *
cached(const char *path, const char *cache)
{
    g_autoptr(GError) error = NULL;
    VnumaHost *host = vnuma_host_from_caps_file_cached(path, cache, &error);

    if (!host)
        print_error("%s: %s\n", path, error->message);
    assert_non_null(host);
    return host;
}

/* @got describes the host the file at @path holds now. */
static void
assert_host_of(const VnumaHost *got, const char *path)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(VnumaHost) live = vnuma_host_from_caps_file(path, &error);
    g_autofree char *want = NULL;
    g_autofree char *have = vnuma_host_describe(got);

    assert_non_null(live);
    want = vnuma_host_describe(live);
    if (!g_str_equal(want, have)) {
        print_error("%s: the host served is not the file's\n--- file ---\n%s\n--- served ---\n%s\n", path,
                    want, have);
        fail();
    }
    assert_str_equal(got->fingerprint, live->fingerprint);
}

/* A read of @path through the cache gives the file's host. */
static void
assert_read_is_file(const Fixture *f, const char *path)
{
    g_autoptr(VnumaHost) host = cached(path, f->cache);

    assert_host_of(host, path);
}

/* Waits until @path was last changed VNUMA_CAPS_CACHE_SETTLE_S ago. */
static void
let_settle(const char *path)
{
    struct stat st;

    assert_int_equal(stat(path, &st), 0);
    while (g_get_real_time() / G_USEC_PER_SEC <= st.st_ctim.tv_sec + VNUMA_CAPS_CACHE_SETTLE_S)
        g_usleep(100 * 1000);
}

static char *
copy_example(const Fixture *f, const char *name)
{
    g_autofree char *text = g_strdup_printf("examples/hosts/%s.xml", name);
    g_autofree char *data = vnuma_test_read(text, NULL);
    char *path = g_build_filename(f->dir, name, NULL);

    assert_true(g_file_set_contents(path, data, -1, NULL));
    return path;
}

/* The cache's text with @from replaced once by @to (same mode). */
static void
doctor_cache(const Fixture *f, const char *from, const char *to)
{
    g_autofree char *text = NULL;
    g_autoptr(GString) out = NULL;

    assert_true(g_file_get_contents(f->cache, &text, NULL, NULL));
    assert_non_null(strstr(text, from));
    out = g_string_new(text);
    g_string_replace(out, from, to, 1);
    assert_true(g_file_set_contents_full(f->cache, out->str, -1, G_FILE_SET_CONTENTS_NONE, 0644, NULL));
}

/* Every example host comes back from its cache as parsed from the file,
 * fingerprint included; and the second read is the cache's (a doctored
 * cache shows through). */
static void
test_every_example_served(void **state)
{
    Fixture *f = *state;
    g_autofree char *dir = vnuma_test_path("examples/hosts");
    g_autoptr(GDir) handle = g_dir_open(dir, 0, NULL);
    const char *name;
    guint n = 0;

    assert_non_null(handle);
    while ((name = g_dir_read_name(handle))) {
        g_autofree char *path = g_build_filename(dir, name, NULL);
        g_autoptr(VnumaHost) first = NULL;
        g_autoptr(VnumaHost) second = NULL;
        g_autoptr(VnumaHost) doctored = NULL;
        const VnumaHostNode *node;

        if (!g_str_has_suffix(name, ".xml"))
            continue;
        let_settle(path);
        g_unlink(f->cache);
        first = cached(path, f->cache);
        assert_true(g_file_test(f->cache, G_FILE_TEST_IS_REGULAR));
        second = cached(path, f->cache);
        assert_host_of(first, path);
        assert_host_of(second, path);
        node = second->nodes->pdata[0];
        {
            g_autofree char *line = g_strdup_printf("\nnode %u %" G_GUINT64_FORMAT "\n", node->id, node->memory_kib);
            g_autofree char *other = g_strdup_printf("\nnode %u %" G_GUINT64_FORMAT "\n", node->id, node->memory_kib + 4);

            doctor_cache(f, line, other);
        }
        doctored = cached(path, f->cache);
        assert_int_equal(((const VnumaHostNode *) doctored->nodes->pdata[0])->memory_kib, node->memory_kib + 4);
        n++;
    }
    assert_true(n >= 8);
}

/* @path, settled, read into the cache, and the cache then doctored so
 * that serving it would show. */
static void
cache_doctored(const Fixture *f, const char *path)
{
    let_settle(path);
    vnuma_host_free(cached(path, f->cache));
    doctor_cache(f, "\nnode 0 ", "\nnode 0 1");
}

/* Changed in place (same size), replaced, touched, renamed away: each
 * time the file is read again, never the cache. */
static void
test_changed_file_never_served(void **state)
{
    Fixture *f = *state;
    g_autofree char *path = copy_example(f, "xeon-2s10c-ht");
    g_autofree char *moved = g_build_filename(f->dir, "moved", NULL);
    g_autofree char *text = NULL;
    g_autoptr(GString) changed = NULL;
    struct stat st;

    /* In place: node 0's memory one digit different, the size the same. */
    let_settle(path);
    vnuma_host_free(cached(path, f->cache));
    assert_true(g_file_get_contents(path, &text, NULL, NULL));
    changed = g_string_new(text);
    assert_true(g_string_replace(changed, "<memory unit='KiB'>", "<memory unit='KiB'>1", 1) == 1);
    g_string_truncate(changed, changed->len - 1);
    {
        int fd = open(path, O_WRONLY);

        assert_true(fd >= 0);
        assert_int_equal(write(fd, changed->str, changed->len), (ssize_t) changed->len);
        close(fd);
    }
    assert_read_is_file(f, path);
    /* Replaced by another file of the same bytes and times. */
    cache_doctored(f, path);
    assert_int_equal(stat(path, &st), 0);
    {
        g_autofree char *other = g_build_filename(f->dir, "other", NULL);
        struct timespec times[2] = { st.st_atim, st.st_mtim };

        assert_true(g_file_set_contents(other, changed->str, -1, NULL));
        assert_int_equal(utimensat(AT_FDCWD, other, times, 0), 0);
        assert_int_equal(g_rename(other, path), 0);
    }
    assert_read_is_file(f, path);
    /* Touched back to its own modification time: the change time moves. */
    cache_doctored(f, path);
    assert_int_equal(stat(path, &st), 0);
    {
        struct timespec times[2] = { st.st_atim, st.st_mtim };

        assert_int_equal(utimensat(AT_FDCWD, path, times, 0), 0);
    }
    assert_read_is_file(f, path);
    /* Gone: an error naming the file, as without the cache. */
    assert_int_equal(g_rename(path, moved), 0);
    {
        g_autoptr(GError) error = NULL;

        assert_null(vnuma_host_from_caps_file_cached(path, f->cache, &error));
        assert_non_null(error);
        vnuma_test_assert_contains(error->message, path);
    }
}

/* A file changed within the last seconds is read, not cached: its times
 * may not tell its next change apart yet. */
static void
test_recent_file_not_cached(void **state)
{
    Fixture *f = *state;
    g_autofree char *path = copy_example(f, "small-2node");

    assert_read_is_file(f, path);
    assert_false(g_file_test(f->cache, G_FILE_TEST_EXISTS));
    let_settle(path);
    vnuma_host_free(cached(path, f->cache));
    assert_true(g_file_test(f->cache, G_FILE_TEST_EXISTS));
}

/* A cache others could have written, one cut short or of garbage, one of
 * another file, one that cannot be written: the file's host, no error. */
static void
test_bad_cache_is_a_live_read(void **state)
{
    Fixture *f = *state;
    g_autofree char *path = copy_example(f, "epyc-nps4-2s");
    g_autofree char *other = copy_example(f, "xeon-4s4c-ht");
    g_autofree char *good = NULL;
    gsize len;

    let_settle(path);
    let_settle(other);
    vnuma_host_free(cached(path, f->cache));
    assert_true(g_file_get_contents(f->cache, &good, &len, NULL));
    /* Writable by the group. */
    doctor_cache(f, "\nnode 0 ", "\nnode 0 1");
    assert_int_equal(g_chmod(f->cache, 0664), 0);
    assert_read_is_file(f, path);
    /* Cut in the middle of a line, then garbage after a good header. */
    for (guint i = 0; i < 2; i++) {
        g_autofree char *bad = i == 0 ? g_strndup(good, len / 2)
                                      : g_strdup_printf("%.*scpu x y z\n", (int) (strstr(good, "\nnode ") - good + 1), good);

        g_unlink(f->cache);
        assert_true(g_file_set_contents_full(f->cache, bad, -1, G_FILE_SET_CONTENTS_NONE, 0644, NULL));
        assert_read_is_file(f, path);
    }
    /* The cache of one file is no answer for another. */
    g_unlink(f->cache);
    vnuma_host_free(cached(path, f->cache));
    assert_read_is_file(f, other);
    /* Nowhere to write it. */
    {
        g_autoptr(VnumaHost) host = cached(path, "/proc/vnuma-no-such-dir/cache");

        assert_host_of(host, path);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_every_example_served, setup, teardown),
        cmocka_unit_test_setup_teardown(test_changed_file_never_served, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recent_file_not_cached, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_cache_is_a_live_read, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
