/* Leader elections and log agreement (docs/operations.md).
 *
 * Leadership has a term. The leader sends heartbeats; a node that misses
 * them for --election-timeout (plus half a timeout for each node between it
 * and the last leader in the fixed order of node ids) asks the others
 * whether they would vote for it (a pre-vote, which changes nothing, so a
 * node cut off from the rest cannot inflate the term), then asks for real
 * votes in term+1. A node votes once per term, and the vote is on disk
 * before it is sent. With a majority of votes the candidate copies the log
 * of the voter whose log is furthest ahead (highest last term, then last
 * seq) if that is not its own, and then starts again as the leader of the
 * term (an in-process restart, so every part of the node starts in its
 * leader role).
 *
 * Logs agree by their terms: each block carries the term of the leader that
 * cut it, a leader cuts each seq at most once in its term, and a node only
 * appends blocks to a log it has checked against the sender's (SYNC_REQ
 * with its log's term changes; the answer is the last seq both logs hold
 * with the same term). So two logs with the same term at a seq are the
 * same up to there. A node whose log goes past that seq cuts the rest off
 * (an in-process restart with the journal truncated) and catches up. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "journal_int.h"
#include "logio.h"
#include "node_int.h"
#include "settle_int.h"

#define SYNC_RETRY_US 200000u
#define VOTE_RETRY_US 100000u
#define VOTE_GRACE_US 30000u    /* after a majority, for the other answers */
#define TERMS_SCAN_BLOCKS 4096u /* the log tail whose terms are read at start */

/* ---- the log's terms ---- */

void lx__terms_note(lx__terms *t, uint64_t term, uint64_t seq)
{
    if (t->n && t->term[t->n - 1] >= term)
        return;
    if (t->n && t->first[t->n - 1] >= seq)
        return;
    if (t->n == LX__TERMS_KEEP) {
        memmove(t->term, t->term + 1, (LX__TERMS_KEEP - 1) * sizeof t->term[0]);
        memmove(t->first, t->first + 1, (LX__TERMS_KEEP - 1) * sizeof t->first[0]);
        t->n--;
    }
    t->term[t->n] = term;
    t->first[t->n] = seq;
    t->n++;
}

uint64_t lx__terms_at(const lx__terms *t, uint64_t seq, uint64_t *first)
{
    for (uint32_t i = t->n; i-- > 0;)
        if (t->first[i] <= seq) {
            if (first)
                *first = t->first[i];
            return t->term[i];
        }
    if (first)
        *first = 0;
    return 0; /* before the tail we know: taken as agreed */
}

/* The last seq at or below min(a_last, b_last) where logs a and b have the
 * same term; a term not known on one side counts as the same. */
uint64_t lx__terms_match(const lx__terms *a, uint64_t a_last, const lx__terms *b, uint64_t b_last)
{
    uint64_t m = a_last < b_last ? a_last : b_last;
    while (m > 0) {
        uint64_t fa, fb;
        uint64_t ta = lx__terms_at(a, m, &fa), tb = lx__terms_at(b, m, &fb);
        if (ta == 0 || tb == 0 || ta == tb)
            return m;
        /* The two terms differ on the whole overlap of their runs: skip it. */
        uint64_t f = fa > fb ? fa : fb;
        m = f ? f - 1 : 0;
    }
    return 0;
}

static uint64_t log_last(const lx__node *n)
{
    return n->is_leader ? n->cut_seq : n->seq;
}

/* ---- the data folder's records: DATA/cluster and DATA/term ---- */

/* Replaces DATA/name with text, durably: a temporary file, synced, renamed
 * over it, and the folder synced. */
static lx_err record_save(lx__node *n, const char *name, const char *text, size_t len)
{
    char path[LX__PATH_MAX + 16], tmp[LX__PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/%s", n->cfg.data_dir, name);
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp", n->cfg.data_dir, name);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    lx_err rc = fd < 0 ? LX_EIO : lx__write_all(fd, (const uint8_t *)text, len, 0);
    if (fd >= 0 && rc == LX_OK && fsync(fd) != 0)
        rc = LX_EIO;
    if (fd >= 0)
        close(fd);
    if (rc == LX_OK && rename(tmp, path) != 0)
        rc = LX_EIO;
    if (rc == LX_OK)
        rc = lx__fsync_dir(n->cfg.data_dir);
    if (rc != LX_OK)
        lx__log(n, "FATAL: cannot write %s: %s", path, strerror(errno));
    return rc;
}

lx_err lx__cluster_file_check(lx__node *n)
{
    char path[LX__PATH_MAX + 16], text[160];
    snprintf(path, sizeof path, "%s/cluster", n->cfg.data_dir);
    FILE *f = fopen(path, "r");
    if (f) {
        char id[LX__CLUSTER_ID_MAX + 1], mode[16];
        int k = fscanf(f, "cluster %63s consensus %15s", id, mode);
        fclose(f);
        if (k != 2) {
            lx__log(n, "FATAL: %s is not a cluster file (\"cluster ID\", \"consensus MODE\")",
                    path);
            return LX_EIO;
        }
        if (strcmp(id, n->cfg.cluster_id) == 0 && strcmp(mode, n->cfg.consensus) == 0)
            return LX_OK;
        lx__log(n,
                "FATAL: %s holds the log of cluster %s (consensus %s), and this node was started "
                "with --cluster-id %s --consensus %s: start it with those of its cluster, or "
                "give it an empty --data-dir to join this one",
                n->cfg.data_dir, id, mode, n->cfg.cluster_id, n->cfg.consensus);
        return LX_EINVAL;
    }
    if (errno != ENOENT) {
        lx__log(n, "FATAL: cannot read %s: %s", path, strerror(errno));
        return LX_EIO;
    }
    /* A new folder, or one from before the file: it belongs to this
     * cluster from now on. */
    int len = snprintf(text, sizeof text, "cluster %s\nconsensus %s\n", n->cfg.cluster_id,
                       n->cfg.consensus);
    return record_save(n, "cluster", text, (size_t)len);
}

static lx_err term_save(lx__node *n, uint64_t promote)
{
    char text[128];
    int len = snprintf(text, sizeof text, "term %" PRIu64 "\nvoted %s\npromote %" PRIu64 "\n",
                       n->term, n->voted_for[0] ? n->voted_for : "-", promote);
    return record_save(n, "term", text, (size_t)len);
}

/* 1 if the file was there (and read), 0 if not, -1 if it is unreadable. */
static int term_load(lx__node *n, uint64_t *promote)
{
    char path[LX__PATH_MAX + 16], voted[LX__NODE_ID_MAX + 1];
    snprintf(path, sizeof path, "%s/term", n->cfg.data_dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return errno == ENOENT ? 0 : -1;
    unsigned long long t, p;
    int k = fscanf(f, "term %llu voted %31s promote %llu", &t, voted, &p);
    fclose(f);
    if (k != 3 || t == 0)
        return -1;
    n->term = t;
    *promote = p;
    if (strcmp(voted, "-") == 0 || !lx__node_id_ok(voted))
        n->voted_for[0] = 0;
    else
        memcpy(n->voted_for, voted, sizeof voted);
    return 1;
}

/* Adopts a higher term seen in a message: no vote in it yet. A leader
 * steps down by starting again as a follower. 1 if the term was adopted. */
int lx__elect_adopt(lx__node *n, uint64_t term, const char *from)
{
    if (term <= n->term)
        return 0;
    lx__log(n, "term %" PRIu64 " seen from %s (ours %" PRIu64 ")", term, from, n->term);
    n->term = term;
    n->voted_for[0] = 0;
    n->in_sync = 0;
    n->leader_id[0] = 0;
    n->leader_slot = -1;
    n->src_slot = -1;
    if (term_save(n, 0) != LX_OK) {
        *n->stop = 1;
        return 1;
    }
    if (n->is_leader)
        lx__node_restart(n, UINT64_MAX, UINT64_MAX, "a newer term exists: stepping down");
    else if (n->role == LX__ROLE_CANDIDATE)
        n->role = LX__ROLE_FOLLOWER;
    return 1;
}

/* ---- start ---- */

static lx_err scan_block(void *arg, uint64_t seq, const uint8_t *data, size_t len)
{
    lx__terms *t = arg;
    lx_block_hdr h;
    if (lx_block_peek(&h, data, len) == LX_OK)
        lx__terms_note(t, h.term, seq);
    return LX_OK;
}

lx_err lx__elect_init(lx__node *n, lx_journal *j)
{
    n->src_slot = -1;
    uint64_t last = lx_journal_last_seq(j), first = lx_journal_first_seq(j);
    if (last) {
        uint64_t from = last > TERMS_SCAN_BLOCKS ? last - TERMS_SCAN_BLOCKS + 1 : 1;
        if (from < first)
            from = first;
        lx_err rc = lx_journal_foreach(j, from, last, scan_block, &n->terms);
        if (rc != LX_OK) {
            lx__log(n, "cannot read the terms of blocks %" PRIu64 "-%" PRIu64 ": %s", from, last,
                    lx_strerror(rc));
            return rc;
        }
    }
    n->durable_seq = n->seq;
    uint64_t promote = 0;
    int had = term_load(n, &promote);
    if (had < 0) {
        lx__log(n, "cannot read %s/term", n->cfg.data_dir);
        return LX_EIO;
    }
    uint64_t last_term = lx__terms_at(&n->terms, n->seq, NULL);
    if (had && last_term > n->term) {
        /* The log holds a term the file does not: take the log's word. */
        n->term = last_term;
        n->voted_for[0] = 0;
    }
    int lead = 0;
    if (had && promote && promote == n->term) {
        lead = 1; /* elected: this start is the leader's */
    } else if (!had && n->cfg.is_leader && n->seq == 0) {
        lead = 1; /* a new cluster's first leader */
        n->term = 1;
        snprintf(n->voted_for, sizeof n->voted_for, "%s", n->cfg.node_id);
    } else if (!had) {
        n->term = last_term;
    }
    if (lead) {
        n->role = LX__ROLE_LEADER;
        n->is_leader = 1;
        snprintf(n->leader_id, sizeof n->leader_id, "%s", n->cfg.node_id);
    } else {
        n->role = LX__ROLE_FOLLOWER;
        n->is_leader = 0;
    }
    /* A fresh follower has term 0 until it hears the first leader. */
    if (n->term && term_save(n, 0) != LX_OK)
        return LX_EIO;
    /* Every node counts, linked or not (cluster_size is npeers + 1 in a
     * mesh). */
    n->quorum = (uint32_t)(n->cfg.cluster_size / 2 + 1);
    lx__elect_leader_alive(n, lx_now_us());
    return LX_OK;
}

void lx__elect_leader_alive(lx__node *n, uint64_t now)
{
    n->leader_seen_us = now;
    n->election_base_us = now;
}

/* ---- timing ---- */

static int id_less(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    return la != lb ? la < lb : strcmp(a, b) < 0;
}

/* This node's distance after the last leader in the order of node ids
 * (1 for the next one), or its place in that order when there was none. */
static uint32_t distance(const lx__node *n)
{
    const char *ids[LX__PEERS_MAX + 1];
    size_t k = 0;
    ids[k++] = n->cfg.node_id;
    for (size_t i = 0; i < n->nslots; i++)
        if (n->peer_id[i][0])
            ids[k++] = n->peer_id[i];
    for (size_t i = 1; i < k; i++)
        for (size_t m = i; m > 0 && id_less(ids[m], ids[m - 1]); m--) {
            const char *t = ids[m];
            ids[m] = ids[m - 1];
            ids[m - 1] = t;
        }
    size_t me = 0, lead = k;
    for (size_t i = 0; i < k; i++) {
        if (strcmp(ids[i], n->cfg.node_id) == 0)
            me = i;
        if (n->last_leader[0] && strcmp(ids[i], n->last_leader) == 0)
            lead = i;
    }
    if (lead == k) {
        /* The last leader is unknown, or not among the peers we know:
         * count from where it would sort. */
        if (!n->last_leader[0])
            return (uint32_t)me + 1;
        lead = 0;
        while (lead < k && id_less(ids[lead], n->last_leader))
            lead++;
        lead = lead == 0 ? k - 1 : lead - 1;
    }
    uint32_t d = (uint32_t)((me + k - lead) % k);
    return d ? d : (uint32_t)k;
}

static uint64_t election_deadline(const lx__node *n)
{
    uint64_t t = n->cfg.election_us;
    return n->election_base_us + t + (uint64_t)(distance(n) - 1) * (t / 2);
}

uint64_t lx__elect_deadline(const lx__node *n)
{
    if (n->is_leader || n->restart)
        return UINT64_MAX;
    uint64_t t = election_deadline(n);
    if (n->role == LX__ROLE_CANDIDATE && n->vote_sent_us + VOTE_RETRY_US < t)
        t = n->vote_sent_us + VOTE_RETRY_US;
    if (n->role == LX__ROLE_CANDIDATE && !n->prevote && n->quorum_us &&
        n->quorum_us + VOTE_GRACE_US < t)
        t = n->quorum_us + VOTE_GRACE_US;
    return t;
}

/* ---- sending ---- */

static void send_msg(lx__node *n, int slot, lx__peer_msg *m)
{
    snprintf(m->from, sizeof m->from, "%s", n->cfg.node_id);
    memcpy(m->cluster, n->cfg.cluster_tag, LX__CLUSTER_TAG_LEN);
    uint8_t buf[1024];
    size_t w;
    if (lx__peer_encode(buf, sizeof buf, &w, m) != LX_OK)
        return;
    if (slot >= 0) {
        lx__send_peer(n, slot, buf, w);
        return;
    }
    for (size_t i = 0; i < n->nslots; i++)
        if (lx__slot_live(n, i))
            lx__send_peer(n, (int)i, buf, w);
}

static void ask_votes(lx__node *n, uint64_t now)
{
    lx__peer_msg m;
    memset(&m, 0, sizeof m);
    m.type = LX__P_VOTE_REQ;
    m.u.vote.term = n->prevote ? n->term + 1 : n->term;
    m.u.vote.prevote = (uint8_t)n->prevote;
    m.u.vote.last_seq = n->seq;
    m.u.vote.last_term = lx__terms_at(&n->terms, n->seq, NULL);
    for (size_t i = 0; i < n->nslots; i++)
        if (lx__slot_live(n, i) && !n->answered[i])
            send_msg(n, (int)i, &m);
    n->vote_sent_us = now;
}

static void send_sync_req(lx__node *n, uint64_t now)
{
    if (n->src_slot < 0 || (n->sync_sent_us && now - n->sync_sent_us < SYNC_RETRY_US))
        return;
    lx__peer_msg m;
    memset(&m, 0, sizeof m);
    m.type = LX__P_SYNC_REQ;
    m.u.sync_req.term = n->term;
    m.u.sync_req.seq = n->seq;
    uint32_t k = n->terms.n < LX__TERMS_MAX ? n->terms.n : LX__TERMS_MAX;
    uint32_t skip = n->terms.n - k;
    for (uint32_t i = 0; i < k; i++) {
        m.u.sync_req.bterm[i] = n->terms.term[skip + i];
        m.u.sync_req.bfirst[i] = n->terms.first[skip + i];
    }
    m.u.sync_req.count = (uint8_t)k;
    send_msg(n, n->src_slot, &m);
    n->sync_sent_us = now ? now : 1;
}

/* ---- candidacy ---- */

static void candidate_step(lx__node *n);
static void prevote_won(lx__node *n);

static int may_lead(lx__node *n)
{
    if (n->settle && !n->cfg.settle.rpc[0]) {
        if (!n->told_no_rpc++)
            lx__log(n, "not standing for leader: settlement is on and --rpc is not set");
        return 0;
    }
    return 1;
}

static void start_candidacy(lx__node *n, uint64_t now)
{
    n->role = LX__ROLE_CANDIDATE;
    n->prevote = 1;
    n->src_slot = -1;
    n->in_sync = 0;
    n->catchup_to = 0;
    memset(n->granted, 0, sizeof n->granted);
    memset(n->answered, 0, sizeof n->answered);
    n->ngranted = 1; /* our own */
    n->nanswered = 0;
    n->best_slot = -1;
    n->elect_start_us = now;
    n->election_base_us = now;
    lx__log(n, "no heartbeat from %s for %" PRIu64 " ms: asking for votes for term %" PRIu64,
            n->last_leader[0] ? n->last_leader : "a leader", (now - n->leader_seen_us) / 1000,
            n->term + 1);
    ask_votes(n, now);
    if (n->ngranted >= n->quorum)
        prevote_won(n);
}

static void promote(lx__node *n)
{
    lx__log(n,
            "elected leader of term %" PRIu64 " after %" PRIu64 " ms (%u of %zu votes, log at "
            "seq %" PRIu64 "); starting as leader",
            n->term, (lx_now_us() - n->elect_start_us) / 1000, n->ngranted, n->cfg.cluster_size,
            n->seq);
    if (term_save(n, n->term) != LX_OK) {
        *n->stop = 1;
        return;
    }
    lx__node_restart(n, UINT64_MAX, UINT64_MAX, "elected leader");
}

/* Called when the votes are in, and after each step of catching up. */
static void candidate_step(lx__node *n)
{
    if (n->role != LX__ROLE_CANDIDATE || n->prevote || n->ngranted < n->quorum || n->restart)
        return;
    /* A majority voted for us: give the other nodes that are up a moment to
     * answer too, so the log we take is the furthest any of them holds. */
    uint64_t now = lx_now_us();
    if (!n->quorum_us)
        n->quorum_us = now;
    size_t known = 0;
    for (size_t i = 0; i < n->nslots; i++)
        if (lx__slot_live(n, i))
            known++;
    if (n->nanswered < known && now - n->quorum_us < VOTE_GRACE_US)
        return;
    if (n->best_slot < 0 || n->seq >= n->catchup_to) {
        promote(n);
        return;
    }
    if (n->src_slot != n->best_slot) {
        n->src_slot = n->best_slot;
        n->in_sync = 0;
        n->sync_sent_us = 0;
        n->leader_seq = n->catchup_to;
        lx__log(n, "catching up to seq %" PRIu64 " from %s before leading", n->catchup_to,
                n->peer_id[n->best_slot]);
    }
    if (!n->in_sync)
        send_sync_req(n, lx_now_us());
}

void lx__elect_caught_up(lx__node *n)
{
    candidate_step(n);
}

void lx__elect_tick(lx__node *n, uint64_t now)
{
    if (n->is_leader || n->restart)
        return;
    if (!n->in_sync && n->src_slot >= 0)
        send_sync_req(n, now);
    if (n->role == LX__ROLE_CANDIDATE && !n->prevote)
        candidate_step(n);
    if (n->role == LX__ROLE_CANDIDATE && now - n->vote_sent_us >= VOTE_RETRY_US &&
        now < election_deadline(n) && (n->prevote || n->ngranted < n->quorum))
        ask_votes(n, now);
    if (now < election_deadline(n))
        return;
    if (!may_lead(n)) {
        n->election_base_us = now;
        return;
    }
    if (n->role == LX__ROLE_CANDIDATE && !n->prevote)
        lx__log(n, "term %" PRIu64 ": no leader after %" PRIu64 " ms; trying again", n->term,
                (now - n->elect_start_us) / 1000);
    start_candidacy(n, now);
}

/* ---- messages ---- */

static void on_vote_req(lx__node *n, const lx__peer_msg *m, int slot)
{
    uint64_t now = lx_now_us();
    lx__peer_msg r;
    memset(&r, 0, sizeof r);
    r.type = LX__P_VOTE;
    r.u.vote.prevote = m->u.vote.prevote;
    int grant = 0;
    if (m->u.vote.prevote) {
        /* Would we? Only if we lost the leader too, and the term is new. */
        int heard =
            n->is_leader || (n->leader_id[0] && now - n->leader_seen_us < n->cfg.election_us / 2);
        grant = m->u.vote.term > n->term && !heard;
        r.u.vote.term = m->u.vote.term;
    } else {
        lx__elect_adopt(n, m->u.vote.term, m->from);
        if (m->u.vote.term == n->term && !n->is_leader &&
            (!n->voted_for[0] || strcmp(n->voted_for, m->from) == 0)) {
            snprintf(n->voted_for, sizeof n->voted_for, "%s", m->from);
            if (term_save(n, 0) != LX_OK) {
                *n->stop = 1;
                return;
            }
            grant = 1;
            /* Give the one we voted for its time before standing ourselves. */
            n->election_base_us = now;
            snprintf(n->last_leader, sizeof n->last_leader, "%s", m->from);
            if (n->role == LX__ROLE_CANDIDATE)
                n->role = LX__ROLE_FOLLOWER;
        }
        r.u.vote.term = n->term;
    }
    r.u.vote.granted = (uint8_t)grant;
    r.u.vote.last_seq = log_last(n);
    r.u.vote.last_term = lx__terms_at(&n->terms, r.u.vote.last_seq, NULL);
    send_msg(n, slot, &r);
}

/* A majority would vote for us: ask for real, in the new term. */
static void prevote_won(lx__node *n)
{
    n->prevote = 0;
    n->term++;
    snprintf(n->voted_for, sizeof n->voted_for, "%s", n->cfg.node_id);
    if (term_save(n, 0) != LX_OK) {
        *n->stop = 1;
        return;
    }
    memset(n->granted, 0, sizeof n->granted);
    memset(n->answered, 0, sizeof n->answered);
    n->ngranted = 1;
    n->nanswered = 0;
    n->quorum_us = 0;
    n->best_slot = -1;
    n->catchup_to = n->seq;
    n->best_term = lx__terms_at(&n->terms, n->seq, NULL);
    ask_votes(n, lx_now_us());
    candidate_step(n); /* a one-node cluster has its majority already */
}

static void on_vote(lx__node *n, const lx__peer_msg *m, int slot)
{
    if (!m->u.vote.prevote && lx__elect_adopt(n, m->u.vote.term, m->from))
        return;
    if (n->role != LX__ROLE_CANDIDATE || n->answered[slot])
        return;
    uint64_t want = n->prevote ? n->term + 1 : n->term;
    if (m->u.vote.prevote != (uint8_t)n->prevote || m->u.vote.term != want)
        return;
    n->answered[slot] = 1;
    n->nanswered++;
    if (m->u.vote.granted) {
        n->granted[slot] = 1;
        n->ngranted++;
    }
    if (n->prevote) {
        if (n->ngranted >= n->quorum)
            prevote_won(n);
        return;
    }
    /* The log furthest ahead among the nodes that answered, voters or not,
     * is the one to lead with: a log at least as far ahead as every
     * voter's holds every acknowledged block. */
    if (m->u.vote.last_term > n->best_term ||
        (m->u.vote.last_term == n->best_term && m->u.vote.last_seq > n->catchup_to)) {
        n->best_term = m->u.vote.last_term;
        n->catchup_to = m->u.vote.last_seq;
        n->best_slot = slot;
    }
    candidate_step(n);
}

static void on_sync_req(lx__node *n, const lx__peer_msg *m, int slot)
{
    lx__elect_adopt(n, m->u.sync_req.term, m->from);
    lx__terms theirs;
    memset(&theirs, 0, sizeof theirs);
    for (uint8_t i = 0; i < m->u.sync_req.count; i++)
        lx__terms_note(&theirs, m->u.sync_req.bterm[i], m->u.sync_req.bfirst[i]);
    uint64_t last = log_last(n);
    lx__peer_msg r;
    memset(&r, 0, sizeof r);
    r.type = LX__P_SYNC_RESP;
    r.u.sync_resp.term = n->term ? n->term : 1;
    r.u.sync_resp.last = last;
    r.u.sync_resp.match = lx__terms_match(&n->terms, last, &theirs, m->u.sync_req.seq);
    send_msg(n, slot, &r);
}

static void on_sync_resp(lx__node *n, const lx__peer_msg *m, int slot)
{
    if (lx__elect_adopt(n, m->u.sync_resp.term, m->from) || slot != n->src_slot || n->in_sync ||
        n->is_leader)
        return;
    uint64_t match = m->u.sync_resp.match;
    if (match < n->seq) {
        char why[160];
        snprintf(why, sizeof why,
                 "our log parts from %s's after seq %" PRIu64 ": cutting %" PRIu64
                 " unacknowledged blocks",
                 m->from, match, n->seq - match);
        lx__node_restart(n, match, match, why);
        return;
    }
    n->in_sync = 1;
    lx__replica_clear_stash(n);
    if (m->u.sync_resp.last > n->leader_seq)
        n->leader_seq = m->u.sync_resp.last;
    lx__log(n, "log agrees with %s's up to seq %" PRIu64 " (it has %" PRIu64 ")", m->from, match,
            m->u.sync_resp.last);
    lx__replica_tick(n, lx_now_us()); /* ask for what is missing */
    candidate_step(n);
}

static void on_ack(lx__node *n, const lx__peer_msg *m, int slot)
{
    if (lx__elect_adopt(n, m->u.ack.term, m->from) || !n->is_leader || m->u.ack.term != n->term)
        return;
    if (m->u.ack.seq > n->peer_durable[slot]) {
        n->peer_durable[slot] = m->u.ack.seq;
        lx__seq_commit(n);
    }
}

void lx__elect_peer(lx__node *n, const lx__peer_msg *m, int slot)
{
    if (slot < 0)
        return; /* no link back to it yet: it asks again */
    switch (m->type) {
    case LX__P_VOTE_REQ:
        on_vote_req(n, m, slot);
        return;
    case LX__P_VOTE:
        on_vote(n, m, slot);
        return;
    case LX__P_SYNC_REQ:
        on_sync_req(n, m, slot);
        return;
    case LX__P_SYNC_RESP:
        on_sync_resp(n, m, slot);
        return;
    case LX__P_ACK:
        on_ack(n, m, slot);
        return;
    default:
        return;
    }
}

void lx__elect_heartbeat(lx__node *n, const lx__heartbeat *hb, int slot)
{
    if (hb->term < n->term) {
        if (!n->told_stale++)
            lx__log(n, "ignoring %s: it leads term %" PRIu64 ", ours is %" PRIu64, hb->node,
                    hb->term, n->term);
        return;
    }
    lx__elect_adopt(n, hb->term, hb->node);
    if (n->is_leader || n->restart)
        return; /* the same term cannot have two leaders: it is ours */
    uint64_t now = lx_now_us();
    if (n->role == LX__ROLE_CANDIDATE) {
        n->role = LX__ROLE_FOLLOWER;
        n->src_slot = -1;
        n->in_sync = 0;
    }
    if (strcmp(n->leader_id, hb->node) != 0 || n->leader_slot != slot) {
        snprintf(n->leader_id, sizeof n->leader_id, "%s", hb->node);
        lx__log(n, "leader is %s (term %" PRIu64 ")", hb->node, hb->term);
        n->in_sync = 0;
        n->sync_sent_us = 0;
    }
    snprintf(n->last_leader, sizeof n->last_leader, "%s", hb->node);
    n->leader_slot = slot;
    n->src_slot = slot;
    lx__elect_leader_alive(n, now);
    if (hb->commit > n->commit_seq)
        n->commit_seq = hb->commit;
    if (!n->in_sync)
        send_sync_req(n, now);
}

void lx__elect_synced(lx__node *n, uint64_t seq)
{
    if (seq > n->durable_seq)
        n->durable_seq = seq;
    if (n->is_leader || !n->in_sync || n->leader_slot < 0 || n->role != LX__ROLE_FOLLOWER)
        return;
    lx__peer_msg m;
    memset(&m, 0, sizeof m);
    m.type = LX__P_ACK;
    m.u.ack.term = n->term;
    m.u.ack.seq = n->durable_seq;
    send_msg(n, n->leader_slot, &m);
}

uint64_t lx__elect_quorum_seq(const lx__node *n)
{
    /* The quorum-th highest durable seq among us and the peers. */
    uint64_t v[LX__PEERS_MAX + 1];
    size_t k = 0;
    v[k++] = n->synced_seq;
    for (size_t i = 0; i < n->nslots; i++)
        if (lx__slot_live(n, i))
            v[k++] = n->peer_durable[i];
    for (size_t i = 1; i < k; i++)
        for (size_t m = i; m > 0 && v[m] > v[m - 1]; m--) {
            uint64_t t = v[m];
            v[m] = v[m - 1];
            v[m - 1] = t;
        }
    return n->quorum <= k ? v[n->quorum - 1] : 0;
}

const char *lx__role_name(const lx__node *n)
{
    return n->is_leader ? "leader" : n->role == LX__ROLE_CANDIDATE ? "candidate" : "follower";
}
