/* File helpers of the journal, snapshot and recovery modules: paths, folder
 * syncs, full-length positioned reads and writes, seq-named file listings. */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "journal_int.h"

lx_err lx__path(char *out, size_t len, const char *dir, const char *name)
{
    int n = snprintf(out, len, "%s/%s", dir, name);
    return n < 0 || (size_t)n >= len ? LX_ETOOBIG : LX_OK;
}

lx_err lx__fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return LX_EIO;
    int rc = fsync(fd);
    close(fd);
    return rc == 0 ? LX_OK : LX_EIO;
}

lx_err lx__mkdir(const char *dir)
{
    if (mkdir(dir, 0755) == 0 || errno == EEXIST)
        return LX_OK;
    return errno == ENOENT ? LX_ENOTFOUND : LX_EIO;
}

lx_err lx__mkdir_p(const char *path)
{
    char p[4096];
    if ((size_t)snprintf(p, sizeof p, "%s", path) >= sizeof p)
        return LX_EINVAL;
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = 0;
        if (mkdir(p, 0755) != 0 && errno != EEXIST)
            return LX_EIO;
        *s = '/';
    }
    if (mkdir(p, 0755) != 0 && errno != EEXIST)
        return LX_EIO;
    return LX_OK;
}

lx_err lx__write_all(int fd, const uint8_t *p, size_t n, uint64_t off)
{
    while (n > 0) {
        ssize_t w = pwrite(fd, p, n, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return LX_EIO;
        p += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
    return LX_OK;
}

lx_err lx__read_all(int fd, uint8_t *p, size_t n, uint64_t off)
{
    while (n > 0) {
        ssize_t r = pread(fd, p, n, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return LX_EIO;
        p += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return LX_OK;
}

/* Parses a name made of exactly 20 digits and then suffix. */
int lx__seq_name(uint64_t *seq, const char *name, const char *suffix)
{
    size_t sl = strlen(suffix);
    if (strlen(name) != 20 + sl || strcmp(name + 20, suffix) != 0)
        return 0;
    uint64_t v = 0;
    for (int i = 0; i < 20; i++) {
        if (name[i] < '0' || name[i] > '9')
            return 0;
        unsigned d = (unsigned)(name[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return 0;
        v = v * 10 + d;
    }
    *seq = v;
    return 1;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

lx_err lx__list_seq_files(uint64_t **out, size_t *n, const char *dir, const char *suffix)
{
    DIR *d = opendir(dir);
    *out = NULL;
    *n = 0;
    if (!d)
        return errno == ENOENT ? LX_ENOTFOUND : LX_EIO;
    uint64_t *v = NULL;
    size_t cnt = 0, cap = 0;
    struct dirent *de;
    lx_err rc = LX_OK;
    while ((de = readdir(d)) != NULL) {
        uint64_t seq;
        if (!lx__seq_name(&seq, de->d_name, suffix))
            continue;
        if (cnt == cap) {
            size_t nc = cap ? cap * 2 : 16;
            uint64_t *nv = realloc(v, nc * sizeof *nv);
            if (!nv) {
                rc = LX_ENOMEM;
                break;
            }
            v = nv;
            cap = nc;
        }
        v[cnt++] = seq;
    }
    closedir(d);
    if (rc != LX_OK) {
        free(v);
        return rc;
    }
    if (cnt)
        qsort(v, cnt, sizeof *v, cmp_u64);
    *out = v;
    *n = cnt;
    return LX_OK;
}
