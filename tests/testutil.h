/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* cmocka needs these before its header. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <glib.h>

#include "lib/vnuma-host.h"
#include "lib/vnuma-layout.h"
#include "lib/vnuma-request.h"

/* $VNUMA_SRCDIR/@relative (the source tree; meson sets it). */
char *vnuma_test_path(const char *relative);
/* Whole file under the source tree; fails the test when unreadable. */
char *vnuma_test_read(const char *relative, gsize *len);
/* examples/hosts/@name.xml parsed into a host model; fails the test on error. */
VnumaHost *vnuma_test_host(const char *name);
/* Runs libvirt's virt-xml-validate on @xml as @schema ("domain",
 * "capability"); fails the test, printing the validator's words, when
 * it rejects the document or cannot run. */
void vnuma_test_assert_valid(const char *xml, const char *schema);
/* Fails, printing both, unless @needle is (is not) in @haystack. */
void vnuma_test_assert_contains(const char *haystack, const char *needle);
void vnuma_test_assert_lacks(const char *haystack, const char *needle);

/* @text parsed as a CPU list; fails the test when it is not one. */
VnumaCpuSet *vnuma_test_cpuset(const char *text);
/* A kvm domain request with @vcpus vCPUs (all online) and @memory_kib
 * of 4 KiB pages, named "guest". */
VnumaRequest *vnuma_test_request(guint vcpus, guint64 memory_kib);
/* Prints a layout's decision, notes and warnings, for a failing test. */
void vnuma_test_dump_layout(const VnumaLayout *layout);

#define assert_str_equal(a, b) assert_string_equal((a), (b))
