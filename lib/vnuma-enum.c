/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "lib/vnuma-enum.h"

const char *
vnuma_enum_to_string(const char *const *names, guint count, gint value)
{
    return value >= 0 && (guint) value < count ? names[value] : NULL;
}

gint
vnuma_enum_from_string(const char *const *names, guint count, const char *text)
{
    for (guint i = 0; text && i < count; i++) {
        if (g_str_equal(text, names[i]))
            return (gint) i;
    }
    return -1;
}

char *
vnuma_enum_join(const char *const *names, guint count, const char *separator)
{
    GString *out = g_string_new(NULL);

    for (guint i = 0; i < count; i++)
        g_string_append_printf(out, "%s%s", i ? separator : "", names[i]);
    return g_string_free(out, FALSE);
}
