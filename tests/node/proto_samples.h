/* Valid sample frames of every client wire protocol type, shared by the
 * protocol tests, the fuzz entry point's driver and its seed corpus. */
#ifndef LX_TEST_PROTO_SAMPLES_H
#define LX_TEST_PROTO_SAMPLES_H

#include <stdio.h>
#include <string.h>

#include "lx/node.h"

#define SAMPLE_COUNT 29

/* Fills o with order k of a batch; every field differs from its neighbours. */
static inline void sample_order(lx_order_cmd *o, unsigned k)
{
    memset(o, 0, sizeof *o);
    o->id = 0x1000000000000000ull + k;
    o->account = 0x2000000000000000ull + 7u * k;
    o->market = 0x30000000u + k;
    o->side = (uint8_t)(k % 2);
    o->type = (uint8_t)(k % 3 == 0);
    o->tif = (uint8_t)(k % 3);
    o->stp = (uint8_t)((k + 1) % 3);
    o->post_only = (k % 5) == 1;
    o->price = 0x4000000000000000ull + 11u * k;
    o->qty = 0x5000000000000000ull + 13u * k;
}

static inline void sample_spec(lx_proto_market *m, unsigned k)
{
    memset(m, 0, sizeof *m);
    m->id = k;
    snprintf(m->spec.name, sizeof m->spec.name, "MKT%u-USD", k);
    snprintf(m->spec.base, sizeof m->spec.base, "MKT%u", k);
    snprintf(m->spec.quote, sizeof m->spec.quote, "USD");
    m->spec.lot = 100000000u + k;
    m->spec.tick = 100u + k;
    m->spec.min_qty = 1u + k;
    m->spec.maker_fee_bps = k % 10001u;
    m->spec.taker_fee_bps = (k * 7u) % 10001u;
}

/* Writes valid sample frame k (0 .. SAMPLE_COUNT-1) into buf and returns its
 * length, or 0 if k is out of range or encoding failed. */
static inline size_t sample_frame(uint8_t *buf, size_t cap, unsigned k)
{
    lx_proto_msg m;
    memset(&m, 0, sizeof m);
    m.hdr.req_id = 0x0102030405060708ull + k;
    size_t n = 0;
    lx_err err = LX_OK;
    switch (k) {
    case 0:
        m.hdr.type = LX_PROTO_NEW_ORDER;
        sample_order(&m.u.order, 1);
        break;
    case 1: {
        lx_order_cmd os[5];
        for (unsigned i = 0; i < 5; i++)
            sample_order(&os[i], i);
        err = lx_proto_encode_batch(buf, cap, &n, m.hdr.req_id, os, 5);
        return err == LX_OK ? n : 0;
    }
    case 2:
        m.hdr.type = LX_PROTO_CANCEL;
        m.u.cancel.id = 42;
        m.u.cancel.account = 7;
        break;
    case 3:
        m.hdr.type = LX_PROTO_REPLACE;
        m.u.replace.id = 42;
        m.u.replace.account = 7;
        m.u.replace.price = 1234;
        m.u.replace.qty = 5;
        break;
    case 4:
        m.hdr.type = LX_PROTO_DEPOSIT;
        m.u.transfer.account = 9;
        m.u.transfer.amount = 1000000;
        strcpy(m.u.transfer.asset, "USD");
        break;
    case 5:
        m.hdr.type = LX_PROTO_WITHDRAW;
        m.u.transfer.account = 9;
        m.u.transfer.amount = 500;
        strcpy(m.u.transfer.asset, "LUX");
        m.u.transfer.dest_len = 10;
        memcpy(m.u.transfer.dest, "X-lux1qqqq", 10);
        break;
    case 6:
        m.hdr.type = LX_PROTO_WITHDRAW; /* no destination */
        m.u.transfer.account = 9;
        m.u.transfer.amount = 1;
        strcpy(m.u.transfer.asset, "ABCDEFGHIJK");
        break;
    case 7:
        m.hdr.type = LX_PROTO_QUERY_BOOK;
        m.u.query_book.market = 3;
        m.u.query_book.depth = 10;
        break;
    case 8:
        m.hdr.type = LX_PROTO_QUERY_ORDER;
        m.u.query_order = 42;
        break;
    case 9:
        m.hdr.type = LX_PROTO_QUERY_BALANCES;
        m.u.query_balances = 9;
        break;
    case 10:
        m.hdr.type = LX_PROTO_QUERY_MARKETS;
        break;
    case 11:
        m.hdr.type = LX_PROTO_PING;
        break;
    case 12:
        m.hdr.type = LX_PROTO_ACK;
        m.u.ack.seq = 77;
        m.u.ack.id = 42;
        break;
    case 13:
        m.hdr.type = LX_PROTO_REJECT;
        m.u.reject.id = 42;
        m.u.reject.reason = LX_R_INSUFFICIENT_BALANCE;
        break;
    case 14:
        m.hdr.type = LX_PROTO_FILL;
        m.hdr.flags = LX_PROTO_F_UNSOLICITED;
        m.u.fill.seq = 78;
        m.u.fill.market = 1;
        m.u.fill.maker = 41;
        m.u.fill.taker = 42;
        m.u.fill.price = 1000;
        m.u.fill.qty = 3;
        m.u.fill.maker_fee = 1;
        m.u.fill.taker_fee = 2;
        m.u.fill.taker_side = LX_SELL;
        m.u.fill.role = 0;
        break;
    case 15:
        m.hdr.type = LX_PROTO_CANCELLED;
        m.u.cancelled.seq = 79;
        m.u.cancelled.id = 42;
        m.u.cancelled.remaining = 2;
        m.u.cancelled.reason = LX_R_IOC;
        break;
    case 16:
        m.hdr.type = LX_PROTO_REPLACED;
        m.u.replaced.seq = 80;
        m.u.replaced.id = 42;
        m.u.replaced.price = 999;
        m.u.replaced.qty = 1;
        break;
    case 17: {
        lx_proto_batch_item it[3] = {
            {.id = 1, .seq = 100, .reason = LX_R_NONE},
            {.id = 2, .seq = 0, .reason = LX_R_BAD_PRICE},
            {.id = 3, .seq = 101, .reason = LX_R_NONE},
        };
        err = lx_proto_encode_batch_result(buf, cap, &n, m.hdr.req_id, LX_PROTO_F_MORE, it, 3);
        return err == LX_OK ? n : 0;
    }
    case 18: {
        lx_level bids[2] = {{1000, 5, 2}, {990, 1, 1}};
        lx_level asks[3] = {{1010, 4, 1}, {1020, 7, 3}, {1030, 9, 4}};
        err = lx_proto_encode_book(buf, cap, &n, m.hdr.req_id, 0, 3, 555, bids, 2, asks, 3);
        return err == LX_OK ? n : 0;
    }
    case 19:
        m.hdr.type = LX_PROTO_ORDER_STATUS;
        m.u.order_status.id = 42;
        m.u.order_status.account = 7;
        m.u.order_status.market = 2;
        m.u.order_status.side = LX_SELL;
        m.u.order_status.tif = LX_GTC;
        m.u.order_status.stp = LX_STP_EXPIRE_BOTH;
        m.u.order_status.post_only = true;
        m.u.order_status.price = 1500;
        m.u.order_status.qty = 8;
        m.u.order_status.filled = 2;
        break;
    case 20: {
        lx_proto_balance b[2];
        memset(b, 0, sizeof b);
        strcpy(b[0].asset, "LUX");
        b[0].available = 10;
        b[0].reserved = 20;
        strcpy(b[1].asset, "USD");
        b[1].available = 30;
        b[1].reserved = 40;
        err = lx_proto_encode_balances(buf, cap, &n, m.hdr.req_id, 0, 9, b, 2);
        return err == LX_OK ? n : 0;
    }
    case 21: {
        lx_proto_market mk[2];
        sample_spec(&mk[0], 0);
        sample_spec(&mk[1], 1);
        err = lx_proto_encode_markets(buf, cap, &n, m.hdr.req_id, 0, mk, 2);
        return err == LX_OK ? n : 0;
    }
    case 22:
        m.hdr.type = LX_PROTO_PONG;
        m.u.pong.seq = 81;
        m.u.pong.leader = 1;
        break;
    case 23:
        m.hdr.type = LX_PROTO_ERROR;
        m.u.error.code = LX_PROTO_E_NOT_LEADER;
        strcpy(m.u.error.text, "leader tcp://10.0.0.1:5002");
        m.u.error.text_len = (uint8_t)strlen(m.u.error.text);
        break;
    case 24:
        m.hdr.type = LX_PROTO_TRADE;
        m.hdr.req_id = 0;
        m.u.trade.market = 3;
        m.u.trade.seq = 17;
        m.u.trade.price = 1000;
        m.u.trade.qty = 2;
        m.u.trade.taker_side = LX_BUY;
        break;
    case 25:
        m.hdr.type = LX_PROTO_L2_DELTA;
        m.hdr.req_id = 0;
        m.u.l2.market = 3;
        m.u.l2.seq = 18;
        m.u.l2.side = LX_SELL;
        m.u.l2.price = 1010;
        m.u.l2.qty = 0;
        break;
    case 26: {
        lx_proto_balance none;
        memset(&none, 0, sizeof none);
        err = lx_proto_encode_balances(buf, cap, &n, m.hdr.req_id, 0, 9, &none, 0);
        return err == LX_OK ? n : 0;
    }
    case 27: {
        lx_level b1 = {1000, 5, 2};
        err = lx_proto_encode_book(buf, cap, &n, m.hdr.req_id, 0, 0, 0, &b1, 1, NULL, 0);
        return err == LX_OK ? n : 0;
    }
    case 28: {
        lx_cancel_cmd cs[3] = {{11, 1}, {12, 1}, {0xffffffffffffffffull, 2}};
        err = lx_proto_encode_cancel_batch(buf, cap, &n, m.hdr.req_id, cs, 3);
        return err == LX_OK ? n : 0;
    }
    default:
        return 0;
    }
    err = lx_proto_encode(buf, cap, &n, &m);
    return err == LX_OK ? n : 0;
}

#endif
