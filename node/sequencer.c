/* The leader's sequencer: takes validated requests (local or forwarded),
 * batches them into blocks, hands each block to the journal writer, and once
 * a block is durable applies it, publishes it and sends every reply (ACK,
 * REJECT, BATCH_RESULT, FILL, CANCELLED, REPLACED, and unsolicited fills and
 * cancels to the owners of resting orders). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "logio.h"
#include "node_int.h"

/* ---- owners: order id -> who placed it ---- */

static size_t slot_of(uint64_t id, size_t cap)
{
    uint64_t h = id * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 20) & (cap - 1);
}

static size_t origin_hash(const lx__origin *o, size_t cap)
{
    uint64_t h = 1469598103934665603ull ^ (uint64_t)(uint32_t)o->slot;
    for (size_t i = 0; i < o->rid_len; i++)
        h = (h ^ o->rid[i]) * 1099511628211ull;
    return (size_t)(h ^ (h >> 29)) & (cap - 1);
}

static int origin_eq(const lx__origin *a, const lx__origin *b)
{
    return a->slot == b->slot && a->bundle == b->bundle && a->rid_len == b->rid_len &&
           memcmp(a->rid, b->rid, a->rid_len) == 0;
}

static int oidx_grow(lx__owners *o)
{
    size_t cap = o->oidx_cap ? o->oidx_cap * 2 : 64;
    uint32_t *v = calloc(cap, sizeof *v);
    if (!v)
        return 0;
    for (size_t i = 0; i < o->oidx_cap; i++) {
        if (!o->oidx[i])
            continue;
        size_t k = origin_hash(&o->orig[o->oidx[i] - 1].o, cap);
        while (v[k])
            k = (k + 1) & (cap - 1);
        v[k] = o->oidx[i];
    }
    free(o->oidx);
    o->oidx = v;
    o->oidx_cap = cap;
    return 1;
}

/* The slot of origin `from`, created with no references if new; UINT32_MAX
 * when memory runs out. */
static uint32_t origin_intern(lx__owners *o, const lx__origin *from)
{
    /* Consecutive requests mostly come from the same client. */
    if (o->last && o->orig[o->last - 1].o.rid_len && origin_eq(&o->orig[o->last - 1].o, from))
        return o->last - 1;
    if ((o->nlive + 1) * 2 > o->oidx_cap && !oidx_grow(o))
        return UINT32_MAX;
    size_t k = origin_hash(from, o->oidx_cap);
    while (o->oidx[k]) {
        if (origin_eq(&o->orig[o->oidx[k] - 1].o, from)) {
            o->last = o->oidx[k];
            return o->oidx[k] - 1;
        }
        k = (k + 1) & (o->oidx_cap - 1);
    }
    uint32_t s;
    if (o->nfree) {
        s = o->orig_free[--o->nfree];
    } else {
        if (o->norig == o->orig_cap) {
            uint32_t cap = o->orig_cap ? o->orig_cap * 2 : 16;
            lx__origin_slot *v = realloc(o->orig, (size_t)cap * sizeof *v);
            if (!v)
                return UINT32_MAX;
            o->orig = v;
            uint32_t *f = realloc(o->orig_free, (size_t)cap * sizeof *f);
            if (!f)
                return UINT32_MAX;
            o->orig_free = f;
            o->orig_cap = cap;
        }
        s = o->norig++;
    }
    memset(&o->orig[s], 0, sizeof o->orig[s]);
    o->orig[s].o = *from;
    o->orig[s].o.token = 0;
    o->oidx[k] = s + 1;
    o->nlive++;
    o->last = s + 1;
    return s;
}

/* Removes an unreferenced origin from the index and frees its slot. */
static void origin_release(lx__owners *o, uint32_t s)
{
    size_t k = origin_hash(&o->orig[s].o, o->oidx_cap);
    while (o->oidx[k] != s + 1)
        k = (k + 1) & (o->oidx_cap - 1);
    /* Backward-shift deletion keeps every probe chain unbroken. */
    size_t hole = k;
    for (size_t j = (k + 1) & (o->oidx_cap - 1); o->oidx[j]; j = (j + 1) & (o->oidx_cap - 1)) {
        size_t home = origin_hash(&o->orig[o->oidx[j] - 1].o, o->oidx_cap);
        if (((j - home) & (o->oidx_cap - 1)) >= ((j - hole) & (o->oidx_cap - 1))) {
            o->oidx[hole] = o->oidx[j];
            hole = j;
        }
    }
    o->oidx[hole] = 0;
    o->nlive--;
    o->orig_free[o->nfree++] = s;
    if (o->last == s + 1)
        o->last = 0;
}

/* Drops one reference; the last one frees the slot, unless unsolicited
 * frames are gathered for it (then the flush frees it). */
static void origin_unref(lx__owners *o, uint32_t s)
{
    if (--o->orig[s].refs == 0 && !o->orig[s].pending)
        origin_release(o, s);
}

/* The first allocation is the whole table (LX__OWNERS_MAX entries at a
 * load of at most 3/4, 48 MiB of address space that the kernel fills in as
 * it is touched): growing a table of a million entries by rehashing would
 * stall the leader for tens of milliseconds. */
#define OWNERS_CAP ((size_t)1 << 21)
_Static_assert(LX__OWNERS_MAX * 2 <= OWNERS_CAP, "owners table must hold LX__OWNERS_MAX");

/* The table's memory, zeroed (lx__big_alloc: lookups land anywhere in it,
 * and with 4 KiB pages nearly every one also missed the TLB). */
static lx__owner *owners_alloc(size_t cap)
{
    return lx__big_alloc(cap * sizeof(lx__owner));
}

static void owners_unmap(lx__owner *v, size_t cap)
{
    lx__big_free(v, cap * sizeof *v);
}

static int owners_grow(lx__owners *o)
{
    size_t cap = o->cap ? o->cap * 2 : OWNERS_CAP;
    lx__owner *v = owners_alloc(cap);
    if (!v)
        return 0;
    for (size_t i = 0; i < o->cap; i++) {
        if (!o->v[i].id)
            continue;
        size_t k = slot_of(o->v[i].id, cap);
        while (v[k].id)
            k = (k + 1) & (cap - 1);
        v[k] = o->v[i];
    }
    owners_unmap(o->v, o->cap);
    o->v = v;
    o->cap = cap;
    return 1;
}

void lx__owners_put(lx__owners *o, uint64_t id, uint64_t req_id, const lx__origin *from)
{
    if (id == 0)
        return;
    if ((o->n + 1) * 2 > o->cap) { /* at most half full: short probes */
        if (o->n >= LX__OWNERS_MAX || !owners_grow(o))
            return; /* full: this order gets no unsolicited replies */
    }
    uint32_t s = origin_intern(o, from);
    if (s == UINT32_MAX)
        return;
    o->orig[s].refs++;
    size_t k = slot_of(id, o->cap);
    while (o->v[k].id && o->v[k].id != id)
        k = (k + 1) & (o->cap - 1);
    if (!o->v[k].id)
        o->n++;
    else
        origin_unref(o, o->v[k].origin);
    o->v[k].id = id;
    o->v[k].req_id = req_id;
    o->v[k].origin = s;
}

const lx__owner *lx__owners_get(const lx__owners *o, uint64_t id)
{
    if (!o->cap || id == 0)
        return NULL;
    size_t k = slot_of(id, o->cap);
    while (o->v[k].id) {
        if (o->v[k].id == id)
            return &o->v[k];
        k = (k + 1) & (o->cap - 1);
    }
    return NULL;
}

const lx__origin *lx__owners_origin(const lx__owners *o, const lx__owner *w)
{
    return &o->orig[w->origin].o;
}

void lx__owners_del(lx__owners *o, uint64_t id)
{
    if (!o->cap || id == 0)
        return;
    size_t k = slot_of(id, o->cap);
    while (o->v[k].id && o->v[k].id != id)
        k = (k + 1) & (o->cap - 1);
    if (!o->v[k].id)
        return;
    origin_unref(o, o->v[k].origin);
    size_t hole = k;
    for (size_t j = (k + 1) & (o->cap - 1); o->v[j].id; j = (j + 1) & (o->cap - 1)) {
        size_t home = slot_of(o->v[j].id, o->cap);
        if (((j - home) & (o->cap - 1)) >= ((j - hole) & (o->cap - 1))) {
            o->v[hole] = o->v[j];
            hole = j;
        }
    }
    memset(&o->v[hole], 0, sizeof o->v[hole]);
    o->n--;
}

size_t lx__owners_origins(const lx__owners *o)
{
    return o->nlive;
}

void lx__owners_free(lx__owners *o)
{
    owners_unmap(o->v, o->cap);
    free(o->orig);
    free(o->orig_free);
    free(o->oidx);
    memset(o, 0, sizeof *o);
}

/* ---- setup ---- */

lx_err lx__seq_init(lx__node *n)
{
    lx_err rc = lx__batcher_init(&n->batch, n->cfg.block_max_orders, n->cfg.block_max_us,
                                 n->cfg.block_min_us);
    if (rc != LX_OK)
        return rc;
    n->cut_seq = n->seq;
    n->cut_index = n->next_index;
    n->synced_seq = n->seq;
    n->published_seq = n->seq;
    n->commit_seq = n->seq;
    /* The owner table at its working size, its pages touched now rather
     * than one page fault at a time under the first load. */
    if (!n->owners.cap && owners_grow(&n->owners))
        memset(n->owners.v, 0, n->owners.cap * sizeof *n->owners.v);
    n->term_first_seq = n->seq + 1;
    if (n->seq > 0) {
        /* A new term starts with a block of its own (no entries): once a
         * majority holds it, everything before it is acknowledged too. */
        lx__req r;
        memset(&r, 0, sizeof r);
        r.from.slot = LX__LOCAL;
        if ((rc = lx__batcher_add(&n->batch, &r, NULL, 0, lx_now_us())) != LX_OK)
            return rc;
        lx__seq_tick(n, lx_now_us(), 1);
    } else {
        /* An empty log: block 1 holds the markets, so every replica's log
         * is self-contained. */
        lx_entry ents[LX__MARKETS_MAX];
        for (size_t i = 0; i < n->cfg.nmarkets; i++) {
            memset(&ents[i], 0, sizeof ents[i]);
            ents[i].is_market = 1;
            ents[i].market = n->cfg.markets[i];
        }
        lx__req r;
        memset(&r, 0, sizeof r);
        r.from.slot = LX__LOCAL;
        if ((rc = lx__batcher_add(&n->batch, &r, ents, (uint32_t)n->cfg.nmarkets, lx_now_us())) !=
            LX_OK)
            return rc;
        lx__seq_tick(n, lx_now_us(), 1);
    }
    return LX_OK;
}

void lx__seq_abandon(lx__node *n)
{
    lx__batcher *b = &n->batch;
    for (uint32_t i = 0; i < b->nreq; i++)
        if (b->reqs[i].type)
            lx__reply_error(n, &b->reqs[i].from, b->reqs[i].req_id, LX_PROTO_E_NOT_LEADER,
                            "not the leader any more; not sequenced, send it again");
    lx__batcher_clear(b);
    for (uint32_t k = 0; k < n->inflight_n; k++) {
        const lx__inflight *f = &n->inflight[(n->inflight_head + k) % LX__INFLIGHT_MAX];
        for (uint32_t i = 0; i < f->nreq; i++)
            if (f->reqs[i].type)
                lx__reply_error(n, &f->reqs[i].from, f->reqs[i].req_id, LX_PROTO_E_OUTCOME_UNKNOWN,
                                "leadership lost before this was acknowledged: it may or may "
                                "not be in the log; QUERY_ORDER tells");
    }
}

void lx__seq_free(lx__node *n)
{
    while (n->inflight_n) {
        lx__inflight *f = &n->inflight[n->inflight_head];
        free(f->bytes);
        free(f->reqs);
        n->inflight_head = (n->inflight_head + 1) % LX__INFLIGHT_MAX;
        n->inflight_n--;
    }
    lx__batcher_free(&n->batch);
    lx__owners_free(&n->owners);
    if (n->unsol)
        for (uint32_t i = 0; i < LX__UNSOL_MAX; i++)
            free(n->unsol[i].buf);
    free(n->unsol);
    n->unsol = NULL;
    n->nunsol = 0;
}

int lx__seq_busy(const lx__node *n)
{
    return n->inflight_n >= LX__INFLIGHT_MAX && n->batch.nreq > 0;
}

/* Under load this makes blocks bigger rather than more: about one block per
 * sync and quorum round trip, not one per loop turn. */
int lx__seq_pipeline_idle(const lx__node *n)
{
    return n->cut_seq == n->synced_seq && n->cut_seq <= n->commit_seq;
}

uint64_t lx__seq_deadline(const lx__node *n)
{
    if (lx__seq_commit_ready(n))
        return 0;
    if (n->batch.nreq && lx__seq_pipeline_idle(n) && n->inflight_n < LX__INFLIGHT_MAX)
        return lx__batcher_idle_deadline(&n->batch);
    return lx__batcher_deadline(&n->batch);
}

int lx__seq_commit_ready(const lx__node *n)
{
    return n->inflight_n && n->inflight[n->inflight_head].seq <= n->commit_seq &&
           n->inflight[n->inflight_head].seq <= n->synced_seq;
}

int lx__seq_idle(const lx__node *n)
{
    return n->batch.nreq == 0 && n->inflight_n == 0;
}

/* ---- cutting ---- */

static int cut(lx__node *n)
{
    lx__batcher *b = &n->batch;
    /* A leader that saw a newer term (restart set) holds that term number
     * but does not lead it: it must never cut a block in it. */
    if (b->nreq == 0 || n->inflight_n >= LX__INFLIGHT_MAX || n->journal_failed || n->restart ||
        !n->is_leader)
        return 0;
    lx_block_hdr h = {.seq = n->cut_seq + 1,
                      .term = n->term,
                      .timestamp_us = lx_wall_us(),
                      .first_index = n->cut_index,
                      .count = b->n};
    size_t need = lx_block_encoded_len(b->entries, b->n);
    if (b->n == 0)
        need = LX_BLOCK_HDR_LEN;
    uint8_t *bytes = malloc(need ? need : 1);
    lx__req *reqs = malloc((size_t)b->nreq * sizeof *reqs);
    size_t len = 0;
    lx_err rc = (!bytes || !reqs || need == 0)
                    ? LX_ENOMEM
                    : lx_block_encode(bytes, need, &len, &h, b->entries, b->n);
    /* The inflight entry owns the bytes until the block is synced and
     * applied, so the writer thread reads them in place. */
    if (rc == LX_OK)
        rc = lx__journal_append(n, bytes, len, 1);
    if (rc != LX_OK) {
        /* Every entry was checked on the way in, so this is a failure of
         * the node itself: nothing was logged, say so to each client. */
        lx__log(n, "cannot cut block %" PRIu64 ": %s", h.seq, lx_strerror(rc));
        for (uint32_t i = 0; i < b->nreq; i++)
            if (b->reqs[i].type)
                lx__reply_error(n, &b->reqs[i].from, b->reqs[i].req_id, LX_PROTO_E_INTERNAL,
                                "block could not be logged");
        free(bytes);
        free(reqs);
        lx__batcher_clear(b);
        return 0;
    }
    memcpy(reqs, b->reqs, (size_t)b->nreq * sizeof *reqs);
    lx__terms_note(&n->terms, n->term, h.seq);
    uint32_t tail = (n->inflight_head + n->inflight_n) % LX__INFLIGHT_MAX;
    uint64_t now = lx_now_us();
    n->inflight[tail] = (lx__inflight){h.seq, bytes, len, reqs, b->nreq, now};
    n->inflight_n++;
    n->m.blocks++;
    n->m.block_entries += b->n;
    n->cut_seq = h.seq;
    n->cut_index += b->n;
    lx__batcher_taken(b, now);
    return 1;
}

void lx__seq_tick(lx__node *n, uint64_t now_us, int force)
{
    if (lx__seq_commit_ready(n))
        lx__seq_commit(n);
    if (n->batch.nreq &&
        (force || lx__batcher_should_cut(&n->batch, now_us, lx__seq_pipeline_idle(n))))
        cut(n);
}

/* ---- intake ---- */

void lx__seq_submit(lx__node *n, const lx__origin *o, const lx_proto_msg *m, uint64_t recv_us)
{
    static lx_entry ents[LX_PROTO_BATCH_MAX];
    uint32_t count = 0;
    uint64_t req_id = m->hdr.req_id;
    switch (m->hdr.type) {
    case LX_PROTO_NEW_ORDER:
        ents[0] = (lx_entry){0};
        ents[0].cmd.type = LX_CMD_ORDER;
        ents[0].cmd.u.order = m->u.order;
        count = 1;
        break;
    case LX_PROTO_NEW_ORDER_BATCH:
        for (uint32_t i = 0; i < m->u.batch.count; i++) {
            ents[i] = (lx_entry){0};
            ents[i].cmd.type = LX_CMD_ORDER;
            if (lx_proto_batch_get(m, &ents[i].cmd.u.order, i) != LX_OK) {
                lx__reply_error(n, o, req_id, LX_PROTO_E_MALFORMED, "bad batch entry");
                return;
            }
        }
        count = m->u.batch.count;
        break;
    case LX_PROTO_CANCEL:
        ents[0] = (lx_entry){0};
        ents[0].cmd.type = LX_CMD_CANCEL;
        ents[0].cmd.u.cancel = m->u.cancel;
        count = 1;
        break;
    case LX_PROTO_CANCEL_BATCH:
        for (uint32_t i = 0; i < m->u.batch.count; i++) {
            ents[i] = (lx_entry){0};
            ents[i].cmd.type = LX_CMD_CANCEL;
            if (lx_proto_cancel_batch_get(m, &ents[i].cmd.u.cancel, i) != LX_OK) {
                lx__reply_error(n, o, req_id, LX_PROTO_E_MALFORMED, "bad batch entry");
                return;
            }
        }
        count = m->u.batch.count;
        break;
    case LX_PROTO_REPLACE:
        ents[0] = (lx_entry){0};
        ents[0].cmd.type = LX_CMD_REPLACE;
        ents[0].cmd.u.replace = m->u.replace;
        count = 1;
        break;
    case LX_PROTO_DEPOSIT:
        if (!n->cfg.dev_faucet) {
            lx__reply_error(n, o, req_id, LX_PROTO_E_FAUCET_DISABLED,
                            "deposits need a node started with --dev-faucet");
            return;
        }
        ents[0] = (lx_entry){0};
        ents[0].cmd.type = LX_CMD_DEPOSIT;
        ents[0].cmd.u.transfer.account = m->u.transfer.account;
        ents[0].cmd.u.transfer.amount = m->u.transfer.amount;
        memcpy(ents[0].cmd.u.transfer.asset, m->u.transfer.asset, LX_SYMBOL_MAX);
        count = 1;
        break;
    case LX_PROTO_WITHDRAW: {
        /* Paid out by the next settlement (settle.c); unavailable without. */
        char why[LX_PROTO_TEXT_MAX + 1];
        lx_err wrc = lx__settle_withdraw_entry(n, &ents[0], &m->u.transfer, why, sizeof why);
        if (wrc != LX_OK) {
            lx__reply_error(n, o, req_id,
                            wrc == LX_ETOOBIG  ? LX_PROTO_E_OVERLOADED
                            : wrc == LX_EINVAL ? LX_PROTO_E_MALFORMED
                                               : LX_PROTO_E_UNAVAILABLE,
                            why);
            return;
        }
        count = 1;
        break;
    }
    default:
        lx__reply_error(n, o, req_id, LX_PROTO_E_UNKNOWN_TYPE, "not a sequenced request");
        return;
    }
    if (n->journal_failed) {
        lx__reply_error(n, o, req_id, LX_PROTO_E_UNAVAILABLE, "the leader's journal failed");
        return;
    }
    /* Nothing unencodable may enter a block: one bad entry would make the
     * whole block unloggable. */
    for (uint32_t i = 0; i < count; i++) {
        uint8_t tmp[LX_ENTRY_ENC_MAX];
        if (lx_entry_encode(tmp, sizeof tmp, &ents[i]) == 0) {
            lx__reply_error(n, o, req_id, LX_PROTO_E_MALFORMED, "a field is out of range");
            return;
        }
    }
    uint64_t now = lx_now_us();
    if (!lx__batcher_fits(&n->batch, count))
        cut(n);
    if (!lx__batcher_fits(&n->batch, count)) {
        n->m.overloaded++;
        lx__reply_error(n, o, req_id, LX_PROTO_E_OVERLOADED, "sequencer queue full, retry");
        return;
    }
    lx__req r;
    memset(&r, 0, sizeof r);
    r.from = *o;
    r.type = m->hdr.type;
    r.req_id = req_id;
    r.recv_us = recv_us;
    if (lx__batcher_add(&n->batch, &r, ents, count, now) != LX_OK) {
        lx__reply_error(n, o, req_id, LX_PROTO_E_INTERNAL, "out of memory");
        return;
    }
    if (m->hdr.type == LX_PROTO_WITHDRAW)
        lx__settle_admitted(n);
    if (lx__batcher_due(&n->batch, now))
        cut(n);
}

/* ---- replies ---- */

/* Builds the reply frames of one request: every frame but the last gets
 * MORE, and full chunks are sent as they fill. */
typedef struct rb {
    lx__node *n;
    const lx__origin *o;
    uint8_t *buf;
    size_t off;
    size_t lens[LX__RESULT_FRAMES_MAX];
    size_t count;
    int sent_any;
    uint64_t req_id;
} rb;

#define RB_BYTES (LX__PEER_MSG_MAX / 2)

static void rb_flush(rb *r, int last)
{
    if (r->count == 0)
        return;
    lx__reply_frames(r->n, r->o, r->buf, r->lens, r->count, last);
    r->off = 0;
    r->count = 0;
    r->sent_any = 1;
}

static void set_more(uint8_t *frame)
{
    frame[5] |= (uint8_t)LX_PROTO_F_MORE;
}

/* Makes room for one more frame: a full chunk goes out first, its last
 * frame marked MORE because this one follows. */
static void rb_room(rb *r)
{
    if (r->count < LX__RESULT_FRAMES_MAX && r->off + LX_PROTO_FRAME_MAX <= RB_BYTES)
        return;
    set_more(r->buf + r->off - r->lens[r->count - 1]);
    lx__reply_frames(r->n, r->o, r->buf, r->lens, r->count, 0);
    r->off = 0;
    r->count = 0;
    r->sent_any = 1;
}

/* Adds the frame encoded at r->buf + r->off (len bytes). */
static void rb_commit(rb *r, size_t len)
{
    if (r->count > 0)
        set_more(r->buf + r->off - r->lens[r->count - 1]);
    r->lens[r->count++] = len;
    r->off += len;
}

static void rb_msg(rb *r, lx_proto_msg *m)
{
    size_t w;
    rb_room(r);
    m->hdr.req_id = r->req_id;
    if (lx_proto_encode(r->buf + r->off, RB_BYTES - r->off, &w, m) == LX_OK)
        rb_commit(r, w);
}

static void unsol_flush(lx__node *n, lx__unsol *u)
{
    if (u->count)
        lx__reply_frames(n, &n->owners.orig[u->origin].o, u->buf, u->lens, u->count, 1);
    u->count = 0;
    u->off = 0;
}

/* Sends every gathered unsolicited batch (at the end of a block). */
static void unsol_flush_all(lx__node *n)
{
    for (uint32_t i = 0; i < n->nunsol; i++) {
        lx__unsol *u = &n->unsol[i];
        unsol_flush(n, u);
        n->owners.orig[u->origin].pending = 0;
        if (n->owners.orig[u->origin].refs == 0)
            origin_release(&n->owners, u->origin);
    }
    n->nunsol = 0;
}

/* The gathering batch of a follower's client, or NULL to send at once. */
static lx__unsol *unsol_for(lx__node *n, uint32_t origin)
{
    lx__origin_slot *os = &n->owners.orig[origin];
    if (os->pending)
        return &n->unsol[os->pending - 1];
    if (!n->unsol && !(n->unsol = calloc(LX__UNSOL_MAX, sizeof *n->unsol)))
        return NULL;
    if (n->nunsol == LX__UNSOL_MAX)
        return NULL;
    lx__unsol *u = &n->unsol[n->nunsol];
    if (!u->buf && !(u->buf = malloc((size_t)LX__RESULT_FRAMES_MAX * LX__UNSOL_FRAME_MAX)))
        return NULL;
    u->origin = origin;
    u->count = 0;
    u->off = 0;
    os->pending = ++n->nunsol;
    return u;
}

static void unsolicited(lx__node *n, const lx__owner *ow, lx_proto_msg *m)
{
    uint8_t frame[LX__UNSOL_FRAME_MAX];
    size_t w;
    m->hdr.flags = LX_PROTO_F_UNSOLICITED;
    m->hdr.req_id = ow->req_id;
    if (lx_proto_encode(frame, sizeof frame, &w, m) != LX_OK)
        return;
    const lx__origin *o = lx__owners_origin(&n->owners, ow);
    lx__unsol *u = o->slot == LX__LOCAL && !o->bundle ? NULL : unsol_for(n, ow->origin);
    if (!u) {
        lx__reply_frames(n, o, frame, &w, 1, 1);
        return;
    }
    /* Gathered per client and block: a client that takes bundles gets one
     * message, and a follower's client one RESULT where there were many
     * peer messages (the follower relays each frame unless bundled). */
    memcpy(u->buf + u->off, frame, w);
    u->off += w;
    u->lens[u->count++] = w;
    if (u->count == LX__RESULT_FRAMES_MAX)
        unsol_flush(n, u);
}

static void fill_msg(lx_proto_msg *m, uint64_t seq, const lx_event *ev, uint8_t role)
{
    memset(m, 0, sizeof *m);
    m->hdr.type = LX_PROTO_FILL;
    m->u.fill = (lx_proto_fill){seq,
                                ev->market,
                                ev->u.fill.maker,
                                ev->id,
                                ev->u.fill.price,
                                ev->u.fill.qty,
                                ev->u.fill.maker_fee,
                                ev->u.fill.taker_fee,
                                ev->side,
                                role};
}

static void cancelled_msg(lx_proto_msg *m, uint64_t seq, const lx_event *ev)
{
    memset(m, 0, sizeof *m);
    m->hdr.type = LX_PROTO_CANCELLED;
    m->u.cancelled = (lx_proto_cancelled){seq, ev->id, ev->u.cancel.remaining, ev->reason};
}

/* The order id an entry is about (0 for transfers and markets). */
static uint64_t entry_id(const lx_entry *e)
{
    if (e->is_market)
        return 0;
    switch (e->cmd.type) {
    case LX_CMD_ORDER:
        return e->cmd.u.order.id;
    case LX_CMD_CANCEL:
        return e->cmd.u.cancel.id;
    case LX_CMD_REPLACE:
        return e->cmd.u.replace.id;
    default:
        return 0;
    }
}

/* Replies for the events [s, e) of one entry of request q. */
static void entry_replies(lx__node *n, rb *r, const lx__req *q, uint64_t seq, const lx_entry *ent,
                          const lx_event *ev, size_t s, size_t e)
{
    uint64_t own = entry_id(ent);
    /* A batch's BATCH_RESULT stands for the ACK and REJECT frames. */
    int batch = q->type == LX_PROTO_NEW_ORDER_BATCH || q->type == LX_PROTO_CANCEL_BATCH;
    lx_proto_msg m;
    for (size_t i = s; i < e; i++) {
        const lx_event *x = &ev[i];
        memset(&m, 0, sizeof m);
        switch (x->type) {
        case LX_EV_ACCEPTED:
            lx__owners_put(&n->owners, x->id, q->req_id, &q->from);
            if (!batch) {
                m.hdr.type = LX_PROTO_ACK;
                m.u.ack = (lx_proto_ack){seq, x->id};
                rb_msg(r, &m);
            }
            break;
        case LX_EV_REJECTED:
            if (!batch) {
                m.hdr.type = LX_PROTO_REJECT;
                m.u.reject = (lx_proto_reject){
                    (ent->cmd.type == LX_CMD_DEPOSIT || ent->cmd.type == LX_CMD_WITHDRAW) ? 0
                                                                                          : x->id,
                    x->reason};
                rb_msg(r, &m);
            }
            break;
        case LX_EV_FILL: {
            fill_msg(&m, seq, x, 1);
            rb_msg(r, &m);
            const lx__owner *ow = lx__owners_get(&n->owners, x->u.fill.maker);
            if (ow) {
                fill_msg(&m, seq, x, 0);
                unsolicited(n, ow, &m);
            }
            break;
        }
        case LX_EV_CANCELLED:
            cancelled_msg(&m, seq, x);
            if (x->id == own) {
                rb_msg(r, &m);
            } else {
                const lx__owner *ow = lx__owners_get(&n->owners, x->id);
                if (ow)
                    unsolicited(n, ow, &m);
            }
            break;
        case LX_EV_REPLACED:
            m.hdr.type = LX_PROTO_REPLACED;
            m.u.replaced = (lx_proto_replaced){seq, x->id, x->u.order.price, x->u.order.qty};
            rb_msg(r, &m);
            break;
        case LX_EV_BALANCE:
            m.hdr.type = LX_PROTO_ACK;
            m.u.ack = (lx_proto_ack){seq, 0};
            rb_msg(r, &m);
            break;
        default:
            break;
        }
    }
}

static void request_replies(lx__node *n, const lx__req *q, uint64_t seq, const size_t *ends)
{
    const lx_event *ev = n->evs.v;
    rb r; /* lens is filled as frames are added: no 8 KiB zeroing per request */
    r.n = n;
    r.o = &q->from;
    r.buf = n->scratch2;
    r.off = 0;
    r.count = 0;
    r.sent_any = 0;
    r.req_id = q->req_id;
    if (q->type == LX_PROTO_NEW_ORDER_BATCH || q->type == LX_PROTO_CANCEL_BATCH) {
        lx_proto_batch_item items[LX_PROTO_BATCH_MAX];
        for (uint32_t i = 0; i < q->n; i++) {
            uint32_t k = q->first + i;
            size_t s = k ? ends[k - 1] : 0;
            const lx_event *x = &ev[s];
            int ok = ends[k] > s && x->type != LX_EV_REJECTED;
            items[i] = (lx_proto_batch_item){entry_id(&n->blk.entries[k]), ok ? seq : 0,
                                             ok ? (uint8_t)LX_R_NONE : x->reason};
        }
        size_t w;
        if (lx_proto_encode_batch_result(r.buf, RB_BYTES, &w, q->req_id, 0, items, q->n) == LX_OK)
            rb_commit(&r, w);
    }
    for (uint32_t i = 0; i < q->n; i++) {
        uint32_t k = q->first + i;
        entry_replies(n, &r, q, seq, &n->blk.entries[k], ev, k ? ends[k - 1] : 0, ends[k]);
    }
    if (r.count == 0 && !r.sent_any) {
        lx__reply_error(n, &q->from, q->req_id, LX_PROTO_E_INTERNAL, "no result");
        return;
    }
    rb_flush(&r, 1);
    if (q->from.slot == LX__LOCAL) {
        uint64_t d = lx_now_us() - q->recv_us;
        lx__hist_add(&n->m.ack_total, d);
        lx__hist_add(&n->m.ack_interval, d);
    }
}

/* Starts fetching the owner slots the replies and owners_sweep will read
 * after a block (one per ACCEPTED, FILL maker and CANCELLED event): they lie
 * at random in a table of 48 MiB, so nearly each is a cache miss, and this
 * way the misses overlap instead of coming one at a time. */
static void owners_prefetch(const lx__node *n)
{
    const lx__owners *o = &n->owners;
    if (!o->cap)
        return;
    for (size_t i = 0; i < n->evs.n; i++) {
        const lx_event *x = &n->evs.v[i];
        uint64_t id = x->type == LX_EV_FILL                                     ? x->u.fill.maker
                      : x->type == LX_EV_ACCEPTED || x->type == LX_EV_CANCELLED ? x->id
                                                                                : 0;
        if (id)
            __builtin_prefetch(&o->v[slot_of(id, o->cap)]);
    }
}

/* Drops owners of orders that are no longer open after the block. */
static void owners_sweep(lx__node *n)
{
    for (size_t i = 0; i < n->evs.n; i++) {
        const lx_event *x = &n->evs.v[i];
        /* A fill's taker needs no check of its own: its ACCEPTED is in the
         * same block (an order, or a replace that lost priority). */
        uint64_t id = x->type == LX_EV_FILL        ? x->u.fill.maker
                      : x->type == LX_EV_CANCELLED ? x->id
                      : x->type == LX_EV_ACCEPTED  ? x->id
                                                   : 0;
        if (id && lx__owners_get(&n->owners, id) && !lx_engine_order_open(n->engine, id))
            lx__owners_del(&n->owners, id);
    }
}

/* Publishes the blocks that became durable in the journal and are not
 * published yet: a block goes to the followers only once the leader's own
 * copy is safe. The state hash after it is not known yet (zero; the leader
 * applies a block when it is acknowledged); heartbeats carry the hashes. */
static void publish_synced(lx__node *n)
{
    static const uint8_t unknown[LX_STATE_HASH_LEN];
    if (n->inflight_n == 0)
        return;
    /* The waiting blocks have consecutive seqs from the head's. */
    uint64_t first = n->inflight[n->inflight_head].seq;
    uint64_t seq = n->published_seq + 1 > first ? n->published_seq + 1 : first;
    for (; seq <= n->synced_seq && seq - first < n->inflight_n; seq++) {
        const lx__inflight *f = &n->inflight[(n->inflight_head + (seq - first)) % LX__INFLIGHT_MAX];
        LX_ASSERT(f->seq == seq);
        uint8_t *msg = n->scratch;
        if (LX__BLOCK_MSG_HDR + f->len <= LX__PEER_MSG_MAX) {
            lx__block_msg_header(msg, n->cfg.cluster_tag, unknown);
            memcpy(msg + LX__BLOCK_MSG_HDR, f->bytes, f->len);
            lx_zpart part = {msg, LX__BLOCK_MSG_HDR + f->len};
            if (lx_zsock_send(n->pub, &part, 1, LX_ZDONTWAIT) == LX_OK)
                n->m.msgs_out++;
        }
        n->published_seq = seq;
    }
}

void lx__seq_synced(lx__node *n, uint64_t seq)
{
    if (seq > n->synced_seq)
        n->synced_seq = seq;
    publish_synced(n);
    lx__seq_commit(n);
    /* Group commit: what queued while the sync ran is the next group. */
    lx__seq_tick(n, lx_now_us(), 0);
}

void lx__seq_commit(lx__node *n)
{
    uint64_t ready = n->synced_seq;
    if (n->cfg.ack_majority) {
        uint64_t q = lx__elect_quorum_seq(n);
        /* Blocks of earlier terms count once a block of ours is held. */
        ready = q >= n->term_first_seq ? q : n->commit_seq;
    }
    if (ready > n->commit_seq)
        n->commit_seq = ready;
    uint64_t now = lx_now_us();
    /* A few blocks a turn: the loop goes on at once while more are ready
     * (lx__seq_deadline), and heartbeats and requests are not held up by a
     * long run of acknowledgements. */
    while (n->apply_budget && lx__seq_commit_ready(n)) {
        const lx__inflight *h = &n->inflight[n->inflight_head];
        uint32_t cost = h->nreq ? h->nreq : 1; /* requests answered */
        n->apply_budget = cost < n->apply_budget ? n->apply_budget - cost : 0;
        lx__inflight *f = &n->inflight[n->inflight_head];
        lx__hist_add(&n->m.commit_total, now - f->cut_us);
        size_t *ends = NULL;
        lx_err rc = lx__apply_block(n, f->bytes, f->len, &ends);
        if (rc != LX_OK) {
            /* The engine may hold part of the block: this replica is unusable. */
            lx__log(n, "FATAL: applying block %" PRIu64 ": %s", f->seq, lx_strerror(rc));
            n->journal_failed = 1;
            *n->stop = 1;
            return;
        }
        owners_prefetch(n);
        int answered = 0;
        for (uint32_t i = 0; i < f->nreq; i++)
            if (f->reqs[i].type) {
                request_replies(n, &f->reqs[i], f->seq, ends);
                answered = 1;
            }
        if (answered && !n->first_ack_logged) {
            n->first_ack_logged = 1;
            lx__log(n,
                    "term %" PRIu64 ": first acknowledgement at unix_ms %" PRIu64 " (block %" PRIu64
                    ")",
                    n->term, lx_wall_us() / 1000, f->seq);
        }
        unsol_flush_all(n);
        owners_sweep(n);
        free(f->bytes);
        free(f->reqs);
        n->inflight_head = (n->inflight_head + 1) % LX__INFLIGHT_MAX;
        n->inflight_n--;
    }
}
