/* Order books: the order and price-level pools, the sorted price array of
 * each side, FIFO queues per level, the id index, and the book queries. */
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"

/* Index of the first entry of side whose key is >= key (n if none). New
 * orders cluster near the best price, which is the end of the array, so a
 * short scan from there usually ends the search. */
static uint32_t lower_bound(const lx__side *s, uint64_t key)
{
    uint32_t hi = s->n;
    for (int i = 0; i < 8 && hi > 0; i++, hi--)
        if (s->v[hi - 1].key < key)
            return hi;
    uint32_t lo = 0;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (s->v[mid].key < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static lx_err grow_pool(void **v, uint32_t *cap, size_t elem, uint32_t first)
{
    if (*cap >= UINT32_MAX / 2)
        return LX_ENOMEM;
    uint32_t ncap = *cap ? *cap * 2 : first;
    void *p = realloc(*v, (size_t)ncap * elem);
    if (!p)
        return LX_ENOMEM;
    *v = p;
    *cap = ncap;
    return LX_OK;
}

lx_err lx__book_reserve(lx_engine *e, lx__side *side)
{
    lx_err err;
    if (e->orders_free == LX__NIL && e->orders_hw == e->cap_orders) {
        err = grow_pool((void **)&e->orders, &e->cap_orders, sizeof(lx__order), 256);
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
    return lx__map_reserve(&e->ids, e->open + 1);
}

uint32_t lx__order_alloc(lx_engine *e)
{
    uint32_t oi = e->orders_free;
    if (oi != LX__NIL) {
        e->orders_free = e->orders[oi].next;
        return oi;
    }
    LX_ASSERT(e->orders_hw < e->cap_orders);
    return e->orders_hw++;
}

static uint32_t level_alloc(lx_engine *e)
{
    uint32_t li = e->levels_free;
    if (li != LX__NIL) {
        e->levels_free = e->levels[li].head;
        return li;
    }
    LX_ASSERT(e->levels_hw < e->cap_levels);
    return e->levels_hw++;
}

void lx__book_insert(lx_engine *e, uint32_t oi, uint64_t price)
{
    lx__order *o = &e->orders[oi];
    lx__side *s = &e->markets[o->market].sides[o->side];
    uint64_t key = lx__side_key(o->side, price);
    uint32_t pos = lower_bound(s, key);
    uint32_t li;
    if (pos < s->n && s->v[pos].key == key) {
        li = s->v[pos].level;
    } else {
        LX_ASSERT(s->n < s->cap);
        li = level_alloc(e);
        lx__level *nl = &e->levels[li];
        nl->price = price;
        nl->qty = 0;
        nl->head = nl->tail = LX__NIL;
        nl->count = 0;
        nl->side = o->side;
        memmove(&s->v[pos + 1], &s->v[pos], (size_t)(s->n - pos) * sizeof s->v[0]);
        s->v[pos].key = key;
        s->v[pos].level = li;
        s->v[pos].pad = 0;
        s->n++;
    }
    lx__level *lv = &e->levels[li];
    o->level = li;
    o->next = LX__NIL;
    o->prev = lv->tail;
    if (lv->tail != LX__NIL)
        e->orders[lv->tail].next = oi;
    else
        lv->head = oi;
    lv->tail = oi;
    lv->count++;
    lv->qty += o->qty;
    s->orders++;
    lx__map_put(&e->ids, o->id, 0, oi);
    e->open++;
}

void lx__book_remove(lx_engine *e, uint32_t oi)
{
    lx__order *o = &e->orders[oi];
    lx__side *s = &e->markets[o->market].sides[o->side];
    uint32_t li = o->level;
    lx__level *lv = &e->levels[li];
    if (o->prev != LX__NIL)
        e->orders[o->prev].next = o->next;
    else
        lv->head = o->next;
    if (o->next != LX__NIL)
        e->orders[o->next].prev = o->prev;
    else
        lv->tail = o->prev;
    lv->count--;
    lv->qty -= o->qty;
    s->orders--;
    if (lv->count == 0) {
        uint32_t pos;
        if (s->n > 0 && s->v[s->n - 1].level == li) {
            pos = s->n - 1;
        } else {
            pos = lower_bound(s, lx__side_key(o->side, lv->price));
            LX_ASSERT(pos < s->n && s->v[pos].level == li);
        }
        memmove(&s->v[pos], &s->v[pos + 1], (size_t)(s->n - pos - 1) * sizeof s->v[0]);
        s->n--;
        lv->head = e->levels_free;
        e->levels_free = li;
    }
    bool found = lx__map_del(&e->ids, o->id, 0);
    LX_ASSERT(found);
    e->open--;
    o->id = 0;
    o->next = e->orders_free;
    e->orders_free = oi;
}

void lx__book_reduce(lx_engine *e, uint32_t oi, uint64_t x)
{
    lx__order *o = &e->orders[oi];
    LX_ASSERT(x < o->qty);
    o->qty -= x;
    e->levels[o->level].qty -= x;
}

uint32_t lx__order_find(const lx_engine *e, uint64_t id)
{
    return lx__map_get(&e->ids, id, 0);
}

void lx__book_walk(const lx_engine *e, const lx__market *m, unsigned taker_side, uint64_t limit,
                   uint64_t qty, uint64_t account, unsigned stp, uint64_t *fillable,
                   size_t *touched)
{
    const lx__side *s = &m->sides[!taker_side];
    uint64_t cross = lx__side_key(!taker_side, limit);
    uint64_t left = qty;
    size_t k = 0;
    for (uint32_t p = s->n; p-- > 0 && left > 0;) {
        if (s->v[p].key < cross)
            break;
        const lx__level *lv = &e->levels[s->v[p].level];
        for (uint32_t oi = lv->head; oi != LX__NIL && left > 0; oi = e->orders[oi].next) {
            const lx__order *o = &e->orders[oi];
            k++;
            if (o->account == account) {
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
    free(e->levels);
    lx__map_free(&e->ids);
    e->orders = NULL;
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
    memset(out, 0, sizeof *out);
    out->id = o->id;
    out->account = o->account;
    out->market = o->market;
    out->side = o->side;
    out->tif = o->tif;
    out->stp = o->stp;
    out->post_only = o->post_only != 0;
    out->price = e->levels[o->level].price;
    out->qty = o->qty;
    out->filled = o->filled;
    return LX_OK;
}

size_t lx_engine_order_count(const lx_engine *e)
{
    return e ? e->open : 0;
}
