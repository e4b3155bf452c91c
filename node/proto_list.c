/* The list messages of the client wire protocol: NEW_ORDER_BATCH, CANCEL_BATCH,
 * BATCH_RESULT, BOOK, BALANCES and MARKETS: their encoders, body checks and
 * entry readers. */
#include <string.h>

#include "lx/node.h"
#include "proto_int.h"

/* Body heads of the list types, and the size of one entry of each list. */
#define B_BOOK_MIN 16u
#define B_BALANCES_MIN 10u
#define B_COUNT 2u /* the u16 count that opens the two batches, BATCH_RESULT, MARKETS */
#define E_CANCEL 16u
#define E_RESULT 17u
#define E_LEVEL 20u
#define E_BALANCE 28u
#define E_MARKET 76u

/* ---- per-entry writers and checks ---- */

static int put_result(uint8_t *p, const lx_proto_batch_item *it)
{
    if (it->reason != LX_R_NONE && (!lx__proto_reject_reason_ok(it->reason) || it->seq != 0))
        return 0;
    lx__proto_put64(p, it->id);
    lx__proto_put64(p + 8, it->seq);
    p[16] = it->reason;
    return 1;
}

static int result_ok(const uint8_t *p)
{
    uint8_t r = p[16];
    return r == LX_R_NONE || (lx__proto_reject_reason_ok(r) && lx__proto_get64(p + 8) == 0);
}

static void put_level(uint8_t *p, const lx_level *l)
{
    lx__proto_put64(p, l->price);
    lx__proto_put64(p + 8, l->qty);
    lx__proto_put32(p + 16, l->orders);
}

static int put_balance(uint8_t *p, const lx_proto_balance *b)
{
    if (!lx__proto_put_str(p, b->asset, LX_SYMBOL_MAX))
        return 0;
    lx__proto_put64(p + 12, b->available);
    lx__proto_put64(p + 20, b->reserved);
    return 1;
}

static int balance_ok(const uint8_t *p)
{
    return lx__proto_str_ok(p, LX_SYMBOL_MAX);
}

static int put_market(uint8_t *p, const lx_proto_market *m)
{
    const lx_market_spec *s = &m->spec;
    if (s->maker_fee_bps > LX_FEE_BPS_MAX || s->taker_fee_bps > LX_FEE_BPS_MAX)
        return 0;
    lx__proto_put32(p, m->id);
    if (!lx__proto_put_str(p + 4, s->name, LX_NAME_MAX) ||
        !lx__proto_put_str(p + 20, s->base, LX_SYMBOL_MAX) ||
        !lx__proto_put_str(p + 32, s->quote, LX_SYMBOL_MAX))
        return 0;
    lx__proto_put64(p + 44, s->lot);
    lx__proto_put64(p + 52, s->tick);
    lx__proto_put64(p + 60, s->min_qty);
    lx__proto_put32(p + 68, s->maker_fee_bps);
    lx__proto_put32(p + 72, s->taker_fee_bps);
    return 1;
}

static int market_ok(const uint8_t *p)
{
    return lx__proto_str_ok(p + 4, LX_NAME_MAX) && lx__proto_str_ok(p + 20, LX_SYMBOL_MAX) &&
           lx__proto_str_ok(p + 32, LX_SYMBOL_MAX) && lx__proto_get32(p + 68) <= LX_FEE_BPS_MAX &&
           lx__proto_get32(p + 72) <= LX_FEE_BPS_MAX;
}

/* ---- encoding ---- */

lx_err lx_proto_encode_batch(uint8_t *buf, size_t cap, size_t *written, uint64_t req_id,
                             const lx_order_cmd *orders, size_t n)
{
    if (orders == NULL || n == 0)
        return LX_EINVAL;
    if (n > LX_PROTO_BATCH_MAX)
        return LX_ETOOBIG;
    size_t body_len = B_COUNT + n * LX__PROTO_ORDER_LEN;
    lx_err err =
        lx__proto_enc_begin(buf, cap, written, LX_PROTO_NEW_ORDER_BATCH, 0, req_id, body_len);
    if (err != LX_OK)
        return err;
    lx__proto_put_hdr(buf, LX_PROTO_NEW_ORDER_BATCH, 0, req_id, body_len);
    uint8_t *p = buf + LX_PROTO_HDR_LEN;
    lx__proto_put16(p, (uint16_t)n);
    p += B_COUNT;
    for (size_t i = 0; i < n; i++, p += LX__PROTO_ORDER_LEN)
        if (!lx__proto_put_order(p, &orders[i]))
            return LX_EINVAL;
    *written = LX_PROTO_HDR_LEN + body_len;
    return LX_OK;
}

lx_err lx_proto_encode_cancel_batch(uint8_t *buf, size_t cap, size_t *written, uint64_t req_id,
                                    const lx_cancel_cmd *cancels, size_t n)
{
    if (cancels == NULL || n == 0)
        return LX_EINVAL;
    if (n > LX_PROTO_BATCH_MAX)
        return LX_ETOOBIG;
    size_t body_len = B_COUNT + n * E_CANCEL;
    lx_err err = lx__proto_enc_begin(buf, cap, written, LX_PROTO_CANCEL_BATCH, 0, req_id, body_len);
    if (err != LX_OK)
        return err;
    lx__proto_put_hdr(buf, LX_PROTO_CANCEL_BATCH, 0, req_id, body_len);
    uint8_t *p = buf + LX_PROTO_HDR_LEN;
    lx__proto_put16(p, (uint16_t)n);
    p += B_COUNT;
    for (size_t i = 0; i < n; i++, p += E_CANCEL) {
        lx__proto_put64(p, cancels[i].id);
        lx__proto_put64(p + 8, cancels[i].account);
    }
    *written = LX_PROTO_HDR_LEN + body_len;
    return LX_OK;
}

lx_err lx_proto_encode_batch_result(uint8_t *buf, size_t cap, size_t *written, uint64_t req_id,
                                    uint16_t flags, const lx_proto_batch_item *items, size_t n)
{
    if (items == NULL || n == 0)
        return LX_EINVAL;
    if (n > LX_PROTO_BATCH_MAX)
        return LX_ETOOBIG;
    size_t body_len = B_COUNT + n * E_RESULT;
    lx_err err =
        lx__proto_enc_begin(buf, cap, written, LX_PROTO_BATCH_RESULT, flags, req_id, body_len);
    if (err != LX_OK)
        return err;
    lx__proto_put_hdr(buf, LX_PROTO_BATCH_RESULT, flags, req_id, body_len);
    uint8_t *p = buf + LX_PROTO_HDR_LEN;
    lx__proto_put16(p, (uint16_t)n);
    p += B_COUNT;
    for (size_t i = 0; i < n; i++, p += E_RESULT)
        if (!put_result(p, &items[i]))
            return LX_EINVAL;
    *written = LX_PROTO_HDR_LEN + body_len;
    return LX_OK;
}

lx_err lx_proto_encode_book(uint8_t *buf, size_t cap, size_t *written, uint64_t req_id,
                            uint16_t flags, uint32_t market, uint64_t seq, const lx_level *bids,
                            size_t nbids, const lx_level *asks, size_t nasks)
{
    if ((bids == NULL && nbids > 0) || (asks == NULL && nasks > 0))
        return LX_EINVAL;
    if (nbids > LX_PROTO_DEPTH_MAX || nasks > LX_PROTO_DEPTH_MAX)
        return LX_ETOOBIG;
    size_t body_len = B_BOOK_MIN + (nbids + nasks) * E_LEVEL;
    lx_err err = lx__proto_enc_begin(buf, cap, written, LX_PROTO_BOOK, flags, req_id, body_len);
    if (err != LX_OK)
        return err;
    lx__proto_put_hdr(buf, LX_PROTO_BOOK, flags, req_id, body_len);
    uint8_t *p = buf + LX_PROTO_HDR_LEN;
    lx__proto_put32(p, market);
    lx__proto_put64(p + 4, seq);
    lx__proto_put16(p + 12, (uint16_t)nbids);
    lx__proto_put16(p + 14, (uint16_t)nasks);
    p += B_BOOK_MIN;
    for (size_t i = 0; i < nbids; i++, p += E_LEVEL)
        put_level(p, &bids[i]);
    for (size_t i = 0; i < nasks; i++, p += E_LEVEL)
        put_level(p, &asks[i]);
    *written = LX_PROTO_HDR_LEN + body_len;
    return LX_OK;
}

lx_err lx_proto_encode_balances(uint8_t *buf, size_t cap, size_t *written, uint64_t req_id,
                                uint16_t flags, uint64_t account, const lx_proto_balance *bals,
                                size_t n)
{
    if (bals == NULL && n > 0)
        return LX_EINVAL;
    if (n > LX_PROTO_LIST_MAX)
        return LX_ETOOBIG;
    size_t body_len = B_BALANCES_MIN + n * E_BALANCE;
    lx_err err = lx__proto_enc_begin(buf, cap, written, LX_PROTO_BALANCES, flags, req_id, body_len);
    if (err != LX_OK)
        return err;
    lx__proto_put_hdr(buf, LX_PROTO_BALANCES, flags, req_id, body_len);
    uint8_t *p = buf + LX_PROTO_HDR_LEN;
    lx__proto_put64(p, account);
    lx__proto_put16(p + 8, (uint16_t)n);
    p += B_BALANCES_MIN;
    for (size_t i = 0; i < n; i++, p += E_BALANCE)
        if (!put_balance(p, &bals[i]))
            return LX_EINVAL;
    *written = LX_PROTO_HDR_LEN + body_len;
    return LX_OK;
}

lx_err lx_proto_encode_markets(uint8_t *buf, size_t cap, size_t *written, uint64_t req_id,
                               uint16_t flags, const lx_proto_market *mkts, size_t n)
{
    if (mkts == NULL && n > 0)
        return LX_EINVAL;
    if (n > LX_PROTO_LIST_MAX)
        return LX_ETOOBIG;
    size_t body_len = B_COUNT + n * E_MARKET;
    lx_err err = lx__proto_enc_begin(buf, cap, written, LX_PROTO_MARKETS, flags, req_id, body_len);
    if (err != LX_OK)
        return err;
    lx__proto_put_hdr(buf, LX_PROTO_MARKETS, flags, req_id, body_len);
    uint8_t *p = buf + LX_PROTO_HDR_LEN;
    lx__proto_put16(p, (uint16_t)n);
    p += B_COUNT;
    for (size_t i = 0; i < n; i++, p += E_MARKET)
        if (!put_market(p, &mkts[i]))
            return LX_EINVAL;
    *written = LX_PROTO_HDR_LEN + body_len;
    return LX_OK;
}

/* ---- decoding ---- */

/* Checks a list body: count entries of esize bytes after a head of hsize
 * bytes, every entry passing ok (NULL: no per-entry rule). */
static lx_proto_error check_list(const uint8_t *b, size_t blen, size_t hsize, size_t count,
                                 size_t min, size_t max, size_t esize, int (*ok)(const uint8_t *))
{
    if (count < min)
        return LX_PROTO_E_MALFORMED;
    if (count > max)
        return LX_PROTO_E_TOO_BIG;
    if (blen != hsize + count * esize)
        return LX_PROTO_E_MALFORMED;
    if (ok != NULL)
        for (size_t i = 0; i < count; i++)
            if (!ok(b + hsize + i * esize))
                return LX_PROTO_E_MALFORMED;
    return LX_PROTO_E_NONE;
}

lx_proto_error lx__proto_dec_list(lx_proto_msg *out, uint8_t t, const uint8_t *b, size_t blen)
{
    switch (t) {
    case LX_PROTO_NEW_ORDER_BATCH:
        if (blen < B_COUNT)
            return LX_PROTO_E_MALFORMED;
        out->u.batch.count = lx__proto_get16(b);
        out->u.batch.p = b + B_COUNT;
        return check_list(b, blen, B_COUNT, out->u.batch.count, 1, LX_PROTO_BATCH_MAX,
                          LX__PROTO_ORDER_LEN, lx__proto_order_ok);
    case LX_PROTO_CANCEL_BATCH:
        if (blen < B_COUNT)
            return LX_PROTO_E_MALFORMED;
        out->u.batch.count = lx__proto_get16(b);
        out->u.batch.p = b + B_COUNT;
        return check_list(b, blen, B_COUNT, out->u.batch.count, 1, LX_PROTO_BATCH_MAX, E_CANCEL,
                          NULL);
    case LX_PROTO_BATCH_RESULT:
        if (blen < B_COUNT)
            return LX_PROTO_E_MALFORMED;
        out->u.batch.count = lx__proto_get16(b);
        out->u.batch.p = b + B_COUNT;
        return check_list(b, blen, B_COUNT, out->u.batch.count, 1, LX_PROTO_BATCH_MAX, E_RESULT,
                          result_ok);
    case LX_PROTO_BOOK: {
        if (blen < B_BOOK_MIN)
            return LX_PROTO_E_MALFORMED;
        out->u.book.market = lx__proto_get32(b);
        out->u.book.seq = lx__proto_get64(b + 4);
        out->u.book.nbids = lx__proto_get16(b + 12);
        out->u.book.nasks = lx__proto_get16(b + 14);
        out->u.book.p = b + B_BOOK_MIN;
        if (out->u.book.nbids > LX_PROTO_DEPTH_MAX || out->u.book.nasks > LX_PROTO_DEPTH_MAX)
            return LX_PROTO_E_TOO_BIG;
        size_t n = (size_t)out->u.book.nbids + out->u.book.nasks;
        return check_list(b, blen, B_BOOK_MIN, n, 0, 2 * LX_PROTO_DEPTH_MAX, E_LEVEL, NULL);
    }
    case LX_PROTO_BALANCES:
        if (blen < B_BALANCES_MIN)
            return LX_PROTO_E_MALFORMED;
        out->u.balances.account = lx__proto_get64(b);
        out->u.balances.count = lx__proto_get16(b + 8);
        out->u.balances.p = b + B_BALANCES_MIN;
        return check_list(b, blen, B_BALANCES_MIN, out->u.balances.count, 0, LX_PROTO_LIST_MAX,
                          E_BALANCE, balance_ok);
    case LX_PROTO_MARKETS:
        if (blen < B_COUNT)
            return LX_PROTO_E_MALFORMED;
        out->u.markets.count = lx__proto_get16(b);
        out->u.markets.p = b + B_COUNT;
        return check_list(b, blen, B_COUNT, out->u.markets.count, 0, LX_PROTO_LIST_MAX, E_MARKET,
                          market_ok);
    default:
        break;
    }
    return LX_PROTO_E_UNKNOWN_TYPE;
}

/* ---- list access ---- */

lx_err lx_proto_batch_get(const lx_proto_msg *m, lx_order_cmd *out, size_t i)
{
    if (m == NULL || out == NULL || m->hdr.type != LX_PROTO_NEW_ORDER_BATCH ||
        i >= m->u.batch.count)
        return LX_EINVAL;
    lx__proto_get_order(out, m->u.batch.p + i * LX__PROTO_ORDER_LEN);
    return LX_OK;
}

lx_err lx_proto_cancel_batch_get(const lx_proto_msg *m, lx_cancel_cmd *out, size_t i)
{
    if (m == NULL || out == NULL || m->hdr.type != LX_PROTO_CANCEL_BATCH || i >= m->u.batch.count)
        return LX_EINVAL;
    const uint8_t *p = m->u.batch.p + i * E_CANCEL;
    out->id = lx__proto_get64(p);
    out->account = lx__proto_get64(p + 8);
    return LX_OK;
}

lx_err lx_proto_batch_result_get(const lx_proto_msg *m, lx_proto_batch_item *out, size_t i)
{
    if (m == NULL || out == NULL || m->hdr.type != LX_PROTO_BATCH_RESULT || i >= m->u.batch.count)
        return LX_EINVAL;
    const uint8_t *p = m->u.batch.p + i * E_RESULT;
    out->id = lx__proto_get64(p);
    out->seq = lx__proto_get64(p + 8);
    out->reason = p[16];
    return LX_OK;
}

lx_err lx_proto_book_get(const lx_proto_msg *m, lx_level *out, uint8_t side, size_t i)
{
    if (m == NULL || out == NULL || m->hdr.type != LX_PROTO_BOOK || side > LX_SELL)
        return LX_EINVAL;
    size_t n = side == LX_BUY ? m->u.book.nbids : m->u.book.nasks;
    if (i >= n)
        return LX_EINVAL;
    size_t k = side == LX_BUY ? i : m->u.book.nbids + i;
    const uint8_t *p = m->u.book.p + k * E_LEVEL;
    out->price = lx__proto_get64(p);
    out->qty = lx__proto_get64(p + 8);
    out->orders = lx__proto_get32(p + 16);
    return LX_OK;
}

lx_err lx_proto_balances_get(const lx_proto_msg *m, lx_proto_balance *out, size_t i)
{
    if (m == NULL || out == NULL || m->hdr.type != LX_PROTO_BALANCES || i >= m->u.balances.count)
        return LX_EINVAL;
    const uint8_t *p = m->u.balances.p + i * E_BALANCE;
    memcpy(out->asset, p, LX_SYMBOL_MAX);
    out->available = lx__proto_get64(p + 12);
    out->reserved = lx__proto_get64(p + 20);
    return LX_OK;
}

lx_err lx_proto_markets_get(const lx_proto_msg *m, lx_proto_market *out, size_t i)
{
    if (m == NULL || out == NULL || m->hdr.type != LX_PROTO_MARKETS || i >= m->u.markets.count)
        return LX_EINVAL;
    const uint8_t *p = m->u.markets.p + i * E_MARKET;
    out->id = lx__proto_get32(p);
    memcpy(out->spec.name, p + 4, LX_NAME_MAX);
    memcpy(out->spec.base, p + 20, LX_SYMBOL_MAX);
    memcpy(out->spec.quote, p + 32, LX_SYMBOL_MAX);
    out->spec.lot = lx__proto_get64(p + 44);
    out->spec.tick = lx__proto_get64(p + 52);
    out->spec.min_qty = lx__proto_get64(p + 60);
    out->spec.maker_fee_bps = lx__proto_get32(p + 68);
    out->spec.taker_fee_bps = lx__proto_get32(p + 72);
    return LX_OK;
}
