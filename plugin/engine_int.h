/* Internals of the lxdex engine, shared by the plugin's modules: the hash
 * tables, the order and price-level pools, accounts and event helpers. */
#ifndef LX_PLUGIN_ENGINE_INT_H
#define LX_PLUGIN_ENGINE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lx/plugin.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define LX__NIL UINT32_MAX
#define LX__AMOUNT_MAX ((uint64_t)INT64_MAX)

__extension__ typedef unsigned __int128 lx__u128;

/* ---- hashmap.c: two open-addressing tables with linear probing and
 * backward-shift deletion (no tombstones, so probe runs stay short under
 * churn). ---- */

/* lx__map: a (uint64, uint32) key to a uint32 value; balances and owner
 * records. A slot is empty when its value is LX__NIL. */
typedef struct lx__slot {
    uint64_t a;
    uint32_t b;
    uint32_t v;
} lx__slot;

typedef struct lx__map {
    lx__slot *s;
    size_t mask; /* capacity - 1; capacity is 0 or a power of two */
    size_t n;
    unsigned shift; /* 64 - log2(capacity): the hash's top bits pick a slot */
} lx__map;

void lx__map_init(lx__map *m);
void lx__map_free(lx__map *m);
/* Makes room for n entries in total, so that n puts need no allocation. */
lx_err lx__map_reserve(lx__map *m, size_t n);
/* The home slot of (a, b): multiplicative hashing, so that the product's
 * top bits depend on every bit of the key and sequential keys spread over
 * the whole table. */
static inline size_t lx__map_slot(const lx__map *m, uint64_t a, uint32_t b)
{
    uint64_t x = (a ^ ((uint64_t)b * 0xc2b2ae3d27d4eb4full)) * 0x9e3779b97f4a7c15ull;
    return (size_t)(x >> m->shift);
}

/* Returns the value stored for (a, b), or LX__NIL. */
static inline uint32_t lx__map_get(const lx__map *m, uint64_t a, uint32_t b)
{
    if (!m->s)
        return LX__NIL;
    for (size_t i = lx__map_slot(m, a, b);; i = (i + 1) & m->mask) {
        const lx__slot *s = &m->s[i];
        if (s->v == LX__NIL)
            return LX__NIL;
        if (s->a == a && s->b == b)
            return s->v;
    }
}

/* Stores v for an absent key; the caller reserved room first. */
void lx__map_put(lx__map *m, uint64_t a, uint32_t b, uint32_t v);
/* Removes (a, b); returns false if it was absent. */
bool lx__map_del(lx__map *m, uint64_t a, uint32_t b);
size_t lx__map_bytes(const lx__map *m);

/* lx__ids: open order ids to order pool indices. A slot holds 32 bits of the
 * id's hash and the pool index (LX__NIL when empty); the id itself is read
 * from the order, so a slot is 8 bytes and a cache line holds eight. The
 * hash's top bits pick the home slot, so growth and deletion never need the
 * orders. The lookups are below the order struct. */
typedef struct lx__idslot {
    uint32_t hash;
    uint32_t idx;
} lx__idslot;

typedef struct lx__ids {
    lx__idslot *s;
    uint32_t mask;  /* capacity - 1; capacity is 0 or a power of two */
    uint32_t shift; /* 32 - log2(capacity) */
    size_t n;
    size_t room; /* entries that fit without growing */
} lx__ids;

static inline uint32_t lx__id_hash(uint64_t id)
{
    /* Multiplicative hashing after folding the high half in, so that ids
     * that differ only in their top bits still spread. */
    return (uint32_t)(((id ^ (id >> 29)) * 0x9e3779b97f4a7c15ull) >> 32);
}

void lx__ids_init(lx__ids *m);
void lx__ids_free(lx__ids *m);
lx_err lx__ids_grow(lx__ids *m, size_t n);

/* Makes room for n entries in total. If it grows the table, it moves
 * entries: positions from lx__ids_find are stale afterwards. */
static inline lx_err lx__ids_reserve(lx__ids *m, size_t n)
{
    if (__builtin_expect(n <= m->room, 1))
        return LX_OK;
    return lx__ids_grow(m, n);
}
size_t lx__ids_bytes(const lx__ids *m);

/* ---- the engine's state ---- */

/* An open order: what matching and cancels read, in 32 bytes. Its side and
 * price are its level's; its account, market and balance slots its owner's;
 * a resting order is always GTC. */
typedef struct lx__order {
    uint64_t id;
    uint64_t qty;    /* remaining lots */
    uint64_t filled; /* lots filled so far */
    uint32_t level;
    uint32_t owner; /* index into lx_engine.owners */
} lx__order;

/* An order's place in its level's FIFO, in an array parallel to the pool:
 * unlinking writes the neighbours' links, and at 8 bytes a link they are
 * far likelier to be cached than whole orders. */
typedef struct lx__link {
    uint32_t prev, next; /* next links the free list */
} lx__link;

/* The rest of an open order, parallel to the pool: replaces and queries
 * read it, matching and cancels do not. */
typedef struct lx__order_x {
    uint8_t stp, post_only;
} lx__order_x;

/* An account in one market: its id and its base and quote balance slots, so
 * that orders, fills and cancels reach balances without a hash lookup. Two
 * orders on one book have the same account exactly when they have the same
 * owner. Never removed or moved. */
typedef struct lx__owner {
    uint64_t account;
    uint32_t market;
    uint32_t bal_base, bal_quote;
} lx__owner;

typedef struct lx__level {
    uint64_t price;
    uint64_t qty;        /* total remaining lots */
    uint32_t head, tail; /* head links the free list */
    uint32_t count;
    uint32_t side;
} lx__level;

/* One entry of a side's sorted price array. key is the price for bids and
 * UINT64_MAX - price for asks, so that on both sides a larger key is a better
 * price and the best level is the last entry. */
typedef struct lx__pricept {
    uint64_t key;
    uint32_t level;
    uint32_t pad;
} lx__pricept;

typedef struct lx__side {
    lx__pricept *v;
    uint32_t n, cap;
    uint64_t orders; /* open orders on this side */
} lx__side;

typedef struct lx__market {
    lx_market_spec spec;
    uint32_t base, quote; /* asset ids */
    uint32_t res_bps;     /* max(maker, taker): what buy reservations cover */
    uint32_t fee_bal;     /* the fee account's quote balance slot, or LX__NIL */
    bool tick_pow2;       /* then tick == 1 << tick_shift: no divisions */
    uint32_t tick_shift;
    lx__side sides[2];
} lx__market;

typedef struct lx__asset {
    char symbol[LX_SYMBOL_MAX];
    uint64_t total; /* sum over all balances, available and reserved */
} lx__asset;

/* A balance: what orders, fills and cancels touch, 16 bytes so that a
 * cache line holds four. Its key is in a parallel array. */
typedef struct lx__balance {
    uint64_t available, reserved;
} lx__balance;

typedef struct lx__balkey {
    uint64_t account;
    uint32_t asset;
    uint32_t pad;
} lx__balkey;

struct lx_engine {
    uint64_t fee_account;

    lx__market *markets;
    uint32_t nmarkets, cap_markets;

    lx__asset *assets;
    uint32_t nassets, cap_assets;

    lx__balance *bals;    /* stable: slots are never removed or moved */
    lx__balkey *bal_keys; /* parallel to bals */
    uint32_t nbals, cap_bals;
    lx__map bal_index; /* (account, asset) -> slot */

    lx__owner *owners; /* stable, like bals */
    uint32_t nowners, cap_owners;
    lx__map owner_index; /* (account, market) -> owner */

    lx__order *orders;     /* pool */
    lx__link *links;       /* parallel to orders */
    lx__order_x *orders_x; /* parallel to orders */
    uint32_t orders_hw, cap_orders, orders_free;
    /* Each of the three arrays' own capacity: past cap_orders when a
     * growth gave some of them more and then failed (book.c). */
    uint32_t cap_pool[3];
    size_t open; /* open orders */
    lx__ids ids; /* open order ids -> pool index */

    lx__level *levels; /* pool */
    uint32_t levels_hw, cap_levels, levels_free;

    struct lx__snap *snap; /* the incremental snapshot in progress, or NULL */
    /* prepare walks the other side to count what a taker touches only when
     * room for an event per order there would be more than this (tests set
     * 0 to walk always) */
    size_t walk_over;
};

/* ---- the id index's lookups, inline for the hot paths ---- */

/* Makes room in the id index for `orders` open orders in all. It reserves
 * a quarter more than that, so the index's load stays at or under 1/2
 * rather than the table's own limit of 5/8: a miss's probe and a delete's
 * backward shift get shorter, and their loops mispredict less often.
 * Positions from lx__ids_find are stale afterwards if it grows the table. */
static inline lx_err lx__ids_room_for(lx_engine *e, size_t orders)
{
    return lx__ids_reserve(&e->ids, orders + orders / 4);
}

/* Room for one more open order than the engine holds (lx__ids_room_for). */
static inline lx_err lx__ids_reserve_one(lx_engine *e)
{
    return lx__ids_room_for(e, e->open + 1);
}

/* Slots in a group of the id index, and two groups make a step: a 64-byte
 * cache line (the table is allocated line-aligned). Steps are aligned, so
 * that one never wraps (the capacity is a power of two of at least 16). */
#define LX__IDS_GROUP 4u
#define LX__IDS_STEP (2 * LX__IDS_GROUP)

/* A bit per slot of the group at g that may end a probe for hash h: an
 * empty one or one with the same hash. Slot k's bit is bit 2k. */
static inline unsigned lx__ids_group_stop(const lx__idslot *g, uint32_t h)
{
#if defined(__SSE2__)
    /* A slot is (hash, idx): compare both halves of two slots at once. */
    __m128i key = _mm_set_epi32((int)LX__NIL, (int)h, (int)LX__NIL, (int)h);
    __m128i lo = _mm_cmpeq_epi32(_mm_loadu_si128((const __m128i *)(const void *)g), key);
    __m128i hi = _mm_cmpeq_epi32(_mm_loadu_si128((const __m128i *)(const void *)(g + 2)), key);
    unsigned b = (unsigned)_mm_movemask_ps(_mm_castsi128_ps(lo)) |
                 (unsigned)_mm_movemask_ps(_mm_castsi128_ps(hi)) << 4;
    return (b | b >> 1) & 0x55u;
#else
    unsigned stop = 0;
    for (uint32_t k = 0; k < LX__IDS_GROUP; k++)
        stop |= (unsigned)((g[k].idx == LX__NIL) | (g[k].hash == h)) << (2 * k);
    return stop;
#endif
}

/* The stop bits (see lx__ids_group_stop) of the step from slot i, a
 * step's first: slot i + k's bit is bit 2k. */
static inline unsigned lx__ids_step_stop(const lx__ids *m, uint32_t i, uint32_t h)
{
    return lx__ids_group_stop(&m->s[i], h) | lx__ids_group_stop(&m->s[i + LX__IDS_GROUP], h) << 8;
}

/* Looks id up; orders is the pool the values index. Returns its value or
 * LX__NIL, and writes the slot where it is, or where lx__ids_put_at must put
 * it if the table does not change before (0 if the table is empty). */
static inline uint32_t lx__ids_find(const lx__ids *m, const lx__order *orders, uint64_t id,
                                    uint32_t *pos)
{
    *pos = 0;
    if (__builtin_expect(m->s == NULL, 0))
        return LX__NIL;
    uint32_t h = lx__id_hash(id);
    uint32_t home = h >> m->shift;
    uint32_t i = home & ~(LX__IDS_STEP - 1);
    /* A cache line of slots per step, tested without branches, and one
     * branch per step, where a slot-by-slot loop mispredicts its exit on
     * most lookups. The first step's slots before home do not count. */
    unsigned stop = lx__ids_step_stop(m, i, h) & (~0u << (2 * (home - i)));
    for (;;) {
        for (; stop != 0; stop &= stop - 1) {
            uint32_t j = (i + ((uint32_t)__builtin_ctz(stop) >> 1)) & m->mask;
            lx__idslot sl = m->s[j];
            if (sl.idx == LX__NIL || orders[sl.idx].id == id) {
                *pos = j;
                return sl.idx;
            }
        }
        i = (i + LX__IDS_STEP) & m->mask;
        stop = lx__ids_step_stop(m, i, h);
    }
}

/* Starts loading the links that unlinking oi writes, so that their misses
 * overlap the work before lx__book_remove instead of following it. */
static inline void lx__order_prefetch_links(const lx_engine *e, uint32_t oi)
{
    const lx__link *l = &e->links[oi];
    if (l->prev != LX__NIL)
        __builtin_prefetch(&e->links[l->prev], 1);
    if (l->next != LX__NIL)
        __builtin_prefetch(&e->links[l->next], 1);
}

/* Stores v for id at pos, an empty slot that lx__ids_find returned for id
 * with no change to the table since; room was reserved. */
static inline void lx__ids_put_at(lx__ids *m, uint32_t pos, uint64_t id, uint32_t v)
{
    m->s[pos].hash = lx__id_hash(id);
    m->s[pos].idx = v;
    m->n++;
}

/* True if an entry with home slot home, found at j while shifting back
 * into hole, must stay where it is. */
static inline bool lx__stays(size_t home, size_t hole, size_t j)
{
    return hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
}

/* Removes the entry at pos, a slot that holds one. */
static inline void lx__ids_del_at(lx__ids *m, uint32_t pos)
{
    LX_ASSERT(m->s && pos <= m->mask && m->s[pos].idx != LX__NIL);
    uint32_t hole = pos;
    for (uint32_t j = (pos + 1) & m->mask; m->s[j].idx != LX__NIL; j = (j + 1) & m->mask) {
        if (!lx__stays(m->s[j].hash >> m->shift, hole, j)) {
            m->s[hole] = m->s[j];
            hole = j;
        }
    }
    m->s[hole].idx = LX__NIL;
    m->n--;
}

/* ---- account.c ---- */

/* Returns the asset id of symbol, or LX__NIL (also for a symbol that is
 * empty or not NUL-terminated within LX_SYMBOL_MAX bytes). */
uint32_t lx__asset_lookup(const lx_engine *e, const char *symbol);
/* Makes room for extra more assets. */
lx_err lx__assets_reserve(lx_engine *e, uint32_t extra);
/* Registers symbol (valid, see lx__asset_lookup) if new; writes its id. */
lx_err lx__asset_intern(lx_engine *e, uint32_t *id, const char *symbol);
/* Returns the balance slot of (account, asset), or LX__NIL. */
uint32_t lx__balance_lookup(const lx_engine *e, uint64_t account, uint32_t asset);
/* Finds or creates (all zero) the balance slot of (account, asset). */
lx_err lx__balance_get(lx_engine *e, uint32_t *slot, uint64_t account, uint32_t asset);
/* Returns the owner record of (account, market), or LX__NIL. */
static inline uint32_t lx__owner_lookup(const lx_engine *e, uint64_t account, uint32_t market)
{
    return lx__map_get(&e->owner_index, account, market);
}
/* Finds or creates the owner record of (account, market), creating its
 * balance slots (all zero) if they are new. */
lx_err lx__owner_get(lx_engine *e, uint32_t *owner, uint64_t account, uint32_t market);
/* Applies a deposit or withdraw command. */
lx_err lx__transfer(lx_engine *e, lx_events *evs, uint8_t type, const lx_transfer_cmd *c);
void lx__accounts_free(lx_engine *e);
/* Writes an array of the slots of the balances that are not all zero,
 * ordered by (account, asset), to a malloc'd *out. */
lx_err lx__balances_sorted(const lx_engine *e, uint32_t **out, size_t *n);

/* ---- book.c ---- */

static inline uint64_t lx__side_key(unsigned side, uint64_t price)
{
    return side == LX_BUY ? price : UINT64_MAX - price;
}

/* Makes sure one more order, one more level in side and one more id fit.
 * Positions from lx__ids_find are stale afterwards. */
lx_err lx__book_reserve(lx_engine *e, lx__side *side);
/* Returns the pool index of the open order id, or LX__NIL. */
uint32_t lx__order_find(const lx_engine *e, uint64_t id);

/* What a taker would meet: walks the side opposite to taker_side from the
 * best price while it crosses limit, following the taker's stp mode (owner
 * is the taker's owner record, or LX__NIL if it has none). Writes the
 * quantity that would fill (up to qty) and the number of maker orders it
 * would touch (each one a fill or an stp cancel). */
void lx__book_walk(const lx_engine *e, const lx__market *m, unsigned taker_side, uint64_t limit,
                   uint64_t qty, uint32_t owner, unsigned stp, uint64_t *fillable, size_t *touched);
void lx__books_free(lx_engine *e);

/* ---- engine.c ---- */

uint64_t lx__fee(uint64_t notional, uint32_t bps);
/* What an order of qty lots at price reserves (see lx/plugin.h); the caller
 * knows it fits. */
uint64_t lx__order_need(const lx__market *m, unsigned side, uint64_t price, uint64_t qty);
/* Checks the 63-bit limits of an order; writes its need on success. */
bool lx__order_fits(const lx__market *m, unsigned side, uint64_t price, uint64_t qty,
                    uint64_t *need);

/* ---- event.c ---- */

lx_err lx__events_grow(lx_events *evs, size_t extra);

/* Makes room for extra more events. */
static inline lx_err lx__events_reserve(lx_events *evs, size_t extra)
{
    if (__builtin_expect(evs->cap - evs->n >= extra, 1))
        return LX_OK;
    return lx__events_grow(evs, extra);
}

/* Appends a zeroed event (room was reserved) and returns it. */
static inline lx_event *lx__event_push(lx_events *evs, uint8_t type, uint8_t cmd)
{
    LX_ASSERT(evs->n < evs->cap);
    lx_event *ev = &evs->v[evs->n++];
    *ev = (lx_event){0};
    ev->type = type;
    ev->cmd = cmd;
    return ev;
}

/* ---- snapshot.c: an incremental snapshot in progress ---- */

/* A level as it stood at the begin: where its orders go in the snapshot. */
typedef struct lx__snap_lv {
    size_t off;
    uint32_t level, count, market, side;
} lx__snap_lv;

/* A level being written: where its next order goes, that order, and how
 * many are left to write (snapshot.c's run_lanes). */
typedef struct lx__lane {
    size_t off;
    uint64_t price;
    uint32_t oi, left, market, side;
    uint32_t entry; /* its index in the snapshot's list of levels */
} lx__lane;

#define LX__LANES 8u

typedef struct lx__lanes {
    lx__lane l[LX__LANES];
    unsigned live;
} lx__lanes;

typedef struct lx__snap {
    uint8_t *buf; /* the caller's */
    size_t len;
    lx__snap_lv *v;   /* the levels in snapshot order */
    uint32_t n, next; /* next: the first entry the steps have not reached */
    lx__lanes lanes;  /* the entries being written */
    uint32_t left;    /* entries not yet written */
    /* Per level index below npend: 1 + its entry while that is unwritten,
     * else 0. A level created since the begin has an index past npend or
     * one whose entry was written before the level it had was freed. */
    uint32_t *pend;
    uint32_t npend;
    uint64_t sum;  /* the running checksum (word_sum) of buf[0, summed) */
    size_t summed; /* a multiple of 8 */
} lx__snap;

/* Writes level li's entry now if it is unwritten. */
void lx__snap_level(lx_engine *e, uint32_t li);

/* Called before anything changes an order resting on level li, or removes
 * one: an incremental snapshot in progress writes the level first, so that
 * it holds the orders as they were at its begin. Adding an order at the
 * back changes none of the ones before it. */
static inline void lx__snap_touch(lx_engine *e, uint32_t li)
{
    if (__builtin_expect(e->snap != NULL, 0))
        lx__snap_level(e, li);
}

/* ---- book.c's hot paths, inline for the engine ---- */

/* Index of the first entry of side s of market m whose key is >= key (n if
 * none). Keys are distinct multiples of the tick apart, so an entry d ticks
 * worse than the best is at least n - 1 - d: the search starts there, and
 * where levels are dense (near the best price, where most orders go) it
 * ends at once. */
static inline uint32_t lx__lower_bound(const lx__market *m, const lx__side *s, uint64_t key)
{
    uint32_t n = s->n;
    if (n == 0 || s->v[n - 1].key < key)
        return n;
    uint64_t diff = s->v[n - 1].key - key;
    uint64_t d = m->tick_pow2 ? diff >> m->tick_shift : diff / m->spec.tick;
    uint32_t lo = d >= n - 1 ? 0 : (uint32_t)(n - 1 - d), hi = n - 1;
    /* The answer is in [lo, hi]: v[hi].key >= key. Where no tick between
     * key and the best is empty, it is lo. */
    if (s->v[lo].key >= key)
        return lo;
    while (hi - lo > 8) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (s->v[mid].key < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    while (s->v[lo].key < key)
        lo++;
    return lo;
}

static inline uint32_t lx__order_alloc(lx_engine *e)
{
    uint32_t oi = e->orders_free;
    if (oi != LX__NIL) {
        e->orders_free = e->links[oi].next;
        return oi;
    }
    LX_ASSERT(e->orders_hw < e->cap_orders);
    return e->orders_hw++;
}

static inline uint32_t lx__level_alloc(lx_engine *e)
{
    uint32_t li = e->levels_free;
    if (li != LX__NIL) {
        e->levels_free = e->levels[li].head;
        return li;
    }
    LX_ASSERT(e->levels_hw < e->cap_levels);
    return e->levels_hw++;
}

/* The level of price on side of market m, created (empty) if new. */
static inline uint32_t lx__level_get(lx_engine *e, const lx__market *m, lx__side *s, unsigned side,
                                     uint64_t price)
{
    uint64_t key = lx__side_key(side, price);
    uint32_t pos = lx__lower_bound(m, s, key);
    if (pos < s->n && s->v[pos].key == key)
        return s->v[pos].level;
    LX_ASSERT(s->n < s->cap);
    uint32_t li = lx__level_alloc(e);
    lx__level *nl = &e->levels[li];
    nl->price = price;
    nl->qty = 0;
    nl->head = nl->tail = LX__NIL;
    nl->count = 0;
    nl->side = side;
    memmove(&s->v[pos + 1], &s->v[pos], (size_t)(s->n - pos) * sizeof s->v[0]);
    s->v[pos].key = key;
    s->v[pos].level = li;
    s->v[pos].pad = 0;
    s->n++;
    return li;
}

static inline void lx__book_insert(lx_engine *e, lx__market *m, unsigned side, uint32_t oi,
                                   uint64_t price, uint32_t id_pos)
{
    lx__order *o = &e->orders[oi];
    lx__side *s = &m->sides[side];
    uint32_t li = lx__level_get(e, m, s, side, price);
    lx__level *lv = &e->levels[li];
    lx__link *l = &e->links[oi];
    o->level = li;
    l->next = LX__NIL;
    l->prev = lv->tail;
    if (lv->tail != LX__NIL)
        e->links[lv->tail].next = oi;
    else
        lv->head = oi;
    lv->tail = oi;
    lv->count++;
    lv->qty += o->qty;
    s->orders++;
    if (id_pos == LX__NIL) {
        uint32_t found = lx__ids_find(&e->ids, e->orders, o->id, &id_pos);
        LX_ASSERT(found == LX__NIL && e->ids.s);
    }
    lx__ids_put_at(&e->ids, id_pos, o->id, oi);
    e->open++;
}

static inline void lx__book_remove(lx_engine *e, lx__market *m, uint32_t oi, uint32_t id_pos)
{
    lx__order *o = &e->orders[oi];
    uint32_t li = o->level;
    lx__snap_touch(e, li);
    lx__level *lv = &e->levels[li];
    lx__side *s = &m->sides[lv->side];
    lx__link *l = &e->links[oi];
    if (l->prev != LX__NIL)
        e->links[l->prev].next = l->next;
    else
        lv->head = l->next;
    if (l->next != LX__NIL)
        e->links[l->next].prev = l->prev;
    else
        lv->tail = l->prev;
    lv->count--;
    lv->qty -= o->qty;
    s->orders--;
    if (lv->count == 0) {
        uint32_t pos;
        if (s->n > 0 && s->v[s->n - 1].level == li) {
            pos = s->n - 1;
        } else {
            pos = lx__lower_bound(m, s, lx__side_key(lv->side, lv->price));
            LX_ASSERT(pos < s->n && s->v[pos].level == li);
        }
        memmove(&s->v[pos], &s->v[pos + 1], (size_t)(s->n - pos - 1) * sizeof s->v[0]);
        s->n--;
        lv->head = e->levels_free;
        e->levels_free = li;
    }
    if (id_pos == LX__NIL) {
        uint32_t found = lx__ids_find(&e->ids, e->orders, o->id, &id_pos);
        LX_ASSERT(found == oi);
    }
    lx__ids_del_at(&e->ids, id_pos);
    e->open--;
    o->id = 0;
    l->next = e->orders_free;
    e->orders_free = oi;
}

#endif /* LX_PLUGIN_ENGINE_INT_H */
