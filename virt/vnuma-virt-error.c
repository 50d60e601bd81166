/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "virt/vnuma-virt-error.h"

#include <libvirt/virterror.h>

VnumaErrorCode
vnuma_virt_error_code(void)
{
    return virGetLastErrorCode() == VIR_ERR_OPERATION_TIMEOUT ? VNUMA_ERROR_BUSY : VNUMA_ERROR_IO;
}

const char *
vnuma_virt_error_message(void)
{
    const char *message = virGetLastErrorMessage();

    return message ? message : "unknown libvirt error";
}

void
vnuma_virt_set_error(GError **error, const char *format, ...)
{
    g_autofree char *what = NULL;
    va_list args;

    va_start(args, format);
    what = g_strdup_vprintf(format, args);
    va_end(args);
    g_set_error(error, VNUMA_ERROR, vnuma_virt_error_code(), "%s: %s", what, vnuma_virt_error_message());
}
