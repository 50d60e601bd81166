/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Memory per host node from /proc/PID/numa_maps, and the QEMU pid file. */
#include "tests/testutil.h"

#include <unistd.h>
#include <glib/gstdio.h>

#include "agent/vnuma-agent-numamaps.h"

/* The shape of a QEMU process's numa_maps on a two-node host: the
 * binary and libraries, guest RAM backed by 2 MiB huge pages bound to
 * node 1 (memory-backend-file, policy bind), anonymous RAM spread over
 * both nodes, a memfd, a mapping with no resident page, heap and stack. */
static const char qemu_numa_maps[] =
    "55d0c8a00000 default file=/usr/bin/qemu-system-x86_64 mapped=1031 active=0 N0=1031 kernelpagesize_kB=4\n"
    "55d0c9007000 default file=/usr/bin/qemu-system-x86_64 anon=251 dirty=251 active=0 N0=200 N1=51 kernelpagesize_kB=4\n"
    "55d0ca1f2000 default heap anon=4096 dirty=4096 active=2048 N0=4000 N1=96 kernelpagesize_kB=4\n"
    "7f1a00000000 bind:1 file=/dev/hugepages/libvirt/qemu/1-guest/qemu_back_mem.ram-node1.Kx9Lz2 huge dirty=512 N1=512 kernelpagesize_kB=2048\n"
    "7f1b00000000 default anon=262144 dirty=262144 active=131072 N0=200000 N1=62144 kernelpagesize_kB=4\n"
    "7f1c40000000 prefer:0 file=/memfd:pc.ram\\040(deleted) dirty=1024 N0=1024 kernelpagesize_kB=4\n"
    "7f1c80000000 default file=/usr/lib/x86_64-linux-gnu/libc.so.6 mapped=360 mapmax=40 N0=360 kernelpagesize_kB=4\n"
    "7f1c90000000 default\n"
    "7f1ca0000000 interleave:0-1 anon=16 dirty=16 N0=8 N1=8 kernelpagesize_kB=4\n"
    "7ffd1e8b4000 default stack anon=33 dirty=33 active=0 N0=33 kernelpagesize_kB=4\n";

static void
test_qemu_sample(void **state)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GArray) kib = vnuma_numa_maps_parse(qemu_numa_maps, &error);
    guint64 node0 = (1031 + 200 + 4000 + 200000 + 1024 + 360 + 8 + 33) * 4ull;
    guint64 node1 = (51 + 96 + 62144 + 8) * 4ull + 512 * 2048ull;

    assert_non_null(kib);
    assert_int_equal(kib->len, 2);
    assert_int_equal(g_array_index(kib, guint64, 0), node0);
    assert_int_equal(g_array_index(kib, guint64, 1), node1);
}

static void
test_sparse_nodes(void **state)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GArray) kib = vnuma_numa_maps_parse("7f00 default anon=3 N3=3 kernelpagesize_kB=4\n\n", &error);

    assert_int_equal(kib->len, 4);
    assert_int_equal(g_array_index(kib, guint64, 0), 0);
    assert_int_equal(g_array_index(kib, guint64, 3), 12);
}

static void
test_malformed(void **state)
{
    static const char *const bad[] = {
        "7f00 default N0=x kernelpagesize_kB=4\n",
        "7f00 default N99999=1 kernelpagesize_kB=4\n",
        "7f00 default N0=1 kernelpagesize_kB=0\n",
        "7f00\n",
    };

    for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GArray) kib = vnuma_numa_maps_parse(bad[i], &error);

        assert_null(kib);
        assert_non_null(strstr(error->message, "line 1"));
    }
}

static void
test_own_process(void **state)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GArray) kib = vnuma_numa_maps_read(getpid(), &error);
    guint64 total = 0;

    if (!kib)
        print_error("%s\n", error->message);
    assert_non_null(kib);
    for (guint n = 0; n < kib->len; n++)
        total += g_array_index(kib, guint64, n);
    assert_true(total > 0);
}

static void
test_pid_file(void **state)
{
    g_autofree char *dir = g_dir_make_tmp("vnuma-run-XXXXXX", NULL);
    g_autofree char *good = g_build_filename(dir, "guest.pid", NULL);
    g_autofree char *bad = g_build_filename(dir, "broken.pid", NULL);
    g_autoptr(GError) error = NULL;
    pid_t pid = 0;

    assert_true(g_file_set_contents(good, "4242\n", -1, NULL));
    assert_true(g_file_set_contents(bad, "not a pid", -1, NULL));
    assert_true(vnuma_qemu_pid_read(dir, "guest", &pid, &error));
    assert_int_equal(pid, 4242);
    assert_false(vnuma_qemu_pid_read(dir, "broken", &pid, &error));
    g_clear_error(&error);
    assert_false(vnuma_qemu_pid_read(dir, "absent", &pid, &error));
    g_clear_error(&error);
    assert_false(vnuma_qemu_pid_read(dir, "../guest", &pid, &error));
    g_unlink(good);
    g_unlink(bad);
    g_rmdir(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_qemu_sample),
        cmocka_unit_test(test_sparse_nodes),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_own_process),
        cmocka_unit_test(test_pid_file),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
