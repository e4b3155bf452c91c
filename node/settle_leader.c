/* Settlement in the node, the leader's part: it decides when a batch closes,
 * gathers the owners' signatures of each batch's settlement tx over the peer
 * links (and signs for the other nodes when asked), submits the tx from a
 * thread, logs its acceptance, and turns deposits seen on the X-Chain into
 * log entries (docs/settlement.md, "The leader"). */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logio.h"
#include "settle_state.h"

/* ---- signatures ---- */

static int in_set(const uint32_t *v, size_t k, int pos)
{
    for (size_t i = 0; i < k; i++)
        if ((int)v[i] == pos)
            return 1;
    return 0;
}

static lx_err sign_hash(lx__settle *s, uint8_t signer[LX_XADDR_LEN], uint8_t sig[LX_SIG_LEN],
                        const uint8_t hash[32])
{
    uint8_t h[32];
    memcpy(h, hash, 32);
    if (s->fault_bad_sig) /* test fault: sign some other hash */
        lx_sha256(h, hash, 32);
    return lx_settle_sign(s->key, signer, sig, h);
}

static void send_sig(lx__node *n, lx__settle *s, int slot, uint64_t number)
{
    uint8_t signer[LX_XADDR_LEN], sig[LX_SIG_LEN];
    if (sign_hash(s, signer, sig, s->st_hash) != LX_OK)
        return;
    lx__peer_msg m;
    memset(&m, 0, sizeof m);
    m.type = LX__P_SETTLE_SIG;
    snprintf(m.from, sizeof m.from, "%s", n->cfg.node_id);
    memcpy(m.cluster, n->cfg.cluster_tag, LX__CLUSTER_TAG_LEN);
    m.u.settle_sig.number = number;
    m.u.settle_sig.batch_hash = s->q[0].rec.hash;
    m.u.settle_sig.tx_hash = s->st_hash;
    m.u.settle_sig.signer = signer;
    m.u.settle_sig.sig = sig;
    uint8_t buf[512];
    size_t w;
    if (lx__peer_encode(buf, sizeof buf, &w, &m) == LX_OK)
        lx__send_peer(n, slot, buf, w);
}

/* A node's side: sign the tx of the batch the leader names, but only when
 * the batch and the tx are exactly those of this node's own replay. */
static void on_req(lx__node *n, lx__settle *s, const lx__peer_msg *m, int slot)
{
    uint64_t number = m->u.settle_req.number;
    if (n->is_leader || s->my_pos < 0 || number <= s->settled)
        return;
    if (s->qn == 0 || s->q[0].rec.number != number) {
        if (s->warned_number != number)
            lx__log(n, "settlement: %s asks to sign batch %" PRIu64 ", not replayed here yet",
                    m->from, number);
        s->warned_number = number;
        return;
    }
    char a[65], b[65];
    if (memcmp(m->u.settle_req.batch_hash, s->q[0].rec.hash, 32) != 0) {
        lx__settle_hex32(a, m->u.settle_req.batch_hash);
        lx__settle_hex32(b, s->q[0].rec.hash);
        lx__log(n, "REFUSING to sign batch %" PRIu64 ": %s's batch hash %s, my replay's %s", number,
                m->from, a, b);
        return;
    }
    if (!in_set(m->u.settle_req.signers, m->u.settle_req.nsigners, s->my_pos))
        return;
    lx_err rc = lx__settle_ensure_tx(s, m->u.settle_req.signers, m->u.settle_req.nsigners);
    if (rc != LX_OK) {
        lx__log(n, "settlement: cannot build the tx of batch %" PRIu64 ": %s", number,
                lx_strerror(rc));
        return;
    }
    if (memcmp(m->u.settle_req.tx_hash, s->st_hash, 32) != 0) {
        lx__settle_hex32(a, m->u.settle_req.tx_hash);
        lx__settle_hex32(b, s->st_hash);
        lx__log(n, "REFUSING to sign batch %" PRIu64 ": %s's tx hash %s, my replay's %s", number,
                m->from, a, b);
        return;
    }
    send_sig(n, s, slot >= 0 ? slot : n->leader_slot, number);
}

static void start_job(lx__node *n, lx__settle *s);

/* The certificate is complete: sign the tx, keep its bytes (so a restarted
 * leader issues exactly these), and submit. */
static void finish_round(lx__node *n, lx__settle *s)
{
    uint64_t number = s->q[0].rec.number;
    lx_err rc = lx_settle_tx_sign_cert(s->st, s->cert);
    free(s->tx_bytes);
    s->tx_bytes = NULL;
    if (rc == LX_OK)
        rc = lx_settle_tx_encode(s->st, &s->tx_bytes, &s->tx_len, s->tx_id);
    char path[LX__PATH_MAX + 64];
    if (rc == LX_OK &&
        (rc = lx__settle_path(path, sizeof path, s->data_dir, number, ".tx")) == LX_OK)
        rc = lx__settle_write_file(path, s->tx_bytes, s->tx_len);
    if (rc != LX_OK) {
        lx__log(n, "settlement: batch %" PRIu64 ": cannot sign and store the tx: %s", number,
                lx_strerror(rc));
        lx_settle_tx_free(&s->st); /* rebuilt unsigned by the next round */
        s->round_open = 0;
        s->next_round_us = lx_now_us() + ROUND_US;
        return;
    }
    s->q[0].rec.status = LX__BATCH_SUBMITTED;
    s->q[0].rec.has_tx = 1;
    memcpy(s->q[0].rec.tx_id, s->tx_id, 32);
    lx__settle_write_rec(n, s, &s->q[0].rec);
    char cb[LX_CB58_ID_MAX];
    lx_id_to_cb58(cb, s->tx_id);
    lx__log(n, "batch %" PRIu64 ": %zu signatures, tx %s (%zu bytes); submitting", number,
            lx_cert_count(s->cert), cb, s->tx_len);
    s->have_signed = 1;
    s->round_open = 0;
    start_job(n, s);
}

static void on_sig(lx__node *n, lx__settle *s, const lx__peer_msg *m)
{
    if (!n->is_leader || !s->round_open || s->qn == 0 || !s->cert)
        return;
    const pend *p = &s->q[0];
    if (m->u.settle_sig.number != p->rec.number ||
        memcmp(m->u.settle_sig.batch_hash, p->rec.hash, 32) != 0 ||
        memcmp(m->u.settle_sig.tx_hash, s->st_hash, 32) != 0)
        return; /* a late answer to an earlier round */
    uint8_t signer[LX_XADDR_LEN];
    lx_err rc = lx_cert_add(s->cert, signer, m->u.settle_sig.sig, m->u.settle_sig.signer);
    if (rc == LX_EEXIST)
        return;
    if (rc != LX_OK) {
        char me[LX_ADDR_STR_MAX] = "?";
        lx_address_encode(me, sizeof me, "X", s->ch.hrp, m->u.settle_sig.signer);
        lx__log(n, "REFUSED the signature of %s (claims %s) for batch %" PRIu64 ": %s", m->from, me,
                p->rec.number, lx_strerror(rc));
        for (size_t i = 0; i < s->ch.nowners; i++)
            if (memcmp(s->ch.owners + i * LX_XADDR_LEN, m->u.settle_sig.signer, LX_XADDR_LEN) ==
                0) {
                s->suspect |= (uint64_t)1 << i;
                s->suspect_us = lx_now_us();
                /* This set cannot complete: propose another at once. */
                if (in_set(s->st_signers, s->st_nsigners, (int)i))
                    s->round_open = 0;
            }
        return;
    }
    if (lx_cert_complete(s->cert))
        finish_round(n, s);
}

void lx__settle_peer(lx__node *n, const void *peer_msg, int slot)
{
    lx__settle *s = n->settle;
    const lx__peer_msg *m = peer_msg;
    if (s && (m->type == LX__P_BATCH_REQ || m->type == LX__P_BATCH_PART)) {
        lx__settle_fetch_peer(n, s, m, slot);
        return;
    }
    if (!s || s->halted || s->replaying)
        return;
    if (m->type == LX__P_SETTLE_REQ)
        on_req(n, s, m, slot);
    else if (m->type == LX__P_SETTLE_SIG)
        on_sig(n, s, m);
}

/* Picks the signer set: the first threshold owners that have not failed a
 * round, this node among them when it is an owner. */
static int choose_signers(lx__settle *s, uint32_t *v, size_t *k)
{
    size_t t = s->ch.threshold, got = 0;
    if (s->my_pos >= 0)
        s->suspect &= ~((uint64_t)1 << s->my_pos);
    for (int pass = 0; pass < 2 && got < t; pass++) {
        got = 0;
        if (s->my_pos >= 0 && (size_t)s->my_pos < LX__SETTLE_SIGNERS_MAX)
            v[got++] = (uint32_t)s->my_pos;
        for (size_t i = 0; i < s->ch.nowners && got < t; i++)
            if ((int)i != s->my_pos && !(s->suspect & ((uint64_t)1 << i)))
                v[got++] = (uint32_t)i;
        if (got < t)
            s->suspect = 0; /* everyone failed once: start over */
    }
    if (got < t)
        return 0;
    /* strictly increasing */
    for (size_t i = 1; i < got; i++)
        for (size_t j = i; j > 0 && v[j - 1] > v[j]; j--) {
            uint32_t x = v[j];
            v[j] = v[j - 1];
            v[j - 1] = x;
        }
    *k = got;
    return 1;
}

static void send_req(lx__node *n, lx__settle *s)
{
    lx__peer_msg m;
    memset(&m, 0, sizeof m);
    m.type = LX__P_SETTLE_REQ;
    snprintf(m.from, sizeof m.from, "%s", n->cfg.node_id);
    memcpy(m.cluster, n->cfg.cluster_tag, LX__CLUSTER_TAG_LEN);
    m.u.settle_req.number = s->q[0].rec.number;
    m.u.settle_req.batch_hash = s->q[0].rec.hash;
    m.u.settle_req.tx_hash = s->st_hash;
    m.u.settle_req.nsigners = (uint8_t)s->st_nsigners;
    memcpy(m.u.settle_req.signers, s->st_signers, s->st_nsigners * sizeof s->st_signers[0]);
    uint8_t buf[512];
    size_t w;
    if (lx__peer_encode(buf, sizeof buf, &w, &m) != LX_OK)
        return;
    for (size_t i = 0; i < n->nslots; i++)
        if (lx__slot_live(n, i))
            lx__send_peer(n, (int)i, buf, w);
}

static void signing_round(lx__node *n, lx__settle *s, uint64_t now)
{
    uint64_t number = s->q[0].rec.number;
    if (s->round_open && now - s->round_us < ROUND_US) {
        if (now - s->req_us >= REQ_RESEND_US) {
            send_req(n, s);
            s->req_us = now;
        }
        return;
    }
    if (s->round_open) {
        for (size_t i = 0; i < s->st_nsigners; i++) {
            uint32_t pos = s->st_signers[i];
            int have = 0;
            /* who signed: the signers listed in the certificate's encoding */
            uint8_t enc[LX_CERT_ENC_MAX];
            size_t w = 0;
            if (lx_cert_encode(s->cert, enc, sizeof enc, &w) == LX_OK) {
                uint32_t cnt = lx__get_u32(enc + 65);
                for (uint32_t k = 0; k < cnt; k++)
                    if (memcmp(enc + 69 + k * 85, s->ch.owners + pos * LX_XADDR_LEN,
                               LX_XADDR_LEN) == 0)
                        have = 1;
            }
            if (!have) {
                s->suspect |= (uint64_t)1 << pos;
                s->suspect_us = now;
            }
        }
        lx__log(n, "batch %" PRIu64 ": no quorum from its signer set in %d ms; trying another",
                number, ROUND_US / 1000);
    }
    if (!s->round_open && now < s->next_round_us)
        return;
    /* A signer that failed (it was restarting, say) is asked again later. */
    if (s->suspect && now - s->suspect_us >= SUSPECT_US)
        s->suspect = 0;
    uint32_t v[LX__SETTLE_SIGNERS_MAX];
    size_t k = 0;
    s->round_us = now;
    s->round_open = 0;
    s->next_round_us = now + ROUND_US; /* if this one cannot start */
    if (!choose_signers(s, v, &k))
        return;
    lx_err rc = lx__settle_ensure_tx(s, v, k);
    lx_cert_free(&s->cert);
    if (rc == LX_OK)
        rc = lx_cert_new(&s->cert, &s->channel, s->q[0].rec.hash, s->st_hash);
    if (rc != LX_OK) {
        lx__log(n, "settlement: batch %" PRIu64 ": cannot build its tx: %s", number,
                lx_strerror(rc));
        return;
    }
    s->round_open = 1;
    s->next_round_us = 0;
    if (s->my_pos >= 0 && in_set(v, k, s->my_pos)) {
        uint8_t signer[LX_XADDR_LEN], sig[LX_SIG_LEN];
        rc = sign_hash(s, signer, sig, s->st_hash);
        if (rc == LX_OK)
            rc = lx_cert_add(s->cert, NULL, sig, signer);
        if (rc != LX_OK)
            lx__log(n, "settlement: batch %" PRIu64 ": own signature refused: %s", number,
                    lx_strerror(rc));
    }
    if (lx_cert_complete(s->cert)) {
        finish_round(n, s);
        return;
    }
    send_req(n, s);
    s->req_us = now;
}

/* ---- submission ---- */

static void *submit_main(void *arg)
{
    lx__settle *s = arg;
    lx_rpc *rpc = NULL;
    lx_submit_report rep;
    memset(&rep, 0, sizeof rep);
    lx_err rc = lx_rpc_new(&rpc, s->rpc_url, NULL);
    if (rc == LX_OK) {
        lx_submit_options o;
        lx_submit_options_init(&o);
        o.deadline_ms = SUBMIT_DEADLINE_MS;
        /* Acceptance is on the fill-to-Accepted path: ask often (the
         * default 250 ms is a quarter of the settle interval). */
        o.poll_interval_ms = SUBMIT_POLL_MS;
        rc = lx_submit_tx(rpc, &rep, s->tx_bytes, s->tx_len, s->tx_id, &o);
    }
    lx_rpc_free(&rpc);
    pthread_mutex_lock(&s->mu);
    s->result = rc;
    s->rep = rep;
    s->done = 1;
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

static void start_job(lx__node *n, lx__settle *s)
{
    s->done = 0;
    if (pthread_create(&s->th, NULL, submit_main, s) != 0) {
        lx__log(n, "settlement: cannot start the submission thread");
        s->retry_us = lx_now_us() + RETRY_US;
        return;
    }
    s->th_live = 1;
}

static void poll_job(lx__node *n, lx__settle *s, uint64_t now)
{
    if (!s->th_live)
        return;
    pthread_mutex_lock(&s->mu);
    int done = s->done;
    pthread_mutex_unlock(&s->mu);
    if (!done)
        return;
    pthread_join(s->th, NULL);
    s->th_live = 0;
    char cb[LX_CB58_ID_MAX];
    lx_id_to_cb58(cb, s->tx_id);
    uint64_t number = s->qn ? s->q[0].rec.number : 0;
    if (s->result == LX_OK) {
        lx__log(n,
                "batch %" PRIu64 ": tx %s Accepted (%" PRIu32 " sends, %" PRIu32 " polls, %" PRIu64
                " ms)",
                number, cb, s->rep.sends, s->rep.polls, s->rep.elapsed_ms);
        s->accepted = 1;
        if (s->qn)
            s->q[0].accepted_us = lx_wall_us();
        return;
    }
    lx__log(n, "batch %" PRIu64 ": tx %s not accepted yet: %s%s%s (%" PRIu32 " sends); retrying",
            number, cb, lx_strerror(s->result), s->rep.message[0] ? ": " : "", s->rep.message,
            s->rep.sends);
    s->retry_us = now + (s->result == LX_EREJECTED ? 5 * RETRY_US : RETRY_US);
}

/* A restarted leader finds the tx it signed before: it issues exactly those
 * bytes again (found Accepted, or accepted now) instead of a new round. */
static int load_stored(lx__node *n, lx__settle *s)
{
    const pend *p = &s->q[0];
    char path[LX__PATH_MAX + 64];
    uint8_t *data = NULL;
    size_t len = 0;
    if (lx__settle_path(path, sizeof path, s->data_dir, p->rec.number, ".tx") != LX_OK ||
        lx__settle_read_file(path, &data, &len, LX_TX_MAX) != LX_OK)
        return 0;
    char why[256] = "";
    lx_err rc = lx_settle_tx_audit(why, sizeof why, data, len, p->batch, &s->channel,
                                   s->ch.network_id, s->ch.blockchain_id);
    if (rc != LX_OK) {
        lx__log(n, "settlement: ignoring %s: %s (%s)", path, lx_strerror(rc), why);
        free(data);
        return 0;
    }
    free(s->tx_bytes);
    s->tx_bytes = data;
    s->tx_len = len;
    lx_sha256(s->tx_id, data, len);
    char cb[LX_CB58_ID_MAX];
    lx_id_to_cb58(cb, s->tx_id);
    lx__log(n, "batch %" PRIu64 ": issuing the stored tx %s again", p->rec.number, cb);
    return 1;
}

/* ---- the leader's timers ---- */

static int sequence(lx__node *n, const lx_entry *e)
{
    if (!lx__batcher_fits(&n->batch, 1))
        return 0;
    lx__req r;
    memset(&r, 0, sizeof r);
    r.from.slot = LX__LOCAL; /* type 0: an internal entry, nobody to answer */
    return lx__batcher_add(&n->batch, &r, e, 1, lx_now_us()) == LX_OK;
}

static void maybe_close(lx__node *n, lx__settle *s, uint64_t now)
{
    if (s->qn || s->close_sent)
        return; /* one batch at a time: the next spends this one's change */
    uint64_t fills = lx_batch_builder_fill_count(s->bb);
    size_t wd = lx_batch_builder_withdrawal_count(s->bb);
    if (fills == 0 && wd == 0)
        return;
    if (now - s->last_close_us < n->cfg.settle.interval_us && fills < n->cfg.settle.max_fills &&
        wd < LX_BATCH_WITHDRAWALS_MAX)
        return;
    lx_entry e;
    memset(&e, 0, sizeof e);
    e.cmd.type = LX_ENTRY_BATCH_CLOSE;
    e.settle.number = s->closed + 1;
    e.settle.now = lx_wall_us() / 1000000u;
    if (sequence(n, &e)) {
        s->close_sent = e.settle.number;
        s->last_close_us = now;
    }
}

static void take_deposits(lx__node *n, lx__settle *s);

void lx__settle_tick(lx__node *n, uint64_t now_us)
{
    lx__settle *s = n->settle;
    if (!s)
        return;
    lx__settle_fetch_tick(n, s, now_us);
    if (s->halted)
        return;
    poll_job(n, s, now_us);
    if (!n->is_leader)
        return;
    if (s->accepted && !s->settled_sent && s->qn) {
        lx_entry e;
        memset(&e, 0, sizeof e);
        e.cmd.type = LX_ENTRY_BATCH_SETTLED;
        e.settle.number = s->q[0].rec.number;
        memcpy(e.settle.tx_id, s->tx_id, 32);
        if (sequence(n, &e)) {
            s->settled_sent = e.settle.number;
            s->accepted = 0;
        }
    }
    take_deposits(n, s);
    maybe_close(n, s, now_us);
    if (s->qn == 0 || s->settled_sent || s->accepted || s->th_live)
        return;
    if (s->have_signed) {
        if (now_us >= s->retry_us)
            start_job(n, s);
        return;
    }
    if (!s->checked_stored) {
        s->checked_stored = 1;
        if (load_stored(n, s)) {
            s->have_signed = 1;
            start_job(n, s);
            return;
        }
    }
    signing_round(n, s, now_us);
}

/* ---- deposits ---- */

static int known_utxo(const lx__settle *s, const lx__chain_utxo *u)
{
    for (size_t i = 0; i < s->ch.nfunding; i++)
        if (lx__settle_same_utxo(&s->ch.funding[i], u->tx_id, u->index))
            return 1;
    for (size_t i = 0; i < s->ndeps; i++)
        if (lx__settle_same_utxo(&s->deps[i], u->tx_id, u->index))
            return 1;
    for (size_t i = 0; i < s->npending_deps; i++)
        if (lx__settle_same_utxo(&s->pending_deps[i], u->tx_id, u->index))
            return 1;
    for (size_t i = 0; i < s->nprev; i++)
        if (s->prev[i].index == u->index && memcmp(s->prev[i].tx_id, u->tx_id, 32) == 0)
            return 1;
    return 0;
}

static const char *asset_symbol(const lx__settle *s, const uint8_t id[32])
{
    for (size_t i = 0; i < s->ch.nassets; i++)
        if (memcmp(s->ch.assets[i].id, id, 32) == 0)
            return s->ch.assets[i].symbol;
    return NULL;
}

/* A channel UTXO that cannot be credited (an asset the file does not name,
 * a locktime): logged once, left in place. */
static void ignore_once(lx__node *n, lx__settle *s, const lx__chain_utxo *u, const char *why)
{
    for (size_t i = 0; i < s->nignored; i++)
        if (lx__settle_same_utxo(&s->ignored[i], u->tx_id, u->index))
            return;
    lx__funding f;
    memset(&f, 0, sizeof f);
    memcpy(f.tx_id, u->tx_id, 32);
    f.index = u->index;
    s->ignored[s->nignored++ % 16] = f;
    if (s->nignored > 16)
        s->nignored = 16;
    char cb[LX_CB58_ID_MAX];
    lx_id_to_cb58(cb, u->tx_id);
    lx__log(n, "settlement: channel UTXO %s:%" PRIu32 " is not credited: %s", cb, u->index, why);
}

/* The leader: every new channel UTXO the watcher saw that is not a
 * settlement's change becomes a chain deposit entry. */
static void take_deposits(lx__node *n, lx__settle *s)
{
    lx__chain_utxo *v;
    size_t nv;
    if (!s->watch || !lx__watch_take(s->watch, &v, &nv))
        return;
    for (size_t i = 0; i < nv; i++) {
        const lx__chain_utxo *u = &v[i];
        if (u->settlement || known_utxo(s, u))
            continue;
        const char *sym = asset_symbol(s, u->asset_id);
        if (!sym) {
            ignore_once(n, s, u, "its asset is not in the channel file");
            continue;
        }
        if (u->locktime) {
            ignore_once(n, s, u, "it has a locktime");
            continue;
        }
        lx_entry e;
        memset(&e, 0, sizeof e);
        e.cmd.type = LX_ENTRY_CHAIN_DEPOSIT;
        e.cmd.u.transfer.account = u->has_account ? u->account : LX__SUSPENSE_ACCOUNT;
        e.cmd.u.transfer.amount = u->amount;
        snprintf(e.cmd.u.transfer.asset, sizeof e.cmd.u.transfer.asset, "%s", sym);
        memcpy(e.settle.tx_id, u->tx_id, 32);
        e.settle.index = u->index;
        lx__funding f;
        memset(&f, 0, sizeof f);
        memcpy(f.tx_id, u->tx_id, 32);
        f.index = u->index;
        if (!sequence(n, &e) ||
            !lx__settle_push_utxo(&s->pending_deps, &s->npending_deps, &s->pending_cap, &f))
            break; /* the next listing brings it again */
    }
    free(v);
}
