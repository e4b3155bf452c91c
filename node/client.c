/* The load client: one DEALER per node, requests in flight by req_id (the
 * table is node/inflight.c), what each reply counts, and the phases of a
 * test-client run (readiness, markets, funding; the malformed-frame check is
 * node/client_check.c). */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "client_int.h"

#define INFLIGHT_CAP (1u << 16) /* frames before the in-flight ring first grows */
#define CANCEL_RING 65536u      /* orders marked for a cancel, by schedule index */
#define RECV_BURST 4096         /* messages read per socket before looking at the clock */
#define HWM 1000000             /* queue deep rather than drop or block */
#define DEPOSITS_INFLIGHT 1024u
#define DEPOSIT_RESEND_NS UINT64_C(3000000000)

/* ---- the client ---- */

int lx__client_stopped(const lx_client *c)
{
    return c->o.stopped != NULL && c->o.stopped();
}

lx_err lx_client_new(lx_client **out, size_t *failed_node, const lx_client_opts *o)
{
    if (out == NULL || failed_node == NULL || o == NULL || o->nodes == NULL || o->nnodes == 0 ||
        o->nnodes > LX_CLIENT_NODES_MAX || o->name == NULL ||
        (o->curve_secrets != NULL &&
         (o->server_keys == NULL || (o->ncurve_secrets != 1 && o->ncurve_secrets != o->nnodes))))
        return LX_EINVAL;
    *out = NULL;
    *failed_node = SIZE_MAX;
    lx_client *c = calloc(1, sizeof *c);
    if (c == NULL)
        return LX_ENOMEM;
    c->tfd = -1;
    c->o = *o;
    c->o.curve_secrets = c->o.server_keys = NULL; /* borrowed only during this call */
    c->nn = o->nnodes;
    /* CURVE decrypts every reply on the I/O threads: one thread per node
     * (up to 4) keeps a busy client reading instead of letting the nodes'
     * queues to it fill. */
    int io_threads = o->curve_secrets == NULL ? 1 : o->nnodes < 4 ? (int)o->nnodes : 4;
    lx_err err = lx_zctx_new(&c->ctx, io_threads);
    if (err == LX_OK)
        err = lx_inflight_new(&c->fl, INFLIGHT_CAP);
    if (err == LX_OK)
        err = lx_hist_new(&c->hist);
    if (err == LX_OK)
        err = lx_hist_new(&c->hist_recent);
    lx_zsock_opts so;
    lx_zsock_opts_init(&so);
    so.sndhwm = HWM;
    so.rcvhwm = HWM;
    so.linger_ms = 0;
    if (o->curve_secrets != NULL)
        so.curve = LX_ZCURVE_CLIENT;
    for (size_t i = 0; i < c->nn && err == LX_OK; i++) {
        if (o->curve_secrets != NULL) {
            so.curve_secret = &o->curve_secrets[o->ncurve_secrets == 1 ? 0 : i];
            so.curve_server = &o->server_keys[i];
        }
        err = lx_zsock_new(&c->nodes[i].s, c->ctx, LX_ZDEALER, &so);
        if (err == LX_OK)
            err = lx_zsock_connect(c->nodes[i].s, o->nodes[i]);
        if (err != LX_OK)
            *failed_node = i;
    }
    if (err != LX_OK) {
        lx_client_free(&c);
        return err;
    }
    /* Without a timerfd, waits fall back to the poll timeout. */
    c->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    *out = c;
    return LX_OK;
}

void lx_client_free(lx_client **p)
{
    if (p == NULL || *p == NULL)
        return;
    lx_client *c = *p;
    if (c->tfd >= 0)
        close(c->tfd);
    if (c->acked_log != NULL)
        fclose(c->acked_log);
    for (size_t i = 0; i < c->nn; i++)
        lx_zsock_free(&c->nodes[i].s);
    lx_zctx_free(&c->ctx);
    lx_ordergen_free(&c->gen);
    lx_hist_free(&c->hist);
    lx_hist_free(&c->hist_recent);
    lx_inflight_free(&c->fl);
    free(c->marks);
    free(c->deps);
    free(c->wds);
    free(c);
    *p = NULL;
}

lx_err lx_client_open_acked_log(lx_client *c, const char *path)
{
    if (c == NULL || path == NULL || c->acked_log != NULL)
        return LX_EINVAL;
    c->acked_log = fopen(path, "w");
    if (c->acked_log == NULL)
        return LX_EIO;
    /* Large buffer: one write per 1 MiB of ids rather than per id. */
    setvbuf(c->acked_log, NULL, _IOFBF, 1u << 20);
    return LX_OK;
}

lx_err lx_client_close_acked_log(lx_client *c)
{
    if (c == NULL || c->acked_log == NULL)
        return LX_OK;
    int rc = fclose(c->acked_log);
    c->acked_log = NULL;
    return rc == 0 ? LX_OK : LX_EIO;
}

lx_err lx_client_node(const lx_client *c, lx_client_node_info *out, size_t i)
{
    if (c == NULL || out == NULL || i >= c->nn)
        return LX_EINVAL;
    out->ep = c->o.nodes[i];
    out->ready = c->nodes[i].ready != 0;
    out->leader = c->nodes[i].leader != 0;
    out->pong_seq = c->nodes[i].pong_seq;
    return LX_OK;
}

void lx_client_stats_get(const lx_client *c, lx_client_stats *out)
{
    *out = c->st;
}

const lx_hist *lx_client_hist(const lx_client *c)
{
    return c->hist;
}

const lx_hist *lx_client_hist_recent(const lx_client *c)
{
    return c->hist_recent;
}

void lx_client_hist_recent_reset(lx_client *c)
{
    lx_hist_reset(c->hist_recent);
}

uint64_t lx_client_outstanding(const lx_client *c)
{
    return lx_inflight_open(c->fl, LX_INFLIGHT_ORDER) +
           lx_inflight_open(c->fl, LX_INFLIGHT_CANCEL) +
           lx_inflight_open(c->fl, LX_INFLIGHT_WITHDRAW) + c->wd_waiting;
}

void lx_client_count_timeouts(lx_client *c)
{
    uint64_t n = lx_inflight_unanswered_orders(c->fl);
    c->st.timeouts += n;
    c->st.errors += n;
}

/* ---- sending ---- */

static lx_inflight_frame *new_frame(lx_client *c, lx_inflight_kind kind, size_t node_i,
                                    uint32_t norders)
{
    uint64_t expired = 0;
    lx_inflight_frame *fr = NULL;
    (void)lx_inflight_add(c->fl, &fr, &expired, kind, (uint16_t)node_i, norders, lx_now_ns(),
                          c->o.drain_ns + c->o.connect_timeout_ns);
    c->st.timeouts += expired;
    c->st.errors += expired;
    return fr;
}

/* Asks for the replies to the request in c->buf bundled (docs/protocol.md). */
static void want_bundle(lx_client *c, size_t len)
{
    if (!c->o.unbundled && len >= LX_PROTO_HDR_LEN)
        c->buf[5] |= (uint8_t)LX_PROTO_F_BUNDLE;
}

int lx__client_send_frame(lx_client *c, size_t node_i, const uint8_t *b, size_t len)
{
    lx_zpart part = {b, len};
    lx_err err = lx_zsock_send(c->nodes[node_i].s, &part, 1, LX_ZDONTWAIT);
    if (err != LX_OK) {
        c->st.send_failures++;
        return 0;
    }
    return 1;
}

/* Sends the frame of fr that its encoder (which returned err) wrote into
 * c->buf; 0, with fr closed, if it was not encoded or not sent. */
static int send_built(lx_client *c, lx_inflight_frame *fr, size_t node_i, lx_err err, size_t len)
{
    if (err == LX_OK)
        want_bundle(c, len);
    if (err != LX_OK || !lx__client_send_frame(c, node_i, c->buf, len)) {
        lx_inflight_close(c->fl, fr);
        return 0;
    }
    return 1;
}

/* Sends a body-less or fixed request m to a node as a new frame of kind. */
static lx_inflight_frame *send_request(lx_client *c, size_t node_i, lx_inflight_kind kind,
                                       lx_proto_msg *m)
{
    lx_inflight_frame *fr = new_frame(c, kind, node_i, 0);
    if (fr == NULL)
        return NULL;
    m->hdr.req_id = fr->req_id;
    size_t n = 0;
    lx_err err = lx_proto_encode(c->buf, sizeof c->buf, &n, m);
    return send_built(c, fr, node_i, err, n) ? fr : NULL;
}

static void send_ping(lx_client *c, size_t node_i)
{
    lx_proto_msg m;
    memset(&m, 0, sizeof m);
    m.hdr.type = LX_PROTO_PING;
    (void)send_request(c, node_i, LX_INFLIGHT_PING, &m);
}

void lx_client_send_orders(lx_client *c, size_t node_i, uint64_t k, unsigned n)
{
    lx_order_cmd orders[LX_PROTO_BATCH_MAX];
    LX_ASSERT(c->gen != NULL && node_i < c->nn && n >= 1 && n <= LX_PROTO_BATCH_MAX);
    for (unsigned i = 0; i < n; i++) {
        lx_ordergen_next(c->gen, &orders[i], (uint32_t)node_i, (uint32_t)c->nn);
        if (c->load.cancel_ratio > 0.0 && lx_ordergen_chance(c->gen, c->load.cancel_ratio))
            c->marks[(k + i) % CANCEL_RING] = (cancel_mark){orders[i].id, orders[i].account};
    }
    c->st.sent += n;
    c->st.frames++;
    lx_inflight_frame *fr = new_frame(c, LX_INFLIGHT_ORDER, node_i, n);
    if (fr == NULL) {
        c->st.errors += n;
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
    if (!send_built(c, fr, node_i, err, len))
        c->st.errors += n;
}

static void send_cancel(lx_client *c, size_t node_i, uint64_t id, uint64_t account)
{
    lx_proto_msg m;
    memset(&m, 0, sizeof m);
    m.hdr.type = LX_PROTO_CANCEL;
    m.u.cancel.id = id;
    m.u.cancel.account = account;
    if (send_request(c, node_i, LX_INFLIGHT_CANCEL, &m) != NULL) {
        c->st.cancels_sent++;
        c->st.cancel_frames++;
    }
}

/* The cancels that the acks of one BATCH_RESULT call for. */
typedef struct cancels {
    lx_cancel_cmd v[LX_PROTO_BATCH_MAX];
    size_t n;
} cancels;

/* Sends them as one CANCEL, or one CANCEL_BATCH frame (its norders is the
 * number of cancels). */
static void send_cancels(lx_client *c, size_t node_i, const cancels *cs)
{
    if (cs->n <= 1) {
        if (cs->n == 1)
            send_cancel(c, node_i, cs->v[0].id, cs->v[0].account);
        return;
    }
    lx_inflight_frame *fr = new_frame(c, LX_INFLIGHT_CANCEL, node_i, (uint32_t)cs->n);
    if (fr == NULL)
        return;
    size_t len = 0;
    lx_err err =
        lx_proto_encode_cancel_batch(c->buf, sizeof c->buf, &len, fr->req_id, cs->v, cs->n);
    if (send_built(c, fr, node_i, err, len)) {
        c->st.cancels_sent += cs->n;
        c->st.cancel_frames++;
    }
}

/* ---- replies ---- */

/* One line of --acked-log: the id in decimal. By hand: fprintf was the
 * largest user-space cost of an ack in the client's profile. */
static void log_acked(FILE *f, uint64_t id)
{
    char b[24];
    char *p = b + sizeof b;
    *--p = '\n';
    do {
        *--p = (char)('0' + id % 10);
        id /= 10;
    } while (id > 0);
    fwrite(p, 1, (size_t)(b + sizeof b - p), f);
}

/* An order was acknowledged; a cancel it is marked for goes to pend, or at
 * once when pend is NULL. */
static void order_acked(lx_client *c, size_t node_i, uint64_t id, uint64_t now, cancels *pend)
{
    uint64_t k = lx_ordergen_index(c->gen, id);
    if (k == UINT64_MAX) {
        c->st.bad_replies++;
        return;
    }
    c->st.acked++;
    uint64_t due = lx_pace_time(c->start_ns, c->load.rate, k);
    uint64_t us = now > due ? (now - due) / 1000u : 0;
    lx_hist_record(c->hist, us);
    lx_hist_record(c->hist_recent, us);
    if (c->acked_log != NULL)
        log_acked(c->acked_log, id);
    cancel_mark *mk = &c->marks[k % CANCEL_RING];
    if (mk->id == id) {
        if (pend != NULL && pend->n < LX_PROTO_BATCH_MAX)
            pend->v[pend->n++] = (lx_cancel_cmd){.id = mk->id, .account = mk->account};
        else
            send_cancel(c, node_i, mk->id, mk->account);
        mk->id = 0;
    }
}

static void order_rejected(lx_client *c, uint8_t reason)
{
    c->st.rejected++;
    c->st.reject_reasons[reason < LX_R_COUNT ? reason : 0]++;
}

/* ---- withdrawals ---- */

static uint64_t wd_amount(const lx_client *c, uint64_t i)
{
    return i < c->nwds && c->wds[i].used ? c->wds[i].amount : 0;
}

static void wd_release(lx_client *c, uint64_t i)
{
    if (i >= c->nwds || !c->wds[i].used)
        return;
    c->wds[i].used = 0;
    c->wds[i].next_free = c->wd_free;
    c->wd_free = (size_t)i;
}

/* A free slot's index, or SIZE_MAX when out of memory. */
static size_t wd_alloc(lx_client *c)
{
    size_t i = c->wd_free;
    if (i < c->nwds) {
        c->wd_free = c->wds[i].next_free;
    } else {
        if (c->nwds == c->wds_cap) {
            size_t cap = c->wds_cap ? 2 * c->wds_cap : 64;
            withdrawal *v = realloc(c->wds, cap * sizeof *v);
            if (v == NULL)
                return SIZE_MAX;
            c->wds = v;
            c->wds_cap = cap;
        }
        i = c->nwds++;
    }
    memset(&c->wds[i], 0, sizeof c->wds[i]);
    c->wds[i].used = 1;
    c->wds[i].next_free = SIZE_MAX;
    return i;
}

static int wd_send(lx_client *c, size_t i)
{
    withdrawal *w = &c->wds[i];
    lx_proto_msg m;
    memset(&m, 0, sizeof m);
    m.hdr.type = LX_PROTO_WITHDRAW;
    m.u.transfer.account = w->account;
    m.u.transfer.amount = w->amount;
    memcpy(m.u.transfer.asset, w->asset, sizeof m.u.transfer.asset);
    m.u.transfer.dest_len = (uint8_t)strlen(w->dest);
    memcpy(m.u.transfer.dest, w->dest, m.u.transfer.dest_len);
    size_t node_i = (size_t)((w->account - c->load.account_base) % c->nn);
    w->tries++;
    lx_inflight_frame *fr = send_request(c, node_i, LX_INFLIGHT_WITHDRAW, &m);
    if (fr == NULL) {
        c->st.wd_failed++;
        wd_release(c, i);
        return 0;
    }
    fr->aux = i;
    return 1;
}

/* After ERROR overloaded: 1 when withdrawal i waits to be sent again. */
static int wd_retry_later(lx_client *c, uint64_t i, uint64_t now)
{
    if (i >= c->nwds || !c->wds[i].used || c->wds[i].tries >= LX_CLIENT_WD_TRIES)
        return 0;
    uint64_t due = now + (c->o.wd_retry_ns ? c->o.wd_retry_ns : LX_CLIENT_WD_RETRY_NS);
    c->wds[i].due_ns = due;
    if (c->wd_waiting++ == 0 || due < c->wd_next_due)
        c->wd_next_due = due;
    return 1;
}

/* Sends again the withdrawals whose time has come. */
static void wd_resend_due(lx_client *c, uint64_t now)
{
    if (c->wd_waiting == 0 || now < c->wd_next_due)
        return;
    uint64_t next = UINT64_MAX;
    for (size_t i = 0; c->wd_waiting > 0 && i < c->nwds; i++) {
        withdrawal *w = &c->wds[i];
        if (!w->used || w->due_ns == 0)
            continue;
        if (w->due_ns > now) {
            next = w->due_ns < next ? w->due_ns : next;
            continue;
        }
        w->due_ns = 0;
        c->wd_waiting--;
        c->st.wd_retries++;
        wd_send(c, i);
    }
    c->wd_next_due = next;
}

/* A deposit that has been sent again can get two answers; only the first
 * counts. Takes deposit idx out of flight (or off the send list) for an
 * answer; returns 0 if it was answered already. */
static int deposit_answered(lx_client *c, size_t idx)
{
    deposit *d = &c->deps[idx];
    if (d->state >= 2)
        return 0;
    if (d->state == 1)
        c->deps_inflight--;
    else
        c->deps_todo--;
    d->state = 0;
    return 1;
}

static void deposit_error(lx_client *c, const lx_inflight_frame *fr, const lx_proto_msg *m,
                          uint16_t code)
{
    /* Sent again: an outcome_unknown deposit may have been applied, which
     * funds the account twice over and does no harm. */
    if (code == LX_PROTO_E_OVERLOADED || code == LX_PROTO_E_UNAVAILABLE ||
        code == LX_PROTO_E_OUTCOME_UNKNOWN) {
        if (c->deps[fr->aux].state == 1) {
            c->deps_inflight--;
            c->deps[fr->aux].state = 0; /* send it again */
            c->deps_todo++;
        }
        return;
    }
    if (!deposit_answered(c, fr->aux))
        return;
    c->deps[fr->aux].state = 3;
    if (c->deps_failed++ == 0) {
        fprintf(stderr, "%s: deposit failed: ERROR %s%s%s%s\n", c->o.name,
                lx_proto_error_str((lx_proto_error)code), m->u.error.text_len ? " (" : "",
                m->u.error.text, m->u.error.text_len ? ")" : "");
        if (code == LX_PROTO_E_FAUCET_DISABLED)
            fprintf(stderr, "%s: start the nodes with --dev-faucet\n", c->o.name);
    }
    c->fund_failed = 1;
}

static void handle_reply(lx_client *c, const uint8_t *b, size_t len, uint64_t now)
{
    lx_proto_msg m;
    if (lx_proto_decode(&m, NULL, b, len) != LX_OK || lx_proto_is_request(m.hdr.type)) {
        c->st.bad_replies++;
        return;
    }
    if (m.hdr.flags & LX_PROTO_F_UNSOLICITED) {
        if (m.hdr.type == LX_PROTO_FILL)
            c->st.maker_fills++;
        else if (m.hdr.type == LX_PROTO_CANCELLED)
            c->st.other_cancels++;
        return;
    }
    const lx_inflight_frame *slot = lx_inflight_find(c->fl, m.hdr.req_id);
    if (slot == NULL) {
        c->st.stray_replies++;
        return;
    }
    /* A copy: an ack may send a cancel, whose new frame can move the ring. */
    const lx_inflight_frame fr = *slot;
    int first = fr.state == LX_INFLIGHT_WAIT;
    if (first && fr.kind == LX_INFLIGHT_ORDER)
        c->st.last_reply_ns = now;
    switch (m.hdr.type) {
    case LX_PROTO_ACK:
        if (!first)
            c->st.bad_replies++;
        else if (fr.kind == LX_INFLIGHT_ORDER && fr.norders == 1)
            order_acked(c, fr.node, m.u.ack.id, now, NULL);
        else if (fr.kind == LX_INFLIGHT_WITHDRAW) {
            c->st.wd_acked++;
            c->st.wd_amount += wd_amount(c, fr.aux);
            wd_release(c, fr.aux);
        } else if (fr.kind == LX_INFLIGHT_DEPOSIT) {
            if (deposit_answered(c, fr.aux)) {
                c->deps[fr.aux].state = 2;
                c->deps_acked++;
            }
        } else
            c->st.bad_replies++;
        break;
    case LX_PROTO_REJECT:
        if (fr.kind == LX_INFLIGHT_ORDER)
            order_rejected(c, m.u.reject.reason);
        else if (fr.kind == LX_INFLIGHT_CANCEL)
            c->st.cancel_misses++;
        else if (fr.kind == LX_INFLIGHT_WITHDRAW) {
            c->st.wd_rejected++;
            wd_release(c, fr.aux);
        } else if (fr.kind == LX_INFLIGHT_DEPOSIT) {
            if (!deposit_answered(c, fr.aux))
                break;
            c->deps[fr.aux].state = 3;
            if (c->deps_failed++ == 0)
                fprintf(stderr, "%s: deposit of %s to account %" PRIu64 " rejected: %s\n",
                        c->o.name, c->deps[fr.aux].asset, c->deps[fr.aux].account,
                        lx_reason_str((lx_reason)m.u.reject.reason));
            c->fund_failed = 1;
        } else
            c->st.bad_replies++;
        break;
    case LX_PROTO_BATCH_RESULT: {
        if ((fr.kind != LX_INFLIGHT_ORDER && fr.kind != LX_INFLIGHT_CANCEL) ||
            m.u.batch.count != fr.norders) {
            c->st.bad_replies++;
            break;
        }
        /* The cancels an order batch's acks call for go out together, as
         * one CANCEL_BATCH. */
        cancels pend;
        pend.n = 0;
        for (size_t i = 0; i < m.u.batch.count; i++) {
            lx_proto_batch_item it;
            if (lx_proto_batch_result_get(&m, &it, i) != LX_OK)
                continue;
            if (fr.kind == LX_INFLIGHT_CANCEL && it.reason == LX_R_NONE)
                c->st.cancelled++;
            else if (fr.kind == LX_INFLIGHT_CANCEL)
                c->st.cancel_misses++;
            else if (it.reason == LX_R_NONE)
                order_acked(c, fr.node, it.id, now, &pend);
            else
                order_rejected(c, it.reason);
        }
        send_cancels(c, fr.node, &pend);
        break;
    }
    case LX_PROTO_FILL:
        if (m.u.fill.role == 1)
            c->st.fills++;
        else
            c->st.maker_fills++;
        break;
    case LX_PROTO_CANCELLED:
        if (fr.kind == LX_INFLIGHT_CANCEL && fr.norders == 0)
            c->st.cancelled++;
        else if (fr.kind != LX_INFLIGHT_CANCEL)
            c->st.other_cancels++;
        /* else: a CANCEL_BATCH's, counted from its BATCH_RESULT */
        break;
    case LX_PROTO_PONG:
        if (fr.kind == LX_INFLIGHT_PING) {
            node *nd = &c->nodes[fr.node];
            nd->ready = 1;
            nd->leader = m.u.pong.leader;
            nd->pong_seq = m.u.pong.seq;
        }
        break;
    case LX_PROTO_MARKETS:
        if (fr.kind == LX_INFLIGHT_MARKETS) {
            c->nmarkets = 0;
            for (size_t i = 0; i < m.u.markets.count; i++)
                if (lx_proto_markets_get(&m, &c->markets[c->nmarkets], i) == LX_OK)
                    c->nmarkets++;
            c->have_markets = 1;
        }
        break;
    case LX_PROTO_ERROR: {
        uint16_t code = m.u.error.code < LX_PROTO_E_COUNT ? m.u.error.code : 0;
        if (fr.kind == LX_INFLIGHT_WITHDRAW && code == LX_PROTO_E_OVERLOADED &&
            wd_retry_later(c, fr.aux, now))
            break; /* not an error yet */
        c->st.error_codes[code]++;
        if (fr.kind == LX_INFLIGHT_ORDER)
            c->st.errors += fr.norders;
        else if (fr.kind == LX_INFLIGHT_DEPOSIT)
            deposit_error(c, &fr, &m, code);
        else if (fr.kind == LX_INFLIGHT_WITHDRAW) {
            c->st.wd_failed++;
            wd_release(c, fr.aux);
        }
        break;
    }
    default:
        c->st.bad_replies++;
        break;
    }
    lx_inflight_frame *now_fr = lx_inflight_find(c->fl, fr.req_id);
    if (now_fr == NULL)
        return; /* closed as expired while the reply was handled */
    if (m.hdr.flags & LX_PROTO_F_MORE)
        now_fr->state = LX_INFLIGHT_TAIL;
    else
        lx_inflight_close(c->fl, now_fr);
}

void lx_client_recv(lx_client *c)
{
    for (size_t i = 0; i < c->nn; i++) {
        for (int burst = 0; burst < RECV_BURST; burst++) {
            lx_zmsg msg;
            lx_err err = lx_zsock_recv(c->nodes[i].s, &msg, LX_ZDONTWAIT);
            if (err == LX_ETOOBIG) {
                c->st.bad_replies++;
                continue;
            }
            if (err != LX_OK)
                break;
            if (msg.n == 1) {
                /* One frame, or (bundled) several back to back. */
                const uint8_t *f;
                size_t off = 0, flen;
                uint64_t now = lx_now_ns();
                lx_err fe;
                while ((fe = lx_proto_next_frame(msg.part[0].data, msg.part[0].len, &off, &f,
                                                 &flen)) == LX_OK)
                    handle_reply(c, f, flen, now);
                if (fe == LX_EFORMAT || msg.part[0].len == 0)
                    c->st.bad_replies++;
            } else {
                c->st.bad_replies++;
            }
            lx_zmsg_close(&msg);
        }
    }
    wd_resend_due(c, lx_now_ns());
}

void lx_client_wait(lx_client *c, uint64_t until_ns)
{
    if (c->wd_waiting > 0 && (until_ns == 0 || c->wd_next_due < until_ns))
        until_ns = c->wd_next_due;
    lx_zpollitem items[LX_CLIENT_NODES_MAX + 1];
    size_t n = 0;
    for (size_t i = 0; i < c->nn; i++)
        items[n++] = (lx_zpollitem){.sock = c->nodes[i].s, .events = LX_ZPOLLIN};
    long timeout = -1;
    if (c->tfd >= 0 && until_ns != 0) {
        struct itimerspec its;
        memset(&its, 0, sizeof its);
        its.it_value.tv_sec = (time_t)(until_ns / 1000000000u);
        its.it_value.tv_nsec = (long)(until_ns % 1000000000u);
        if (timerfd_settime(c->tfd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
            items[n++] = (lx_zpollitem){.sock = NULL, .fd = c->tfd, .events = LX_ZPOLLIN};
        else
            timeout = 1;
    } else if (until_ns != 0) {
        uint64_t now = lx_now_ns();
        timeout = until_ns > now ? (long)((until_ns - now + 999999u) / 1000000u) : 0;
    }
    int nready = 0;
    (void)lx_zwait(&nready, items, n, timeout);
    if (c->tfd >= 0 && n > c->nn && (items[c->nn].revents & LX_ZPOLLIN)) {
        uint64_t ticks;
        if (read(c->tfd, &ticks, sizeof ticks) < 0 && errno != EAGAIN)
            return;
    }
}

/* ---- phases ---- */

int lx_client_wait_ready(lx_client *c, uint64_t timeout_ns)
{
    uint64_t deadline = lx_now_ns() + timeout_ns, next_ping = 0;
    for (;;) {
        uint64_t now = lx_now_ns();
        size_t ready = 0;
        for (size_t i = 0; i < c->nn; i++)
            ready += (size_t)c->nodes[i].ready;
        if (ready == c->nn)
            return 1;
        if (now >= deadline || lx__client_stopped(c))
            return 0;
        if (now >= next_ping) {
            for (size_t i = 0; i < c->nn; i++)
                if (!c->nodes[i].ready)
                    send_ping(c, i);
            next_ping = now + 250000000u;
        }
        uint64_t until = next_ping < deadline ? next_ping : deadline;
        lx_client_wait(c, until);
        lx_client_recv(c);
    }
}

int lx_client_fetch_markets(lx_client *c, const char *names)
{
    lx_proto_msg m;
    memset(&m, 0, sizeof m);
    m.hdr.type = LX_PROTO_QUERY_MARKETS;
    uint64_t deadline = lx_now_ns() + c->o.connect_timeout_ns;
    /* A cluster that has just started lists its markets once the leader's
     * first block has reached the node: until then, ask again. */
    for (;;) {
        if (send_request(c, 0, LX_INFLIGHT_MARKETS, &m) == NULL)
            return 0;
        while (!c->have_markets && lx_now_ns() < deadline && !lx__client_stopped(c)) {
            lx_client_wait(c, deadline);
            lx_client_recv(c);
        }
        uint64_t again = lx_now_ns() + UINT64_C(100000000);
        if (!c->have_markets || c->nmarkets > 0 || again >= deadline || lx__client_stopped(c))
            break;
        c->have_markets = 0;
        while (lx_now_ns() < again && !lx__client_stopped(c)) {
            lx_client_wait(c, again);
            lx_client_recv(c);
        }
    }
    if (!c->have_markets) {
        fprintf(stderr, "%s: %s did not answer QUERY_MARKETS\n", c->o.name, c->o.nodes[0]);
        return 0;
    }
    if (names == NULL || names[0] == '\0')
        return 1;
    /* Keep only the named markets, in the order named. */
    lx_proto_market keep[LX_PROTO_LIST_MAX];
    size_t nkeep = 0;
    char list[LX_CLIENT_MARKETS_ARG_MAX];
    if (strlen(names) >= sizeof list)
        return -1;
    snprintf(list, sizeof list, "%s", names);
    for (char *save = NULL, *t = strtok_r(list, ",", &save); t != NULL;
         t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ')
            t++;
        size_t i = 0;
        for (; i < c->nmarkets; i++)
            if (strcmp(c->markets[i].spec.name, t) == 0)
                break;
        if (i == c->nmarkets) {
            fprintf(stderr, "%s: --markets: the cluster has no market \"%s\"\n", c->o.name, t);
            return -1;
        }
        if (nkeep < LX_PROTO_LIST_MAX)
            keep[nkeep++] = c->markets[i];
    }
    memcpy(c->markets, keep, nkeep * sizeof keep[0]);
    c->nmarkets = nkeep;
    return 1;
}

size_t lx_client_markets(const lx_client *c)
{
    return c->nmarkets;
}

lx_err lx_client_load_init(lx_client *c, const lx_client_load *l)
{
    if (c == NULL || l == NULL || c->gen != NULL || c->nmarkets == 0 || !(l->rate > 0.0))
        return LX_EINVAL;
    c->load = *l;
    lx_ordergen_opts go = {.seed = l->seed,
                           .id_base = l->id_base,
                           .account_first = l->account_base,
                           .accounts = l->accounts,
                           .markets = c->markets,
                           .nmarkets = c->nmarkets};
    if (lx_ordergen_new(&c->gen, &go) != LX_OK)
        return LX_EINVAL;
    c->marks = calloc(CANCEL_RING, sizeof *c->marks);
    return c->marks != NULL ? LX_OK : LX_ENOMEM;
}

static int asset_seen(char (*assets)[LX_SYMBOL_MAX], size_t n, const char *a)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(assets[i], a) == 0)
            return 1;
    return 0;
}

/* Builds the deposit list: both assets of every market into every account,
 * enough for orders_per_account orders. Returns 0 when out of memory. */
static int plan_deposits(lx_client *c, uint64_t per_account)
{
    char assets[2 * LX_PROTO_LIST_MAX][LX_SYMBOL_MAX];
    size_t na = 0;
    for (size_t i = 0; i < c->nmarkets; i++) {
        if (!asset_seen(assets, na, c->markets[i].spec.base))
            memcpy(assets[na++], c->markets[i].spec.base, LX_SYMBOL_MAX);
        if (!asset_seen(assets, na, c->markets[i].spec.quote))
            memcpy(assets[na++], c->markets[i].spec.quote, LX_SYMBOL_MAX);
    }
    c->ndeps = (size_t)c->load.accounts * na;
    c->deps = calloc(c->ndeps, sizeof *c->deps);
    if (c->deps == NULL)
        return 0;
    for (size_t a = 0; a < c->load.accounts; a++)
        for (size_t j = 0; j < na; j++) {
            deposit *d = &c->deps[a * na + j];
            d->account = c->load.account_base + a;
            d->amount = lx_ordergen_deposit(c->gen, assets[j], per_account);
            memcpy(d->asset, assets[j], LX_SYMBOL_MAX);
        }
    c->deps_todo = c->ndeps;
    return 1;
}

/* Deposits with no answer after DEPOSIT_RESEND_NS go out again: a node
 * can lose a request it could not route (a follower forwarding to a leader
 * that does not know it yet, just after a start), and says nothing. A
 * deposit applied twice only funds an account twice over, which the
 * generous amounts allow. */
static void resend_unanswered(lx_client *c)
{
    uint64_t now = lx_now_ns();
    size_t n = 0;
    for (size_t i = 0; i < c->ndeps; i++) {
        deposit *d = &c->deps[i];
        if (d->state == 1 && now - d->sent_ns > DEPOSIT_RESEND_NS) {
            d->state = 0;
            c->deps_inflight--;
            c->deps_todo++;
            n++;
        }
    }
    if (n)
        fprintf(stderr, "%s: funding: sending %zu deposits again (no answer in %u s)\n", c->o.name,
                n, (unsigned)(DEPOSIT_RESEND_NS / 1000000000u));
}

int lx_client_fund(lx_client *c, uint64_t total_orders)
{
    if (c->gen == NULL || c->deps != NULL || !plan_deposits(c, total_orders / c->load.accounts + 1))
        return 0;
    /* Generous: a deposit goes through consensus like an order. */
    uint64_t deadline = lx_now_ns() + c->o.connect_timeout_ns + UINT64_C(30000000000) +
                        (uint64_t)c->ndeps * 1000000u;
    size_t cursor = 0;
    while (c->deps_acked < c->ndeps && !c->fund_failed && !lx__client_stopped(c)) {
        if (lx_now_ns() >= deadline) {
            fprintf(stderr, "%s: funding: %zu of %zu deposits acknowledged in time\n", c->o.name,
                    c->deps_acked, c->ndeps);
            return 0;
        }
        for (size_t scanned = 0;
             scanned < c->ndeps && c->deps_todo > 0 && c->deps_inflight < DEPOSITS_INFLIGHT;
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
            /* Through the node the account trades on. */
            size_t node_i = (size_t)((d->account - c->load.account_base) % c->nn);
            lx_inflight_frame *fr = send_request(c, node_i, LX_INFLIGHT_DEPOSIT, &m);
            if (fr == NULL)
                break;
            fr->aux = idx;
            d->state = 1;
            d->sent_ns = lx_now_ns();
            c->deps_todo--;
            c->deps_inflight++;
        }
        /* Wakes at the first reply; the timeout paces resends. */
        lx_client_wait(c, lx_now_ns() + 50000000u);
        lx_client_recv(c);
        resend_unanswered(c);
    }
    if (c->deps_failed > 1)
        fprintf(stderr, "%s: %zu deposits failed in all, %zu acknowledged\n", c->o.name,
                c->deps_failed, c->deps_acked);
    return c->deps_acked == c->ndeps && !c->fund_failed;
}

void lx_client_load_start(lx_client *c, uint64_t start_ns)
{
    c->start_ns = start_ns;
}

/* ---- funding without the faucet, and withdrawals (settlement runs) ---- */

int lx_client_fund_plan(lx_client *c, uint64_t total_orders, FILE *out)
{
    if (c == NULL || out == NULL || c->gen == NULL || c->deps != NULL ||
        !plan_deposits(c, total_orders / c->load.accounts + 1))
        return 0;
    for (size_t i = 0; i < c->ndeps; i++)
        fprintf(out, "{\"account\":%" PRIu64 ",\"asset\":\"%s\",\"amount\":%" PRIu64 "}\n",
                c->deps[i].account, c->deps[i].asset, c->deps[i].amount);
    return fflush(out) == 0;
}

int lx_client_withdraw(lx_client *c, uint64_t account, const char *asset, uint64_t amount,
                       const char *dest)
{
    if (c == NULL || asset == NULL || dest == NULL || strlen(asset) >= LX_SYMBOL_MAX ||
        strlen(dest) > LX_PROTO_ADDR_MAX || account < c->load.account_base || c->nn == 0)
        return 0;
    c->st.wd_sent++;
    size_t i = wd_alloc(c);
    if (i == SIZE_MAX) {
        c->st.wd_failed++;
        return 0;
    }
    withdrawal *w = &c->wds[i];
    w->account = account;
    w->amount = amount;
    memcpy(w->asset, asset, strlen(asset) + 1);
    memcpy(w->dest, dest, strlen(dest) + 1);
    return wd_send(c, i);
}
