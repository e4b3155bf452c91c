/* A wallet for one chain: the keys of one party and the UTXOs they may spend,
 * UTXO selection, and BaseTx / ExportTx / ImportTx assembly with change. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "lx/bridge.h"

typedef struct held_utxo {
    lx_utxo *u;
    bool atomic; /* exported to this chain by another: an ImportTx input */
} held_utxo;

struct lx_wallet {
    lx_wallet_chain chain;
    size_t nkeys;
    const lx_key *keys[LX_WALLET_KEYS_MAX];
    uint8_t addrs[LX_WALLET_KEYS_MAX][LX_ADDR_LEN];
    size_t n, cap;
    held_utxo *utxos;
};

lx_err lx_wallet_new(lx_wallet **w, const lx_wallet_chain *chain)
{
    if (w == NULL)
        return LX_EINVAL;
    *w = NULL;
    if (chain == NULL)
        return LX_EINVAL;
    lx_wallet *nw = calloc(1, sizeof *nw);
    if (nw == NULL)
        return LX_ENOMEM;
    nw->chain = *chain;
    *w = nw;
    return LX_OK;
}

void lx_wallet_free(lx_wallet **w)
{
    if (w == NULL || *w == NULL)
        return;
    for (size_t i = 0; i < (*w)->n; i++)
        lx_utxo_free(&(*w)->utxos[i].u);
    free((*w)->utxos);
    free(*w);
    *w = NULL;
}

lx_err lx_wallet_add_key(lx_wallet *w, const lx_key *key)
{
    if (w == NULL || key == NULL)
        return LX_EINVAL;
    uint8_t addr[LX_ADDR_LEN];
    lx_err err = lx_key_address(key, addr);
    if (err != LX_OK)
        return err;
    for (size_t i = 0; i < w->nkeys; i++)
        if (memcmp(w->addrs[i], addr, LX_ADDR_LEN) == 0)
            return LX_EEXIST;
    if (w->nkeys == LX_WALLET_KEYS_MAX)
        return LX_ETOOBIG;
    w->keys[w->nkeys] = key;
    memcpy(w->addrs[w->nkeys++], addr, LX_ADDR_LEN);
    return LX_OK;
}

size_t lx_wallet_key_count(const lx_wallet *w)
{
    return w ? w->nkeys : 0;
}

lx_err lx_wallet_key_address(const lx_wallet *w, uint8_t addr[LX_ADDR_LEN], size_t i)
{
    if (w == NULL || addr == NULL || i >= w->nkeys)
        return LX_EINVAL;
    memcpy(addr, w->addrs[i], LX_ADDR_LEN);
    return LX_OK;
}

static held_utxo *find_held(const lx_wallet *w, const uint8_t tx_id[LX_ID_LEN], uint32_t index,
                            bool atomic)
{
    for (size_t i = 0; i < w->n; i++) {
        const lx_xutxo *v = lx_utxo_view(w->utxos[i].u);
        if (w->utxos[i].atomic == atomic && v->output_index == index &&
            memcmp(v->tx_id, tx_id, LX_ID_LEN) == 0)
            return &w->utxos[i];
    }
    return NULL;
}

lx_err lx_wallet_add_utxo(lx_wallet *w, const lx_xutxo *utxo, bool atomic)
{
    if (w == NULL || utxo == NULL)
        return LX_EINVAL;
    if (find_held(w, utxo->tx_id, utxo->output_index, atomic))
        return LX_OK;
    if (w->n == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 16;
        held_utxo *grown = realloc(w->utxos, cap * sizeof *grown);
        if (grown == NULL)
            return LX_ENOMEM;
        w->utxos = grown;
        w->cap = cap;
    }
    lx_utxo *u = NULL;
    lx_err err = lx_utxo_new(&u, utxo);
    if (err != LX_OK)
        return err;
    w->utxos[w->n++] = (held_utxo){u, atomic};
    return LX_OK;
}

lx_err lx_wallet_fetch(lx_wallet *w, size_t *skipped, lx_rpc *c, const char *const *addresses,
                       size_t n, const char *source_chain)
{
    if (w == NULL || c == NULL || addresses == NULL || n == 0)
        return LX_EINVAL;
    lx_rpc_utxos got = {0};
    size_t nskip = 0;
    lx_err err = lx_rpc_get_utxos(c, &got, addresses, n, source_chain);
    for (size_t i = 0; err == LX_OK && i < got.n; i++) {
        lx_utxo *u = NULL;
        err = lx_utxo_decode(&u, NULL, got.v[i].bytes, got.v[i].len);
        if (err == LX_EUNSUPPORTED) { /* e.g. a mint output: nothing to spend here */
            nskip++;
            err = LX_OK;
            continue;
        }
        if (err == LX_OK)
            err = lx_wallet_add_utxo(w, lx_utxo_view(u), source_chain != NULL);
        lx_utxo_free(&u);
    }
    lx_rpc_utxos_free(&got);
    if (skipped)
        *skipped = nskip;
    return err;
}

size_t lx_wallet_utxo_count(const lx_wallet *w)
{
    return w ? w->n : 0;
}

const lx_xutxo *lx_wallet_utxo_at(const lx_wallet *w, size_t i, bool *atomic)
{
    if (w == NULL || i >= w->n)
        return NULL;
    if (atomic)
        *atomic = w->utxos[i].atomic;
    return lx_utxo_view(w->utxos[i].u);
}

static const lx_key *key_of(const lx_wallet *w, const uint8_t *addr)
{
    for (size_t i = 0; i < w->nkeys; i++)
        if (memcmp(w->addrs[i], addr, LX_ADDR_LEN) == 0)
            return w->keys[i];
    return NULL;
}

static const lx_key *lookup(void *arg, const uint8_t addr[LX_ADDR_LEN])
{
    return key_of(arg, addr);
}

/* How many of u's owners the wallet holds keys for. */
static size_t keys_held(const lx_wallet *w, const lx_xutxo *u)
{
    size_t k = 0;
    for (size_t i = 0; i < u->out.naddrs; i++)
        k += key_of(w, u->out.addrs + i * LX_ADDR_LEN) != NULL;
    return k;
}

bool lx_wallet_can_spend(const lx_wallet *w, const lx_xutxo *u, uint64_t now)
{
    return w != NULL && u != NULL && u->out.locktime <= now && keys_held(w, u) >= u->out.threshold;
}

/* Whether u's owner set is exactly from[0..nfrom) (any order); any set when
 * nfrom is 0. */
static bool owned_by(const lx_xutxo *u, const uint8_t *from, size_t nfrom)
{
    if (nfrom == 0)
        return true;
    if (u->out.naddrs != nfrom)
        return false;
    for (size_t i = 0; i < nfrom; i++) {
        bool found = false;
        for (size_t j = 0; j < u->out.naddrs && !found; j++)
            found =
                memcmp(from + i * LX_ADDR_LEN, u->out.addrs + j * LX_ADDR_LEN, LX_ADDR_LEN) == 0;
        if (!found)
            return false;
    }
    return true;
}

/* ---- building ---- */

/* Value flow of one asset through the tx being assembled. */
typedef struct flow {
    uint8_t asset[LX_ID_LEN];
    uint64_t need; /* paid outputs, plus the fee for the fee asset */
    uint64_t have; /* selected inputs, imported ones included */
} flow;

typedef struct build {
    lx_wallet *w;
    const lx_wallet_spend *s;
    char *why;
    size_t why_cap;
    flow *flows;
    size_t nflows;
    const lx_xutxo **spent; /* base inputs, then imported inputs */
    size_t nbase, nimport;
    uint32_t max_threshold; /* of the spent UTXOs */
} build;

static lx_err fail(build *b, lx_err err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static lx_err fail(build *b, lx_err err, const char *fmt, ...)
{
    if (b->why && b->why_cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(b->why, b->why_cap, fmt, ap);
        va_end(ap);
    }
    return err;
}

/* Writes a reason to why (when there is room) and returns err. */
static lx_err say(lx_err err, char *why, size_t why_cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static lx_err say(lx_err err, char *why, size_t why_cap, const char *fmt, ...)
{
    if (why && why_cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, why_cap, fmt, ap);
        va_end(ap);
    }
    return err;
}

static const char *cb58(char buf[LX_CB58_ID_MAX], const uint8_t id[LX_ID_LEN])
{
    if (lx_id_to_cb58(buf, id) != LX_OK)
        snprintf(buf, LX_CB58_ID_MAX, "?");
    return buf;
}

static flow *flow_of(build *b, const uint8_t asset[LX_ID_LEN])
{
    for (size_t i = 0; i < b->nflows; i++)
        if (memcmp(b->flows[i].asset, asset, LX_ID_LEN) == 0)
            return &b->flows[i];
    flow *f = &b->flows[b->nflows++];
    memcpy(f->asset, asset, LX_ID_LEN);
    f->need = f->have = 0;
    return f;
}

static lx_err add_to(uint64_t *sum, uint64_t v)
{
    if (*sum > UINT64_MAX - v)
        return LX_EOVERFLOW;
    *sum += v;
    return LX_OK;
}

static lx_err take(build *b, const lx_xutxo *u, bool imported)
{
    if (imported ? b->nimport >= LX_WALLET_IMPORT_MAX : b->nbase >= LX_WALLET_INPUTS_MAX)
        return fail(b, LX_ETOOBIG, "more than %d inputs would be needed",
                    imported ? LX_WALLET_IMPORT_MAX : LX_WALLET_INPUTS_MAX);
    if (imported)
        b->spent[LX_WALLET_INPUTS_MAX + b->nimport++] = u;
    else
        b->spent[b->nbase++] = u;
    if (u->out.threshold > b->max_threshold)
        b->max_threshold = u->out.threshold;
    if (add_to(&flow_of(b, u->out.asset_id)->have, u->out.amount) != LX_OK)
        return fail(b, LX_EOVERFLOW, "inputs overflow 64 bits");
    return LX_OK;
}

static bool taken(const build *b, const lx_xutxo *u)
{
    for (size_t i = 0; i < b->nbase; i++)
        if (b->spent[i] == u)
            return true;
    return false;
}

/* Why a UTXO the caller named cannot be spent, or NULL when it can. */
static const char *unspendable(const build *b, const lx_xutxo *u)
{
    if (u->out.locktime > b->s->now)
        return "is locked";
    if (keys_held(b->w, u) < u->out.threshold)
        return "needs more of its owners' keys than were given";
    if (!owned_by(u, b->s->from, b->s->nfrom))
        return "is not owned by exactly the from set";
    return NULL;
}

static lx_err take_named(build *b)
{
    char id[LX_CB58_ID_MAX];
    for (size_t i = 0; i < b->s->nuse; i++) {
        const lx_rpc_utxo_id *n = &b->s->use[i];
        held_utxo *h = find_held(b->w, n->tx_id, n->output_index, false);
        if (h == NULL)
            return fail(b, LX_ENOTFOUND, "UTXO %s:%u is not among the wallet's UTXOs",
                        cb58(id, n->tx_id), n->output_index);
        const lx_xutxo *u = lx_utxo_view(h->u);
        const char *why = unspendable(b, u);
        if (why)
            return fail(b, LX_EPERM, "UTXO %s:%u %s", cb58(id, n->tx_id), n->output_index, why);
        if (taken(b, u))
            return fail(b, LX_EINVAL, "UTXO %s:%u named twice", cb58(id, n->tx_id),
                        n->output_index);
        lx_err err = take(b, u, false);
        if (err != LX_OK)
            return err;
    }
    return LX_OK;
}

typedef struct candidate {
    const lx_xutxo *u;
} candidate;

/* Largest first, so that few inputs pay; ties by (txID, index) so the choice
 * does not depend on the order the node listed the UTXOs in. */
static int candidate_cmp(const void *pa, const void *pb)
{
    const lx_xutxo *a = ((const candidate *)pa)->u, *b = ((const candidate *)pb)->u;
    if (a->out.amount != b->out.amount)
        return a->out.amount > b->out.amount ? -1 : 1;
    int c = memcmp(a->tx_id, b->tx_id, LX_ID_LEN);
    if (c != 0)
        return c;
    return a->output_index < b->output_index ? -1 : a->output_index > b->output_index;
}

static lx_err take_chosen(build *b, candidate *cand)
{
    char id[LX_CB58_ID_MAX];
    for (size_t f = 0; f < b->nflows; f++) {
        flow *fl = &b->flows[f];
        if (fl->have >= fl->need)
            continue;
        size_t nc = 0;
        uint64_t locked_out = 0;
        for (size_t i = 0; i < b->w->n; i++) {
            const lx_xutxo *u = lx_utxo_view(b->w->utxos[i].u);
            if (b->w->utxos[i].atomic || memcmp(u->out.asset_id, fl->asset, LX_ID_LEN) != 0 ||
                !owned_by(u, b->s->from, b->s->nfrom) || taken(b, u))
                continue;
            if (lx_wallet_can_spend(b->w, u, b->s->now))
                cand[nc++].u = u;
            else if (add_to(&locked_out, u->out.amount) != LX_OK)
                locked_out = UINT64_MAX;
        }
        qsort(cand, nc, sizeof *cand, candidate_cmp);
        for (size_t i = 0; i < nc && fl->have < fl->need; i++) {
            lx_err err = take(b, cand[i].u, false);
            if (err != LX_OK)
                return err;
        }
        if (fl->have >= fl->need)
            continue;
        uint64_t short_by = fl->need - fl->have;
        if (locked_out >= short_by)
            return fail(b, LX_EPERM,
                        "asset %s: %llu more is needed; UTXOs that hold it are locked or need "
                        "more of their owners' keys than were given",
                        cb58(id, fl->asset), (unsigned long long)short_by);
        return fail(b, LX_ESTATE, "insufficient funds: asset %s needs %llu, spendable %llu",
                    cb58(id, fl->asset), (unsigned long long)fl->need,
                    (unsigned long long)fl->have);
    }
    return LX_OK;
}

static lx_err take_imports(build *b)
{
    for (size_t i = 0; i < b->w->n; i++) {
        const lx_xutxo *u = lx_utxo_view(b->w->utxos[i].u);
        if (!b->w->utxos[i].atomic || !owned_by(u, b->s->from, b->s->nfrom) ||
            !lx_wallet_can_spend(b->w, u, b->s->now))
            continue;
        if (b->nimport == LX_WALLET_IMPORT_MAX)
            break; /* the rest waits for the next ImportTx */
        lx_err err = take(b, u, true);
        if (err != LX_OK)
            return err;
    }
    if (b->nimport == 0)
        return fail(b, LX_ENOTFOUND, "no UTXOs to import that the keys can spend");
    return LX_OK;
}

/* Fills in with the input that spends u, signed by the first threshold
 * owners the wallet holds keys for; idx receives the sig indices. */
static void make_input(const build *b, lx_xin *in, uint32_t *idx, const lx_xutxo *u)
{
    memset(in, 0, sizeof *in);
    memcpy(in->tx_id, u->tx_id, LX_ID_LEN);
    in->output_index = u->output_index;
    memcpy(in->asset_id, u->out.asset_id, LX_ID_LEN);
    in->amount = u->out.amount;
    for (size_t i = 0; i < u->out.naddrs && in->nsigs < u->out.threshold; i++)
        if (key_of(b->w, u->out.addrs + i * LX_ADDR_LEN))
            idx[in->nsigs++] = (uint32_t)i;
    in->sig_indices = idx;
}

static lx_err check_spend(const lx_wallet *w, const lx_wallet_spend *s)
{
    if (s->kind != LX_TX_BASE && s->kind != LX_TX_EXPORT && s->kind != LX_TX_IMPORT)
        return LX_EINVAL;
    if ((s->npay && !s->pay) || (s->memo_len && !s->memo) || (s->nuse && !s->use) ||
        (s->nfrom && !s->from) || (s->nchange && !s->change))
        return LX_EINVAL;
    if (s->npay > LX_WALLET_OUTPUTS_MAX || s->nuse > LX_WALLET_INPUTS_MAX)
        return LX_ETOOBIG;
    if (s->kind == LX_TX_EXPORT && s->npay == 0)
        return LX_EINVAL;
    if (s->kind == LX_TX_IMPORT && s->nuse)
        return LX_EINVAL;
    if (s->change_threshold > s->nchange || (s->nchange == 0 && w->nkeys == 0))
        return LX_EINVAL;
    return LX_OK;
}

static lx_err assemble(build *b, lx_tx **out)
{
    const lx_wallet_spend *s = b->s;
    size_t nin = b->nbase + b->nimport, nouts = 0;
    lx_xin *ins = calloc(nin ? nin : 1, sizeof *ins);
    uint32_t *idx = calloc(nin ? nin : 1, LX_WALLET_KEYS_MAX * sizeof *idx);
    lx_xout *outs = calloc(s->npay + b->nflows + 1, sizeof *outs);
    lx_xutxo *views = calloc(nin ? nin : 1, sizeof *views);
    lx_err err = LX_ENOMEM;
    if (!ins || !idx || !outs || !views)
        goto done;
    for (size_t i = 0; i < nin; i++) {
        const lx_xutxo *u =
            i < b->nbase ? b->spent[i] : b->spent[LX_WALLET_INPUTS_MAX + i - b->nbase];
        make_input(b, &ins[i], idx + i * LX_WALLET_KEYS_MAX, u);
        views[i] = *u;
    }
    if (s->kind != LX_TX_EXPORT)
        for (size_t i = 0; i < s->npay; i++)
            outs[nouts++] = s->pay[i];
    /* The change: owners as asked; by default back to the --from set (with
     * the highest threshold spent) or to the wallet's first key. */
    const uint8_t *change = s->nchange ? s->change : s->nfrom ? s->from : b->w->addrs[0];
    size_t nchange = s->nchange ? s->nchange : s->nfrom ? s->nfrom : 1;
    uint32_t threshold = s->nchange ? (s->change_threshold ? s->change_threshold : 1)
                         : s->nfrom ? (b->max_threshold ? b->max_threshold : 1)
                                    : 1;
    if (threshold > nchange)
        threshold = (uint32_t)nchange;
    for (size_t f = 0; f < b->nflows; f++) {
        const flow *fl = &b->flows[f];
        if (fl->have <= fl->need)
            continue;
        lx_xout *o = &outs[nouts++];
        memcpy(o->asset_id, fl->asset, LX_ID_LEN);
        o->amount = fl->have - fl->need;
        o->threshold = threshold;
        o->naddrs = nchange;
        o->addrs = change;
    }
    lx_tx_spec spec = {.kind = s->kind,
                       .network_id = b->w->chain.network_id,
                       .nouts = nouts,
                       .outs = outs,
                       .nins = b->nbase,
                       .ins = ins,
                       .memo_len = s->memo_len,
                       .memo = s->memo,
                       .nxouts = s->kind == LX_TX_EXPORT ? s->npay : 0,
                       .xouts = s->kind == LX_TX_EXPORT ? s->pay : NULL,
                       .nxins = b->nimport,
                       .xins = ins + b->nbase};
    memcpy(spec.blockchain_id, b->w->chain.blockchain_id, LX_ID_LEN);
    memcpy(spec.other_chain, s->other_chain, LX_ID_LEN);
    err = lx_tx_build(out, &spec);
    if (err != LX_OK) {
        fail(b, err, "the tx could not be built: %s", lx_strerror(err));
        goto done;
    }
    err = lx_tx_sign_lookup(*out, lookup, b->w, views, nin);
    if (err == LX_OK) /* what the node will check; a failure here is a bug */
        err = lx_tx_check_fee(*out, b->w->chain.fee_asset, b->w->chain.fee);
    if (err != LX_OK) {
        fail(b, err, "the tx could not be signed: %s", lx_strerror(err));
        lx_tx_free(out);
    }
done:
    free(ins);
    free(idx);
    free(outs);
    free(views);
    return err;
}

lx_err lx_wallet_build(lx_wallet *w, lx_tx **tx, char *why, size_t why_cap,
                       const lx_wallet_spend *s)
{
    if (tx == NULL)
        return LX_EINVAL;
    *tx = NULL;
    if (why && why_cap)
        why[0] = '\0';
    if (w == NULL || s == NULL)
        return LX_EINVAL;
    lx_err err = check_spend(w, s);
    build b = {.w = w, .s = s, .why = why, .why_cap = why_cap};
    if (err != LX_OK)
        return fail(&b, err, "bad spend request");
    size_t maxflows = s->npay + s->nuse + w->n + 1;
    b.flows = calloc(maxflows, sizeof *b.flows);
    b.spent = calloc(LX_WALLET_INPUTS_MAX + LX_WALLET_IMPORT_MAX, sizeof *b.spent);
    candidate *cand = calloc(w->n ? w->n : 1, sizeof *cand);
    if (!b.flows || !b.spent || !cand) {
        err = LX_ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < s->npay && err == LX_OK; i++)
        if (add_to(&flow_of(&b, s->pay[i].asset_id)->need, s->pay[i].amount) != LX_OK)
            err = fail(&b, LX_EOVERFLOW, "outputs overflow 64 bits");
    if (err == LX_OK && w->chain.fee &&
        add_to(&flow_of(&b, w->chain.fee_asset)->need, w->chain.fee) != LX_OK)
        err = fail(&b, LX_EOVERFLOW, "outputs overflow 64 bits");
    if (err == LX_OK && s->kind == LX_TX_IMPORT)
        err = take_imports(&b);
    if (err == LX_OK)
        err = s->nuse ? take_named(&b) : take_chosen(&b, cand);
    for (size_t f = 0; err == LX_OK && f < b.nflows; f++)
        if (b.flows[f].have < b.flows[f].need) {
            char id[LX_CB58_ID_MAX];
            err =
                fail(&b, LX_ESTATE, "insufficient funds: asset %s needs %llu, the inputs hold %llu",
                     cb58(id, b.flows[f].asset), (unsigned long long)b.flows[f].need,
                     (unsigned long long)b.flows[f].have);
        }
    if (err == LX_OK && b.nbase + b.nimport == 0)
        err = fail(&b, LX_EINVAL, "nothing to spend");
    if (err == LX_OK)
        err = assemble(&b, tx);
done:
    free(b.flows);
    free(b.spent);
    free(cand);
    return err;
}

/* ---- sums and asset names ---- */

lx_err lx_wallet_sums(const lx_wallet *w, lx_wallet_sum *out, size_t cap, size_t *n, uint64_t now)
{
    if (w == NULL || n == NULL || (cap && out == NULL))
        return LX_EINVAL;
    *n = 0;
    for (size_t i = 0; i < w->n; i++) {
        const lx_xutxo *u = lx_utxo_view(w->utxos[i].u);
        if (w->utxos[i].atomic)
            continue;
        lx_wallet_sum *s = NULL;
        for (size_t k = 0; k < *n && !s; k++)
            if (memcmp(out[k].asset_id, u->out.asset_id, LX_ID_LEN) == 0)
                s = &out[k];
        if (s == NULL) {
            if (*n == cap)
                return LX_ETOOBIG;
            s = &out[(*n)++];
            memset(s, 0, sizeof *s);
            memcpy(s->asset_id, u->out.asset_id, LX_ID_LEN);
        }
        bool alone = u->out.naddrs == 1 && u->out.locktime <= now;
        if (add_to(&s->total, u->out.amount) != LX_OK ||
            (alone && add_to(&s->alone, u->out.amount) != LX_OK) ||
            (lx_wallet_can_spend(w, u, now) && add_to(&s->spendable, u->out.amount) != LX_OK))
            return LX_EOVERFLOW;
        s->utxos++;
    }
    return LX_OK;
}

lx_err lx_wallet_asset_lookup(lx_rpc *c, lx_rpc_asset *out, const char *name)
{
    if (c == NULL || out == NULL || name == NULL)
        return LX_EINVAL;
    uint8_t id[LX_ID_LEN];
    if (lx_id_from_cb58(id, name) == LX_OK)
        return lx_rpc_get_asset_description(c, out, id);
    /* A symbol: the node resolves it as an alias; the answer's ID is then
     * described again so that every field passes the client's checks. */
    json_t *p = json_pack("{s:s}", "assetID", name);
    char *params = p ? json_dumps(p, JSON_COMPACT) : NULL, *res = NULL, method[64];
    json_decref(p);
    if (params == NULL)
        return LX_ENOMEM;
    lx_err err = lx_rpc_probe(c);
    if (err == LX_OK) {
        snprintf(method, sizeof method, "%s.getAssetDescription", lx_rpc_prefix_name(c));
        err = lx_rpc_call_raw(c, &res, LX_RPC_CHAIN, method, params);
    }
    free(params);
    if (err == LX_OK) {
        json_t *r = json_loads(res, 0, NULL);
        const char *s = json_string_value(json_object_get(r, "assetID"));
        err = s && lx_id_from_cb58(id, s) == LX_OK ? LX_OK : LX_EFORMAT;
        json_decref(r);
    }
    free(res);
    return err == LX_OK ? lx_rpc_get_asset_description(c, out, id) : err;
}

lx_err lx_wallet_chain_query(lx_rpc *c, lx_wallet_chain *out, const char *alias,
                             const char *fee_asset)
{
    if (c == NULL || out == NULL || alias == NULL || fee_asset == NULL)
        return LX_EINVAL;
    memset(out, 0, sizeof *out);
    lx_rpc_asset a;
    lx_rpc_tx_fee f;
    lx_err err = lx_rpc_get_network_id(c, &out->network_id);
    if (err == LX_OK)
        err = lx_rpc_get_blockchain_id(c, out->blockchain_id, alias);
    if (err == LX_OK)
        err = lx_wallet_asset_lookup(c, &a, fee_asset);
    if (err != LX_OK)
        return err;
    memcpy(out->fee_asset, a.asset_id, LX_ID_LEN);
    err = lx_rpc_get_tx_fee(c, &f);
    out->fee = err == LX_OK ? f.tx_fee : LX_WALLET_DEFAULT_FEE;
    return err == LX_ERPC ? LX_OK : err; /* a node without info.getTxFee */
}

lx_err lx_wallet_fetch_own(lx_wallet *w, size_t *skipped, lx_rpc *c, const char *alias,
                           const char *hrp, const char *source_chain)
{
    if (w == NULL || alias == NULL || hrp == NULL || w->nkeys == 0)
        return LX_EINVAL;
    char text[LX_WALLET_KEYS_MAX][LX_ADDR_STR_MAX];
    const char *list[LX_WALLET_KEYS_MAX];
    for (size_t i = 0; i < w->nkeys; i++) {
        lx_err err = lx_address_encode(text[i], sizeof text[i], alias, hrp, w->addrs[i]);
        if (err != LX_OK)
            return err;
        list[i] = text[i];
    }
    return lx_wallet_fetch(w, skipped, c, list, w->nkeys, source_chain);
}

/* ---- networks, addresses, asset names ---- */

const char *lx_wallet_network_hrp(uint32_t network_id)
{
    switch (network_id) {
    case 1:
    case 96369:
        return "lux";
    case 12345:
    case 31337:
        return "local";
    default:
        return NULL;
    }
}

lx_err lx_wallet_address_parse(uint8_t addr[LX_ADDR_LEN], char *why, size_t why_cap,
                               const char *text, const char *alias, const char *hrp)
{
    if (why && why_cap)
        why[0] = '\0';
    if (addr == NULL || text == NULL || alias == NULL || hrp == NULL)
        return LX_EINVAL;
    size_t n = strlen(alias);
    const char *dash = strchr(text, '-');
    if (dash && ((size_t)(dash - text) != n || strncmp(text, alias, n) != 0))
        return say(LX_EFORMAT, why, why_cap, "address %s is not on chain %s", text, alias);
    if (lx_address_decode(addr, dash ? alias : NULL, hrp, text) != LX_OK)
        return say(LX_EFORMAT, why, why_cap, "bad address '%s' (want %s-%s1...)", text, alias, hrp);
    return LX_OK;
}

lx_err lx_wallet_owners_parse(uint8_t *addrs, size_t cap, size_t *n, char *why, size_t why_cap,
                              const char *list, const char *alias, const char *hrp)
{
    if (why && why_cap)
        why[0] = '\0';
    if (n == NULL)
        return LX_EINVAL;
    *n = 0;
    if ((cap && addrs == NULL) || list == NULL || alias == NULL || hrp == NULL)
        return LX_EINVAL;
    size_t len = strlen(list);
    if (len / LX_ADDR_STR_MAX >= cap)
        return say(LX_ETOOBIG, why, why_cap, "address list too long");
    char *buf = malloc(len + 1);
    if (buf == NULL)
        return LX_ENOMEM;
    memcpy(buf, list, len + 1);
    lx_err err = LX_OK;
    for (char *t = buf, *end; err == LX_OK && t; t = end) {
        if ((end = strchr(t, ',')) != NULL)
            *end++ = '\0';
        if (*t == '\0')
            continue; /* empty items are skipped, as strtok does */
        if (*n == cap)
            err = say(LX_ETOOBIG, why, why_cap, "more than %zu addresses in '%s'", cap, list);
        else
            err =
                lx_wallet_address_parse(addrs + (*n)++ * LX_ADDR_LEN, why, why_cap, t, alias, hrp);
    }
    free(buf);
    if (err == LX_OK && *n == 0)
        err = say(LX_EFORMAT, why, why_cap, "empty address list");
    if (err != LX_OK)
        *n = 0;
    return err;
}

/* A decimal uint64: digits only (strtoull would take spaces and signs). */
static bool parse_u64(uint64_t *out, const char *s)
{
    char *end = NULL;
    if (s == NULL || *s < '0' || *s > '9')
        return false;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    *out = v;
    return *end == '\0' && errno == 0;
}

lx_err lx_wallet_output_parse(lx_xout *out, uint8_t *addrs, size_t cap, char *why, size_t why_cap,
                              const lx_wallet_output_text *t, const char *alias, const char *hrp,
                              const uint8_t *default_owner)
{
    if (why && why_cap)
        why[0] = '\0';
    if (out == NULL || addrs == NULL || cap == 0 || t == NULL || alias == NULL || hrp == NULL)
        return LX_EINVAL;
    uint64_t v = 0;
    lx_err err = LX_OK;
    if (!parse_u64(&out->amount, t->amount) || out->amount == 0)
        return say(LX_EINVAL, why, why_cap, "--amount must be a positive integer");
    if (t->to) {
        err = lx_wallet_address_parse(addrs, why, why_cap, t->to, alias, hrp);
        out->naddrs = 1;
    } else if (t->owners) {
        err = lx_wallet_owners_parse(addrs, cap, &out->naddrs, why, why_cap, t->owners, alias, hrp);
    } else if (default_owner) {
        memcpy(addrs, default_owner, LX_ADDR_LEN);
        out->naddrs = 1;
    } else {
        return say(LX_EINVAL, why, why_cap, "--amount needs --to or --owners");
    }
    if (err != LX_OK)
        return err;
    out->addrs = addrs;
    out->threshold = t->to ? 1 : (uint32_t)out->naddrs;
    if (t->threshold && (!parse_u64(&v, t->threshold) || v == 0 || v > out->naddrs))
        return say(LX_EINVAL, why, why_cap, "--threshold must be 1..%zu", out->naddrs);
    out->threshold = t->threshold ? (uint32_t)v : out->threshold;
    out->locktime = 0;
    if (t->locktime && !parse_u64(&out->locktime, t->locktime))
        return say(LX_EINVAL, why, why_cap, "bad --locktime");
    return LX_OK;
}

struct lx_asset_cache {
    lx_rpc *rpc;
    size_t n;
    lx_rpc_asset v[LX_ASSET_CACHE_MAX];
    lx_rpc_asset spare; /* an answer that found the cache full */
};

lx_err lx_asset_cache_new(lx_asset_cache **ac, lx_rpc *c)
{
    if (ac == NULL)
        return LX_EINVAL;
    *ac = NULL;
    if (c == NULL)
        return LX_EINVAL;
    lx_asset_cache *n = calloc(1, sizeof *n);
    if (n == NULL)
        return LX_ENOMEM;
    n->rpc = c;
    *ac = n;
    return LX_OK;
}

void lx_asset_cache_free(lx_asset_cache **ac)
{
    if (ac == NULL)
        return;
    free(*ac);
    *ac = NULL;
}

lx_err lx_asset_cache_find(lx_asset_cache *ac, const lx_rpc_asset **out, const char *name)
{
    if (out == NULL)
        return LX_EINVAL;
    *out = NULL;
    if (ac == NULL || name == NULL)
        return LX_EINVAL;
    uint8_t id[LX_ID_LEN];
    bool by_id = lx_id_from_cb58(id, name) == LX_OK;
    for (size_t i = 0; i < ac->n; i++)
        if (by_id ? !memcmp(ac->v[i].asset_id, id, LX_ID_LEN) : !strcmp(ac->v[i].symbol, name)) {
            *out = &ac->v[i];
            return LX_OK;
        }
    lx_rpc_asset a;
    lx_err err = lx_wallet_asset_lookup(ac->rpc, &a, name);
    if (err != LX_OK)
        return err;
    if (ac->n == LX_ASSET_CACHE_MAX)
        ac->n--; /* forget the newest */
    ac->v[ac->n] = a;
    *out = &ac->v[ac->n++];
    return LX_OK;
}

const char *lx_asset_cache_symbol(lx_asset_cache *ac, const uint8_t asset_id[LX_ID_LEN])
{
    if (ac == NULL || asset_id == NULL)
        return NULL;
    for (size_t i = 0; i < ac->n; i++)
        if (!memcmp(ac->v[i].asset_id, asset_id, LX_ID_LEN))
            return ac->v[i].symbol;
    lx_rpc_asset d;
    if (lx_rpc_get_asset_description(ac->rpc, &d, asset_id) != LX_OK)
        return NULL;
    if (ac->n == LX_ASSET_CACHE_MAX) {
        ac->spare = d;
        return ac->spare.symbol;
    }
    ac->v[ac->n] = d;
    return ac->v[ac->n++].symbol;
}
