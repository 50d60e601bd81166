/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* libvirt's last error as a GError: the one mapping, for the agent and
 * the CLI alike. libvirt gives up waiting for a domain another job
 * holds (a start still finishing, a save) after 30 s with
 * VIR_ERR_OPERATION_TIMEOUT: that is VNUMA_ERROR_BUSY, worth trying
 * again soon; any other failure is VNUMA_ERROR_IO. */

#include <glib.h>

#include "lib/vnuma-error.h"

G_BEGIN_DECLS

/* The code for libvirt's last error. */
VnumaErrorCode vnuma_virt_error_code(void);
/* libvirt's last error message, never NULL. */
const char *vnuma_virt_error_message(void);
/* Sets @error to "@format: <libvirt's message>" with the code above. */
void vnuma_virt_set_error(GError **error, const char *format, ...) G_GNUC_PRINTF(2, 3);

G_END_DECLS
