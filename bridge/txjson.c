/* Txs and UTXOs as JSON text, every field with IDs in cb58 and addresses in
 * bech32, and tx bytes from the API's hex or plain hex. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "lx/bridge.h"

/* Where addresses are written: "<alias>-<hrp>1..." (no prefix without alias). */
typedef struct names {
    const char *alias, *hrp;
} names;

/* Amounts and locktimes are strings, as in the node's API: a JSON number
 * past 2^53 loses digits in many readers. */
static json_t *jnum(uint64_t v)
{
    char b[24];
    snprintf(b, sizeof b, "%llu", (unsigned long long)v);
    return json_string(b);
}

static json_t *jid(const uint8_t id[LX_ID_LEN])
{
    char b[LX_CB58_ID_MAX];
    return lx_id_to_cb58(b, id) == LX_OK ? json_string(b) : json_null();
}

static json_t *jhex(const uint8_t *p, size_t n)
{
    char *b = malloc(lx_hex_len(n));
    json_t *j = b && lx_hex_encode(b, lx_hex_len(n), p, n) == LX_OK ? json_string(b) : json_null();
    free(b);
    return j;
}

static json_t *jaddr(const names *nm, const char *alias, const uint8_t a[LX_ADDR_LEN])
{
    char s[LX_ADDR_STR_MAX];
    if (lx_address_encode(s, sizeof s, alias, nm->hrp, a) != LX_OK)
        snprintf(s, sizeof s, "?");
    return json_string(s);
}

/* One output; symbol is stolen, and NULL leaves the member out. */
static json_t *jout(const names *nm, const lx_xout *o, const char *alias, json_t *symbol)
{
    json_t *addrs = json_array();
    for (size_t i = 0; i < o->naddrs; i++)
        json_array_append_new(addrs, jaddr(nm, alias, o->addrs + i * LX_ADDR_LEN));
    return json_pack("{s:o,s:o*,s:o,s:o,s:I,s:o}", "assetID", jid(o->asset_id), "symbol", symbol,
                     "amount", jnum(o->amount), "locktime", jnum(o->locktime), "threshold",
                     (json_int_t)o->threshold, "addresses", addrs);
}

static json_t *jouts(const names *nm, const lx_xout *outs, size_t n, const char *alias)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, jout(nm, &outs[i], alias, NULL));
    return arr;
}

/* Inputs first..first+n of tx (in credential order); with hash, each
 * signature and the address it recovers to over hash. */
static json_t *jins(const names *nm, const lx_tx *tx, const lx_xin *ins, size_t n, size_t first,
                    const uint8_t *hash)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        const lx_xin *in = &ins[i];
        json_t *idx = json_array(), *sigs = json_array();
        for (size_t k = 0; k < in->nsigs; k++) {
            json_array_append_new(idx, json_integer(in->sig_indices[k]));
            uint8_t sig[LX_SIG_LEN], pub[LX_PUBKEY_LEN], a[LX_ADDR_LEN];
            if (!hash || lx_tx_get_sig(tx, sig, first + i, k) != LX_OK)
                continue;
            bool ok =
                lx_sig_recover(pub, hash, sig) == LX_OK && lx_address_from_pubkey(a, pub) == LX_OK;
            json_array_append_new(sigs,
                                  json_pack("{s:o,s:o}", "signature", jhex(sig, sizeof sig),
                                            "signer", ok ? jaddr(nm, nm->alias, a) : json_null()));
        }
        json_array_append_new(arr, json_pack("{s:o,s:I,s:o,s:o,s:o,s:o}", "txID", jid(in->tx_id),
                                             "outputIndex", (json_int_t)in->output_index, "assetID",
                                             jid(in->asset_id), "amount", jnum(in->amount),
                                             "sigIndices", idx, "signatures", sigs));
    }
    return arr;
}

static lx_err dump(char **json, json_t *j)
{
    *json = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    return *json ? LX_OK : LX_ENOMEM;
}

lx_err lx_tx_to_json(char **json, const lx_tx *tx, const char *alias, const char *hrp,
                     bool is_signed)
{
    if (json == NULL)
        return LX_EINVAL;
    *json = NULL;
    if (tx == NULL || hrp == NULL)
        return LX_EINVAL;
    const names nm = {alias, hrp};
    const lx_tx_spec *v = lx_tx_view(tx);
    uint8_t hash[LX_SHA256_LEN], id[LX_ID_LEN];
    if (lx_tx_hash(tx, hash) != LX_OK)
        return LX_ENOMEM;
    const char *kind = v->kind == LX_TX_BASE     ? "BaseTx"
                       : v->kind == LX_TX_IMPORT ? "ImportTx"
                                                 : "ExportTx";
    size_t len = is_signed ? lx_tx_signed_len(tx) : lx_tx_unsigned_len(tx);
    json_t *memo = json_stringn((const char *)v->memo, v->memo_len); /* NULL unless UTF-8 */
    json_t *j = json_pack(
        "{s:s,s:b,s:I,s:I,s:I,s:o,s:I,s:o,s:o,s:o,s:o,s:o}", "type", kind, "signed", is_signed,
        "codec", (json_int_t)0, "typeID", (json_int_t)v->kind, "bytes", (json_int_t)len,
        "unsignedHash", jhex(hash, sizeof hash), "networkID", (json_int_t)v->network_id,
        "blockchainID", jid(v->blockchain_id), "outputs", jouts(&nm, v->outs, v->nouts, alias),
        "inputs", jins(&nm, tx, v->ins, v->nins, 0, is_signed ? hash : NULL), "memoHex",
        jhex(v->memo, v->memo_len), "memo", memo ? memo : json_null());
    if (j && v->kind == LX_TX_EXPORT) {
        /* The bytes name the destination chain only by ID: no prefix. */
        json_object_set_new(j, "destinationChain", jid(v->other_chain));
        json_object_set_new(j, "exportedOutputs", jouts(&nm, v->xouts, v->nxouts, NULL));
    } else if (j && v->kind == LX_TX_IMPORT) {
        json_object_set_new(j, "sourceChain", jid(v->other_chain));
        json_object_set_new(j, "importedInputs",
                            jins(&nm, tx, v->xins, v->nxins, v->nins, is_signed ? hash : NULL));
    }
    if (j && is_signed && lx_tx_id(tx, id) == LX_OK)
        json_object_set_new(j, "txID", jid(id));
    return dump(json, j);
}

lx_err lx_utxo_to_json(char **json, const lx_xutxo *u, const char *alias, const char *hrp,
                       const char *symbol)
{
    if (json == NULL)
        return LX_EINVAL;
    *json = NULL;
    if (u == NULL || hrp == NULL)
        return LX_EINVAL;
    const names nm = {alias, hrp};
    char id[LX_CB58_ID_MAX], uid[LX_CB58_ID_MAX + 16];
    if (lx_id_to_cb58(id, u->tx_id) != LX_OK)
        return LX_EINVAL;
    snprintf(uid, sizeof uid, "%s:%u", id, u->output_index);
    json_t *j = jout(&nm, &u->out, alias, symbol ? json_string(symbol) : json_null());
    if (j) {
        json_object_set_new(j, "utxoID", json_string(uid));
        json_object_set_new(j, "txID", json_string(id));
        json_object_set_new(j, "outputIndex", json_integer(u->output_index));
    }
    return dump(json, j);
}

lx_err lx_tx_hex_decode(uint8_t **buf, size_t *len, bool *checksummed, const char *text)
{
    if (buf == NULL)
        return LX_EINVAL;
    *buf = NULL;
    if (len == NULL || checksummed == NULL || text == NULL)
        return LX_EINVAL;
    *len = 0;
    *checksummed = false;
    size_t cap = strlen(text) / 2 + 1;
    uint8_t *b = malloc(cap);
    if (b == NULL)
        return LX_ENOMEM;
    lx_err err;
    if (!strncmp(text, "0x", 2) && lx_hexcs_decode(b, cap, len, text) == LX_OK) {
        *checksummed = true;
        err = LX_OK;
    } else {
        err = lx_hex_decode(b, cap, len, text);
    }
    if (err == LX_OK && *len > LX_TX_MAX)
        err = LX_ETOOBIG;
    if (err != LX_OK) {
        free(b);
        *len = 0;
        *checksummed = false;
        return err;
    }
    *buf = b;
    return LX_OK;
}
