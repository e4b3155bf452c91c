/* The engine's hash index: open addressing from a (uint64, uint32) key to a
 * uint32 value with linear probing and backward-shift deletion, so that
 * deletes leave no tombstones and probe lengths stay short under churn. */
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"

#define MAP_MIN_CAP 16u

static size_t slot_of(const lx__map *m, uint64_t a, uint32_t b)
{
    /* A 64-bit finaliser: sequential ids spread over the whole table. */
    uint64_t h = a ^ ((uint64_t)b * 0x9e3779b97f4a7c15ull);
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    h ^= h >> 31;
    return (size_t)h & m->mask;
}

void lx__map_init(lx__map *m)
{
    m->s = NULL;
    m->mask = 0;
    m->n = 0;
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

lx_err lx__map_reserve(lx__map *m, size_t n)
{
    size_t cap = map_cap(m);
    /* The load stays at or under 3/4. */
    if (n <= cap - cap / 4 && m->s)
        return LX_OK;
    size_t ncap = cap ? cap : MAP_MIN_CAP;
    while (n > ncap - ncap / 4) {
        if (ncap > SIZE_MAX / 2 / sizeof(lx__slot))
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
    m->n = 0;
    for (size_t i = 0; i < cap; i++)
        if (old.s[i].v != LX__NIL)
            lx__map_put(m, old.s[i].a, old.s[i].b, old.s[i].v);
    free(old.s);
    return LX_OK;
}

uint32_t lx__map_get(const lx__map *m, uint64_t a, uint32_t b)
{
    if (!m->s)
        return LX__NIL;
    for (size_t i = slot_of(m, a, b);; i = (i + 1) & m->mask) {
        const lx__slot *s = &m->s[i];
        if (s->v == LX__NIL)
            return LX__NIL;
        if (s->a == a && s->b == b)
            return s->v;
    }
}

void lx__map_put(lx__map *m, uint64_t a, uint32_t b, uint32_t v)
{
    LX_ASSERT(m->s && m->n < map_cap(m) && v != LX__NIL);
    size_t i = slot_of(m, a, b);
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
    size_t i = slot_of(m, a, b);
    for (;; i = (i + 1) & m->mask) {
        if (m->s[i].v == LX__NIL)
            return false;
        if (m->s[i].a == a && m->s[i].b == b)
            break;
    }
    /* Shift later members of the probe run back into the hole, unless their
     * home slot lies cyclically in (hole, j]: then they must stay. */
    size_t hole = i;
    for (size_t j = (i + 1) & m->mask; m->s[j].v != LX__NIL; j = (j + 1) & m->mask) {
        size_t home = slot_of(m, m->s[j].a, m->s[j].b);
        bool stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!stays) {
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
