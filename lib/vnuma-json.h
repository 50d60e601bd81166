/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A small streaming JSON writer (vnumactl --format json, vnumad --report): it
 * tracks nesting and commas so callers only say what comes next. glib
 * has no JSON and the report is write-only, so a builder is enough. */
typedef struct _VnumaJson VnumaJson;

VnumaJson *vnuma_json_new(void);
void vnuma_json_free(VnumaJson *json);

void vnuma_json_begin_object(VnumaJson *json);
void vnuma_json_end_object(VnumaJson *json);
void vnuma_json_begin_array(VnumaJson *json);
void vnuma_json_end_array(VnumaJson *json);

/* The key of the next member; only inside an object. */
void vnuma_json_key(VnumaJson *json, const char *key);

void vnuma_json_string(VnumaJson *json, const char *value); /* NULL: null */
void vnuma_json_int(VnumaJson *json, gint64 value);
void vnuma_json_uint(VnumaJson *json, guint64 value);
/* Non-finite numbers have no JSON spelling: they are written as null. */
void vnuma_json_double(VnumaJson *json, double value);
void vnuma_json_bool(VnumaJson *json, gboolean value);
void vnuma_json_null(VnumaJson *json);

/* key + value in one call, the common case. */
void vnuma_json_member_string(VnumaJson *json, const char *key, const char *value);
void vnuma_json_member_int(VnumaJson *json, const char *key, gint64 value);
void vnuma_json_member_uint(VnumaJson *json, const char *key, guint64 value);
void vnuma_json_member_double(VnumaJson *json, const char *key, double value);
void vnuma_json_member_bool(VnumaJson *json, const char *key, gboolean value);

/* A measurement that may be unknown: a negative @value is written as null. */
void vnuma_json_member_int_or_null(VnumaJson *json, const char *key, gint64 value);
void vnuma_json_member_double_or_null(VnumaJson *json, const char *key, double value);

/* The text so far; complete once every object and array is closed. */
const char *vnuma_json_text(const VnumaJson *json);
char *vnuma_json_steal(VnumaJson *json);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(VnumaJson, vnuma_json_free)

G_END_DECLS
