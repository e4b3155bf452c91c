/* The engine: markets, command checks in their documented order, matching
 * with self-trade prevention, fees, reservations, cancels and replaces. */
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"

/* An incoming order while it matches: a new order or a replaced one. */
typedef struct taker {
    lx__market *m;
    uint32_t market;
    uint64_t id, account;
    uint64_t price; /* limit, or a market order's worst price */
    uint64_t qty;   /* remaining lots */
    uint64_t filled;
    uint32_t bal_base, bal_quote;
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
    lx__u128 n = (lx__u128)price * qty;
    lx__u128 base = (lx__u128)qty * m->spec.lot;
    if (n > LX__AMOUNT_MAX || base > LX__AMOUNT_MAX)
        return false;
    if (side == LX_BUY && m->res_bps > 0) {
        lx__u128 r = n + lx__fee((uint64_t)n, m->res_bps) + qty;
        if (r > LX__AMOUNT_MAX)
            return false;
    }
    *need = lx__order_need(m, side, price, qty);
    return true;
}

/* ---- lifecycle and market queries ---- */

lx_err lx_engine_new(lx_engine **out, const lx_engine_config *cfg)
{
    if (!out || !cfg)
        return LX_EINVAL;
    *out = NULL;
    lx_engine *e = calloc(1, sizeof *e);
    if (!e)
        return LX_ENOMEM;
    e->fee_account = cfg->fee_account;
    e->orders_free = LX__NIL;
    e->levels_free = LX__NIL;
    lx__map_init(&e->bal_index);
    lx__map_init(&e->ids);
    *out = e;
    return LX_OK;
}

void lx_engine_free(lx_engine **p)
{
    if (!p || !*p)
        return;
    lx_engine *e = *p;
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

static uint32_t held_slot(const lx__order *o)
{
    return o->side == LX_BUY ? o->bal_quote : o->bal_base;
}

static void push_cancel(lx_events *evs, uint8_t cmd, const lx__order *o, lx_reason r)
{
    lx_event *ev = lx__event_push(evs, LX_EV_CANCELLED, cmd);
    ev->side = o->side;
    ev->reason = (uint8_t)r;
    ev->market = o->market;
    ev->id = o->id;
    ev->account = o->account;
    ev->u.cancel.remaining = o->qty;
}

/* Removes a resting order, returning its reservation. */
static void cancel_resting(lx_engine *e, lx_events *evs, uint8_t cmd, uint32_t oi, lx_reason r)
{
    lx__order *o = &e->orders[oi];
    const lx__market *m = &e->markets[o->market];
    push_cancel(evs, cmd, o, r);
    release(e, held_slot(o), lx__order_need(m, o->side, e->levels[o->level].price, o->qty));
    lx__book_remove(e, oi);
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

static void fill(lx_engine *e, lx_events *evs, taker *t, uint32_t oi)
{
    lx__market *m = t->m;
    lx__order *mk = &e->orders[oi];
    uint64_t p = e->levels[mk->level].price;
    uint64_t x = t->qty < mk->qty ? t->qty : mk->qty;
    uint64_t n = p * x;
    uint64_t base = x * m->spec.lot;
    uint64_t mf = lx__fee(n, m->spec.maker_fee_bps);
    uint64_t tf = lx__fee(n, m->spec.taker_fee_bps);
    if (t->side == LX_BUY) {
        uint64_t freed = lx__order_need(m, LX_BUY, t->price, t->qty) -
                         lx__order_need(m, LX_BUY, t->price, t->qty - x);
        settle_buyer(e, t->bal_quote, t->bal_base, freed, n + tf, base);
        settle_seller(e, mk->bal_base, mk->bal_quote, base, n - mf);
    } else {
        uint64_t freed =
            lx__order_need(m, LX_BUY, p, mk->qty) - lx__order_need(m, LX_BUY, p, mk->qty - x);
        settle_buyer(e, mk->bal_quote, mk->bal_base, freed, n + mf, base);
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
    ev->u.fill.maker_account = mk->account;
    ev->u.fill.price = p;
    ev->u.fill.qty = x;
    ev->u.fill.maker_fee = mf;
    ev->u.fill.taker_fee = tf;

    t->qty -= x;
    t->filled += x;
    mk->filled += x;
    if (x == mk->qty)
        lx__book_remove(e, oi);
    else
        lx__book_reduce(e, oi, x);
}

/* Makes sure the taker's whole run needs no allocation: events (extra ones
 * before ACCEPTED, the ACCEPTED, one per maker touched and a final cancel),
 * a resting slot, and its and the fee account's balance slots. A balance
 * slot the caller knows is passed in; LX__NIL ones are found or created. */
static lx_err prepare(lx_engine *e, lx_events *evs, taker *t, size_t extra)
{
    const lx__side *opp = &t->m->sides[!t->side];
    size_t bound = extra + 2 + (size_t)opp->orders;
    if (evs->cap - evs->n < bound) {
        uint64_t fillable;
        size_t touched;
        lx__book_walk(e, t->m, t->side, t->price, t->qty, t->account, t->stp, &fillable, &touched);
        bound = extra + 2 + touched;
    }
    lx_err err = lx__events_reserve(evs, bound);
    if (!err)
        err = lx__book_reserve(e, &t->m->sides[t->side]);
    if (!err && t->bal_base == LX__NIL)
        err = lx__balance_get(e, &t->bal_base, t->account, t->m->base);
    if (!err && t->bal_quote == LX__NIL)
        err = lx__balance_get(e, &t->bal_quote, t->account, t->m->quote);
    if (!err && t->m->fee_bal == LX__NIL && t->m->res_bps > 0)
        err = lx__balance_get(e, &t->m->fee_bal, e->fee_account, t->m->quote);
    return err;
}

/* Runs a checked and prepared taker: ACCEPTED, reservation, matching, then
 * its remainder rests or is cancelled. */
static void execute(lx_engine *e, lx_events *evs, taker *t, uint64_t need)
{
    lx__market *m = t->m;
    lx_event *ev = lx__event_push(evs, LX_EV_ACCEPTED, t->cmd);
    ev->side = t->side;
    ev->market = t->market;
    ev->id = t->id;
    ev->account = t->account;
    ev->u.order.price = t->price;
    ev->u.order.qty = t->qty;

    uint32_t held = t->side == LX_BUY ? t->bal_quote : t->bal_base;
    LX_ASSERT(e->bals[held].available >= need);
    e->bals[held].available -= need;
    e->bals[held].reserved += need;

    lx__side *opp = &m->sides[!t->side];
    uint64_t cross = lx__side_key(!t->side, t->price);
    bool stp_stop = false;
    while (t->qty > 0 && opp->n > 0 && opp->v[opp->n - 1].key >= cross) {
        uint32_t oi = e->levels[opp->v[opp->n - 1].level].head;
        if (e->orders[oi].account != t->account) {
            fill(e, evs, t, oi);
            continue;
        }
        if (t->stp == LX_STP_EXPIRE_TAKER) {
            stp_stop = true;
            break;
        }
        cancel_resting(e, evs, t->cmd, oi, LX_R_STP);
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
        ev = lx__event_push(evs, LX_EV_CANCELLED, t->cmd);
        ev->side = t->side;
        ev->reason = (uint8_t)r;
        ev->market = t->market;
        ev->id = t->id;
        ev->account = t->account;
        ev->u.cancel.remaining = t->qty;
        release(e, held, lx__order_need(m, t->side, t->price, t->qty));
        return;
    }
    uint32_t oi = lx__order_alloc(e);
    lx__order *o = &e->orders[oi];
    o->id = t->id;
    o->account = t->account;
    o->qty = t->qty;
    o->filled = t->filled;
    o->market = t->market;
    o->bal_base = t->bal_base;
    o->bal_quote = t->bal_quote;
    o->side = t->side;
    o->tif = LX_GTC;
    o->stp = t->stp;
    o->post_only = t->post_only;
    lx__book_insert(e, oi, t->price);
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

static lx_reason check_order(const lx_engine *e, const lx_order_cmd *c, uint64_t *need,
                             uint32_t *held_out)
{
    if (c->id == 0)
        return LX_R_BAD_ID;
    if (c->market >= e->nmarkets)
        return LX_R_UNKNOWN_MARKET;
    const lx__market *m = &e->markets[c->market];
    if (c->side > LX_SELL || c->type > LX_MARKET || c->stp > LX_STP_EXPIRE_BOTH ||
        (c->type == LX_LIMIT && c->tif > LX_FOK) || (c->type == LX_MARKET && c->post_only))
        return LX_R_BAD_TYPE;
    if (c->price == 0 || c->price % m->spec.tick != 0)
        return LX_R_BAD_PRICE;
    if (c->qty == 0 || c->qty < m->spec.min_qty)
        return LX_R_BAD_QTY;
    if (lx__order_find(e, c->id) != LX__NIL)
        return LX_R_DUPLICATE_ID;
    if (!lx__order_fits(m, c->side, c->price, c->qty, need))
        return LX_R_OVERFLOW;
    uint32_t held = lx__balance_lookup(e, c->account, c->side == LX_BUY ? m->quote : m->base);
    if (held == LX__NIL || e->bals[held].available < *need)
        return LX_R_INSUFFICIENT_BALANCE;
    *held_out = held;
    if (c->post_only && crosses(m, c->side, c->price))
        return LX_R_POST_ONLY_WOULD_CROSS;
    if (c->type == LX_LIMIT && c->tif == LX_FOK) {
        uint64_t fillable;
        size_t touched;
        lx__book_walk(e, m, c->side, c->price, c->qty, c->account, c->stp, &fillable, &touched);
        if (fillable < c->qty)
            return LX_R_FOK_UNFILLABLE;
    }
    return LX_R_NONE;
}

static lx_err order_cmd(lx_engine *e, lx_events *evs, const lx_order_cmd *c)
{
    lx_err err = lx__events_reserve(evs, 1);
    if (err)
        return err;
    uint64_t need = 0;
    uint32_t held = LX__NIL;
    lx_reason r = check_order(e, c, &need, &held);
    if (r != LX_R_NONE) {
        reject(evs, LX_CMD_ORDER, c->id, c->account, c->market, c->side, r);
        return LX_OK;
    }
    taker t;
    memset(&t, 0, sizeof t);
    t.m = &e->markets[c->market];
    t.market = c->market;
    t.id = c->id;
    t.account = c->account;
    t.price = c->price;
    t.qty = c->qty;
    t.side = c->side;
    t.type = c->type;
    t.tif = c->type == LX_MARKET ? (uint8_t)LX_IOC : c->tif;
    t.stp = c->stp;
    t.post_only = c->post_only;
    t.cmd = LX_CMD_ORDER;
    t.bal_base = t.bal_quote = LX__NIL;
    if (c->side == LX_BUY)
        t.bal_quote = held;
    else
        t.bal_base = held;
    err = prepare(e, evs, &t, 0);
    if (err)
        return err;
    execute(e, evs, &t, need);
    return LX_OK;
}

static lx_err cancel_cmd(lx_engine *e, lx_events *evs, const lx_cancel_cmd *c)
{
    lx_err err = lx__events_reserve(evs, 1);
    if (err)
        return err;
    uint32_t oi = c->id ? lx__order_find(e, c->id) : LX__NIL;
    lx_reason r = LX_R_NONE;
    if (oi == LX__NIL)
        r = LX_R_UNKNOWN_ORDER;
    else if (e->orders[oi].account != c->account)
        r = LX_R_NOT_OWNER;
    if (r != LX_R_NONE) {
        reject(evs, LX_CMD_CANCEL, c->id, c->account, 0, 0, r);
        return LX_OK;
    }
    cancel_resting(e, evs, LX_CMD_CANCEL, oi, LX_R_USER);
    return LX_OK;
}

static lx_err replace_cmd(lx_engine *e, lx_events *evs, const lx_replace_cmd *c)
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
        const lx__market *m = &e->markets[o->market];
        uint64_t old = lx__order_need(m, o->side, e->levels[o->level].price, o->qty);
        if (o->account != c->account)
            r = LX_R_NOT_OWNER;
        else if (c->price == 0 || c->price % m->spec.tick != 0)
            r = LX_R_BAD_PRICE;
        else if (c->qty == 0 || c->qty < m->spec.min_qty)
            r = LX_R_BAD_QTY;
        else if (!lx__order_fits(m, o->side, c->price, c->qty, &need))
            r = LX_R_OVERFLOW;
        else if (e->bals[held_slot(o)].available + old < need)
            r = LX_R_INSUFFICIENT_BALANCE;
        else if (o->post_only && crosses(m, o->side, c->price))
            r = LX_R_POST_ONLY_WOULD_CROSS;
    }
    if (r != LX_R_NONE) {
        reject(evs, LX_CMD_REPLACE, c->id, c->account, 0, 0, r);
        return LX_OK;
    }
    lx__order *o = &e->orders[oi];
    lx__market *m = &e->markets[o->market];
    uint64_t old_price = e->levels[o->level].price;
    uint64_t old = lx__order_need(m, o->side, old_price, o->qty);
    if (c->price == old_price && c->qty <= o->qty) {
        release(e, held_slot(o), old - need);
        if (c->qty < o->qty)
            lx__book_reduce(e, oi, o->qty - c->qty);
        lx_event *ev = lx__event_push(evs, LX_EV_REPLACED, LX_CMD_REPLACE);
        ev->side = o->side;
        ev->market = o->market;
        ev->id = o->id;
        ev->account = o->account;
        ev->u.order.price = c->price;
        ev->u.order.qty = c->qty;
        return LX_OK;
    }
    taker t;
    memset(&t, 0, sizeof t);
    t.m = m;
    t.market = o->market;
    t.id = o->id;
    t.account = o->account;
    t.price = c->price;
    t.qty = c->qty;
    t.filled = o->filled;
    t.side = o->side;
    t.type = LX_LIMIT;
    t.tif = LX_GTC;
    t.stp = o->stp;
    t.post_only = o->post_only;
    t.cmd = LX_CMD_REPLACE;
    t.bal_base = o->bal_base;
    t.bal_quote = o->bal_quote;
    err = prepare(e, evs, &t, 1);
    if (err)
        return err;
    cancel_resting(e, evs, LX_CMD_REPLACE, oi, LX_R_REPLACE);
    execute(e, evs, &t, need);
    return LX_OK;
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
