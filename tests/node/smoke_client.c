/* A client for the cluster smoke test (tests/node/test_node_smoke.sh): sends
 * deposits, orders, a batch, a cancel, a replace, queries and bad frames to
 * every node named in LX_SMOKE_ENDPOINTS and checks each reply, and that a
 * client that asks for bundles gets a block's unsolicited fills in one
 * message, and that a subscriber to the second node's PUB gets TRADE and
 * L2_DELTA frames with consecutive sequence numbers. It is a helper program
 * of that script, not a test of its own. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lx/node.h"

#define NODES_MAX 8

static lx_zctx *ctx;
static lx_zsock *sock[NODES_MAX];
static size_t nnodes;

static void connect_all(void)
{
    const char *eps = getenv("LX_SMOKE_ENDPOINTS");
    if (!eps || !*eps)
        fail_msg("LX_SMOKE_ENDPOINTS is not set: run me from test_node_smoke.sh");
    assert_int_equal(lx_zctx_new(&ctx, 1), LX_OK);
    char list[1024];
    snprintf(list, sizeof list, "%s", eps);
    for (char *save = NULL, *ep = strtok_r(list, ",", &save); ep && nnodes < NODES_MAX;
         ep = strtok_r(NULL, ",", &save)) {
        assert_int_equal(lx_zsock_new(&sock[nnodes], ctx, LX_ZDEALER, NULL), LX_OK);
        assert_int_equal(lx_zsock_connect(sock[nnodes], ep), LX_OK);
        nnodes++;
    }
    assert_true(nnodes > 0);
}

static void close_all(void)
{
    for (size_t i = 0; i < nnodes; i++)
        lx_zsock_free(&sock[i]);
    nnodes = 0;
    lx_zctx_free(&ctx);
}

static void send_frame(size_t node, const uint8_t *p, size_t len)
{
    lx_zpart part = {p, len};
    assert_int_equal(lx_zsock_send(sock[node], &part, 1, 0), LX_OK);
}

static void send_msg(size_t node, const lx_proto_msg *m)
{
    uint8_t b[LX_PROTO_FRAME_MAX];
    size_t w;
    assert_int_equal(lx_proto_encode(b, sizeof b, &w, m), LX_OK);
    send_frame(node, b, w);
}

/* The replies to one request, up to the frame without MORE. */
typedef struct replies {
    size_t n;
    uint8_t type[64];
    lx_proto_msg msg[64];
    uint8_t raw[64][512];
} replies;

static void await(replies *r, size_t node, uint64_t req_id)
{
    memset(r, 0, sizeof *r);
    uint64_t until = lx_now_us() + 20000000;
    while (lx_now_us() < until) {
        lx_zpollitem it = {sock[node], 0, LX_ZPOLLIN, 0};
        int ready;
        lx_zpoll(&ready, &it, 1, 100);
        lx_zmsg zm;
        while (lx_zsock_recv(sock[node], &zm, LX_ZDONTWAIT) == LX_OK) {
            lx_proto_msg m;
            lx_proto_error code;
            size_t len = zm.part[0].len;
            assert_true(len <= sizeof r->raw[0]);
            uint8_t *raw = r->raw[r->n < 64 ? r->n : 63];
            memcpy(raw, zm.part[0].data, len);
            lx_zmsg_close(&zm);
            assert_int_equal(lx_proto_decode(&m, &code, raw, len), LX_OK);
            if (m.hdr.flags & LX_PROTO_F_UNSOLICITED)
                continue; /* a fill of an earlier resting order */
            assert_int_equal(m.hdr.req_id, req_id);
            assert_true(r->n < 64);
            r->type[r->n] = m.hdr.type;
            r->msg[r->n++] = m;
            if (!(m.hdr.flags & LX_PROTO_F_MORE))
                return;
        }
    }
    fail_msg("no complete reply to request %llu from node %zu", (unsigned long long)req_id, node);
}

static uint64_t next_req = 1;

static void deposit(size_t node, uint64_t account, const char *asset, uint64_t amount)
{
    lx_proto_msg m;
    memset(&m, 0, sizeof m);
    m.hdr.type = LX_PROTO_DEPOSIT;
    m.hdr.req_id = next_req++;
    m.u.transfer.account = account;
    m.u.transfer.amount = amount;
    snprintf(m.u.transfer.asset, sizeof m.u.transfer.asset, "%s", asset);
    send_msg(node, &m);
    replies r;
    await(&r, node, m.hdr.req_id);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.type[0], LX_PROTO_ACK);
    assert_true(r.msg[0].u.ack.seq > 0);
    assert_int_equal(r.msg[0].u.ack.id, 0);
}

static lx_order_cmd order(uint64_t id, uint64_t account, uint8_t side, uint64_t price, uint64_t qty)
{
    lx_order_cmd o;
    memset(&o, 0, sizeof o);
    o.id = id;
    o.account = account;
    o.market = 0;
    o.side = side;
    o.price = price;
    o.qty = qty;
    return o;
}

static void test_orders_through_every_node(void **state)
{
    (void)state;
    connect_all();
    replies r;
    for (size_t node = 0; node < nnodes; node++) {
        uint64_t a = 10 * (node + 1), b = a + 1, id = 1000 * (node + 1);
        deposit(node, a, "USD", 1000000);
        deposit(node, b, "BTC", 1000);

        /* A resting buy, then a sell that fills it: ACK, FILL (taker). */
        lx_proto_msg m;
        memset(&m, 0, sizeof m);
        m.hdr.type = LX_PROTO_NEW_ORDER;
        m.hdr.req_id = next_req++;
        m.u.order = order(id + 1, a, LX_BUY, 100, 5);
        send_msg(node, &m);
        await(&r, node, m.hdr.req_id);
        assert_int_equal(r.n, 1);
        assert_int_equal(r.type[0], LX_PROTO_ACK);
        assert_int_equal(r.msg[0].u.ack.id, id + 1);

        m.hdr.req_id = next_req++;
        m.u.order = order(id + 2, b, LX_SELL, 100, 2);
        send_msg(node, &m);
        await(&r, node, m.hdr.req_id);
        assert_int_equal(r.n, 2);
        assert_int_equal(r.type[0], LX_PROTO_ACK);
        assert_int_equal(r.type[1], LX_PROTO_FILL);
        assert_int_equal(r.msg[1].u.fill.maker, id + 1);
        assert_int_equal(r.msg[1].u.fill.qty, 2);
        assert_int_equal(r.msg[1].u.fill.role, 1);

        /* A batch of three: one rests, one is rejected (bad price 0), one
         * crosses the rest of order id+1. */
        lx_order_cmd batch[3] = {order(id + 3, a, LX_BUY, 90, 1), order(id + 4, a, LX_BUY, 0, 1),
                                 order(id + 5, b, LX_SELL, 100, 3)};
        uint8_t f[LX_PROTO_FRAME_MAX];
        size_t w;
        uint64_t rq = next_req++;
        assert_int_equal(lx_proto_encode_batch(f, sizeof f, &w, rq, batch, 3), LX_OK);
        send_frame(node, f, w);
        await(&r, node, rq);
        assert_int_equal(r.type[0], LX_PROTO_BATCH_RESULT);
        lx_proto_batch_item it;
        assert_int_equal(lx_proto_batch_result_get(&r.msg[0], &it, 1), LX_OK);
        assert_int_equal(it.reason, LX_R_BAD_PRICE);
        assert_int_equal(it.seq, 0);
        assert_int_equal(lx_proto_batch_result_get(&r.msg[0], &it, 2), LX_OK);
        assert_int_equal(it.reason, LX_R_NONE);
        assert_true(it.seq > 0);
        assert_int_equal(r.n, 2);
        assert_int_equal(r.type[1], LX_PROTO_FILL);

        /* Replace in place, then cancel. */
        memset(&m, 0, sizeof m);
        m.hdr.type = LX_PROTO_REPLACE;
        m.hdr.req_id = next_req++;
        m.u.replace = (lx_replace_cmd){id + 3, a, 90, 1};
        send_msg(node, &m);
        await(&r, node, m.hdr.req_id);
        assert_int_equal(r.type[0], LX_PROTO_REPLACED);
        memset(&m, 0, sizeof m);
        m.hdr.type = LX_PROTO_CANCEL;
        m.hdr.req_id = next_req++;
        m.u.cancel = (lx_cancel_cmd){id + 3, a};
        send_msg(node, &m);
        await(&r, node, m.hdr.req_id);
        assert_int_equal(r.n, 1);
        assert_int_equal(r.type[0], LX_PROTO_CANCELLED);
        assert_int_equal(r.msg[0].u.cancelled.reason, LX_R_USER);
        m.hdr.req_id = next_req++;
        send_msg(node, &m);
        await(&r, node, m.hdr.req_id);
        assert_int_equal(r.type[0], LX_PROTO_REJECT);
        assert_int_equal(r.msg[0].u.reject.reason, LX_R_UNKNOWN_ORDER);

        /* Two resting orders, then one CANCEL_BATCH for them and an unknown
         * id: a BATCH_RESULT in the order given, then the two CANCELLED. */
        lx_order_cmd rest[2] = {order(id + 6, a, LX_BUY, 80, 2), order(id + 7, a, LX_BUY, 81, 1)};
        rq = next_req++;
        assert_int_equal(lx_proto_encode_batch(f, sizeof f, &w, rq, rest, 2), LX_OK);
        send_frame(node, f, w);
        await(&r, node, rq);
        assert_int_equal(r.n, 1);
        lx_cancel_cmd cb[3] = {{id + 6, a}, {id + 999, a}, {id + 7, a}};
        rq = next_req++;
        assert_int_equal(lx_proto_encode_cancel_batch(f, sizeof f, &w, rq, cb, 3), LX_OK);
        send_frame(node, f, w);
        await(&r, node, rq);
        assert_int_equal(r.n, 3);
        assert_int_equal(r.type[0], LX_PROTO_BATCH_RESULT);
        assert_int_equal(r.msg[0].u.batch.count, 3);
        uint64_t want_reason[3] = {LX_R_NONE, LX_R_UNKNOWN_ORDER, LX_R_NONE};
        for (size_t i = 0; i < 3; i++) {
            assert_int_equal(lx_proto_batch_result_get(&r.msg[0], &it, i), LX_OK);
            assert_int_equal(it.id, cb[i].id);
            assert_int_equal(it.reason, want_reason[i]);
            assert_true(i == 1 ? it.seq == 0 : it.seq > 0);
        }
        for (size_t i = 1; i < 3; i++) {
            assert_int_equal(r.type[i], LX_PROTO_CANCELLED);
            assert_int_equal(r.msg[i].u.cancelled.id, rest[i - 1].id);
            assert_int_equal(r.msg[i].u.cancelled.remaining, rest[i - 1].qty);
            assert_int_equal(r.msg[i].u.cancelled.reason, LX_R_USER);
        }

        /* Bad frames get ERROR and the node keeps serving. */
        uint8_t junk[20] = {0x4c, 0x58, 9};
        send_frame(node, junk, sizeof junk);
        await(&r, node, 0);
        assert_int_equal(r.type[0], LX_PROTO_ERROR);
        assert_int_equal(r.msg[0].u.error.code, LX_PROTO_E_BAD_VERSION);
        junk[2] = 1;
        send_frame(node, junk, 10);
        await(&r, node, 0);
        assert_int_equal(r.msg[0].u.error.code, LX_PROTO_E_TRUNCATED);

        /* Queries are answered locally. */
        memset(&m, 0, sizeof m);
        m.hdr.type = LX_PROTO_QUERY_MARKETS;
        m.hdr.req_id = next_req++;
        send_msg(node, &m);
        await(&r, node, m.hdr.req_id);
        assert_int_equal(r.type[0], LX_PROTO_MARKETS);
        assert_true(r.msg[0].u.markets.count >= 1);
        memset(&m, 0, sizeof m);
        m.hdr.type = LX_PROTO_PING;
        m.hdr.req_id = next_req++;
        send_msg(node, &m);
        await(&r, node, m.hdr.req_id);
        assert_int_equal(r.type[0], LX_PROTO_PONG);
        assert_int_equal(r.msg[0].u.pong.leader, node == 0 ? 1 : 0);
    }
    close_all();
}

/* The frames of one ZeroMQ message on s (within 20 s), decoded. */
static size_t recv_bundle(lx_zsock *s, lx_proto_msg *out, size_t max)
{
    uint64_t until = lx_now_us() + 20000000;
    while (lx_now_us() < until) {
        lx_zpollitem it = {s, 0, LX_ZPOLLIN, 0};
        int ready;
        lx_zpoll(&ready, &it, 1, 100);
        lx_zmsg zm;
        if (lx_zsock_recv(s, &zm, LX_ZDONTWAIT) != LX_OK)
            continue;
        size_t n = 0, off = 0, flen;
        const uint8_t *f;
        while (lx_proto_next_frame(zm.part[0].data, zm.part[0].len, &off, &f, &flen) == LX_OK) {
            lx_proto_error code;
            assert_true(n < max);
            assert_int_equal(lx_proto_decode(&out[n++], &code, f, flen), LX_OK);
        }
        assert_int_equal(off, zm.part[0].len);
        lx_zmsg_close(&zm);
        return n;
    }
    fail_msg("no message");
    return 0;
}

/* A client that asks for bundles gets the fills one block brings its
 * resting orders in one message, through every node. */
static void test_bundled_unsolicited(void **state)
{
    (void)state;
    connect_all();
    for (size_t node = 0; node < nnodes; node++) {
        uint64_t a = 10 * (node + 1) + 5, b = a + 1, id = 1000 * (node + 1) + 500;
        deposit(node, a, "USD", 1000000);
        deposit(node, b, "BTC", 1000);
        lx_zsock *maker;
        assert_int_equal(lx_zsock_new(&maker, ctx, LX_ZDEALER, NULL), LX_OK);
        const char *eps = getenv("LX_SMOKE_ENDPOINTS");
        char list[1024];
        snprintf(list, sizeof list, "%s", eps);
        char *save = NULL, *ep = strtok_r(list, ",", &save);
        for (size_t i = 0; i < node; i++)
            ep = strtok_r(NULL, ",", &save);
        assert_non_null(ep);
        assert_int_equal(lx_zsock_connect(maker, ep), LX_OK);
        lx_proto_msg m, got[8];
        for (uint64_t k = 1; k <= 2; k++) {
            memset(&m, 0, sizeof m);
            m.hdr.type = LX_PROTO_NEW_ORDER;
            m.hdr.req_id = next_req++;
            m.u.order = order(id + k, a, LX_BUY, 100, 1);
            uint8_t f[LX_PROTO_FRAME_MAX];
            size_t w;
            assert_int_equal(lx_proto_encode(f, sizeof f, &w, &m), LX_OK);
            f[5] |= (uint8_t)LX_PROTO_F_BUNDLE;
            lx_zpart part = {f, w};
            assert_int_equal(lx_zsock_send(maker, &part, 1, 0), LX_OK);
            assert_int_equal(recv_bundle(maker, got, 8), 1);
            assert_int_equal(got[0].hdr.type, LX_PROTO_ACK);
            assert_int_equal(got[0].u.ack.id, id + k);
        }
        /* One sell fills both in one block. */
        memset(&m, 0, sizeof m);
        m.hdr.type = LX_PROTO_NEW_ORDER;
        m.hdr.req_id = next_req++;
        m.u.order = order(id + 3, b, LX_SELL, 100, 2);
        send_msg(node, &m);
        replies r;
        await(&r, node, m.hdr.req_id);
        assert_int_equal(r.n, 3);
        assert_int_equal(recv_bundle(maker, got, 8), 2);
        for (size_t i = 0; i < 2; i++) {
            assert_int_equal(got[i].hdr.type, LX_PROTO_FILL);
            assert_true(got[i].hdr.flags & LX_PROTO_F_UNSOLICITED);
            assert_int_equal(got[i].u.fill.maker, id + 1 + i);
            assert_int_equal(got[i].u.fill.role, 0);
        }
        lx_zsock_free(&maker);
    }
    close_all();
}

/* ---- market data ---- */

#define MD_MARKET 1u /* ETH-USD: the tests above trade only market 0 */

/* Sends one order for market MD_MARKET through node and awaits its replies. */
static void md_order(size_t node, uint64_t id, uint64_t account, uint8_t side, uint64_t price,
                     uint64_t qty)
{
    lx_proto_msg m;
    memset(&m, 0, sizeof m);
    m.hdr.type = LX_PROTO_NEW_ORDER;
    m.hdr.req_id = next_req++;
    m.u.order = order(id, account, side, price, qty);
    m.u.order.market = MD_MARKET;
    send_msg(node, &m);
    replies r;
    await(&r, node, m.hdr.req_id);
    assert_int_equal(r.type[0], LX_PROTO_ACK);
}

/* The next market-data frame of MD_MARKET on sub within ms, decoded; 0 when
 * none came. */
static int md_next(lx_zsock *sub, lx_proto_msg *out, int ms)
{
    uint64_t until = lx_now_us() + (uint64_t)ms * 1000u;
    while (lx_now_us() < until) {
        lx_zpollitem it = {sub, 0, LX_ZPOLLIN, 0};
        int ready;
        lx_zpoll(&ready, &it, 1, 20);
        lx_zmsg zm;
        if (lx_zsock_recv(sub, &zm, LX_ZDONTWAIT) != LX_OK)
            continue;
        lx_proto_error code;
        assert_int_equal(zm.n, 1);
        assert_int_equal(lx_proto_decode(out, &code, zm.part[0].data, zm.part[0].len), LX_OK);
        lx_zmsg_close(&zm);
        uint32_t market = out->hdr.type == LX_PROTO_TRADE ? out->u.trade.market : out->u.l2.market;
        assert_true(out->hdr.type == LX_PROTO_TRADE || out->hdr.type == LX_PROTO_L2_DELTA);
        if (market == MD_MARKET)
            return 1;
    }
    return 0;
}

/* Reads frames until one of type arrives; checks that every frame of
 * MD_MARKET on the way continues its channel's sequence (*tseq, *lseq). */
static lx_proto_msg md_expect(lx_zsock *sub, uint8_t type, uint64_t *tseq, uint64_t *lseq)
{
    lx_proto_msg m;
    for (;;) {
        if (!md_next(sub, &m, 5000))
            fail_msg("no %s frame within 5 s", type == LX_PROTO_TRADE ? "TRADE" : "L2_DELTA");
        if (m.hdr.type == LX_PROTO_TRADE) {
            assert_int_equal(m.u.trade.seq, *tseq + 1);
            *tseq = m.u.trade.seq;
        } else {
            assert_int_equal(m.u.l2.seq, *lseq + 1);
            *lseq = m.u.l2.seq;
        }
        if (m.hdr.type == type)
            return m;
    }
}

/* A subscriber to a node's PUB gets the trades and the level changes of the
 * orders any node takes, each channel numbered 1, 2, 3 ... per market. The
 * node computes market data only from the first subscription on
 * (test_node_smoke.sh checks the others never did). */
static void test_market_data(void **state)
{
    (void)state;
    connect_all();
    assert_true(nnodes >= 2);
    const size_t node = 1;
    const uint64_t a = 901, b = 902;
    deposit(node, a, "USD", 10000000);
    deposit(node, b, "ETH", 1000);
    const char *eps = getenv("LX_SMOKE_ENDPOINTS");
    char list[1024], pub_ep[128];
    snprintf(list, sizeof list, "%s", eps);
    char *save = NULL, *ep = strtok_r(list, ",", &save);
    for (size_t i = 0; i < node; i++)
        ep = strtok_r(NULL, ",", &save);
    assert_non_null(ep);
    const char *colon = strrchr(ep, ':');
    assert_non_null(colon);
    snprintf(pub_ep, sizeof pub_ep, "tcp://127.0.0.1:%ld", strtol(colon + 1, NULL, 10) - 2);
    lx_zsock *sub;
    assert_int_equal(lx_zsock_new(&sub, ctx, LX_ZSUB, NULL), LX_OK);
    uint8_t topic = LX_PROTO_CH_TRADE;
    assert_int_equal(lx_zsock_subscribe(sub, &topic, 1), LX_OK);
    topic = LX_PROTO_CH_L2;
    assert_int_equal(lx_zsock_subscribe(sub, &topic, 1), LX_OK);
    assert_int_equal(lx_zsock_connect(sub, pub_ep), LX_OK);

    /* A subscription takes effect a little after the connect: trade until
     * a TRADE comes, each time leaving the book as it was. */
    lx_proto_msg m;
    uint64_t id = 90000, tseq = 0, lseq = 0;
    int flowing = 0;
    for (int k = 0; k < 40 && !flowing; k++) {
        md_order(node, ++id, a, LX_BUY, 1000 + (uint64_t)k, 1);
        md_order(node, ++id, b, LX_SELL, 1000 + (uint64_t)k, 1);
        while (md_next(sub, &m, 250)) {
            if (m.hdr.type == LX_PROTO_TRADE) {
                flowing = 1;
                tseq = m.u.trade.seq;
            } else {
                lseq = m.u.l2.seq;
            }
        }
    }
    assert_true(flowing);
    assert_true(tseq >= 1 && lseq >= 1);

    /* A level appears, is partly taken, then taken. */
    md_order(node, ++id, a, LX_BUY, 2000, 3);
    m = md_expect(sub, LX_PROTO_L2_DELTA, &tseq, &lseq);
    assert_int_equal(m.u.l2.side, LX_BUY);
    assert_int_equal(m.u.l2.price, 2000);
    assert_int_equal(m.u.l2.qty, 3);
    md_order(0, ++id, b, LX_SELL, 2000, 2); /* through the leader: the same feed */
    m = md_expect(sub, LX_PROTO_TRADE, &tseq, &lseq);
    assert_int_equal(m.u.trade.price, 2000);
    assert_int_equal(m.u.trade.qty, 2);
    assert_int_equal(m.u.trade.taker_side, LX_SELL);
    m = md_expect(sub, LX_PROTO_L2_DELTA, &tseq, &lseq);
    assert_int_equal(m.u.l2.price, 2000);
    assert_int_equal(m.u.l2.qty, 1);
    md_order(node, ++id, b, LX_SELL, 2000, 1);
    m = md_expect(sub, LX_PROTO_TRADE, &tseq, &lseq);
    assert_int_equal(m.u.trade.qty, 1);
    m = md_expect(sub, LX_PROTO_L2_DELTA, &tseq, &lseq);
    assert_int_equal(m.u.l2.price, 2000);
    assert_int_equal(m.u.l2.qty, 0);
    lx_zsock_free(&sub);
    close_all();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_orders_through_every_node),
        cmocka_unit_test(test_bundled_unsolicited),
        cmocka_unit_test(test_market_data),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
