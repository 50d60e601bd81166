/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <sys/types.h>

G_BEGIN_DECLS

/* Replaces @path with @data as a whole, for files other programs read
 * while vnumad writes them (node_exporter's textfile collector): never
 * half a file, and never through a link someone planted.
 *
 * The data goes to a new temporary file in the same directory
 * (".NAME.XXXXXX": a name the textfile collector, which reads *.prom,
 * ignores), created with O_CREAT|O_EXCL|O_NOFOLLOW and given @mode
 * whatever the umask; it is fsync()ed, then renamed over @path (rename
 * replaces a symlink at @path itself, it does not follow it), and the
 * directory is fsync()ed so the rename survives a crash. On any error
 * the temporary file is removed and @path is left as it was. */
gboolean vnuma_file_replace(const char *path, const char *data, gsize len, mode_t mode,
                            GError **error);

G_END_DECLS
