/* Settlement in the node, the log side: every node feeds the fills and
 * transfers of the blocks it applies to a batch builder, closes a batch where
 * the log says so, writes its files, and follows the chain of settlements the
 * log records; at start it gets there again from a snapshot's settlement
 * section and the journal blocks after it, or from the whole journal
 * (docs/settlement.md, "The node"). The leader's part is settle_leader.c. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "logio.h"
#include "settle_state.h"

void lx__settle_halt(lx__node *n, lx__settle *s, const char *fmt, ...)
{
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    s->halted = 1;
    lx__log(n, "SETTLEMENT HALTED: %s", why);
}

void lx__settle_hex32(char out[65], const uint8_t h[32])
{
    lx__hex(out, h, 32);
}

/* ---- the chain of settlements ---- */

static void utxo_of(lx_channel_utxo *u, const lx__settle *s, const lx__funding *f)
{
    memset(u, 0, sizeof *u);
    memcpy(u->tx_id, f->tx_id, 32);
    u->index = f->index;
    memcpy(u->asset_id, f->asset_id, 32);
    u->amount = f->amount;
    u->locktime = f->locktime;
    u->threshold = s->ch.threshold;
    u->nowners = s->ch.nowners;
    u->owners = s->ch.owners;
}

static int signers_eq(const lx__settle *s, const uint32_t *v, size_t k)
{
    return s->st_nsigners == k && memcmp(s->st_signers, v, k * sizeof *v) == 0;
}

/* Builds (or keeps) the unsigned tx of q[0] for signer set v[0..k). */
lx_err lx__settle_ensure_tx(lx__settle *s, const uint32_t *v, size_t k)
{
    if (s->qn == 0)
        return LX_ESTATE;
    pend *p = &s->q[0];
    if (s->st && s->st_number == p->rec.number && signers_eq(s, v, k))
        return LX_OK;
    lx_settle_tx_free(&s->st);
    lx_settle_params prm;
    memset(&prm, 0, sizeof prm);
    prm.network_id = s->ch.network_id;
    memcpy(prm.blockchain_id, s->ch.blockchain_id, 32);
    prm.channel = &s->channel;
    prm.nsigners = k;
    prm.signers = v;
    prm.select.now = p->now;
    prm.select.max_inputs = s->ch.max_inputs;
    lx_err rc = lx_settle_tx_build(&s->st, &prm, p->batch, s->prev, s->nprev, s->utxos, s->nutxos);
    if (rc == LX_OK)
        rc = lx_tx_hash(lx_settle_tx_get(s->st), s->st_hash);
    if (rc != LX_OK) {
        lx_settle_tx_free(&s->st);
        return rc;
    }
    s->st_number = p->rec.number;
    s->st_nsigners = k;
    memcpy(s->st_signers, v, k * sizeof *v);
    return LX_OK;
}

static void default_signers(const lx__settle *s, uint32_t *v, size_t *k)
{
    for (uint32_t i = 0; i < s->ch.threshold; i++)
        v[i] = i;
    *k = s->ch.threshold;
}

void lx__settle_write_rec(lx__node *n, lx__settle *s, const lx__batch_record *r)
{
    char path[LX__PATH_MAX + 64];
    if (lx__settle_path(path, sizeof path, s->data_dir, r->number, ".json") != LX_OK ||
        lx__settle_write_record(path, r) != LX_OK)
        lx__log(n, "settlement: cannot write %s", path);
}

static void reset_round(lx__settle *s)
{
    if (s->th_live) { /* it reads tx_bytes */
        pthread_join(s->th, NULL);
        s->th_live = 0;
    }
    lx_cert_free(&s->cert);
    lx_settle_tx_free(&s->st);
    s->round_open = 0;
    s->checked_stored = 0;
    s->have_signed = 0;
    s->accepted = 0; /* the failing owners stay marked for the next batch */
    free(s->tx_bytes);
    s->tx_bytes = NULL;
    s->tx_len = 0;
}

/* ---- replaying the log ---- */

/* The builder asks for the address of each withdrawal of a block, in order:
 * those are the dests of the block's WITHDRAW_TO entries the engine
 * accepted, gathered before (on_block). */
static lx_err next_dest(void *arg, uint8_t dest[LX_XADDR_LEN], uint64_t account, uint32_t asset)
{
    lx__settle *s = arg;
    (void)account;
    (void)asset;
    if (s->dest_next >= s->ndests)
        return LX_ESTATE; /* a withdrawal that no WITHDRAW_TO entry made */
    memcpy(dest, s->dests[s->dest_next++], LX_XADDR_LEN);
    return LX_OK;
}

int lx__settle_same_utxo(const lx__funding *f, const uint8_t tx_id[32], uint32_t index)
{
    return f->index == index && memcmp(f->tx_id, tx_id, 32) == 0;
}

int lx__settle_push_utxo(lx__funding **v, size_t *n, size_t *cap, const lx__funding *f)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 16;
        lx__funding *w = realloc(*v, c * sizeof *w);
        if (!w)
            return 0;
        *v = w;
        *cap = c;
    }
    (*v)[(*n)++] = *f;
    return 1;
}

/* A chain deposit entry: its UTXO is now the channel's to spend. */
static void on_chain_deposit(lx__node *n, lx__settle *s, const lx_entry *ent)
{
    lx__funding f;
    memset(&f, 0, sizeof f);
    memcpy(f.tx_id, ent->settle.tx_id, 32);
    f.index = ent->settle.index;
    f.amount = ent->cmd.u.transfer.amount;
    const uint8_t *id = lx__channel_asset(&s->ch, ent->cmd.u.transfer.asset);
    for (size_t i = 0; i < s->npending_deps; i++)
        if (lx__settle_same_utxo(&s->pending_deps[i], f.tx_id, f.index)) {
            s->pending_deps[i] = s->pending_deps[--s->npending_deps];
            break;
        }
    for (size_t i = 0; i < s->ndeps; i++)
        if (lx__settle_same_utxo(&s->deps[i], f.tx_id, f.index))
            return; /* logged twice: credited twice by the engine, spent once */
    if (!id || f.amount == 0) {
        lx__settle_halt(n, s, "a chain deposit of asset %s, which the channel file does not name",
                        ent->cmd.u.transfer.asset);
        return;
    }
    memcpy(f.asset_id, id, 32);
    lx_channel_utxo *v = realloc(s->utxos, (s->nutxos + 1) * sizeof *v);
    if (!v || !lx__settle_push_utxo(&s->deps, &s->ndeps, &s->deps_cap, &f)) {
        if (v)
            s->utxos = v;
        lx__settle_halt(n, s, "out of memory");
        return;
    }
    s->utxos = v;
    utxo_of(&s->utxos[s->nutxos++], s, &f);
    if (!s->replaying) {
        char cb[LX_CB58_ID_MAX];
        lx_id_to_cb58(cb, f.tx_id);
        lx__log(n, "deposit %s:%" PRIu32 " of %" PRIu64 " %s to account %" PRIu64 "%s", cb, f.index,
                f.amount, ent->cmd.u.transfer.asset, ent->cmd.u.transfer.account,
                ent->cmd.u.transfer.account == LX__SUSPENSE_ACCOUNT ? " (suspense)" : "");
    }
}

/* Tells the builder about engine assets and markets it has not seen. An
 * asset the channel file does not name stays unknown: a fill in its market
 * then halts settlement with a message. */
static void register_engine(lx__settle *s, const lx_engine *e)
{
    size_t na = lx_engine_asset_count(e), nm = lx_engine_market_count(e);
    for (; s->assets_seen < na; s->assets_seen++) {
        const uint8_t *id =
            lx__channel_asset(&s->ch, lx_engine_asset_symbol(e, (uint32_t)s->assets_seen));
        if (id)
            lx_batch_builder_add_asset(s->bb, (uint32_t)s->assets_seen, id);
    }
    for (; s->markets_seen < nm; s->markets_seen++) {
        lx_market_spec m;
        uint32_t base, quote;
        if (lx_engine_market_info(e, &m, (uint32_t)s->markets_seen) == LX_OK &&
            lx_engine_asset_find(e, &base, m.base) == LX_OK &&
            lx_engine_asset_find(e, &quote, m.quote) == LX_OK &&
            lx__channel_asset(&s->ch, m.base) && lx__channel_asset(&s->ch, m.quote))
            lx_batch_builder_add_market(s->bb, (uint32_t)s->markets_seen, base, quote, m.lot);
    }
}

/* A .batch file is never rewritten once it holds this batch (readers may
 * have it open); one a crash left short or stale is. The file starts with
 * the magic, the length and the batch encoding, and its size follows from
 * the counts: comparing those is enough, since the leaves and changes come
 * from the same log. */
static int batch_file_ok(const char *path, const lx_batch *b)
{
    size_t blen = lx_batch_encoded_len(b), nf = 0, nn = 0;
    lx_batch_fills(b, &nf);
    lx_batch_net_changes(b, &nn);
    struct stat sb;
    if (stat(path, &sb) != 0 ||
        (size_t)sb.st_size != 12 + blen + nf * LX_FILL_LEAF_LEN + nn * LX_NET_LEAF_LEN)
        return 0;
    uint8_t *want = malloc(12 + blen), *got = NULL;
    size_t w = 0, len = 0;
    int ok = want && lx_batch_encode(b, want + 12, blen, &w) == LX_OK &&
             lx__settle_read_file(path, &got, &len, (size_t)sb.st_size) == LX_OK &&
             memcmp(got, LX__SETTLE_FILE_MAGIC, 8) == 0 && lx__get_u32(got + 8) == blen &&
             memcmp(got + 12, want + 12, blen) == 0;
    free(want);
    free(got);
    return ok;
}

void lx__settle_record_of(lx__batch_record *r, const lx_batch *b)
{
    lx_batch_info info;
    lx_batch_info_get(b, &info);
    memset(r, 0, sizeof *r);
    r->number = info.number;
    memcpy(r->channel_id, info.channel_id, 32);
    r->first_seq = info.first_seq;
    r->last_seq = info.last_seq;
    r->first_fill = info.first_fill;
    r->fill_count = info.fill_count;
    size_t nd = 0, nw = 0;
    lx_batch_deposits(b, &nd);
    lx_batch_withdrawals(b, &nw);
    r->deposits = nd;
    r->withdrawals = nw;
    lx_batch_hash(b, r->hash);
    r->status = LX__BATCH_CLOSED;
}

/* The files of a closed batch not settled yet: its .batch file unless it is
 * there already, and its record, which keeps the txID a restarted leader
 * had signed until the log says how that tx ended. */
static void write_closed(lx__node *n, lx__settle *s, pend *p)
{
    lx__batch_record *r = &p->rec;
    char path[LX__PATH_MAX + 64];
    if (lx__settle_path(path, sizeof path, s->data_dir, r->number, ".batch") == LX_OK &&
        !batch_file_ok(path, p->batch) && lx__settle_write_batch(path, p->batch) != LX_OK)
        lx__log(n, "settlement: cannot write %s", path);
    lx__batch_record old;
    if (lx__settle_path(path, sizeof path, s->data_dir, r->number, ".json") == LX_OK &&
        lx__settle_read_record(path, &old) == LX_OK && old.has_tx &&
        memcmp(old.hash, r->hash, 32) == 0) {
        r->status = LX__BATCH_SUBMITTED;
        r->has_tx = 1;
        memcpy(r->tx_id, old.tx_id, 32);
        p->accepted_us = old.accepted_us; /* timing only: kept across a restart */
    }
    lx__settle_write_rec(n, s, r);
}

static void on_close(lx__node *n, lx__settle *s, uint64_t seq, const lx_settle_entry *e)
{
    if (e->number != s->closed + 1) {
        lx__settle_halt(n, s, "block %" PRIu64 " closes batch %" PRIu64 ", expected %" PRIu64, seq,
                        e->number, s->closed + 1);
        return;
    }
    if (s->qn == QUEUE_MAX) {
        lx__settle_halt(n, s, "more than %d closed batches wait for settlement", QUEUE_MAX);
        return;
    }
    lx_batch *b = NULL;
    lx_err rc = lx_batch_builder_close(s->bb, &b, seq);
    if (rc != LX_OK) {
        lx__settle_halt(n, s, "closing batch %" PRIu64 " at block %" PRIu64 ": %s", e->number, seq,
                        lx_strerror(rc));
        return;
    }
    pend *p = &s->q[s->qn++];
    memset(p, 0, sizeof *p);
    p->batch = b;
    p->now = e->now;
    lx__batch_record *r = &p->rec;
    lx__settle_record_of(r, b);
    s->closed = e->number;
    if (s->close_sent == e->number)
        s->close_sent = 0;
    char path[LX__PATH_MAX + 64];
    if (lx__settle_path(path, sizeof path, s->data_dir, r->number, ".times") != LX_OK ||
        lx__settle_write_times(path, s->ft, s->nft) != LX_OK)
        lx__log(n, "settlement: cannot write %s", path);
    s->nft = 0;
    write_closed(n, s, p);
    if (!s->replaying) {
        char hx[65];
        lx__settle_hex32(hx, r->hash);
        lx__log(n,
                "batch %" PRIu64 " closed: blocks %" PRIu64 "-%" PRIu64 ", %" PRIu64
                " fills, %" PRIu64 " deposits, hash %s",
                r->number, r->first_seq, r->last_seq, r->fill_count, r->deposits, hx);
    }
}

static void on_settled(lx__node *n, lx__settle *s, uint64_t seq, uint64_t block_us,
                       const lx_settle_entry *e)
{
    if (s->qn == 0 || s->q[0].rec.number != e->number) {
        lx__settle_halt(
            n, s, "block %" PRIu64 " settles batch %" PRIu64 ", which is not the next to settle",
            seq, e->number);
        return;
    }
    /* The outputs and inputs do not depend on the signer set, so the
     * default set's tx gives the change and the spent UTXOs of the one
     * that was accepted, under the txID the log names. */
    uint32_t v[LX__SETTLE_SIGNERS_MAX];
    size_t k;
    default_signers(s, v, &k);
    lx_err rc = lx__settle_ensure_tx(s, v, k);
    lx_channel_utxo next[CHANGE_MAX];
    size_t nnext = 0;
    if (rc == LX_OK)
        rc = lx_settle_change_id(next, CHANGE_MAX, &nnext, lx_settle_tx_get(s->st), &s->channel,
                                 e->tx_id);
    if (rc != LX_OK) {
        lx__settle_halt(
            n, s, "batch %" PRIu64 " settled at block %" PRIu64 " but its tx does not build: %s",
            e->number, seq, lx_strerror(rc));
        return;
    }
    size_t nspent = 0;
    const lx_xutxo *spent = lx_settle_tx_spent(s->st, &nspent);
    for (size_t i = 0; i < nspent; i++)
        for (size_t j = 0; j < s->nutxos; j++)
            if (s->utxos[j].index == spent[i].output_index &&
                memcmp(s->utxos[j].tx_id, spent[i].tx_id, 32) == 0) {
                s->utxos[j] = s->utxos[--s->nutxos];
                break;
            }
    memcpy(s->prev, next, nnext * sizeof *next);
    s->nprev = nnext;
    pend *p = &s->q[0];
    p->rec.status = LX__BATCH_ACCEPTED;
    p->rec.has_tx = 1;
    memcpy(p->rec.tx_id, e->tx_id, 32);
    p->rec.settled_seq = seq;
    p->rec.settled_us = block_us;
    memcpy(s->settled_tx, e->tx_id, 32);
    memcpy(s->settled_hash, p->rec.hash, 32);
    p->rec.accepted_us = p->accepted_us;
    lx__settle_write_rec(n, s, &p->rec);
    if (!s->replaying) {
        char cb[LX_CB58_ID_MAX];
        lx_id_to_cb58(cb, e->tx_id);
        lx__log(n, "batch %" PRIu64 " settled: tx %s accepted (block %" PRIu64 ")", e->number, cb,
                seq);
    }
    lx_batch_free(&p->batch);
    memmove(&s->q[0], &s->q[1], (s->qn - 1) * sizeof s->q[0]);
    s->qn--;
    s->settled = e->number;
    if (s->settled_sent == e->number)
        s->settled_sent = 0;
    reset_round(s);
}

/* Remembers when a block with fills was cut, for <number>.times (the
 * fill-to-Accepted latency; timing only, nothing is signed over it). */
static lx_err note_fill_time(lx__settle *s, const lx_block *b, const lx_event *evs, size_t nev)
{
    uint64_t fills = 0;
    for (size_t k = 0; k < nev; k++)
        fills += evs[k].type == LX_EV_FILL;
    if (fills == 0)
        return LX_OK;
    if (s->nft == s->ft_cap) {
        size_t c = s->ft_cap ? s->ft_cap * 2 : 256;
        lx__fill_time *v = realloc(s->ft, c * sizeof *v);
        if (!v)
            return LX_ENOMEM;
        s->ft = v;
        s->ft_cap = c;
    }
    s->ft[s->nft++] = (lx__fill_time){b->hdr.seq, b->hdr.timestamp_us, fills};
    return LX_OK;
}

/* One applied block: its fills and transfers into the open batch, then its
 * settlement entries in order. */
static void on_block(lx__node *n, lx__settle *s, const lx_engine *e, const lx_block *b,
                     const lx_event *evs, size_t nev, const size_t *ends)
{
    if (s->halted)
        return;
    register_engine(s, e);
    /* The addresses of the withdrawals the engine accepted, in order. */
    s->ndests = s->dest_next = 0;
    for (uint32_t i = 0; i < b->hdr.count; i++) {
        const lx_entry *ent = &b->entries[i];
        if (ent->is_market || ent->cmd.type != LX_ENTRY_WITHDRAW_TO)
            continue;
        if (n->is_leader && !s->replaying)
            s->wd_applied++;
        int accepted = 0;
        for (size_t k = i ? ends[i - 1] : 0; k < ends[i]; k++)
            accepted |= evs[k].type == LX_EV_BALANCE;
        if (!accepted)
            continue;
        if (s->ndests == s->dests_cap) {
            size_t c = s->dests_cap ? s->dests_cap * 2 : 16;
            uint8_t(*v)[LX_XADDR_LEN] = realloc(s->dests, c * sizeof *v);
            if (!v) {
                lx__settle_halt(n, s, "out of memory");
                return;
            }
            s->dests = v;
            s->dests_cap = c;
        }
        memcpy(s->dests[s->ndests++], ent->settle.dest, LX_XADDR_LEN);
    }
    if (note_fill_time(s, b, evs, nev) != LX_OK) {
        lx__settle_halt(n, s, "out of memory");
        return;
    }
    lx_err rc = lx_batch_builder_add_events(s->bb, b->hdr.seq, evs, nev, next_dest, s);
    if (rc != LX_OK) {
        lx__settle_halt(n, s,
                        "block %" PRIu64
                        " cannot join the batch: %s (is every asset in the channel "
                        "file?)",
                        b->hdr.seq, lx_strerror(rc));
        return;
    }
    for (uint32_t i = 0; i < b->hdr.count && !s->halted; i++) {
        const lx_entry *ent = &b->entries[i];
        if (ent->is_market)
            continue;
        if (ent->cmd.type == LX_ENTRY_BATCH_CLOSE)
            on_close(n, s, b->hdr.seq, &ent->settle);
        else if (ent->cmd.type == LX_ENTRY_BATCH_SETTLED)
            on_settled(n, s, b->hdr.seq, b->hdr.timestamp_us, &ent->settle);
        else if (ent->cmd.type == LX_ENTRY_CHAIN_DEPOSIT)
            on_chain_deposit(n, s, ent);
    }
}

void lx__settle_block(lx__node *n)
{
    if (n->settle)
        on_block(n, n->settle, n->engine, &n->blk, n->evs.v, n->evs.n, n->ends);
}

/* ---- setup ---- */

/* Applies journal blocks from..n->seq to e (the engine after block
 * from - 1, whose state hash is hash; freed here) and feeds them to
 * settlement. They must come out at the node's own state hash. */
static lx_err replay(lx__node *n, lx__settle *s, lx_journal *j, lx_engine *e, uint64_t from,
                     const uint8_t start_hash[LX_STATE_HASH_LEN])
{
    lx_events evs;
    lx_block blk;
    uint8_t hash[LX_STATE_HASH_LEN];
    size_t *ends = NULL, ends_cap = 0;
    memcpy(hash, start_hash, sizeof hash);
    lx_events_init(&evs);
    lx_block_init(&blk);
    lx_err rc = LX_OK;
    s->replaying = 1;
    for (uint64_t seq = from; rc == LX_OK && seq <= n->seq; seq++) {
        const uint8_t *data;
        size_t len;
        if ((rc = lx_journal_read(j, &data, &len, seq)) != LX_OK ||
            (rc = lx_block_decode(&blk, data, len)) != LX_OK)
            break;
        if (blk.hdr.count > ends_cap) {
            size_t *v = realloc(ends, blk.hdr.count * sizeof *v);
            if (!v) {
                rc = LX_ENOMEM;
                break;
            }
            ends = v;
            ends_cap = blk.hdr.count;
        }
        lx_events_clear(&evs);
        if ((rc = lx__block_apply_ends(e, &evs, hash, &blk, ends)) != LX_OK)
            break;
        on_block(n, s, e, &blk, evs.v, evs.n, ends);
    }
    free(ends);
    s->replaying = 0;
    if (rc != LX_OK)
        lx__log(n, "settlement: cannot replay the journal: %s", lx_strerror(rc));
    else if (memcmp(hash, n->hash, LX_STATE_HASH_LEN) != 0) {
        lx__log(n,
                "settlement: the replay of blocks %" PRIu64 "-%" PRIu64
                " does not reach the node's state hash",
                from, n->seq);
        rc = LX_ECORRUPT;
    }
    lx_block_free(&blk);
    lx_events_free(&evs);
    lx_engine_free(&e);
    return rc;
}

/* After a section was restored: the files of its closed batches not yet
 * settled, for a node that never wrote them (it installed the snapshot by
 * state sync) or that lost them. */
static void write_queue(lx__node *n, lx__settle *s)
{
    for (size_t i = 0; i < s->qn; i++)
        write_closed(n, s, &s->q[i]);
}

/* Tries the settlement section of the newest snapshot that the journal
 * continues to n->seq, then older ones: 1 when the state is restored from
 * one and the blocks after it replayed (*rc says how that went), 0 when
 * none is usable. */
static int from_snapshot(lx__node *n, lx__settle *s, lx_journal *j, lx_err *rc)
{
    uint64_t first = lx_journal_first_seq(j), max = n->seq;
    while (max > 0) {
        lx_snapshot_meta meta;
        uint8_t *eng = NULL, *sec = NULL;
        size_t elen = 0, slen = 0;
        lx_err r = lx_snapshot_load(&meta, &eng, &elen, &sec, &slen, NULL, n->cfg.data_dir, max);
        if (r != LX_OK) {
            if (r != LX_ENOTFOUND)
                lx__log(n, "settlement: cannot read the snapshots: %s", lx_strerror(r));
            return 0;
        }
        max = meta.seq - 1;
        /* One the journal does not continue: older ones reach back less. */
        if (meta.seq != n->seq && !(first && first <= meta.seq + 1)) {
            free(eng);
            free(sec);
            return 0;
        }
        char why[256] = "";
        lx_engine *e = NULL;
        if (!sec)
            snprintf(why, sizeof why, "it has no settlement section");
        else if ((r = lx_engine_restore(&e, eng, elen)) != LX_OK)
            snprintf(why, sizeof why, "its engine does not restore: %s", lx_strerror(r));
        else
            r = lx__settle_restore(s, sec, slen, meta.seq, e, why, sizeof why);
        free(eng);
        if (!sec || r != LX_OK) {
            lx__log(n, "settlement: passing over the snapshot at seq %" PRIu64 ": %s", meta.seq,
                    why);
            lx_engine_free(&e);
            free(sec);
            continue;
        }
        uint8_t sum[32];
        char hx[65] = "";
        if (lx_sha256(sum, sec, slen) == LX_OK)
            lx__settle_hex32(hx, sum);
        free(sec);
        char after[64] = "no blocks after it";
        if (meta.seq < n->seq)
            snprintf(after, sizeof after, "replaying blocks %" PRIu64 "-%" PRIu64, meta.seq + 1,
                     n->seq);
        lx__log(n,
                "settlement: restored from the snapshot at seq %" PRIu64 " (section %zu bytes, "
                "sha256 %s, batches closed %" PRIu64 ", settled %" PRIu64 "); %s",
                meta.seq, slen, hx, s->closed, s->settled, after);
        write_queue(n, s);
        s->files_base = s->settled;
        uint64_t top = s->settled;
        uint8_t top_hash[32];
        memcpy(top_hash, s->settled_hash, 32);
        *rc = replay(n, s, j, e, meta.seq + 1, meta.state_hash);
        if (*rc == LX_OK)
            lx__settle_fetch_init(n, s, top, top_hash);
        return 1;
    }
    return 0;
}

/* Rebuilds the state after block n->seq. */
static lx_err rebuild(lx__node *n, lx__settle *s, lx_journal *j)
{
    lx_err rc = LX_OK;
    if (n->seq == 0 || from_snapshot(n, s, j, &rc))
        return rc;
    uint64_t first = lx_journal_first_seq(j);
    if (first != 1) {
        lx__log(n,
                "settlement: cannot rebuild its state at seq %" PRIu64
                ": no snapshot with a settlement section that the journal continues, and the "
                "journal starts at block %" PRIu64
                " (compacted, or emptied by a state sync that did not carry one); start the "
                "node with an empty data dir to sync it from a peer with settlement",
                n->seq, first);
        return LX_ECORRUPT;
    }
    lx__log(n, "settlement: no snapshot with a settlement section; replaying the journal "
               "from block 1");
    lx_engine *e = NULL;
    lx_engine_config ec = {0};
    static const uint8_t zero[LX_STATE_HASH_LEN];
    if ((rc = lx_engine_new(&e, &ec)) != LX_OK)
        return rc;
    return replay(n, s, j, e, 1, zero);
}

lx_err lx__settle_snapshot(lx__node *n, uint8_t **sec, size_t *len, uint64_t *files_from,
                           uint64_t *files_to)
{
    lx__settle *s = n->settle;
    /* A halted state is not saved: the snapshots stop, so the journal keeps
     * the blocks since the last one, and a restart after the cause is fixed
     * (a channel file that names the asset, say) replays them again. */
    if (s->halted) {
        lx__log(n, "settlement is halted: no snapshot at seq %" PRIu64, n->seq);
        return LX_ESTATE;
    }
    lx_err rc = lx__settle_encode(s, n->seq, sec, len);
    if (rc != LX_OK) {
        lx__log(n, "settlement: cannot encode its state at seq %" PRIu64 ": %s", n->seq,
                lx_strerror(rc));
        return rc;
    }
    *files_from = s->files_base + 1;
    *files_to = s->closed;
    return LX_OK;
}

static int make_dir(const char *p)
{
    return mkdir(p, 0755) == 0 || errno == EEXIST;
}

lx_err lx__settle_init(lx__node *n, lx_journal *j)
{
    const lx__settle_cfg *c = &n->cfg.settle;
    if (!c->channel_file[0])
        return LX_OK;
    lx__settle *s = calloc(1, sizeof *s);
    if (!s)
        return LX_ENOMEM;
    pthread_mutex_init(&s->mu, NULL);
    n->settle = s;
    snprintf(s->data_dir, sizeof s->data_dir, "%s", n->cfg.data_dir);
    snprintf(s->rpc_url, sizeof s->rpc_url, "%s", c->rpc);
    char err[600];
    size_t skipped = 0;
    lx_err rc = lx__channel_load(&s->ch, &skipped, err, sizeof err, c->channel_file);
    if (rc != LX_OK) {
        lx__log(n, "--channel: %s", err);
        return LX_EINVAL;
    }
    lx__channel_view(&s->channel, &s->ch);
    if ((rc = lx_keyfile_read(&s->key, c->key_file)) != LX_OK) {
        lx__log(n, "--key-file %s: %s%s", c->key_file, lx_strerror(rc),
                rc == LX_EPERM ? " (the file must be mode 0600)" : "");
        return LX_EINVAL;
    }
    lx_key_address(s->key, s->me);
    s->my_pos = -1;
    for (size_t i = 0; i < s->ch.nowners; i++)
        if (memcmp(s->ch.owners + i * LX_XADDR_LEN, s->me, LX_XADDR_LEN) == 0)
            s->my_pos = (int)i;
    const char *fault = getenv("LX_SETTLE_FAULT");
    s->fault_bad_sig = fault && strcmp(fault, "bad-sig") == 0;

    lx_batch_config bc;
    memset(&bc, 0, sizeof bc);
    if ((rc = lx_channel_id(bc.channel_id, &s->channel, s->ch.network_id, s->ch.blockchain_id)) !=
        LX_OK)
        return rc;
    bc.fee_account = s->ch.fee_account;
    memcpy(bc.fee_asset, s->ch.fee_asset, 32);
    bc.tx_fee = s->ch.tx_fee;
    bc.next_number = 1;
    bc.next_seq = 1;
    if ((rc = lx_batch_builder_new(&s->bb, &bc)) != LX_OK)
        return rc;
    s->utxos = calloc(s->ch.nfunding, sizeof *s->utxos);
    if (!s->utxos)
        return LX_ENOMEM;
    for (size_t i = 0; i < s->ch.nfunding; i++)
        utxo_of(&s->utxos[i], s, &s->ch.funding[i]);
    s->nutxos = s->ch.nfunding;

    char dir[LX__PATH_MAX + 16];
    snprintf(dir, sizeof dir, "%s/settle", n->cfg.data_dir);
    if (!make_dir(dir)) {
        lx__log(n, "settlement: cannot create %s: %s", dir, strerror(errno));
        return LX_EIO;
    }
    if ((rc = rebuild(n, s, j)) != LX_OK)
        return rc == LX_ENOMEM ? rc : LX_ECORRUPT;
    char cid[65], me[LX_ADDR_STR_MAX];
    lx__settle_hex32(cid, bc.channel_id);
    lx_address_encode(me, sizeof me, "X", s->ch.hrp, s->me);
    lx__log(n,
            "settlement: channel %s, %" PRIu32 " of %zu owners, this node %s (owner %d), %zu "
            "funding UTXOs%s; batches closed %" PRIu64 ", settled %" PRIu64,
            cid, s->ch.threshold, s->ch.nowners, me, s->my_pos, s->ch.nfunding,
            skipped ? " (others skipped)" : "", s->closed, s->settled);
    if (s->my_pos < 0)
        lx__log(n, "settlement: WARNING: this node's key is not an owner; it will not sign");
    s->last_close_us = lx_now_us(); /* the first batch closes an interval after the start */
    if (n->is_leader && (rc = lx__watch_start(&s->watch, s->rpc_url, &s->ch, 1000)) != LX_OK)
        lx__log(n, "settlement: cannot start the deposit watcher: %s", lx_strerror(rc));
    return LX_OK;
}

void lx__settle_stop(lx__node *n)
{
    lx__settle *s = n->settle;
    if (s && s->th_live) {
        pthread_join(s->th, NULL);
        s->th_live = 0;
    }
}

void lx__settle_free(lx__node *n)
{
    lx__settle *s = n->settle;
    if (!s)
        return;
    lx__settle_stop(n);
    reset_round(s);
    lx__settle_fetch_free(s);
    for (size_t i = 0; i < s->qn; i++)
        lx_batch_free(&s->q[i].batch);
    lx__watch_stop(&s->watch);
    lx_batch_builder_free(&s->bb);
    lx_key_free(&s->key);
    free(s->utxos);
    free(s->dests);
    free(s->ft);
    free(s->deps);
    free(s->pending_deps);
    pthread_mutex_destroy(&s->mu);
    free(s);
    n->settle = NULL;
}

/* ---- withdrawals ---- */

lx_err lx__settle_withdraw_entry(lx__node *n, lx_entry *out, const lx_proto_transfer *t, char *why,
                                 size_t cap)
{
    lx__settle *s = n->settle;
    if (!s) {
        snprintf(why, cap, "withdrawals need settlement (--channel)");
        return LX_EUNSUPPORTED;
    }
    if (s->halted) {
        snprintf(why, cap, "settlement is halted");
        return LX_ESTATE;
    }
    if (!lx__channel_asset(&s->ch, t->asset)) {
        snprintf(why, cap, "asset %s is not settled on the X-Chain", t->asset);
        return LX_EINVAL;
    }
    char str[LX_PROTO_ADDR_MAX + 1];
    uint8_t dest[LX_XADDR_LEN];
    size_t len = t->dest_len < LX_PROTO_ADDR_MAX ? t->dest_len : LX_PROTO_ADDR_MAX;
    memcpy(str, t->dest, len);
    str[len] = 0;
    if (len == 0 || (lx_address_decode(dest, "X", s->ch.hrp, str) != LX_OK &&
                     lx_address_decode(dest, NULL, s->ch.hrp, str) != LX_OK)) {
        snprintf(why, cap, "the destination must be an X-Chain address (X-%s1...)", s->ch.hrp);
        return LX_EINVAL;
    }
    if (s->ch.nowners == 1 && s->ch.threshold == 1 && memcmp(dest, s->ch.owners, 20) == 0) {
        snprintf(why, cap, "the destination is the channel itself");
        return LX_EINVAL;
    }
    /* The open batch takes at most LX_BATCH_WITHDRAWALS_MAX withdrawals;
     * those sequenced but not applied yet count already. */
    uint64_t open = lx_batch_builder_withdrawal_count(s->bb) + (s->wd_admitted - s->wd_applied);
    if (open >= LX_BATCH_WITHDRAWALS_MAX) {
        snprintf(why, cap, "the settlement batch is full of withdrawals, retry");
        return LX_ETOOBIG;
    }
    memset(out, 0, sizeof *out);
    out->cmd.type = LX_ENTRY_WITHDRAW_TO;
    out->cmd.u.transfer.account = t->account;
    out->cmd.u.transfer.amount = t->amount;
    memcpy(out->cmd.u.transfer.asset, t->asset, LX_SYMBOL_MAX);
    memcpy(out->settle.dest, dest, LX_XADDR_LEN);
    return LX_OK;
}

int lx__settle_status(const lx__node *n, char *buf, size_t cap)
{
    const lx__settle *s = n->settle;
    if (!s)
        return snprintf(buf, cap, "null");
    char tx[LX_CB58_ID_MAX] = "";
    if (s->settled)
        lx_id_to_cb58(tx, s->settled_tx);
    return snprintf(buf, cap,
                    "{\"closed\":%" PRIu64 ",\"settled\":%" PRIu64 ",\"queued\":%zu"
                    ",\"last_tx\":\"%s\",\"open_fills\":%" PRIu64 ",\"open_withdrawals\":%zu"
                    ",\"owner\":%d,\"halted\":%s}",
                    s->closed, s->settled, s->qn, tx, lx_batch_builder_fill_count(s->bb),
                    lx_batch_builder_withdrawal_count(s->bb), s->my_pos,
                    s->halted ? "true" : "false");
}

void lx__settle_admitted(lx__node *n)
{
    if (n->settle)
        n->settle->wd_admitted++;
}
