/* The engine's hash tables: open addressing with linear probing and
 * backward-shift deletion, so that deletes leave no tombstones and probe
 * lengths stay short under churn. lx__map keys balances and owner records;
 * lx__ids maps open order ids to the order pool. */
#define _DEFAULT_SOURCE /* MADV_HUGEPAGE */
#include <stdlib.h>
#include <string.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "engine_int.h"

#define MAP_MIN_CAP 16u
#define HUGE_PAGE ((size_t)2 << 20)

/* ---- lx__map ---- */

void lx__map_init(lx__map *m)
{
    m->s = NULL;
    m->mask = 0;
    m->n = 0;
    m->shift = 64;
}

void lx__map_free(lx__map *m)
{
    free(m->s);
    lx__map_init(m);
}

static size_t map_cap(const lx__map *m)
{
    return m->s ? m->mask + 1 : 0;
}

static unsigned log2_of(size_t pow2)
{
    unsigned k = 0;
    while (((size_t)1 << k) < pow2)
        k++;
    return k;
}

lx_err lx__map_reserve(lx__map *m, size_t n)
{
    size_t cap = map_cap(m);
    /* The load stays at or under 3/4. */
    if (n <= cap - cap / 4 && m->s)
        return LX_OK;
    size_t ncap = cap ? cap : MAP_MIN_CAP;
    while (n > ncap - ncap / 4) {
        if (ncap > SIZE_MAX / 2 / sizeof(lx__slot) || ncap >= ((size_t)1 << 40))
            return LX_ENOMEM;
        ncap *= 2;
    }
    lx__slot *s = malloc(ncap * sizeof *s);
    if (!s)
        return LX_ENOMEM;
    for (size_t i = 0; i < ncap; i++)
        s[i].v = LX__NIL;
    lx__map old = *m;
    m->s = s;
    m->mask = ncap - 1;
    m->shift = 64 - log2_of(ncap);
    m->n = 0;
    for (size_t i = 0; i < cap; i++)
        if (old.s[i].v != LX__NIL)
            lx__map_put(m, old.s[i].a, old.s[i].b, old.s[i].v);
    free(old.s);
    return LX_OK;
}

void lx__map_put(lx__map *m, uint64_t a, uint32_t b, uint32_t v)
{
    LX_ASSERT(m->s && m->n < map_cap(m) && v != LX__NIL);
    size_t i = lx__map_slot(m, a, b);
    while (m->s[i].v != LX__NIL) {
        LX_ASSERT(m->s[i].a != a || m->s[i].b != b);
        i = (i + 1) & m->mask;
    }
    m->s[i].a = a;
    m->s[i].b = b;
    m->s[i].v = v;
    m->n++;
}

bool lx__map_del(lx__map *m, uint64_t a, uint32_t b)
{
    if (!m->s)
        return false;
    size_t i = lx__map_slot(m, a, b);
    for (;; i = (i + 1) & m->mask) {
        if (m->s[i].v == LX__NIL)
            return false;
        if (m->s[i].a == a && m->s[i].b == b)
            break;
    }
    /* Shift later members of the probe run back into the hole, unless they
     * must stay. */
    size_t hole = i;
    for (size_t j = (i + 1) & m->mask; m->s[j].v != LX__NIL; j = (j + 1) & m->mask) {
        if (!lx__stays(lx__map_slot(m, m->s[j].a, m->s[j].b), hole, j)) {
            m->s[hole] = m->s[j];
            hole = j;
        }
    }
    m->s[hole].v = LX__NIL;
    m->n--;
    return true;
}

size_t lx__map_bytes(const lx__map *m)
{
    return map_cap(m) * sizeof(lx__slot);
}

/* ---- lx__ids ---- */

void lx__ids_init(lx__ids *m)
{
    m->s = NULL;
    m->mask = 0;
    m->shift = 32;
    m->n = 0;
    m->room = 0;
}

void lx__ids_free(lx__ids *m)
{
    free(m->s);
    lx__ids_init(m);
}

static size_t ids_cap(const lx__ids *m)
{
    return m->s ? (size_t)m->mask + 1 : 0;
}

/* The load stays at or under 5/8: with eight slots to a cache line, a miss
 * (every new order's duplicate check) rarely reads a second line. */
static size_t ids_max(size_t cap)
{
    return cap / 2 + cap / 8;
}

lx_err lx__ids_grow(lx__ids *m, size_t n)
{
    size_t cap = ids_cap(m);
    if (m->s && n <= ids_max(cap))
        return LX_OK;
    size_t ncap = cap ? cap : MAP_MIN_CAP;
    while (n > ids_max(ncap)) {
        if (ncap >= ((size_t)1 << 31))
            return LX_ENOMEM;
        ncap *= 2;
    }
    /* Line-aligned, so that a step of lx__ids_find reads one cache line;
     * the size is a multiple of 64 (ncap >= 16). A table of 2 MiB or more
     * goes in 2 MiB pages where the kernel has them: lookups land anywhere
     * in it, and filling it takes one fault per 2 MiB, not per 4 KiB. */
    size_t bytes = ncap * sizeof(lx__idslot);
    lx__idslot *s = aligned_alloc(bytes >= HUGE_PAGE ? HUGE_PAGE : 64, bytes);
    if (!s)
        return LX_ENOMEM;
#if defined(MADV_HUGEPAGE)
    if (bytes >= HUGE_PAGE)
        (void)madvise(s, bytes, MADV_HUGEPAGE);
#endif
    for (size_t i = 0; i < ncap; i++)
        s[i].idx = LX__NIL;
    unsigned shift = 32 - log2_of(ncap);
    uint32_t mask = (uint32_t)(ncap - 1);
    for (size_t i = 0; i < cap; i++) {
        lx__idslot sl = m->s[i];
        if (sl.idx == LX__NIL)
            continue;
        uint32_t j = sl.hash >> shift;
        while (s[j].idx != LX__NIL)
            j = (j + 1) & mask;
        s[j] = sl;
    }
    free(m->s);
    m->s = s;
    m->mask = mask;
    m->shift = shift;
    m->room = ids_max(ncap);
    return LX_OK;
}

size_t lx__ids_bytes(const lx__ids *m)
{
    return ids_cap(m) * sizeof(lx__idslot);
}
