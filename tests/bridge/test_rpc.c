/* Tests for the X-Chain JSON-RPC client against a scripted loopback server:
 * result parsing, quoted integers, pagination, the prefix probe, retries,
 * deadlines, size caps and malformed answers. */
#include "mock_http.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lx/bridge.h"

/* The test vector of the reference: a txID and its cb58 text. */
static const char VEC_TXID_CB58[] = "XTpfLcopyefkRWbFpTSHr6Dyc89cvSq8Q1bsqHcrWVUmBHeSq";
static const uint8_t VEC_TXID[32] = {
    0x45, 0x2b, 0x30, 0x44, 0x75, 0x17, 0x72, 0x74, 0x24, 0x59, 0x62, 0x1f, 0x1a, 0xcc, 0x2b, 0x12,
    0xf4, 0xef, 0x8e, 0xf9, 0x5f, 0x2d, 0xe3, 0x35, 0xf1, 0x42, 0x82, 0x5a, 0xd7, 0x36, 0xb6, 0xcb};

static void fill_id(uint8_t id[32], uint8_t v)
{
    memset(id, v, 32);
}

static void id_text(char out[LX_CB58_ID_MAX], uint8_t v)
{
    uint8_t id[32];
    fill_id(id, v);
    assert_int_equal(lx_id_to_cb58(out, id), LX_OK);
}

static char *hexcs(const uint8_t *b, size_t n)
{
    size_t cap = lx_hexcs_len(n);
    char *s = malloc(cap);
    assert_non_null(s);
    assert_int_equal(lx_hexcs_encode(s, cap, b, n), LX_OK);
    return s;
}

static lx_rpc *client(const mock_server *m, lx_rpc_options *o)
{
    lx_rpc *c = NULL;
    assert_int_equal(lx_rpc_new(&c, m->url, o), LX_OK);
    return c;
}

/* Options for fast tests: short timeouts and backoff, a fixed jitter seed. */
static void fast_options(lx_rpc_options *o)
{
    lx_rpc_options_init(o);
    o->connect_timeout_ms = 500;
    o->timeout_ms = 1000;
    o->retry_deadline_ms = 3000;
    o->max_retries = 3;
    o->backoff_initial_ms = 5;
    o->backoff_max_ms = 20;
    o->jitter_seed = 42;
}

/* ---- a well-behaved node ---- */

typedef struct node_log {
    char last_path[256];
    char last_method[64];
    char *last_params; /* JSON text */
} node_log;

static const uint8_t TX_BYTES[] = {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xde, 0xad, 0xbe, 0xef};

static void good_node(void *arg, const mock_request *req, mock_reply *out)
{
    node_log *log = arg;
    snprintf(log->last_path, sizeof log->last_path, "%s", req->path);
    snprintf(log->last_method, sizeof log->last_method, "%s", req->method);
    free(log->last_params);
    log->last_params = req->params ? json_dumps(req->params, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    const char *m = req->method;
    char a[LX_CB58_ID_MAX], b[LX_CB58_ID_MAX];
    if (strcmp(m, "xvm.getHeight") == 0) {
        mock_result(out, req, "{\"height\":\"123456789012\"}");
    } else if (strcmp(m, "xvm.issueTx") == 0) {
        char *r = mock_fmt("{\"txID\":\"%s\"}", VEC_TXID_CB58);
        mock_result(out, req, r);
        free(r);
    } else if (strcmp(m, "xvm.getTxStatus") == 0) {
        mock_result(out, req, "{\"status\":\"Processing\"}");
    } else if (strcmp(m, "xvm.getTx") == 0) {
        char *h = hexcs(TX_BYTES, sizeof TX_BYTES);
        char *r = mock_fmt("{\"tx\":\"%s\",\"encoding\":\"hex\"}", h);
        mock_result(out, req, r);
        free(r);
        free(h);
    } else if (strcmp(m, "xvm.getBalance") == 0) {
        id_text(a, 0x11);
        id_text(b, 0x22);
        char *r = mock_fmt("{\"balance\":\"18446744073709551615\",\"utxoIDs\":["
                           "{\"txID\":\"%s\",\"outputIndex\":0},"
                           "{\"txID\":\"%s\",\"outputIndex\":\"4294967295\"}]}",
                           a, b);
        mock_result(out, req, r);
        free(r);
    } else if (strcmp(m, "xvm.getAssetDescription") == 0) {
        id_text(a, 0xaa);
        char *r = mock_fmt("{\"assetID\":\"%s\",\"name\":\"Lux\",\"symbol\":\"LUX\","
                           "\"denomination\":\"9\"}",
                           a);
        mock_result(out, req, r);
        free(r);
    } else if (strcmp(m, "info.getNetworkID") == 0) {
        mock_result(out, req, "{\"networkID\":\"96369\"}");
    } else if (strcmp(m, "info.getBlockchainID") == 0) {
        id_text(a, 0xbc);
        char *r = mock_fmt("{\"blockchainID\":\"%s\"}", a);
        mock_result(out, req, r);
        free(r);
    } else if (strcmp(m, "info.getTxFee") == 0) {
        mock_result(out, req, "{\"txFee\":\"1000000\",\"createAssetTxFee\":\"10000000\"}");
    } else if (strcmp(m, "platform.getCurrentValidators") == 0) {
        mock_result(out, req,
                    "{\"validators\":[{\"nodeID\":\"NodeID-7Xhw2mDxuDS44j42TCB6U5579esbSt3Lg\","
                    "\"weight\":\"2000000000000\",\"startTime\":\"1700000000\","
                    "\"endTime\":\"1800000000\",\"connected\":true},"
                    "{\"nodeID\":\"NodeID-MFrZFVCXPv5iCn6M9K6XduxGTYp891xXZ\","
                    "\"stakeAmount\":\"5\",\"startTime\":\"1\",\"endTime\":\"2\"}]}");
    } else {
        mock_error(out, req, -32000, "can't find method");
    }
}

static void test_every_call_parsed(void **state)
{
    (void)state;
    node_log log = {0};
    mock_server m;
    assert_int_equal(mock_start(&m, good_node, &log), 0);
    lx_rpc_options o;
    fast_options(&o);
    lx_rpc *c = client(&m, &o);
    assert_null(lx_rpc_prefix_name(c));

    uint64_t height = 0;
    assert_int_equal(lx_rpc_get_height(c, &height), LX_OK);
    assert_true(height == 123456789012ull);
    assert_string_equal(lx_rpc_prefix_name(c), "xvm");
    assert_string_equal(log.last_path, "/ext/bc/X");
    assert_int_equal(mock_requests(&m), 1); /* the probe was the call */

    uint8_t id[32] = {0};
    assert_int_equal(lx_rpc_issue_tx(c, id, TX_BYTES, sizeof TX_BYTES), LX_OK);
    assert_memory_equal(id, VEC_TXID, 32);
    assert_string_equal(log.last_method, "xvm.issueTx");
    char *h = hexcs(TX_BYTES, sizeof TX_BYTES);
    char *want = mock_fmt("{\"encoding\":\"hex\",\"tx\":\"%s\"}", h);
    assert_string_equal(log.last_params, want);
    free(want);
    free(h);

    lx_tx_status st = LX_TX_UNKNOWN;
    assert_int_equal(lx_rpc_get_tx_status(c, &st, VEC_TXID), LX_OK);
    assert_int_equal(st, LX_TX_PROCESSING);
    want = mock_fmt("{\"txID\":\"%s\"}", VEC_TXID_CB58);
    assert_string_equal(log.last_params, want);
    free(want);

    lx_rpc_blob tx = {0};
    assert_int_equal(lx_rpc_get_tx(c, &tx, VEC_TXID), LX_OK);
    assert_int_equal(tx.len, sizeof TX_BYTES);
    assert_memory_equal(tx.bytes, TX_BYTES, sizeof TX_BYTES);
    lx_rpc_blob_free(&tx);
    assert_null(tx.bytes);

    uint8_t asset[32], want_id[32];
    fill_id(asset, 0xaa);
    lx_rpc_balance bal;
    assert_int_equal(lx_rpc_get_balance(c, &bal, "X-lux1qqq", asset), LX_OK);
    assert_true(bal.balance == UINT64_MAX);
    assert_int_equal(bal.n_utxo_ids, 2);
    fill_id(want_id, 0x11);
    assert_memory_equal(bal.utxo_ids[0].tx_id, want_id, 32);
    assert_int_equal(bal.utxo_ids[0].output_index, 0);
    fill_id(want_id, 0x22);
    assert_memory_equal(bal.utxo_ids[1].tx_id, want_id, 32);
    assert_true(bal.utxo_ids[1].output_index == UINT32_MAX);
    lx_rpc_balance_free(&bal);
    assert_null(bal.utxo_ids);

    lx_rpc_asset as;
    assert_int_equal(lx_rpc_get_asset_description(c, &as, asset), LX_OK);
    assert_memory_equal(as.asset_id, asset, 32);
    assert_string_equal(as.name, "Lux");
    assert_string_equal(as.symbol, "LUX");
    assert_int_equal(as.denomination, 9);

    uint32_t net = 0;
    assert_int_equal(lx_rpc_get_network_id(c, &net), LX_OK);
    assert_int_equal(net, 96369);
    assert_string_equal(log.last_path, "/ext/info");

    uint8_t chain[32];
    assert_int_equal(lx_rpc_get_blockchain_id(c, chain, "X"), LX_OK);
    fill_id(want_id, 0xbc);
    assert_memory_equal(chain, want_id, 32);
    assert_string_equal(log.last_params, "{\"alias\":\"X\"}");

    lx_rpc_tx_fee fee;
    assert_int_equal(lx_rpc_get_tx_fee(c, &fee), LX_OK);
    assert_true(fee.tx_fee == 1000000u);
    assert_true(fee.create_asset_tx_fee == 10000000u);

    lx_rpc_validators vs;
    assert_int_equal(lx_rpc_get_current_validators(c, &vs, NULL), LX_OK);
    assert_string_equal(log.last_path, "/ext/bc/P");
    assert_int_equal(vs.n, 2);
    assert_string_equal(vs.v[0].node_id, "NodeID-7Xhw2mDxuDS44j42TCB6U5579esbSt3Lg");
    assert_true(vs.v[0].weight == 2000000000000ull);
    assert_true(vs.v[0].start_time == 1700000000u && vs.v[0].end_time == 1800000000u);
    assert_true(vs.v[0].connected);
    assert_true(vs.v[1].weight == 5 && !vs.v[1].connected);
    lx_rpc_validators_free(&vs);
    assert_null(vs.v);

    char *raw = NULL;
    assert_int_equal(lx_rpc_call_raw(c, &raw, LX_RPC_INFO, "info.getTxFee", NULL), LX_OK);
    assert_string_equal(raw, "{\"txFee\":\"1000000\",\"createAssetTxFee\":\"10000000\"}");
    free(raw);
    assert_string_equal(lx_rpc_last_error(c, NULL, NULL), "");
    assert_int_equal(lx_rpc_call_raw(c, &raw, LX_RPC_INFO, "info.getTxFee", "[1]"), LX_EINVAL);

    /* Every call went over one kept-alive connection. */
    assert_int_equal(mock_connections(&m), 1);
    lx_rpc_free(&c);
    assert_null(c);
    mock_stop(&m);
    free(log.last_params);
}

static void test_chain_alias_path(void **state)
{
    (void)state;
    node_log log = {0};
    mock_server m;
    assert_int_equal(mock_start(&m, good_node, &log), 0);
    lx_rpc_options o;
    fast_options(&o);
    o.chain = "Y";
    lx_rpc *c = client(&m, &o);
    uint64_t h = 0;
    assert_int_equal(lx_rpc_get_height(c, &h), LX_OK);
    assert_string_equal(log.last_path, "/ext/bc/Y");
    lx_rpc_free(&c);
    o.chain = "bad/alias";
    assert_int_equal(lx_rpc_new(&c, m.url, &o), LX_EINVAL);
    assert_null(c);
    mock_stop(&m);
    free(log.last_params);
}

/* ---- quoted integers ---- */

typedef struct one_result {
    const char *result; /* the result JSON to answer every call with */
} one_result;

static void answer_result(void *arg, const mock_request *req, mock_reply *out)
{
    one_result *r = arg;
    mock_result(out, req, r->result);
}

static void test_quoted_integers(void **state)
{
    (void)state;
    static const struct {
        const char *result;
        lx_err err;
        uint64_t value;
    } cases[] = {
        {"{\"height\":\"0\"}", LX_OK, 0},
        {"{\"height\":\"18446744073709551615\"}", LX_OK, UINT64_MAX},
        {"{\"height\":42}", LX_OK, 42},
        {"{\"height\":\"18446744073709551616\"}", LX_EFORMAT, 0},
        {"{\"height\":\"99999999999999999999\"}", LX_EFORMAT, 0},
        {"{\"height\":\"000000000000000000001\"}", LX_EFORMAT, 0},
        {"{\"height\":\"-1\"}", LX_EFORMAT, 0},
        {"{\"height\":-1}", LX_EFORMAT, 0},
        {"{\"height\":\"+1\"}", LX_EFORMAT, 0},
        {"{\"height\":\"1.5\"}", LX_EFORMAT, 0},
        {"{\"height\":1.5}", LX_EFORMAT, 0},
        {"{\"height\":\"\"}", LX_EFORMAT, 0},
        {"{\"height\":\" 1\"}", LX_EFORMAT, 0},
        {"{\"height\":\"12a\"}", LX_EFORMAT, 0},
        {"{\"height\":\"0x10\"}", LX_EFORMAT, 0},
        {"{\"height\":\"1\\u00002\"}", LX_EFORMAT, 0},
        {"{\"height\":true}", LX_EFORMAT, 0},
        {"{\"height\":null}", LX_EFORMAT, 0},
        {"{\"height\":[\"1\"]}", LX_EFORMAT, 0},
        {"{}", LX_EFORMAT, 0},
        {"\"7\"", LX_EFORMAT, 0},
    };
    one_result r;
    mock_server m;
    assert_int_equal(mock_start(&m, answer_result, &r), 0);
    lx_rpc_options o;
    fast_options(&o);
    o.prefix = LX_RPC_PREFIX_XVM;
    lx_rpc *c = client(&m, &o);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        r.result = cases[i].result;
        uint64_t h = 12345;
        lx_err err = lx_rpc_get_height(c, &h);
        if (err != cases[i].err)
            fail_msg("case %zu (%s): got %s", i, cases[i].result, lx_strerror(err));
        if (err == LX_OK)
            assert_true(h == cases[i].value);
        else
            assert_string_not_equal(lx_rpc_last_error(c, NULL, NULL), "");
    }
    /* 32-bit fields reject what does not fit. */
    uint32_t net = 0;
    r.result = "{\"networkID\":\"4294967296\"}";
    assert_int_equal(lx_rpc_get_network_id(c, &net), LX_EFORMAT);
    r.result = "{\"networkID\":\"4294967295\"}";
    assert_int_equal(lx_rpc_get_network_id(c, &net), LX_OK);
    assert_true(net == UINT32_MAX);
    /* A denomination over 32 is not an asset the chain can have. */
    uint8_t asset[32];
    fill_id(asset, 0xaa);
    char a[LX_CB58_ID_MAX];
    id_text(a, 0xaa);
    char *res = mock_fmt("{\"assetID\":\"%s\",\"name\":\"A\",\"symbol\":\"A\","
                         "\"denomination\":\"33\"}",
                         a);
    r.result = res;
    lx_rpc_asset as;
    assert_int_equal(lx_rpc_get_asset_description(c, &as, asset), LX_EFORMAT);
    free(res);
    res = mock_fmt("{\"assetID\":\"%s\",\"name\":\"A\",\"symbol\":\"TOOLONG\","
                   "\"denomination\":\"3\"}",
                   a);
    r.result = res;
    assert_int_equal(lx_rpc_get_asset_description(c, &as, asset), LX_EFORMAT);
    free(res);
    /* A txID that is not cb58 of 32 bytes, an unknown status. */
    r.result = "{\"txID\":\"notcb58\"}";
    uint8_t id[32];
    assert_int_equal(lx_rpc_issue_tx(c, id, TX_BYTES, sizeof TX_BYTES), LX_EFORMAT);
    lx_tx_status st;
    r.result = "{\"status\":\"Dropped\"}";
    assert_int_equal(lx_rpc_get_tx_status(c, &st, VEC_TXID), LX_EFORMAT);
    /* A tx whose checksum is wrong. */
    r.result = "{\"tx\":\"0x0000deadbeef00000000\"}";
    lx_rpc_blob tx = {0};
    assert_int_equal(lx_rpc_get_tx(c, &tx, VEC_TXID), LX_EFORMAT);
    assert_null(tx.bytes);
    lx_rpc_free(&c);
    mock_stop(&m);
}

/* ---- getUTXOs pagination ---- */

typedef struct utxo_node {
    size_t total;     /* UTXOs numbered 0..total-1, each owned by every address */
    size_t pages;     /* getUTXOs requests seen */
    size_t max_addrs; /* the most addresses one request carried */
    bool stuck_end;   /* answer the same endIndex every time */
    bool miscount;    /* numFetched disagrees with the list */
    char source[16];  /* sourceChain of the last request */
} utxo_node;

static void utxo_bytes(uint8_t b[12], size_t i)
{
    memset(b, 0, 12);
    b[8] = (uint8_t)(i >> 24);
    b[9] = (uint8_t)(i >> 16);
    b[10] = (uint8_t)(i >> 8);
    b[11] = (uint8_t)i;
}

static void utxo_handler(void *arg, const mock_request *req, mock_reply *out)
{
    utxo_node *u = arg;
    u->pages++;
    json_t *p = req->params;
    size_t naddr = json_array_size(json_object_get(p, "addresses"));
    if (naddr > u->max_addrs)
        u->max_addrs = naddr;
    const char *src = json_string_value(json_object_get(p, "sourceChain"));
    snprintf(u->source, sizeof u->source, "%s", src ? src : "");
    size_t limit = (size_t)json_integer_value(json_object_get(p, "limit"));
    json_t *si = json_object_get(p, "startIndex");
    size_t start = 0;
    if (si != NULL && !u->stuck_end)
        start = (size_t)strtoul(json_string_value(json_object_get(si, "utxo")), NULL, 10) + 1;
    if (strcmp(req->method, "xvm.getUTXOs") != 0 ||
        strcmp(json_string_value(json_object_get(p, "encoding")), "hex") != 0 || limit == 0) {
        mock_error(out, req, -32000, "bad request");
        return;
    }
    json_t *list = json_array();
    size_t i = start;
    for (; i < u->total && i < start + limit; i++) {
        uint8_t b[12];
        utxo_bytes(b, i);
        char *h = hexcs(b, sizeof b);
        json_array_append_new(list, json_string(h));
        free(h);
    }
    size_t n = json_array_size(list);
    char last[32];
    snprintf(last, sizeof last, "%zu", i == 0 ? 0 : i - 1);
    json_t *res = json_pack("{s:s, s:o, s:{s:s, s:s}, s:s}", "numFetched", "0", "utxos", list,
                            "endIndex", "address", "X-lux1a", "utxo", last, "encoding", "hex");
    char nf[32];
    snprintf(nf, sizeof nf, "%zu", u->miscount ? n + 1 : n);
    json_object_set_new(res, "numFetched", json_string(nf));
    char *text = json_dumps(res, JSON_COMPACT);
    mock_result(out, req, text);
    free(text);
    json_decref(res);
}

static void check_utxos(const lx_rpc_utxos *got, size_t total)
{
    assert_int_equal(got->n, total);
    for (size_t i = 0; i < total; i++) {
        uint8_t b[12];
        utxo_bytes(b, i);
        assert_int_equal(got->v[i].len, sizeof b);
        assert_memory_equal(got->v[i].bytes, b, sizeof b);
    }
}

static void test_utxo_pagination(void **state)
{
    (void)state;
    utxo_node u = {0};
    mock_server m;
    assert_int_equal(mock_start(&m, utxo_handler, &u), 0);
    lx_rpc_options o;
    fast_options(&o);
    o.prefix = LX_RPC_PREFIX_XVM;
    o.utxo_page_limit = 3;
    lx_rpc *c = client(&m, &o);
    const char *addrs[] = {"X-lux1a", "X-lux1b"};
    lx_rpc_utxos got = {0};

    u.total = 7; /* pages of 3, 3, 1 */
    assert_int_equal(lx_rpc_get_utxos(c, &got, addrs, 2, NULL), LX_OK);
    check_utxos(&got, 7);
    assert_int_equal(u.pages, 3);
    assert_int_equal(lx_rpc_last_attempts(c), 3);
    assert_string_equal(u.source, "");
    lx_rpc_utxos_free(&got);
    assert_null(got.v);

    u.total = 6; /* pages of 3, 3, 0: a full page always asks once more */
    u.pages = 0;
    assert_int_equal(lx_rpc_get_utxos(c, &got, addrs, 2, "P"), LX_OK);
    check_utxos(&got, 6);
    assert_int_equal(u.pages, 3);
    assert_string_equal(u.source, "P");
    lx_rpc_utxos_free(&got);

    u.total = 0;
    u.pages = 0;
    assert_int_equal(lx_rpc_get_utxos(c, &got, addrs, 2, NULL), LX_OK);
    assert_int_equal(got.n, 0);
    assert_int_equal(u.pages, 1);
    lx_rpc_utxos_free(&got);

    /* A server that never moves endIndex on is caught, not followed forever. */
    u.total = 7;
    u.stuck_end = true;
    assert_int_equal(lx_rpc_get_utxos(c, &got, addrs, 2, NULL), LX_EFORMAT);
    assert_null(got.v);
    u.stuck_end = false;

    u.miscount = true;
    assert_int_equal(lx_rpc_get_utxos(c, &got, addrs, 2, NULL), LX_EFORMAT);
    u.miscount = false;
    lx_rpc_free(&c);

    /* The total cap. */
    o.max_utxos = 5;
    c = client(&m, &o);
    assert_int_equal(lx_rpc_get_utxos(c, &got, addrs, 2, NULL), LX_ETOOBIG);
    assert_null(got.v);
    lx_rpc_free(&c);

    /* 2500 addresses go in groups of at most 1024; the UTXOs every group
     * sees come back once. */
    o.max_utxos = 1000;
    o.utxo_page_limit = 1024;
    c = client(&m, &o);
    const char **many = calloc(2500, sizeof *many);
    assert_non_null(many);
    for (size_t i = 0; i < 2500; i++)
        many[i] = "X-lux1a";
    u.total = 7;
    u.pages = 0;
    u.max_addrs = 0;
    assert_int_equal(lx_rpc_get_utxos(c, &got, many, 2500, NULL), LX_OK);
    assert_int_equal(u.pages, 3);
    assert_int_equal(u.max_addrs, 1024);
    check_utxos(&got, 7);
    lx_rpc_utxos_free(&got);
    free(many);
    assert_int_equal(lx_rpc_get_utxos(c, &got, addrs, 0, NULL), LX_EINVAL);
    lx_rpc_free(&c);
    mock_stop(&m);
}

/* ---- the prefix probe ---- */

typedef struct avm_node {
    bool by_404;     /* say "no xvm" with HTTP 404 instead of -32000 */
    size_t xvm_seen; /* xvm.* requests */
} avm_node;

static void avm_handler(void *arg, const mock_request *req, mock_reply *out)
{
    avm_node *a = arg;
    if (strncmp(req->method, "xvm.", 4) == 0) {
        a->xvm_seen++;
        if (a->by_404) {
            out->status = 404;
            out->body = mock_fmt("404 page not found");
        } else {
            mock_error(out, req, -32000, "problem with request: can't find service xvm");
        }
        return;
    }
    if (strcmp(req->method, "avm.getHeight") == 0)
        mock_result(out, req, "{\"height\":\"77\"}");
    else if (strcmp(req->method, "avm.getTxStatus") == 0)
        mock_result(out, req, "{\"status\":\"Accepted\"}");
    else
        mock_error(out, req, -32000, "can't find method");
}

static void test_prefix_fallback(void **state)
{
    (void)state;
    for (int by_404 = 0; by_404 <= 1; by_404++) {
        avm_node a = {.by_404 = by_404};
        mock_server m;
        assert_int_equal(mock_start(&m, avm_handler, &a), 0);
        lx_rpc_options o;
        fast_options(&o);
        lx_rpc *c = client(&m, &o);
        lx_tx_status st = LX_TX_UNKNOWN;
        assert_int_equal(lx_rpc_get_tx_status(c, &st, VEC_TXID), LX_OK);
        assert_int_equal(st, LX_TX_ACCEPTED);
        assert_string_equal(lx_rpc_prefix_name(c), "avm");
        assert_int_equal(lx_rpc_last_attempts(c), 2); /* probe, then the call */
        uint64_t h = 0;
        assert_int_equal(lx_rpc_get_height(c, &h), LX_OK);
        assert_true(h == 77);
        assert_int_equal(a.xvm_seen, 1); /* the choice is remembered */
        assert_int_equal(mock_requests(&m), 3);
        lx_rpc_free(&c);

        /* A forced prefix never probes. */
        o.prefix = LX_RPC_PREFIX_AVM;
        c = client(&m, &o);
        assert_int_equal(lx_rpc_get_height(c, &h), LX_OK);
        assert_int_equal(a.xvm_seen, 1);
        lx_rpc_free(&c);
        mock_stop(&m);
    }
}

static void test_probe_transport_failure_not_remembered(void **state)
{
    (void)state;
    lx_rpc_options o;
    fast_options(&o);
    o.max_retries = 0;
    lx_rpc *c = NULL;
    /* Port 1 on loopback: nothing listens, connect is refused. */
    assert_int_equal(lx_rpc_new(&c, "http://127.0.0.1:1", &o), LX_OK);
    assert_int_equal(lx_rpc_probe(c), LX_ETRANSPORT);
    assert_null(lx_rpc_prefix_name(c));
    assert_string_not_equal(lx_rpc_last_error(c, NULL, NULL), "");
    lx_rpc_free(&c);
}

/* ---- errors and retries ---- */

typedef struct script {
    size_t n;
    struct {
        mock_action action;
        int status;
        const char *body; /* NULL: a good getHeight/issueTx result */
        unsigned delay_ms;
    } step[8];
    size_t big; /* when nonzero, the body of a MOCK_REPLY/CHUNKED step is this long */
} script;

/* Plays the steps in order; the last one repeats. */
static void script_handler(void *arg, const mock_request *req, mock_reply *out)
{
    script *s = arg;
    size_t i = req->n < s->n ? req->n : s->n - 1;
    out->action = s->step[i].action;
    out->status = s->step[i].status;
    out->delay_ms = s->step[i].delay_ms;
    if (s->big) {
        out->body = malloc(s->big + 1);
        memset(out->body, ' ', s->big);
        out->body[s->big] = '\0';
    } else if (s->step[i].body != NULL) {
        out->body = mock_fmt("%s", s->step[i].body);
    } else if (strcmp(req->method, "xvm.issueTx") == 0) {
        char *r = mock_fmt("{\"txID\":\"%s\"}", VEC_TXID_CB58);
        mock_result(out, req, r);
        free(r);
        out->action = s->step[i].action;
    } else {
        mock_result(out, req, "{\"height\":\"9\"}");
        out->action = s->step[i].action;
    }
}

static lx_rpc *script_client(const mock_server *m, lx_rpc_options *o)
{
    fast_options(o);
    o->prefix = LX_RPC_PREFIX_XVM;
    return client(m, o);
}

static void test_rpc_error_kept_not_retried(void **state)
{
    (void)state;
    script s = {.n = 1};
    s.step[0].action = MOCK_REPLY;
    s.step[0].body = "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32000,\"message\":\"failed to "
                     "verify tx: missing UTXO\"},\"id\":1}";
    mock_server m;
    assert_int_equal(mock_start(&m, script_handler, &s), 0);
    lx_rpc_options o;
    lx_rpc *c = script_client(&m, &o);
    uint8_t id[32];
    assert_int_equal(lx_rpc_issue_tx(c, id, TX_BYTES, sizeof TX_BYTES), LX_EREJECTED);
    int64_t code = 0;
    int http = 0;
    assert_string_equal(lx_rpc_last_error(c, &code, &http), "failed to verify tx: missing UTXO");
    assert_int_equal(code, -32000);
    assert_int_equal(http, 200);
    assert_int_equal(lx_rpc_last_attempts(c), 1);
    assert_int_equal(mock_requests(&m), 1);

    /* The same answer to another method is a plain JSON-RPC error. */
    s.step[0].body = "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32602,\"message\":\"bad "
                     "params\"},\"id\":2}";
    uint64_t h;
    assert_int_equal(lx_rpc_get_height(c, &h), LX_ERPC);
    assert_string_equal(lx_rpc_last_error(c, &code, NULL), "bad params");
    assert_int_equal(code, -32602);
    assert_int_equal(mock_requests(&m), 2);

    /* "already issued" is its own outcome. */
    s.step[0].body = "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32000,\"message\":\"duplicate "
                     "tx\"},\"id\":3}";
    assert_int_equal(lx_rpc_issue_tx(c, id, TX_BYTES, sizeof TX_BYTES), LX_EEXIST);

    /* A success clears the last error. */
    s.step[0].body = NULL;
    assert_int_equal(lx_rpc_get_height(c, &h), LX_OK);
    assert_string_equal(lx_rpc_last_error(c, &code, NULL), "");
    assert_int_equal(code, 0);
    lx_rpc_free(&c);
    mock_stop(&m);
}

static void test_503_then_success(void **state)
{
    (void)state;
    script s = {.n = 3};
    s.step[0].status = 503;
    s.step[0].body = "busy";
    s.step[1].status = 502;
    s.step[1].body = "bad gateway";
    mock_server m;
    assert_int_equal(mock_start(&m, script_handler, &s), 0);
    lx_rpc_options o;
    lx_rpc *c = script_client(&m, &o);
    uint64_t h = 0;
    assert_int_equal(lx_rpc_get_height(c, &h), LX_OK);
    assert_true(h == 9);
    assert_int_equal(lx_rpc_last_attempts(c), 3);
    lx_rpc_free(&c);
    mock_stop(&m);

    /* Always 503: gives up after max_retries with the HTTP error kept. */
    s.n = 1;
    s.step[0].status = 503;
    assert_int_equal(mock_start(&m, script_handler, &s), 0);
    c = script_client(&m, &o);
    assert_int_equal(lx_rpc_get_height(c, &h), LX_EHTTP);
    int http = 0;
    const char *msg = lx_rpc_last_error(c, NULL, &http);
    assert_int_equal(http, 503);
    assert_non_null(strstr(msg, "503"));
    assert_int_equal(lx_rpc_last_attempts(c), o.max_retries + 1);
    assert_int_equal(mock_requests(&m), o.max_retries + 1);
    lx_rpc_free(&c);
    mock_stop(&m);

    /* A 4xx is not retried. */
    s.step[0].status = 400;
    assert_int_equal(mock_start(&m, script_handler, &s), 0);
    c = script_client(&m, &o);
    assert_int_equal(lx_rpc_get_height(c, &h), LX_EHTTP);
    assert_int_equal(mock_requests(&m), 1);
    lx_rpc_free(&c);
    mock_stop(&m);
}

static void test_timeout_retried_until_deadline(void **state)
{
    (void)state;
    script s = {.n = 1};
    s.step[0].action = MOCK_SILENT;
    mock_server m;
    assert_int_equal(mock_start(&m, script_handler, &s), 0);
    lx_rpc_options o;
    lx_rpc *c = script_client(&m, &o);
    lx_rpc_free(&c);
    o.timeout_ms = 150;
    o.retry_deadline_ms = 700;
    o.max_retries = 100;
    c = client(&m, &o);
    uint64_t t0 = lx_rpc_now_ms();
    uint64_t h;
    assert_int_equal(lx_rpc_get_height(c, &h), LX_ETIMEDOUT);
    uint64_t took = lx_rpc_now_ms() - t0;
    assert_true(took >= 600 && took < 1500);
    assert_true(lx_rpc_last_attempts(c) >= 4);
    assert_string_not_equal(lx_rpc_last_error(c, NULL, NULL), "");

    /* An outer deadline cuts a call short, and a passed one sends nothing. */
    lx_rpc_set_deadline(c, lx_rpc_now_ms() + 200);
    assert_true(lx_rpc_deadline(c) != 0);
    t0 = lx_rpc_now_ms();
    assert_int_equal(lx_rpc_get_height(c, &h), LX_ETIMEDOUT);
    took = lx_rpc_now_ms() - t0;
    assert_true(took < 500);
    mock_sleep_ms(250);
    size_t before = lx_rpc_last_attempts(c);
    assert_true(before >= 1);
    assert_int_equal(lx_rpc_get_height(c, &h), LX_ETIMEDOUT);
    assert_int_equal(lx_rpc_last_attempts(c), 0);
    lx_rpc_set_deadline(c, 0);
    lx_rpc_free(&c);
    mock_stop(&m);
}

static void test_dropped_connection(void **state)
{
    (void)state;
    const mock_action broken[] = {MOCK_PARTIAL, MOCK_DROP};
    for (size_t k = 0; k < 2; k++) {
        script s = {.n = 2};
        s.step[0].action = broken[k];
        s.step[0].body = "{\"jsonrpc\":\"2.0\",\"res";
        mock_server m;
        assert_int_equal(mock_start(&m, script_handler, &s), 0);
        lx_rpc_options o;
        lx_rpc *c = script_client(&m, &o);
        uint64_t h = 0;
        assert_int_equal(lx_rpc_get_height(c, &h), LX_OK);
        assert_true(h == 9);
        assert_int_equal(lx_rpc_last_attempts(c), 2);
        assert_int_equal(mock_connections(&m), 2);
        lx_rpc_free(&c);
        mock_stop(&m);

        /* Broken every time: the transport error after every retry. */
        s.n = 1;
        assert_int_equal(mock_start(&m, script_handler, &s), 0);
        c = script_client(&m, &o);
        assert_int_equal(lx_rpc_get_height(c, &h), LX_ETRANSPORT);
        assert_int_equal(lx_rpc_last_attempts(c), o.max_retries + 1);
        lx_rpc_free(&c);
        mock_stop(&m);
    }
}

static void test_connection_refused_retried(void **state)
{
    (void)state;
    lx_rpc_options o;
    fast_options(&o);
    o.prefix = LX_RPC_PREFIX_XVM;
    lx_rpc *c = NULL;
    assert_int_equal(lx_rpc_new(&c, "http://127.0.0.1:1", &o), LX_OK);
    uint64_t h;
    assert_int_equal(lx_rpc_get_height(c, &h), LX_ETRANSPORT);
    assert_int_equal(lx_rpc_last_attempts(c), o.max_retries + 1);
    lx_rpc_free(&c);
}

static void test_oversized_body(void **state)
{
    (void)state;
    const mock_action how[] = {MOCK_REPLY, MOCK_CHUNKED};
    for (size_t k = 0; k < 2; k++) {
        script s = {.n = 1, .big = 5000};
        s.step[0].action = how[k];
        mock_server m;
        assert_int_equal(mock_start(&m, script_handler, &s), 0);
        lx_rpc_options o;
        fast_options(&o);
        o.prefix = LX_RPC_PREFIX_XVM;
        o.max_response_bytes = 4096;
        lx_rpc *c = client(&m, &o);
        uint64_t h;
        assert_int_equal(lx_rpc_get_height(c, &h), LX_ETOOBIG);
        assert_int_equal(mock_requests(&m), 1); /* not retried */
        /* Just under the cap is read (and is not JSON). */
        s.big = 4000;
        assert_int_equal(lx_rpc_get_height(c, &h), LX_EFORMAT);
        lx_rpc_free(&c);
        mock_stop(&m);
    }
}

static void test_garbage(void **state)
{
    (void)state;
    static const char *const bodies[] = {
        "",
        "not json at all",
        "<html>oops</html>",
        "[1,2,3]",
        "\"result\"",
        "{\"jsonrpc\":\"2.0\",\"id\":1}",
        "{\"jsonrpc\":\"2.0\",\"result\":{\"height\":\"1\"},\"id\":999}",
        "{\"jsonrpc\":\"2.0\",\"result\":{\"height\":\"1\"}",
        "{\"jsonrpc\":\"2.0\",\"result\":{\"height\":\"1\"}} trailing",
        "{\"jsonrpc\":\"2.0\",\"error\":\"boom\"}",
        "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":\"-32000\",\"message\":\"x\"}}",
        "{\"jsonrpc\":\"2.0\",\"result\":[]}",
        "{\"jsonrpc\":\"2.0\",\"result\":{\"height\":{\"a\":1}}}",
        "\x01\x02\x03\xff\xfe",
    };
    script s = {.n = 1};
    mock_server m;
    assert_int_equal(mock_start(&m, script_handler, &s), 0);
    lx_rpc_options o;
    lx_rpc *c = script_client(&m, &o);
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        s.step[0].body = bodies[i];
        size_t before = mock_requests(&m);
        uint64_t h = 0;
        lx_err err = lx_rpc_get_height(c, &h);
        if (err != LX_EFORMAT)
            fail_msg("body %zu: got %s", i, lx_strerror(err));
        assert_int_equal(mock_requests(&m), before + 1); /* never retried */
    }
    /* The deepest nesting a hostile server sends does not crash the parser. */
    size_t depth = 100000;
    char *deep = malloc(2 * depth + 1);
    assert_non_null(deep);
    memset(deep, '[', depth);
    memset(deep + depth, ']', depth);
    deep[2 * depth] = '\0';
    s.step[0].body = deep;
    uint64_t h;
    assert_int_equal(lx_rpc_get_height(c, &h), LX_EFORMAT);
    free(deep);
    lx_rpc_free(&c);
    mock_stop(&m);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    lx_rpc *c = NULL;
    lx_rpc_options o;
    lx_rpc_options_init(&o);
    assert_int_equal(lx_rpc_new(NULL, "http://127.0.0.1:9630", &o), LX_EINVAL);
    assert_int_equal(lx_rpc_new(&c, NULL, &o), LX_EINVAL);
    assert_int_equal(lx_rpc_new(&c, "ftp://127.0.0.1", &o), LX_EINVAL);
    o.utxo_page_limit = 1025;
    assert_int_equal(lx_rpc_new(&c, "http://127.0.0.1:9630", &o), LX_EINVAL);
    lx_rpc_options_init(&o);
    o.timeout_ms = 0;
    assert_int_equal(lx_rpc_new(&c, "http://127.0.0.1:9630", &o), LX_EINVAL);
    assert_null(c);
    assert_int_equal(lx_rpc_new(&c, "http://127.0.0.1:9630/", NULL), LX_OK);
    uint64_t h;
    assert_int_equal(lx_rpc_get_height(NULL, &h), LX_EINVAL);
    assert_int_equal(lx_rpc_get_height(c, NULL), LX_EINVAL);
    assert_int_equal(lx_rpc_issue_tx(c, NULL, NULL, 0), LX_EINVAL);
    assert_int_equal(lx_rpc_get_tx_status(c, NULL, VEC_TXID), LX_EINVAL);
    lx_rpc_free(&c);
    lx_rpc_free(&c); /* NULL is fine */
    assert_string_equal(lx_tx_status_str(LX_TX_ACCEPTED), "Accepted");
    assert_string_equal(lx_tx_status_str((lx_tx_status)9), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_call_parsed),
        cmocka_unit_test(test_chain_alias_path),
        cmocka_unit_test(test_quoted_integers),
        cmocka_unit_test(test_utxo_pagination),
        cmocka_unit_test(test_prefix_fallback),
        cmocka_unit_test(test_probe_transport_failure_not_remembered),
        cmocka_unit_test(test_rpc_error_kept_not_retried),
        cmocka_unit_test(test_503_then_success),
        cmocka_unit_test(test_timeout_retried_until_deadline),
        cmocka_unit_test(test_dropped_connection),
        cmocka_unit_test(test_connection_refused_retried),
        cmocka_unit_test(test_oversized_body),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
