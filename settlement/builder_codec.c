/* The batch builder's state as bytes: what a node stores in a snapshot so
 * that a restart need not replay the log to rebuild the open batch. The
 * decoder adds everything again through the builder's own checks, so the
 * net changes are recomputed rather than trusted. */
#include <stdlib.h>
#include <string.h>

#include "settlement_int.h"

#define HEADER_LEN (1 + 32 + 8 + 32 + 8 + 8 + 32 + 8 + 8 + 8)
#define ASSET_LEN (4 + LX_ASSET_ID_LEN)
#define MARKET_LEN (4 + 4 + 4 + 8)

static size_t count_set_assets(const lx_batch_builder *b)
{
    size_t n = 0;
    for (size_t i = 0; i < b->nassets; i++)
        n += b->assets[i].set != 0;
    return n;
}

static size_t count_set_markets(const lx_batch_builder *b)
{
    size_t n = 0;
    for (size_t i = 0; i < b->nmarkets; i++)
        n += b->markets[i].set != 0;
    return n;
}

static uint8_t *put_transfer(uint8_t *p, const lx_transfer *t, int with_dest)
{
    lx__put_u64(p, t->seq);
    lx__put_u64(p + 8, t->account);
    memcpy(p + 16, t->asset_id, LX_ASSET_ID_LEN);
    lx__put_u64(p + 48, t->amount);
    if (!with_dest)
        return p + LX__DEPOSIT_ENC_LEN;
    memcpy(p + 56, t->dest, LX_XADDR_LEN);
    return p + LX__WITHDRAWAL_ENC_LEN;
}

lx_err lx_batch_builder_encode(const lx_batch_builder *b, uint8_t **out, size_t *out_len)
{
    if (!out || !out_len)
        return LX_EINVAL;
    *out = NULL;
    *out_len = 0;
    if (!b)
        return LX_EINVAL;
    size_t na = count_set_assets(b), nm = count_set_markets(b);
    size_t len = HEADER_LEN + 4 + na * ASSET_LEN + 4 + nm * MARKET_LEN + 8 +
                 b->nfills * LX_FILL_LEAF_LEN + 4 + b->ndeposits * LX__DEPOSIT_ENC_LEN + 4 +
                 b->nwithdrawals * LX__WITHDRAWAL_ENC_LEN;
    uint8_t *buf = malloc(len), *p = buf;
    if (!buf)
        return LX_ENOMEM;
    const lx_batch_config *c = &b->cfg;
    *p++ = LX_BATCH_BUILDER_STATE_VERSION;
    memcpy(p, c->channel_id, 32), p += 32;
    lx__put_u64(p, c->fee_account), p += 8;
    memcpy(p, c->fee_asset, 32), p += 32;
    lx__put_u64(p, c->tx_fee), p += 8;
    lx__put_u64(p, c->next_number), p += 8;
    memcpy(p, c->prev_hash, 32), p += 32;
    lx__put_u64(p, c->next_seq), p += 8;
    lx__put_u64(p, c->next_fill), p += 8;
    lx__put_u64(p, b->last_seq), p += 8;
    lx__put_u32(p, (uint32_t)na), p += 4;
    for (size_t i = 0; i < b->nassets; i++)
        if (b->assets[i].set) {
            lx__put_u32(p, (uint32_t)i);
            memcpy(p + 4, b->assets[i].id, LX_ASSET_ID_LEN);
            p += ASSET_LEN;
        }
    lx__put_u32(p, (uint32_t)nm), p += 4;
    for (size_t i = 0; i < b->nmarkets; i++)
        if (b->markets[i].set) {
            const lx__market_map *m = &b->markets[i];
            lx__put_u32(p, (uint32_t)i);
            lx__put_u32(p + 4, m->base);
            lx__put_u32(p + 8, m->quote);
            lx__put_u64(p + 12, m->lot);
            p += MARKET_LEN;
        }
    lx__put_u64(p, b->nfills), p += 8;
    for (size_t i = 0; i < b->nfills; i++, p += LX_FILL_LEAF_LEN)
        lx_fill_leaf_encode(p, &b->fills[i]);
    lx__put_u32(p, (uint32_t)b->ndeposits), p += 4;
    for (size_t i = 0; i < b->ndeposits; i++)
        p = put_transfer(p, &b->deposits[i], 0);
    lx__put_u32(p, (uint32_t)b->nwithdrawals), p += 4;
    for (size_t i = 0; i < b->nwithdrawals; i++)
        p = put_transfer(p, &b->withdrawals[i], 1);
    LX_ASSERT((size_t)(p - buf) == len);
    *out = buf;
    *out_len = len;
    return LX_OK;
}

/* ---- decoding ---- */

/* A list's count, checked against the bytes left (each entry `each` bytes)
 * and the cap: LX_EFORMAT or LX_ETOOBIG. */
static lx_err list_count(lx__rd *r, size_t *n, uint64_t count, size_t each, uint64_t cap)
{
    if (r->bad)
        return LX_EFORMAT;
    if (count > cap)
        return LX_ETOOBIG;
    if (count > (uint64_t)(r->end - r->p) / each)
        return LX_EFORMAT;
    *n = (size_t)count;
    return LX_OK;
}

/* Errors of the builder's own checks mean the bytes describe a state no
 * builder holds: malformed input, except for memory. */
static lx_err as_format(lx_err err)
{
    return err == LX_OK || err == LX_ENOMEM || err == LX_ETOOBIG ? err : LX_EFORMAT;
}

/* The engine asset with asset ID id, or LX_EFORMAT. */
static lx_err asset_index(const lx_batch_builder *b, uint32_t *asset, const uint8_t id[32])
{
    for (size_t i = 0; i < b->nassets; i++)
        if (b->assets[i].set && memcmp(b->assets[i].id, id, LX_ASSET_ID_LEN) == 0) {
            *asset = (uint32_t)i;
            return LX_OK;
        }
    return LX_EFORMAT;
}

static void read_transfer(const uint8_t *p, lx_transfer *t, int with_dest)
{
    memset(t, 0, sizeof *t);
    t->seq = lx__get_u64(p);
    t->account = lx__get_u64(p + 8);
    memcpy(t->asset_id, p + 16, LX_ASSET_ID_LEN);
    t->amount = lx__get_u64(p + 48);
    if (with_dest)
        memcpy(t->dest, p + 56, LX_XADDR_LEN);
}

/* The three lists of the open batch as they sit in the input. */
typedef struct lists {
    const uint8_t *fills, *deposits, *withdrawals;
    size_t nfills, ndeposits, nwithdrawals;
} lists;

static lx_err add_fill(lx_batch_builder *b, const uint8_t *bytes)
{
    lx_fill_leaf f;
    if (lx_fill_leaf_decode(&f, bytes, LX_FILL_LEAF_LEN) != LX_OK)
        return LX_EFORMAT;
    lx_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = LX_EV_FILL;
    ev.market = f.market;
    ev.id = f.taker_order;
    ev.account = f.taker_account;
    ev.side = f.taker_side;
    ev.u.fill.maker = f.maker_order;
    ev.u.fill.maker_account = f.maker_account;
    ev.u.fill.price = f.price;
    ev.u.fill.qty = f.qty;
    ev.u.fill.maker_fee = f.maker_fee;
    ev.u.fill.taker_fee = f.taker_fee;
    lx_err err = as_format(lx_batch_builder_add_fill(b, f.log_seq, &ev));
    if (err != LX_OK)
        return err;
    /* The builder numbers the fill itself: it must be the stored leaf. */
    uint8_t again[LX_FILL_LEAF_LEN];
    lx_fill_leaf_encode(again, &b->fills[b->nfills - 1]);
    return memcmp(again, bytes, LX_FILL_LEAF_LEN) == 0 ? LX_OK : LX_EFORMAT;
}

static lx_err add_transfer(lx_batch_builder *b, const uint8_t *bytes, int withdrawal)
{
    lx_transfer t;
    read_transfer(bytes, &t, withdrawal);
    uint32_t asset;
    if (asset_index(b, &asset, t.asset_id) != LX_OK)
        return LX_EFORMAT;
    if (!withdrawal)
        return as_format(lx_batch_builder_add_deposit(b, t.seq, t.account, asset, t.amount));
    return as_format(lx_batch_builder_add_withdrawal(b, t.seq, t.account, asset, t.amount, t.dest));
}

/* Adds the fills, deposits and withdrawals in block order (the builder
 * refuses a block before one it has), each list in its own order. */
static lx_err add_lists(lx_batch_builder *b, const lists *l)
{
    size_t f = 0, d = 0, w = 0;
    while (f < l->nfills || d < l->ndeposits || w < l->nwithdrawals) {
        uint64_t sf = f < l->nfills ? lx__get_u64(l->fills + f * LX_FILL_LEAF_LEN + 8) : UINT64_MAX;
        uint64_t sd =
            d < l->ndeposits ? lx__get_u64(l->deposits + d * LX__DEPOSIT_ENC_LEN) : UINT64_MAX;
        uint64_t sw = w < l->nwithdrawals ? lx__get_u64(l->withdrawals + w * LX__WITHDRAWAL_ENC_LEN)
                                          : UINT64_MAX;
        lx_err err;
        if (f < l->nfills && sf <= sd && sf <= sw)
            err = add_fill(b, l->fills + f++ * LX_FILL_LEAF_LEN);
        else if (d < l->ndeposits && sd <= sw)
            err = add_transfer(b, l->deposits + d++ * LX__DEPOSIT_ENC_LEN, 0);
        else
            err = add_transfer(b, l->withdrawals + w++ * LX__WITHDRAWAL_ENC_LEN, 1);
        if (err != LX_OK)
            return err;
    }
    return LX_OK;
}

/* The registered assets and markets, strictly increasing. */
static lx_err add_tables(lx_batch_builder *b, lx__rd *r)
{
    size_t n = 0;
    lx_err err = list_count(r, &n, lx__rd_u32(r), ASSET_LEN, LX__BUILDER_TABLE_MAX);
    for (size_t i = 0; i < n && err == LX_OK; i++) {
        uint32_t asset = lx__rd_u32(r);
        uint8_t id[LX_ASSET_ID_LEN];
        lx__rd_bytes(r, id, sizeof id);
        if (asset < b->nassets) /* not above the previous one */
            return LX_EFORMAT;
        err = as_format(lx_batch_builder_add_asset(b, asset, id));
    }
    if (err == LX_OK)
        err = list_count(r, &n, lx__rd_u32(r), MARKET_LEN, LX__BUILDER_TABLE_MAX);
    for (size_t i = 0; i < n && err == LX_OK; i++) {
        uint32_t market = lx__rd_u32(r), base = lx__rd_u32(r), quote = lx__rd_u32(r);
        uint64_t lot = lx__rd_u64(r);
        if (market < b->nmarkets)
            return LX_EFORMAT;
        err = as_format(lx_batch_builder_add_market(b, market, base, quote, lot));
    }
    return err;
}

lx_err lx_batch_builder_decode(lx_batch_builder **b, const uint8_t *buf, size_t len,
                               uint32_t threads)
{
    if (!b)
        return LX_EINVAL;
    *b = NULL;
    if (!buf && len)
        return LX_EINVAL;
    lx__rd r = {buf, buf + len, 0};
    const uint8_t *v = lx__rd_take(&r, 1);
    if (!v || v[0] != LX_BATCH_BUILDER_STATE_VERSION)
        return LX_EFORMAT;
    lx_batch_config cfg;
    memset(&cfg, 0, sizeof cfg);
    lx__rd_bytes(&r, cfg.channel_id, 32);
    cfg.fee_account = lx__rd_u64(&r);
    lx__rd_bytes(&r, cfg.fee_asset, 32);
    cfg.tx_fee = lx__rd_u64(&r);
    cfg.next_number = lx__rd_u64(&r);
    lx__rd_bytes(&r, cfg.prev_hash, 32);
    cfg.next_seq = lx__rd_u64(&r);
    cfg.next_fill = lx__rd_u64(&r);
    uint64_t last_seq = lx__rd_u64(&r);
    cfg.threads = threads;
    if (r.bad)
        return LX_EFORMAT;
    lx_batch_builder *bb = NULL;
    lx_err err = as_format(lx_batch_builder_new(&bb, &cfg));
    if (err == LX_OK)
        err = add_tables(bb, &r);
    lists l;
    memset(&l, 0, sizeof l);
    if (err == LX_OK)
        err = list_count(&r, &l.nfills, lx__rd_u64(&r), LX_FILL_LEAF_LEN, UINT64_MAX);
    if (err == LX_OK) {
        l.fills = lx__rd_take(&r, l.nfills * LX_FILL_LEAF_LEN);
        err = list_count(&r, &l.ndeposits, lx__rd_u32(&r), LX__DEPOSIT_ENC_LEN,
                         LX_BATCH_DEPOSITS_MAX);
    }
    if (err == LX_OK) {
        l.deposits = lx__rd_take(&r, l.ndeposits * LX__DEPOSIT_ENC_LEN);
        err = list_count(&r, &l.nwithdrawals, lx__rd_u32(&r), LX__WITHDRAWAL_ENC_LEN,
                         LX_BATCH_WITHDRAWALS_MAX);
    }
    if (err == LX_OK) {
        l.withdrawals = lx__rd_take(&r, l.nwithdrawals * LX__WITHDRAWAL_ENC_LEN);
        if (r.bad || r.p != r.end)
            err = LX_EFORMAT; /* trailing bytes */
    }
    if (err == LX_OK && l.nfills > UINT64_MAX - cfg.next_fill)
        err = LX_EFORMAT;
    if (err == LX_OK)
        err = add_lists(bb, &l);
    /* The last block added, which may have made nothing the batch holds. */
    if (err == LX_OK)
        err = as_format(lx_batch_builder_add_events(bb, last_seq, NULL, 0, NULL, NULL));
    if (err != LX_OK) {
        lx_batch_builder_free(&bb);
        return err;
    }
    *b = bb;
    return LX_OK;
}
