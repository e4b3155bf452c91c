/* The settlement audit: walks the chain of a channel's settlement txs (each
 * spends the previous one's change) and checks memo, numbering, signatures,
 * outputs, value flow, stored batches and conservation. Pure: the txs, the
 * channel's UTXOs and the batches are handed in (audit_rpc.c fetches them). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit_int.h"
#include "lx/bridge.h"

typedef unsigned __int128 u128;
typedef __int128 i128;

/* One accepted tx that touched the channel. */
typedef struct atx {
    uint8_t id[LX_ID_LEN];
    lx_tx *tx;
    uint8_t *bytes;
    size_t len;
    bool memo_ok; /* the memo parses as a settlement memo */
    uint64_t number;
    uint8_t hash[LX_SHA256_LEN];
    bool spends_channel; /* some input spends a channel UTXO */
    bool visited;        /* in the chain of settlements */
    char bad[64];        /* why the bytes did not decode (tx is NULL) */
} atx;

/* A spent UTXO and the tx that spent it. */
typedef struct spend {
    uint8_t tx_id[LX_ID_LEN];
    uint32_t index;
    size_t by; /* index into txs */
} spend;

typedef struct sbatch {
    lx_batch *batch;
    uint64_t number;
    uint8_t hash[LX_SHA256_LEN];
    bool has_tx_id;
    uint8_t tx_id[LX_ID_LEN];
} sbatch;

struct lx_audit {
    lx_audit_config cfg;
    lx_channel ch;
    uint8_t owners[LX_OWNERS_MAX * LX_ADDR_LEN];
    atx *txs;
    size_t ntxs, txcap;
    size_t *byid; /* indices into txs, sorted by tx ID */
    lx_utxo **utxos;
    size_t nutxos;
    bool has_utxos;
    sbatch *batches;
    size_t nbatches, batchcap;
    /* the last run */
    lx_audit_settlement *sett;
    size_t nsett, settcap;
    lx_audit_asset *assets;
    size_t nassets, assetcap;
    lx_audit_problem *probs;
    size_t nprobs, probcap;
    spend *spends;
    size_t nspends;
    lx_audit_report report;
};

static bool grow(void **v, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return true;
    size_t nc = *cap ? *cap * 2 : 16;
    void *p = realloc(*v, nc * size);
    if (p == NULL)
        return false;
    *v = p;
    *cap = nc;
    return true;
}

static bool is_channel_owned(const lx_xout *o, const lx_channel *ch)
{
    return o->threshold == ch->threshold && o->naddrs == ch->nowners &&
           memcmp(o->addrs, ch->owners, ch->nowners * LX_ADDR_LEN) == 0;
}

/* Change has the channel's form and no locktime (lx_settle_change). */
static bool is_change(const lx_xout *o, const lx_channel *ch)
{
    return o->locktime == 0 && is_channel_owned(o, ch);
}

lx_err lx_audit_new(lx_audit **a, const lx_audit_config *cfg)
{
    if (a == NULL)
        return LX_EINVAL;
    *a = NULL;
    if (cfg == NULL || cfg->channel == NULL || cfg->channel->owners == NULL)
        return LX_EINVAL;
    uint8_t id[LX_CHANNEL_ID_LEN];
    lx_err err = lx_channel_id(id, cfg->channel, cfg->network_id, cfg->blockchain_id);
    if (err != LX_OK)
        return err;
    lx_audit *x = calloc(1, sizeof *x);
    if (x == NULL)
        return LX_ENOMEM;
    x->cfg = *cfg;
    memcpy(x->owners, cfg->channel->owners, cfg->channel->nowners * LX_ADDR_LEN);
    x->ch = *cfg->channel;
    x->ch.owners = x->owners;
    x->cfg.channel = &x->ch;
    *a = x;
    return LX_OK;
}

const lx_audit_config *lx__audit_config(const lx_audit *a)
{
    return a ? &a->cfg : NULL;
}

static void clear_run(lx_audit *a)
{
    a->nsett = a->nassets = a->nprobs = 0;
    free(a->spends);
    a->spends = NULL;
    a->nspends = 0;
    for (size_t i = 0; i < a->ntxs; i++)
        a->txs[i].visited = false;
}

void lx_audit_free(lx_audit **ap)
{
    if (ap == NULL || *ap == NULL)
        return;
    lx_audit *a = *ap;
    for (size_t i = 0; i < a->ntxs; i++) {
        lx_tx_free(&a->txs[i].tx);
        free(a->txs[i].bytes);
    }
    free(a->txs);
    free(a->byid);
    for (size_t i = 0; i < a->nutxos; i++)
        lx_utxo_free(&a->utxos[i]);
    free(a->utxos);
    for (size_t i = 0; i < a->nbatches; i++)
        lx_batch_free(&a->batches[i].batch);
    free(a->batches);
    free(a->sett);
    free(a->assets);
    free(a->probs);
    free(a->spends);
    free(a);
    *ap = NULL;
}

static lx_err problem(lx_audit *a, const uint8_t *tx_id, lx_err err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static lx_err problem(lx_audit *a, const uint8_t *tx_id, lx_err err, const char *fmt, ...)
{
    if (!grow((void **)&a->probs, &a->probcap, a->nprobs, sizeof *a->probs))
        return LX_ENOMEM;
    lx_audit_problem *p = &a->probs[a->nprobs++];
    memset(p, 0, sizeof *p);
    p->has_tx = tx_id != NULL;
    if (tx_id != NULL)
        memcpy(p->tx_id, tx_id, LX_ID_LEN);
    p->err = err;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->why, sizeof p->why, fmt, ap);
    va_end(ap);
    return LX_OK;
}

/* The position in byid where id is or would go. */
static size_t byid_pos(const lx_audit *a, const uint8_t id[LX_ID_LEN], bool *found)
{
    size_t lo = 0, hi = a->ntxs;
    *found = false;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int r = memcmp(a->txs[a->byid[mid]].id, id, LX_ID_LEN);
        if (r == 0) {
            *found = true;
            return mid;
        }
        if (r < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static atx *find_tx(const lx_audit *a, const uint8_t id[LX_ID_LEN])
{
    bool found = false;
    size_t pos = byid_pos(a, id, &found);
    return found ? &a->txs[a->byid[pos]] : NULL;
}

lx_err lx_audit_add_tx(lx_audit *a, const uint8_t *bytes, size_t len)
{
    if (a == NULL || bytes == NULL || len == 0)
        return LX_EINVAL;
    uint8_t id[LX_ID_LEN];
    lx_err err = lx_sha256(id, bytes, len);
    if (err != LX_OK)
        return err;
    bool found = false;
    size_t pos = byid_pos(a, id, &found);
    if (found)
        return LX_OK;
    size_t cap = a->txcap;
    if (!grow((void **)&a->txs, &a->txcap, a->ntxs, sizeof *a->txs))
        return LX_ENOMEM;
    if (a->txcap != cap || a->byid == NULL) {
        size_t *b = realloc(a->byid, a->txcap * sizeof *b);
        if (b == NULL)
            return LX_ENOMEM;
        a->byid = b;
    }
    atx *t = &a->txs[a->ntxs];
    memset(t, 0, sizeof *t);
    memcpy(t->id, id, LX_ID_LEN);
    const char *why = NULL;
    err = lx_tx_decode(&t->tx, &why, bytes, len);
    if (err == LX_OK && (t->bytes = malloc(len)) == NULL) {
        lx_tx_free(&t->tx);
        return LX_ENOMEM;
    }
    if (err != LX_OK) {
        /* Kept without a body, so every run reports it. */
        snprintf(t->bad, sizeof t->bad, "%s", why ? why : lx_strerror(err));
    } else {
        memcpy(t->bytes, bytes, len);
        t->len = len;
        const lx_tx_spec *v = lx_tx_view(t->tx);
        t->memo_ok = lx_settle_memo_parse(&t->number, t->hash, v->memo, v->memo_len) == LX_OK;
    }
    memmove(a->byid + pos + 1, a->byid + pos, (a->ntxs - pos) * sizeof *a->byid);
    a->byid[pos] = a->ntxs++;
    return err;
}

lx_err lx_audit_set_utxos(lx_audit *a, const lx_xutxo *utxos, size_t n)
{
    if (a == NULL || (utxos == NULL && n > 0))
        return LX_EINVAL;
    for (size_t i = 0; i < a->nutxos; i++)
        lx_utxo_free(&a->utxos[i]);
    free(a->utxos);
    a->utxos = NULL;
    a->nutxos = 0;
    a->has_utxos = false;
    if (n > 0 && (a->utxos = calloc(n, sizeof *a->utxos)) == NULL)
        return LX_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (!is_channel_owned(&utxos[i].out, &a->ch))
            continue;
        lx_err err = lx_utxo_new(&a->utxos[a->nutxos], &utxos[i]);
        if (err != LX_OK)
            return err;
        a->nutxos++;
    }
    a->has_utxos = true;
    return LX_OK;
}

lx_err lx_audit_add_batch(lx_audit *a, const lx_batch *batch, const uint8_t tx_id[LX_ID_LEN])
{
    if (a == NULL || batch == NULL)
        return LX_EINVAL;
    lx_batch_info info;
    uint8_t hash[LX_SHA256_LEN];
    lx_err err = lx_batch_info_get(batch, &info);
    if (err == LX_OK)
        err = lx_batch_hash(batch, hash);
    if (err != LX_OK)
        return err;
    for (size_t i = 0; i < a->nbatches; i++)
        if (a->batches[i].number == info.number)
            return LX_EEXIST;
    /* A copy through the encoding: the audit needs only what it carries. */
    size_t len = lx_batch_encoded_len(batch);
    uint8_t *enc = malloc(len);
    if (enc == NULL)
        return LX_ENOMEM;
    lx_batch *copy = NULL;
    err = lx_batch_encode(batch, enc, len, &len);
    if (err == LX_OK)
        err = lx_batch_decode(&copy, enc, len);
    free(enc);
    if (err == LX_OK && !grow((void **)&a->batches, &a->batchcap, a->nbatches, sizeof *a->batches))
        err = LX_ENOMEM;
    if (err != LX_OK) {
        lx_batch_free(&copy);
        return err;
    }
    sbatch *s = &a->batches[a->nbatches++];
    memset(s, 0, sizeof *s);
    s->batch = copy;
    s->number = info.number;
    memcpy(s->hash, hash, LX_SHA256_LEN);
    s->has_tx_id = tx_id != NULL;
    if (tx_id != NULL)
        memcpy(s->tx_id, tx_id, LX_ID_LEN);
    return LX_OK;
}

static const sbatch *find_batch(const lx_audit *a, uint64_t number)
{
    for (size_t i = 0; i < a->nbatches; i++)
        if (a->batches[i].number == number)
            return &a->batches[i];
    return NULL;
}

/* ---- spends: which tx spent which UTXO ---- */

static int spend_cmp(const void *x, const void *y)
{
    const spend *p = x, *q = y;
    int r = memcmp(p->tx_id, q->tx_id, LX_ID_LEN);
    if (r != 0)
        return r;
    return p->index < q->index ? -1 : p->index > q->index;
}

static lx_err index_spends(lx_audit *a)
{
    size_t n = 0;
    for (size_t i = 0; i < a->ntxs; i++)
        if (a->txs[i].tx != NULL)
            n += lx_tx_view(a->txs[i].tx)->nins;
    a->spends = calloc(n ? n : 1, sizeof *a->spends);
    if (a->spends == NULL)
        return LX_ENOMEM;
    for (size_t i = 0; i < a->ntxs; i++) {
        if (a->txs[i].tx == NULL)
            continue;
        const lx_tx_spec *v = lx_tx_view(a->txs[i].tx);
        for (size_t k = 0; k < v->nins; k++) {
            spend *s = &a->spends[a->nspends++];
            memcpy(s->tx_id, v->ins[k].tx_id, LX_ID_LEN);
            s->index = v->ins[k].output_index;
            s->by = i;
        }
    }
    qsort(a->spends, a->nspends, sizeof *a->spends, spend_cmp);
    return LX_OK;
}

/* The tx that spent (tx_id, index), or NULL. */
static atx *spender(const lx_audit *a, const uint8_t tx_id[LX_ID_LEN], uint32_t index)
{
    spend key;
    memcpy(key.tx_id, tx_id, LX_ID_LEN);
    key.index = index;
    const spend *s = bsearch(&key, a->spends, a->nspends, sizeof key, spend_cmp);
    return s ? &a->txs[s->by] : NULL;
}

/* The output a tx input spends, when the tx that made it is known. */
static const lx_xout *spent_out(const lx_audit *a, const lx_xin *in)
{
    const atx *t = find_tx(a, in->tx_id);
    if (t == NULL || t->tx == NULL)
        return NULL;
    const lx_tx_spec *v = lx_tx_view(t->tx);
    return in->output_index < v->nouts ? &v->outs[in->output_index] : NULL;
}

/* ---- one settlement ---- */

static lx_err fail(lx_audit_settlement *s, lx_err err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static lx_err fail(lx_audit_settlement *s, lx_err err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->why, sizeof s->why, fmt, ap);
    va_end(ap);
    s->err = err;
    return err;
}

static void id_text(char out[LX_CB58_ID_MAX], const uint8_t id[LX_ID_LEN])
{
    if (lx_id_to_cb58(out, id) != LX_OK)
        snprintf(out, LX_CB58_ID_MAX, "?");
}

/* Outputs are change or withdrawals; per asset inputs = outputs, and in
 * the fee asset inputs >= outputs (the difference is the fee). */
static lx_err check_value(lx_audit_settlement *s, const lx_audit *a, const lx_tx_spec *v)
{
    for (size_t i = 0; i < v->nouts; i++) {
        const lx_xout *o = &v->outs[i];
        if (is_change(o, &a->ch)) {
            for (size_t j = 0; j < i; j++)
                if (is_change(&v->outs[j], &a->ch) &&
                    memcmp(v->outs[j].asset_id, o->asset_id, LX_ID_LEN) == 0)
                    return fail(s, LX_ECORRUPT, "outputs %zu and %zu: two changes in one asset", j,
                                i);
            continue;
        }
        if (o->threshold != 1 || o->naddrs != 1 || o->locktime != 0)
            return fail(s, LX_ECORRUPT,
                        "output %zu is neither change to the channel nor a withdrawal payment", i);
        s->nwithdrawals++;
    }
    for (size_t k = 0; k < v->nins + v->nouts; k++) {
        const uint8_t *asset = k < v->nins ? v->ins[k].asset_id : v->outs[k - v->nins].asset_id;
        u128 in = 0, out = 0;
        for (size_t i = 0; i < v->nins; i++)
            if (memcmp(v->ins[i].asset_id, asset, LX_ID_LEN) == 0)
                in += v->ins[i].amount;
        for (size_t i = 0; i < v->nouts; i++)
            if (memcmp(v->outs[i].asset_id, asset, LX_ID_LEN) == 0)
                out += v->outs[i].amount;
        bool fee_asset = memcmp(asset, a->cfg.fee_asset, LX_ID_LEN) == 0;
        if (fee_asset ? in < out : in != out) {
            char name[LX_CB58_ID_MAX];
            id_text(name, asset);
            return fail(s, LX_ECORRUPT, "asset %s: inputs %llu, outputs %llu", name,
                        (unsigned long long)in, (unsigned long long)out);
        }
        if (fee_asset)
            s->fee = (uint64_t)(in - out);
    }
    return LX_OK;
}

/* The checks of docs/settlement.md, "lx-audit", in order; the first that
 * fails is kept in s. prev is the previous settlement of the chain. */
static lx_err check_settlement(lx_audit *a, lx_audit_settlement *s, const atx *t, const atx *prev,
                               uint64_t expected)
{
    memset(s, 0, sizeof *s);
    memcpy(s->tx_id, t->id, LX_ID_LEN);
    snprintf(s->why, sizeof s->why, "ok");
    const lx_tx_spec *v = lx_tx_view(t->tx);
    s->ninputs = v->nins;
    if (t->memo_ok) {
        s->number = t->number;
        memcpy(s->batch_hash, t->hash, LX_SHA256_LEN);
    }
    if (v->kind != LX_TX_BASE || v->network_id != a->cfg.network_id ||
        memcmp(v->blockchain_id, a->cfg.blockchain_id, LX_ID_LEN) != 0)
        return fail(s, LX_EFORMAT, "not a BaseTx of this network and chain");
    if (!t->memo_ok)
        return fail(s, LX_ECORRUPT, "memo is not a settlement memo");
    if (t->number != expected)
        return fail(s, LX_ESTATE, "settles batch %llu where batch %llu was next",
                    (unsigned long long)t->number, (unsigned long long)expected);
    /* The previous settlement's change, as lx_settle_change finds it. */
    const lx_tx_spec *pv = prev != NULL ? lx_tx_view(prev->tx) : NULL;
    for (size_t c = 0; pv != NULL && c < pv->nouts; c++) {
        if (!is_change(&pv->outs[c], &a->ch))
            continue;
        size_t i = 0;
        while (i < v->nins &&
               !(v->ins[i].output_index == c && memcmp(v->ins[i].tx_id, prev->id, LX_ID_LEN) == 0))
            i++;
        if (i == v->nins)
            return fail(s, LX_ESTATE, "does not spend change output %zu of the previous settlement",
                        c);
    }
    for (size_t i = 0; i < v->nins; i++) {
        const lx_xout *o = spent_out(a, &v->ins[i]);
        if (o == NULL || !is_channel_owned(o, &a->ch))
            return fail(s, LX_EPERM, "input %zu does not spend a channel UTXO", i);
    }
    char why[LX_AUDIT_WHY_MAX];
    lx_err err = lx_settle_tx_check_sigs(why, sizeof why, t->tx, &a->ch);
    if (err != LX_OK)
        return fail(s, err, "%s", why);
    if ((err = check_value(s, a, v)) != LX_OK)
        return err;
    const sbatch *b = find_batch(a, t->number);
    if (b == NULL) {
        if (a->cfg.require_batches)
            return fail(s, LX_ENOTFOUND, "batch %llu is not among the stored batches",
                        (unsigned long long)t->number);
        return LX_OK;
    }
    s->batch = LX_AUDIT_BATCH_MISMATCH;
    if (memcmp(b->hash, t->hash, LX_SHA256_LEN) != 0)
        return fail(s, LX_ECORRUPT, "memo names another hash than the stored batch %llu",
                    (unsigned long long)t->number);
    err = lx_settle_tx_audit(why, sizeof why, t->bytes, t->len, b->batch, &a->ch, a->cfg.network_id,
                             a->cfg.blockchain_id);
    if (err != LX_OK)
        return fail(s, err, "against the stored batch: %s", why);
    if (b->has_tx_id && memcmp(b->tx_id, t->id, LX_ID_LEN) != 0)
        return fail(s, LX_ECORRUPT, "the data dir records another txID for batch %llu",
                    (unsigned long long)t->number);
    s->batch = LX_AUDIT_BATCH_MATCH;
    return LX_OK;
}

/* ---- the walk ---- */

/* The settlement the chain starts at, or NULL when there is none. */
static atx *first_settlement(lx_audit *a)
{
    if (a->cfg.has_first) {
        atx *t = find_tx(a, a->cfg.first_tx);
        return t != NULL && t->tx != NULL ? t : NULL;
    }
    /* A root spends channel UTXOs none of which a settlement made. Among
     * the roots the lowest batch number wins; the others are reported as
     * not in the chain. */
    atx *best = NULL;
    for (size_t i = 0; i < a->ntxs; i++) {
        atx *t = &a->txs[i];
        if (t->tx == NULL || !t->spends_channel)
            continue;
        const lx_tx_spec *v = lx_tx_view(t->tx);
        bool root = true;
        for (size_t k = 0; k < v->nins && root; k++) {
            const atx *maker = find_tx(a, v->ins[k].tx_id);
            root = maker == NULL || !maker->spends_channel;
        }
        if (root && (best == NULL || (t->memo_ok && (!best->memo_ok || t->number < best->number))))
            best = t;
    }
    return best;
}

/* The settlement that spends t's change, or NULL. More than one cannot be
 * accepted on a chain, but is reported if the txs say so. */
static lx_err next_settlement(lx_audit *a, atx **next, const atx *t)
{
    *next = NULL;
    const lx_tx_spec *v = lx_tx_view(t->tx);
    for (size_t i = 0; i < v->nouts; i++) {
        if (!is_channel_owned(&v->outs[i], &a->ch))
            continue;
        atx *by = spender(a, t->id, (uint32_t)i);
        if (by == NULL || by == *next)
            continue;
        if (*next != NULL)
            return problem(a, t->id, LX_ESTATE, "its change is spent by two txs");
        *next = by;
    }
    return LX_OK;
}

static lx_err walk(lx_audit *a)
{
    atx *t = first_settlement(a);
    if (t == NULL) {
        if (a->cfg.has_first)
            return problem(a, a->cfg.first_tx, LX_ENOTFOUND,
                           "the given first settlement is not among the channel's txs");
        return LX_OK;
    }
    uint64_t expected = a->cfg.has_first && t->memo_ok ? t->number : 1;
    const atx *prev = NULL;
    while (t != NULL && !t->visited) {
        if (!grow((void **)&a->sett, &a->settcap, a->nsett, sizeof *a->sett))
            return LX_ENOMEM;
        lx_audit_settlement *s = &a->sett[a->nsett++];
        if (check_settlement(a, s, t, prev, expected) != LX_OK &&
            problem(a, t->id, s->err, "settlement of batch %llu: %s", (unsigned long long)s->number,
                    s->why) != LX_OK)
            return LX_ENOMEM;
        t->visited = true;
        expected = (t->memo_ok ? t->number : expected) + 1;
        prev = t;
        lx_err err = next_settlement(a, &t, t);
        if (err != LX_OK)
            return err;
    }
    /* The last change must still be the channel's. */
    if (prev != NULL && a->has_utxos) {
        const lx_tx_spec *v = lx_tx_view(prev->tx);
        for (size_t i = 0; i < v->nouts; i++) {
            if (!is_change(&v->outs[i], &a->ch))
                continue;
            bool found = false;
            for (size_t k = 0; k < a->nutxos && !found; k++) {
                const lx_xutxo *u = lx_utxo_view(a->utxos[k]);
                found = u->output_index == i && memcmp(u->tx_id, prev->id, LX_ID_LEN) == 0;
            }
            if (!found && problem(a, prev->id, LX_ESTATE,
                                  "change output %zu of the last settlement is spent by no known "
                                  "tx",
                                  i) != LX_OK)
                return LX_ENOMEM;
        }
    }
    return LX_OK;
}

/* ---- conservation ---- */

typedef struct sums {
    uint8_t asset_id[LX_ID_LEN];
    i128 deposits, withdrawals, fees, on_chain;
} sums;

static sums *sums_of(sums *v, size_t *n, size_t cap, const uint8_t asset[LX_ID_LEN])
{
    for (size_t i = 0; i < *n; i++)
        if (memcmp(v[i].asset_id, asset, LX_ID_LEN) == 0)
            return &v[i];
    if (*n == cap)
        return NULL;
    sums *s = &v[(*n)++];
    memset(s, 0, sizeof *s);
    memcpy(s->asset_id, asset, LX_ID_LEN);
    return s;
}

static lx_err conservation(lx_audit *a)
{
    size_t cap = a->nutxos + 1;
    for (size_t i = 0; i < a->ntxs; i++)
        if (a->txs[i].tx != NULL)
            cap += lx_tx_view(a->txs[i].tx)->nouts + lx_tx_view(a->txs[i].tx)->nins;
    sums *v = calloc(cap, sizeof *v);
    if (v == NULL)
        return LX_ENOMEM;
    size_t n = 0;
    sums_of(v, &n, cap, a->cfg.fee_asset);
    for (size_t i = 0; i < a->ntxs; i++) {
        const atx *t = &a->txs[i];
        if (t->tx == NULL)
            continue;
        const lx_tx_spec *tv = lx_tx_view(t->tx);
        for (size_t k = 0; k < tv->nouts; k++) {
            const lx_xout *o = &tv->outs[k];
            sums *s = sums_of(v, &n, cap, o->asset_id);
            LX_ASSERT(s != NULL);
            if (!t->visited && is_channel_owned(o, &a->ch))
                s->deposits += o->amount;
            if (t->visited && !is_change(o, &a->ch))
                s->withdrawals += o->amount;
            if (t->visited) /* a settlement's fee: its inputs minus its outputs */
                s->fees -= o->amount;
        }
        for (size_t k = 0; t->visited && k < tv->nins; k++) {
            sums *s = sums_of(v, &n, cap, tv->ins[k].asset_id);
            LX_ASSERT(s != NULL);
            s->fees += tv->ins[k].amount;
        }
    }
    for (size_t k = 0; k < a->nutxos; k++) {
        const lx_xutxo *u = lx_utxo_view(a->utxos[k]);
        sums *s = sums_of(v, &n, cap, u->out.asset_id);
        LX_ASSERT(s != NULL);
        s->on_chain += u->out.amount;
    }
    lx_err err = LX_OK;
    a->assets = calloc(n, sizeof *a->assets);
    a->assetcap = n;
    if (a->assets == NULL)
        err = LX_ENOMEM;
    for (size_t i = 0; err == LX_OK && i < n; i++) {
        sums *s = &v[i];
        if (s->deposits == 0 && s->withdrawals == 0 && s->fees == 0 && s->on_chain == 0)
            continue;
        lx_audit_asset *r = &a->assets[a->nassets++];
        memcpy(r->asset_id, s->asset_id, LX_ID_LEN);
        bool fits = s->deposits <= (i128)UINT64_MAX && s->withdrawals <= (i128)UINT64_MAX &&
                    s->fees >= 0 && s->fees <= (i128)UINT64_MAX && s->on_chain <= (i128)UINT64_MAX;
        r->deposits = (uint64_t)s->deposits;
        r->withdrawals = (uint64_t)s->withdrawals;
        r->fees = (uint64_t)s->fees;
        r->on_chain = (uint64_t)s->on_chain;
        r->ok = fits && s->deposits - s->withdrawals - s->fees == s->on_chain;
        if (!r->ok) {
            char name[LX_CB58_ID_MAX];
            id_text(name, s->asset_id);
            err = problem(a, NULL, LX_ECORRUPT,
                          "asset %s does not conserve: deposits %llu - withdrawals %llu - fees "
                          "%llu, but the channel holds %llu",
                          name, (unsigned long long)r->deposits, (unsigned long long)r->withdrawals,
                          (unsigned long long)r->fees, (unsigned long long)r->on_chain);
        }
    }
    free(v);
    return err;
}

/* ---- stored batches ---- */

static lx_err check_batches(lx_audit *a)
{
    uint8_t chid[LX_CHANNEL_ID_LEN];
    lx_err err = lx_channel_id(chid, &a->ch, a->cfg.network_id, a->cfg.blockchain_id);
    if (err != LX_OK)
        return err;
    uint64_t last = 0;
    for (size_t i = 0; i < a->nsett; i++)
        if (a->sett[i].number > last)
            last = a->sett[i].number;
    a->report.unsettled_from = last + 1;
    a->report.nunsettled = 0;
    for (size_t i = 0; i < a->nbatches; i++) {
        const sbatch *b = &a->batches[i];
        lx_batch_info info;
        if ((err = lx_batch_info_get(b->batch, &info)) != LX_OK)
            return err;
        if (memcmp(info.channel_id, chid, LX_CHANNEL_ID_LEN) != 0)
            err = problem(a, NULL, LX_ECORRUPT, "stored batch %llu belongs to another channel",
                          (unsigned long long)b->number);
        const sbatch *p = b->number > 1 ? find_batch(a, b->number - 1) : NULL;
        if (err == LX_OK && p != NULL && lx_batch_follows(b->batch, p->batch) != LX_OK)
            err = problem(a, NULL, LX_ESTATE, "stored batch %llu does not follow batch %llu",
                          (unsigned long long)b->number, (unsigned long long)p->number);
        if (err != LX_OK)
            return err;
        if (b->number > last)
            a->report.nunsettled++;
    }
    return LX_OK;
}

lx_err lx_audit_run(lx_audit *a, const lx_audit_report **report)
{
    if (a == NULL || report == NULL)
        return LX_EINVAL;
    *report = NULL;
    clear_run(a);
    free(a->assets);
    a->assets = NULL;
    memset(&a->report, 0, sizeof a->report);
    lx_err err = index_spends(a);
    /* Which txs spend channel UTXOs, and which do not decode. */
    for (size_t i = 0; err == LX_OK && i < a->ntxs; i++) {
        atx *t = &a->txs[i];
        if (t->tx == NULL) {
            err = problem(a, t->id, LX_EFORMAT, "tx does not decode: %s", t->bad);
            continue;
        }
        const lx_tx_spec *v = lx_tx_view(t->tx);
        t->spends_channel = false;
        for (size_t k = 0; k < v->nins && !t->spends_channel; k++) {
            const lx_xout *o = spent_out(a, &v->ins[k]);
            t->spends_channel = o != NULL && is_channel_owned(o, &a->ch);
        }
    }
    if (err == LX_OK)
        err = walk(a);
    for (size_t i = 0; err == LX_OK && i < a->ntxs; i++) {
        const atx *t = &a->txs[i];
        if (t->tx == NULL || t->visited)
            continue;
        if (t->spends_channel)
            err = problem(a, t->id, LX_EPERM,
                          "spends channel UTXOs but is not in the chain of settlements");
        else if (t->memo_ok)
            err = problem(a, t->id, LX_EPERM,
                          "carries a settlement memo (batch %llu) but spends no channel UTXO",
                          (unsigned long long)t->number);
    }
    if (err == LX_OK && a->has_utxos)
        err = conservation(a);
    if (err == LX_OK)
        err = check_batches(a);
    if (err != LX_OK)
        return err;
    lx_audit_report *r = &a->report;
    r->ntxs = a->ntxs;
    r->nsettlements = a->nsett;
    r->settlements = a->sett;
    r->conservation_checked = a->has_utxos;
    r->nassets = a->nassets;
    r->assets = a->assets;
    r->nproblems = a->nprobs;
    r->problems = a->probs;
    r->nbatches = a->nbatches;
    *report = r;
    return LX_OK;
}
