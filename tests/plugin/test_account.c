/* Tests for assets and balances: registration, balance queries, and the
 * ordered walk over balances. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lx/plugin.h"

static lx_engine *engine_with(const char *base1, const char *base2)
{
    lx_engine_config cfg = {0};
    lx_engine *e;
    assert_int_equal(lx_engine_new(&e, &cfg), LX_OK);
    lx_events ev;
    lx_events_init(&ev);
    const char *bases[2] = {base1, base2};
    for (int i = 0; i < 2; i++) {
        lx_market_spec m;
        memset(&m, 0, sizeof m);
        strcpy(m.name, bases[i]);
        strcpy(m.base, bases[i]);
        strcpy(m.quote, "USD");
        m.lot = m.tick = m.min_qty = 1;
        assert_int_equal(lx_engine_add_market(e, &ev, &m), LX_OK);
    }
    lx_events_free(&ev);
    return e;
}

static lx_reason deposit(lx_engine *e, uint64_t acct, const char *asset, uint64_t amount)
{
    lx_events ev;
    lx_events_init(&ev);
    lx_cmd c;
    memset(&c, 0, sizeof c);
    c.type = LX_CMD_DEPOSIT;
    c.u.transfer.account = acct;
    c.u.transfer.amount = amount;
    strcpy(c.u.transfer.asset, asset);
    assert_int_equal(lx_engine_apply(e, &ev, &c), LX_OK);
    assert_int_equal(ev.n, 1);
    lx_reason r = ev.v[0].type == LX_EV_REJECTED ? (lx_reason)ev.v[0].reason : LX_R_NONE;
    lx_events_free(&ev);
    return r;
}

static void test_assets(void **state)
{
    (void)state;
    lx_engine *e = engine_with("AAA", "BBB");
    assert_int_equal(lx_engine_asset_count(e), 3);
    uint32_t id = 99;
    assert_int_equal(lx_engine_asset_find(e, &id, "AAA"), LX_OK);
    assert_int_equal(id, 0);
    assert_int_equal(lx_engine_asset_find(e, &id, "USD"), LX_OK);
    assert_int_equal(id, 1);
    assert_int_equal(lx_engine_asset_find(e, &id, "BBB"), LX_OK);
    assert_int_equal(id, 2);
    assert_int_equal(lx_engine_asset_find(e, &id, "usd"), LX_ENOTFOUND);
    assert_int_equal(lx_engine_asset_find(e, &id, ""), LX_ENOTFOUND);
    assert_int_equal(lx_engine_asset_find(e, NULL, "USD"), LX_EINVAL);
    /* An unterminated symbol is an unknown asset, not an over-read. */
    lx_events ev;
    lx_events_init(&ev);
    lx_cmd c;
    memset(&c, 0, sizeof c);
    c.type = LX_CMD_DEPOSIT;
    c.u.transfer.amount = 1;
    memset(c.u.transfer.asset, 'U', sizeof c.u.transfer.asset);
    assert_int_equal(lx_engine_apply(e, &ev, &c), LX_OK);
    assert_int_equal(ev.v[0].reason, LX_R_UNKNOWN_ASSET);
    lx_events_free(&ev);
    lx_engine_free(&e);
}

static void test_balance_query(void **state)
{
    (void)state;
    lx_engine *e = engine_with("AAA", "BBB");
    lx_balance b;
    assert_int_equal(lx_engine_balance(e, &b, 5, 1), LX_OK);
    assert_int_equal(b.account, 5);
    assert_int_equal(b.asset, 1);
    assert_int_equal(b.available, 0);
    assert_int_equal(b.reserved, 0);
    assert_int_equal(deposit(e, 5, "USD", 10), LX_R_NONE);
    assert_int_equal(deposit(e, 5, "USD", 15), LX_R_NONE);
    assert_int_equal(lx_engine_balance(e, &b, 5, 1), LX_OK);
    assert_int_equal(b.available, 25);
    assert_int_equal(lx_engine_balance(NULL, &b, 5, 1), LX_EINVAL);
    /* The per-asset total bounds deposits; other assets are separate. */
    assert_int_equal(deposit(e, 6, "USD", (uint64_t)INT64_MAX - 25), LX_R_NONE);
    assert_int_equal(deposit(e, 7, "USD", 1), LX_R_OVERFLOW);
    assert_int_equal(deposit(e, 7, "AAA", (uint64_t)INT64_MAX), LX_R_NONE);
    lx_engine_free(&e);
}

typedef struct walk {
    lx_balance seen[600];
    size_t n;
} walk;

static int record(void *arg, const lx_balance *b)
{
    walk *w = arg;
    assert_true(w->n < 600);
    w->seen[w->n++] = *b;
    return 0;
}

static void test_foreach_order(void **state)
{
    (void)state;
    lx_engine *e = engine_with("AAA", "BBB");
    const char *sym[3] = {"AAA", "USD", "BBB"};
    uint64_t s = 12345;
    for (int i = 0; i < 500; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        uint64_t acct = (s >> 33) % 150;
        deposit(e, acct * 1000003u, sym[(s >> 20) % 3], 1 + (s >> 40) % 100);
    }
    walk *w = test_calloc(1, sizeof *w);
    assert_int_equal(lx_engine_foreach_balance(e, record, w), 0);
    assert_true(w->n > 100);
    uint64_t total = 0;
    for (size_t i = 0; i < w->n; i++) {
        total += w->seen[i].available;
        if (i > 0) {
            const lx_balance *p = &w->seen[i - 1], *q = &w->seen[i];
            assert_true(p->account < q->account ||
                        (p->account == q->account && p->asset < q->asset));
        }
    }
    assert_true(total > 0);
    assert_int_equal(lx_engine_foreach_balance(NULL, record, w), 0);
    test_free(w);
    lx_engine_free(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_assets),
        cmocka_unit_test(test_balance_query),
        cmocka_unit_test(test_foreach_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
