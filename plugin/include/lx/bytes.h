/* Byte helpers shared by the lxdex libraries (engine snapshots, settlement
 * encodings, the node's log and peer formats): big-endian loads and stores,
 * and a bounds-checked reader. Internal (lx__): not part of the engine API. */
#ifndef LX_BYTES_H
#define LX_BYTES_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Stores are one bswap and one store each where the compiler sees the
 * byte order; the byte-at-a-time form was not merged into one. */
static inline void lx__put_u32(uint8_t *p, uint32_t v)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap32(v);
    memcpy(p, &v, 4);
#else
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
#endif
}

static inline void lx__put_u64(uint8_t *p, uint64_t v)
{
    lx__put_u32(p, (uint32_t)(v >> 32));
    lx__put_u32(p + 4, (uint32_t)v);
}

static inline uint32_t lx__get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static inline uint64_t lx__get_u64(const uint8_t *p)
{
    return (uint64_t)lx__get_u32(p) << 32 | lx__get_u32(p + 4);
}

/* A bounds-checked reader over [p, end): once a read would pass the end,
 * it and every later one fail (bad is set) and give zeros. */
typedef struct lx__rd {
    const uint8_t *p, *end;
    int bad;
} lx__rd;

/* The next n bytes, or NULL past the end. */
static inline const uint8_t *lx__rd_take(lx__rd *r, size_t n)
{
    if (r->bad || (size_t)(r->end - r->p) < n) {
        r->bad = 1;
        return NULL;
    }
    const uint8_t *p = r->p;
    r->p += n;
    return p;
}

static inline uint32_t lx__rd_u32(lx__rd *r)
{
    const uint8_t *p = lx__rd_take(r, 4);
    return p ? lx__get_u32(p) : 0;
}

static inline uint64_t lx__rd_u64(lx__rd *r)
{
    const uint8_t *p = lx__rd_take(r, 8);
    return p ? lx__get_u64(p) : 0;
}

static inline void lx__rd_bytes(lx__rd *r, void *dst, size_t n)
{
    const uint8_t *p = lx__rd_take(r, n);
    if (p)
        memcpy(dst, p, n);
    else
        memset(dst, 0, n);
}

#endif /* LX_BYTES_H */
