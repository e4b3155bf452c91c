/* Private to the client wire protocol: the big-endian field access, the order
 * body layout and the calls that node/proto.c and node/proto_list.c share. */
#ifndef LX_NODE_PROTO_INT_H
#define LX_NODE_PROTO_INT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "lx/node.h"

/* The body of NEW_ORDER, and each entry of NEW_ORDER_BATCH. */
#define LX__PROTO_ORDER_LEN 41u

/* ---- big-endian access ----
 * With GCC or Clang on a little-endian host, each field is one unaligned load
 * or store plus a byte swap; elsewhere, portable shifts. */

#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
static inline void lx__proto_put16(uint8_t *p, uint16_t v)
{
    v = __builtin_bswap16(v);
    memcpy(p, &v, sizeof v);
}

static inline void lx__proto_put32(uint8_t *p, uint32_t v)
{
    v = __builtin_bswap32(v);
    memcpy(p, &v, sizeof v);
}

static inline void lx__proto_put64(uint8_t *p, uint64_t v)
{
    v = __builtin_bswap64(v);
    memcpy(p, &v, sizeof v);
}

static inline uint16_t lx__proto_get16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, sizeof v);
    return __builtin_bswap16(v);
}

static inline uint32_t lx__proto_get32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return __builtin_bswap32(v);
}

static inline uint64_t lx__proto_get64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return __builtin_bswap64(v);
}
#else
static inline void lx__proto_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void lx__proto_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline void lx__proto_put64(uint8_t *p, uint64_t v)
{
    lx__proto_put32(p, (uint32_t)(v >> 32));
    lx__proto_put32(p + 4, (uint32_t)v);
}

static inline uint16_t lx__proto_get16(const uint8_t *p)
{
    return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static inline uint32_t lx__proto_get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t lx__proto_get64(const uint8_t *p)
{
    return (uint64_t)lx__proto_get32(p) << 32 | lx__proto_get32(p + 4);
}
#endif

/* ---- field rules shared by the encoders and the decoders ---- */

static inline int lx__proto_reject_reason_ok(uint8_t r)
{
    return r >= LX_R_INSUFFICIENT_BALANCE && r <= LX_R_BAD_MARKET;
}

static inline int lx__proto_order_enums_ok(uint8_t side, uint8_t type, uint8_t tif, uint8_t stp,
                                           uint8_t post)
{
    return side <= LX_SELL && type <= LX_MARKET && tif <= LX_FOK && stp <= LX_STP_EXPIRE_BOTH &&
           post <= 1;
}

/* ---- the order body: one writer and one reader ---- */

static inline int lx__proto_put_order(uint8_t *p, const lx_order_cmd *src)
{
    /* A local copy: stores through p (a byte pointer) could alias *src and
     * would force every field to be reloaded after each store. */
    const lx_order_cmd copy = *src, *o = &copy;
    uint8_t post = o->post_only ? 1 : 0;
    if (!lx__proto_order_enums_ok(o->side, o->type, o->tif, o->stp, post))
        return 0;
    lx__proto_put64(p, o->id);
    lx__proto_put64(p + 8, o->account);
    lx__proto_put32(p + 16, o->market);
    p[20] = o->side;
    p[21] = o->type;
    p[22] = o->tif;
    p[23] = o->stp;
    p[24] = post;
    lx__proto_put64(p + 25, o->price);
    lx__proto_put64(p + 33, o->qty);
    return 1;
}

static inline int lx__proto_order_ok(const uint8_t *p)
{
    return lx__proto_order_enums_ok(p[20], p[21], p[22], p[23], p[24]);
}

static inline void lx__proto_get_order(lx_order_cmd *o, const uint8_t *p)
{
    o->id = lx__proto_get64(p);
    o->account = lx__proto_get64(p + 8);
    o->market = lx__proto_get32(p + 16);
    o->side = p[20];
    o->type = p[21];
    o->tif = p[22];
    o->stp = p[23];
    o->post_only = p[24] != 0;
    o->price = lx__proto_get64(p + 25);
    o->qty = lx__proto_get64(p + 33);
}

/* ---- framing and fixed-width strings (node/proto.c) ---- */

/* A fixed-width string field on the wire: 1 .. width-1 graphic ASCII bytes,
 * then NUL padding to width. 1 if p holds one, else 0. */
int lx__proto_str_ok(const uint8_t *p, size_t width);
/* Writes C string s (of an array of width bytes) as a fixed-width field; 0 if
 * s cannot be one. */
int lx__proto_put_str(uint8_t *p, const char *s, size_t width);
/* Checks the common header arguments and room in buf[cap] for a frame of
 * body_len bytes (plus a topic for market data): LX_EINVAL or LX_ETOOBIG. */
lx_err lx__proto_enc_begin(uint8_t *buf, size_t cap, size_t *written, uint8_t type, uint16_t flags,
                           uint64_t req_id, size_t body_len);
/* Writes the LX_PROTO_HDR_LEN-byte frame header at p. */
void lx__proto_put_hdr(uint8_t *p, uint8_t type, uint16_t flags, uint64_t req_id, size_t body_len);

/* ---- list bodies (node/proto_list.c) ---- */

/* Decodes the body b (blen bytes, already bounded) of list type t (BATCH,
 * BATCH_RESULT, BOOK, BALANCES, MARKETS) into out->u, which then points
 * into b. Returns LX_PROTO_E_NONE or why the body is refused. */
lx_proto_error lx__proto_dec_list(lx_proto_msg *out, uint8_t t, const uint8_t *b, size_t blen);

#endif /* LX_NODE_PROTO_INT_H */
