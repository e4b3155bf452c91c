/* Tests for the order books: level ordering over many prices, FIFO within a
 * level, level removal anywhere in the book, the depth and order queries,
 * and pool growth and reservation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../plugin/engine_int.h"
#include "lx/plugin.h"

typedef struct fx {
    lx_engine *e;
    lx_events ev;
} fx;

static int setup(void **state)
{
    static fx f;
    lx_engine_config cfg = {0};
    assert_int_equal(lx_engine_new(&f.e, &cfg), LX_OK);
    lx_events_init(&f.ev);
    lx_market_spec m;
    memset(&m, 0, sizeof m);
    strcpy(m.name, "X-Y");
    strcpy(m.base, "X");
    strcpy(m.quote, "Y");
    m.lot = m.tick = m.min_qty = 1;
    assert_int_equal(lx_engine_add_market(f.e, &f.ev, &m), LX_OK);
    lx_cmd c;
    memset(&c, 0, sizeof c);
    c.type = LX_CMD_DEPOSIT;
    for (uint64_t a = 1; a <= 3; a++) {
        c.u.transfer.account = a;
        c.u.transfer.amount = 1000000000;
        strcpy(c.u.transfer.asset, "X");
        lx_engine_apply(f.e, &f.ev, &c);
        strcpy(c.u.transfer.asset, "Y");
        lx_engine_apply(f.e, &f.ev, &c);
    }
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    lx_engine_free(&f->e);
    lx_events_free(&f->ev);
    return 0;
}

/* Applies a limit order; its events in f->ev. */
static void submit(fx *f, uint64_t id, uint64_t acct, uint8_t side, uint64_t price, uint64_t qty,
                   uint8_t tif)
{
    lx_cmd c;
    memset(&c, 0, sizeof c);
    c.type = LX_CMD_ORDER;
    c.u.order.id = id;
    c.u.order.account = acct;
    c.u.order.side = side;
    c.u.order.price = price;
    c.u.order.qty = qty;
    c.u.order.tif = tif;
    lx_events_clear(&f->ev);
    assert_int_equal(lx_engine_apply(f->e, &f->ev, &c), LX_OK);
}

static void order(fx *f, uint64_t id, uint64_t acct, uint8_t side, uint64_t price, uint64_t qty)
{
    submit(f, id, acct, side, price, qty, LX_GTC);
    assert_int_equal(f->ev.v[0].type, LX_EV_ACCEPTED);
}

static void cancel(fx *f, uint64_t id, uint64_t acct)
{
    lx_cmd c;
    memset(&c, 0, sizeof c);
    c.type = LX_CMD_CANCEL;
    c.u.cancel.id = id;
    c.u.cancel.account = acct;
    lx_events_clear(&f->ev);
    assert_int_equal(lx_engine_apply(f->e, &f->ev, &c), LX_OK);
    assert_int_equal(f->ev.v[0].type, LX_EV_CANCELLED);
}

/* Levels inserted in scattered order come out best first on both sides. */
static void test_many_levels(void **state)
{
    fx *f = *state;
    uint64_t id = 1;
    for (uint64_t i = 0; i < 200; i++) {
        uint64_t k = (i * 37) % 200; /* a permutation of 0..199 */
        order(f, id++, 1, LX_BUY, 1000 - k, 1 + k % 3);
        order(f, id++, 2, LX_SELL, 1001 + k, 2);
    }
    static lx_level bids[300], asks[300];
    size_t nb, na;
    assert_int_equal(lx_engine_depth(f->e, bids, &nb, asks, &na, 0, 300), LX_OK);
    assert_int_equal(nb, 200);
    assert_int_equal(na, 200);
    for (size_t i = 0; i < 200; i++) {
        assert_int_equal(bids[i].price, 1000 - i);
        assert_int_equal(bids[i].qty, 1 + i % 3);
        assert_int_equal(bids[i].orders, 1);
        assert_int_equal(asks[i].price, 1001 + i);
    }
    /* Remove levels in the middle, at the ends, then check again. */
    for (uint64_t oid = 1; oid <= 400; oid += 6)
        cancel(f, oid, 1);
    assert_int_equal(lx_engine_depth(f->e, bids, &nb, asks, &na, 0, 300), LX_OK);
    assert_int_equal(nb, 200 - 67);
    for (size_t i = 1; i < nb; i++)
        assert_true(bids[i - 1].price > bids[i].price);
    /* max limits the output. */
    assert_int_equal(lx_engine_depth(f->e, bids, &nb, asks, &na, 0, 5), LX_OK);
    assert_int_equal(nb, 5);
    assert_int_equal(na, 5);
    assert_int_equal(lx_engine_depth(f->e, NULL, &nb, NULL, &na, 0, 0), LX_OK);
    assert_int_equal(nb, 0);
    assert_int_equal(lx_engine_depth(f->e, NULL, &nb, NULL, &na, 0, 3), LX_EINVAL);
}

/* Within a level, the oldest order fills first, also after cancels in the
 * middle and at both ends of the queue. */
static void test_fifo(void **state)
{
    fx *f = *state;
    for (uint64_t id = 1; id <= 6; id++)
        order(f, id, 1, LX_SELL, 50, id);
    cancel(f, 1, 1);
    cancel(f, 3, 1);
    cancel(f, 6, 1);
    lx_level b[1], a[1];
    size_t nb, na;
    lx_engine_depth(f->e, b, &nb, a, &na, 0, 1);
    assert_int_equal(a[0].qty, 2 + 4 + 5);
    assert_int_equal(a[0].orders, 3);
    order(f, 7, 2, LX_BUY, 50, 11);
    assert_int_equal(f->ev.n, 4);
    assert_int_equal(f->ev.v[1].u.fill.maker, 2);
    assert_int_equal(f->ev.v[2].u.fill.maker, 4);
    assert_int_equal(f->ev.v[3].u.fill.maker, 5);
    assert_int_equal(lx_engine_order_count(f->e), 0);
    lx_engine_depth(f->e, b, &nb, a, &na, 0, 1);
    assert_int_equal(nb + na, 0);
    /* A level reused after it emptied. */
    order(f, 8, 1, LX_SELL, 50, 1);
    lx_engine_depth(f->e, b, &nb, a, &na, 0, 1);
    assert_int_equal(a[0].orders, 1);
}

static void test_partial_fill_keeps_place(void **state)
{
    fx *f = *state;
    order(f, 1, 1, LX_BUY, 40, 10);
    order(f, 2, 3, LX_BUY, 40, 10);
    order(f, 3, 2, LX_SELL, 40, 4);
    lx_order_info info;
    assert_int_equal(lx_engine_order(f->e, &info, 1), LX_OK);
    assert_int_equal(info.qty, 6);
    assert_int_equal(info.filled, 4);
    assert_int_equal(info.account, 1);
    assert_int_equal(info.market, 0);
    assert_int_equal(info.tif, LX_GTC);
    order(f, 4, 2, LX_SELL, 40, 7);
    assert_int_equal(f->ev.v[1].u.fill.maker, 1);
    assert_int_equal(f->ev.v[1].u.fill.qty, 6);
    assert_int_equal(f->ev.v[2].u.fill.maker, 2);
    assert_int_equal(f->ev.v[2].u.fill.qty, 1);
    assert_int_equal(lx_engine_order(f->e, &info, 0), LX_ENOTFOUND);
    assert_int_equal(lx_engine_order(NULL, &info, 2), LX_EINVAL);
    /* 1 filled whole, 2 rests with 9 left, 4 never rested (it crossed
     * whole), 5 was never placed. */
    assert_false(lx_engine_order_open(f->e, 1));
    assert_true(lx_engine_order_open(f->e, 2));
    assert_false(lx_engine_order_open(f->e, 4));
    assert_false(lx_engine_order_open(f->e, 5));
    assert_false(lx_engine_order_open(f->e, 0));
    assert_false(lx_engine_order_open(NULL, 2));
    assert_int_equal(lx_engine_order_count(f->e), 1);
    assert_int_equal(lx_engine_order_count(NULL), 0);
}

/* A large book: pool and index growth keep every order reachable. */
static void test_large_book(void **state)
{
    fx *f = *state;
    for (uint64_t id = 1; id <= 20000; id++)
        order(f, id, 1 + id % 2, LX_BUY, 1 + id % 500, 1);
    assert_int_equal(lx_engine_order_count(f->e), 20000);
    for (uint64_t id = 1; id <= 20000; id += 2)
        cancel(f, id, 2);
    assert_int_equal(lx_engine_order_count(f->e), 10000);
    lx_order_info info;
    for (uint64_t id = 2; id <= 20000; id += 2) {
        assert_int_equal(lx_engine_order(f->e, &info, id), LX_OK);
        assert_int_equal(info.price, 1 + id % 500);
    }
    static lx_level b[600], a[1];
    size_t nb, na;
    lx_engine_depth(f->e, b, &nb, a, &na, 0, 600);
    assert_int_equal(nb, 250);
    assert_int_equal(b[0].price, 499);
    assert_int_equal(b[0].orders, 40);
}

/* A pool that grows past 1 MiB moves into a mapping of its own and grows
 * there (mremap): 200,000 orders take it through the move and several
 * growths, and every order keeps its fields and its place. */
static void test_pool_growth_keeps_orders(void **state)
{
    fx *f = *state;
    const uint64_t n = 200000;
    assert_int_equal(lx_engine_mapped_bytes(f->e), 0);
    assert_int_equal(lx_engine_mapped_bytes(NULL), 0);
    for (uint64_t id = 1; id <= n; id++)
        order(f, id, 1 + id % 2, LX_BUY, 1 + id % 1000, 1 + id % 7);
    assert_int_equal(lx_engine_order_count(f->e), n);
    /* The orders (32 bytes each) and their links (8) are mapped. */
    assert_true(lx_engine_mapped_bytes(f->e) >= n * (32 + 8));
    lx_order_info info;
    for (uint64_t id = 1; id <= n; id++) {
        assert_int_equal(lx_engine_order(f->e, &info, id), LX_OK);
        assert_int_equal(info.price, 1 + id % 1000);
        assert_int_equal(info.qty, 1 + id % 7);
    }
    /* The best level (1000) holds ids 999, 1999, ... in that order: a sell
     * of its whole quantity fills them front to back. */
    uint64_t qty = 0;
    for (uint64_t id = 999; id <= n; id += 1000)
        qty += 1 + id % 7;
    submit(f, n + 1, 3, LX_SELL, 1000, qty, LX_IOC);
    uint64_t want = 999;
    for (size_t i = 0; i < f->ev.n; i++) {
        if (f->ev.v[i].type != LX_EV_FILL)
            continue;
        assert_int_equal(f->ev.v[i].u.fill.maker, want);
        want += 1000;
    }
    assert_int_equal(want, 999 + 1000 * (n / 1000));
    assert_int_equal(lx_engine_order_count(f->e), n - n / 1000);
}

/* lx_engine_reserve: the orders already open keep their fields and place;
 * within the reservation neither the id index nor the pool is rebuilt or
 * moved; past it both grow as before. */
static void test_reserve(void **state)
{
    fx *f = *state;
    assert_int_equal(lx_engine_reserve(NULL, 10), LX_EINVAL);
    assert_int_equal(lx_engine_reserve(f->e, LX_ENGINE_RESERVE_MAX + 1), LX_EINVAL);
    assert_int_equal(lx_engine_reserve(f->e, 0), LX_OK);
    for (uint64_t id = 1; id <= 1000; id++)
        order(f, id, 1, LX_BUY, 1 + id % 10, 1 + id % 3);

    const uint64_t n = 150000;
    assert_int_equal(lx_engine_reserve(f->e, n), LX_OK);
    const lx__idslot *ids = f->e->ids.s;
    const lx__order *pool = f->e->orders;
    size_t mapped = lx_engine_mapped_bytes(f->e);
    assert_true(mapped >= n * (32 + 8));
    /* The index holds n open orders at a load of at most 1/2. */
    assert_true(f->e->ids.mask + 1 >= 2 * n);
    /* A smaller reservation changes nothing. */
    assert_int_equal(lx_engine_reserve(f->e, 5000), LX_OK);
    assert_ptr_equal(f->e->ids.s, ids);

    for (uint64_t id = 1001; id <= n; id++)
        order(f, id, 2, LX_BUY, 1 + id % 10, 1 + id % 3);
    assert_int_equal(lx_engine_order_count(f->e), n);
    assert_ptr_equal(f->e->ids.s, ids);
    assert_ptr_equal(f->e->orders, pool);
    assert_int_equal(lx_engine_mapped_bytes(f->e), mapped);
    lx_order_info info;
    for (uint64_t id = 1; id <= n; id++) {
        assert_int_equal(lx_engine_order(f->e, &info, id), LX_OK);
        assert_int_equal(info.account, id <= 1000 ? 1 : 2);
        assert_int_equal(info.price, 1 + id % 10);
        assert_int_equal(info.qty, 1 + id % 3);
    }
    /* The best level (10) fills front to back: the orders from before the
     * reservation first. */
    submit(f, n + 1, 3, LX_SELL, 10, 1 + 9 % 3 + 1 + 19 % 3, LX_IOC);
    uint64_t makers[2] = {0, 0};
    size_t k = 0;
    for (size_t i = 0; i < f->ev.n; i++)
        if (f->ev.v[i].type == LX_EV_FILL && k < 2)
            makers[k++] = f->ev.v[i].u.fill.maker;
    assert_int_equal(k, 2);
    assert_int_equal(makers[0], 9);
    assert_int_equal(makers[1], 19);

    /* Past the reservation (and the index's room, which rounds up to a
     * power of two) both grow. */
    for (uint64_t id = n + 2; id <= 2 * n + 1; id++)
        order(f, id, 2, LX_SELL, 100 + id % 10, 1);
    assert_true(f->e->ids.s != ids);
    assert_true(lx_engine_mapped_bytes(f->e) > mapped);
    assert_int_equal(lx_engine_order_count(f->e), 2 * n - 2);
    assert_int_equal(lx_engine_order(f->e, &info, n), LX_OK);
    assert_int_equal(lx_engine_order(f->e, &info, 2 * n + 1), LX_OK);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_many_levels),
        T(test_fifo),
        T(test_partial_fill_keeps_place),
        T(test_large_book),
        T(test_pool_growth_keeps_orders),
        T(test_reserve),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
