/* Order books: the order and price-level pools, the sorted price array of
 * each side, FIFO queues per level, the id index, and the book queries. */
#define _GNU_SOURCE /* mremap */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "engine_int.h"

/* An order pool array of this many bytes or more has a mapping of its
 * own, grown with mremap: the kernel moves the page tables instead of the
 * pages being copied. Grown on the heap, a pool of 150,000 orders took 2
 * to 6 ms to grow by half (a copy into fresh pages, each faulted in), and
 * every replica grows at the same block. */
#define POOL_MAP_MIN ((size_t)1 << 20)

/* The next capacity of a pool: doubling while small, then half again, so
 * that a large book wastes at most a third of its pool. */
static lx_err next_cap(uint32_t *ncap, uint32_t cap, uint32_t first)
{
    if (cap >= UINT32_MAX / 2)
        return LX_ENOMEM;
    *ncap = cap == 0 ? first : cap < 65536 ? cap * 2 : cap + cap / 2;
    return LX_OK;
}

static lx_err grow_pool(void **v, uint32_t *cap, size_t elem, uint32_t first)
{
    uint32_t ncap;
    lx_err err = next_cap(&ncap, *cap, first);
    if (err)
        return err;
    void *p = realloc(*v, (size_t)ncap * elem);
    if (!p)
        return LX_ENOMEM;
    *v = p;
    *cap = ncap;
    return LX_OK;
}

/* *p, an array of old bytes (0: none), resized to len > old bytes (on the
 * heap or in a mapping of its own by POOL_MAP_MIN); false if out of
 * memory, *p unchanged. */
static bool pool_resize(void **p, size_t old, size_t len)
{
    void *q;
    if (len < POOL_MAP_MIN) {
        q = realloc(*p, len);
    } else if (old >= POOL_MAP_MIN) {
        q = mremap(*p, old, len, MREMAP_MAYMOVE);
    } else {
        q = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (q != MAP_FAILED) {
            if (old)
                memcpy(q, *p, old);
            free(*p);
        }
    }
    if (!q || q == MAP_FAILED)
        return false;
    *p = q;
    return true;
}

/* The element sizes of the order pool's arrays, in cap_pool's order. */
static const size_t pool_elem[3] = {sizeof(lx__order), sizeof(lx__link), sizeof(lx__order_x)};

static size_t pool_bytes(const lx_engine *e, int i)
{
    return (size_t)e->cap_pool[i] * pool_elem[i];
}

static void pool_free(void *p, size_t len)
{
    if (len >= POOL_MAP_MIN)
        munmap(p, len);
    else
        free(p);
}

/* The order pool at capacity ncap > cap_orders. */
static lx_err pool_to(lx_engine *e, uint32_t ncap)
{
    /* Each array keeps its new size even if a later one fails: the
     * capacity only counts once all three have it. */
    void **v[3] = {(void **)&e->orders, (void **)&e->links, (void **)&e->orders_x};
    for (int i = 0; i < 3; i++) {
        if (e->cap_pool[i] >= ncap)
            continue;
        if (!pool_resize(v[i], pool_bytes(e, i), (size_t)ncap * pool_elem[i]))
            return LX_ENOMEM;
        e->cap_pool[i] = ncap;
    }
    e->cap_orders = ncap;
    return LX_OK;
}

static lx_err grow_orders(lx_engine *e)
{
    uint32_t ncap;
    lx_err err = next_cap(&ncap, e->cap_orders, 256);
    return err ? err : pool_to(e, ncap);
}

lx_err lx_engine_reserve(lx_engine *e, size_t orders)
{
    if (!e || orders > LX_ENGINE_RESERVE_MAX)
        return LX_EINVAL;
    if (orders > e->cap_orders) {
        lx_err err = pool_to(e, (uint32_t)orders);
        if (err)
            return err;
    }
    return lx__ids_room_for(e, orders);
}

lx_err lx__book_reserve(lx_engine *e, lx__side *side)
{
    lx_err err;
    if (e->orders_free == LX__NIL && e->orders_hw == e->cap_orders) {
        err = grow_orders(e);
        if (err)
            return err;
    }
    if (e->levels_free == LX__NIL && e->levels_hw == e->cap_levels) {
        err = grow_pool((void **)&e->levels, &e->cap_levels, sizeof(lx__level), 64);
        if (err)
            return err;
    }
    if (side->n == side->cap) {
        err = grow_pool((void **)&side->v, &side->cap, sizeof(lx__pricept), 16);
        if (err)
            return err;
    }
    return lx__ids_reserve_one(e);
}

uint32_t lx__order_find(const lx_engine *e, uint64_t id)
{
    uint32_t pos;
    return lx__ids_find(&e->ids, e->orders, id, &pos);
}

void lx__book_walk(const lx_engine *e, const lx__market *m, unsigned taker_side, uint64_t limit,
                   uint64_t qty, uint32_t owner, unsigned stp, uint64_t *fillable, size_t *touched)
{
    const lx__side *s = &m->sides[!taker_side];
    uint64_t cross = lx__side_key(!taker_side, limit);
    uint64_t left = qty;
    size_t k = 0;
    for (uint32_t p = s->n; p-- > 0 && left > 0;) {
        if (s->v[p].key < cross)
            break;
        const lx__level *lv = &e->levels[s->v[p].level];
        for (uint32_t oi = lv->head; oi != LX__NIL && left > 0; oi = e->links[oi].next) {
            const lx__order *o = &e->orders[oi];
            k++;
            if (o->owner == owner) {
                if (stp == LX_STP_EXPIRE_MAKER)
                    continue;
                if (stp == LX_STP_EXPIRE_TAKER)
                    k--;
                goto done;
            }
            left -= o->qty < left ? o->qty : left;
        }
    }
done:
    *fillable = qty - left;
    *touched = k;
}

void lx__books_free(lx_engine *e)
{
    for (uint32_t i = 0; i < e->nmarkets; i++) {
        free(e->markets[i].sides[0].v);
        free(e->markets[i].sides[1].v);
    }
    pool_free(e->orders, pool_bytes(e, 0));
    pool_free(e->links, pool_bytes(e, 1));
    pool_free(e->orders_x, pool_bytes(e, 2));
    free(e->levels);
    lx__ids_free(&e->ids);
    e->orders = NULL;
    e->links = NULL;
    e->orders_x = NULL;
    memset(e->cap_pool, 0, sizeof e->cap_pool);
    e->levels = NULL;
}

lx_err lx_engine_depth(const lx_engine *e, lx_level *bids, size_t *nbids, lx_level *asks,
                       size_t *nasks, uint32_t market, size_t max)
{
    if (!e || !nbids || !nasks || (max > 0 && (!bids || !asks)))
        return LX_EINVAL;
    if (market >= e->nmarkets)
        return LX_ENOTFOUND;
    const lx__market *m = &e->markets[market];
    lx_level *outs[2] = {bids, asks};
    size_t *counts[2] = {nbids, nasks};
    for (int side = 0; side < 2; side++) {
        const lx__side *s = &m->sides[side];
        size_t k = 0;
        for (uint32_t p = s->n; p-- > 0 && k < max;) {
            const lx__level *lv = &e->levels[s->v[p].level];
            outs[side][k].price = lv->price;
            outs[side][k].qty = lv->qty;
            outs[side][k].orders = lv->count;
            k++;
        }
        *counts[side] = k;
    }
    return LX_OK;
}

lx_err lx_engine_order(const lx_engine *e, lx_order_info *out, uint64_t id)
{
    if (!e || !out)
        return LX_EINVAL;
    uint32_t oi = id ? lx__order_find(e, id) : LX__NIL;
    if (oi == LX__NIL)
        return LX_ENOTFOUND;
    const lx__order *o = &e->orders[oi];
    const lx__order_x *x = &e->orders_x[oi];
    const lx__owner *w = &e->owners[o->owner];
    const lx__level *lv = &e->levels[o->level];
    memset(out, 0, sizeof *out);
    out->id = o->id;
    out->account = w->account;
    out->market = w->market;
    out->side = (uint8_t)lv->side;
    out->tif = LX_GTC;
    out->stp = x->stp;
    out->post_only = x->post_only != 0;
    out->price = lv->price;
    out->qty = o->qty;
    out->filled = o->filled;
    return LX_OK;
}

bool lx_engine_order_open(const lx_engine *e, uint64_t id)
{
    return e && id && lx__order_find(e, id) != LX__NIL;
}

size_t lx_engine_order_count(const lx_engine *e)
{
    return e ? e->open : 0;
}

size_t lx_engine_mapped_bytes(const lx_engine *e)
{
    if (!e)
        return 0;
    size_t n = 0;
    for (int i = 0; i < 3; i++)
        n += pool_bytes(e, i) >= POOL_MAP_MIN ? pool_bytes(e, i) : 0;
    return n;
}
