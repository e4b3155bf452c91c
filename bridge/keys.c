/* Keys on disk and in text: the "PrivateKey-<cb58>" form, key files written
 * 0600 atomically and refused when others may read them, and key addresses. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lx/bridge.h"

#define PRIVKEY_PREFIX "PrivateKey-"
#define KEYFILE_MAX 4096

lx_err lx_key_address(const lx_key *key, uint8_t addr[LX_ADDR_LEN])
{
    if (key == NULL || addr == NULL)
        return LX_EINVAL;
    uint8_t pub[LX_PUBKEY_LEN];
    lx_err err = lx_key_pubkey(key, pub);
    if (err == LX_OK)
        err = lx_address_from_pubkey(addr, pub);
    return err;
}

lx_err lx_privkey_encode(const lx_key *key, char *out, size_t out_cap)
{
    size_t pre = sizeof PRIVKEY_PREFIX - 1;
    if (key == NULL || out == NULL || out_cap <= pre)
        return LX_EINVAL;
    uint8_t sec[LX_SECKEY_LEN];
    lx_err err = lx_key_export(key, sec);
    if (err == LX_OK) {
        memcpy(out, PRIVKEY_PREFIX, pre);
        err = lx_cb58_encode(out + pre, out_cap - pre, sec, sizeof sec);
    }
    lx_wipe(sec, sizeof sec);
    if (err != LX_OK)
        lx_wipe(out, out_cap);
    return err;
}

lx_err lx_privkey_decode(lx_key **key, const char *str)
{
    if (key == NULL)
        return LX_EINVAL;
    *key = NULL;
    if (str == NULL)
        return LX_EINVAL;
    size_t pre = sizeof PRIVKEY_PREFIX - 1;
    if (strncmp(str, PRIVKEY_PREFIX, pre) != 0)
        return LX_EFORMAT;
    uint8_t buf[64];
    size_t n = 0;
    lx_err err = lx_cb58_decode(buf, sizeof buf, &n, str + pre);
    if (err == LX_EINVAL)
        err = LX_EFORMAT; /* longer than any key */
    if (err == LX_OK && n != LX_SECKEY_LEN)
        err = LX_EFORMAT;
    if (err == LX_OK)
        err = lx_key_import(key, buf);
    lx_wipe(buf, sizeof buf);
    return err;
}

/* Parses a key file's text: PrivateKey-<cb58> or 64 hex digits. */
static lx_err parse_key_text(lx_key **key, char *text, size_t len)
{
    size_t a = 0, b = len;
    while (a < b && strchr(" \t\r\n", text[a]) != NULL)
        a++;
    while (b > a && strchr(" \t\r\n", text[b - 1]) != NULL)
        b--;
    text[b] = '\0';
    const char *s = text + a;
    if (strncmp(s, PRIVKEY_PREFIX, sizeof PRIVKEY_PREFIX - 1) == 0)
        return lx_privkey_decode(key, s);
    uint8_t sec[LX_SECKEY_LEN + 1];
    size_t n = 0;
    lx_err err = lx_hex_decode(sec, sizeof sec, &n, s);
    if (err == LX_EINVAL || (err == LX_OK && n != LX_SECKEY_LEN))
        err = LX_EFORMAT;
    if (err == LX_OK)
        err = lx_key_import(key, sec);
    lx_wipe(sec, sizeof sec);
    return err;
}

lx_err lx_keyfile_read(lx_key **key, const char *path)
{
    if (key == NULL)
        return LX_EINVAL;
    *key = NULL;
    if (path == NULL)
        return LX_EINVAL;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return errno == ENOENT ? LX_ENOTFOUND : errno == EACCES ? LX_EPERM : LX_EIO;
    struct stat st;
    lx_err err = LX_OK;
    /* Check the mode of the file actually opened, not of the path, so a file
     * swapped in between cannot slip through. */
    if (fstat(fd, &st) != 0)
        err = LX_EIO;
    else if (!S_ISREG(st.st_mode))
        err = LX_EFORMAT;
    else if ((st.st_mode & 077) != 0)
        err = LX_EPERM;
    else if (st.st_size > KEYFILE_MAX)
        err = LX_ETOOBIG;
    char text[KEYFILE_MAX + 2];
    size_t len = 0;
    while (err == LX_OK) {
        ssize_t n = read(fd, text + len, sizeof text - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            err = LX_EIO;
        else if (n == 0)
            break;
        else if ((len += (size_t)n) > KEYFILE_MAX)
            err = LX_ETOOBIG;
    }
    close(fd);
    if (err == LX_OK)
        err = parse_key_text(key, text, len);
    lx_wipe(text, sizeof text);
    return err;
}

static lx_err write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return LX_EIO;
        p += w;
        n -= (size_t)w;
    }
    return LX_OK;
}

/* Makes a rename or link in the directory of path durable. */
static void sync_dir(const char *path)
{
    char copy[4096];
    size_t n = strlen(path);
    if (n >= sizeof copy)
        return;
    memcpy(copy, path, n + 1);
    int dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
}

lx_err lx_secret_file_create(const char *path, const char *text, size_t len)
{
    if (path == NULL || path[0] == '\0' || (text == NULL && len > 0))
        return LX_EINVAL;
    char tmp[4096];
    int tl = snprintf(tmp, sizeof tmp, "%s.tmpXXXXXX", path);
    if (tl < 0 || (size_t)tl >= sizeof tmp)
        return LX_EINVAL;
    /* mkstemp creates the file 0600 and exclusively. */
    int fd = mkstemp(tmp);
    if (fd < 0)
        return LX_EIO;
    lx_err err = LX_OK;
    if (fchmod(fd, S_IRUSR | S_IWUSR) != 0)
        err = LX_EIO;
    if (err == LX_OK)
        err = write_all(fd, text, len);
    if (err == LX_OK && fsync(fd) != 0)
        err = LX_EIO;
    if (close(fd) != 0 && err == LX_OK)
        err = LX_EIO;
    /* link() fails when path exists, so an existing file is never replaced,
     * and path appears whole or not at all. */
    if (err == LX_OK && link(tmp, path) != 0)
        err = errno == EEXIST ? LX_EEXIST : LX_EIO;
    unlink(tmp);
    if (err == LX_OK)
        sync_dir(path);
    return err;
}

lx_err lx_keyfile_write(const lx_key *key, const char *path)
{
    if (key == NULL || path == NULL || path[0] == '\0')
        return LX_EINVAL;
    char text[LX_PRIVKEY_STR_MAX + 1];
    lx_err err = lx_privkey_encode(key, text, sizeof text - 1);
    if (err != LX_OK)
        return err;
    size_t tlen = strlen(text);
    text[tlen++] = '\n';
    err = lx_secret_file_create(path, text, tlen);
    lx_wipe(text, sizeof text);
    return err;
}
