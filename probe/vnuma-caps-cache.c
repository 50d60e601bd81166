/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "probe/vnuma-caps-cache.h"

#include <string.h>
#include <sys/stat.h>

#include "lib/vnuma-math.h"
#include "probe/vnuma-sysfs-cache.h"
#include "xml/vnuma-caps.h"

/* The cache holds the file's identity and the host read from it, a line
 * per node, page pool, distance and CPU, in the order the host keeps
 * them:
 *
 *   vnuma capabilities cache 1
 *   file PATH
 *   identity DEV INO SIZE MTIME_S MTIME_NS CTIME_S CTIME_NS
 *   fingerprint FINGERPRINT
 *   node ID MEMORY_KIB
 *   pages SIZE_KIB TOTAL FREE|-
 *   distance NODE VALUE
 *   cpu ID ONLINE SOCKET DIE CORE SIBLINGS|-
 *
 * Any write to the file moves its change time (which no one can set
 * back), a replacement changes its inode. But the kernel stamps those
 * times from a clock that ticks every few milliseconds: a file written
 * twice within one tick, at the same size, keeps its identity. A file
 * whose change time is that recent is therefore read live and not
 * cached until it has been left alone for VNUMA_CAPS_CACHE_SETTLE_S (git
 * treats its index the same way). */

#define CAPS_CACHE_MAGIC "vnuma capabilities cache 1"

static char *
caps_identity(const struct stat *st)
{
    return g_strdup_printf("%" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT
                           " %" G_GINT64_FORMAT " %ld %" G_GINT64_FORMAT " %ld",
                           (guint64) st->st_dev, (guint64) st->st_ino, (guint64) st->st_size,
                           (gint64) st->st_mtim.tv_sec, st->st_mtim.tv_nsec,
                           (gint64) st->st_ctim.tv_sec, st->st_ctim.tv_nsec);
}

static gboolean
caps_settled(const struct stat *st)
{
    gint64 changed_us = (gint64) st->st_ctim.tv_sec * G_USEC_PER_SEC + st->st_ctim.tv_nsec / 1000;

    return g_get_real_time() - changed_us >= VNUMA_CAPS_CACHE_SETTLE_S * G_USEC_PER_SEC;
}

/* ---- reading ---------------------------------------------------------- */

/* Reads "N" at *@p (N at most @max), then a space or the line's end. */
static gboolean
caps_cache_number(const char **p, guint64 max, guint64 *value)
{
    if (!vnuma_parse_decimal(p, max, value))
        return FALSE;
    if (**p == ' ')
        (*p)++;
    else if (**p)
        return FALSE;
    return TRUE;
}

/* The line's rest: @n numbers, each at most @max. */
static gboolean
caps_cache_numbers(const char *p, guint n, guint64 max, guint64 *values)
{
    for (guint i = 0; i < n; i++) {
        if (!*p || !caps_cache_number(&p, max, &values[i]))
            return FALSE;
    }
    return *p == '\0';
}

/* "SIZE TOTAL FREE|-": TOTAL is a count of pages, not bounded by guint. */
static gboolean
caps_cache_pages(const char *p, VnumaHostNode *node)
{
    guint64 size, total, free = 0;

    if (!caps_cache_number(&p, G_MAXUINT64, &size) || !caps_cache_number(&p, G_MAXINT64, &total))
        return FALSE;
    if (!g_str_equal(p, "-") && !caps_cache_numbers(p, 1, G_MAXINT64, &free))
        return FALSE;
    vnuma_host_node_add_pages(node, size, total, g_str_equal(p, "-") ? -1 : (gint64) free);
    return TRUE;
}

/* "ID ONLINE SOCKET DIE CORE SIBLINGS|-" */
static gboolean
caps_cache_cpu(const char *p, VnumaHostNode *node)
{
    guint64 v[5];
    VnumaCpuSet *siblings = NULL;

    for (guint i = 0; i < G_N_ELEMENTS(v); i++) {
        if (!vnuma_parse_decimal(&p, i == 0 ? VNUMA_CPUSET_MAX_ID : G_MAXUINT, &v[i]) || *p++ != ' ')
            return FALSE;
    }
    if (v[1] > 1)
        return FALSE;
    if (!g_str_equal(p, "-") && !(siblings = vnuma_cpuset_parse(p, NULL)))
        return FALSE;
    if (v[1] != (siblings != NULL)) {
        vnuma_cpuset_free(siblings);
        return FALSE;
    }
    vnuma_host_node_add_cpu(node, (guint) v[0], v[1] == 1, (guint) v[2], (guint) v[3], (guint) v[4], siblings);
    return TRUE;
}

/* One line of the host part (NUL-terminated); @node is the last node line's. */
static gboolean
caps_cache_line(char *line, VnumaHost *host, VnumaHostNode **node)
{
    guint64 v[2];

    if (g_str_has_prefix(line, "node ")) {
        const char *p = line + strlen("node ");

        if (!caps_cache_number(&p, G_MAXUINT, &v[0]) || !caps_cache_numbers(p, 1, G_MAXUINT64, &v[1]) ||
            !(*node = vnuma_host_add_node(host, (guint) v[0], v[1])))
            return FALSE;
        return TRUE;
    }
    if (!*node)
        return FALSE;
    if (g_str_has_prefix(line, "cpu "))
        return caps_cache_cpu(line + strlen("cpu "), *node);
    if (g_str_has_prefix(line, "pages "))
        return caps_cache_pages(line + strlen("pages "), *node);
    if (g_str_has_prefix(line, "distance ")) {
        if (!caps_cache_numbers(line + strlen("distance "), 2, G_MAXUINT, v))
            return FALSE;
        vnuma_host_node_add_distance(*node, (guint) v[0], (guint) v[1]);
        return TRUE;
    }
    return FALSE;
}

/* The cached host of the file @path with @identity, or NULL: absent,
 * untrusted, of another file or identity, cut short or unreadable. */
static VnumaHost *
caps_cache_load(const char *cache_path, const char *path, const char *identity)
{
    g_autofree char *text = vnuma_cache_read_trusted(cache_path);
    g_autofree char *header = NULL;
    g_autoptr(VnumaHost) host = NULL;
    VnumaHostNode *node = NULL;
    char *line, *end, *fingerprint;

    if (!text)
        return NULL;
    header = g_strdup_printf(CAPS_CACHE_MAGIC "\nfile %s\nidentity %s\nfingerprint ", path, identity);
    if (!g_str_has_prefix(text, header))
        return NULL;
    fingerprint = text + strlen(header);
    if (!(end = strchr(fingerprint, '\n')) || end == fingerprint)
        return NULL;
    *end = '\0';
    host = vnuma_host_new();
    for (line = end + 1; *line; line = end + 1) {
        if (!(end = strchr(line, '\n')))
            return NULL;  /* cut short */
        *end = '\0';
        if (!caps_cache_line(line, host, &node))
            return NULL;
    }
    if (!vnuma_host_finish_known(host, fingerprint, NULL))
        return NULL;
    return g_steal_pointer(&host);
}

/* ---- writing ---------------------------------------------------------- */

static void
caps_cache_append_node(GString *out, const VnumaHostNode *node)
{
    g_string_append_printf(out, "node %u %" G_GUINT64_FORMAT "\n", node->id, node->memory_kib);
    for (guint i = 0; i < node->pages->len; i++) {
        const VnumaPagePool *pool = &g_array_index(node->pages, VnumaPagePool, i);

        g_string_append_printf(out, "pages %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT " ",
                               pool->size_kib, pool->total);
        if (pool->free < 0)
            g_string_append(out, "-\n");
        else
            g_string_append_printf(out, "%" G_GINT64_FORMAT "\n", pool->free);
    }
    for (guint i = 0; i < node->distances->len; i++) {
        const VnumaDistance *d = &g_array_index(node->distances, VnumaDistance, i);

        g_string_append_printf(out, "distance %u %u\n", d->node_id, d->value);
    }
    for (guint i = 0; i < node->cpus->len; i++) {
        const VnumaHostCpu *cpu = &g_array_index(node->cpus, VnumaHostCpu, i);
        g_autofree char *siblings = cpu->siblings ? vnuma_cpuset_format(cpu->siblings) : g_strdup("-");

        g_string_append_printf(out, "cpu %u %d %u %u %u %s\n", cpu->id, cpu->online ? 1 : 0,
                               cpu->socket_id, cpu->die_id, cpu->core_id, siblings);
    }
}

static void
caps_cache_save(const char *cache_path, const char *path, const char *identity, const VnumaHost *host)
{
    g_autoptr(GString) out = g_string_new(NULL);

    g_string_append_printf(out, CAPS_CACHE_MAGIC "\nfile %s\nidentity %s\nfingerprint %s\n", path,
                           identity, host->fingerprint);
    for (guint i = 0; i < host->nodes->len; i++)
        caps_cache_append_node(out, host->nodes->pdata[i]);
    vnuma_cache_write(cache_path, out->str);
}

VnumaHost *
vnuma_host_from_caps_file_cached(const char *path, const char *cache_path, GError **error)
{
    g_autofree char *identity = NULL;
    struct stat st;
    VnumaHost *host;

    /* A path of several lines could not be told apart in the cache. */
    if (!cache_path || !*cache_path || strchr(path, '\n') || stat(path, &st) < 0 || !S_ISREG(st.st_mode))
        return vnuma_host_from_caps_file(path, error);
    identity = caps_identity(&st);
    host = caps_cache_load(cache_path, path, identity);
    if (host)
        return host;
    /* The identity was taken before the read: a change during it makes
     * the next call read again. */
    host = vnuma_host_from_caps_file(path, error);
    if (host && caps_settled(&st))
        caps_cache_save(cache_path, path, identity, host);
    return host;
}
