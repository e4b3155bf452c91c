/* lx-bench-zmq: the bare ZeroMQ baseline for node latency and throughput (a
 * DEALER/ROUTER round trip on loopback TCP with wire-protocol frame sizes),
 * and a protocol sink server for measuring test-client itself. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lx/node.h"

static const char usage[] =
    "usage: lx-bench-zmq [--mode latency|throughput|all] [options]\n"
    "       lx-bench-zmq --sink ENDPOINT\n"
    "\n"
    "Measures a bare ZeroMQ DEALER/ROUTER exchange on loopback TCP between this\n"
    "process and an echo thread with its own ZeroMQ context. Frames have the sizes\n"
    "of the client wire protocol: a 59-byte NEW_ORDER answered by a 34-byte ACK,\n"
    "and NEW_ORDER_BATCH frames answered by BATCH_RESULT frames. Nothing is\n"
    "decoded, so this is the floor under a node's own latency and throughput.\n"
    "\n"
    "  --mode M          latency, throughput or all (default all)\n"
    "  --round-trips N   round trips per latency run (default 20000)\n"
    "  --messages N      batch frames per throughput run (default 20000)\n"
    "  --batch B         orders per batch frame, 1 to 256 (default 64)\n"
    "  --window W        batch frames in flight at once (default 32)\n"
    "  --runs R          runs of each; the median run is reported (default 5)\n"
    "  --port P          first loopback port to try (default 47600)\n"
    "  --busy-poll       the latency runs wait for each reply by polling in a loop\n"
    "                    instead of sleeping in recv, as test-client --busy-poll\n"
    "                    does: its baseline\n"
    "  --json            print one JSON object on stdout\n"
    "  --sink ENDPOINT   instead: serve the wire protocol on a ROUTER bound to\n"
    "                    ENDPOINT, answering PING, QUERY_MARKETS (BTC-USD, ETH-USD),\n"
    "                    DEPOSIT, NEW_ORDER, NEW_ORDER_BATCH, CANCEL and CANCEL_BATCH\n"
    "                    at once with success and malformed frames with ERROR, until\n"
    "                    SIGINT or SIGTERM; a stand-in node for load-testing\n"
    "                    test-client\n"
    "  --help            show this text\n";

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static int parse_u64(uint64_t *out, const char *s, uint64_t lo, uint64_t hi)
{
    if (s == NULL || *s < '0' || *s > '9')
        return 0;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < lo || v > hi)
        return 0;
    *out = (uint64_t)v;
    return 1;
}

/* ---- echo server ---- */

#define STOP_BYTE 0x51 /* a one-byte message that ends the echo thread */

typedef struct echo_server {
    lx_zctx *ctx;
    lx_zsock *s;
    char ep[64];
    pthread_t thread;
    uint8_t ack[64];
    size_t ack_len;
    uint8_t result[LX_PROTO_FRAME_MAX];
} echo_server;

/* Answers a 59-byte frame with an ACK-sized frame and a batch frame with a
 * BATCH_RESULT-sized frame of the same count, copying the req_id. */
static void *echo_main(void *arg)
{
    echo_server *e = arg;
    for (;;) {
        lx_zmsg m;
        if (lx_zsock_recv(e->s, &m, 0) != LX_OK)
            continue;
        if (m.n != 2) {
            lx_zmsg_close(&m);
            continue;
        }
        const uint8_t *req = m.part[1].data;
        size_t len = m.part[1].len;
        if (len == 1 && req[0] == STOP_BYTE) {
            lx_zmsg_close(&m);
            break;
        }
        uint8_t *reply;
        size_t rlen;
        if (len == LX_PROTO_HDR_LEN + 41u) {
            reply = e->ack;
            rlen = e->ack_len;
        } else {
            size_t count = len > LX_PROTO_HDR_LEN + 2u ? (len - LX_PROTO_HDR_LEN - 2u) / 41u : 0;
            reply = e->result;
            rlen = LX_PROTO_HDR_LEN + 2u + 17u * count;
        }
        if (len >= LX_PROTO_HDR_LEN)
            memcpy(reply + 6, req + 6, 8); /* req_id */
        lx_zpart parts[2] = {{m.part[0].data, m.part[0].len}, {reply, rlen}};
        (void)lx_zsock_send(e->s, parts, 2, 0);
        lx_zmsg_close(&m);
    }
    return NULL;
}

static lx_err echo_start(echo_server *e, unsigned port0)
{
    memset(e, 0, sizeof *e);
    lx_proto_msg a;
    memset(&a, 0, sizeof a);
    a.hdr.type = LX_PROTO_ACK;
    a.u.ack.seq = 1;
    a.u.ack.id = 1;
    lx_err err = lx_proto_encode(e->ack, sizeof e->ack, &e->ack_len, &a);
    if (err != LX_OK)
        return err;
    /* The batch result frame's contents do not matter to the client here. */
    memcpy(e->result, e->ack, LX_PROTO_HDR_LEN);
    e->result[3] = LX_PROTO_BATCH_RESULT;
    if ((err = lx_zctx_new(&e->ctx, 1)) != LX_OK)
        return err;
    lx_zsock_opts o;
    lx_zsock_opts_init(&o);
    o.linger_ms = 0;
    if ((err = lx_zsock_new(&e->s, e->ctx, LX_ZROUTER, &o)) != LX_OK)
        return err;
    for (unsigned p = port0; p < port0 + 400u; p++) {
        snprintf(e->ep, sizeof e->ep, "tcp://127.0.0.1:%u", p);
        err = lx_zsock_bind(e->s, e->ep);
        if (err != LX_EEXIST)
            break;
    }
    if (err != LX_OK)
        return err;
    return pthread_create(&e->thread, NULL, echo_main, e) == 0 ? LX_OK : LX_ENOMEM;
}

static void echo_stop(echo_server *e, lx_zsock *client)
{
    uint8_t b = STOP_BYTE;
    lx_zpart p = {&b, 1};
    (void)lx_zsock_send(client, &p, 1, 0);
    pthread_join(e->thread, NULL);
    lx_zsock_free(&e->s);
    lx_zctx_free(&e->ctx);
}

/* ---- measurements ---- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

/* busy (--busy-poll): wait for the reply by polling without blocking, as
 * test-client --busy-poll does, rather than sleeping in recv. */
static lx_err round_trip(lx_zsock *s, const uint8_t *req, size_t len, int busy)
{
    lx_zpart p = {req, len};
    lx_err err = lx_zsock_send(s, &p, 1, 0);
    if (err != LX_OK)
        return err;
    lx_zmsg m;
    while ((err = lx_zsock_recv(s, &m, busy ? LX_ZDONTWAIT : 0)) == LX_EAGAIN)
        sched_yield(); /* as test-client --busy-poll does */
    if (err != LX_OK)
        return err;
    lx_zmsg_close(&m);
    return LX_OK;
}

typedef struct lat_result {
    double p50, p90, p99, p999, mean; /* microseconds, median over runs */
} lat_result;

static lx_err measure_latency(lat_result *out, lx_zsock *s, uint64_t n, unsigned runs, int busy)
{
    uint8_t req[128];
    size_t len = 0;
    lx_proto_msg m;
    memset(&m, 0, sizeof m);
    m.hdr.type = LX_PROTO_NEW_ORDER;
    m.u.order = (lx_order_cmd){.id = 1, .account = 1, .price = 100, .qty = 1};
    lx_err err = lx_proto_encode(req, sizeof req, &len, &m);
    if (err != LX_OK)
        return err;
    lx_hist *h = NULL;
    if ((err = lx_hist_new(&h)) != LX_OK)
        return err;
    double p50[16], p90[16], p99[16], p999[16], mean[16];
    for (uint64_t i = 0; i < 2000 && err == LX_OK; i++) /* warm up */
        err = round_trip(s, req, len, busy);
    for (unsigned r = 0; r < runs && err == LX_OK; r++) {
        lx_hist_reset(h);
        for (uint64_t i = 0; i < n && err == LX_OK; i++) {
            uint64_t t0 = lx_now_ns();
            err = round_trip(s, req, len, busy);
            lx_hist_record(h, lx_now_ns() - t0); /* ns: the histogram has no unit */
        }
        p50[r] = (double)lx_hist_percentile(h, 50) / 1e3;
        p90[r] = (double)lx_hist_percentile(h, 90) / 1e3;
        p99[r] = (double)lx_hist_percentile(h, 99) / 1e3;
        p999[r] = (double)lx_hist_percentile(h, 99.9) / 1e3;
        mean[r] = lx_hist_mean(h) / 1e3;
    }
    lx_hist_free(&h);
    if (err != LX_OK)
        return err;
    out->p50 = median(p50, runs);
    out->p90 = median(p90, runs);
    out->p99 = median(p99, runs);
    out->p999 = median(p999, runs);
    out->mean = median(mean, runs);
    return LX_OK;
}

typedef struct tput_result {
    double frames_per_s, orders_per_s;
    size_t req_bytes, reply_bytes;
} tput_result;

static lx_err measure_throughput(tput_result *out, lx_zsock *s, uint64_t n, unsigned batch,
                                 unsigned window, unsigned runs)
{
    lx_order_cmd orders[LX_PROTO_BATCH_MAX];
    for (unsigned i = 0; i < batch; i++)
        orders[i] = (lx_order_cmd){.id = 1 + i, .account = 1, .price = 100, .qty = 1};
    static uint8_t req[LX_PROTO_FRAME_MAX];
    size_t len = 0;
    lx_err err = lx_proto_encode_batch(req, sizeof req, &len, 1, orders, batch);
    if (err != LX_OK)
        return err;
    double fps[16];
    for (unsigned r = 0; r < runs && err == LX_OK; r++) {
        uint64_t sent = 0, got = 0;
        uint64_t t0 = lx_now_ns();
        while (got < n && err == LX_OK) {
            while (sent < n && sent - got < window && err == LX_OK) {
                lx_zpart p = {req, len};
                err = lx_zsock_send(s, &p, 1, 0);
                sent++;
            }
            lx_zmsg m;
            if (err == LX_OK && (err = lx_zsock_recv(s, &m, 0)) == LX_OK) {
                if (r == 0 && got == 0)
                    out->reply_bytes = m.part[0].len;
                lx_zmsg_close(&m);
                got++;
            }
        }
        double secs = (double)(lx_now_ns() - t0) / 1e9;
        fps[r] = (double)n / secs;
    }
    if (err != LX_OK)
        return err;
    out->frames_per_s = median(fps, runs);
    out->orders_per_s = out->frames_per_s * batch;
    out->req_bytes = len;
    return LX_OK;
}

/* ---- sink server ---- */

static lx_err sink_reply(lx_zsock *s, const lx_zpart *id, const uint8_t *b, size_t len)
{
    lx_zpart parts[2] = {*id, {b, len}};
    return lx_zsock_send(s, parts, 2, 0);
}

static int run_sink(const char *ep)
{
    lx_zctx *ctx = NULL;
    lx_zsock *s = NULL;
    lx_zsock_opts o;
    lx_zsock_opts_init(&o);
    o.sndhwm = o.rcvhwm = 1000000;
    o.linger_ms = 0;
    lx_err err = lx_zctx_new(&ctx, 1);
    if (err == LX_OK)
        err = lx_zsock_new(&s, ctx, LX_ZROUTER, &o);
    if (err == LX_OK)
        err = lx_zsock_bind(s, ep);
    if (err != LX_OK) {
        fprintf(stderr, "lx-bench-zmq: --sink %s: %s\n", ep, lx_strerror(err));
        lx_zsock_free(&s);
        lx_zctx_free(&ctx);
        return 1;
    }
    fprintf(stderr, "lx-bench-zmq: sink on %s\n", ep);
    lx_proto_market mk[2];
    memset(mk, 0, sizeof mk);
    const char *names[2][3] = {{"BTC-USD", "BTC", "USD"}, {"ETH-USD", "ETH", "USD"}};
    for (uint32_t i = 0; i < 2; i++) {
        mk[i].id = i;
        snprintf(mk[i].spec.name, sizeof mk[i].spec.name, "%s", names[i][0]);
        snprintf(mk[i].spec.base, sizeof mk[i].spec.base, "%s", names[i][1]);
        snprintf(mk[i].spec.quote, sizeof mk[i].spec.quote, "%s", names[i][2]);
        mk[i].spec.lot = mk[i].spec.tick = mk[i].spec.min_qty = 1;
    }
    static uint8_t out[LX_PROTO_FRAME_MAX];
    static lx_proto_batch_item items[LX_PROTO_BATCH_MAX];
    uint64_t seq = 0, requests = 0;
    while (!stop_requested) {
        lx_zpollitem it = {.sock = s, .events = LX_ZPOLLIN};
        int nready = 0;
        if (lx_zpoll(&nready, &it, 1, 200) != LX_OK || nready == 0)
            continue;
        lx_zmsg m;
        while (lx_zsock_recv(s, &m, LX_ZDONTWAIT) == LX_OK) {
            if (m.n != 2) {
                lx_zmsg_close(&m);
                continue;
            }
            requests++;
            lx_proto_msg req, rep;
            lx_proto_error code = LX_PROTO_E_NONE;
            memset(&rep, 0, sizeof rep);
            size_t n = 0;
            lx_err e = lx_proto_decode(&req, &code, m.part[1].data, m.part[1].len);
            rep.hdr.req_id = req.hdr.req_id;
            if (e == LX_OK && !lx_proto_is_request(req.hdr.type))
                code = LX_PROTO_E_UNKNOWN_TYPE;
            if (code != LX_PROTO_E_NONE) {
                rep.hdr.type = LX_PROTO_ERROR;
                rep.u.error.code = (uint16_t)code;
                e = lx_proto_encode(out, sizeof out, &n, &rep);
            } else {
                switch (req.hdr.type) {
                case LX_PROTO_PING:
                    rep.hdr.type = LX_PROTO_PONG;
                    rep.u.pong.seq = seq;
                    rep.u.pong.leader = 1;
                    e = lx_proto_encode(out, sizeof out, &n, &rep);
                    break;
                case LX_PROTO_QUERY_MARKETS:
                    e = lx_proto_encode_markets(out, sizeof out, &n, req.hdr.req_id, 0, mk, 2);
                    break;
                case LX_PROTO_DEPOSIT:
                case LX_PROTO_NEW_ORDER:
                    rep.hdr.type = LX_PROTO_ACK;
                    rep.u.ack.seq = ++seq;
                    rep.u.ack.id = req.hdr.type == LX_PROTO_NEW_ORDER ? req.u.order.id : 0;
                    e = lx_proto_encode(out, sizeof out, &n, &rep);
                    break;
                case LX_PROTO_NEW_ORDER_BATCH:
                    for (size_t i = 0; i < req.u.batch.count; i++) {
                        lx_order_cmd oc;
                        (void)lx_proto_batch_get(&req, &oc, i);
                        items[i] = (lx_proto_batch_item){oc.id, ++seq, LX_R_NONE};
                    }
                    e = lx_proto_encode_batch_result(out, sizeof out, &n, req.hdr.req_id, 0, items,
                                                     req.u.batch.count);
                    break;
                case LX_PROTO_CANCEL_BATCH:
                    for (size_t i = 0; i < req.u.batch.count; i++) {
                        lx_cancel_cmd cc;
                        (void)lx_proto_cancel_batch_get(&req, &cc, i);
                        items[i] = (lx_proto_batch_item){cc.id, ++seq, LX_R_NONE};
                    }
                    e = lx_proto_encode_batch_result(out, sizeof out, &n, req.hdr.req_id, 0, items,
                                                     req.u.batch.count);
                    break;
                case LX_PROTO_CANCEL:
                    rep.hdr.type = LX_PROTO_CANCELLED;
                    rep.u.cancelled.seq = ++seq;
                    rep.u.cancelled.id = req.u.cancel.id;
                    rep.u.cancelled.remaining = 1;
                    rep.u.cancelled.reason = LX_R_USER;
                    e = lx_proto_encode(out, sizeof out, &n, &rep);
                    break;
                default:
                    rep.hdr.type = LX_PROTO_ERROR;
                    rep.u.error.code = LX_PROTO_E_UNAVAILABLE;
                    e = lx_proto_encode(out, sizeof out, &n, &rep);
                    break;
                }
            }
            if (e == LX_OK)
                (void)sink_reply(s, &m.part[0], out, n);
            lx_zmsg_close(&m);
        }
    }
    fprintf(stderr, "lx-bench-zmq: sink answered %" PRIu64 " requests\n", requests);
    lx_zsock_free(&s);
    lx_zctx_free(&ctx);
    return 0;
}

int main(int argc, char **argv)
{
    const char *mode = "all", *sink = NULL;
    uint64_t round_trips = 20000, messages = 20000, batch = 64, window = 32, runs = 5, port = 47600;
    int json = 0, busy_poll = 0;
    lx_timer_slack_min();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int ok = 1, takes = 1;
        if (strcmp(a, "--help") == 0) {
            fputs(usage, stdout);
            return 0;
        } else if (strcmp(a, "--json") == 0) {
            json = 1;
            takes = 0;
        } else if (strcmp(a, "--busy-poll") == 0) {
            busy_poll = 1;
            takes = 0;
        } else if (strcmp(a, "--mode") == 0) {
            ok = v != NULL && (strcmp(v, "latency") == 0 || strcmp(v, "throughput") == 0 ||
                               strcmp(v, "all") == 0);
            mode = v;
        } else if (strcmp(a, "--sink") == 0) {
            ok = v != NULL && *v != '\0';
            sink = v;
        } else if (strcmp(a, "--round-trips") == 0) {
            ok = parse_u64(&round_trips, v, 1, 100000000);
        } else if (strcmp(a, "--messages") == 0) {
            ok = parse_u64(&messages, v, 1, 1000000000);
        } else if (strcmp(a, "--batch") == 0) {
            ok = parse_u64(&batch, v, 1, LX_PROTO_BATCH_MAX);
        } else if (strcmp(a, "--window") == 0) {
            ok = parse_u64(&window, v, 1, 100000);
        } else if (strcmp(a, "--runs") == 0) {
            ok = parse_u64(&runs, v, 1, 15);
        } else if (strcmp(a, "--port") == 0) {
            ok = parse_u64(&port, v, 1024, 65000);
        } else {
            fprintf(stderr, "lx-bench-zmq: unknown option %s (see --help)\n", a);
            return 2;
        }
        if (!ok) {
            fprintf(stderr, "lx-bench-zmq: %s: bad or missing value (see --help)\n", a);
            return 2;
        }
        i += takes;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (sink != NULL)
        return run_sink(sink);

    echo_server e;
    lx_err err = echo_start(&e, (unsigned)port);
    if (err != LX_OK) {
        fprintf(stderr, "lx-bench-zmq: echo server: %s\n", lx_strerror(err));
        return 1;
    }
    lx_zctx *ctx = NULL;
    lx_zsock *s = NULL;
    lx_zsock_opts o;
    lx_zsock_opts_init(&o);
    o.linger_ms = 0;
    if ((err = lx_zctx_new(&ctx, 1)) == LX_OK &&
        (err = lx_zsock_new(&s, ctx, LX_ZDEALER, &o)) == LX_OK)
        err = lx_zsock_connect(s, e.ep);
    lat_result lat;
    tput_result tp;
    memset(&lat, 0, sizeof lat);
    memset(&tp, 0, sizeof tp);
    int do_lat = strcmp(mode, "throughput") != 0, do_tp = strcmp(mode, "latency") != 0;
    if (err == LX_OK && do_lat)
        err = measure_latency(&lat, s, round_trips, (unsigned)runs, busy_poll);
    if (err == LX_OK && do_tp)
        err =
            measure_throughput(&tp, s, messages, (unsigned)batch, (unsigned)window, (unsigned)runs);
    if (s != NULL)
        echo_stop(&e, s);
    lx_zsock_free(&s);
    lx_zctx_free(&ctx);
    if (err != LX_OK) {
        fprintf(stderr, "lx-bench-zmq: %s\n", lx_strerror(err));
        return 1;
    }
    if (json) {
        printf("{\"endpoint\":\"%s\",\"runs\":%" PRIu64, e.ep, runs);
        if (do_lat)
            printf(",\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"p999\":%.1f", lat.p50, lat.p90,
                   lat.p99, lat.p999);
        if (do_lat)
            printf(",\"latency\":{\"round_trips\":%" PRIu64 ",\"busy_poll\":%s"
                   ",\"request_bytes\":59,\"reply_bytes\":34,\"round_trip_us\":{\"p50\":%.1f,"
                   "\"p90\":%.1f,\"p99\":%.1f,\"p999\":%.1f,\"mean\":%.1f}}",
                   round_trips, busy_poll ? "true" : "false", lat.p50, lat.p90, lat.p99, lat.p999,
                   lat.mean);
        if (do_tp)
            printf(",\"throughput\":{\"messages\":%" PRIu64 ",\"batch\":%" PRIu64
                   ",\"window\":%" PRIu64 ",\"request_bytes\":%zu,\"reply_bytes\":%zu,"
                   "\"frames_per_s\":%.0f,\"orders_per_s\":%.0f}",
                   messages, batch, window, tp.req_bytes, tp.reply_bytes, tp.frames_per_s,
                   tp.orders_per_s);
        printf("}\n");
    } else {
        printf("lx-bench-zmq: DEALER/ROUTER over %s, median of %" PRIu64 " runs\n", e.ep, runs);
        if (do_lat)
            printf("round trip  59 B NEW_ORDER -> 34 B ACK, %" PRIu64
                   " round trips%s: p50 %.1f us  p90 %.1f us  p99 %.1f us  p99.9 %.1f us  mean "
                   "%.1f us\n",
                   round_trips, busy_poll ? " (busy-polling)" : "", lat.p50, lat.p90, lat.p99,
                   lat.p999, lat.mean);
        if (do_tp)
            printf("throughput  %zu B batch of %" PRIu64 " -> %zu B result, window %" PRIu64
                   ": %.0f frames/s = %.0f orders/s\n",
                   tp.req_bytes, batch, tp.reply_bytes, window, tp.frames_per_s, tp.orders_per_s);
    }
    return 0;
}
