/* Tests for the load client (node/client.c): its argument checks,
 * withdrawals sent again after ERROR overloaded, the market list asked
 * again while a new cluster has none, deposits sent again when a node
 * lost them, and the acked log (against fake nodes). */
#define _XOPEN_SOURCE 700
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lx/node.h"
#include "test_fs.h"
#include "test_net.h"

static int no_stop(void)
{
    return 0;
}

/* A context and a ROUTER bound to a free port from `from` on, as a fake
 * node; its endpoint goes to ep. */
static void fake_node(lx_zctx **ctx, lx_zsock **r, char *ep, size_t eplen, int from)
{
    assert_int_equal(lx_zctx_new(ctx, 1), LX_OK);
    lx_zsock_opts so;
    lx_zsock_opts_init(&so);
    so.linger_ms = 0;
    assert_int_equal(lx_zsock_new(r, *ctx, LX_ZROUTER, &so), LX_OK);
    lx_test_bind_free_port(*r, ep, eplen, from);
}

static void test_client_args(void **state)
{
    (void)state;
    const char *eps[LX_CLIENT_NODES_MAX + 1];
    for (size_t i = 0; i <= LX_CLIENT_NODES_MAX; i++)
        eps[i] = "tcp://127.0.0.1:1";
    lx_client_opts o = {.nodes = eps,
                        .nnodes = 1,
                        .name = "test",
                        .connect_timeout_ns = 1000000,
                        .drain_ns = 0,
                        .stopped = no_stop};
    lx_client *c = NULL;
    size_t bad = 0;
    assert_int_equal(lx_client_new(NULL, &bad, &o), LX_EINVAL);
    o.nnodes = 0;
    assert_int_equal(lx_client_new(&c, &bad, &o), LX_EINVAL);
    o.nnodes = LX_CLIENT_NODES_MAX + 1;
    assert_int_equal(lx_client_new(&c, &bad, &o), LX_EINVAL);
    assert_null(c);

    /* A bad second endpoint is named by its index. */
    eps[1] = "nonsense://x";
    o.nnodes = 2;
    assert_int_not_equal(lx_client_new(&c, &bad, &o), LX_OK);
    assert_null(c);
    assert_int_equal(bad, 1);

    /* Nothing listens on port 1: the node never becomes ready. */
    o.nnodes = 1;
    assert_int_equal(lx_client_new(&c, &bad, &o), LX_OK);
    assert_int_equal(bad, SIZE_MAX);
    lx_client_node_info nd;
    assert_int_equal(lx_client_node(c, &nd, 1), LX_EINVAL);
    assert_int_equal(lx_client_node(c, &nd, 0), LX_OK);
    assert_string_equal(nd.ep, "tcp://127.0.0.1:1");
    assert_false(nd.ready);
    assert_int_equal(lx_client_wait_ready(c, 20000000), 0);
    assert_int_equal(lx_client_node(c, &nd, 0), LX_OK);
    assert_false(nd.ready);
    assert_int_equal(lx_client_outstanding(c), 0); /* pings are not orders */
    assert_int_equal(lx_client_markets(c), 0);
    lx_client_load l = {.seed = 1, .id_base = 1, .accounts = 1, .rate = 1.0};
    assert_int_equal(lx_client_load_init(c, &l), LX_EINVAL); /* no markets yet */
    lx_client_stats s;
    lx_client_stats_get(c, &s);
    assert_int_equal(s.sent, 0);
    assert_int_equal(s.stray_replies, 0);
    assert_int_equal(lx_client_close_acked_log(c), LX_OK); /* none open */
    lx_client_free(&c);
    assert_null(c);
}

/* The fake node: waits up to 3 s for one WITHDRAW, checks it, and answers
 * it with an ERROR of code (0: an ACK). */
static void serve_withdraw(lx_zsock *r, uint16_t code)
{
    lx_zpollitem it = {.sock = r, .events = LX_ZPOLLIN};
    int ready = 0;
    assert_int_equal(lx_zpoll(&ready, &it, 1, 3000), LX_OK);
    assert_int_equal(ready, 1);
    lx_zmsg m;
    assert_int_equal(lx_zsock_recv(r, &m, 0), LX_OK);
    assert_int_equal(m.n, 2); /* the routing id, the frame */
    lx_proto_msg q;
    assert_int_equal(lx_proto_decode(&q, NULL, m.part[1].data, m.part[1].len), LX_OK);
    assert_int_equal(q.hdr.type, LX_PROTO_WITHDRAW);
    assert_int_equal(q.u.transfer.account, 7);
    assert_int_equal(q.u.transfer.amount, 1000);
    assert_string_equal(q.u.transfer.asset, "USD");
    lx_proto_msg a;
    memset(&a, 0, sizeof a);
    a.hdr.req_id = q.hdr.req_id;
    if (code) {
        a.hdr.type = LX_PROTO_ERROR;
        a.u.error.code = code;
    } else {
        a.hdr.type = LX_PROTO_ACK;
        a.u.ack.seq = 1;
    }
    uint8_t buf[256];
    size_t len = 0;
    assert_int_equal(lx_proto_encode(buf, sizeof buf, &len, &a), LX_OK);
    lx_zpart parts[2] = {m.part[0], {buf, len}};
    assert_int_equal(lx_zsock_send(r, parts, 2, 0), LX_OK);
    lx_zmsg_close(&m);
}

/* Runs the client until done(c) or 3 s. */
static void pump_until(lx_client *c, int (*done)(lx_client *))
{
    uint64_t end = lx_now_ns() + UINT64_C(3000000000);
    while (!done(c) && lx_now_ns() < end) {
        lx_client_wait(c, lx_now_ns() + 50000000u);
        lx_client_recv(c);
    }
    assert_true(done(c));
}

static int wd_answered(lx_client *c)
{
    lx_client_stats s;
    lx_client_stats_get(c, &s);
    return s.wd_acked + s.wd_rejected + s.wd_failed == s.wd_sent;
}

static int wd_sent_again(lx_client *c)
{
    lx_client_stats s;
    lx_client_stats_get(c, &s);
    return s.wd_retries > 0;
}

static void test_withdraw_overloaded_sent_again(void **state)
{
    (void)state;
    lx_zctx *ctx = NULL;
    lx_zsock *r = NULL;
    char ep[64];
    fake_node(&ctx, &r, ep, sizeof ep, 47400);
    const char *eps[1] = {ep};
    lx_client_opts o = {.nodes = eps,
                        .nnodes = 1,
                        .name = "test",
                        .connect_timeout_ns = 1000000000,
                        .drain_ns = 5000000000,
                        .stopped = no_stop};
    lx_client *c = NULL;
    size_t bad = 0;
    assert_int_equal(lx_client_new(&c, &bad, &o), LX_OK);
    const char *dest = "X-lux1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq";

    /* Overloaded: it waits, counts as outstanding, and is sent again. */
    uint64_t t0 = lx_now_ns();
    assert_int_equal(lx_client_withdraw(c, 7, "USD", 1000, dest), 1);
    serve_withdraw(r, LX_PROTO_E_OVERLOADED);
    pump_until(c, wd_sent_again);
    assert_true(lx_now_ns() - t0 >= LX_CLIENT_WD_RETRY_NS);
    assert_int_equal(lx_client_outstanding(c), 1);
    serve_withdraw(r, 0);
    pump_until(c, wd_answered);
    lx_client_stats s;
    lx_client_stats_get(c, &s);
    assert_int_equal(s.wd_sent, 1);
    assert_int_equal(s.wd_acked, 1);
    assert_int_equal(s.wd_retries, 1);
    assert_int_equal(s.wd_failed, 0);
    assert_int_equal(s.wd_amount, 1000);
    assert_int_equal(s.error_codes[LX_PROTO_E_OVERLOADED], 0);
    assert_int_equal(lx_client_outstanding(c), 0);

    /* Unavailable (no settlement) is final: failed, not sent again. */
    assert_int_equal(lx_client_withdraw(c, 7, "USD", 1000, dest), 1);
    serve_withdraw(r, LX_PROTO_E_UNAVAILABLE);
    pump_until(c, wd_answered);
    lx_client_stats_get(c, &s);
    assert_int_equal(s.wd_sent, 2);
    assert_int_equal(s.wd_failed, 1);
    assert_int_equal(s.wd_retries, 1);
    assert_int_equal(s.error_codes[LX_PROTO_E_UNAVAILABLE], 1);
    assert_int_equal(lx_client_outstanding(c), 0);

    /* Overloaded every time: given up after LX_CLIENT_WD_TRIES sends (a
     * client that waits 1 ms before each; the default wait is checked above). */
    lx_client_free(&c);
    o.wd_retry_ns = 1000000;
    assert_int_equal(lx_client_new(&c, &bad, &o), LX_OK);
    assert_int_equal(lx_client_withdraw(c, 7, "USD", 1000, dest), 1);
    for (unsigned k = 0; k < LX_CLIENT_WD_TRIES; k++) {
        serve_withdraw(r, LX_PROTO_E_OVERLOADED);
        if (k + 1 < LX_CLIENT_WD_TRIES) {
            lx_client_stats_get(c, &s);
            uint64_t before = s.wd_retries;
            while (s.wd_retries == before) {
                lx_client_wait(c, lx_now_ns() + 50000000u);
                lx_client_recv(c);
                lx_client_stats_get(c, &s);
            }
        }
    }
    pump_until(c, wd_answered);
    lx_client_stats_get(c, &s);
    assert_int_equal(s.wd_sent, 1);
    assert_int_equal(s.wd_failed, 1);
    assert_int_equal(s.wd_retries, LX_CLIENT_WD_TRIES - 1);
    assert_int_equal(s.error_codes[LX_PROTO_E_OVERLOADED], 1);
    assert_int_equal(lx_client_outstanding(c), 0);

    lx_client_free(&c);
    lx_zsock_free(&r);
    lx_zctx_free(&ctx);
}

/* A MARKETS reply to req_id over route: BTC-USD, or no market. */
static void send_markets(lx_zsock *r, const lx_zpart *route, uint64_t req_id, int with_btc)
{
    lx_proto_market mk = {
        .id = 0,
        .spec = {
            .name = "BTC-USD", .base = "BTC", .quote = "USD", .lot = 1, .tick = 1, .min_qty = 1}};
    uint8_t buf[LX_PROTO_FRAME_MAX];
    size_t len = 0;
    if (lx_proto_encode_markets(buf, sizeof buf, &len, req_id, 0, &mk, with_btc ? 1 : 0) == LX_OK) {
        lx_zpart parts[2] = {*route, {buf, len}};
        lx_zsock_send(r, parts, 2, 0);
    }
}

/* The fake node of test_markets_asked_again: answers QUERY_MARKETS with no
 * market the first `empty` times, then with BTC-USD. */
typedef struct markets_node {
    lx_zsock *r;
    int empty, asked;
} markets_node;

static void *serve_markets(void *arg)
{
    markets_node *f = arg;
    for (int done = 0; !done;) {
        lx_zpollitem it = {.sock = f->r, .events = LX_ZPOLLIN};
        int ready = 0;
        if (lx_zpoll(&ready, &it, 1, 1000) != LX_OK || ready == 0)
            return NULL;
        lx_zmsg m;
        if (lx_zsock_recv(f->r, &m, 0) != LX_OK)
            return NULL;
        lx_proto_msg q;
        if (m.n == 2 && lx_proto_decode(&q, NULL, m.part[1].data, m.part[1].len) == LX_OK &&
            q.hdr.type == LX_PROTO_QUERY_MARKETS) {
            done = f->asked++ >= f->empty;
            send_markets(f->r, &m.part[0], q.hdr.req_id, done);
        }
        lx_zmsg_close(&m);
    }
    return NULL;
}

/* A client of the one fake node at eps[0] (which must outlive it) that
 * waits connect_ns for it to answer. */
static lx_client *client_of(const char **eps, uint64_t connect_ns)
{
    lx_client_opts o = {.nodes = eps,
                        .nnodes = 1,
                        .name = "test",
                        .connect_timeout_ns = connect_ns,
                        .drain_ns = 1000000000,
                        .stopped = no_stop};
    lx_client *c = NULL;
    size_t bad = 0;
    assert_int_equal(lx_client_new(&c, &bad, &o), LX_OK);
    return c;
}

static void test_markets_asked_again(void **state)
{
    (void)state;
    lx_zctx *ctx = NULL;
    markets_node f = {.empty = 3};
    char ep[64];
    fake_node(&ctx, &f.r, ep, sizeof ep, 47450);
    const char *eps[1] = {ep};
    lx_client *c = client_of(eps, 3000000000);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, serve_markets, &f), 0);
    uint64_t t0 = lx_now_ns();
    assert_int_equal(lx_client_fetch_markets(c, NULL), 1);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(f.asked, 4);
    assert_int_equal(lx_client_markets(c), 1);
    assert_true(lx_now_ns() - t0 >= UINT64_C(300000000)); /* 100 ms apart */

    /* A cluster that never lists one: the answer stands at the deadline. */
    lx_client_free(&c);
    c = client_of(eps, 500000000);
    f.empty = 1000;
    f.asked = 0;
    assert_int_equal(pthread_create(&th, NULL, serve_markets, &f), 0);
    assert_int_equal(lx_client_fetch_markets(c, NULL), 1);
    assert_int_equal(lx_client_markets(c), 0);
    lx_client_free(&c);
    assert_int_equal(pthread_join(th, NULL), 0); /* after its 1 s poll */
    assert_true(f.asked >= 3);
    lx_zsock_free(&f.r);
    lx_zctx_free(&ctx);
}

/* The fake node of test_deposit_unanswered_sent_again: lists BTC-USD,
 * says nothing to the first `drop` deposits and acknowledges the others;
 * once it has acknowledged `late_after` of those, it acknowledges the
 * dropped ones too (a late answer to a request that was sent again). It
 * acknowledges every NEW_ORDER. */
typedef struct deposit_node {
    lx_zsock *r;
    int drop, late_after;
    int deposits, acked;
    volatile int stop;
    /* the dropped deposits: the ROUTER's routing id and the req_id */
    uint8_t route[8][256];
    size_t route_len[8];
    uint64_t req[8];
    int nheld;
} deposit_node;

static void send_ack(lx_zsock *r, const lx_zpart *route, uint64_t req_id, uint64_t id)
{
    lx_proto_msg a;
    memset(&a, 0, sizeof a);
    a.hdr.type = LX_PROTO_ACK;
    a.hdr.req_id = req_id;
    a.u.ack.seq = 1;
    a.u.ack.id = id;
    uint8_t buf[LX_PROTO_FRAME_MAX];
    size_t len = 0;
    if (lx_proto_encode(buf, sizeof buf, &len, &a) == LX_OK) {
        lx_zpart parts[2] = {*route, {buf, len}};
        lx_zsock_send(r, parts, 2, 0);
    }
}

static void *serve_deposits(void *arg)
{
    deposit_node *f = arg;
    while (!f->stop) {
        lx_zpollitem it = {.sock = f->r, .events = LX_ZPOLLIN};
        int ready = 0;
        if (lx_zpoll(&ready, &it, 1, 100) != LX_OK)
            return NULL;
        lx_zmsg m;
        if (ready == 0 || lx_zsock_recv(f->r, &m, 0) != LX_OK)
            continue;
        lx_proto_msg q;
        if (m.n == 2 && lx_proto_decode(&q, NULL, m.part[1].data, m.part[1].len) == LX_OK) {
            if (q.hdr.type == LX_PROTO_QUERY_MARKETS) {
                send_markets(f->r, &m.part[0], q.hdr.req_id, 1);
            } else if (q.hdr.type == LX_PROTO_DEPOSIT && f->deposits++ < f->drop) {
                if (f->nheld < 8 && m.part[0].len <= sizeof f->route[0]) {
                    memcpy(f->route[f->nheld], m.part[0].data, m.part[0].len);
                    f->route_len[f->nheld] = m.part[0].len;
                    f->req[f->nheld++] = q.hdr.req_id;
                }
            } else if (q.hdr.type == LX_PROTO_DEPOSIT) {
                send_ack(f->r, &m.part[0], q.hdr.req_id, 0);
                if (++f->acked == f->late_after)
                    for (int i = 0; i < f->nheld; i++) {
                        lx_zpart route = {f->route[i], f->route_len[i]};
                        send_ack(f->r, &route, f->req[i], 0);
                    }
            } else if (q.hdr.type == LX_PROTO_NEW_ORDER) {
                send_ack(f->r, &m.part[0], q.hdr.req_id, q.u.order.id);
            }
        }
        lx_zmsg_close(&m);
    }
    return NULL;
}

/* A deposit the node never answers (it stopped before answering, say) is
 * sent again after 3 s, and funding
 * completes; the node then answers the first send too, after the run has
 * counted the deposit. */
static void test_deposit_unanswered_sent_again(void **state)
{
    (void)state;
    lx_zctx *ctx = NULL;
    deposit_node f = {.drop = 1, .late_after = 2};
    char ep[64];
    fake_node(&ctx, &f.r, ep, sizeof ep, 47500);
    const char *eps[1] = {ep};
    lx_client *c = client_of(eps, 2000000000);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, serve_deposits, &f), 0);
    assert_int_equal(lx_client_fetch_markets(c, NULL), 1);
    lx_client_load l = {.seed = 1, .id_base = 1, .accounts = 1, .account_base = 1, .rate = 10};
    assert_int_equal(lx_client_load_init(c, &l), LX_OK);
    uint64_t t0 = lx_now_ns();
    /* Two deposits (BTC and USD into account 1); the first is dropped. */
    assert_int_equal(lx_client_fund(c, 10), 1);
    assert_true(lx_now_ns() - t0 >= UINT64_C(3000000000));
    f.stop = 1;
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(f.deposits, 3); /* 2, and the dropped one again */
    assert_int_equal(f.nheld, 1);
    lx_client_free(&c);
    lx_zsock_free(&f.r);
    lx_zctx_free(&ctx);
}

static uint64_t acked_of(lx_client *c)
{
    lx_client_stats s;
    lx_client_stats_get(c, &s);
    return s.acked;
}

static int ten_acked(lx_client *c)
{
    return acked_of(c) >= 10;
}

static int fifteen_acked(lx_client *c)
{
    return acked_of(c) >= 15;
}

/* Checks that the --acked-log at path holds one decimal id per line, the
 * ids of orders 1 to n of generator base 1, in that order. */
static void check_acked_log(const char *path, uint64_t n)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[64];
    uint64_t k = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        char want[64];
        k++;
        snprintf(want, sizeof want, "%llu\n",
                 (unsigned long long)((UINT64_C(1) << LX_ORDERGEN_ID_BITS) | k));
        assert_string_equal(line, want);
    }
    fclose(f);
    assert_int_equal(k, n);
}

/* The progress line's histogram holds the acknowledgements since its last
 * reset; the run's holds them all. Every acknowledged id goes to the
 * acked log. */
static void test_recent_hist_resets(void **state)
{
    (void)state;
    lx_zctx *ctx = NULL;
    deposit_node f = {.drop = 0};
    char ep[64];
    fake_node(&ctx, &f.r, ep, sizeof ep, 47550);
    const char *eps[1] = {ep};
    lx_client *c = client_of(eps, 2000000000);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, serve_deposits, &f), 0);
    assert_int_equal(lx_client_fetch_markets(c, NULL), 1);
    lx_client_load l = {.seed = 1, .id_base = 1, .accounts = 1, .account_base = 1, .rate = 1000};
    assert_int_equal(lx_client_load_init(c, &l), LX_OK);
    assert_int_equal(lx_client_fund(c, 15), 1);
    char dir[64], path[96];
    lx_test_tmpdir(dir, sizeof dir, "lx_test_client");
    snprintf(path, sizeof path, "%s/acked.log", dir);
    assert_int_equal(lx_client_open_acked_log(c, path), LX_OK);
    lx_client_load_start(c, lx_now_ns());
    for (uint64_t k = 0; k < 10; k++)
        lx_client_send_orders(c, 0, k, 1);
    pump_until(c, ten_acked);
    assert_int_equal(lx_hist_count(lx_client_hist(c)), 10);
    assert_int_equal(lx_hist_count(lx_client_hist_recent(c)), 10);
    assert_true(lx_hist_max(lx_client_hist_recent(c)) <= lx_hist_max(lx_client_hist(c)));
    lx_client_hist_recent_reset(c);
    assert_int_equal(lx_hist_count(lx_client_hist_recent(c)), 0);
    assert_int_equal(lx_hist_count(lx_client_hist(c)), 10);
    for (uint64_t k = 10; k < 15; k++)
        lx_client_send_orders(c, 0, k, 1);
    pump_until(c, fifteen_acked);
    assert_int_equal(lx_hist_count(lx_client_hist(c)), 15);
    assert_int_equal(lx_hist_count(lx_client_hist_recent(c)), 5);
    assert_int_equal(lx_client_close_acked_log(c), LX_OK);
    check_acked_log(path, 15);
    assert_int_equal(lx_test_rm_rf(dir), 0);
    f.stop = 1;
    assert_int_equal(pthread_join(th, NULL), 0);
    lx_client_free(&c);
    lx_zsock_free(&f.r);
    lx_zctx_free(&ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_client_args),
        cmocka_unit_test(test_withdraw_overloaded_sent_again),
        cmocka_unit_test(test_markets_asked_again),
        cmocka_unit_test(test_deposit_unanswered_sent_again),
        cmocka_unit_test(test_recent_hist_resets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
