/* The shared channel file of settlement: the channel's owners and threshold,
 * the chain, the fee, the engine assets' X-Chain IDs and the channel's
 * initial UTXOs, parsed and checked (docs/settlement.md, "The channel file"). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "settle_int.h"

#define CHANNEL_FILE_MAX ((size_t)4 << 20)

/* A JSON integer, or a decimal string of one (the X-Chain API's form). */
static int get_u64(uint64_t *out, const json_t *v)
{
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        if (i < 0)
            return 0;
        *out = (uint64_t)i;
        return 1;
    }
    if (!json_is_string(v))
        return 0;
    const char *s = json_string_value(v);
    uint64_t x = 0;
    if (!*s)
        return 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return 0;
        unsigned d = (unsigned)(*s - '0');
        if (x > (UINT64_MAX - d) / 10)
            return 0;
        x = x * 10 + d;
    }
    *out = x;
    return 1;
}

static int addr_cmp(const void *a, const void *b)
{
    return memcmp(a, b, LX_XADDR_LEN);
}

/* An address "X-<hrp>1..." (or without the chain prefix). */
static lx_err parse_addr(uint8_t out[LX_XADDR_LEN], const char *s, const char *hrp)
{
    if (lx_address_decode(out, "X", hrp, s) == LX_OK)
        return LX_OK;
    return lx_address_decode(out, NULL, hrp, s);
}

/* One funding UTXO, in the form `lx-xchain utxos --json` prints: txID,
 * outputIndex, assetID, amount, and optionally locktime, threshold and
 * addresses. Returns 1 when it belongs to the channel, 0 when it is owned
 * otherwise (skipped), -1 on a bad entry. */
static int parse_funding(lx__funding *f, const json_t *o, const lx__channel_cfg *c, char *err,
                         size_t errlen, size_t i)
{
    const json_t *tx = json_object_get(o, "txID");
    const json_t *ix = json_object_get(o, "outputIndex");
    const json_t *as = json_object_get(o, "assetID");
    const json_t *am = json_object_get(o, "amount");
    uint64_t idx, amount, lock = 0;
    memset(f, 0, sizeof *f);
    if (!json_is_object(o) || !json_is_string(tx) ||
        lx_id_from_cb58(f->tx_id, json_string_value(tx)) != LX_OK || !get_u64(&idx, ix) ||
        idx > UINT32_MAX || !json_is_string(as) ||
        lx_id_from_cb58(f->asset_id, json_string_value(as)) != LX_OK || !get_u64(&amount, am) ||
        amount == 0) {
        lx__errf(err, errlen, "funding entry %zu: needs txID, outputIndex, assetID, amount (> 0)",
                 i + 1);
        return -1;
    }
    const json_t *lt = json_object_get(o, "locktime");
    if (lt && !get_u64(&lock, lt)) {
        lx__errf(err, errlen, "funding entry %zu: bad locktime", i + 1);
        return -1;
    }
    f->index = (uint32_t)idx;
    f->amount = amount;
    f->locktime = lock;
    /* A listing of the owners' UTXOs also holds UTXOs that are not the
     * channel's (another owner set or threshold): those are not spent. */
    const json_t *th = json_object_get(o, "threshold");
    const json_t *ad = json_object_get(o, "addresses");
    uint64_t t;
    if (th && (!get_u64(&t, th) || t != c->threshold))
        return 0;
    if (ad) {
        if (!json_is_array(ad) || json_array_size(ad) != c->nowners)
            return 0;
        uint8_t got[LX_OWNERS_MAX * LX_XADDR_LEN];
        for (size_t k = 0; k < c->nowners; k++) {
            const json_t *a = json_array_get(ad, k);
            if (!json_is_string(a) ||
                parse_addr(got + k * LX_XADDR_LEN, json_string_value(a), c->hrp) != LX_OK)
                return 0;
        }
        qsort(got, c->nowners, LX_XADDR_LEN, addr_cmp);
        if (memcmp(got, c->owners, c->nowners * LX_XADDR_LEN) != 0)
            return 0;
    }
    return 1;
}

static lx_err parse_obj(lx__channel_cfg *c, size_t *skipped, char *err, size_t errlen,
                        const json_t *root)
{
    uint64_t u;
    if (!json_is_object(root))
        return lx__errf(err, errlen, "the channel file must hold a JSON object");
    if (!get_u64(&u, json_object_get(root, "network_id")) || u == 0 || u > UINT32_MAX)
        return lx__errf(err, errlen, "\"network_id\" must be 1 to 4294967295");
    c->network_id = (uint32_t)u;
    const json_t *v = json_object_get(root, "blockchain_id");
    if (!json_is_string(v) || lx_id_from_cb58(c->blockchain_id, json_string_value(v)) != LX_OK)
        return lx__errf(err, errlen, "\"blockchain_id\" must be a cb58 chain ID");
    v = json_object_get(root, "hrp");
    if (!json_is_string(v) || !json_string_length(v) || json_string_length(v) >= sizeof c->hrp)
        return lx__errf(err, errlen, "\"hrp\" must be the address prefix, e.g. \"local\"");
    snprintf(c->hrp, sizeof c->hrp, "%s", json_string_value(v));

    v = json_object_get(root, "owners");
    if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > LX_OWNERS_MAX)
        return lx__errf(err, errlen, "\"owners\" must list 1 to %d addresses", LX_OWNERS_MAX);
    c->nowners = json_array_size(v);
    for (size_t i = 0; i < c->nowners; i++) {
        const json_t *a = json_array_get(v, i);
        if (!json_is_string(a) ||
            parse_addr(c->owners + i * LX_XADDR_LEN, json_string_value(a), c->hrp) != LX_OK)
            return lx__errf(err, errlen, "owner %zu is not an X-Chain address of hrp \"%s\"", i + 1,
                            c->hrp);
    }
    qsort(c->owners, c->nowners, LX_XADDR_LEN, addr_cmp);
    for (size_t i = 1; i < c->nowners; i++)
        if (memcmp(c->owners + (i - 1) * LX_XADDR_LEN, c->owners + i * LX_XADDR_LEN,
                   LX_XADDR_LEN) == 0)
            return lx__errf(err, errlen, "an owner is listed twice");
    c->threshold = lx_quorum_threshold(c->nowners);
    v = json_object_get(root, "threshold");
    if (v) {
        if (!get_u64(&u, v) || u == 0 || u > c->nowners)
            return lx__errf(err, errlen, "\"threshold\" must be 1 to %zu", c->nowners);
        c->threshold = (uint32_t)u;
    }

    v = json_object_get(root, "fee_asset");
    if (!json_is_string(v) || lx_id_from_cb58(c->fee_asset, json_string_value(v)) != LX_OK)
        return lx__errf(err, errlen, "\"fee_asset\" must be a cb58 asset ID");
    c->tx_fee = LX_WALLET_DEFAULT_FEE;
    if ((v = json_object_get(root, "tx_fee")) && !get_u64(&c->tx_fee, v))
        return lx__errf(err, errlen, "\"tx_fee\" must be an amount of the fee asset");
    if ((v = json_object_get(root, "fee_account")) && !get_u64(&c->fee_account, v))
        return lx__errf(err, errlen, "\"fee_account\" must be an engine account");
    if ((v = json_object_get(root, "max_inputs"))) {
        if (!get_u64(&u, v) || u == 0 || u > LX_SELECT_INPUTS_MAX)
            return lx__errf(err, errlen, "\"max_inputs\" must be 1 to %d", LX_SELECT_INPUTS_MAX);
        c->max_inputs = (size_t)u;
    }

    v = json_object_get(root, "assets");
    if (!json_is_object(v) || json_object_size(v) == 0 ||
        json_object_size(v) > LX__SETTLE_ASSETS_MAX)
        return lx__errf(err, errlen, "\"assets\" must map 1 to %d engine symbols to asset IDs",
                        LX__SETTLE_ASSETS_MAX);
    const char *sym;
    const json_t *id;
    json_object_foreach((json_t *)v, sym, id)
    {
        size_t k = c->nassets;
        if (!*sym || strlen(sym) >= LX_SYMBOL_MAX || !json_is_string(id) ||
            lx_id_from_cb58(c->assets[k].id, json_string_value(id)) != LX_OK)
            return lx__errf(err, errlen,
                            "asset \"%s\": a symbol of 1 to %d bytes and a cb58 asset ID", sym,
                            LX_SYMBOL_MAX - 1);
        for (size_t i = 0; i < k; i++)
            if (memcmp(c->assets[i].id, c->assets[k].id, 32) == 0)
                return lx__errf(err, errlen, "asset \"%s\": its ID is another symbol's too", sym);
        snprintf(c->assets[k].symbol, sizeof c->assets[k].symbol, "%s", sym);
        c->nassets++;
    }

    /* "funding": an array of UTXOs, or the object `lx-xchain utxos --json`
     * prints (its "utxos" member). */
    v = json_object_get(root, "funding");
    if (json_is_object(v))
        v = json_object_get(v, "utxos");
    if (!json_is_array(v) || json_array_size(v) == 0)
        return lx__errf(err, errlen, "\"funding\" must list the channel's initial UTXOs");
    for (size_t i = 0; i < json_array_size(v); i++) {
        lx__funding f;
        int r = parse_funding(&f, json_array_get(v, i), c, err, errlen, i);
        if (r < 0)
            return LX_EINVAL;
        if (r == 0) {
            if (skipped)
                (*skipped)++;
            continue;
        }
        for (size_t k = 0; k < c->nfunding; k++)
            if (memcmp(c->funding[k].tx_id, f.tx_id, 32) == 0 && c->funding[k].index == f.index)
                return lx__errf(err, errlen, "funding entry %zu is listed twice", i + 1);
        if (c->nfunding == LX__SETTLE_FUNDING_MAX)
            return lx__errf(err, errlen, "\"funding\" lists more than %d channel UTXOs",
                            LX__SETTLE_FUNDING_MAX);
        c->funding[c->nfunding++] = f;
    }
    if (c->nfunding == 0)
        return lx__errf(err, errlen, "\"funding\" holds no UTXO owned by exactly the channel");
    lx_channel ch;
    lx__channel_view(&ch, c);
    uint8_t cid[32];
    if (lx_channel_id(cid, &ch, c->network_id, c->blockchain_id) != LX_OK)
        return lx__errf(err, errlen, "the owners and threshold do not make a channel");
    return LX_OK;
}

lx_err lx__channel_parse(lx__channel_cfg *out, size_t *skipped, char *err, size_t errlen,
                         const char *text)
{
    if (!out || !text)
        return LX_EINVAL;
    memset(out, 0, sizeof *out);
    if (skipped)
        *skipped = 0;
    json_error_t je;
    json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return lx__errf(err, errlen, "line %d: %s", je.line, je.text);
    lx_err rc = parse_obj(out, skipped, err, errlen, root);
    json_decref(root);
    return rc;
}

lx_err lx__channel_load(lx__channel_cfg *out, size_t *skipped, char *err, size_t errlen,
                        const char *path)
{
    uint8_t *data = NULL;
    size_t len = 0;
    lx_err rc = lx__settle_read_file(path, &data, &len, CHANNEL_FILE_MAX);
    if (rc != LX_OK)
        return lx__errf(err, errlen, "cannot read %s: %s", path, lx_strerror(rc));
    char *text = realloc(data, len + 1);
    if (!text) {
        free(data);
        return LX_ENOMEM;
    }
    text[len] = 0;
    char why[256] = "";
    rc = lx__channel_parse(out, skipped, why, sizeof why, text);
    free(text);
    if (rc != LX_OK)
        lx__errf(err, errlen, "%s: %s", path, why);
    return rc;
}

void lx__channel_view(lx_channel *ch, const lx__channel_cfg *cfg)
{
    ch->nowners = cfg->nowners;
    ch->owners = cfg->owners;
    ch->threshold = cfg->threshold;
}

const uint8_t *lx__channel_asset(const lx__channel_cfg *cfg, const char *symbol)
{
    for (size_t i = 0; i < cfg->nassets; i++)
        if (strcmp(cfg->assets[i].symbol, symbol) == 0)
            return cfg->assets[i].id;
    return NULL;
}

/* ---- the settlement options of multi-node ---- */

void lx__settle_cfg_defaults(lx__settle_cfg *c)
{
    memset(c, 0, sizeof *c);
    c->interval_us = 1000000;
    c->max_fills = 10000;
}

lx_err lx__settle_set_opt(lx__settle_cfg *c, char *err, size_t errlen, int which, const char *v,
                          const char *src)
{
    if (!c || !v || !src)
        return LX_EINVAL;
    if (which <= 2) {
        char *dst = which == 0 ? c->channel_file : which == 1 ? c->key_file : c->rpc;
        if (!*v || strlen(v) >= LX__PATH_MAX)
            return lx__errf(err, errlen, "%s: the value must be 1 to %d bytes", src,
                            LX__PATH_MAX - 1);
        if (which == 2 && strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0)
            return lx__errf(err, errlen, "%s: bad URL \"%s\": http://HOST:PORT", src, v);
        snprintf(dst, LX__PATH_MAX, "%s", v);
        return LX_OK;
    }
    if (which == 3) {
        uint64_t u = lx__parse_duration_us(v);
        if (u < 1000 || u > 86400000000ull)
            return lx__errf(err, errlen, "%s: bad interval \"%s\": e.g. 1s or 500ms, 1ms to 24h",
                            src, v);
        c->interval_us = u;
        return LX_OK;
    }
    if (which == 4) {
        uint64_t u = 0;
        const char *p = v;
        for (; *p >= '0' && *p <= '9' && u <= 1000000000; p++)
            u = u * 10 + (uint64_t)(*p - '0');
        if (!*v || *p || u == 0 || u > 1000000000)
            return lx__errf(err, errlen, "%s: bad fill count \"%s\": 1 to 1000000000", src, v);
        c->max_fills = u;
        return LX_OK;
    }
    return LX_EINVAL;
}

lx_err lx__settle_cfg_check(const lx__settle_cfg *c, char *err, size_t errlen, int is_leader)
{
    if (!c->channel_file[0] && (c->key_file[0] || c->rpc[0]))
        return lx__errf(err, errlen,
                        "--key-file and --rpc are settlement options: give --channel too");
    if (c->channel_file[0] && !c->key_file[0])
        return lx__errf(err, errlen, "--channel needs --key-file (this node's settlement key)");
    if (c->channel_file[0] && is_leader && !c->rpc[0])
        return lx__errf(err, errlen, "--channel on the leader needs --rpc (the X-Chain API)");
    return LX_OK;
}
