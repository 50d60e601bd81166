# SPDX-License-Identifier: LGPL-2.1-or-later
"""The vnuma Nova driver on Nova's own functional stack.

Servers are booted through Nova's API, scheduler (NUMATopologyFilter),
conductor and compute, with compute_driver = vnuma.driver.
VnumaLibvirtDriver, on fake libvirt hosts whose <topology> is a
capabilities fixture of examples/hosts/. Every assertion is on the XML
handed to defineXML, beside what the stock driver's _get_guest_xml
produced for the same call. Run by tests/nova/run.py.
"""

import os
import re
import subprocess
import tempfile
import xml.etree.ElementTree as ET
import fixtures
from oslo_utils import versionutils

from nova.tests.fixtures import libvirt as fakelibvirt
from nova.tests.functional.libvirt import test_numa_servers
from nova.virt.libvirt import driver as libvirt_driver

from nova.virt.vnuma import libvnuma

SOURCE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HOSTS = os.path.join(SOURCE, 'examples', 'hosts')
# Debian 12's libvirt: <numatune> mode 'restrictive' exists (from 7.3).
LIBVIRT_9 = versionutils.convert_version_to_int((9, 0, 0))
QEMU_7 = versionutils.convert_version_to_int((7, 2, 0))


def fixture_host(name, nodes, cores, threads):
    """A fakelibvirt host whose NUMA topology is the fixture's."""
    with open(os.path.join(HOSTS, name + '.xml')) as f:
        caps = f.read()
    topology = re.search(r'<topology>.*?</topology>', caps, re.S).group(0)
    # Offline CPUs as some libvirt builds list them (no topology ids):
    # libvirt on x86 leaves them out, and Nova cannot read them.
    topology = re.sub(r"\s*<cpu id='\d+'/>", '', topology)
    mem = sum(int(m) for m in re.findall(
        r"<memory unit='KiB'>(\d+)</memory>", topology))
    info = fakelibvirt.HostInfo(cpu_nodes=nodes, cpu_sockets=1,
                                cpu_cores=cores, cpu_threads=threads,
                                kB_mem=mem // 1024)
    info.numa_topology = topology
    info.cpus = len(re.findall(r"<cpu id=", topology))
    return info


def fixture_cpus(host):
    topology = host.get_connection().host_info.numa_topology
    return {int(c) for c in re.findall(r"<cpu id='(\d+)'", topology)}


def guest_shape(xml):
    """What the guest sees: its cells and its CPU topology."""
    root = ET.fromstring(xml)
    cells = [(c.get('cpus'), c.get('memory'))
             for c in root.findall('./cpu/numa/cell')]
    topo = root.find('./cpu/topology')
    # libvirt's default for an attribute left out (Nova writes no dies) is 1
    topology = None if topo is None else tuple(
        int(topo.get(k, 1)) for k in ('sockets', 'dies', 'cores', 'threads'))
    return cells, topology


def plan_on(host, xml):
    """libvnuma's own plan of @xml on fixture @host, as the reference."""
    with libvnuma.Context() as ctx:
        ctx.load_caps_file(os.path.join(HOSTS, host + '.xml'))
        return ctx.plan(xml).xml


def validate(test, xml):
    with tempfile.NamedTemporaryFile('w', suffix='.xml') as f:
        f.write(xml)
        f.flush()
        r = subprocess.run(['virt-xml-validate', f.name, 'domain'],
                           capture_output=True, text=True)
    test.assertEqual(0, r.returncode, r.stdout + r.stderr)


class VnumaDriverTestBase(test_numa_servers.NUMAServersTestBase):
    ADDITIONAL_FILTERS = ['NUMATopologyFilter']
    ADMIN_API = True
    compute_driver = 'vnuma.driver.VnumaLibvirtDriver'
    vnuma_conf = '[vnuma]\nmemory_mode=auto\n'

    def setUp(self):
        super().setUp()
        self.flags(cores=-1, ram=-1, instances=-1, group='quota')
        conf_dir = self.useFixture(fixtures.TempDir()).path
        conf = os.path.join(conf_dir, 'vnuma.conf')
        with open(conf, 'w') as f:
            f.write(self.vnuma_conf)
        self.useFixture(fixtures.EnvironmentVariable('VNUMA_CONFIG', conf))
        self.useFixture(fixtures.MonkeyPatch(
            'nova.virt.libvirt.host.Host.get_online_cpus', fixture_cpus))

        # as Nova's own NUMA tests: no disks to move in a cold migration
        self.useFixture(fixtures.MockPatch(
            'nova.virt.libvirt.driver.LibvirtDriver.migrate_disk_and_power_off',
            return_value='{}'))

        self.defined = []   # (hostname, xml) handed to defineXML
        define = fakelibvirt.Connection.defineXML

        def spy_define(conn, xml):
            self.defined.append((conn.hostname, xml))
            return define(conn, xml)
        self.useFixture(fixtures.MonkeyPatch(
            'nova.tests.fixtures.libvirt.Connection.defineXML', spy_define))

        self.stock = []     # what the stock driver's _get_guest_xml returned
        get_guest_xml = libvirt_driver.LibvirtDriver._get_guest_xml

        def spy_stock(drv, *args, **kwargs):
            xml = get_guest_xml(drv, *args, **kwargs)
            self.stock.append(xml)
            return xml
        self.useFixture(fixtures.MonkeyPatch(
            'nova.virt.libvirt.driver.LibvirtDriver._get_guest_xml', spy_stock))

    def _setup_compute_service(self):
        self.flags(compute_driver=self.compute_driver)

    def _get_connection(self, host_info=None, pci_info=None, mdev_info=None,
                        vdpa_info=None, libvirt_version=None,
                        qemu_version=None, hostname=None):
        # The base refuses hosts over 16 CPUs (its get_online_cpus mock);
        # ours reads the fixture's CPUs.
        return fakelibvirt.Connection(
            'qemu:///system', version=libvirt_version or LIBVIRT_9,
            hv_version=qemu_version or QEMU_7, host_info=host_info,
            pci_info=pci_info, mdev_info=mdev_info, vdpa_info=vdpa_info,
            hostname=hostname)

    def start_2node(self, hostname='compute1'):
        return self.start_compute(
            hostname=hostname,
            host_info=fixture_host('xeon-2s10c-ht', 2, 10, 2))

    def start_4node(self, hostname='compute2'):
        return self.start_compute(
            hostname=hostname,
            host_info=fixture_host('xeon-4s4c-ht', 4, 4, 2))

    def flags_instances_path(self):
        from nova import conf
        return conf.CONF.instances_path

    def last_define(self, hostname=None):
        self.assertTrue(self.defined, 'nothing was defined')
        host, xml = self.defined[-1]
        if hostname:
            self.assertEqual(hostname, host)
        return xml

    def boot(self, vcpus, memory_mb=16384, extra_spec=None, **kw):
        flavor = self._create_flavor(vcpu=vcpus, memory_mb=memory_mb,
                                     extra_spec=extra_spec)
        return self._create_server(flavor_id=flavor, **kw)


class VnumaDriverTest(VnumaDriverTestBase):

    def assert_vnuma_sized(self, xml):
        root = ET.fromstring(xml)
        shape, topology = guest_shape(xml)
        self.assertGreater(len(shape), 1, xml)
        sockets, dies, cores, threads = topology
        # aligned: one socket per cell, the cells' vCPUs in its cores
        self.assertEqual((sockets, dies, threads), (len(shape), 1, 1), xml)
        self.assertEqual(24, sockets * cores)
        numatune = root.find('./numatune/memory')
        self.assertIsNotNone(numatune, xml)
        self.assertEqual('restrictive', numatune.get('mode'))
        self.assertEqual(24, len(root.findall('./cputune/vcpupin')))
        validate(self, xml)
        return shape, topology

    def test_wide_flavor_sized_and_kept(self):
        """24 vCPUs, no extra specs, on 2 × 10 cores: vNUMA cells, one
        socket per cell — kept after hard reboot, stop/start and cold
        migration to a 4-node host, whose own sizing differs."""
        self.start_2node()
        server = self.boot(24)
        xml = self.last_define('compute1')
        self.assertNotEqual(self.stock[-1], xml)
        shape = self.assert_vnuma_sized(xml)
        self.assertIn('<vnuma:layout', xml)
        self.assertEqual(shape, guest_shape(plan_on('xeon-2s10c-ht', self.stock[-1])))

        n = len(self.defined)
        self._reboot_server(server, hard=True)
        self.assertGreater(len(self.defined), n)
        self.assertEqual(shape, guest_shape(self.last_define('compute1')))

        n = len(self.defined)
        server = self._stop_server(server)
        server = self._start_server(server)
        self.assertGreater(len(self.defined), n)
        self.assertEqual(shape, guest_shape(self.last_define('compute1')))

        self.start_4node()
        n = len(self.defined)
        server = self._migrate_server(server)
        server = self._confirm_resize(server)
        self.assertEqual('compute2', server['OS-EXT-SRV-ATTR:host'])
        self.assertGreater(len(self.defined), n)
        moved = self.last_define('compute2')
        self.assertEqual(shape, self.assert_vnuma_sized(moved))
        # home nodes are compute2's own: all four nodes exist there
        nodeset = ET.fromstring(moved).find('./numatune/memory').get('nodeset')
        self.assertTrue(nodeset)

        # a fresh instance of the same flavor on compute2 is sized there
        self._delete_server(server)
        self.boot(24, host='compute2')
        fresh = self.assert_vnuma_sized(self.last_define('compute2'))
        self.assertNotEqual(shape, fresh)

    def test_unshelve_rescue_evacuate(self):
        """The other paths through _get_guest_xml keep the guest shape."""
        self.start_2node()
        server = self.boot(24, host='compute1')
        shape = guest_shape(self.last_define('compute1'))
        self.assertGreater(len(shape[0]), 1)
        # evacuation lands on a 4-node host that would size it otherwise
        self.assertNotEqual(shape, guest_shape(plan_on('xeon-4s4c-ht', self.stock[-1])))

        self._shelve_server(server)
        n = len(self.defined)
        server = self._unshelve_server(server)
        self.assertGreater(len(self.defined), n)
        self.assertEqual(shape, guest_shape(self.last_define()))

        # rescue saves the running definition in the instance directory,
        # which the image backend (mocked by Nova's base) never made
        os.makedirs(os.path.join(self.flags_instances_path(), server['id']),
                    exist_ok=True)
        n = len(self.defined)
        self.api.post_server_action(server['id'], {'rescue': {}})
        server = self._wait_for_state_change(server, 'RESCUE')
        self.assertGreater(len(self.defined), n)
        self.assertEqual(shape, guest_shape(self.last_define()))
        # unrescue defines the definition rescue saved (the domain's
        # XMLDesc, not _get_guest_xml); fakelibvirt's XMLDesc drops <cpu>
        # contents, so what it brings back is not checked here.
        self.api.post_server_action(server['id'], {'unrescue': None})
        server = self._wait_for_state_change(server, 'ACTIVE')

        self.start_4node()
        source = server['OS-EXT-SRV-ATTR:host']
        self.computes[source].stop()
        self.api.microversion = '2.11'   # force-down by host and binary
        self.api.force_down_service(source, 'nova-compute', True)
        self.api.microversion = '2.74'
        n = len(self.defined)
        server = self._evacuate_server(server, expected_state='ACTIVE')
        self.assertEqual('compute2', server['OS-EXT-SRV-ATTR:host'])
        self.assertGreater(len(self.defined), n)
        self.assertEqual(shape, guest_shape(self.last_define('compute2')))

    def test_resize(self):
        """Same vCPU count: topology kept; another vCPU count: afresh."""
        self.flags(allow_resize_to_same_host=True)
        self.start_2node()
        server = self.boot(24)
        shape = guest_shape(self.last_define('compute1'))
        bigger = self._create_flavor(vcpu=24, memory_mb=24576)
        server = self._resize_server(server, bigger)
        server = self._confirm_resize(server)
        xml = self.last_define('compute1')
        cells, topology = guest_shape(xml)
        self.assertEqual(shape[1], topology)
        self.assertEqual([c for c, _ in shape[0]], [c for c, _ in cells])
        self.assertEqual(24576 * 1024, sum(int(m) for _, m in cells))

        narrower = self._create_flavor(vcpu=16, memory_mb=16384)
        server = self._resize_server(server, narrower)
        server = self._confirm_resize(server)
        cells, topology = guest_shape(self.last_define('compute1'))
        self.assertEqual(['0-7', '8-15'], [c for c, _ in cells])
        self.assertEqual((2, 1, 8, 1), topology)

    def assert_stock(self):
        self.assertTrue(self.stock)
        self.assertEqual(self.stock[-1], self.last_define())

    def test_nova_numa_topology_untouched(self):
        """hw:numa_nodes, huge pages: byte for byte the stock driver's."""
        self.start_2node()
        for spec in ({'hw:numa_nodes': '2'}, {'hw:mem_page_size': '1GB'}):
            n = len(self.defined)
            self.boot(16, memory_mb=8192, extra_spec=spec)
            self.assertGreater(len(self.defined), n)
            self.assert_stock()
            self.assertIn("<numatune>", self.last_define())
            self.assertNotIn('vnuma', self.last_define())

    def test_dedicated_untouched(self):
        self.flags(cpu_shared_set='0-9,10-19', cpu_dedicated_set='20-39',
                   group='compute')
        self.start_2node()
        self.boot(8, memory_mb=4096, extra_spec={'hw:cpu_policy': 'dedicated'})
        self.assert_stock()
        self.assertIn('<vcpupin', self.last_define())
        self.assertNotIn('vnuma', self.last_define())

    def test_libvnuma_missing_fails_open(self):
        self.start_2node()
        self.useFixture(fixtures.MonkeyPatch(
            'nova.virt.vnuma.libvnuma.LIBRARY', 'libvnuma-missing.so.1'))
        server = self.boot(24)
        self.assertEqual('ACTIVE', server['status'])
        self.assert_stock()
        self.assertEqual(1, self.stdlog.logger.output.count(
            'vnuma: domain XML left as Nova wrote it'))
        self.assertIn('libvnuma-missing.so.1', self.stdlog.logger.output)


class VnumaConfigTest(VnumaDriverTestBase):
    """vnuma.conf's capabilities key names the host topology instead of
    libvirt's; memory_mode=auto follows this libvirt's version."""
    vnuma_conf = '[vnuma]\nmemory_mode=auto\ncapabilities=%s\n' % os.path.join(
        HOSTS, 'xeon-4s4c-ht.xml')

    def test_capabilities_key(self):
        self.start_2node()
        self.boot(24)
        shape = guest_shape(self.last_define('compute1'))
        self.assertEqual(shape, guest_shape(plan_on('xeon-4s4c-ht', self.stock[-1])))
        self.assertNotEqual(shape, guest_shape(plan_on('xeon-2s10c-ht', self.stock[-1])))

    def test_memory_mode_auto_old_libvirt(self):
        self.start_compute(
            hostname='compute1', host_info=fixture_host('xeon-2s10c-ht', 2, 10, 2),
            libvirt_version=versionutils.convert_version_to_int((7, 0, 0)))
        self.boot(24)
        root = ET.fromstring(self.last_define('compute1'))
        self.assertEqual('strict', root.find('./numatune/memory').get('mode'))


class VnumaBadConfigTest(VnumaDriverTestBase):
    # unreadable: a directory where the file should be
    vnuma_conf = None

    def setUp(self):
        self.vnuma_conf = ''
        super().setUp()
        self.useFixture(fixtures.EnvironmentVariable(
            'VNUMA_CONFIG', self.useFixture(fixtures.TempDir()).path))

    def test_bad_config_fails_open(self):
        self.start_2node()
        server = self.boot(24)
        self.assertEqual('ACTIVE', server['status'])
        self.assertEqual(self.stock[-1], self.last_define())
        self.assertEqual(1, self.stdlog.logger.output.count(
            'vnuma: domain XML left as Nova wrote it'))


class VnumaOwnerTopologyTest(VnumaDriverTestBase):
    """The topology the flavor asked for is kept (the owner's topology
    rule in lib/vnuma-sizing.c)."""

    def test_windows_max_sockets(self):
        self.start_2node()
        self.boot(24, extra_spec={'hw:cpu_max_sockets': '2'})
        cells, topology = guest_shape(self.last_define('compute1'))
        self.assertLessEqual(topology[0], 2, self.last_define())
        self.assertEqual(24, topology[0] * topology[2] * topology[3])
        # the topology Nova chose for the flavor, unchanged
        self.assertEqual(guest_shape(self.stock[-1])[1], topology)
