# SPDX-License-Identifier: LGPL-2.1-or-later
"""vnuma for Nova: an out-of-tree compute driver (nova.virt.vnuma).

Select it in nova.conf with [DEFAULT] compute_driver =
vnuma.driver.VnumaLibvirtDriver. See docs/quickstart-nova.md.
"""
