/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Memory per host node from /proc/PID/numa_maps, and the QEMU pid file. */
#include "tests/testutil.h"

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "probe/vnuma-numamaps.h"

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

/* A QEMU with two 256 MiB cells and one 512 MiB cell (anonymous
 * memory-backend-ram, top-down), a 256 MiB executable TCG buffer that
 * must not be taken for RAM, and a read-only 256 MiB file mapping. */
static const char cells_maps[] =
    "55d0c8a00000-55d0c8b00000 r-xp 00000000 08:01 1234 /usr/bin/qemu-system-x86_64\n"
    "7f0000000000-7f0010000000 rwxp 00000000 00:00 0 \n"
    "7f1000000000-7f1020000000 rw-p 00000000 00:00 0 \n"
    "7f2000000000-7f2010000000 rw-p 00000000 00:00 0 \n"
    "7f3000000000-7f3010000000 rw-p 00000000 00:00 0 \n"
    "7f4000000000-7f4010000000 r--p 00000000 08:01 99 /usr/share/big.dat\n";
static const char cells_numa_maps[] =
    "55d0c8a00000 default file=/usr/bin/qemu-system-x86_64 mapped=10 N0=10 kernelpagesize_kB=4\n"
    "7f0000000000 default anon=5 N0=5 kernelpagesize_kB=4\n"
    "7f1000000000 default anon=300 N0=100 N1=200 kernelpagesize_kB=4\n"
    "7f2000000000 default anon=7 N1=7 kernelpagesize_kB=4\n"
    "7f3000000000 default anon=9 N0=9 kernelpagesize_kB=4\n"
    "7f4000000000 default file=/usr/share/big.dat mapped=1 N0=1 kernelpagesize_kB=4\n"
    "7f5000000000 default anon=1 N0=1 kernelpagesize_kB=4\n";

static void
test_regions(void **state)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) regions = vnuma_mem_regions_parse(cells_numa_maps, cells_maps, &error);
    const VnumaMemRegion *r;

    assert_non_null(regions);
    /* 7f5000000000 is not in maps (it came after): left out. */
    assert_int_equal(regions->len, 6);
    r = regions->pdata[2];
    assert_true(r->start == 0x7f1000000000ull && r->end == 0x7f1020000000ull);
    assert_true(r->writable && !r->executable && !r->path);
    assert_int_equal(g_array_index(r->kib, guint64, 1), 800);
    assert_string_equal(((VnumaMemRegion *) regions->pdata[0])->path, "/usr/bin/qemu-system-x86_64");
    assert_true(((VnumaMemRegion *) regions->pdata[1])->executable);
    assert_null(vnuma_mem_regions_parse(cells_numa_maps, "zz-yy garbage\n", &error));
    assert_non_null(strstr(error->message, "maps line 1"));
}

static void
test_guest_ram_match(void **state)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) regions = vnuma_mem_regions_parse(cells_numa_maps, cells_maps, &error);
    const guint64 two_equal[] = { 262144, 262144, 524288 };
    const guint64 three_equal[] = { 262144, 262144, 262144 };
    const guint64 whole[] = { 524288 };
    const guint64 none[] = { 131072 };
    g_autoptr(GArray) m = vnuma_guest_ram_match(regions, two_equal, 3);
    g_autoptr(GArray) m3 = vnuma_guest_ram_match(regions, three_equal, 3);
    g_autoptr(GArray) mw = vnuma_guest_ram_match(regions, whole, 1);
    g_autoptr(GArray) mn = vnuma_guest_ram_match(regions, none, 1);

    /* Same-sized cells in allocation order, top-down: cell 0 the
     * highest; the executable TCG buffer and the file never match. */
    assert_int_equal(g_array_index(m, gint, 0), 4);
    assert_int_equal(g_array_index(m, gint, 1), 3);
    assert_int_equal(g_array_index(m, gint, 2), 2);
    /* Three cells of 256 MiB, two candidates: none guessed. */
    for (guint c = 0; c < 3; c++)
        assert_int_equal(g_array_index(m3, gint, c), -1);
    assert_int_equal(g_array_index(mw, gint, 0), 2);
    assert_int_equal(g_array_index(mn, gint, 0), -1);
}

/* This process's own mappings: a fresh anonymous mapping is found with
 * its size, and its touched pages are counted on some node. */
static void
test_own_regions(void **state)
{
    gsize len = 8u << 20, page = (gsize) sysconf(_SC_PAGESIZE);
    /* Inaccessible guard pages on both sides, as QEMU leaves them, so
     * the kernel cannot merge the mapping with a neighbour. */
    char *guarded = mmap(NULL, len + 2 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *area = guarded + page;
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) regions = NULL;
    const guint64 size[] = { 8192 };
    g_autoptr(GArray) m = NULL;
    const VnumaMemRegion *r;
    guint64 kib = 0;

    assert_true(guarded != MAP_FAILED);
    assert_int_equal(mprotect(area, len, PROT_READ | PROT_WRITE), 0);
    memset(area, 1, len);
    regions = vnuma_mem_regions_read(getpid(), &error);
    assert_non_null(regions);
    m = vnuma_guest_ram_match(regions, size, 1);
    assert_int_not_equal(g_array_index(m, gint, 0), -1);
    r = regions->pdata[g_array_index(m, gint, 0)];
    assert_true(r->start <= (guint64) (guintptr) area && (guint64) (guintptr) area < r->end);
    for (guint n = 0; n < r->kib->len; n++)
        kib += g_array_index(r->kib, guint64, n);
    assert_true(kib >= 8192);
    munmap(guarded, len + 2 * page);
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
        cmocka_unit_test(test_regions),
        cmocka_unit_test(test_guest_ram_match),
        cmocka_unit_test(test_own_regions),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
