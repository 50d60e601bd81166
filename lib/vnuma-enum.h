/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Enum <-> string, one table for both directions (libvirt's
 * VIR_ENUM_DECL/VIR_ENUM_IMPL): every enum vnuma prints or parses is
 * declared with VNUMA_ENUM_DECL in its header and given its names, in
 * order, with VNUMA_ENUM_IMPL in its .c. The enum ends with a _LAST
 * count; a table with a name missing or extra does not compile. */

#include <glib.h>

G_BEGIN_DECLS

/* The name of @value in @names, NULL when out of range. */
const char *vnuma_enum_to_string(const char *const *names, guint count, gint value);
/* The value named @text, or -1. */
gint vnuma_enum_from_string(const char *const *names, guint count, const char *text);
/* The names joined by @separator, for a message (g_free). */
char *vnuma_enum_join(const char *const *names, guint count, const char *separator);

#define VNUMA_ENUM_DECL(prefix, type) \
    const char *prefix##_to_string(type value); \
    gint prefix##_from_string(const char *text); \
    char *prefix##_join(const char *separator)

#define VNUMA_ENUM_IMPL(prefix, type, count, ...) \
    static const char *const prefix##_names[] = { __VA_ARGS__ }; \
    G_STATIC_ASSERT(G_N_ELEMENTS(prefix##_names) == (count)); \
    const char *prefix##_to_string(type value) \
    { \
        return vnuma_enum_to_string(prefix##_names, (count), (gint) value); \
    } \
    gint prefix##_from_string(const char *text) \
    { \
        return vnuma_enum_from_string(prefix##_names, (count), text); \
    } \
    char *prefix##_join(const char *separator) \
    { \
        return vnuma_enum_join(prefix##_names, (count), separator); \
    }

G_END_DECLS
