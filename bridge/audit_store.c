/* A node's stored batches, in the layout node/settle_store.c writes
 * (docs/settlement.md, "What lx-audit and lx-proof read"):
 * DIR/settle/<number, 20 digits>.batch holds the batch encoding, its fill
 * leaves and its net changes; DIR/settle/<number>.json its status record with
 * the settlement's txID. Read by lx-audit and lx-proof; written here too for
 * tests and tools. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "lx/bridge.h"

#define MAGIC "LXSTLB01"
#define MAGIC_LEN 8
#define FILE_MAX ((size_t)1 << 30)
#define RECORD_MAX 4096
#define PATH_CAP 4096
#define DIGITS 20

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (24 - 8 * i));
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* DIR/settle when number is 0, else DIR/settle/<number, 20 digits><ext>. */
static lx_err path_of(char out[PATH_CAP], const char *dir, uint64_t number, const char *ext)
{
    int n = number == 0 ? snprintf(out, PATH_CAP, "%s/settle", dir)
                        : snprintf(out, PATH_CAP, "%s/settle/%0*llu%s", dir, DIGITS,
                                   (unsigned long long)number, ext);
    return n > 0 && n < PATH_CAP ? LX_OK : LX_EINVAL;
}

/* Reads a whole file into *buf (malloc'd). LX_ENOTFOUND, LX_ETOOBIG, LX_EIO. */
static lx_err read_file(uint8_t **buf, size_t *len, const char *path, size_t cap)
{
    *buf = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? LX_ENOTFOUND : LX_EIO;
    struct stat st;
    lx_err err = LX_OK;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        err = LX_EIO;
    else if ((uint64_t)st.st_size > cap)
        err = LX_ETOOBIG;
    size_t size = err == LX_OK ? (size_t)st.st_size : 0;
    uint8_t *b = err == LX_OK ? malloc(size ? size : 1) : NULL;
    if (err == LX_OK && b == NULL)
        err = LX_ENOMEM;
    size_t got = 0;
    while (err == LX_OK && got < size) {
        ssize_t r = read(fd, b + got, size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            err = LX_EIO; /* also a file that shrank under us */
        else
            got += (size_t)r;
    }
    close(fd);
    if (err != LX_OK) {
        free(b);
        return err;
    }
    *buf = b;
    *len = size;
    return LX_OK;
}

void lx_batch_record_free(lx_batch_record *r)
{
    if (r == NULL)
        return;
    lx_batch_free(&r->batch);
    free(r->fills);
    memset(r, 0, sizeof *r);
}

/* The .json record: it must name this batch and its hash; its tx_id (a
 * cb58 txID or null) is the settlement's. No record is no txID. */
static lx_err read_record(lx_batch_record *r, const char *dir, uint64_t number)
{
    char path[PATH_CAP];
    lx_err err = path_of(path, dir, number, ".json");
    uint8_t *buf = NULL;
    size_t len = 0;
    if (err == LX_OK)
        err = read_file(&buf, &len, path, RECORD_MAX);
    if (err == LX_ENOTFOUND)
        return LX_OK;
    if (err != LX_OK)
        return err == LX_ETOOBIG ? LX_ECORRUPT : err;
    json_t *o = json_loadb((const char *)buf, len, 0, NULL);
    free(buf);
    const json_t *num = json_object_get(o, "batch"), *tx = json_object_get(o, "tx_id");
    const char *hash = json_string_value(json_object_get(o, "hash"));
    char want[2 * LX_SHA256_LEN + 1];
    err = lx_hex_encode(want, sizeof want, r->hash, LX_SHA256_LEN);
    if (err == LX_OK &&
        (!json_is_integer(num) || json_integer_value(num) < 0 ||
         (uint64_t)json_integer_value(num) != number || hash == NULL || strcmp(hash, want) != 0))
        err = LX_ECORRUPT;
    if (err == LX_OK && json_is_string(tx)) {
        err = lx_id_from_cb58(r->tx_id, json_string_value(tx)) == LX_OK ? LX_OK : LX_ECORRUPT;
        r->has_tx_id = err == LX_OK;
    } else if (err == LX_OK && !json_is_null(tx)) {
        err = LX_ECORRUPT;
    }
    json_decref(o);
    return err;
}

/* Decodes the leaves and checks them against the batch: fill_seq =
 * first_fill + i, and their root is fills_root. */
static lx_err read_fills(lx_batch_record *r, const lx_batch_info *info, const uint8_t *p)
{
    size_t count = (size_t)info->fill_count;
    r->fills = calloc(count ? count : 1, sizeof *r->fills);
    uint8_t *hashes = malloc(count ? count * LX_SHA256_LEN : 1);
    lx_err err = r->fills && hashes ? LX_OK : LX_ENOMEM;
    for (size_t i = 0; err == LX_OK && i < count; i++) {
        err = lx_fill_leaf_decode(&r->fills[i], p + i * LX_FILL_LEAF_LEN, LX_FILL_LEAF_LEN);
        if (err == LX_OK && r->fills[i].fill_seq != info->first_fill + i)
            err = LX_ECORRUPT;
        if (err == LX_OK)
            err = lx_merkle_leaf_hash(hashes + i * LX_SHA256_LEN, p + i * LX_FILL_LEAF_LEN,
                                      LX_FILL_LEAF_LEN);
    }
    uint8_t root[LX_SHA256_LEN];
    if (err == LX_OK)
        err = lx_merkle_root(root, hashes, count);
    if (err == LX_OK && memcmp(root, info->fills_root, LX_SHA256_LEN) != 0)
        err = LX_ECORRUPT;
    free(hashes);
    return err == LX_EFORMAT ? LX_ECORRUPT : err;
}

/* The net changes must give the batch's net root. */
static lx_err check_nets(const lx_batch_info *info, const uint8_t *p)
{
    size_t n = info->net_count;
    uint8_t *hashes = malloc(n ? n * LX_SHA256_LEN : 1);
    if (hashes == NULL)
        return LX_ENOMEM;
    lx_err err = LX_OK;
    for (size_t i = 0; err == LX_OK && i < n; i++)
        err = lx_merkle_leaf_hash(hashes + i * LX_SHA256_LEN, p + i * LX_NET_LEAF_LEN,
                                  LX_NET_LEAF_LEN);
    uint8_t root[LX_SHA256_LEN];
    if (err == LX_OK)
        err = lx_merkle_root(root, hashes, n);
    if (err == LX_OK && memcmp(root, info->net_root, LX_SHA256_LEN) != 0)
        err = LX_ECORRUPT;
    free(hashes);
    return err;
}

lx_err lx_batch_store_read(lx_batch_record *out, const char *dir, uint64_t number, unsigned flags)
{
    if (out == NULL)
        return LX_EINVAL;
    memset(out, 0, sizeof *out);
    if (dir == NULL || number == 0)
        return LX_EINVAL;
    char path[PATH_CAP];
    lx_err err = path_of(path, dir, number, ".batch");
    uint8_t *buf = NULL;
    size_t len = 0;
    if (err == LX_OK)
        err = read_file(&buf, &len, path, FILE_MAX);
    if (err != LX_OK)
        return err;
    /* "LXSTLB01" | u32 L | L batch bytes | fill leaves | net changes */
    size_t blen = len >= MAGIC_LEN + 4 ? get_u32(buf + MAGIC_LEN) : 0;
    if (len < MAGIC_LEN + 4 || memcmp(buf, MAGIC, MAGIC_LEN) != 0 || blen > len - (MAGIC_LEN + 4))
        err = LX_ECORRUPT;
    if (err == LX_OK && (err = lx_batch_decode(&out->batch, buf + MAGIC_LEN + 4, blen)) != LX_OK)
        err = LX_ECORRUPT;
    lx_batch_info info;
    memset(&info, 0, sizeof info);
    if (err == LX_OK)
        err = lx_batch_info_get(out->batch, &info);
    size_t rest = MAGIC_LEN + 4 + blen <= len ? len - (MAGIC_LEN + 4 + blen) : 0;
    const uint8_t *leaves = buf + MAGIC_LEN + 4 + blen;
    if (err == LX_OK &&
        (info.number != number || info.fill_count > rest / LX_FILL_LEAF_LEN ||
         rest != info.fill_count * LX_FILL_LEAF_LEN + (size_t)info.net_count * LX_NET_LEAF_LEN))
        err = LX_ECORRUPT;
    if (err == LX_OK)
        err = lx_batch_hash(out->batch, out->hash);
    if (err == LX_OK)
        err = check_nets(&info, leaves + info.fill_count * LX_FILL_LEAF_LEN);
    out->nfills = (size_t)info.fill_count;
    if (err == LX_OK && (flags & LX_BATCH_READ_FILLS))
        err = read_fills(out, &info, leaves);
    if (err == LX_OK)
        err = read_record(out, dir, number);
    free(buf);
    if (err != LX_OK)
        lx_batch_record_free(out);
    return err;
}

/* ---- writing ---- */

static lx_err make_dir(const char *path)
{
    if (mkdir(path, 0755) == 0 || errno == EEXIST)
        return LX_OK;
    return LX_EIO;
}

static lx_err sync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return LX_EIO;
    lx_err err = fsync(fd) == 0 ? LX_OK : LX_EIO;
    close(fd);
    return err;
}

/* Writes buf to path through a synced temporary file renamed over it, so
 * path holds either the old bytes or all of buf. */
static lx_err write_file(const char *dir, const char *path, const uint8_t *buf, size_t len)
{
    char tmp[PATH_CAP + 32];
    int n = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof tmp)
        return LX_EINVAL;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return LX_EIO;
    size_t put = 0;
    lx_err err = LX_OK;
    while (err == LX_OK && put < len) {
        ssize_t w = write(fd, buf + put, len - put);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            err = LX_EIO;
        else
            put += (size_t)w;
    }
    if (err == LX_OK && fsync(fd) != 0)
        err = LX_EIO;
    if (close(fd) != 0 && err == LX_OK)
        err = LX_EIO;
    if (err == LX_OK && rename(tmp, path) != 0)
        err = LX_EIO;
    if (err != LX_OK)
        unlink(tmp);
    if (err == LX_OK)
        err = sync_dir(dir);
    return err;
}

/* The .json record of batch, as a node writes it (docs/settlement.md). */
static lx_err write_record(const char *dir, const lx_batch *batch, const uint8_t *tx_id)
{
    lx_batch_info info;
    uint8_t hash[LX_SHA256_LEN];
    lx_err err = lx_batch_info_get(batch, &info);
    if (err == LX_OK)
        err = lx_batch_hash(batch, hash);
    if (err != LX_OK)
        return err;
    size_t ndep = 0, nwd = 0;
    lx_batch_deposits(batch, &ndep);
    lx_batch_withdrawals(batch, &nwd);
    char h[2 * LX_SHA256_LEN + 1], cid[2 * LX_SHA256_LEN + 1], id[LX_CB58_ID_MAX + 2] = "null";
    lx_hex_encode(h, sizeof h, hash, LX_SHA256_LEN);
    lx_hex_encode(cid, sizeof cid, info.channel_id, LX_CHANNEL_ID_LEN);
    if (tx_id != NULL) {
        char cb[LX_CB58_ID_MAX];
        if ((err = lx_id_to_cb58(cb, tx_id)) != LX_OK)
            return err;
        snprintf(id, sizeof id, "\"%s\"", cb);
    }
    char rec[RECORD_MAX], sdir[PATH_CAP], path[PATH_CAP];
    int n = snprintf(rec, sizeof rec,
                     "{\"batch\":%llu,\"channel_id\":\"%s\",\"first_seq\":%llu,\"last_seq\":%llu,"
                     "\"first_fill\":%llu,\"fill_count\":%llu,\"deposits\":%zu,"
                     "\"withdrawals\":%zu,\"hash\":\"%s\",\"status\":\"%s\",\"tx_id\":%s,"
                     "\"settled_seq\":0}\n",
                     (unsigned long long)info.number, cid, (unsigned long long)info.first_seq,
                     (unsigned long long)info.last_seq, (unsigned long long)info.first_fill,
                     (unsigned long long)info.fill_count, ndep, nwd, h,
                     tx_id ? "accepted" : "closed", id);
    if (n < 0 || (size_t)n >= sizeof rec)
        return LX_ETOOBIG;
    err = path_of(sdir, dir, 0, NULL);
    if (err == LX_OK)
        err = path_of(path, dir, info.number, ".json");
    if (err == LX_OK)
        err = write_file(sdir, path, (const uint8_t *)rec, (size_t)n);
    return err;
}

lx_err lx_batch_file_encode(uint8_t **out, size_t *out_len, const lx_batch *batch)
{
    if (out == NULL || out_len == NULL || batch == NULL)
        return LX_EINVAL;
    *out = NULL;
    *out_len = 0;
    lx_batch_info info;
    lx_err err = lx_batch_info_get(batch, &info);
    if (err != LX_OK)
        return err;
    size_t nfills = 0, nnets = 0;
    const lx_fill_leaf *fills = lx_batch_fills(batch, &nfills);
    const lx_net_change *nets = lx_batch_net_changes(batch, &nnets);
    if (nfills != info.fill_count || nnets != info.net_count)
        return LX_ESTATE; /* a decoded batch: its leaves are gone */
    size_t blen = lx_batch_encoded_len(batch);
    if (blen > UINT32_MAX || nfills > (FILE_MAX - blen) / LX_FILL_LEAF_LEN ||
        nnets > (FILE_MAX - blen - nfills * LX_FILL_LEAF_LEN) / LX_NET_LEAF_LEN)
        return LX_ETOOBIG;
    size_t len = MAGIC_LEN + 4 + blen + nfills * LX_FILL_LEAF_LEN + nnets * LX_NET_LEAF_LEN;
    uint8_t *buf = malloc(len);
    if (buf == NULL)
        return LX_ENOMEM;
    memcpy(buf, MAGIC, MAGIC_LEN);
    put_u32(buf + MAGIC_LEN, (uint32_t)blen);
    size_t off = MAGIC_LEN + 4, got = 0;
    err = lx_batch_encode(batch, buf + off, blen, &got);
    off += blen;
    for (size_t i = 0; err == LX_OK && i < nfills; i++, off += LX_FILL_LEAF_LEN)
        err = lx_fill_leaf_encode(buf + off, &fills[i]);
    for (size_t i = 0; err == LX_OK && i < nnets; i++, off += LX_NET_LEAF_LEN)
        err = lx_net_change_encode(buf + off, &nets[i]);
    if (err != LX_OK) {
        free(buf);
        return err;
    }
    *out = buf;
    *out_len = len;
    return LX_OK;
}

lx_err lx_batch_store_write(const char *dir, const lx_batch *batch, const uint8_t *tx_id)
{
    if (dir == NULL || batch == NULL)
        return LX_EINVAL;
    lx_batch_info info;
    lx_err err = lx_batch_info_get(batch, &info);
    if (err != LX_OK)
        return err;
    uint8_t *buf;
    size_t len;
    err = lx_batch_file_encode(&buf, &len, batch);
    if (err != LX_OK)
        return err;
    char sdir[PATH_CAP], path[PATH_CAP];
    err = path_of(sdir, dir, 0, NULL);
    if (err == LX_OK)
        err = path_of(path, dir, info.number, ".batch");
    if (err == LX_OK)
        err = make_dir(dir);
    if (err == LX_OK)
        err = make_dir(sdir);
    /* A batch never changes: the same bytes again are fine, others not. */
    uint8_t *old = NULL;
    size_t old_len = 0;
    lx_err have = err == LX_OK ? read_file(&old, &old_len, path, len) : LX_ENOTFOUND;
    if (err == LX_OK && have != LX_ENOTFOUND)
        err = have == LX_OK && old_len == len && memcmp(old, buf, len) == 0 ? LX_OK
              : have == LX_EIO                                              ? LX_EIO
                                                                            : LX_EEXIST;
    else if (err == LX_OK)
        err = write_file(sdir, path, buf, len);
    free(old);
    free(buf);
    if (err == LX_OK)
        err = write_record(dir, batch, tx_id);
    return err;
}

/* ---- finding ---- */

static int u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

lx_err lx_batch_store_list(uint64_t **numbers, size_t *n, const char *dir)
{
    if (numbers != NULL)
        *numbers = NULL;
    if (n != NULL)
        *n = 0;
    if (numbers == NULL || n == NULL || dir == NULL)
        return LX_EINVAL;
    char sdir[PATH_CAP];
    lx_err err = path_of(sdir, dir, 0, NULL);
    if (err != LX_OK)
        return err;
    DIR *d = opendir(sdir);
    if (d == NULL)
        return errno == ENOENT ? LX_OK : LX_EIO;
    uint64_t *v = NULL;
    size_t cnt = 0, cap = 0;
    struct dirent *e;
    while (err == LX_OK && (e = readdir(d)) != NULL) {
        /* <20 digits>.batch, the number at least 1 */
        const char *s = e->d_name;
        if (strlen(s) != DIGITS + 6 || strcmp(s + DIGITS, ".batch") != 0 ||
            strspn(s, "0123456789") != DIGITS)
            continue;
        uint64_t num = 0;
        bool fits = true;
        for (int k = 0; k < DIGITS; k++) {
            unsigned digit = (unsigned)(s[k] - '0');
            fits = fits && num <= (UINT64_MAX - digit) / 10;
            num = num * 10 + digit;
        }
        if (!fits || num == 0)
            continue;
        if (cnt == cap) {
            size_t nc = cap ? cap * 2 : 64;
            uint64_t *nv = realloc(v, nc * sizeof *nv);
            if (nv == NULL) {
                err = LX_ENOMEM;
                break;
            }
            v = nv;
            cap = nc;
        }
        v[cnt++] = num;
    }
    closedir(d);
    if (err != LX_OK) {
        free(v);
        return err;
    }
    if (cnt > 0)
        qsort(v, cnt, sizeof *v, u64_cmp);
    *numbers = v;
    *n = cnt;
    return LX_OK;
}

lx_err lx_batch_store_find_fill(uint64_t *number, const char *dir, uint64_t fill_seq)
{
    if (number == NULL || dir == NULL)
        return LX_EINVAL;
    *number = 0;
    uint64_t *v = NULL;
    size_t n = 0;
    lx_err err = lx_batch_store_list(&v, &n, dir);
    /* Fill ranges grow with the batch number: the last batch whose
     * first_fill is at or below fill_seq is the only one that can hold it. */
    size_t lo = 0, hi = n;
    lx_batch_info info;
    while (err == LX_OK && lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        lx_batch_record r;
        err = lx_batch_store_read(&r, dir, v[mid], 0);
        if (err == LX_OK)
            err = lx_batch_info_get(r.batch, &info);
        lx_batch_record_free(&r);
        if (err == LX_OK && info.first_fill <= fill_seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (err == LX_OK && lo == 0)
        err = LX_ENOTFOUND;
    if (err == LX_OK) {
        lx_batch_record r;
        err = lx_batch_store_read(&r, dir, v[lo - 1], 0);
        if (err == LX_OK)
            err = lx_batch_info_get(r.batch, &info);
        lx_batch_record_free(&r);
        if (err == LX_OK && fill_seq - info.first_fill >= info.fill_count)
            err = LX_ENOTFOUND;
        if (err == LX_OK)
            *number = v[lo - 1];
    }
    free(v);
    return err;
}
