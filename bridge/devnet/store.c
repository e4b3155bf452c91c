/* The block store: accepted blocks appended to <data-dir>/blocks.log, each
 * record checksummed and synced, replayed in order at start. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devnet.h"

/* File:   "LXDNBLK1" | 32-byte genesis digest
 * Record: u32 len | payload[len] | first 8 bytes of sha256(payload)
 * Payload: u8 chain | u64 height | u64 timestamp | u32 ntxs | (u32 len | tx)*
 * All integers big-endian. */
#define MAGIC "LXDNBLK1"
#define HEADER_LEN (8 + LX__DN_ID)
#define SUM_LEN 8
#define RECORD_MAX (256u << 20)

struct lx__dn_store {
    int fd;
};

static uint64_t get_be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

static void put_be(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

/* Reads exactly n bytes; returns how many it got (short at end of file). */
static size_t read_full(int fd, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, (uint8_t *)buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    return got;
}

static lx_err write_full(int fd, const void *buf, size_t n)
{
    size_t put = 0;
    while (put < n) {
        ssize_t r = write(fd, (const uint8_t *)buf + put, n - put);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return LX_EIO;
        put += (size_t)r;
    }
    return LX_OK;
}

/* Parses a payload into b (pointers into p). LX_ECORRUPT if malformed. */
static lx_err parse_payload(lx__dn_block *b, const uint8_t **txs, size_t *lens, size_t max,
                            const uint8_t *p, size_t n)
{
    if (n < 21)
        return LX_ECORRUPT;
    b->chain = p[0];
    b->height = get_be(p + 1, 8);
    b->timestamp = get_be(p + 9, 8);
    b->ntxs = (size_t)get_be(p + 17, 4);
    if (b->ntxs > max)
        return LX_ECORRUPT;
    size_t off = 21;
    for (size_t i = 0; i < b->ntxs; i++) {
        if (n - off < 4)
            return LX_ECORRUPT;
        size_t len = (size_t)get_be(p + off, 4);
        off += 4;
        if (len > n - off)
            return LX_ECORRUPT;
        txs[i] = p + off;
        lens[i] = len;
        off += len;
    }
    b->txs = txs;
    b->lens = lens;
    return off == n ? LX_OK : LX_ECORRUPT;
}

static lx_err replay(int fd, char *msg, size_t msglen, lx__dn_block_fn fn, void *arg)
{
    off_t good = HEADER_LEN;
    uint8_t *p = NULL;
    const uint8_t **txs = NULL;
    size_t *lens = NULL;
    lx_err err = LX_OK;
    for (;;) {
        uint8_t h[4], sum[SUM_LEN], want[LX__DN_ID];
        size_t got = read_full(fd, h, 4);
        if (got == 0)
            break;
        size_t n = got == 4 ? (size_t)get_be(h, 4) : 0;
        if (got < 4 || n > RECORD_MAX)
            goto torn;
        uint8_t *q = realloc(p, n ? n : 1);
        if (!q) {
            err = LX_ENOMEM;
            goto out;
        }
        p = q;
        if (read_full(fd, p, n) < n || read_full(fd, sum, SUM_LEN) < SUM_LEN)
            goto torn;
        lx__dn_sha256(want, p, n);
        if (memcmp(want, sum, SUM_LEN) != 0) {
            /* A bad last record is a write cut short; anywhere else it is
             * damage that must not be papered over. */
            if (lseek(fd, 0, SEEK_CUR) == lseek(fd, 0, SEEK_END))
                goto torn;
            snprintf(msg, msglen, "blocks.log: checksum mismatch at offset %lld", (long long)good);
            err = LX_ECORRUPT;
            goto out;
        }
        size_t max = n / 4;
        const uint8_t **t2 = realloc(txs, (max ? max : 1) * sizeof *t2);
        size_t *l2 = t2 ? realloc(lens, (max ? max : 1) * sizeof *l2) : NULL;
        if (t2)
            txs = t2;
        if (!t2 || !l2) {
            err = LX_ENOMEM;
            goto out;
        }
        lens = l2;
        lx__dn_block b;
        if (parse_payload(&b, txs, lens, max, p, n) != LX_OK) {
            snprintf(msg, msglen, "blocks.log: malformed block at offset %lld", (long long)good);
            err = LX_ECORRUPT;
            goto out;
        }
        if ((err = fn(arg, &b)))
            goto out;
        good = lseek(fd, 0, SEEK_CUR);
    }
    goto out;
torn:
    fprintf(stderr, "lx-devnet: blocks.log: cutting a torn last record at offset %lld\n",
            (long long)good);
    if (ftruncate(fd, good) != 0) {
        snprintf(msg, msglen, "blocks.log: cannot truncate: %s", strerror(errno));
        err = LX_EIO;
    }
out:
    free(p);
    free(txs);
    free(lens);
    if (!err && lseek(fd, 0, SEEK_END) < 0)
        err = LX_EIO;
    return err;
}

lx_err lx__dn_store_open(lx__dn_store **out, char *msg, size_t msglen, const char *dir,
                         const uint8_t digest[LX__DN_ID], lx__dn_block_fn fn, void *arg)
{
    if (!out || !dir || !digest || !fn)
        return LX_EINVAL;
    *out = NULL;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(msg, msglen, "data dir %s: %s", dir, strerror(errno));
        return LX_EIO;
    }
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/blocks.log", dir) >= sizeof path) {
        snprintf(msg, msglen, "data dir path too long");
        return LX_EINVAL;
    }
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(msg, msglen, "%s: %s", path, strerror(errno));
        return LX_EIO;
    }
    uint8_t h[HEADER_LEN];
    size_t got = read_full(fd, h, HEADER_LEN);
    lx_err err = LX_OK;
    if (got == 0) {
        memcpy(h, MAGIC, 8);
        memcpy(h + 8, digest, LX__DN_ID);
        err = write_full(fd, h, HEADER_LEN);
        if (!err && fsync(fd) != 0)
            err = LX_EIO;
        if (err)
            snprintf(msg, msglen, "%s: cannot write: %s", path, strerror(errno));
    } else if (got < HEADER_LEN || memcmp(h, MAGIC, 8) != 0) {
        snprintf(msg, msglen, "%s is not an lx-devnet block log", path);
        err = LX_ECORRUPT;
    } else if (memcmp(h + 8, digest, LX__DN_ID) != 0) {
        snprintf(msg, msglen, "%s holds blocks of another genesis", path);
        err = LX_ECORRUPT;
    } else {
        err = replay(fd, msg, msglen, fn, arg);
    }
    lx__dn_store *s = err ? NULL : malloc(sizeof *s);
    if (!err && !s)
        err = LX_ENOMEM;
    if (err) {
        close(fd);
        return err;
    }
    s->fd = fd;
    *out = s;
    return LX_OK;
}

lx_err lx__dn_store_append(lx__dn_store *s, const lx__dn_block *b)
{
    if (!s || !b)
        return LX_EINVAL;
    size_t n = 21;
    for (size_t i = 0; i < b->ntxs; i++)
        n += 4 + b->lens[i];
    if (n > RECORD_MAX)
        return LX_ETOOBIG;
    uint8_t *r = malloc(4 + n + SUM_LEN);
    if (!r)
        return LX_ENOMEM;
    uint8_t *p = r + 4;
    put_be(r, n, 4);
    p[0] = (uint8_t)b->chain;
    put_be(p + 1, b->height, 8);
    put_be(p + 9, b->timestamp, 8);
    put_be(p + 17, b->ntxs, 4);
    size_t off = 21;
    for (size_t i = 0; i < b->ntxs; i++) {
        put_be(p + off, b->lens[i], 4);
        memcpy(p + off + 4, b->txs[i], b->lens[i]);
        off += 4 + b->lens[i];
    }
    uint8_t sum[LX__DN_ID];
    lx__dn_sha256(sum, p, n);
    memcpy(p + n, sum, SUM_LEN);
    off_t at = lseek(s->fd, 0, SEEK_END);
    lx_err err = write_full(s->fd, r, 4 + n + SUM_LEN);
    if (!err && fdatasync(s->fd) != 0)
        err = LX_EIO;
    if (err && at >= 0 && ftruncate(s->fd, at) != 0)
        err = LX_EIO; /* leave no partial record behind if we can help it */
    free(r);
    return err;
}

void lx__dn_store_close(lx__dn_store **s)
{
    if (!s || !*s)
        return;
    close((*s)->fd);
    free(*s);
    *s = NULL;
}
