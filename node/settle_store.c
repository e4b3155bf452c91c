/* Settlement files in the data dir: each batch's canonical bytes with its
 * fill leaves and net changes (what a Merkle proof needs), its status record,
 * and the leader's signed tx; written atomically (docs/settlement.md,
 * "Files in the data dir"). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "logio.h"
#include "settle_int.h"

#define RECORD_MAX 4096

lx_err lx__settle_path(char *out, size_t cap, const char *data_dir, uint64_t number,
                       const char *ext)
{
    if (!out || !data_dir || !ext)
        return LX_EINVAL;
    int w = snprintf(out, cap, "%s/settle/%020" PRIu64 "%s", data_dir, number, ext);
    return (w < 0 || (size_t)w >= cap) ? LX_ETOOBIG : LX_OK;
}

static lx_err sync_dir_of(const char *path)
{
    char dir[1100];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else
        *slash = 0;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return LX_EIO;
    int rc = fsync(fd);
    close(fd);
    return rc == 0 ? LX_OK : LX_EIO;
}

/* Writes path through a temporary file and a rename, so a reader sees the
 * old file or the whole new one; with durable, also fsyncs the file and the
 * folder. */
static lx_err write_file(const char *path, const uint8_t *data, size_t len, int durable)
{
    if (!path || (!data && len))
        return LX_EINVAL;
    char tmp[1100];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp)
        return LX_ETOOBIG;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return LX_EIO;
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            close(fd);
            unlink(tmp);
            return LX_EIO;
        }
        off += (size_t)w;
    }
    if (durable && fsync(fd) != 0) {
        close(fd);
        unlink(tmp);
        return LX_EIO;
    }
    close(fd);
    if (rename(tmp, path) != 0) {
        unlink(tmp);
        return LX_EIO;
    }
    return durable ? sync_dir_of(path) : LX_OK;
}

lx_err lx__settle_write_file(const char *path, const uint8_t *data, size_t len)
{
    return write_file(path, data, len, 1);
}

lx_err lx__settle_read_file(const char *path, uint8_t **data, size_t *len, size_t cap)
{
    if (!path || !data || !len)
        return LX_EINVAL;
    *data = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return errno == ENOENT ? LX_ENOTFOUND : LX_EIO;
    size_t have = 0, room = 4096;
    uint8_t *buf = malloc(room);
    lx_err rc = buf ? LX_OK : LX_ENOMEM;
    while (rc == LX_OK) {
        if (have == room) {
            if (room > cap) {
                rc = LX_ETOOBIG;
                break;
            }
            /* one byte over the cap tells a file of exactly cap bytes from
             * a longer one */
            room = room * 2 > cap + 1 ? cap + 1 : room * 2;
            uint8_t *v = realloc(buf, room);
            if (!v) {
                rc = LX_ENOMEM;
                break;
            }
            buf = v;
        }
        size_t r = fread(buf + have, 1, room - have, f);
        have += r;
        if (r == 0) {
            if (ferror(f))
                rc = LX_EIO;
            break;
        }
    }
    fclose(f);
    if (rc != LX_OK) {
        free(buf);
        return rc;
    }
    if (have > cap) {
        free(buf);
        return LX_ETOOBIG;
    }
    *data = buf;
    *len = have;
    return LX_OK;
}

lx_err lx__settle_write_batch(const char *path, const lx_batch *b)
{
    if (!path || !b)
        return LX_EINVAL;
    uint8_t *buf;
    size_t len;
    lx_err rc = lx_batch_file_encode(&buf, &len, b);
    if (rc == LX_OK)
        rc = write_file(path, buf, len, 0); /* derived from the log: no fsync */
    free(buf);
    return rc;
}

static lx_err decode_net(lx_net_change *c, const uint8_t *p)
{
    c->account = lx__get_u64(p);
    memcpy(c->asset_id, p + 8, 32);
    c->delta = (int64_t)lx__get_u64(p + 40);
    return LX_OK;
}

lx_err lx__settle_read_batch(const char *path, lx_batch **b, lx_fill_leaf **fills, size_t *nfills,
                             lx_net_change **nets, size_t *nnets)
{
    if (!path || !b || !fills || !nfills || !nets || !nnets)
        return LX_EINVAL;
    *b = NULL;
    *fills = NULL;
    *nets = NULL;
    *nfills = *nnets = 0;
    uint8_t *data;
    size_t len;
    lx_err rc = lx__settle_read_file(path, &data, &len, (size_t)1 << 31);
    if (rc != LX_OK)
        return rc;
    lx_batch_info info;
    uint32_t blen = len >= 12 ? lx__get_u32(data + 8) : 0;
    rc = LX_ECORRUPT;
    if (len < 12 || memcmp(data, LX__SETTLE_FILE_MAGIC, 8) != 0 || blen > len - 12 ||
        lx_batch_decode(b, data + 12, blen) != LX_OK || lx_batch_info_get(*b, &info) != LX_OK)
        goto out;
    size_t rest = len - 12 - blen;
    if (info.fill_count > rest / LX_FILL_LEAF_LEN ||
        rest != info.fill_count * LX_FILL_LEAF_LEN + (size_t)info.net_count * LX_NET_LEAF_LEN)
        goto out;
    size_t nf = (size_t)info.fill_count, nn = info.net_count;
    *fills = calloc(nf ? nf : 1, sizeof **fills);
    *nets = calloc(nn ? nn : 1, sizeof **nets);
    uint8_t *hashes = malloc((nf ? nf : 1) * 32);
    if (!*fills || !*nets || !hashes) {
        free(hashes);
        rc = LX_ENOMEM;
        goto out;
    }
    const uint8_t *p = data + 12 + blen;
    for (size_t i = 0; i < nf; i++, p += LX_FILL_LEAF_LEN) {
        if (lx_fill_leaf_decode(&(*fills)[i], p, LX_FILL_LEAF_LEN) != LX_OK ||
            (*fills)[i].fill_seq != info.first_fill + i ||
            lx_fill_leaf_hash(hashes + 32 * i, &(*fills)[i]) != LX_OK) {
            free(hashes);
            goto out;
        }
    }
    for (size_t i = 0; i < nn; i++, p += LX_NET_LEAF_LEN)
        decode_net(&(*nets)[i], p);
    uint8_t root[32];
    int ok = lx_merkle_root(root, hashes, nf) == LX_OK && memcmp(root, info.fills_root, 32) == 0 &&
             lx_net_root(root, *nets, nn) == LX_OK && memcmp(root, info.net_root, 32) == 0;
    free(hashes);
    if (!ok)
        goto out;
    *nfills = nf;
    *nnets = nn;
    rc = LX_OK;
out:
    free(data);
    if (rc != LX_OK) {
        lx_batch_free(b);
        free(*fills);
        free(*nets);
        *fills = NULL;
        *nets = NULL;
    }
    return rc;
}

lx_err lx__settle_batch_from_file(lx_batch **b, const uint8_t *data, size_t len)
{
    if (!b || (!data && len))
        return LX_EINVAL;
    *b = NULL;
    lx_batch *d = NULL;
    lx_batch_info info;
    uint32_t blen = len >= 12 ? lx__get_u32(data + 8) : 0;
    if (len < 12 || memcmp(data, LX__SETTLE_FILE_MAGIC, 8) != 0 || blen > len - 12 ||
        lx_batch_decode(&d, data + 12, blen) != LX_OK || lx_batch_info_get(d, &info) != LX_OK) {
        lx_batch_free(&d);
        return LX_ECORRUPT;
    }
    lx_batch_free(&d);
    size_t rest = len - 12 - blen;
    if (info.fill_count > rest / LX_FILL_LEAF_LEN ||
        rest != info.fill_count * LX_FILL_LEAF_LEN + (size_t)info.net_count * LX_NET_LEAF_LEN)
        return LX_ECORRUPT;
    size_t nf = (size_t)info.fill_count, nn = info.net_count;
    lx_fill_leaf *fills = calloc(nf ? nf : 1, sizeof *fills);
    lx_net_change *nets = calloc(nn ? nn : 1, sizeof *nets);
    lx_err rc = fills && nets ? LX_OK : LX_ENOMEM;
    const uint8_t *p = data + 12 + blen;
    for (size_t i = 0; i < nf && rc == LX_OK; i++, p += LX_FILL_LEAF_LEN)
        if (lx_fill_leaf_decode(&fills[i], p, LX_FILL_LEAF_LEN) != LX_OK)
            rc = LX_ECORRUPT;
    for (size_t i = 0; i < nn && rc == LX_OK; i++, p += LX_NET_LEAF_LEN)
        decode_net(&nets[i], p);
    if (rc == LX_OK) {
        rc = lx_batch_rebuild(b, data + 12, blen, fills, nf, nets, nn);
        if (rc != LX_OK && rc != LX_ENOMEM)
            rc = LX_ECORRUPT;
    }
    free(fills);
    free(nets);
    return rc;
}

static const char *status_name(lx__batch_status s)
{
    return s == LX__BATCH_ACCEPTED ? "accepted" : s == LX__BATCH_SUBMITTED ? "submitted" : "closed";
}

lx_err lx__settle_write_record(const char *path, const lx__batch_record *r)
{
    if (!path || !r)
        return LX_EINVAL;
    char hash[65], cid[65], txid[LX_CB58_ID_MAX] = "";
    lx__hex(hash, r->hash, 32);
    lx__hex(cid, r->channel_id, 32);
    if (r->has_tx)
        lx_id_to_cb58(txid, r->tx_id);
    char buf[RECORD_MAX];
    int w = snprintf(buf, sizeof buf,
                     "{\"batch\":%" PRIu64 ",\"channel_id\":\"%s\",\"first_seq\":%" PRIu64
                     ",\"last_seq\":%" PRIu64 ",\"first_fill\":%" PRIu64 ",\"fill_count\":%" PRIu64
                     ",\"deposits\":%" PRIu64 ",\"withdrawals\":%" PRIu64
                     ",\"hash\":\"%s\",\"status\":\"%s\",\"tx_id\":%s%s%s,\"settled_seq\":%" PRIu64
                     ",\"settled_us\":%" PRIu64 ",\"accepted_us\":%" PRIu64 "}\n",
                     r->number, cid, r->first_seq, r->last_seq, r->first_fill, r->fill_count,
                     r->deposits, r->withdrawals, hash, status_name(r->status),
                     r->has_tx ? "\"" : "", r->has_tx ? txid : "null", r->has_tx ? "\"" : "",
                     r->settled_seq, r->settled_us, r->accepted_us);
    if (w < 0 || (size_t)w >= sizeof buf)
        return LX_ETOOBIG;
    return write_file(path, (const uint8_t *)buf, (size_t)w, 0);
}

lx_err lx__settle_write_times(const char *path, const lx__fill_time *v, size_t n)
{
    if (!path || (!v && n))
        return LX_EINVAL;
    /* Three u64 in decimal, two spaces and a newline: at most 63 bytes. */
    size_t cap = n * 64 + 1, used = 0;
    char *buf = malloc(cap);
    if (!buf)
        return LX_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        int w = snprintf(buf + used, cap - used, "%" PRIu64 " %" PRIu64 " %" PRIu64 "\n", v[i].seq,
                         v[i].timestamp_us, v[i].fills);
        if (w < 0 || (size_t)w >= cap - used) {
            free(buf);
            return LX_ETOOBIG;
        }
        used += (size_t)w;
    }
    lx_err rc = write_file(path, (const uint8_t *)buf, used, 0);
    free(buf);
    return rc;
}

static int get_hex32(uint8_t out[32], const json_t *v)
{
    size_t n = 0;
    return json_is_string(v) && json_string_length(v) == 64 &&
           lx_hex_decode(out, 32, &n, json_string_value(v)) == LX_OK && n == 32;
}

static int get_num(uint64_t *out, const json_t *v)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return 0;
    *out = (uint64_t)json_integer_value(v);
    return 1;
}

lx_err lx__settle_read_record(const char *path, lx__batch_record *r)
{
    if (!path || !r)
        return LX_EINVAL;
    memset(r, 0, sizeof *r);
    uint8_t *data;
    size_t len;
    lx_err rc = lx__settle_read_file(path, &data, &len, RECORD_MAX);
    if (rc != LX_OK)
        return rc;
    rc = lx__settle_parse_record(r, data, len);
    free(data);
    return rc;
}

lx_err lx__settle_parse_record(lx__batch_record *r, const uint8_t *data, size_t len)
{
    if (!r || (!data && len))
        return LX_EINVAL;
    memset(r, 0, sizeof *r);
    if (len > RECORD_MAX)
        return LX_EFORMAT;
    json_error_t je;
    json_t *o = json_loadb((const char *)data, len, 0, &je);
    if (!json_is_object(o)) {
        json_decref(o);
        return LX_EFORMAT;
    }
    const json_t *st = json_object_get(o, "status");
    const json_t *tx = json_object_get(o, "tx_id");
    int ok = get_num(&r->number, json_object_get(o, "batch")) &&
             get_hex32(r->channel_id, json_object_get(o, "channel_id")) &&
             get_num(&r->first_seq, json_object_get(o, "first_seq")) &&
             get_num(&r->last_seq, json_object_get(o, "last_seq")) &&
             get_num(&r->first_fill, json_object_get(o, "first_fill")) &&
             get_num(&r->fill_count, json_object_get(o, "fill_count")) &&
             get_num(&r->deposits, json_object_get(o, "deposits")) &&
             get_num(&r->withdrawals, json_object_get(o, "withdrawals")) &&
             get_hex32(r->hash, json_object_get(o, "hash")) &&
             get_num(&r->settled_seq, json_object_get(o, "settled_seq")) && json_is_string(st);
    /* Timing fields, absent from records of older versions. */
    const json_t *su = json_object_get(o, "settled_us"), *au = json_object_get(o, "accepted_us");
    if (ok && su && !get_num(&r->settled_us, su))
        ok = 0;
    if (ok && au && !get_num(&r->accepted_us, au))
        ok = 0;
    if (ok) {
        const char *s = json_string_value(st);
        if (strcmp(s, "closed") == 0)
            r->status = LX__BATCH_CLOSED;
        else if (strcmp(s, "submitted") == 0)
            r->status = LX__BATCH_SUBMITTED;
        else if (strcmp(s, "accepted") == 0)
            r->status = LX__BATCH_ACCEPTED;
        else
            ok = 0;
    }
    if (ok && json_is_string(tx)) {
        ok = lx_id_from_cb58(r->tx_id, json_string_value(tx)) == LX_OK;
        r->has_tx = 1;
    } else if (ok && !json_is_null(tx)) {
        ok = 0;
    }
    json_decref(o);
    return ok ? LX_OK : LX_EFORMAT;
}
