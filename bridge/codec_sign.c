/* Signing and checking AVM transactions: with explicit keys, with a key
 * lookup by owner address, with signatures from external signers; checking
 * signatures against spent UTXOs, and value flow with the fee. */
#include <stdlib.h>
#include <string.h>

#include "lx/bridge.h"

/* Every signature of a tx covers the same hash, and RFC 6979 signing is
 * deterministic, so a key that owns several slots signs once. */
typedef struct signed_by {
    const lx_key *key;
    uint8_t sig[LX_SIG_LEN];
} signed_by;

bool lx_tx_is_signed(const lx_tx *tx)
{
    uint8_t sig[LX_SIG_LEN];
    size_t nin = lx_tx_input_count(tx);
    for (size_t i = 0; i < nin; i++)
        for (size_t j = 0; j < lx_tx_sig_count(tx, i); j++)
            if (lx_tx_get_sig(tx, sig, i, j) != LX_OK)
                return false;
    return tx != NULL;
}

lx_err lx_tx_id(const lx_tx *tx, uint8_t id[LX_ID_LEN])
{
    if (tx == NULL || id == NULL)
        return LX_EINVAL;
    size_t n = lx_tx_signed_len(tx), len = 0;
    uint8_t *buf = malloc(n);
    if (buf == NULL)
        return LX_ENOMEM;
    lx_err err = lx_tx_encode(tx, buf, n, &len);
    if (err == LX_OK)
        err = lx_sha256(id, buf, len);
    free(buf);
    return err;
}

static size_t total_slots(const lx_tx *tx)
{
    size_t n = 0, nin = lx_tx_input_count(tx);
    for (size_t i = 0; i < nin; i++)
        n += lx_tx_sig_count(tx, i);
    return n;
}

static const lx_xin *input_at(const lx_tx *tx, size_t i)
{
    const lx_tx_spec *v = lx_tx_view(tx);
    return i < v->nins ? &v->ins[i] : &v->xins[i - v->nins];
}

static const lx_xutxo *find_utxo(const lx_xutxo *utxos, size_t n, const lx_xin *in)
{
    for (size_t i = 0; i < n; i++)
        if (utxos[i].output_index == in->output_index &&
            memcmp(utxos[i].tx_id, in->tx_id, LX_ID_LEN) == 0)
            return &utxos[i];
    return NULL;
}

/* Signs hash with key, reusing an earlier signature by the same key. */
static lx_err sign_once(signed_by *done, size_t *ndone, const lx_key *key,
                        const uint8_t hash[LX_SHA256_LEN], uint8_t sig[LX_SIG_LEN])
{
    for (size_t i = 0; i < *ndone; i++)
        if (done[i].key == key) {
            memcpy(sig, done[i].sig, LX_SIG_LEN);
            return LX_OK;
        }
    lx_err err = lx_key_sign(key, sig, hash);
    if (err != LX_OK)
        return err;
    done[*ndone].key = key;
    memcpy(done[*ndone].sig, sig, LX_SIG_LEN);
    (*ndone)++;
    return LX_OK;
}

/* Fills all slots from sigs (nslots * LX_SIG_LEN, in slot order). */
static void set_all(lx_tx *tx, const uint8_t *sigs)
{
    size_t nin = lx_tx_input_count(tx), k = 0;
    for (size_t i = 0; i < nin; i++)
        for (size_t j = 0; j < lx_tx_sig_count(tx, i); j++, k++) {
            lx_err err = lx_tx_set_sig(tx, i, j, sigs + k * LX_SIG_LEN);
            LX_ASSERT(err == LX_OK);
        }
}

lx_err lx_tx_sign_keys(lx_tx *tx, const lx_key *const *keys, size_t nkeys)
{
    if (tx == NULL || (keys == NULL && nkeys > 0))
        return LX_EINVAL;
    size_t nslots = total_slots(tx);
    if (nkeys != nslots)
        return LX_EINVAL;
    for (size_t k = 0; k < nkeys; k++)
        if (keys[k] == NULL)
            return LX_EINVAL;
    uint8_t hash[LX_SHA256_LEN];
    lx_err err = lx_tx_hash(tx, hash);
    if (err != LX_OK)
        return err;
    uint8_t *sigs = malloc(nslots * LX_SIG_LEN + 1);
    signed_by *done = malloc((nslots + 1) * sizeof *done);
    size_t ndone = 0;
    if (sigs == NULL || done == NULL)
        err = LX_ENOMEM;
    for (size_t k = 0; k < nslots && err == LX_OK; k++)
        err = sign_once(done, &ndone, keys[k], hash, sigs + k * LX_SIG_LEN);
    if (err == LX_OK)
        set_all(tx, sigs);
    free(sigs);
    free(done);
    return err;
}

/* The owner address that slot j of input in names, or NULL past the end. */
static const uint8_t *slot_owner(const lx_xutxo *u, const lx_xin *in, size_t j)
{
    uint32_t idx = in->sig_indices[j];
    return idx < u->out.naddrs ? u->out.addrs + (size_t)idx * LX_ADDR_LEN : NULL;
}

static lx_err match_utxo(const lx_xutxo **u, const lx_xutxo *utxos, size_t nutxos, const lx_xin *in)
{
    *u = find_utxo(utxos, nutxos, in);
    if (*u == NULL)
        return LX_ENOTFOUND;
    if ((*u)->out.amount != in->amount || memcmp((*u)->out.asset_id, in->asset_id, LX_ID_LEN) != 0)
        return LX_EINVAL;
    return LX_OK;
}

lx_err lx_tx_sign_lookup(lx_tx *tx, lx_key_lookup_fn lookup, void *arg, const lx_xutxo *utxos,
                         size_t nutxos)
{
    if (tx == NULL || lookup == NULL || (utxos == NULL && nutxos > 0))
        return LX_EINVAL;
    size_t nslots = total_slots(tx), nin = lx_tx_input_count(tx);
    uint8_t hash[LX_SHA256_LEN];
    lx_err err = lx_tx_hash(tx, hash);
    if (err != LX_OK)
        return err;
    uint8_t *sigs = malloc(nslots * LX_SIG_LEN + 1);
    signed_by *done = malloc((nslots + 1) * sizeof *done);
    size_t ndone = 0, k = 0;
    if (sigs == NULL || done == NULL)
        err = LX_ENOMEM;
    for (size_t i = 0; i < nin && err == LX_OK; i++) {
        const lx_xin *in = input_at(tx, i);
        const lx_xutxo *u = NULL;
        err = match_utxo(&u, utxos, nutxos, in);
        for (size_t j = 0; j < in->nsigs && err == LX_OK; j++, k++) {
            const uint8_t *owner = slot_owner(u, in, j);
            if (owner == NULL) {
                err = LX_EINVAL;
                break;
            }
            const lx_key *key = lookup(arg, owner);
            if (key == NULL) {
                err = LX_ENOTFOUND;
                break;
            }
            uint8_t addr[LX_ADDR_LEN];
            err = lx_key_address(key, addr);
            if (err == LX_OK && memcmp(addr, owner, LX_ADDR_LEN) != 0)
                err = LX_ECRYPTO;
            if (err == LX_OK)
                err = sign_once(done, &ndone, key, hash, sigs + k * LX_SIG_LEN);
        }
    }
    if (err == LX_OK)
        set_all(tx, sigs);
    free(sigs);
    free(done);
    return err;
}

lx_err lx_tx_add_sig(lx_tx *tx, size_t *filled, const lx_xutxo *utxos, size_t nutxos,
                     const uint8_t sig[LX_SIG_LEN])
{
    if (filled != NULL)
        *filled = 0;
    if (tx == NULL || sig == NULL || (utxos == NULL && nutxos > 0))
        return LX_EINVAL;
    uint8_t hash[LX_SHA256_LEN], pub[LX_PUBKEY_LEN], signer[LX_ADDR_LEN];
    lx_err err = lx_tx_hash(tx, hash);
    if (err == LX_OK)
        err = lx_sig_recover(pub, hash, sig);
    if (err == LX_OK)
        err = lx_address_from_pubkey(signer, pub);
    if (err != LX_OK)
        return err;
    size_t nin = lx_tx_input_count(tx), n = 0;
    for (size_t i = 0; i < nin; i++) {
        const lx_xin *in = input_at(tx, i);
        const lx_xutxo *u = find_utxo(utxos, nutxos, in);
        if (u == NULL)
            continue;
        for (size_t j = 0; j < in->nsigs; j++) {
            const uint8_t *owner = slot_owner(u, in, j);
            if (owner != NULL && memcmp(owner, signer, LX_ADDR_LEN) == 0) {
                lx_tx_set_sig(tx, i, j, sig);
                n++;
            }
        }
    }
    if (filled != NULL)
        *filled = n;
    return n > 0 ? LX_OK : LX_ENOTFOUND;
}

static lx_err verify_fail(const char **why, lx_err err, const char *reason)
{
    if (why != NULL)
        *why = reason;
    return err;
}

lx_err lx_tx_verify(const lx_tx *tx, const char **why, const lx_xutxo *utxos, size_t nutxos)
{
    if (tx == NULL || (utxos == NULL && nutxos > 0))
        return verify_fail(why, LX_EINVAL, "invalid argument");
    if (!lx_tx_is_signed(tx))
        return verify_fail(why, LX_ESTATE, "missing signatures");
    uint8_t hash[LX_SHA256_LEN];
    lx_err err = lx_tx_hash(tx, hash);
    if (err != LX_OK)
        return verify_fail(why, err, "hash failed");
    size_t nin = lx_tx_input_count(tx);
    for (size_t i = 0; i < nin; i++) {
        const lx_xin *in = input_at(tx, i);
        const lx_xutxo *u = NULL;
        err = match_utxo(&u, utxos, nutxos, in);
        if (err == LX_ENOTFOUND)
            return verify_fail(why, err, "input spends an unknown UTXO");
        if (err != LX_OK)
            return verify_fail(why, err, "input asset or amount differs from its UTXO");
        if (in->nsigs != u->out.threshold)
            return verify_fail(why, LX_EINVAL, "number of signatures differs from threshold");
        for (size_t j = 0; j < in->nsigs; j++) {
            const uint8_t *owner = slot_owner(u, in, j);
            if (owner == NULL)
                return verify_fail(why, LX_EINVAL, "sig index past the UTXO's addresses");
            uint8_t sig[LX_SIG_LEN], pub[LX_PUBKEY_LEN], addr[LX_ADDR_LEN];
            err = lx_tx_get_sig(tx, sig, i, j);
            if (err == LX_OK)
                err = lx_sig_recover(pub, hash, sig);
            if (err == LX_OK)
                err = lx_address_from_pubkey(addr, pub);
            if (err != LX_OK)
                return verify_fail(why, LX_ECRYPTO, "bad signature");
            if (memcmp(addr, owner, LX_ADDR_LEN) != 0)
                return verify_fail(why, LX_ECRYPTO, "signature is not the owner's");
        }
    }
    return verify_fail(why, LX_OK, "ok");
}

/* Adds v to *sum; false on overflow. */
static bool add_u64(uint64_t *sum, uint64_t v)
{
    if (*sum > UINT64_MAX - v)
        return false;
    *sum += v;
    return true;
}

static lx_err asset_sums(const lx_tx_spec *v, const uint8_t asset[LX_ID_LEN], uint64_t *in_sum,
                         uint64_t *out_sum)
{
    *in_sum = *out_sum = 0;
    for (size_t i = 0; i < v->nins + v->nxins; i++) {
        const lx_xin *in = i < v->nins ? &v->ins[i] : &v->xins[i - v->nins];
        if (memcmp(in->asset_id, asset, LX_ID_LEN) == 0 && !add_u64(in_sum, in->amount))
            return LX_EOVERFLOW;
    }
    for (size_t i = 0; i < v->nouts + v->nxouts; i++) {
        const lx_xout *o = i < v->nouts ? &v->outs[i] : &v->xouts[i - v->nouts];
        if (memcmp(o->asset_id, asset, LX_ID_LEN) == 0 && !add_u64(out_sum, o->amount))
            return LX_EOVERFLOW;
    }
    return LX_OK;
}

lx_err lx_tx_check_fee(const lx_tx *tx, const uint8_t fee_asset[LX_ID_LEN], uint64_t fee)
{
    if (tx == NULL || fee_asset == NULL)
        return LX_EINVAL;
    const lx_tx_spec *v = lx_tx_view(tx);
    uint64_t ins = 0, outs = 0;
    lx_err err = asset_sums(v, fee_asset, &ins, &outs);
    if (err != LX_OK)
        return err;
    if (!add_u64(&outs, fee))
        return LX_EOVERFLOW;
    if (ins < outs)
        return LX_EINVAL;
    /* Every other asset that is produced must be consumed; an asset that
     * only appears in inputs is burned, which the chain allows. */
    for (size_t i = 0; i < v->nouts + v->nxouts; i++) {
        const lx_xout *o = i < v->nouts ? &v->outs[i] : &v->xouts[i - v->nouts];
        if (memcmp(o->asset_id, fee_asset, LX_ID_LEN) == 0)
            continue;
        err = asset_sums(v, o->asset_id, &ins, &outs);
        if (err != LX_OK)
            return err;
        if (ins < outs)
            return LX_EINVAL;
    }
    return LX_OK;
}
