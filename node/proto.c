/* The client wire protocol: encodes and decodes the binary frames that clients,
 * nodes and market-data subscribers exchange over ZeroMQ (docs/protocol.md). */
#include <string.h>

#include "lx/node.h"

/* Header offsets. */
#define H_MAGIC 0
#define H_VERSION 2
#define H_TYPE 3
#define H_FLAGS 4
#define H_REQ 6
#define H_LEN 14

/* Body sizes of the fixed-layout types, and entry sizes of the lists. */
#define B_ORDER 41u
#define B_CANCEL 16u
#define B_REPLACE 32u
#define B_DEPOSIT 28u
#define B_WITHDRAW_MIN 29u
#define B_QUERY_BOOK 6u
#define B_U64 8u
#define B_ACK 16u
#define B_REJECT 9u
#define B_FILL 62u
#define B_CANCELLED 25u
#define B_REPLACED 32u
#define B_ORDER_STATUS 48u
#define B_PONG 9u
#define B_ERROR_MIN 3u
#define B_MD 29u
#define B_BOOK_MIN 16u
#define B_BALANCES_MIN 10u
#define B_COUNT 2u /* the u16 count that opens BATCH, BATCH_RESULT, MARKETS */
#define E_RESULT 17u
#define E_LEVEL 20u
#define E_BALANCE 28u
#define E_MARKET 76u

#define F_REPLY_MASK (LX_PROTO_F_MORE | LX_PROTO_F_UNSOLICITED)

/* ---- big-endian access ----
 * With GCC or Clang on a little-endian host, each field is one unaligned load
 * or store plus a byte swap; elsewhere, portable shifts. */

#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
static inline void put16(uint8_t *p, uint16_t v)
{
    v = __builtin_bswap16(v);
    memcpy(p, &v, sizeof v);
}

static inline void put32(uint8_t *p, uint32_t v)
{
    v = __builtin_bswap32(v);
    memcpy(p, &v, sizeof v);
}

static inline void put64(uint8_t *p, uint64_t v)
{
    v = __builtin_bswap64(v);
    memcpy(p, &v, sizeof v);
}

static inline uint16_t get16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, sizeof v);
    return __builtin_bswap16(v);
}

static inline uint32_t get32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return __builtin_bswap32(v);
}

static inline uint64_t get64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return __builtin_bswap64(v);
}
#else
static inline void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)(v >> 32));
    put32(p + 4, (uint32_t)v);
}

static inline uint16_t get16(const uint8_t *p)
{
    return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static inline uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) << 32 | get32(p + 4);
}
#endif

/* ---- names and classes ---- */

static const char *const error_names[LX_PROTO_E_COUNT] = {
    "none",       "malformed",   "truncated",  "too_big",         "bad_version",  "unknown_type",
    "not_leader", "unavailable", "overloaded", "faucet_disabled", "unauthorized", "internal",
};

const char *lx_proto_error_str(lx_proto_error code)
{
    if ((unsigned)code >= LX_PROTO_E_COUNT)
        return "unknown";
    return error_names[code];
}

const char *lx_proto_type_str(uint8_t type)
{
    switch (type) {
    case LX_PROTO_NEW_ORDER:
        return "new_order";
    case LX_PROTO_NEW_ORDER_BATCH:
        return "new_order_batch";
    case LX_PROTO_CANCEL:
        return "cancel";
    case LX_PROTO_REPLACE:
        return "replace";
    case LX_PROTO_DEPOSIT:
        return "deposit";
    case LX_PROTO_WITHDRAW:
        return "withdraw";
    case LX_PROTO_QUERY_BOOK:
        return "query_book";
    case LX_PROTO_QUERY_ORDER:
        return "query_order";
    case LX_PROTO_QUERY_BALANCES:
        return "query_balances";
    case LX_PROTO_QUERY_MARKETS:
        return "query_markets";
    case LX_PROTO_PING:
        return "ping";
    case LX_PROTO_ACK:
        return "ack";
    case LX_PROTO_REJECT:
        return "reject";
    case LX_PROTO_FILL:
        return "fill";
    case LX_PROTO_CANCELLED:
        return "cancelled";
    case LX_PROTO_REPLACED:
        return "replaced";
    case LX_PROTO_BATCH_RESULT:
        return "batch_result";
    case LX_PROTO_BOOK:
        return "book";
    case LX_PROTO_ORDER_STATUS:
        return "order_status";
    case LX_PROTO_BALANCES:
        return "balances";
    case LX_PROTO_MARKETS:
        return "markets";
    case LX_PROTO_PONG:
        return "pong";
    case LX_PROTO_ERROR:
        return "error";
    case LX_PROTO_TRADE:
        return "trade";
    case LX_PROTO_L2_DELTA:
        return "l2_delta";
    default:
        return "unknown";
    }
}

int lx_proto_is_request(uint8_t type)
{
    return type >= LX_PROTO_NEW_ORDER && type <= LX_PROTO_PING;
}

static int is_reply(uint8_t type)
{
    return type >= LX_PROTO_ACK && type <= LX_PROTO_ERROR;
}

static int is_md(uint8_t type)
{
    return type == LX_PROTO_TRADE || type == LX_PROTO_L2_DELTA;
}

static uint16_t allowed_flags(uint8_t type)
{
    return is_reply(type) ? (uint16_t)F_REPLY_MASK : 0;
}

/* ---- field rules shared by the encoder and the decoder ---- */

static int reject_reason_ok(uint8_t r)
{
    return r >= LX_R_INSUFFICIENT_BALANCE && r <= LX_R_BAD_MARKET;
}

static int cancel_reason_ok(uint8_t r)
{
    return r >= LX_R_USER && r <= LX_R_REPLACE;
}

static int order_enums_ok(uint8_t side, uint8_t type, uint8_t tif, uint8_t stp, uint8_t post)
{
    return side <= LX_SELL && type <= LX_MARKET && tif <= LX_FOK && stp <= LX_STP_EXPIRE_BOTH &&
           post <= 1;
}

static int graphic(uint8_t c)
{
    return c >= 0x21 && c <= 0x7e;
}

/* A fixed-width string field on the wire: 1 .. width-1 graphic ASCII bytes,
 * then NUL padding to width. Only this form decodes, so equal strings always
 * have equal bytes. */
static int wire_str_ok(const uint8_t *p, size_t width)
{
    size_t i = 0;
    while (i < width && p[i] != 0) {
        if (!graphic(p[i]))
            return 0;
        i++;
    }
    if (i == 0 || i == width)
        return 0;
    for (; i < width; i++)
        if (p[i] != 0)
            return 0;
    return 1;
}

/* Writes C string s (of an array of width bytes) as a fixed-width field. */
static int put_str(uint8_t *p, const char *s, size_t width)
{
    size_t n = 0;
    while (n < width && s[n] != '\0') {
        if (!graphic((uint8_t)s[n]))
            return 0;
        n++;
    }
    if (n == 0 || n == width)
        return 0;
    memcpy(p, s, n);
    memset(p + n, 0, width - n);
    return 1;
}

static int bytes_ok(const uint8_t *p, size_t n, uint8_t lo)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] < lo || p[i] > 0x7e)
            return 0;
    return 1;
}

static void put_hdr(uint8_t *p, uint8_t type, uint16_t flags, uint64_t req_id, size_t body_len)
{
    put16(p + H_MAGIC, (uint16_t)LX_PROTO_MAGIC);
    p[H_VERSION] = (uint8_t)LX_PROTO_VERSION;
    p[H_TYPE] = type;
    put16(p + H_FLAGS, flags);
    put64(p + H_REQ, req_id);
    put32(p + H_LEN, (uint32_t)body_len);
}

/* ---- per-type bodies: one writer and one reader each ---- */

static int put_order(uint8_t *p, const lx_order_cmd *src)
{
    /* A local copy: stores through p (a byte pointer) could alias *src and
     * would force every field to be reloaded after each store. */
    const lx_order_cmd copy = *src, *o = &copy;
    uint8_t post = o->post_only ? 1 : 0;
    if (!order_enums_ok(o->side, o->type, o->tif, o->stp, post))
        return 0;
    put64(p, o->id);
    put64(p + 8, o->account);
    put32(p + 16, o->market);
    p[20] = o->side;
    p[21] = o->type;
    p[22] = o->tif;
    p[23] = o->stp;
    p[24] = post;
    put64(p + 25, o->price);
    put64(p + 33, o->qty);
    return 1;
}

static int order_ok(const uint8_t *p)
{
    return order_enums_ok(p[20], p[21], p[22], p[23], p[24]);
}

static void get_order(lx_order_cmd *o, const uint8_t *p)
{
    o->id = get64(p);
    o->account = get64(p + 8);
    o->market = get32(p + 16);
    o->side = p[20];
    o->type = p[21];
    o->tif = p[22];
    o->stp = p[23];
    o->post_only = p[24] != 0;
    o->price = get64(p + 25);
    o->qty = get64(p + 33);
}

static int put_result(uint8_t *p, const lx_proto_batch_item *it)
{
    if (it->reason != LX_R_NONE && (!reject_reason_ok(it->reason) || it->seq != 0))
        return 0;
    put64(p, it->id);
    put64(p + 8, it->seq);
    p[16] = it->reason;
    return 1;
}

static int result_ok(const uint8_t *p)
{
    uint8_t r = p[16];
    return r == LX_R_NONE || (reject_reason_ok(r) && get64(p + 8) == 0);
}

static void put_level(uint8_t *p, const lx_level *l)
{
    put64(p, l->price);
    put64(p + 8, l->qty);
    put32(p + 16, l->orders);
}

static int put_balance(uint8_t *p, const lx_proto_balance *b)
{
    if (!put_str(p, b->asset, LX_SYMBOL_MAX))
        return 0;
    put64(p + 12, b->available);
    put64(p + 20, b->reserved);
    return 1;
}

static int balance_ok(const uint8_t *p)
{
    return wire_str_ok(p, LX_SYMBOL_MAX);
}

static int put_market(uint8_t *p, const lx_proto_market *m)
{
    const lx_market_spec *s = &m->spec;
    if (s->maker_fee_bps > LX_FEE_BPS_MAX || s->taker_fee_bps > LX_FEE_BPS_MAX)
        return 0;
    put32(p, m->id);
    if (!put_str(p + 4, s->name, LX_NAME_MAX) || !put_str(p + 20, s->base, LX_SYMBOL_MAX) ||
        !put_str(p + 32, s->quote, LX_SYMBOL_MAX))
        return 0;
    put64(p + 44, s->lot);
    put64(p + 52, s->tick);
    put64(p + 60, s->min_qty);
    put32(p + 68, s->maker_fee_bps);
    put32(p + 72, s->taker_fee_bps);
    return 1;
}

static int market_ok(const uint8_t *p)
{
    return wire_str_ok(p + 4, LX_NAME_MAX) && wire_str_ok(p + 20, LX_SYMBOL_MAX) &&
           wire_str_ok(p + 32, LX_SYMBOL_MAX) && get32(p + 68) <= LX_FEE_BPS_MAX &&
           get32(p + 72) <= LX_FEE_BPS_MAX;
}

/* ---- encoding ---- */

/* Checks the common header arguments and room for a frame of body_len bytes
 * (plus a topic when md). */
static lx_err enc_begin(uint8_t *buf, size_t cap, size_t *written, uint8_t type, uint16_t flags,
                        uint64_t req_id, size_t body_len)
{
    if (buf == NULL || written == NULL)
        return LX_EINVAL;
    if ((flags & ~allowed_flags(type)) != 0 || (is_md(type) && req_id != 0))
        return LX_EINVAL;
    size_t total = (is_md(type) ? LX_PROTO_TOPIC_LEN : 0) + LX_PROTO_HDR_LEN + body_len;
    if (total > cap || total > LX_PROTO_FRAME_MAX)
        return LX_ETOOBIG;
    return LX_OK;
}

void lx_proto_topic(uint8_t topic[LX_PROTO_TOPIC_LEN], uint8_t channel, uint32_t market)
{
    topic[0] = channel;
    put32(topic + 1, market);
}

/* Body length of a fixed-layout (non-list) type; var_len is WITHDRAW's
 * dest_len or ERROR's text_len. *ok is 0 for a list or unknown type, or a
 * var_len over its cap. */
static size_t fixed_body_len(uint8_t type, size_t var_len, int *ok)
{
    *ok = 1;
    switch (type) {
    case LX_PROTO_NEW_ORDER:
        return B_ORDER;
    case LX_PROTO_CANCEL:
        return B_CANCEL;
    case LX_PROTO_REPLACE:
        return B_REPLACE;
    case LX_PROTO_DEPOSIT:
        return B_DEPOSIT;
    case LX_PROTO_WITHDRAW:
        if (var_len > LX_PROTO_ADDR_MAX) {
            *ok = 0;
            return 0;
        }
        return B_WITHDRAW_MIN + var_len;
    case LX_PROTO_QUERY_BOOK:
        return B_QUERY_BOOK;
    case LX_PROTO_QUERY_ORDER:
    case LX_PROTO_QUERY_BALANCES:
        return B_U64;
    case LX_PROTO_QUERY_MARKETS:
    case LX_PROTO_PING:
        return 0;
    case LX_PROTO_ACK:
        return B_ACK;
    case LX_PROTO_REJECT:
        return B_REJECT;
    case LX_PROTO_FILL:
        return B_FILL;
    case LX_PROTO_CANCELLED:
        return B_CANCELLED;
    case LX_PROTO_REPLACED:
        return B_REPLACED;
    case LX_PROTO_ORDER_STATUS:
        return B_ORDER_STATUS;
    case LX_PROTO_PONG:
        return B_PONG;
    case LX_PROTO_ERROR:
        if (var_len > LX_PROTO_TEXT_MAX) {
            *ok = 0;
            return 0;
        }
        return B_ERROR_MIN + var_len;
    case LX_PROTO_TRADE:
    case LX_PROTO_L2_DELTA:
        return B_MD;
    default:
        *ok = 0;
        return 0;
    }
}

static int enc_body(uint8_t *b, const lx_proto_msg *m)
{
    switch (m->hdr.type) {
    case LX_PROTO_NEW_ORDER:
        return put_order(b, &m->u.order);
    case LX_PROTO_CANCEL:
        put64(b, m->u.cancel.id);
        put64(b + 8, m->u.cancel.account);
        return 1;
    case LX_PROTO_REPLACE:
        put64(b, m->u.replace.id);
        put64(b + 8, m->u.replace.account);
        put64(b + 16, m->u.replace.price);
        put64(b + 24, m->u.replace.qty);
        return 1;
    case LX_PROTO_DEPOSIT:
    case LX_PROTO_WITHDRAW: {
        const lx_proto_transfer *t = &m->u.transfer;
        put64(b, t->account);
        if (!put_str(b + 8, t->asset, LX_SYMBOL_MAX))
            return 0;
        put64(b + 20, t->amount);
        if (m->hdr.type == LX_PROTO_WITHDRAW) {
            if (!bytes_ok((const uint8_t *)t->dest, t->dest_len, 0x21))
                return 0;
            b[28] = t->dest_len;
            memcpy(b + 29, t->dest, t->dest_len);
        }
        return 1;
    }
    case LX_PROTO_QUERY_BOOK:
        if (m->u.query_book.depth == 0 || m->u.query_book.depth > LX_PROTO_DEPTH_MAX)
            return 0;
        put32(b, m->u.query_book.market);
        put16(b + 4, m->u.query_book.depth);
        return 1;
    case LX_PROTO_QUERY_ORDER:
        put64(b, m->u.query_order);
        return 1;
    case LX_PROTO_QUERY_BALANCES:
        put64(b, m->u.query_balances);
        return 1;
    case LX_PROTO_QUERY_MARKETS:
    case LX_PROTO_PING:
        return 1;
    case LX_PROTO_ACK:
        put64(b, m->u.ack.seq);
        put64(b + 8, m->u.ack.id);
        return 1;
    case LX_PROTO_REJECT:
        if (!reject_reason_ok(m->u.reject.reason))
            return 0;
        put64(b, m->u.reject.id);
        b[8] = m->u.reject.reason;
        return 1;
    case LX_PROTO_FILL: {
        const lx_proto_fill *f = &m->u.fill;
        if (f->taker_side > LX_SELL || f->role > 1)
            return 0;
        put64(b, f->seq);
        put32(b + 8, f->market);
        put64(b + 12, f->maker);
        put64(b + 20, f->taker);
        put64(b + 28, f->price);
        put64(b + 36, f->qty);
        put64(b + 44, f->maker_fee);
        put64(b + 52, f->taker_fee);
        b[60] = f->taker_side;
        b[61] = f->role;
        return 1;
    }
    case LX_PROTO_CANCELLED:
        if (!cancel_reason_ok(m->u.cancelled.reason))
            return 0;
        put64(b, m->u.cancelled.seq);
        put64(b + 8, m->u.cancelled.id);
        put64(b + 16, m->u.cancelled.remaining);
        b[24] = m->u.cancelled.reason;
        return 1;
    case LX_PROTO_REPLACED:
        put64(b, m->u.replaced.seq);
        put64(b + 8, m->u.replaced.id);
        put64(b + 16, m->u.replaced.price);
        put64(b + 24, m->u.replaced.qty);
        return 1;
    case LX_PROTO_ORDER_STATUS: {
        const lx_order_info *o = &m->u.order_status;
        uint8_t post = o->post_only ? 1 : 0;
        if (!order_enums_ok(o->side, 0, o->tif, o->stp, post))
            return 0;
        put64(b, o->id);
        put64(b + 8, o->account);
        put32(b + 16, o->market);
        b[20] = o->side;
        b[21] = o->tif;
        b[22] = o->stp;
        b[23] = post;
        put64(b + 24, o->price);
        put64(b + 32, o->qty);
        put64(b + 40, o->filled);
        return 1;
    }
    case LX_PROTO_PONG:
        if (m->u.pong.leader > 1)
            return 0;
        put64(b, m->u.pong.seq);
        b[8] = m->u.pong.leader;
        return 1;
    case LX_PROTO_ERROR: {
        const lx_proto_errmsg *e = &m->u.error;
        if (e->code == LX_PROTO_E_NONE || e->code >= LX_PROTO_E_COUNT ||
            !bytes_ok((const uint8_t *)e->text, e->text_len, 0x20))
            return 0;
        put16(b, e->code);
        b[2] = e->text_len;
        memcpy(b + 3, e->text, e->text_len);
        return 1;
    }
    case LX_PROTO_TRADE: {
        const lx_proto_trade *t = &m->u.trade;
        if (t->taker_side > LX_SELL)
            return 0;
        put32(b, t->market);
        put64(b + 4, t->seq);
        put64(b + 12, t->price);
        put64(b + 20, t->qty);
        b[28] = t->taker_side;
        return 1;
    }
    case LX_PROTO_L2_DELTA: {
        const lx_proto_l2 *d = &m->u.l2;
        if (d->side > LX_SELL)
            return 0;
        put32(b, d->market);
        put64(b + 4, d->seq);
        b[12] = d->side;
        put64(b + 13, d->price);
        put64(b + 21, d->qty);
        return 1;
    }
    default:
        return 0;
    }
}

lx_err lx_proto_encode(uint8_t *buf, size_t cap, size_t *written, const lx_proto_msg *m)
{
    if (m == NULL)
        return LX_EINVAL;
    int ok;
    uint8_t type = m->hdr.type;
    size_t var_len = type == LX_PROTO_WITHDRAW ? m->u.transfer.dest_len
                     : type == LX_PROTO_ERROR  ? m->u.error.text_len
                                               : 0;
    size_t body_len = fixed_body_len(type, var_len, &ok);
    if (!ok)
        return LX_EINVAL;
    lx_err err = enc_begin(buf, cap, written, type, m->hdr.flags, m->hdr.req_id, body_len);
    if (err != LX_OK)
        return err;
    uint8_t *p = buf;
    if (type == LX_PROTO_TRADE) {
        lx_proto_topic(p, LX_PROTO_CH_TRADE, m->u.trade.market);
        p += LX_PROTO_TOPIC_LEN;
    } else if (type == LX_PROTO_L2_DELTA) {
        lx_proto_topic(p, LX_PROTO_CH_L2, m->u.l2.market);
        p += LX_PROTO_TOPIC_LEN;
    }
    put_hdr(p, type, m->hdr.flags, m->hdr.req_id, body_len);
    if (!enc_body(p + LX_PROTO_HDR_LEN, m))
        return LX_EINVAL;
    *written = (size_t)(p - buf) + LX_PROTO_HDR_LEN + body_len;
    return LX_OK;
}

lx_err lx_proto_encode_batch(uint8_t *buf, size_t cap, size_t *written, uint64_t req_id,
                             const lx_order_cmd *orders, size_t n)
{
    if (orders == NULL || n == 0)
        return LX_EINVAL;
    if (n > LX_PROTO_BATCH_MAX)
        return LX_ETOOBIG;
    size_t body_len = B_COUNT + n * B_ORDER;
    lx_err err = enc_begin(buf, cap, written, LX_PROTO_NEW_ORDER_BATCH, 0, req_id, body_len);
    if (err != LX_OK)
        return err;
    put_hdr(buf, LX_PROTO_NEW_ORDER_BATCH, 0, req_id, body_len);
    uint8_t *p = buf + LX_PROTO_HDR_LEN;
    put16(p, (uint16_t)n);
    p += B_COUNT;
    for (size_t i = 0; i < n; i++, p += B_ORDER)
        if (!put_order(p, &orders[i]))
            return LX_EINVAL;
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
    lx_err err = enc_begin(buf, cap, written, LX_PROTO_BATCH_RESULT, flags, req_id, body_len);
    if (err != LX_OK)
        return err;
    put_hdr(buf, LX_PROTO_BATCH_RESULT, flags, req_id, body_len);
    uint8_t *p = buf + LX_PROTO_HDR_LEN;
    put16(p, (uint16_t)n);
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
    lx_err err = enc_begin(buf, cap, written, LX_PROTO_BOOK, flags, req_id, body_len);
    if (err != LX_OK)
        return err;
    put_hdr(buf, LX_PROTO_BOOK, flags, req_id, body_len);
    uint8_t *p = buf + LX_PROTO_HDR_LEN;
    put32(p, market);
    put64(p + 4, seq);
    put16(p + 12, (uint16_t)nbids);
    put16(p + 14, (uint16_t)nasks);
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
    lx_err err = enc_begin(buf, cap, written, LX_PROTO_BALANCES, flags, req_id, body_len);
    if (err != LX_OK)
        return err;
    put_hdr(buf, LX_PROTO_BALANCES, flags, req_id, body_len);
    uint8_t *p = buf + LX_PROTO_HDR_LEN;
    put64(p, account);
    put16(p + 8, (uint16_t)n);
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
    lx_err err = enc_begin(buf, cap, written, LX_PROTO_MARKETS, flags, req_id, body_len);
    if (err != LX_OK)
        return err;
    put_hdr(buf, LX_PROTO_MARKETS, flags, req_id, body_len);
    uint8_t *p = buf + LX_PROTO_HDR_LEN;
    put16(p, (uint16_t)n);
    p += B_COUNT;
    for (size_t i = 0; i < n; i++, p += E_MARKET)
        if (!put_market(p, &mkts[i]))
            return LX_EINVAL;
    *written = LX_PROTO_HDR_LEN + body_len;
    return LX_OK;
}

/* ---- decoding ---- */

static lx_err fail(lx_proto_error *code, lx_proto_error c)
{
    if (code != NULL)
        *code = c;
    switch (c) {
    case LX_PROTO_E_TOO_BIG:
        return LX_ETOOBIG;
    case LX_PROTO_E_BAD_VERSION:
        return LX_EUNSUPPORTED;
    default:
        return LX_EFORMAT;
    }
}

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

/* Decodes body b (blen bytes, already bounded) of type t into out->u. */
static lx_proto_error dec_body(lx_proto_msg *out, uint8_t t, const uint8_t *b, size_t blen)
{
    int ok;
    size_t var_len = 0;
    /* For the two variable-length bodies, read the length byte first so
     * fixed_body_len can give the exact size the frame must have. */
    if (t == LX_PROTO_WITHDRAW) {
        if (blen < B_WITHDRAW_MIN)
            return LX_PROTO_E_MALFORMED;
        var_len = b[28];
    } else if (t == LX_PROTO_ERROR) {
        if (blen < B_ERROR_MIN)
            return LX_PROTO_E_MALFORMED;
        var_len = b[2];
    }

    switch (t) {
    case LX_PROTO_NEW_ORDER_BATCH:
        if (blen < B_COUNT)
            return LX_PROTO_E_MALFORMED;
        out->u.batch.count = get16(b);
        out->u.batch.p = b + B_COUNT;
        return check_list(b, blen, B_COUNT, out->u.batch.count, 1, LX_PROTO_BATCH_MAX, B_ORDER,
                          order_ok);
    case LX_PROTO_BATCH_RESULT:
        if (blen < B_COUNT)
            return LX_PROTO_E_MALFORMED;
        out->u.batch.count = get16(b);
        out->u.batch.p = b + B_COUNT;
        return check_list(b, blen, B_COUNT, out->u.batch.count, 1, LX_PROTO_BATCH_MAX, E_RESULT,
                          result_ok);
    case LX_PROTO_BOOK: {
        if (blen < B_BOOK_MIN)
            return LX_PROTO_E_MALFORMED;
        out->u.book.market = get32(b);
        out->u.book.seq = get64(b + 4);
        out->u.book.nbids = get16(b + 12);
        out->u.book.nasks = get16(b + 14);
        out->u.book.p = b + B_BOOK_MIN;
        if (out->u.book.nbids > LX_PROTO_DEPTH_MAX || out->u.book.nasks > LX_PROTO_DEPTH_MAX)
            return LX_PROTO_E_TOO_BIG;
        size_t n = (size_t)out->u.book.nbids + out->u.book.nasks;
        return check_list(b, blen, B_BOOK_MIN, n, 0, 2 * LX_PROTO_DEPTH_MAX, E_LEVEL, NULL);
    }
    case LX_PROTO_BALANCES:
        if (blen < B_BALANCES_MIN)
            return LX_PROTO_E_MALFORMED;
        out->u.balances.account = get64(b);
        out->u.balances.count = get16(b + 8);
        out->u.balances.p = b + B_BALANCES_MIN;
        return check_list(b, blen, B_BALANCES_MIN, out->u.balances.count, 0, LX_PROTO_LIST_MAX,
                          E_BALANCE, balance_ok);
    case LX_PROTO_MARKETS:
        if (blen < B_COUNT)
            return LX_PROTO_E_MALFORMED;
        out->u.markets.count = get16(b);
        out->u.markets.p = b + B_COUNT;
        return check_list(b, blen, B_COUNT, out->u.markets.count, 0, LX_PROTO_LIST_MAX, E_MARKET,
                          market_ok);
    default:
        break;
    }

    size_t want = fixed_body_len(t, var_len, &ok);
    if (!ok) /* a dest_len or text_len over its cap */
        return LX_PROTO_E_MALFORMED;
    if (blen != want)
        return LX_PROTO_E_MALFORMED;

    switch (t) {
    case LX_PROTO_NEW_ORDER:
        if (!order_ok(b))
            return LX_PROTO_E_MALFORMED;
        get_order(&out->u.order, b);
        break;
    case LX_PROTO_CANCEL:
        out->u.cancel.id = get64(b);
        out->u.cancel.account = get64(b + 8);
        break;
    case LX_PROTO_REPLACE:
        out->u.replace.id = get64(b);
        out->u.replace.account = get64(b + 8);
        out->u.replace.price = get64(b + 16);
        out->u.replace.qty = get64(b + 24);
        break;
    case LX_PROTO_DEPOSIT:
    case LX_PROTO_WITHDRAW: {
        lx_proto_transfer *tr = &out->u.transfer;
        if (!wire_str_ok(b + 8, LX_SYMBOL_MAX))
            return LX_PROTO_E_MALFORMED;
        tr->account = get64(b);
        memcpy(tr->asset, b + 8, LX_SYMBOL_MAX);
        tr->amount = get64(b + 20);
        tr->dest_len = 0;
        if (t == LX_PROTO_WITHDRAW) {
            if (!bytes_ok(b + 29, b[28], 0x21))
                return LX_PROTO_E_MALFORMED;
            tr->dest_len = b[28];
            memcpy(tr->dest, b + 29, b[28]);
        }
        memset(tr->dest + tr->dest_len, 0, sizeof tr->dest - tr->dest_len);
        break;
    }
    case LX_PROTO_QUERY_BOOK:
        out->u.query_book.market = get32(b);
        out->u.query_book.depth = get16(b + 4);
        if (out->u.query_book.depth == 0 || out->u.query_book.depth > LX_PROTO_DEPTH_MAX)
            return LX_PROTO_E_MALFORMED;
        break;
    case LX_PROTO_QUERY_ORDER:
        out->u.query_order = get64(b);
        break;
    case LX_PROTO_QUERY_BALANCES:
        out->u.query_balances = get64(b);
        break;
    case LX_PROTO_QUERY_MARKETS:
    case LX_PROTO_PING:
        break;
    case LX_PROTO_ACK:
        out->u.ack.seq = get64(b);
        out->u.ack.id = get64(b + 8);
        break;
    case LX_PROTO_REJECT:
        if (!reject_reason_ok(b[8]))
            return LX_PROTO_E_MALFORMED;
        out->u.reject.id = get64(b);
        out->u.reject.reason = b[8];
        break;
    case LX_PROTO_FILL: {
        lx_proto_fill *f = &out->u.fill;
        if (b[60] > LX_SELL || b[61] > 1)
            return LX_PROTO_E_MALFORMED;
        f->seq = get64(b);
        f->market = get32(b + 8);
        f->maker = get64(b + 12);
        f->taker = get64(b + 20);
        f->price = get64(b + 28);
        f->qty = get64(b + 36);
        f->maker_fee = get64(b + 44);
        f->taker_fee = get64(b + 52);
        f->taker_side = b[60];
        f->role = b[61];
        break;
    }
    case LX_PROTO_CANCELLED:
        if (!cancel_reason_ok(b[24]))
            return LX_PROTO_E_MALFORMED;
        out->u.cancelled.seq = get64(b);
        out->u.cancelled.id = get64(b + 8);
        out->u.cancelled.remaining = get64(b + 16);
        out->u.cancelled.reason = b[24];
        break;
    case LX_PROTO_REPLACED:
        out->u.replaced.seq = get64(b);
        out->u.replaced.id = get64(b + 8);
        out->u.replaced.price = get64(b + 16);
        out->u.replaced.qty = get64(b + 24);
        break;
    case LX_PROTO_ORDER_STATUS: {
        lx_order_info *o = &out->u.order_status;
        if (!order_enums_ok(b[20], 0, b[21], b[22], b[23]))
            return LX_PROTO_E_MALFORMED;
        o->id = get64(b);
        o->account = get64(b + 8);
        o->market = get32(b + 16);
        o->side = b[20];
        o->tif = b[21];
        o->stp = b[22];
        o->post_only = b[23] != 0;
        o->price = get64(b + 24);
        o->qty = get64(b + 32);
        o->filled = get64(b + 40);
        break;
    }
    case LX_PROTO_PONG:
        if (b[8] > 1)
            return LX_PROTO_E_MALFORMED;
        out->u.pong.seq = get64(b);
        out->u.pong.leader = b[8];
        break;
    case LX_PROTO_ERROR: {
        lx_proto_errmsg *e = &out->u.error;
        uint16_t c = get16(b);
        if (c == LX_PROTO_E_NONE || c >= LX_PROTO_E_COUNT || !bytes_ok(b + 3, b[2], 0x20))
            return LX_PROTO_E_MALFORMED;
        e->code = c;
        e->text_len = b[2];
        memcpy(e->text, b + 3, b[2]);
        e->text[e->text_len] = '\0';
        break;
    }
    case LX_PROTO_TRADE:
        if (b[28] > LX_SELL)
            return LX_PROTO_E_MALFORMED;
        out->u.trade.market = get32(b);
        out->u.trade.seq = get64(b + 4);
        out->u.trade.price = get64(b + 12);
        out->u.trade.qty = get64(b + 20);
        out->u.trade.taker_side = b[28];
        break;
    case LX_PROTO_L2_DELTA:
        if (b[12] > LX_SELL)
            return LX_PROTO_E_MALFORMED;
        out->u.l2.market = get32(b);
        out->u.l2.seq = get64(b + 4);
        out->u.l2.side = b[12];
        out->u.l2.price = get64(b + 13);
        out->u.l2.qty = get64(b + 21);
        break;
    default:
        return LX_PROTO_E_UNKNOWN_TYPE;
    }
    return LX_PROTO_E_NONE;
}

static int known_type(uint8_t t)
{
    return lx_proto_is_request(t) || is_reply(t) || is_md(t);
}

lx_err lx_proto_decode(lx_proto_msg *out, lx_proto_error *code, const uint8_t *buf, size_t len)
{
    if (code != NULL)
        *code = LX_PROTO_E_NONE;
    if (out == NULL || (buf == NULL && len > 0))
        return LX_EINVAL;
    memset(&out->hdr, 0, sizeof out->hdr);
    if (len > LX_PROTO_FRAME_MAX)
        return fail(code, LX_PROTO_E_TOO_BIG);

    /* Market-data frames open with a topic; its channel byte can never be
     * the first magic byte, so one look tells the two framings apart. */
    const uint8_t *p = buf;
    size_t n = len;
    uint8_t channel = 0;
    uint32_t topic_market = 0;
    if (n >= 1 && (p[0] == LX_PROTO_CH_TRADE || p[0] == LX_PROTO_CH_L2)) {
        if (n < LX_PROTO_TOPIC_LEN)
            return fail(code, LX_PROTO_E_TRUNCATED);
        channel = p[0];
        topic_market = get32(p + 1);
        p += LX_PROTO_TOPIC_LEN;
        n -= LX_PROTO_TOPIC_LEN;
    }

    /* Magic, then version, before the rest of the header, so a frame of a
     * later version with another header size still gets bad_version. */
    if (n >= 1 && p[0] != (uint8_t)(LX_PROTO_MAGIC >> 8))
        return fail(code, LX_PROTO_E_MALFORMED);
    if (n >= 2 && p[1] != (uint8_t)LX_PROTO_MAGIC)
        return fail(code, LX_PROTO_E_MALFORMED);
    if (n < 3)
        return fail(code, LX_PROTO_E_TRUNCATED);
    out->hdr.version = p[H_VERSION];
    if (out->hdr.version != LX_PROTO_VERSION)
        return fail(code, LX_PROTO_E_BAD_VERSION);
    if (n < LX_PROTO_HDR_LEN)
        return fail(code, LX_PROTO_E_TRUNCATED);

    out->hdr.type = p[H_TYPE];
    out->hdr.flags = get16(p + H_FLAGS);
    out->hdr.req_id = get64(p + H_REQ);
    out->hdr.body_len = get32(p + H_LEN);
    uint8_t t = out->hdr.type;

    if (!known_type(t))
        return fail(code, LX_PROTO_E_UNKNOWN_TYPE);
    if ((out->hdr.flags & ~allowed_flags(t)) != 0)
        return fail(code, LX_PROTO_E_MALFORMED);
    if (is_md(t)) {
        uint8_t want = t == LX_PROTO_TRADE ? LX_PROTO_CH_TRADE : LX_PROTO_CH_L2;
        if (channel != want || out->hdr.req_id != 0)
            return fail(code, LX_PROTO_E_MALFORMED);
    } else if (channel != 0) {
        return fail(code, LX_PROTO_E_MALFORMED);
    }

    size_t have = n - LX_PROTO_HDR_LEN;
    if (out->hdr.body_len > LX_PROTO_FRAME_MAX - LX_PROTO_HDR_LEN - (len - n))
        return fail(code, LX_PROTO_E_TOO_BIG);
    if (out->hdr.body_len > have)
        return fail(code, LX_PROTO_E_TRUNCATED);
    if (out->hdr.body_len < have)
        return fail(code, LX_PROTO_E_MALFORMED);

    lx_proto_error e = dec_body(out, t, p + LX_PROTO_HDR_LEN, have);
    if (e != LX_PROTO_E_NONE)
        return fail(code, e);
    /* The topic repeats the body's market id; they must agree. */
    if (t == LX_PROTO_TRADE && out->u.trade.market != topic_market)
        return fail(code, LX_PROTO_E_MALFORMED);
    if (t == LX_PROTO_L2_DELTA && out->u.l2.market != topic_market)
        return fail(code, LX_PROTO_E_MALFORMED);
    return LX_OK;
}

/* ---- list access ---- */

lx_err lx_proto_batch_get(const lx_proto_msg *m, lx_order_cmd *out, size_t i)
{
    if (m == NULL || out == NULL || m->hdr.type != LX_PROTO_NEW_ORDER_BATCH ||
        i >= m->u.batch.count)
        return LX_EINVAL;
    get_order(out, m->u.batch.p + i * B_ORDER);
    return LX_OK;
}

lx_err lx_proto_batch_result_get(const lx_proto_msg *m, lx_proto_batch_item *out, size_t i)
{
    if (m == NULL || out == NULL || m->hdr.type != LX_PROTO_BATCH_RESULT || i >= m->u.batch.count)
        return LX_EINVAL;
    const uint8_t *p = m->u.batch.p + i * E_RESULT;
    out->id = get64(p);
    out->seq = get64(p + 8);
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
    out->price = get64(p);
    out->qty = get64(p + 8);
    out->orders = get32(p + 16);
    return LX_OK;
}

lx_err lx_proto_balances_get(const lx_proto_msg *m, lx_proto_balance *out, size_t i)
{
    if (m == NULL || out == NULL || m->hdr.type != LX_PROTO_BALANCES || i >= m->u.balances.count)
        return LX_EINVAL;
    const uint8_t *p = m->u.balances.p + i * E_BALANCE;
    memcpy(out->asset, p, LX_SYMBOL_MAX);
    out->available = get64(p + 12);
    out->reserved = get64(p + 20);
    return LX_OK;
}

lx_err lx_proto_markets_get(const lx_proto_msg *m, lx_proto_market *out, size_t i)
{
    if (m == NULL || out == NULL || m->hdr.type != LX_PROTO_MARKETS || i >= m->u.markets.count)
        return LX_EINVAL;
    const uint8_t *p = m->u.markets.p + i * E_MARKET;
    out->id = get32(p);
    memcpy(out->spec.name, p + 4, LX_NAME_MAX);
    memcpy(out->spec.base, p + 20, LX_SYMBOL_MAX);
    memcpy(out->spec.quote, p + 32, LX_SYMBOL_MAX);
    out->spec.lot = get64(p + 44);
    out->spec.tick = get64(p + 52);
    out->spec.min_qty = get64(p + 60);
    out->spec.maker_fee_bps = get32(p + 68);
    out->spec.taker_fee_bps = get32(p + 72);
    return LX_OK;
}
