/* The two AVM chains (X and Y): UTXO sets, shared atomic memory between them,
 * mempools, verification against state, and block building and replay. */
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "devnet.h"

typedef struct txrec {
    uint8_t id[LX__DN_ID];
    lx__dn_status status;
    lx__dn_tx *tx;  /* while processing */
    uint8_t *bytes; /* once accepted */
    size_t len;
} txrec;

typedef struct chain {
    uint64_t height, timestamp;
    lx__dn_map utxos;    /* utxo id -> lx__dn_utxo */
    lx__dn_map inbox;    /* shared memory importable here: utxo id -> lx__dn_utxo */
    lx__dn_map txs;      /* tx id -> txrec */
    lx__dn_map spending; /* utxo id -> the pending txrec that consumes it */
    lx__dn_map addrtxs;  /* sha256(address || asset) -> addrtxs, for getAddressTxs */
    txrec **pool;        /* the mempool, in arrival order */
    size_t npool, poolcap;
} chain;

struct lx__dn {
    pthread_mutex_t mu;
    lx__dn_genesis *g;
    chain ch[LX__DN_CHAINS];
    lx__dn_store *store;
    FILE *log;
};

/* The accepted txs that spent or created UTXOs of one (address, asset), in
 * acceptance order: what getAddressTxs pages through. */
typedef struct addrtxs {
    uint8_t (*ids)[LX__DN_ID];
    size_t n, cap;
} addrtxs;

static const char alias[LX__DN_CHAINS] = {'X', 'Y'};

/* ---- UTXOs ---- */

static lx__dn_utxo *utxo_new(const uint8_t txid[LX__DN_ID], uint32_t index, const lx_xout *o,
                             int source)
{
    lx__dn_utxo *u = malloc(sizeof *u + o->naddrs * LX__DN_ADDR);
    if (!u)
        return NULL;
    lx__dn_utxo_id(u->id, txid, index);
    memcpy(u->txid, txid, LX__DN_ID);
    u->index = index;
    u->source = source;
    u->out = *o;
    u->out.addrs = (const uint8_t *)(u + 1);
    if (o->naddrs)
        memcpy(u + 1, o->addrs, o->naddrs * LX__DN_ADDR);
    return u;
}

static void free_map_values(lx__dn_map *m)
{
    size_t pos = 0;
    void *v;
    while ((v = lx__dn_map_next(m, &pos)))
        free(v);
    lx__dn_map_free(m);
}

static void txrec_free(txrec *r)
{
    lx__dn_tx_free(&r->tx);
    free(r->bytes);
    free(r);
}

/* ---- verification against state ---- */

typedef struct flow {
    uint64_t in, out;
} flow;

static lx_err reject(char *msg, size_t msglen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static lx_err reject(char *msg, size_t msglen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, msglen, fmt, ap);
    va_end(ap);
    return LX_EREJECTED;
}

static lx_err add_flow(flow *f, const lx__dn_genesis *g, const uint8_t asset[LX__DN_ID],
                       uint64_t amount, bool consumed, char *msg, size_t msglen)
{
    int a = lx__dn_genesis_asset(g, asset);
    if (a < 0) {
        char s[64];
        lx__dn_id_str(s, sizeof s, asset);
        return reject(msg, msglen, "asset %s not found", s);
    }
    uint64_t *t = consumed ? &f[a].in : &f[a].out;
    if (*t > UINT64_MAX - amount)
        return reject(msg, msglen, "%s amounts of asset %s overflow", consumed ? "input" : "output",
                      g->assets[a].symbol);
    *t += amount;
    return LX_OK;
}

static lx_err check_outs(flow *f, const lx__dn_genesis *g, const lx_xout *outs, size_t n, char *msg,
                         size_t msglen)
{
    for (size_t i = 0; i < n; i++) {
        const lx_xout *o = &outs[i];
        if (o->amount == 0)
            return reject(msg, msglen, "output %zu has a zero amount", i);
        lx_err err = add_flow(f, g, o->asset_id, o->amount, false, msg, msglen);
        if (err)
            return err;
    }
    return LX_OK;
}

/* Checks inputs against the UTXOs in m, their owners, locktimes and the
 * mempool. self is the tx's own pending record when it is re-verified. */
static lx_err check_ins(flow *f, const lx__dn *d, const chain *c, const lx__dn_tx *tx,
                        bool imported, const txrec *self, uint64_t now, char *msg, size_t msglen)
{
    const lx_tx_spec *sp = tx->spec;
    const lx__dn_map *m = imported ? &c->inbox : &c->utxos;
    int source = imported ? (int)(1 - (c - d->ch)) : -1;
    size_t n = imported ? sp->nxins : sp->nins;
    size_t first = imported ? sp->nins : 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = first + i;
        const lx_xin *in = lx__dn_tx_input(tx, k);
        const uint8_t(*signers)[LX__DN_ADDR] = tx->signers + tx->first[k];
        char txs[64];
        uint8_t uid[LX__DN_ID];
        lx__dn_utxo_id(uid, in->tx_id, in->output_index);
        const lx__dn_utxo *u = lx__dn_map_get(m, uid);
        if (!u || (imported && u->source != source))
            lx__dn_id_str(txs, sizeof txs, in->tx_id); /* only for the message */
        if (!u && imported)
            return reject(msg, msglen, "input %zu: no UTXO %s:%u in shared memory from chain %c", k,
                          txs, in->output_index, alias[source]);
        if (!u)
            return reject(msg, msglen, "input %zu: UTXO %s:%u not found (spent or never existed)",
                          k, txs, in->output_index);
        if (imported && u->source != source)
            return reject(msg, msglen, "input %zu: UTXO %s:%u was not exported by chain %c", k, txs,
                          in->output_index, alias[source]);
        const txrec *by = lx__dn_map_get(&c->spending, uid);
        if (by && by != self) {
            char other[64];
            lx__dn_id_str(other, sizeof other, by->id);
            lx__dn_id_str(txs, sizeof txs, in->tx_id);
            return reject(msg, msglen, "input %zu: UTXO %s:%u is already spent by pending tx %s", k,
                          txs, in->output_index, other);
        }
        if (memcmp(u->out.asset_id, in->asset_id, LX__DN_ID) != 0)
            return reject(msg, msglen, "input %zu: asset differs from the UTXO's asset", k);
        if (in->amount != u->out.amount)
            return reject(msg, msglen, "input %zu: amount %llu differs from the UTXO's %llu", k,
                          (unsigned long long)in->amount, (unsigned long long)u->out.amount);
        if (u->out.locktime > now)
            return reject(msg, msglen, "input %zu: UTXO is locked until %llu, block time is %llu",
                          k, (unsigned long long)u->out.locktime, (unsigned long long)now);
        if (in->nsigs < u->out.threshold)
            return reject(msg, msglen, "input %zu: %zu signatures, the UTXO needs %u", k, in->nsigs,
                          u->out.threshold);
        if (in->nsigs > u->out.threshold)
            return reject(msg, msglen, "input %zu: %zu signatures, more than the threshold %u", k,
                          in->nsigs, u->out.threshold);
        for (size_t s = 0; s < in->nsigs; s++) {
            uint32_t idx = in->sig_indices[s];
            if (idx >= u->out.naddrs)
                return reject(msg, msglen, "input %zu: sigIdx %u out of range (%zu owners)", k, idx,
                              u->out.naddrs);
            if (memcmp(signers[s], u->out.addrs + (size_t)idx * LX__DN_ADDR, LX__DN_ADDR) != 0)
                return reject(msg, msglen,
                              "input %zu: signature %zu is not by the owner at sigIdx %u", k, s,
                              idx);
        }
        lx_err err = add_flow(f, d->g, in->asset_id, in->amount, true, msg, msglen);
        if (err)
            return err;
    }
    return LX_OK;
}

static lx_err check(const lx__dn *d, int ci, const lx__dn_tx *tx, const txrec *self, uint64_t now,
                    char *msg, size_t msglen)
{
    const lx__dn_genesis *g = d->g;
    const chain *c = &d->ch[ci];
    const lx_tx_spec *sp = tx->spec;
    char a[64], b[64];
    if (sp->network_id != g->network_id)
        return reject(msg, msglen, "tx has networkID %u, this network is %u", sp->network_id,
                      g->network_id);
    if (memcmp(sp->blockchain_id, g->chain_id[ci], LX__DN_ID) != 0) {
        lx__dn_id_str(a, sizeof a, sp->blockchain_id);
        lx__dn_id_str(b, sizeof b, g->chain_id[ci]);
        return reject(msg, msglen, "tx is for blockchain %s, this is %s (%c)", a, b, alias[ci]);
    }
    if (sp->memo_len > LX__DN_MEMO_MAX)
        return reject(msg, msglen, "memo is %zu bytes, over the %d-byte limit", sp->memo_len,
                      LX__DN_MEMO_MAX);
    int other = 1 - ci;
    if (sp->kind == LX_TX_EXPORT || sp->kind == LX_TX_IMPORT) {
        if (memcmp(sp->other_chain, g->chain_id[other], LX__DN_ID) != 0) {
            lx__dn_id_str(a, sizeof a, sp->other_chain);
            return reject(msg, msglen, "%s chain %s is not chain %c",
                          sp->kind == LX_TX_EXPORT ? "destination" : "source", a, alias[other]);
        }
        if (sp->kind == LX_TX_EXPORT && sp->nxouts == 0)
            return reject(msg, msglen, "export tx has no exported outputs");
        if (sp->kind == LX_TX_IMPORT && sp->nxins == 0)
            return reject(msg, msglen, "import tx has no imported inputs");
    } else if (sp->kind != LX_TX_BASE) {
        return reject(msg, msglen, "tx type %d is not supported by this devnet", (int)sp->kind);
    }
    flow f[64];
    memset(f, 0, sizeof f);
    LX_ASSERT(g->nassets <= 64);
    lx_err err;
    if ((err = add_flow(f, g, g->assets[0].id, LX__DN_TX_FEE, false, msg, msglen)) ||
        (err = check_outs(f, g, sp->outs, sp->nouts, msg, msglen)) ||
        (err = check_outs(f, g, sp->xouts, sp->nxouts, msg, msglen)) ||
        (err = check_ins(f, d, c, tx, false, self, now, msg, msglen)) ||
        (err = check_ins(f, d, c, tx, true, self, now, msg, msglen)))
        return err;
    for (size_t i = 0; i < g->nassets; i++)
        if (f[i].in < f[i].out)
            return reject(msg, msglen,
                          "insufficient funds: asset %s consumes %llu but produces %llu%s",
                          g->assets[i].symbol, (unsigned long long)f[i].in,
                          (unsigned long long)f[i].out, i == 0 ? " including the tx fee" : "");
    return LX_OK;
}

static void addrtxs_key(uint8_t key[LX__DN_ID], const uint8_t addr[LX__DN_ADDR],
                        const uint8_t asset[LX__DN_ID])
{
    uint8_t buf[LX__DN_ADDR + LX__DN_ID];
    memcpy(buf, addr, LX__DN_ADDR);
    memcpy(buf + LX__DN_ADDR, asset, LX__DN_ID);
    lx__dn_sha256(key, buf, sizeof buf);
}

/* Records that txid spent or created an output of o's owners, once per
 * (owner, asset): a tx is indexed as a whole, so a repeat is always the
 * last entry. */
static lx_err index_out(chain *c, const uint8_t txid[LX__DN_ID], const lx_xout *o)
{
    for (size_t k = 0; k < o->naddrs; k++) {
        uint8_t key[LX__DN_ID];
        addrtxs_key(key, o->addrs + k * LX__DN_ADDR, o->asset_id);
        addrtxs *a = lx__dn_map_get(&c->addrtxs, key);
        if (!a) {
            if (!(a = calloc(1, sizeof *a)))
                return LX_ENOMEM;
            lx_err err = lx__dn_map_put(&c->addrtxs, key, a);
            if (err) {
                free(a);
                return err;
            }
        }
        if (a->n && memcmp(a->ids[a->n - 1], txid, LX__DN_ID) == 0)
            continue;
        if (a->n == a->cap) {
            size_t cap = a->cap ? a->cap * 2 : 8;
            uint8_t(*ids)[LX__DN_ID] = realloc(a->ids, cap * LX__DN_ID);
            if (!ids)
                return LX_ENOMEM;
            a->ids = ids;
            a->cap = cap;
        }
        memcpy(a->ids[a->n++], txid, LX__DN_ID);
    }
    return LX_OK;
}

static void addrtxs_free_all(lx__dn_map *m)
{
    size_t pos = 0;
    addrtxs *a;
    while ((a = lx__dn_map_next(m, &pos)))
        free(a->ids);
    free_map_values(m);
}

/* Moves a verified tx's effects into state: spends its inputs, creates its
 * outputs, and puts exported outputs into the other chain's shared memory.
 * The spent and created outputs (not the exported ones, as on luxd) are
 * indexed by owner and asset for getAddressTxs. */
static lx_err apply(lx__dn *d, int ci, const lx__dn_tx *tx)
{
    chain *c = &d->ch[ci];
    chain *o = &d->ch[1 - ci];
    const lx_tx_spec *sp = tx->spec;
    lx_err err = LX_OK;
    for (size_t i = 0; i < tx->ninputs; i++) {
        const lx_xin *in = lx__dn_tx_input(tx, i);
        uint8_t uid[LX__DN_ID];
        lx__dn_utxo_id(uid, in->tx_id, in->output_index);
        lx__dn_utxo *u = lx__dn_map_del(i < sp->nins ? &c->utxos : &c->inbox, uid);
        if (u && !err)
            err = index_out(c, tx->id, &u->out);
        free(u);
    }
    if (err)
        return err;
    /* Exported outputs are numbered after the tx's own outputs. */
    for (size_t i = 0; i < sp->nouts + sp->nxouts; i++) {
        bool x = i >= sp->nouts;
        lx__dn_utxo *u =
            utxo_new(tx->id, (uint32_t)i, x ? &sp->xouts[i - sp->nouts] : &sp->outs[i], ci);
        if (!u)
            return LX_ENOMEM;
        err = lx__dn_map_put(x ? &o->inbox : &c->utxos, u->id, u);
        if (err) {
            free(u);
            return err;
        }
        if (!x && (err = index_out(c, tx->id, &u->out)) != LX_OK)
            return err;
    }
    return LX_OK;
}

static uint64_t wall_seconds(void)
{
    return (uint64_t)time(NULL);
}

/* ---- opening: genesis UTXOs, then the stored blocks ---- */

typedef struct replay {
    lx__dn *d;
    char *msg;
    size_t msglen;
} replay;

static lx_err accept_rec(lx__dn *d, int ci, const uint8_t id[LX__DN_ID], const uint8_t *bytes,
                         size_t len)
{
    txrec *r = calloc(1, sizeof *r);
    if (!r || !(r->bytes = malloc(len ? len : 1))) {
        free(r);
        return LX_ENOMEM;
    }
    memcpy(r->id, id, LX__DN_ID);
    memcpy(r->bytes, bytes, len);
    r->len = len;
    r->status = LX__DN_ACCEPTED;
    lx_err err = lx__dn_map_put(&d->ch[ci].txs, id, r);
    if (err)
        txrec_free(r);
    return err;
}

static lx_err replay_block(void *arg, const lx__dn_block *b)
{
    replay *rp = arg;
    lx__dn *d = rp->d;
    if (b->chain < 0 || b->chain >= LX__DN_CHAINS || b->height != d->ch[b->chain].height + 1) {
        snprintf(rp->msg, rp->msglen, "stored block out of order (chain %d height %llu)", b->chain,
                 (unsigned long long)b->height);
        return LX_ECORRUPT;
    }
    for (size_t i = 0; i < b->ntxs; i++) {
        lx__dn_tx *tx = NULL;
        char why[LX__DN_MSG];
        lx_err err = lx__dn_tx_decode(&tx, why, sizeof why, b->txs[i], b->lens[i]);
        if (!err)
            err = check(d, b->chain, tx, NULL, b->timestamp, why, sizeof why);
        if (!err && lx__dn_map_get(&d->ch[b->chain].txs, tx->id))
            err = LX_EEXIST, snprintf(why, sizeof why, "tx stored twice");
        if (!err)
            err = apply(d, b->chain, tx);
        if (!err)
            err = accept_rec(d, b->chain, tx->id, b->txs[i], b->lens[i]);
        lx__dn_tx_free(&tx);
        if (err == LX_ENOMEM)
            return err;
        if (err) {
            snprintf(rp->msg, rp->msglen, "stored block %llu of chain %c, tx %zu: %s",
                     (unsigned long long)b->height, alias[b->chain], i, why);
            return LX_ECORRUPT;
        }
    }
    d->ch[b->chain].height = b->height;
    d->ch[b->chain].timestamp = b->timestamp;
    return LX_OK;
}

static lx_err load_genesis(lx__dn *d)
{
    const lx__dn_genesis *g = d->g;
    uint32_t next[LX__DN_CHAINS] = {0, 0};
    for (size_t i = 0; i < g->nallocs; i++) {
        const lx__dn_alloc *a = &g->allocs[i];
        lx_xout o = {.amount = a->amount,
                     .locktime = a->locktime,
                     .threshold = 1,
                     .naddrs = 1,
                     .addrs = a->addr};
        memcpy(o.asset_id, g->assets[a->asset].id, LX__DN_ID);
        for (uint32_t k = 0; k < a->utxos; k++) {
            lx__dn_utxo *u = utxo_new(g->genesis_txid[a->chain], next[a->chain]++, &o, -1);
            if (!u)
                return LX_ENOMEM;
            lx_err err = lx__dn_map_put(&d->ch[a->chain].utxos, u->id, u);
            LX_ASSERT(err != LX_EEXIST);
            if (err) {
                free(u);
                return err;
            }
        }
    }
    return LX_OK;
}

lx_err lx__dn_open(lx__dn **out, char *msg, size_t msglen, lx__dn_genesis *g, const char *data_dir,
                   FILE *log)
{
    if (!out || !g)
        return LX_EINVAL;
    *out = NULL;
    lx__dn *d = calloc(1, sizeof *d);
    if (!d) {
        lx__dn_genesis_free(&g);
        return LX_ENOMEM;
    }
    pthread_mutex_init(&d->mu, NULL);
    d->g = g;
    d->log = log;
    for (int i = 0; i < LX__DN_CHAINS; i++) {
        lx__dn_map_init(&d->ch[i].utxos);
        lx__dn_map_init(&d->ch[i].inbox);
        lx__dn_map_init(&d->ch[i].txs);
        lx__dn_map_init(&d->ch[i].spending);
        lx__dn_map_init(&d->ch[i].addrtxs);
    }
    lx_err err = load_genesis(d);
    if (err) {
        snprintf(msg, msglen, "genesis: %s", lx_strerror(err));
    } else if (data_dir) {
        replay rp = {d, msg, msglen};
        err = lx__dn_store_open(&d->store, msg, msglen, data_dir, g->digest, replay_block, &rp);
    }
    if (err) {
        lx__dn_close(&d);
        return err;
    }
    *out = d;
    return LX_OK;
}

void lx__dn_close(lx__dn **dp)
{
    if (!dp || !*dp)
        return;
    lx__dn *d = *dp;
    for (int i = 0; i < LX__DN_CHAINS; i++) {
        chain *c = &d->ch[i];
        free_map_values(&c->utxos);
        free_map_values(&c->inbox);
        size_t pos = 0;
        txrec *r;
        while ((r = lx__dn_map_next(&c->txs, &pos)))
            txrec_free(r);
        lx__dn_map_free(&c->txs);
        lx__dn_map_free(&c->spending);
        addrtxs_free_all(&c->addrtxs);
        free(c->pool);
    }
    lx__dn_store_close(&d->store);
    lx__dn_genesis_free(&d->g);
    pthread_mutex_destroy(&d->mu);
    free(d);
    *dp = NULL;
}

const lx__dn_genesis *lx__dn_genesis_of(const lx__dn *d)
{
    return d->g;
}

/* ---- issuing ---- */

static void unspend(chain *c, const lx__dn_tx *tx, const txrec *r)
{
    for (size_t i = 0; i < tx->ninputs; i++) {
        const lx_xin *in = lx__dn_tx_input(tx, i);
        uint8_t uid[LX__DN_ID];
        lx__dn_utxo_id(uid, in->tx_id, in->output_index);
        if (lx__dn_map_get(&c->spending, uid) == r)
            lx__dn_map_del(&c->spending, uid);
    }
}

static lx_err enqueue(lx__dn *d, int ci, lx__dn_tx *tx)
{
    chain *c = &d->ch[ci];
    if (c->npool == c->poolcap) {
        size_t cap = c->poolcap ? c->poolcap * 2 : 256;
        txrec **p = realloc(c->pool, cap * sizeof *p);
        if (!p)
            return LX_ENOMEM;
        c->pool = p;
        c->poolcap = cap;
    }
    txrec *r = calloc(1, sizeof *r);
    if (!r)
        return LX_ENOMEM;
    memcpy(r->id, tx->id, LX__DN_ID);
    r->status = LX__DN_PROCESSING;
    r->tx = tx;
    lx_err err = lx__dn_map_put(&c->txs, r->id, r);
    for (size_t i = 0; !err && i < tx->ninputs; i++) {
        const lx_xin *in = lx__dn_tx_input(tx, i);
        uint8_t uid[LX__DN_ID];
        lx__dn_utxo_id(uid, in->tx_id, in->output_index);
        err = lx__dn_map_put(&c->spending, uid, r);
    }
    if (err) {
        unspend(c, tx, r);
        lx__dn_map_del(&c->txs, r->id);
        r->tx = NULL;
        free(r);
        return err == LX_EEXIST ? LX_ESTATE : err;
    }
    c->pool[c->npool++] = r;
    return LX_OK;
}

lx_err lx__dn_issue(lx__dn *d, uint8_t txid[LX__DN_ID], char *msg, size_t msglen, int ci,
                    const uint8_t *buf, size_t len)
{
    if (!d || !txid || ci < 0 || ci >= LX__DN_CHAINS || (!buf && len))
        return LX_EINVAL;
    if (len > LX__DN_TX_MAX) {
        snprintf(msg, msglen, "tx is %zu bytes, over the %d-byte limit", len, LX__DN_TX_MAX);
        return LX_ETOOBIG;
    }
    lx__dn_tx *tx = NULL;
    lx_err err = lx__dn_tx_decode(&tx, msg, msglen, buf, len);
    if (err)
        return err;
    memcpy(txid, tx->id, LX__DN_ID);
    pthread_mutex_lock(&d->mu);
    chain *c = &d->ch[ci];
    if (lx__dn_map_get(&c->txs, tx->id)) {
        err = LX_OK; /* already known: issuing is idempotent */
    } else {
        uint64_t now = wall_seconds();
        if (now < c->timestamp)
            now = c->timestamp;
        err = check(d, ci, tx, NULL, now, msg, msglen);
        if (!err) {
            err = enqueue(d, ci, tx);
            if (!err)
                tx = NULL;
            else
                snprintf(msg, msglen, "%s", lx_strerror(err));
        }
    }
    pthread_mutex_unlock(&d->mu);
    lx__dn_tx_free(&tx);
    return err;
}

/* ---- blocks ---- */

static lx_err build_block(lx__dn *d, size_t *accepted, int ci, uint64_t now)
{
    chain *c = &d->ch[ci];
    uint64_t ts = now > c->timestamp ? now : c->timestamp;
    size_t n = 0;
    /* Re-verify at the block time, drop what no longer holds, keep order. */
    for (size_t i = 0; i < c->npool; i++) {
        txrec *r = c->pool[i];
        char why[LX__DN_MSG];
        if (check(d, ci, r->tx, r, ts, why, sizeof why) != LX_OK) {
            if (d->log)
                fprintf(d->log, "lx-devnet: chain %c: tx dropped from block: %s\n", alias[ci], why);
            unspend(c, r->tx, r);
            lx__dn_tx_free(&r->tx);
            r->status = LX__DN_REJECTED;
            continue;
        }
        c->pool[n++] = r;
    }
    c->npool = n;
    if (n == 0)
        return LX_OK;
    const uint8_t **txs = malloc(n * sizeof *txs);
    size_t *lens = malloc(n * sizeof *lens);
    lx_err err = LX_ENOMEM;
    if (!txs || !lens)
        goto out;
    for (size_t i = 0; i < n; i++) {
        txs[i] = c->pool[i]->tx->bytes;
        lens[i] = c->pool[i]->tx->len;
    }
    lx__dn_block b = {ci, c->height + 1, ts, n, txs, lens};
    if (d->store && (err = lx__dn_store_append(d->store, &b)))
        goto out; /* nothing applied: the txs stay pending */
    for (size_t i = 0; i < n; i++) {
        txrec *r = c->pool[i];
        err = apply(d, ci, r->tx);
        LX_ASSERT(err == LX_OK || err == LX_ENOMEM);
        if (err)
            goto out;
        unspend(c, r->tx, r);
        r->bytes = r->tx->bytes;
        r->len = r->tx->len;
        r->tx->bytes = NULL;
        lx__dn_tx_free(&r->tx);
        r->status = LX__DN_ACCEPTED;
    }
    c->npool = 0;
    c->height++;
    c->timestamp = ts;
    *accepted += n;
    if (d->log) {
        fprintf(d->log, "lx-devnet: accepted block chain=%c height=%llu time=%llu txs=%zu\n",
                alias[ci], (unsigned long long)c->height, (unsigned long long)ts, n);
        fflush(d->log);
    }
    err = LX_OK;
out:
    free(txs);
    free(lens);
    return err;
}

lx_err lx__dn_build_blocks(lx__dn *d, size_t *accepted, uint64_t now)
{
    if (!d || !accepted)
        return LX_EINVAL;
    *accepted = 0;
    lx_err err = LX_OK;
    pthread_mutex_lock(&d->mu);
    for (int ci = 0; ci < LX__DN_CHAINS && !err; ci++)
        err = build_block(d, accepted, ci, now);
    pthread_mutex_unlock(&d->mu);
    return err;
}

/* ---- queries ---- */

lx__dn_status lx__dn_status_of(lx__dn *d, int ci, const uint8_t txid[LX__DN_ID])
{
    if (!d || ci < 0 || ci >= LX__DN_CHAINS)
        return LX__DN_UNKNOWN;
    pthread_mutex_lock(&d->mu);
    const txrec *r = lx__dn_map_get(&d->ch[ci].txs, txid);
    lx__dn_status s = r ? r->status : LX__DN_UNKNOWN;
    pthread_mutex_unlock(&d->mu);
    return s;
}

lx_err lx__dn_get_tx(lx__dn *d, uint8_t **out, size_t *out_len, int ci,
                     const uint8_t txid[LX__DN_ID])
{
    if (!d || !out || !out_len || ci < 0 || ci >= LX__DN_CHAINS)
        return LX_EINVAL;
    lx_err err = LX_ENOTFOUND;
    pthread_mutex_lock(&d->mu);
    const txrec *r = lx__dn_map_get(&d->ch[ci].txs, txid);
    if (r && r->status == LX__DN_ACCEPTED) {
        *out = malloc(r->len);
        err = *out ? LX_OK : LX_ENOMEM;
        if (*out) {
            memcpy(*out, r->bytes, r->len);
            *out_len = r->len;
        }
    }
    pthread_mutex_unlock(&d->mu);
    return err;
}

uint64_t lx__dn_height(lx__dn *d, int ci)
{
    pthread_mutex_lock(&d->mu);
    uint64_t h = d->ch[ci].height;
    pthread_mutex_unlock(&d->mu);
    return h;
}

size_t lx__dn_address_txs(lx__dn *d, int ci, const uint8_t addr[LX__DN_ADDR],
                          const uint8_t asset[LX__DN_ID], uint64_t cursor, size_t limit,
                          lx__dn_txid_fn fn, void *arg)
{
    uint8_t key[LX__DN_ID];
    addrtxs_key(key, addr, asset);
    size_t fetched = 0;
    pthread_mutex_lock(&d->mu);
    const addrtxs *a = lx__dn_map_get(&d->ch[ci].addrtxs, key);
    for (uint64_t i = cursor; a && i < a->n && fetched < limit; i++, fetched++)
        fn(arg, a->ids[i]);
    pthread_mutex_unlock(&d->mu);
    return fetched;
}

typedef struct owned {
    const uint8_t *addr;
    const lx__dn_utxo *u;
} owned;

static int owned_cmp(const void *a, const void *b)
{
    const owned *x = a, *y = b;
    int r = memcmp(x->addr, y->addr, LX__DN_ADDR);
    return r ? r : memcmp(x->u->id, y->u->id, LX__DN_ID);
}

static int addr_cmp(const void *a, const void *b)
{
    return memcmp(a, b, LX__DN_ADDR);
}

size_t lx__dn_utxos(lx__dn *d, int ci, int source, const uint8_t (*addrs)[LX__DN_ADDR],
                    size_t naddrs, bool has_start, const uint8_t start_addr[LX__DN_ADDR],
                    const uint8_t start_utxo[LX__DN_ID], size_t limit,
                    uint8_t end_addr[LX__DN_ADDR], uint8_t end_utxo[LX__DN_ID], lx__dn_utxo_fn fn,
                    void *arg)
{
    size_t fetched = 0;
    pthread_mutex_lock(&d->mu);
    const lx__dn_map *m = source < 0 ? &d->ch[ci].utxos : &d->ch[ci].inbox;
    owned *v = NULL;
    size_t n = 0, cap = 0, pos = 0;
    const lx__dn_utxo *u;
    while ((u = lx__dn_map_next(m, &pos))) {
        if (source >= 0 && u->source != source)
            continue;
        for (size_t k = 0; k < u->out.naddrs; k++) {
            const uint8_t *a =
                bsearch(u->out.addrs + k * LX__DN_ADDR, addrs, naddrs, LX__DN_ADDR, addr_cmp);
            if (!a)
                continue;
            if (n == cap) {
                size_t nc = cap ? cap * 2 : 64;
                owned *nv = realloc(v, nc * sizeof *nv);
                if (!nv)
                    goto out; /* a short page; the caller sees fewer */
                v = nv;
                cap = nc;
            }
            v[n].addr = a;
            v[n].u = u;
            n++;
        }
    }
    if (n)
        qsort(v, n, sizeof *v, owned_cmp);
    lx__dn_map seen;
    lx__dn_map_init(&seen);
    for (size_t i = 0; i < n && fetched < limit; i++) {
        if (has_start) {
            int r = memcmp(v[i].addr, start_addr, LX__DN_ADDR);
            if (r < 0 || (r == 0 && memcmp(v[i].u->id, start_utxo, LX__DN_ID) <= 0))
                continue;
        }
        /* A UTXO of several listed owners is returned once. */
        if (lx__dn_map_put(&seen, v[i].u->id, (void *)v[i].u) != LX_OK)
            continue;
        fn(arg, v[i].u);
        memcpy(end_addr, v[i].addr, LX__DN_ADDR);
        memcpy(end_utxo, v[i].u->id, LX__DN_ID);
        fetched++;
    }
    lx__dn_map_free(&seen);
out:
    free(v);
    pthread_mutex_unlock(&d->mu);
    return fetched;
}

lx_err lx__dn_balance(lx__dn *d, uint64_t *total, int ci, const uint8_t addr[LX__DN_ADDR],
                      const uint8_t asset[LX__DN_ID], bool partial, lx__dn_utxo_fn fn, void *arg)
{
    lx_err err = LX_OK;
    *total = 0;
    pthread_mutex_lock(&d->mu);
    uint64_t now = wall_seconds();
    size_t pos = 0;
    const lx__dn_utxo *u;
    while ((u = lx__dn_map_next(&d->ch[ci].utxos, &pos))) {
        if (memcmp(u->out.asset_id, asset, LX__DN_ID) != 0)
            continue;
        bool mine = false;
        for (size_t k = 0; k < u->out.naddrs && !mine; k++)
            mine = memcmp(u->out.addrs + k * LX__DN_ADDR, addr, LX__DN_ADDR) == 0;
        /* Like luxd: without includePartial only UTXOs that addr alone can
         * spend now are counted. */
        if (!mine || (!partial && (u->out.naddrs != 1 || u->out.locktime > now)))
            continue;
        if (*total > UINT64_MAX - u->out.amount) {
            err = LX_EOVERFLOW;
            break;
        }
        *total += u->out.amount;
        fn(arg, u);
    }
    pthread_mutex_unlock(&d->mu);
    return err;
}
