/* Tests for engine snapshots: byte-equal round trips, identical behaviour
 * after a restore, and corrupt or truncated input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lx/plugin.h"

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void add_market(lx_engine *e, const char *name, const char *base, uint64_t tick,
                       uint32_t maker, uint32_t taker)
{
    lx_market_spec m;
    memset(&m, 0, sizeof m);
    strcpy(m.name, name);
    strcpy(m.base, base);
    strcpy(m.quote, "USD");
    m.lot = 3;
    m.tick = tick;
    m.min_qty = 1;
    m.maker_fee_bps = maker;
    m.taker_fee_bps = taker;
    lx_events ev;
    lx_events_init(&ev);
    assert_int_equal(lx_engine_add_market(e, &ev, &m), LX_OK);
    assert_int_equal(ev.v[0].type, LX_EV_MARKET);
    lx_events_free(&ev);
}

/* A random but valid command: deposits, orders of every kind, cancels and
 * replaces over a few accounts and two markets. */
static lx_cmd random_cmd(uint64_t *s)
{
    lx_cmd c;
    memset(&c, 0, sizeof c);
    uint64_t r = rnd(s) % 100;
    if (r < 10) {
        c.type = LX_CMD_DEPOSIT;
        c.u.transfer.account = 1 + rnd(s) % 5;
        c.u.transfer.amount = 1 + rnd(s) % 100000;
        const char *sym[3] = {"BTC", "ETH", "USD"};
        strcpy(c.u.transfer.asset, sym[rnd(s) % 3]);
    } else if (r < 70) {
        c.type = LX_CMD_ORDER;
        lx_order_cmd *o = &c.u.order;
        o->id = 1 + rnd(s) % 80;
        o->account = 1 + rnd(s) % 5;
        o->market = (uint32_t)(rnd(s) % 2);
        o->side = (uint8_t)(rnd(s) % 2);
        o->type = rnd(s) % 10 == 0 ? LX_MARKET : LX_LIMIT;
        o->tif = (uint8_t)(rnd(s) % 6 == 0 ? 1 + rnd(s) % 2 : 0);
        o->stp = (uint8_t)(rnd(s) % 3);
        o->post_only = o->type == LX_LIMIT && rnd(s) % 9 == 0;
        o->price = 10 * (95 + rnd(s) % 10);
        o->qty = 1 + rnd(s) % 8;
    } else if (r < 85) {
        c.type = LX_CMD_CANCEL;
        c.u.cancel.id = 1 + rnd(s) % 80;
        c.u.cancel.account = 1 + rnd(s) % 5;
    } else {
        c.type = LX_CMD_REPLACE;
        c.u.replace.id = 1 + rnd(s) % 80;
        c.u.replace.account = 1 + rnd(s) % 5;
        c.u.replace.price = 10 * (95 + rnd(s) % 10);
        c.u.replace.qty = 1 + rnd(s) % 8;
    }
    return c;
}

static lx_engine *busy_engine_hinted(uint64_t seed, int ncmds, bool hint);

static lx_engine *busy_engine(uint64_t seed, int ncmds)
{
    return busy_engine_hinted(seed, ncmds, false);
}

/* hint: lx_engine_prefetch for every command, before it and again before
 * the one after it, as the node calls it a few commands ahead. */
static lx_engine *busy_engine_hinted(uint64_t seed, int ncmds, bool hint)
{
    lx_engine_config cfg = {42};
    lx_engine *e;
    assert_int_equal(lx_engine_new(&e, &cfg), LX_OK);
    add_market(e, "BTC-USD", "BTC", 10, 7, 25);
    add_market(e, "ETH-USD", "ETH", 5, 0, 0);
    lx_events ev;
    lx_events_init(&ev);
    uint64_t s = seed;
    lx_cmd c = random_cmd(&s);
    for (int i = 0; i < ncmds; i++) {
        lx_cmd next = random_cmd(&s);
        if (hint) {
            lx_engine_prefetch(e, &c);
            lx_engine_prefetch(e, &next);
        }
        lx_events_clear(&ev);
        assert_int_equal(lx_engine_apply(e, &ev, &c), LX_OK);
        c = next;
    }
    lx_events_free(&ev);
    return e;
}

/* x and y snapshot to the same bytes: the same state. */
static void expect_same_state(const lx_engine *x, const lx_engine *y)
{
    uint8_t *a, *b;
    size_t na, nb;
    assert_int_equal(lx_engine_snapshot(x, &a, &na), LX_OK);
    assert_int_equal(lx_engine_snapshot(y, &b, &nb), LX_OK);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na);
    free(a);
    free(b);
}

static void test_round_trip_bytes(void **state)
{
    (void)state;
    lx_engine *e = busy_engine(0x1234567u, 3000);
    assert_true(lx_engine_order_count(e) > 10);
    uint8_t *a;
    size_t na;
    assert_int_equal(lx_engine_snapshot(e, &a, &na), LX_OK);
    lx_engine *r;
    assert_int_equal(lx_engine_restore(&r, a, na), LX_OK);
    expect_same_state(e, r);
    assert_int_equal(lx_engine_order_count(r), lx_engine_order_count(e));
    assert_int_equal(lx_engine_market_count(r), 2);
    free(a);
    lx_engine_free(&e);
    lx_engine_free(&r);
}

static void test_empty_engine(void **state)
{
    (void)state;
    lx_engine_config cfg = {0};
    lx_engine *e, *r;
    assert_int_equal(lx_engine_new(&e, &cfg), LX_OK);
    uint8_t *a, *b;
    size_t na, nb;
    assert_int_equal(lx_engine_snapshot(e, &a, &na), LX_OK);
    assert_int_equal(lx_engine_restore(&r, a, na), LX_OK);
    assert_int_equal(lx_engine_snapshot(r, &b, &nb), LX_OK);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na);
    assert_int_equal(lx_engine_snapshot(NULL, &b, &nb), LX_EINVAL);
    assert_int_equal(lx_engine_restore(NULL, a, na), LX_EINVAL);
    free(a);
    free(b);
    lx_engine_free(&e);
    lx_engine_free(&r);
}

/* Equal states give equal bytes, however they were reached. */
static void test_canonical(void **state)
{
    (void)state;
    lx_engine_config cfg = {9};
    lx_engine *x, *y;
    assert_int_equal(lx_engine_new(&x, &cfg), LX_OK);
    assert_int_equal(lx_engine_new(&y, &cfg), LX_OK);
    add_market(x, "BTC-USD", "BTC", 10, 0, 0);
    add_market(y, "BTC-USD", "BTC", 10, 0, 0);
    lx_events ev;
    lx_events_init(&ev);
    lx_cmd c;
    memset(&c, 0, sizeof c);
    c.type = LX_CMD_DEPOSIT;
    strcpy(c.u.transfer.asset, "USD");
    c.u.transfer.amount = 500;
    /* x: accounts 2 then 1; y: 1 then 2, plus a deposit withdrawn again. */
    c.u.transfer.account = 2;
    lx_engine_apply(x, &ev, &c);
    c.u.transfer.account = 1;
    lx_engine_apply(x, &ev, &c);
    lx_engine_apply(y, &ev, &c);
    c.u.transfer.account = 2;
    lx_engine_apply(y, &ev, &c);
    c.u.transfer.account = 3;
    lx_engine_apply(y, &ev, &c);
    c.type = LX_CMD_WITHDRAW;
    lx_engine_apply(y, &ev, &c);
    expect_same_state(x, y);
    lx_events_free(&ev);
    lx_engine_free(&x);
    lx_engine_free(&y);
}

static void encode_all(const lx_events *ev, uint8_t *out, size_t *len)
{
    size_t n = 0;
    for (size_t i = 0; i < ev->n; i++) {
        size_t k = lx_event_encode(out + n, LX_EVENT_ENC_MAX, &ev->v[i]);
        assert_true(k > 0);
        n += k;
    }
    *len = n;
}

static void test_same_behaviour_after_restore(void **state)
{
    (void)state;
    lx_engine *e = busy_engine(0xabcdefu, 2000);
    uint8_t *snap;
    size_t n;
    assert_int_equal(lx_engine_snapshot(e, &snap, &n), LX_OK);
    lx_engine *r;
    assert_int_equal(lx_engine_restore(&r, snap, n), LX_OK);
    free(snap);
    lx_events ea, eb;
    lx_events_init(&ea);
    lx_events_init(&eb);
    static uint8_t ba[64 * LX_EVENT_ENC_MAX * 4], bb[64 * LX_EVENT_ENC_MAX * 4];
    uint64_t s = 0x5eed5eedu;
    size_t fills = 0;
    for (int i = 0; i < 2000; i++) {
        lx_cmd c = random_cmd(&s);
        lx_events_clear(&ea);
        lx_events_clear(&eb);
        assert_int_equal(lx_engine_apply(e, &ea, &c), LX_OK);
        assert_int_equal(lx_engine_apply(r, &eb, &c), LX_OK);
        assert_int_equal(ea.n, eb.n);
        assert_true(ea.n < 64 * 4);
        size_t la, lb;
        encode_all(&ea, ba, &la);
        encode_all(&eb, bb, &lb);
        assert_int_equal(la, lb);
        assert_memory_equal(ba, bb, la);
        for (size_t j = 0; j < ea.n; j++)
            fills += ea.v[j].type == LX_EV_FILL;
    }
    assert_true(fills > 100);
    expect_same_state(e, r);
    lx_events_free(&ea);
    lx_events_free(&eb);
    lx_engine_free(&e);
    lx_engine_free(&r);
}

static void test_corrupt_and_truncated(void **state)
{
    (void)state;
    lx_engine *e = busy_engine(0x77u, 400);
    uint8_t *snap;
    size_t n;
    assert_int_equal(lx_engine_snapshot(e, &snap, &n), LX_OK);
    uint8_t *copy = malloc(n);
    assert_non_null(copy);
    lx_engine *r = NULL;
    /* Every single flipped byte is caught by a checksum. */
    for (size_t i = 0; i < n; i++) {
        memcpy(copy, snap, n);
        copy[i] ^= (uint8_t)(1u << (i % 8));
        assert_int_equal(lx_engine_restore(&r, copy, n), LX_ECORRUPT);
        assert_null(r);
    }
    /* Every truncation is a format error; the copy is exactly len bytes so
     * the sanitizer catches any read past it. */
    for (size_t len = 0; len < n; len++) {
        uint8_t *t = malloc(len ? len : 1);
        assert_non_null(t);
        memcpy(t, snap, len);
        assert_int_equal(lx_engine_restore(&r, t, len), LX_EFORMAT);
        assert_null(r);
        free(t);
    }
    /* Trailing bytes are a format error too. */
    uint8_t *longer = malloc(n + 1);
    assert_non_null(longer);
    memcpy(longer, snap, n);
    longer[n] = 0;
    assert_int_equal(lx_engine_restore(&r, longer, n + 1), LX_EFORMAT);
    free(longer);
    free(copy);
    free(snap);
    lx_engine_free(&e);
}

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

static void put_be(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = bytes - 1; i >= 0; i--)
        *p++ = (uint8_t)(v >> (8 * i));
}

/* Rewrites a snapshot's version, with both checksums as version 1 made
 * them (FNV-1a a byte at a time). */
static void as_version(uint8_t *b, size_t n, uint32_t version)
{
    put_be(b + 8, version, 4);
    put_be(b + 20, fnv1a(b, 20) & 0xffffffffu, 4);
    put_be(b + n - 8, fnv1a(b, n - 8), 8);
}

/* lx_engine_prefetch is only a hint: with it the state is the same. */
static void test_prefetch_changes_nothing(void **state)
{
    (void)state;
    lx_engine *a = busy_engine(0x9abcu, 3000), *b = busy_engine_hinted(0x9abcu, 3000, true);
    expect_same_state(a, b);
    lx_cmd c;
    memset(&c, 0, sizeof c);
    c.type = LX_CMD_ORDER;
    lx_engine_prefetch(NULL, &c); /* no engine, no command, an empty index */
    lx_engine_prefetch(a, NULL);
    lx_engine_config cfg = {0};
    lx_engine *empty;
    assert_int_equal(lx_engine_new(&empty, &cfg), LX_OK);
    lx_engine_prefetch(empty, &c);
    lx_engine_free(&empty);
    lx_engine_free(&a);
    lx_engine_free(&b);
}

static void test_snapshot_to(void **state)
{
    (void)state;
    lx_engine *e = busy_engine(0x5151u, 2000);
    uint8_t *a;
    size_t na, len, got = 0;
    assert_int_equal(lx_engine_snapshot(e, &a, &na), LX_OK);
    assert_int_equal(lx_engine_snapshot_len(e, &len), LX_OK);
    assert_int_equal(len, na);
    /* The current version is 2. */
    assert_int_equal(a[8] << 24 | a[9] << 16 | a[10] << 8 | a[11], 2);
    uint8_t *b = malloc(na + 16);
    assert_non_null(b);
    memset(b, 0xee, na + 16);
    assert_int_equal(lx_engine_snapshot_to(e, b, na - 1, &got), LX_ETOOBIG);
    assert_int_equal(lx_engine_snapshot_to(e, b, na + 16, &got), LX_OK);
    assert_int_equal(got, na);
    assert_memory_equal(a, b, na);
    assert_int_equal(b[na], 0xee); /* nothing past the snapshot */
    assert_int_equal(lx_engine_snapshot_to(NULL, b, na, &got), LX_EINVAL);
    assert_int_equal(lx_engine_snapshot_len(NULL, &len), LX_EINVAL);
    free(a);
    free(b);
    lx_engine_free(&e);
}

/* An incremental snapshot begun on a busy engine, then stepped a few
 * orders at a time (or, with budget 0, only finished at the end) while
 * thousands more commands fill, cancel and replace its orders: its bytes
 * are the full snapshot's at the begin, and the engine ends in the state
 * the same commands give without one. */
static void incremental_case(uint64_t seed, unsigned budget)
{
    lx_engine *e = busy_engine(seed, 3000);
    lx_engine *plain = busy_engine(seed, 3000);
    uint8_t *want;
    size_t nwant, len = 0;
    assert_int_equal(lx_engine_snapshot(e, &want, &nwant), LX_OK);
    uint8_t *buf = malloc(nwant + 16);
    assert_non_null(buf);
    memset(buf, 0xee, nwant + 16);
    assert_int_equal(lx_engine_snap_begin(e, buf, nwant + 16, &len), LX_OK);
    assert_int_equal(len, nwant);
    assert_true(lx_engine_snap_active(e));
    lx_events ev;
    lx_events_init(&ev);
    uint64_t s = seed ^ 0x9e3779b97f4a7c15ull;
    bool done = false;
    for (int i = 0; i < 3000; i++) {
        lx_cmd c = random_cmd(&s);
        lx_events_clear(&ev);
        assert_int_equal(lx_engine_apply(e, &ev, &c), LX_OK);
        lx_events_clear(&ev);
        assert_int_equal(lx_engine_apply(plain, &ev, &c), LX_OK);
        if (budget && !done && i % 3 == 0)
            done = lx_engine_snap_step(e, budget);
    }
    lx_events_free(&ev);
    if (!done)
        lx_engine_snap_finish(e);
    assert_false(lx_engine_snap_active(e));
    assert_memory_equal(buf, want, nwant);
    assert_int_equal(buf[nwant], 0xee);
    expect_same_state(e, plain);
    /* The commands changed the book: the bytes are the begin's, not now's. */
    uint8_t *now;
    size_t nnow;
    assert_int_equal(lx_engine_snapshot(e, &now, &nnow), LX_OK);
    assert_true(nnow != nwant || memcmp(now, want, nwant) != 0);
    lx_engine *r;
    assert_int_equal(lx_engine_restore(&r, buf, nwant), LX_OK);
    lx_engine_free(&r);
    free(now);
    free(want);
    free(buf);
    lx_engine_free(&e);
    lx_engine_free(&plain);
}

static void test_incremental_matches_begin(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 12; seed++) {
        incremental_case(seed * 0x1f3d5b79u, 0);
        incremental_case(seed * 0x1f3d5b79u, 1);
        incremental_case(seed * 0x1f3d5b79u, 7);
    }
}

static void test_incremental_errors(void **state)
{
    (void)state;
    lx_engine *e = busy_engine(0x77u, 2000);
    size_t len = 0, len2 = 0;
    assert_int_equal(lx_engine_snapshot_len(e, &len), LX_OK);
    uint8_t *buf = malloc(len);
    assert_non_null(buf);
    assert_int_equal(lx_engine_snap_begin(e, buf, len - 1, &len2), LX_ETOOBIG);
    assert_int_equal(len2, len);
    assert_false(lx_engine_snap_active(e));
    assert_int_equal(lx_engine_snap_begin(NULL, buf, len, &len2), LX_EINVAL);
    assert_int_equal(lx_engine_snap_begin(e, NULL, len, &len2), LX_EINVAL);
    assert_true(lx_engine_snap_step(e, 10)); /* none in progress */
    assert_int_equal(lx_engine_snap_begin(e, buf, len, &len2), LX_OK);
    assert_int_equal(lx_engine_snap_begin(e, buf, len, &len2), LX_ESTATE);
    lx_engine_snap_abort(e);
    assert_false(lx_engine_snap_active(e));
    assert_int_equal(lx_engine_snap_begin(e, buf, len, &len2), LX_OK);
    lx_engine_free(&e); /* ends it, leaking nothing */
    free(buf);

    /* An empty book: the head is all there is; the first step ends it. */
    lx_engine_config cfg = {1};
    assert_int_equal(lx_engine_new(&e, &cfg), LX_OK);
    uint8_t *want;
    size_t nwant;
    assert_int_equal(lx_engine_snapshot(e, &want, &nwant), LX_OK);
    uint8_t small[256];
    assert_true(nwant <= sizeof small);
    assert_int_equal(lx_engine_snap_begin(e, small, sizeof small, &len2), LX_OK);
    assert_true(lx_engine_snap_step(e, 1));
    assert_memory_equal(small, want, nwant);
    free(want);
    lx_engine_free(&e);
}

/* A version 1 snapshot (byte-wise FNV-1a trailer) from an earlier release
 * is still read, and encodes again as the same state in version 2. */
static void test_version1_read(void **state)
{
    (void)state;
    lx_engine *e = busy_engine(0x2468u, 1500);
    uint8_t *a, *b;
    size_t na, nb;
    assert_int_equal(lx_engine_snapshot(e, &a, &na), LX_OK);
    uint8_t *v1 = malloc(na);
    assert_non_null(v1);
    memcpy(v1, a, na);
    as_version(v1, na, 1);
    assert_memory_not_equal(v1 + na - 8, a + na - 8, 8); /* the sums differ */
    lx_engine *r = NULL;
    assert_int_equal(lx_engine_restore(&r, v1, na), LX_OK);
    assert_int_equal(lx_engine_snapshot(r, &b, &nb), LX_OK);
    assert_int_equal(nb, na);
    assert_memory_equal(a, b, na);
    lx_engine_free(&r);
    /* A version 2 trailer on a version 1 header is corrupt, and so is a
     * version 1 snapshot with a flipped body byte. */
    memcpy(v1 + na - 8, a + na - 8, 8);
    assert_int_equal(lx_engine_restore(&r, v1, na), LX_ECORRUPT);
    as_version(v1, na, 1);
    v1[na / 2] ^= 0x10;
    assert_int_equal(lx_engine_restore(&r, v1, na), LX_ECORRUPT);
    /* An unknown version is a format error. */
    memcpy(v1, a, na);
    as_version(v1, na, 3);
    assert_int_equal(lx_engine_restore(&r, v1, na), LX_EFORMAT);
    assert_null(r);
    free(v1);
    free(a);
    free(b);
    lx_engine_free(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_bytes),
        cmocka_unit_test(test_empty_engine),
        cmocka_unit_test(test_canonical),
        cmocka_unit_test(test_same_behaviour_after_restore),
        cmocka_unit_test(test_corrupt_and_truncated),
        cmocka_unit_test(test_prefetch_changes_nothing),
        cmocka_unit_test(test_snapshot_to),
        cmocka_unit_test(test_version1_read),
        cmocka_unit_test(test_incremental_matches_begin),
        cmocka_unit_test(test_incremental_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
