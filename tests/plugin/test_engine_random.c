/* Randomized differential test of the matching engine against a naive
 * reference model written only from the contract in lx/plugin.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lx/plugin.h"

#include "../../plugin/engine_int.h"

#define MAX_MARKETS 8
#define MAX_ASSETS 16
#define MAX_DEPTH 512
#define I63 ((uint64_t)INT64_MAX)
#define NONE SIZE_MAX

typedef unsigned __int128 u128;

/* ---------------------------------------------------------------------------
 * A small seeded generator (splitmix64).
 * ------------------------------------------------------------------------- */

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t rng_next(rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rng_below(rng *r, uint64_t n)
{
    return n == 0 ? 0 : rng_next(r) % n;
}

static bool rng_pct(rng *r, uint64_t pct)
{
    return rng_below(r, 100) < pct;
}

static void *grow(void *p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return p;
    size_t n = *cap ? *cap : 16;
    while (n < need)
        n *= 2;
    void *q = realloc(p, n * elem);
    if (q == NULL) {
        fprintf(stderr, "out of memory\n");
        abort();
    }
    *cap = n;
    return q;
}

/* ---------------------------------------------------------------------------
 * The reference model. Plain arrays and linear scans: open orders in one flat
 * array with an arrival counter for time priority, balances in a flat array
 * sorted by (account, asset) holding only the total. The reserved part of a
 * balance is never stored: it is recomputed from the open orders with the
 * header's formula, so "reserved equals the formula" holds by construction
 * and available = total - reserved.
 * ------------------------------------------------------------------------- */

typedef struct m_market {
    lx_market_spec spec;
    uint32_t base, quote;
} m_market;

typedef struct m_order {
    uint64_t id, account, price, qty, seq;
    uint64_t filled; /* over the order's whole life, across replaces */
    uint32_t market;
    uint8_t side, stp;
    bool post_only;
} m_order;

typedef struct m_balance {
    uint64_t account;
    uint32_t asset;
    uint64_t total;
} m_balance;

typedef struct model {
    uint64_t fee_account;
    m_market mk[MAX_MARKETS];
    size_t nmk;
    char asset[MAX_ASSETS][LX_SYMBOL_MAX];
    size_t nasset;
    m_order *ord;
    size_t nord, cap_ord;
    m_balance *bal;
    size_t nbal, cap_bal;
    uint64_t seq;
    uint8_t cmd; /* the command type the events being made are tagged with */
    lx_event *ev;
    size_t nev, cap_ev;
} model;

static uint64_t fee_of(uint64_t n, uint32_t bps)
{
    u128 x = (u128)n * bps;
    return (uint64_t)((x + 9999u) / 10000u);
}

static uint32_t max_bps(const m_market *mk)
{
    return mk->spec.maker_fee_bps > mk->spec.taker_fee_bps ? mk->spec.maker_fee_bps
                                                           : mk->spec.taker_fee_bps;
}

/* The reservation of q lots at price p. Returns false when one of the
 * order's amounts or products does not fit in 63 bits: the notional p*q and
 * the base amount q*lot for either side (the header says every product must
 * fit), and for a buy the whole reservation. */
static bool m_amounts(const m_market *mk, uint8_t side, uint64_t p, uint64_t q, uint64_t *reserve)
{
    u128 n = (u128)p * q;
    u128 base = (u128)q * mk->spec.lot;
    if (n > I63 || base > I63)
        return false;
    if (side == LX_SELL) {
        *reserve = (uint64_t)base;
        return true;
    }
    uint32_t b = max_bps(mk);
    u128 r = n;
    if (b > 0)
        r += (u128)fee_of((uint64_t)n, b) + q;
    if (r > I63)
        return false;
    *reserve = (uint64_t)r;
    return true;
}

static uint32_t m_order_asset(const model *m, uint32_t market, uint8_t side)
{
    return side == LX_BUY ? m->mk[market].quote : m->mk[market].base;
}

static uint64_t m_order_reserve(const model *m, const m_order *o)
{
    uint64_t r = 0;
    bool ok = m_amounts(&m->mk[o->market], o->side, o->price, o->qty, &r);
    LX_ASSERT(ok);
    return r;
}

static size_t m_bal_find(const model *m, uint64_t account, uint32_t asset)
{
    size_t lo = 0, hi = m->nbal;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const m_balance *b = &m->bal[mid];
        if (b->account < account || (b->account == account && b->asset < asset))
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < m->nbal && m->bal[lo].account == account && m->bal[lo].asset == asset)
        return lo;
    return NONE;
}

static uint64_t m_total(const model *m, uint64_t account, uint32_t asset)
{
    size_t i = m_bal_find(m, account, asset);
    return i == NONE ? 0 : m->bal[i].total;
}

static uint64_t m_reserved(const model *m, uint64_t account, uint32_t asset)
{
    uint64_t r = 0;
    for (size_t i = 0; i < m->nord; i++) {
        const m_order *o = &m->ord[i];
        if (o->account == account && m_order_asset(m, o->market, o->side) == asset)
            r += m_order_reserve(m, o);
    }
    return r;
}

static uint64_t m_available(const model *m, uint64_t account, uint32_t asset)
{
    uint64_t t = m_total(m, account, asset), r = m_reserved(m, account, asset);
    LX_ASSERT(t >= r);
    return t - r;
}

static void m_credit(model *m, uint64_t account, uint32_t asset, uint64_t amount)
{
    if (amount == 0)
        return;
    size_t i = m_bal_find(m, account, asset);
    if (i == NONE) {
        m->bal = grow(m->bal, &m->cap_bal, m->nbal + 1, sizeof(*m->bal));
        i = 0;
        while (i < m->nbal && (m->bal[i].account < account ||
                               (m->bal[i].account == account && m->bal[i].asset < asset)))
            i++;
        memmove(&m->bal[i + 1], &m->bal[i], (m->nbal - i) * sizeof(*m->bal));
        m->bal[i] = (m_balance){.account = account, .asset = asset, .total = 0};
        m->nbal++;
    }
    LX_ASSERT(m->bal[i].total <= I63 - amount);
    m->bal[i].total += amount;
}

static void m_debit(model *m, uint64_t account, uint32_t asset, uint64_t amount)
{
    if (amount == 0)
        return;
    size_t i = m_bal_find(m, account, asset);
    LX_ASSERT(i != NONE && m->bal[i].total >= amount);
    m->bal[i].total -= amount;
}

static size_t m_find(const model *m, uint64_t id)
{
    for (size_t i = 0; i < m->nord; i++)
        if (m->ord[i].id == id)
            return i;
    return NONE;
}

static void m_remove(model *m, size_t i)
{
    m->ord[i] = m->ord[m->nord - 1];
    m->nord--;
}

/* Sort key of a resting order: smaller is better within its side. */
static uint64_t prio_key(const m_order *o)
{
    return o->side == LX_SELL ? o->price : UINT64_MAX - o->price;
}

static bool crosses(uint8_t taker_side, uint64_t limit, uint64_t maker_price)
{
    return taker_side == LX_BUY ? maker_price <= limit : maker_price >= limit;
}

/* The best resting order a taker of this side and limit would meet next. */
static size_t m_best(const model *m, uint32_t market, uint8_t side, uint64_t limit)
{
    size_t best = NONE;
    for (size_t i = 0; i < m->nord; i++) {
        const m_order *o = &m->ord[i];
        if (o->market != market || o->side == side || !crosses(side, limit, o->price))
            continue;
        if (best == NONE || prio_key(o) < prio_key(&m->ord[best]) ||
            (prio_key(o) == prio_key(&m->ord[best]) && o->seq < m->ord[best].seq))
            best = i;
    }
    return best;
}

static int cmp_prio(const void *a, const void *b)
{
    const m_order *x = a, *y = b;
    uint64_t kx = prio_key(x), ky = prio_key(y);
    if (kx != ky)
        return kx < ky ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Whole-fill pre-check of a FOK taker. Under expire_maker the taker's own
 * orders are cancelled and skipped, so they are not liquidity; under
 * expire_taker and expire_both the match stops at the first own order. */
static bool m_fok_fillable(const model *m, const m_order *t)
{
    m_order *v = malloc((m->nord + 1) * sizeof(*v));
    LX_ASSERT(v != NULL);
    size_t n = 0;
    for (size_t i = 0; i < m->nord; i++) {
        const m_order *o = &m->ord[i];
        if (o->market == t->market && o->side != t->side && crosses(t->side, t->price, o->price))
            v[n++] = *o;
    }
    qsort(v, n, sizeof(*v), cmp_prio);
    uint64_t got = 0;
    bool ok = false;
    for (size_t i = 0; i < n && !ok; i++) {
        if (v[i].account == t->account) {
            if (t->stp == LX_STP_EXPIRE_MAKER)
                continue;
            break;
        }
        got += v[i].qty;
        ok = got >= t->qty;
    }
    free(v);
    return ok;
}

static lx_event *m_push(model *m, uint8_t type, uint8_t reason)
{
    m->ev = grow(m->ev, &m->cap_ev, m->nev + 1, sizeof(*m->ev));
    lx_event *ev = &m->ev[m->nev++];
    memset(ev, 0, sizeof(*ev));
    ev->type = type;
    ev->cmd = m->cmd;
    ev->reason = reason;
    return ev;
}

static void m_order_event(model *m, uint8_t type, uint8_t reason, const m_order *o)
{
    lx_event *ev = m_push(m, type, reason);
    ev->side = o->side;
    ev->market = o->market;
    ev->id = o->id;
    ev->account = o->account;
    if (type == LX_EV_CANCELLED) {
        ev->u.cancel.remaining = o->qty;
    } else {
        ev->u.order.price = o->price;
        ev->u.order.qty = o->qty;
    }
}

static void m_reject(model *m, uint8_t reason, uint64_t id, uint64_t account, uint8_t side,
                     uint32_t market)
{
    lx_event *ev = m_push(m, LX_EV_REJECTED, (uint8_t)reason);
    ev->id = id;
    ev->account = account;
    ev->side = side;
    ev->market = market;
}

static void m_fill(model *m, m_order *t, size_t mi)
{
    m_order *mo = &m->ord[mi];
    const m_market *mk = &m->mk[t->market];
    uint64_t q = t->qty < mo->qty ? t->qty : mo->qty;
    uint64_t n = mo->price * q;
    uint64_t maker_fee = fee_of(n, mk->spec.maker_fee_bps);
    uint64_t taker_fee = fee_of(n, mk->spec.taker_fee_bps);
    bool taker_buys = t->side == LX_BUY;
    uint64_t buyer = taker_buys ? t->account : mo->account;
    uint64_t seller = taker_buys ? mo->account : t->account;
    uint64_t buyer_fee = taker_buys ? taker_fee : maker_fee;
    uint64_t seller_fee = taker_buys ? maker_fee : taker_fee;

    lx_event *ev = m_push(m, LX_EV_FILL, 0);
    ev->side = t->side;
    ev->market = t->market;
    ev->id = t->id;
    ev->account = t->account;
    ev->u.fill.maker = mo->id;
    ev->u.fill.maker_account = mo->account;
    ev->u.fill.price = mo->price;
    ev->u.fill.qty = q;
    ev->u.fill.maker_fee = maker_fee;
    ev->u.fill.taker_fee = taker_fee;

    m_debit(m, buyer, mk->quote, n + buyer_fee);
    m_credit(m, buyer, mk->base, q * mk->spec.lot);
    m_debit(m, seller, mk->base, q * mk->spec.lot);
    m_credit(m, seller, mk->quote, n - seller_fee);
    m_credit(m, m->fee_account, mk->quote, maker_fee + taker_fee);

    t->qty -= q;
    t->filled += q;
    mo->qty -= q;
    mo->filled += q;
    if (mo->qty == 0)
        m_remove(m, mi);
}

/* Matches an accepted taker and then rests, cancels or drops its remainder. */
static void m_match(model *m, m_order t, uint8_t type, uint8_t tif)
{
    bool stopped = false;
    while (t.qty > 0) {
        size_t i = m_best(m, t.market, t.side, t.price);
        if (i == NONE)
            break;
        if (m->ord[i].account == t.account) {
            if (t.stp == LX_STP_EXPIRE_TAKER) {
                stopped = true;
                break;
            }
            m_order_event(m, LX_EV_CANCELLED, LX_R_STP, &m->ord[i]);
            m_remove(m, i);
            if (t.stp == LX_STP_EXPIRE_BOTH) {
                stopped = true;
                break;
            }
            continue;
        }
        m_fill(m, &t, i);
    }
    if (t.qty == 0)
        return;
    if (stopped) {
        m_order_event(m, LX_EV_CANCELLED, LX_R_STP, &t);
    } else if (type == LX_MARKET) {
        m_order_event(m, LX_EV_CANCELLED, LX_R_MARKET, &t);
    } else if (tif == LX_IOC) {
        m_order_event(m, LX_EV_CANCELLED, LX_R_IOC, &t);
    } else {
        LX_ASSERT(tif == LX_GTC);
        t.seq = ++m->seq;
        m->ord = grow(m->ord, &m->cap_ord, m->nord + 1, sizeof(*m->ord));
        m->ord[m->nord++] = t;
    }
}

static bool m_would_cross(const model *m, uint32_t market, uint8_t side, uint64_t price)
{
    return m_best(m, market, side, price) != NONE;
}

static size_t m_asset_find(const model *m, const char *sym)
{
    for (size_t i = 0; i < m->nasset; i++)
        if (strncmp(m->asset[i], sym, LX_SYMBOL_MAX) == 0)
            return i;
    return NONE;
}

static void m_add_market(model *m, const lx_market_spec *s)
{
    m->cmd = LX_CMD_MARKET;
    if (s->lot == 0 || s->tick == 0 || s->min_qty == 0 || s->maker_fee_bps > LX_FEE_BPS_MAX ||
        s->taker_fee_bps > LX_FEE_BPS_MAX || strncmp(s->base, s->quote, LX_SYMBOL_MAX) == 0 ||
        s->name[0] == '\0') {
        m_reject(m, LX_R_BAD_MARKET, 0, 0, 0, 0);
        return;
    }
    for (size_t i = 0; i < m->nmk; i++) {
        if (strncmp(m->mk[i].spec.name, s->name, LX_NAME_MAX) == 0) {
            m_reject(m, LX_R_DUPLICATE_MARKET, 0, 0, 0, 0);
            return;
        }
    }
    LX_ASSERT(m->nmk < MAX_MARKETS);
    m_market *mk = &m->mk[m->nmk];
    mk->spec = *s;
    const char *sym[2] = {s->base, s->quote};
    uint32_t *ids[2] = {&mk->base, &mk->quote};
    for (int k = 0; k < 2; k++) {
        size_t a = m_asset_find(m, sym[k]);
        if (a == NONE) {
            LX_ASSERT(m->nasset < MAX_ASSETS);
            a = m->nasset++;
            memcpy(m->asset[a], sym[k], LX_SYMBOL_MAX);
        }
        *ids[k] = (uint32_t)a;
    }
    lx_event *ev = m_push(m, LX_EV_MARKET, 0);
    ev->market = (uint32_t)m->nmk++;
}

static void m_order_cmd(model *m, const lx_order_cmd *c)
{
    m->cmd = LX_CMD_ORDER;
    if (c->id == 0) {
        m_reject(m, LX_R_BAD_ID, c->id, c->account, c->side, c->market);
        return;
    }
    if (c->market >= m->nmk) {
        m_reject(m, LX_R_UNKNOWN_MARKET, c->id, c->account, c->side, c->market);
        return;
    }
    if (c->side > LX_SELL || c->type > LX_MARKET || (c->type == LX_LIMIT && c->tif > LX_FOK) ||
        c->stp > LX_STP_EXPIRE_BOTH || (c->type == LX_MARKET && c->post_only)) {
        m_reject(m, LX_R_BAD_TYPE, c->id, c->account, c->side, c->market);
        return;
    }
    const m_market *mk = &m->mk[c->market];
    uint64_t reserve = 0;
    uint8_t reason = LX_R_NONE;
    m_order t = {.id = c->id,
                 .account = c->account,
                 .price = c->price,
                 .qty = c->qty,
                 .market = c->market,
                 .side = c->side,
                 .stp = c->stp,
                 .post_only = c->post_only};
    if (c->price == 0 || c->price % mk->spec.tick != 0)
        reason = LX_R_BAD_PRICE;
    else if (c->qty == 0 || c->qty < mk->spec.min_qty)
        reason = LX_R_BAD_QTY;
    else if (m_find(m, c->id) != NONE)
        reason = LX_R_DUPLICATE_ID;
    else if (!m_amounts(mk, c->side, c->price, c->qty, &reserve))
        reason = LX_R_OVERFLOW;
    else if (m_available(m, c->account, m_order_asset(m, c->market, c->side)) < reserve)
        reason = LX_R_INSUFFICIENT_BALANCE;
    else if (c->type == LX_LIMIT && c->post_only && m_would_cross(m, c->market, c->side, c->price))
        reason = LX_R_POST_ONLY_WOULD_CROSS;
    else if (c->type == LX_LIMIT && c->tif == LX_FOK && !m_fok_fillable(m, &t))
        reason = LX_R_FOK_UNFILLABLE;
    if (reason != LX_R_NONE) {
        m_reject(m, reason, c->id, c->account, c->side, c->market);
        return;
    }
    m_order_event(m, LX_EV_ACCEPTED, 0, &t);
    /* A FOK that passed the pre-check fills whole, so it never reaches the
     * end of m_match with a remainder; a market order ignores its tif. */
    m_match(m, t, c->type, c->type == LX_MARKET ? LX_IOC : c->tif);
}

static void m_cancel_cmd(model *m, const lx_cancel_cmd *c)
{
    m->cmd = LX_CMD_CANCEL;
    size_t i = m_find(m, c->id);
    if (i == NONE) {
        m_reject(m, LX_R_UNKNOWN_ORDER, c->id, c->account, 0, 0);
        return;
    }
    if (m->ord[i].account != c->account) {
        m_reject(m, LX_R_NOT_OWNER, c->id, c->account, 0, 0);
        return;
    }
    m_order_event(m, LX_EV_CANCELLED, LX_R_USER, &m->ord[i]);
    m_remove(m, i);
}

/* Reading taken for insufficient_balance on a replace: the old remainder's
 * reservation is released first, so the check is whether available plus
 * that release covers the new reservation. */
static void m_replace_cmd(model *m, const lx_replace_cmd *c)
{
    m->cmd = LX_CMD_REPLACE;
    size_t i = m_find(m, c->id);
    if (i == NONE) {
        m_reject(m, LX_R_UNKNOWN_ORDER, c->id, c->account, 0, 0);
        return;
    }
    m_order *o = &m->ord[i];
    const m_market *mk = &m->mk[o->market];
    uint64_t reserve = 0;
    uint8_t reason = LX_R_NONE;
    if (o->account != c->account)
        reason = LX_R_NOT_OWNER;
    else if (c->price == 0 || c->price % mk->spec.tick != 0)
        reason = LX_R_BAD_PRICE;
    else if (c->qty == 0 || c->qty < mk->spec.min_qty)
        reason = LX_R_BAD_QTY;
    else if (!m_amounts(mk, o->side, c->price, c->qty, &reserve))
        reason = LX_R_OVERFLOW;
    else if (m_available(m, o->account, m_order_asset(m, o->market, o->side)) +
                 m_order_reserve(m, o) <
             reserve)
        reason = LX_R_INSUFFICIENT_BALANCE;
    else if (o->post_only && m_would_cross(m, o->market, o->side, c->price))
        reason = LX_R_POST_ONLY_WOULD_CROSS;
    if (reason != LX_R_NONE) {
        m_reject(m, reason, c->id, c->account, 0, 0);
        return;
    }
    if (c->price == o->price && c->qty <= o->qty) {
        o->qty = c->qty;
        m_order_event(m, LX_EV_REPLACED, 0, o);
        return;
    }
    m_order t = *o;
    m_order_event(m, LX_EV_CANCELLED, LX_R_REPLACE, o);
    m_remove(m, i);
    t.price = c->price;
    t.qty = c->qty;
    m_order_event(m, LX_EV_ACCEPTED, 0, &t);
    m_match(m, t, LX_LIMIT, LX_GTC);
}

static void m_balance_event(model *m, uint64_t account, uint32_t asset, uint64_t amount)
{
    lx_event *ev = m_push(m, LX_EV_BALANCE, 0);
    ev->market = asset;
    ev->account = account;
    ev->u.balance.amount = amount;
    ev->u.balance.available = m_available(m, account, asset);
    ev->u.balance.reserved = m_reserved(m, account, asset);
}

/* Deposit overflow: the account's balance after the deposit must fit, where
 * the balance is read as available + reserved. Deposits that would bring it
 * to exactly 2^63 - 1 are never made, so that no later fill can overflow. */
static void m_transfer_cmd(model *m, uint8_t type, const lx_transfer_cmd *c)
{
    m->cmd = type;
    size_t a = m_asset_find(m, c->asset);
    uint8_t reason = LX_R_NONE;
    if (a == NONE)
        reason = LX_R_UNKNOWN_ASSET;
    else if (c->amount == 0)
        reason = LX_R_BAD_AMOUNT;
    else if (type == LX_CMD_DEPOSIT && c->amount > I63 - m_total(m, c->account, (uint32_t)a))
        reason = LX_R_OVERFLOW;
    else if (type == LX_CMD_WITHDRAW && c->amount > m_available(m, c->account, (uint32_t)a))
        reason = LX_R_INSUFFICIENT_BALANCE;
    if (reason != LX_R_NONE) {
        m_reject(m, reason, 0, c->account, 0, 0);
        return;
    }
    if (type == LX_CMD_DEPOSIT)
        m_credit(m, c->account, (uint32_t)a, c->amount);
    else
        m_debit(m, c->account, (uint32_t)a, c->amount);
    m_balance_event(m, c->account, (uint32_t)a, c->amount);
}

static void m_apply(model *m, const lx_cmd *c)
{
    switch (c->type) {
    case LX_CMD_DEPOSIT:
    case LX_CMD_WITHDRAW:
        m_transfer_cmd(m, c->type, &c->u.transfer);
        break;
    case LX_CMD_ORDER:
        m_order_cmd(m, &c->u.order);
        break;
    case LX_CMD_CANCEL:
        m_cancel_cmd(m, &c->u.cancel);
        break;
    case LX_CMD_REPLACE:
        m_replace_cmd(m, &c->u.replace);
        break;
    default:
        LX_ASSERT(0);
    }
}

static void m_free(model *m)
{
    free(m->ord);
    free(m->bal);
    free(m->ev);
    memset(m, 0, sizeof(*m));
}

static int cmp_level_asc(const void *a, const void *b)
{
    const lx_level *x = a, *y = b;
    return x->price < y->price ? -1 : x->price > y->price;
}

static int cmp_level_desc(const void *a, const void *b)
{
    return cmp_level_asc(b, a);
}

/* The model's L2 depth of one side, best first; returns the level count. */
static size_t m_depth(const model *m, lx_level *out, uint32_t market, uint8_t side)
{
    lx_level *v = malloc((m->nord + 1) * sizeof(*v));
    LX_ASSERT(v != NULL);
    size_t n = 0, k = 0;
    for (size_t i = 0; i < m->nord; i++)
        if (m->ord[i].market == market && m->ord[i].side == side)
            v[n++] = (lx_level){.price = m->ord[i].price, .qty = m->ord[i].qty, .orders = 1};
    qsort(v, n, sizeof(*v), side == LX_BUY ? cmp_level_desc : cmp_level_asc);
    for (size_t i = 0; i < n; i++) {
        if (k > 0 && out[k - 1].price == v[i].price) {
            out[k - 1].qty += v[i].qty;
            out[k - 1].orders++;
        } else if (k < MAX_DEPTH) {
            out[k++] = v[i];
        } else {
            break;
        }
    }
    free(v);
    return k;
}

/* ---------------------------------------------------------------------------
 * Printing, for failure reports.
 * ------------------------------------------------------------------------- */

static void print_cmd(const lx_cmd *c)
{
    switch (c->type) {
    case LX_CMD_DEPOSIT:
    case LX_CMD_WITHDRAW:
        printf("  cmd %s account=%" PRIu64 " asset=%.*s amount=%" PRIu64 "\n",
               c->type == LX_CMD_DEPOSIT ? "deposit" : "withdraw", c->u.transfer.account,
               LX_SYMBOL_MAX, c->u.transfer.asset, c->u.transfer.amount);
        break;
    case LX_CMD_ORDER: {
        const lx_order_cmd *o = &c->u.order;
        printf("  cmd order id=%" PRIu64 " account=%" PRIu64 " market=%" PRIu32
               " side=%u type=%u tif=%u stp=%u post_only=%d price=%" PRIu64 " qty=%" PRIu64 "\n",
               o->id, o->account, o->market, o->side, o->type, o->tif, o->stp, o->post_only,
               o->price, o->qty);
        break;
    }
    case LX_CMD_CANCEL:
        printf("  cmd cancel id=%" PRIu64 " account=%" PRIu64 "\n", c->u.cancel.id,
               c->u.cancel.account);
        break;
    case LX_CMD_REPLACE:
        printf("  cmd replace id=%" PRIu64 " account=%" PRIu64 " price=%" PRIu64 " qty=%" PRIu64
               "\n",
               c->u.replace.id, c->u.replace.account, c->u.replace.price, c->u.replace.qty);
        break;
    default:
        printf("  cmd type %u\n", c->type);
    }
}

static void print_spec(const lx_market_spec *s)
{
    printf("  market name=%.*s base=%.*s quote=%.*s lot=%" PRIu64 " tick=%" PRIu64
           " min_qty=%" PRIu64 " maker=%" PRIu32 " taker=%" PRIu32 "\n",
           LX_NAME_MAX, s->name, LX_SYMBOL_MAX, s->base, LX_SYMBOL_MAX, s->quote, s->lot, s->tick,
           s->min_qty, s->maker_fee_bps, s->taker_fee_bps);
}

static const char *const ev_names[] = {"ACCEPTED", "REJECTED", "FILL",  "CANCELLED",
                                       "REPLACED", "BALANCE",  "MARKET"};

static void print_events(const char *who, const lx_event *v, size_t n)
{
    printf("  %s: %zu events\n", who, n);
    for (size_t i = 0; i < n; i++) {
        const lx_event *e = &v[i];
        printf("    %s cmd=%u side=%u reason=%s market=%" PRIu32 " id=%" PRIu64 " account=%" PRIu64,
               e->type < 7 ? ev_names[e->type] : "?", e->cmd, e->side,
               lx_reason_str((lx_reason)e->reason), e->market, e->id, e->account);
        switch (e->type) {
        case LX_EV_ACCEPTED:
        case LX_EV_REPLACED:
            printf(" price=%" PRIu64 " qty=%" PRIu64, e->u.order.price, e->u.order.qty);
            break;
        case LX_EV_FILL:
            printf(" maker=%" PRIu64 " maker_account=%" PRIu64 " price=%" PRIu64 " qty=%" PRIu64
                   " maker_fee=%" PRIu64 " taker_fee=%" PRIu64,
                   e->u.fill.maker, e->u.fill.maker_account, e->u.fill.price, e->u.fill.qty,
                   e->u.fill.maker_fee, e->u.fill.taker_fee);
            break;
        case LX_EV_CANCELLED:
            printf(" remaining=%" PRIu64, e->u.cancel.remaining);
            break;
        case LX_EV_BALANCE:
            printf(" amount=%" PRIu64 " available=%" PRIu64 " reserved=%" PRIu64,
                   e->u.balance.amount, e->u.balance.available, e->u.balance.reserved);
            break;
        default:
            break;
        }
        printf("\n");
    }
}

/* Compares the fields the header defines for the event's type. For a
 * REJECTED event: the command's id and account (0 for a market spec), and
 * for an order command also its side and market as given. */
static bool ev_same(const lx_event *a, const lx_event *b)
{
    if (a->type != b->type || a->cmd != b->cmd || a->reason != b->reason)
        return false;
    switch (a->type) {
    case LX_EV_ACCEPTED:
    case LX_EV_REPLACED:
        return a->side == b->side && a->market == b->market && a->id == b->id &&
               a->account == b->account && a->u.order.price == b->u.order.price &&
               a->u.order.qty == b->u.order.qty;
    case LX_EV_FILL:
        return a->side == b->side && a->market == b->market && a->id == b->id &&
               a->account == b->account && a->u.fill.maker == b->u.fill.maker &&
               a->u.fill.maker_account == b->u.fill.maker_account &&
               a->u.fill.price == b->u.fill.price && a->u.fill.qty == b->u.fill.qty &&
               a->u.fill.maker_fee == b->u.fill.maker_fee &&
               a->u.fill.taker_fee == b->u.fill.taker_fee;
    case LX_EV_CANCELLED:
        return a->side == b->side && a->market == b->market && a->id == b->id &&
               a->account == b->account && a->u.cancel.remaining == b->u.cancel.remaining;
    case LX_EV_BALANCE:
        return a->market == b->market && a->id == b->id && a->account == b->account &&
               a->u.balance.amount == b->u.balance.amount &&
               a->u.balance.available == b->u.balance.available &&
               a->u.balance.reserved == b->u.balance.reserved;
    case LX_EV_MARKET:
        return a->market == b->market && a->id == b->id && a->account == b->account;
    case LX_EV_REJECTED:
        if (a->id != b->id || a->account != b->account)
            return false;
        if (a->cmd == LX_CMD_ORDER)
            return a->side == b->side && a->market == b->market;
        return true;
    default:
        return false;
    }
}

/* ---------------------------------------------------------------------------
 * The harness: one engine and one model fed the same commands, compared
 * event by event and checked against each other after every command.
 * ------------------------------------------------------------------------- */

typedef struct balance_list {
    lx_balance *v;
    size_t n, cap;
} balance_list;

typedef struct harness {
    lx_engine *e;
    model m;
    lx_events evs;
    uint64_t net[MAX_ASSETS]; /* deposits minus withdrawals */
    uint64_t index;           /* commands applied so far */
    const char *label;
    uint64_t seed;
    balance_list bl;
    lx_level eb[MAX_DEPTH], ea[MAX_DEPTH], mb[MAX_DEPTH], ma[MAX_DEPTH];
    uint64_t sample; /* a cheap counter to pick orders to inspect */
    uint64_t nev_type[8], nreason[LX_R_COUNT + 1], open_sum;
    size_t base; /* where the last command's events start in evs */
} harness;

static void h_init(harness *h, uint64_t fee_account, const char *label, uint64_t seed)
{
    memset(h, 0, sizeof(*h));
    lx_engine_config cfg = {.fee_account = fee_account};
    assert_int_equal(lx_engine_new(&h->e, &cfg), LX_OK);
    h->m.fee_account = fee_account;
    lx_events_init(&h->evs);
    h->label = label;
    h->seed = seed;
}

static void h_free(harness *h)
{
    lx_engine_free(&h->e);
    assert_null(h->e);
    lx_events_free(&h->evs);
    m_free(&h->m);
    free(h->bl.v);
}

static void h_where(const harness *h)
{
    printf("[%s seed=%" PRIu64 "] after command #%" PRIu64 "\n", h->label, h->seed, h->index);
}

/* The engine appends: its new events start at evs->v[base]. */
static void h_compare_events(harness *h, size_t base, const lx_cmd *cmd, const lx_market_spec *spec)
{
    bool same = h->evs.n == base + h->m.nev;
    for (size_t i = 0; same && i < h->m.nev; i++)
        same = ev_same(&h->evs.v[base + i], &h->m.ev[i]);
    if (same)
        return;
    printf("EVENT MISMATCH ");
    h_where(h);
    if (cmd != NULL)
        print_cmd(cmd);
    else
        print_spec(spec);
    print_events("engine", h->evs.v + base, h->evs.n >= base ? h->evs.n - base : 0);
    print_events("model", h->m.ev, h->m.nev);
    fail_msg("engine events differ from the model's");
}

static int collect_balance(void *arg, const lx_balance *b)
{
    balance_list *l = arg;
    l->v = grow(l->v, &l->cap, l->n + 1, sizeof(*l->v));
    l->v[l->n++] = *b;
    return 0;
}

static void h_check_order(harness *h, uint64_t id)
{
    lx_order_info info;
    memset(&info, 0, sizeof(info));
    size_t i = m_find(&h->m, id);
    lx_err rc = lx_engine_order(h->e, &info, id);
    if (i == NONE) {
        if (rc != LX_ENOTFOUND) {
            h_where(h);
            fail_msg("order %" PRIu64 " is not open in the model but the engine returns %d", id,
                     (int)rc);
        }
        return;
    }
    const m_order *o = &h->m.ord[i];
    if (rc != LX_OK || info.id != o->id || info.account != o->account || info.market != o->market ||
        info.side != o->side || info.tif != LX_GTC || info.stp != o->stp ||
        info.post_only != o->post_only || info.price != o->price || info.qty != o->qty ||
        info.filled != o->filled) {
        h_where(h);
        printf("  engine rc=%d id=%" PRIu64 " account=%" PRIu64 " market=%" PRIu32
               " side=%u tif=%u stp=%u post_only=%d price=%" PRIu64 " qty=%" PRIu64
               " filled=%" PRIu64 "\n",
               (int)rc, info.id, info.account, info.market, info.side, info.tif, info.stp,
               info.post_only, info.price, info.qty, info.filled);
        printf("  model  id=%" PRIu64 " account=%" PRIu64 " market=%" PRIu32
               " side=%u stp=%u post_only=%d price=%" PRIu64 " qty=%" PRIu64 " filled=%" PRIu64
               "\n",
               o->id, o->account, o->market, o->side, o->stp, o->post_only, o->price, o->qty,
               o->filled);
        fail_msg("lx_engine_order differs from the model");
    }
}

static void h_check_depth(harness *h, uint32_t market)
{
    size_t nb = 0, na = 0;
    assert_int_equal(lx_engine_depth(h->e, h->eb, &nb, h->ea, &na, market, MAX_DEPTH), LX_OK);
    size_t mb = m_depth(&h->m, h->mb, market, LX_BUY);
    size_t ma = m_depth(&h->m, h->ma, market, LX_SELL);
    if (nb > 0 && na > 0 && h->eb[0].price >= h->ea[0].price) {
        h_where(h);
        fail_msg("market %" PRIu32 " is crossed: bid %" PRIu64 " >= ask %" PRIu64, market,
                 h->eb[0].price, h->ea[0].price);
    }
    bool same = nb == mb && na == ma;
    for (size_t i = 0; same && i < nb; i++)
        same = h->eb[i].price == h->mb[i].price && h->eb[i].qty == h->mb[i].qty &&
               h->eb[i].orders == h->mb[i].orders;
    for (size_t i = 0; same && i < na; i++)
        same = h->ea[i].price == h->ma[i].price && h->ea[i].qty == h->ma[i].qty &&
               h->ea[i].orders == h->ma[i].orders;
    if (!same) {
        h_where(h);
        printf("  market %" PRIu32 " engine bids/asks %zu/%zu, model %zu/%zu\n", market, nb, na, mb,
               ma);
        for (size_t i = 0; i < nb || i < mb; i++)
            printf("  bid %zu engine %" PRIu64 "x%" PRIu64 "(%" PRIu32 ") model %" PRIu64
                   "x%" PRIu64 "(%" PRIu32 ")\n",
                   i, i < nb ? h->eb[i].price : 0, i < nb ? h->eb[i].qty : 0,
                   i < nb ? h->eb[i].orders : 0, i < mb ? h->mb[i].price : 0,
                   i < mb ? h->mb[i].qty : 0, i < mb ? h->mb[i].orders : 0);
        for (size_t i = 0; i < na || i < ma; i++)
            printf("  ask %zu engine %" PRIu64 "x%" PRIu64 "(%" PRIu32 ") model %" PRIu64
                   "x%" PRIu64 "(%" PRIu32 ")\n",
                   i, i < na ? h->ea[i].price : 0, i < na ? h->ea[i].qty : 0,
                   i < na ? h->ea[i].orders : 0, i < ma ? h->ma[i].price : 0,
                   i < ma ? h->ma[i].qty : 0, i < ma ? h->ma[i].orders : 0);
        fail_msg("depth differs from the model");
    }
}

/* Balances: the engine's list equals the model's (whose reserved part is the
 * header's formula summed over the open orders), every model balance has
 * total >= reserved, and each asset sums to deposits minus withdrawals. */
static void h_check_balances(harness *h)
{
    model *m = &h->m;
    uint64_t *resv = calloc(m->nbal + 1, sizeof(*resv));
    assert_non_null(resv);
    for (size_t i = 0; i < m->nord; i++) {
        const m_order *o = &m->ord[i];
        size_t b = m_bal_find(m, o->account, m_order_asset(m, o->market, o->side));
        LX_ASSERT(b != NONE);
        resv[b] += m_order_reserve(m, o);
    }
    h->bl.n = 0;
    assert_int_equal(lx_engine_foreach_balance(h->e, collect_balance, &h->bl), 0);
    uint64_t sum[MAX_ASSETS] = {0};
    size_t k = 0;
    bool same = true;
    for (size_t i = 0; i < m->nbal && same; i++) {
        if (m->bal[i].total < resv[i]) {
            h_where(h);
            fail_msg("model: account %" PRIu64 " asset %" PRIu32 " reserves more than it holds",
                     m->bal[i].account, m->bal[i].asset);
        }
        if (m->bal[i].total == 0)
            continue;
        const lx_balance *eb = k < h->bl.n ? &h->bl.v[k] : NULL;
        same = eb != NULL && eb->account == m->bal[i].account && eb->asset == m->bal[i].asset &&
               eb->reserved == resv[i] && eb->available == m->bal[i].total - resv[i];
        if (!same) {
            h_where(h);
            printf("  model account=%" PRIu64 " asset=%" PRIu32 " available=%" PRIu64
                   " reserved=%" PRIu64 "\n",
                   m->bal[i].account, m->bal[i].asset, m->bal[i].total - resv[i], resv[i]);
            if (eb != NULL)
                printf("  engine account=%" PRIu64 " asset=%" PRIu32 " available=%" PRIu64
                       " reserved=%" PRIu64 "\n",
                       eb->account, eb->asset, eb->available, eb->reserved);
        }
        k++;
    }
    free(resv);
    if (same && k != h->bl.n) {
        h_where(h);
        printf("  engine lists %zu balances, model %zu\n", h->bl.n, k);
        same = false;
    }
    if (!same)
        fail_msg("balances differ from the model");
    for (size_t i = 0; i < h->bl.n; i++) {
        const lx_balance *b = &h->bl.v[i];
        assert_true(b->asset < m->nasset);
        sum[b->asset] += b->available + b->reserved;
    }
    for (size_t a = 0; a < m->nasset; a++) {
        if (sum[a] != h->net[a]) {
            h_where(h);
            fail_msg("asset %zu: balances sum to %" PRIu64 ", deposits - withdrawals = %" PRIu64, a,
                     sum[a], h->net[a]);
        }
    }
}

static void h_check_markets(harness *h)
{
    const model *m = &h->m;
    for (uint32_t k = 0; k < m->nmk; k++) {
        lx_market_spec info;
        uint32_t id = UINT32_MAX;
        memset(&info, 0, sizeof(info));
        assert_int_equal(lx_engine_market_info(h->e, &info, k), LX_OK);
        assert_memory_equal(info.name, m->mk[k].spec.name, strlen(m->mk[k].spec.name) + 1);
        assert_string_equal(info.base, m->mk[k].spec.base);
        assert_string_equal(info.quote, m->mk[k].spec.quote);
        assert_true(info.lot == m->mk[k].spec.lot && info.tick == m->mk[k].spec.tick &&
                    info.min_qty == m->mk[k].spec.min_qty &&
                    info.maker_fee_bps == m->mk[k].spec.maker_fee_bps &&
                    info.taker_fee_bps == m->mk[k].spec.taker_fee_bps);
        assert_int_equal(lx_engine_market_find(h->e, &id, m->mk[k].spec.name), LX_OK);
        assert_int_equal(id, k);
    }
    lx_market_spec none;
    uint32_t id = 0;
    assert_int_equal(lx_engine_market_info(h->e, &none, (uint32_t)m->nmk), LX_ENOTFOUND);
    assert_int_equal(lx_engine_market_find(h->e, &id, "NO-SUCH"), LX_ENOTFOUND);
    for (uint32_t a = 0; a < m->nasset; a++) {
        const char *sym = lx_engine_asset_symbol(h->e, a);
        assert_non_null(sym);
        assert_string_equal(sym, m->asset[a]);
        assert_int_equal(lx_engine_asset_find(h->e, &id, m->asset[a]), LX_OK);
        assert_int_equal(id, a);
    }
    assert_null(lx_engine_asset_symbol(h->e, (uint32_t)m->nasset));
    assert_int_equal(lx_engine_asset_find(h->e, &id, "NOPE"), LX_ENOTFOUND);
}

/* Depth cut to one or two levels, and of a market that does not exist. */
static void h_check_small_depth(harness *h)
{
    for (uint32_t k = 0; k < h->m.nmk; k++) {
        size_t max = 1 + (size_t)(h->index % 2), nb = 99, na = 99;
        assert_int_equal(lx_engine_depth(h->e, h->eb, &nb, h->ea, &na, k, max), LX_OK);
        size_t mb = m_depth(&h->m, h->mb, k, LX_BUY);
        size_t ma = m_depth(&h->m, h->ma, k, LX_SELL);
        assert_int_equal(nb, mb < max ? mb : max);
        assert_int_equal(na, ma < max ? ma : max);
        for (size_t i = 0; i < nb; i++)
            assert_true(h->eb[i].price == h->mb[i].price && h->eb[i].qty == h->mb[i].qty);
        for (size_t i = 0; i < na; i++)
            assert_true(h->ea[i].price == h->ma[i].price && h->ea[i].qty == h->ma[i].qty);
    }
    size_t nb = 0, na = 0;
    assert_int_equal(lx_engine_depth(h->e, h->eb, &nb, h->ea, &na, (uint32_t)h->m.nmk, 4),
                     LX_ENOTFOUND);
}

static void h_check_state(harness *h)
{
    model *m = &h->m;
    if (lx_engine_order_count(h->e) != m->nord) {
        h_where(h);
        fail_msg("engine has %zu open orders, model %zu", lx_engine_order_count(h->e), m->nord);
    }
    assert_int_equal(lx_engine_market_count(h->e), m->nmk);
    assert_int_equal(lx_engine_asset_count(h->e), m->nasset);
    for (uint32_t k = 0; k < m->nmk; k++)
        h_check_depth(h, k);
    h_check_balances(h);
    if (h->index % 16 == 0)
        h_check_small_depth(h);
    for (int j = 0; j < 2 && m->nbal > 0; j++) {
        const m_balance *mb = &m->bal[(h->sample++ * 104729u) % m->nbal];
        lx_balance b;
        uint64_t resv = m_reserved(m, mb->account, mb->asset);
        assert_int_equal(lx_engine_balance(h->e, &b, mb->account, mb->asset), LX_OK);
        if (b.available != mb->total - resv || b.reserved != resv) {
            h_where(h);
            fail_msg("lx_engine_balance(%" PRIu64 ", %" PRIu32 ") differs from the model",
                     mb->account, mb->asset);
        }
    }
    /* Every order the command touched, and two others. */
    for (size_t i = 0; i < m->nev; i++) {
        const lx_event *ev = &m->ev[i];
        if (ev->type == LX_EV_FILL)
            h_check_order(h, ev->u.fill.maker);
        if (ev->id != 0)
            h_check_order(h, ev->id);
    }
    for (int j = 0; j < 2 && m->nord > 0; j++)
        h_check_order(h, m->ord[(h->sample++ * 7919u) % m->nord].id);
}

static void h_apply(harness *h, const lx_cmd *cmd)
{
    /* Now and then leave earlier events in the list: the engine appends. */
    if (h->evs.n > 64 || h->index % 3 != 0)
        lx_events_clear(&h->evs);
    size_t base = h->evs.n;
    h->base = base;
    h->m.nev = 0;
    assert_int_equal(lx_engine_apply(h->e, &h->evs, cmd), LX_OK);
    m_apply(&h->m, cmd);
    h->index++;
    h_compare_events(h, base, cmd, NULL);
    for (size_t i = 0; i < h->m.nev; i++) {
        h->nev_type[h->m.ev[i].type & 7]++;
        h->nreason[h->m.ev[i].reason < LX_R_COUNT ? h->m.ev[i].reason : LX_R_COUNT]++;
    }
    h->open_sum += h->m.nord;
    if (h->m.nev == 1 && h->m.ev[0].type == LX_EV_BALANCE) {
        uint32_t a = h->m.ev[0].market;
        if (cmd->type == LX_CMD_DEPOSIT)
            h->net[a] += cmd->u.transfer.amount;
        else
            h->net[a] -= cmd->u.transfer.amount;
    }
    h_check_state(h);
}

static void h_add_market(harness *h, const lx_market_spec *spec)
{
    lx_events_clear(&h->evs);
    h->base = 0;
    h->m.nev = 0;
    assert_int_equal(lx_engine_add_market(h->e, &h->evs, spec), LX_OK);
    m_add_market(&h->m, spec);
    h->index++;
    h_compare_events(h, 0, NULL, spec);
    h_check_state(h);
    h_check_markets(h);
}

/* Snapshot, restore into a new engine, check snapshot(restore(s)) == s, and
 * go on with the restored engine. Truncated snapshots must be refused. */
static void h_roundtrip(harness *h)
{
    uint8_t *s1 = NULL, *s2 = NULL;
    size_t n1 = 0, n2 = 0;
    lx_engine *e2 = NULL;
    assert_int_equal(lx_engine_snapshot(h->e, &s1, &n1), LX_OK);
    assert_int_equal(lx_engine_restore(&e2, s1, n1), LX_OK);
    assert_int_equal(lx_engine_snapshot(e2, &s2, &n2), LX_OK);
    assert_int_equal(n1, n2);
    assert_memory_equal(s1, s2, n1);
    size_t cuts[3] = {n1 / 2, n1 > 0 ? n1 - 1 : 0, n1 / 7};
    for (int i = 0; i < 3; i++) {
        /* An exact-size copy so that a read past len is caught. */
        uint8_t *cut = malloc(cuts[i] + 1);
        assert_non_null(cut);
        memcpy(cut, s1, cuts[i]);
        lx_engine *e3 = NULL;
        lx_err rc = lx_engine_restore(&e3, cut, cuts[i]);
        free(cut);
        if (rc == LX_OK)
            lx_engine_free(&e3);
        assert_true(rc == LX_EFORMAT || rc == LX_ECORRUPT);
    }
    /* Damaged snapshots: refused, or accepted only if canonical. */
    for (int i = 0; i < 24 && n1 > 0; i++) {
        uint8_t *bad = malloc(n1);
        assert_non_null(bad);
        memcpy(bad, s1, n1);
        size_t at = (size_t)((h->sample++ * 2654435761u + (uint64_t)i * 40503u) % n1);
        bad[at] ^= (uint8_t)(1u << (i % 8));
        lx_engine *e3 = NULL;
        lx_err rc = lx_engine_restore(&e3, bad, n1);
        if (rc == LX_OK) {
            uint8_t *s3 = NULL;
            size_t n3 = 0;
            assert_int_equal(lx_engine_snapshot(e3, &s3, &n3), LX_OK);
            if (n3 != n1 || memcmp(s3, bad, n1) != 0) {
                h_where(h);
                fail_msg("restore accepted a snapshot with byte %zu flipped that is not "
                         "canonical",
                         at);
            }
            free(s3);
            lx_engine_free(&e3);
        } else if (rc != LX_EFORMAT && rc != LX_ECORRUPT) {
            h_where(h);
            fail_msg("restore of a damaged snapshot returned %d", (int)rc);
        }
        free(bad);
    }
    free(s1);
    free(s2);
    lx_engine_free(&h->e);
    h->e = e2;
    h->m.nev = 0;
    h_check_state(h);
}

/* ---------------------------------------------------------------------------
 * Command builders.
 * ------------------------------------------------------------------------- */

static lx_cmd transfer(uint8_t type, uint64_t account, const char *asset, uint64_t amount)
{
    lx_cmd c;
    memset(&c, 0, sizeof(c));
    c.type = type;
    c.u.transfer.account = account;
    c.u.transfer.amount = amount;
    snprintf(c.u.transfer.asset, sizeof(c.u.transfer.asset), "%s", asset);
    return c;
}

static lx_cmd order(uint64_t id, uint64_t account, uint32_t market, uint8_t side, uint8_t type,
                    uint8_t tif, uint8_t stp, bool post_only, uint64_t price, uint64_t qty)
{
    lx_cmd c;
    memset(&c, 0, sizeof(c));
    c.type = LX_CMD_ORDER;
    c.u.order = (lx_order_cmd){.id = id,
                               .account = account,
                               .market = market,
                               .side = side,
                               .type = type,
                               .tif = tif,
                               .stp = stp,
                               .post_only = post_only,
                               .price = price,
                               .qty = qty};
    return c;
}

static lx_cmd limit(uint64_t id, uint64_t account, uint32_t market, uint8_t side, uint8_t tif,
                    uint8_t stp, uint64_t price, uint64_t qty)
{
    return order(id, account, market, side, LX_LIMIT, tif, stp, false, price, qty);
}

static lx_cmd cancel(uint64_t id, uint64_t account)
{
    lx_cmd c;
    memset(&c, 0, sizeof(c));
    c.type = LX_CMD_CANCEL;
    c.u.cancel.id = id;
    c.u.cancel.account = account;
    return c;
}

static lx_cmd replace(uint64_t id, uint64_t account, uint64_t price, uint64_t qty)
{
    lx_cmd c;
    memset(&c, 0, sizeof(c));
    c.type = LX_CMD_REPLACE;
    c.u.replace = (lx_replace_cmd){.id = id, .account = account, .price = price, .qty = qty};
    return c;
}

static lx_market_spec spec(const char *name, const char *base, const char *quote, uint64_t lot,
                           uint64_t tick, uint64_t min_qty, uint32_t maker, uint32_t taker)
{
    lx_market_spec s;
    memset(&s, 0, sizeof(s));
    snprintf(s.name, sizeof(s.name), "%s", name);
    snprintf(s.base, sizeof(s.base), "%s", base);
    snprintf(s.quote, sizeof(s.quote), "%s", quote);
    s.lot = lot;
    s.tick = tick;
    s.min_qty = min_qty;
    s.maker_fee_bps = maker;
    s.taker_fee_bps = taker;
    return s;
}

/* ---------------------------------------------------------------------------
 * The random command generator.
 * ------------------------------------------------------------------------- */

#define NACCOUNTS 8
#define EMPTY_ACCOUNT 50 /* never funded */
#define RECENT 256

typedef struct run_config {
    const char *label;
    uint64_t fee_account;
    size_t nmarkets;
    lx_market_spec markets[4];
    uint64_t mid[4]; /* starting mid of each market, in ticks */
    uint64_t accounts[NACCOUNTS];
    bool has_late; /* a market added halfway through */
    lx_market_spec late;
    uint64_t late_mid;
    bool walk; /* every crossing taker counts the orders it touches first */
} run_config;

typedef struct gen {
    rng r;
    uint64_t mid[MAX_MARKETS];
    uint64_t accounts[NACCOUNTS + 1];
    size_t naccounts;
    uint64_t next_id;
    uint64_t recent[RECENT];
    size_t nrecent;
    uint64_t scale[MAX_ASSETS]; /* a typical deposit of each asset */
} gen;

static void gen_market_added(gen *g, const model *m, uint64_t mid)
{
    const m_market *mk = &m->mk[m->nmk - 1];
    g->mid[m->nmk - 1] = mid;
    uint64_t q = mk->spec.min_qty + 20;
    uint64_t quote = mid * mk->spec.tick * q * 8, base = q * mk->spec.lot * 8;
    if (g->scale[mk->quote] < quote)
        g->scale[mk->quote] = quote;
    if (g->scale[mk->base] < base)
        g->scale[mk->base] = base;
}

static uint64_t gen_account(gen *g)
{
    if (rng_pct(&g->r, 2))
        return EMPTY_ACCOUNT;
    return g->accounts[rng_below(&g->r, g->naccounts)];
}

static uint64_t gen_recent(gen *g)
{
    return g->nrecent == 0 ? 1 : g->recent[rng_below(&g->r, g->nrecent)];
}

static uint64_t gen_fresh_id(gen *g)
{
    uint64_t id = g->next_id++;
    if (rng_pct(&g->r, 3))
        id = rng_next(&g->r) | 1; /* the whole 64-bit range */
    if (g->nrecent < RECENT)
        g->recent[g->nrecent++] = id;
    else
        g->recent[rng_below(&g->r, RECENT)] = id;
    return id;
}

static lx_cmd gen_transfer(gen *g, const model *m)
{
    uint8_t type = rng_pct(&g->r, 70) ? LX_CMD_DEPOSIT : LX_CMD_WITHDRAW;
    uint64_t account = gen_account(g);
    uint32_t asset = (uint32_t)rng_below(&g->r, m->nasset);
    /* Keep each asset's sum far below 2^63 so that no fill can overflow a
     * balance: the header leaves that case open. */
    uint64_t sum = 0;
    for (size_t i = 0; i < m->nbal; i++)
        if (m->bal[i].asset == asset)
            sum += m->bal[i].total;
    if (sum > ((uint64_t)1 << 61) - g->scale[asset])
        type = LX_CMD_WITHDRAW;
    const char *sym = m->asset[asset];
    uint64_t amount;
    uint64_t avail = m_available(m, account, asset);
    if (type == LX_CMD_DEPOSIT)
        amount = 1 + rng_below(&g->r, g->scale[asset]);
    else
        amount = rng_pct(&g->r, 10) ? avail : rng_below(&g->r, avail + avail / 4 + 2);
    uint64_t r = rng_below(&g->r, 100);
    if (r < 2) {
        sym = "NOPE";
    } else if (r < 4) {
        amount = 0;
    } else if (r < 5 && type == LX_CMD_DEPOSIT) {
        /* Just over the top: available + reserved + amount = 2^63. */
        amount = I63 - m_total(m, account, asset) + 1 + rng_below(&g->r, 2);
    } else if (r < 6) {
        amount = rng_pct(&g->r, 50) ? UINT64_MAX : I63 + 1;
    }
    return transfer(type, account, sym, amount);
}

static lx_cmd gen_order(gen *g, const model *m)
{
    rng *r = &g->r;
    uint64_t id = rng_pct(r, 6) ? gen_recent(g) : gen_fresh_id(g);
    uint64_t account = gen_account(g);
    uint32_t market = (uint32_t)rng_below(r, m->nmk);
    const lx_market_spec *s = &m->mk[market].spec;
    uint8_t side = (uint8_t)rng_below(r, 2);
    uint8_t type = rng_pct(r, 15) ? LX_MARKET : LX_LIMIT;
    uint64_t t = rng_below(r, 100);
    uint8_t tif = t < 55 ? LX_GTC : t < 80 ? LX_IOC : LX_FOK;
    uint8_t stp = (uint8_t)rng_below(r, 3);
    bool post_only = type == LX_LIMIT && rng_pct(r, 10);
    uint64_t mid = g->mid[market], ticks;
    if (type == LX_LIMIT && rng_pct(r, 70)) {
        /* Mostly passive: rests on its own side of the mid, building depth. */
        uint64_t off = rng_below(r, 12);
        ticks = side == LX_BUY ? (mid + 1 > off ? mid + 1 - off : 1)
                               : (mid + off > 1 ? mid + off - 1 : 1);
    } else if (type == LX_LIMIT) {
        uint64_t off = rng_below(r, 13);
        ticks = mid + off > 6 ? mid + off - 6 : 1;
    } else if (side == LX_BUY) {
        ticks = rng_pct(r, 10) ? mid * 3 : mid + rng_below(r, 12);
    } else {
        uint64_t off = rng_below(r, 12);
        ticks = rng_pct(r, 10) || off >= mid ? 1 : mid - off;
    }
    uint64_t price = ticks * s->tick;
    uint64_t qty = s->min_qty + (rng_pct(r, 10) ? rng_below(r, 80) : rng_below(r, 12));

    if (rng_pct(r, 7)) {
        switch (rng_below(r, 16)) {
        case 0:
            id = 0;
            break;
        case 1:
            market = rng_pct(r, 20) ? UINT32_MAX : (uint32_t)(m->nmk + rng_below(r, 3));
            break;
        case 2:
            price = s->tick > 1 ? price + 1 + rng_below(r, s->tick - 1) : 0;
            break;
        case 3:
            price = 0;
            break;
        case 4:
            qty = s->min_qty > 1 ? rng_below(r, s->min_qty) : 0;
            break;
        case 5:
            side = (uint8_t)(2 + rng_below(r, 3));
            break;
        case 6:
            type = 2;
            break;
        case 7:
            type = LX_LIMIT;
            tif = 3;
            break;
        case 8:
            stp = 3;
            break;
        case 9:
            type = LX_MARKET;
            post_only = true;
            break;
        case 10:
            if (m->nord > 0)
                id = m->ord[rng_below(r, m->nord)].id;
            break;
        case 11:
            /* The notional p*q overflows. */
            price = (I63 / s->tick) * s->tick;
            qty = s->min_qty > 2 ? s->min_qty : 2;
            break;
        case 12:
            /* q*lot overflows (and for lot == 1, p*q). */
            qty = I63 / s->lot + 1 + rng_below(r, 5);
            break;
        case 13:
            /* p*q fits but a buy's reservation with fees may not. */
            side = LX_BUY;
            qty = s->min_qty;
            price = (I63 / qty / s->tick) * s->tick;
            break;
        case 14:
            qty = UINT64_MAX - rng_below(r, 3);
            break;
        default:
            price = UINT64_MAX - UINT64_MAX % s->tick;
            break;
        }
    }
    return order(id, account, market, side, type, tif, stp, post_only, price, qty);
}

static lx_cmd gen_cancel(gen *g, const model *m)
{
    rng *r = &g->r;
    uint64_t x = rng_below(r, 100);
    if (m->nord == 0 || x < 6)
        return cancel(g->next_id + 1000000 + rng_below(r, 1000), gen_account(g));
    if (x < 12)
        return cancel(gen_recent(g), gen_account(g));
    const m_order *o = &m->ord[rng_below(r, m->nord)];
    if (x < 20)
        return cancel(o->id, gen_account(g));
    return cancel(o->id, o->account);
}

static lx_cmd gen_replace(gen *g, const model *m)
{
    rng *r = &g->r;
    if (m->nord == 0)
        return replace(g->next_id + 5, 1, 1, 1);
    const m_order *o = &m->ord[rng_below(r, m->nord)];
    const lx_market_spec *s = &m->mk[o->market].spec;
    uint64_t mid = g->mid[o->market];
    uint64_t x = rng_below(r, 100);
    uint64_t price = o->price, qty;
    if (x < 40) {
        qty = 1 + rng_below(r, o->qty);
        if (qty < s->min_qty && rng_pct(r, 80))
            qty = s->min_qty;
    } else if (x < 55) {
        qty = o->qty + 1 + rng_below(r, 10);
    } else if (x < 90) {
        uint64_t off = rng_below(r, 13);
        price = (mid + off > 6 ? mid + off - 6 : 1) * s->tick;
        qty = s->min_qty + rng_below(r, 15);
    } else {
        qty = o->qty;
        switch (rng_below(r, 6)) {
        case 0:
            return replace(o->id, gen_account(g), price, qty);
        case 1:
            return replace(g->next_id + 777, o->account, price, qty);
        case 2:
            price = s->tick > 1 ? price + 1 : 0;
            break;
        case 3:
            qty = 0;
            break;
        case 4:
            price = (I63 / s->tick) * s->tick;
            qty = 2 + s->min_qty;
            break;
        default:
            qty = o->qty * 50 + 1000;
            break;
        }
    }
    return replace(o->id, o->account, price, qty);
}

static lx_cmd gen_cmd(gen *g, const model *m)
{
    uint64_t x = rng_below(&g->r, 1000);
    uint64_t cancel_below = m->nord > 300 ? 500 : m->nord > 150 ? 150 : m->nord > 50 ? 90 : 30;
    if (x < 60)
        return gen_transfer(g, m);
    if (x < 60 + cancel_below)
        return gen_cancel(g, m);
    if (x < 120 + cancel_below)
        return gen_replace(g, m);
    return gen_order(g, m);
}

static uint64_t env_u64(const char *name, uint64_t dflt)
{
    const char *v = getenv(name);
    if (v == NULL || *v == '\0')
        return dflt;
    char *end = NULL;
    unsigned long long x = strtoull(v, &end, 0);
    if (end == v || *end != '\0')
        return dflt;
    return (uint64_t)x;
}

static void add_bad_markets(harness *h)
{
    lx_market_spec bad[] = {
        spec("X0", "XA", "XB", 0, 1, 1, 0, 0),     spec("X1", "XA", "XB", 1, 0, 1, 0, 0),
        spec("X2", "XA", "XB", 1, 1, 0, 0, 0),     spec("X3", "XA", "XB", 1, 1, 1, 10001, 0),
        spec("X4", "XA", "XB", 1, 1, 1, 0, 10001), spec("X5", "XA", "XA", 1, 1, 1, 0, 0),
        spec("", "XA", "XB", 1, 1, 1, 0, 0),
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        h_add_market(h, &bad[i]);
}

static void run_random(const run_config *cfg, uint64_t seed, uint64_t ncmds)
{
    harness *h = calloc(1, sizeof(*h));
    gen *g = calloc(1, sizeof(*g));
    assert_non_null(h);
    assert_non_null(g);
    printf("random run %s: seed=%" PRIu64 " commands=%" PRIu64 "\n", cfg->label, seed, ncmds);
    h_init(h, cfg->fee_account, cfg->label, seed);
    if (cfg->walk)
        h->e->walk_over = 0;
    g->r.s = seed;
    g->next_id = 1;
    for (size_t i = 0; i < NACCOUNTS; i++)
        g->accounts[g->naccounts++] = cfg->accounts[i] ? cfg->accounts[i] : i + 1;
    add_bad_markets(h);
    for (size_t i = 0; i < cfg->nmarkets; i++) {
        h_add_market(h, &cfg->markets[i]);
        gen_market_added(g, &h->m, cfg->mid[i]);
    }
    h_add_market(h, &cfg->markets[0]); /* duplicate_market */
    uint64_t snap_every = ncmds / 3 < 100000 ? ncmds / 3 + 1 : 100000;
    for (uint64_t i = 0; i < ncmds; i++) {
        if (cfg->has_late && i == ncmds / 2) {
            h_add_market(h, &cfg->late);
            gen_market_added(g, &h->m, cfg->late_mid);
        }
        if (rng_pct(&g->r, 2)) {
            uint32_t k = (uint32_t)rng_below(&g->r, h->m.nmk);
            if (rng_pct(&g->r, 50))
                g->mid[k]++;
            else if (g->mid[k] > 8)
                g->mid[k]--;
        }
        lx_cmd c = gen_cmd(g, &h->m);
        h_apply(h, &c);
        if ((i + 1) % snap_every == 0)
            h_roundtrip(h);
    }
    h_roundtrip(h);
    printf("random run %s: done, %zu open orders (mean %" PRIu64 "), %zu balances\n", cfg->label,
           h->m.nord, ncmds ? h->open_sum / ncmds : 0, h->m.nbal);
    for (int t = 0; t < 7; t++)
        printf("  %s %" PRIu64, ev_names[t], h->nev_type[t]);
    printf("\n ");
    for (int k = 1; k <= LX_R_COUNT; k++)
        if (h->nreason[k] != 0)
            printf(" %s %" PRIu64, lx_reason_str((lx_reason)k), h->nreason[k]);
    printf("\n");
    h_free(h);
    free(h);
    free(g);
}

static void test_random(void **state)
{
    (void)state;
    uint64_t seed = env_u64("LX_SEED", 20240611);
    uint64_t total = env_u64("LX_RANDOM_CMDS", 1000000);
    printf("LX_SEED=%" PRIu64 " LX_RANDOM_CMDS=%" PRIu64 "\n", seed, total);
    run_config cfgs[5];
    memset(cfgs, 0, sizeof(cfgs));
    /* Fees on some markets only, odd bps, lots and ticks above one. */
    cfgs[0].label = "mixed";
    cfgs[0].fee_account = 100;
    cfgs[0].nmarkets = 3;
    cfgs[0].markets[0] = spec("AAA-USD", "AAA", "USD", 1, 1, 1, 0, 0);
    cfgs[0].markets[1] = spec("BBB-USD", "BBB", "USD", 10, 5, 3, 7, 25);
    cfgs[0].markets[2] = spec("AAA-BBB", "AAA", "BBB", 3, 2, 2, 25, 7);
    cfgs[0].mid[0] = 1000;
    cfgs[0].mid[1] = 200;
    cfgs[0].mid[2] = 50;
    cfgs[0].has_late = true;
    cfgs[0].late = spec("LONGNAME-XYZ123", "ELEVENCHARS", "AAA", 2, 3, 1, 0, 13);
    cfgs[0].late_mid = 40;
    /* The fee account trades; tiny prices so per-fill rounding dominates. */
    cfgs[1].label = "fee-trader";
    cfgs[1].fee_account = 3;
    cfgs[1].nmarkets = 2;
    cfgs[1].markets[0] = spec("TIN-USD", "TIN", "USD", 1, 1, 1, 7, 25);
    cfgs[1].markets[1] = spec("LOT-USD", "LOT", "USD", 1000, 1, 5, 25, 0);
    cfgs[1].mid[0] = 12;
    cfgs[1].mid[1] = 9;
    /* Extreme fees and big prices. */
    cfgs[2].label = "extreme";
    cfgs[2].fee_account = UINT64_MAX;
    cfgs[2].accounts[6] = (uint64_t)1 << 63;
    cfgs[2].accounts[7] = UINT64_MAX;
    cfgs[2].nmarkets = 3;
    cfgs[2].markets[0] = spec("BIG-USD", "BIG", "USD", 7, 1000, 1, 9999, 10000);
    cfgs[2].markets[1] = spec("ZRO-USD", "ZRO", "USD", 1, 10, 4, 0, 0);
    cfgs[2].markets[2] = spec("ONE-BIG", "ONE", "BIG", 5, 1, 1, 1, 1);
    cfgs[2].mid[0] = 1000000;
    cfgs[2].mid[1] = 30;
    cfgs[2].mid[2] = 20;
    /* One market, crowded: deep queues at few prices. */
    cfgs[3].label = "crowded";
    cfgs[3].fee_account = 100;
    cfgs[3].nmarkets = 1;
    cfgs[3].markets[0] = spec("ONLY-USD", "ONLY", "USD", 4, 25, 2, 3, 11);
    cfgs[3].mid[0] = 10;
    cfgs[3].has_late = true;
    cfgs[3].late = spec("USD-ONLY", "USD", "ONLY", 1, 1, 1, 5, 5);
    cfgs[3].late_mid = 100;
    /* Notionals near 1e16 with fees near 10000 bps: n * bps needs 128 bits. */
    cfgs[4].label = "huge";
    cfgs[4].fee_account = 1;
    cfgs[4].nmarkets = 2;
    cfgs[4].markets[0] = spec("HUGE-USD", "HUGE", "USD", 1, 1000000000000ULL, 1, 9999, 5000);
    cfgs[4].markets[1] = spec("SMALL-USD", "SMALL", "USD", 1, 1, 1, 7, 25);
    cfgs[4].mid[0] = 1000;
    cfgs[4].mid[1] = 500;
    /* Two of the runs take the other way to make room for a taker's events
     * (engine.c prepare): counting the orders it will touch first. */
    cfgs[1].walk = true;
    cfgs[3].walk = true;
    uint64_t weights[5] = {30, 20, 20, 15, 15};
    for (size_t i = 0; i < 5; i++)
        run_random(&cfgs[i], seed + i, total * weights[i] / 100);
}

/* ---------------------------------------------------------------------------
 * Targeted scenarios. Each runs through the same harness (so the model and
 * the invariants are checked) and also asserts the expected outcome itself.
 * ------------------------------------------------------------------------- */

static harness *scenario(uint64_t fee_account, const lx_market_spec *s)
{
    harness *h = calloc(1, sizeof(*h));
    assert_non_null(h);
    h_init(h, fee_account, "scenario", 0);
    h_add_market(h, s);
    return h;
}

static void scenario_end(harness *h)
{
    h_roundtrip(h);
    h_free(h);
    free(h);
}

static const lx_event *ev_at(harness *h, size_t i)
{
    assert_true(h->base + i < h->evs.n);
    return &h->evs.v[h->base + i];
}

static void fund(harness *h, uint64_t account, const char *asset, uint64_t amount)
{
    lx_cmd c = transfer(LX_CMD_DEPOSIT, account, asset, amount);
    h_apply(h, &c);
    assert_int_equal(ev_at(h, 0)->type, LX_EV_BALANCE);
}

static void run(harness *h, lx_cmd c)
{
    h_apply(h, &c);
}

static void expect_types(harness *h, const uint8_t *types, size_t n)
{
    assert_int_equal(h->evs.n - h->base, n);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(h->evs.v[h->base + i].type, types[i]);
}

static void expect_balance(harness *h, uint64_t account, uint32_t asset, uint64_t available,
                           uint64_t reserved)
{
    lx_balance b;
    assert_int_equal(lx_engine_balance(h->e, &b, account, asset), LX_OK);
    assert_int_equal(b.available, available);
    assert_int_equal(b.reserved, reserved);
}

/* Asks: X 3@100, T 4@101 (own), X 5@102. */
static harness *own_order_in_the_way(void)
{
    lx_market_spec s = spec("A-U", "A", "U", 1, 1, 1, 0, 0);
    harness *h = scenario(99, &s);
    fund(h, 1, "A", 100);
    fund(h, 2, "A", 100);
    fund(h, 2, "U", 100000);
    run(h, limit(1, 1, 0, LX_SELL, LX_GTC, 0, 100, 3));
    run(h, limit(2, 2, 0, LX_SELL, LX_GTC, 0, 101, 4));
    run(h, limit(3, 1, 0, LX_SELL, LX_GTC, 0, 102, 5));
    return h;
}

static void test_stp_expire_both_mid_sweep(void **state)
{
    (void)state;
    harness *h = own_order_in_the_way();
    run(h, limit(10, 2, 0, LX_BUY, LX_GTC, LX_STP_EXPIRE_BOTH, 102, 20));
    const uint8_t want[] = {LX_EV_ACCEPTED, LX_EV_FILL, LX_EV_CANCELLED, LX_EV_CANCELLED};
    expect_types(h, want, 4);
    assert_int_equal(ev_at(h, 1)->u.fill.maker, 1);
    assert_int_equal(ev_at(h, 1)->u.fill.qty, 3);
    assert_int_equal(ev_at(h, 2)->id, 2);
    assert_int_equal(ev_at(h, 2)->reason, LX_R_STP);
    assert_int_equal(ev_at(h, 2)->u.cancel.remaining, 4);
    assert_int_equal(ev_at(h, 3)->id, 10);
    assert_int_equal(ev_at(h, 3)->reason, LX_R_STP);
    assert_int_equal(ev_at(h, 3)->u.cancel.remaining, 17);
    assert_int_equal(lx_engine_order_count(h->e), 1); /* order 3 is untouched */
    expect_balance(h, 2, 1, 100000 - 300, 0);
    expect_balance(h, 2, 0, 103, 0);
    scenario_end(h);
}

static void test_stp_expire_taker_gtc(void **state)
{
    (void)state;
    harness *h = own_order_in_the_way();
    run(h, limit(10, 2, 0, LX_BUY, LX_GTC, LX_STP_EXPIRE_TAKER, 102, 20));
    const uint8_t want[] = {LX_EV_ACCEPTED, LX_EV_FILL, LX_EV_CANCELLED};
    expect_types(h, want, 3);
    assert_int_equal(ev_at(h, 2)->id, 10);
    assert_int_equal(ev_at(h, 2)->u.cancel.remaining, 17);
    assert_int_equal(lx_engine_order_count(h->e), 2); /* orders 2 and 3 */
    scenario_end(h);
}

static void test_fok_own_orders(void **state)
{
    (void)state;
    /* expire_maker: own orders are not liquidity, 3 + 5 is enough for 8. */
    harness *h = own_order_in_the_way();
    run(h, limit(10, 2, 0, LX_BUY, LX_FOK, LX_STP_EXPIRE_MAKER, 102, 8));
    const uint8_t want[] = {LX_EV_ACCEPTED, LX_EV_FILL, LX_EV_CANCELLED, LX_EV_FILL};
    expect_types(h, want, 4);
    assert_int_equal(ev_at(h, 2)->id, 2);
    assert_int_equal(ev_at(h, 3)->u.fill.qty, 5);
    assert_int_equal(lx_engine_order_count(h->e), 0);
    scenario_end(h);

    /* expire_maker: 9 is more than the 8 others offer. */
    h = own_order_in_the_way();
    run(h, limit(10, 2, 0, LX_BUY, LX_FOK, LX_STP_EXPIRE_MAKER, 102, 9));
    assert_int_equal(h->evs.n - h->base, 1);
    assert_int_equal(ev_at(h, 0)->reason, LX_R_FOK_UNFILLABLE);
    assert_int_equal(lx_engine_order_count(h->e), 3);
    scenario_end(h);

    for (uint8_t stp = LX_STP_EXPIRE_TAKER; stp <= LX_STP_EXPIRE_BOTH; stp++) {
        /* The match would stop at the own order after 3 lots. */
        h = own_order_in_the_way();
        run(h, limit(10, 2, 0, LX_BUY, LX_FOK, stp, 102, 8));
        assert_int_equal(h->evs.n - h->base, 1);
        assert_int_equal(ev_at(h, 0)->type, LX_EV_REJECTED);
        assert_int_equal(ev_at(h, 0)->reason, LX_R_FOK_UNFILLABLE);
        assert_int_equal(lx_engine_order_count(h->e), 3);
        expect_balance(h, 2, 1, 100000, 0);
        /* 3 lots fill before the own order is reached, which stays. */
        run(h, limit(11, 2, 0, LX_BUY, LX_FOK, stp, 102, 3));
        const uint8_t want3[] = {LX_EV_ACCEPTED, LX_EV_FILL};
        expect_types(h, want3, 2);
        assert_int_equal(lx_engine_order_count(h->e), 2);
        scenario_end(h);
    }
}

static void test_replace_priority(void **state)
{
    (void)state;
    lx_market_spec s = spec("A-U", "A", "U", 1, 1, 1, 0, 0);
    harness *h = scenario(99, &s);
    fund(h, 1, "U", 10000);
    fund(h, 2, "U", 10000);
    fund(h, 3, "A", 100);
    run(h, limit(1, 1, 0, LX_BUY, LX_GTC, 0, 50, 5));
    run(h, limit(2, 2, 0, LX_BUY, LX_GTC, 0, 50, 5));
    /* Same price, larger qty: loses priority behind order 2. */
    run(h, replace(1, 1, 50, 8));
    const uint8_t lose[] = {LX_EV_CANCELLED, LX_EV_ACCEPTED};
    expect_types(h, lose, 2);
    assert_int_equal(ev_at(h, 0)->reason, LX_R_REPLACE);
    assert_int_equal(ev_at(h, 0)->u.cancel.remaining, 5);
    assert_int_equal(ev_at(h, 1)->u.order.qty, 8);
    expect_balance(h, 1, 1, 10000 - 400, 400);
    /* Same price, smaller qty: keeps priority. */
    run(h, replace(2, 2, 50, 4));
    const uint8_t keep[] = {LX_EV_REPLACED};
    expect_types(h, keep, 1);
    assert_int_equal(ev_at(h, 0)->u.order.qty, 4);
    run(h, limit(3, 3, 0, LX_SELL, LX_IOC, 0, 50, 6));
    const uint8_t fills[] = {LX_EV_ACCEPTED, LX_EV_FILL, LX_EV_FILL};
    expect_types(h, fills, 3);
    assert_int_equal(ev_at(h, 1)->u.fill.maker, 2);
    assert_int_equal(ev_at(h, 1)->u.fill.qty, 4);
    assert_int_equal(ev_at(h, 2)->u.fill.maker, 1);
    assert_int_equal(ev_at(h, 2)->u.fill.qty, 2);
    /* A replace that crosses matches like a new GTC order. */
    run(h, limit(4, 3, 0, LX_SELL, LX_GTC, 0, 60, 10));
    run(h, replace(1, 1, 60, 12));
    const uint8_t cross[] = {LX_EV_CANCELLED, LX_EV_ACCEPTED, LX_EV_FILL};
    expect_types(h, cross, 3);
    assert_int_equal(ev_at(h, 2)->u.fill.qty, 10);
    assert_int_equal(ev_at(h, 2)->cmd, LX_CMD_REPLACE);
    scenario_end(h);
}

static void test_market_buy_refund_with_fees(void **state)
{
    (void)state;
    lx_market_spec s = spec("A-U", "A", "U", 1, 1, 1, 7, 25);
    harness *h = scenario(99, &s);
    fund(h, 1, "A", 10);
    /* 10 lots at worst price 150 reserve 1500 + ceil(3.75) + 10 = 1514. */
    fund(h, 2, "U", 1514);
    run(h, limit(1, 1, 0, LX_SELL, LX_GTC, 0, 100, 4));
    run(h, order(2, 2, 0, LX_BUY, LX_MARKET, LX_GTC, 0, false, 150, 11));
    assert_int_equal(ev_at(h, 0)->reason, LX_R_INSUFFICIENT_BALANCE);
    run(h, order(2, 2, 0, LX_BUY, LX_MARKET, LX_FOK, 0, false, 150, 10));
    const uint8_t want[] = {LX_EV_ACCEPTED, LX_EV_FILL, LX_EV_CANCELLED};
    expect_types(h, want, 3);
    /* n = 400: taker fee ceil(1.0) = 1, maker fee ceil(0.28) = 1. */
    assert_int_equal(ev_at(h, 1)->u.fill.taker_fee, 1);
    assert_int_equal(ev_at(h, 1)->u.fill.maker_fee, 1);
    assert_int_equal(ev_at(h, 2)->reason, LX_R_MARKET);
    assert_int_equal(ev_at(h, 2)->u.cancel.remaining, 6);
    expect_balance(h, 2, 1, 1514 - 401, 0);
    expect_balance(h, 2, 0, 4, 0);
    expect_balance(h, 1, 1, 399, 0);
    expect_balance(h, 99, 1, 2, 0);
    /* A full fill at a better price: the surplus comes back at once. */
    run(h, limit(3, 1, 0, LX_SELL, LX_GTC, 0, 100, 6));
    run(h, order(4, 2, 0, LX_BUY, LX_MARKET, LX_IOC, 0, false, 110, 6));
    const uint8_t full[] = {LX_EV_ACCEPTED, LX_EV_FILL};
    expect_types(h, full, 2);
    /* n = 600: taker fee ceil(1.5) = 2, maker fee ceil(0.42) = 1. */
    expect_balance(h, 2, 1, 1113 - 602, 0);
    expect_balance(h, 1, 1, 399 + 599, 0);
    expect_balance(h, 99, 1, 5, 0);
    scenario_end(h);
}

static void test_plus_q_rounding(void **state)
{
    (void)state;
    /* The resting buyer pays the 25 bps maker fee: ceil(3 * 25 / 10000) = 1
     * on every 1-lot fill at 3, so 100 fills cost 400. Without "+ q" the
     * reservation would be 300 + ceil(0.75) = 301. */
    lx_market_spec s = spec("A-U", "A", "U", 1, 1, 1, 25, 7);
    harness *h = scenario(99, &s);
    fund(h, 1, "U", 401);
    fund(h, 2, "A", 100);
    run(h, limit(1, 1, 0, LX_BUY, LX_GTC, 0, 3, 101));
    assert_int_equal(ev_at(h, 0)->reason, LX_R_INSUFFICIENT_BALANCE);
    run(h, limit(1, 1, 0, LX_BUY, LX_GTC, 0, 3, 100));
    expect_balance(h, 1, 1, 0, 401);
    for (uint64_t i = 0; i < 100; i++) {
        run(h, limit(100 + i, 2, 0, LX_SELL, LX_IOC, 0, 3, 1));
        assert_int_equal(ev_at(h, 1)->u.fill.maker_fee, 1);
        assert_int_equal(ev_at(h, 1)->u.fill.taker_fee, 1);
        uint64_t left = 99 - i;
        uint64_t resv = left == 0 ? 0 : 3 * left + (3 * left * 25 + 9999) / 10000 + left;
        expect_balance(h, 1, 1, 401 - 4 * (i + 1) - resv, resv);
    }
    expect_balance(h, 1, 1, 1, 0);
    expect_balance(h, 1, 0, 100, 0);
    expect_balance(h, 2, 1, 200, 0);
    expect_balance(h, 99, 1, 200, 0);
    scenario_end(h);
}

static void test_reject_order(void **state)
{
    (void)state;
    lx_market_spec s = spec("A-U", "A", "U", 2, 5, 3, 0, 0);
    harness *h = scenario(99, &s);
    fund(h, 1, "U", 1000);
    fund(h, 2, "A", 1000);
    run(h, limit(1, 2, 0, LX_SELL, LX_GTC, 0, 50, 3));
    /* Several faults at once: the first in the documented order wins. */
    run(h, order(0, 1, 7, 9, 0, 0, 0, false, 3, 0));
    assert_int_equal(ev_at(h, 0)->reason, LX_R_BAD_ID);
    run(h, order(5, 1, 7, 9, 0, 0, 0, false, 3, 0));
    assert_int_equal(ev_at(h, 0)->reason, LX_R_UNKNOWN_MARKET);
    run(h, order(5, 1, 0, 9, 0, 0, 0, false, 3, 0));
    assert_int_equal(ev_at(h, 0)->reason, LX_R_BAD_TYPE);
    run(h, order(5, 1, 0, LX_BUY, 0, 0, 0, false, 3, 0));
    assert_int_equal(ev_at(h, 0)->reason, LX_R_BAD_PRICE);
    run(h, order(5, 1, 0, LX_BUY, 0, 0, 0, false, 55, 2));
    assert_int_equal(ev_at(h, 0)->reason, LX_R_BAD_QTY);
    run(h, order(1, 1, 0, LX_BUY, 0, 0, 0, false, 55, 3000));
    assert_int_equal(ev_at(h, 0)->reason, LX_R_DUPLICATE_ID);
    run(h, order(5, 1, 0, LX_BUY, 0, 0, 0, false, 55, I63));
    assert_int_equal(ev_at(h, 0)->reason, LX_R_OVERFLOW);
    run(h, order(5, 1, 0, LX_BUY, 0, 0, 0, true, 55, 3000));
    assert_int_equal(ev_at(h, 0)->reason, LX_R_INSUFFICIENT_BALANCE);
    run(h, order(5, 1, 0, LX_BUY, 0, LX_FOK, 0, true, 55, 4));
    assert_int_equal(ev_at(h, 0)->reason, LX_R_POST_ONLY_WOULD_CROSS);
    run(h, order(5, 1, 0, LX_BUY, 0, LX_FOK, 0, false, 55, 4));
    assert_int_equal(ev_at(h, 0)->reason, LX_R_FOK_UNFILLABLE);
    run(h, cancel(77, 1));
    assert_int_equal(ev_at(h, 0)->reason, LX_R_UNKNOWN_ORDER);
    run(h, cancel(1, 1));
    assert_int_equal(ev_at(h, 0)->reason, LX_R_NOT_OWNER);
    run(h, replace(1, 1, 1, 0));
    assert_int_equal(ev_at(h, 0)->reason, LX_R_NOT_OWNER);
    run(h, replace(1, 2, 1, 0));
    assert_int_equal(ev_at(h, 0)->reason, LX_R_BAD_PRICE);
    run(h, replace(1, 2, 45, 0));
    assert_int_equal(ev_at(h, 0)->reason, LX_R_BAD_QTY);
    run(h, replace(1, 2, 45, I63));
    assert_int_equal(ev_at(h, 0)->reason, LX_R_OVERFLOW);
    run(h, replace(1, 2, 45, 501));
    assert_int_equal(ev_at(h, 0)->reason, LX_R_INSUFFICIENT_BALANCE);
    run(h, replace(1, 2, 45, 500)); /* exactly all of it, old reservation included */
    const uint8_t moved[] = {LX_EV_CANCELLED, LX_EV_ACCEPTED};
    expect_types(h, moved, 2);
    /* The id of a finished order can be used again. */
    run(h, cancel(1, 2));
    run(h, limit(1, 1, 0, LX_BUY, LX_GTC, 0, 10, 3));
    assert_int_equal(ev_at(h, 0)->type, LX_EV_ACCEPTED);
    run(h, transfer(LX_CMD_WITHDRAW, 1, "U", 971));
    assert_int_equal(ev_at(h, 0)->reason, LX_R_INSUFFICIENT_BALANCE);
    run(h, transfer(LX_CMD_WITHDRAW, 1, "U", 970));
    assert_int_equal(ev_at(h, 0)->type, LX_EV_BALANCE);
    assert_int_equal(ev_at(h, 0)->u.balance.available, 0);
    assert_int_equal(ev_at(h, 0)->u.balance.reserved, 30);
    run(h, transfer(LX_CMD_DEPOSIT, 1, "Q", 5));
    assert_int_equal(ev_at(h, 0)->reason, LX_R_UNKNOWN_ASSET);
    run(h, transfer(LX_CMD_DEPOSIT, 1, "U", 0));
    assert_int_equal(ev_at(h, 0)->reason, LX_R_BAD_AMOUNT);
    run(h, transfer(LX_CMD_DEPOSIT, 1, "U", I63));
    assert_int_equal(ev_at(h, 0)->reason, LX_R_OVERFLOW);
    scenario_end(h);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    lx_market_spec s = spec("A-U", "A", "U", 1, 1, 1, 0, 0);
    harness *h = scenario(99, &s);
    lx_cmd c = transfer(LX_CMD_DEPOSIT, 1, "U", 5);
    lx_events_clear(&h->evs);
    assert_int_equal(lx_engine_apply(NULL, &h->evs, &c), LX_EINVAL);
    assert_int_equal(lx_engine_apply(h->e, NULL, &c), LX_EINVAL);
    assert_int_equal(lx_engine_apply(h->e, &h->evs, NULL), LX_EINVAL);
    c.type = 77;
    assert_int_equal(lx_engine_apply(h->e, &h->evs, &c), LX_EINVAL);
    assert_int_equal(lx_engine_add_market(h->e, &h->evs, NULL), LX_EINVAL);
    assert_int_equal(h->evs.n, 0);
    assert_int_equal(lx_engine_new(NULL, NULL), LX_EINVAL);
    lx_engine *none = NULL;
    lx_engine_free(&none);
    /* Nothing changed: the next command still sees an empty account. */
    run(h, transfer(LX_CMD_WITHDRAW, 1, "U", 1));
    assert_int_equal(ev_at(h, 0)->reason, LX_R_INSUFFICIENT_BALANCE);
    scenario_end(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stp_expire_both_mid_sweep),
        cmocka_unit_test(test_stp_expire_taker_gtc),
        cmocka_unit_test(test_fok_own_orders),
        cmocka_unit_test(test_replace_priority),
        cmocka_unit_test(test_market_buy_refund_with_fees),
        cmocka_unit_test(test_plus_q_rounding),
        cmocka_unit_test(test_reject_order),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
