/* The settlement section of a snapshot: everything the log side of
 * settlement holds after block S (the open batch, the closed batches not yet
 * settled, the chain of settlements, the channel's UTXOs, the deposits and
 * fill times), encoded with a checksum, and decoded with every count and
 * link checked, so that a restart replays only the blocks after S
 * (docs/settlement.md, "Restart"). */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logio.h"
#include "settle_state.h"

#define MAGIC "LXSETL01"
#define UTXO_LEN (32 + 4 + 32 + 8 + 8)
#define FT_LEN 24

/* ---- encoding ---- */

/* A growing output buffer; an allocation failure sticks. */
typedef struct out {
    uint8_t *p;
    size_t n, cap;
    int oom;
} out;

static uint8_t *room(out *o, size_t n)
{
    if (o->oom)
        return NULL;
    if (o->cap - o->n < n) {
        size_t c = o->cap ? o->cap : 4096;
        while (c - o->n < n)
            c *= 2;
        uint8_t *v = realloc(o->p, c);
        if (!v) {
            o->oom = 1;
            return NULL;
        }
        o->p = v;
        o->cap = c;
    }
    uint8_t *p = o->p + o->n;
    o->n += n;
    return p;
}

static void put_bytes(out *o, const void *src, size_t n)
{
    uint8_t *p = room(o, n);
    if (p && n)
        memcpy(p, src, n);
}

static void put32(out *o, uint32_t v)
{
    uint8_t *p = room(o, 4);
    if (p)
        lx__put_u32(p, v);
}

static void put64(out *o, uint64_t v)
{
    uint8_t *p = room(o, 8);
    if (p)
        lx__put_u64(p, v);
}

static void put_utxo(out *o, const uint8_t tx_id[32], uint32_t index, const uint8_t asset_id[32],
                     uint64_t amount, uint64_t locktime)
{
    put_bytes(o, tx_id, 32);
    put32(o, index);
    put_bytes(o, asset_id, 32);
    put64(o, amount);
    put64(o, locktime);
}

static void put_channel_utxos(out *o, const lx_channel_utxo *v, size_t n)
{
    put32(o, (uint32_t)n);
    for (size_t i = 0; i < n; i++)
        put_utxo(o, v[i].tx_id, v[i].index, v[i].asset_id, v[i].amount, v[i].locktime);
}

lx_err lx__settle_encode(const lx__settle *s, uint64_t seq, uint8_t **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    if (s->nutxos > UINT32_MAX || s->ndeps > UINT32_MAX || s->nft > UINT32_MAX)
        return LX_ETOOBIG;
    out o = {NULL, 0, 0, 0};
    uint8_t cid[32];
    lx_err rc = lx_channel_id(cid, &s->channel, s->ch.network_id, s->ch.blockchain_id);
    if (rc != LX_OK)
        return rc;
    put_bytes(&o, MAGIC, 8);
    put64(&o, seq);
    put_bytes(&o, cid, 32);
    put64(&o, s->closed);
    put64(&o, s->settled);
    put_bytes(&o, s->settled_tx, 32);
    put_bytes(&o, s->settled_hash, 32);
    put64(&o, s->assets_seen);
    put64(&o, s->markets_seen);
    put_channel_utxos(&o, s->prev, s->nprev);
    put_channel_utxos(&o, s->utxos, s->nutxos);
    put32(&o, (uint32_t)s->ndeps);
    for (size_t i = 0; i < s->ndeps; i++) {
        const lx__funding *f = &s->deps[i];
        put_utxo(&o, f->tx_id, f->index, f->asset_id, f->amount, f->locktime);
    }
    put32(&o, (uint32_t)s->nft);
    for (size_t i = 0; i < s->nft; i++) {
        put64(&o, s->ft[i].seq);
        put64(&o, s->ft[i].timestamp_us);
        put64(&o, s->ft[i].fills);
    }
    put32(&o, (uint32_t)s->qn);
    for (size_t i = 0; i < s->qn && rc == LX_OK; i++) {
        uint8_t *file = NULL;
        size_t flen = 0;
        rc = lx_batch_file_encode(&file, &flen, s->q[i].batch);
        if (rc == LX_OK && flen > UINT32_MAX)
            rc = LX_ETOOBIG;
        put64(&o, s->q[i].now);
        put32(&o, (uint32_t)flen);
        put_bytes(&o, file, flen);
        free(file);
    }
    uint8_t *bb = NULL;
    size_t bblen = 0;
    if (rc == LX_OK)
        rc = lx_batch_builder_encode(s->bb, &bb, &bblen);
    if (rc == LX_OK && bblen > UINT32_MAX)
        rc = LX_ETOOBIG;
    put32(&o, (uint32_t)bblen);
    put_bytes(&o, bb, bblen);
    free(bb);
    uint8_t *sum = room(&o, 32);
    if (rc == LX_OK && o.oom)
        rc = LX_ENOMEM;
    if (rc == LX_OK)
        rc = lx_sha256(sum, o.p, o.n - 32);
    if (rc != LX_OK) {
        free(o.p);
        return rc;
    }
    *buf = o.p;
    *len = o.n;
    return LX_OK;
}

/* ---- decoding ---- */

/* A list count that the bytes left can hold, at most cap. */
static int count_ok(lx__rd *r, size_t *n, uint32_t count, size_t each, size_t cap)
{
    if (r->bad || count > cap || count > (size_t)(r->end - r->p) / each) {
        r->bad = 1;
        return 0;
    }
    *n = count;
    return 1;
}

/* What a section holds, decoded; installed into the settlement state only
 * once all of it checked out. */
typedef struct image {
    uint64_t seq, closed, settled, assets_seen, markets_seen;
    uint8_t settled_tx[32], settled_hash[32];
    lx_channel_utxo prev[CHANGE_MAX];
    size_t nprev;
    lx_channel_utxo *utxos;
    size_t nutxos;
    lx__funding *deps;
    size_t ndeps;
    lx__fill_time *ft;
    size_t nft;
    pend q[QUEUE_MAX];
    size_t qn;
    lx_batch_builder *bb;
} image;

static void image_free(image *im)
{
    free(im->utxos);
    free(im->deps);
    free(im->ft);
    for (size_t i = 0; i < im->qn; i++)
        lx_batch_free(&im->q[i].batch);
    lx_batch_builder_free(&im->bb);
    memset(im, 0, sizeof *im);
}

static void get_utxo(lx__rd *r, const lx__settle *s, lx_channel_utxo *u)
{
    memset(u, 0, sizeof *u);
    lx__rd_bytes(r, u->tx_id, 32);
    u->index = lx__rd_u32(r);
    lx__rd_bytes(r, u->asset_id, 32);
    u->amount = lx__rd_u64(r);
    u->locktime = lx__rd_u64(r);
    u->threshold = s->ch.threshold;
    u->nowners = s->ch.nowners;
    u->owners = s->ch.owners;
    if (u->amount == 0)
        r->bad = 1;
}

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        snprintf(why, cap, __VA_ARGS__);                                                           \
        return LX_ECORRUPT;                                                                        \
    } while (0)

/* The UTXO lists, deposits and fill times. */
static lx_err decode_lists(lx__rd *r, const lx__settle *s, image *im, char *why, size_t cap)
{
    size_t n = 0;
    if (!count_ok(r, &im->nprev, lx__rd_u32(r), UTXO_LEN, CHANGE_MAX))
        FAIL("bad change outputs");
    for (size_t i = 0; i < im->nprev; i++)
        get_utxo(r, s, &im->prev[i]);
    if (!count_ok(r, &n, lx__rd_u32(r), UTXO_LEN, SIZE_MAX))
        FAIL("bad channel UTXO list");
    if (n && !(im->utxos = calloc(n, sizeof *im->utxos)))
        return LX_ENOMEM;
    for (im->nutxos = 0; im->nutxos < n; im->nutxos++)
        get_utxo(r, s, &im->utxos[im->nutxos]);
    if (!count_ok(r, &n, lx__rd_u32(r), UTXO_LEN, SIZE_MAX))
        FAIL("bad deposit list");
    if (n && !(im->deps = calloc(n, sizeof *im->deps)))
        return LX_ENOMEM;
    for (im->ndeps = 0; im->ndeps < n; im->ndeps++) {
        lx_channel_utxo u;
        get_utxo(r, s, &u);
        lx__funding *f = &im->deps[im->ndeps];
        memcpy(f->tx_id, u.tx_id, 32);
        f->index = u.index;
        memcpy(f->asset_id, u.asset_id, 32);
        f->amount = u.amount;
        f->locktime = u.locktime;
    }
    if (!count_ok(r, &n, lx__rd_u32(r), FT_LEN, SIZE_MAX))
        FAIL("bad fill-time list");
    if (n && !(im->ft = calloc(n, sizeof *im->ft)))
        return LX_ENOMEM;
    for (im->nft = 0; im->nft < n; im->nft++) {
        lx__fill_time *t = &im->ft[im->nft];
        t->seq = lx__rd_u64(r);
        t->timestamp_us = lx__rd_u64(r);
        t->fills = lx__rd_u64(r);
        if (t->seq > im->seq || (im->nft && t->seq < im->ft[im->nft - 1].seq))
            r->bad = 1;
    }
    if (r->bad)
        FAIL("a bad UTXO, deposit or fill time");
    return LX_OK;
}

/* The closed batches not yet settled: each a whole .batch file, numbered
 * from settled + 1, each following the one before. */
static lx_err decode_queue(lx__rd *r, image *im, const uint8_t cid[32], char *why, size_t cap)
{
    size_t qn = 0;
    if (!count_ok(r, &qn, lx__rd_u32(r), 12, QUEUE_MAX) || qn != im->closed - im->settled)
        FAIL("%zu queued batches for batches %" PRIu64 "..%" PRIu64, qn, im->settled + 1,
             im->closed);
    for (im->qn = 0; im->qn < qn; im->qn++) {
        pend *p = &im->q[im->qn];
        memset(p, 0, sizeof *p);
        p->now = lx__rd_u64(r);
        uint32_t flen = lx__rd_u32(r);
        const uint8_t *file = lx__rd_take(r, flen);
        if (!file)
            FAIL("a queued batch is cut short");
        lx_err rc = lx__settle_batch_from_file(&p->batch, file, flen);
        if (rc == LX_ENOMEM)
            return rc;
        if (rc != LX_OK)
            FAIL("queued batch %zu: %s", im->qn + 1, lx_strerror(rc));
        lx__settle_record_of(&p->rec, p->batch);
        lx_batch_info info;
        lx_batch_info_get(p->batch, &info);
        if (p->rec.number != im->settled + 1 + im->qn ||
            (im->qn == 0 && memcmp(info.prev_hash, im->settled_hash, 32) != 0) ||
            memcmp(p->rec.channel_id, cid, 32) != 0 || p->rec.last_seq > im->seq ||
            (im->qn && lx_batch_follows(p->batch, im->q[im->qn - 1].batch) != LX_OK)) {
            im->qn++; /* freed with the image */
            FAIL("queued batch %" PRIu64 " does not follow the chain", p->rec.number);
        }
    }
    return LX_OK;
}

/* The builder, and how it links to the chain: its next batch follows the
 * last queued one, and its fee is the channel file's. */
static lx_err decode_builder(lx__rd *r, const lx__settle *s, image *im, const uint8_t cid[32],
                             char *why, size_t cap)
{
    uint32_t blen = lx__rd_u32(r);
    const uint8_t *b = lx__rd_take(r, blen);
    if (!b)
        FAIL("the batch builder is cut short");
    lx_err rc = lx_batch_builder_decode(&im->bb, b, blen, 0);
    if (rc == LX_ENOMEM)
        return rc;
    if (rc != LX_OK)
        FAIL("the batch builder: %s", lx_strerror(rc));
    lx_batch_config c;
    uint64_t last_seq;
    lx_batch_builder_state(im->bb, &c, &last_seq);
    uint64_t next_seq = c.next_seq;
    if (memcmp(c.channel_id, cid, 32) != 0 || c.fee_account != s->ch.fee_account ||
        memcmp(c.fee_asset, s->ch.fee_asset, 32) != 0 || c.tx_fee != s->ch.tx_fee)
        FAIL("the batch builder's channel or fee is not the channel file's");
    if (c.next_number != im->closed + 1 || next_seq > im->seq + 1 || last_seq > im->seq + 1)
        FAIL("the open batch does not follow batch %" PRIu64 " at block %" PRIu64, im->closed,
             im->seq);
    if (im->qn == 0 && memcmp(c.prev_hash, im->settled_hash, 32) != 0)
        FAIL("the open batch does not follow settled batch %" PRIu64, im->settled);
    if (im->qn) {
        const pend *last = &im->q[im->qn - 1];
        if (memcmp(c.prev_hash, last->rec.hash, 32) != 0 || next_seq != last->rec.last_seq + 1 ||
            c.next_fill != last->rec.first_fill + last->rec.fill_count)
            FAIL("the open batch does not follow queued batch %" PRIu64, last->rec.number);
    }
    for (size_t i = 0; i < im->nft; i++)
        if (im->ft[i].seq < next_seq)
            FAIL("a fill time before the open batch");
    return LX_OK;
}

/* Decodes a section into *im (freed by the caller either way); e is the
 * engine of the same snapshot. */
static lx_err decode(image *im, const lx__settle *s, const uint8_t *buf, size_t len, uint64_t seq,
                     const lx_engine *e, char *why, size_t cap)
{
    memset(im, 0, sizeof *im);
    uint8_t sum[32], cid[32];
    if (len < 8 + 32 || memcmp(buf, MAGIC, 8) != 0)
        FAIL("not a settlement section of this version");
    lx_err rc = lx_sha256(sum, buf, len - 32);
    if (rc != LX_OK)
        return rc;
    if (memcmp(sum, buf + len - 32, 32) != 0)
        FAIL("its checksum does not match");
    if ((rc = lx_channel_id(cid, &s->channel, s->ch.network_id, s->ch.blockchain_id)) != LX_OK)
        return rc;
    lx__rd r = {buf + 8, buf + len - 32, 0};
    uint8_t got[32];
    im->seq = lx__rd_u64(&r);
    lx__rd_bytes(&r, got, 32);
    im->closed = lx__rd_u64(&r);
    im->settled = lx__rd_u64(&r);
    lx__rd_bytes(&r, im->settled_tx, 32);
    lx__rd_bytes(&r, im->settled_hash, 32);
    im->assets_seen = lx__rd_u64(&r);
    im->markets_seen = lx__rd_u64(&r);
    static const uint8_t zero[32];
    if (r.bad)
        FAIL("it is cut short");
    if (im->seq != seq)
        FAIL("it is for block %" PRIu64 ", the snapshot for block %" PRIu64, im->seq, seq);
    if (memcmp(got, cid, 32) != 0)
        FAIL("it is for another channel");
    if (im->settled > im->closed ||
        (im->settled == 0 &&
         (memcmp(im->settled_tx, zero, 32) != 0 || memcmp(im->settled_hash, zero, 32) != 0)) ||
        im->assets_seen > lx_engine_asset_count(e) || im->markets_seen > lx_engine_market_count(e))
        FAIL("batches closed %" PRIu64 ", settled %" PRIu64 ", engine assets %" PRIu64
             ", markets %" PRIu64,
             im->closed, im->settled, im->assets_seen, im->markets_seen);
    if ((rc = decode_lists(&r, s, im, why, cap)) != LX_OK)
        return rc;
    if (im->settled == 0 && im->nprev)
        FAIL("change outputs before the first settlement");
    if ((rc = decode_queue(&r, im, cid, why, cap)) != LX_OK ||
        (rc = decode_builder(&r, s, im, cid, why, cap)) != LX_OK)
        return rc;
    if (r.bad || r.p != r.end)
        FAIL("%s", r.bad ? "it is cut short" : "bytes after its end");
    return LX_OK;
}

lx_err lx__settle_check_section(const lx__settle *s, const uint8_t *buf, size_t len, uint64_t seq,
                                const lx_engine *e, char *why, size_t cap)
{
    image im;
    lx_err rc = decode(&im, s, buf, len, seq, e, why, cap);
    image_free(&im);
    return rc;
}

lx_err lx__settle_restore(lx__settle *s, const uint8_t *buf, size_t len, uint64_t seq,
                          const lx_engine *e, char *why, size_t cap)
{
    image im;
    lx_err rc = decode(&im, s, buf, len, seq, e, why, cap);
    if (rc != LX_OK) {
        image_free(&im);
        return rc;
    }
    /* The state of a fresh start goes; the section's takes its place. */
    for (size_t i = 0; i < s->qn; i++)
        lx_batch_free(&s->q[i].batch);
    lx_batch_builder_free(&s->bb);
    free(s->utxos);
    free(s->deps);
    free(s->ft);
    s->bb = im.bb;
    s->closed = im.closed;
    s->settled = im.settled;
    memcpy(s->settled_tx, im.settled_tx, 32);
    memcpy(s->settled_hash, im.settled_hash, 32);
    s->assets_seen = im.assets_seen;
    s->markets_seen = im.markets_seen;
    memcpy(s->prev, im.prev, im.nprev * sizeof *im.prev);
    s->nprev = im.nprev;
    s->utxos = im.utxos;
    s->nutxos = im.nutxos;
    s->deps = im.deps;
    s->ndeps = s->deps_cap = im.ndeps;
    s->ft = im.ft;
    s->nft = s->ft_cap = im.nft;
    memcpy(s->q, im.q, im.qn * sizeof *im.q);
    s->qn = im.qn;
    return LX_OK;
}
