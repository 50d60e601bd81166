/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "lib/vnuma-error.h"

G_DEFINE_QUARK(vnuma-error-quark, vnuma_error)
