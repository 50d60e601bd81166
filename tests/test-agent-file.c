/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vnuma_file_replace: whole-file replace, mode, no symlink followed, no
 * temporary left behind, the old file kept on failure. */
#include "tests/testutil.h"

#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/vnuma-agent-file.h"

typedef struct {
    char *dir;
    char *path;
} Fixture;

static int
setup(void **state)
{
    Fixture *f = g_new0(Fixture, 1);

    f->dir = g_dir_make_tmp("vnuma-file-XXXXXX", NULL);
    f->path = g_build_filename(f->dir, "vnuma.prom", NULL);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    Fixture *f = *state;
    g_autoptr(GDir) listing = g_dir_open(f->dir, 0, NULL);
    const char *name;

    while (listing && (name = g_dir_read_name(listing))) {
        g_autofree char *p = g_build_filename(f->dir, name, NULL);

        g_unlink(p);
    }
    g_rmdir(f->dir);
    g_free(f->dir);
    g_free(f->path);
    g_free(f);
    return 0;
}

static guint
count_entries(const char *dir)
{
    g_autoptr(GDir) listing = g_dir_open(dir, 0, NULL);
    guint n = 0;

    while (g_dir_read_name(listing))
        n++;
    return n;
}

static void
test_replaces_with_mode(void **state)
{
    Fixture *f = *state;
    g_autoptr(GError) error = NULL;
    g_autofree char *text = NULL;
    mode_t old_umask = umask(0077);
    GStatBuf st;

    assert_true(g_file_set_contents(f->path, "stale\n", -1, NULL));
    assert_true(vnuma_file_replace(f->path, "fresh\n", 6, 0644, &error));
    umask(old_umask);
    assert_true(g_file_get_contents(f->path, &text, NULL, NULL));
    assert_string_equal(text, "fresh\n");
    assert_int_equal(g_lstat(f->path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0644);   /* despite umask 077 */
    assert_int_equal(count_entries(f->dir), 1);
}

static void
test_symlink_not_followed(void **state)
{
    Fixture *f = *state;
    g_autofree char *target = g_build_filename(f->dir, "victim", NULL);
    g_autofree char *text = NULL;
    g_autoptr(GError) error = NULL;
    GStatBuf st;

    assert_true(g_file_set_contents(target, "precious\n", -1, NULL));
    assert_int_equal(symlink(target, f->path), 0);
    assert_true(vnuma_file_replace(f->path, "metrics\n", 8, 0644, &error));
    /* The link itself was replaced by a regular file; its target kept. */
    assert_int_equal(g_lstat(f->path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_true(g_file_get_contents(target, &text, NULL, NULL));
    assert_string_equal(text, "precious\n");
    assert_int_equal(count_entries(f->dir), 2);
}

static void
test_failure_keeps_old(void **state)
{
    Fixture *f = *state;
    g_autofree char *sub = g_build_filename(f->dir, "vnuma.prom", "x", NULL);
    g_autofree char *text = NULL;
    g_autoptr(GError) error = NULL;

    assert_true(g_file_set_contents(f->path, "old\n", -1, NULL));
    /* A directory that does not exist: an error naming the path. */
    assert_false(vnuma_file_replace("/nonexistent-vnuma-dir/vnuma.prom", "x", 1, 0644, &error));
    assert_non_null(strstr(error->message, "/nonexistent-vnuma-dir/"));
    g_clear_error(&error);
    /* A rename that fails (the target is a non-empty directory): the
     * temporary goes, nothing else changes. */
    assert_int_equal(g_unlink(f->path), 0);
    assert_int_equal(g_mkdir(f->path, 0755), 0);
    assert_true(g_file_set_contents(sub, "keep\n", -1, NULL));
    assert_false(vnuma_file_replace(f->path, "new\n", 4, 0644, &error));
    assert_non_null(strstr(error->message, "rename"));
    assert_int_equal(count_entries(f->dir), 1);
    assert_true(g_file_get_contents(sub, &text, NULL, NULL));
    assert_string_equal(text, "keep\n");
    g_unlink(sub);
    g_rmdir(f->path);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_replaces_with_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symlink_not_followed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failure_keeps_old, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
