/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define VNUMA_ERROR (vnuma_error_quark())

typedef enum {
    VNUMA_ERROR_INVALID,   /* malformed or out-of-range input */
    VNUMA_ERROR_NOT_FOUND, /* a required element or file is missing */
    VNUMA_ERROR_IO,        /* reading or writing failed */
    VNUMA_ERROR_REFUSED,   /* a policy says no (e.g. enforce) */
    VNUMA_ERROR_BUSY,      /* another job holds the target: the same call may work later */
} VnumaErrorCode;

GQuark vnuma_error_quark(void);

G_END_DECLS
