#!/usr/bin/env python3
"""This host's capabilities (from `virsh capabilities`) with its first two
CPUs split into two NUMA cells with SLIT distances 10/20: cell 0 = CPU 0
with the host's memory; cell 1 = CPU 1, with the same memory, or none
with --cpu-only-node1 (a CPU-only node).

  split-caps.py IN OUT [--cpu-only-node1]

The agent reads it through its `capabilities` key: every pin it sets is
real; only the node boundaries are made up."""
import sys
import xml.etree.ElementTree as ET

src, out = sys.argv[1], sys.argv[2]
cpu_only = '--cpu-only-node1' in sys.argv[3:]
tree = ET.parse(src)
cells = tree.find('host/topology/cells')
cell = cells.find('cell')
cpus = cell.find('cpus').findall('cpu')
if len(cpus) < 2:
    sys.exit('split-caps.py: the host has fewer than two CPUs')
cells.remove(cell)
cells.set('num', '2')
for i, cpu in enumerate(cpus[:2]):
    c = ET.SubElement(cells, 'cell', id=str(i))
    memory = '0' if cpu_only and i == 1 else cell.find('memory').text
    ET.SubElement(c, 'memory', unit='KiB').text = memory
    distances = ET.SubElement(c, 'distances')
    for j in range(2):
        ET.SubElement(distances, 'sibling', id=str(j), value='10' if i == j else '20')
    cpu.set('siblings', cpu.get('id'))
    ET.SubElement(c, 'cpus', num='1').append(cpu)
tree.write(out)
