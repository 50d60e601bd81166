# SPDX-License-Identifier: LGPL-2.1-or-later
"""`vnumactl advise` held against Nova's own NUMA code.

For every capabilities fixture in examples/hosts/, a compute is started
on Nova's functional stack (so Nova itself computes the host's NUMA
topology from those capabilities), and for a range of flavors advise's
extra specs go through nova.virt.hardware: numa_get_constraints must
accept them, numa_fit_instance_to_host must place them on that host with
as many guest nodes as advise asked for, and get_best_cpu_topology must
give the sockets, cores and threads advise printed.
"""

import glob
import json
import os
import re
import subprocess

from nova import context as nova_context
from nova import objects
from nova.virt import hardware

import test_vnuma_driver as base

VNUMACTL = os.path.join(os.environ.get('VNUMA_BUILDDIR',
                                       os.path.join(base.SOURCE, 'build')),
                        'cli', 'vnumactl')
FLAVOR_VCPUS = (8, 10, 12, 15, 16, 20, 24, 25, 32, 48, 64)


def host_info(path):
    with open(path) as f:
        caps = f.read()
    topology = re.search(r'<topology>.*?</topology>', caps, re.S).group(0)
    cpus = re.findall(r"<cpu id='\d+'[^>]*siblings='([^']*)'", topology)
    nodes = len(re.findall(r'<cell id=', topology))
    threads = len(cpus[0].replace('-', ',').split(',')) if cpus else 1
    name = os.path.basename(path)[:-4]
    return base.fixture_host(name, nodes, max(1, len(cpus) // nodes // threads),
                             threads), len(cpus)


def advise(path, vcpus, mib):
    r = subprocess.run([VNUMACTL, 'advise', '--caps', path, '--vcpus', str(vcpus),
                        '--memory', str(mib), '--format', 'json'],
                       capture_output=True, text=True)
    return r.returncode, r.stdout, r.stderr


class AdviseAgainstNovaTest(base.VnumaDriverTestBase):

    def test_fixture_hosts(self):
        ctx = nova_context.get_admin_context()
        image = objects.ImageMeta.from_dict({})
        checked = 0
        for i, path in enumerate(sorted(glob.glob(os.path.join(base.HOSTS, '*.xml')))):
            info, ncpus = host_info(path)
            name = 'host%d' % i
            self.start_compute(hostname=name, host_info=info)
            node = objects.ComputeNode.get_by_nodename(ctx, name)
            topology = objects.NUMATopology.obj_from_db_obj(node.numa_topology)
            bearing = sum(1 for c in topology.cells if c.cpuset or c.pcpuset)
            cell_mib = min(c.memory for c in topology.cells if c.cpuset or c.pcpuset)
            for vcpus in FLAVOR_VCPUS:
                if vcpus > ncpus:
                    continue
                mib = min(vcpus * 1024, cell_mib)
                where = '%s, %d vCPUs, %d MiB' % (os.path.basename(path), vcpus, mib)
                rc, out, err = advise(path, vcpus, mib)
                self.assertEqual(0, rc, where + ': ' + err)
                specs = json.loads(out)['extra_specs']
                flavor = objects.Flavor(vcpus=vcpus, memory_mb=mib, extra_specs=specs)
                wanted = int(specs.get('hw:numa_nodes', 0))
                self.assertLessEqual(wanted, bearing, where)
                constraints = hardware.numa_get_constraints(flavor, image)
                if not wanted:
                    self.assertIsNone(constraints, where)
                else:
                    self.assertEqual(wanted, len(constraints.cells), where)
                    fitted = hardware.numa_fit_instance_to_host(topology, constraints)
                    self.assertIsNotNone(fitted, where + ': Nova finds no fit')
                    self.assertEqual(wanted, len({c.id for c in fitted.cells}), where)
                best = hardware.get_best_cpu_topology(flavor, image)
                self.assertEqual(
                    (int(specs['hw:cpu_sockets']), int(specs['hw:cpu_cores']),
                     int(specs['hw:cpu_threads'])),
                    (best.sockets, best.cores, best.threads), where)
                checked += 1
        self.assertGreater(checked, 50)
