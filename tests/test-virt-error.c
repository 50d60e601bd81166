/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libvirt's last error as a GError, the one mapping of virt/: a failed
 * call is VNUMA_ERROR_IO with libvirt's message after ours. */
#include "tests/testutil.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "virt/vnuma-virt-error.h"

static void
quiet(void *opaque, virErrorPtr err)
{
}

static void
test_failed_call_is_io(void **unused)
{
    g_autoptr(GError) error = NULL;
    virConnectPtr conn;

    virSetErrorFunc(NULL, quiet);
    conn = virConnectOpen("test:///nonexistent/vnuma-no-such-file.xml");
    assert_null(conn);
    assert_int_equal(vnuma_virt_error_code(), VNUMA_ERROR_IO);
    vnuma_virt_set_error(&error, "cannot connect to %s", "the test driver");
    assert_true(g_error_matches(error, VNUMA_ERROR, VNUMA_ERROR_IO));
    assert_true(g_str_has_prefix(error->message, "cannot connect to the test driver: "));
    assert_true(strlen(error->message) > strlen("cannot connect to the test driver: "));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_failed_call_is_io),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
