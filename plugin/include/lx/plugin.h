/* lxdex engine: markets, order books, matching, balances with reservations,
 * fees and snapshots. Pure and deterministic: no I/O, no clock, no globals. */
#ifndef LX_PLUGIN_H
#define LX_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------
 * Errors: the one error enum of every lxdex part.
 * ------------------------------------------------------------------------- */

typedef enum lx_err {
    LX_OK = 0,
    LX_EINVAL,       /* a bad argument */
    LX_ENOMEM,       /* out of memory */
    LX_ETOOBIG,      /* input over its cap */
    LX_ENOTFOUND,    /* no such thing */
    LX_EEXIST,       /* it exists already */
    LX_EFORMAT,      /* malformed or truncated input */
    LX_ECANONICAL,   /* well-formed but not in canonical form */
    LX_ECRYPTO,      /* a bad key or signature, or a crypto library failure */
    LX_EIO,          /* a file or device error */
    LX_ETIMEDOUT,    /* a deadline passed */
    LX_ETRANSPORT,   /* a connection failed or broke */
    LX_EHTTP,        /* an HTTP status that is not success */
    LX_ERPC,         /* the server answered with a JSON-RPC error */
    LX_EREJECTED,    /* the chain rejected a transaction */
    LX_EPERM,        /* not allowed, e.g. a key file readable by others */
    LX_EAGAIN,       /* try again later */
    LX_ESTATE,       /* not possible in the current state */
    LX_ECORRUPT,     /* stored data failed its checksum */
    LX_EOVERFLOW,    /* an arithmetic result does not fit */
    LX_EUNSUPPORTED, /* known but not supported */
    LX_ECLOSED,      /* the object was closed */
    LX_ERR_COUNT     /* number of codes; not an error */
} lx_err;

/* Returns a static, human-readable description of err; never NULL. */
const char *lx_strerror(lx_err err);

/* Aborts with file and line when an internal invariant is false. */
#define LX_ASSERT(cond)                                                                            \
    do {                                                                                           \
        if (!(cond))                                                                               \
            lx__assert_fail(__FILE__, __LINE__, #cond);                                            \
    } while (0)
_Noreturn void lx__assert_fail(const char *file, int line, const char *expr);

/* ---------------------------------------------------------------------------
 * Units and limits.
 *
 * A market fixes base, quote, lot (base units per lot) and tick. A price is
 * quote units per lot and must be a positive multiple of tick; a quantity is
 * in lots. A fill of qty lots at price p moves qty*lot base units from seller
 * to buyer and p*qty quote units from buyer to seller. Every amount, product
 * and balance must fit in 63 bits (INT64_MAX); an order or deposit that would
 * not is rejected with LX_R_OVERFLOW.
 *
 * Fees are in quote units: fee(n, bps) = ceil(n * bps / 10000) for a fill of
 * notional n = p*qty, charged per fill, rounded up against the payer. The
 * buyer pays n + its fee; the seller receives n - its fee. Both fees go to the
 * engine's fee account.
 *
 * Reservations. Let b = max(maker_fee_bps, taker_fee_bps) of the market.
 *   buy  of q lots at limit (or worst) price P reserves
 *        P*q + (b > 0 ? fee(P*q, b) + q : 0)  quote units;
 *   sell of q lots reserves q*lot base units.
 * The "+ q" covers per-fill rounding: it guarantees the reservation of any
 * remainder plus what each fill costs never exceeds what was reserved. After
 * every command the reserved balance of an account in an asset equals the sum
 * of these formulas over its open orders' remaining quantities; what a fill
 * frees beyond its cost (price improvement, a lower maker fee, rounding) goes
 * back to available at once.
 * ------------------------------------------------------------------------- */

#define LX_NAME_MAX 16   /* market name, including the NUL: "BTC-USD" */
#define LX_SYMBOL_MAX 12 /* asset symbol, including the NUL: "USD" */
#define LX_FEE_BPS_MAX 10000u

typedef enum lx_side { LX_BUY = 0, LX_SELL = 1 } lx_side;

typedef enum lx_order_type {
    LX_LIMIT = 0,
    LX_MARKET = 1 /* immediate-or-cancel with a protective worst price */
} lx_order_type;

typedef enum lx_tif {
    LX_GTC = 0, /* rests until filled or cancelled */
    LX_IOC = 1, /* what does not fill at once is cancelled */
    LX_FOK = 2  /* fills whole at once or is rejected */
} lx_tif;

/* Self-trade prevention: what happens when an incoming (taker) order meets a
 * resting order of the same account. The taker's mode decides. */
typedef enum lx_stp {
    LX_STP_EXPIRE_MAKER = 0, /* cancel the resting order, go on matching */
    LX_STP_EXPIRE_TAKER = 1, /* cancel the taker's remainder, stop */
    LX_STP_EXPIRE_BOTH = 2   /* cancel both, stop */
} lx_stp;

/* Why a command was rejected, or why an accepted order was cancelled. The
 * names (lx_reason_str) are part of the replay format and the wire protocol. */
typedef enum lx_reason {
    LX_R_NONE = 0,
    /* rejects: the command changed nothing */
    LX_R_INSUFFICIENT_BALANCE,  /* "insufficient_balance" */
    LX_R_UNKNOWN_MARKET,        /* "unknown_market" */
    LX_R_BAD_PRICE,             /* "bad_price": zero or not a multiple of tick */
    LX_R_BAD_QTY,               /* "bad_qty": zero or below min_qty */
    LX_R_POST_ONLY_WOULD_CROSS, /* "post_only_would_cross" */
    LX_R_FOK_UNFILLABLE,        /* "fok_unfillable" */
    LX_R_DUPLICATE_ID,          /* "duplicate_id": an open order has that id */
    LX_R_UNKNOWN_ORDER,         /* "unknown_order": no open order has that id */
    LX_R_NOT_OWNER,             /* "not_owner": the order is another account's */
    LX_R_BAD_ID,                /* "bad_id": order id 0 */
    LX_R_BAD_TYPE,              /* "bad_type": bad side/type/tif/stp, or market+post_only */
    LX_R_OVERFLOW,              /* "overflow": an amount would not fit in 63 bits */
    LX_R_BAD_AMOUNT,            /* "bad_amount": a zero deposit or withdrawal */
    LX_R_UNKNOWN_ASSET,         /* "unknown_asset": no market uses that asset */
    LX_R_DUPLICATE_MARKET,      /* "duplicate_market" */
    LX_R_BAD_MARKET,            /* "bad_market": zero lot/tick/min_qty, fee over
                                   10000 bps, base == quote, or an empty name */
    /* cancel reasons: an accepted order's remainder was removed */
    LX_R_USER,    /* "user": a cancel command */
    LX_R_IOC,     /* "ioc": the unfilled rest of an IOC order */
    LX_R_MARKET,  /* "market": the unfilled rest of a market order */
    LX_R_STP,     /* "stp": self-trade prevention */
    LX_R_REPLACE, /* "replace": a replace that loses priority */
    LX_R_COUNT
} lx_reason;

/* Returns the snake_case name of r ("insufficient_balance"), or "unknown". */
const char *lx_reason_str(lx_reason r);

/* ---------------------------------------------------------------------------
 * Commands. Everything that changes an engine is a command, applied in log
 * order. Commands are plain values with no pointers.
 *
 * Checks run in this order and the first failing one names the reject:
 *   order:   bad_id, unknown_market, bad_type, bad_price, bad_qty,
 *            duplicate_id, overflow, insufficient_balance,
 *            post_only_would_cross, fok_unfillable
 *   cancel:  unknown_order, not_owner
 *   replace: unknown_order, not_owner, bad_price, bad_qty, overflow,
 *            insufficient_balance, post_only_would_cross
 *   deposit: unknown_asset, bad_amount, overflow
 *   withdraw: unknown_asset, bad_amount, insufficient_balance
 *   market:  bad_market, duplicate_market
 * ------------------------------------------------------------------------- */

typedef enum lx_cmd_type {
    LX_CMD_MARKET = 0, /* see lx_engine_add_market */
    LX_CMD_DEPOSIT = 1,
    LX_CMD_WITHDRAW = 2,
    LX_CMD_ORDER = 3,
    LX_CMD_CANCEL = 4,
    LX_CMD_REPLACE = 5
} lx_cmd_type;

typedef struct lx_market_spec {
    char name[LX_NAME_MAX];
    char base[LX_SYMBOL_MAX];
    char quote[LX_SYMBOL_MAX];
    uint64_t lot;     /* base units per lot */
    uint64_t tick;    /* price step, quote units per lot */
    uint64_t min_qty; /* smallest order, in lots */
    uint32_t maker_fee_bps;
    uint32_t taker_fee_bps;
} lx_market_spec;

typedef struct lx_order_cmd {
    uint64_t id; /* chosen by the submitter; nonzero; unique among open orders */
    uint64_t account;
    uint32_t market;
    uint8_t side;   /* lx_side */
    uint8_t type;   /* lx_order_type */
    uint8_t tif;    /* lx_tif; ignored for market orders */
    uint8_t stp;    /* lx_stp */
    bool post_only; /* limit only: rejected if it would take liquidity */
    uint64_t price; /* limit price, or a market order's worst price */
    uint64_t qty;   /* lots */
} lx_order_cmd;

typedef struct lx_transfer_cmd { /* deposit and withdraw */
    uint64_t account;
    uint64_t amount;
    char asset[LX_SYMBOL_MAX];
} lx_transfer_cmd;

typedef struct lx_cancel_cmd {
    uint64_t id;
    uint64_t account;
} lx_cancel_cmd;

/* Replace an open order's price and remaining quantity. The order keeps its
 * id, side, account, stp and post_only. Same price and qty <= remaining keeps
 * time priority (an LX_EV_REPLACED event). Otherwise the order loses priority:
 * LX_EV_CANCELLED (reason replace, the old remaining), then LX_EV_ACCEPTED,
 * then it matches like a new GTC order. */
typedef struct lx_replace_cmd {
    uint64_t id;
    uint64_t account;
    uint64_t price;
    uint64_t qty; /* the new remaining quantity, in lots */
} lx_replace_cmd;

typedef struct lx_cmd {
    uint8_t type; /* lx_cmd_type, but never LX_CMD_MARKET */
    union {
        lx_order_cmd order;
        lx_transfer_cmd transfer;
        lx_cancel_cmd cancel;
        lx_replace_cmd replace;
    } u;
} lx_cmd;

/* ---------------------------------------------------------------------------
 * Events. Every command appends a deterministic list of events.
 *   market (accepted):  MARKET
 *   order:    REJECTED, or ACCEPTED then any FILL and CANCELLED (stp cancels
 *             of makers in match order; the taker's ioc/market/stp cancel last)
 *   cancel:   CANCELLED (reason user) or REJECTED
 *   replace:  REPLACED, or CANCELLED(replace) ACCEPTED FILL..., or REJECTED
 *   deposit, withdraw: BALANCE or REJECTED
 * ------------------------------------------------------------------------- */

typedef enum lx_event_type {
    LX_EV_ACCEPTED = 0,
    LX_EV_REJECTED = 1,
    LX_EV_FILL = 2,
    LX_EV_CANCELLED = 3,
    LX_EV_REPLACED = 4,
    LX_EV_BALANCE = 5,
    LX_EV_MARKET = 6
} lx_event_type;

typedef struct lx_event {
    uint8_t type;     /* lx_event_type */
    uint8_t cmd;      /* lx_cmd_type of the command that made it */
    uint8_t side;     /* order side; the taker's side for a fill */
    uint8_t reason;   /* lx_reason for REJECTED and CANCELLED, else 0 */
    uint32_t market;  /* market id; for BALANCE the asset id */
    uint64_t id;      /* order id (the taker's for a fill); 0 for transfers and markets */
    uint64_t account; /* owner of id (the taker's for a fill), or the transfer's */
    union {
        struct { /* ACCEPTED, REPLACED: the order's price and remaining qty */
            uint64_t price, qty;
        } order;
        struct {
            uint64_t maker, maker_account, price, qty, maker_fee, taker_fee;
        } fill;
        struct { /* CANCELLED: what was removed */
            uint64_t remaining;
        } cancel;
        struct { /* BALANCE: the change and the balances after it */
            uint64_t amount, available, reserved;
        } balance;
    } u;
} lx_event;

/* A growable event list owned by the caller. The engine appends. */
typedef struct lx_events {
    lx_event *v;
    size_t n, cap;
} lx_events;

void lx_events_init(lx_events *evs);
void lx_events_clear(lx_events *evs); /* n = 0, keeps the memory */
void lx_events_free(lx_events *evs);  /* frees and re-inits */

/* The canonical encoding of one event: fixed layout per type, big-endian,
 * type byte first. Writes at most LX_EVENT_ENC_MAX bytes to buf and returns
 * the number written, or 0 if len is too small. */
#define LX_EVENT_ENC_MAX 80
size_t lx_event_encode(uint8_t *buf, size_t len, const lx_event *ev);

/* ---------------------------------------------------------------------------
 * The engine.
 * ------------------------------------------------------------------------- */

typedef struct lx_engine lx_engine;

typedef struct lx_engine_config {
    uint64_t fee_account; /* where fees are credited */
} lx_engine_config;

/* Creates an empty engine. *out is owned by the caller; free it with
 * lx_engine_free. Returns LX_EINVAL or LX_ENOMEM on failure. */
lx_err lx_engine_new(lx_engine **out, const lx_engine_config *cfg);

/* Frees *e (NULL is fine) and sets *e to NULL. */
void lx_engine_free(lx_engine **e);

/* Adds a market; on success its id is the number of markets before it. Its
 * base and quote assets are registered if new (asset ids count up from 0 in
 * order of first appearance). Appends MARKET or REJECTED to evs. Returns LX_OK
 * whether or not it was rejected; LX_EINVAL or LX_ENOMEM otherwise. */
lx_err lx_engine_add_market(lx_engine *e, lx_events *evs, const lx_market_spec *spec);

/* Applies one command and appends its events to evs. Returns LX_OK whether the
 * command was accepted or rejected (that is in the events); LX_EINVAL for a
 * NULL argument or an unknown cmd->type; LX_ENOMEM if memory ran out, in which
 * case the engine is unchanged. */
lx_err lx_engine_apply(lx_engine *e, lx_events *evs, const lx_cmd *cmd);

/* A hint, with no effect on the state: starts fetching the memory
 * lx_engine_apply will first read for cmd (the id index's slot of its
 * order id), so that a caller holding a run of commands can issue it a few
 * commands ahead and overlap those cache misses with the work between. */
void lx_engine_prefetch(const lx_engine *e, const lx_cmd *cmd);

/* Serialises the full state as canonical bytes into a malloc'd buffer that
 * the caller frees. Equal states give equal bytes. */
lx_err lx_engine_snapshot(const lx_engine *e, uint8_t **out, size_t *out_len);

/* The length of the snapshot of e as it stands. */
lx_err lx_engine_snapshot_len(const lx_engine *e, size_t *len);

/* lx_engine_snapshot into buf, of cap bytes (LX_ETOOBIG when short), for a
 * caller that keeps its own buffer: the same bytes. */
lx_err lx_engine_snapshot_to(const lx_engine *e, uint8_t *buf, size_t cap, size_t *out_len);

/* An incremental snapshot: the bytes lx_engine_snapshot_to would give for
 * the state at lx_engine_snap_begin, written while commands go on being
 * applied. Each step writes a part of the book; a command about to change
 * or remove an order not yet written writes its price level first. One at
 * a time per engine.
 *
 * lx_engine_snap_begin writes the snapshot's length to *len and, if it
 * fits in buf (cap bytes), its head; the book follows in the steps. buf
 * must stay valid and untouched until the snapshot ends (the last step,
 * lx_engine_snap_finish or lx_engine_snap_abort). LX_ETOOBIG when cap is
 * short, LX_ESTATE when one is in progress, LX_ENOMEM. */
lx_err lx_engine_snap_begin(lx_engine *e, uint8_t *buf, size_t cap, size_t *len);
/* Writes about the next `orders` orders' worth. Returns true when the
 * snapshot is complete in buf (checksum included) and has ended, or if
 * none is in progress. */
bool lx_engine_snap_step(lx_engine *e, size_t orders);
/* Writes all that is left: the snapshot is complete and has ended. */
void lx_engine_snap_finish(lx_engine *e);
/* Ends the snapshot in progress, if any, leaving buf incomplete. */
void lx_engine_snap_abort(lx_engine *e);
/* Whether a snapshot is in progress. */
bool lx_engine_snap_active(const lx_engine *e);

/* Rebuilds an engine from snapshot bytes: LX_EFORMAT or LX_ECORRUPT for bad
 * input (never reads past len). snapshot(restore(s)) == s for a snapshot of
 * the current version; version 1 is still read. */
lx_err lx_engine_restore(lx_engine **out, const uint8_t *buf, size_t len);

/* ---- queries (read-only) ---- */

size_t lx_engine_market_count(const lx_engine *e);
/* Copies market id's spec: LX_ENOTFOUND if there is no such market. */
lx_err lx_engine_market_info(const lx_engine *e, lx_market_spec *out, uint32_t id);
lx_err lx_engine_market_find(const lx_engine *e, uint32_t *id, const char *name);

size_t lx_engine_asset_count(const lx_engine *e);
/* Returns the symbol of asset id (owned by the engine), or NULL. */
const char *lx_engine_asset_symbol(const lx_engine *e, uint32_t id);
lx_err lx_engine_asset_find(const lx_engine *e, uint32_t *id, const char *symbol);

typedef struct lx_level {
    uint64_t price;
    uint64_t qty;    /* total remaining lots at this price */
    uint32_t orders; /* open orders at this price */
} lx_level;

/* L2 depth of a market, best price first, at most max levels per side.
 * Writes the counts to *nbids and *nasks. LX_ENOTFOUND for an unknown market. */
lx_err lx_engine_depth(const lx_engine *e, lx_level *bids, size_t *nbids, lx_level *asks,
                       size_t *nasks, uint32_t market, size_t max);

typedef struct lx_order_info {
    uint64_t id, account;
    uint32_t market;
    uint8_t side, tif, stp;
    bool post_only;
    uint64_t price;
    uint64_t qty;    /* remaining lots */
    uint64_t filled; /* lots filled so far */
} lx_order_info;

/* An open order's status: LX_ENOTFOUND if no open order has that id. */
lx_err lx_engine_order(const lx_engine *e, lx_order_info *out, uint64_t id);
/* True if an order with that id is open: one index probe, where
 * lx_engine_order also reads the order's level, owner and flags. */
bool lx_engine_order_open(const lx_engine *e, uint64_t id);
size_t lx_engine_order_count(const lx_engine *e); /* open orders */
/* Makes room for that many open orders in total, so that a book that stays
 * within it never stops to grow its id index or order pool. The index is
 * rebuilt now at its final size and all of it written (8-byte slots at a
 * load of at most 1/2: 16 MiB for 1,048,576 orders); the pool's arrays (42
 * bytes an order) get their address space, which the kernel fills in as
 * orders arrive. Never shrinks anything. LX_EINVAL over
 * LX_ENGINE_RESERVE_MAX; LX_ENOMEM if the memory is not there (the engine
 * stays whole and may keep what it got). */
#define LX_ENGINE_RESERVE_MAX ((size_t)1 << 28)
lx_err lx_engine_reserve(lx_engine *e, size_t orders);
/* Bytes of the mappings the engine holds outside the C heap (the arrays of
 * a large order pool), which malloc's statistics do not count. */
size_t lx_engine_mapped_bytes(const lx_engine *e);

typedef struct lx_balance {
    uint64_t account;
    uint32_t asset;
    uint64_t available, reserved;
} lx_balance;

/* One account's balance in one asset (zeros if it has none). */
lx_err lx_engine_balance(const lx_engine *e, lx_balance *out, uint64_t account, uint32_t asset);

/* Calls fn for every balance that is not all zero, ordered by account then
 * asset. Stops early and returns fn's value if it returns nonzero. */
typedef int (*lx_balance_fn)(void *arg, const lx_balance *b);
int lx_engine_foreach_balance(const lx_engine *e, lx_balance_fn fn, void *arg);

#ifdef __cplusplus
}
#endif
#endif /* LX_PLUGIN_H */
