/* Tests for the load client (node/client.c): the in-flight table's req_ids,
 * lookups, open counts, growth and expiry, the client's argument checks, and
 * withdrawals sent again after ERROR overloaded (against a fake node). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lx/node.h"

#define EXPIRE 1000u /* ns, for the tests' frames */

/* Opens a frame and checks it got the expected req_id. */
static lx_inflight_frame *add(lx_inflight *f, uint64_t *expired, lx_inflight_kind kind,
                              uint32_t norders, uint64_t now, uint64_t want_req)
{
    lx_inflight_frame *fr = NULL;
    assert_int_equal(lx_inflight_add(f, &fr, expired, kind, 3, norders, now, EXPIRE), LX_OK);
    assert_non_null(fr);
    assert_int_equal(fr->req_id, want_req);
    return fr;
}

static void test_inflight_new_args(void **state)
{
    (void)state;
    lx_inflight *f = NULL;
    assert_int_equal(lx_inflight_new(NULL, 4), LX_EINVAL);
    assert_int_equal(lx_inflight_new(&f, 0), LX_EINVAL);
    assert_null(f);
    assert_int_equal(lx_inflight_new(&f, 5), LX_OK);
    assert_int_equal(lx_inflight_capacity(f), 8); /* rounded up to a power of two */
    assert_int_equal(lx_inflight_open(f, 0), 0);
    lx_inflight_frame *fr = NULL;
    uint64_t expired = 0;
    assert_int_equal(lx_inflight_add(f, &fr, &expired, (lx_inflight_kind)0, 0, 0, 0, EXPIRE),
                     LX_EINVAL);
    assert_int_equal(lx_inflight_add(f, &fr, &expired, LX_INFLIGHT_KIND_COUNT, 0, 0, 0, EXPIRE),
                     LX_EINVAL);
    assert_int_equal(lx_inflight_add(f, &fr, NULL, LX_INFLIGHT_PING, 0, 0, 0, EXPIRE), LX_EINVAL);
    assert_int_equal(lx_inflight_open(f, 0), 0);
    lx_inflight_free(&f);
    assert_null(f);
    lx_inflight_free(&f); /* NULL is fine */
}

static void test_inflight_add_find_close(void **state)
{
    (void)state;
    lx_inflight *f = NULL;
    assert_int_equal(lx_inflight_new(&f, 16), LX_OK);
    uint64_t expired = 0;
    lx_inflight_frame *o = add(f, &expired, LX_INFLIGHT_ORDER, 5, 100, 1);
    assert_int_equal(o->state, LX_INFLIGHT_WAIT);
    assert_int_equal(o->kind, LX_INFLIGHT_ORDER);
    assert_int_equal(o->node, 3);
    assert_int_equal(o->norders, 5);
    assert_int_equal(o->sent_ns, 100);
    add(f, &expired, LX_INFLIGHT_CANCEL, 0, 101, 2);
    add(f, &expired, LX_INFLIGHT_CANCEL, 0, 102, 3);
    add(f, &expired, LX_INFLIGHT_DEPOSIT, 0, 103, 4);
    assert_int_equal(lx_inflight_open(f, 0), 4);
    assert_int_equal(lx_inflight_open(f, LX_INFLIGHT_ORDER), 1);
    assert_int_equal(lx_inflight_open(f, LX_INFLIGHT_CANCEL), 2);
    assert_int_equal(lx_inflight_open(f, LX_INFLIGHT_DEPOSIT), 1);
    assert_int_equal(lx_inflight_open(f, LX_INFLIGHT_PING), 0);
    assert_int_equal(lx_inflight_open(f, 99), 0);

    /* Unknown req_ids: 0, not yet handed out, far beyond. */
    assert_null(lx_inflight_find(f, 0));
    assert_null(lx_inflight_find(f, 5));
    assert_null(lx_inflight_find(f, 1 + 16));

    lx_inflight_frame *c = lx_inflight_find(f, 2);
    assert_non_null(c);
    assert_int_equal(c->kind, LX_INFLIGHT_CANCEL);
    lx_inflight_close(f, c);
    assert_null(lx_inflight_find(f, 2)); /* a late second reply is stray */
    assert_int_equal(lx_inflight_open(f, 0), 3);
    assert_int_equal(lx_inflight_open(f, LX_INFLIGHT_CANCEL), 1);
    assert_non_null(lx_inflight_find(f, 3));
    assert_int_equal(expired, 0);
    lx_inflight_free(&f);
}

static void test_inflight_unanswered_orders(void **state)
{
    (void)state;
    lx_inflight *f = NULL;
    assert_int_equal(lx_inflight_new(&f, 8), LX_OK);
    uint64_t expired = 0;
    add(f, &expired, LX_INFLIGHT_ORDER, 4, 0, 1);
    add(f, &expired, LX_INFLIGHT_ORDER, 7, 0, 2);
    add(f, &expired, LX_INFLIGHT_ORDER, 64, 0, 3);
    add(f, &expired, LX_INFLIGHT_CANCEL, 0, 0, 4);
    assert_int_equal(lx_inflight_unanswered_orders(f), 4 + 7 + 64);
    /* Answered (closed) and partly answered (TAIL) frames are not waiting. */
    lx_inflight_close(f, lx_inflight_find(f, 1));
    lx_inflight_find(f, 3)->state = LX_INFLIGHT_TAIL;
    assert_int_equal(lx_inflight_unanswered_orders(f), 7);
    assert_int_equal(lx_inflight_open(f, LX_INFLIGHT_ORDER), 2);
    lx_inflight_free(&f);
}

/* A full ring whose oldest frame is young doubles and keeps every frame. */
static void test_inflight_grows(void **state)
{
    (void)state;
    lx_inflight *f = NULL;
    assert_int_equal(lx_inflight_new(&f, 4), LX_OK);
    uint64_t expired = 0;
    for (uint64_t r = 1; r <= 4; r++)
        add(f, &expired, LX_INFLIGHT_ORDER, (uint32_t)r, 0, r);
    assert_int_equal(lx_inflight_capacity(f), 4);
    /* now - sent == EXPIRE is not yet expired. */
    add(f, &expired, LX_INFLIGHT_ORDER, 5, EXPIRE, 5);
    assert_int_equal(lx_inflight_capacity(f), 8);
    assert_int_equal(expired, 0);
    for (uint64_t r = 1; r <= 5; r++) {
        lx_inflight_frame *fr = lx_inflight_find(f, r);
        assert_non_null(fr);
        assert_int_equal(fr->norders, r);
        assert_int_equal(fr->state, LX_INFLIGHT_WAIT);
    }
    assert_int_equal(lx_inflight_open(f, 0), 5);
    assert_int_equal(lx_inflight_open(f, LX_INFLIGHT_ORDER), 5);
    lx_inflight_free(&f);
}

/* Closed frames at the low end free their slots: no growth, no expiry. */
static void test_inflight_reuses_closed_slots(void **state)
{
    (void)state;
    lx_inflight *f = NULL;
    assert_int_equal(lx_inflight_new(&f, 4), LX_OK);
    uint64_t expired = 0;
    for (uint64_t r = 1; r <= 4; r++)
        add(f, &expired, LX_INFLIGHT_ORDER, 1, 0, r);
    lx_inflight_close(f, lx_inflight_find(f, 1));
    lx_inflight_close(f, lx_inflight_find(f, 2));
    add(f, &expired, LX_INFLIGHT_ORDER, 1, 10 * EXPIRE, 5);
    add(f, &expired, LX_INFLIGHT_ORDER, 1, 10 * EXPIRE, 6);
    assert_int_equal(lx_inflight_capacity(f), 4);
    assert_int_equal(expired, 0);
    assert_non_null(lx_inflight_find(f, 3));
    assert_non_null(lx_inflight_find(f, 6));
    assert_null(lx_inflight_find(f, 1));
    assert_null(lx_inflight_find(f, 2)); /* its slot now holds req_id 6 */
    assert_int_equal(lx_inflight_open(f, 0), 4);
    lx_inflight_free(&f);
}

/* A full ring whose oldest frame is older than expire_ns drops it; a waiting
 * order frame's orders are counted, anything else is not. */
static void test_inflight_expires_oldest(void **state)
{
    (void)state;
    lx_inflight *f = NULL;
    assert_int_equal(lx_inflight_new(&f, 4), LX_OK);
    uint64_t expired = 0;
    add(f, &expired, LX_INFLIGHT_ORDER, 7, 0, 1);
    add(f, &expired, LX_INFLIGHT_ORDER, 9, 0, 2);
    add(f, &expired, LX_INFLIGHT_CANCEL, 0, 0, 3);
    add(f, &expired, LX_INFLIGHT_ORDER, 11, 5 * EXPIRE, 4);
    lx_inflight_find(f, 2)->state = LX_INFLIGHT_TAIL; /* answered, tail pending */

    add(f, &expired, LX_INFLIGHT_PING, 0, EXPIRE + 1, 5);
    assert_int_equal(expired, 7);
    assert_null(lx_inflight_find(f, 1));
    assert_int_equal(lx_inflight_capacity(f), 4);
    assert_int_equal(lx_inflight_open(f, LX_INFLIGHT_ORDER), 2);

    add(f, &expired, LX_INFLIGHT_PING, 0, EXPIRE + 1, 6); /* drops the TAIL order */
    assert_int_equal(expired, 7);
    assert_null(lx_inflight_find(f, 2));
    add(f, &expired, LX_INFLIGHT_PING, 0, EXPIRE + 1, 7); /* drops the cancel */
    assert_int_equal(expired, 7);
    assert_int_equal(lx_inflight_open(f, LX_INFLIGHT_CANCEL), 0);
    assert_int_equal(lx_inflight_capacity(f), 4);

    /* Frame 4 was sent at 5 * EXPIRE: too young, so the ring grows. */
    add(f, &expired, LX_INFLIGHT_PING, 0, 5 * EXPIRE + 1, 8);
    assert_int_equal(lx_inflight_capacity(f), 8);
    assert_int_equal(expired, 7);
    assert_non_null(lx_inflight_find(f, 4));
    assert_int_equal(lx_inflight_open(f, 0), 5);
    assert_int_equal(lx_inflight_open(f, LX_INFLIGHT_PING), 4);
    assert_int_equal(lx_inflight_unanswered_orders(f), 11);
    lx_inflight_free(&f);
}

static int no_stop(void)
{
    return 0;
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

/* Binds s to a free loopback port from a small range; writes the endpoint. */
static void bind_free_port(lx_zsock *s, char *ep, size_t len)
{
    for (int port = 47400; port < 47700; port++) {
        snprintf(ep, len, "tcp://127.0.0.1:%d", port);
        lx_err err = lx_zsock_bind(s, ep);
        if (err == LX_OK)
            return;
        assert_int_equal(err, LX_EEXIST);
    }
    fail_msg("no free port");
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
    assert_int_equal(lx_zctx_new(&ctx, 1), LX_OK);
    lx_zsock_opts so;
    lx_zsock_opts_init(&so);
    so.linger_ms = 0;
    lx_zsock *r = NULL;
    assert_int_equal(lx_zsock_new(&r, ctx, LX_ZROUTER, &so), LX_OK);
    char ep[64];
    bind_free_port(r, ep, sizeof ep);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inflight_new_args),
        cmocka_unit_test(test_inflight_add_find_close),
        cmocka_unit_test(test_inflight_unanswered_orders),
        cmocka_unit_test(test_inflight_grows),
        cmocka_unit_test(test_inflight_reuses_closed_slots),
        cmocka_unit_test(test_inflight_expires_oldest),
        cmocka_unit_test(test_client_args),
        cmocka_unit_test(test_withdraw_overloaded_sent_again),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
