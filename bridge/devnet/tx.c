/* The devnet's use of the bridge codec: decoding issued txs and recovering
 * their signers, UTXO ids and encodings, and ids and addresses as text. */
#include <stdlib.h>
#include <string.h>

#include "devnet.h"

void lx__dn_sha256(uint8_t out[LX__DN_ID], const void *buf, size_t len)
{
    lx_err err = lx_sha256(out, buf, len);
    LX_ASSERT(err == LX_OK);
}

void lx__dn_utxo_id(uint8_t out[LX__DN_ID], const uint8_t txid[LX__DN_ID], uint32_t index)
{
    uint8_t b[8 + LX__DN_ID];
    memset(b, 0, 4);
    for (int i = 0; i < 4; i++)
        b[4 + i] = (uint8_t)(index >> (24 - 8 * i));
    memcpy(b + 8, txid, LX__DN_ID);
    lx__dn_sha256(out, b, sizeof b);
}

const lx_xin *lx__dn_tx_input(const lx__dn_tx *tx, size_t i)
{
    const lx_tx_spec *sp = tx->spec;
    LX_ASSERT(i < sp->nins + sp->nxins);
    return i < sp->nins ? &sp->ins[i] : &sp->xins[i - sp->nins];
}

void lx__dn_tx_free(lx__dn_tx **tx)
{
    if (!tx || !*tx)
        return;
    lx_tx_free(&(*tx)->tx);
    free((*tx)->first);
    free((*tx)->signers);
    free((*tx)->bytes);
    free(*tx);
    *tx = NULL;
}

static lx_err decode_error(char *msg, size_t msglen, lx_err err, const char *why)
{
    const char *what = "malformed tx";
    if (err == LX_ECANONICAL)
        what = "tx is not canonical";
    else if (err == LX_ETOOBIG)
        what = "tx over a size limit";
    else if (err == LX_EUNSUPPORTED)
        what = "tx type not supported";
    snprintf(msg, msglen, "%s: %s", what, why ? why : lx_strerror(err));
    return err;
}

lx_err lx__dn_tx_decode(lx__dn_tx **out, char *msg, size_t msglen, const uint8_t *buf, size_t len)
{
    if (!out || (!buf && len))
        return LX_EINVAL;
    *out = NULL;
    lx__dn_tx *t = calloc(1, sizeof *t);
    if (!t)
        return LX_ENOMEM;
    const char *why = NULL;
    lx_err err = lx_tx_decode(&t->tx, &why, buf, len);
    if (err) {
        lx__dn_tx_free(&t);
        return err == LX_ENOMEM ? err : decode_error(msg, msglen, err, why);
    }
    t->spec = lx_tx_view(t->tx);
    t->ninputs = lx_tx_input_count(t->tx);
    size_t nslots = 0;
    t->first = malloc((t->ninputs + 1) * sizeof *t->first);
    for (size_t i = 0; t->first && i < t->ninputs; i++) {
        t->first[i] = nslots;
        nslots += lx_tx_sig_count(t->tx, i);
    }
    t->signers = malloc((nslots ? nslots : 1) * LX__DN_ADDR);
    t->bytes = malloc(len ? len : 1);
    if (!t->first || !t->signers || !t->bytes) {
        lx__dn_tx_free(&t);
        return LX_ENOMEM;
    }
    t->first[t->ninputs] = nslots;
    memcpy(t->bytes, buf, len);
    t->len = len;
    uint8_t hash[LX_SHA256_LEN];
    if ((err = lx_tx_id(t->tx, t->id)) || (err = lx_tx_hash(t->tx, hash))) {
        lx__dn_tx_free(&t);
        snprintf(msg, msglen, "tx: %s", lx_strerror(err));
        return err;
    }
    /* Signers are recovered here, outside any lock: this is the costly part
     * of verification, and it needs no chain state. */
    for (size_t i = 0; i < t->ninputs; i++) {
        for (size_t s = 0; s < t->first[i + 1] - t->first[i]; s++) {
            uint8_t sig[LX_SIG_LEN], pub[LX_PUBKEY_LEN];
            err = lx_tx_get_sig(t->tx, sig, i, s);
            if (!err)
                err = lx_sig_recover(pub, hash, sig);
            if (!err)
                err = lx_address_from_pubkey(t->signers[t->first[i] + s], pub);
            if (err) {
                lx__dn_tx_free(&t);
                snprintf(msg, msglen, "input %zu: signature %zu is invalid (%s)", i, s,
                         err == LX_ECRYPTO ? "malformed, high S or unrecoverable"
                                           : lx_strerror(err));
                return err == LX_ENOMEM ? err : LX_ECRYPTO;
            }
        }
    }
    *out = t;
    return LX_OK;
}

lx_err lx__dn_utxo_encode(uint8_t **out, size_t *out_len, const lx__dn_utxo *u)
{
    lx_xutxo v = {.output_index = u->index, .out = u->out};
    memcpy(v.tx_id, u->txid, LX__DN_ID);
    lx_utxo *x = NULL;
    lx_err err = lx_utxo_new(&x, &v);
    if (err)
        return err;
    size_t n = lx_utxo_encoded_len(x);
    *out = malloc(n ? n : 1);
    err = *out ? lx_utxo_encode(x, *out, n, out_len) : LX_ENOMEM;
    if (err) {
        free(*out);
        *out = NULL;
    }
    lx_utxo_free(&x);
    return err;
}

void lx__dn_id_str(char *buf, size_t buflen, const uint8_t id[LX__DN_ID])
{
    char s[LX_CB58_ID_MAX];
    if (lx_id_to_cb58(s, id) != LX_OK)
        s[0] = 0;
    snprintf(buf, buflen, "%s", s);
}

lx_err lx__dn_id_parse(uint8_t id[LX__DN_ID], const char *s)
{
    if (!s || strlen(s) >= LX_CB58_ID_MAX)
        return LX_EFORMAT;
    lx_err err = lx_id_from_cb58(id, s);
    return err == LX_OK ? LX_OK : LX_EFORMAT;
}

lx_err lx__dn_addr_str(char *buf, size_t buflen, char chain, const char *hrp,
                       const uint8_t addr[LX__DN_ADDR])
{
    char c[2] = {chain, 0};
    return lx_address_encode(buf, buflen, chain ? c : NULL, hrp, addr);
}

lx_err lx__dn_addr_parse(uint8_t addr[LX__DN_ADDR], const char *hrp, const char *s)
{
    if (!s || strlen(s) > LX_ADDR_STR_MAX)
        return LX_EFORMAT;
    const char *chain = NULL;
    if ((s[0] == 'X' || s[0] == 'Y') && s[1] == '-')
        chain = s[0] == 'X' ? "X" : "Y";
    return lx_address_decode(addr, chain, hrp, s) == LX_OK ? LX_OK : LX_EFORMAT;
}

char *lx__dn_hex_encode(const uint8_t *buf, size_t len)
{
    size_t n = lx_hexcs_len(len);
    char *s = malloc(n);
    if (s && lx_hexcs_encode(s, n, buf, len) != LX_OK) {
        free(s);
        s = NULL;
    }
    return s;
}

lx_err lx__dn_hex_decode(uint8_t **out, size_t *out_len, const char *s)
{
    size_t n = strlen(s) / 2 + 1;
    *out = malloc(n);
    if (!*out)
        return LX_ENOMEM;
    lx_err err = lx_hexcs_decode(*out, n, out_len, s);
    if (err) {
        free(*out);
        *out = NULL;
    }
    return err;
}
