/* The X-Chain JSON-RPC methods: the xvm/avm prefix probe, the chain, info and
 * platform calls, and the checks that turn their results into C values. */
#include <jansson.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lx/bridge.h"
#include "rpc_int.h"

#define PREFIX_PROBE_MISS "can't find service"
#define UTXO_ADDR_GROUP 1024

/* ---- names ---- */

const char *lx_rpc_prefix_name(const lx_rpc *c)
{
    if (c == NULL)
        return NULL;
    switch (c->prefix) {
    case LX_RPC_PREFIX_XVM:
        return "xvm";
    case LX_RPC_PREFIX_AVM:
        return "avm";
    default:
        return NULL;
    }
}

const char *lx_tx_status_str(lx_tx_status s)
{
    switch (s) {
    case LX_TX_UNKNOWN:
        return "Unknown";
    case LX_TX_PROCESSING:
        return "Processing";
    case LX_TX_ACCEPTED:
        return "Accepted";
    case LX_TX_REJECTED:
        return "Rejected";
    }
    return "?";
}

/* ---- the method prefix ---- */

static bool service_missing(const lx_rpc *c, lx_err err)
{
    if (err == LX_ERPC)
        return c->rpc_code == -32000 && strstr(c->msg, PREFIX_PROBE_MISS) != NULL;
    return err == LX_EHTTP && c->http_status == 404;
}

/* Probes unless known. When the probe itself succeeded, *height_result (if
 * not NULL) receives the xvm.getHeight result. */
static lx_err ensure_prefix(lx_rpc *c, json_t **height_result)
{
    if (height_result != NULL)
        *height_result = NULL;
    if (c->prefix != LX_RPC_PREFIX_AUTO)
        return LX_OK;
    json_t *r = NULL;
    lx_err err = lx__rpc_call(c, &r, LX_RPC_CHAIN, "xvm.getHeight", json_object());
    if (err == LX_OK) {
        c->prefix = LX_RPC_PREFIX_XVM;
        if (height_result != NULL)
            *height_result = r;
        else
            json_decref(r);
        return LX_OK;
    }
    if (service_missing(c, err)) {
        c->prefix = LX_RPC_PREFIX_AVM;
        c->msg[0] = '\0';
        c->rpc_code = 0;
        return LX_OK;
    }
    if (err == LX_ERPC) {
        /* The xvm service answered, just not with a height: it exists. */
        c->prefix = LX_RPC_PREFIX_XVM;
        c->msg[0] = '\0';
        c->rpc_code = 0;
        return LX_OK;
    }
    return err;
}

lx_err lx_rpc_probe(lx_rpc *c)
{
    if (c == NULL)
        return LX_EINVAL;
    lx__rpc_begin(c);
    return ensure_prefix(c, NULL);
}

/* Calls <prefix>.<name> on the chain endpoint, probing first if needed. */
static lx_err chain_call(lx_rpc *c, json_t **result, const char *name, json_t *params)
{
    lx_err err = ensure_prefix(c, NULL);
    if (err != LX_OK) {
        json_decref(params);
        return err;
    }
    char method[64];
    snprintf(method, sizeof method, "%s.%s", lx_rpc_prefix_name(c), name);
    return lx__rpc_call(c, result, LX_RPC_CHAIN, method, params);
}

/* ---- result fields ---- */

/* A non-negative decimal integer, quoted as the API does, or a plain JSON
 * integer. Anything else, or a value over max, is LX_EFORMAT. */
static lx_err field_u64(lx_rpc *c, uint64_t *out, const json_t *obj, const char *key, uint64_t max)
{
    const json_t *v = json_object_get(obj, key);
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        if (i < 0 || (uint64_t)i > max)
            return lx__rpc_fail(c, LX_EFORMAT, "result.%s is out of range", key);
        *out = (uint64_t)i;
        return LX_OK;
    }
    if (!json_is_string(v))
        return lx__rpc_fail(c, LX_EFORMAT, "result.%s is missing or not a quoted integer", key);
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (len == 0 || len > 20 || strlen(s) != len)
        return lx__rpc_fail(c, LX_EFORMAT, "result.%s is not a decimal integer", key);
    uint64_t x = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return lx__rpc_fail(c, LX_EFORMAT, "result.%s is not a decimal integer", key);
        uint64_t d = (uint64_t)(s[i] - '0');
        if (x > (UINT64_MAX - d) / 10)
            return lx__rpc_fail(c, LX_EFORMAT, "result.%s overflows", key);
        x = x * 10 + d;
    }
    if (x > max)
        return lx__rpc_fail(c, LX_EFORMAT, "result.%s is out of range", key);
    *out = x;
    return LX_OK;
}

static lx_err field_id(lx_rpc *c, uint8_t id[LX_ID_LEN], const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    if (!json_is_string(v))
        return lx__rpc_fail(c, LX_EFORMAT, "result.%s is missing or not a string", key);
    if (lx_id_from_cb58(id, json_string_value(v)) != LX_OK)
        return lx__rpc_fail(c, LX_EFORMAT, "result.%s is not a cb58 ID", key);
    return LX_OK;
}

/* Copies a string member into out[cap]; too long is LX_EFORMAT. */
static lx_err field_str(lx_rpc *c, char *out, size_t cap, const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    if (!json_is_string(v))
        return lx__rpc_fail(c, LX_EFORMAT, "result.%s is missing or not a string", key);
    size_t len = json_string_length(v);
    if (len >= cap || strlen(json_string_value(v)) != len)
        return lx__rpc_fail(c, LX_EFORMAT, "result.%s is too long", key);
    memcpy(out, json_string_value(v), len + 1);
    return LX_OK;
}

/* Decodes the API's "0x…" hex with checksum into a new blob. */
static lx_err hexcs_to_blob(lx_rpc *c, lx_rpc_blob *out, const json_t *v, const char *what)
{
    if (!json_is_string(v))
        return lx__rpc_fail(c, LX_EFORMAT, "%s is missing or not a string", what);
    size_t slen = json_string_length(v);
    size_t cap = slen / 2 + 1;
    uint8_t *b = malloc(cap);
    if (b == NULL)
        return lx__rpc_fail(c, LX_ENOMEM, "out of memory");
    size_t n = 0;
    lx_err err = lx_hexcs_decode(b, cap, &n, json_string_value(v));
    if (err != LX_OK) {
        free(b);
        return lx__rpc_fail(c, LX_EFORMAT, "%s is not checksummed hex (%s)", what,
                            lx_strerror(err));
    }
    out->bytes = b;
    out->len = n;
    return LX_OK;
}

static json_t *id_json(const uint8_t id[LX_ID_LEN])
{
    char s[LX_CB58_ID_MAX];
    if (lx_id_to_cb58(s, id) != LX_OK)
        return NULL;
    return json_string(s);
}

void lx_rpc_blob_free(lx_rpc_blob *b)
{
    if (b == NULL)
        return;
    free(b->bytes);
    b->bytes = NULL;
    b->len = 0;
}

/* ---- the chain API ---- */

static bool msg_has(const lx_rpc *c, const char *needle)
{
    return strstr(c->msg, needle) != NULL;
}

lx_err lx_rpc_issue_tx(lx_rpc *c, uint8_t tx_id[32], const uint8_t *tx, size_t tx_len)
{
    if (c == NULL || tx == NULL || tx_len == 0)
        return LX_EINVAL;
    lx__rpc_begin(c);
    size_t cap = lx_hexcs_len(tx_len);
    char *hex = malloc(cap);
    if (hex == NULL)
        return lx__rpc_fail(c, LX_ENOMEM, "out of memory");
    lx_err err = lx_hexcs_encode(hex, cap, tx, tx_len);
    if (err != LX_OK) {
        free(hex);
        return lx__rpc_fail(c, err, "cannot encode the tx");
    }
    json_t *params = json_pack("{s:s, s:s}", "tx", hex, "encoding", "hex");
    free(hex);
    json_t *r = NULL;
    err = chain_call(c, &r, "issueTx", params);
    if (err == LX_ERPC) {
        if (msg_has(c, "duplicate") || msg_has(c, "already issued") ||
            msg_has(c, "already in mempool"))
            return LX_EEXIST;
        if (c->rpc_code == -32000 && !msg_has(c, PREFIX_PROBE_MISS))
            return LX_EREJECTED;
        return err;
    }
    if (err != LX_OK)
        return err;
    uint8_t id[LX_ID_LEN];
    err = field_id(c, id, r, "txID");
    json_decref(r);
    if (err == LX_OK && tx_id != NULL)
        memcpy(tx_id, id, LX_ID_LEN);
    return err;
}

lx_err lx_rpc_get_tx_status(lx_rpc *c, lx_tx_status *status, const uint8_t tx_id[32])
{
    if (c == NULL || status == NULL || tx_id == NULL)
        return LX_EINVAL;
    lx__rpc_begin(c);
    json_t *r = NULL;
    lx_err err = chain_call(c, &r, "getTxStatus", json_pack("{s:o}", "txID", id_json(tx_id)));
    if (err != LX_OK)
        return err;
    const char *s = json_string_value(json_object_get(r, "status"));
    static const lx_tx_status all[] = {LX_TX_UNKNOWN, LX_TX_PROCESSING, LX_TX_ACCEPTED,
                                       LX_TX_REJECTED};
    err = lx__rpc_fail(c, LX_EFORMAT, "result.status is not a known tx status");
    for (size_t i = 0; s != NULL && i < sizeof all / sizeof all[0]; i++) {
        if (strcmp(s, lx_tx_status_str(all[i])) == 0) {
            *status = all[i];
            c->msg[0] = '\0';
            err = LX_OK;
        }
    }
    json_decref(r);
    return err;
}

lx_err lx_rpc_get_tx(lx_rpc *c, lx_rpc_blob *tx, const uint8_t tx_id[32])
{
    if (c == NULL || tx == NULL || tx_id == NULL)
        return LX_EINVAL;
    tx->bytes = NULL;
    tx->len = 0;
    lx__rpc_begin(c);
    json_t *r = NULL;
    lx_err err = chain_call(c, &r, "getTx",
                            json_pack("{s:o, s:s}", "txID", id_json(tx_id), "encoding", "hex"));
    if (err != LX_OK)
        return err;
    err = hexcs_to_blob(c, tx, json_object_get(r, "tx"), "result.tx");
    json_decref(r);
    return err;
}

void lx_rpc_utxos_free(lx_rpc_utxos *u)
{
    if (u == NULL)
        return;
    for (size_t i = 0; i < u->n; i++)
        free(u->v[i].bytes);
    free(u->v);
    u->v = NULL;
    u->n = 0;
}

typedef struct utxo_acc {
    lx_rpc_utxos *u;
    size_t cap;
} utxo_acc;

static lx_err utxo_push(lx_rpc *c, utxo_acc *a, const json_t *hex)
{
    if (a->u->n >= c->opt.max_utxos)
        return lx__rpc_fail(c, LX_ETOOBIG, "more than %zu UTXOs", c->opt.max_utxos);
    if (a->u->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 64;
        lx_rpc_blob *v = realloc(a->u->v, cap * sizeof *v);
        if (v == NULL)
            return lx__rpc_fail(c, LX_ENOMEM, "out of memory");
        a->u->v = v;
        a->cap = cap;
    }
    lx_err err = hexcs_to_blob(c, &a->u->v[a->u->n], hex, "result.utxos[i]");
    if (err == LX_OK)
        a->u->n++;
    return err;
}

/* One group of at most 1024 addresses, page by page. */
static lx_err utxos_group(lx_rpc *c, utxo_acc *a, const char *const *addresses, size_t n,
                          const char *source_chain)
{
    json_t *start = NULL; /* the endIndex of the previous page */
    lx_err err = LX_OK;
    for (;;) {
        json_t *addrs = json_array();
        for (size_t i = 0; addrs != NULL && i < n; i++) {
            if (json_array_append_new(addrs, json_string(addresses[i])) != 0) {
                json_decref(addrs);
                addrs = NULL;
            }
        }
        json_t *params = json_pack("{s:o, s:I, s:s}", "addresses", addrs, "limit",
                                   (json_int_t)c->opt.utxo_page_limit, "encoding", "hex");
        if (params != NULL && source_chain != NULL &&
            json_object_set_new(params, "sourceChain", json_string(source_chain)) != 0) {
            json_decref(params);
            params = NULL;
        }
        if (params != NULL && start != NULL && json_object_set(params, "startIndex", start) != 0) {
            json_decref(params);
            params = NULL;
        }
        json_t *r = NULL;
        err = chain_call(c, &r, "getUTXOs", params);
        if (err != LX_OK)
            break;
        uint64_t fetched = 0;
        json_t *list = json_object_get(r, "utxos");
        json_t *end = json_object_get(r, "endIndex");
        err = field_u64(c, &fetched, r, "numFetched", UINT32_MAX);
        if (err == LX_OK && (!json_is_array(list) || json_array_size(list) != fetched))
            err = lx__rpc_fail(c, LX_EFORMAT, "result.utxos does not hold numFetched UTXOs");
        for (size_t i = 0; err == LX_OK && i < json_array_size(list); i++)
            err = utxo_push(c, a, json_array_get(list, i));
        bool more = err == LX_OK && fetched >= c->opt.utxo_page_limit;
        if (more && !(json_is_object(end) && json_is_string(json_object_get(end, "address")) &&
                      json_is_string(json_object_get(end, "utxo"))))
            err = lx__rpc_fail(c, LX_EFORMAT, "result.endIndex is missing on a full page");
        if (more && err == LX_OK && start != NULL && json_equal(start, end))
            err = lx__rpc_fail(c, LX_EFORMAT, "result.endIndex did not advance");
        if (err == LX_OK && more) {
            json_decref(start);
            start = json_incref(end);
        }
        json_decref(r);
        if (err != LX_OK || !more)
            break;
    }
    json_decref(start);
    return err;
}

static int blob_cmp(const void *pa, const void *pb)
{
    const lx_rpc_blob *a = pa, *b = pb;
    size_t n = a->len < b->len ? a->len : b->len;
    int d = memcmp(a->bytes, b->bytes, n);
    if (d != 0)
        return d;
    return (a->len > b->len) - (a->len < b->len);
}

lx_err lx_rpc_get_utxos(lx_rpc *c, lx_rpc_utxos *out, const char *const *addresses,
                        size_t n_addresses, const char *source_chain)
{
    if (c == NULL || out == NULL || addresses == NULL || n_addresses == 0)
        return LX_EINVAL;
    out->v = NULL;
    out->n = 0;
    for (size_t i = 0; i < n_addresses; i++)
        if (addresses[i] == NULL)
            return LX_EINVAL;
    lx__rpc_begin(c);
    utxo_acc a = {.u = out, .cap = 0};
    uint32_t attempts = 0;
    lx_err err = LX_OK;
    for (size_t off = 0; err == LX_OK && off < n_addresses; off += UTXO_ADDR_GROUP) {
        size_t n = n_addresses - off < UTXO_ADDR_GROUP ? n_addresses - off : UTXO_ADDR_GROUP;
        err = utxos_group(c, &a, addresses + off, n, source_chain);
        attempts += c->attempts;
        c->attempts = 0;
    }
    c->attempts = attempts;
    if (err != LX_OK) {
        lx_rpc_utxos_free(out);
        return err;
    }
    if (n_addresses > UTXO_ADDR_GROUP && out->n > 1) {
        /* A multisig UTXO is owned by addresses of several groups. */
        qsort(out->v, out->n, sizeof out->v[0], blob_cmp);
        size_t w = 1;
        for (size_t i = 1; i < out->n; i++) {
            if (blob_cmp(&out->v[w - 1], &out->v[i]) == 0)
                free(out->v[i].bytes);
            else
                out->v[w++] = out->v[i];
        }
        out->n = w;
    }
    return LX_OK;
}

void lx_rpc_balance_free(lx_rpc_balance *b)
{
    if (b == NULL)
        return;
    free(b->utxo_ids);
    memset(b, 0, sizeof *b);
}

lx_err lx_rpc_get_balance(lx_rpc *c, lx_rpc_balance *out, const char *address,
                          const uint8_t asset_id[32])
{
    if (c == NULL || out == NULL || address == NULL || asset_id == NULL)
        return LX_EINVAL;
    memset(out, 0, sizeof *out);
    lx__rpc_begin(c);
    json_t *r = NULL;
    lx_err err =
        chain_call(c, &r, "getBalance",
                   json_pack("{s:s, s:o}", "address", address, "assetID", id_json(asset_id)));
    if (err != LX_OK)
        return err;
    err = field_u64(c, &out->balance, r, "balance", UINT64_MAX);
    json_t *ids = json_object_get(r, "utxoIDs");
    if (err == LX_OK && ids != NULL && !json_is_null(ids)) {
        if (!json_is_array(ids)) {
            err = lx__rpc_fail(c, LX_EFORMAT, "result.utxoIDs is not an array");
        } else if (json_array_size(ids) > 0) {
            out->utxo_ids = calloc(json_array_size(ids), sizeof out->utxo_ids[0]);
            if (out->utxo_ids == NULL)
                err = lx__rpc_fail(c, LX_ENOMEM, "out of memory");
        }
        for (size_t i = 0; err == LX_OK && i < json_array_size(ids); i++) {
            json_t *o = json_array_get(ids, i);
            uint64_t idx = 0;
            if (!json_is_object(o)) {
                err = lx__rpc_fail(c, LX_EFORMAT, "result.utxoIDs[%zu] is not an object", i);
                break;
            }
            err = field_id(c, out->utxo_ids[i].tx_id, o, "txID");
            if (err == LX_OK)
                err = field_u64(c, &idx, o, "outputIndex", UINT32_MAX);
            if (err == LX_OK) {
                out->utxo_ids[i].output_index = (uint32_t)idx;
                out->n_utxo_ids = i + 1;
            }
        }
    }
    json_decref(r);
    if (err != LX_OK)
        lx_rpc_balance_free(out);
    return err;
}

lx_err lx_rpc_get_asset_description(lx_rpc *c, lx_rpc_asset *out, const uint8_t asset_id[32])
{
    if (c == NULL || out == NULL || asset_id == NULL)
        return LX_EINVAL;
    memset(out, 0, sizeof *out);
    lx__rpc_begin(c);
    json_t *r = NULL;
    lx_err err =
        chain_call(c, &r, "getAssetDescription", json_pack("{s:o}", "assetID", id_json(asset_id)));
    if (err != LX_OK)
        return err;
    uint64_t denom = 0;
    err = field_id(c, out->asset_id, r, "assetID");
    if (err == LX_OK)
        err = field_str(c, out->name, sizeof out->name, r, "name");
    if (err == LX_OK)
        err = field_str(c, out->symbol, sizeof out->symbol, r, "symbol");
    if (err == LX_OK)
        err = field_u64(c, &denom, r, "denomination", 32);
    if (err == LX_OK)
        out->denomination = (uint8_t)denom;
    else
        memset(out, 0, sizeof *out);
    json_decref(r);
    return err;
}

lx_err lx_rpc_get_height(lx_rpc *c, uint64_t *height)
{
    if (c == NULL || height == NULL)
        return LX_EINVAL;
    lx__rpc_begin(c);
    json_t *r = NULL;
    lx_err err = ensure_prefix(c, &r); /* the probe is a getHeight itself */
    if (err == LX_OK && r == NULL)
        err = chain_call(c, &r, "getHeight", json_object());
    if (err != LX_OK)
        return err;
    err = field_u64(c, height, r, "height", UINT64_MAX);
    json_decref(r);
    return err;
}

/* ---- info and platform ---- */

lx_err lx_rpc_get_network_id(lx_rpc *c, uint32_t *network_id)
{
    if (c == NULL || network_id == NULL)
        return LX_EINVAL;
    lx__rpc_begin(c);
    json_t *r = NULL;
    lx_err err = lx__rpc_call(c, &r, LX_RPC_INFO, "info.getNetworkID", json_object());
    if (err != LX_OK)
        return err;
    uint64_t v = 0;
    err = field_u64(c, &v, r, "networkID", UINT32_MAX);
    if (err == LX_OK)
        *network_id = (uint32_t)v;
    json_decref(r);
    return err;
}

lx_err lx_rpc_get_blockchain_id(lx_rpc *c, uint8_t blockchain_id[32], const char *alias)
{
    if (c == NULL || blockchain_id == NULL || alias == NULL)
        return LX_EINVAL;
    lx__rpc_begin(c);
    json_t *r = NULL;
    lx_err err = lx__rpc_call(c, &r, LX_RPC_INFO, "info.getBlockchainID",
                              json_pack("{s:s}", "alias", alias));
    if (err != LX_OK)
        return err;
    err = field_id(c, blockchain_id, r, "blockchainID");
    json_decref(r);
    return err;
}

lx_err lx_rpc_get_tx_fee(lx_rpc *c, lx_rpc_tx_fee *out)
{
    if (c == NULL || out == NULL)
        return LX_EINVAL;
    lx__rpc_begin(c);
    json_t *r = NULL;
    lx_err err = lx__rpc_call(c, &r, LX_RPC_INFO, "info.getTxFee", json_object());
    if (err != LX_OK)
        return err;
    lx_rpc_tx_fee f;
    err = field_u64(c, &f.tx_fee, r, "txFee", UINT64_MAX);
    if (err == LX_OK)
        err = field_u64(c, &f.create_asset_tx_fee, r, "createAssetTxFee", UINT64_MAX);
    if (err == LX_OK)
        *out = f;
    json_decref(r);
    return err;
}

void lx_rpc_validators_free(lx_rpc_validators *vs)
{
    if (vs == NULL)
        return;
    free(vs->v);
    vs->v = NULL;
    vs->n = 0;
}

static lx_err parse_validator(lx_rpc *c, lx_rpc_validator *v, const json_t *o)
{
    if (!json_is_object(o))
        return lx__rpc_fail(c, LX_EFORMAT, "result.validators[i] is not an object");
    lx_err err = field_str(c, v->node_id, sizeof v->node_id, o, "nodeID");
    if (err == LX_OK)
        err = field_u64(c, &v->weight, o, json_object_get(o, "weight") ? "weight" : "stakeAmount",
                        UINT64_MAX);
    if (err == LX_OK)
        err = field_u64(c, &v->start_time, o, "startTime", UINT64_MAX);
    if (err == LX_OK)
        err = field_u64(c, &v->end_time, o, "endTime", UINT64_MAX);
    const json_t *conn = json_object_get(o, "connected");
    if (err == LX_OK && conn != NULL && !json_is_boolean(conn))
        err = lx__rpc_fail(c, LX_EFORMAT, "result.validators[i].connected is not a boolean");
    v->connected = json_is_true(conn);
    return err;
}

lx_err lx_rpc_get_current_validators(lx_rpc *c, lx_rpc_validators *out, const char *subnet_id)
{
    if (c == NULL || out == NULL)
        return LX_EINVAL;
    out->v = NULL;
    out->n = 0;
    lx__rpc_begin(c);
    json_t *params = subnet_id ? json_pack("{s:s}", "subnetID", subnet_id) : json_object();
    json_t *r = NULL;
    lx_err err = lx__rpc_call(c, &r, LX_RPC_PLATFORM, "platform.getCurrentValidators", params);
    if (err != LX_OK)
        return err;
    json_t *list = json_object_get(r, "validators");
    if (!json_is_array(list)) {
        json_decref(r);
        return lx__rpc_fail(c, LX_EFORMAT, "result.validators is not an array");
    }
    size_t n = json_array_size(list);
    if (n > 0) {
        out->v = calloc(n, sizeof out->v[0]);
        if (out->v == NULL)
            err = lx__rpc_fail(c, LX_ENOMEM, "out of memory");
    }
    for (size_t i = 0; err == LX_OK && i < n; i++) {
        err = parse_validator(c, &out->v[i], json_array_get(list, i));
        if (err == LX_OK)
            out->n = i + 1;
    }
    json_decref(r);
    if (err != LX_OK)
        lx_rpc_validators_free(out);
    return err;
}
