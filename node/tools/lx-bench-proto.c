/* lx-bench-proto: measures the client wire protocol codec (node/proto.c) and
 * prints encode and decode nanoseconds per order for single and batch frames. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lx/node.h"

static const char usage[] =
    "usage: lx-bench-proto [--orders N] [--example] [--help]\n"
    "\n"
    "Measures the client wire protocol codec and prints, per order, the time to\n"
    "encode and to decode (decode includes reading every order of a batch) for\n"
    "NEW_ORDER frames and NEW_ORDER_BATCH frames of 16, 64 and 256 orders, and\n"
    "per entry for ACK and BATCH_RESULT replies. Single-threaded, no I/O.\n"
    "\n"
    "  --orders N   orders to process per figure (default 4000000)\n"
    "  --example    print the NEW_ORDER and ACK frames of docs/protocol.md in hex\n"
    "               and exit\n"
    "  --help       show this text\n";

static volatile uint64_t sink;

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void fill_orders(lx_order_cmd *o, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        memset(&o[i], 0, sizeof o[i]);
        o[i].id = 1000000 + i;
        o[i].account = 1 + i % 97;
        o[i].market = (uint32_t)(i % 4);
        o[i].side = (uint8_t)(i % 2);
        o[i].type = LX_LIMIT;
        o[i].tif = (uint8_t)(i % 3);
        o[i].stp = LX_STP_EXPIRE_MAKER;
        o[i].price = 50000 + i % 100;
        o[i].qty = 1 + i % 10;
    }
}

static int die(const char *what, lx_err err)
{
    fprintf(stderr, "lx-bench-proto: %s: %s\n", what, lx_strerror(err));
    return 1;
}

static void hex(const char *title, const uint8_t *b, size_t n)
{
    printf("%s (%zu bytes):\n", title, n);
    for (size_t i = 0; i < n; i++)
        printf("%02x%s", b[i], (i % 16 == 15 || i + 1 == n) ? "\n" : " ");
}

static int example(void)
{
    uint8_t buf[128];
    size_t n = 0;
    lx_proto_msg m;
    memset(&m, 0, sizeof m);
    m.hdr.type = LX_PROTO_NEW_ORDER;
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
    lx_err err = lx_proto_encode(buf, sizeof buf, &n, &m);
    if (err != LX_OK)
        return die("encode NEW_ORDER", err);
    hex("NEW_ORDER req_id=1 id=1001 account=7 market=0 buy limit gtc price=50000 qty=2", buf, n);

    memset(&m, 0, sizeof m);
    m.hdr.type = LX_PROTO_ACK;
    m.hdr.req_id = 1;
    m.u.ack.seq = 12;
    m.u.ack.id = 1001;
    err = lx_proto_encode(buf, sizeof buf, &n, &m);
    if (err != LX_OK)
        return die("encode ACK", err);
    hex("ACK req_id=1 seq=12 id=1001", buf, n);

    memset(&m, 0, sizeof m);
    m.hdr.type = LX_PROTO_TRADE;
    m.u.trade =
        (lx_proto_trade){.market = 0, .seq = 5, .price = 50000, .qty = 2, .taker_side = LX_SELL};
    err = lx_proto_encode(buf, sizeof buf, &n, &m);
    if (err != LX_OK)
        return die("encode TRADE", err);
    hex("TRADE market=0 seq=5 price=50000 qty=2 taker=sell", buf, n);
    return 0;
}

/* Encodes and decodes `total` orders in frames of `per` orders (1: NEW_ORDER
 * frames, otherwise NEW_ORDER_BATCH) and prints ns per order. */
static int bench_orders(size_t per, size_t total)
{
    static lx_order_cmd orders[LX_PROTO_BATCH_MAX];
    static uint8_t buf[LX_PROTO_FRAME_MAX];
    fill_orders(orders, LX_PROTO_BATCH_MAX);
    size_t frames = total / per;
    if (frames == 0)
        frames = 1;
    size_t n = 0;
    lx_err err = LX_OK;
    lx_proto_msg m;
    memset(&m, 0, sizeof m);
    m.hdr.type = LX_PROTO_NEW_ORDER;

    double t0 = now_ns();
    for (size_t f = 0; f < frames; f++) {
        if (per == 1) {
            m.hdr.req_id = f;
            m.u.order = orders[f % LX_PROTO_BATCH_MAX];
            err = lx_proto_encode(buf, sizeof buf, &n, &m);
        } else {
            err = lx_proto_encode_batch(buf, sizeof buf, &n, f, orders, per);
        }
        if (err != LX_OK)
            return die("encode", err);
        sink += buf[n - 1];
    }
    double enc = (now_ns() - t0) / (double)(frames * per);

    /* decode the last frame over and over, reading every order */
    lx_proto_msg d;
    lx_order_cmd o;
    uint64_t acc = 0;
    t0 = now_ns();
    for (size_t f = 0; f < frames; f++) {
        err = lx_proto_decode(&d, NULL, buf, n);
        if (err != LX_OK)
            return die("decode", err);
        if (per == 1) {
            acc += d.u.order.qty;
        } else {
            for (size_t i = 0; i < d.u.batch.count; i++) {
                lx_proto_batch_get(&d, &o, i);
                acc += o.qty;
            }
        }
    }
    double dec = (now_ns() - t0) / (double)(frames * per);
    sink += acc;
    char label[32];
    if (per == 1)
        snprintf(label, sizeof label, "new_order");
    else
        snprintf(label, sizeof label, "batch of %zu", per);
    printf("%-16s %8zu %10.1f %10.1f %12.1f\n", label, n, enc, dec, (double)n / (double)per);
    return 0;
}

/* ACK per order and BATCH_RESULT per entry, the replies to the above. */
static int bench_replies(size_t total)
{
    static uint8_t buf[LX_PROTO_FRAME_MAX];
    static lx_proto_batch_item items[64];
    size_t n = 0;
    lx_err err;
    lx_proto_msg m, d;
    memset(&m, 0, sizeof m);
    m.hdr.type = LX_PROTO_ACK;

    double t0 = now_ns();
    for (size_t i = 0; i < total; i++) {
        m.hdr.req_id = i;
        m.u.ack.seq = i;
        m.u.ack.id = i + 1;
        if ((err = lx_proto_encode(buf, sizeof buf, &n, &m)) != LX_OK)
            return die("encode ack", err);
        sink += buf[n - 1];
    }
    double enc = (now_ns() - t0) / (double)total;
    t0 = now_ns();
    for (size_t i = 0; i < total; i++) {
        if ((err = lx_proto_decode(&d, NULL, buf, n)) != LX_OK)
            return die("decode ack", err);
        sink += d.u.ack.seq;
    }
    double dec = (now_ns() - t0) / (double)total;
    printf("%-16s %8zu %10.1f %10.1f %12.1f\n", "ack", n, enc, dec, (double)n);

    for (size_t i = 0; i < 64; i++) {
        items[i].id = 1000 + i;
        items[i].reason = i % 8 == 7 ? LX_R_INSUFFICIENT_BALANCE : LX_R_NONE;
        items[i].seq = items[i].reason ? 0 : 5000 + i;
    }
    size_t frames = total / 64 ? total / 64 : 1;
    t0 = now_ns();
    for (size_t f = 0; f < frames; f++) {
        if ((err = lx_proto_encode_batch_result(buf, sizeof buf, &n, f, 0, items, 64)) != LX_OK)
            return die("encode batch_result", err);
        sink += buf[n - 1];
    }
    enc = (now_ns() - t0) / (double)(frames * 64);
    lx_proto_batch_item it;
    t0 = now_ns();
    for (size_t f = 0; f < frames; f++) {
        if ((err = lx_proto_decode(&d, NULL, buf, n)) != LX_OK)
            return die("decode batch_result", err);
        for (size_t i = 0; i < d.u.batch.count; i++) {
            lx_proto_batch_result_get(&d, &it, i);
            sink += it.seq;
        }
    }
    dec = (now_ns() - t0) / (double)(frames * 64);
    printf("%-16s %8zu %10.1f %10.1f %12.1f\n", "batch_result 64", n, enc, dec, (double)n / 64);
    return 0;
}

int main(int argc, char **argv)
{
    size_t total = 4000000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        } else if (strcmp(argv[i], "--example") == 0) {
            return example();
        } else if (strcmp(argv[i], "--orders") == 0 && i + 1 < argc) {
            char *end;
            unsigned long long v = strtoull(argv[++i], &end, 10);
            if (*end != '\0' || v == 0 || v > 1000000000ull) {
                fprintf(stderr, "lx-bench-proto: --orders wants 1 .. 1000000000\n");
                return 2;
            }
            total = (size_t)v;
        } else {
            fprintf(stderr, "lx-bench-proto: unknown argument '%s'\n%s", argv[i], usage);
            return 2;
        }
    }

    printf("%-16s %8s %10s %10s %12s\n", "frame", "bytes", "enc ns", "dec ns", "bytes/order");
    const size_t per[] = {1, 16, 64, 256};
    for (size_t i = 0; i < sizeof per / sizeof per[0]; i++)
        if (bench_orders(per[i], total) != 0)
            return 1;
    if (bench_replies(total) != 0)
        return 1;
    return 0;
}
