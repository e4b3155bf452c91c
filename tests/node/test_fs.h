/* Shared by the node tests that keep files (define _XOPEN_SOURCE 700 or
 * _GNU_SOURCE first, for nftw): a fresh folder under /tmp and
 * its removal with everything in it. */
#ifndef LX_TEST_FS_H
#define LX_TEST_FS_H

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>

/* Makes /tmp/NAME.XXXXXX (unique) and writes its path to dir. Fails the
 * test when it cannot. */
static inline void lx_test_tmpdir(char *dir, size_t len, const char *name)
{
    snprintf(dir, len, "/tmp/%s.XXXXXX", name);
    assert_non_null(mkdtemp(dir));
}

static inline int lx_test_rm_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    return remove(path);
}

/* Removes path and everything below it (a missing path is fine): 0, or -1. */
static inline int lx_test_rm_rf(const char *path)
{
    int rc = nftw(path, lx_test_rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return rc == 0 || (rc < 0 && errno == ENOENT) ? 0 : -1;
}

#endif /* LX_TEST_FS_H */
