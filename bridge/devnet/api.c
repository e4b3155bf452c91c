/* JSON-RPC 2.0 over the devnet: request parsing, error shapes as luxd sends
 * them, and the xvm/avm, info and platform methods. */
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "devnet.h"

#define E_PARSE -32700
#define E_INVALID_REQ -32600
#define E_SERVER -32000

/* ids that luxd gives the primary chains; the P-Chain's is all zeros */
static const uint8_t p_chain_id[LX__DN_ID];

typedef struct call {
    lx__dn *d;
    const lx__dn_genesis *g;
    int chain; /* for /ext/bc/X and /ext/bc/Y */
    json_t *params;
    json_t *result; /* set on success */
    char err[LX__DN_MSG + 64];
} call;

typedef bool (*method_fn)(call *c);

typedef struct method {
    const char *name;
    method_fn fn;
} method;

static bool fail(call *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool fail(call *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, sizeof c->err, fmt, ap);
    va_end(ap);
    return false;
}

static char *u64_str(char buf[24], uint64_t v)
{
    snprintf(buf, 24, "%llu", (unsigned long long)v);
    return buf;
}

/* Integers arrive as numbers or decimal strings; absent gives def. */
static bool get_uint(uint64_t *out, const json_t *v, uint64_t def)
{
    if (!v || json_is_null(v)) {
        *out = def;
        return true;
    }
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = (uint64_t)json_integer_value(v);
        return true;
    }
    if (!json_is_string(v))
        return false;
    const char *s = json_string_value(v);
    char *end = NULL;
    if (!*s || *s == '-' || strlen(s) > 20)
        return false;
    unsigned long long x = strtoull(s, &end, 10);
    if (*end)
        return false;
    *out = x;
    return true;
}

static const char *get_str(const call *c, const char *key)
{
    const json_t *v = json_object_get(c->params, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static bool check_encoding(call *c)
{
    const char *e = get_str(c, "encoding");
    if (json_object_get(c->params, "encoding") && !e)
        return fail(c, "encoding must be a string");
    if (e && strcmp(e, "hex") != 0)
        return fail(c, "unsupported encoding \"%s\": this devnet speaks \"hex\"", e);
    return true;
}

/* An asset given by cb58 id or by symbol. */
static int find_asset(call *c, const char *s)
{
    uint8_t id[LX__DN_ID];
    if (!s)
        return -1;
    for (size_t i = 0; i < c->g->nassets; i++)
        if (strcmp(c->g->assets[i].symbol, s) == 0)
            return (int)i;
    if (lx__dn_id_parse(id, s) != LX_OK)
        return -1;
    return lx__dn_genesis_asset(c->g, id);
}

/* A chain given by alias (X, Y) or by cb58 id; -1 if neither. */
static int find_chain(const lx__dn_genesis *g, const char *s)
{
    uint8_t id[LX__DN_ID];
    if (strcmp(s, "X") == 0)
        return 0;
    if (strcmp(s, "Y") == 0)
        return 1;
    if (lx__dn_id_parse(id, s) != LX_OK)
        return -1;
    for (int i = 0; i < LX__DN_CHAINS; i++)
        if (memcmp(id, g->chain_id[i], LX__DN_ID) == 0)
            return i;
    return -1;
}

static json_t *id_json(const uint8_t id[LX__DN_ID])
{
    char s[LX_CB58_ID_MAX];
    lx__dn_id_str(s, sizeof s, id);
    return json_string(s);
}

/* ---- xvm.* / avm.* ---- */

static bool m_issue_tx(call *c)
{
    const char *hex = get_str(c, "tx");
    if (!hex)
        return fail(c, "missing \"tx\"");
    if (!check_encoding(c))
        return false;
    /* "0x" + 2 digits per byte + the 4-byte checksum */
    if (strlen(hex) > 2 + 2 * ((size_t)LX__DN_TX_MAX + 4))
        return fail(c, "tx is over the 65536-byte limit");
    uint8_t *buf = NULL;
    size_t len = 0;
    lx_err err = lx__dn_hex_decode(&buf, &len, hex);
    if (err == LX_ECORRUPT)
        return fail(c, "couldn't decode tx: invalid checksum");
    if (err)
        return fail(c, "couldn't decode tx: %s", lx_strerror(err));
    uint8_t txid[LX__DN_ID];
    char msg[LX__DN_MSG] = "";
    err = lx__dn_issue(c->d, txid, msg, sizeof msg, c->chain, buf, len);
    free(buf);
    if (err)
        return fail(c, "%s", *msg ? msg : lx_strerror(err));
    c->result = json_pack("{s:o}", "txID", id_json(txid));
    return true;
}

static bool parse_txid(call *c, uint8_t id[LX__DN_ID])
{
    const char *s = get_str(c, "txID");
    if (!s)
        return fail(c, "missing \"txID\"");
    if (lx__dn_id_parse(id, s) != LX_OK)
        return fail(c, "couldn't parse txID \"%s\"", s);
    return true;
}

static bool m_get_tx_status(call *c)
{
    static const char *const names[] = {"Unknown", "Processing", "Accepted", "Rejected"};
    uint8_t id[LX__DN_ID];
    if (!parse_txid(c, id))
        return false;
    lx__dn_status s = lx__dn_status_of(c->d, c->chain, id);
    c->result = json_pack("{s:s}", "status", names[s]);
    return true;
}

static bool m_get_tx(call *c)
{
    uint8_t id[LX__DN_ID];
    if (!parse_txid(c, id) || !check_encoding(c))
        return false;
    uint8_t *buf = NULL;
    size_t len = 0;
    lx_err err = lx__dn_get_tx(c->d, &buf, &len, c->chain, id);
    if (err == LX_ENOTFOUND)
        return fail(c, "couldn't get tx: not found (not accepted)");
    if (err)
        return fail(c, "couldn't get tx: %s", lx_strerror(err));
    char *hex = lx__dn_hex_encode(buf, len);
    free(buf);
    if (!hex)
        return fail(c, "out of memory");
    c->result = json_pack("{s:s,s:s}", "tx", hex, "encoding", "hex");
    free(hex);
    return true;
}

static int addr_cmp(const void *a, const void *b)
{
    return memcmp(a, b, LX__DN_ADDR);
}

typedef struct utxo_page {
    json_t *arr;
    bool failed;
} utxo_page;

static void add_utxo(void *arg, const lx__dn_utxo *u)
{
    utxo_page *p = arg;
    uint8_t *buf = NULL;
    size_t len = 0;
    char *hex = NULL;
    if (lx__dn_utxo_encode(&buf, &len, u) != LX_OK || !(hex = lx__dn_hex_encode(buf, len)) ||
        json_array_append_new(p->arr, json_string(hex)) != 0)
        p->failed = true;
    free(hex);
    free(buf);
}

static bool m_get_utxos(call *c)
{
    const json_t *list = json_object_get(c->params, "addresses");
    if (!json_is_array(list) || json_array_size(list) == 0)
        return fail(c, "\"addresses\" must be a non-empty list");
    if (json_array_size(list) > LX__DN_PAGE_MAX)
        return fail(c, "number of addresses given exceeds maximum, 1024");
    if (!check_encoding(c))
        return false;
    size_t n = json_array_size(list);
    uint8_t(*addrs)[LX__DN_ADDR] = malloc(n * LX__DN_ADDR);
    if (!addrs)
        return fail(c, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const json_t *a = json_array_get(list, i);
        if (!json_is_string(a) ||
            lx__dn_addr_parse(addrs[i], c->g->hrp, json_string_value(a)) != LX_OK) {
            free(addrs);
            return fail(c, "couldn't parse address \"%s\"",
                        json_is_string(a) ? json_string_value(a) : "(not a string)");
        }
    }
    qsort(addrs, n, LX__DN_ADDR, addr_cmp);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (m == 0 || memcmp(addrs[m - 1], addrs[i], LX__DN_ADDR) != 0)
            memmove(addrs[m++], addrs[i], LX__DN_ADDR);
    int source = -1;
    const char *src = get_str(c, "sourceChain");
    if (src && *src) {
        source = find_chain(c->g, src);
        if (source < 0) {
            free(addrs);
            return fail(c, "no chain with alias or ID \"%s\"", src);
        }
        if (source == c->chain)
            source = -1;
    }
    uint64_t limit = 0;
    if (!get_uint(&limit, json_object_get(c->params, "limit"), 0)) {
        free(addrs);
        return fail(c, "\"limit\" must be a non-negative integer");
    }
    if (limit == 0 || limit > LX__DN_PAGE_MAX)
        limit = LX__DN_PAGE_MAX;
    bool has_start = false;
    uint8_t start_addr[LX__DN_ADDR] = {0}, start_utxo[LX__DN_ID] = {0};
    const json_t *si = json_object_get(c->params, "startIndex");
    const char *sa = json_string_value(json_object_get(si, "address"));
    const char *su = json_string_value(json_object_get(si, "utxo"));
    if (sa && *sa) {
        if (lx__dn_addr_parse(start_addr, c->g->hrp, sa) != LX_OK ||
            (su && *su && lx__dn_id_parse(start_utxo, su) != LX_OK)) {
            free(addrs);
            return fail(c, "couldn't parse startIndex");
        }
        has_start = true;
    }
    uint8_t end_addr[LX__DN_ADDR], end_utxo[LX__DN_ID];
    memcpy(end_addr, start_addr, LX__DN_ADDR);
    memcpy(end_utxo, start_utxo, LX__DN_ID);
    utxo_page page = {json_array(), false};
    size_t got =
        lx__dn_utxos(c->d, c->chain, source, (const uint8_t(*)[LX__DN_ADDR])addrs, m, has_start,
                     start_addr, start_utxo, (size_t)limit, end_addr, end_utxo, add_utxo, &page);
    free(addrs);
    if (page.failed || !page.arr) {
        json_decref(page.arr);
        return fail(c, "couldn't encode UTXOs");
    }
    char num[24], as[LX_ADDR_STR_MAX] = "";
    if (got || has_start)
        lx__dn_addr_str(as, sizeof as, "XY"[c->chain], c -> g -> hrp, end_addr);
    c->result =
        json_pack("{s:s,s:o,s:{s:s,s:o},s:s}", "numFetched", u64_str(num, got), "utxos", page.arr,
                  "endIndex", "address", as, "utxo", id_json(end_utxo), "encoding", "hex");
    return true;
}

static void add_txid(void *arg, const uint8_t txid[LX__DN_ID])
{
    json_array_append_new(arg, id_json(txid));
}

/* As luxd's (deprecated, index-backed) getAddressTxs: {address, assetID,
 * cursor?, pageSize?} -> {txIDs, cursor}, where the next cursor is this one
 * plus the number returned. */
static bool m_get_address_txs(call *c)
{
    const char *a = get_str(c, "address");
    uint8_t addr[LX__DN_ADDR];
    if (!a || lx__dn_addr_parse(addr, c->g->hrp, a) != LX_OK)
        return fail(c, "couldn't parse argument 'address' to address: \"%s\"", a ? a : "(missing)");
    const char *as = get_str(c, "assetID");
    int asset = as && *as ? find_asset(c, as) : 0; /* the fee asset when omitted, as luxd */
    if (asset < 0)
        return fail(c, "specified `assetID` is invalid: \"%s\"", as);
    uint64_t cursor = 0, size = 0;
    if (!get_uint(&cursor, json_object_get(c->params, "cursor"), 0))
        return fail(c, "\"cursor\" must be a non-negative integer");
    if (!get_uint(&size, json_object_get(c->params, "pageSize"), 0))
        return fail(c, "\"pageSize\" must be a non-negative integer");
    if (size > LX__DN_PAGE_MAX)
        return fail(c, "pageSize > maximum allowed (%d)", LX__DN_PAGE_MAX);
    if (size == 0)
        size = LX__DN_PAGE_MAX;
    json_t *ids = json_array();
    if (!ids)
        return fail(c, "out of memory");
    size_t got = lx__dn_address_txs(c->d, c->chain, addr, c->g->assets[asset].id, cursor,
                                    (size_t)size, add_txid, ids);
    if (json_array_size(ids) != got) {
        json_decref(ids);
        return fail(c, "out of memory");
    }
    char num[24];
    c->result = json_pack("{s:o,s:s}", "txIDs", ids, "cursor", u64_str(num, cursor + got));
    return true;
}

typedef struct balance_acc {
    json_t *ids;
} balance_acc;

static void add_utxo_id(void *arg, const lx__dn_utxo *u)
{
    balance_acc *b = arg;
    json_array_append_new(b->ids, json_pack("{s:o,s:I}", "txID", id_json(u->txid), "outputIndex",
                                            (json_int_t)u->index));
}

static bool m_get_balance(call *c)
{
    const char *a = get_str(c, "address");
    uint8_t addr[LX__DN_ADDR];
    if (!a || lx__dn_addr_parse(addr, c->g->hrp, a) != LX_OK)
        return fail(c, "couldn't parse address \"%s\"", a ? a : "(missing)");
    int asset = find_asset(c, get_str(c, "assetID"));
    if (asset < 0)
        return fail(c, "asset \"%s\" not found",
                    get_str(c, "assetID") ? get_str(c, "assetID") : "");
    const json_t *p = json_object_get(c->params, "includePartial");
    if (p && !json_is_boolean(p))
        return fail(c, "\"includePartial\" must be a boolean");
    balance_acc acc = {json_array()};
    uint64_t total = 0;
    lx_err err = lx__dn_balance(c->d, &total, c->chain, addr, c->g->assets[asset].id,
                                json_is_true(p), add_utxo_id, &acc);
    if (err || !acc.ids) {
        json_decref(acc.ids);
        return fail(c, "couldn't compute balance: %s", lx_strerror(err ? err : LX_ENOMEM));
    }
    char num[24];
    c->result = json_pack("{s:s,s:o}", "balance", u64_str(num, total), "utxoIDs", acc.ids);
    return true;
}

static bool m_get_asset_description(call *c)
{
    int a = find_asset(c, get_str(c, "assetID"));
    if (a < 0)
        return fail(c, "asset \"%s\" not found",
                    get_str(c, "assetID") ? get_str(c, "assetID") : "");
    const lx__dn_asset *as = &c->g->assets[a];
    char den[24];
    c->result = json_pack("{s:o,s:s,s:s,s:s}", "assetID", id_json(as->id), "name", as->name,
                          "symbol", as->symbol, "denomination", u64_str(den, as->denomination));
    return true;
}

static bool m_get_height(call *c)
{
    char h[24];
    c->result = json_pack("{s:s}", "height", u64_str(h, lx__dn_height(c->d, c->chain)));
    return true;
}

/* ---- info.* ---- */

static bool m_network_id(call *c)
{
    char n[24];
    c->result = json_pack("{s:s}", "networkID", u64_str(n, c->g->network_id));
    return true;
}

static bool m_blockchain_id(call *c)
{
    const char *alias = get_str(c, "alias");
    if (!alias)
        return fail(c, "missing \"alias\"");
    int ch = find_chain(c->g, alias);
    if (ch < 0 && strcmp(alias, "P") != 0)
        return fail(c, "there is no chain with alias/ID '%s'", alias);
    c->result =
        json_pack("{s:o}", "blockchainID", id_json(ch < 0 ? p_chain_id : c->g->chain_id[ch]));
    return true;
}

static bool m_tx_fee(call *c)
{
    char f[24], g[24];
    c->result = json_pack("{s:s,s:s}", "txFee", u64_str(f, LX__DN_TX_FEE), "createAssetTxFee",
                          u64_str(g, 10u * LX__DN_TX_FEE));
    return true;
}

/* ---- platform.* ---- */

/* Validators are shown as staking from the server's start for a year. */
static uint64_t start;
static pthread_once_t start_once = PTHREAD_ONCE_INIT;

static void set_start(void)
{
    start = (uint64_t)time(NULL);
}

static bool m_validators(call *c)
{
    pthread_once(&start_once, set_start);
    const json_t *want = json_object_get(c->params, "nodeIDs");
    if (want && !json_is_array(want) && !json_is_null(want))
        return fail(c, "\"nodeIDs\" must be a list");
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < c->g->nvalidators; i++) {
        const lx__dn_validator *v = &c->g->validators[i];
        bool listed = json_array_size(want) == 0;
        for (size_t k = 0; !listed && k < json_array_size(want); k++)
            listed = json_is_string(json_array_get(want, k)) &&
                     strcmp(json_string_value(json_array_get(want, k)), v->node_id) == 0;
        if (!listed)
            continue;
        char w[24], st[24], en[24];
        json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:s,s:s,s:b,s:s}", "nodeID", v->node_id,
                                             "weight", u64_str(w, v->weight), "stakeAmount", w,
                                             "startTime", u64_str(st, start), "endTime",
                                             u64_str(en, start + 365u * 86400u), "connected", 1,
                                             "uptime", "1.0000"));
    }
    if (!arr)
        return fail(c, "out of memory");
    c->result = json_pack("{s:o}", "validators", arr);
    return true;
}

static const method chain_methods[] = {{"issueTx", m_issue_tx},
                                       {"getTxStatus", m_get_tx_status},
                                       {"getTx", m_get_tx},
                                       {"getUTXOs", m_get_utxos},
                                       {"getBalance", m_get_balance},
                                       {"getAssetDescription", m_get_asset_description},
                                       {"getHeight", m_get_height},
                                       {"getAddressTxs", m_get_address_txs},
                                       {NULL, NULL}};
static const method info_methods[] = {{"getNetworkID", m_network_id},
                                      {"getBlockchainID", m_blockchain_id},
                                      {"getTxFee", m_tx_fee},
                                      {NULL, NULL}};
static const method platform_methods[] = {{"getCurrentValidators", m_validators}, {NULL, NULL}};

/* ---- the request envelope ---- */

static char *reply(json_t *id, json_t *result, int code, const char *message)
{
    json_t *r = json_object();
    json_object_set_new(r, "jsonrpc", json_string("2.0"));
    if (result)
        json_object_set_new(r, "result", result);
    else
        json_object_set_new(r, "error", json_pack("{s:i,s:s}", "code", code, "message", message));
    json_object_set(r, "id", id ? id : json_null());
    char *s = json_dumps(r, JSON_COMPACT);
    json_decref(r);
    return s;
}

char *lx__dn_rpc(lx__dn *d, int *status, const char *path, const char *body, size_t len)
{
    const lx__dn_genesis *g = lx__dn_genesis_of(d);
    call c = {.d = d, .g = g, .chain = -1};
    const method *methods = NULL;
    const char *svc[2] = {NULL, NULL};
    *status = 200;
    if (strncmp(path, "/ext/bc/", 8) == 0 && strcmp(path + 8, "P") == 0) {
        methods = platform_methods;
        svc[0] = "platform";
    } else if (strncmp(path, "/ext/bc/", 8) == 0 && (c.chain = find_chain(g, path + 8)) >= 0) {
        methods = chain_methods;
        svc[0] = "xvm";
        svc[1] = "avm";
    } else if (strcmp(path, "/ext/info") == 0) {
        methods = info_methods;
        svc[0] = "info";
    } else {
        *status = 404;
        return reply(NULL, NULL, E_SERVER, "no such endpoint");
    }
    json_error_t jerr;
    json_t *req = json_loadb(body, len, 0, &jerr);
    if (!req) {
        char m[200];
        snprintf(m, sizeof m, "couldn't parse request: %s", jerr.text);
        return reply(NULL, NULL, E_PARSE, m);
    }
    json_t *id = json_object_get(req, "id");
    char *out = NULL;
    const char *ver = json_string_value(json_object_get(req, "jsonrpc"));
    const json_t *mj = json_object_get(req, "method");
    const char *name = json_string_value(mj);
    if (!json_is_object(req)) {
        out = reply(NULL, NULL, E_INVALID_REQ, "request must be a JSON object");
        goto done;
    }
    if (!ver || strcmp(ver, "2.0") != 0) {
        out = reply(id, NULL, E_INVALID_REQ, "jsonrpc must be 2.0");
        goto done;
    }
    const char *dot = name ? strchr(name, '.') : NULL;
    if (!dot || dot == name || strchr(dot + 1, '.') || !dot[1]) {
        char m[160];
        snprintf(m, sizeof m, "rpc: service/method request ill-formed: \"%.100s\"",
                 name ? name : "");
        out = reply(id, NULL, E_SERVER, m);
        goto done;
    }
    size_t ns = (size_t)(dot - name);
    bool known = false;
    for (int i = 0; i < 2 && svc[i]; i++)
        known |= strlen(svc[i]) == ns && strncmp(name, svc[i], ns) == 0;
    const method *m = NULL;
    for (const method *k = methods; known && k->name; k++)
        if (strcmp(k->name, dot + 1) == 0)
            m = k;
    if (!m) {
        char msg[200];
        snprintf(msg, sizeof msg, "rpc: can't find %s \"%.120s\"", known ? "method" : "service",
                 name);
        out = reply(id, NULL, E_SERVER, msg);
        goto done;
    }
    json_t *params = json_object_get(req, "params");
    if (json_is_array(params) && json_array_size(params) == 1)
        params = json_array_get(params, 0);
    if (params && !json_is_null(params) && !json_is_object(params)) {
        out = reply(id, NULL, E_INVALID_REQ, "params must be an object");
        goto done;
    }
    json_t *empty = json_object();
    c.params = params && json_is_object(params) ? params : empty;
    if (m->fn(&c) && c.result)
        out = reply(id, c.result, 0, NULL);
    else
        out = reply(id, NULL, E_SERVER, c.result ? c.err : (*c.err ? c.err : "out of memory"));
    json_decref(empty);
done:
    json_decref(req);
    return out;
}
