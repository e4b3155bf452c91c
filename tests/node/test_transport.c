/* Tests for the ZeroMQ adapter: socket options, multipart messages, routing,
 * subscriptions, polling (lx_zpoll and lx_zwait), error mapping and CURVE security with the ZAP
 * handler, over inproc and loopback TCP. */
#define _DEFAULT_SOURCE /* syscall() */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "lx/node.h"
#include "test_net.h"

static lx_zctx *ctx;
static lx_zauth *auth; /* the ZAP handler of ctx, for the CURVE tests */

static int setup(void **state)
{
    (void)state;
    if (lx_zctx_new(&ctx, 1) != LX_OK)
        return -1;
    return lx_zauth_new(&auth, ctx) == LX_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    lx_zauth_free(&auth);
    lx_zctx_free(&ctx);
    return ctx == NULL && auth == NULL ? 0 : -1;
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
    lx_test_bind_free_port(r, ep, sizeof(ep), 47100);

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

/* An XPUB publishes like a PUB and hands its subscribers' subscriptions to
 * the application: 1 and the topic for each new one. */
static void test_xpub_reports_subscriptions(void **state)
{
    (void)state;
    lx_zsock *pub, *sub;
    assert_int_equal(lx_zsock_new(&pub, ctx, LX_ZXPUB, NULL), LX_OK);
    assert_int_equal(lx_zsock_new(&sub, ctx, LX_ZSUB, NULL), LX_OK);
    assert_int_equal(lx_zsock_subscribe(pub, "T", 1), LX_EINVAL);
    assert_int_equal(lx_zsock_bind(pub, "inproc://xmd"), LX_OK);
    assert_int_equal(lx_zsock_connect(sub, "inproc://xmd"), LX_OK);
    assert_int_equal(lx_zsock_subscribe(sub, "T", 1), LX_OK);

    lx_zmsg m;
    lx_zpollitem it = {.sock = pub, .events = LX_ZPOLLIN};
    int ready = 0;
    assert_int_equal(lx_zpoll(&ready, &it, 1, 5000), LX_OK);
    assert_int_equal(ready, 1);
    assert_int_equal(lx_zsock_recv(pub, &m, LX_ZDONTWAIT), LX_OK);
    assert_int_equal(m.n, 1);
    assert_int_equal(m.part[0].len, 2);
    assert_memory_equal(m.part[0].data, "\001T", 2);
    lx_zmsg_close(&m);

    /* Once the subscription is in, what it selects is delivered. */
    lx_zpart skip = {"Dskip", 5}, keep = {"Tkeep", 5};
    assert_int_equal(lx_zsock_send(pub, &skip, 1, 0), LX_OK);
    assert_int_equal(lx_zsock_send(pub, &keep, 1, 0), LX_OK);
    it = (lx_zpollitem){.sock = sub, .events = LX_ZPOLLIN};
    assert_int_equal(lx_zpoll(&ready, &it, 1, 5000), LX_OK);
    assert_int_equal(lx_zsock_recv(sub, &m, LX_ZDONTWAIT), LX_OK);
    assert_memory_equal(m.part[0].data, "Tkeep", 5);
    lx_zmsg_close(&m);
    assert_int_equal(lx_zsock_recv(sub, &m, LX_ZDONTWAIT), LX_EAGAIN);
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
    assert_int_equal(prctl(PR_SET_TIMERSLACK, 50000UL, 0, 0, 0), 0); /* Linux's default */
    lx_timer_slack_min();
    assert_int_equal(prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0), 1);
}

/* ---- CURVE ---- */

typedef struct keypair {
    lx_curve_key pub, sec;
} keypair;

static keypair new_keypair(void)
{
    keypair k;
    assert_int_equal(lx_curve_keypair(&k.pub, &k.sec), LX_OK);
    return k;
}

/* A ROUTER in CURVE server mode with secret key sec, checking keys in domain,
 * bound to a free loopback port written to ep. */
static lx_zsock *curve_router(const keypair *k, const char *domain, char *ep, size_t len)
{
    lx_zsock_opts o;
    lx_zsock_opts_init(&o);
    o.linger_ms = 0;
    o.curve = LX_ZCURVE_SERVER;
    o.curve_secret = &k->sec;
    o.zap_domain = domain;
    lx_zsock *r;
    assert_int_equal(lx_zsock_new(&r, ctx, LX_ZROUTER, &o), LX_OK);
    lx_test_bind_free_port(r, ep, len, 47100);
    return r;
}

/* A DEALER connected to ep; with mine NULL a plain (non-CURVE) one. */
static lx_zsock *curve_dealer(const keypair *mine, const lx_curve_key *server, const char *ep)
{
    lx_zsock_opts o;
    lx_zsock_opts_init(&o);
    o.linger_ms = 0;
    if (mine != NULL) {
        o.curve = LX_ZCURVE_CLIENT;
        o.curve_secret = &mine->sec;
        o.curve_server = server;
    }
    lx_zsock *d;
    assert_int_equal(lx_zsock_new(&d, ctx, LX_ZDEALER, &o), LX_OK);
    assert_int_equal(lx_zsock_connect(d, ep), LX_OK);
    return d;
}

/* Sends "hello" from d, then waits up to wait_ms for r to receive it. Returns
 * whether it arrived; on arrival writes the message to *m (caller closes). */
static bool hello_arrives(lx_zsock *d, lx_zsock *r, lx_zmsg *m, long wait_ms)
{
    lx_zpart p = {"hello", 5};
    lx_err err = lx_zsock_send(d, &p, 1, LX_ZDONTWAIT);
    assert_true(err == LX_OK || err == LX_EAGAIN);
    lx_zpollitem it = {.sock = r, .events = LX_ZPOLLIN};
    int ready = 0;
    assert_int_equal(lx_zpoll(&ready, &it, 1, wait_ms), LX_OK);
    if (ready == 0)
        return false;
    assert_int_equal(lx_zsock_recv(r, m, LX_ZUSERID), LX_OK);
    return true;
}

/* Waits up to 10 s for the ZAP handler's refusal count to pass before, so
 * a negative check below is made after the handshake was really tried. */
static void wait_refused(uint64_t before)
{
    uint64_t refused = before;
    for (int i = 0; i < 1000 && refused <= before; i++) {
        int ready;
        assert_int_equal(lx_zpoll(&ready, NULL, 0, 10), LX_OK);
        lx_zauth_stats(auth, NULL, &refused);
    }
    assert_true(refused > before);
}

static void test_curve_allowed_user_id(void **state)
{
    (void)state;
    keypair srv = new_keypair(), cli = new_keypair();
    assert_int_equal(lx_zauth_allow(auth, "clients", &cli.pub, 1234567890123ull), LX_OK);
    char ep[64];
    lx_zsock *r = curve_router(&srv, "clients", ep, sizeof(ep));
    lx_zsock *d = curve_dealer(&cli, &srv.pub, ep);

    lx_zmsg m;
    assert_true(hello_arrives(d, r, &m, 5000));
    assert_int_equal(m.n, 2);
    assert_memory_equal(m.part[1].data, "hello", 5);
    assert_string_equal(m.user_id, "1234567890123");
    uint64_t label = 0;
    assert_int_equal(lx_zmsg_user_id(&label, &m), LX_OK);
    assert_true(label == 1234567890123ull);

    /* The reply goes back encrypted over the same connection. */
    lx_zpart rep[2] = {m.part[0], {"world", 5}};
    assert_int_equal(lx_zsock_send(r, rep, 2, 0), LX_OK);
    lx_zmsg_close(&m);
    assert_int_equal(lx_zsock_recv(d, &m, 0), LX_OK);
    assert_memory_equal(m.part[0].data, "world", 5);
    assert_int_equal(m.user_id[0], '\0');
    assert_int_equal(lx_zmsg_user_id(&label, &m), LX_ENOTFOUND);
    lx_zmsg_close(&m);

    /* Without LX_ZUSERID no User-Id is read. */
    lx_zpart p = {"again", 5};
    assert_int_equal(lx_zsock_send(d, &p, 1, 0), LX_OK);
    assert_int_equal(lx_zsock_recv(r, &m, 0), LX_OK);
    assert_int_equal(lx_zmsg_user_id(&label, &m), LX_ENOTFOUND);
    lx_zmsg_close(&m);

    /* The same key in another domain is a stranger there. */
    char ep2[64];
    lx_zsock *r2 = curve_router(&srv, "peers", ep2, sizeof(ep2));
    uint64_t refused;
    lx_zauth_stats(auth, NULL, &refused);
    lx_zsock *d2 = curve_dealer(&cli, &srv.pub, ep2);
    wait_refused(refused);
    assert_false(hello_arrives(d2, r2, &m, 300));
    lx_zsock_free(&d2);
    lx_zsock_free(&r2);

    lx_zsock_free(&d);
    lx_zsock_free(&r);
    assert_int_equal(lx_zauth_revoke(auth, "clients", &cli.pub), LX_OK);
    lx_wipe(&srv.sec, sizeof(srv.sec));
    lx_wipe(&cli.sec, sizeof(cli.sec));
}

static void test_curve_refused(void **state)
{
    (void)state;
    keypair srv = new_keypair(), cli = new_keypair(), stranger = new_keypair(),
            other_srv = new_keypair();
    assert_int_equal(lx_zauth_allow(auth, "refuse", &cli.pub, 7), LX_OK);
    uint64_t acc0, ref0, acc1, ref1;
    lx_zauth_stats(auth, &acc0, &ref0);
    char ep[64];
    lx_zsock *r = curve_router(&srv, "refuse", ep, sizeof(ep));
    lx_zmsg m;

    /* A key not on the list gets no connection. */
    lx_zsock *d = curve_dealer(&stranger, &srv.pub, ep);
    wait_refused(ref0);
    assert_false(hello_arrives(d, r, &m, 300));
    lx_zsock_free(&d);
    lx_zauth_stats(auth, &acc1, &ref1);
    assert_true(ref1 > ref0);
    assert_true(acc1 == acc0);

    /* An allowed client that has the wrong server key fails the handshake. */
    d = curve_dealer(&cli, &other_srv.pub, ep);
    assert_false(hello_arrives(d, r, &m, 500));
    lx_zsock_free(&d);

    /* A plain client gets nothing from a CURVE server. */
    d = curve_dealer(NULL, NULL, ep);
    assert_false(hello_arrives(d, r, &m, 500));
    lx_zsock_free(&d);

    /* The allowed key works; once revoked, new connections are refused. */
    d = curve_dealer(&cli, &srv.pub, ep);
    assert_true(hello_arrives(d, r, &m, 5000));
    assert_string_equal(m.user_id, "7");
    lx_zmsg_close(&m);
    lx_zsock_free(&d);
    assert_int_equal(lx_zauth_revoke(auth, "refuse", &cli.pub), LX_OK);
    assert_int_equal(lx_zauth_revoke(auth, "refuse", &cli.pub), LX_ENOTFOUND);
    lx_zauth_stats(auth, NULL, &ref0);
    d = curve_dealer(&cli, &srv.pub, ep);
    wait_refused(ref0);
    assert_false(hello_arrives(d, r, &m, 300));
    lx_zsock_free(&d);

    /* A reload that lists it again lets it back in, under the new label. */
    lx_curve_allow list[2] = {{stranger.pub, 1}, {cli.pub, 8}};
    assert_int_equal(lx_zauth_set(auth, "refuse", list, 2), LX_OK);
    d = curve_dealer(&cli, &srv.pub, ep);
    assert_true(hello_arrives(d, r, &m, 5000));
    assert_string_equal(m.user_id, "8");
    lx_zmsg_close(&m);
    lx_zsock_free(&d);
    list[1].key = stranger.pub;
    assert_int_equal(lx_zauth_set(auth, "refuse", list, 2), LX_EINVAL);
    assert_int_equal(lx_zauth_set(auth, "refuse", NULL, 0), LX_OK);
    lx_zauth_stats(auth, NULL, &ref0);
    d = curve_dealer(&cli, &srv.pub, ep);
    wait_refused(ref0);
    assert_false(hello_arrives(d, r, &m, 300));
    lx_zsock_free(&d);

    lx_zsock_free(&r);
    lx_wipe(&srv.sec, sizeof(srv.sec));
}

/* A SUB that serves CURVE in domain, bound to a free port, subscribed to all. */
static lx_zsock *curve_sub_server(const keypair *k, const char *domain, char *ep, size_t len)
{
    lx_zsock_opts o;
    lx_zsock_opts_init(&o);
    o.linger_ms = 0;
    o.curve = LX_ZCURVE_SERVER;
    o.curve_secret = &k->sec;
    o.zap_domain = domain;
    lx_zsock *s;
    assert_int_equal(lx_zsock_new(&s, ctx, LX_ZSUB, &o), LX_OK);
    assert_int_equal(lx_zsock_subscribe(s, "", 0), LX_OK);
    lx_test_bind_free_port(s, ep, len, 47100);
    return s;
}

/* Publishes "tick" on pub every 20 ms until sub receives one or wait_ms
 * passes; returns whether it did. */
static bool tick_arrives(lx_zsock *pub, lx_zsock *sub, long wait_ms)
{
    for (long t = 0; t < wait_ms; t += 20) {
        lx_zpart p = {"tick", 4};
        lx_err err = lx_zsock_send(pub, &p, 1, LX_ZDONTWAIT);
        assert_true(err == LX_OK || err == LX_EAGAIN);
        lx_zpollitem it = {.sock = sub, .events = LX_ZPOLLIN};
        int ready = 0;
        assert_int_equal(lx_zpoll(&ready, &it, 1, 20), LX_OK);
        if (ready > 0) {
            lx_zmsg m;
            assert_int_equal(lx_zsock_recv(sub, &m, 0), LX_OK);
            assert_memory_equal(m.part[0].data, "tick", 4);
            lx_zmsg_close(&m);
            return true;
        }
    }
    return false;
}

/* The daemon's PUB: a CURVE server for the subscribers that connect to it,
 * and a CURVE client of each peer's SUB it connects to, each with its own
 * server key (lx_zsock_connect_curve). */
static void test_curve_pub_both_roles(void **state)
{
    (void)state;
    keypair node = new_keypair(), peer = new_keypair(), cli = new_keypair(),
            stranger = new_keypair();
    assert_int_equal(lx_zauth_allow(auth, "md-clients", &cli.pub, 5), LX_OK);
    assert_int_equal(lx_zauth_allow(auth, "md-peers", &node.pub, 0), LX_OK);

    lx_zsock_opts o;
    lx_zsock_opts_init(&o);
    o.linger_ms = 0;
    o.curve = LX_ZCURVE_SERVER;
    o.curve_secret = &node.sec;
    o.zap_domain = "md-clients";
    lx_zsock *pub;
    assert_int_equal(lx_zsock_new(&pub, ctx, LX_ZPUB, &o), LX_OK);
    char pub_ep[64], peer_ep[64], wrong_ep[64];
    lx_test_bind_free_port(pub, pub_ep, sizeof(pub_ep), 47100);

    /* The peer's SUB knows the node's key; a second SUB has a key the node
     * was not told, so the node's handshake with it fails. */
    lx_zsock *peer_sub = curve_sub_server(&peer, "md-peers", peer_ep, sizeof(peer_ep));
    lx_zsock *wrong_sub = curve_sub_server(&stranger, "md-peers", wrong_ep, sizeof(wrong_ep));
    assert_int_equal(lx_zsock_connect_curve(pub, peer_ep, &node.sec, &peer.pub), LX_OK);
    assert_int_equal(lx_zsock_connect_curve(pub, wrong_ep, &node.sec, &peer.pub), LX_OK);

    /* A subscriber connects to the bound endpoint as a CURVE client. */
    lx_zsock_opts co;
    lx_zsock_opts_init(&co);
    co.linger_ms = 0;
    co.curve = LX_ZCURVE_CLIENT;
    co.curve_secret = &cli.sec;
    co.curve_server = &node.pub;
    lx_zsock *sub;
    assert_int_equal(lx_zsock_new(&sub, ctx, LX_ZSUB, &co), LX_OK);
    assert_int_equal(lx_zsock_subscribe(sub, "", 0), LX_OK);
    assert_int_equal(lx_zsock_connect(sub, pub_ep), LX_OK);

    assert_true(tick_arrives(pub, peer_sub, 5000));
    assert_true(tick_arrives(pub, sub, 5000));
    assert_false(tick_arrives(pub, wrong_sub, 400));

    /* A subscriber with an unlisted key gets nothing from the bound end. */
    co.curve_secret = &stranger.sec;
    lx_zsock *sub2;
    assert_int_equal(lx_zsock_new(&sub2, ctx, LX_ZSUB, &co), LX_OK);
    assert_int_equal(lx_zsock_subscribe(sub2, "", 0), LX_OK);
    uint64_t refused;
    lx_zauth_stats(auth, NULL, &refused);
    assert_int_equal(lx_zsock_connect(sub2, pub_ep), LX_OK);
    wait_refused(refused);
    assert_false(tick_arrives(pub, sub2, 400));

    assert_int_equal(lx_zsock_connect_curve(NULL, peer_ep, &node.sec, &peer.pub), LX_EINVAL);
    assert_int_equal(lx_zsock_connect_curve(pub, peer_ep, NULL, &peer.pub), LX_EINVAL);
    assert_int_equal(lx_zsock_connect_curve(pub, peer_ep, &node.sec, NULL), LX_EINVAL);

    lx_zsock_free(&sub2);
    lx_zsock_free(&sub);
    lx_zsock_free(&wrong_sub);
    lx_zsock_free(&peer_sub);
    lx_zsock_free(&pub);
    lx_wipe(&node.sec, sizeof(node.sec));
    lx_wipe(&peer.sec, sizeof(peer.sec));
    lx_wipe(&cli.sec, sizeof(cli.sec));
    lx_wipe(&stranger.sec, sizeof(stranger.sec));
}

static void test_curve_setup_errors(void **state)
{
    (void)state;
    assert_int_equal(lx_curve_available(), LX_OK);
    keypair k = new_keypair();
    lx_curve_key pub;
    assert_int_equal(lx_curve_public(&pub, &k.sec), LX_OK);
    assert_memory_equal(pub.b, k.pub.b, LX_CURVE_KEY_LEN);

    /* One handler per context. */
    lx_zauth *again = NULL;
    assert_int_equal(lx_zauth_new(&again, ctx), LX_EEXIST);
    assert_null(again);

    lx_zsock_opts o;
    lx_zsock_opts_init(&o);
    lx_zsock *s = NULL;
    o.curve = LX_ZCURVE_SERVER; /* no secret key */
    assert_int_equal(lx_zsock_new(&s, ctx, LX_ZROUTER, &o), LX_EINVAL);
    o.curve = LX_ZCURVE_CLIENT;
    o.curve_secret = &k.sec; /* no server key */
    assert_int_equal(lx_zsock_new(&s, ctx, LX_ZDEALER, &o), LX_EINVAL);
    o.curve = (lx_zcurve_mode)9;
    assert_int_equal(lx_zsock_new(&s, ctx, LX_ZDEALER, &o), LX_EINVAL);
    assert_null(s);

    /* A CURVE server on a context without a ZAP handler would let every
     * client in, so it is refused. */
    lx_zctx *bare;
    assert_int_equal(lx_zctx_new(&bare, 1), LX_OK);
    o.curve = LX_ZCURVE_SERVER;
    assert_int_equal(lx_zsock_new(&s, bare, LX_ZROUTER, &o), LX_ESTATE);
    lx_zauth *a2;
    assert_int_equal(lx_zauth_new(&a2, bare), LX_OK);
    assert_int_equal(lx_zsock_new(&s, bare, LX_ZROUTER, &o), LX_OK);
    lx_zsock_free(&s);
    lx_zauth_free(&a2);
    assert_null(a2);
    lx_zauth_free(&a2);
    lx_zctx_free(&bare);

    char longdom[LX_ZAP_DOMAIN_MAX + 2];
    memset(longdom, 'd', sizeof(longdom) - 1);
    longdom[sizeof(longdom) - 1] = '\0';
    assert_int_equal(lx_zauth_allow(auth, longdom, &k.pub, 1), LX_EINVAL);
    assert_int_equal(lx_zauth_allow(NULL, "x", &k.pub, 1), LX_EINVAL);
    assert_int_equal(lx_zauth_revoke(auth, "no-such-domain", &k.pub), LX_ENOTFOUND);
    assert_int_equal(lx_zauth_new(NULL, ctx), LX_EINVAL);
    assert_int_equal(lx_curve_keypair(NULL, &k.sec), LX_EINVAL);
    lx_zmsg m = {0};
    uint64_t label;
    memcpy(m.user_id, "12x", 4);
    assert_int_equal(lx_zmsg_user_id(&label, &m), LX_ENOTFOUND);
    memcpy(m.user_id, "18446744073709551616", 21); /* 2^64 */
    assert_int_equal(lx_zmsg_user_id(&label, &m), LX_ENOTFOUND);
    memcpy(m.user_id, "18446744073709551615", 21);
    assert_int_equal(lx_zmsg_user_id(&label, &m), LX_OK);
    assert_true(label == UINT64_MAX);
    lx_wipe(&k.sec, sizeof(k.sec));
}

static void test_z85(void **state)
{
    (void)state;
    /* The test vector of ZeroMQ RFC 32. */
    const uint8_t hello[8] = {0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B};
    char text[41];
    assert_int_equal(lx_z85_encode(text, sizeof(text), hello, 8), LX_OK);
    assert_string_equal(text, "HelloWorld");
    uint8_t back[32];
    size_t n = 0;
    assert_int_equal(lx_z85_decode(back, sizeof(back), &n, "HelloWorld", 10), LX_OK);
    assert_int_equal(n, 8);
    assert_memory_equal(back, hello, 8);

    /* Round trip of keys, as text and as raw bytes. */
    keypair k = new_keypair();
    assert_int_equal(lx_curve_key_z85(text, sizeof(text), &k.pub), LX_OK);
    assert_int_equal(strlen(text), LX_CURVE_Z85_LEN);
    lx_curve_key parsed;
    assert_int_equal(lx_curve_key_parse(&parsed, text, LX_CURVE_Z85_LEN), LX_OK);
    assert_memory_equal(parsed.b, k.pub.b, LX_CURVE_KEY_LEN);
    assert_int_equal(lx_curve_key_parse(&parsed, k.sec.b, LX_CURVE_KEY_LEN), LX_OK);
    assert_memory_equal(parsed.b, k.sec.b, LX_CURVE_KEY_LEN);
    lx_wipe(&k.sec, sizeof(k.sec));

    /* Bad input. */
    assert_int_equal(lx_curve_key_parse(&parsed, text, 39), LX_EFORMAT);
    assert_int_equal(lx_z85_decode(back, sizeof(back), &n, "Hell", 4), LX_EFORMAT);
    assert_int_equal(lx_z85_decode(back, sizeof(back), &n, "Hell\"", 5), LX_EFORMAT);
    assert_int_equal(lx_z85_decode(back, sizeof(back), &n, "Hell~", 5), LX_EFORMAT);
    assert_int_equal(lx_z85_decode(back, sizeof(back), &n, "%%%%%", 5), LX_EFORMAT);
    assert_int_equal(lx_z85_decode(back, sizeof(back), &n, "He\0lo", 5), LX_EFORMAT);
    assert_int_equal(lx_z85_decode(back, 4, &n, "HelloWorld", 10), LX_EINVAL);
    assert_int_equal(lx_z85_decode(back, sizeof(back), &n, "", 0), LX_OK);
    assert_int_equal(n, 0);
    assert_int_equal(lx_z85_encode(text, sizeof(text), hello, 7), LX_EINVAL);
    assert_int_equal(lx_z85_encode(text, 10, hello, 8), LX_EINVAL);
}

/* lx_zwait over TCP: a reported socket is read until LX_EAGAIN, and input
 * is announced even when a send or a bind on the socket read the mailbox
 * first. */
static void test_zwait(void **state)
{
    (void)state;
    lx_zsock *r, *d;
    assert_int_equal(lx_zsock_new(&r, ctx, LX_ZROUTER, NULL), LX_OK);
    char ep[64];
    lx_test_bind_free_port(r, ep, sizeof(ep), 47150);
    lx_zsock_opts o;
    lx_zsock_opts_init(&o);
    o.identity = "w";
    assert_int_equal(lx_zsock_new(&d, ctx, LX_ZDEALER, &o), LX_OK);
    assert_int_equal(lx_zsock_connect(d, ep), LX_OK);

    lx_zpollitem it = {.sock = r, .events = LX_ZPOLLIN};
    int ready = -1;
    lx_zmsg m;
    /* A socket is reported when its mailbox has commands (a new
     * connection, say), with or without input: reading it then finds
     * nothing. Once quiet, a wait sleeps its whole timeout. */
    int quiet = 0;
    for (int i = 0; i < 100 && !quiet; i++) {
        assert_int_equal(lx_zwait(&ready, &it, 1, 50), LX_OK);
        quiet = ready == 0 && it.revents == 0;
        if (!quiet)
            assert_int_equal(lx_zsock_recv(r, &m, LX_ZDONTWAIT), LX_EAGAIN);
    }
    assert_true(quiet);
    uint64_t t0 = lx_now_ns();
    assert_int_equal(lx_zwait(&ready, &it, 1, 50), LX_OK);
    if (ready == 0)
        assert_true(lx_now_ns() - t0 >= 30000000u);

    for (int round = 0; round < 3; round++) {
        lx_zpart req = {"a", 1};
        assert_int_equal(lx_zsock_send(d, &req, 1, 0), LX_OK);
        /* The message is in r's pipe and its signal in r's mailbox. A
         * send on r now reads the mailbox (past libzmq's throttle), so
         * r's descriptor no longer shows the input. */
        usleep(20000);
        lx_zpart rep[2] = {{"w", 1}, {"x", 1}};
        assert_int_equal(lx_zsock_send(r, rep, 2, 0), LX_OK);
        assert_int_equal(lx_zwait(&ready, &it, 1, 2000), LX_OK);
        assert_int_equal(ready, 1);
        assert_int_equal(it.revents, LX_ZPOLLIN);
        assert_int_equal(lx_zsock_recv(r, &m, LX_ZDONTWAIT), LX_OK);
        assert_int_equal(m.n, 2);
        assert_memory_equal(m.part[1].data, "a", 1);
        lx_zmsg_close(&m);
        assert_int_equal(lx_zsock_recv(r, &m, LX_ZDONTWAIT), LX_EAGAIN);
        assert_int_equal(lx_zsock_recv(d, &m, 0), LX_OK);
        lx_zmsg_close(&m);
        /* Drained: the next message wakes the wait, however long. */
        assert_int_equal(lx_zsock_send(d, &req, 1, 0), LX_OK);
        int got = 0;
        for (int i = 0; i < 10 && !got; i++) {
            assert_int_equal(lx_zwait(&ready, &it, 1, 2000), LX_OK);
            assert_int_equal(ready, 1);
            got = lx_zsock_recv(r, &m, LX_ZDONTWAIT) == LX_OK;
        }
        assert_true(got);
        lx_zmsg_close(&m);
        assert_int_equal(lx_zsock_recv(r, &m, LX_ZDONTWAIT), LX_EAGAIN);
    }

    /* A bind reads the mailbox too. */
    lx_zpart req = {"c", 1};
    assert_int_equal(lx_zsock_send(d, &req, 1, 0), LX_OK);
    usleep(20000);
    assert_int_equal(lx_zsock_bind(r, "inproc://zwait-bind"), LX_OK);
    assert_int_equal(lx_zwait(&ready, &it, 1, 2000), LX_OK);
    assert_int_equal(ready, 1);
    assert_int_equal(lx_zsock_recv(r, &m, LX_ZDONTWAIT), LX_OK);
    assert_memory_equal(m.part[1].data, "c", 1);
    lx_zmsg_close(&m);
    assert_int_equal(lx_zsock_recv(r, &m, LX_ZDONTWAIT), LX_EAGAIN);

    /* A plain descriptor next to the socket. */
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    lx_zpollitem two[2] = {{.sock = r, .events = LX_ZPOLLIN},
                           {.sock = NULL, .fd = fds[0], .events = LX_ZPOLLIN}};
    assert_int_equal(lx_zwait(&ready, two, 2, 0), LX_OK);
    assert_int_equal(ready, 0);
    assert_int_equal(write(fds[1], "z", 1), 1);
    assert_int_equal(lx_zwait(&ready, two, 2, 1000), LX_OK);
    assert_int_equal(ready, 1);
    assert_int_equal(two[0].revents, 0);
    assert_int_equal(two[1].revents, LX_ZPOLLIN);
    close(fds[0]);
    close(fds[1]);

    /* Sockets are waited on for input only. */
    it.events = LX_ZPOLLOUT;
    assert_int_equal(lx_zwait(&ready, &it, 1, 0), LX_EINVAL);
    assert_int_equal(lx_zwait(NULL, &it, 1, 0), LX_EINVAL);
    lx_zsock_free(&d);
    lx_zsock_free(&r);
}

/* getpid() is answered from a cache (transport.c): it must still be the
 * caller's pid, in a forked child too, and in the parent after the fork. */
static void test_getpid_cache(void **state)
{
    (void)state;
    pid_t me = (pid_t)syscall(SYS_getpid);
    assert_int_equal(getpid(), me);
    assert_int_equal(getpid(), me);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0)
        _exit(getpid() == (pid_t)syscall(SYS_getpid) && getpid() != me ? 0 : 1);
    int st = 0;
    assert_int_equal(waitpid(child, &st, 0), child);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_int_equal(getpid(), me);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_getpid_cache),
        cmocka_unit_test(test_pair_multipart),
        cmocka_unit_test(test_router_dealer_tcp),
        cmocka_unit_test(test_zwait),
        cmocka_unit_test(test_pub_sub_prefix),
        cmocka_unit_test(test_poll_timeout_and_hwm),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_clock),
        cmocka_unit_test(test_curve_allowed_user_id),
        cmocka_unit_test(test_curve_refused),
        cmocka_unit_test(test_curve_setup_errors),
        cmocka_unit_test(test_z85),
        cmocka_unit_test(test_curve_pub_both_roles),
        cmocka_unit_test(test_xpub_reports_subscriptions),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
