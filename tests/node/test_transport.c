/* Tests for the ZeroMQ adapter: socket options, multipart messages, routing,
 * subscriptions, polling and error mapping, over inproc and loopback TCP. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "lx/node.h"

static lx_zctx *ctx;

static int setup(void **state)
{
    (void)state;
    return lx_zctx_new(&ctx, 1) == LX_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    lx_zctx_free(&ctx);
    return ctx == NULL ? 0 : -1;
}

/* Binds s to a free loopback port from a small range; writes the endpoint. */
static void bind_free_port(lx_zsock *s, char *ep, size_t len)
{
    for (int port = 47100; port < 47400; port++) {
        snprintf(ep, len, "tcp://127.0.0.1:%d", port);
        lx_err err = lx_zsock_bind(s, ep);
        if (err == LX_OK)
            return;
        assert_int_equal(err, LX_EEXIST);
    }
    fail_msg("no free port");
}

static void test_pair_multipart(void **state)
{
    (void)state;
    lx_zsock *a, *b;
    assert_int_equal(lx_zsock_new(&a, ctx, LX_ZPAIR, NULL), LX_OK);
    assert_int_equal(lx_zsock_new(&b, ctx, LX_ZPAIR, NULL), LX_OK);
    assert_int_equal(lx_zsock_bind(a, "inproc://pair"), LX_OK);
    assert_int_equal(lx_zsock_connect(b, "inproc://pair"), LX_OK);

    lx_zpart parts[3] = {{"one", 3}, {"", 0}, {"three", 5}};
    assert_int_equal(lx_zsock_send(b, parts, 3, 0), LX_OK);
    lx_zmsg m;
    assert_int_equal(lx_zsock_recv(a, &m, 0), LX_OK);
    assert_int_equal(m.n, 3);
    assert_int_equal(m.part[0].len, 3);
    assert_memory_equal(m.part[0].data, "one", 3);
    assert_int_equal(m.part[1].len, 0);
    assert_memory_equal(m.part[2].data, "three", 5);
    lx_zmsg_close(&m);
    assert_int_equal(m.n, 0);

    /* Nothing waiting. */
    assert_int_equal(lx_zsock_recv(a, &m, LX_ZDONTWAIT), LX_EAGAIN);

    /* Too many parts: dropped whole, and the next message is intact. */
    lx_zpart many[LX_ZMSG_PARTS + 2];
    for (size_t i = 0; i < LX_ZMSG_PARTS + 2; i++)
        many[i] = (lx_zpart){"x", 1};
    assert_int_equal(lx_zsock_send(b, many, LX_ZMSG_PARTS + 2, 0), LX_OK);
    assert_int_equal(lx_zsock_send(b, parts, 1, 0), LX_OK);
    assert_int_equal(lx_zsock_recv(a, &m, 0), LX_ETOOBIG);
    assert_int_equal(lx_zsock_recv(a, &m, 0), LX_OK);
    assert_int_equal(m.n, 1);
    assert_memory_equal(m.part[0].data, "one", 3);
    lx_zmsg_close(&m);

    lx_zsock_free(&a);
    lx_zsock_free(&b);
    assert_null(a);
}

static void test_router_dealer_tcp(void **state)
{
    (void)state;
    lx_zsock_opts o;
    lx_zsock_opts_init(&o);
    o.router_mandatory = true;
    lx_zsock *r, *d;
    assert_int_equal(lx_zsock_new(&r, ctx, LX_ZROUTER, &o), LX_OK);
    char ep[64];
    bind_free_port(r, ep, sizeof(ep));

    /* The same address again is in use. */
    lx_zsock *r2;
    assert_int_equal(lx_zsock_new(&r2, ctx, LX_ZROUTER, NULL), LX_OK);
    assert_int_equal(lx_zsock_bind(r2, ep), LX_EEXIST);
    assert_int_equal(lx_zsock_bind(r2, "tcp://no-such-host-name:1"), LX_EINVAL);
    lx_zsock_free(&r2);

    lx_zsock_opts_init(&o);
    o.identity = "client-7";
    assert_int_equal(lx_zsock_new(&d, ctx, LX_ZDEALER, &o), LX_OK);
    assert_int_equal(lx_zsock_connect(d, ep), LX_OK);

    lx_zpart req = {"ping", 4};
    assert_int_equal(lx_zsock_send(d, &req, 1, 0), LX_OK);

    lx_zpollitem it = {.sock = r, .events = LX_ZPOLLIN};
    int ready = 0;
    assert_int_equal(lx_zpoll(&ready, &it, 1, 5000), LX_OK);
    assert_int_equal(ready, 1);
    assert_true(it.revents & LX_ZPOLLIN);

    lx_zmsg m;
    assert_int_equal(lx_zsock_recv(r, &m, 0), LX_OK);
    assert_int_equal(m.n, 2);
    assert_int_equal(m.part[0].len, strlen("client-7"));
    assert_memory_equal(m.part[0].data, "client-7", m.part[0].len);
    assert_memory_equal(m.part[1].data, "ping", 4);
    lx_zpart rep[2] = {m.part[0], {"pong", 4}};
    assert_int_equal(lx_zsock_send(r, rep, 2, 0), LX_OK);
    lx_zmsg_close(&m);

    assert_int_equal(lx_zsock_recv(d, &m, 0), LX_OK);
    assert_int_equal(m.n, 1);
    assert_memory_equal(m.part[0].data, "pong", 4);
    lx_zmsg_close(&m);

    /* An unknown identity cannot be routed. */
    lx_zpart lost[2] = {{"nobody", 6}, {"x", 1}};
    assert_int_equal(lx_zsock_send(r, lost, 2, 0), LX_ENOTFOUND);

    assert_int_equal(lx_zsock_disconnect(d, ep), LX_OK);
    assert_int_equal(lx_zsock_disconnect(d, ep), LX_ENOTFOUND);
    lx_zsock_free(&d);
    lx_zsock_free(&r);
}

static void test_pub_sub_prefix(void **state)
{
    (void)state;
    lx_zsock *pub, *sub;
    assert_int_equal(lx_zsock_new(&pub, ctx, LX_ZPUB, NULL), LX_OK);
    assert_int_equal(lx_zsock_new(&sub, ctx, LX_ZSUB, NULL), LX_OK);
    assert_int_equal(lx_zsock_subscribe(pub, "T", 1), LX_EINVAL);
    assert_int_equal(lx_zsock_bind(pub, "inproc://md"), LX_OK);
    assert_int_equal(lx_zsock_connect(sub, "inproc://md"), LX_OK);
    assert_int_equal(lx_zsock_subscribe(sub, "T", 1), LX_OK);

    /* A subscription takes effect asynchronously: publish until one arrives. */
    lx_zmsg m;
    int got = 0;
    for (int i = 0; i < 500 && !got; i++) {
        lx_zpart skip = {"Dskip", 5}, keep = {"Tkeep", 5};
        assert_int_equal(lx_zsock_send(pub, &skip, 1, 0), LX_OK);
        assert_int_equal(lx_zsock_send(pub, &keep, 1, 0), LX_OK);
        lx_zpollitem it = {.sock = sub, .events = LX_ZPOLLIN};
        int ready;
        assert_int_equal(lx_zpoll(&ready, &it, 1, 10), LX_OK);
        while (lx_zsock_recv(sub, &m, LX_ZDONTWAIT) == LX_OK) {
            assert_memory_equal(m.part[0].data, "Tkeep", 5);
            got++;
            lx_zmsg_close(&m);
        }
    }
    assert_true(got > 0);
    lx_zsock_free(&sub);
    lx_zsock_free(&pub);
}

static void test_poll_timeout_and_hwm(void **state)
{
    (void)state;
    lx_zsock_opts o;
    lx_zsock_opts_init(&o);
    o.sndhwm = 2;
    o.rcvhwm = 2;
    lx_zsock *a, *b;
    assert_int_equal(lx_zsock_new(&a, ctx, LX_ZPAIR, &o), LX_OK);
    assert_int_equal(lx_zsock_new(&b, ctx, LX_ZPAIR, &o), LX_OK);
    assert_int_equal(lx_zsock_bind(a, "inproc://hwm"), LX_OK);
    assert_int_equal(lx_zsock_connect(b, "inproc://hwm"), LX_OK);

    lx_zpollitem it = {.sock = a, .events = LX_ZPOLLIN};
    int ready = -1;
    uint64_t t0 = lx_now_us();
    assert_int_equal(lx_zpoll(&ready, &it, 1, 50), LX_OK);
    assert_int_equal(ready, 0);
    assert_true(lx_now_us() - t0 >= 40000);

    /* Nobody reads: the queue fills and a non-blocking send says so. */
    lx_zpart p = {"x", 1};
    lx_err err = LX_OK;
    int sent = 0;
    while (sent < 100 && (err = lx_zsock_send(b, &p, 1, LX_ZDONTWAIT)) == LX_OK)
        sent++;
    assert_int_equal(err, LX_EAGAIN);
    assert_true(sent >= 2 && sent < 100);

    lx_zsock_free(&a);
    lx_zsock_free(&b);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    lx_zsock *s = NULL;
    assert_int_equal(lx_zsock_new(&s, NULL, LX_ZPUB, NULL), LX_EINVAL);
    assert_int_equal(lx_zsock_new(&s, ctx, (lx_zsock_type)99, NULL), LX_EINVAL);
    assert_int_equal(lx_zsock_new(NULL, ctx, LX_ZPUB, NULL), LX_EINVAL);
    assert_int_equal(lx_zctx_new(NULL, 1), LX_EINVAL);
    assert_int_equal(lx_zsock_send(NULL, NULL, 0, 0), LX_EINVAL);
    assert_int_equal(lx_zsock_new(&s, ctx, LX_ZDEALER, NULL), LX_OK);
    assert_int_equal(lx_zsock_connect(s, "bogus://x"), LX_EINVAL);
    lx_zpart p = {"x", 1};
    assert_int_equal(lx_zsock_send(s, &p, 1, 42), LX_EINVAL);
    lx_zsock_free(&s);
    lx_zsock_free(&s); /* freeing NULL is fine */
}

static void test_clock(void **state)
{
    (void)state;
    uint64_t a = lx_now_ns(), b = lx_now_ns();
    assert_true(b >= a);
    assert_true(lx_wall_us() > 1600000000ull * 1000000ull);
    uint64_t u = lx_now_us();
    assert_true(u <= lx_now_ns() / 1000 + 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pair_multipart), cmocka_unit_test(test_router_dealer_tcp),
        cmocka_unit_test(test_pub_sub_prefix), cmocka_unit_test(test_poll_timeout_and_hwm),
        cmocka_unit_test(test_bad_arguments),  cmocka_unit_test(test_clock),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
