/* The devnet genesis: parsing the JSON file, the built-in default, and the
 * deterministic asset, chain and genesis-transaction ids. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "devnet.h"

#define MAX_ASSETS 64
#define MAX_ALLOCS 4096
#define MAX_VALIDATORS 1024
#define MAX_UTXOS 2000000u /* over all allocations */

static const char *const default_genesis =
    "{\"networkID\":12345,\"hrp\":\"local\","
    "\"assets\":[{\"symbol\":\"LUX\",\"name\":\"Lux\",\"denomination\":9},"
    "{\"symbol\":\"USD\",\"name\":\"US Dollar\",\"denomination\":6}],"
    "\"allocations\":["
    "{\"address\":\"X-local18jma8ppw3nhx5r4ap8clazz0dps7rv5u00z96u\",\"asset\":\"LUX\","
    "\"amount\":\"250000000000\",\"utxos\":4},"
    "{\"address\":\"X-local18jma8ppw3nhx5r4ap8clazz0dps7rv5u00z96u\",\"asset\":\"USD\","
    "\"amount\":\"1000000000\"}],"
    "\"validators\":[{\"nodeID\":\"NodeID-7Xhw2mDxuDS44j42TCB6U5579esbSt3Lg\","
    "\"weight\":\"2000\"}]}";

/* A byte string that the digest and the ids are computed over. */
typedef struct buf {
    uint8_t *p;
    size_t n, cap;
    bool failed;
} buf;

static void put(buf *b, const void *p, size_t n)
{
    if (b->failed)
        return;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n)
            cap *= 2;
        uint8_t *q = realloc(b->p, cap);
        if (!q) {
            b->failed = true;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, p, n);
    b->n += n;
}

static void put_u64(buf *b, uint64_t v)
{
    uint8_t x[8];
    for (int i = 0; i < 8; i++)
        x[i] = (uint8_t)(v >> (56 - 8 * i));
    put(b, x, 8);
}

static void put_str(buf *b, const char *s)
{
    size_t n = strlen(s);
    put_u64(b, n);
    put(b, s, n);
}

/* Reads a non-negative integer given as a JSON number or a decimal string. */
static bool get_u64(uint64_t *out, const json_t *v)
{
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        if (i < 0)
            return false;
        *out = (uint64_t)i;
        return true;
    }
    if (!json_is_string(v))
        return false;
    const char *s = json_string_value(v);
    if (!*s || strlen(s) > 20)
        return false;
    uint64_t r = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        uint64_t d = (uint64_t)(*s - '0');
        if (r > (UINT64_MAX - d) / 10)
            return false;
        r = r * 10 + d;
    }
    *out = r;
    return true;
}

static bool copy_str(char *dst, size_t cap, const json_t *v)
{
    if (!json_is_string(v))
        return false;
    const char *s = json_string_value(v);
    size_t n = strlen(s);
    if (n == 0 || n >= cap)
        return false;
    memcpy(dst, s, n + 1);
    return true;
}

static lx_err fail(char *msg, size_t msglen, const char *what)
{
    snprintf(msg, msglen, "genesis: %s", what);
    return LX_EFORMAT;
}

static lx_err parse_assets(lx__dn_genesis *g, char *msg, size_t msglen, const json_t *arr)
{
    if (!json_is_array(arr) || json_array_size(arr) == 0 || json_array_size(arr) > MAX_ASSETS)
        return fail(msg, msglen, "\"assets\" must be an array of 1 to 64 assets");
    g->nassets = json_array_size(arr);
    g->assets = calloc(g->nassets, sizeof *g->assets);
    if (!g->assets)
        return LX_ENOMEM;
    for (size_t i = 0; i < g->nassets; i++) {
        const json_t *a = json_array_get(arr, i);
        lx__dn_asset *as = &g->assets[i];
        uint64_t den = 0;
        if (!copy_str(as->symbol, sizeof as->symbol, json_object_get(a, "symbol")))
            return fail(msg, msglen, "an asset needs a \"symbol\" of 1 to 15 bytes");
        if (!copy_str(as->name, sizeof as->name, json_object_get(a, "name")))
            return fail(msg, msglen, "an asset needs a \"name\" of 1 to 63 bytes");
        if (!get_u64(&den, json_object_get(a, "denomination")) || den > 32)
            return fail(msg, msglen, "an asset needs a \"denomination\" from 0 to 32");
        as->denomination = (uint8_t)den;
        for (size_t j = 0; j < i; j++)
            if (strcmp(g->assets[j].symbol, as->symbol) == 0)
                return fail(msg, msglen, "two assets have the same symbol");
        buf b = {0};
        put(&b, "lx-devnet/asset/", 16);
        put(&b, as->symbol, strlen(as->symbol));
        if (b.failed)
            return LX_ENOMEM;
        lx__dn_sha256(as->id, b.p, b.n);
        free(b.p);
    }
    return LX_OK;
}

static lx_err parse_allocs(lx__dn_genesis *g, char *msg, size_t msglen, const json_t *arr)
{
    if (!arr)
        return LX_OK;
    if (!json_is_array(arr) || json_array_size(arr) > MAX_ALLOCS)
        return fail(msg, msglen, "\"allocations\" must be an array of at most 4096");
    g->nallocs = json_array_size(arr);
    g->allocs = calloc(g->nallocs ? g->nallocs : 1, sizeof *g->allocs);
    if (!g->allocs)
        return LX_ENOMEM;
    uint64_t total = 0;
    for (size_t i = 0; i < g->nallocs; i++) {
        const json_t *a = json_array_get(arr, i);
        lx__dn_alloc *al = &g->allocs[i];
        const json_t *addr = json_object_get(a, "address");
        if (!json_is_string(addr) ||
            lx__dn_addr_parse(al->addr, g->hrp, json_string_value(addr)) != LX_OK)
            return fail(msg, msglen, "an allocation needs an \"address\" X-<hrp>1...");
        const json_t *sym = json_object_get(a, "asset");
        al->asset = g->nassets;
        for (size_t j = 0; json_is_string(sym) && j < g->nassets; j++)
            if (strcmp(g->assets[j].symbol, json_string_value(sym)) == 0)
                al->asset = j;
        if (al->asset == g->nassets)
            return fail(msg, msglen, "an allocation's \"asset\" must be a listed symbol");
        if (!get_u64(&al->amount, json_object_get(a, "amount")) || al->amount == 0)
            return fail(msg, msglen, "an allocation needs a nonzero \"amount\"");
        const json_t *lt = json_object_get(a, "locktime");
        if (lt && !get_u64(&al->locktime, lt))
            return fail(msg, msglen, "\"locktime\" must be unix seconds");
        uint64_t n = 1;
        const json_t *nu = json_object_get(a, "utxos");
        if (nu && (!get_u64(&n, nu) || n == 0 || n > MAX_UTXOS))
            return fail(msg, msglen, "\"utxos\" must be from 1 to 2000000");
        al->utxos = (uint32_t)n;
        total += n;
        if (total > MAX_UTXOS)
            return fail(msg, msglen, "more than 2000000 genesis UTXOs");
        const json_t *ch = json_object_get(a, "chain");
        if (ch) {
            const char *c = json_is_string(ch) ? json_string_value(ch) : "";
            if (strcmp(c, "X") != 0 && strcmp(c, "Y") != 0)
                return fail(msg, msglen, "\"chain\" must be \"X\" or \"Y\"");
            al->chain = c[0] == 'Y';
        }
    }
    return LX_OK;
}

static lx_err parse_validators(lx__dn_genesis *g, char *msg, size_t msglen, const json_t *arr)
{
    if (!arr)
        return LX_OK;
    if (!json_is_array(arr) || json_array_size(arr) > MAX_VALIDATORS)
        return fail(msg, msglen, "\"validators\" must be an array of at most 1024");
    g->nvalidators = json_array_size(arr);
    g->validators = calloc(g->nvalidators ? g->nvalidators : 1, sizeof *g->validators);
    if (!g->validators)
        return LX_ENOMEM;
    for (size_t i = 0; i < g->nvalidators; i++) {
        const json_t *v = json_array_get(arr, i);
        lx__dn_validator *vd = &g->validators[i];
        if (!copy_str(vd->node_id, sizeof vd->node_id, json_object_get(v, "nodeID")) ||
            strncmp(vd->node_id, "NodeID-", 7) != 0)
            return fail(msg, msglen, "a validator needs a \"nodeID\" NodeID-...");
        if (!get_u64(&vd->weight, json_object_get(v, "weight")) || vd->weight == 0)
            return fail(msg, msglen, "a validator needs a nonzero \"weight\"");
    }
    return LX_OK;
}

/* digest = sha256 over every field in a fixed order; it names the genesis. */
static lx_err derive_ids(lx__dn_genesis *g)
{
    buf b = {0};
    put(&b, "lx-devnet/genesis/v1", 20);
    put_u64(&b, g->network_id);
    put_str(&b, g->hrp);
    put_u64(&b, g->nassets);
    for (size_t i = 0; i < g->nassets; i++) {
        put_str(&b, g->assets[i].symbol);
        put_str(&b, g->assets[i].name);
        put_u64(&b, g->assets[i].denomination);
    }
    put_u64(&b, g->nallocs);
    for (size_t i = 0; i < g->nallocs; i++) {
        const lx__dn_alloc *a = &g->allocs[i];
        put(&b, a->addr, LX__DN_ADDR);
        put(&b, g->assets[a->asset].id, LX__DN_ID);
        put_u64(&b, a->amount);
        put_u64(&b, a->locktime);
        put_u64(&b, a->utxos);
        put_u64(&b, (uint64_t)a->chain);
    }
    put_u64(&b, g->nvalidators);
    for (size_t i = 0; i < g->nvalidators; i++) {
        put_str(&b, g->validators[i].node_id);
        put_u64(&b, g->validators[i].weight);
    }
    if (b.failed)
        return LX_ENOMEM;
    lx__dn_sha256(g->digest, b.p, b.n);
    for (int c = 0; c < LX__DN_CHAINS; c++) {
        uint8_t x[32];
        memcpy(x, "lx-devnet/chain/", 16);
        for (int i = 0; i < 4; i++)
            x[16 + i] = (uint8_t)(g->network_id >> (24 - 8 * i));
        x[20] = (uint8_t)("XY"[c]);
        lx__dn_sha256(g->chain_id[c], x, 21);
        b.n = 0;
        put(&b, "lx-devnet/genesis-tx/", 21);
        put(&b, "XY" + c, 1);
        put(&b, g->digest, LX__DN_ID);
        if (b.failed)
            return LX_ENOMEM;
        lx__dn_sha256(g->genesis_txid[c], b.p, b.n);
    }
    free(b.p);
    return LX_OK;
}

lx_err lx__dn_genesis_parse(lx__dn_genesis **out, char *msg, size_t msglen, const char *json,
                            size_t len)
{
    if (!out || !json)
        return LX_EINVAL;
    *out = NULL;
    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        snprintf(msg, msglen, "genesis: line %d: %s", jerr.line, jerr.text);
        return LX_EFORMAT;
    }
    lx__dn_genesis *g = calloc(1, sizeof *g);
    lx_err err = LX_ENOMEM;
    if (!g)
        goto out;
    uint64_t net = 0;
    err = LX_EFORMAT;
    if (!json_is_object(root)) {
        fail(msg, msglen, "the top level must be an object");
        goto out;
    }
    if (!get_u64(&net, json_object_get(root, "networkID")) || net == 0 || net > UINT32_MAX) {
        fail(msg, msglen, "\"networkID\" must be from 1 to 4294967295");
        goto out;
    }
    g->network_id = (uint32_t)net;
    if (!copy_str(g->hrp, sizeof g->hrp, json_object_get(root, "hrp"))) {
        fail(msg, msglen, "\"hrp\" must be a string of 1 to 15 bytes");
        goto out;
    }
    for (const char *p = g->hrp; *p; p++)
        if (*p < 'a' || *p > 'z') {
            fail(msg, msglen, "\"hrp\" must be lowercase letters");
            goto out;
        }
    if ((err = parse_assets(g, msg, msglen, json_object_get(root, "assets"))) ||
        (err = parse_allocs(g, msg, msglen, json_object_get(root, "allocations"))) ||
        (err = parse_validators(g, msg, msglen, json_object_get(root, "validators"))) ||
        (err = derive_ids(g)))
        goto out;
    *out = g;
    g = NULL;
out:
    lx__dn_genesis_free(&g);
    json_decref(root);
    return err;
}

lx_err lx__dn_genesis_default(lx__dn_genesis **out)
{
    char msg[LX__DN_MSG];
    lx_err err =
        lx__dn_genesis_parse(out, msg, sizeof msg, default_genesis, strlen(default_genesis));
    LX_ASSERT(err != LX_EFORMAT);
    return err;
}

void lx__dn_genesis_free(lx__dn_genesis **g)
{
    if (!g || !*g)
        return;
    free((*g)->assets);
    free((*g)->allocs);
    free((*g)->validators);
    free(*g);
    *g = NULL;
}

int lx__dn_genesis_asset(const lx__dn_genesis *g, const uint8_t id[LX__DN_ID])
{
    for (size_t i = 0; i < g->nassets; i++)
        if (memcmp(g->assets[i].id, id, LX__DN_ID) == 0)
            return (int)i;
    return -1;
}
