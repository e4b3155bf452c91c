/* The settlement transaction: the X-Chain BaseTx that pays a batch's
 * withdrawals out of the channel and returns the rest to it, its credentials
 * from a quorum certificate, its change for the next settlement, and the
 * audit check of one fetched from the chain. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lx/bridge.h"

#define CERT_HEAD (1 + 2 * LX_SHA256_LEN + 4)
#define CERT_ENTRY (LX_XADDR_LEN + LX_SIG_LEN)

struct lx_settle_tx {
    lx_tx *tx;
    size_t nowners;
    uint8_t owners[LX_OWNERS_MAX * LX_ADDR_LEN];
    uint32_t threshold;
    uint32_t signers[LX_OWNERS_MAX];
    uint8_t batch_hash[LX_SHA256_LEN];
    size_t nspent;
    lx_xutxo *spent; /* addresses point at owners */
};

static const uint8_t *owner_at(const uint8_t *owners, size_t i)
{
    return owners + i * LX_ADDR_LEN;
}

/* The channel's own output form: exactly its owners and threshold, no
 * locktime. */
static bool is_channel_out(const lx_xout *o, const lx_channel *ch)
{
    return o->locktime == 0 && o->threshold == ch->threshold && o->naddrs == ch->nowners &&
           memcmp(o->addrs, ch->owners, ch->nowners * LX_ADDR_LEN) == 0;
}

static lx_err check_signers(uint32_t *out, const lx_settle_params *p)
{
    const lx_channel *ch = p->channel;
    if (p->nsigners == 0) {
        for (uint32_t k = 0; k < ch->threshold; k++)
            out[k] = k;
        return LX_OK;
    }
    if (p->signers == NULL || p->nsigners != ch->threshold)
        return LX_EINVAL;
    for (size_t k = 0; k < p->nsigners; k++) {
        if (p->signers[k] >= ch->nowners || (k > 0 && p->signers[k] <= p->signers[k - 1]))
            return LX_EINVAL;
        out[k] = p->signers[k];
    }
    return LX_OK;
}

void lx_settle_tx_free(lx_settle_tx **st)
{
    if (st == NULL || *st == NULL)
        return;
    lx_tx_free(&(*st)->tx);
    free((*st)->spent);
    free(*st);
    *st = NULL;
}

/* Builds the tx of st from the selection and the batch. */
static lx_err build_tx(lx_settle_tx *st, const lx_settle_params *p, const lx_selection *sel,
                       const lx_batch_info *info, const lx_transfer *wd, size_t nwd)
{
    size_t nouts = nwd + sel->nchange;
    lx_xin *ins = calloc(sel->ninputs, sizeof *ins);
    lx_xout *outs = calloc(nouts ? nouts : 1, sizeof *outs);
    if (ins == NULL || outs == NULL) {
        free(ins);
        free(outs);
        return LX_ENOMEM;
    }
    for (size_t i = 0; i < sel->ninputs; i++) {
        const lx_channel_utxo *u = &sel->inputs[i];
        memcpy(ins[i].tx_id, u->tx_id, LX_ID_LEN);
        ins[i].output_index = u->index;
        memcpy(ins[i].asset_id, u->asset_id, LX_ID_LEN);
        ins[i].amount = u->amount;
        ins[i].nsigs = st->threshold;
        ins[i].sig_indices = st->signers;
    }
    for (size_t i = 0; i < nwd; i++) {
        memcpy(outs[i].asset_id, wd[i].asset_id, LX_ID_LEN);
        outs[i].amount = wd[i].amount;
        outs[i].threshold = 1;
        outs[i].naddrs = 1;
        outs[i].addrs = wd[i].dest;
    }
    for (size_t i = 0; i < sel->nchange; i++) {
        lx_xout *o = &outs[nwd + i];
        memcpy(o->asset_id, sel->change[i].asset_id, LX_ID_LEN);
        o->amount = sel->change[i].amount;
        o->threshold = st->threshold;
        o->naddrs = st->nowners;
        o->addrs = st->owners;
    }
    uint8_t memo[LX_SETTLE_MEMO_MAX];
    size_t memo_len = 0;
    lx_err err = lx_settle_memo_encode(memo, sizeof memo, &memo_len, info->number, st->batch_hash);
    if (err == LX_OK) {
        lx_tx_spec spec;
        memset(&spec, 0, sizeof spec);
        spec.kind = LX_TX_BASE;
        spec.network_id = p->network_id;
        memcpy(spec.blockchain_id, p->blockchain_id, LX_ID_LEN);
        spec.nouts = nouts;
        spec.outs = outs;
        spec.nins = sel->ninputs;
        spec.ins = ins;
        spec.memo_len = memo_len;
        spec.memo = memo;
        err = lx_tx_build(&st->tx, &spec);
    }
    free(ins);
    free(outs);
    return err;
}

/* The spent UTXOs in the tx's (canonical) input order. */
static lx_err record_spent(lx_settle_tx *st, const lx_selection *sel)
{
    const lx_tx_spec *v = lx_tx_view(st->tx);
    st->spent = calloc(v->nins, sizeof *st->spent);
    if (st->spent == NULL)
        return LX_ENOMEM;
    for (size_t i = 0; i < v->nins; i++) {
        const lx_channel_utxo *u = NULL;
        for (size_t j = 0; j < sel->ninputs && u == NULL; j++)
            if (sel->inputs[j].index == v->ins[i].output_index &&
                memcmp(sel->inputs[j].tx_id, v->ins[i].tx_id, LX_ID_LEN) == 0)
                u = &sel->inputs[j];
        LX_ASSERT(u != NULL);
        lx_xutxo *x = &st->spent[i];
        memcpy(x->tx_id, u->tx_id, LX_ID_LEN);
        x->output_index = u->index;
        memcpy(x->out.asset_id, u->asset_id, LX_ID_LEN);
        x->out.amount = u->amount;
        x->out.locktime = u->locktime;
        x->out.threshold = st->threshold;
        x->out.naddrs = st->nowners;
        x->out.addrs = st->owners;
    }
    st->nspent = v->nins;
    return LX_OK;
}

lx_err lx_settle_tx_build(lx_settle_tx **st, const lx_settle_params *p, const lx_batch *batch,
                          const lx_channel_utxo *prev, size_t nprev, const lx_channel_utxo *utxos,
                          size_t nutxos)
{
    if (st == NULL)
        return LX_EINVAL;
    *st = NULL;
    if (p == NULL || p->channel == NULL || batch == NULL)
        return LX_EINVAL;
    const lx_channel *ch = p->channel;
    uint8_t id[LX_CHANNEL_ID_LEN];
    lx_err err = lx_channel_id(id, ch, p->network_id, p->blockchain_id); /* checks ch */
    if (err != LX_OK)
        return err;
    lx_settle_tx *s = calloc(1, sizeof *s);
    if (s == NULL)
        return LX_ENOMEM;
    s->nowners = ch->nowners;
    memcpy(s->owners, ch->owners, ch->nowners * LX_ADDR_LEN);
    s->threshold = ch->threshold;
    lx_batch_info info;
    size_t nwd = 0;
    const lx_transfer *wd = lx_batch_withdrawals(batch, &nwd);
    err = check_signers(s->signers, p);
    if (err == LX_OK)
        err = lx_batch_info_get(batch, &info);
    if (err == LX_OK)
        err = lx_batch_hash(batch, s->batch_hash);
    /* A one-owner, threshold-one channel paying its own owner would make an
     * output no one could tell from change. */
    for (size_t i = 0; err == LX_OK && i < nwd; i++)
        if (ch->nowners == 1 && ch->threshold == 1 &&
            memcmp(wd[i].dest, ch->owners, LX_ADDR_LEN) == 0)
            err = LX_EINVAL;
    lx_asset_amount *needs = NULL;
    size_t nneeds = 0;
    lx_selection sel;
    memset(&sel, 0, sizeof sel);
    if (err == LX_OK)
        err = lx_batch_needs(batch, &needs, &nneeds);
    if (err == LX_OK)
        err = lx_channel_select(&sel, ch, &p->select, prev, nprev, utxos, nutxos, needs, nneeds);
    if (err == LX_OK && sel.ninputs == 0)
        err = LX_ESTATE;
    if (err == LX_OK)
        err = build_tx(s, p, &sel, &info, wd, nwd);
    if (err == LX_OK)
        err = record_spent(s, &sel);
    /* The change is exactly what is left: the fee is paid, nothing more. */
    if (err == LX_OK)
        err = lx_tx_check_fee(s->tx, info.fee_asset, info.tx_fee);
    lx_selection_free(&sel);
    free(needs);
    if (err != LX_OK) {
        lx_settle_tx_free(&s);
        return err;
    }
    *st = s;
    return LX_OK;
}

const lx_tx *lx_settle_tx_get(const lx_settle_tx *st)
{
    return st ? st->tx : NULL;
}

const lx_xutxo *lx_settle_tx_spent(const lx_settle_tx *st, size_t *n)
{
    if (n != NULL)
        *n = st ? st->nspent : 0;
    return st ? st->spent : NULL;
}

/* The signature of signer in the certificate's encoding, or NULL. */
static const uint8_t *cert_sig_of(const uint8_t *enc, size_t len, const uint8_t *signer)
{
    if (len < CERT_HEAD)
        return NULL;
    size_t count = (size_t)enc[65] << 24 | (size_t)enc[66] << 16 | (size_t)enc[67] << 8 | enc[68];
    if (count > (len - CERT_HEAD) / CERT_ENTRY)
        return NULL;
    for (size_t i = 0; i < count; i++) {
        const uint8_t *e = enc + CERT_HEAD + i * CERT_ENTRY;
        if (memcmp(e, signer, LX_XADDR_LEN) == 0)
            return e + LX_XADDR_LEN;
    }
    return NULL;
}

lx_err lx_settle_tx_sign_cert(lx_settle_tx *st, const lx_cert *cert)
{
    if (st == NULL || cert == NULL)
        return LX_EINVAL;
    uint8_t tx_hash[LX_SHA256_LEN], cert_batch[LX_SHA256_LEN], cert_tx[LX_SHA256_LEN];
    lx_err err = lx_tx_hash(st->tx, tx_hash);
    if (err == LX_OK)
        err = lx_cert_hashes(cert, cert_batch, cert_tx);
    if (err != LX_OK)
        return err;
    if (memcmp(cert_tx, tx_hash, LX_SHA256_LEN) != 0 ||
        memcmp(cert_batch, st->batch_hash, LX_SHA256_LEN) != 0)
        return LX_EINVAL;
    if (!lx_cert_complete(cert))
        return LX_ESTATE;
    uint8_t enc[LX_CERT_ENC_MAX];
    size_t len = 0;
    if ((err = lx_cert_encode(cert, enc, sizeof enc, &len)) != LX_OK)
        return err;
    /* Each signature is checked before any slot is filled, so a failure
     * leaves the tx as it was. */
    uint8_t sigs[LX_OWNERS_MAX][LX_SIG_LEN];
    for (uint32_t k = 0; k < st->threshold; k++) {
        const uint8_t *owner = owner_at(st->owners, st->signers[k]);
        const uint8_t *sig = cert_sig_of(enc, len, owner);
        if (sig == NULL)
            return LX_ESTATE;
        uint8_t pub[LX_PUBKEY_LEN], addr[LX_ADDR_LEN];
        if (lx_sig_recover(pub, tx_hash, sig) != LX_OK ||
            lx_address_from_pubkey(addr, pub) != LX_OK || memcmp(addr, owner, LX_ADDR_LEN) != 0)
            return LX_ECRYPTO;
        memcpy(sigs[k], sig, LX_SIG_LEN);
    }
    size_t nin = lx_tx_input_count(st->tx);
    for (size_t i = 0; i < nin; i++) {
        LX_ASSERT(lx_tx_sig_count(st->tx, i) == st->threshold);
        for (uint32_t k = 0; k < st->threshold; k++)
            if ((err = lx_tx_set_sig(st->tx, i, k, sigs[k])) != LX_OK)
                return err;
    }
    const char *why = NULL;
    err = lx_tx_verify(st->tx, &why, st->spent, st->nspent);
    LX_ASSERT(err == LX_OK);
    return err;
}

lx_err lx_settle_tx_encode(const lx_settle_tx *st, uint8_t **tx_bytes, size_t *len,
                           uint8_t tx_id[LX_ID_LEN])
{
    if (tx_bytes != NULL)
        *tx_bytes = NULL;
    if (st == NULL || tx_bytes == NULL || len == NULL || tx_id == NULL)
        return LX_EINVAL;
    if (!lx_tx_is_signed(st->tx))
        return LX_ESTATE;
    size_t cap = lx_tx_signed_len(st->tx);
    uint8_t *buf = malloc(cap);
    if (buf == NULL)
        return LX_ENOMEM;
    lx_err err = lx_tx_encode(st->tx, buf, cap, len);
    if (err == LX_OK)
        err = lx_sha256(tx_id, buf, *len);
    if (err != LX_OK) {
        free(buf);
        return err;
    }
    *tx_bytes = buf;
    return LX_OK;
}

lx_err lx_settle_change(lx_channel_utxo *out, size_t cap, size_t *n, const lx_tx *tx,
                        const lx_channel *ch)
{
    if (n != NULL)
        *n = 0;
    if ((out == NULL && cap > 0) || n == NULL || tx == NULL || ch == NULL || ch->owners == NULL)
        return LX_EINVAL;
    if (!lx_tx_is_signed(tx))
        return LX_ESTATE;
    uint8_t id[LX_ID_LEN];
    lx_err err = lx_tx_id(tx, id);
    if (err != LX_OK)
        return err;
    return lx_settle_change_id(out, cap, n, tx, ch, id);
}

lx_err lx_settle_change_id(lx_channel_utxo *out, size_t cap, size_t *n, const lx_tx *tx,
                           const lx_channel *ch, const uint8_t id[LX_ID_LEN])
{
    if (n != NULL)
        *n = 0;
    if ((out == NULL && cap > 0) || n == NULL || tx == NULL || ch == NULL || ch->owners == NULL ||
        id == NULL)
        return LX_EINVAL;
    const lx_tx_spec *v = lx_tx_view(tx);
    size_t k = 0;
    for (size_t i = 0; i < v->nouts; i++) {
        const lx_xout *o = &v->outs[i];
        if (!is_channel_out(o, ch))
            continue;
        if (k == cap)
            return LX_ETOOBIG;
        lx_channel_utxo *u = &out[k++];
        memset(u, 0, sizeof *u);
        memcpy(u->tx_id, id, LX_ID_LEN);
        u->index = (uint32_t)i;
        memcpy(u->asset_id, o->asset_id, LX_ID_LEN);
        u->amount = o->amount;
        u->threshold = ch->threshold;
        u->nowners = ch->nowners;
        u->owners = ch->owners;
    }
    *n = k;
    return LX_OK;
}

void lx_settle_utxo_from_x(lx_channel_utxo *out, const lx_xutxo *u)
{
    if (out == NULL || u == NULL)
        return;
    memset(out, 0, sizeof *out);
    memcpy(out->tx_id, u->tx_id, LX_ID_LEN);
    out->index = u->output_index;
    memcpy(out->asset_id, u->out.asset_id, LX_ID_LEN);
    out->amount = u->out.amount;
    out->locktime = u->out.locktime;
    out->threshold = u->out.threshold;
    out->nowners = u->out.naddrs;
    out->owners = u->out.addrs;
}

/* ---- the audit check ---- */

static lx_err fail(char *why, size_t why_cap, lx_err err, const char *fmt, ...)
{
    if (why != NULL && why_cap > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, why_cap, fmt, ap);
        va_end(ap);
    }
    return err;
}

/* Checks that per asset the inputs equal the outputs, plus fee in
 * fee_asset. */
static lx_err check_flow(char *why, size_t why_cap, const lx_tx_spec *v, const lx_batch_info *info)
{
    size_t nassets = v->nins + v->nouts + 1;
    for (size_t a = 0; a < nassets; a++) {
        const uint8_t *asset = a < v->nins              ? v->ins[a].asset_id
                               : a < v->nins + v->nouts ? v->outs[a - v->nins].asset_id
                                                        : info->fee_asset;
        unsigned __int128 in = 0, out = 0;
        for (size_t i = 0; i < v->nins; i++)
            if (memcmp(v->ins[i].asset_id, asset, LX_ID_LEN) == 0)
                in += v->ins[i].amount;
        for (size_t i = 0; i < v->nouts; i++)
            if (memcmp(v->outs[i].asset_id, asset, LX_ID_LEN) == 0)
                out += v->outs[i].amount;
        if (memcmp(asset, info->fee_asset, LX_ID_LEN) == 0)
            out += info->tx_fee;
        if (in != out) {
            char name[LX_CB58_ID_MAX];
            if (lx_id_to_cb58(name, asset) != LX_OK)
                name[0] = '\0';
            return fail(why, why_cap, LX_ECORRUPT,
                        "asset flow of %s: inputs %llu, outputs plus fee %llu", name,
                        (unsigned long long)in, (unsigned long long)out);
        }
    }
    return LX_OK;
}

static lx_err check_outputs(char *why, size_t why_cap, const lx_tx_spec *v, const lx_batch *batch,
                            const lx_channel *ch)
{
    bool used[LX_TX_MAX / 40];
    if (v->nouts > sizeof used / sizeof used[0])
        return fail(why, why_cap, LX_ECORRUPT, "too many outputs");
    memset(used, 0, sizeof used);
    size_t nwd = 0;
    const lx_transfer *wd = lx_batch_withdrawals(batch, &nwd);
    for (size_t w = 0; w < nwd; w++) {
        size_t i = 0;
        for (; i < v->nouts; i++) {
            const lx_xout *o = &v->outs[i];
            if (!used[i] && o->amount == wd[w].amount && o->locktime == 0 && o->threshold == 1 &&
                o->naddrs == 1 && memcmp(o->addrs, wd[w].dest, LX_ADDR_LEN) == 0 &&
                memcmp(o->asset_id, wd[w].asset_id, LX_ID_LEN) == 0)
                break;
        }
        if (i == v->nouts)
            return fail(why, why_cap, LX_ECORRUPT,
                        "withdrawal %zu (seq %llu, amount %llu) is not paid exactly", w,
                        (unsigned long long)wd[w].seq, (unsigned long long)wd[w].amount);
        used[i] = true;
    }
    for (size_t i = 0; i < v->nouts; i++) {
        if (used[i])
            continue;
        if (!is_channel_out(&v->outs[i], ch))
            return fail(why, why_cap, LX_ECORRUPT,
                        "output %zu is neither a withdrawal nor change to the channel", i);
        for (size_t j = 0; j < i; j++)
            if (!used[j] && memcmp(v->outs[j].asset_id, v->outs[i].asset_id, LX_ID_LEN) == 0)
                return fail(why, why_cap, LX_ECORRUPT,
                            "outputs %zu and %zu: two changes in one asset", j, i);
    }
    return LX_OK;
}

static lx_err check_sigs(char *why, size_t why_cap, const lx_tx *tx, const lx_channel *ch)
{
    uint8_t hash[LX_SHA256_LEN];
    lx_err err = lx_tx_hash(tx, hash);
    if (err != LX_OK)
        return fail(why, why_cap, err, "tx hash failed");
    const lx_tx_spec *v = lx_tx_view(tx);
    bool seen[LX_OWNERS_MAX] = {false};
    size_t distinct = 0;
    for (size_t i = 0; i < v->nins; i++) {
        const lx_xin *in = &v->ins[i];
        if (in->nsigs != ch->threshold)
            return fail(why, why_cap, LX_EPERM, "input %zu: %zu signatures, threshold is %u", i,
                        in->nsigs, ch->threshold);
        for (size_t k = 0; k < in->nsigs; k++) {
            uint32_t idx = in->sig_indices[k];
            if (idx >= ch->nowners)
                return fail(why, why_cap, LX_EPERM, "input %zu: sig index %u is not an owner", i,
                            idx);
            uint8_t sig[LX_SIG_LEN], pub[LX_PUBKEY_LEN], addr[LX_ADDR_LEN];
            err = lx_tx_get_sig(tx, sig, i, k);
            if (err == LX_OK)
                err = lx_sig_recover(pub, hash, sig);
            if (err == LX_OK)
                err = lx_address_from_pubkey(addr, pub);
            if (err != LX_OK)
                return fail(why, why_cap, LX_ECRYPTO, "input %zu: signature %zu recovers no key", i,
                            k);
            if (memcmp(addr, owner_at(ch->owners, idx), LX_ADDR_LEN) != 0)
                return fail(why, why_cap, LX_EPERM,
                            "input %zu: signature %zu is not by owner %u of the channel", i, k,
                            idx);
            if (!seen[idx]) {
                seen[idx] = true;
                distinct++;
            }
        }
    }
    if (distinct < ch->threshold)
        return fail(why, why_cap, LX_EPERM, "%zu distinct owners signed, threshold is %u", distinct,
                    ch->threshold);
    return LX_OK;
}

lx_err lx_settle_tx_check_sigs(char *why, size_t why_cap, const lx_tx *tx, const lx_channel *ch)
{
    if (tx == NULL || ch == NULL || ch->owners == NULL || ch->nowners == 0 ||
        ch->nowners > LX_OWNERS_MAX)
        return fail(why, why_cap, LX_EINVAL, "invalid argument");
    if (!lx_tx_is_signed(tx))
        return fail(why, why_cap, LX_ESTATE, "tx is not signed");
    lx_err err = check_sigs(why, why_cap, tx, ch);
    if (err == LX_OK)
        fail(why, why_cap, LX_OK, "ok");
    return err;
}

lx_err lx_settle_tx_audit(char *why, size_t why_cap, const uint8_t *tx_bytes, size_t len,
                          const lx_batch *batch, const lx_channel *ch, uint32_t network_id,
                          const uint8_t blockchain_id[LX_ID_LEN])
{
    if (tx_bytes == NULL || batch == NULL || ch == NULL || blockchain_id == NULL)
        return fail(why, why_cap, LX_EINVAL, "invalid argument");
    uint8_t chid[LX_CHANNEL_ID_LEN];
    if (lx_channel_id(chid, ch, network_id, blockchain_id) != LX_OK)
        return fail(why, why_cap, LX_EINVAL, "invalid channel");
    lx_batch_info info;
    uint8_t bhash[LX_SHA256_LEN];
    if (lx_batch_info_get(batch, &info) != LX_OK || lx_batch_hash(batch, bhash) != LX_OK)
        return fail(why, why_cap, LX_EINVAL, "invalid batch");
    lx_tx *tx = NULL;
    const char *reason = NULL;
    lx_err err = lx_tx_decode(&tx, &reason, tx_bytes, len);
    if (err != LX_OK)
        return fail(why, why_cap, err, "not a signed tx: %s", reason ? reason : "?");
    const lx_tx_spec *v = lx_tx_view(tx);
    uint64_t number = 0;
    uint8_t memo_hash[LX_SHA256_LEN];
    if (v->kind != LX_TX_BASE || v->network_id != network_id ||
        memcmp(v->blockchain_id, blockchain_id, LX_ID_LEN) != 0)
        err = fail(why, why_cap, LX_EFORMAT, "not a BaseTx of this network and chain");
    else if (lx_settle_memo_parse(&number, memo_hash, v->memo, v->memo_len) != LX_OK)
        err = fail(why, why_cap, LX_ECORRUPT, "memo is not a settlement memo");
    else if (number != info.number || memcmp(memo_hash, bhash, LX_SHA256_LEN) != 0)
        err = fail(why, why_cap, LX_ECORRUPT, "memo names batch %llu, not this batch %llu",
                   (unsigned long long)number, (unsigned long long)info.number);
    else if ((err = check_outputs(why, why_cap, v, batch, ch)) != LX_OK)
        ;
    else if ((err = check_flow(why, why_cap, v, &info)) != LX_OK)
        ;
    else if ((err = check_sigs(why, why_cap, tx, ch)) == LX_OK)
        fail(why, why_cap, LX_OK, "ok");
    lx_tx_free(&tx);
    return err;
}
