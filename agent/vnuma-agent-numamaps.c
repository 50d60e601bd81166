/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "agent/vnuma-agent-numamaps.h"

#include <string.h>

#include "lib/vnuma-cpuset.h"
#include "lib/vnuma-error.h"

static gboolean
parse_uint(const char *text, guint64 max, guint64 *value)
{
    return g_ascii_string_to_unsigned(text, 10, 0, max, value, NULL);
}

/* One mapping: its pages per node, then the page size that scales them
 * (the kernel prints kernelpagesize_kB after the N<node>= counts). */
static gboolean
parse_line(const char *line, guint lineno, GArray *kib, GError **error)
{
    g_auto(GStrv) words = g_strsplit_set(line, " \t", -1);
    g_autoptr(GArray) pages = g_array_new(FALSE, TRUE, sizeof(guint64));
    guint64 page_kib = 4;

    if (!words[0] || !*words[0] || !words[1]) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID,
                    "numa_maps line %u: no address and policy", lineno);
        return FALSE;
    }
    for (guint i = 2; words[i]; i++) {
        const char *word = words[i];
        const char *eq = strchr(word, '=');
        guint64 node, count;

        if (word[0] == 'N' && eq && g_ascii_isdigit(word[1])) {
            g_autofree char *id = g_strndup(word + 1, (gsize) (eq - word - 1));

            if (!parse_uint(id, VNUMA_CPUSET_MAX_ID, &node) || !parse_uint(eq + 1, G_MAXUINT64, &count)) {
                g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID,
                            "numa_maps line %u: '%s' is not N<node>=<pages>", lineno, word);
                return FALSE;
            }
            if (pages->len <= node)
                g_array_set_size(pages, (guint) node + 1);
            g_array_index(pages, guint64, node) += count;
        } else if (g_str_has_prefix(word, "kernelpagesize_kB=")) {
            if (!parse_uint(eq + 1, G_MAXUINT32, &page_kib) || page_kib == 0) {
                g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID,
                            "numa_maps line %u: bad page size '%s'", lineno, word);
                return FALSE;
            }
        }
    }
    if (kib->len < pages->len)
        g_array_set_size(kib, pages->len);
    for (guint n = 0; n < pages->len; n++)
        g_array_index(kib, guint64, n) += g_array_index(pages, guint64, n) * page_kib;
    return TRUE;
}

GArray *
vnuma_numa_maps_parse(const char *text, GError **error)
{
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    g_autoptr(GArray) kib = g_array_new(FALSE, TRUE, sizeof(guint64));

    for (guint i = 0; lines[i]; i++) {
        if (!*g_strstrip(lines[i]))
            continue;
        if (!parse_line(lines[i], i + 1, kib, error))
            return NULL;
    }
    return g_steal_pointer(&kib);
}

GArray *
vnuma_numa_maps_read(pid_t pid, GError **error)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/numa_maps", (int) pid);
    g_autofree char *text = NULL;
    g_autoptr(GError) local = NULL;

    if (!g_file_get_contents(path, &text, NULL, &local)) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_IO, "%s", local->message);
        return NULL;
    }
    return vnuma_numa_maps_parse(text, error);
}

gboolean
vnuma_qemu_pid_read(const char *run_dir, const char *name, pid_t *pid, GError **error)
{
    g_autofree char *file = g_strconcat(name, ".pid", NULL);
    g_autofree char *path = NULL;
    g_autofree char *text = NULL;
    g_autoptr(GError) local = NULL;
    guint64 value;

    /* A domain name is a file name here: refuse anything that walks. */
    if (!*name || strchr(name, '/') || g_str_equal(name, ".") || g_str_equal(name, "..")) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID, "domain name '%s' is not a file name", name);
        return FALSE;
    }
    path = g_build_filename(run_dir, file, NULL);
    if (!g_file_get_contents(path, &text, NULL, &local)) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_IO, "%s", local->message);
        return FALSE;
    }
    if (!parse_uint(g_strstrip(text), G_MAXINT32, &value) || value == 0) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID, "%s: '%s' is not a PID", path, text);
        return FALSE;
    }
    *pid = (pid_t) value;
    return TRUE;
}
