/* Tests for the load generator's pure parts (node/loadgen.c): histogram
 * percentiles, the open-loop schedule, generated orders, malformed frames,
 * durations and the summary JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lx/node.h"

/* |got - want| <= want / 128 (the histogram's bound), or exact below 128. */
static void assert_close(uint64_t got, uint64_t want)
{
    uint64_t diff = got > want ? got - want : want - got;
    if (diff * LX_HIST_SUB > want)
        fail_msg("got %llu, want %llu", (unsigned long long)got, (unsigned long long)want);
}

static void test_hist_small_exact(void **state)
{
    (void)state;
    lx_hist *h = NULL;
    assert_int_equal(lx_hist_new(&h), LX_OK);
    assert_int_equal(lx_hist_percentile(h, 50), 0);
    assert_int_equal(lx_hist_count(h), 0);
    /* 1..100 once each: values under 128 are exact. */
    for (uint64_t v = 1; v <= 100; v++)
        lx_hist_record(h, v);
    assert_int_equal(lx_hist_count(h), 100);
    assert_int_equal(lx_hist_min(h), 1);
    assert_int_equal(lx_hist_max(h), 100);
    assert_int_equal(lx_hist_percentile(h, 50), 50);
    assert_int_equal(lx_hist_percentile(h, 90), 90);
    assert_int_equal(lx_hist_percentile(h, 99), 99);
    assert_int_equal(lx_hist_percentile(h, 99.9), 100);
    assert_int_equal(lx_hist_percentile(h, 100), 100);
    assert_int_equal(lx_hist_percentile(h, 0), 1);
    assert_true(lx_hist_mean(h) > 50.49 && lx_hist_mean(h) < 50.51);
    lx_hist_reset(h);
    assert_int_equal(lx_hist_count(h), 0);
    lx_hist_free(&h);
    assert_null(h);
    lx_hist_free(&h);
}

static void test_hist_uniform_large(void **state)
{
    (void)state;
    lx_hist *h = NULL;
    assert_int_equal(lx_hist_new(&h), LX_OK);
    /* 1..1,000,000: percentile q is q * 10^4. */
    for (uint64_t v = 1; v <= 1000000; v++)
        lx_hist_record(h, v);
    assert_close(lx_hist_percentile(h, 50), 500000);
    assert_close(lx_hist_percentile(h, 90), 900000);
    assert_close(lx_hist_percentile(h, 99), 990000);
    assert_close(lx_hist_percentile(h, 99.9), 999000);
    assert_int_equal(lx_hist_percentile(h, 100), 1000000);
    assert_int_equal(lx_hist_max(h), 1000000);
    /* Never below the true value: a bucket reports its highest value. */
    assert_true(lx_hist_percentile(h, 50) >= 500000);
    lx_hist_free(&h);
}

static void test_hist_skewed_and_merge(void **state)
{
    (void)state;
    lx_hist *a = NULL, *b = NULL;
    assert_int_equal(lx_hist_new(&a), LX_OK);
    assert_int_equal(lx_hist_new(&b), LX_OK);
    /* 990 samples at 100 us, 9 at 10 ms, 1 at 1 s, split over two. */
    for (int i = 0; i < 990; i++)
        lx_hist_record(a, 100);
    for (int i = 0; i < 9; i++)
        lx_hist_record(b, 10000);
    lx_hist_record(b, 1000000);
    assert_int_equal(lx_hist_merge(a, b), LX_OK);
    assert_int_equal(lx_hist_merge(NULL, b), LX_EINVAL);
    assert_int_equal(lx_hist_count(a), 1000);
    assert_int_equal(lx_hist_percentile(a, 50), 100);
    assert_int_equal(lx_hist_percentile(a, 99), 100);
    assert_close(lx_hist_percentile(a, 99.5), 10000);
    assert_close(lx_hist_percentile(a, 99.9), 10000);
    assert_int_equal(lx_hist_percentile(a, 100), 1000000);
    assert_int_equal(lx_hist_min(a), 100);
    /* Extremes of the range land in a bucket and come back capped. */
    lx_hist_reset(b);
    lx_hist_record(b, UINT64_MAX);
    lx_hist_record(b, 0);
    assert_int_equal(lx_hist_percentile(b, 100), UINT64_MAX);
    assert_int_equal(lx_hist_percentile(b, 50), 0);
    lx_hist_free(&a);
    lx_hist_free(&b);
}

static void test_hist_relative_error_everywhere(void **state)
{
    (void)state;
    lx_hist *h = NULL;
    assert_int_equal(lx_hist_new(&h), LX_OK);
    /* A single sample v must come back as a value in [v, v + v/128]. */
    uint64_t v = 1;
    for (int i = 0; i < 4000; i++) {
        lx_hist_reset(h);
        lx_hist_record(h, v);
        lx_hist_record(h, UINT64_MAX); /* so the max cap does not hide the bucket */
        uint64_t got = lx_hist_percentile(h, 50);
        assert_true(got >= v);
        assert_close(got, v);
        v = v + v / 97 + 1;
        if (v > (UINT64_C(1) << 62))
            break;
    }
    lx_hist_free(&h);
}

static void test_pace_schedule(void **state)
{
    (void)state;
    const uint64_t start = 1000000000;
    /* 1000/s: one every millisecond, exactly on the grid. */
    assert_int_equal(lx_pace_time(start, 1000.0, 0), start);
    assert_int_equal(lx_pace_time(start, 1000.0, 1), start + 1000000);
    assert_int_equal(lx_pace_time(start, 1000.0, 30000), start + 30000000000ull);
    assert_int_equal(lx_pace_due(start, 1000.0, start - 1), 0);
    assert_int_equal(lx_pace_due(start, 1000.0, start), 1);
    assert_int_equal(lx_pace_due(start, 1000.0, start + 999999), 1);
    assert_int_equal(lx_pace_due(start, 1000.0, start + 1000000), 2);
    assert_int_equal(lx_pace_due(start, 1000.0, start + 1000000000), 1001);
    /* The schedule does not depend on when anyone asked: falling behind
     * leaves every later time where it was. */
    assert_int_equal(lx_pace_due(start, 1000.0, start + 5000000000ull), 5001);
    /* due and time agree for odd rates. */
    const double rates[] = {1.0, 3.0, 7.5, 333.3, 250000.0, 1e6, 0.25};
    for (size_t r = 0; r < sizeof rates / sizeof rates[0]; r++) {
        uint64_t prev = start;
        for (uint64_t k = 0; k < 2000; k++) {
            uint64_t t = lx_pace_time(start, rates[r], k);
            assert_true(t >= prev);
            prev = t;
            assert_int_equal(lx_pace_due(start, rates[r], t), k + 1);
            if (t > start)
                assert_true(lx_pace_due(start, rates[r], t - 1) <= k);
        }
    }
    /* rate 0 never schedules. */
    assert_int_equal(lx_pace_due(start, 0.0, start + 1), 0);
    assert_int_equal(lx_pace_time(start, 0.0, 1), UINT64_MAX);
}

static lx_proto_market market(uint32_t id, const char *name, const char *base, const char *quote,
                              uint64_t lot, uint64_t tick, uint64_t min_qty)
{
    lx_proto_market m;
    memset(&m, 0, sizeof m);
    m.id = id;
    snprintf(m.spec.name, sizeof m.spec.name, "%s", name);
    snprintf(m.spec.base, sizeof m.spec.base, "%s", base);
    snprintf(m.spec.quote, sizeof m.spec.quote, "%s", quote);
    m.spec.lot = lot;
    m.spec.tick = tick;
    m.spec.min_qty = min_qty;
    m.spec.maker_fee_bps = 10;
    m.spec.taker_fee_bps = 20;
    return m;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void test_ordergen_valid(void **state)
{
    (void)state;
    lx_proto_market mk[2] = {market(0, "BTC-USD", "BTC", "USD", 1000, 5, 1),
                             market(3, "ETH-USD", "ETH", "USD", 10, 25, 4)};
    lx_ordergen_opts o = {.seed = 42,
                          .id_base = 77,
                          .account_first = 100,
                          .accounts = 10,
                          .markets = mk,
                          .nmarkets = 2};
    lx_ordergen *g = NULL;
    assert_int_equal(lx_ordergen_new(&g, &o), LX_OK);
    enum { N = 20000 };
    uint64_t *ids = malloc(N * sizeof *ids);
    assert_non_null(ids);
    size_t sides[2] = {0, 0}, per_market[2] = {0, 0};
    uint64_t lo[2] = {UINT64_MAX, UINT64_MAX}, hi[2] = {0, 0};
    for (size_t i = 0; i < N; i++) {
        lx_order_cmd c;
        uint32_t group = (uint32_t)(i % 3);
        lx_ordergen_next(g, &c, group, 3);
        ids[i] = c.id;
        assert_int_equal(lx_ordergen_index(g, c.id), i);
        assert_true(c.market == 0 || c.market == 3);
        const lx_market_spec *s = c.market == 0 ? &mk[0].spec : &mk[1].spec;
        size_t mi = c.market == 0 ? 0 : 1;
        per_market[mi]++;
        assert_true(c.price > 0);
        assert_int_equal(c.price % s->tick, 0);
        assert_true(c.qty >= s->min_qty && c.qty < s->min_qty + LX_ORDERGEN_QTY_SPAN);
        assert_int_equal(c.type, LX_LIMIT);
        assert_int_equal(c.tif, LX_GTC);
        assert_false(c.post_only);
        assert_true(c.side <= 1);
        sides[c.side]++;
        assert_true(c.account >= 100 && c.account < 110);
        assert_int_equal((c.account - 100) % 3, group);
        uint64_t ticks = c.price / s->tick;
        if (ticks < lo[mi])
            lo[mi] = ticks;
        if (ticks > hi[mi])
            hi[mi] = ticks;
        /* The frame a client would send decodes, so the codec accepts it. */
        uint8_t buf[128];
        size_t n;
        lx_proto_msg m;
        memset(&m, 0, sizeof m);
        m.hdr.type = LX_PROTO_NEW_ORDER;
        m.hdr.req_id = i + 1;
        m.u.order = c;
        assert_int_equal(lx_proto_encode(buf, sizeof buf, &n, &m), LX_OK);
    }
    /* Both sides and both markets, prices spread over several ticks around
     * the mid so that buys and sells overlap. */
    assert_true(sides[0] > N / 3 && sides[1] > N / 3);
    assert_true(per_market[0] > N / 3 && per_market[1] > N / 3);
    for (int m = 0; m < 2; m++) {
        assert_true(hi[m] - lo[m] >= 2 * LX_ORDERGEN_SPREAD_TICKS);
        assert_true(lo[m] >= LX_ORDERGEN_MID_TICKS / 2 - LX_ORDERGEN_SPREAD_TICKS);
        assert_true(hi[m] <= LX_ORDERGEN_MID_TICKS * 2 + LX_ORDERGEN_SPREAD_TICKS);
    }
    qsort(ids, N, sizeof *ids, cmp_u64);
    for (size_t i = 1; i < N; i++)
        assert_true(ids[i] != ids[i - 1]);
    assert_int_equal(ids[0] >> LX_ORDERGEN_ID_BITS, 77);
    free(ids);

    /* Ids of another base, or never generated, map to nothing. */
    assert_int_equal(lx_ordergen_index(g, (UINT64_C(78) << LX_ORDERGEN_ID_BITS) | 1), UINT64_MAX);
    assert_int_equal(lx_ordergen_index(g, (UINT64_C(77) << LX_ORDERGEN_ID_BITS) | (N + 1)),
                     UINT64_MAX);
    assert_int_equal(lx_ordergen_index(g, UINT64_C(77) << LX_ORDERGEN_ID_BITS), UINT64_MAX);

    /* Deposits cover every order resting at once and stay under 2^62 in all. */
    uint64_t usd = lx_ordergen_deposit(g, "USD", 1000);
    uint64_t btc = lx_ordergen_deposit(g, "BTC", 1000);
    assert_true(usd >= 1000 * (LX_ORDERGEN_MID_TICKS * 2 + LX_ORDERGEN_SPREAD_TICKS) * 25 * 13);
    assert_true(btc >= 1000 * 10 * 1000);
    assert_int_equal(lx_ordergen_deposit(g, "SOL", 1000), 0);
    assert_true(lx_ordergen_deposit(g, "USD", UINT64_MAX) <= (UINT64_C(1) << 62) / 10);

    /* Chance draws are roughly right. */
    size_t hits = 0;
    for (int i = 0; i < 10000; i++)
        hits += (size_t)lx_ordergen_chance(g, 0.1);
    assert_true(hits > 800 && hits < 1200);
    assert_int_equal(lx_ordergen_chance(g, 0.0), 0);
    assert_int_equal(lx_ordergen_chance(g, 1.0), 1);
    lx_ordergen_free(&g);
    assert_null(g);

    /* Same seed, same orders. */
    lx_ordergen *g1 = NULL, *g2 = NULL;
    assert_int_equal(lx_ordergen_new(&g1, &o), LX_OK);
    assert_int_equal(lx_ordergen_new(&g2, &o), LX_OK);
    for (int i = 0; i < 100; i++) {
        lx_order_cmd a, b;
        lx_ordergen_next(g1, &a, 0, 1);
        lx_ordergen_next(g2, &b, 0, 1);
        assert_memory_equal(&a, &b, sizeof a);
    }
    lx_ordergen_free(&g1);
    lx_ordergen_free(&g2);
}

static void test_ordergen_bad_options(void **state)
{
    (void)state;
    lx_proto_market mk = market(0, "BTC-USD", "BTC", "USD", 1, 1, 1);
    lx_ordergen_opts o = {
        .seed = 1, .id_base = 1, .account_first = 1, .accounts = 1, .markets = &mk, .nmarkets = 1};
    lx_ordergen *g = NULL;
    assert_int_equal(lx_ordergen_new(NULL, &o), LX_EINVAL);
    assert_int_equal(lx_ordergen_new(&g, NULL), LX_EINVAL);
    lx_ordergen_opts b = o;
    b.id_base = 0;
    assert_int_equal(lx_ordergen_new(&g, &b), LX_EINVAL);
    b.id_base = LX_ORDERGEN_ID_BASE_MAX + 1u;
    assert_int_equal(lx_ordergen_new(&g, &b), LX_EINVAL);
    b = o;
    b.accounts = 0;
    assert_int_equal(lx_ordergen_new(&g, &b), LX_EINVAL);
    b = o;
    b.nmarkets = 0;
    assert_int_equal(lx_ordergen_new(&g, &b), LX_EINVAL);
    lx_proto_market huge = market(0, "X-Y", "X", "Y", 1, UINT64_C(1) << 50, 1);
    b = o;
    b.markets = &huge;
    assert_int_equal(lx_ordergen_new(&g, &b), LX_EINVAL);
    assert_null(g);
    /* Accounts fewer than groups: any account is used. */
    assert_int_equal(lx_ordergen_new(&g, &o), LX_OK);
    lx_order_cmd c;
    lx_ordergen_next(g, &c, 2, 3);
    assert_int_equal(c.account, 1);
    lx_ordergen_free(&g);
}

static void test_malformed_frames(void **state)
{
    (void)state;
    uint8_t *buf = malloc(LX_MALFORMED_MAX);
    assert_non_null(buf);
    for (int k = 0; k < LX_MAL_COUNT; k++) {
        size_t n = 0;
        lx_proto_error want = LX_PROTO_E_NONE, got = LX_PROTO_E_NONE;
        uint64_t echo = 99;
        assert_int_equal(lx_malformed_frame(buf, LX_MALFORMED_MAX, &n, &want, &echo,
                                            (lx_malformed_kind)k, 0x1234),
                         LX_OK);
        assert_string_not_equal(lx_malformed_name((lx_malformed_kind)k), "unknown");
        lx_proto_msg m;
        lx_err err = lx_proto_decode(&m, &got, buf, n);
        if (k == LX_MAL_REPLY_TYPE) {
            /* Well formed, but not a request. */
            assert_int_equal(err, LX_OK);
            assert_false(lx_proto_is_request(m.hdr.type));
            assert_int_equal(want, LX_PROTO_E_UNKNOWN_TYPE);
        } else {
            if (got != want)
                fail_msg("%s: decoder says %s, expected %s",
                         lx_malformed_name((lx_malformed_kind)k), lx_proto_error_str(got),
                         lx_proto_error_str(want));
            assert_int_not_equal(err, LX_OK);
        }
        /* The req_id a reply must echo is what the decoder could read. */
        assert_int_equal(m.hdr.req_id, echo);
        assert_true(echo == 0 || echo == 0x1234);
    }
    size_t n;
    lx_proto_error c;
    uint64_t e;
    assert_int_equal(lx_malformed_frame(buf, LX_MALFORMED_MAX, &n, &c, &e, LX_MAL_COUNT, 1),
                     LX_EINVAL);
    assert_int_equal(lx_malformed_frame(buf, 100, &n, &c, &e, LX_MAL_EMPTY, 1), LX_EINVAL);
    assert_string_equal(lx_malformed_name(LX_MAL_COUNT), "unknown");
    free(buf);
}

static void test_parse_duration(void **state)
{
    (void)state;
    uint64_t ns = 0;
    assert_int_equal(lx_parse_duration(&ns, "30s"), LX_OK);
    assert_int_equal(ns, 30000000000ull);
    assert_int_equal(lx_parse_duration(&ns, "30"), LX_OK);
    assert_int_equal(ns, 30000000000ull);
    assert_int_equal(lx_parse_duration(&ns, "250ms"), LX_OK);
    assert_int_equal(ns, 250000000ull);
    assert_int_equal(lx_parse_duration(&ns, "1.5m"), LX_OK);
    assert_int_equal(ns, 90000000000ull);
    assert_int_equal(lx_parse_duration(&ns, "2h"), LX_OK);
    assert_int_equal(ns, 7200000000000ull);
    assert_int_equal(lx_parse_duration(&ns, "10us"), LX_OK);
    assert_int_equal(ns, 10000);
    assert_int_equal(lx_parse_duration(&ns, "7ns"), LX_OK);
    assert_int_equal(ns, 7);
    assert_int_equal(lx_parse_duration(&ns, "0"), LX_OK);
    assert_int_equal(ns, 0);
    const char *bad[] = {"",    "s",    "-1s", "1x", "1.2.3", "inf",
                         "nan", "0x10", "1e3", " 1", "1 s",   "99999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (lx_parse_duration(&ns, bad[i]) != LX_EINVAL)
            fail_msg("accepted \"%s\"", bad[i]);
    assert_int_equal(lx_parse_duration(NULL, "1"), LX_EINVAL);
}

static void test_summary_json(void **state)
{
    (void)state;
    lx_hist *h = NULL;
    assert_int_equal(lx_hist_new(&h), LX_OK);
    for (uint64_t v = 1; v <= 1000; v++)
        lx_hist_record(h, v);
    lx_loadgen_summary s;
    memset(&s, 0, sizeof s);
    s.duration_s = 30.0;
    s.target_rate = 1000;
    s.sent = 30000;
    s.acked = 29990;
    s.rejected = 4;
    s.errors = 6;
    s.fills = 12345;
    s.throughput = 999.67;
    s.nodes = 3;
    s.timeouts = 2;
    s.cancels_sent = 40;
    s.cancelled = 15;
    s.cancel_misses = 25;
    s.cancel_frames = 9;
    s.send_lag_p50_us = 7;
    s.send_lag_p99_us = 70;
    s.max_send_lag_us = 700;
    s.busy_poll = 1;
    lx_loadgen_summary_latency(&s, h);
    assert_close(s.p50, 500);
    assert_close(s.p90, 900);
    assert_close(s.p99, 990);
    assert_close(s.p999, 999);
    assert_int_equal(s.max, 1000);
    s.p50 = 500;
    s.p90 = 900;
    s.p99 = 990;
    s.p999 = 999;
    char buf[1024];
    size_t n = lx_loadgen_summary_json(buf, sizeof buf, &s);
    assert_true(n > 0 && n < sizeof buf);
    assert_int_equal(strlen(buf), n);
    const char *want_prefix =
        "{\"duration_s\":30.000,\"target_rate\":1000.000,\"sent\":30000,\"acked\":29990,"
        "\"rejected\":4,\"errors\":6,\"fills\":12345,\"throughput\":999.7,"
        "\"latency_us\":{\"p50\":500,\"p90\":900,\"p99\":990,\"p999\":999,\"max\":1000},"
        "\"nodes\":3,\"timeouts\":2,";
    assert_memory_equal(buf, want_prefix, strlen(want_prefix));
    assert_non_null(strstr(
        buf, ",\"cancels_sent\":40,\"cancelled\":15,\"cancel_misses\":25,\"cancel_frames\":9,"));
    const char *want_end = ",\"send_lag_us\":{\"p50\":7,\"p99\":70,\"max\":700},"
                           "\"max_send_lag_us\":700,\"busy_poll\":true}";
    assert_true(n > strlen(want_end));
    assert_string_equal(buf + n - strlen(want_end), want_end);
    assert_int_equal(buf[n - 1], '}');
    /* Balanced braces and quotes, no newline. */
    int depth = 0, quotes = 0;
    for (size_t i = 0; i < n; i++) {
        depth += buf[i] == '{';
        depth -= buf[i] == '}';
        quotes += buf[i] == '"';
        assert_true(buf[i] != '\n');
    }
    assert_int_equal(depth, 0);
    assert_int_equal(quotes % 2, 0);
    /* Too small a buffer writes nothing useful and says so. */
    assert_int_equal(lx_loadgen_summary_json(buf, 40, &s), 0);
    assert_int_equal(lx_loadgen_summary_json(buf, n, &s), 0);
    assert_int_equal(lx_loadgen_summary_json(buf, n + 1, &s), n);
    lx_hist_free(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hist_small_exact),
        cmocka_unit_test(test_hist_uniform_large),
        cmocka_unit_test(test_hist_skewed_and_merge),
        cmocka_unit_test(test_hist_relative_error_everywhere),
        cmocka_unit_test(test_pace_schedule),
        cmocka_unit_test(test_ordergen_valid),
        cmocka_unit_test(test_ordergen_bad_options),
        cmocka_unit_test(test_malformed_frames),
        cmocka_unit_test(test_parse_duration),
        cmocka_unit_test(test_summary_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
