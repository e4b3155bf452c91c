/* Tests for the engine's hash tables against a plain array as the reference:
 * inserts, lookups, backward-shift deletes under churn, and growth, for the
 * (account, asset) map and for the order id index. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../plugin/engine_int.h"

#define KEYS 4096u

static void test_put_get_del(void **state)
{
    (void)state;
    lx__map m;
    lx__map_init(&m);
    assert_int_equal(lx__map_get(&m, 1, 0), LX__NIL);
    assert_false(lx__map_del(&m, 1, 0));
    assert_int_equal(lx__map_reserve(&m, 3), LX_OK);
    lx__map_put(&m, 7, 0, 70);
    lx__map_put(&m, 7, 1, 71); /* same a, other b: another key */
    lx__map_put(&m, 0, 0, 5);  /* zero keys are fine */
    assert_int_equal(lx__map_get(&m, 7, 0), 70);
    assert_int_equal(lx__map_get(&m, 7, 1), 71);
    assert_int_equal(lx__map_get(&m, 0, 0), 5);
    assert_int_equal(lx__map_get(&m, 7, 2), LX__NIL);
    assert_true(lx__map_del(&m, 7, 0));
    assert_false(lx__map_del(&m, 7, 0));
    assert_int_equal(lx__map_get(&m, 7, 1), 71);
    assert_int_equal(m.n, 2);
    lx__map_free(&m);
    assert_null(m.s);
}

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Random churn in a small key space keeps long probe runs with wrap-around;
 * every key's presence is checked against the reference after each step. */
static void test_churn_against_reference(void **state)
{
    (void)state;
    uint32_t *ref = malloc(KEYS * sizeof *ref);
    assert_non_null(ref);
    for (uint32_t i = 0; i < KEYS; i++)
        ref[i] = LX__NIL;
    lx__map m;
    lx__map_init(&m);
    uint64_t s = 0x9e3779b97f4a7c15ull;
    size_t n = 0;
    for (int step = 0; step < 200000; step++) {
        uint32_t k = (uint32_t)(rnd(&s) % KEYS);
        uint64_t a = k / 4 * 0x100000001ull, b = k % 4;
        if (ref[k] == LX__NIL) {
            assert_int_equal(lx__map_reserve(&m, n + 1), LX_OK);
            ref[k] = (uint32_t)step;
            lx__map_put(&m, a, (uint32_t)b, ref[k]);
            n++;
        } else if (rnd(&s) % 2) {
            assert_true(lx__map_del(&m, a, (uint32_t)b));
            ref[k] = LX__NIL;
            n--;
        }
        assert_int_equal(m.n, n);
        if (step % 4096 == 0)
            for (uint32_t j = 0; j < KEYS; j++)
                assert_int_equal(lx__map_get(&m, j / 4 * 0x100000001ull, j % 4), ref[j]);
    }
    for (uint32_t j = 0; j < KEYS; j++)
        assert_int_equal(lx__map_get(&m, j / 4 * 0x100000001ull, j % 4), ref[j]);
    /* The load stays at or under 3/4. */
    assert_true(m.n * 4 <= (m.mask + 1) * 3);
    assert_int_equal(lx__map_bytes(&m), (m.mask + 1) * sizeof(lx__slot));
    lx__map_free(&m);
    free(ref);
}

static void test_growth_keeps_entries(void **state)
{
    (void)state;
    lx__map m;
    lx__map_init(&m);
    for (uint64_t i = 1; i <= 100000; i++) {
        assert_int_equal(lx__map_reserve(&m, (size_t)i), LX_OK);
        lx__map_put(&m, i, 0, (uint32_t)i);
    }
    for (uint64_t i = 1; i <= 100000; i++)
        assert_int_equal(lx__map_get(&m, i, 0), (uint32_t)i);
    assert_int_equal(lx__map_get(&m, 100001, 0), LX__NIL);
    lx__map_free(&m);
}

/* The id index reads ids from the order pool: a pool whose slot v holds the
 * id stored with value v stands in for the engine's. */
static uint32_t ids_get(const lx__ids *m, const lx__order *pool, uint64_t id)
{
    uint32_t pos;
    return lx__ids_find(m, pool, id, &pos);
}

static void test_ids_churn_against_reference(void **state)
{
    (void)state;
    lx__order *pool = calloc(KEYS, sizeof *pool);
    uint32_t *ref = malloc(KEYS * sizeof *ref);
    assert_non_null(pool);
    assert_non_null(ref);
    for (uint32_t i = 0; i < KEYS; i++)
        ref[i] = LX__NIL;
    lx__ids m;
    lx__ids_init(&m);
    assert_int_equal(ids_get(&m, pool, 1), LX__NIL);
    uint64_t s = 0x2545f4914f6cdd1dull;
    size_t n = 0;
    for (int step = 0; step < 200000; step++) {
        /* Keys that differ only in high bits, so that home slots collide and
         * runs wrap around the end of the table. */
        uint32_t k = (uint32_t)(rnd(&s) % KEYS);
        uint64_t id = ((uint64_t)k << 40) | 7u;
        assert_int_equal(lx__ids_reserve(&m, n + 1), LX_OK);
        uint32_t pos;
        uint32_t got = lx__ids_find(&m, pool, id, &pos);
        assert_int_equal(got, ref[k]);
        if (got == LX__NIL) {
            pool[k].id = id; /* value k: the pool slot of this id */
            lx__ids_put_at(&m, pos, id, k);
            ref[k] = k;
            n++;
        } else if (rnd(&s) % 2) {
            lx__ids_del_at(&m, pos);
            pool[k].id = 0;
            ref[k] = LX__NIL;
            n--;
        }
        assert_int_equal(m.n, n);
        if (step % 4096 == 0)
            for (uint32_t j = 0; j < KEYS; j++)
                assert_int_equal(ids_get(&m, pool, ((uint64_t)j << 40) | 7u), ref[j]);
    }
    /* The load stays at or under 5/8. */
    assert_true(m.n * 8 <= ((size_t)m.mask + 1) * 5);
    assert_int_equal(lx__ids_bytes(&m), ((size_t)m.mask + 1) * sizeof(lx__idslot));
    lx__ids_free(&m);
    assert_null(m.s);
    free(ref);
    free(pool);
}

/* Growth rehashes from the stored hashes alone: every id stays reachable,
 * also through the growths into tables of 2 MiB and more, which are
 * allocated 2 MiB-aligned for huge pages. */
static void test_ids_growth_keeps_entries(void **state)
{
    (void)state;
    const uint32_t n = 300000;
    lx__order *pool = calloc(n, sizeof *pool);
    assert_non_null(pool);
    lx__ids m;
    lx__ids_init(&m);
    for (uint32_t i = 0; i < n; i++) {
        assert_int_equal(lx__ids_reserve(&m, (size_t)i + 1), LX_OK);
        pool[i].id = (uint64_t)i + 1;
        uint32_t pos;
        assert_int_equal(lx__ids_find(&m, pool, pool[i].id, &pos), LX__NIL);
        lx__ids_put_at(&m, pos, pool[i].id, i);
    }
    for (uint32_t i = 0; i < n; i++)
        assert_int_equal(ids_get(&m, pool, (uint64_t)i + 1), i);
    assert_int_equal(ids_get(&m, pool, (uint64_t)n + 1), LX__NIL);
    assert_true(lx__ids_bytes(&m) >= ((size_t)2 << 20));
    assert_int_equal((uintptr_t)m.s % ((uintptr_t)2 << 20), 0);
    lx__ids_free(&m);
    free(pool);
}

/* A miss writes the first empty slot from the id's home slot on, as a
 * slot-by-slot probe would: in a small full table, runs are longer than
 * the group lx__ids_find reads at once, and wrap around the end. */
static void test_ids_miss_slot_is_first_empty(void **state)
{
    (void)state;
    enum { N = 10 };
    lx__order pool[N];
    memset(pool, 0, sizeof pool);
    lx__ids m;
    lx__ids_init(&m);
    assert_int_equal(lx__ids_reserve(&m, N), LX_OK);
    assert_int_equal(m.mask, 15u);
    uint64_t id = 1;
    for (uint32_t i = 0; i < N; i++, id++) {
        uint32_t pos;
        assert_int_equal(lx__ids_find(&m, pool, id, &pos), LX__NIL);
        pool[i].id = id;
        lx__ids_put_at(&m, pos, id, i);
    }
    for (uint64_t miss = id; miss < id + 1000; miss++) {
        uint32_t want = lx__id_hash(miss) >> m.shift;
        while (m.s[want].idx != LX__NIL)
            want = (want + 1) & m.mask;
        uint32_t pos;
        assert_int_equal(lx__ids_find(&m, pool, miss, &pos), LX__NIL);
        assert_int_equal(pos, want);
    }
    for (uint32_t i = 0; i < N; i++) {
        uint32_t pos;
        assert_int_equal(lx__ids_find(&m, pool, pool[i].id, &pos), i);
        assert_int_equal(m.s[pos].idx, i);
    }
    lx__ids_free(&m);
}

/* The engine keeps its id index at most half full, below the table's own
 * limit of 5/8, as its orders come and go. */
static void test_engine_ids_load_at_most_half(void **state)
{
    (void)state;
    lx_engine *e;
    lx_engine_config cfg = {0};
    assert_int_equal(lx_engine_new(&e, &cfg), LX_OK);
    lx_events ev;
    lx_events_init(&ev);
    lx_market_spec spec;
    memset(&spec, 0, sizeof spec);
    memcpy(spec.name, "X-Y", 4);
    memcpy(spec.base, "X", 2);
    memcpy(spec.quote, "Y", 2);
    spec.lot = spec.tick = spec.min_qty = 1;
    assert_int_equal(lx_engine_add_market(e, &ev, &spec), LX_OK);
    lx_cmd c;
    memset(&c, 0, sizeof c);
    c.type = LX_CMD_DEPOSIT;
    c.u.transfer.account = 1;
    c.u.transfer.amount = 1000000000;
    memcpy(c.u.transfer.asset, "Y", 2);
    assert_int_equal(lx_engine_apply(e, &ev, &c), LX_OK);
    for (uint64_t id = 1; id <= 5000; id++) {
        memset(&c, 0, sizeof c);
        if (id % 3 == 0) {
            c.type = LX_CMD_CANCEL;
            c.u.cancel.id = id - 1;
            c.u.cancel.account = 1;
        } else {
            c.type = LX_CMD_ORDER;
            c.u.order.id = id;
            c.u.order.account = 1;
            c.u.order.side = LX_BUY;
            c.u.order.price = 1 + id % 100;
            c.u.order.qty = 1;
        }
        lx_events_clear(&ev);
        assert_int_equal(lx_engine_apply(e, &ev, &c), LX_OK);
        assert_int_equal(ev.v[0].type, id % 3 == 0 ? LX_EV_CANCELLED : LX_EV_ACCEPTED);
        assert_int_equal(e->ids.n, e->open);
        assert_true(e->ids.n * 2 <= (size_t)e->ids.mask + 1);
    }
    assert_int_equal(lx_engine_order_count(e), 5000 - 2 * (5000 / 3));
    lx_engine_free(&e);
    lx_events_free(&ev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_get_del),
        cmocka_unit_test(test_churn_against_reference),
        cmocka_unit_test(test_growth_keeps_entries),
        cmocka_unit_test(test_ids_churn_against_reference),
        cmocka_unit_test(test_ids_growth_keeps_entries),
        cmocka_unit_test(test_ids_miss_slot_is_first_empty),
        cmocka_unit_test(test_engine_ids_load_at_most_half),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
