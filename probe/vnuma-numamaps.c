/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "probe/vnuma-numamaps.h"

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
parse_line_at(const char *line, guint lineno, GArray *kib, guint64 *start, GError **error)
{
    g_auto(GStrv) words = g_strsplit_set(line, " \t", -1);
    g_autoptr(GArray) pages = g_array_new(FALSE, TRUE, sizeof(guint64));
    guint64 page_kib = 4;

    if (!words[0] || !*words[0] || !words[1] ||
        (start && !g_ascii_string_to_unsigned(words[0], 16, 0, G_MAXUINT64, start, NULL))) {
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

static gboolean
parse_line(const char *line, guint lineno, GArray *kib, GError **error)
{
    return parse_line_at(line, lineno, kib, NULL, error);
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

void
vnuma_mem_region_free(VnumaMemRegion *region)
{
    if (!region)
        return;
    g_free(region->path);
    if (region->kib)
        g_array_unref(region->kib);
    g_free(region);
}

/* "START-END PERMS OFFSET DEV INODE [PATH]" */
static VnumaMemRegion *
parse_maps_line(const char *line, guint lineno, GError **error)
{
    g_autoptr(GRegex) re = g_regex_new("^([0-9a-f]+)-([0-9a-f]+) ([r-])([w-])([x-])[ps] \\S+ \\S+ \\S+ *(.*)$",
                                       0, 0, NULL);
    g_autoptr(GMatchInfo) match = NULL;
    VnumaMemRegion *region;
    g_autofree char *path = NULL;
    g_autofree char *start = NULL;
    g_autofree char *end = NULL;
    g_autofree char *w = NULL;
    g_autofree char *x = NULL;

    if (!g_regex_match(re, line, 0, &match)) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_INVALID, "maps line %u: not START-END PERMS ...", lineno);
        return NULL;
    }
    region = g_new0(VnumaMemRegion, 1);
    start = g_match_info_fetch(match, 1);
    end = g_match_info_fetch(match, 2);
    w = g_match_info_fetch(match, 4);
    x = g_match_info_fetch(match, 5);
    path = g_match_info_fetch(match, 6);
    region->start = g_ascii_strtoull(start, NULL, 16);
    region->end = g_ascii_strtoull(end, NULL, 16);
    region->writable = *w == 'w';
    region->executable = *x == 'x';
    region->path = *path ? g_steal_pointer(&path) : NULL;
    return region;
}

GPtrArray *
vnuma_mem_regions_parse(const char *numa_maps, const char *maps, GError **error)
{
    g_auto(GStrv) map_lines = g_strsplit(maps, "\n", -1);
    g_auto(GStrv) numa_lines = g_strsplit(numa_maps, "\n", -1);
    g_autoptr(GHashTable) by_start = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, NULL);
    g_autoptr(GPtrArray) all = g_ptr_array_new_with_free_func((GDestroyNotify) vnuma_mem_region_free);
    g_autoptr(GPtrArray) found = g_ptr_array_new_with_free_func((GDestroyNotify) vnuma_mem_region_free);

    for (guint i = 0; map_lines[i]; i++) {
        VnumaMemRegion *region;

        if (!*g_strstrip(map_lines[i]))
            continue;
        if (!(region = parse_maps_line(map_lines[i], i + 1, error)))
            return NULL;
        g_ptr_array_add(all, region);
        g_hash_table_insert(by_start, &region->start, region);
    }
    for (guint i = 0; numa_lines[i]; i++) {
        g_autoptr(GArray) kib = g_array_new(FALSE, TRUE, sizeof(guint64));
        VnumaMemRegion *region;
        guint64 start;

        if (!*g_strstrip(numa_lines[i]))
            continue;
        if (!parse_line_at(numa_lines[i], i + 1, kib, &start, error))
            return NULL;
        /* A mapping that came or went between the two reads: skip it. */
        if (!(region = g_hash_table_lookup(by_start, &start)) || region->kib)
            continue;
        region->kib = g_steal_pointer(&kib);
    }
    for (guint i = 0; i < all->len; i++) {
        if (((VnumaMemRegion *) all->pdata[i])->kib)
            g_ptr_array_add(found, g_steal_pointer(&all->pdata[i]));
    }
    return g_steal_pointer(&found);
}

GPtrArray *
vnuma_mem_regions_read(pid_t pid, GError **error)
{
    g_autofree char *maps_path = g_strdup_printf("/proc/%d/maps", (int) pid);
    g_autofree char *numa_path = g_strdup_printf("/proc/%d/numa_maps", (int) pid);
    g_autofree char *maps = NULL;
    g_autofree char *numa_maps = NULL;
    g_autoptr(GError) local = NULL;

    if (!g_file_get_contents(maps_path, &maps, NULL, &local) ||
        !g_file_get_contents(numa_path, &numa_maps, NULL, &local)) {
        g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_IO, "%s", local->message);
        return NULL;
    }
    return vnuma_mem_regions_parse(numa_maps, maps, error);
}

static gboolean
ram_candidate(const VnumaMemRegion *region, guint64 kib)
{
    return region->writable && !region->executable && region->end - region->start == kib * 1024;
}

GArray *
vnuma_guest_ram_match(const GPtrArray *regions, const guint64 *cell_kib, guint n_cells)
{
    GArray *match = g_array_new(FALSE, FALSE, sizeof(gint));

    for (guint c = 0; c < n_cells; c++) {
        guint rank = 0, same = 0, candidates = 0;
        gint found = -1;

        /* This cell's rank among the cells of its size … */
        for (guint o = 0; o < n_cells; o++) {
            same += cell_kib[o] == cell_kib[c];
            rank += o < c && cell_kib[o] == cell_kib[c];
        }
        /* … picks the candidate of that rank from the top (regions are
         * in ascending address order). */
        for (guint r = regions->len; r-- > 0;) {
            if (!ram_candidate(regions->pdata[r], cell_kib[c]))
                continue;
            if (candidates++ == rank)
                found = (gint) r;
        }
        if (candidates != same)
            found = -1;
        g_array_append_val(match, found);
    }
    return match;
}

GArray *
vnuma_mem_regions_total(const GPtrArray *regions)
{
    GArray *total = g_array_new(FALSE, TRUE, sizeof(guint64));

    for (guint r = 0; r < regions->len; r++) {
        const GArray *kib = ((const VnumaMemRegion *) regions->pdata[r])->kib;

        if (total->len < kib->len)
            g_array_set_size(total, kib->len);
        for (guint n = 0; n < kib->len; n++)
            g_array_index(total, guint64, n) += g_array_index(kib, guint64, n);
    }
    return total;
}

GPtrArray *
vnuma_guest_ram_kib(const GPtrArray *regions, const GArray *ram)
{
    GPtrArray *cells;

    if (!ram)
        return NULL;
    cells = g_ptr_array_new();
    for (guint i = 0; i < ram->len; i++) {
        gint r = g_array_index(ram, gint, i);

        g_ptr_array_add(cells, r < 0 ? NULL : ((VnumaMemRegion *) regions->pdata[r])->kib);
    }
    return cells;
}
