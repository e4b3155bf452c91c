/* The multi-node daemon's event loop: recovery, the four bound sockets and
 * the peer links, client request intake, the replication stream, heartbeats,
 * peer discovery, metrics and a clean shutdown. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "journal_int.h"
#include "logio.h"
#include "node_int.h"
#include "settle_int.h"

#define RECV_BURST 256         /* messages per socket per loop turn */
#define HELLO_FAST_US 300000u  /* while a peer is unknown */
#define HELLO_SLOW_US 5000000u /* afterwards */
#define HELLO_SOON_US 20000u   /* after a request from a peer not yet known */
#define STATUS_US 1000000u
#define SHUTDOWN_WAIT_US 5000000u
#define POLL_MAX_MS 100
#define PEER_RECONNECT_MS 20
/* Leader: requests (in acknowledged blocks) applied and answered per loop
 * turn, a few ms of work; the rest wait for the next turn, which comes at
 * once, so heartbeats are never held up behind a long run of
 * acknowledgements. At least one block goes each turn. */
#define APPLY_PER_TURN 2048u
/* A deadline closer than this is waited for on the timerfd, to the
 * microsecond; farther ones with zmq_poll's millisecond timeout. */
#define PRECISE_US 5000u

void lx__log(lx__node *n, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s %s\n", n->cfg.node_id, line);
    if (n->logf) {
        fprintf(n->logf, "%s %s\n", n->cfg.node_id, line);
        fflush(n->logf);
    }
}

/* ---- sending ---- */

void lx__reply_local(lx__node *n, const uint8_t *rid, size_t rid_len, const uint8_t *frame,
                     size_t len)
{
    lx_zpart parts[2] = {{rid, rid_len}, {frame, len}};
    if (lx_zsock_send(n->router, parts, 2, LX_ZDONTWAIT) == LX_OK)
        n->m.msgs_out++;
    else
        n->m.replies_dropped++; /* the client is gone or does not read */
}

lx_err lx__send_peer(lx__node *n, int slot, const uint8_t *msg, size_t len)
{
    if (slot < 0)
        return LX_EINVAL;
    if ((size_t)slot >= n->cfg.npeers)
        return lx__topo_send(n, slot, msg, len);
    lx_zpart p = {msg, len};
    lx_err rc = lx_zsock_send(n->out[slot], &p, 1, LX_ZDONTWAIT);
    if (rc == LX_OK)
        n->m.msgs_out++;
    return rc;
}

void lx__reply_frames(lx__node *n, const lx__origin *o, const uint8_t *frames, const size_t *lens,
                      size_t count, int last)
{
    if (o->slot == LX__LOCAL) {
        size_t off = 0;
        if (o->bundle && count > 1) {
            /* One message: the frames are back to back already. */
            for (size_t i = 0; i < count; i++)
                off += lens[i];
            lx__reply_local(n, o->rid, o->rid_len, frames, off);
            return;
        }
        for (size_t i = 0; i < count; i++) {
            lx__reply_local(n, o->rid, o->rid_len, frames + off, lens[i]);
            off += lens[i];
        }
        return;
    }
    size_t off = 0, loff = 0;
    for (size_t i = 0; i < count; i++) {
        if (lx__peer_list_put(n->scratch, LX__PEER_MSG_MAX, &loff, frames + off, lens[i]) != LX_OK)
            return;
        off += lens[i];
    }
    lx__peer_msg m;
    memset(&m, 0, sizeof m);
    m.type = LX__P_RESULT;
    snprintf(m.from, sizeof m.from, "%s", n->cfg.node_id);
    memcpy(m.cluster, n->cfg.cluster_tag, LX__CLUSTER_TAG_LEN);
    m.u.result.token = o->token;
    m.u.result.last = (uint8_t)((last ? 1 : 0) | (o->bundle ? LX__RESULT_BUNDLE : 0));
    m.u.result.rid_len = o->rid_len;
    m.u.result.rid = o->rid;
    m.u.result.count = (uint16_t)count;
    m.u.result.list = n->scratch;
    m.u.result.list_len = loff;
    size_t w;
    if (lx__peer_encode(n->scratch3, LX__PEER_MSG_MAX, &w, &m) != LX_OK ||
        lx__send_peer(n, o->slot, n->scratch3, w) != LX_OK)
        n->m.replies_dropped += count; /* the origin node is down or not reading */
}

void lx__reply_error(lx__node *n, const lx__origin *o, uint64_t req_id, lx_proto_error code,
                     const char *text)
{
    lx_proto_msg m;
    memset(&m, 0, sizeof m);
    m.hdr.type = LX_PROTO_ERROR;
    m.hdr.req_id = req_id;
    m.u.error.code = (uint16_t)code;
    size_t tl = text ? strlen(text) : 0;
    if (tl > LX_PROTO_TEXT_MAX)
        tl = LX_PROTO_TEXT_MAX;
    memcpy(m.u.error.text, text, tl);
    m.u.error.text_len = (uint8_t)tl;
    uint8_t buf[LX_PROTO_HDR_LEN + 3 + LX_PROTO_TEXT_MAX];
    size_t w;
    if (lx_proto_encode(buf, sizeof buf, &w, &m) == LX_OK)
        lx__reply_frames(n, o, buf, &w, 1, 1);
}

/* ---- the replica ---- */

lx_err lx__apply_block(lx__node *n, const uint8_t *bytes, size_t len, size_t **ends)
{
    lx_err rc = lx_block_decode(&n->blk, bytes, len);
    if (rc != LX_OK)
        return rc;
    if (n->blk.hdr.seq != n->seq + 1)
        return LX_ESTATE;
    if (n->blk.hdr.count > n->ends_cap) {
        size_t *e = realloc(n->ends, n->blk.hdr.count * sizeof *e);
        if (!e)
            return LX_ENOMEM;
        n->ends = e;
        n->ends_cap = n->blk.hdr.count;
    }
    /* Decided once per block: the deltas compare the books before it with
     * the books after it. */
    const int md = n->md_on;
    if (md)
        lx__md_before(n->md, n->engine, &n->blk);
    lx_events_clear(&n->evs);
    if ((rc = lx__block_apply_ends(n->engine, &n->evs, n->hash, &n->blk, n->ends)) != LX_OK)
        return rc;
    n->seq = n->blk.hdr.seq;
    n->next_index = n->blk.hdr.first_index + n->blk.hdr.count;
    lx__terms_note(&n->terms, n->blk.hdr.term, n->seq);
    for (uint32_t i = 0; i < n->blk.hdr.count; i++)
        if (!n->blk.entries[i].is_market && n->blk.entries[i].cmd.type == LX_CMD_ORDER)
            n->m.orders++;
    for (size_t i = 0; i < n->evs.n; i++)
        if (n->evs.v[i].type == LX_EV_FILL)
            n->m.trades++;
    if (md)
        lx__md_after(n->md, n, n->evs.v, n->evs.n);
    lx__replica_applied(n);
    lx__settle_block(n);
    if (lx__ss_due(n))
        lx__ss_snapshot(n);
    if (ends)
        *ends = n->ends;
    return LX_OK;
}

/* ---- intake ---- */

static int is_sequenced(uint8_t t)
{
    return t == LX_PROTO_NEW_ORDER || t == LX_PROTO_NEW_ORDER_BATCH || t == LX_PROTO_CANCEL ||
           t == LX_PROTO_CANCEL_BATCH || t == LX_PROTO_REPLACE || t == LX_PROTO_DEPOSIT ||
           t == LX_PROTO_WITHDRAW;
}

static void on_client(lx__node *n, const lx_zmsg *zm)
{
    uint64_t now = lx_now_us();
    n->m.msgs_in++;
    if (zm->n != 2 || zm->part[0].len == 0 || zm->part[0].len > LX__ROUTING_MAX)
        return; /* not a DEALER client: nothing to answer */
    lx__origin o = lx__origin_local(zm->part[0].data, zm->part[0].len);
    const uint8_t *frame = zm->part[1].data;
    size_t len = zm->part[1].len;
    lx_proto_msg m;
    lx_proto_error code;
    if (lx_proto_decode(&m, &code, frame, len) != LX_OK) {
        n->m.bad_frames++;
        lx__reply_error(n, &o, m.hdr.req_id, code, "bad frame");
        return;
    }
    o.bundle = (m.hdr.flags & LX_PROTO_F_BUNDLE) != 0;
    if (!lx_proto_is_request(m.hdr.type)) {
        n->m.bad_frames++;
        lx__reply_error(n, &o, m.hdr.req_id, LX_PROTO_E_UNKNOWN_TYPE, "not a request type");
        return;
    }
    if (!is_sequenced(m.hdr.type)) {
        lx__answer_query(n, &o, &m, now);
        return;
    }
    if (!lx__auth_admit(n, &o, zm, &m))
        return; /* answered: another account than the connection's key */
    if (n->is_leader)
        lx__seq_submit(n, &o, &m, now);
    else
        lx__replica_forward(n, o.rid, o.rid_len, &m, frame, len, now);
}

int lx__slot_of_peer(const lx__node *n, const char *id)
{
    for (size_t i = 0; i < n->nslots; i++)
        if (strcmp(n->peer_id[i], id) == 0)
            return (int)i;
    return -1;
}

static void send_hello(lx__node *n, int ack, const char *to, uint32_t slot)
{
    lx__peer_msg m;
    memset(&m, 0, sizeof m);
    snprintf(m.from, sizeof m.from, "%s", n->cfg.node_id);
    memcpy(m.cluster, n->cfg.cluster_tag, LX__CLUSTER_TAG_LEN);
    uint8_t buf[128];
    size_t w;
    if (ack) {
        /* We do not know which link reaches the asker: try them all, only
         * the addressee keeps it. */
        m.type = LX__P_HELLO_ACK;
        snprintf(m.u.hello_ack.to, sizeof m.u.hello_ack.to, "%s", to);
        m.u.hello_ack.slot = slot;
        if (lx__peer_encode(buf, sizeof buf, &w, &m) == LX_OK)
            for (size_t i = 0; i < n->cfg.npeers; i++)
                lx__send_peer(n, (int)i, buf, w);
        return;
    }
    m.type = LX__P_HELLO;
    m.u.hello.slot = slot;
    if (lx__peer_encode(buf, sizeof buf, &w, &m) == LX_OK)
        lx__send_peer(n, (int)slot, buf, w);
}

/* One peer message from the node in `slot` (-1 unknown). */
static void dispatch(lx__node *n, const lx__peer_msg *m, int slot)
{
    switch (m->type) {
    case LX__P_HELLO:
        send_hello(n, 1, m->from, m->u.hello.slot);
        return;
    case LX__P_HELLO_ACK:
        if (strcmp(m->u.hello_ack.to, n->cfg.node_id) != 0 || m->u.hello_ack.slot >= n->cfg.npeers)
            return;
        if (strcmp(n->peer_id[m->u.hello_ack.slot], m->from) != 0) {
            snprintf(n->peer_id[m->u.hello_ack.slot], sizeof n->peer_id[0], "%s", m->from);
            lx__log(n, "peer %s reached via tcp://%s:%u", m->from,
                    n->cfg.peers[m->u.hello_ack.slot].host, n->cfg.peers[m->u.hello_ack.slot].port);
            lx__topo_link_known(n, (int)m->u.hello_ack.slot);
            lx__park_replay(n, m->from, (int)m->u.hello_ack.slot, dispatch);
        }
        if (n->leader_id[0] && strcmp(n->leader_id, m->from) == 0) {
            n->leader_slot = (int)m->u.hello_ack.slot;
            if (n->role == LX__ROLE_FOLLOWER)
                n->src_slot = n->leader_slot;
        }
        return;
    case LX__P_FORWARD: {
        if (slot < 0) {
            /* Its link is not known yet, and the answer goes over it: keep
             * the request until the HELLO_ACK names the link, and greet the
             * unknown peers within HELLO_SOON_US instead of at the next
             * HELLO_FAST_US round. */
            uint64_t now = lx_now_us();
            lx__park_forward(n, m, now);
            if (n->hello_us > now + HELLO_SOON_US)
                n->hello_us = now + HELLO_SOON_US;
            return;
        }
        lx__origin o;
        memset(&o, 0, sizeof o);
        o.slot = slot;
        o.token = m->u.forward.token;
        o.rid_len = m->u.forward.rid_len;
        memcpy(o.rid, m->u.forward.rid, o.rid_len);
        lx_proto_msg pm;
        lx_proto_error code;
        if (lx_proto_decode(&pm, &code, m->u.forward.frame, m->u.forward.frame_len) != LX_OK) {
            lx__reply_error(n, &o, pm.hdr.req_id, code, "bad frame");
            return;
        }
        o.bundle = (pm.hdr.flags & LX_PROTO_F_BUNDLE) != 0;
        lx__elect_adopt(n, m->u.forward.term, m->from);
        if (!n->is_leader || n->restart || m->u.forward.term != n->term) {
            /* Sent to the leader of another term: refused, never sequenced. */
            if (n->is_leader)
                n->stale_refused++;
            lx__reply_error(n, &o, pm.hdr.req_id, LX_PROTO_E_NOT_LEADER, "not the leader");
            return;
        }
        if (!is_sequenced(pm.hdr.type)) {
            lx__reply_error(n, &o, pm.hdr.req_id, LX_PROTO_E_UNKNOWN_TYPE,
                            "not a sequenced request");
            return;
        }
        lx__seq_submit(n, &o, &pm, lx_now_us());
        return;
    }
    case LX__P_RESULT:
        if (!n->is_leader)
            lx__replica_result(n, m);
        return;
    case LX__P_GAP_REQ:
        /* Any node serves its durable log: a candidate catches up from a
         * follower. */
        if (slot >= 0)
            lx__jw_read(n->jw, (uint32_t)slot, m->u.gap_req.from_seq, m->u.gap_req.to_seq);
        return;
    case LX__P_GAP_RESP:
        if (!n->is_leader && slot >= 0 && slot == n->src_slot && n->in_sync) {
            if (slot == n->leader_slot) /* it is alive */
                lx__elect_leader_alive(n, lx_now_us());
            lx__ss_gap_resp(n, m, slot);
            lx__replica_gap_resp(n, m);
        }
        return;
    case LX__P_SNAP_REQ:
    case LX__P_SNAP_PART:
        lx__ss_peer(n, m, slot);
        return;
    case LX__P_VOTE_REQ:
    case LX__P_VOTE:
    case LX__P_SYNC_REQ:
    case LX__P_SYNC_RESP:
    case LX__P_ACK:
        lx__elect_peer(n, m, slot);
        return;
    case LX__P_SETTLE_REQ:
    case LX__P_SETTLE_SIG:
    case LX__P_BATCH_REQ:
    case LX__P_BATCH_PART:
        lx__settle_peer(n, m, slot);
        return;
    default:
        return;
    }
}

static void on_pub(lx__node *n, const lx_zmsg *zm)
{
    if (zm->n == 1)
        lx__md_subscription(n, zm->part[0].data, zm->part[0].len);
}

static void on_peer(lx__node *n, const lx_zmsg *zm)
{
    n->m.msgs_in++;
    if (zm->n != 1)
        return;
    lx__peer_msg m;
    if (lx__peer_decode(&m, zm->part[0].data, zm->part[0].len) != LX_OK) {
        lx__log(n, "dropping a malformed peer message (%zu bytes)", zm->part[0].len);
        return;
    }
    if (!lx__cluster_ours(n, m.cluster, m.from, "a peer message"))
        return;
    if (m.type == LX__P_RELAY) {
        lx__peer_msg inner;
        int slot = -1;
        if (lx__topo_relay_in(n, &m, &inner, &slot))
            dispatch(n, &inner, slot);
        return;
    }
    dispatch(n, &m, lx__slot_of_peer(n, m.from));
}

static void on_stream(lx__node *n, const lx_zmsg *zm)
{
    n->m.msgs_in++;
    const uint8_t *p;
    size_t len;
    uint32_t hops = 0; /* relays it went through */
    int link = -1;     /* the link a relayed one came on */
    if (zm->n == 1 && zm->part[0].len > 0) {
        p = zm->part[0].data;
        len = zm->part[0].len;
    } else if (!lx__topo_unwrap(n, zm, &p, &len, &hops, &link)) {
        return;
    }
    if (p[0] == LX__TOPIC_BLOCK) {
        const uint8_t *tag, *hash, *block;
        size_t blen;
        lx_block_hdr h;
        if (lx__block_msg_decode(&tag, &hash, &block, &blen, p, len) != LX_OK ||
            lx_block_peek(&h, block, blen) != LX_OK || !lx__cluster_ours(n, tag, NULL, "a block"))
            return;
        lx__elect_adopt(n, h.term, "a block");
        if (n->topo && !lx__topo_block(n, &h, hops, p, len))
            return; /* relayed to us before */
        if (n->is_leader || n->restart)
            return;
        if (h.term != n->term) {
            n->stale_refused++; /* cut by the leader of another term */
            return;
        }
        /* Only this term's leader cuts its blocks: it is alive, even when
         * its heartbeats wait behind a backlog of blocks. */
        lx__elect_leader_alive(n, lx_now_us());
        if (n->in_sync && n->role == LX__ROLE_FOLLOWER)
            lx__replica_block(n, block, blen, hash);
        return;
    }
    if (p[0] == LX__TOPIC_HEARTBEAT) {
        lx__heartbeat hb;
        if (lx__heartbeat_decode(&hb, p, len) != LX_OK || strcmp(hb.node, n->cfg.node_id) == 0 ||
            !lx__cluster_ours(n, hb.cluster, hb.node, "a heartbeat"))
            return;
        if (n->topo && !lx__topo_heartbeat(n, &hb, hops, link, p, len))
            return; /* relayed to us before */
        if (hb.role != LX__ROLE_LEADER)
            return;
        lx__elect_heartbeat(n, &hb, lx__slot_of_peer(n, hb.node));
        if (n->is_leader || n->restart || hb.term != n->term)
            return;
        if (hb.seq > n->leader_seq)
            n->leader_seq = hb.seq;
        if (hb.seq && n->in_sync) /* before its log is checked, a node may differ */
            lx__check_hash(n, hb.seq, hb.hash);
    }
}

/* ---- timers ---- */

static void heartbeat(lx__node *n)
{
    lx__heartbeat hb;
    memset(&hb, 0, sizeof hb);
    memcpy(hb.cluster, n->cfg.cluster_tag, LX__CLUSTER_TAG_LEN);
    snprintf(hb.node, sizeof hb.node, "%s", n->cfg.node_id);
    hb.role = n->is_leader ? LX__ROLE_LEADER : (uint8_t)n->role;
    hb.term = n->term;
    hb.commit = n->commit_seq;
    hb.seq = n->seq;
    hb.beat = n->beat++;
    memcpy(hb.hash, n->hash, LX_STATE_HASH_LEN);
    uint8_t buf[128];
    size_t w = lx__heartbeat_encode(buf, sizeof buf, &hb);
    lx_zpart p = {buf, w};
    if (w && lx_zsock_send(n->pub, &p, 1, LX_ZDONTWAIT) == LX_OK)
        n->m.msgs_out++;
}

static void timers(lx__node *n, uint64_t now)
{
    if (n->is_leader) {
        lx__seq_tick(n, now, 0);
    } else {
        lx__replica_tick(n, now);
        lx__elect_tick(n, now);
    }
    lx__replica_fwd_tick(n, now);
    lx__ss_tick(n, now);
    lx__settle_tick(n, now);
    lx__park_tick(n, now);
    if (now >= n->next_hb_us) {
        heartbeat(n);
        n->next_hb_us = now + (uint64_t)n->cfg.heartbeat_ms * 1000;
    }
    if (now >= n->hello_us) {
        int unknown = 0;
        for (size_t i = 0; i < n->cfg.npeers; i++) {
            if (!n->peer_id[i][0])
                unknown = 1;
            send_hello(n, 0, NULL, (uint32_t)i);
        }
        n->hello_us = now + (unknown ? HELLO_FAST_US : HELLO_SLOW_US);
    }
    if (now >= n->next_metrics_us) {
        lx__metrics_line(n);
        lx__write_status(n);
        n->next_metrics_us = now + n->cfg.metrics_interval_us;
        n->next_status_us = now + STATUS_US;
    }
    if (now >= n->next_status_us) {
        lx__write_status(n);
        n->next_status_us = now + STATUS_US;
    }
}

void lx__node_restart(lx__node *n, uint64_t truncate_after, uint64_t snap_max, const char *why)
{
    if (n->restart)
        return;
    lx__log(n, "restarting: %s", why);
    n->restart = 1;
    n->restart_truncate = truncate_after;
    n->restart_snap_max = snap_max;
}

/* After the node is closed: the journal cut and snapshot removal a restart
 * asked for. */
static lx_err restart_rollback(const lx__config *cfg, uint64_t truncate_after, uint64_t snap_max)
{
    lx_err rc = LX_OK;
    if (snap_max != UINT64_MAX && (rc = lx_snapshot_drop_after(cfg->data_dir, snap_max)) != LX_OK)
        return rc;
    if (truncate_after == UINT64_MAX)
        return LX_OK;
    lx_journal *j = NULL;
    lx_journal_opts jo = {cfg->segment_bytes, cfg->fsync ? 0 : 1, 0};
    if ((rc = lx_journal_open(&j, NULL, cfg->data_dir, &jo)) != LX_OK)
        return rc;
    rc = lx_journal_truncate_after(j, truncate_after);
    lx_journal_free(&j);
    return rc;
}

static uint64_t next_deadline(const lx__node *n)
{
    if (lx__ss_snapping(n))
        return 0;
    uint64_t t = n->next_hb_us;
    if (n->hello_us < t)
        t = n->hello_us;
    if (n->next_metrics_us < t)
        t = n->next_metrics_us;
    if (n->next_status_us < t)
        t = n->next_status_us;
    if (n->is_leader && lx__seq_deadline(n) < t)
        t = lx__seq_deadline(n);
    if (lx__elect_deadline(n) < t)
        t = lx__elect_deadline(n);
    return t;
}

/* ---- setup and teardown ---- */

static lx_err open_sockets(lx__node *n, int *exit_code)
{
    const lx__config *c = &n->cfg;
    lx_zsock_opts o;
    lx_zsock_opts_init(&o);
    o.sndhwm = o.rcvhwm = c->hwm;
    o.linger_ms = LX_ZLINGER_DEFAULT; /* 1 s to send what is queued at a stop */
    lx_err rc = lx_zctx_new(&n->ctx, 1);
    if (rc != LX_OK)
        return rc;
    if ((rc = lx__auth_open(n)) != LX_OK) {
        *exit_code = 2;
        return rc;
    }
    /* With CURVE: clients' keys on PUB and ROUTER, nodes' on SUB and inbox. */
    lx_zsock_opts co = o, po_in = o;
    /* PUB connects out to the peers' SUB: a peer that restarts (a new
     * leader does) is reached again within a few ms. */
    co.reconnect_ms = PEER_RECONNECT_MS;
    lx__auth_server_opts(n->auth, &co, 0);
    lx__auth_server_opts(n->auth, &po_in, 1);
    lx_zsock_opts ro = co;
    ro.router_mandatory = true;
    if ((rc = lx_zsock_new(&n->pub, n->ctx, LX_ZXPUB, &co)) != LX_OK ||
        (rc = lx_zsock_new(&n->sub, n->ctx, LX_ZSUB, &po_in)) != LX_OK ||
        (rc = lx_zsock_new(&n->router, n->ctx, LX_ZROUTER, &ro)) != LX_OK ||
        (rc = lx_zsock_new(&n->inbox, n->ctx, LX_ZDEALER, &po_in)) != LX_OK)
        return rc;
    lx_zsock *bound[4] = {n->pub, n->sub, n->router, n->inbox};
    for (unsigned i = 0; i < 4; i++) {
        char ep[LX__HOST_MAX + 32];
        snprintf(ep, sizeof ep, "tcp://%s:%u", c->bind, c->base_port + i);
        rc = lx_zsock_bind(bound[i], ep);
        if (rc == LX_EEXIST) {
            lx__log(n, "port %u is already in use (%s); is another node running?", c->base_port + i,
                    ep);
            *exit_code = 3;
            return rc;
        }
        if (rc != LX_OK) {
            lx__log(n, "cannot bind %s: %s", ep, lx_strerror(rc));
            *exit_code = 2;
            return rc;
        }
    }
    /* Only this cluster's stream: every message starts with its topic and
     * the sender's cluster tag. */
    uint8_t prefix[LX__STREAM_PREFIX];
    memcpy(prefix + 1, c->cluster_tag, LX__CLUSTER_TAG_LEN);
    prefix[0] = LX__TOPIC_BLOCK;
    if ((rc = lx_zsock_subscribe(n->sub, prefix, sizeof prefix)) != LX_OK)
        return rc;
    prefix[0] = LX__TOPIC_HEARTBEAT;
    if ((rc = lx_zsock_subscribe(n->sub, prefix, sizeof prefix)) != LX_OK)
        return rc;
    prefix[0] = LX__TOPIC_RELAYED;
    if (c->topology != LX__TOPO_MESH &&
        (rc = lx_zsock_subscribe(n->sub, prefix, sizeof prefix)) != LX_OK)
        return rc;
    lx_zsock_opts po = o;
    po.immediate = true; /* a send to a peer that is down fails instead of queueing */
    po.reconnect_ms = PEER_RECONNECT_MS;
    /* Bound to one address, the node also connects from it (libzmq's
     * "tcp://SRC:0;DST:PORT"), so that peers and firewalls see the node's
     * own address rather than whichever one the kernel picks. Not from a
     * loopback address to a peer elsewhere: that could never connect. */
    int specific = strcmp(c->bind, "*") != 0 && strcmp(c->bind, "0.0.0.0") != 0;
    int bind_lo = lx__host_is_loopback(c->bind);
    for (size_t i = 0; i < c->npeers; i++) {
        char src[LX__HOST_MAX + 8] = "";
        if (specific && (!bind_lo || lx__host_is_loopback(c->peers[i].host)))
            snprintf(src, sizeof src, "%s:0;", c->bind);
        char ep[2 * LX__HOST_MAX + 48];
        snprintf(ep, sizeof ep, "tcp://%s%s:%u", src, c->peers[i].host, c->peers[i].port + 1);
        if ((rc = lx__auth_connect_peer(n->auth, n->pub, ep, i)) != LX_OK) {
            lx__log(n, "cannot connect to %s: %s", ep, lx_strerror(rc));
            *exit_code = 2;
            return rc;
        }
        lx_zsock_opts po_out = po;
        lx__auth_peer_opts(n->auth, &po_out, i);
        if ((rc = lx_zsock_new(&n->out[i], n->ctx, LX_ZDEALER, &po_out)) != LX_OK)
            return rc;
        snprintf(ep, sizeof ep, "tcp://%s%s:%u", src, c->peers[i].host, c->peers[i].port + 3);
        if ((rc = lx_zsock_connect(n->out[i], ep)) != LX_OK) {
            lx__log(n, "cannot connect to %s: %s", ep, lx_strerror(rc));
            *exit_code = 2;
            return rc;
        }
    }
    lx__auth_seal(n->auth);
    return LX_OK;
}

/* What an in-process restart carries over: the peers' ids behind each
 * link (the configuration is the same), so the new start need not wait for
 * HELLOs before it can answer them, and the last leader; and the sockets
 * with their context and CURVE set-up, still bound and connected. Closing
 * the ROUTER would drop the requests still in flight on its connections
 * with no answer; kept, they wait in its queue for the new start. */
static struct {
    int valid;
    char peer_id[LX__PEERS_MAX][LX__NODE_ID_MAX + 1];
    size_t nslots;
    lx__route routes[LX__PEERS_MAX];
    char last_leader[LX__NODE_ID_MAX + 1];
    lx_zctx *ctx; /* NULL: no sockets carried */
    lx__auth *auth;
    lx_zsock *pub, *sub, *router, *inbox, *out[LX__PEERS_MAX];
    int md_on; /* the subscriptions that turned it on went to pub */
} carry;

/* Moves the node's sockets into carry, or back (to_node). */
static void carry_sockets(lx__node *n, int to_node)
{
    lx_zctx **ctx[2] = {&carry.ctx, &n->ctx};
    lx__auth **auth[2] = {&carry.auth, &n->auth};
    lx_zsock **socks[2][4] = {{&carry.pub, &carry.sub, &carry.router, &carry.inbox},
                              {&n->pub, &n->sub, &n->router, &n->inbox}};
    int from = to_node ? 0 : 1, to = !from;
    *ctx[to] = *ctx[from];
    *ctx[from] = NULL;
    *auth[to] = *auth[from];
    *auth[from] = NULL;
    for (size_t i = 0; i < 4; i++) {
        *socks[to][i] = *socks[from][i];
        *socks[from][i] = NULL;
    }
    lx_zsock **out[2] = {carry.out, n->out};
    for (size_t i = 0; i < LX__PEERS_MAX; i++) {
        out[to][i] = out[from][i];
        out[from][i] = NULL;
    }
}

void lx__node_drop_carry(void)
{
    lx_zsock_free(&carry.pub);
    lx_zsock_free(&carry.sub);
    lx_zsock_free(&carry.router);
    lx_zsock_free(&carry.inbox);
    for (size_t i = 0; i < LX__PEERS_MAX; i++)
        lx_zsock_free(&carry.out[i]);
    lx__auth_free(&carry.auth);
    lx_zctx_free(&carry.ctx);
    carry.valid = 0;
}

static void close_all(lx__node *n)
{
    if (n->restart && n->is_leader && n->ctx) {
        /* Stepping down: the clients hear so. */
        lx__seq_abandon(n);
    } else if (n->restart && n->fwd && n->router) {
        /* The forwards' answers would come to the node that is going. */
        lx__replica_give_up_all(n, "this node restarted before the answer came; QUERY_ORDER "
                                   "tells whether it took effect");
    }
    if (n->restart) {
        carry.valid = 1;
        memcpy(carry.peer_id, n->peer_id, sizeof carry.peer_id);
        carry.nslots = n->nslots;
        memcpy(carry.routes, n->routes, sizeof carry.routes);
        memcpy(carry.last_leader, n->last_leader, sizeof carry.last_leader);
        carry.md_on = n->md_on;
        if (n->ctx)
            carry_sockets(n, 0);
    }
    lx__settle_free(n);
    lx__jw_stop(&n->jw);
    lx__big_free(n->snap_buf, n->snap_cap); /* the journal thread is gone */
    n->snap_buf = NULL;
    n->snap_cap = 0;
    lx__ss_free(n);
    lx__topo_free(n);
    for (size_t i = 0; i < LX__PEERS_MAX; i++)
        lx_zsock_free(&n->out[i]);
    lx_zsock_free(&n->pub);
    lx_zsock_free(&n->sub);
    lx_zsock_free(&n->router);
    lx_zsock_free(&n->inbox);
    lx__auth_free(&n->auth); /* after the sockets, before the context */
    lx_zctx_free(&n->ctx);
    lx__seq_free(n);
    lx__replica_free(n);
    lx__park_free(n);
    lx__md_free(&n->md);
    lx_engine_free(&n->engine);
    lx_events_free(&n->evs);
    lx_block_free(&n->blk);
    free(n->ends);
    free(n->scratch);
    free(n->scratch2);
    free(n->scratch3);
    if (n->timer_fd >= 0)
        close(n->timer_fd);
    if (n->logf)
        fclose(n->logf);
}

/* How long to wait for the next deadline t (lx_now_us time): a poll
 * timeout in ms, or -1 with the timerfd armed to fire at t. */
static long wait_for(lx__node *n, uint64_t t, uint64_t now, long max_ms)
{
    if (t <= now)
        return 0;
    uint64_t d = t - now;
    if (n->timer_fd >= 0 && d < PRECISE_US) {
        struct itimerspec its = {{0, 0}, {0, (long)(d * 1000)}};
        if (timerfd_settime(n->timer_fd, 0, &its, NULL) == 0)
            return -1;
    }
    uint64_t ms = (d + 999) / 1000;
    return ms > (uint64_t)max_ms ? max_ms : (long)ms;
}

/* Reads every ready message of the polled sockets; timeout_ms -1: until
 * the armed timerfd fires. */
static void pump(lx__node *n, long timeout_ms, int read_clients)
{
    if (n->direct_synced) {
        /* After a direct append: act on it, then look at the sockets
         * without waiting (what it set off may have moved a deadline). */
        lx__journal_direct_act(n);
        n->direct_synced = 0;
        n->direct_told = 0;
        timeout_ms = 0;
    }
    lx_zpollitem it[6];
    size_t k = 0;
    it[k++] = (lx_zpollitem){lx__jw_sock(n->jw), 0, LX_ZPOLLIN, 0};
    it[k++] = (lx_zpollitem){n->sub, 0, LX_ZPOLLIN, 0};
    it[k++] = (lx_zpollitem){n->inbox, 0, LX_ZPOLLIN, 0};
    it[k++] = (lx_zpollitem){n->pub, 0, LX_ZPOLLIN, 0};
    if (read_clients)
        it[k++] = (lx_zpollitem){n->router, 0, LX_ZPOLLIN, 0};
    size_t tk = k;
    if (timeout_ms < 0)
        it[k++] = (lx_zpollitem){NULL, n->timer_fd, LX_ZPOLLIN, 0};
    int ready;
    lx_err prc = lx_zwait(&ready, it, k, timeout_ms < 0 ? POLL_MAX_MS : timeout_ms);
    /* A timer left armed is harmless: the next timerfd_settime resets it. */
    if (tk < k && (it[tk].revents & LX_ZPOLLIN)) {
        uint64_t expirations;
        ssize_t r = read(n->timer_fd, &expirations, sizeof expirations);
        (void)r;
    }
    if (prc != LX_OK || ready == 0)
        return;
    void (*handler[5])(lx__node *, const lx_zmsg *) = {lx__journal_msg, on_stream, on_peer, on_pub,
                                                       on_client};
    for (size_t i = 0; i < tk; i++) {
        if (!(it[i].revents & LX_ZPOLLIN))
            continue;
        for (int b = 0; b < RECV_BURST; b++) {
            if (i == 4 && (!read_clients || (n->is_leader && lx__seq_busy(n))))
                break;
            lx_zmsg zm;
            /* With CURVE a client's requests carry its account (ZAP User-Id). */
            int rf = LX_ZDONTWAIT | (i == 4 && n->auth ? LX_ZUSERID : 0);
            lx_err rc = lx_zsock_recv(it[i].sock, &zm, rf);
            if (rc == LX_ETOOBIG)
                continue;
            if (rc != LX_OK)
                break;
            handler[i](n, &zm);
            lx_zmsg_close(&zm);
            /* A block synced by a direct append goes out (leader) or is
             * acknowledged (follower) before the next message. */
            lx__journal_direct_act(n);
        }
    }
}

lx_err lx__node_run(lx__config *cfg, volatile int *stop, int *exit_code)
{
    *exit_code = 1;
    lx__node *n = calloc(1, sizeof *n);
    if (!n)
        return LX_ENOMEM;
    n->cfg = *cfg;
    n->stop = stop;
    n->restart_truncate = n->restart_snap_max = UINT64_MAX;
    n->leader_slot = -1;
    n->nslots = cfg->npeers;
    n->beat = lx_now_us(); /* a restarted node's beats are new ones */
    if (carry.valid) {
        memcpy(n->peer_id, carry.peer_id, sizeof n->peer_id);
        n->nslots = carry.nslots;
        memcpy(n->routes, carry.routes, sizeof n->routes);
        memcpy(n->last_leader, carry.last_leader, sizeof n->last_leader);
        n->md_on = carry.md_on;
        carry.valid = 0;
    }
    n->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    lx_events_init(&n->evs);
    lx_block_init(&n->blk);
    lx_err rc = LX_OK;
    if (cfg->log_file[0] && !(n->logf = fopen(cfg->log_file, "a"))) {
        fprintf(stderr, "%s cannot open log file %s: %s\n", cfg->node_id, cfg->log_file,
                strerror(errno));
        *exit_code = 2;
        rc = LX_EIO;
        goto out;
    }
    n->scratch = malloc(LX__PEER_MSG_MAX);
    n->scratch2 = malloc(LX__PEER_MSG_MAX);
    n->scratch3 = malloc(LX__PEER_MSG_MAX + 64);
    if (!n->scratch || !n->scratch2 || !n->scratch3 || lx__md_new(&n->md) != LX_OK ||
        lx__topo_init(n) != LX_OK) {
        rc = LX_ENOMEM;
        goto out;
    }
    if ((rc = lx__mkdir_p(cfg->data_dir)) != LX_OK) {
        lx__log(n, "cannot create %s: %s", cfg->data_dir, strerror(errno));
        goto out;
    }
    if ((rc = lx__cluster_file_check(n)) != LX_OK) {
        *exit_code = rc == LX_EINVAL ? 2 : 1;
        goto out;
    }

    /* Recovery: snapshot plus journal, to the same state hash as before. */
    lx_journal *j = NULL;
    lx_recovery rec;
    char why[512];
    lx_journal_opts jo = {cfg->segment_bytes, cfg->fsync ? 0 : 1, 0};
    lx_engine_config ec = {0};
    if ((rc = lx_recover(&j, &rec, why, sizeof why, cfg->data_dir, &jo, &ec)) != LX_OK) {
        lx__log(n, "recovery of %s failed: %s", cfg->data_dir, why);
        goto out;
    }
    n->engine = rec.engine;
    /* The id index at its working size now, not rebuilt under load. */
    if ((rc = lx_engine_reserve(n->engine, cfg->reserve_orders)) != LX_OK) {
        lx__log(n, "cannot reserve room for %zu open orders: %s", cfg->reserve_orders,
                lx_strerror(rc));
        lx_journal_free(&j);
        goto out;
    }
    /* Likewise the snapshot buffer's first pages: the first snapshot,
     * encoded into fresh memory, took 3 to 4 ms of the main thread's CPU
     * per 2 MiB page it met. Without the memory the first snapshot tries
     * again. */
    if (cfg->snapshot_every && lx__ss_buf_fit(n, 0) == LX_OK)
        lx__big_prefault(n->snap_buf, LX__SNAP_WARM);
    n->seq = rec.last_seq;
    n->next_index = rec.next_index;
    memcpy(n->hash, rec.state_hash, LX_STATE_HASH_LEN);
    if (n->seq) {
        char hx[2 * LX_STATE_HASH_LEN + 1];
        lx__hex(hx, n->hash, LX_STATE_HASH_LEN);
        lx__log(n,
                "recovered seq %" PRIu64 " (snapshot %" PRIu64 ", %" PRIu64
                " blocks replayed) state hash %s",
                n->seq, rec.snapshot_seq, rec.blocks_replayed, hx);
    }
    if (rec.torn_records)
        lx__log(n, "cut a torn journal tail (%" PRIu64 " record)", rec.torn_records);
    lx__hash_ring_put(&n->own_hashes, n->seq, n->hash);
    if ((rc = lx__elect_init(n, j)) != LX_OK) {
        lx_journal_free(&j);
        goto out;
    }
    if ((rc = lx__settle_init(n, j)) != LX_OK) {
        lx_journal_free(&j);
        if (rc == LX_EINVAL)
            *exit_code = 2;
        goto out;
    }

    if (carry.ctx)
        carry_sockets(n, 1);
    else if ((rc = open_sockets(n, exit_code)) != LX_OK) {
        lx_journal_free(&j);
        if (*exit_code == 1)
            lx__log(n, "cannot set up sockets: %s", lx_strerror(rc));
        goto out;
    }
    if ((rc = lx__jw_start(&n->jw, n->ctx, j, cfg->data_dir, cfg->node_id, cfg->cluster_tag,
                           cfg->direct_sync_us)) != LX_OK) {
        lx__log(n, "cannot start the journal writer: %s", lx_strerror(rc));
        goto out;
    }
    rc = lx__ss_init(n);
    if (rc == LX_OK)
        rc = lx__replica_init(n);
    if (rc == LX_OK && n->is_leader)
        rc = lx__seq_init(n);
    if (rc != LX_OK) {
        lx__log(n, "cannot start: %s", lx_strerror(rc));
        goto out;
    }
    uint64_t now = lx_now_us();
    n->next_metrics_us = now + cfg->metrics_interval_us;
    n->next_status_us = now;
    n->next_hb_us = now;
    n->hello_us = now;
    lx__write_status(n);
    char topo[64] = "";
    if (cfg->topology != LX__TOPO_MESH)
        snprintf(topo, sizeof topo, ", %s of %zu nodes",
                 cfg->topology == LX__TOPO_STAR ? "star" : "ring", cfg->cluster_size);
    lx__log(n,
            "ready: role %s, term %" PRIu64 ", seq %" PRIu64
            ", ports %u-%u, %zu peers%s, ack quorum %s, data %s",
            lx__role_name(n), n->term, n->seq, cfg->base_port, cfg->base_port + 3, cfg->npeers,
            topo, cfg->ack_majority ? "majority" : "local", cfg->data_dir);

    while (!*stop && !n->restart) {
        now = lx_now_us();
        n->apply_budget = APPLY_PER_TURN;
        pump(n, wait_for(n, next_deadline(n), now, POLL_MAX_MS),
             !(n->is_leader && lx__seq_busy(n)));
        timers(n, lx_now_us());
        lx__ss_snap_step(n);
    }

    /* Shutdown: no new requests; finish what was accepted. */
    if (!n->restart)
        lx__log(n, "stopping: finishing accepted work");
    uint64_t until = lx_now_us() + SHUTDOWN_WAIT_US;
    while (!n->restart && lx_now_us() < until && !n->journal_failed) {
        n->apply_budget = APPLY_PER_TURN;
        if (n->is_leader) {
            lx__seq_tick(n, lx_now_us(), 1);
            if (lx__seq_idle(n))
                break;
        } else if (lx__replica_idle(n)) {
            break;
        }
        pump(n, 10, 0);
    }
    lx__write_status(n);
    lx__log(n, "stopped at seq %" PRIu64, n->seq);
    *exit_code = 0;
    rc = LX_OK;
out:
    close_all(n);
    if (rc == LX_OK && n->restart) {
        rc = restart_rollback(cfg, n->restart_truncate, n->restart_snap_max);
        if (rc == LX_OK)
            *exit_code = LX__EXIT_RESTART;
        else
            fprintf(stderr, "%s cannot roll back %s: %s\n", cfg->node_id, cfg->data_dir,
                    lx_strerror(rc));
    }
    free(n);
    return rc;
}
