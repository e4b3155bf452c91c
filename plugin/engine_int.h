/* Internals of the lxdex engine, shared by the plugin's modules: the id and
 * balance hash, the order and price-level pools, accounts and event helpers. */
#ifndef LX_PLUGIN_ENGINE_INT_H
#define LX_PLUGIN_ENGINE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lx/plugin.h"

#define LX__NIL UINT32_MAX
#define LX__AMOUNT_MAX ((uint64_t)INT64_MAX)

__extension__ typedef unsigned __int128 lx__u128;

/* ---- hashmap.c: open addressing from a (uint64, uint32) key to a uint32
 * value, linear probing, backward-shift deletion. A slot is empty when its
 * value is LX__NIL. ---- */

typedef struct lx__slot {
    uint64_t a;
    uint32_t b;
    uint32_t v;
} lx__slot;

typedef struct lx__map {
    lx__slot *s;
    size_t mask; /* capacity - 1; capacity is 0 or a power of two */
    size_t n;
} lx__map;

void lx__map_init(lx__map *m);
void lx__map_free(lx__map *m);
/* Makes room for n entries in total, so that n puts need no allocation. */
lx_err lx__map_reserve(lx__map *m, size_t n);
/* Returns the value stored for (a, b), or LX__NIL. */
uint32_t lx__map_get(const lx__map *m, uint64_t a, uint32_t b);
/* Stores v for an absent key; the caller reserved room first. */
void lx__map_put(lx__map *m, uint64_t a, uint32_t b, uint32_t v);
/* Removes (a, b); returns false if it was absent. */
bool lx__map_del(lx__map *m, uint64_t a, uint32_t b);
size_t lx__map_bytes(const lx__map *m);

/* ---- the engine's state ---- */

typedef struct lx__order {
    uint64_t id, account;
    uint64_t qty;        /* remaining lots */
    uint64_t filled;     /* lots filled so far */
    uint32_t prev, next; /* FIFO within the level; next links the free list */
    uint32_t level, market;
    uint32_t bal_base, bal_quote; /* the owner's balance slots */
    uint8_t side, tif, stp, post_only;
} lx__order;

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
    lx__side sides[2];
} lx__market;

typedef struct lx__asset {
    char symbol[LX_SYMBOL_MAX];
    uint64_t total; /* sum over all balances, available and reserved */
} lx__asset;

typedef struct lx__balance {
    uint64_t account;
    uint32_t asset;
    uint32_t pad;
    uint64_t available, reserved;
} lx__balance;

struct lx_engine {
    uint64_t fee_account;

    lx__market *markets;
    uint32_t nmarkets, cap_markets;

    lx__asset *assets;
    uint32_t nassets, cap_assets;

    lx__balance *bals; /* stable: slots are never removed or moved */
    uint32_t nbals, cap_bals;
    lx__map bal_index; /* (account, asset) -> slot */

    lx__order *orders; /* pool */
    uint32_t orders_hw, cap_orders, orders_free;
    size_t open; /* open orders */
    lx__map ids; /* (id, 0) -> pool index, open orders only */

    lx__level *levels; /* pool */
    uint32_t levels_hw, cap_levels, levels_free;
};

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

/* Makes sure one more order, one more level in side and one more id fit. */
lx_err lx__book_reserve(lx_engine *e, lx__side *side);
/* Takes a free order slot (after lx__book_reserve) and returns its index. */
uint32_t lx__order_alloc(lx_engine *e);
/* Links order oi, whose fields are set, at the tail of its price level
 * (created if new) and records its id. */
void lx__book_insert(lx_engine *e, uint32_t oi, uint64_t price);
/* Unlinks order oi from its level and the id index and frees its slot. */
void lx__book_remove(lx_engine *e, uint32_t oi);
/* Reduces a resting order's remaining quantity by x (x < qty). */
void lx__book_reduce(lx_engine *e, uint32_t oi, uint64_t x);
/* Returns the pool index of the open order id, or LX__NIL. */
uint32_t lx__order_find(const lx_engine *e, uint64_t id);

/* What a taker would meet: walks the side opposite to taker_side from the
 * best price while it crosses limit, following the taker's stp mode. Writes
 * the quantity that would fill (up to qty) and the number of maker orders it
 * would touch (each one a fill or an stp cancel). */
void lx__book_walk(const lx_engine *e, const lx__market *m, unsigned taker_side, uint64_t limit,
                   uint64_t qty, uint64_t account, unsigned stp, uint64_t *fillable,
                   size_t *touched);
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

/* Makes room for extra more events. */
lx_err lx__events_reserve(lx_events *evs, size_t extra);
/* Appends a zeroed event (room was reserved) and returns it. */
lx_event *lx__event_push(lx_events *evs, uint8_t type, uint8_t cmd);

#endif /* LX_PLUGIN_ENGINE_INT_H */
