/* test-client: an open-loop load generator and protocol checker for a cluster
 * of lxdex nodes, speaking the client wire protocol over DEALER sockets. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "lx/node.h"

static const char usage[] =
    "usage: test-client --nodes LIST [options]\n"
    "\n"
    "Sends limit orders to lxdex nodes on a fixed open-loop schedule and measures\n"
    "the latency of each from its intended send time to its acknowledgement.\n"
    "\n"
    "  --nodes LIST           comma-separated request endpoints (ROUTER, base port + 2),\n"
    "                         e.g. \"tcp://localhost:5002,tcp://localhost:5102\" (required)\n"
    "  --duration D           length of the timed phase (default 10s); units ns us ms s m h;\n"
    "                         0 only checks that every node answers PING\n"
    "  --rate R               orders per second in total over all nodes (default 1000)\n"
    "  --batch B              orders per frame, 1 to 256 (default 1); over 1 sends\n"
    "                         NEW_ORDER_BATCH frames\n"
    "  --batch-wait D         with --batch: send a partial frame once its first order\n"
    "                         has been due this long (default 1ms)\n"
    "  --accounts N           accounts to trade from (default 100)\n"
    "  --account-base A       first account id (default 1)\n"
    "  --markets LIST         market names to trade (default every market the first node\n"
    "                         lists in MARKETS)\n"
    "  --seed S               random seed (default from the clock); printed in the summary\n"
    "  --id-base N            high bits of order ids, 1 to 8388607, so that clients do not\n"
    "                         collide (default derived from the seed)\n"
    "  --cancel-ratio F       share of orders cancelled again once acknowledged\n"
    "                         (default 0.1)\n"
    "  --acked-log FILE       write every acknowledged order id, one per line\n"
    "  --json                 print the summary as one JSON object on stdout\n"
    "  --quiet                no progress lines\n"
    "  --error-threshold F    exit 1 if errors / sent is over F (default 0.01)\n"
    "  --connect-timeout D    time for every node to answer PING (default 5s)\n"
    "  --wait-ready D         ping every node until all answer or D passes; without\n"
    "                         --duration, exit 0 when all answered and 1 otherwise\n"
    "  --drain D              after the timed phase, wait this long at most for\n"
    "                         outstanding replies (default 5s)\n"
    "  --malformed N          send N malformed frames of assorted kinds to each node\n"
    "                         instead of load, check each gets the right ERROR and the\n"
    "                         node still answers PING\n"
    "  --help                 show this text\n"
    "\n"
    "Exit status: 0 ok; 1 a node did not answer, funding failed, errors over the\n"
    "threshold or a malformed-frame check failed; 2 bad arguments.\n"
    "See docs/test-client.md.\n";

#define NODES_MAX 32
#define EP_MAX 256
#define CANCEL_RING 65536u /* orders marked for a cancel, by schedule index */
#define RECV_BURST 4096    /* messages read per socket before looking at the clock */
#define HWM 1000000        /* queue deep rather than drop or block */

typedef struct opts {
    char node_list[NODES_MAX * EP_MAX];
    char *nodes[NODES_MAX];
    size_t nnodes;
    uint64_t duration_ns;
    int have_duration, no_load;
    double rate;
    unsigned batch;
    uint64_t batch_wait_ns;
    uint64_t accounts, account_base;
    char markets[512];
    uint64_t seed;
    uint64_t id_base;
    double cancel_ratio;
    const char *acked_log;
    int json, quiet;
    double error_threshold;
    uint64_t connect_timeout_ns, wait_ready_ns, drain_ns;
    int have_wait_ready;
    unsigned long malformed;
} opts;

enum kind { K_ORDER = 1, K_CANCEL, K_DEPOSIT, K_PING, K_MARKETS, K_MALFORMED };
enum state { S_FREE = 0, S_WAIT, S_TAIL };

/* A request frame in flight, found by req_id. */
typedef struct frame {
    uint64_t req_id;
    uint64_t sent_ns;
    uint64_t aux;     /* K_DEPOSIT: index into the deposit list */
    uint32_t norders; /* K_ORDER: orders in the frame */
    uint16_t node;
    uint8_t kind;
    uint8_t state;
} frame;

/* req_ids are handed out in order, so in-flight frames live in a ring
 * indexed by req_id that grows when the oldest open frame would be lapped. */
typedef struct inflight {
    frame *v;
    uint64_t cap; /* a power of two */
    uint64_t lo;  /* no open frame has a req_id below lo */
    uint64_t next;
    uint64_t open;
    uint64_t open_kind[K_MALFORMED + 1];
} inflight;

typedef struct node {
    const char *ep;
    lx_zsock *s;
    int ready, leader;
    uint64_t pong_seq;
} node;

typedef struct cancel_mark {
    uint64_t id, account;
} cancel_mark;

typedef struct deposit {
    uint64_t account, amount;
    char asset[LX_SYMBOL_MAX];
    uint8_t state; /* 0 to send, 1 in flight, 2 acked */
} deposit;

typedef struct client {
    opts o;
    lx_zctx *ctx;
    node nodes[NODES_MAX];
    size_t nn;
    inflight fl;
    lx_ordergen *gen;
    lx_hist *hist;
    FILE *acked_log;
    uint8_t buf[LX_MALFORMED_MAX];
    cancel_mark *marks;

    lx_proto_market markets[LX_PROTO_LIST_MAX];
    size_t nmarkets;
    int have_markets;

    deposit *deps;
    size_t ndeps, deps_acked;
    size_t deps_todo, deps_inflight; /* deposits in state 0 and 1 */
    int fund_failed;

    uint64_t start_ns, last_send_ns, last_reply_ns;
    uint64_t sent, acked, rejected, errors, fills, maker_fills, frames, timeouts;
    uint64_t cancels_sent, cancelled, cancel_misses, other_cancels;
    uint64_t bad_replies, stray_replies, send_failures, max_lag_ns;
    uint64_t reject_reasons[LX_R_COUNT];
    uint64_t error_codes[LX_PROTO_E_COUNT + 1];
    int tfd;                 /* timerfd for the schedule, or -1 */
    lx_proto_msg last_reply; /* K_MALFORMED, K_PING: the reply that closed it */
    int have_last_reply;
} client;

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* ---- argument parsing ---- */

static int bad_arg(const char *opt, const char *val, const char *why)
{
    fprintf(stderr, "test-client: %s \"%s\": %s (see --help)\n", opt, val, why);
    return 2;
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

static int parse_double(double *out, const char *s, double lo, double hi)
{
    if (s == NULL || *s == '\0')
        return 0;
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || *end != '\0' || !(v >= lo && v <= hi))
        return 0;
    *out = v;
    return 1;
}

static int split_nodes(opts *o, char *list)
{
    o->nnodes = 0;
    for (char *save = NULL, *t = strtok_r(list, ",", &save); t != NULL;
         t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ')
            t++;
        size_t n = strlen(t);
        while (n > 0 && t[n - 1] == ' ')
            t[--n] = '\0';
        if (n == 0)
            continue;
        if (o->nnodes == NODES_MAX || n >= EP_MAX || strncmp(t, "tcp://", 6) != 0)
            return 0;
        o->nodes[o->nnodes++] = t;
    }
    return o->nnodes > 0;
}

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= UINT64_C(0xff51afd7ed558ccd);
    x ^= x >> 33;
    x *= UINT64_C(0xc4ceb9fe1a85ec53);
    return x ^ (x >> 33);
}

enum {
    O_NODES = 256,
    O_DURATION,
    O_RATE,
    O_BATCH,
    O_BATCH_WAIT,
    O_ACCOUNTS,
    O_ACCOUNT_BASE,
    O_MARKETS,
    O_SEED,
    O_ID_BASE,
    O_CANCEL_RATIO,
    O_ACKED_LOG,
    O_JSON,
    O_QUIET,
    O_ERROR_THRESHOLD,
    O_CONNECT_TIMEOUT,
    O_WAIT_READY,
    O_DRAIN,
    O_MALFORMED,
    O_HELP
};

static int parse_args(opts *o, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"nodes", required_argument, NULL, O_NODES},
        {"duration", required_argument, NULL, O_DURATION},
        {"rate", required_argument, NULL, O_RATE},
        {"batch", required_argument, NULL, O_BATCH},
        {"batch-wait", required_argument, NULL, O_BATCH_WAIT},
        {"accounts", required_argument, NULL, O_ACCOUNTS},
        {"account-base", required_argument, NULL, O_ACCOUNT_BASE},
        {"markets", required_argument, NULL, O_MARKETS},
        {"seed", required_argument, NULL, O_SEED},
        {"id-base", required_argument, NULL, O_ID_BASE},
        {"cancel-ratio", required_argument, NULL, O_CANCEL_RATIO},
        {"acked-log", required_argument, NULL, O_ACKED_LOG},
        {"json", no_argument, NULL, O_JSON},
        {"quiet", no_argument, NULL, O_QUIET},
        {"error-threshold", required_argument, NULL, O_ERROR_THRESHOLD},
        {"connect-timeout", required_argument, NULL, O_CONNECT_TIMEOUT},
        {"wait-ready", required_argument, NULL, O_WAIT_READY},
        {"drain", required_argument, NULL, O_DRAIN},
        {"malformed", required_argument, NULL, O_MALFORMED},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    o->duration_ns = UINT64_C(10000000000);
    o->rate = 1000.0;
    o->batch = 1;
    o->batch_wait_ns = 1000000;
    o->accounts = 100;
    o->account_base = 1;
    o->seed = mix64(lx_wall_us() ^ ((uint64_t)getpid() << 32));
    o->cancel_ratio = 0.1;
    o->error_threshold = 0.01;
    o->connect_timeout_ns = UINT64_C(5000000000);
    o->drain_ns = UINT64_C(5000000000);
    int c;
    uint64_t v;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        const char *a = optarg;
        switch (c) {
        case O_NODES:
            snprintf(o->node_list, sizeof o->node_list, "%s", a);
            if (strlen(a) >= sizeof o->node_list || !split_nodes(o, o->node_list))
                return bad_arg("--nodes", a, "want up to 32 tcp:// endpoints, comma-separated");
            break;
        case O_DURATION:
            if (lx_parse_duration(&o->duration_ns, a) != LX_OK)
                return bad_arg("--duration", a, "want a duration such as 30s");
            /* 0 means no timed phase: only check that the nodes answer. */
            o->have_duration = o->duration_ns > 0;
            o->no_load = o->duration_ns == 0;
            break;
        case O_RATE:
            if (!parse_double(&o->rate, a, 0.001, 1e8))
                return bad_arg("--rate", a, "want orders per second, 0.001 to 1e8");
            break;
        case O_BATCH:
            if (!parse_u64(&v, a, 1, LX_PROTO_BATCH_MAX))
                return bad_arg("--batch", a, "want 1 to 256");
            o->batch = (unsigned)v;
            break;
        case O_BATCH_WAIT:
            if (lx_parse_duration(&o->batch_wait_ns, a) != LX_OK)
                return bad_arg("--batch-wait", a, "want a duration such as 1ms");
            break;
        case O_ACCOUNTS:
            if (!parse_u64(&o->accounts, a, 1, 10000000))
                return bad_arg("--accounts", a, "want 1 to 10000000");
            break;
        case O_ACCOUNT_BASE:
            if (!parse_u64(&o->account_base, a, 0, UINT64_C(1) << 62))
                return bad_arg("--account-base", a, "want 0 to 2^62");
            break;
        case O_MARKETS:
            if (strlen(a) >= sizeof o->markets)
                return bad_arg("--markets", a, "too long");
            snprintf(o->markets, sizeof o->markets, "%s", a);
            break;
        case O_SEED:
            if (!parse_u64(&o->seed, a, 0, UINT64_MAX))
                return bad_arg("--seed", a, "want an unsigned integer");
            break;
        case O_ID_BASE:
            if (!parse_u64(&o->id_base, a, 1, LX_ORDERGEN_ID_BASE_MAX))
                return bad_arg("--id-base", a, "want 1 to 8388607");
            break;
        case O_CANCEL_RATIO:
            if (!parse_double(&o->cancel_ratio, a, 0.0, 1.0))
                return bad_arg("--cancel-ratio", a, "want 0 to 1");
            break;
        case O_ACKED_LOG:
            o->acked_log = a;
            break;
        case O_JSON:
            o->json = 1;
            break;
        case O_QUIET:
            o->quiet = 1;
            break;
        case O_ERROR_THRESHOLD:
            if (!parse_double(&o->error_threshold, a, 0.0, 1.0))
                return bad_arg("--error-threshold", a, "want 0 to 1");
            break;
        case O_CONNECT_TIMEOUT:
            if (lx_parse_duration(&o->connect_timeout_ns, a) != LX_OK || o->connect_timeout_ns == 0)
                return bad_arg("--connect-timeout", a, "want a positive duration");
            break;
        case O_WAIT_READY:
            if (lx_parse_duration(&o->wait_ready_ns, a) != LX_OK || o->wait_ready_ns == 0)
                return bad_arg("--wait-ready", a, "want a positive duration (bare: seconds)");
            o->have_wait_ready = 1;
            break;
        case O_DRAIN:
            if (lx_parse_duration(&o->drain_ns, a) != LX_OK)
                return bad_arg("--drain", a, "want a duration");
            break;
        case O_MALFORMED:
            if (!parse_u64(&v, a, 1, 1000000))
                return bad_arg("--malformed", a, "want 1 to 1000000");
            o->malformed = (unsigned long)v;
            break;
        case O_HELP:
            fputs(usage, stdout);
            exit(0);
        default:
            fprintf(stderr, "test-client: unknown option or missing value: %s (see --help)\n",
                    argv[optind - 1]);
            return 2;
        }
    }
    if (optind < argc)
        return bad_arg("argument", argv[optind], "unexpected");
    if (o->nnodes == 0) {
        fprintf(stderr, "test-client: --nodes is required (see --help)\n");
        return 2;
    }
    if (o->id_base == 0)
        o->id_base = mix64(o->seed ^ UINT64_C(0x6c786465)) % LX_ORDERGEN_ID_BASE_MAX + 1u;
    double total = o->rate * (double)o->duration_ns / 1e9;
    if (o->have_duration && total > 1e12) {
        fprintf(stderr, "test-client: --rate times --duration is over 10^12 orders\n");
        return 2;
    }
    return 0;
}

/* ---- in-flight frames ---- */

static int inflight_init(inflight *f)
{
    f->cap = 1u << 16;
    f->v = calloc(f->cap, sizeof *f->v);
    f->lo = f->next = 1;
    f->open = 0;
    return f->v != NULL;
}

static frame *inflight_find(inflight *f, uint64_t req_id)
{
    if (req_id < f->lo || req_id >= f->next)
        return NULL;
    frame *fr = &f->v[req_id & (f->cap - 1)];
    return fr->req_id == req_id && fr->state != S_FREE ? fr : NULL;
}

static void inflight_close(inflight *f, frame *fr)
{
    fr->state = S_FREE;
    f->open--;
    f->open_kind[fr->kind]--;
}

/* Returns a frame for a new req_id, or NULL when out of memory. A frame
 * that the new one would lap and that has waited longer than expire_ns is
 * closed and its orders added to *expired_orders: its answer would come too
 * late to count anyway, and keeping it would grow the ring without bound. */
static frame *inflight_add(inflight *f, uint64_t *expired_orders, uint8_t kind, uint16_t node_i,
                           uint32_t norders, uint64_t now, uint64_t expire_ns)
{
    while (f->lo < f->next && inflight_find(f, f->lo) == NULL)
        f->lo++;
    if (f->next - f->lo >= f->cap) {
        frame *old = inflight_find(f, f->lo);
        if (old != NULL && now - old->sent_ns > expire_ns) {
            if (old->kind == K_ORDER && old->state == S_WAIT)
                *expired_orders += old->norders;
            inflight_close(f, old);
            f->lo++;
        }
    }
    if (f->next - f->lo >= f->cap) {
        uint64_t cap = f->cap * 2;
        frame *v = calloc(cap, sizeof *v);
        if (v == NULL)
            return NULL;
        for (uint64_t r = f->lo; r < f->next; r++) {
            frame *old = inflight_find(f, r);
            if (old != NULL)
                v[r & (cap - 1)] = *old;
        }
        free(f->v);
        f->v = v;
        f->cap = cap;
    }
    frame *fr = &f->v[f->next & (f->cap - 1)];
    memset(fr, 0, sizeof *fr);
    fr->req_id = f->next++;
    fr->kind = kind;
    fr->node = node_i;
    fr->norders = norders;
    fr->state = S_WAIT;
    fr->sent_ns = now;
    f->open++;
    f->open_kind[kind]++;
    return fr;
}

/* ---- sending ---- */

static frame *new_frame(client *c, uint8_t kind, size_t node_i, uint32_t norders)
{
    uint64_t expired = 0;
    frame *fr = inflight_add(&c->fl, &expired, kind, (uint16_t)node_i, norders, lx_now_ns(),
                             c->o.drain_ns + c->o.connect_timeout_ns);
    c->timeouts += expired;
    c->errors += expired;
    return fr;
}

static int send_frame(client *c, size_t node_i, const uint8_t *b, size_t len)
{
    lx_zpart part = {b, len};
    lx_err err = lx_zsock_send(c->nodes[node_i].s, &part, 1, LX_ZDONTWAIT);
    if (err != LX_OK) {
        c->send_failures++;
        return 0;
    }
    return 1;
}

/* Sends a body-less or fixed request m to a node as a new frame of kind. */
static frame *send_request(client *c, size_t node_i, uint8_t kind, lx_proto_msg *m)
{
    frame *fr = new_frame(c, kind, node_i, 0);
    if (fr == NULL)
        return NULL;
    m->hdr.req_id = fr->req_id;
    size_t n = 0;
    if (lx_proto_encode(c->buf, sizeof c->buf, &n, m) != LX_OK ||
        !send_frame(c, node_i, c->buf, n)) {
        inflight_close(&c->fl, fr);
        return NULL;
    }
    return fr;
}

static void send_ping(client *c, size_t node_i)
{
    lx_proto_msg m;
    memset(&m, 0, sizeof m);
    m.hdr.type = LX_PROTO_PING;
    (void)send_request(c, node_i, K_PING, &m);
}

/* Sends orders k .. k+n-1 of the schedule to one node in one frame. */
static void send_orders(client *c, size_t node_i, uint64_t k, unsigned n)
{
    lx_order_cmd orders[LX_PROTO_BATCH_MAX];
    for (unsigned i = 0; i < n; i++) {
        lx_ordergen_next(c->gen, &orders[i], (uint32_t)node_i, (uint32_t)c->nn);
        if (c->o.cancel_ratio > 0.0 && lx_ordergen_chance(c->gen, c->o.cancel_ratio))
            c->marks[(k + i) % CANCEL_RING] = (cancel_mark){orders[i].id, orders[i].account};
    }
    c->sent += n;
    c->frames++;
    frame *fr = new_frame(c, K_ORDER, node_i, n);
    if (fr == NULL) {
        c->errors += n;
        return;
    }
    size_t len = 0;
    lx_err err;
    if (n == 1) {
        lx_proto_msg m;
        memset(&m, 0, sizeof m);
        m.hdr.type = LX_PROTO_NEW_ORDER;
        m.hdr.req_id = fr->req_id;
        m.u.order = orders[0];
        err = lx_proto_encode(c->buf, sizeof c->buf, &len, &m);
    } else {
        err = lx_proto_encode_batch(c->buf, sizeof c->buf, &len, fr->req_id, orders, n);
    }
    if (err != LX_OK || !send_frame(c, node_i, c->buf, len)) {
        inflight_close(&c->fl, fr);
        c->errors += n;
    }
}

static void send_cancel(client *c, size_t node_i, uint64_t id, uint64_t account)
{
    lx_proto_msg m;
    memset(&m, 0, sizeof m);
    m.hdr.type = LX_PROTO_CANCEL;
    m.u.cancel.id = id;
    m.u.cancel.account = account;
    if (send_request(c, node_i, K_CANCEL, &m) != NULL)
        c->cancels_sent++;
}

/* ---- replies ---- */

static void order_acked(client *c, const frame *fr, uint64_t id, uint64_t now)
{
    uint64_t k = lx_ordergen_index(c->gen, id);
    if (k == UINT64_MAX) {
        c->bad_replies++;
        return;
    }
    c->acked++;
    uint64_t due = lx_pace_time(c->start_ns, c->o.rate, k);
    lx_hist_record(c->hist, now > due ? (now - due) / 1000u : 0);
    if (c->acked_log != NULL)
        fprintf(c->acked_log, "%" PRIu64 "\n", id);
    cancel_mark *mk = &c->marks[k % CANCEL_RING];
    if (mk->id == id) {
        send_cancel(c, fr->node, mk->id, mk->account);
        mk->id = 0;
    }
}

static void order_rejected(client *c, uint8_t reason)
{
    c->rejected++;
    c->reject_reasons[reason < LX_R_COUNT ? reason : 0]++;
}

static void handle_reply(client *c, const uint8_t *b, size_t len, uint64_t now)
{
    lx_proto_msg m;
    if (lx_proto_decode(&m, NULL, b, len) != LX_OK || lx_proto_is_request(m.hdr.type)) {
        c->bad_replies++;
        return;
    }
    if (m.hdr.flags & LX_PROTO_F_UNSOLICITED) {
        if (m.hdr.type == LX_PROTO_FILL)
            c->maker_fills++;
        else if (m.hdr.type == LX_PROTO_CANCELLED)
            c->other_cancels++;
        return;
    }
    frame *fr = inflight_find(&c->fl, m.hdr.req_id);
    if (fr == NULL) {
        c->stray_replies++;
        return;
    }
    int first = fr->state == S_WAIT;
    if (first && fr->kind == K_ORDER)
        c->last_reply_ns = now;
    switch (m.hdr.type) {
    case LX_PROTO_ACK:
        if (!first)
            c->bad_replies++;
        else if (fr->kind == K_ORDER && fr->norders == 1)
            order_acked(c, fr, m.u.ack.id, now);
        else if (fr->kind == K_DEPOSIT) {
            c->deps[fr->aux].state = 2;
            c->deps_acked++;
            c->deps_inflight--;
        } else
            c->bad_replies++;
        break;
    case LX_PROTO_REJECT:
        if (fr->kind == K_ORDER)
            order_rejected(c, m.u.reject.reason);
        else if (fr->kind == K_CANCEL)
            c->cancel_misses++;
        else if (fr->kind == K_DEPOSIT) {
            c->deps_inflight--;
            fprintf(stderr, "test-client: deposit of %s to account %" PRIu64 " rejected: %s\n",
                    c->deps[fr->aux].asset, c->deps[fr->aux].account,
                    lx_reason_str((lx_reason)m.u.reject.reason));
            c->fund_failed = 1;
        } else
            c->bad_replies++;
        break;
    case LX_PROTO_BATCH_RESULT:
        if (fr->kind != K_ORDER || m.u.batch.count != fr->norders) {
            c->bad_replies++;
            break;
        }
        for (size_t i = 0; i < m.u.batch.count; i++) {
            lx_proto_batch_item it;
            if (lx_proto_batch_result_get(&m, &it, i) != LX_OK)
                continue;
            if (it.reason == LX_R_NONE)
                order_acked(c, fr, it.id, now);
            else
                order_rejected(c, it.reason);
        }
        break;
    case LX_PROTO_FILL:
        if (m.u.fill.role == 1)
            c->fills++;
        else
            c->maker_fills++;
        break;
    case LX_PROTO_CANCELLED:
        if (fr->kind == K_CANCEL)
            c->cancelled++;
        else
            c->other_cancels++;
        break;
    case LX_PROTO_PONG:
        if (fr->kind == K_PING) {
            node *nd = &c->nodes[fr->node];
            nd->ready = 1;
            nd->leader = m.u.pong.leader;
            nd->pong_seq = m.u.pong.seq;
        }
        break;
    case LX_PROTO_MARKETS:
        if (fr->kind == K_MARKETS) {
            c->nmarkets = 0;
            for (size_t i = 0; i < m.u.markets.count; i++)
                if (lx_proto_markets_get(&m, &c->markets[c->nmarkets], i) == LX_OK)
                    c->nmarkets++;
            c->have_markets = 1;
        }
        break;
    case LX_PROTO_ERROR: {
        uint16_t code = m.u.error.code < LX_PROTO_E_COUNT ? m.u.error.code : 0;
        c->error_codes[code]++;
        if (fr->kind == K_ORDER)
            c->errors += fr->norders;
        else if (fr->kind == K_DEPOSIT) {
            c->deps_inflight--;
            if (code == LX_PROTO_E_OVERLOADED || code == LX_PROTO_E_UNAVAILABLE) {
                c->deps[fr->aux].state = 0; /* send it again */
                c->deps_todo++;
            } else {
                fprintf(stderr, "test-client: deposit failed: ERROR %s%s%s%s\n",
                        lx_proto_error_str((lx_proto_error)code), m.u.error.text_len ? " (" : "",
                        m.u.error.text, m.u.error.text_len ? ")" : "");
                if (code == LX_PROTO_E_FAUCET_DISABLED)
                    fprintf(stderr, "test-client: start the nodes with --dev-faucet\n");
                c->fund_failed = 1;
            }
        }
        break;
    }
    default:
        c->bad_replies++;
        break;
    }
    if (fr->kind == K_MALFORMED || fr->kind == K_PING) {
        c->last_reply = m;
        c->have_last_reply = 1;
    }
    if (m.hdr.flags & LX_PROTO_F_MORE)
        fr->state = S_TAIL;
    else
        inflight_close(&c->fl, fr);
}

/* Reads what is waiting on every socket without blocking. */
static void recv_all(client *c)
{
    for (size_t i = 0; i < c->nn; i++) {
        for (int burst = 0; burst < RECV_BURST; burst++) {
            lx_zmsg msg;
            lx_err err = lx_zsock_recv(c->nodes[i].s, &msg, LX_ZDONTWAIT);
            if (err == LX_ETOOBIG) {
                c->bad_replies++;
                continue;
            }
            if (err != LX_OK)
                break;
            if (msg.n == 1)
                handle_reply(c, msg.part[0].data, msg.part[0].len, lx_now_ns());
            else
                c->bad_replies++;
            lx_zmsg_close(&msg);
        }
    }
}

/* Waits until a socket is readable, the timer fd fires or until (absolute
 * monotonic ns, 0: no deadline besides the timer). */
static void wait_until(client *c, int tfd, uint64_t until)
{
    lx_zpollitem items[NODES_MAX + 1];
    size_t n = 0;
    for (size_t i = 0; i < c->nn; i++)
        items[n++] = (lx_zpollitem){.sock = c->nodes[i].s, .events = LX_ZPOLLIN};
    long timeout = -1;
    if (tfd >= 0 && until != 0) {
        struct itimerspec its;
        memset(&its, 0, sizeof its);
        its.it_value.tv_sec = (time_t)(until / 1000000000u);
        its.it_value.tv_nsec = (long)(until % 1000000000u);
        if (timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
            items[n++] = (lx_zpollitem){.sock = NULL, .fd = tfd, .events = LX_ZPOLLIN};
        else
            timeout = 1;
    } else if (until != 0) {
        uint64_t now = lx_now_ns();
        timeout = until > now ? (long)((until - now + 999999u) / 1000000u) : 0;
    }
    int nready = 0;
    (void)lx_zpoll(&nready, items, n, timeout);
    if (tfd >= 0 && n > c->nn && (items[c->nn].revents & LX_ZPOLLIN)) {
        uint64_t ticks;
        if (read(tfd, &ticks, sizeof ticks) < 0 && errno != EAGAIN)
            return;
    }
}

/* ---- phases ---- */

/* Pings every node not yet ready until all answer or the deadline passes.
 * Returns 1 if all answered. */
static int wait_ready(client *c, uint64_t timeout_ns, int tfd)
{
    uint64_t deadline = lx_now_ns() + timeout_ns, next_ping = 0;
    for (;;) {
        uint64_t now = lx_now_ns();
        size_t ready = 0;
        for (size_t i = 0; i < c->nn; i++)
            ready += (size_t)c->nodes[i].ready;
        if (ready == c->nn)
            return 1;
        if (now >= deadline || stop_requested)
            return 0;
        if (now >= next_ping) {
            for (size_t i = 0; i < c->nn; i++)
                if (!c->nodes[i].ready)
                    send_ping(c, i);
            next_ping = now + 250000000u;
        }
        uint64_t until = next_ping < deadline ? next_ping : deadline;
        wait_until(c, tfd, until);
        recv_all(c);
    }
}

static int fetch_markets(client *c, int tfd)
{
    lx_proto_msg m;
    memset(&m, 0, sizeof m);
    m.hdr.type = LX_PROTO_QUERY_MARKETS;
    if (send_request(c, 0, K_MARKETS, &m) == NULL)
        return 0;
    uint64_t deadline = lx_now_ns() + c->o.connect_timeout_ns;
    while (!c->have_markets && lx_now_ns() < deadline && !stop_requested) {
        wait_until(c, tfd, deadline);
        recv_all(c);
    }
    if (!c->have_markets) {
        fprintf(stderr, "test-client: %s did not answer QUERY_MARKETS\n", c->nodes[0].ep);
        return 0;
    }
    if (c->o.markets[0] == '\0')
        return 1;
    /* Keep only the named markets, in the order named. */
    lx_proto_market keep[LX_PROTO_LIST_MAX];
    size_t nkeep = 0;
    char list[sizeof c->o.markets];
    snprintf(list, sizeof list, "%s", c->o.markets);
    for (char *save = NULL, *t = strtok_r(list, ",", &save); t != NULL;
         t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ')
            t++;
        size_t i = 0;
        for (; i < c->nmarkets; i++)
            if (strcmp(c->markets[i].spec.name, t) == 0)
                break;
        if (i == c->nmarkets) {
            fprintf(stderr, "test-client: --markets: the cluster has no market \"%s\"\n", t);
            return -1;
        }
        if (nkeep < LX_PROTO_LIST_MAX)
            keep[nkeep++] = c->markets[i];
    }
    memcpy(c->markets, keep, nkeep * sizeof keep[0]);
    c->nmarkets = nkeep;
    return 1;
}

static int asset_seen(char (*assets)[LX_SYMBOL_MAX], size_t n, const char *a)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(assets[i], a) == 0)
            return 1;
    return 0;
}

/* Deposits both assets of every market into every account through the
 * faucet, each through the node that account trades on, and waits for the
 * acks. Returns 1 on success. */
static int fund(client *c, uint64_t total_orders, int tfd)
{
    char assets[2 * LX_PROTO_LIST_MAX][LX_SYMBOL_MAX];
    size_t na = 0;
    for (size_t i = 0; i < c->nmarkets; i++) {
        if (!asset_seen(assets, na, c->markets[i].spec.base))
            memcpy(assets[na++], c->markets[i].spec.base, LX_SYMBOL_MAX);
        if (!asset_seen(assets, na, c->markets[i].spec.quote))
            memcpy(assets[na++], c->markets[i].spec.quote, LX_SYMBOL_MAX);
    }
    uint64_t per_account = total_orders / c->o.accounts + 1;
    c->ndeps = (size_t)c->o.accounts * na;
    c->deps = calloc(c->ndeps, sizeof *c->deps);
    if (c->deps == NULL)
        return 0;
    for (size_t a = 0; a < c->o.accounts; a++)
        for (size_t j = 0; j < na; j++) {
            deposit *d = &c->deps[a * na + j];
            d->account = c->o.account_base + a;
            d->amount = lx_ordergen_deposit(c->gen, assets[j], per_account);
            memcpy(d->asset, assets[j], LX_SYMBOL_MAX);
        }
    c->deps_todo = c->ndeps;
    /* Generous: a deposit goes through consensus like an order. */
    uint64_t deadline = lx_now_ns() + c->o.connect_timeout_ns + UINT64_C(30000000000) +
                        (uint64_t)c->ndeps * 1000000u;
    size_t cursor = 0;
    while (c->deps_acked < c->ndeps && !c->fund_failed && !stop_requested) {
        if (lx_now_ns() >= deadline) {
            fprintf(stderr, "test-client: funding: %zu of %zu deposits acknowledged in time\n",
                    c->deps_acked, c->ndeps);
            return 0;
        }
        for (size_t scanned = 0; scanned < c->ndeps && c->deps_todo > 0 && c->deps_inflight < 1024;
             scanned++) {
            deposit *d = &c->deps[cursor];
            size_t idx = cursor;
            cursor = (cursor + 1) % c->ndeps;
            if (d->state != 0)
                continue;
            lx_proto_msg m;
            memset(&m, 0, sizeof m);
            m.hdr.type = LX_PROTO_DEPOSIT;
            m.u.transfer.account = d->account;
            m.u.transfer.amount = d->amount;
            memcpy(m.u.transfer.asset, d->asset, LX_SYMBOL_MAX);
            size_t node_i = (size_t)((d->account - c->o.account_base) % c->nn);
            frame *fr = send_request(c, node_i, K_DEPOSIT, &m);
            if (fr == NULL)
                break;
            fr->aux = idx;
            d->state = 1;
            c->deps_todo--;
            c->deps_inflight++;
        }
        /* Wakes at the first reply; the timeout paces resends. */
        wait_until(c, tfd, lx_now_ns() + 50000000u);
        recv_all(c);
    }
    return c->deps_acked == c->ndeps && !c->fund_failed;
}

static void progress(client *c, uint64_t now, uint64_t *prev_acked, uint64_t *prev_ns)
{
    if (c->o.quiet)
        return;
    double dt = (double)(now - *prev_ns) / 1e9;
    double rate = dt > 0 ? (double)(c->acked - *prev_acked) / dt : 0.0;
    fprintf(stderr,
            "[%6.1fs] sent %" PRIu64 " acked %" PRIu64 " rejected %" PRIu64 " errors %" PRIu64
            " fills %" PRIu64 " rate %.0f/s p50 %" PRIu64 "us p99 %" PRIu64 "us\n",
            (double)(now - c->start_ns) / 1e9, c->sent, c->acked, c->rejected, c->errors, c->fills,
            rate, lx_hist_percentile(c->hist, 50), lx_hist_percentile(c->hist, 99));
    *prev_acked = c->acked;
    *prev_ns = now;
}

static void run_load(client *c, uint64_t total, int tfd)
{
    const double rate = c->o.rate;
    const unsigned B = c->o.batch;
    c->start_ns = lx_now_ns() + 1000000u;
    uint64_t k = 0, rr = 0;
    uint64_t next_progress = c->start_ns + 1000000000u, prev_acked = 0, prev_ns = c->start_ns;
    while (k < total && !stop_requested) {
        uint64_t now = lx_now_ns();
        uint64_t due = lx_pace_due(c->start_ns, rate, now);
        if (due > total)
            due = total;
        while (k < due) {
            uint64_t ready = due - k;
            uint64_t first_due = lx_pace_time(c->start_ns, rate, k);
            /* Hold a partial frame back until it fills, its first order has
             * waited batch_wait, or the schedule ends. */
            if (ready < B && due < total && now < first_due + c->o.batch_wait_ns)
                break;
            unsigned n = ready < B ? (unsigned)ready : B;
            if (now - first_due > c->max_lag_ns)
                c->max_lag_ns = now - first_due;
            send_orders(c, (size_t)(rr % c->nn), k, n);
            rr++;
            k += n;
            c->last_send_ns = now;
        }
        recv_all(c);
        now = lx_now_ns();
        if (now >= next_progress) {
            progress(c, now, &prev_acked, &prev_ns);
            next_progress += 1000000000u;
        }
        if (k >= total)
            break;
        uint64_t full = k + B - 1 < total ? k + B - 1 : total - 1;
        uint64_t wake = lx_pace_time(c->start_ns, rate, full);
        if (B > 1) {
            uint64_t held = lx_pace_time(c->start_ns, rate, k) + c->o.batch_wait_ns;
            if (held < wake)
                wake = held;
        }
        if (next_progress < wake)
            wake = next_progress;
        if (wake > lx_now_ns())
            wait_until(c, tfd, wake);
    }
    /* Drain: wait for every frame to be answered, or the deadline. */
    uint64_t deadline = lx_now_ns() + c->o.drain_ns;
    while (c->fl.open_kind[K_ORDER] + c->fl.open_kind[K_CANCEL] > 0 && lx_now_ns() < deadline) {
        uint64_t wake = deadline < next_progress ? deadline : next_progress;
        wait_until(c, tfd, wake);
        recv_all(c);
        uint64_t now = lx_now_ns();
        if (now >= next_progress) {
            progress(c, now, &prev_acked, &prev_ns);
            next_progress += 1000000000u;
        }
    }
    /* Orders never answered are errors. */
    for (uint64_t r = c->fl.lo; r < c->fl.next; r++) {
        frame *fr = inflight_find(&c->fl, r);
        if (fr != NULL && fr->state == S_WAIT && fr->kind == K_ORDER) {
            c->timeouts += fr->norders;
            c->errors += fr->norders;
        }
    }
}

static void print_summary(client *c, uint64_t total)
{
    lx_loadgen_summary s;
    memset(&s, 0, sizeof s);
    uint64_t end = c->last_reply_ns > c->last_send_ns ? c->last_reply_ns : c->last_send_ns;
    s.duration_s = end > c->start_ns ? (double)(end - c->start_ns) / 1e9 : 0.0;
    s.target_rate = c->o.rate;
    s.sent = c->sent;
    s.acked = c->acked;
    s.rejected = c->rejected;
    s.errors = c->errors;
    s.fills = c->fills;
    s.throughput = s.duration_s > 0 ? (double)c->acked / s.duration_s : 0.0;
    lx_loadgen_summary_latency(&s, c->hist);
    s.nodes = c->nn;
    s.timeouts = c->timeouts;
    s.maker_fills = c->maker_fills;
    s.cancels_sent = c->cancels_sent;
    s.cancelled = c->cancelled;
    s.cancel_misses = c->cancel_misses;
    s.frames = c->frames;
    s.batch = c->o.batch;
    s.seed = c->o.seed;
    s.id_base = c->o.id_base;
    s.max_send_lag_us = c->max_lag_ns / 1000u;
    if (c->o.json) {
        char json[2048];
        size_t n = lx_loadgen_summary_json(json, sizeof json, &s);
        printf("%.*s\n", (int)n, json);
    } else {
        printf("test-client: %zu node(s), %.3f s, target %.0f orders/s, batch %u, seed %" PRIu64
               ", id base %" PRIu64 "\n",
               c->nn, s.duration_s, s.target_rate, c->o.batch, s.seed, s.id_base);
        printf("  orders    sent %" PRIu64 " of %" PRIu64 " scheduled in %" PRIu64
               " frames, acked %" PRIu64 ", rejected %" PRIu64 ", errors %" PRIu64
               " (timeouts %" PRIu64 ")\n",
               s.sent, total, s.frames, s.acked, s.rejected, s.errors, s.timeouts);
        printf("  fills     %" PRIu64 " as taker, %" PRIu64 " as maker\n", s.fills, s.maker_fills);
        printf("  cancels   sent %" PRIu64 ", cancelled %" PRIu64 ", already gone %" PRIu64 "\n",
               s.cancels_sent, s.cancelled, s.cancel_misses);
        printf("  throughput %.1f acked orders/s\n", s.throughput);
        printf("  latency us p50 %" PRIu64 " p90 %" PRIu64 " p99 %" PRIu64 " p99.9 %" PRIu64
               " max %" PRIu64 " (from intended send time)\n",
               s.p50, s.p90, s.p99, s.p999, s.max);
        printf("  send lag  max %" PRIu64 " us behind the schedule\n", s.max_send_lag_us);
    }
    for (size_t r = 1; r < LX_R_COUNT; r++)
        if (c->reject_reasons[r])
            fprintf(stderr, "test-client: rejected %s: %" PRIu64 "\n", lx_reason_str((lx_reason)r),
                    c->reject_reasons[r]);
    for (size_t e = 0; e < LX_PROTO_E_COUNT; e++)
        if (c->error_codes[e])
            fprintf(stderr, "test-client: ERROR %s: %" PRIu64 "\n",
                    lx_proto_error_str((lx_proto_error)e), c->error_codes[e]);
    if (c->bad_replies || c->stray_replies || c->send_failures)
        fprintf(stderr,
                "test-client: %" PRIu64 " unexpected replies, %" PRIu64 " late replies, %" PRIu64
                " failed sends\n",
                c->bad_replies, c->stray_replies, c->send_failures);
}

/* Sends one frame and waits for the reply that closes it; returns 1 and
 * leaves it in c->last_reply, or 0 on timeout. echo 0 accepts any ERROR
 * carrying req_id 0. */
static int exchange(client *c, size_t node_i, const uint8_t *b, size_t len, uint64_t echo, int tfd)
{
    c->have_last_reply = 0;
    uint64_t deadline = lx_now_ns() + c->o.connect_timeout_ns;
    if (!send_frame(c, node_i, b, len))
        return 0;
    (void)tfd;
    for (uint64_t now = lx_now_ns(); now < deadline && !stop_requested; now = lx_now_ns()) {
        lx_zpollitem it = {.sock = c->nodes[node_i].s, .events = LX_ZPOLLIN};
        int nready = 0;
        (void)lx_zpoll(&nready, &it, 1, (long)((deadline - now) / 1000000u) + 1);
        lx_zmsg msg;
        while (lx_zsock_recv(c->nodes[node_i].s, &msg, LX_ZDONTWAIT) == LX_OK) {
            lx_proto_msg m;
            int ok = msg.n == 1 &&
                     lx_proto_decode(&m, NULL, msg.part[0].data, msg.part[0].len) == LX_OK &&
                     m.hdr.req_id == echo;
            lx_zmsg_close(&msg);
            if (ok) {
                c->last_reply = m;
                c->have_last_reply = 1;
                return 1;
            }
        }
    }
    return 0;
}

static int run_malformed(client *c, int tfd)
{
    uint64_t checks = 0, passed = 0, ping_ok = 0;
    uint64_t req = UINT64_C(0x4d00000000000000);
    for (size_t i = 0; i < c->nn; i++) {
        uint64_t node_pass = 0;
        unsigned silent = 0;
        for (unsigned long j = 0; j < c->o.malformed; j++) {
            if (silent == 3) {
                /* The node is gone: do not wait out every remaining frame. */
                fprintf(stderr, "test-client: %s: 3 frames in a row got no reply; %lu not sent\n",
                        c->nodes[i].ep, c->o.malformed - j);
                checks += c->o.malformed - j;
                break;
            }
            lx_malformed_kind kind = (lx_malformed_kind)(j % LX_MAL_COUNT);
            size_t len = 0;
            lx_proto_error want = LX_PROTO_E_NONE;
            uint64_t echo = 0;
            if (lx_malformed_frame(c->buf, sizeof c->buf, &len, &want, &echo, kind, ++req) != LX_OK)
                return 1;
            checks++;
            const char *why = NULL;
            char detail[160];
            int answered = exchange(c, i, c->buf, len, echo, tfd);
            silent = answered ? 0 : silent + 1;
            if (!answered)
                why = "no reply";
            else if (c->last_reply.hdr.type != LX_PROTO_ERROR) {
                snprintf(detail, sizeof detail, "got %s, want ERROR",
                         lx_proto_type_str(c->last_reply.hdr.type));
                why = detail;
            } else if (c->last_reply.u.error.code != want) {
                snprintf(detail, sizeof detail, "got ERROR %s, want %s",
                         lx_proto_error_str((lx_proto_error)c->last_reply.u.error.code),
                         lx_proto_error_str(want));
                why = detail;
            }
            if (why == NULL) {
                passed++;
                node_pass++;
            } else {
                fprintf(stderr, "test-client: %s: malformed %s (req_id %" PRIu64 "): %s\n",
                        c->nodes[i].ep, lx_malformed_name(kind), echo, why);
            }
        }
        /* The node must still serve requests after all that. */
        lx_proto_msg m;
        memset(&m, 0, sizeof m);
        m.hdr.type = LX_PROTO_PING;
        m.hdr.req_id = ++req;
        size_t len = 0;
        int ok = lx_proto_encode(c->buf, sizeof c->buf, &len, &m) == LX_OK &&
                 exchange(c, i, c->buf, len, req, tfd) && c->last_reply.hdr.type == LX_PROTO_PONG;
        ping_ok += (uint64_t)ok;
        if (!ok)
            fprintf(stderr, "test-client: %s: no PONG after the malformed frames\n",
                    c->nodes[i].ep);
        if (!c->o.json)
            printf("%s: %" PRIu64 "/%lu malformed frames answered as expected, PING %s\n",
                   c->nodes[i].ep, node_pass, c->o.malformed, ok ? "ok" : "FAILED");
    }
    int fail = passed != checks || ping_ok != c->nn;
    if (c->o.json)
        printf("{\"malformed\":{\"nodes\":%zu,\"frames\":%" PRIu64 ",\"passed\":%" PRIu64
               ",\"failed\":%" PRIu64 ",\"ping_ok\":%" PRIu64 ",\"ok\":%s}}\n",
               c->nn, checks, passed, checks - passed, ping_ok, fail ? "false" : "true");
    else
        printf("malformed: %" PRIu64 " of %" PRIu64 " checks passed, %" PRIu64
               " of %zu nodes answer PING: %s\n",
               passed, checks, ping_ok, c->nn, fail ? "FAILED" : "ok");
    return fail ? 1 : 0;
}

static void report_unready(client *c, const char *what)
{
    for (size_t i = 0; i < c->nn; i++)
        if (!c->nodes[i].ready)
            fprintf(stderr, "test-client: %s: no PONG from %s\n", what, c->nodes[i].ep);
}

static int run(client *c)
{
    opts *o = &c->o;
    c->nn = o->nnodes;
    if (lx_zctx_new(&c->ctx, 1) != LX_OK || !inflight_init(&c->fl) ||
        lx_hist_new(&c->hist) != LX_OK) {
        fprintf(stderr, "test-client: out of memory\n");
        return 1;
    }
    lx_zsock_opts so;
    lx_zsock_opts_init(&so);
    so.sndhwm = HWM;
    so.rcvhwm = HWM;
    so.linger_ms = 0;
    for (size_t i = 0; i < c->nn; i++) {
        c->nodes[i].ep = o->nodes[i];
        lx_err err = lx_zsock_new(&c->nodes[i].s, c->ctx, LX_ZDEALER, &so);
        if (err == LX_OK)
            err = lx_zsock_connect(c->nodes[i].s, o->nodes[i]);
        if (err != LX_OK) {
            fprintf(stderr, "test-client: %s: %s\n", o->nodes[i], lx_strerror(err));
            return err == LX_EINVAL ? 2 : 1;
        }
    }
    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    c->tfd = tfd;
    if (o->acked_log != NULL && o->have_duration && o->malformed == 0) {
        c->acked_log = fopen(o->acked_log, "w");
        if (c->acked_log == NULL) {
            fprintf(stderr, "test-client: --acked-log %s: %s\n", o->acked_log, strerror(errno));
            return 2;
        }
        /* Large buffer: one write per 1 MiB of ids rather than per id. */
        setvbuf(c->acked_log, NULL, _IOFBF, 1u << 20);
    }

    /* Readiness. */
    if (o->have_wait_ready) {
        int ok = wait_ready(c, o->wait_ready_ns, tfd);
        if (!ok)
            report_unready(c, "--wait-ready");
        if ((!o->have_duration || o->no_load) && o->malformed == 0) {
            if (ok && !o->quiet)
                fprintf(stderr, "test-client: all %zu node(s) answer\n", c->nn);
            return ok ? 0 : 1;
        }
        if (!ok)
            return 1;
    } else if (!wait_ready(c, o->connect_timeout_ns, tfd)) {
        report_unready(c, "unreachable");
        return 1;
    }
    if (!o->quiet)
        for (size_t i = 0; i < c->nn; i++)
            fprintf(stderr, "test-client: %s answers (seq %" PRIu64 "%s)\n", c->nodes[i].ep,
                    c->nodes[i].pong_seq, c->nodes[i].leader ? ", leader" : "");
    if (o->no_load && o->malformed == 0)
        return 0;

    if (o->malformed > 0)
        return run_malformed(c, tfd);

    int mk = fetch_markets(c, tfd);
    if (mk <= 0)
        return mk < 0 ? 2 : 1;
    if (c->nmarkets == 0) {
        fprintf(stderr, "test-client: the cluster lists no markets\n");
        return 1;
    }
    uint64_t total = (uint64_t)llround(o->rate * (double)o->duration_ns / 1e9);
    if (total == 0)
        total = 1;
    lx_ordergen_opts go = {.seed = o->seed,
                           .id_base = o->id_base,
                           .account_first = o->account_base,
                           .accounts = o->accounts,
                           .markets = c->markets,
                           .nmarkets = c->nmarkets};
    if (lx_ordergen_new(&c->gen, &go) != LX_OK) {
        fprintf(stderr, "test-client: cannot generate orders for these markets (tick, lot or "
                        "min_qty too large)\n");
        return 1;
    }
    c->marks = calloc(CANCEL_RING, sizeof *c->marks);
    if (c->marks == NULL)
        return 1;
    if (!o->quiet)
        fprintf(stderr, "test-client: funding %" PRIu64 " accounts in %zu market(s)\n", o->accounts,
                c->nmarkets);
    if (!fund(c, total, tfd)) {
        fprintf(stderr, "test-client: funding failed\n");
        return 1;
    }
    if (!o->quiet)
        fprintf(stderr,
                "test-client: %" PRIu64 " orders at %.0f/s over %zu node(s), batch %u, seed "
                "%" PRIu64 "\n",
                total, o->rate, c->nn, o->batch, o->seed);
    run_load(c, total, tfd);
    print_summary(c, total);
    if (c->acked_log != NULL && fclose(c->acked_log) != 0) {
        c->acked_log = NULL;
        fprintf(stderr, "test-client: --acked-log: write failed\n");
        return 1;
    }
    c->acked_log = NULL;
    double err_share = c->sent > 0 ? (double)c->errors / (double)c->sent : 1.0;
    if (err_share > o->error_threshold) {
        fprintf(stderr, "test-client: errors %.4f of sent, over the threshold %.4f\n", err_share,
                o->error_threshold);
        return 1;
    }
    return 0;
}

static void cleanup(client *c)
{
    if (c->tfd >= 0)
        close(c->tfd);
    if (c->acked_log != NULL)
        fclose(c->acked_log);
    for (size_t i = 0; i < c->nn; i++)
        lx_zsock_free(&c->nodes[i].s);
    lx_zctx_free(&c->ctx);
    lx_ordergen_free(&c->gen);
    lx_hist_free(&c->hist);
    free(c->fl.v);
    free(c->marks);
    free(c->deps);
}

int main(int argc, char **argv)
{
    static client c; /* large; zeroed */
    c.tfd = -1;
    int rc = parse_args(&c.o, argc, argv);
    if (rc != 0)
        return rc;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    rc = run(&c);
    cleanup(&c);
    return rc;
}
