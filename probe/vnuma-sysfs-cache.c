/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "probe/vnuma-sysfs-cache.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/vnuma-error.h"
#include "lib/vnuma-math.h"

/* The per-CPU topology facts sysfs gives (package, die, core, thread
 * siblings) change only at reboot and when a CPU goes offline and comes
 * back: the kernel removes cpuN/topology at offline and creates it anew at
 * online, and a new sysfs directory never gets the inode number of an old
 * one. So the cache keeps, per online CPU, those facts and the inode of
 * its topology directory; vnuma-sysfs.c lets it serve only when the boot
 * id, the set of online CPUs (the nodes' cpulists, read live) and every
 * CPU's inode still match. It also keeps the host's fingerprint (a
 * SHA-256 over every CPU, the next largest cost) with the shape it was
 * computed for: node ids and distances, read live, and the online CPUs.
 *
 * One stat per CPU is still ~1 ms per call on a 256-thread host (kernfs
 * is slow to stat). The kernel counts every uevent it sends in
 * kernel/uevent_seqnum, and a CPU going offline or coming back (by its
 * online file, SMT control or physical hot-plug) always sends one. So the
 * cache also keeps the count read before the reading it holds: while the
 * count is the same, no CPU has been replugged since, and the inodes need
 * no checking. The nodes' cpulists, read at every call, cover the moment
 * between a CPU's change and its uevent: an offlined CPU leaves them
 * before its topology directory goes, an onlined one enters them. */

#define SYSFS_CACHE_MAGIC "vnuma sysfs topology cache 3"
#define BOOT_ID_PATH "/proc/sys/kernel/random/boot_id"


void
vnuma_sysfs_cached_cpu_free(VnumaSysfsCachedCpu *cpu)
{
    vnuma_cpuset_free(cpu->siblings);
    g_free(cpu);
}

char *
vnuma_sysfs_read_attribute(const char *path, gboolean *absent, GError **error)
{
    g_autoptr(GString) text = NULL;
    char chunk[4096];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int saved;

    if (absent)
        *absent = fd < 0 && (errno == ENOENT || errno == ENOTDIR);
    if (fd < 0) {
        saved = errno;
        if (!absent || !*absent)
            g_set_error(error, VNUMA_ERROR, saved == ENOENT ? VNUMA_ERROR_NOT_FOUND : VNUMA_ERROR_IO,
                        "Failed to open file '%s': %s", path, g_strerror(saved));
        return NULL;
    }
    text = g_string_new(NULL);
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            saved = errno;
            close(fd);
            g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_IO, "Failed to read from file '%s': %s", path,
                        g_strerror(saved));
            return NULL;
        }
        g_string_append_len(text, chunk, n);
        if ((gsize) n < sizeof(chunk))
            break;
    }
    close(fd);
    return g_string_free(g_steal_pointer(&text), FALSE);
}

char *
vnuma_sysfs_boot_id(void)
{
    g_autofree char *text = vnuma_sysfs_read_attribute(BOOT_ID_PATH, NULL, NULL);

    if (!text)
        return g_strdup("unknown");
    return g_strdup(g_strstrip(text));
}

char *
vnuma_sysfs_uevent_count(const char *root)
{
    g_autofree char *path = g_build_filename(root, "kernel", "uevent_seqnum", NULL);
    g_autofree char *text = vnuma_sysfs_read_attribute(path, NULL, NULL);
    guint64 count;

    if (!text ||
        !g_ascii_string_to_unsigned(g_strstrip(text), 10, 0, G_MAXUINT64, &count, NULL))
        return NULL;
    return g_strdup_printf("%" G_GUINT64_FORMAT, count);
}

/* Reads "N " at *@p (N at most @max) and moves past it. */
static gboolean
sysfs_cache_number(const char **p, guint64 max, guint64 *value)
{
    if (!vnuma_parse_decimal(p, max, value) || **p != ' ')
        return FALSE;
    (*p)++;
    return TRUE;
}

/* "cpu ID INO SOCKET DIE CORE SIBLINGS", NUL-terminated. Parsed by hand:
 * this runs for every CPU at every hook call. */
static gboolean
sysfs_cache_parse_cpu(char *line, GHashTable *cpus)
{
    g_autofree VnumaSysfsCachedCpu *cpu = g_new0(VnumaSysfsCachedCpu, 1);
    const char *p = line + strlen("cpu ");
    guint64 id, socket_id, die_id, core_id;

    if (!g_str_has_prefix(line, "cpu ") ||
        !sysfs_cache_number(&p, VNUMA_CPUSET_MAX_ID, &id) ||
        !sysfs_cache_number(&p, G_MAXUINT64, &cpu->topology_ino) ||
        !sysfs_cache_number(&p, G_MAXUINT, &socket_id) ||
        !sysfs_cache_number(&p, G_MAXUINT, &die_id) ||
        !sysfs_cache_number(&p, G_MAXUINT, &core_id) ||
        g_hash_table_contains(cpus, GUINT_TO_POINTER((guint) id)))
        return FALSE;
    cpu->siblings = vnuma_cpuset_parse(p, NULL);
    if (!cpu->siblings)
        return FALSE;
    cpu->socket_id = (guint) socket_id;
    cpu->die_id = (guint) die_id;
    cpu->core_id = (guint) core_id;
    g_hash_table_insert(cpus, GUINT_TO_POINTER((guint) id), g_steal_pointer(&cpu));
    return TRUE;
}

char *
vnuma_cache_read_trusted(const char *path)
{
    g_autoptr(GString) text = g_string_new(NULL);
    char chunk[8192];
    struct stat st;
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

    if (fd < 0)
        return NULL;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (st.st_mode & (S_IWGRP | S_IWOTH)) ||
        (st.st_uid != 0 && st.st_uid != geteuid())) {
        close(fd);
        return NULL;
    }
    while ((n = read(fd, chunk, sizeof(chunk))) > 0 || (n < 0 && errno == EINTR)) {
        if (n > 0)
            g_string_append_len(text, chunk, n);
    }
    close(fd);
    return n < 0 ? NULL : g_string_free(g_steal_pointer(&text), FALSE);
}

/* "host FINGERPRINT SHAPE", NUL-terminated. */
static gboolean
sysfs_cache_parse_host(char *line, char **fingerprint, char **shape)
{
    char *p = line + strlen("host ");
    char *space;

    if (!g_str_has_prefix(line, "host ") || !(space = strchr(p, ' ')) || space == p || !space[1])
        return FALSE;
    *fingerprint = g_strndup(p, space - p);
    *shape = g_strdup(space + 1);
    return TRUE;
}

/* The cached CPUs, or NULL when the cache is absent, unreadable, not
 * trusted, of another format, sysfs root or boot. Never an error: a read
 * without the cache is only slower. */
GHashTable *
vnuma_sysfs_cache_load(const char *path, const char *root, const char *boot_id,
                       char **uevents, char **fingerprint, char **shape)
{
    g_autofree char *text = vnuma_cache_read_trusted(path);
    g_autofree char *header = NULL;
    g_autofree char *cached_uevents = NULL;
    g_autofree char *cached_fingerprint = NULL;
    g_autofree char *cached_shape = NULL;
    g_autoptr(GHashTable) cpus = NULL;
    char *line, *end;

    if (!text)
        return NULL;
    header = g_strdup_printf(SYSFS_CACHE_MAGIC "\nroot %s\nboot %s\nuevents ", root, boot_id);
    if (!g_str_has_prefix(text, header))
        return NULL;
    line = text + strlen(header);
    if (!(end = strchr(line, '\n')) || end == line)
        return NULL;
    cached_uevents = g_strndup(line, end - line);
    line = end + 1;
    if (!(end = strchr(line, '\n')))
        return NULL;
    *end = '\0';
    if (!sysfs_cache_parse_host(line, &cached_fingerprint, &cached_shape))
        return NULL;
    cpus = g_hash_table_new_full(NULL, NULL, NULL, (GDestroyNotify) vnuma_sysfs_cached_cpu_free);
    for (line = end + 1; *line;) {
        end = strchr(line, '\n');
        if (!end)
            return NULL;  /* cut short */
        *end = '\0';
        if (!sysfs_cache_parse_cpu(line, cpus))
            return NULL;
        line = end + 1;
    }
    *uevents = g_steal_pointer(&cached_uevents);
    *fingerprint = g_steal_pointer(&cached_fingerprint);
    *shape = g_steal_pointer(&cached_shape);
    return g_steal_pointer(&cpus);
}

/* Written whole and renamed into place, so that a concurrent hook reads
 * the old cache or the new one. A cache that cannot be written (no right
 * to, read-only /run) only means the next read is live too. */
void
vnuma_cache_write(const char *path, const char *text)
{
    g_autofree char *dir = g_path_get_dirname(path);

    if (g_mkdir_with_parents(dir, 0755) < 0)
        return;
    (void) g_file_set_contents_full(path, text, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0644, NULL);
}

void
vnuma_sysfs_cache_save(const char *path, const char *root, const char *boot_id,
                       const char *uevents, const char *fingerprint, const char *shape,
                       const GString *cpus)
{
    g_autofree char *text = g_strdup_printf(SYSFS_CACHE_MAGIC "\nroot %s\nboot %s\nuevents %s\nhost %s %s\n%s",
                                            root, boot_id, uevents ? uevents : "unknown",
                                            fingerprint, shape, cpus->str);

    vnuma_cache_write(path, text);
}

void
vnuma_sysfs_cache_append_cpu(GString *lines, guint64 topology_ino, const VnumaHostCpu *cpu)
{
    g_autofree char *siblings = vnuma_cpuset_format(cpu->siblings);

    g_string_append_printf(lines, "cpu %u %" G_GUINT64_FORMAT " %u %u %u %s\n", cpu->id,
                           topology_ino, cpu->socket_id, cpu->die_id, cpu->core_id, siblings);
}
