/* The engine: markets, command checks in their documented order, matching
 * with self-trade prevention, fees, reservations, cancels and replaces. */
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"

/* An incoming order while it matches: a new order or a replaced one. */
typedef struct taker {
    lx__market *m;
    uint32_t market;
    uint32_t owner; /* its owner record, or LX__NIL until prepare */
    uint64_t id, account;
    uint64_t price; /* limit, or a market order's worst price */
    uint64_t qty;   /* remaining lots */
    uint64_t filled;
    uint32_t bal_base, bal_quote;
    uint32_t id_pos; /* where its id goes in the index, or LX__NIL */
    uint8_t side, type, tif, stp, post_only, cmd;
} taker;

uint64_t lx__fee(uint64_t notional, uint32_t bps)
{
    /* 64-bit division when the product fits: a 128-bit one is a libcall. */
    if (notional <= UINT64_MAX / LX_FEE_BPS_MAX - 1)
        return (notional * bps + 9999u) / 10000u;
    lx__u128 x = (lx__u128)notional * bps;
    return (uint64_t)((x + 9999u) / 10000u);
}

uint64_t lx__order_need(const lx__market *m, unsigned side, uint64_t price, uint64_t qty)
{
    if (side == LX_SELL)
        return qty * m->spec.lot;
    uint64_t n = price * qty;
    if (m->res_bps == 0)
        return n;
    return n + lx__fee(n, m->res_bps) + qty;
}

bool lx__order_fits(const lx__market *m, unsigned side, uint64_t price, uint64_t qty,
                    uint64_t *need)
{
    uint64_t n, base;
    if (__builtin_mul_overflow(price, qty, &n) || n > LX__AMOUNT_MAX ||
        __builtin_mul_overflow(qty, m->spec.lot, &base) || base > LX__AMOUNT_MAX)
        return false;
    if (side == LX_SELL) {
        *need = base;
        return true;
    }
    if (m->res_bps == 0) {
        *need = n;
        return true;
    }
    /* n + fee + qty, each step checked: fee <= n and qty <= n. */
    uint64_t r = n + lx__fee(n, m->res_bps);
    if (r > LX__AMOUNT_MAX || qty > LX__AMOUNT_MAX - r)
        return false;
    *need = r + qty;
    return true;
}

/* ---- lifecycle and market queries ---- */

/* The most events prepare makes room for to spare a taker the walk of the
 * other side: 2^20 of 72 bytes, address space mostly (a list's pages are
 * touched only as events fill them). */
#define EVENTS_FOR_SIDE_MAX ((size_t)1 << 20)

lx_err lx_engine_new(lx_engine **out, const lx_engine_config *cfg)
{
    if (!out || !cfg)
        return LX_EINVAL;
    *out = NULL;
    lx_engine *e = calloc(1, sizeof *e);
    if (!e)
        return LX_ENOMEM;
    e->fee_account = cfg->fee_account;
    e->walk_over = EVENTS_FOR_SIDE_MAX;
    e->orders_free = LX__NIL;
    e->levels_free = LX__NIL;
    lx__map_init(&e->bal_index);
    lx__map_init(&e->owner_index);
    lx__ids_init(&e->ids);
    *out = e;
    return LX_OK;
}

void lx_engine_free(lx_engine **p)
{
    if (!p || !*p)
        return;
    lx_engine *e = *p;
    lx_engine_snap_abort(e);
    lx__books_free(e);
    lx__accounts_free(e);
    free(e->markets);
    free(e);
    *p = NULL;
}

static bool name_ok(const char *s, size_t cap)
{
    for (size_t i = 0; i < cap; i++)
        if (s[i] == '\0')
            return i > 0;
    return false;
}

static uint32_t market_lookup(const lx_engine *e, const char *name)
{
    for (uint32_t i = 0; i < e->nmarkets; i++)
        if (strcmp(e->markets[i].spec.name, name) == 0)
            return i;
    return LX__NIL;
}

lx_err lx_engine_add_market(lx_engine *e, lx_events *evs, const lx_market_spec *spec)
{
    if (!e || !evs || !spec)
        return LX_EINVAL;
    lx_err err = lx__events_reserve(evs, 1);
    if (err)
        return err;
    lx_reason r = LX_R_NONE;
    if (spec->lot == 0 || spec->tick == 0 || spec->min_qty == 0 ||
        spec->maker_fee_bps > LX_FEE_BPS_MAX || spec->taker_fee_bps > LX_FEE_BPS_MAX ||
        !name_ok(spec->name, LX_NAME_MAX) || !name_ok(spec->base, LX_SYMBOL_MAX) ||
        !name_ok(spec->quote, LX_SYMBOL_MAX) || strcmp(spec->base, spec->quote) == 0)
        r = LX_R_BAD_MARKET;
    else if (market_lookup(e, spec->name) != LX__NIL)
        r = LX_R_DUPLICATE_MARKET;
    else if (e->nmarkets == UINT32_MAX - 1)
        return LX_ENOMEM;
    if (r != LX_R_NONE) {
        lx_event *ev = lx__event_push(evs, LX_EV_REJECTED, LX_CMD_MARKET);
        ev->reason = (uint8_t)r;
        ev->market = LX__NIL;
        return LX_OK;
    }
    if (e->nmarkets == e->cap_markets) {
        uint32_t cap = e->cap_markets ? e->cap_markets * 2 : 4;
        lx__market *v = realloc(e->markets, (size_t)cap * sizeof *v);
        if (!v)
            return LX_ENOMEM;
        e->markets = v;
        e->cap_markets = cap;
    }
    /* Room for both assets first, so that interning cannot fail halfway. */
    err = lx__assets_reserve(e, 2);
    if (err)
        return err;
    lx__market *m = &e->markets[e->nmarkets];
    memset(m, 0, sizeof *m);
    m->spec = *spec;
    /* Canonical names: nothing after the terminating NUL. */
    memset(m->spec.name, 0, sizeof m->spec.name);
    memset(m->spec.base, 0, sizeof m->spec.base);
    memset(m->spec.quote, 0, sizeof m->spec.quote);
    memcpy(m->spec.name, spec->name, strlen(spec->name));
    memcpy(m->spec.base, spec->base, strlen(spec->base));
    memcpy(m->spec.quote, spec->quote, strlen(spec->quote));
    err = lx__asset_intern(e, &m->base, m->spec.base);
    LX_ASSERT(err == LX_OK);
    err = lx__asset_intern(e, &m->quote, m->spec.quote);
    LX_ASSERT(err == LX_OK);
    m->res_bps =
        spec->maker_fee_bps > spec->taker_fee_bps ? spec->maker_fee_bps : spec->taker_fee_bps;
    m->fee_bal = LX__NIL;
    m->tick_pow2 = (spec->tick & (spec->tick - 1)) == 0;
    m->tick_shift = (uint32_t)__builtin_ctzll(spec->tick);
    lx_event *ev = lx__event_push(evs, LX_EV_MARKET, LX_CMD_MARKET);
    ev->market = e->nmarkets++;
    return LX_OK;
}

size_t lx_engine_market_count(const lx_engine *e)
{
    return e ? e->nmarkets : 0;
}

lx_err lx_engine_market_info(const lx_engine *e, lx_market_spec *out, uint32_t id)
{
    if (!e || !out)
        return LX_EINVAL;
    if (id >= e->nmarkets)
        return LX_ENOTFOUND;
    *out = e->markets[id].spec;
    return LX_OK;
}

lx_err lx_engine_market_find(const lx_engine *e, uint32_t *id, const char *name)
{
    if (!e || !id || !name)
        return LX_EINVAL;
    uint32_t m = market_lookup(e, name);
    if (m == LX__NIL)
        return LX_ENOTFOUND;
    *id = m;
    return LX_OK;
}

/* ---- matching ---- */

static void release(lx_engine *e, uint32_t slot, uint64_t amount)
{
    lx__balance *b = &e->bals[slot];
    LX_ASSERT(b->reserved >= amount);
    b->reserved -= amount;
    b->available += amount;
}

/* True if price on side would trade with the best opposite order. */
static bool crosses(const lx__market *m, unsigned side, uint64_t price)
{
    const lx__side *o = &m->sides[!side];
    return o->n > 0 && o->v[o->n - 1].key >= lx__side_key(!side, price);
}

static bool price_ok(const lx__market *m, uint64_t price)
{
    if (price == 0)
        return false;
    if (m->tick_pow2)
        return (price & (m->spec.tick - 1)) == 0;
    return price % m->spec.tick == 0;
}

static uint32_t held_slot(const lx__owner *w, unsigned side)
{
    return side == LX_BUY ? w->bal_quote : w->bal_base;
}

/* Removes a resting order, returning its reservation. id_pos is its id's
 * slot in the index if known, else LX__NIL. */
static void cancel_resting(lx_engine *e, lx_events *evs, uint8_t cmd, uint32_t oi, lx_reason r,
                           uint32_t id_pos)
{
    lx__order *o = &e->orders[oi];
    const lx__owner *w = &e->owners[o->owner];
    const lx__level *lv = &e->levels[o->level];
    lx__market *m = &e->markets[w->market];
    unsigned side = lv->side;
    lx_event *ev = lx__event_push(evs, LX_EV_CANCELLED, cmd);
    ev->side = (uint8_t)side;
    ev->reason = (uint8_t)r;
    ev->market = w->market;
    ev->id = o->id;
    ev->account = w->account;
    ev->u.cancel.remaining = o->qty;
    release(e, held_slot(w, side), lx__order_need(m, side, lv->price, o->qty));
    lx__book_remove(e, m, oi, id_pos);
}

/* The buyer's reservation falls by freed; it pays cost and gets base. */
static void settle_buyer(lx_engine *e, uint32_t quote, uint32_t base_slot, uint64_t freed,
                         uint64_t cost, uint64_t base)
{
    LX_ASSERT(freed >= cost && e->bals[quote].reserved >= freed);
    e->bals[quote].reserved -= freed;
    e->bals[quote].available += freed - cost;
    e->bals[base_slot].available += base;
}

static void settle_seller(lx_engine *e, uint32_t base_slot, uint32_t quote, uint64_t base,
                          uint64_t proceeds)
{
    LX_ASSERT(e->bals[base_slot].reserved >= base);
    e->bals[base_slot].reserved -= base;
    e->bals[quote].available += proceeds;
}

/* Fills the taker against oi, the head of level lv. */
static void fill(lx_engine *e, lx_events *evs, taker *t, uint32_t oi, lx__level *lv)
{
    lx__market *m = t->m;
    lx__order *mk = &e->orders[oi];
    lx__snap_touch(e, mk->level);
    uint64_t x = t->qty < mk->qty ? t->qty : mk->qty;
    /* A maker that fills whole leaves the id index: find its slot now, so
     * that the miss overlaps the rest of the fill; and start loading the
     * order after it, the next fill's maker. */
    uint32_t id_pos = LX__NIL;
    if (x == mk->qty) {
        uint32_t found = lx__ids_find(&e->ids, e->orders, mk->id, &id_pos);
        LX_ASSERT(found == oi);
    }
    uint32_t after = e->links[oi].next;
    if (after != LX__NIL)
        __builtin_prefetch(&e->orders[after], 1);
    const lx__owner *mw = &e->owners[mk->owner];
    uint64_t p = lv->price;
    uint64_t n = p * x;
    uint64_t base = x * m->spec.lot;
    uint64_t mf = lx__fee(n, m->spec.maker_fee_bps);
    uint64_t tf = lx__fee(n, m->spec.taker_fee_bps);
    if (t->side == LX_BUY) {
        uint64_t freed = lx__order_need(m, LX_BUY, t->price, t->qty) -
                         lx__order_need(m, LX_BUY, t->price, t->qty - x);
        settle_buyer(e, t->bal_quote, t->bal_base, freed, n + tf, base);
        settle_seller(e, mw->bal_base, mw->bal_quote, base, n - mf);
    } else {
        uint64_t freed =
            lx__order_need(m, LX_BUY, p, mk->qty) - lx__order_need(m, LX_BUY, p, mk->qty - x);
        settle_buyer(e, mw->bal_quote, mw->bal_base, freed, n + mf, base);
        settle_seller(e, t->bal_base, t->bal_quote, base, n - tf);
    }
    if (mf + tf > 0)
        e->bals[m->fee_bal].available += mf + tf;

    lx_event *ev = lx__event_push(evs, LX_EV_FILL, t->cmd);
    ev->side = t->side;
    ev->market = t->market;
    ev->id = t->id;
    ev->account = t->account;
    ev->u.fill.maker = mk->id;
    ev->u.fill.maker_account = mw->account;
    ev->u.fill.price = p;
    ev->u.fill.qty = x;
    ev->u.fill.maker_fee = mf;
    ev->u.fill.taker_fee = tf;

    t->qty -= x;
    t->filled += x;
    mk->filled += x;
    if (x == mk->qty) {
        lx__book_remove(e, m, oi, id_pos);
        t->id_pos = LX__NIL; /* the index changed */
    } else {
        mk->qty -= x;
        lv->qty -= x;
    }
}

/* Makes sure the taker's whole run needs no allocation: its owner record
 * (with its balance slots), events (extra ones before ACCEPTED, the
 * ACCEPTED, one per maker touched and a final cancel), a resting slot, and
 * the fee account's balance slot. */
static lx_err prepare(lx_engine *e, lx_events *evs, taker *t, size_t extra)
{
    lx_err err;
    if (t->owner == LX__NIL) {
        err = lx__owner_get(e, &t->owner, t->account, t->market);
        if (err)
            return err;
        t->bal_base = e->owners[t->owner].bal_base;
        t->bal_quote = e->owners[t->owner].bal_quote;
    }
    size_t bound = extra + 2;
    if (crosses(t->m, t->side, t->price)) {
        /* Each order on the other side is touched at most once: room for
         * that many events is made once (the list keeps it across clears),
         * and the orders this taker would touch are counted, a walk that
         * misses the cache on each of them, only on a side too deep for it. */
        bound += (size_t)t->m->sides[!t->side].orders;
        if (evs->cap - evs->n < bound && bound > e->walk_over) {
            uint64_t fillable;
            size_t touched;
            lx__book_walk(e, t->m, t->side, t->price, t->qty, t->owner, t->stp, &fillable,
                          &touched);
            bound = extra + 2 + touched;
        }
    }
    err = lx__events_reserve(evs, bound);
    if (!err)
        err = lx__book_reserve(e, &t->m->sides[t->side]);
    if (!err && t->m->fee_bal == LX__NIL && t->m->res_bps > 0)
        err = lx__balance_get(e, &t->m->fee_bal, e->fee_account, t->m->quote);
    return err;
}

/* ACCEPTED for an order, and its reservation of need from slot held. This
 * and rest are forced inline: their callers are the hot paths. */
static inline __attribute__((always_inline)) void accept(lx_engine *e, lx_events *evs, uint8_t cmd,
                                                         uint8_t side, uint32_t market, uint64_t id,
                                                         uint64_t account, uint64_t price,
                                                         uint64_t qty, uint32_t held, uint64_t need)
{
    lx_event *ev = lx__event_push(evs, LX_EV_ACCEPTED, cmd);
    ev->side = side;
    ev->market = market;
    ev->id = id;
    ev->account = account;
    ev->u.order.price = price;
    ev->u.order.qty = qty;
    lx__balance *b = &e->bals[held];
    LX_ASSERT(b->available >= need);
    b->available -= need;
    b->reserved += need;
}

/* Rests qty lots of order id at price on side of m (after lx__book_reserve
 * or rest_ready); id_pos as for lx__book_insert. */
static inline __attribute__((always_inline)) void
rest(lx_engine *e, lx__market *m, unsigned side, uint64_t id, uint64_t qty, uint64_t filled,
     uint32_t owner, uint8_t stp, uint8_t post_only, uint64_t price, uint32_t id_pos)
{
    uint32_t oi = lx__order_alloc(e);
    lx__order *o = &e->orders[oi];
    o->id = id;
    o->qty = qty;
    o->owner = owner;
    o->filled = filled;
    lx__order_x *x = &e->orders_x[oi];
    x->stp = stp;
    x->post_only = post_only;
    lx__book_insert(e, m, side, oi, price, id_pos);
}

/* Runs a checked and prepared taker: ACCEPTED, reservation, matching, then
 * its remainder rests or is cancelled. */
static void execute(lx_engine *e, lx_events *evs, taker *t, uint64_t need)
{
    lx__market *m = t->m;
    uint32_t held = t->side == LX_BUY ? t->bal_quote : t->bal_base;
    accept(e, evs, t->cmd, t->side, t->market, t->id, t->account, t->price, t->qty, held, need);

    lx__side *opp = &m->sides[!t->side];
    uint64_t cross = lx__side_key(!t->side, t->price);
    bool stp_stop = false;
    while (t->qty > 0 && opp->n > 0 && opp->v[opp->n - 1].key >= cross) {
        lx__level *lv = &e->levels[opp->v[opp->n - 1].level];
        uint32_t oi = lv->head;
        if (e->orders[oi].owner != t->owner) {
            fill(e, evs, t, oi, lv);
            continue;
        }
        if (t->stp == LX_STP_EXPIRE_TAKER) {
            stp_stop = true;
            break;
        }
        cancel_resting(e, evs, t->cmd, oi, LX_R_STP, LX__NIL);
        t->id_pos = LX__NIL;
        if (t->stp == LX_STP_EXPIRE_BOTH) {
            stp_stop = true;
            break;
        }
    }
    if (t->qty == 0)
        return;

    lx_reason r = LX_R_NONE;
    if (stp_stop)
        r = LX_R_STP;
    else if (t->type == LX_MARKET)
        r = LX_R_MARKET;
    else if (t->tif == LX_IOC)
        r = LX_R_IOC;
    LX_ASSERT(r != LX_R_NONE || t->tif == LX_GTC);
    if (r != LX_R_NONE) {
        lx_event *ev = lx__event_push(evs, LX_EV_CANCELLED, t->cmd);
        ev->side = t->side;
        ev->reason = (uint8_t)r;
        ev->market = t->market;
        ev->id = t->id;
        ev->account = t->account;
        ev->u.cancel.remaining = t->qty;
        release(e, held, lx__order_need(m, t->side, t->price, t->qty));
        return;
    }
    rest(e, m, t->side, t->id, t->qty, t->filled, t->owner, t->stp, t->post_only, t->price,
         t->id_pos);
}

/* ---- commands ---- */

static void reject(lx_events *evs, uint8_t cmd, uint64_t id, uint64_t account, uint32_t market,
                   uint8_t side, lx_reason r)
{
    lx_event *ev = lx__event_push(evs, LX_EV_REJECTED, cmd);
    ev->side = side;
    ev->reason = (uint8_t)r;
    ev->market = market;
    ev->id = id;
    ev->account = account;
}

/* The checks of an order command in their documented order. On success
 * writes its need, its owner record (LX__NIL if it has none yet), the
 * balance slot it reserves from and where its id goes in the index. */
static lx_reason check_order(const lx_engine *e, const lx_order_cmd *c, uint64_t *need,
                             uint32_t *owner, uint32_t *held, uint32_t *id_pos)
{
    if (c->id == 0)
        return LX_R_BAD_ID;
    if (c->market >= e->nmarkets)
        return LX_R_UNKNOWN_MARKET;
    const lx__market *m = &e->markets[c->market];
    if (c->side > LX_SELL || c->type > LX_MARKET || c->stp > LX_STP_EXPIRE_BOTH ||
        (c->type == LX_LIMIT && c->tif > LX_FOK) || (c->type == LX_MARKET && c->post_only))
        return LX_R_BAD_TYPE;
    if (!price_ok(m, c->price))
        return LX_R_BAD_PRICE;
    if (c->qty == 0 || c->qty < m->spec.min_qty)
        return LX_R_BAD_QTY;
    /* The owner and its balance are looked up before the id, though checked
     * after it: the lookups only read, and this way their chain of misses
     * (index, owner record, balance) overlaps the id probe's. */
    uint32_t w = lx__owner_lookup(e, c->account, c->market);
    uint32_t h = w != LX__NIL
                     ? held_slot(&e->owners[w], c->side)
                     : lx__balance_lookup(e, c->account, c->side == LX_BUY ? m->quote : m->base);
    if (h != LX__NIL)
        __builtin_prefetch(&e->bals[h]);
    if (lx__ids_find(&e->ids, e->orders, c->id, id_pos) != LX__NIL)
        return LX_R_DUPLICATE_ID;
    if (!lx__order_fits(m, c->side, c->price, c->qty, need))
        return LX_R_OVERFLOW;
    if (h == LX__NIL || e->bals[h].available < *need)
        return LX_R_INSUFFICIENT_BALANCE;
    *owner = w;
    *held = h;
    if (c->post_only && crosses(m, c->side, c->price))
        return LX_R_POST_ONLY_WOULD_CROSS;
    if (c->type == LX_LIMIT && c->tif == LX_FOK) {
        uint64_t fillable;
        size_t touched;
        lx__book_walk(e, m, c->side, c->price, c->qty, w, c->stp, &fillable, &touched);
        if (fillable < c->qty)
            return LX_R_FOK_UNFILLABLE;
    }
    return LX_R_NONE;
}

/* True if one more order can rest on side with nothing allocated. */
static bool rest_ready(const lx_engine *e, const lx__side *side)
{
    return (e->orders_free != LX__NIL || e->orders_hw < e->cap_orders) &&
           (e->levels_free != LX__NIL || e->levels_hw < e->cap_levels) && side->n < side->cap;
}

/* The common case of execute, and the same events and state: a checked GTC
 * limit order that does not cross, from an owner the market knows, rests
 * whole. The caller made sure of rest_ready and of room for one event. */
static void rest_new(lx_engine *e, lx_events *evs, lx__market *m, const lx_order_cmd *c,
                     uint32_t owner, uint32_t held, uint64_t need, uint32_t id_pos)
{
    accept(e, evs, LX_CMD_ORDER, c->side, c->market, c->id, c->account, c->price, c->qty, held,
           need);
    rest(e, m, c->side, c->id, c->qty, 0, owner, c->stp, c->post_only, c->price, id_pos);
}

__attribute__((noinline)) static lx_err order_cmd(lx_engine *e, lx_events *evs,
                                                  const lx_order_cmd *c)
{
    lx_err err = lx__events_reserve(evs, 1);
    /* Room for the id first, so that the slot the duplicate check finds
     * stays valid until the order rests. */
    if (!err)
        err = lx__ids_reserve_one(e);
    if (err)
        return err;
    uint64_t need = 0;
    uint32_t owner = LX__NIL, held = LX__NIL, id_pos = LX__NIL;
    lx_reason r = check_order(e, c, &need, &owner, &held, &id_pos);
    if (__builtin_expect(r != LX_R_NONE, 0)) {
        reject(evs, LX_CMD_ORDER, c->id, c->account, c->market, c->side, r);
        return LX_OK;
    }
    lx__market *m = &e->markets[c->market];
    if (owner != LX__NIL && c->type == LX_LIMIT && c->tif == LX_GTC &&
        !crosses(m, c->side, c->price) && rest_ready(e, &m->sides[c->side])) {
        rest_new(e, evs, m, c, owner, held, need, id_pos);
        return LX_OK;
    }
    taker t;
    t.m = m;
    t.market = c->market;
    t.owner = owner;
    t.id = c->id;
    t.account = c->account;
    t.price = c->price;
    t.qty = c->qty;
    t.filled = 0;
    t.bal_base = t.bal_quote = LX__NIL;
    if (owner != LX__NIL) {
        t.bal_base = e->owners[owner].bal_base;
        t.bal_quote = e->owners[owner].bal_quote;
    }
    t.id_pos = id_pos;
    t.side = c->side;
    t.type = c->type;
    t.tif = c->type == LX_MARKET ? (uint8_t)LX_IOC : c->tif;
    t.stp = c->stp;
    t.post_only = c->post_only;
    t.cmd = LX_CMD_ORDER;
    err = prepare(e, evs, &t, 0);
    if (err)
        return err;
    LX_ASSERT(held == (c->side == LX_BUY ? t.bal_quote : t.bal_base));
    execute(e, evs, &t, need);
    return LX_OK;
}

__attribute__((noinline)) static lx_err cancel_cmd(lx_engine *e, lx_events *evs,
                                                   const lx_cancel_cmd *c)
{
    lx_err err = lx__events_reserve(evs, 1);
    if (err)
        return err;
    uint32_t pos = LX__NIL;
    uint32_t oi = c->id ? lx__ids_find(&e->ids, e->orders, c->id, &pos) : LX__NIL;
    lx_reason r = LX_R_NONE;
    if (oi != LX__NIL)
        lx__order_prefetch_links(e, oi);
    if (oi == LX__NIL)
        r = LX_R_UNKNOWN_ORDER;
    else if (e->owners[e->orders[oi].owner].account != c->account)
        r = LX_R_NOT_OWNER;
    if (r != LX_R_NONE) {
        reject(evs, LX_CMD_CANCEL, c->id, c->account, 0, 0, r);
        return LX_OK;
    }
    cancel_resting(e, evs, LX_CMD_CANCEL, oi, LX_R_USER, pos);
    return LX_OK;
}

__attribute__((noinline)) static lx_err replace_cmd(lx_engine *e, lx_events *evs,
                                                    const lx_replace_cmd *c)
{
    lx_err err = lx__events_reserve(evs, 1);
    if (err)
        return err;
    uint32_t oi = c->id ? lx__order_find(e, c->id) : LX__NIL;
    lx_reason r = LX_R_NONE;
    uint64_t need = 0;
    if (oi == LX__NIL) {
        r = LX_R_UNKNOWN_ORDER;
    } else {
        const lx__order *o = &e->orders[oi];
        const lx__owner *w = &e->owners[o->owner];
        const lx__level *lv = &e->levels[o->level];
        const lx__market *m = &e->markets[w->market];
        uint64_t old = lx__order_need(m, lv->side, lv->price, o->qty);
        if (w->account != c->account)
            r = LX_R_NOT_OWNER;
        else if (!price_ok(m, c->price))
            r = LX_R_BAD_PRICE;
        else if (c->qty == 0 || c->qty < m->spec.min_qty)
            r = LX_R_BAD_QTY;
        else if (!lx__order_fits(m, lv->side, c->price, c->qty, &need))
            r = LX_R_OVERFLOW;
        else if (e->bals[held_slot(w, lv->side)].available + old < need)
            r = LX_R_INSUFFICIENT_BALANCE;
        else if (e->orders_x[oi].post_only && crosses(m, lv->side, c->price))
            r = LX_R_POST_ONLY_WOULD_CROSS;
    }
    if (r != LX_R_NONE) {
        reject(evs, LX_CMD_REPLACE, c->id, c->account, 0, 0, r);
        return LX_OK;
    }
    lx__order *o = &e->orders[oi];
    const lx__order_x *ox = &e->orders_x[oi];
    const lx__owner *w = &e->owners[o->owner];
    lx__level *lv = &e->levels[o->level];
    lx__market *m = &e->markets[w->market];
    unsigned side = lv->side;
    uint64_t old_price = lv->price;
    uint64_t old = lx__order_need(m, side, old_price, o->qty);
    if (c->price == old_price && c->qty <= o->qty) {
        lx__snap_touch(e, o->level);
        release(e, held_slot(w, side), old - need);
        lv->qty -= o->qty - c->qty;
        o->qty = c->qty;
        lx_event *ev = lx__event_push(evs, LX_EV_REPLACED, LX_CMD_REPLACE);
        ev->side = (uint8_t)side;
        ev->market = w->market;
        ev->id = o->id;
        ev->account = w->account;
        ev->u.order.price = c->price;
        ev->u.order.qty = c->qty;
        return LX_OK;
    }
    taker t;
    t.m = m;
    t.market = w->market;
    t.owner = o->owner;
    t.id = o->id;
    t.account = w->account;
    t.price = c->price;
    t.qty = c->qty;
    t.filled = o->filled;
    t.bal_base = w->bal_base;
    t.bal_quote = w->bal_quote;
    t.id_pos = LX__NIL;
    t.side = (uint8_t)side;
    t.type = LX_LIMIT;
    t.tif = LX_GTC;
    t.stp = ox->stp;
    t.post_only = ox->post_only;
    t.cmd = LX_CMD_REPLACE;
    err = prepare(e, evs, &t, 1);
    if (err)
        return err;
    cancel_resting(e, evs, LX_CMD_REPLACE, oi, LX_R_REPLACE, LX__NIL);
    execute(e, evs, &t, need);
    return LX_OK;
}

void lx_engine_prefetch(const lx_engine *e, const lx_cmd *cmd)
{
    if (!e || !cmd || !e->ids.s)
        return;
    uint64_t id;
    switch (cmd->type) {
    case LX_CMD_ORDER:
        id = cmd->u.order.id;
        break;
    case LX_CMD_CANCEL:
        id = cmd->u.cancel.id;
        break;
    case LX_CMD_REPLACE:
        id = cmd->u.replace.id;
        break;
    default:
        return;
    }
    /* The cache line lx__ids_find reads first. */
    uint32_t home = lx__id_hash(id) >> e->ids.shift;
    __builtin_prefetch(&e->ids.s[home & ~(LX__IDS_STEP - 1)]);
}

lx_err lx_engine_apply(lx_engine *e, lx_events *evs, const lx_cmd *cmd)
{
    if (!e || !evs || !cmd)
        return LX_EINVAL;
    switch (cmd->type) {
    case LX_CMD_ORDER:
        return order_cmd(e, evs, &cmd->u.order);
    case LX_CMD_CANCEL:
        return cancel_cmd(e, evs, &cmd->u.cancel);
    case LX_CMD_REPLACE:
        return replace_cmd(e, evs, &cmd->u.replace);
    case LX_CMD_DEPOSIT:
    case LX_CMD_WITHDRAW:
        return lx__transfer(e, evs, cmd->type, &cmd->u.transfer);
    default:
        return LX_EINVAL;
    }
}
