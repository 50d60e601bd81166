#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Runs Nova functional tests (Debian's python3-nova) in this process.

    run.py [--driver vnuma|stock] [--exclude TEST_ID]... TEST_ID...

--driver vnuma makes Nova's own libvirt functional tests start their
computes with compute_driver = vnuma.driver.VnumaLibvirtDriver. The
build tree's adapters/nova is made nova.virt's (as meson install does),
and api-paste.ini comes from $VNUMA_NOVA_API_PASTE (scripts/deps.sh
unpacks it from the nova-common .deb). Exit 0 only when every test ran
and passed: a skip is a failure. --exclude leaves out a test Nova itself
disables (e.g. @testtools.skip for an open bug), named in the output.
"""

import os
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(os.path.dirname(HERE))


def main(argv):
    driver = 'stock'
    excluded = []
    while argv[:1] in (['--driver'], ['--exclude']):
        if argv[0] == '--driver':
            driver = argv[1]
        else:
            excluded.append(argv[1])
        argv = argv[2:]
    paste = os.environ.get('VNUMA_NOVA_API_PASTE',
                           '/usr/local/share/vnuma-tests/nova/api-paste.ini')
    if not os.path.exists(paste):
        sys.stderr.write('run.py: %s missing (run scripts/deps.sh)\n' % paste)
        return 1

    import nova.tests.functional  # noqa: F401 (eventlet monkey patching first)
    import nova.virt
    nova.virt.__path__.append(os.path.join(SOURCE, 'adapters', 'nova'))
    from nova.conf import paths
    stock_path_def = paths.state_path_def
    paths.state_path_def = lambda *a: (
        paste if a == ('etc/nova/api-paste.ini',) else stock_path_def(*a))

    calls = {'define': 0, 'planned': 0, 'rewritten': 0}
    if driver == 'vnuma':
        from nova.tests.functional.libvirt import base
        from nova.virt.vnuma import driver as vnuma_driver

        def _setup_compute_service(self):
            self.flags(compute_driver='vnuma.driver.VnumaLibvirtDriver')
        base.ServersTestBase._setup_compute_service = _setup_compute_service

        # Proof that Nova's tests went through the vnuma driver, and how.
        get_guest_xml = vnuma_driver.VnumaLibvirtDriver._get_guest_xml
        plan = vnuma_driver.VnumaLibvirtDriver._vnuma_plan

        def counted_get_guest_xml(self, *args, **kwargs):
            calls['define'] += 1
            return get_guest_xml(self, *args, **kwargs)

        def counted_plan(self, instance, xml):
            calls['planned'] += 1
            out = plan(self, instance, xml)
            calls['rewritten'] += out != xml
            return out
        vnuma_driver.VnumaLibvirtDriver._get_guest_xml = counted_get_guest_xml
        vnuma_driver.VnumaLibvirtDriver._vnuma_plan = counted_plan
    elif driver != 'stock':
        sys.stderr.write('run.py: --driver vnuma|stock\n')
        return 1

    sys.path.insert(0, HERE)
    suite = unittest.TestSuite()
    found = set()

    def add(tests):
        for t in tests:
            if isinstance(t, unittest.TestSuite):
                add(t)
            elif t.id() in excluded:
                found.add(t.id())
            else:
                suite.addTest(t)
    add(unittest.defaultTestLoader.loadTestsFromNames(argv))
    for test_id in excluded:
        if test_id not in found:
            sys.stderr.write('run.py: --exclude %s: no such test\n' % test_id)
            return 1
        print('EXCLUDED: %s' % test_id)
    start = time.monotonic()
    result = unittest.TextTestRunner(stream=sys.stdout, verbosity=2).run(suite)
    print('run.py: %d tests, %d failures, %d errors, %d skipped, %.1f s (driver %s)' % (
        result.testsRun, len(result.failures), len(result.errors),
        len(result.skipped), time.monotonic() - start, driver))
    for test, reason in result.skipped:
        print('SKIPPED: %s: %s' % (test.id(), reason))
    ok = result.wasSuccessful() and not result.skipped and result.testsRun > 0
    if driver == 'vnuma':
        print('run.py: the vnuma driver built %(define)d domain XMLs: %(planned)d planned '
              '(no Nova NUMA topology), %(rewritten)d rewritten' % calls)
        ok = ok and calls['define'] > 0
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
