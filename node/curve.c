/* CURVE key files and allow-list files: the on-disk side of the transport's
 * security layer (docs/security.md). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lx/node.h"

#define KEYFILE_MAX 4096
#define ALLOWFILE_MAX (8u << 20)

/* Reads the whole regular file at path into a malloc'ed buffer (NUL added).
 * With secret, the file must have no group or other permission bits. */
static lx_err read_file(char **out, size_t *len, const char *path, size_t cap, bool secret)
{
    *out = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | (secret ? O_NOFOLLOW : 0));
    if (fd < 0)
        return errno == ENOENT ? LX_ENOTFOUND : errno == EACCES ? LX_EPERM : LX_EIO;
    struct stat st;
    lx_err err = LX_OK;
    /* The mode checked is the opened file's, so a file swapped in after a
     * path check cannot slip through. */
    if (fstat(fd, &st) != 0)
        err = LX_EIO;
    else if (!S_ISREG(st.st_mode))
        err = LX_EFORMAT;
    else if (secret && (st.st_mode & 077) != 0)
        err = LX_EPERM;
    else if ((uint64_t)st.st_size > cap)
        err = LX_ETOOBIG;
    char *buf = NULL;
    if (err == LX_OK && (buf = malloc(cap + 2)) == NULL)
        err = LX_ENOMEM;
    size_t n = 0;
    while (err == LX_OK) {
        ssize_t r = read(fd, buf + n, cap + 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            err = LX_EIO;
        else if (r == 0)
            break;
        else if ((n += (size_t)r) > cap)
            err = LX_ETOOBIG;
    }
    close(fd);
    if (err != LX_OK) {
        if (buf != NULL) {
            lx_wipe(buf, cap + 2);
            free(buf);
        }
        return err;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return LX_OK;
}

/* Lines starting with '#' are comments. No key is mistaken for one: a Z85
 * group starting with '#' (digit 84) would be over 2^32 - 1. */
static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Trims [*p, *p + *n) of surrounding whitespace. */
static void trim(const char **p, size_t *n)
{
    while (*n > 0 && is_space(**p)) {
        (*p)++;
        (*n)--;
    }
    while (*n > 0 && is_space((*p)[*n - 1]))
        (*n)--;
}

lx_err lx_curve_keyfile_read(lx_curve_key *sec, const char *path)
{
    if (sec == NULL || path == NULL)
        return LX_EINVAL;
    char *text;
    size_t len;
    lx_err err = read_file(&text, &len, path, KEYFILE_MAX, true);
    if (err != LX_OK)
        return err;
    int keys = 0;
    for (size_t at = 0; at < len && err == LX_OK;) {
        const char *nl = memchr(text + at, '\n', len - at);
        size_t end = nl != NULL ? (size_t)(nl - text) : len;
        const char *line = text + at;
        size_t n = end - at;
        at = end + 1;
        trim(&line, &n);
        if (n == 0 || line[0] == '#')
            continue;
        if (++keys > 1 || lx_curve_key_parse(sec, line, n) != LX_OK || n != LX_CURVE_Z85_LEN)
            err = LX_EFORMAT;
    }
    if (err == LX_OK && keys != 1)
        err = LX_EFORMAT;
    if (err != LX_OK)
        lx_wipe(sec, sizeof(*sec));
    lx_wipe(text, len);
    free(text);
    return err;
}

lx_err lx_curve_keyfile_write(const lx_curve_key *sec, const char *path)
{
    if (sec == NULL || path == NULL || path[0] == '\0')
        return LX_EINVAL;
    lx_curve_key pub;
    lx_err err = lx_curve_public(&pub, sec);
    char zpub[LX_CURVE_Z85_LEN + 1], zsec[LX_CURVE_Z85_LEN + 1];
    if (err == LX_OK)
        err = lx_curve_key_z85(zpub, sizeof(zpub), &pub);
    if (err == LX_OK)
        err = lx_curve_key_z85(zsec, sizeof(zsec), sec);
    if (err != LX_OK)
        return err;
    char text[160];
    int len =
        snprintf(text, sizeof(text), "# lxdex CURVE secret key; public key %s\n%s\n", zpub, zsec);
    lx_wipe(zsec, sizeof(zsec));
    LX_ASSERT(len > 0 && (size_t)len < sizeof(text));
    err = lx_secret_file_create(path, text, (size_t)len);
    lx_wipe(text, sizeof(text));
    return err;
}

static lx_err parse_fail(char *err, size_t errlen, size_t line, const char *why)
{
    if (err != NULL && errlen > 0)
        snprintf(err, errlen, "line %zu: %s", line, why);
    return LX_EFORMAT;
}

/* Parses a decimal u64 of exactly n digits. */
static bool parse_u64(uint64_t *out, const char *p, size_t n)
{
    if (n == 0 || n > 20)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        uint64_t d = (uint64_t)(p[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

static int allow_cmp(const void *a, const void *b)
{
    return memcmp(((const lx_curve_allow *)a)->key.b, ((const lx_curve_allow *)b)->key.b,
                  LX_CURVE_KEY_LEN);
}

lx_err lx_allowlist_parse(lx_curve_allow **out, size_t *n, char *err, size_t errlen,
                          const char *text, size_t len)
{
    if (out == NULL || n == NULL || (text == NULL && len > 0))
        return LX_EINVAL;
    *out = NULL;
    *n = 0;
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    lx_curve_allow *v = NULL;
    size_t count = 0, cap = 0, lineno = 0;
    size_t *lines = NULL; /* the line of each entry, for duplicate reports */
    lx_err rc = LX_OK;
    for (size_t at = 0; at < len && rc == LX_OK;) {
        const char *nl = memchr(text + at, '\n', len - at);
        size_t end = nl != NULL ? (size_t)(nl - text) : len;
        const char *line = text + at;
        size_t ln = end - at;
        at = end + 1;
        lineno++;
        trim(&line, &ln);
        if (ln == 0 || line[0] == '#')
            continue;
        size_t k = 0;
        while (k < ln && !is_space(line[k]))
            k++;
        const char *label = line + k;
        size_t label_len = ln - k;
        trim(&label, &label_len);
        lx_curve_allow e;
        if (k != LX_CURVE_Z85_LEN || lx_curve_key_parse(&e.key, line, k) != LX_OK) {
            rc = parse_fail(err, errlen, lineno, "the key is not 40 Z85 characters");
            break;
        }
        if (!parse_u64(&e.label, label, label_len)) {
            rc = parse_fail(err, errlen, lineno, "the label is not a decimal u64");
            break;
        }
        if (count == LX_ALLOWLIST_MAX) {
            rc = LX_ETOOBIG;
            if (err != NULL && errlen > 0)
                snprintf(err, errlen, "line %zu: over %d entries", lineno, LX_ALLOWLIST_MAX);
            break;
        }
        if (count == cap) {
            cap = cap ? cap * 2 : 16;
            lx_curve_allow *nv = realloc(v, cap * sizeof(*nv));
            size_t *nlines = realloc(lines, cap * sizeof(*nlines));
            if (nv != NULL)
                v = nv;
            if (nlines != NULL)
                lines = nlines;
            if (nv == NULL || nlines == NULL) {
                rc = LX_ENOMEM;
                break;
            }
        }
        lines[count] = lineno;
        v[count++] = e;
    }
    /* A key listed twice is a mistake in the file, whatever its labels. */
    for (size_t i = 0; rc == LX_OK && i < count; i++)
        for (size_t j = i + 1; j < count && count <= 1024; j++)
            if (allow_cmp(&v[i], &v[j]) == 0)
                rc = parse_fail(err, errlen, lines[j], "the key is listed twice");
    if (rc == LX_OK && count > 1024) {
        /* Too many for pairwise checks: sort a copy instead. */
        lx_curve_allow *s = malloc(count * sizeof(*s));
        if (s == NULL) {
            rc = LX_ENOMEM;
        } else {
            memcpy(s, v, count * sizeof(*s));
            qsort(s, count, sizeof(*s), allow_cmp);
            for (size_t i = 1; i < count && rc == LX_OK; i++)
                if (allow_cmp(&s[i - 1], &s[i]) == 0) {
                    rc = LX_EFORMAT;
                    if (err != NULL && errlen > 0)
                        snprintf(err, errlen, "a key is listed twice");
                }
            free(s);
        }
    }
    free(lines);
    if (rc != LX_OK) {
        free(v);
        return rc;
    }
    *out = v;
    *n = count;
    return LX_OK;
}

lx_err lx_allowlist_read(lx_curve_allow **out, size_t *n, char *err, size_t errlen,
                         const char *path)
{
    if (out == NULL || n == NULL || path == NULL)
        return LX_EINVAL;
    *out = NULL;
    *n = 0;
    char *text;
    size_t len;
    lx_err rc = read_file(&text, &len, path, ALLOWFILE_MAX, false);
    if (rc != LX_OK) {
        if (err != NULL && errlen > 0)
            snprintf(err, errlen, "%s: %s", path, lx_strerror(rc));
        return rc;
    }
    rc = lx_allowlist_parse(out, n, err, errlen, text, len);
    free(text);
    return rc;
}
