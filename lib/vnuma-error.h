/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vnuma's error domain. Public: plugin/vnuma.h includes this header and
 * it is installed beside it, so users of libvnuma can tell errors apart
 * with g_error_matches(error, VNUMA_ERROR, VNUMA_ERROR_...). The codes
 * are ABI: add new ones at the end, never renumber.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define VNUMA_ERROR (vnuma_error_quark())

typedef enum {
    VNUMA_ERROR_INVALID = 0,   /* malformed or out-of-range input, a NULL argument, unknown flags */
    VNUMA_ERROR_NOT_FOUND = 1, /* a required element or file is missing (no host loaded) */
    VNUMA_ERROR_IO = 2,        /* reading or writing failed */
    VNUMA_ERROR_BUSY = 3,      /* another job holds the target: the same call may work later */
} VnumaErrorCode;

GQuark vnuma_error_quark(void);

G_END_DECLS
