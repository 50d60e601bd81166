# SPDX-License-Identifier: LGPL-2.1-or-later
"""VnumaLibvirtDriver: Nova's libvirt driver, with vnuma's sizing applied
to every domain XML Nova is about to define.

Nova rebuilds the domain XML (``_get_guest_xml``) at spawn, hard reboot,
power on, resume on host boot, resize and cold migration (destination),
revert, unshelve, evacuate and rescue, and defines and starts it at
once. This driver passes that XML through libvnuma (plugin/vnuma.h) with
the node's vnuma.conf and libvirt's host capabilities, so the guest has
vnuma's cells and topology from its first instruction.

- Instances with a Nova NUMA topology (hw:numa_nodes, huge pages,
  dedicated CPUs, explicit cells, vPMEM) keep Nova's XML byte for byte:
  Nova's resource tracker has claimed their host cells.
- autosize=once across hosts: vnuma's record (<vnuma:layout>) is kept in
  instance.system_metadata, which travels with the instance, and given
  back at every later define, so the guest keeps its cells and topology
  on any host; only home nodes are chosen again. libvnuma itself decides
  whether the record still applies (same vCPU count).
- Fail open: any problem leaves Nova's XML unchanged, with one warning.
"""

import os

from oslo_log import log as logging

from nova.virt.libvirt import driver as libvirt_driver

from nova.virt.vnuma import libvnuma

LOG = logging.getLogger(__name__)

DEFAULT_CONFIG = '/etc/vnuma/vnuma.conf'
# instance.system_metadata values are at most 255 characters (the
# database column), so the record is kept in numbered pieces.
RECORD_KEY = 'vnuma_layout_%d'
RECORD_CHUNK = 255
# libvirt accepts <numatune> mode 'restrictive' from 7.3.0.
RESTRICTIVE_LIBVIRT = (7, 3, 0)


def get_record(instance):
    sysmeta = instance.system_metadata
    parts = []
    while (RECORD_KEY % len(parts)) in sysmeta:
        parts.append(sysmeta[RECORD_KEY % len(parts)])
    return ''.join(parts) or None


def set_record(instance, record):
    sysmeta = instance.system_metadata
    for key in [k for k in sysmeta if k.startswith('vnuma_layout_')]:
        del sysmeta[key]
    for i in range(0, len(record), RECORD_CHUNK):
        sysmeta[RECORD_KEY % (i // RECORD_CHUNK)] = record[i:i + RECORD_CHUNK]
    instance.system_metadata = sysmeta


class VnumaLibvirtDriver(libvirt_driver.LibvirtDriver):

    def _get_guest_xml(self, context, instance, *args, **kwargs):
        xml = super(VnumaLibvirtDriver, self)._get_guest_xml(
            context, instance, *args, **kwargs)
        if instance.numa_topology is not None:
            LOG.debug('vnuma: Nova NUMA topology, domain left as Nova wrote it',
                      instance=instance)
            return xml
        try:
            return self._vnuma_plan(instance, xml)
        except Exception as e:
            LOG.warning('vnuma: domain XML left as Nova wrote it: %s', e,
                        instance=instance)
            return xml

    def _vnuma_context(self):
        ctx = libvnuma.Context()
        try:
            config = os.environ.get('VNUMA_CONFIG')
            if config or os.path.exists(DEFAULT_CONFIG):
                ctx.load_config(config or DEFAULT_CONFIG)
            caps = ctx.config_string('capabilities')
            if caps:
                ctx.load_caps_file(caps)
            else:
                ctx.load_caps_xml(self._host.get_connection().getCapabilities())
            if ctx.config_string('memory_mode') == 'auto':
                ctx.set_memory_mode(
                    'restrictive' if self._host.has_min_version(
                        lv_ver=RESTRICTIVE_LIBVIRT) else 'strict')
            return ctx
        except Exception:
            ctx.close()
            raise

    def _vnuma_plan(self, instance, xml):
        with self._vnuma_context() as ctx:
            for warning in ctx.warnings():
                LOG.warning('vnuma: %s', warning, instance=instance)
            plan = ctx.plan(xml, get_record(instance))
        for warning in plan.warnings:
            LOG.info('vnuma: %s', warning, instance=instance)
        if not plan.managed:
            LOG.info('vnuma: not managed (%s)', plan.reason, instance=instance)
            return xml
        if plan.record and plan.record != get_record(instance):
            set_record(instance, plan.record)
        LOG.info('vnuma: domain sized and placed%s', '' if plan.changed else
                 ' (unchanged)', instance=instance)
        return plan.xml
