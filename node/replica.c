/* The follower side of replication: applies the leader's blocks in seq order
 * (stashing early ones), asks the leader for missing ranges over the peer
 * link, checks state hashes, forwards client requests to the leader and
 * relays the results back to the clients. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "logio.h"
#include "node_int.h"

#define GAP_RETRY_US 200000u

lx_err lx__replica_init(lx__node *n)
{
    n->stash = calloc(LX__STASH, sizeof *n->stash);
    n->stash_len = calloc(LX__STASH, sizeof *n->stash_len);
    n->stash_seq = calloc(LX__STASH, sizeof *n->stash_seq);
    n->fwd = calloc(LX__FWD_MAX, sizeof *n->fwd);
    n->fwd_next_token = 1;
    if (!n->stash || !n->stash_len || !n->stash_seq || !n->fwd)
        return LX_ENOMEM;
    return LX_OK;
}

static void fwd_clear(lx__node *n, lx__fwd *f)
{
    free(f->rid_heap);
    f->rid_heap = NULL;
    f->token = 0;
    n->fwd_n--;
}

void lx__replica_free(lx__node *n)
{
    for (size_t i = 0; n->fwd && n->fwd_n && i < LX__FWD_MAX; i++)
        if (n->fwd[i].token)
            fwd_clear(n, &n->fwd[i]);
    if (n->stash)
        for (size_t i = 0; i < LX__STASH; i++)
            free(n->stash[i]);
    free(n->stash);
    free(n->stash_len);
    free(n->stash_seq);
    free(n->fwd);
    n->stash = NULL;
    n->stash_len = NULL;
    n->stash_seq = NULL;
    n->fwd = NULL;
}

void lx__replica_clear_stash(lx__node *n)
{
    for (size_t i = 0; n->stash && i < LX__STASH; i++) {
        free(n->stash[i]);
        n->stash[i] = NULL;
        n->stash_seq[i] = 0;
    }
    n->gap_sent_us = 0;
    n->gap_want = 0;
}

int lx__replica_idle(const lx__node *n)
{
    return n->fwd_n == 0;
}

static void compare(lx__node *n, uint64_t seq, const uint8_t *leader, const uint8_t *own)
{
    if (seq <= n->last_compared_seq)
        return;
    n->last_compared_seq = seq;
    if (memcmp(leader, own, LX_STATE_HASH_LEN) == 0)
        return;
    char a[2 * LX_STATE_HASH_LEN + 1], b[2 * LX_STATE_HASH_LEN + 1];
    lx__hex(a, leader, LX_STATE_HASH_LEN);
    lx__hex(b, own, LX_STATE_HASH_LEN);
    n->m.hash_mismatches++;
    lx__log(n, "STATE HASH MISMATCH at seq %" PRIu64 ": leader %s local %s", seq, a, b);
}

void lx__check_hash(lx__node *n, uint64_t seq, const uint8_t hash[LX_STATE_HASH_LEN])
{
    lx__hash_ring_put(&n->leader_hashes, seq, hash);
    const uint8_t *own = lx__hash_ring_get(&n->own_hashes, seq);
    if (own)
        compare(n, seq, hash, own);
}

/* Called by lx__apply_block after every block this replica applies. */
void lx__replica_applied(lx__node *n)
{
    lx__hash_ring_put(&n->own_hashes, n->seq, n->hash);
    const uint8_t *l = lx__hash_ring_get(&n->leader_hashes, n->seq);
    if (l)
        compare(n, n->seq, l, n->hash);
}

static void request_gap(lx__node *n, uint64_t to, uint64_t now)
{
    if (n->src_slot < 0 || !n->in_sync || to <= n->seq || lx__ss_busy(n))
        return;
    if (n->gap_sent_us && now - n->gap_sent_us < GAP_RETRY_US)
        return;
    lx__peer_msg m;
    memset(&m, 0, sizeof m);
    m.type = LX__P_GAP_REQ;
    snprintf(m.from, sizeof m.from, "%s", n->cfg.node_id);
    memcpy(m.cluster, n->cfg.cluster_tag, LX__CLUSTER_TAG_LEN);
    m.u.gap_req.from_seq = n->seq + 1;
    m.u.gap_req.to_seq = to;
    uint8_t buf[128];
    size_t len;
    if (lx__peer_encode(buf, sizeof buf, &len, &m) != LX_OK)
        return;
    if (lx__send_peer(n, n->src_slot, buf, len) == LX_OK) {
        n->gap_sent_us = now ? now : 1;
        n->gap_want = to;
        n->m.gap_requests++;
    }
}

static int apply_one(lx__node *n, const uint8_t *bytes, size_t len)
{
    /* The journal copy goes first so a snapshot taken after this block
     * never gets ahead of the journal. */
    lx_err rc = lx__journal_append(n, bytes, len, 0);
    /* A direct append is durable already: acknowledge it before the
     * engine's work, which the leader's replies would otherwise wait for. */
    if (rc == LX_OK) {
        lx__journal_direct_act(n);
        rc = lx__apply_block(n, bytes, len, NULL);
    }
    if (rc != LX_OK) {
        lx__log(n, "FATAL: applying block %" PRIu64 ": %s", n->seq + 1, lx_strerror(rc));
        *n->stop = 1;
        return 0;
    }
    if (n->role == LX__ROLE_CANDIDATE)
        lx__elect_caught_up(n);
    return 1;
}

static void drain_stash(lx__node *n)
{
    for (;;) {
        size_t k = (n->seq + 1) % LX__STASH;
        if (!n->stash[k] || n->stash_seq[k] != n->seq + 1)
            return;
        uint8_t *b = n->stash[k];
        size_t len = n->stash_len[k];
        n->stash[k] = NULL;
        n->stash_seq[k] = 0;
        int ok = apply_one(n, b, len);
        free(b);
        if (!ok)
            return;
    }
}

void lx__replica_block(lx__node *n, const uint8_t *bytes, size_t len, const uint8_t *leader_hash)
{
    lx_block_hdr h;
    if (lx_block_peek(&h, bytes, len) != LX_OK) {
        lx__log(n, "dropping a malformed block message");
        return;
    }
    if (h.seq > n->leader_seq)
        n->leader_seq = h.seq;
    static const uint8_t unknown[LX_STATE_HASH_LEN];
    if (leader_hash && memcmp(leader_hash, unknown, LX_STATE_HASH_LEN) != 0)
        lx__check_hash(n, h.seq, leader_hash);
    if (h.seq <= n->seq)
        return; /* already have it */
    if (h.seq == n->seq + 1) {
        if (apply_one(n, bytes, len))
            drain_stash(n);
        return;
    }
    /* Early: keep it if it is near, and ask for what is missing. */
    if (h.seq - n->seq < LX__STASH) {
        size_t k = h.seq % LX__STASH;
        if (!n->stash[k] || n->stash_seq[k] != h.seq) {
            uint8_t *copy = malloc(len);
            if (copy) {
                memcpy(copy, bytes, len);
                free(n->stash[k]);
                n->stash[k] = copy;
                n->stash_len[k] = len;
                n->stash_seq[k] = h.seq;
            }
        }
    }
    request_gap(n, h.seq - 1, lx_now_us());
}

void lx__replica_gap_resp(lx__node *n, const lx__peer_msg *m)
{
    if (m->u.gap_resp.leader_last > n->leader_seq)
        n->leader_seq = m->u.gap_resp.leader_last;
    size_t off = 0;
    const uint8_t *p;
    size_t len;
    while (lx__peer_list_next(m->u.gap_resp.list, m->u.gap_resp.list_len, &off, &p, &len))
        lx__replica_block(n, p, len, NULL);
    n->gap_sent_us = 0;
    if (n->leader_seq > n->seq)
        request_gap(n, n->leader_seq, lx_now_us());
}

void lx__replica_tick(lx__node *n, uint64_t now_us)
{
    if (n->leader_seq > n->seq)
        request_gap(n, n->leader_seq, now_us);
}

/* Counted across in-process restarts: the node is rebuilt after each one. */
static uint64_t unknown_total;

uint64_t lx__replica_unknown(void)
{
    return unknown_total;
}

/* Tells the client of a forward that its answer will not come through this
 * node: the leader it went to may or may not have sequenced it. */
static void give_up(lx__node *n, lx__fwd *f, const char *why)
{
    lx__origin o =
        lx__origin_local(f->rid_len > LX__FWD_RID_INLINE ? f->rid_heap : f->rid, f->rid_len);
    lx__reply_error(n, &o, f->req_id, LX_PROTO_E_OUTCOME_UNKNOWN, why);
    unknown_total++;
    fwd_clear(n, f);
}

void lx__replica_give_up_all(lx__node *n, const char *why)
{
    for (size_t i = 0; i < LX__FWD_MAX && n->fwd_n; i++)
        if (n->fwd[i].token)
            give_up(n, &n->fwd[i], why);
}

void lx__replica_fwd_tick(lx__node *n, uint64_t now_us)
{
    if (!n->fwd_n) {
        n->fwd_term = n->term;
        return;
    }
    /* A new term: the leader of the old one may have sequenced a forward
     * before it lost the lead, and the block may or may not survive. Its
     * answer no longer comes; say so now rather than after the expiry. */
    if (n->term != n->fwd_term) {
        uint64_t told = unknown_total;
        for (size_t i = 0; i < LX__FWD_MAX && n->fwd_n; i++)
            if (n->fwd[i].token && n->fwd[i].term < n->term)
                give_up(n, &n->fwd[i],
                        "the leader changed before answering; QUERY_ORDER tells whether it took "
                        "effect");
        if (unknown_total > told)
            lx__log(n, "term %" PRIu64 ": %" PRIu64 " forwarded requests answered outcome_unknown",
                    n->term, unknown_total - told);
        n->fwd_term = n->term;
    }
    /* One whose result never came (the leader stopped before the block was
     * durable) is given up after LX__FWD_EXPIRE_US: 256 slots a millisecond
     * at most (the whole table in 0.3 s), not on every turn of a busy loop. */
    static size_t sweep;
    static uint64_t swept_us;
    if (now_us - swept_us < 1000)
        return;
    swept_us = now_us;
    for (int i = 0; i < 256 && n->fwd_n; i++) {
        lx__fwd *f = &n->fwd[sweep];
        if (f->token && now_us - f->recv_us > LX__FWD_EXPIRE_US)
            give_up(n, f,
                    "no answer from the leader in 30 s; QUERY_ORDER tells whether it took "
                    "effect");
        sweep = (sweep + 1) % LX__FWD_MAX;
    }
}

void lx__replica_forward(lx__node *n, const uint8_t *rid, size_t rid_len, const lx_proto_msg *m,
                         const uint8_t *frame, size_t len, uint64_t recv_us)
{
    lx__origin o = lx__origin_local(rid, rid_len);
    uint64_t req_id = m->hdr.req_id;
    if (m->hdr.type == LX_PROTO_DEPOSIT && !n->cfg.dev_faucet) {
        lx__reply_error(n, &o, req_id, LX_PROTO_E_FAUCET_DISABLED,
                        "deposits need a node started with --dev-faucet");
        return;
    }
    if (n->leader_slot < 0 || n->role != LX__ROLE_FOLLOWER) {
        lx__reply_error(n, &o, req_id, LX_PROTO_E_UNAVAILABLE,
                        n->role == LX__ROLE_CANDIDATE ? "electing a leader"
                                                      : "no leader reachable");
        return;
    }
    uint64_t token = n->fwd_next_token;
    lx__fwd *f = &n->fwd[token % LX__FWD_MAX];
    if (f->token) {
        n->m.overloaded++;
        lx__reply_error(n, &o, req_id, LX_PROTO_E_OVERLOADED, "too many forwarded requests");
        return;
    }
    lx__peer_msg pm;
    memset(&pm, 0, sizeof pm);
    pm.type = LX__P_FORWARD;
    snprintf(pm.from, sizeof pm.from, "%s", n->cfg.node_id);
    memcpy(pm.cluster, n->cfg.cluster_tag, LX__CLUSTER_TAG_LEN);
    pm.u.forward.token = token;
    pm.u.forward.term = n->term;
    pm.u.forward.rid_len = (uint8_t)rid_len;
    pm.u.forward.rid = rid;
    pm.u.forward.frame = frame;
    pm.u.forward.frame_len = (uint32_t)len;
    size_t w;
    if (lx__peer_encode(n->scratch, LX__PEER_MSG_MAX, &w, &pm) != LX_OK ||
        lx__send_peer(n, n->leader_slot, n->scratch, w) != LX_OK) {
        lx__reply_error(n, &o, req_id, LX_PROTO_E_UNAVAILABLE, "cannot reach the leader");
        return;
    }
    if (rid_len > LX__FWD_RID_INLINE) {
        if (!(f->rid_heap = malloc(rid_len))) {
            /* Sent already: without a copy of the routing id the client
             * cannot be told if the answer is lost, but it still comes. */
            n->fwd_next_token++;
            return;
        }
        memcpy(f->rid_heap, rid, rid_len);
    } else {
        memcpy(f->rid, rid, rid_len);
    }
    n->fwd_next_token++;
    f->token = token;
    f->recv_us = recv_us;
    f->req_id = req_id;
    f->term = n->term;
    f->rid_len = (uint8_t)rid_len;
    n->fwd_n++;
}

void lx__replica_result(lx__node *n, const lx__peer_msg *m)
{
    size_t off = 0, total = 0;
    const uint8_t *p;
    size_t len;
    if ((m->u.result.last & LX__RESULT_BUNDLE) && m->u.result.count > 1) {
        /* One message for the client, the frames back to back. */
        while (lx__peer_list_next(m->u.result.list, m->u.result.list_len, &off, &p, &len) &&
               total + len <= LX__PEER_MSG_MAX) {
            memcpy(n->scratch2 + total, p, len);
            total += len;
        }
        lx__reply_local(n, m->u.result.rid, m->u.result.rid_len, n->scratch2, total);
    } else {
        while (lx__peer_list_next(m->u.result.list, m->u.result.list_len, &off, &p, &len))
            lx__reply_local(n, m->u.result.rid, m->u.result.rid_len, p, len);
    }
    uint64_t t = m->u.result.token;
    if (t && (m->u.result.last & 1)) {
        lx__fwd *f = &n->fwd[t % LX__FWD_MAX];
        if (f->token == t) {
            uint64_t d = lx_now_us() - f->recv_us;
            lx__hist_add(&n->m.ack_total, d);
            lx__hist_add(&n->m.ack_interval, d);
            fwd_clear(n, f);
        }
    }
}
