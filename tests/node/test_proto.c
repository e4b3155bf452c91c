/* Tests of the client wire protocol (node/proto.c): round trips of every
 * message type, one case per malformation, truncation and random input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fuzz_proto.c"
#include "proto_samples.h"

static uint8_t fbuf[LX_PROTO_FRAME_MAX + 64];
static uint8_t gbuf[LX_PROTO_FRAME_MAX + 64];

static lx_proto_error decode_code(lx_proto_msg *m, lx_err *err, const uint8_t *b, size_t n)
{
    lx_proto_error code = LX_PROTO_E_COUNT;
    *err = lx_proto_decode(m, &code, b, n);
    return code;
}

/* Encodes m, decodes it back into *out and checks that the frame is n_want
 * bytes and re-encodes to the same bytes. */
static void round_trip(lx_proto_msg *out, const lx_proto_msg *m, size_t n_want)
{
    size_t n = 0;
    assert_int_equal(lx_proto_encode(fbuf, sizeof fbuf, &n, m), LX_OK);
    assert_int_equal(n, n_want);
    lx_err err;
    memset(out, 0xA5, sizeof *out);
    assert_int_equal(decode_code(out, &err, fbuf, n), LX_PROTO_E_NONE);
    assert_int_equal(err, LX_OK);
    assert_int_equal(out->hdr.version, LX_PROTO_VERSION);
    assert_int_equal(out->hdr.type, m->hdr.type);
    assert_int_equal(out->hdr.flags, m->hdr.flags);
    assert_true(out->hdr.req_id == m->hdr.req_id);
    size_t hdr = (m->hdr.type == LX_PROTO_TRADE || m->hdr.type == LX_PROTO_L2_DELTA)
                     ? LX_PROTO_HDR_LEN + LX_PROTO_TOPIC_LEN
                     : LX_PROTO_HDR_LEN;
    assert_int_equal(out->hdr.body_len, n - hdr);
    size_t n2 = 0;
    assert_int_equal(fuzz_reencode(gbuf, sizeof gbuf, &n2, out), LX_OK);
    assert_int_equal(n2, n);
    assert_memory_equal(gbuf, fbuf, n);
    assert_int_equal(LLVMFuzzerTestOneInput(fbuf, n), 0);
}

static void init_msg(lx_proto_msg *m, uint8_t type)
{
    memset(m, 0, sizeof *m);
    m->hdr.type = type;
    m->hdr.req_id = 0x8877665544332211ull;
}

static void assert_order_eq(const lx_order_cmd *a, const lx_order_cmd *b)
{
    assert_true(a->id == b->id);
    assert_true(a->account == b->account);
    assert_int_equal(a->market, b->market);
    assert_int_equal(a->side, b->side);
    assert_int_equal(a->type, b->type);
    assert_int_equal(a->tif, b->tif);
    assert_int_equal(a->stp, b->stp);
    assert_int_equal(a->post_only, b->post_only);
    assert_true(a->price == b->price);
    assert_true(a->qty == b->qty);
}

/* ---- round trips ---- */

static void test_rt_requests(void **state)
{
    (void)state;
    lx_proto_msg m, d;

    init_msg(&m, LX_PROTO_NEW_ORDER);
    sample_order(&m.u.order, 6);
    m.u.order.side = LX_SELL;
    m.u.order.type = LX_LIMIT;
    m.u.order.tif = LX_FOK;
    m.u.order.stp = LX_STP_EXPIRE_BOTH;
    m.u.order.post_only = true;
    round_trip(&d, &m, LX_PROTO_HDR_LEN + 41);
    assert_order_eq(&d.u.order, &m.u.order);

    init_msg(&m, LX_PROTO_CANCEL);
    m.u.cancel.id = UINT64_MAX;
    m.u.cancel.account = 0x0123456789abcdefull;
    round_trip(&d, &m, LX_PROTO_HDR_LEN + 16);
    assert_true(d.u.cancel.id == UINT64_MAX);
    assert_true(d.u.cancel.account == 0x0123456789abcdefull);

    init_msg(&m, LX_PROTO_REPLACE);
    m.u.replace.id = 1;
    m.u.replace.account = 2;
    m.u.replace.price = 3;
    m.u.replace.qty = 4;
    round_trip(&d, &m, LX_PROTO_HDR_LEN + 32);
    assert_true(d.u.replace.id == 1 && d.u.replace.account == 2);
    assert_true(d.u.replace.price == 3 && d.u.replace.qty == 4);

    init_msg(&m, LX_PROTO_DEPOSIT);
    m.u.transfer.account = 5;
    m.u.transfer.amount = INT64_MAX;
    strcpy(m.u.transfer.asset, "ABCDEFGHIJK"); /* LX_SYMBOL_MAX - 1 bytes */
    round_trip(&d, &m, LX_PROTO_HDR_LEN + 28);
    assert_true(d.u.transfer.account == 5 && d.u.transfer.amount == INT64_MAX);
    assert_string_equal(d.u.transfer.asset, "ABCDEFGHIJK");
    assert_int_equal(d.u.transfer.dest_len, 0);

    init_msg(&m, LX_PROTO_WITHDRAW);
    m.u.transfer.account = 6;
    m.u.transfer.amount = 77;
    strcpy(m.u.transfer.asset, "LUX");
    m.u.transfer.dest_len = LX_PROTO_ADDR_MAX;
    memset(m.u.transfer.dest, 'q', LX_PROTO_ADDR_MAX);
    memcpy(m.u.transfer.dest, "X-lux1", 6);
    round_trip(&d, &m, LX_PROTO_HDR_LEN + 29 + LX_PROTO_ADDR_MAX);
    assert_int_equal(d.u.transfer.dest_len, LX_PROTO_ADDR_MAX);
    assert_memory_equal(d.u.transfer.dest, m.u.transfer.dest, LX_PROTO_ADDR_MAX);
    assert_int_equal(d.u.transfer.dest[LX_PROTO_ADDR_MAX], '\0');
    assert_string_equal(d.u.transfer.asset, "LUX");
    assert_true(d.u.transfer.amount == 77);

    m.u.transfer.dest_len = 0;
    round_trip(&d, &m, LX_PROTO_HDR_LEN + 29);
    assert_int_equal(d.u.transfer.dest_len, 0);
    assert_string_equal(d.u.transfer.dest, "");

    init_msg(&m, LX_PROTO_QUERY_BOOK);
    m.u.query_book.market = 0xdeadbeef;
    m.u.query_book.depth = LX_PROTO_DEPTH_MAX;
    round_trip(&d, &m, LX_PROTO_HDR_LEN + 6);
    assert_int_equal(d.u.query_book.market, 0xdeadbeef);
    assert_int_equal(d.u.query_book.depth, LX_PROTO_DEPTH_MAX);

    init_msg(&m, LX_PROTO_QUERY_ORDER);
    m.u.query_order = 99;
    round_trip(&d, &m, LX_PROTO_HDR_LEN + 8);
    assert_true(d.u.query_order == 99);

    init_msg(&m, LX_PROTO_QUERY_BALANCES);
    m.u.query_balances = 98;
    round_trip(&d, &m, LX_PROTO_HDR_LEN + 8);
    assert_true(d.u.query_balances == 98);

    init_msg(&m, LX_PROTO_QUERY_MARKETS);
    round_trip(&d, &m, LX_PROTO_HDR_LEN);
    init_msg(&m, LX_PROTO_PING);
    m.hdr.req_id = 0;
    round_trip(&d, &m, LX_PROTO_HDR_LEN);
}

static void test_rt_batch(void **state)
{
    (void)state;
    static lx_order_cmd os[LX_PROTO_BATCH_MAX];
    for (unsigned i = 0; i < LX_PROTO_BATCH_MAX; i++)
        sample_order(&os[i], i);
    size_t sizes[] = {1, 2, 64, LX_PROTO_BATCH_MAX};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t n = 0, cnt = sizes[s];
        assert_int_equal(lx_proto_encode_batch(fbuf, sizeof fbuf, &n, 5, os, cnt), LX_OK);
        assert_int_equal(n, LX_PROTO_HDR_LEN + 2 + 41 * cnt);
        lx_proto_msg d;
        lx_err err;
        assert_int_equal(decode_code(&d, &err, fbuf, n), LX_PROTO_E_NONE);
        assert_int_equal(d.hdr.type, LX_PROTO_NEW_ORDER_BATCH);
        assert_int_equal(d.u.batch.count, cnt);
        for (size_t i = 0; i < cnt; i++) {
            lx_order_cmd o;
            assert_int_equal(lx_proto_batch_get(&d, &o, i), LX_OK);
            assert_order_eq(&o, &os[i]);
        }
        lx_order_cmd o;
        assert_int_equal(lx_proto_batch_get(&d, &o, cnt), LX_EINVAL);
        assert_int_equal(LLVMFuzzerTestOneInput(fbuf, n), 0);
    }
}

static void test_rt_replies(void **state)
{
    (void)state;
    lx_proto_msg m, d;

    init_msg(&m, LX_PROTO_ACK);
    m.u.ack.seq = 12;
    m.u.ack.id = 1001;
    round_trip(&d, &m, LX_PROTO_HDR_LEN + 16);
    assert_true(d.u.ack.seq == 12 && d.u.ack.id == 1001);

    /* every reject reason */
    for (uint8_t r = LX_R_INSUFFICIENT_BALANCE; r <= LX_R_BAD_MARKET; r++) {
        init_msg(&m, LX_PROTO_REJECT);
        m.u.reject.id = 1000u + r;
        m.u.reject.reason = r;
        round_trip(&d, &m, LX_PROTO_HDR_LEN + 9);
        assert_true(d.u.reject.id == 1000u + r);
        assert_int_equal(d.u.reject.reason, r);
    }

    init_msg(&m, LX_PROTO_FILL);
    m.hdr.flags = LX_PROTO_F_MORE | LX_PROTO_F_UNSOLICITED;
    lx_proto_fill f = {.seq = 1,
                       .market = 2,
                       .maker = 3,
                       .taker = 4,
                       .price = 5,
                       .qty = 6,
                       .maker_fee = 7,
                       .taker_fee = 8,
                       .taker_side = LX_SELL,
                       .role = 1};
    m.u.fill = f;
    round_trip(&d, &m, LX_PROTO_HDR_LEN + 62);
    assert_true(d.u.fill.seq == 1 && d.u.fill.market == 2 && d.u.fill.maker == 3);
    assert_true(d.u.fill.taker == 4 && d.u.fill.price == 5 && d.u.fill.qty == 6);
    assert_true(d.u.fill.maker_fee == 7 && d.u.fill.taker_fee == 8);
    assert_int_equal(d.u.fill.taker_side, LX_SELL);
    assert_int_equal(d.u.fill.role, 1);

    for (uint8_t r = LX_R_USER; r <= LX_R_REPLACE; r++) {
        init_msg(&m, LX_PROTO_CANCELLED);
        m.u.cancelled.seq = 9;
        m.u.cancelled.id = 10;
        m.u.cancelled.remaining = 11;
        m.u.cancelled.reason = r;
        round_trip(&d, &m, LX_PROTO_HDR_LEN + 25);
        assert_true(d.u.cancelled.seq == 9 && d.u.cancelled.id == 10);
        assert_true(d.u.cancelled.remaining == 11);
        assert_int_equal(d.u.cancelled.reason, r);
    }

    init_msg(&m, LX_PROTO_REPLACED);
    m.u.replaced.seq = 12;
    m.u.replaced.id = 13;
    m.u.replaced.price = 14;
    m.u.replaced.qty = 15;
    round_trip(&d, &m, LX_PROTO_HDR_LEN + 32);
    assert_true(d.u.replaced.seq == 12 && d.u.replaced.id == 13);
    assert_true(d.u.replaced.price == 14 && d.u.replaced.qty == 15);

    init_msg(&m, LX_PROTO_ORDER_STATUS);
    m.u.order_status.id = 16;
    m.u.order_status.account = 17;
    m.u.order_status.market = 18;
    m.u.order_status.side = LX_SELL;
    m.u.order_status.tif = LX_IOC;
    m.u.order_status.stp = LX_STP_EXPIRE_TAKER;
    m.u.order_status.post_only = true;
    m.u.order_status.price = 19;
    m.u.order_status.qty = 20;
    m.u.order_status.filled = 21;
    round_trip(&d, &m, LX_PROTO_HDR_LEN + 48);
    const lx_order_info *o = &d.u.order_status;
    assert_true(o->id == 16 && o->account == 17 && o->market == 18);
    assert_int_equal(o->side, LX_SELL);
    assert_int_equal(o->tif, LX_IOC);
    assert_int_equal(o->stp, LX_STP_EXPIRE_TAKER);
    assert_true(o->post_only);
    assert_true(o->price == 19 && o->qty == 20 && o->filled == 21);

    init_msg(&m, LX_PROTO_PONG);
    m.u.pong.seq = 22;
    m.u.pong.leader = 1;
    round_trip(&d, &m, LX_PROTO_HDR_LEN + 9);
    assert_true(d.u.pong.seq == 22);
    assert_int_equal(d.u.pong.leader, 1);

    for (uint16_t c = LX_PROTO_E_MALFORMED; c < LX_PROTO_E_COUNT; c++) {
        init_msg(&m, LX_PROTO_ERROR);
        m.u.error.code = c;
        const char *t = lx_proto_error_str((lx_proto_error)c);
        m.u.error.text_len = (uint8_t)strlen(t);
        memcpy(m.u.error.text, t, m.u.error.text_len);
        round_trip(&d, &m, LX_PROTO_HDR_LEN + 3 + strlen(t));
        assert_int_equal(d.u.error.code, c);
        assert_string_equal(d.u.error.text, t);
    }
    init_msg(&m, LX_PROTO_ERROR);
    m.u.error.code = LX_PROTO_E_OVERLOADED;
    m.u.error.text_len = LX_PROTO_TEXT_MAX;
    memset(m.u.error.text, ' ', LX_PROTO_TEXT_MAX);
    round_trip(&d, &m, LX_PROTO_HDR_LEN + 3 + LX_PROTO_TEXT_MAX);
    assert_int_equal(d.u.error.text_len, LX_PROTO_TEXT_MAX);
    m.u.error.text_len = 0;
    round_trip(&d, &m, LX_PROTO_HDR_LEN + 3);
    assert_string_equal(d.u.error.text, "");
}

static void test_rt_lists(void **state)
{
    (void)state;
    size_t n = 0;
    lx_proto_msg d;
    lx_err err;

    /* BATCH_RESULT */
    static lx_proto_batch_item it[LX_PROTO_BATCH_MAX];
    for (unsigned i = 0; i < LX_PROTO_BATCH_MAX; i++) {
        it[i].id = 500u + i;
        it[i].reason = (uint8_t)(i % 3 == 0 ? 1u + i % LX_R_BAD_MARKET : LX_R_NONE);
        it[i].seq = it[i].reason ? 0 : 9000u + i;
    }
    assert_int_equal(lx_proto_encode_batch_result(fbuf, sizeof fbuf, &n, 3, LX_PROTO_F_MORE, it,
                                                  LX_PROTO_BATCH_MAX),
                     LX_OK);
    assert_int_equal(n, LX_PROTO_HDR_LEN + 2 + 17 * LX_PROTO_BATCH_MAX);
    assert_int_equal(decode_code(&d, &err, fbuf, n), LX_PROTO_E_NONE);
    assert_int_equal(d.hdr.flags, LX_PROTO_F_MORE);
    assert_int_equal(d.u.batch.count, LX_PROTO_BATCH_MAX);
    for (unsigned i = 0; i < LX_PROTO_BATCH_MAX; i++) {
        lx_proto_batch_item x;
        assert_int_equal(lx_proto_batch_result_get(&d, &x, i), LX_OK);
        assert_true(x.id == it[i].id && x.seq == it[i].seq);
        assert_int_equal(x.reason, it[i].reason);
    }
    assert_int_equal(LLVMFuzzerTestOneInput(fbuf, n), 0);

    /* BOOK, full depth on both sides */
    static lx_level bids[LX_PROTO_DEPTH_MAX], asks[LX_PROTO_DEPTH_MAX];
    for (unsigned i = 0; i < LX_PROTO_DEPTH_MAX; i++) {
        bids[i] = (lx_level){.price = 10000u - i, .qty = 1u + i, .orders = 1u + i % 4};
        asks[i] = (lx_level){.price = 10001u + i, .qty = 2u + i, .orders = 2u + i % 5};
    }
    assert_int_equal(lx_proto_encode_book(fbuf, sizeof fbuf, &n, 4, 0, 7, 1234, bids,
                                          LX_PROTO_DEPTH_MAX, asks, LX_PROTO_DEPTH_MAX),
                     LX_OK);
    assert_int_equal(n, LX_PROTO_HDR_LEN + 16 + 20 * 2 * LX_PROTO_DEPTH_MAX);
    assert_int_equal(decode_code(&d, &err, fbuf, n), LX_PROTO_E_NONE);
    assert_int_equal(d.u.book.market, 7);
    assert_true(d.u.book.seq == 1234);
    assert_int_equal(d.u.book.nbids, LX_PROTO_DEPTH_MAX);
    assert_int_equal(d.u.book.nasks, LX_PROTO_DEPTH_MAX);
    for (unsigned i = 0; i < LX_PROTO_DEPTH_MAX; i++) {
        lx_level l;
        assert_int_equal(lx_proto_book_get(&d, &l, LX_BUY, i), LX_OK);
        assert_true(l.price == bids[i].price && l.qty == bids[i].qty);
        assert_int_equal(l.orders, bids[i].orders);
        assert_int_equal(lx_proto_book_get(&d, &l, LX_SELL, i), LX_OK);
        assert_true(l.price == asks[i].price && l.qty == asks[i].qty);
        assert_int_equal(l.orders, asks[i].orders);
    }
    lx_level l;
    assert_int_equal(lx_proto_book_get(&d, &l, LX_SELL, LX_PROTO_DEPTH_MAX), LX_EINVAL);
    assert_int_equal(lx_proto_book_get(&d, &l, 2, 0), LX_EINVAL);

    /* an empty book */
    assert_int_equal(lx_proto_encode_book(fbuf, sizeof fbuf, &n, 4, 0, 7, 0, NULL, 0, NULL, 0),
                     LX_OK);
    assert_int_equal(n, LX_PROTO_HDR_LEN + 16);
    assert_int_equal(decode_code(&d, &err, fbuf, n), LX_PROTO_E_NONE);
    assert_int_equal(d.u.book.nbids + d.u.book.nasks, 0);
    assert_int_equal(lx_proto_book_get(&d, &l, LX_BUY, 0), LX_EINVAL);

    /* BALANCES */
    static lx_proto_balance bals[LX_PROTO_LIST_MAX];
    memset(bals, 0, sizeof bals);
    for (unsigned i = 0; i < LX_PROTO_LIST_MAX; i++) {
        snprintf(bals[i].asset, sizeof bals[i].asset, "A%u", i);
        bals[i].available = 3u * i;
        bals[i].reserved = UINT64_MAX - i;
    }
    assert_int_equal(lx_proto_encode_balances(fbuf, sizeof fbuf, &n, 5, LX_PROTO_F_UNSOLICITED, 77,
                                              bals, LX_PROTO_LIST_MAX),
                     LX_OK);
    assert_int_equal(n, LX_PROTO_HDR_LEN + 10 + 28 * LX_PROTO_LIST_MAX);
    assert_int_equal(decode_code(&d, &err, fbuf, n), LX_PROTO_E_NONE);
    assert_true(d.u.balances.account == 77);
    assert_int_equal(d.u.balances.count, LX_PROTO_LIST_MAX);
    for (unsigned i = 0; i < LX_PROTO_LIST_MAX; i++) {
        lx_proto_balance b;
        assert_int_equal(lx_proto_balances_get(&d, &b, i), LX_OK);
        assert_string_equal(b.asset, bals[i].asset);
        assert_true(b.available == bals[i].available && b.reserved == bals[i].reserved);
    }
    assert_int_equal(LLVMFuzzerTestOneInput(fbuf, n), 0);

    /* MARKETS: the largest frame the protocol has */
    static lx_proto_market mk[LX_PROTO_LIST_MAX];
    for (unsigned i = 0; i < LX_PROTO_LIST_MAX; i++)
        sample_spec(&mk[i], i);
    strcpy(mk[0].spec.name, "ABCDEFGHIJKLMNO"); /* LX_NAME_MAX - 1 bytes */
    mk[1].spec.maker_fee_bps = LX_FEE_BPS_MAX;
    assert_int_equal(lx_proto_encode_markets(fbuf, sizeof fbuf, &n, 6, 0, mk, LX_PROTO_LIST_MAX),
                     LX_OK);
    assert_int_equal(n, LX_PROTO_HDR_LEN + 2 + 76 * LX_PROTO_LIST_MAX);
    assert_true(n <= LX_PROTO_FRAME_MAX);
    assert_int_equal(decode_code(&d, &err, fbuf, n), LX_PROTO_E_NONE);
    assert_int_equal(d.u.markets.count, LX_PROTO_LIST_MAX);
    for (unsigned i = 0; i < LX_PROTO_LIST_MAX; i++) {
        lx_proto_market x;
        assert_int_equal(lx_proto_markets_get(&d, &x, i), LX_OK);
        assert_int_equal(x.id, mk[i].id);
        assert_string_equal(x.spec.name, mk[i].spec.name);
        assert_string_equal(x.spec.base, mk[i].spec.base);
        assert_string_equal(x.spec.quote, mk[i].spec.quote);
        assert_true(x.spec.lot == mk[i].spec.lot && x.spec.tick == mk[i].spec.tick);
        assert_true(x.spec.min_qty == mk[i].spec.min_qty);
        assert_int_equal(x.spec.maker_fee_bps, mk[i].spec.maker_fee_bps);
        assert_int_equal(x.spec.taker_fee_bps, mk[i].spec.taker_fee_bps);
    }
    assert_int_equal(LLVMFuzzerTestOneInput(fbuf, n), 0);

    /* accessors refuse the wrong message type */
    lx_proto_balance b;
    lx_order_cmd o;
    assert_int_equal(lx_proto_balances_get(&d, &b, 0), LX_EINVAL);
    assert_int_equal(lx_proto_batch_get(&d, &o, 0), LX_EINVAL);
}

static void test_rt_market_data(void **state)
{
    (void)state;
    lx_proto_msg m, d;
    init_msg(&m, LX_PROTO_TRADE);
    m.hdr.req_id = 0;
    m.u.trade.market = 0x01020304;
    m.u.trade.seq = 5;
    m.u.trade.price = 6;
    m.u.trade.qty = 7;
    m.u.trade.taker_side = LX_SELL;
    round_trip(&d, &m, LX_PROTO_TOPIC_LEN + LX_PROTO_HDR_LEN + 29);
    assert_int_equal(fbuf[0], LX_PROTO_CH_TRADE);
    uint8_t topic[LX_PROTO_TOPIC_LEN];
    lx_proto_topic(topic, LX_PROTO_CH_TRADE, 0x01020304);
    assert_memory_equal(fbuf, topic, LX_PROTO_TOPIC_LEN);
    assert_memory_equal(topic, "T\x01\x02\x03\x04", 5);
    assert_int_equal(d.u.trade.market, 0x01020304);
    assert_true(d.u.trade.seq == 5 && d.u.trade.price == 6 && d.u.trade.qty == 7);
    assert_int_equal(d.u.trade.taker_side, LX_SELL);

    init_msg(&m, LX_PROTO_L2_DELTA);
    m.hdr.req_id = 0;
    m.u.l2.market = 9;
    m.u.l2.seq = 10;
    m.u.l2.side = LX_BUY;
    m.u.l2.price = 11;
    m.u.l2.qty = 12;
    round_trip(&d, &m, LX_PROTO_TOPIC_LEN + LX_PROTO_HDR_LEN + 29);
    lx_proto_topic(topic, LX_PROTO_CH_L2, 9);
    assert_memory_equal(fbuf, topic, LX_PROTO_TOPIC_LEN);
    assert_memory_equal(topic, "D\x00\x00\x00\x09", 5);
    assert_int_equal(d.u.l2.market, 9);
    assert_true(d.u.l2.seq == 10 && d.u.l2.price == 11 && d.u.l2.qty == 12);
    assert_int_equal(d.u.l2.side, LX_BUY);
}

/* The worked example of docs/protocol.md, written out by hand from the
 * documented layout, so a change of layout cannot pass unnoticed. */
static void test_golden_example(void **state)
{
    (void)state;
    static const uint8_t order_frame[] = {
        0x4c, 0x58, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00,
        0x00, 0x00, 0x29, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xe9, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0xc3, 0x50, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02};
    static const uint8_t ack_frame[] = {0x4c, 0x58, 0x01, 0x81, 0x00, 0x00, 0x00, 0x00, 0x00,
                                        0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x10,
                                        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x00,
                                        0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xe9};
    lx_proto_msg m;
    size_t n = 0;
    init_msg(&m, LX_PROTO_NEW_ORDER);
    m.hdr.req_id = 1;
    m.u.order = (lx_order_cmd){.id = 1001,
                               .account = 7,
                               .market = 0,
                               .side = LX_BUY,
                               .type = LX_LIMIT,
                               .tif = LX_GTC,
                               .stp = LX_STP_EXPIRE_MAKER,
                               .post_only = false,
                               .price = 50000,
                               .qty = 2};
    assert_int_equal(lx_proto_encode(fbuf, sizeof fbuf, &n, &m), LX_OK);
    assert_int_equal(n, sizeof order_frame);
    assert_memory_equal(fbuf, order_frame, n);

    init_msg(&m, LX_PROTO_ACK);
    m.hdr.req_id = 1;
    m.u.ack.seq = 12;
    m.u.ack.id = 1001;
    assert_int_equal(lx_proto_encode(fbuf, sizeof fbuf, &n, &m), LX_OK);
    assert_int_equal(n, sizeof ack_frame);
    assert_memory_equal(fbuf, ack_frame, n);
}

/* ---- malformations: one case each ---- */

/* Sample frame k in fbuf; returns its length. */
static size_t sample(unsigned k)
{
    size_t n = sample_frame(fbuf, sizeof fbuf, k);
    assert_true(n > 0);
    return n;
}

static void set_body_len(uint8_t *frame, size_t hdr_off, size_t body_len)
{
    uint8_t *p = frame + hdr_off + 14;
    p[0] = (uint8_t)(body_len >> 24);
    p[1] = (uint8_t)(body_len >> 16);
    p[2] = (uint8_t)(body_len >> 8);
    p[3] = (uint8_t)body_len;
}

static void expect(const uint8_t *b, size_t n, lx_proto_error want_code, lx_err want_err)
{
    lx_proto_msg d;
    lx_err err;
    lx_proto_error code = decode_code(&d, &err, b, n);
    if (code != want_code || err != want_err)
        fail_msg("got %s/%s, want %s/%s", lx_proto_error_str(code), lx_strerror(err),
                 lx_proto_error_str(want_code), lx_strerror(want_err));
    assert_int_equal(LLVMFuzzerTestOneInput(b, n), 0);
}

static void expect_malformed(const uint8_t *b, size_t n)
{
    expect(b, n, LX_PROTO_E_MALFORMED, LX_EFORMAT);
}

/* Sample k with byte off set to v must be malformed. */
static void mut_malformed(unsigned k, size_t off, uint8_t v)
{
    size_t n = sample(k);
    assert_true(off < n);
    assert_true(fbuf[off] != v);
    fbuf[off] = v;
    expect_malformed(fbuf, n);
}

static void test_bad_framing(void **state)
{
    (void)state;
    size_t n;

    /* over the frame cap, whatever the content */
    memset(fbuf, 0, LX_PROTO_FRAME_MAX + 1);
    expect(fbuf, LX_PROTO_FRAME_MAX + 1, LX_PROTO_E_TOO_BIG, LX_ETOOBIG);

    /* bad magic, in either byte */
    mut_malformed(0, 0, 'X');
    mut_malformed(0, 1, 'Y');
    expect((const uint8_t *)"Q", 1, LX_PROTO_E_MALFORMED, LX_EFORMAT);

    /* an unknown version is its own error, even in a short frame */
    n = sample(0);
    fbuf[2] = 2;
    expect(fbuf, n, LX_PROTO_E_BAD_VERSION, LX_EUNSUPPORTED);
    expect(fbuf, 3, LX_PROTO_E_BAD_VERSION, LX_EUNSUPPORTED);
    fbuf[2] = 0;
    expect(fbuf, n, LX_PROTO_E_BAD_VERSION, LX_EUNSUPPORTED);

    /* unknown types, with the request id still readable for the reply */
    const uint8_t unknown[] = {0x00, 0x0d, 0x7f, 0x80, 0x8d, 0xc0, 0xc3, 0xff};
    for (size_t i = 0; i < sizeof unknown; i++) {
        n = sample(0);
        fbuf[3] = unknown[i];
        expect(fbuf, n, LX_PROTO_E_UNKNOWN_TYPE, LX_EFORMAT);
        lx_proto_msg d;
        assert_int_equal(lx_proto_decode(&d, NULL, fbuf, n), LX_EFORMAT);
        assert_true(d.hdr.req_id == 0x0102030405060708ull);
    }

    /* flags: none on requests, only MORE|UNSOLICITED on replies */
    mut_malformed(0, 5, 0x01);
    mut_malformed(12, 5, 0x04);
    mut_malformed(12, 4, 0x80);
    mut_malformed(24, LX_PROTO_TOPIC_LEN + 5, 0x01);

    /* declared body longer than the frame: truncated */
    n = sample(2);
    set_body_len(fbuf, 0, 17);
    expect(fbuf, n, LX_PROTO_E_TRUNCATED, LX_EFORMAT);
    /* declared body over the frame cap: too big */
    set_body_len(fbuf, 0, LX_PROTO_FRAME_MAX);
    expect(fbuf, n, LX_PROTO_E_TOO_BIG, LX_ETOOBIG);
    set_body_len(fbuf, 0, UINT32_MAX);
    expect(fbuf, n, LX_PROTO_E_TOO_BIG, LX_ETOOBIG);
    /* trailing bytes after the declared body */
    n = sample(2);
    fbuf[n] = 0;
    expect_malformed(fbuf, n + 1);
    /* a body length that is consistent but wrong for the type */
    n = sample(2);
    set_body_len(fbuf, 0, 15);
    expect_malformed(fbuf, n - 1);
    n = sample(11); /* PING has an empty body */
    fbuf[n] = 0;
    set_body_len(fbuf, 0, 1);
    expect_malformed(fbuf, n + 1);
    n = sample(0);
    set_body_len(fbuf, 0, 42);
    fbuf[n] = 0;
    expect_malformed(fbuf, n + 1);
    /* a reply type whose fixed body is short */
    n = sample(23); /* ERROR, 3-byte minimum */
    set_body_len(fbuf, 0, 2);
    expect_malformed(fbuf, LX_PROTO_HDR_LEN + 2);
    n = sample(5); /* WITHDRAW, 29-byte minimum */
    set_body_len(fbuf, 0, 28);
    expect_malformed(fbuf, LX_PROTO_HDR_LEN + 28);

    /* empty input and a lone magic byte are truncated */
    expect(fbuf, 0, LX_PROTO_E_TRUNCATED, LX_EFORMAT);
    expect((const uint8_t *)"L", 1, LX_PROTO_E_TRUNCATED, LX_EFORMAT);
}

static void test_bad_order_fields(void **state)
{
    (void)state;
    const size_t b = LX_PROTO_HDR_LEN;
    mut_malformed(0, b + 20, 2);    /* side */
    mut_malformed(0, b + 21, 2);    /* type */
    mut_malformed(0, b + 22, 3);    /* tif */
    mut_malformed(0, b + 23, 3);    /* stp */
    mut_malformed(0, b + 24, 2);    /* post_only is 0 or 1 */
    mut_malformed(0, b + 20, 0xff); /* side, high bit */

    /* the same rules inside a batch, in its last order */
    const size_t last = b + 2 + 4 * 41;
    mut_malformed(1, last + 20, 2);
    mut_malformed(1, last + 22, 7);
    mut_malformed(1, last + 24, 9);

    /* ORDER_STATUS carries side, tif, stp, post_only */
    mut_malformed(19, b + 20, 2);
    mut_malformed(19, b + 21, 3);
    mut_malformed(19, b + 22, 3);
    mut_malformed(19, b + 23, 2);
}

static void test_rt_cancel_batch(void **state)
{
    (void)state;
    static lx_cancel_cmd cs[LX_PROTO_BATCH_MAX];
    for (unsigned i = 0; i < LX_PROTO_BATCH_MAX; i++)
        cs[i] = (lx_cancel_cmd){.id = 0x0102030405060708ull + i, .account = 1000 + i};
    size_t sizes[] = {1, 2, 7, LX_PROTO_BATCH_MAX};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t n = 0, cnt = sizes[s];
        assert_int_equal(lx_proto_encode_cancel_batch(fbuf, sizeof fbuf, &n, 9, cs, cnt), LX_OK);
        assert_int_equal(n, LX_PROTO_HDR_LEN + 2 + 16 * cnt);
        /* the documented layout: count, then id and account of each */
        assert_int_equal(fbuf[LX_PROTO_HDR_LEN], (uint8_t)(cnt >> 8));
        assert_int_equal(fbuf[LX_PROTO_HDR_LEN + 1], (uint8_t)cnt);
        assert_int_equal(fbuf[LX_PROTO_HDR_LEN + 2], 0x01);
        assert_int_equal(fbuf[LX_PROTO_HDR_LEN + 9], 0x08);
        assert_int_equal(fbuf[LX_PROTO_HDR_LEN + 2 + 15], (uint8_t)1000);
        lx_proto_msg d;
        lx_err err;
        assert_int_equal(decode_code(&d, &err, fbuf, n), LX_PROTO_E_NONE);
        assert_int_equal(d.hdr.type, LX_PROTO_CANCEL_BATCH);
        assert_int_equal(d.hdr.req_id, 9);
        assert_int_equal(d.u.batch.count, cnt);
        for (size_t i = 0; i < cnt; i++) {
            lx_cancel_cmd c;
            assert_int_equal(lx_proto_cancel_batch_get(&d, &c, i), LX_OK);
            assert_int_equal(c.id, cs[i].id);
            assert_int_equal(c.account, cs[i].account);
        }
        lx_cancel_cmd c;
        assert_int_equal(lx_proto_cancel_batch_get(&d, &c, cnt), LX_EINVAL);
        lx_order_cmd o;
        assert_int_equal(lx_proto_batch_get(&d, &o, 0), LX_EINVAL); /* not an order batch */
        assert_int_equal(LLVMFuzzerTestOneInput(fbuf, n), 0);
    }
    size_t n = 0;
    assert_int_equal(lx_proto_encode_cancel_batch(fbuf, sizeof fbuf, &n, 9, cs, 0), LX_EINVAL);
    assert_int_equal(lx_proto_encode_cancel_batch(fbuf, sizeof fbuf, &n, 9, NULL, 1), LX_EINVAL);
    static lx_cancel_cmd over[LX_PROTO_BATCH_MAX + 1];
    assert_int_equal(
        lx_proto_encode_cancel_batch(fbuf, sizeof fbuf, &n, 9, over, LX_PROTO_BATCH_MAX + 1),
        LX_ETOOBIG);
    assert_int_equal(lx_proto_encode_cancel_batch(fbuf, 40, &n, 9, cs, 2), LX_ETOOBIG);

    /* the example in docs/protocol.md, byte for byte */
    static const uint8_t doc[] = {0x4c, 0x58, 0x01, 0x0c, 0,    0, 0,    0, 0, 0, 0, 0, 0,
                                  0x07, 0,    0,    0,    0x22, 0, 0x02, 0, 0, 0, 0, 0, 0,
                                  0,    5,    0,    0,    0,    0, 0,    0, 0, 2, 0, 0, 0,
                                  0,    0,    0,    0,    9,    0, 0,    0, 0, 0, 0, 0, 2};
    const lx_cancel_cmd ex[2] = {{5, 2}, {9, 2}};
    assert_int_equal(lx_proto_encode_cancel_batch(fbuf, sizeof fbuf, &n, 7, ex, 2), LX_OK);
    assert_int_equal(n, sizeof doc);
    assert_memory_equal(fbuf, doc, sizeof doc);

    /* count 0, a count that misses the length either way, and one over the cap */
    assert_int_equal(lx_proto_encode_cancel_batch(fbuf, sizeof fbuf, &n, 9, cs, 3), LX_OK);
    fbuf[LX_PROTO_HDR_LEN + 1] = 0;
    expect_malformed(fbuf, n);
    fbuf[LX_PROTO_HDR_LEN + 1] = 2;
    expect_malformed(fbuf, n);
    fbuf[LX_PROTO_HDR_LEN + 1] = 4;
    expect_malformed(fbuf, n);
    fbuf[LX_PROTO_HDR_LEN] = 0x01;
    fbuf[LX_PROTO_HDR_LEN + 1] = 0x01;
    expect(fbuf, n, LX_PROTO_E_TOO_BIG, LX_ETOOBIG);
    /* a body too short for its count */
    assert_int_equal(lx_proto_encode_cancel_batch(fbuf, sizeof fbuf, &n, 9, cs, 1), LX_OK);
    set_body_len(fbuf, 0, 1);
    expect_malformed(fbuf, LX_PROTO_HDR_LEN + 1);
}

static void test_bad_batch_counts(void **state)
{
    (void)state;
    size_t n;
    /* count 0 */
    n = sample(1);
    fbuf[LX_PROTO_HDR_LEN] = 0;
    fbuf[LX_PROTO_HDR_LEN + 1] = 0;
    expect_malformed(fbuf, n);
    /* count over LX_PROTO_BATCH_MAX, even with a matching length */
    static lx_order_cmd os[LX_PROTO_BATCH_MAX + 1];
    for (unsigned i = 0; i <= LX_PROTO_BATCH_MAX; i++)
        sample_order(&os[i], i);
    n = 0;
    assert_int_equal(lx_proto_encode_batch(fbuf, sizeof fbuf, &n, 1, os, LX_PROTO_BATCH_MAX),
                     LX_OK);
    memcpy(fbuf + n, fbuf + n - 41, 41);
    n += 41;
    fbuf[LX_PROTO_HDR_LEN] = (uint8_t)((LX_PROTO_BATCH_MAX + 1) >> 8);
    fbuf[LX_PROTO_HDR_LEN + 1] = (uint8_t)(LX_PROTO_BATCH_MAX + 1);
    set_body_len(fbuf, 0, n - LX_PROTO_HDR_LEN);
    expect(fbuf, n, LX_PROTO_E_TOO_BIG, LX_ETOOBIG);
    /* count says 4 but 5 orders follow, and count 6 with 5 */
    n = sample(1);
    fbuf[LX_PROTO_HDR_LEN + 1] = 4;
    expect_malformed(fbuf, n);
    fbuf[LX_PROTO_HDR_LEN + 1] = 6;
    expect_malformed(fbuf, n);
    /* a count of 0xffff claims far more than the frame has */
    fbuf[LX_PROTO_HDR_LEN] = 0xff;
    fbuf[LX_PROTO_HDR_LEN + 1] = 0xff;
    expect(fbuf, n, LX_PROTO_E_TOO_BIG, LX_ETOOBIG);

    /* BATCH_RESULT: count 0, a reject with a seq, an unknown reason */
    const size_t r0 = LX_PROTO_HDR_LEN + 2;
    n = sample(17);
    fbuf[LX_PROTO_HDR_LEN + 1] = 0;
    expect_malformed(fbuf, n);
    mut_malformed(17, r0 + 17 + 15, 1);     /* entry 1 is a reject; seq 1 */
    mut_malformed(17, r0 + 16, LX_R_USER);  /* a cancel reason is no reject */
    mut_malformed(17, r0 + 16, LX_R_COUNT); /* past the last reason */
    mut_malformed(17, r0 + 17 + 16, 0xff);

    /* BOOK: a side over LX_PROTO_DEPTH_MAX, and counts that miss the length */
    n = sample(18);
    fbuf[LX_PROTO_HDR_LEN + 12] = 0x01;
    fbuf[LX_PROTO_HDR_LEN + 13] = 0x01; /* 257 bids */
    expect(fbuf, n, LX_PROTO_E_TOO_BIG, LX_ETOOBIG);
    mut_malformed(18, LX_PROTO_HDR_LEN + 13, 3); /* 3 bids + 3 asks, 5 levels */
    mut_malformed(18, LX_PROTO_HDR_LEN + 15, 2);

    /* BALANCES and MARKETS: over the cap, and short */
    n = sample(20);
    fbuf[LX_PROTO_HDR_LEN + 8] = 0x01;
    fbuf[LX_PROTO_HDR_LEN + 9] = 0x01;
    expect(fbuf, n, LX_PROTO_E_TOO_BIG, LX_ETOOBIG);
    mut_malformed(20, LX_PROTO_HDR_LEN + 9, 3);
    n = sample(21);
    fbuf[LX_PROTO_HDR_LEN] = 0x01;
    fbuf[LX_PROTO_HDR_LEN + 1] = 0x01;
    expect(fbuf, n, LX_PROTO_E_TOO_BIG, LX_ETOOBIG);
    mut_malformed(21, LX_PROTO_HDR_LEN + 1, 1);
}

static void test_bad_enums(void **state)
{
    (void)state;
    const size_t b = LX_PROTO_HDR_LEN;
    mut_malformed(13, b + 8, LX_R_NONE);  /* reject with no reason */
    mut_malformed(13, b + 8, LX_R_USER);  /* a cancel reason */
    mut_malformed(13, b + 8, LX_R_COUNT); /* no such reason */
    mut_malformed(15, b + 24, LX_R_NONE); /* cancelled with no reason */
    mut_malformed(15, b + 24, LX_R_BAD_PRICE);
    mut_malformed(15, b + 24, LX_R_COUNT);
    mut_malformed(14, b + 60, 2); /* fill taker side */
    mut_malformed(14, b + 61, 2); /* fill role */
    mut_malformed(22, b + 8, 2);  /* pong leader */
    mut_malformed(23, b + 1, 0);  /* error code none */
    mut_malformed(23, b + 1, LX_PROTO_E_COUNT);
    mut_malformed(23, b + 0, 1); /* error code 0x0106 */
    mut_malformed(7, b + 4, 1);  /* depth 0x010a > LX_PROTO_DEPTH_MAX */
    mut_malformed(7, b + 5, 0);  /* depth 0 */
    size_t md = LX_PROTO_TOPIC_LEN + LX_PROTO_HDR_LEN;
    mut_malformed(24, md + 28, 2); /* trade taker side */
    mut_malformed(25, md + 12, 2); /* l2 side */
    /* fee over 10000 bps in a market spec */
    mut_malformed(21, b + 2 + 68, 0x01);
    mut_malformed(21, b + 2 + 76 + 72, 0x01);
}

static void test_bad_strings(void **state)
{
    (void)state;
    const size_t asset = LX_PROTO_HDR_LEN + 8; /* DEPOSIT and WITHDRAW */
    mut_malformed(4, asset, 0);                /* empty */
    mut_malformed(4, asset + 1, ' ');          /* a space */
    mut_malformed(4, asset + 1, 0x07);         /* a control byte */
    mut_malformed(4, asset + 1, 0x80);         /* not ASCII */
    mut_malformed(4, asset + 5, 'Z');          /* a byte after the terminating NUL */
    mut_malformed(6, asset + 11, 'L');         /* 12 bytes: no room for the NUL */

    /* WITHDRAW destination */
    const size_t dl = LX_PROTO_HDR_LEN + 28;
    size_t n = sample(5);
    memset(fbuf + n, 'q', 64);
    fbuf[dl] = LX_PROTO_ADDR_MAX + 1;
    set_body_len(fbuf, 0, 29 + LX_PROTO_ADDR_MAX + 1);
    expect_malformed(fbuf, dl + 1 + LX_PROTO_ADDR_MAX + 1);
    mut_malformed(5, dl, 9);         /* the length misses the body */
    mut_malformed(5, dl + 3, ' ');   /* a space in the address */
    mut_malformed(5, dl + 10, 0x00); /* a NUL in the address */

    /* ERROR text */
    const size_t tl = LX_PROTO_HDR_LEN + 2;
    n = sample(23);
    memset(fbuf + tl + 1, 'x', LX_PROTO_TEXT_MAX + 1);
    fbuf[tl] = LX_PROTO_TEXT_MAX + 1;
    set_body_len(fbuf, 0, 3 + LX_PROTO_TEXT_MAX + 1);
    expect_malformed(fbuf, tl + 1 + LX_PROTO_TEXT_MAX + 1);
    mut_malformed(23, tl, 3);        /* the length misses the body */
    mut_malformed(23, tl + 2, '\n'); /* a control byte */
    mut_malformed(23, tl + 2, 0x7f); /* DEL */

    /* BALANCES asset and MARKETS names */
    mut_malformed(20, LX_PROTO_HDR_LEN + 10 + 28, 0); /* entry 1 empty */
    mut_malformed(21, LX_PROTO_HDR_LEN + 2 + 4 + 15, 'X');
    mut_malformed(21, LX_PROTO_HDR_LEN + 2 + 20, 0);
    mut_malformed(21, LX_PROTO_HDR_LEN + 2 + 76 + 32 + 1, ' ');
}

static void test_bad_market_data(void **state)
{
    (void)state;
    size_t n;
    const size_t t = LX_PROTO_TOPIC_LEN;
    /* a market-data type without its topic */
    n = sample(24);
    expect_malformed(fbuf + t, n - t);
    /* a topic in front of a reply */
    n = sample(12);
    memmove(fbuf + t, fbuf, n);
    lx_proto_topic(fbuf, LX_PROTO_CH_TRADE, 0);
    expect_malformed(fbuf, n + t);
    /* channel and type disagree */
    mut_malformed(24, 0, LX_PROTO_CH_L2);
    mut_malformed(25, 0, LX_PROTO_CH_TRADE);
    /* topic market and body market disagree */
    mut_malformed(24, 4, 4);
    mut_malformed(25, t + LX_PROTO_HDR_LEN + 3, 9);
    /* a request id on market data */
    mut_malformed(24, t + 13, 1);
    /* a topic alone */
    expect(fbuf, 3, LX_PROTO_E_TRUNCATED, LX_EFORMAT);
}

/* ---- truncation: every proper prefix of several frames ---- */

static void test_truncation(void **state)
{
    (void)state;
    const unsigned ks[] = {0, 1, 5, 17, 18, 20, 21, 23, 24, 25};
    for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++) {
        size_t n = sample(ks[i]);
        /* a fresh copy per prefix so that a read past the prefix is caught by
         * ASan instead of finding the rest of the frame */
        for (size_t cut = 0; cut < n; cut++) {
            uint8_t *copy = malloc(cut ? cut : 1);
            assert_non_null(copy);
            memcpy(copy, fbuf, cut);
            expect(copy, cut, LX_PROTO_E_TRUNCATED, LX_EFORMAT);
            free(copy);
        }
        uint8_t *copy = malloc(n);
        assert_non_null(copy);
        memcpy(copy, fbuf, n);
        expect(copy, n, LX_PROTO_E_NONE, LX_OK);
        free(copy);
    }
}

/* ---- encoder argument checks ---- */

static void test_encode_errors(void **state)
{
    (void)state;
    lx_proto_msg m;
    size_t n = 0;

    init_msg(&m, LX_PROTO_NEW_ORDER);
    sample_order(&m.u.order, 1);
    m.u.order.side = 2;
    assert_int_equal(lx_proto_encode(fbuf, sizeof fbuf, &n, &m), LX_EINVAL);
    m.u.order.side = LX_BUY;
    m.hdr.flags = LX_PROTO_F_MORE; /* requests carry no flags */
    assert_int_equal(lx_proto_encode(fbuf, sizeof fbuf, &n, &m), LX_EINVAL);
    m.hdr.flags = 0;
    /* a buffer one byte short */
    assert_int_equal(lx_proto_encode(fbuf, LX_PROTO_HDR_LEN + 40, &n, &m), LX_ETOOBIG);
    assert_int_equal(lx_proto_encode(fbuf, LX_PROTO_HDR_LEN + 41, &n, &m), LX_OK);
    assert_int_equal(lx_proto_encode(NULL, 100, &n, &m), LX_EINVAL);
    assert_int_equal(lx_proto_encode(fbuf, sizeof fbuf, NULL, &m), LX_EINVAL);
    assert_int_equal(lx_proto_encode(fbuf, sizeof fbuf, &n, NULL), LX_EINVAL);

    /* list and unknown types are not for lx_proto_encode */
    const uint8_t not_fixed[] = {LX_PROTO_NEW_ORDER_BATCH,
                                 LX_PROTO_BATCH_RESULT,
                                 LX_PROTO_BOOK,
                                 LX_PROTO_BALANCES,
                                 LX_PROTO_MARKETS,
                                 LX_PROTO_CANCEL_BATCH,
                                 0x00,
                                 0x0d,
                                 0xff};
    for (size_t i = 0; i < sizeof not_fixed; i++) {
        m.hdr.type = not_fixed[i];
        assert_int_equal(lx_proto_encode(fbuf, sizeof fbuf, &n, &m), LX_EINVAL);
    }

    init_msg(&m, LX_PROTO_DEPOSIT);
    m.u.transfer.amount = 1;
    assert_int_equal(lx_proto_encode(fbuf, sizeof fbuf, &n, &m), LX_EINVAL); /* empty asset */
    memset(m.u.transfer.asset, 'A', LX_SYMBOL_MAX);                          /* unterminated */
    assert_int_equal(lx_proto_encode(fbuf, sizeof fbuf, &n, &m), LX_EINVAL);
    strcpy(m.u.transfer.asset, "U D");
    assert_int_equal(lx_proto_encode(fbuf, sizeof fbuf, &n, &m), LX_EINVAL);

    init_msg(&m, LX_PROTO_WITHDRAW);
    strcpy(m.u.transfer.asset, "USD");
    m.u.transfer.dest_len = LX_PROTO_ADDR_MAX + 1;
    assert_int_equal(lx_proto_encode(fbuf, sizeof fbuf, &n, &m), LX_EINVAL);
    m.u.transfer.dest_len = 2;
    memcpy(m.u.transfer.dest, "a\t", 2);
    assert_int_equal(lx_proto_encode(fbuf, sizeof fbuf, &n, &m), LX_EINVAL);

    init_msg(&m, LX_PROTO_REJECT);
    m.u.reject.reason = LX_R_NONE;
    assert_int_equal(lx_proto_encode(fbuf, sizeof fbuf, &n, &m), LX_EINVAL);
    init_msg(&m, LX_PROTO_CANCELLED);
    m.u.cancelled.reason = LX_R_BAD_QTY;
    assert_int_equal(lx_proto_encode(fbuf, sizeof fbuf, &n, &m), LX_EINVAL);
    init_msg(&m, LX_PROTO_ACK);
    m.hdr.flags = 0x0004;
    assert_int_equal(lx_proto_encode(fbuf, sizeof fbuf, &n, &m), LX_EINVAL);
    init_msg(&m, LX_PROTO_ERROR);
    m.u.error.code = LX_PROTO_E_COUNT;
    assert_int_equal(lx_proto_encode(fbuf, sizeof fbuf, &n, &m), LX_EINVAL);
    m.u.error.code = LX_PROTO_E_INTERNAL;
    m.u.error.text_len = LX_PROTO_TEXT_MAX + 1;
    assert_int_equal(lx_proto_encode(fbuf, sizeof fbuf, &n, &m), LX_EINVAL);
    init_msg(&m, LX_PROTO_QUERY_BOOK);
    m.u.query_book.depth = LX_PROTO_DEPTH_MAX + 1;
    assert_int_equal(lx_proto_encode(fbuf, sizeof fbuf, &n, &m), LX_EINVAL);
    init_msg(&m, LX_PROTO_TRADE); /* market data has no request id */
    assert_int_equal(lx_proto_encode(fbuf, sizeof fbuf, &n, &m), LX_EINVAL);

    /* lists */
    static lx_order_cmd os[LX_PROTO_BATCH_MAX + 1];
    for (unsigned i = 0; i <= LX_PROTO_BATCH_MAX; i++)
        sample_order(&os[i], i);
    assert_int_equal(lx_proto_encode_batch(fbuf, sizeof fbuf, &n, 1, os, 0), LX_EINVAL);
    assert_int_equal(lx_proto_encode_batch(fbuf, sizeof fbuf, &n, 1, os, LX_PROTO_BATCH_MAX + 1),
                     LX_ETOOBIG);
    assert_int_equal(lx_proto_encode_batch(fbuf, 100, &n, 1, os, 3), LX_ETOOBIG);
    os[2].stp = 9;
    assert_int_equal(lx_proto_encode_batch(fbuf, sizeof fbuf, &n, 1, os, 3), LX_EINVAL);

    lx_proto_batch_item it = {.id = 1, .seq = 5, .reason = LX_R_BAD_QTY};
    assert_int_equal(lx_proto_encode_batch_result(fbuf, sizeof fbuf, &n, 1, 0, &it, 1), LX_EINVAL);
    it.seq = 0;
    assert_int_equal(lx_proto_encode_batch_result(fbuf, sizeof fbuf, &n, 1, 0, &it, 1), LX_OK);

    lx_level lv = {1, 1, 1};
    assert_int_equal(lx_proto_encode_book(fbuf, sizeof fbuf, &n, 1, 0, 0, 0, &lv,
                                          LX_PROTO_DEPTH_MAX + 1, &lv, 0),
                     LX_ETOOBIG);
    assert_int_equal(lx_proto_encode_book(fbuf, sizeof fbuf, &n, 1, 0, 0, 0, NULL, 1, NULL, 0),
                     LX_EINVAL);

    lx_proto_balance bal;
    memset(&bal, 0, sizeof bal);
    assert_int_equal(lx_proto_encode_balances(fbuf, sizeof fbuf, &n, 1, 0, 1, &bal, 1), LX_EINVAL);
    assert_int_equal(
        lx_proto_encode_balances(fbuf, sizeof fbuf, &n, 1, 0, 1, &bal, LX_PROTO_LIST_MAX + 1),
        LX_ETOOBIG);

    lx_proto_market mk;
    sample_spec(&mk, 1);
    mk.spec.taker_fee_bps = LX_FEE_BPS_MAX + 1;
    assert_int_equal(lx_proto_encode_markets(fbuf, sizeof fbuf, &n, 1, 0, &mk, 1), LX_EINVAL);
    sample_spec(&mk, 1);
    mk.spec.name[0] = '\0';
    assert_int_equal(lx_proto_encode_markets(fbuf, sizeof fbuf, &n, 1, 0, &mk, 1), LX_EINVAL);

    /* decode argument checks */
    lx_proto_msg d;
    assert_int_equal(lx_proto_decode(NULL, NULL, fbuf, 10), LX_EINVAL);
    assert_int_equal(lx_proto_decode(&d, NULL, NULL, 10), LX_EINVAL);
}

/* BUNDLE on requests, and splitting a bundled reply message. */
static void test_bundle(void **state)
{
    (void)state;
    lx_proto_msg m, d;
    init_msg(&m, LX_PROTO_NEW_ORDER);
    sample_order(&m.u.order, 1);
    m.hdr.flags = LX_PROTO_F_BUNDLE;
    size_t n;
    assert_int_equal(lx_proto_encode(fbuf, sizeof fbuf, &n, &m), LX_OK);
    assert_int_equal(lx_proto_decode(&d, NULL, fbuf, n), LX_OK);
    assert_int_equal(d.hdr.flags, LX_PROTO_F_BUNDLE);
    fbuf[5] = 0x0C; /* BUNDLE and an unknown bit */
    expect_malformed(fbuf, n);
    init_msg(&m, LX_PROTO_ACK); /* a reply never carries BUNDLE */
    m.hdr.flags = LX_PROTO_F_BUNDLE;
    assert_int_equal(lx_proto_encode(fbuf, sizeof fbuf, &n, &m), LX_EINVAL);

    /* Three reply frames back to back split into exactly those three. */
    size_t lens[3], off = 0;
    for (unsigned k = 0; k < 3; k++) {
        init_msg(&m, LX_PROTO_ACK);
        m.hdr.req_id = 100 + k;
        m.hdr.flags = k < 2 ? LX_PROTO_F_MORE : 0;
        m.u.ack.seq = k;
        m.u.ack.id = 7 + k;
        assert_int_equal(lx_proto_encode(gbuf + off, sizeof gbuf - off, &lens[k], &m), LX_OK);
        off += lens[k];
    }
    size_t total = off, at = 0, flen;
    const uint8_t *f;
    for (unsigned k = 0; k < 3; k++) {
        assert_int_equal(lx_proto_next_frame(gbuf, total, &at, &f, &flen), LX_OK);
        assert_int_equal(flen, lens[k]);
        assert_int_equal(lx_proto_decode(&d, NULL, f, flen), LX_OK);
        assert_int_equal(d.hdr.req_id, 100 + k);
    }
    assert_int_equal(lx_proto_next_frame(gbuf, total, &at, &f, &flen), LX_ENOTFOUND);
    /* A cut last frame, or a stub shorter than a header, is refused. */
    at = 0;
    for (unsigned k = 0; k < 2; k++)
        assert_int_equal(lx_proto_next_frame(gbuf, total - 1, &at, &f, &flen), LX_OK);
    assert_int_equal(lx_proto_next_frame(gbuf, total - 1, &at, &f, &flen), LX_EFORMAT);
    at = 0;
    assert_int_equal(lx_proto_next_frame(gbuf, 5, &at, &f, &flen), LX_EFORMAT);
    assert_int_equal(lx_proto_next_frame(gbuf, 0, &at, &f, &flen), LX_ENOTFOUND);
}

static void test_names(void **state)
{
    (void)state;
    for (int a = 0; a < LX_PROTO_E_COUNT; a++) {
        const char *s = lx_proto_error_str((lx_proto_error)a);
        assert_string_not_equal(s, "unknown");
        for (int b = 0; b < a; b++)
            assert_string_not_equal(s, lx_proto_error_str((lx_proto_error)b));
    }
    assert_string_equal(lx_proto_error_str(LX_PROTO_E_COUNT), "unknown");
    assert_string_equal(lx_proto_error_str(LX_PROTO_E_BAD_VERSION), "bad_version");
    int known = 0, requests = 0;
    for (int t = 0; t < 256; t++) {
        if (strcmp(lx_proto_type_str((uint8_t)t), "unknown") != 0)
            known++;
        requests += lx_proto_is_request((uint8_t)t);
    }
    assert_int_equal(known, 26);
    assert_int_equal(requests, 12);
    assert_string_equal(lx_proto_type_str(LX_PROTO_CANCEL_BATCH), "cancel_batch");
    assert_string_equal(lx_proto_type_str(LX_PROTO_NEW_ORDER_BATCH), "new_order_batch");
    assert_string_equal(lx_proto_type_str(LX_PROTO_L2_DELTA), "l2_delta");
}

/* ---- random bytes never crash, and every sample decodes ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void test_random_bytes(void **state)
{
    (void)state;
    for (unsigned k = 0; k < SAMPLE_COUNT; k++) {
        size_t n = sample(k);
        expect(fbuf, n, LX_PROTO_E_NONE, LX_OK);
    }
    assert_int_equal(sample_frame(fbuf, sizeof fbuf, SAMPLE_COUNT), 0);

    for (int iter = 0; iter < 20000; iter++) {
        size_t n = (size_t)(rng() % 300);
        uint8_t *b = malloc(n ? n : 1);
        assert_non_null(b);
        for (size_t i = 0; i < n; i++)
            b[i] = (uint8_t)rng();
        /* half the time, a plausible header so the body checks are reached */
        if (n >= LX_PROTO_HDR_LEN && (iter & 1)) {
            b[0] = 'L';
            b[1] = 'X';
            b[2] = 1;
            set_body_len(b, 0, n - LX_PROTO_HDR_LEN);
        }
        lx_proto_msg d;
        lx_err err = lx_proto_decode(&d, NULL, b, n);
        assert_true(err == LX_OK || err == LX_EFORMAT || err == LX_ETOOBIG ||
                    err == LX_EUNSUPPORTED);
        assert_int_equal(LLVMFuzzerTestOneInput(b, n), 0);
        free(b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rt_requests),
        cmocka_unit_test(test_rt_batch),
        cmocka_unit_test(test_rt_cancel_batch),
        cmocka_unit_test(test_rt_replies),
        cmocka_unit_test(test_rt_lists),
        cmocka_unit_test(test_rt_market_data),
        cmocka_unit_test(test_golden_example),
        cmocka_unit_test(test_bad_framing),
        cmocka_unit_test(test_bad_order_fields),
        cmocka_unit_test(test_bad_batch_counts),
        cmocka_unit_test(test_bad_enums),
        cmocka_unit_test(test_bad_strings),
        cmocka_unit_test(test_bad_market_data),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_encode_errors),
        cmocka_unit_test(test_bundle),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_random_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
