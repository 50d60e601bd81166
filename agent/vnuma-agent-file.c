/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "agent/vnuma-agent-file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/vnuma-error.h"

#define TEMP_ATTEMPTS 100

static gboolean
fail_errno(GError **error, int err, const char *what, const char *path)
{
    g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_IO, "%s %s: %s", what, path, g_strerror(err));
    return FALSE;
}

/* A temporary file of our own: O_EXCL fails on anything already there,
 * a symlink included, so a planted name is never written through. */
static int
open_temp(const char *dir, const char *base, char **temp_out, GError **error)
{
    for (guint attempt = 0; attempt < TEMP_ATTEMPTS; attempt++) {
        g_autofree char *name = g_strdup_printf(".%s.%08x", base, g_random_int());
        g_autofree char *temp = g_build_filename(dir, name, NULL);
        int fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);

        if (fd >= 0) {
            *temp_out = g_steal_pointer(&temp);
            return fd;
        }
        if (errno != EEXIST) {
            fail_errno(error, errno, "cannot create", temp);
            return -1;
        }
    }
    g_set_error(error, VNUMA_ERROR, VNUMA_ERROR_IO, "cannot create a temporary file in %s", dir);
    return -1;
}

static gboolean
write_all(int fd, const char *data, gsize len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return FALSE;
        data += n;
        len -= (gsize) n;
    }
    return TRUE;
}

static void
sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    /* Best effort: the file is complete either way. */
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* Fills the temporary file; on failure sets *what and returns errno. */
static int
fill(int fd, const char *data, gsize len, mode_t mode, const char **what)
{
    int err;

    /* fchmod: the mode asked for, not what the umask leaves of it. */
    if (fchmod(fd, mode) < 0)
        *what = "cannot set the mode of";
    else if (!write_all(fd, data, len))
        *what = "cannot write";
    else if (fsync(fd) < 0)
        *what = "cannot sync";
    err = errno;
    if (close(fd) < 0 && !*what) {
        *what = "cannot write";
        err = errno;
    }
    return err;
}

gboolean
vnuma_file_replace(const char *path, const char *data, gsize len, mode_t mode, GError **error)
{
    g_autofree char *dir = g_path_get_dirname(path);
    g_autofree char *base = g_path_get_basename(path);
    g_autofree char *temp = NULL;
    const char *what = NULL;
    int fd, err;

    if ((fd = open_temp(dir, base, &temp, error)) < 0)
        return FALSE;
    err = fill(fd, data, len, mode, &what);
    if (what) {
        unlink(temp);
        return fail_errno(error, err, what, temp);
    }
    if (rename(temp, path) < 0) {
        err = errno;
        unlink(temp);
        return fail_errno(error, err, "cannot rename a temporary file over", path);
    }
    sync_dir(dir);
    return TRUE;
}
