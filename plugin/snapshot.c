/* Engine snapshots: the full state as canonical big-endian bytes with
 * checksums, and the checked rebuild of an engine from them.
 *
 * Layout: a 24-byte header (magic "LXENGSNP", version u32, total length u64,
 * FNV-1a of the preceding 20 bytes folded to u32), the body, then a 64-bit
 * checksum of everything before it. The body holds the fee account, the
 * assets, the markets in id order, the non-zero balances ordered by
 * (account, asset) and the open orders per market, bids then asks, in book
 * priority order. Version 2 (written) sums 8-byte words (word_sum); version 1
 * (still read) took FNV-1a a byte at a time, which was most of the time an
 * encode of a large book took. */
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"
#include "lx/bytes.h"

#define SNAP_VERSION 2u
#define HEADER_LEN 24u
#define MARKET_LEN (LX_NAME_MAX + 2 * LX_SYMBOL_MAX + 3 * 8 + 2 * 4)
#define BALANCE_LEN (8 + 4 + 8 + 8)
#define ORDER_LEN (4 + 4 + 5 * 8)
#define AHEAD 8 /* orders prefetched ahead of the one being written */

#define FNV_OFFSET 0xcbf29ce484222325ull
#define FNV_PRIME 0x100000001b3ull

static const uint8_t magic[8] = {'L', 'X', 'E', 'N', 'G', 'S', 'N', 'P'};

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
    uint64_t h = FNV_OFFSET;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= FNV_PRIME;
    }
    return h;
}

/* FNV-1a's step over 8-byte little-endian words, the last one padded with
 * zeros, then the length: any change within one word changes the sum, as
 * each step is a bijection of the running value. sum_words takes whole
 * words (n a multiple of 8), so that an incremental snapshot can sum its
 * bytes as they are written; sum_end the rest and the total length. */
static uint64_t sum_words(uint64_t h, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 8 <= n; i += 8) {
        uint64_t w = 0;
        for (int k = 7; k >= 0; k--)
            w = w << 8 | p[i + (size_t)k];
        h = (h ^ w) * FNV_PRIME;
    }
    return h;
}

static uint64_t sum_end(uint64_t h, const uint8_t *p, size_t tail, size_t total)
{
    if (tail > 0) {
        uint64_t w = 0;
        for (size_t k = tail; k-- > 0;)
            w = w << 8 | p[k];
        h = (h ^ w) * FNV_PRIME;
    }
    return (h ^ (uint64_t)total) * FNV_PRIME;
}

static uint64_t word_sum(const uint8_t *p, size_t n)
{
    size_t whole = n & ~(size_t)7;
    return sum_end(sum_words(FNV_OFFSET, p, whole), p + whole, n - whole, n);
}

/* ---- writing ---- */

static uint8_t *put8(uint8_t *p, uint64_t v)
{
    lx__put_u64(p, v);
    return p + 8;
}

static uint8_t *put4(uint8_t *p, uint32_t v)
{
    lx__put_u32(p, v);
    return p + 4;
}

static uint8_t *put_bytes(uint8_t *p, const void *src, size_t n)
{
    memcpy(p, src, n);
    return p + n;
}

static size_t snap_len(const lx_engine *e, size_t nb)
{
    return HEADER_LEN + 8 + 4 + (size_t)e->nassets * LX_SYMBOL_MAX + 4 +
           (size_t)e->nmarkets * MARKET_LEN + 8 + nb * BALANCE_LEN + 8 + e->open * ORDER_LEN + 8;
}

lx_err lx_engine_snapshot_len(const lx_engine *e, size_t *len)
{
    if (!e || !len)
        return LX_EINVAL;
    /* The balances written are the non-zero ones: counted, not sorted. */
    size_t nb = 0;
    for (uint32_t i = 0; i < e->nbals; i++)
        nb += e->bals[i].available || e->bals[i].reserved;
    *len = snap_len(e, nb);
    return LX_OK;
}

/* Starts lane y on entry k of v: its level's first order. */
static void lane_start(const lx_engine *e, lx__lane *y, const lx__snap_lv *v, uint32_t k)
{
    const lx__level *lv = &e->levels[v[k].level];
    y->off = v[k].off;
    y->price = lv->price;
    y->oi = lv->head;
    y->left = v[k].count;
    y->market = v[k].market;
    y->side = v[k].side;
    y->entry = k;
    __builtin_prefetch(&e->orders[y->oi]);
    __builtin_prefetch(&e->links[y->oi]);
}

/* Writes lane y's next order into buf; false when that was its last. */
static inline bool lane_put(const lx_engine *e, uint8_t *buf, lx__lane *y)
{
    LX_ASSERT(y->left > 0 && y->oi != LX__NIL);
    const lx__order *o = &e->orders[y->oi];
    const lx__order_x *ox = &e->orders_x[y->oi];
    uint8_t *p = put4(buf + y->off, y->market);
    *p++ = (uint8_t)y->side;
    *p++ = LX_GTC;
    *p++ = ox->stp;
    *p++ = ox->post_only;
    p = put8(p, o->id);
    p = put8(p, e->owners[o->owner].account);
    p = put8(p, y->price);
    p = put8(p, o->qty);
    put8(p, o->filled);
    y->off += ORDER_LEN;
    if (--y->left == 0)
        return false;
    y->oi = e->links[y->oi].next;
    __builtin_prefetch(&e->orders[y->oi]);
    __builtin_prefetch(&e->links[y->oi]);
    __builtin_prefetch(&e->orders_x[y->oi]);
    return true;
}

/* Writes the orders of the entries of v[0..n) from *next on into buf: for
 * each, its level's first count orders, front to back, at its off. A level
 * is a chain of links whose next order is known only once its link is
 * read, so walking one chain waits a cache miss per order; the lanes walk
 * LX__LANES levels at once, one order of each in turn, each fetching its
 * next order as its turn ends, so the misses overlap. Lanes refill from
 * *next as they finish. With pend (an incremental snapshot), entries
 * whose level is no longer pending are passed over, and a finished one's
 * level stops being pending. Stops after about budget orders (the lanes
 * keep their place) or when every entry is written; returns the entries
 * finished. */
static uint32_t run_lanes(const lx_engine *e, uint8_t *buf, const lx__snap_lv *v, uint32_t n,
                          uint32_t *next, uint32_t *pend, lx__lanes *ls, size_t budget)
{
    uint32_t finished = 0;
    size_t done = 0;
    while (done < budget) {
        while (ls->live < LX__LANES && *next < n) {
            uint32_t k = (*next)++;
            if (pend && pend[v[k].level] != k + 1) {
                done += v[k].count / 4; /* written already: only summed */
                continue;
            }
            lane_start(e, &ls->l[ls->live++], v, k);
        }
        if (ls->live == 0)
            break;
        done += ls->live;
        for (unsigned i = 0; i < ls->live;) {
            if (lane_put(e, buf, &ls->l[i])) {
                i++;
                continue;
            }
            if (pend)
                pend[v[ls->l[i].entry].level] = 0;
            finished++;
            ls->l[i] = ls->l[--ls->live];
        }
    }
    return finished;
}

static size_t level_count(const lx_engine *e)
{
    size_t n = 0;
    for (uint32_t mi = 0; mi < e->nmarkets; mi++)
        n += (size_t)e->markets[mi].sides[0].n + e->markets[mi].sides[1].n;
    return n;
}

/* Lists the levels in snapshot order (per market, bids then asks, best
 * first) into v, with their orders' places from off on; returns the end. */
static size_t list_levels(const lx_engine *e, lx__snap_lv *v, size_t off)
{
    size_t k = 0;
    for (uint32_t mi = 0; mi < e->nmarkets; mi++) {
        for (unsigned side = 0; side < 2; side++) {
            const lx__side *sd = &e->markets[mi].sides[side];
            for (uint32_t i = sd->n; i-- > 0; k++) {
                uint32_t li = sd->v[i].level;
                v[k].off = off;
                v[k].level = li;
                v[k].count = e->levels[li].count;
                v[k].market = mi;
                v[k].side = side;
                off += (size_t)v[k].count * ORDER_LEN;
            }
        }
    }
    return off;
}

/* Everything before the orders, for a snapshot of len bytes whose balances
 * are the nb slots in order: returns where the orders go. */
static uint8_t *put_head(const lx_engine *e, uint8_t *buf, size_t len, const uint32_t *slots,
                         size_t nb)
{
    uint8_t *p = put_bytes(buf, magic, sizeof magic);
    p = put4(p, SNAP_VERSION);
    p = put8(p, len);
    p = put4(p, (uint32_t)fnv1a(buf, 20));

    p = put8(p, e->fee_account);
    p = put4(p, e->nassets);
    for (uint32_t i = 0; i < e->nassets; i++)
        p = put_bytes(p, e->assets[i].symbol, LX_SYMBOL_MAX);
    p = put4(p, e->nmarkets);
    for (uint32_t i = 0; i < e->nmarkets; i++) {
        const lx_market_spec *s = &e->markets[i].spec;
        p = put_bytes(p, s->name, LX_NAME_MAX);
        p = put_bytes(p, s->base, LX_SYMBOL_MAX);
        p = put_bytes(p, s->quote, LX_SYMBOL_MAX);
        p = put8(p, s->lot);
        p = put8(p, s->tick);
        p = put8(p, s->min_qty);
        p = put4(p, s->maker_fee_bps);
        p = put4(p, s->taker_fee_bps);
    }
    p = put8(p, nb);
    for (size_t i = 0; i < nb; i++) {
        const lx__balance *b = &e->bals[slots[i]];
        p = put8(p, e->bal_keys[slots[i]].account);
        p = put4(p, e->bal_keys[slots[i]].asset);
        p = put8(p, b->available);
        p = put8(p, b->reserved);
    }
    return put8(p, e->open);
}

/* The balances a snapshot of e lists, sorted (into a malloc'd *slots, nb
 * of them), and its length: LX_ETOOBIG (len still written, slots not)
 * when it is over cap. */
static lx_err sized(const lx_engine *e, size_t cap, uint32_t **slots, size_t *nb, size_t *len)
{
    lx_err err = lx__balances_sorted(e, slots, nb);
    if (err)
        return err;
    *len = snap_len(e, *nb);
    if (*len > cap) {
        free(*slots);
        return LX_ETOOBIG;
    }
    return LX_OK;
}

lx_err lx_engine_snapshot_to(const lx_engine *e, uint8_t *buf, size_t cap, size_t *out_len)
{
    if (!e || !buf || !out_len)
        return LX_EINVAL;
    uint32_t *slots;
    size_t nb, len;
    lx_err err = sized(e, cap, &slots, &nb, &len);
    if (err)
        return err;
    lx__snap_lv *v = malloc((level_count(e) + 1) * sizeof *v);
    if (!v) {
        free(slots);
        return LX_ENOMEM;
    }
    uint8_t *p = put_head(e, buf, len, slots, nb);
    free(slots);
    size_t end = list_levels(e, v, (size_t)(p - buf));
    LX_ASSERT(end == len - 8);
    lx__lanes ls;
    ls.live = 0;
    uint32_t next = 0, nlv = (uint32_t)level_count(e);
    uint32_t written = run_lanes(e, buf, v, nlv, &next, NULL, &ls, SIZE_MAX);
    LX_ASSERT(written == nlv);
    free(v);
    p = buf + end;
    p = put8(p, word_sum(buf, len - 8));
    LX_ASSERT((size_t)(p - buf) == len);
    *out_len = len;
    return LX_OK;
}

lx_err lx_engine_snapshot(const lx_engine *e, uint8_t **out, size_t *out_len)
{
    if (!e || !out || !out_len)
        return LX_EINVAL;
    size_t len;
    lx_err err = lx_engine_snapshot_len(e, &len);
    if (err)
        return err;
    uint8_t *buf = malloc(len);
    if (!buf)
        return LX_ENOMEM;
    if ((err = lx_engine_snapshot_to(e, buf, len, out_len)) != LX_OK) {
        free(buf);
        return err;
    }
    *out = buf;
    return LX_OK;
}

/* ---- incremental ---- */

void lx__snap_level(lx_engine *e, uint32_t li)
{
    lx__snap *s = e->snap;
    if (li >= s->npend || s->pend[li] == 0)
        return;
    /* Its orders are as they were at the begin: write them all now, in its
     * lane if it has one. */
    uint32_t k = s->pend[li] - 1;
    lx__lane one, *y = NULL;
    for (unsigned i = 0; i < s->lanes.live && !y; i++)
        if (s->lanes.l[i].entry == k)
            y = &s->lanes.l[i];
    if (!y)
        lane_start(e, y = &one, s->v, k);
    while (lane_put(e, s->buf, y))
        ;
    if (y != &one)
        *y = s->lanes.l[--s->lanes.live];
    s->pend[li] = 0;
    s->left--;
}

lx_err lx_engine_snap_begin(lx_engine *e, uint8_t *buf, size_t cap, size_t *len)
{
    if (!e || !buf || !len)
        return LX_EINVAL;
    if (e->snap)
        return LX_ESTATE;
    uint32_t *slots;
    size_t nb;
    lx_err err = sized(e, cap, &slots, &nb, len);
    if (err)
        return err;
    size_t nlv = level_count(e);
    lx__snap *s = calloc(1, sizeof *s);
    if (s) {
        s->v = malloc((nlv + 1) * sizeof *s->v);
        s->pend = calloc((size_t)e->levels_hw + 1, sizeof *s->pend);
    }
    if (!s || !s->v || !s->pend) {
        free(slots);
        if (s) {
            free(s->v);
            free(s->pend);
        }
        free(s);
        return LX_ENOMEM;
    }
    s->buf = buf;
    s->len = *len;
    s->npend = e->levels_hw;
    s->n = (uint32_t)nlv;
    size_t off = (size_t)(put_head(e, buf, *len, slots, nb) - buf);
    free(slots);
    s->sum = FNV_OFFSET;
    off = list_levels(e, s->v, off);
    LX_ASSERT(off == *len - 8);
    for (uint32_t k = 0; k < s->n; k++)
        s->pend[s->v[k].level] = k + 1;
    s->left = s->n;
    e->snap = s;
    return LX_OK;
}

/* Sums the bytes before the first entry not yet written (all of them once
 * every entry is), and seals and ends the snapshot when all are written. */
static bool advance(lx_engine *e)
{
    lx__snap *s = e->snap;
    if (s->left == 0)
        s->next = s->n; /* the changes wrote the rest */
    uint32_t first = s->next;
    for (unsigned i = 0; i < s->lanes.live; i++)
        if (s->lanes.l[i].entry < first)
            first = s->lanes.l[i].entry;
    size_t upto = first < s->n ? s->v[first].off : s->len - 8;
    size_t whole = upto & ~(size_t)7;
    if (whole > s->summed) {
        s->sum = sum_words(s->sum, s->buf + s->summed, whole - s->summed);
        s->summed = whole;
    }
    if (s->left > 0)
        return false;
    LX_ASSERT(s->lanes.live == 0);
    size_t body = s->len - 8;
    put8(s->buf + body, sum_end(s->sum, s->buf + s->summed, body - s->summed, body));
    lx_engine_snap_abort(e);
    return true;
}

bool lx_engine_snap_step(lx_engine *e, size_t orders)
{
    if (!e || !e->snap)
        return true;
    lx__snap *s = e->snap;
    s->left -= run_lanes(e, s->buf, s->v, s->n, &s->next, s->pend, &s->lanes, orders);
    return advance(e);
}

void lx_engine_snap_finish(lx_engine *e)
{
    lx_engine_snap_step(e, SIZE_MAX);
}

bool lx_engine_snap_active(const lx_engine *e)
{
    return e && e->snap;
}

void lx_engine_snap_abort(lx_engine *e)
{
    if (!e || !e->snap)
        return;
    free(e->snap->v);
    free(e->snap->pend);
    free(e->snap);
    e->snap = NULL;
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
    if (memcmp(mg, magic, sizeof mg) != 0 || (version != 1 && version != SNAP_VERSION) ||
        total != len)
        return LX_EFORMAT;
    reader tr = {buf + len - 8, buf + len, false};
    if (get(&tr, 8) != (version == 1 ? fnv1a(buf, len - 8) : word_sum(buf, len - 8)))
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
