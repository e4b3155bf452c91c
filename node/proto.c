/* The client wire protocol (docs/protocol.md): framing, the header and the
 * fixed-layout messages; the list messages are in node/proto_list.c. */
#include <string.h>

#include "lx/node.h"
#include "proto_int.h"

/* Header offsets. */
#define H_MAGIC 0
#define H_VERSION 2
#define H_TYPE 3
#define H_FLAGS 4
#define H_REQ 6
#define H_LEN 14

/* Body sizes of the fixed-layout types. */
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

#define F_REPLY_MASK (LX_PROTO_F_MORE | LX_PROTO_F_UNSOLICITED)

/* ---- names and classes ---- */

static const char *const error_names[LX_PROTO_E_COUNT] = {
    "none",         "malformed",  "truncated",       "too_big",    "bad_version",
    "unknown_type", "not_leader", "unavailable",     "overloaded", "faucet_disabled",
    "unauthorized", "internal",   "outcome_unknown",
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
    case LX_PROTO_CANCEL_BATCH:
        return "cancel_batch";
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
    return type >= LX_PROTO_NEW_ORDER && type <= LX_PROTO_CANCEL_BATCH;
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
    if (is_reply(type))
        return (uint16_t)F_REPLY_MASK;
    return is_md(type) ? 0 : (uint16_t)LX_PROTO_F_BUNDLE;
}

lx_err lx_proto_next_frame(const uint8_t *msg, size_t len, size_t *off, const uint8_t **frame,
                           size_t *flen)
{
    if (!off || !frame || !flen || (!msg && len))
        return LX_EINVAL;
    if (*off >= len)
        return LX_ENOTFOUND;
    size_t left = len - *off;
    if (left < LX_PROTO_HDR_LEN)
        return LX_EFORMAT;
    const uint8_t *p = msg + *off;
    size_t body = lx__proto_get32(p + H_LEN);
    if (body > left - LX_PROTO_HDR_LEN)
        return LX_EFORMAT;
    *frame = p;
    *flen = LX_PROTO_HDR_LEN + body;
    *off += *flen;
    return LX_OK;
}

/* ---- field rules of the fixed layouts, and the framing ---- */

static int cancel_reason_ok(uint8_t r)
{
    return r >= LX_R_USER && r <= LX_R_REPLACE;
}

static int graphic(uint8_t c)
{
    return c >= 0x21 && c <= 0x7e;
}

/* A fixed-width string field on the wire: 1 .. width-1 graphic ASCII bytes,
 * then NUL padding to width. Only this form decodes, so equal strings always
 * have equal bytes. */
int lx__proto_str_ok(const uint8_t *p, size_t width)
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
int lx__proto_put_str(uint8_t *p, const char *s, size_t width)
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

void lx__proto_put_hdr(uint8_t *p, uint8_t type, uint16_t flags, uint64_t req_id, size_t body_len)
{
    lx__proto_put16(p + H_MAGIC, (uint16_t)LX_PROTO_MAGIC);
    p[H_VERSION] = (uint8_t)LX_PROTO_VERSION;
    p[H_TYPE] = type;
    lx__proto_put16(p + H_FLAGS, flags);
    lx__proto_put64(p + H_REQ, req_id);
    lx__proto_put32(p + H_LEN, (uint32_t)body_len);
}

/* ---- encoding ---- */

/* Checks the common header arguments and room for a frame of body_len bytes
 * (plus a topic when md). */
lx_err lx__proto_enc_begin(uint8_t *buf, size_t cap, size_t *written, uint8_t type, uint16_t flags,
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
    lx__proto_put32(topic + 1, market);
}

/* Body length of a fixed-layout (non-list) type; var_len is WITHDRAW's
 * dest_len or ERROR's text_len. *ok is 0 for a list or unknown type, or a
 * var_len over its cap. */
static size_t fixed_body_len(uint8_t type, size_t var_len, int *ok)
{
    *ok = 1;
    switch (type) {
    case LX_PROTO_NEW_ORDER:
        return LX__PROTO_ORDER_LEN;
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
        return lx__proto_put_order(b, &m->u.order);
    case LX_PROTO_CANCEL:
        lx__proto_put64(b, m->u.cancel.id);
        lx__proto_put64(b + 8, m->u.cancel.account);
        return 1;
    case LX_PROTO_REPLACE:
        lx__proto_put64(b, m->u.replace.id);
        lx__proto_put64(b + 8, m->u.replace.account);
        lx__proto_put64(b + 16, m->u.replace.price);
        lx__proto_put64(b + 24, m->u.replace.qty);
        return 1;
    case LX_PROTO_DEPOSIT:
    case LX_PROTO_WITHDRAW: {
        const lx_proto_transfer *t = &m->u.transfer;
        lx__proto_put64(b, t->account);
        if (!lx__proto_put_str(b + 8, t->asset, LX_SYMBOL_MAX))
            return 0;
        lx__proto_put64(b + 20, t->amount);
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
        lx__proto_put32(b, m->u.query_book.market);
        lx__proto_put16(b + 4, m->u.query_book.depth);
        return 1;
    case LX_PROTO_QUERY_ORDER:
        lx__proto_put64(b, m->u.query_order);
        return 1;
    case LX_PROTO_QUERY_BALANCES:
        lx__proto_put64(b, m->u.query_balances);
        return 1;
    case LX_PROTO_QUERY_MARKETS:
    case LX_PROTO_PING:
        return 1;
    case LX_PROTO_ACK:
        lx__proto_put64(b, m->u.ack.seq);
        lx__proto_put64(b + 8, m->u.ack.id);
        return 1;
    case LX_PROTO_REJECT:
        if (!lx__proto_reject_reason_ok(m->u.reject.reason))
            return 0;
        lx__proto_put64(b, m->u.reject.id);
        b[8] = m->u.reject.reason;
        return 1;
    case LX_PROTO_FILL: {
        const lx_proto_fill *f = &m->u.fill;
        if (f->taker_side > LX_SELL || f->role > 1)
            return 0;
        lx__proto_put64(b, f->seq);
        lx__proto_put32(b + 8, f->market);
        lx__proto_put64(b + 12, f->maker);
        lx__proto_put64(b + 20, f->taker);
        lx__proto_put64(b + 28, f->price);
        lx__proto_put64(b + 36, f->qty);
        lx__proto_put64(b + 44, f->maker_fee);
        lx__proto_put64(b + 52, f->taker_fee);
        b[60] = f->taker_side;
        b[61] = f->role;
        return 1;
    }
    case LX_PROTO_CANCELLED:
        if (!cancel_reason_ok(m->u.cancelled.reason))
            return 0;
        lx__proto_put64(b, m->u.cancelled.seq);
        lx__proto_put64(b + 8, m->u.cancelled.id);
        lx__proto_put64(b + 16, m->u.cancelled.remaining);
        b[24] = m->u.cancelled.reason;
        return 1;
    case LX_PROTO_REPLACED:
        lx__proto_put64(b, m->u.replaced.seq);
        lx__proto_put64(b + 8, m->u.replaced.id);
        lx__proto_put64(b + 16, m->u.replaced.price);
        lx__proto_put64(b + 24, m->u.replaced.qty);
        return 1;
    case LX_PROTO_ORDER_STATUS: {
        const lx_order_info *o = &m->u.order_status;
        uint8_t post = o->post_only ? 1 : 0;
        if (!lx__proto_order_enums_ok(o->side, 0, o->tif, o->stp, post))
            return 0;
        lx__proto_put64(b, o->id);
        lx__proto_put64(b + 8, o->account);
        lx__proto_put32(b + 16, o->market);
        b[20] = o->side;
        b[21] = o->tif;
        b[22] = o->stp;
        b[23] = post;
        lx__proto_put64(b + 24, o->price);
        lx__proto_put64(b + 32, o->qty);
        lx__proto_put64(b + 40, o->filled);
        return 1;
    }
    case LX_PROTO_PONG:
        if (m->u.pong.leader > 1)
            return 0;
        lx__proto_put64(b, m->u.pong.seq);
        b[8] = m->u.pong.leader;
        return 1;
    case LX_PROTO_ERROR: {
        const lx_proto_errmsg *e = &m->u.error;
        if (e->code == LX_PROTO_E_NONE || e->code >= LX_PROTO_E_COUNT ||
            !bytes_ok((const uint8_t *)e->text, e->text_len, 0x20))
            return 0;
        lx__proto_put16(b, e->code);
        b[2] = e->text_len;
        memcpy(b + 3, e->text, e->text_len);
        return 1;
    }
    case LX_PROTO_TRADE: {
        const lx_proto_trade *t = &m->u.trade;
        if (t->taker_side > LX_SELL)
            return 0;
        lx__proto_put32(b, t->market);
        lx__proto_put64(b + 4, t->seq);
        lx__proto_put64(b + 12, t->price);
        lx__proto_put64(b + 20, t->qty);
        b[28] = t->taker_side;
        return 1;
    }
    case LX_PROTO_L2_DELTA: {
        const lx_proto_l2 *d = &m->u.l2;
        if (d->side > LX_SELL)
            return 0;
        lx__proto_put32(b, d->market);
        lx__proto_put64(b + 4, d->seq);
        b[12] = d->side;
        lx__proto_put64(b + 13, d->price);
        lx__proto_put64(b + 21, d->qty);
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
    lx_err err =
        lx__proto_enc_begin(buf, cap, written, type, m->hdr.flags, m->hdr.req_id, body_len);
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
    lx__proto_put_hdr(p, type, m->hdr.flags, m->hdr.req_id, body_len);
    if (!enc_body(p + LX_PROTO_HDR_LEN, m))
        return LX_EINVAL;
    *written = (size_t)(p - buf) + LX_PROTO_HDR_LEN + body_len;
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
    case LX_PROTO_CANCEL_BATCH:
    case LX_PROTO_BATCH_RESULT:
    case LX_PROTO_BOOK:
    case LX_PROTO_BALANCES:
    case LX_PROTO_MARKETS:
        return lx__proto_dec_list(out, t, b, blen);
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
        if (!lx__proto_order_ok(b))
            return LX_PROTO_E_MALFORMED;
        lx__proto_get_order(&out->u.order, b);
        break;
    case LX_PROTO_CANCEL:
        out->u.cancel.id = lx__proto_get64(b);
        out->u.cancel.account = lx__proto_get64(b + 8);
        break;
    case LX_PROTO_REPLACE:
        out->u.replace.id = lx__proto_get64(b);
        out->u.replace.account = lx__proto_get64(b + 8);
        out->u.replace.price = lx__proto_get64(b + 16);
        out->u.replace.qty = lx__proto_get64(b + 24);
        break;
    case LX_PROTO_DEPOSIT:
    case LX_PROTO_WITHDRAW: {
        lx_proto_transfer *tr = &out->u.transfer;
        if (!lx__proto_str_ok(b + 8, LX_SYMBOL_MAX))
            return LX_PROTO_E_MALFORMED;
        tr->account = lx__proto_get64(b);
        memcpy(tr->asset, b + 8, LX_SYMBOL_MAX);
        tr->amount = lx__proto_get64(b + 20);
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
        out->u.query_book.market = lx__proto_get32(b);
        out->u.query_book.depth = lx__proto_get16(b + 4);
        if (out->u.query_book.depth == 0 || out->u.query_book.depth > LX_PROTO_DEPTH_MAX)
            return LX_PROTO_E_MALFORMED;
        break;
    case LX_PROTO_QUERY_ORDER:
        out->u.query_order = lx__proto_get64(b);
        break;
    case LX_PROTO_QUERY_BALANCES:
        out->u.query_balances = lx__proto_get64(b);
        break;
    case LX_PROTO_QUERY_MARKETS:
    case LX_PROTO_PING:
        break;
    case LX_PROTO_ACK:
        out->u.ack.seq = lx__proto_get64(b);
        out->u.ack.id = lx__proto_get64(b + 8);
        break;
    case LX_PROTO_REJECT:
        if (!lx__proto_reject_reason_ok(b[8]))
            return LX_PROTO_E_MALFORMED;
        out->u.reject.id = lx__proto_get64(b);
        out->u.reject.reason = b[8];
        break;
    case LX_PROTO_FILL: {
        lx_proto_fill *f = &out->u.fill;
        if (b[60] > LX_SELL || b[61] > 1)
            return LX_PROTO_E_MALFORMED;
        f->seq = lx__proto_get64(b);
        f->market = lx__proto_get32(b + 8);
        f->maker = lx__proto_get64(b + 12);
        f->taker = lx__proto_get64(b + 20);
        f->price = lx__proto_get64(b + 28);
        f->qty = lx__proto_get64(b + 36);
        f->maker_fee = lx__proto_get64(b + 44);
        f->taker_fee = lx__proto_get64(b + 52);
        f->taker_side = b[60];
        f->role = b[61];
        break;
    }
    case LX_PROTO_CANCELLED:
        if (!cancel_reason_ok(b[24]))
            return LX_PROTO_E_MALFORMED;
        out->u.cancelled.seq = lx__proto_get64(b);
        out->u.cancelled.id = lx__proto_get64(b + 8);
        out->u.cancelled.remaining = lx__proto_get64(b + 16);
        out->u.cancelled.reason = b[24];
        break;
    case LX_PROTO_REPLACED:
        out->u.replaced.seq = lx__proto_get64(b);
        out->u.replaced.id = lx__proto_get64(b + 8);
        out->u.replaced.price = lx__proto_get64(b + 16);
        out->u.replaced.qty = lx__proto_get64(b + 24);
        break;
    case LX_PROTO_ORDER_STATUS: {
        lx_order_info *o = &out->u.order_status;
        if (!lx__proto_order_enums_ok(b[20], 0, b[21], b[22], b[23]))
            return LX_PROTO_E_MALFORMED;
        o->id = lx__proto_get64(b);
        o->account = lx__proto_get64(b + 8);
        o->market = lx__proto_get32(b + 16);
        o->side = b[20];
        o->tif = b[21];
        o->stp = b[22];
        o->post_only = b[23] != 0;
        o->price = lx__proto_get64(b + 24);
        o->qty = lx__proto_get64(b + 32);
        o->filled = lx__proto_get64(b + 40);
        break;
    }
    case LX_PROTO_PONG:
        if (b[8] > 1)
            return LX_PROTO_E_MALFORMED;
        out->u.pong.seq = lx__proto_get64(b);
        out->u.pong.leader = b[8];
        break;
    case LX_PROTO_ERROR: {
        lx_proto_errmsg *e = &out->u.error;
        uint16_t c = lx__proto_get16(b);
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
        out->u.trade.market = lx__proto_get32(b);
        out->u.trade.seq = lx__proto_get64(b + 4);
        out->u.trade.price = lx__proto_get64(b + 12);
        out->u.trade.qty = lx__proto_get64(b + 20);
        out->u.trade.taker_side = b[28];
        break;
    case LX_PROTO_L2_DELTA:
        if (b[12] > LX_SELL)
            return LX_PROTO_E_MALFORMED;
        out->u.l2.market = lx__proto_get32(b);
        out->u.l2.seq = lx__proto_get64(b + 4);
        out->u.l2.side = b[12];
        out->u.l2.price = lx__proto_get64(b + 13);
        out->u.l2.qty = lx__proto_get64(b + 21);
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
        topic_market = lx__proto_get32(p + 1);
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
    out->hdr.flags = lx__proto_get16(p + H_FLAGS);
    out->hdr.req_id = lx__proto_get64(p + H_REQ);
    out->hdr.body_len = lx__proto_get32(p + H_LEN);
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
