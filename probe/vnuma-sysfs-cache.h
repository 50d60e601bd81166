/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "lib/vnuma-host.h"

G_BEGIN_DECLS

/* The file behind vnuma_host_from_sysfs_cached() (probe/vnuma-sysfs.h):
 * its format, who may have written it, and its writing. Only the sysfs
 * reader and vnumad's keeper use it; its tests are the reader's
 * (tests/test-sysfs.c). */

typedef struct {
    guint64 topology_ino;
    guint socket_id;
    guint die_id;
    guint core_id;
    VnumaCpuSet *siblings;
} VnumaSysfsCachedCpu;

void vnuma_sysfs_cached_cpu_free(VnumaSysfsCachedCpu *cpu);

/* Reads a whole sysfs attribute (or a small /proc file) in one open, read
 * and close. A host of 256 CPUs has hundreds of attributes to read at
 * every hook call, and there every syscall counts: g_file_get_contents
 * adds an fstat (and on sysfs, whose files all claim 4096 bytes, a second
 * read). A read shorter than asked is the end: of a regular file, and of
 * an attribute, which the kernel hands over whole. NULL, with *@absent set
 * and no error, when @absent is given and the file is not there (ENOENT,
 * ENOTDIR); otherwise the error names the file as GLib's does. */
char *vnuma_sysfs_read_attribute(const char *path, gboolean *absent, GError **error);

/* A cache file's text, only if no one but root or this user can have
 * written it (a forged cache would place every VM of the host); NULL when
 * it is absent, unreadable or not trusted. The capabilities cache
 * (vnuma-caps-cache.c) shares it and vnuma_cache_write(). */
char *vnuma_cache_read_trusted(const char *path);

/* Writes a cache file whole, renamed into place (mode 0644, its directory
 * made); a cache that cannot be written is left. */
void vnuma_cache_write(const char *path, const char *text);

/* This boot's id, or "unknown". */
char *vnuma_sysfs_boot_id(void);

/* The kernel's count of uevents sent (@root/kernel/uevent_seqnum), as
 * text, or NULL when it cannot be read. */
char *vnuma_sysfs_uevent_count(const char *root);

/* The cached CPUs (CPU id -> VnumaSysfsCachedCpu *), or NULL when the file
 * is absent, unreadable, not trusted, or of another format, sysfs @root or
 * @boot_id. Never an error: without the cache a read is only slower.
 * @uevents gets the uevent count read before the reading the cache holds
 * ("unknown" when there was none); @fingerprint and @shape the host's
 * fingerprint and the shape (vnuma-sysfs.c: node ids, distances, online
 * CPUs) it was computed for. */
GHashTable *vnuma_sysfs_cache_load(const char *path, const char *root, const char *boot_id,
                                   char **uevents, char **fingerprint, char **shape);

/* Writes the cache whole (@cpu_lines from vnuma_sysfs_cache_append_cpu())
 * and renames it into place; a cache that cannot be written is left.
 * @uevents: the count read before that reading began, or NULL. */
void vnuma_sysfs_cache_save(const char *path, const char *root, const char *boot_id,
                            const char *uevents, const char *fingerprint, const char *shape,
                            const GString *cpu_lines);

/* The cache line of online @cpu, whose topology directory has @topology_ino. */
void vnuma_sysfs_cache_append_cpu(GString *lines, guint64 topology_ino, const VnumaHostCpu *cpu);

G_END_DECLS
