/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "lib/vnuma-json.h"

#include <math.h>

struct _VnumaJson {
    GString *out;
    /* One entry per open container: whether a value was written in it
     * yet, so the next one knows to put a comma first. */
    GArray *started;
    gboolean after_key;
};

VnumaJson *
vnuma_json_new(void)
{
    VnumaJson *json = g_new0(VnumaJson, 1);

    json->out = g_string_new(NULL);
    json->started = g_array_new(FALSE, FALSE, sizeof(gboolean));
    return json;
}

void
vnuma_json_free(VnumaJson *json)
{
    if (!json)
        return;
    if (json->out)
        g_string_free(json->out, TRUE);
    g_array_unref(json->started);
    g_free(json);
}

/* Called before every value and key: the comma between siblings. A value
 * right after its key needs none. */
static void
separate(VnumaJson *json)
{
    gboolean *started;

    if (json->after_key) {
        json->after_key = FALSE;
        return;
    }
    if (json->started->len == 0)
        return;
    started = &g_array_index(json->started, gboolean, json->started->len - 1);
    if (*started)
        g_string_append_c(json->out, ',');
    *started = TRUE;
}

static void
append_escaped(GString *out, const char *text)
{
    g_string_append_c(out, '"');
    for (const unsigned char *p = (const unsigned char *) text; *p; p++) {
        switch (*p) {
        case '"':
            g_string_append(out, "\\\"");
            break;
        case '\\':
            g_string_append(out, "\\\\");
            break;
        case '\n':
            g_string_append(out, "\\n");
            break;
        case '\t':
            g_string_append(out, "\\t");
            break;
        default:
            if (*p < 0x20)
                g_string_append_printf(out, "\\u%04x", *p);
            else
                g_string_append_c(out, (char) *p);
        }
    }
    g_string_append_c(out, '"');
}

static void
open_container(VnumaJson *json, char bracket)
{
    gboolean started = FALSE;

    separate(json);
    g_string_append_c(json->out, bracket);
    g_array_append_val(json->started, started);
}

static void
close_container(VnumaJson *json, char bracket)
{
    g_return_if_fail(json->started->len > 0);
    g_array_set_size(json->started, json->started->len - 1);
    g_string_append_c(json->out, bracket);
}

void
vnuma_json_begin_object(VnumaJson *json)
{
    open_container(json, '{');
}

void
vnuma_json_end_object(VnumaJson *json)
{
    close_container(json, '}');
}

void
vnuma_json_begin_array(VnumaJson *json)
{
    open_container(json, '[');
}

void
vnuma_json_end_array(VnumaJson *json)
{
    close_container(json, ']');
}

void
vnuma_json_key(VnumaJson *json, const char *key)
{
    separate(json);
    append_escaped(json->out, key);
    g_string_append_c(json->out, ':');
    json->after_key = TRUE;
}

void
vnuma_json_string(VnumaJson *json, const char *value)
{
    separate(json);
    if (value)
        append_escaped(json->out, value);
    else
        g_string_append(json->out, "null");
}

void
vnuma_json_int(VnumaJson *json, gint64 value)
{
    separate(json);
    g_string_append_printf(json->out, "%" G_GINT64_FORMAT, value);
}

void
vnuma_json_uint(VnumaJson *json, guint64 value)
{
    separate(json);
    g_string_append_printf(json->out, "%" G_GUINT64_FORMAT, value);
}

void
vnuma_json_double(VnumaJson *json, double value)
{
    char buf[G_ASCII_DTOSTR_BUF_SIZE];

    separate(json);
    if (!isfinite(value)) {
        g_string_append(json->out, "null");
        return;
    }
    /* g_ascii_formatd: locale-independent; 15 digits keep epoch seconds exact to the ms. */
    g_string_append(json->out, g_ascii_formatd(buf, sizeof(buf), "%.15g", value));
}

void
vnuma_json_bool(VnumaJson *json, gboolean value)
{
    separate(json);
    g_string_append(json->out, value ? "true" : "false");
}

void
vnuma_json_null(VnumaJson *json)
{
    separate(json);
    g_string_append(json->out, "null");
}

void
vnuma_json_member_string(VnumaJson *json, const char *key, const char *value)
{
    vnuma_json_key(json, key);
    vnuma_json_string(json, value);
}

void
vnuma_json_member_int(VnumaJson *json, const char *key, gint64 value)
{
    vnuma_json_key(json, key);
    vnuma_json_int(json, value);
}

void
vnuma_json_member_uint(VnumaJson *json, const char *key, guint64 value)
{
    vnuma_json_key(json, key);
    vnuma_json_uint(json, value);
}

void
vnuma_json_member_double(VnumaJson *json, const char *key, double value)
{
    vnuma_json_key(json, key);
    vnuma_json_double(json, value);
}

void
vnuma_json_member_int_or_null(VnumaJson *json, const char *key, gint64 value)
{
    vnuma_json_key(json, key);
    if (value >= 0)
        vnuma_json_int(json, value);
    else
        vnuma_json_null(json);
}

void
vnuma_json_member_double_or_null(VnumaJson *json, const char *key, double value)
{
    vnuma_json_key(json, key);
    if (value >= 0)
        vnuma_json_double(json, value);
    else
        vnuma_json_null(json);
}

void
vnuma_json_member_bool(VnumaJson *json, const char *key, gboolean value)
{
    vnuma_json_key(json, key);
    vnuma_json_bool(json, value);
}

const char *
vnuma_json_text(const VnumaJson *json)
{
    return json->out->str;
}

char *
vnuma_json_steal(VnumaJson *json)
{
    char *text = g_string_free(json->out, FALSE);

    json->out = g_string_new(NULL);
    g_array_set_size(json->started, 0);
    json->after_key = FALSE;
    return text;
}
