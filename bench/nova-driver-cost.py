#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""What the Nova driver adds to a boot: one plan of a Nova domain, through
the driver's ctypes binding (context from the host's capabilities text +
vnuma.conf, plan, render, record) against `vnumactl plan -` in a child
process, as the alternative binding would run it.

    LD_LIBRARY_PATH=build/plugin bench/nova-driver-cost.py [N]
"""
import os
import subprocess
import sys
import tempfile
import time

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(SRC, 'adapters', 'nova', 'vnuma'))
import libvnuma  # noqa: E402  (the driver's binding, outside nova.virt)

n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
caps_path = os.path.join(SRC, 'examples', 'hosts', 'xeon-2s10c-ht.xml')
caps = open(caps_path).read()
domain = open(os.path.join(SRC, 'examples', 'domains', 'nova-64vcpu.xml')).read()
vnumactl = os.path.join(os.environ.get('VNUMA_BUILDDIR', os.path.join(SRC, 'build')),
                        'cli', 'vnumactl')

with tempfile.NamedTemporaryFile('w', suffix='.conf') as conf:
    conf.write('[vnuma]\nmemory_mode=restrictive\n')
    conf.flush()

    def ctypes_once():
        with libvnuma.Context() as ctx:
            ctx.load_config(conf.name)
            ctx.load_caps_xml(caps)
            plan = ctx.plan(domain)
        assert plan.managed and plan.changed and plan.record
        return plan.xml

    def child_once():
        out = subprocess.run([vnumactl, 'plan', '--caps', caps_path, '--config', conf.name, '-'],
                             input=domain, capture_output=True, text=True, check=True).stdout
        return out

    assert ctypes_once() == child_once(), 'the two bindings disagree'
    for name, fn in (('ctypes libvnuma.so.1', ctypes_once), ('vnumactl plan -', child_once)):
        fn()
        t = time.perf_counter()
        for _ in range(n):
            fn()
        per = (time.perf_counter() - t) / n * 1000
        print('%-22s %7.2f ms per boot (%d runs)' % (name, per, n))
