/* Tests for the engine's commands: order types, time in force, post-only,
 * self-trade prevention, replaces, fees, reservations, every reject reason,
 * cancels, and a random run that checks the invariants after every command. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lx/plugin.h"

#define FEES 999u /* the fee account */
#define A 1u
#define B 2u
#define C 3u

typedef struct fx {
    lx_engine *e;
    lx_events ev;
} fx;

/* Market 0 "BTC-USD": lot 10, tick 5, min_qty 2, maker 10 bps, taker 30 bps.
 * Market 1 "ETH-USD": lot 1, tick 1, min_qty 1, no fees. */
static void add_markets(fx *f)
{
    lx_market_spec m;
    memset(&m, 0, sizeof m);
    strcpy(m.name, "BTC-USD");
    strcpy(m.base, "BTC");
    strcpy(m.quote, "USD");
    m.lot = 10;
    m.tick = 5;
    m.min_qty = 2;
    m.maker_fee_bps = 10;
    m.taker_fee_bps = 30;
    assert_int_equal(lx_engine_add_market(f->e, &f->ev, &m), LX_OK);
    memset(&m, 0, sizeof m);
    strcpy(m.name, "ETH-USD");
    strcpy(m.base, "ETH");
    strcpy(m.quote, "USD");
    m.lot = 1;
    m.tick = 1;
    m.min_qty = 1;
    assert_int_equal(lx_engine_add_market(f->e, &f->ev, &m), LX_OK);
    lx_events_clear(&f->ev);
}

static int setup(void **state)
{
    static fx f;
    memset(&f, 0, sizeof f);
    lx_engine_config cfg = {FEES};
    assert_int_equal(lx_engine_new(&f.e, &cfg), LX_OK);
    lx_events_init(&f.ev);
    add_markets(&f);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    lx_engine_free(&f->e);
    assert_null(f->e);
    lx_events_free(&f->ev);
    return 0;
}

static const lx_event *transfer(fx *f, uint8_t type, uint64_t acct, const char *asset,
                                uint64_t amount)
{
    lx_cmd c;
    memset(&c, 0, sizeof c);
    c.type = type;
    c.u.transfer.account = acct;
    c.u.transfer.amount = amount;
    strcpy(c.u.transfer.asset, asset);
    lx_events_clear(&f->ev);
    assert_int_equal(lx_engine_apply(f->e, &f->ev, &c), LX_OK);
    assert_int_equal(f->ev.n, 1);
    return &f->ev.v[0];
}

static void fund(fx *f, uint64_t acct, const char *asset, uint64_t amount)
{
    const lx_event *ev = transfer(f, LX_CMD_DEPOSIT, acct, asset, amount);
    assert_int_equal(ev->type, LX_EV_BALANCE);
}

typedef struct ord {
    uint64_t id, acct;
    uint32_t market;
    uint8_t side, type, tif, stp;
    bool post_only;
    uint64_t price, qty;
} ord;

static size_t submit(fx *f, ord o)
{
    lx_cmd c;
    memset(&c, 0, sizeof c);
    c.type = LX_CMD_ORDER;
    c.u.order.id = o.id;
    c.u.order.account = o.acct;
    c.u.order.market = o.market;
    c.u.order.side = o.side;
    c.u.order.type = o.type;
    c.u.order.tif = o.tif;
    c.u.order.stp = o.stp;
    c.u.order.post_only = o.post_only;
    c.u.order.price = o.price;
    c.u.order.qty = o.qty;
    lx_events_clear(&f->ev);
    assert_int_equal(lx_engine_apply(f->e, &f->ev, &c), LX_OK);
    return f->ev.n;
}

/* A GTC limit order on market 0. */
static size_t limit(fx *f, uint64_t id, uint64_t acct, uint8_t side, uint64_t price, uint64_t qty)
{
    return submit(f, (ord){.id = id, .acct = acct, .side = side, .price = price, .qty = qty});
}

static size_t cancel(fx *f, uint64_t id, uint64_t acct)
{
    lx_cmd c;
    memset(&c, 0, sizeof c);
    c.type = LX_CMD_CANCEL;
    c.u.cancel.id = id;
    c.u.cancel.account = acct;
    lx_events_clear(&f->ev);
    assert_int_equal(lx_engine_apply(f->e, &f->ev, &c), LX_OK);
    return f->ev.n;
}

static size_t replace(fx *f, uint64_t id, uint64_t acct, uint64_t price, uint64_t qty)
{
    lx_cmd c;
    memset(&c, 0, sizeof c);
    c.type = LX_CMD_REPLACE;
    c.u.replace.id = id;
    c.u.replace.account = acct;
    c.u.replace.price = price;
    c.u.replace.qty = qty;
    lx_events_clear(&f->ev);
    assert_int_equal(lx_engine_apply(f->e, &f->ev, &c), LX_OK);
    return f->ev.n;
}

static lx_balance bal(fx *f, uint64_t acct, const char *sym)
{
    uint32_t asset;
    assert_int_equal(lx_engine_asset_find(f->e, &asset, sym), LX_OK);
    lx_balance b;
    assert_int_equal(lx_engine_balance(f->e, &b, acct, asset), LX_OK);
    return b;
}

static void expect_reject(fx *f, lx_reason r)
{
    assert_int_equal(f->ev.n, 1);
    assert_int_equal(f->ev.v[0].type, LX_EV_REJECTED);
    assert_string_equal(lx_reason_str((lx_reason)f->ev.v[0].reason), lx_reason_str(r));
}

static const lx_event *ev_at(fx *f, size_t i, uint8_t type)
{
    assert_true(i < f->ev.n);
    assert_int_equal(f->ev.v[i].type, type);
    return &f->ev.v[i];
}

static uint64_t fee(uint64_t n, uint64_t bps)
{
    return (n * bps + 9999) / 10000;
}

/* Market 0's buy reservation: P*q + fee(P*q, 30) + q. */
static uint64_t need_buy(uint64_t p, uint64_t q)
{
    return p * q + fee(p * q, 30) + q;
}

/* ---- markets and assets ---- */

static void test_markets(void **state)
{
    fx *f = *state;
    assert_int_equal(lx_engine_market_count(f->e), 2);
    assert_int_equal(lx_engine_asset_count(f->e), 3);
    assert_string_equal(lx_engine_asset_symbol(f->e, 0), "BTC");
    assert_string_equal(lx_engine_asset_symbol(f->e, 1), "USD");
    assert_string_equal(lx_engine_asset_symbol(f->e, 2), "ETH");
    assert_null(lx_engine_asset_symbol(f->e, 3));
    uint32_t id;
    assert_int_equal(lx_engine_market_find(f->e, &id, "ETH-USD"), LX_OK);
    assert_int_equal(id, 1);
    assert_int_equal(lx_engine_market_find(f->e, &id, "XRP-USD"), LX_ENOTFOUND);
    lx_market_spec m;
    assert_int_equal(lx_engine_market_info(f->e, &m, 0), LX_OK);
    assert_string_equal(m.name, "BTC-USD");
    assert_int_equal(m.lot, 10);
    assert_int_equal(lx_engine_market_info(f->e, &m, 2), LX_ENOTFOUND);

    /* Each bad_market cause, then duplicate_market. */
    lx_market_spec good = m;
    strcpy(good.name, "NEW-USD");
    strcpy(good.base, "NEW");
    for (int i = 0; i < 9; i++) {
        lx_market_spec b = good;
        switch (i) {
        case 0:
            b.lot = 0;
            break;
        case 1:
            b.tick = 0;
            break;
        case 2:
            b.min_qty = 0;
            break;
        case 3:
            b.maker_fee_bps = 10001;
            break;
        case 4:
            b.taker_fee_bps = 10001;
            break;
        case 5:
            strcpy(b.quote, "NEW");
            break;
        case 6:
            b.name[0] = '\0';
            break;
        case 7:
            b.base[0] = '\0';
            break;
        case 8:
            memset(b.name, 'x', sizeof b.name);
            break;
        }
        lx_events_clear(&f->ev);
        assert_int_equal(lx_engine_add_market(f->e, &f->ev, &b), LX_OK);
        expect_reject(f, LX_R_BAD_MARKET);
        assert_int_equal(f->ev.v[0].cmd, LX_CMD_MARKET);
    }
    lx_events_clear(&f->ev);
    strcpy(good.name, "BTC-USD");
    assert_int_equal(lx_engine_add_market(f->e, &f->ev, &good), LX_OK);
    expect_reject(f, LX_R_DUPLICATE_MARKET);
    /* bad_market comes first. */
    good.lot = 0;
    lx_events_clear(&f->ev);
    assert_int_equal(lx_engine_add_market(f->e, &f->ev, &good), LX_OK);
    expect_reject(f, LX_R_BAD_MARKET);
    assert_int_equal(lx_engine_market_count(f->e), 2);
    assert_int_equal(lx_engine_asset_count(f->e), 3);

    strcpy(good.name, "NEW-USD");
    good.lot = 1;
    good.maker_fee_bps = good.taker_fee_bps = 10000;
    lx_events_clear(&f->ev);
    assert_int_equal(lx_engine_add_market(f->e, &f->ev, &good), LX_OK);
    assert_int_equal(ev_at(f, 0, LX_EV_MARKET)->market, 2);
    assert_int_equal(lx_engine_asset_count(f->e), 4);
    assert_int_equal(lx_engine_asset_find(f->e, &id, "NEW"), LX_OK);
    assert_int_equal(id, 3);

    assert_int_equal(lx_engine_add_market(NULL, &f->ev, &good), LX_EINVAL);
    assert_int_equal(lx_engine_add_market(f->e, NULL, &good), LX_EINVAL);
    assert_int_equal(lx_engine_apply(f->e, &f->ev, NULL), LX_EINVAL);
    lx_cmd c;
    memset(&c, 0, sizeof c);
    c.type = LX_CMD_MARKET;
    assert_int_equal(lx_engine_apply(f->e, &f->ev, &c), LX_EINVAL);
    c.type = 77;
    assert_int_equal(lx_engine_apply(f->e, &f->ev, &c), LX_EINVAL);
}

/* ---- deposits and withdrawals ---- */

static void test_transfers(void **state)
{
    fx *f = *state;
    const lx_event *ev = transfer(f, LX_CMD_DEPOSIT, A, "USD", 1000);
    assert_int_equal(ev->type, LX_EV_BALANCE);
    assert_int_equal(ev->cmd, LX_CMD_DEPOSIT);
    assert_int_equal(ev->account, A);
    assert_int_equal(ev->market, 1);
    assert_int_equal(ev->u.balance.amount, 1000);
    assert_int_equal(ev->u.balance.available, 1000);
    ev = transfer(f, LX_CMD_WITHDRAW, A, "USD", 400);
    assert_int_equal(ev->type, LX_EV_BALANCE);
    assert_int_equal(ev->cmd, LX_CMD_WITHDRAW);
    assert_int_equal(ev->u.balance.amount, 400);
    assert_int_equal(ev->u.balance.available, 600);

    transfer(f, LX_CMD_DEPOSIT, A, "DOGE", 5);
    expect_reject(f, LX_R_UNKNOWN_ASSET);
    transfer(f, LX_CMD_DEPOSIT, A, "DOGE", 0); /* unknown_asset comes first */
    expect_reject(f, LX_R_UNKNOWN_ASSET);
    transfer(f, LX_CMD_DEPOSIT, A, "USD", 0);
    expect_reject(f, LX_R_BAD_AMOUNT);
    transfer(f, LX_CMD_DEPOSIT, B, "USD", (uint64_t)INT64_MAX);
    expect_reject(f, LX_R_OVERFLOW); /* the asset's total would pass 2^63-1 */
    transfer(f, LX_CMD_DEPOSIT, B, "USD", (uint64_t)INT64_MAX - 600);
    assert_int_equal(f->ev.v[0].type, LX_EV_BALANCE);
    transfer(f, LX_CMD_DEPOSIT, A, "USD", 1);
    expect_reject(f, LX_R_OVERFLOW);
    transfer(f, LX_CMD_WITHDRAW, A, "DOGE", 1);
    expect_reject(f, LX_R_UNKNOWN_ASSET);
    transfer(f, LX_CMD_WITHDRAW, A, "USD", 0);
    expect_reject(f, LX_R_BAD_AMOUNT);
    transfer(f, LX_CMD_WITHDRAW, A, "USD", 601);
    expect_reject(f, LX_R_INSUFFICIENT_BALANCE);
    transfer(f, LX_CMD_WITHDRAW, C, "BTC", 1); /* no balance at all */
    expect_reject(f, LX_R_INSUFFICIENT_BALANCE);
    assert_int_equal(bal(f, A, "USD").available, 600);
    transfer(f, LX_CMD_WITHDRAW, A, "USD", 600);
    assert_int_equal(bal(f, A, "USD").available, 0);
}

/* ---- limit orders, fills, fees and reservations ---- */

static void test_gtc_rests_and_reserves(void **state)
{
    fx *f = *state;
    fund(f, A, "USD", 1000000);
    fund(f, B, "BTC", 1000);
    assert_int_equal(limit(f, 1, A, LX_BUY, 105, 7), 1);
    const lx_event *ev = ev_at(f, 0, LX_EV_ACCEPTED);
    assert_int_equal(ev->id, 1);
    assert_int_equal(ev->u.order.price, 105);
    assert_int_equal(ev->u.order.qty, 7);
    assert_int_equal(bal(f, A, "USD").reserved, need_buy(105, 7));
    assert_int_equal(bal(f, A, "USD").available, 1000000 - need_buy(105, 7));
    assert_int_equal(limit(f, 2, B, LX_SELL, 110, 3), 1);
    assert_int_equal(bal(f, B, "BTC").reserved, 30);
    assert_int_equal(bal(f, B, "BTC").available, 970);

    lx_order_info info;
    assert_int_equal(lx_engine_order(f->e, &info, 1), LX_OK);
    assert_int_equal(info.price, 105);
    assert_int_equal(info.qty, 7);
    assert_int_equal(info.filled, 0);
    assert_int_equal(info.side, LX_BUY);
    assert_int_equal(lx_engine_order(f->e, &info, 3), LX_ENOTFOUND);
    assert_int_equal(lx_engine_order_count(f->e), 2);

    lx_level bids[4], asks[4];
    size_t nb, na;
    assert_int_equal(lx_engine_depth(f->e, bids, &nb, asks, &na, 0, 4), LX_OK);
    assert_int_equal(nb, 1);
    assert_int_equal(na, 1);
    assert_int_equal(bids[0].price, 105);
    assert_int_equal(asks[0].qty, 3);
    assert_int_equal(lx_engine_depth(f->e, bids, &nb, asks, &na, 7, 4), LX_ENOTFOUND);
}

static void test_fill_at_maker_price_with_fees(void **state)
{
    fx *f = *state;
    fund(f, A, "USD", 1000000);
    fund(f, B, "BTC", 1000);
    limit(f, 1, B, LX_SELL, 105, 3);
    /* The taker bids 120 and trades at the maker's 105. */
    assert_int_equal(limit(f, 2, A, LX_BUY, 120, 5), 2);
    const lx_event *ev = ev_at(f, 1, LX_EV_FILL);
    assert_int_equal(ev->id, 2);
    assert_int_equal(ev->account, A);
    assert_int_equal(ev->side, LX_BUY);
    assert_int_equal(ev->u.fill.maker, 1);
    assert_int_equal(ev->u.fill.maker_account, B);
    assert_int_equal(ev->u.fill.price, 105);
    assert_int_equal(ev->u.fill.qty, 3);
    uint64_t n = 315;
    assert_int_equal(ev->u.fill.maker_fee, fee(n, 10)); /* ceil(0.315) = 1 */
    assert_int_equal(ev->u.fill.taker_fee, fee(n, 30)); /* ceil(0.945) = 1 */
    /* The remainder rests at 120 and reserves exactly its formula; the price
     * improvement went back to available. */
    lx_balance a = bal(f, A, "USD");
    assert_int_equal(a.reserved, need_buy(120, 2));
    assert_int_equal(a.available + a.reserved, 1000000 - n - fee(n, 30));
    assert_int_equal(bal(f, A, "BTC").available, 30);
    assert_int_equal(bal(f, B, "USD").available, n - fee(n, 10));
    assert_int_equal(bal(f, B, "BTC").available + bal(f, B, "BTC").reserved, 970);
    assert_int_equal(bal(f, FEES, "USD").available, fee(n, 10) + fee(n, 30));
    lx_order_info info;
    assert_int_equal(lx_engine_order(f->e, &info, 2), LX_OK);
    assert_int_equal(info.qty, 2);
    assert_int_equal(info.filled, 3);
    assert_int_equal(lx_engine_order(f->e, &info, 1), LX_ENOTFOUND);
    /* The maker's id is free again. */
    assert_int_equal(limit(f, 1, B, LX_SELL, 200, 2), 1);
    assert_int_equal(f->ev.v[0].type, LX_EV_ACCEPTED);
}

static void test_price_time_priority(void **state)
{
    fx *f = *state;
    fund(f, A, "USD", 1000000);
    fund(f, B, "BTC", 1000);
    fund(f, C, "BTC", 1000);
    limit(f, 1, B, LX_SELL, 110, 2);
    limit(f, 2, C, LX_SELL, 105, 2);
    limit(f, 3, B, LX_SELL, 105, 2);
    limit(f, 4, C, LX_SELL, 100, 2);
    assert_int_equal(limit(f, 5, A, LX_BUY, 110, 8), 5);
    uint64_t want[4] = {4, 2, 3, 1};
    uint64_t price[4] = {100, 105, 105, 110};
    for (int i = 0; i < 4; i++) {
        const lx_event *ev = ev_at(f, (size_t)i + 1, LX_EV_FILL);
        assert_int_equal(ev->u.fill.maker, want[i]);
        assert_int_equal(ev->u.fill.price, price[i]);
    }
    assert_int_equal(lx_engine_order_count(f->e), 0);
    assert_int_equal(bal(f, A, "USD").reserved, 0);
}

/* A buy filled one lot at a time: the per-fill fee rounding is covered by
 * the "+ q" term, and the reservation always equals the formula. */
static void test_plus_q_covers_rounding(void **state)
{
    fx *f = *state;
    fund(f, A, "USD", need_buy(5, 6));
    fund(f, B, "BTC", 1000);
    limit(f, 1, A, LX_BUY, 5, 6); /* notional 30, fee 1, reserve 37 */
    assert_int_equal(bal(f, A, "USD").available, 0);
    for (uint64_t i = 0; i < 3; i++) {
        /* Each fill of 2 lots costs 10 + ceil(10*30/10000) = 11. */
        assert_int_equal(limit(f, 10 + i, B, LX_SELL, 5, 2), 2);
        const lx_event *ev = ev_at(f, 1, LX_EV_FILL);
        assert_int_equal(ev->u.fill.taker_fee, 1);
        assert_int_equal(ev->u.fill.maker_fee, 1);
        uint64_t left = 6 - 2 * (i + 1);
        lx_balance a = bal(f, A, "USD");
        assert_int_equal(a.reserved, left ? need_buy(5, left) : 0);
        assert_int_equal(a.available + a.reserved, need_buy(5, 6) - 11 * (i + 1));
    }
}

static void test_ioc_and_fok(void **state)
{
    fx *f = *state;
    fund(f, A, "USD", 1000000);
    fund(f, B, "BTC", 1000);
    limit(f, 1, B, LX_SELL, 100, 3);
    limit(f, 2, B, LX_SELL, 105, 3);
    /* IOC: fills what it can, the rest is cancelled with reason ioc. */
    assert_int_equal(
        submit(f, (ord){.id = 3, .acct = A, .side = LX_BUY, .tif = LX_IOC, .price = 100, .qty = 5}),
        3);
    ev_at(f, 1, LX_EV_FILL);
    const lx_event *ev = ev_at(f, 2, LX_EV_CANCELLED);
    assert_int_equal(ev->reason, LX_R_IOC);
    assert_int_equal(ev->u.cancel.remaining, 2);
    assert_int_equal(ev->id, 3);
    assert_int_equal(bal(f, A, "USD").reserved, 0);
    assert_int_equal(lx_engine_order(f->e, &(lx_order_info){0}, 3), LX_ENOTFOUND);
    /* An IOC that does not cross at all. */
    assert_int_equal(
        submit(f, (ord){.id = 3, .acct = A, .side = LX_BUY, .tif = LX_IOC, .price = 50, .qty = 2}),
        2);
    assert_int_equal(ev_at(f, 1, LX_EV_CANCELLED)->u.cancel.remaining, 2);

    /* FOK: 4 lots are not there at <= 105 (only 3), so nothing changes. */
    lx_balance before = bal(f, A, "USD");
    submit(f, (ord){.id = 4, .acct = A, .side = LX_BUY, .tif = LX_FOK, .price = 105, .qty = 4});
    expect_reject(f, LX_R_FOK_UNFILLABLE);
    assert_int_equal(bal(f, A, "USD").available, before.available);
    assert_int_equal(lx_engine_order_count(f->e), 1);
    /* Exactly fillable. */
    assert_int_equal(
        submit(f, (ord){.id = 4, .acct = A, .side = LX_BUY, .tif = LX_FOK, .price = 105, .qty = 3}),
        2);
    assert_int_equal(ev_at(f, 1, LX_EV_FILL)->u.fill.qty, 3);
    assert_int_equal(lx_engine_order_count(f->e), 0);
}

static void test_fok_with_stp(void **state)
{
    fx *f = *state;
    fund(f, A, "USD", 1000000);
    fund(f, A, "BTC", 1000);
    fund(f, B, "BTC", 1000);
    limit(f, 1, A, LX_SELL, 100, 2); /* own order first in line */
    limit(f, 2, B, LX_SELL, 100, 2);
    limit(f, 3, B, LX_SELL, 105, 2);
    ord o = {.id = 9, .acct = A, .side = LX_BUY, .tif = LX_FOK, .price = 105, .qty = 4};
    /* expire_taker and expire_both stop at the own order: nothing fillable. */
    o.stp = LX_STP_EXPIRE_TAKER;
    submit(f, o);
    expect_reject(f, LX_R_FOK_UNFILLABLE);
    o.stp = LX_STP_EXPIRE_BOTH;
    submit(f, o);
    expect_reject(f, LX_R_FOK_UNFILLABLE);
    /* expire_maker: own liquidity does not count; 5 lots are not there. */
    o.stp = LX_STP_EXPIRE_MAKER;
    o.qty = 5;
    submit(f, o);
    expect_reject(f, LX_R_FOK_UNFILLABLE);
    assert_int_equal(lx_engine_order_count(f->e), 3);
    o.qty = 4;
    assert_int_equal(submit(f, o), 4);
    const lx_event *ev = ev_at(f, 1, LX_EV_CANCELLED);
    assert_int_equal(ev->id, 1);
    assert_int_equal(ev->reason, LX_R_STP);
    assert_int_equal(ev->cmd, LX_CMD_ORDER);
    assert_int_equal(ev_at(f, 2, LX_EV_FILL)->u.fill.maker, 2);
    assert_int_equal(ev_at(f, 3, LX_EV_FILL)->u.fill.maker, 3);
    assert_int_equal(bal(f, A, "BTC").reserved, 0);
}

static void test_market_orders(void **state)
{
    fx *f = *state;
    fund(f, A, "USD", need_buy(200, 5));
    fund(f, B, "BTC", 1000);
    limit(f, 1, B, LX_SELL, 100, 2);
    limit(f, 2, B, LX_SELL, 300, 2);
    /* Reserved at the worst price 200; fills 2 at 100; the rest is cancelled
     * with reason market. tif is ignored, even an invalid one. */
    assert_int_equal(submit(f, (ord){.id = 3,
                                     .acct = A,
                                     .side = LX_BUY,
                                     .type = LX_MARKET,
                                     .tif = 9,
                                     .price = 200,
                                     .qty = 5}),
                     3);
    assert_int_equal(ev_at(f, 0, LX_EV_ACCEPTED)->u.order.price, 200);
    assert_int_equal(ev_at(f, 1, LX_EV_FILL)->u.fill.price, 100);
    const lx_event *ev = ev_at(f, 2, LX_EV_CANCELLED);
    assert_int_equal(ev->reason, LX_R_MARKET);
    assert_int_equal(ev->u.cancel.remaining, 3);
    assert_int_equal(bal(f, A, "USD").reserved, 0);
    assert_int_equal(bal(f, A, "BTC").available, 20);
    /* A market order with tif FOK is not fill-or-kill. */
    assert_int_equal(submit(f, (ord){.id = 4,
                                     .acct = A,
                                     .side = LX_BUY,
                                     .type = LX_MARKET,
                                     .tif = LX_FOK,
                                     .price = 100,
                                     .qty = 2}),
                     2);
    assert_int_equal(ev_at(f, 1, LX_EV_CANCELLED)->reason, LX_R_MARKET);
    /* Reservation at the worst price is checked. */
    submit(
        f,
        (ord){.id = 5, .acct = A, .side = LX_BUY, .type = LX_MARKET, .price = 1000000, .qty = 5});
    expect_reject(f, LX_R_INSUFFICIENT_BALANCE);
    /* market + post_only */
    submit(f, (ord){.id = 5,
                    .acct = A,
                    .side = LX_BUY,
                    .type = LX_MARKET,
                    .post_only = true,
                    .price = 100,
                    .qty = 2});
    expect_reject(f, LX_R_BAD_TYPE);
    /* A market sell. */
    fund(f, C, "USD", 1000000);
    limit(f, 6, C, LX_BUY, 150, 2);
    assert_int_equal(
        submit(f,
               (ord){.id = 7, .acct = B, .side = LX_SELL, .type = LX_MARKET, .price = 5, .qty = 3}),
        3);
    assert_int_equal(ev_at(f, 1, LX_EV_FILL)->u.fill.price, 150);
    assert_int_equal(ev_at(f, 2, LX_EV_CANCELLED)->u.cancel.remaining, 1);
}

static void test_post_only(void **state)
{
    fx *f = *state;
    fund(f, A, "USD", 1000000);
    fund(f, A, "BTC", 1000);
    limit(f, 1, A, LX_SELL, 110, 2);
    /* Crossing its own order is still a cross. */
    submit(f, (ord){.id = 2, .acct = A, .side = LX_BUY, .post_only = true, .price = 110, .qty = 2});
    expect_reject(f, LX_R_POST_ONLY_WOULD_CROSS);
    assert_int_equal(
        submit(
            f,
            (ord){.id = 2, .acct = A, .side = LX_BUY, .post_only = true, .price = 105, .qty = 2}),
        1);
    lx_order_info info;
    assert_int_equal(lx_engine_order(f->e, &info, 2), LX_OK);
    assert_true(info.post_only);
    /* post_only with FOK that does not cross: fok_unfillable, checked after. */
    submit(f, (ord){.id = 3,
                    .acct = A,
                    .side = LX_BUY,
                    .post_only = true,
                    .tif = LX_FOK,
                    .price = 100,
                    .qty = 2});
    expect_reject(f, LX_R_FOK_UNFILLABLE);
    submit(f, (ord){.id = 3,
                    .acct = A,
                    .side = LX_BUY,
                    .post_only = true,
                    .tif = LX_FOK,
                    .price = 110,
                    .qty = 2});
    expect_reject(f, LX_R_POST_ONLY_WOULD_CROSS);
}

static void stp_book(fx *f)
{
    fund(f, A, "USD", 1000000);
    fund(f, A, "BTC", 1000);
    fund(f, B, "BTC", 1000);
    limit(f, 1, B, LX_SELL, 100, 2);
    limit(f, 2, A, LX_SELL, 100, 2);
    limit(f, 3, B, LX_SELL, 100, 2);
}

static void test_stp_expire_maker(void **state)
{
    fx *f = *state;
    stp_book(f);
    assert_int_equal(submit(f, (ord){.id = 9,
                                     .acct = A,
                                     .side = LX_BUY,
                                     .price = 100,
                                     .qty = 6,
                                     .stp = LX_STP_EXPIRE_MAKER}),
                     4);
    ev_at(f, 0, LX_EV_ACCEPTED);
    assert_int_equal(ev_at(f, 1, LX_EV_FILL)->u.fill.maker, 1);
    const lx_event *ev = ev_at(f, 2, LX_EV_CANCELLED);
    assert_int_equal(ev->id, 2);
    assert_int_equal(ev->account, A);
    assert_int_equal(ev->side, LX_SELL);
    assert_int_equal(ev->u.cancel.remaining, 2);
    assert_int_equal(ev->reason, LX_R_STP);
    assert_int_equal(ev_at(f, 3, LX_EV_FILL)->u.fill.maker, 3);
    /* The remainder of 2 rests. */
    lx_order_info info;
    assert_int_equal(lx_engine_order(f->e, &info, 9), LX_OK);
    assert_int_equal(info.qty, 2);
    assert_int_equal(bal(f, A, "BTC").reserved, 0);
}

static void test_stp_expire_taker(void **state)
{
    fx *f = *state;
    stp_book(f);
    assert_int_equal(submit(f, (ord){.id = 9,
                                     .acct = A,
                                     .side = LX_BUY,
                                     .price = 100,
                                     .qty = 6,
                                     .stp = LX_STP_EXPIRE_TAKER}),
                     3);
    assert_int_equal(ev_at(f, 1, LX_EV_FILL)->u.fill.maker, 1);
    const lx_event *ev = ev_at(f, 2, LX_EV_CANCELLED);
    assert_int_equal(ev->id, 9);
    assert_int_equal(ev->reason, LX_R_STP);
    assert_int_equal(ev->u.cancel.remaining, 4);
    assert_int_equal(lx_engine_order_count(f->e), 2); /* 2 and 3 rest */
    assert_int_equal(bal(f, A, "USD").reserved, 0);
}

static void test_stp_expire_both(void **state)
{
    fx *f = *state;
    stp_book(f);
    assert_int_equal(submit(f, (ord){.id = 9,
                                     .acct = A,
                                     .side = LX_BUY,
                                     .price = 100,
                                     .qty = 6,
                                     .stp = LX_STP_EXPIRE_BOTH}),
                     4);
    assert_int_equal(ev_at(f, 1, LX_EV_FILL)->u.fill.maker, 1);
    assert_int_equal(ev_at(f, 2, LX_EV_CANCELLED)->id, 2); /* maker first */
    const lx_event *ev = ev_at(f, 3, LX_EV_CANCELLED);
    assert_int_equal(ev->id, 9);
    assert_int_equal(ev->reason, LX_R_STP);
    assert_int_equal(ev->u.cancel.remaining, 4);
    assert_int_equal(lx_engine_order_count(f->e), 1);
    assert_int_equal(bal(f, A, "BTC").reserved, 0);
    assert_int_equal(bal(f, A, "USD").reserved, 0);
}

/* ---- replace ---- */

static void test_replace_keeps_priority(void **state)
{
    fx *f = *state;
    fund(f, A, "USD", 1000000);
    fund(f, B, "USD", 1000000);
    fund(f, C, "BTC", 1000);
    limit(f, 1, A, LX_BUY, 100, 6);
    limit(f, 2, B, LX_BUY, 100, 6);
    assert_int_equal(replace(f, 1, A, 100, 4), 1);
    const lx_event *ev = ev_at(f, 0, LX_EV_REPLACED);
    assert_int_equal(ev->u.order.price, 100);
    assert_int_equal(ev->u.order.qty, 4);
    assert_int_equal(ev->cmd, LX_CMD_REPLACE);
    assert_int_equal(bal(f, A, "USD").reserved, need_buy(100, 4));
    assert_int_equal(bal(f, A, "USD").available + bal(f, A, "USD").reserved, 1000000);
    /* Same quantity is a no-op replace that still keeps priority. */
    assert_int_equal(replace(f, 1, A, 100, 4), 1);
    ev_at(f, 0, LX_EV_REPLACED);
    /* Order 1 is still first. */
    limit(f, 3, C, LX_SELL, 100, 2);
    assert_int_equal(ev_at(f, 1, LX_EV_FILL)->u.fill.maker, 1);
    lx_level bids[2], asks[2];
    size_t nb, na;
    lx_engine_depth(f->e, bids, &nb, asks, &na, 0, 2);
    assert_int_equal(bids[0].qty, 2 + 6);
    assert_int_equal(bids[0].orders, 2);
}

static void test_replace_loses_priority(void **state)
{
    fx *f = *state;
    fund(f, A, "USD", 1000000);
    fund(f, B, "USD", 1000000);
    fund(f, C, "BTC", 1000);
    limit(f, 1, A, LX_BUY, 100, 2);
    limit(f, 2, B, LX_BUY, 100, 2);
    /* More quantity: to the back of the queue. */
    assert_int_equal(replace(f, 1, A, 100, 3), 2);
    const lx_event *ev = ev_at(f, 0, LX_EV_CANCELLED);
    assert_int_equal(ev->reason, LX_R_REPLACE);
    assert_int_equal(ev->u.cancel.remaining, 2);
    ev = ev_at(f, 1, LX_EV_ACCEPTED);
    assert_int_equal(ev->u.order.qty, 3);
    assert_int_equal(ev->cmd, LX_CMD_REPLACE);
    assert_int_equal(bal(f, A, "USD").reserved, need_buy(100, 3));
    limit(f, 3, C, LX_SELL, 100, 2);
    assert_int_equal(ev_at(f, 1, LX_EV_FILL)->u.fill.maker, 2);

    /* A new price that crosses: it matches like a new GTC order. */
    limit(f, 4, C, LX_SELL, 110, 2);
    assert_int_equal(replace(f, 1, A, 115, 4), 3);
    ev_at(f, 0, LX_EV_CANCELLED);
    ev_at(f, 1, LX_EV_ACCEPTED);
    ev = ev_at(f, 2, LX_EV_FILL);
    assert_int_equal(ev->id, 1);
    assert_int_equal(ev->u.fill.maker, 4);
    assert_int_equal(ev->u.fill.price, 110);
}

static void test_replace_crossing_fills(void **state)
{
    fx *f = *state;
    fund(f, A, "USD", 1000000);
    fund(f, C, "BTC", 1000);
    limit(f, 1, A, LX_BUY, 100, 4);
    limit(f, 2, C, LX_SELL, 110, 2);
    assert_int_equal(replace(f, 1, A, 115, 4), 3);
    ev_at(f, 0, LX_EV_CANCELLED);
    ev_at(f, 1, LX_EV_ACCEPTED);
    const lx_event *ev = ev_at(f, 2, LX_EV_FILL);
    assert_int_equal(ev->id, 1);
    assert_int_equal(ev->u.fill.price, 110);
    lx_order_info info;
    assert_int_equal(lx_engine_order(f->e, &info, 1), LX_OK);
    assert_int_equal(info.price, 115);
    assert_int_equal(info.qty, 2);
    assert_int_equal(info.filled, 2);
    assert_int_equal(bal(f, A, "USD").reserved, need_buy(115, 2));
}

static void test_replace_stp_and_post_only(void **state)
{
    fx *f = *state;
    fund(f, A, "USD", 1000000);
    fund(f, A, "BTC", 1000);
    limit(f, 1, A, LX_SELL, 110, 2);
    submit(f, (ord){.id = 2,
                    .acct = A,
                    .side = LX_BUY,
                    .price = 100,
                    .qty = 2,
                    .stp = LX_STP_EXPIRE_TAKER});
    /* The replaced order keeps expire_taker: it meets its own ask and dies. */
    assert_int_equal(replace(f, 2, A, 110, 2), 3);
    ev_at(f, 0, LX_EV_CANCELLED);
    ev_at(f, 1, LX_EV_ACCEPTED);
    const lx_event *ev = ev_at(f, 2, LX_EV_CANCELLED);
    assert_int_equal(ev->reason, LX_R_STP);
    assert_int_equal(ev->id, 2);
    assert_int_equal(lx_engine_order_count(f->e), 1);
    assert_int_equal(bal(f, A, "USD").reserved, 0);
    /* post_only is kept too. */
    submit(f, (ord){.id = 3, .acct = A, .side = LX_BUY, .price = 100, .qty = 2, .post_only = true});
    replace(f, 3, A, 110, 2);
    expect_reject(f, LX_R_POST_ONLY_WOULD_CROSS);
    assert_int_equal(replace(f, 3, A, 105, 2), 2);
}

static void test_replace_rejects(void **state)
{
    fx *f = *state;
    fund(f, A, "USD", need_buy(100, 4) + 10);
    fund(f, B, "USD", 100000);
    limit(f, 1, A, LX_BUY, 100, 4);
    lx_balance before = bal(f, A, "USD");
    replace(f, 7, A, 100, 2);
    expect_reject(f, LX_R_UNKNOWN_ORDER);
    assert_int_equal(f->ev.v[0].cmd, LX_CMD_REPLACE);
    replace(f, 0, A, 100, 2);
    expect_reject(f, LX_R_UNKNOWN_ORDER);
    replace(f, 1, B, 0, 0); /* not_owner before bad_price */
    expect_reject(f, LX_R_NOT_OWNER);
    replace(f, 1, A, 0, 0);
    expect_reject(f, LX_R_BAD_PRICE);
    replace(f, 1, A, 102, 2);
    expect_reject(f, LX_R_BAD_PRICE);
    replace(f, 1, A, 100, 0);
    expect_reject(f, LX_R_BAD_QTY);
    replace(f, 1, A, 100, 1); /* below min_qty 2 */
    expect_reject(f, LX_R_BAD_QTY);
    replace(f, 1, A, (uint64_t)INT64_MAX - 2, 2);
    expect_reject(f, LX_R_OVERFLOW);
    replace(f, 1, A, 100, 5); /* the old reservation counts, 10 more does not suffice */
    expect_reject(f, LX_R_INSUFFICIENT_BALANCE);
    lx_balance after = bal(f, A, "USD");
    assert_int_equal(after.available, before.available);
    assert_int_equal(after.reserved, before.reserved);
    lx_order_info info;
    assert_int_equal(lx_engine_order(f->e, &info, 1), LX_OK);
    assert_int_equal(info.qty, 4);
    assert_int_equal(info.price, 100);
    /* Using the old reservation is fine. */
    assert_int_equal(replace(f, 1, A, 100, 4), 1);
    assert_int_equal(replace(f, 1, A, 95, 4), 2);
}

/* ---- order rejects and their order ---- */

static void test_order_rejects(void **state)
{
    fx *f = *state;
    fund(f, A, "USD", 10000);
    fund(f, A, "BTC", 100);
    ord ok = {.id = 1, .acct = A, .side = LX_BUY, .price = 100, .qty = 2};
    ord o;
    o = ok;
    o.id = 0;
    o.market = 9; /* bad_id before unknown_market */
    submit(f, o);
    expect_reject(f, LX_R_BAD_ID);
    o = ok;
    o.market = 9;
    o.side = 7; /* unknown_market before bad_type */
    submit(f, o);
    expect_reject(f, LX_R_UNKNOWN_MARKET);
    assert_int_equal(f->ev.v[0].market, 9);
    for (int i = 0; i < 5; i++) {
        o = ok;
        o.price = 0; /* bad_type comes before bad_price */
        if (i == 0)
            o.side = 2;
        else if (i == 1)
            o.type = 2;
        else if (i == 2)
            o.tif = 3;
        else if (i == 3)
            o.stp = 3;
        else {
            o.type = LX_MARKET;
            o.post_only = true;
        }
        submit(f, o);
        expect_reject(f, LX_R_BAD_TYPE);
    }
    o = ok;
    o.price = 0;
    o.qty = 0;
    submit(f, o);
    expect_reject(f, LX_R_BAD_PRICE);
    o.price = 101; /* not a multiple of tick 5 */
    submit(f, o);
    expect_reject(f, LX_R_BAD_PRICE);
    o = ok;
    o.qty = 0;
    submit(f, o);
    expect_reject(f, LX_R_BAD_QTY);
    o.qty = 1; /* min_qty 2 */
    submit(f, o);
    expect_reject(f, LX_R_BAD_QTY);
    assert_int_equal(submit(f, ok), 1);
    o = ok;
    o.qty = 1000000; /* duplicate_id before insufficient_balance */
    submit(f, o);
    expect_reject(f, LX_R_DUPLICATE_ID);
    o = ok;
    o.id = 2;
    o.price = 5000000000000000000ull; /* price * qty over 2^63-1 */
    submit(f, o);
    expect_reject(f, LX_R_OVERFLOW);
    o.side = LX_SELL; /* sells too: the notional must fit */
    submit(f, o);
    expect_reject(f, LX_R_OVERFLOW);
    o = ok;
    o.id = 2;
    o.side = LX_SELL;
    o.qty = 1000000000000000000ull; /* qty * lot over 2^63-1 */
    o.price = 5;
    submit(f, o);
    expect_reject(f, LX_R_OVERFLOW);
    o = ok;
    o.id = 2;
    o.price = 3070000000000000000ull; /* notional fits, plus the fee does not */
    o.qty = 3;
    submit(f, o);
    expect_reject(f, LX_R_OVERFLOW);
    o = ok;
    o.id = 2;
    o.qty = 100; /* 10000 + fee + 100 > 10000 - reserved */
    submit(f, o);
    expect_reject(f, LX_R_INSUFFICIENT_BALANCE);
    o.side = LX_SELL;
    o.qty = 11; /* 110 base units, has 100 */
    submit(f, o);
    expect_reject(f, LX_R_INSUFFICIENT_BALANCE);
    o = ok;
    o.id = 2;
    o.acct = C; /* no balance at all */
    submit(f, o);
    expect_reject(f, LX_R_INSUFFICIENT_BALANCE);
    assert_int_equal(f->ev.v[0].account, C);
    assert_int_equal(f->ev.v[0].id, 2);
    assert_int_equal(f->ev.v[0].cmd, LX_CMD_ORDER);
    assert_int_equal(lx_engine_order_count(f->e), 1);
}

/* ---- cancel ---- */

static void test_cancel(void **state)
{
    fx *f = *state;
    fund(f, A, "USD", 1000000);
    limit(f, 1, A, LX_BUY, 100, 4);
    cancel(f, 1, B);
    expect_reject(f, LX_R_NOT_OWNER);
    cancel(f, 2, A);
    expect_reject(f, LX_R_UNKNOWN_ORDER);
    cancel(f, 0, A);
    expect_reject(f, LX_R_UNKNOWN_ORDER);
    assert_int_equal(cancel(f, 1, A), 1);
    const lx_event *ev = ev_at(f, 0, LX_EV_CANCELLED);
    assert_int_equal(ev->reason, LX_R_USER);
    assert_int_equal(ev->u.cancel.remaining, 4);
    assert_int_equal(ev->cmd, LX_CMD_CANCEL);
    assert_int_equal(ev->side, LX_BUY);
    assert_int_equal(bal(f, A, "USD").reserved, 0);
    assert_int_equal(bal(f, A, "USD").available, 1000000);
    cancel(f, 1, A);
    expect_reject(f, LX_R_UNKNOWN_ORDER);
    /* The id can be used again. */
    assert_int_equal(limit(f, 1, A, LX_BUY, 100, 4), 1);
}

/* ---- several engines, zero-fee market, queries ---- */

static int collect(void *arg, const lx_balance *b)
{
    lx_balance **p = arg;
    **p = *b;
    (*p)++;
    return 0;
}

static int stop_early(void *arg, const lx_balance *b)
{
    (void)b;
    int *n = arg;
    return ++*n == 2 ? 42 : 0;
}

static void test_many_engines(void **state)
{
    fx *f = *state;
    fx g;
    lx_engine_config cfg = {7};
    assert_int_equal(lx_engine_new(&g.e, &cfg), LX_OK);
    lx_events_init(&g.ev);
    add_markets(&g);
    fund(f, A, "ETH", 100);
    fund(&g, A, "ETH", 5);
    assert_int_equal(bal(f, A, "ETH").available, 100);
    assert_int_equal(bal(&g, A, "ETH").available, 5);
    /* A zero-fee market: buys reserve exactly price * qty. */
    fund(&g, B, "USD", 50);
    assert_int_equal(
        submit(&g, (ord){.id = 1, .acct = B, .market = 1, .side = LX_BUY, .price = 10, .qty = 5}),
        1);
    assert_int_equal(bal(&g, B, "USD").reserved, 50);
    assert_int_equal(
        submit(&g, (ord){.id = 2, .acct = A, .market = 1, .side = LX_SELL, .price = 10, .qty = 5}),
        2);
    assert_int_equal(bal(&g, B, "ETH").available, 5);
    assert_int_equal(bal(&g, A, "USD").available, 50);
    assert_int_equal(lx_engine_order_count(f->e), 0);

    lx_balance out[8], *p = out;
    assert_int_equal(lx_engine_foreach_balance(g.e, collect, &p), 0);
    assert_int_equal(p - out, 2); /* zero balances are skipped */
    assert_int_equal(out[0].account, A);
    assert_int_equal(out[0].asset, 1);
    assert_int_equal(out[1].account, B);
    assert_int_equal(out[1].asset, 2);
    int n = 0;
    assert_int_equal(lx_engine_foreach_balance(g.e, stop_early, &n), 42);
    lx_engine_free(&g.e);
    lx_events_free(&g.ev);
    lx_engine_free(&g.e); /* NULL is fine */
    lx_engine_free(NULL);
    assert_int_equal(lx_engine_new(&g.e, NULL), LX_EINVAL);
}

/* ---- random commands with invariant checks ---- */

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

typedef struct totals {
    uint64_t sum[3];
} totals;

static int add_up(void *arg, const lx_balance *b)
{
    totals *t = arg;
    t->sum[b->asset] += b->available + b->reserved;
    return 0;
}

static void check_invariants(fx *f, const uint64_t *deposited, const uint64_t *max_id)
{
    /* reserved == the formula over open orders */
    uint64_t need[8][3];
    memset(need, 0, sizeof need);
    for (uint64_t id = 1; id <= *max_id; id++) {
        lx_order_info o;
        if (lx_engine_order(f->e, &o, id) != LX_OK)
            continue;
        lx_market_spec m;
        lx_engine_market_info(f->e, &m, o.market);
        uint32_t base, quote;
        lx_engine_asset_find(f->e, &base, m.base);
        lx_engine_asset_find(f->e, &quote, m.quote);
        if (o.side == LX_SELL) {
            need[o.account][base] += o.qty * m.lot;
        } else {
            uint64_t b = m.maker_fee_bps > m.taker_fee_bps ? m.maker_fee_bps : m.taker_fee_bps;
            need[o.account][quote] += o.price * o.qty + (b ? fee(o.price * o.qty, b) + o.qty : 0);
        }
    }
    for (uint64_t a = 1; a < 8; a++)
        for (uint32_t s = 0; s < 3; s++) {
            lx_balance b;
            lx_engine_balance(f->e, &b, a, s);
            assert_int_equal(b.reserved, need[a][s]);
        }
    /* conservation */
    totals t;
    memset(&t, 0, sizeof t);
    lx_engine_foreach_balance(f->e, add_up, &t);
    for (int s = 0; s < 3; s++)
        assert_int_equal(t.sum[s], deposited[s]);
    /* books not crossed */
    for (uint32_t mi = 0; mi < 2; mi++) {
        lx_level bids[1], asks[1];
        size_t nb, na;
        lx_engine_depth(f->e, bids, &nb, asks, &na, mi, 1);
        if (nb && na)
            assert_true(bids[0].price < asks[0].price);
    }
}

static void test_random_invariants(void **state)
{
    fx *f = *state;
    const char *sym[3] = {"BTC", "USD", "ETH"};
    uint64_t deposited[3] = {0, 0, 0};
    uint64_t s = 88172645463325252ull, max_id = 0;
    size_t fills = 0, cancels = 0, rejects = 0;
    for (int i = 0; i < 4000; i++) {
        uint64_t r = rnd(&s) % 100;
        uint64_t acct = 1 + rnd(&s) % 6;
        if (r < 8) {
            uint32_t a = (uint32_t)(rnd(&s) % 3);
            uint64_t amt = 1 + rnd(&s) % 5000;
            bool dep = r < 6;
            const lx_event *ev =
                transfer(f, dep ? LX_CMD_DEPOSIT : LX_CMD_WITHDRAW, acct, sym[a], amt);
            if (ev->type == LX_EV_BALANCE)
                deposited[a] = dep ? deposited[a] + amt : deposited[a] - amt;
        } else if (r < 70) {
            uint32_t m = (uint32_t)(rnd(&s) % 2);
            uint64_t tick = m == 0 ? 5 : 1;
            uint64_t id = 1 + rnd(&s) % 60;
            if (id > max_id)
                max_id = id;
            ord o = {.id = id,
                     .acct = acct,
                     .market = m,
                     .side = (uint8_t)(rnd(&s) % 2),
                     .type = rnd(&s) % 10 == 0 ? LX_MARKET : LX_LIMIT,
                     .tif = (uint8_t)(rnd(&s) % 5 == 0 ? 1 + rnd(&s) % 2 : 0),
                     .stp = (uint8_t)(rnd(&s) % 3),
                     .post_only = rnd(&s) % 8 == 0,
                     .price = tick * (18 + rnd(&s) % 5),
                     .qty = 1 + rnd(&s) % 9};
            if (o.type == LX_MARKET)
                o.post_only = false;
            submit(f, o);
        } else if (r < 88) {
            cancel(f, 1 + rnd(&s) % 60, acct);
        } else {
            uint64_t m_tick = 5;
            replace(f, 1 + rnd(&s) % 60, acct, m_tick * (18 + rnd(&s) % 5), 1 + rnd(&s) % 9);
        }
        for (size_t j = 0; j < f->ev.n; j++) {
            fills += f->ev.v[j].type == LX_EV_FILL;
            cancels += f->ev.v[j].type == LX_EV_CANCELLED;
            rejects += f->ev.v[j].type == LX_EV_REJECTED;
        }
        check_invariants(f, deposited, &max_id);
    }
    /* The run exercised matching, cancels and rejects. */
    assert_true(fills > 200);
    assert_true(cancels > 200);
    assert_true(rejects > 200);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_markets),
        T(test_transfers),
        T(test_gtc_rests_and_reserves),
        T(test_fill_at_maker_price_with_fees),
        T(test_price_time_priority),
        T(test_plus_q_covers_rounding),
        T(test_ioc_and_fok),
        T(test_fok_with_stp),
        T(test_market_orders),
        T(test_post_only),
        T(test_stp_expire_maker),
        T(test_stp_expire_taker),
        T(test_stp_expire_both),
        T(test_replace_keeps_priority),
        T(test_replace_loses_priority),
        T(test_replace_crossing_fills),
        T(test_replace_stp_and_post_only),
        T(test_replace_rejects),
        T(test_order_rejects),
        T(test_cancel),
        T(test_many_engines),
        T(test_random_invariants),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
