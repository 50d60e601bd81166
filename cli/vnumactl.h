/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* vnumactl's commands and what they share. Exit status everywhere: 0
 * done, 1 unreadable input or an unreachable libvirt (one line on
 * stderr naming it), 2 usage. */
#define VNUMACTL_EXIT_BAD_INPUT 1
#define VNUMACTL_EXIT_USAGE 2
#define VNUMACTL_DEFAULT_URI "qemu:///system"

/* Prints "vnumactl: error: MESSAGE" on one line; returns @code. */
int vnumactl_fail(int code, const char *format, ...) G_GNUC_PRINTF(2, 3);
/* Writes @text to stdout; FALSE when that failed. */
gboolean vnumactl_print(const char *text);
/* "1.5 GiB", "512 MiB", "4 KiB": memory for people. */
char *vnumactl_format_kib(guint64 kib);

int vnumactl_advise(int argc, char **argv);
int vnumactl_explain(int argc, char **argv);
int vnumactl_status(int argc, char **argv);

G_END_DECLS
