/* Order books: the order and price-level pools, the sorted price array of
 * each side, FIFO queues per level, the id index, and the book queries. */
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"

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

static lx_err grow_orders(lx_engine *e)
{
    uint32_t ncap;
    lx_err err = next_cap(&ncap, e->cap_orders, 256);
    if (err)
        return err;
    /* Each array keeps its new size even if a later one fails: the
     * capacity only counts once all three have it. */
    lx__order *o = realloc(e->orders, (size_t)ncap * sizeof *o);
    if (!o)
        return LX_ENOMEM;
    e->orders = o;
    lx__link *l = realloc(e->links, (size_t)ncap * sizeof *l);
    if (!l)
        return LX_ENOMEM;
    e->links = l;
    lx__order_x *x = realloc(e->orders_x, (size_t)ncap * sizeof *x);
    if (!x)
        return LX_ENOMEM;
    e->orders_x = x;
    e->cap_orders = ncap;
    return LX_OK;
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
    free(e->orders);
    free(e->links);
    free(e->orders_x);
    free(e->levels);
    lx__ids_free(&e->ids);
    e->orders = NULL;
    e->links = NULL;
    e->orders_x = NULL;
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
