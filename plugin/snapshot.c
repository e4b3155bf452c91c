/* Engine snapshots: the full state as canonical big-endian bytes with
 * checksums, and the checked rebuild of an engine from them.
 *
 * Layout: a 24-byte header (magic "LXENGSNP", version u32, total length u64,
 * FNV-1a of the preceding 20 bytes folded to u32), the body, then FNV-1a 64
 * of everything before it. The body holds the fee account, the assets, the
 * markets in id order, the non-zero balances ordered by (account, asset) and
 * the open orders per market, bids then asks, in book priority order. */
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"

#define SNAP_VERSION 1u
#define HEADER_LEN 24u
#define MARKET_LEN (LX_NAME_MAX + 2 * LX_SYMBOL_MAX + 3 * 8 + 2 * 4)
#define BALANCE_LEN (8 + 4 + 8 + 8)
#define ORDER_LEN (4 + 4 + 5 * 8)

static const uint8_t magic[8] = {'L', 'X', 'E', 'N', 'G', 'S', 'N', 'P'};

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* ---- writing ---- */

typedef struct writer {
    uint8_t *p;
} writer;

static void put(writer *w, uint64_t v, int bytes)
{
    for (int i = bytes - 1; i >= 0; i--)
        *w->p++ = (uint8_t)(v >> (8 * i));
}

static void put_bytes(writer *w, const void *src, size_t n)
{
    memcpy(w->p, src, n);
    w->p += n;
}

lx_err lx_engine_snapshot(const lx_engine *e, uint8_t **out, size_t *out_len)
{
    if (!e || !out || !out_len)
        return LX_EINVAL;
    uint32_t *slots;
    size_t nb;
    lx_err err = lx__balances_sorted(e, &slots, &nb);
    if (err)
        return err;
    size_t len = HEADER_LEN + 8 + 4 + (size_t)e->nassets * LX_SYMBOL_MAX + 4 +
                 (size_t)e->nmarkets * MARKET_LEN + 8 + nb * BALANCE_LEN + 8 + e->open * ORDER_LEN +
                 8;
    uint8_t *buf = malloc(len);
    if (!buf) {
        free(slots);
        return LX_ENOMEM;
    }
    writer w = {buf};
    put_bytes(&w, magic, sizeof magic);
    put(&w, SNAP_VERSION, 4);
    put(&w, len, 8);
    put(&w, fnv1a(buf, 20) & 0xffffffffu, 4);

    put(&w, e->fee_account, 8);
    put(&w, e->nassets, 4);
    for (uint32_t i = 0; i < e->nassets; i++)
        put_bytes(&w, e->assets[i].symbol, LX_SYMBOL_MAX);
    put(&w, e->nmarkets, 4);
    for (uint32_t i = 0; i < e->nmarkets; i++) {
        const lx_market_spec *s = &e->markets[i].spec;
        put_bytes(&w, s->name, LX_NAME_MAX);
        put_bytes(&w, s->base, LX_SYMBOL_MAX);
        put_bytes(&w, s->quote, LX_SYMBOL_MAX);
        put(&w, s->lot, 8);
        put(&w, s->tick, 8);
        put(&w, s->min_qty, 8);
        put(&w, s->maker_fee_bps, 4);
        put(&w, s->taker_fee_bps, 4);
    }
    put(&w, nb, 8);
    for (size_t i = 0; i < nb; i++) {
        const lx__balance *b = &e->bals[slots[i]];
        put(&w, e->bal_keys[slots[i]].account, 8);
        put(&w, e->bal_keys[slots[i]].asset, 4);
        put(&w, b->available, 8);
        put(&w, b->reserved, 8);
    }
    free(slots);
    put(&w, e->open, 8);
    for (uint32_t mi = 0; mi < e->nmarkets; mi++) {
        for (unsigned side = 0; side < 2; side++) {
            const lx__side *s = &e->markets[mi].sides[side];
            for (uint32_t p = s->n; p-- > 0;) {
                const lx__level *lv = &e->levels[s->v[p].level];
                for (uint32_t oi = lv->head; oi != LX__NIL; oi = e->links[oi].next) {
                    const lx__order *o = &e->orders[oi];
                    const lx__order_x *x = &e->orders_x[oi];
                    put(&w, mi, 4);
                    put(&w, side, 1);
                    put(&w, LX_GTC, 1);
                    put(&w, x->stp, 1);
                    put(&w, x->post_only, 1);
                    put(&w, o->id, 8);
                    put(&w, e->owners[o->owner].account, 8);
                    put(&w, lv->price, 8);
                    put(&w, o->qty, 8);
                    put(&w, o->filled, 8);
                }
            }
        }
    }
    put(&w, fnv1a(buf, len - 8), 8);
    LX_ASSERT((size_t)(w.p - buf) == len);
    *out = buf;
    *out_len = len;
    return LX_OK;
}

/* ---- reading ---- */

typedef struct reader {
    const uint8_t *p, *end;
    bool bad;
} reader;

static uint64_t get(reader *r, int bytes)
{
    if (r->bad || (size_t)(r->end - r->p) < (size_t)bytes) {
        r->bad = true;
        return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v = v << 8 | *r->p++;
    return v;
}

static void get_bytes(reader *r, void *dst, size_t n)
{
    if (r->bad || (size_t)(r->end - r->p) < n) {
        r->bad = true;
        memset(dst, 0, n);
        return;
    }
    memcpy(dst, r->p, n);
    r->p += n;
}

/* A canonical fixed-size string: terminated, nothing after the NUL. */
static bool fixed_str_ok(const char *s, size_t cap)
{
    size_t i = 0;
    while (i < cap && s[i] != '\0')
        i++;
    if (i == 0 || i == cap)
        return false;
    for (; i < cap; i++)
        if (s[i] != '\0')
            return false;
    return true;
}

static lx_err read_markets(lx_engine *e, reader *r)
{
    uint64_t nassets = get(r, 4);
    if (r->bad || nassets > (size_t)(r->end - r->p) / LX_SYMBOL_MAX)
        return LX_EFORMAT;
    char(*syms)[LX_SYMBOL_MAX] = malloc(((size_t)nassets + 1) * LX_SYMBOL_MAX);
    if (!syms)
        return LX_ENOMEM;
    for (uint64_t i = 0; i < nassets; i++)
        get_bytes(r, syms[i], LX_SYMBOL_MAX);
    uint64_t nmarkets = get(r, 4);
    lx_err err = LX_OK;
    if (r->bad || nmarkets > (size_t)(r->end - r->p) / MARKET_LEN)
        err = LX_EFORMAT;
    lx_events evs;
    lx_events_init(&evs);
    for (uint64_t i = 0; i < nmarkets && !err; i++) {
        lx_market_spec s;
        memset(&s, 0, sizeof s);
        get_bytes(r, s.name, LX_NAME_MAX);
        get_bytes(r, s.base, LX_SYMBOL_MAX);
        get_bytes(r, s.quote, LX_SYMBOL_MAX);
        s.lot = get(r, 8);
        s.tick = get(r, 8);
        s.min_qty = get(r, 8);
        s.maker_fee_bps = (uint32_t)get(r, 4);
        s.taker_fee_bps = (uint32_t)get(r, 4);
        if (r->bad || !fixed_str_ok(s.name, LX_NAME_MAX) || !fixed_str_ok(s.base, LX_SYMBOL_MAX) ||
            !fixed_str_ok(s.quote, LX_SYMBOL_MAX)) {
            err = LX_EFORMAT;
            break;
        }
        lx_events_clear(&evs);
        err = lx_engine_add_market(e, &evs, &s);
        if (!err && (evs.n != 1 || evs.v[0].type != LX_EV_MARKET))
            err = LX_EFORMAT;
    }
    lx_events_free(&evs);
    /* The asset list must be the one the markets imply. */
    if (!err && nassets != e->nassets)
        err = LX_EFORMAT;
    for (uint32_t i = 0; !err && i < e->nassets; i++)
        if (memcmp(syms[i], e->assets[i].symbol, LX_SYMBOL_MAX) != 0)
            err = LX_EFORMAT;
    free(syms);
    return err;
}

static lx_err read_balances(lx_engine *e, reader *r)
{
    uint64_t n = get(r, 8);
    if (r->bad || n > (size_t)(r->end - r->p) / BALANCE_LEN)
        return LX_EFORMAT;
    uint64_t prev_acc = 0;
    uint32_t prev_asset = 0;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t acc = get(r, 8);
        uint32_t asset = (uint32_t)get(r, 4);
        uint64_t avail = get(r, 8);
        uint64_t res = get(r, 8);
        if (r->bad || asset >= e->nassets || (avail == 0 && res == 0))
            return LX_EFORMAT;
        if (i > 0 && (acc < prev_acc || (acc == prev_acc && asset <= prev_asset)))
            return LX_EFORMAT;
        lx__asset *as = &e->assets[asset];
        if (avail > LX__AMOUNT_MAX - as->total || res > LX__AMOUNT_MAX - as->total - avail)
            return LX_EFORMAT;
        as->total += avail + res;
        uint32_t slot;
        lx_err err = lx__balance_get(e, &slot, acc, asset);
        if (err)
            return err;
        e->bals[slot].available = avail;
        e->bals[slot].reserved = res;
        prev_acc = acc;
        prev_asset = asset;
    }
    return LX_OK;
}

static lx_err read_orders(lx_engine *e, reader *r)
{
    uint64_t n = get(r, 8);
    if (r->bad || n > (size_t)(r->end - r->p) / ORDER_LEN)
        return LX_EFORMAT;
    lx_err err = LX_OK;
    uint32_t prev_market = 0;
    unsigned prev_side = 0;
    uint64_t prev_key = 0;
    for (uint64_t i = 0; i < n && !err; i++) {
        uint32_t mi = (uint32_t)get(r, 4);
        unsigned side = (unsigned)get(r, 1), tif = (unsigned)get(r, 1);
        unsigned stp = (unsigned)get(r, 1), post_only = (unsigned)get(r, 1);
        uint64_t id = get(r, 8), acc = get(r, 8), price = get(r, 8);
        uint64_t qty = get(r, 8), filled = get(r, 8);
        err = LX_EFORMAT;
        if (r->bad || mi >= e->nmarkets || side > LX_SELL || tif != LX_GTC ||
            stp > LX_STP_EXPIRE_BOTH || post_only > 1 || id == 0 || qty == 0)
            break;
        lx__market *m = &e->markets[mi];
        uint64_t need, key = lx__side_key(side, price);
        if (price == 0 || price % m->spec.tick != 0 || !lx__order_fits(m, side, price, qty, &need))
            break;
        /* Priority order: markets ascending, bids before asks, better
         * prices first. */
        if (i > 0 && (mi < prev_market || (mi == prev_market && side < prev_side) ||
                      (mi == prev_market && side == prev_side && key > prev_key)))
            break;
        if (lx__order_find(e, id) != LX__NIL)
            break;
        err = lx__book_reserve(e, &m->sides[side]);
        uint32_t owner = LX__NIL;
        if (!err)
            err = lx__owner_get(e, &owner, acc, mi);
        if (err)
            break;
        uint32_t oi = lx__order_alloc(e);
        lx__order *o = &e->orders[oi];
        memset(o, 0, sizeof *o);
        o->id = id;
        o->qty = qty;
        o->owner = owner;
        o->filled = filled;
        lx__order_x *x = &e->orders_x[oi];
        memset(x, 0, sizeof *x);
        x->stp = (uint8_t)stp;
        x->post_only = (uint8_t)post_only;
        lx__book_insert(e, m, side, oi, price, LX__NIL);
        prev_market = mi;
        prev_side = side;
        prev_key = key;
    }
    return err;
}

/* Checks what the orders imply: every reserved balance is exactly what its
 * orders need, and no book is crossed. */
static lx_err check_state(const lx_engine *e)
{
    uint64_t *held = calloc((size_t)e->nbals + 1, sizeof *held);
    if (!held)
        return LX_ENOMEM;
    for (uint32_t mi = 0; mi < e->nmarkets; mi++) {
        const lx__market *m = &e->markets[mi];
        for (unsigned side = 0; side < 2; side++) {
            const lx__side *s = &m->sides[side];
            for (uint32_t p = 0; p < s->n; p++) {
                const lx__level *lv = &e->levels[s->v[p].level];
                for (uint32_t oi = lv->head; oi != LX__NIL; oi = e->links[oi].next) {
                    const lx__owner *w = &e->owners[e->orders[oi].owner];
                    const lx__order *o = &e->orders[oi];
                    uint32_t slot = side == LX_BUY ? w->bal_quote : w->bal_base;
                    uint64_t need = lx__order_need(m, side, lv->price, o->qty);
                    if (need > e->bals[slot].reserved - held[slot]) {
                        free(held);
                        return LX_EFORMAT;
                    }
                    held[slot] += need;
                }
            }
        }
        const lx__side *b = &m->sides[LX_BUY], *a = &m->sides[LX_SELL];
        if (b->n > 0 && a->n > 0 &&
            e->levels[b->v[b->n - 1].level].price >= e->levels[a->v[a->n - 1].level].price) {
            free(held);
            return LX_EFORMAT;
        }
    }
    lx_err err = LX_OK;
    for (uint32_t i = 0; i < e->nbals && !err; i++)
        if (held[i] != e->bals[i].reserved)
            err = LX_EFORMAT;
    free(held);
    return err;
}

lx_err lx_engine_restore(lx_engine **out, const uint8_t *buf, size_t len)
{
    if (!out || (!buf && len > 0))
        return LX_EINVAL;
    *out = NULL;
    if (len < HEADER_LEN + 8)
        return LX_EFORMAT;
    reader hr = {buf, buf + HEADER_LEN, false};
    uint8_t mg[8];
    get_bytes(&hr, mg, sizeof mg);
    uint64_t version = get(&hr, 4);
    uint64_t total = get(&hr, 8);
    uint64_t hsum = get(&hr, 4);
    if (hsum != (fnv1a(buf, 20) & 0xffffffffu))
        return LX_ECORRUPT;
    if (memcmp(mg, magic, sizeof mg) != 0 || version != SNAP_VERSION || total != len)
        return LX_EFORMAT;
    reader tr = {buf + len - 8, buf + len, false};
    if (get(&tr, 8) != fnv1a(buf, len - 8))
        return LX_ECORRUPT;

    reader r = {buf + HEADER_LEN, buf + len - 8, false};
    lx_engine_config cfg = {get(&r, 8)};
    lx_engine *e;
    lx_err err = lx_engine_new(&e, &cfg);
    if (err)
        return err;
    err = read_markets(e, &r);
    if (!err)
        err = read_balances(e, &r);
    if (!err)
        err = read_orders(e, &r);
    if (!err && (r.bad || r.p != r.end))
        err = LX_EFORMAT;
    if (!err)
        err = check_state(e);
    if (err) {
        lx_engine_free(&e);
        return err;
    }
    *out = e;
    return LX_OK;
}
