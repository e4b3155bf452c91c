/* Snapshots, journal compaction and state sync: a node whose peer has
 * compacted away the blocks it needs fetches that peer's newest snapshot
 * (the engine bytes and, with settlement, the settlement section) over the
 * base+3 links (SNAP_REQ / SNAP_PART), verifies and installs it, and restarts
 * in-process from it; gap requests then bring it up to date. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logio.h"
#include "node_int.h"
#include "settle_int.h"

#define PART_TIMEOUT_US 5000000u /* no part for this long: give up */
#define RETRY_US 1000000u        /* after a failed attempt */
#define TAKEN_MAX 4u             /* snapshots whose hash this run remembers */
/* Orders an incremental snapshot writes per turn of the main loop: about
 * 0.1-0.3 ms on the test machine, so that a large book's snapshot never
 * stops the node for long (a stop of 20 ms at 250,000 orders/s was a
 * queue that took most of a second to drain). */
#define SNAP_STEP_ORDERS 1024u

/* A snapshot this process took, with the state hash it announced for it. */
typedef struct taken {
    uint64_t seq; /* 0: empty */
    uint8_t hash[LX_STATE_HASH_LEN];
} taken;

typedef struct lx__ss {
    taken snaps[TAKEN_MAX];
    unsigned next_snap;

    /* The incremental snapshot in progress: js has its meta and settlement
     * section; the engine writes its bytes into buf (n->snap_buf, or a
     * buffer of its own while the journal thread still writes from that). */
    int snapping;
    lx__jw_snap js;
    uint8_t *buf_own;
    uint64_t begun_us;        /* when it began */
    uint64_t main_us, cpu_us; /* the main thread's time in it, and CPU time */
    unsigned steps;

    /* the state sync in progress */
    int active, installed;
    int slot;
    uint64_t seq; /* 0: waiting for the first part */
    uint64_t next_index, total, got;
    uint64_t settle_len; /* the last settle_len of total: the settlement section */
    uint32_t crc, parts;
    uint8_t state_hash[LX_STATE_HASH_LEN];
    uint8_t announced;
    uint8_t announced_hash[LX_STATE_HASH_LEN];
    uint8_t *buf;
    uint64_t last_us;  /* the last request sent */
    uint64_t retry_us; /* no new attempt before this */
} lx__ss;

/* Counted across in-process restarts: the node is rebuilt after each one. */
static uint64_t installed_total;

uint64_t lx__ss_installed(void)
{
    return installed_total;
}

lx_err lx__ss_init(lx__node *n)
{
    n->ss = calloc(1, sizeof *n->ss);
    if (!n->ss)
        return LX_ENOMEM;
    n->ss->slot = -1;
    /* Each node takes its snapshots at its own phase of --snapshot-every,
     * from a hash of its id (FNV-1a), so that the nodes of a cluster seldom
     * pause to encode at the same block: an acknowledgement then waits
     * for at most the leader's pause, not for the slowest of all. */
    uint64_t h = 0xcbf29ce484222325ull;
    for (const char *c = n->cfg.node_id; *c; c++)
        h = (h ^ (uint8_t)*c) * 0x100000001b3ull;
    n->snap_phase = n->cfg.snapshot_every ? h % n->cfg.snapshot_every : 0;
    /* With settlement too: every snapshot carries its settlement section,
     * and a start rebuilds settlement from it (lx__settle_init). */
    return lx__jw_compact_limit(n->jw, n->cfg.compact ? UINT64_MAX : 0);
}

void lx__ss_free(lx__node *n)
{
    if (!n->ss)
        return;
    if (n->ss->snapping) {
        lx_engine_snap_abort(n->engine);
        lx__jw_snap_release(&n->ss->js);
        free(n->ss->buf_own);
    }
    free(n->ss->buf);
    free(n->ss);
    n->ss = NULL;
}

int lx__ss_busy(const lx__node *n)
{
    return n->ss && (n->ss->active || n->ss->installed);
}

/* ---- taking snapshots, serving them ---- */

int lx__ss_due(const lx__node *n)
{
    uint64_t every = n->cfg.snapshot_every;
    return every && n->seq > 0 && n->seq >= n->snap_phase && (n->seq - n->snap_phase) % every == 0;
}

lx_err lx__ss_buf_fit(lx__node *n, size_t len)
{
    if (n->snap_buf && len <= n->snap_cap)
        return LX_OK;
    size_t want = (4 * len + LX__BIG_PAGE - 1) & ~(LX__BIG_PAGE - 1);
    if (want < LX__SNAP_RESERVE)
        want = LX__SNAP_RESERVE;
    lx__big_free(n->snap_buf, n->snap_cap);
    n->snap_cap = 0;
    if (!(n->snap_buf = lx__big_alloc(want)))
        return LX_ENOMEM;
    n->snap_cap = want;
    return LX_OK;
}

/* Begins an incremental snapshot of the state after block n->seq, into
 * n->snap_buf when the journal thread is not still writing from it; else
 * into a buffer of its own. A fresh buffer's pages fault in as it is
 * written, which for a book of 10 MB took several times as long as the
 * encoding itself: n->snap_buf is address space for four times the
 * snapshot (LX__SNAP_RESERVE at least), kept, and the snapshot writer
 * faults in the part the next snapshot may need (jwriter.c). */
static void begin(lx__node *n)
{
    lx__ss *s = n->ss;
    uint64_t t0 = lx_now_us(), c0 = lx_thread_cpu_us();
    size_t len;
    if (n->seq == 0 || lx_engine_snapshot_len(n->engine, &len) != LX_OK)
        return;
    uint8_t *buf;
    size_t cap;
    s->buf_own = NULL;
    if (atomic_load_explicit(&n->snap_lent, memory_order_acquire)) {
        if (!(buf = s->buf_own = malloc(len)))
            return;
        cap = len;
    } else {
        if (lx__ss_buf_fit(n, len) != LX_OK)
            return;
        buf = n->snap_buf;
        cap = n->snap_cap;
    }
    memset(&s->js, 0, sizeof s->js);
    if (lx_engine_snap_begin(n->engine, buf, cap, &s->js.len) != LX_OK) {
        free(s->buf_own);
        return;
    }
    /* With settlement, a snapshot without its section would not do for a
     * restart (nor let compaction go past it): none then. */
    if (n->settle && lx__settle_snapshot(n, &s->js.settle, &s->js.settle_len, &s->js.files_from,
                                         &s->js.files_to) != LX_OK) {
        lx_engine_snap_abort(n->engine);
        free(s->buf_own);
        return;
    }
    s->js.meta.seq = n->seq;
    s->js.meta.next_index = n->next_index;
    memcpy(s->js.meta.state_hash, n->hash, LX_STATE_HASH_LEN);
    s->snapping = 1;
    s->begun_us = t0;
    s->main_us = lx_now_us() - t0;
    s->cpu_us = lx_thread_cpu_us() - c0;
    s->steps = 0;
}

/* The engine has written the snapshot in progress: the journal thread
 * writes it once the journal is synced to its block. */
static void hand_over(lx__node *n)
{
    lx__ss *s = n->ss;
    s->snapping = 0;
    if (s->buf_own) {
        s->js.engine = s->buf_own;
    } else {
        s->js.engine = n->snap_buf;
        atomic_store_explicit(&n->snap_lent, 1, memory_order_relaxed);
        s->js.lent = &n->snap_lent;
        s->js.cap = n->snap_cap;
    }
    char sec[64] = "";
    if (s->js.settle)
        snprintf(sec, sizeof sec, " and a %zu-byte settlement section", s->js.settle_len);
    lx__log(n,
            "snapshot at seq %" PRIu64 ": %zu bytes%s written in %u steps over %" PRIu64
            " us, %" PRIu64 " us of them on the main thread (%" PRIu64 " us of CPU)",
            s->js.meta.seq, s->js.len, sec, s->steps, lx_now_us() - s->begun_us, s->main_us,
            s->cpu_us);
    taken t;
    t.seq = s->js.meta.seq;
    memcpy(t.hash, s->js.meta.state_hash, LX_STATE_HASH_LEN);
    if (lx__jw_snapshot(n->jw, &s->js) != LX_OK)
        return;
    n->last_snapshot_seq = t.seq;
    s->snaps[s->next_snap++ % TAKEN_MAX] = t;
}

/* Writes the next `orders` orders' worth of the snapshot in progress
 * (SIZE_MAX: all of it), timed; true once it is complete. */
static int step(lx__node *n, size_t orders)
{
    lx__ss *s = n->ss;
    uint64_t t0 = lx_now_us(), c0 = lx_thread_cpu_us();
    int done = lx_engine_snap_step(n->engine, orders);
    s->main_us += lx_now_us() - t0;
    s->cpu_us += lx_thread_cpu_us() - c0;
    s->steps++;
    return done;
}

void lx__ss_snapshot(lx__node *n)
{
    if (!n->ss)
        return;
    if (n->ss->snapping && step(n, SIZE_MAX))
        hand_over(n);
    begin(n);
}

int lx__ss_snapping(const lx__node *n)
{
    return n->ss && n->ss->snapping;
}

void lx__ss_snap_step(lx__node *n)
{
    if (n->ss && n->ss->snapping && step(n, SNAP_STEP_ORDERS))
        hand_over(n);
}

/* A snapshot of the state as it is now, or the one in progress, written
 * at once. */
static void snapshot_now(lx__node *n)
{
    if (!n->ss->snapping)
        begin(n);
    if (n->ss->snapping && step(n, SIZE_MAX))
        hand_over(n);
}

/* The hash this node announced for seq, or NULL if it no longer knows it. */
static const uint8_t *own_hash(const lx__node *n, uint64_t seq)
{
    for (unsigned i = 0; i < TAKEN_MAX; i++)
        if (n->ss->snaps[i].seq == seq)
            return n->ss->snaps[i].hash;
    return lx__hash_ring_get(&n->own_hashes, seq);
}

static const char *peer_name(const lx__node *n, int slot)
{
    return slot >= 0 && n->peer_id[slot][0] ? n->peer_id[slot] : "a peer";
}

static void serve(lx__node *n, const lx__peer_msg *m, int slot)
{
    if (slot < 0)
        return; /* no link to it yet; it asks again */
    int taken_any = 0;
    for (unsigned i = 0; i < TAKEN_MAX; i++)
        taken_any |= n->ss->snaps[i].seq != 0;
    /* Only a snapshot this run took (or whose seq is still in the hash
     * ring) goes out with the hash the node announced for it: take one now
     * if there is none, and the journal thread reads it back after it. */
    if (m->u.snap_req.seq == 0 && !taken_any)
        snapshot_now(n);
    lx__jw_snap_read(n->jw, (uint32_t)slot, m->u.snap_req.seq, m->u.snap_req.offset);
}

/* A SNAP_PART the journal thread built: stamp this node's hash for its seq
 * and send it. */
static void send_part(lx__node *n, const uint8_t *p, size_t len)
{
    if (len < 5)
        return;
    int slot = (int)lx__get_u32(p);
    lx__peer_msg m;
    if (lx__peer_decode(&m, p + 4, len - 4) != LX_OK)
        return;
    const uint8_t *h = m.u.snap_part.seq ? own_hash(n, m.u.snap_part.seq) : NULL;
    if (h) {
        m.u.snap_part.announced = 1;
        m.u.snap_part.announced_hash = h;
    }
    size_t w;
    if (lx__peer_encode(n->scratch3, LX__PEER_MSG_MAX, &w, &m) != LX_OK)
        return;
    if (lx__send_peer(n, slot, n->scratch3, w) != LX_OK)
        return;
    if (m.u.snap_part.seq == 0)
        lx__log(n, "state sync: %s asked for a snapshot; there is none", peer_name(n, slot));
    else if (m.u.snap_part.offset == 0)
        lx__log(n,
                "state sync: serving the snapshot at seq %" PRIu64 " (%" PRIu64 " bytes) to %s%s",
                m.u.snap_part.seq, m.u.snap_part.total, peer_name(n, slot),
                h ? "" : " (its hash is no longer known here)");
}

void lx__ss_journal(lx__node *n, const uint8_t *p, size_t len)
{
    if (len < 1 || !n->ss)
        return;
    if (p[0] == 'N') {
        send_part(n, p + 1, len - 1);
        return;
    }
    if (p[0] != 'C' || len != 1 + 8 + 8 + 8 + 4)
        return;
    lx_err rc = (lx_err)lx__get_u32(p + 25);
    if (rc != LX_OK)
        lx__log(n, "journal compaction behind seq %" PRIu64 " failed: %s", lx__get_u64(p + 1),
                lx_strerror(rc));
    else
        lx__log(n,
                "compacted the journal behind seq %" PRIu64 ": %" PRIu64
                " segments removed, it starts at block %" PRIu64,
                lx__get_u64(p + 1), lx__get_u64(p + 9), lx__get_u64(p + 17));
}

/* ---- fetching one ---- */

static void send_req(lx__node *n, lx__ss *s, uint64_t seq, uint64_t offset)
{
    lx__peer_msg m;
    memset(&m, 0, sizeof m);
    m.type = LX__P_SNAP_REQ;
    snprintf(m.from, sizeof m.from, "%s", n->cfg.node_id);
    memcpy(m.cluster, n->cfg.cluster_tag, LX__CLUSTER_TAG_LEN);
    m.u.snap_req.seq = seq;
    m.u.snap_req.offset = offset;
    uint8_t buf[128];
    size_t w;
    s->last_us = lx_now_us();
    if (lx__peer_encode(buf, sizeof buf, &w, &m) == LX_OK)
        lx__send_peer(n, s->slot, buf, w); /* lost: the timeout starts over */
}

static void give_up(lx__node *n, lx__ss *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void give_up(lx__node *n, lx__ss *s, const char *fmt, ...)
{
    char why[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    lx__log(n, "state sync: %s; trying again later", why);
    free(s->buf);
    s->buf = NULL;
    s->active = 0;
    s->retry_us = lx_now_us() + RETRY_US;
}

static void start(lx__node *n, int slot, uint64_t first_held)
{
    lx__ss *s = n->ss;
    if (!s || n->is_leader || slot < 0 || s->active || s->installed || lx_now_us() < s->retry_us)
        return;
    free(s->buf);
    s->buf = NULL;
    s->seq = s->next_index = s->total = s->got = s->settle_len = 0;
    s->crc = s->parts = 0;
    s->announced = 0;
    s->active = 1;
    s->slot = slot;
    if (first_held)
        lx__log(n,
                "state sync: requesting a snapshot from %s (seq here %" PRIu64
                ", its journal starts at block %" PRIu64 ")",
                peer_name(n, slot), n->seq, first_held);
    else
        lx__log(n,
                "state sync: requesting a snapshot from %s (seq here %" PRIu64
                ", its journal no longer holds block %" PRIu64 ")",
                peer_name(n, slot), n->seq, n->seq + 1);
    send_req(n, s, 0, 0);
}

void lx__ss_gap_resp(lx__node *n, const lx__peer_msg *m, int slot)
{
    /* The sender serves from the block after ours unless it compacted it
     * away: then its answer starts later, or is empty although it is
     * ahead (it holds nothing before what we asked for's end). */
    size_t off = 0;
    const uint8_t *p;
    size_t len;
    lx_block_hdr h;
    if (lx__peer_list_next(m->u.gap_resp.list, m->u.gap_resp.list_len, &off, &p, &len)) {
        if (lx_block_peek(&h, p, len) == LX_OK && h.seq > n->seq + 1)
            start(n, slot, h.seq);
    } else if (m->u.gap_resp.leader_last > n->seq) {
        start(n, slot, 0);
    }
}

/* Checks the reassembled snapshot: its checksum; that the engine restores
 * from it and snapshots back to the same bytes; that its state hash is the
 * one the serving node announced for its seq, and the one the leader
 * announced if this node saw that; with settlement, that it has a
 * settlement section that checks out against this node's channel (the state
 * hash does not cover that section: docs/multi-node.md). NULL if sound, else
 * why not. */
static const char *verify(lx__node *n, lx__ss *s, char *why, size_t cap)
{
    if (lx__crc32c(0, s->buf, (size_t)s->total) != s->crc)
        return "the checksum of the snapshot bytes does not match";
    size_t elen = (size_t)(s->total - s->settle_len);
    if (n->settle && s->settle_len == 0)
        return "it has no settlement section (the serving node does not settle?)";
    lx_engine *e = NULL;
    lx_err rc = lx_engine_restore(&e, s->buf, elen);
    if (rc != LX_OK) {
        snprintf(why, cap, "the engine does not restore from it: %s", lx_strerror(rc));
        return why;
    }
    uint8_t *again = NULL;
    size_t alen = 0;
    rc = lx_engine_snapshot(e, &again, &alen);
    int same = rc == LX_OK && alen == elen && memcmp(again, s->buf, alen) == 0;
    free(again);
    char sw[200] = "";
    if (same && n->settle)
        rc = lx__settle_check_section(n->settle, s->buf + elen, (size_t)s->settle_len, s->seq, e,
                                      sw, sizeof sw);
    lx_engine_free(&e);
    if (!same)
        return "the restored engine does not snapshot back to the same bytes";
    if (n->settle && rc != LX_OK) {
        snprintf(why, cap, "its settlement section: %s", sw[0] ? sw : lx_strerror(rc));
        return why;
    }
    if (!s->announced)
        return "the serving node no longer knows the hash it announced for that seq";
    if (memcmp(s->announced_hash, s->state_hash, LX_STATE_HASH_LEN) != 0)
        return "its state hash is not the one the serving node announced for that seq";
    const uint8_t *l = lx__hash_ring_get(&n->leader_hashes, s->seq);
    if (l && memcmp(l, s->state_hash, LX_STATE_HASH_LEN) != 0)
        return "its state hash is not the one the leader announced for that seq";
    return NULL;
}

static void install(lx__node *n, lx__ss *s)
{
    char why[160], hx[2 * LX_STATE_HASH_LEN + 1];
    lx__log(n,
            "state sync: received %" PRIu64 " bytes of the snapshot at seq %" PRIu64 " in %" PRIu32
            " parts from %s%s",
            s->total, s->seq, s->parts, peer_name(n, s->slot),
            s->settle_len ? " (with a settlement section)" : "");
    const char *bad = verify(n, s, why, sizeof why);
    if (bad) {
        give_up(n, s, "refused the snapshot at seq %" PRIu64 ": %s", s->seq, bad);
        return;
    }
    lx__hex(hx, s->state_hash, LX_STATE_HASH_LEN);
    lx__log(n, "state sync: verified the snapshot at seq %" PRIu64 ": state hash %s", s->seq, hx);
    lx_snapshot_meta meta = {s->seq, s->next_index, {0}};
    memcpy(meta.state_hash, s->state_hash, LX_STATE_HASH_LEN);
    size_t elen = (size_t)(s->total - s->settle_len);
    lx_err rc = lx_snapshot_write(n->cfg.data_dir, &meta, s->buf, elen,
                                  s->settle_len ? s->buf + elen : NULL, (size_t)s->settle_len);
    if (rc != LX_OK) {
        give_up(n, s, "cannot write the snapshot at seq %" PRIu64 ": %s", s->seq, lx_strerror(rc));
        return;
    }
    installed_total++;
    free(s->buf);
    s->buf = NULL;
    s->active = 0;
    s->installed = 1;
    lx__log(n, "state sync: installed the snapshot at seq %" PRIu64 " in %s/snapshots", s->seq,
            n->cfg.data_dir);
    /* The journal is emptied after the node closed; recovery then starts
     * from this snapshot and gap requests fetch the blocks after it. */
    snprintf(why, sizeof why, "installed snapshot at seq %" PRIu64, s->seq);
    lx__node_restart(n, 0, UINT64_MAX, why);
}

static void take_part(lx__node *n, lx__ss *s, const lx__peer_msg *m)
{
    const uint8_t *sh = m->u.snap_part.state_hash;
    if (s->seq == 0) {
        if (m->u.snap_part.seq == 0) {
            give_up(n, s, "%s has no snapshot to send", peer_name(n, s->slot));
            return;
        }
        if (m->u.snap_part.offset != 0)
            return; /* left over from an earlier attempt */
        if (m->u.snap_part.seq <= n->seq) {
            give_up(n, s, "the snapshot of %s (seq %" PRIu64 ") is not ahead of this node",
                    peer_name(n, s->slot), m->u.snap_part.seq);
            return;
        }
        s->buf = malloc((size_t)m->u.snap_part.total);
        if (!s->buf) {
            give_up(n, s, "no memory for %" PRIu64 " bytes", m->u.snap_part.total);
            return;
        }
        s->seq = m->u.snap_part.seq;
        s->next_index = m->u.snap_part.next_index;
        s->total = m->u.snap_part.total;
        s->settle_len = m->u.snap_part.settle_len;
        s->crc = m->u.snap_part.crc;
        memcpy(s->state_hash, sh, LX_STATE_HASH_LEN);
        s->announced = m->u.snap_part.announced;
        memcpy(s->announced_hash, m->u.snap_part.announced_hash, LX_STATE_HASH_LEN);
    } else if (m->u.snap_part.seq != s->seq || m->u.snap_part.total != s->total ||
               m->u.snap_part.settle_len != s->settle_len || m->u.snap_part.crc != s->crc ||
               m->u.snap_part.next_index != s->next_index ||
               memcmp(sh, s->state_hash, LX_STATE_HASH_LEN) != 0 ||
               m->u.snap_part.announced != s->announced ||
               memcmp(m->u.snap_part.announced_hash, s->announced_hash, LX_STATE_HASH_LEN) != 0) {
        give_up(n, s, "the parts from %s do not belong to one snapshot", peer_name(n, s->slot));
        return;
    }
    if (m->u.snap_part.offset != s->got)
        return; /* a duplicate: the request for s->got is out */
    memcpy(s->buf + s->got, m->u.snap_part.data, m->u.snap_part.data_len);
    s->got += m->u.snap_part.data_len;
    s->parts++;
    if (s->got < s->total)
        send_req(n, s, s->seq, s->got);
    else
        install(n, s);
}

void lx__ss_peer(lx__node *n, const lx__peer_msg *m, int slot)
{
    if (!n->ss)
        return;
    if (m->type == LX__P_SNAP_REQ)
        serve(n, m, slot);
    else if (m->type == LX__P_SNAP_PART && n->ss->active && slot == n->ss->slot)
        take_part(n, n->ss, m);
}

void lx__ss_tick(lx__node *n, uint64_t now_us)
{
    lx__ss *s = n->ss;
    if (s && s->active && now_us - s->last_us > PART_TIMEOUT_US)
        give_up(n, s, "no answer from %s for %u s", peer_name(n, s->slot),
                PART_TIMEOUT_US / 1000000u);
}
