/* Feeds a settlement audit from a node's API: the channel's txs through
 * getAddressTxs (per asset) and getTx, and its UTXOs through getUTXOs. */
#include <jansson.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit_int.h"
#include "lx/bridge.h"

#define PAGE_SIZE 1024
#define TXS_MAX ((size_t)1 << 20)

typedef struct fetch {
    lx_audit *a;
    lx_rpc *c;
    const lx_channel *ch;
    char *why;
    size_t why_cap;
    uint8_t (*assets)[LX_ID_LEN]; /* to list, in order found */
    size_t nassets, assetcap;
    uint8_t (*seen)[LX_ID_LEN]; /* txs fetched, sorted */
    size_t nseen, seencap;
} fetch;

static lx_err fail(fetch *f, lx_err err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static lx_err fail(fetch *f, lx_err err, const char *fmt, ...)
{
    if (f->why != NULL && f->why_cap > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(f->why, f->why_cap, fmt, ap);
        va_end(ap);
    }
    return err;
}

static const char *rpc_msg(const fetch *f)
{
    const char *m = lx_rpc_last_error(f->c, NULL, NULL);
    return m && *m ? m : "no detail";
}

static lx_err want_asset(fetch *f, const uint8_t asset[LX_ID_LEN])
{
    for (size_t i = 0; i < f->nassets; i++)
        if (memcmp(f->assets[i], asset, LX_ID_LEN) == 0)
            return LX_OK;
    if (f->nassets == f->assetcap) {
        size_t cap = f->assetcap ? f->assetcap * 2 : 8;
        uint8_t(*v)[LX_ID_LEN] = realloc(f->assets, cap * LX_ID_LEN);
        if (v == NULL)
            return LX_ENOMEM;
        f->assets = v;
        f->assetcap = cap;
    }
    memcpy(f->assets[f->nassets++], asset, LX_ID_LEN);
    return LX_OK;
}

/* Marks id seen; false when it was already. */
static lx_err mark_seen(fetch *f, bool *fresh, const uint8_t id[LX_ID_LEN])
{
    size_t lo = 0, hi = f->nseen;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int r = memcmp(f->seen[mid], id, LX_ID_LEN);
        if (r == 0) {
            *fresh = false;
            return LX_OK;
        }
        if (r < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (f->nseen == TXS_MAX)
        return LX_ETOOBIG;
    if (f->nseen == f->seencap) {
        size_t cap = f->seencap ? f->seencap * 2 : 64;
        uint8_t(*v)[LX_ID_LEN] = realloc(f->seen, cap * LX_ID_LEN);
        if (v == NULL)
            return LX_ENOMEM;
        f->seen = v;
        f->seencap = cap;
    }
    memmove(f->seen[lo + 1], f->seen[lo], (f->nseen - lo) * LX_ID_LEN);
    memcpy(f->seen[lo], id, LX_ID_LEN);
    f->nseen++;
    *fresh = true;
    return LX_OK;
}

static bool channel_owned(const lx_xout *o, const lx_channel *ch)
{
    return o->threshold == ch->threshold && o->naddrs == ch->nowners &&
           memcmp(o->addrs, ch->owners, ch->nowners * LX_ADDR_LEN) == 0;
}

/* getTx of id into the audit; the assets it moves are listed next. */
static lx_err add_tx(fetch *f, const uint8_t id[LX_ID_LEN])
{
    lx_rpc_blob b = {NULL, 0};
    char text[LX_CB58_ID_MAX];
    lx_id_to_cb58(text, id);
    lx_err err = lx_rpc_get_tx(f->c, &b, id);
    if (err != LX_OK)
        return fail(f, err, "getTx %s: %s", text, rpc_msg(f));
    err = lx_audit_add_tx(f->a, b.bytes, b.len);
    lx_tx *tx = NULL;
    const char *reason = NULL;
    if (err == LX_OK && lx_tx_decode(&tx, &reason, b.bytes, b.len) == LX_OK) {
        const lx_tx_spec *v = lx_tx_view(tx);
        for (size_t i = 0; err == LX_OK && i < v->nins; i++)
            err = want_asset(f, v->ins[i].asset_id);
        for (size_t i = 0; err == LX_OK && i < v->nouts; i++)
            if (channel_owned(&v->outs[i], f->ch))
                err = want_asset(f, v->outs[i].asset_id);
    } else if (err != LX_ENOMEM) {
        err = LX_OK; /* the audit reports a tx it cannot decode */
    }
    lx_tx_free(&tx);
    lx_rpc_blob_free(&b);
    return err == LX_ENOMEM ? fail(f, err, "out of memory") : err;
}

/* Every page of getAddressTxs for (address, asset). */
static lx_err list_txs(fetch *f, const char *address, const uint8_t asset[LX_ID_LEN])
{
    char method[32], asset_text[LX_CB58_ID_MAX];
    snprintf(method, sizeof method, "%s.getAddressTxs", lx_rpc_prefix_name(f->c));
    lx_id_to_cb58(asset_text, asset);
    uint64_t cursor = 0;
    for (;;) {
        char params[512], *result = NULL;
        snprintf(params, sizeof params,
                 "{\"address\":\"%s\",\"assetID\":\"%s\",\"cursor\":\"%llu\",\"pageSize\":\"%d\"}",
                 address, asset_text, (unsigned long long)cursor, PAGE_SIZE);
        lx_err err = lx_rpc_call_raw(f->c, &result, LX_RPC_CHAIN, method, params);
        if (err != LX_OK)
            return fail(f, err, "%s of %s: %s%s", method, address, rpc_msg(f),
                        err == LX_ERPC ? " (luxd answers it only with \"index-transactions\": true)"
                                       : "");
        json_t *r = json_loads(result, 0, NULL);
        free(result);
        const json_t *ids = json_object_get(r, "txIDs");
        if (!json_is_array(ids) || json_array_size(ids) > PAGE_SIZE) {
            json_decref(r);
            return fail(f, LX_EFORMAT, "%s: result.txIDs is not a list of at most %d", method,
                        PAGE_SIZE);
        }
        size_t n = json_array_size(ids);
        for (size_t i = 0; i < n; i++) {
            uint8_t id[LX_ID_LEN];
            const char *s = json_string_value(json_array_get(ids, i));
            bool fresh = false;
            if (s == NULL || lx_id_from_cb58(id, s) != LX_OK) {
                json_decref(r);
                return fail(f, LX_EFORMAT, "%s: a txID that is not a cb58 ID", method);
            }
            if ((err = mark_seen(f, &fresh, id)) != LX_OK) {
                json_decref(r);
                return fail(f, err, "%s: %s", method,
                            err == LX_ETOOBIG ? "over 2^20 txs" : "out of memory");
            }
            if (fresh && (err = add_tx(f, id)) != LX_OK) {
                json_decref(r);
                return err;
            }
        }
        json_decref(r);
        /* The next cursor is this one plus the count (luxd's rule). */
        if (n < PAGE_SIZE)
            return LX_OK;
        cursor += n;
    }
}

lx_err lx_audit_fetch(lx_audit *a, char *why, size_t why_cap, lx_rpc *c, const char *hrp)
{
    const lx_audit_config *cfg = lx__audit_config(a);
    fetch f = {.a = a, .c = c, .why = why, .why_cap = why_cap};
    if (why != NULL && why_cap > 0)
        why[0] = '\0';
    if (cfg == NULL || c == NULL || hrp == NULL)
        return fail(&f, LX_EINVAL, "invalid argument");
    f.ch = cfg->channel;
    size_t n = f.ch->nowners;
    char(*text)[LX_ADDR_STR_MAX] = calloc(n, sizeof *text);
    const char **addrs = calloc(n, sizeof *addrs);
    lx_rpc_utxos raw = {NULL, 0};
    lx_utxo **utxos = NULL;
    lx_xutxo *views = NULL;
    size_t nviews = 0;
    lx_err err = text && addrs ? LX_OK : fail(&f, LX_ENOMEM, "out of memory");
    for (size_t i = 0; err == LX_OK && i < n; i++) {
        err = lx_address_encode(text[i], sizeof text[i], "X", hrp, f.ch->owners + i * LX_ADDR_LEN);
        addrs[i] = text[i];
        if (err != LX_OK)
            fail(&f, err, "bad HRP \"%s\"", hrp);
    }
    if (err == LX_OK && (err = lx_rpc_probe(c)) != LX_OK)
        fail(&f, err, "%s", rpc_msg(&f));
    /* Every settlement pays its fee, so the fee asset lists them all; the
     * other assets the channel holds or held are listed as they turn up. */
    if (err == LX_OK && (err = want_asset(&f, cfg->fee_asset)) != LX_OK)
        fail(&f, err, "out of memory");
    /* The channel's UTXOs now: also the assets it holds. */
    if (err == LX_OK && (err = lx_rpc_get_utxos(c, &raw, addrs, n, NULL)) != LX_OK)
        fail(&f, err, "getUTXOs: %s", rpc_msg(&f));
    if (err == LX_OK) {
        utxos = calloc(raw.n ? raw.n : 1, sizeof *utxos);
        views = calloc(raw.n ? raw.n : 1, sizeof *views);
        if (utxos == NULL || views == NULL)
            err = fail(&f, LX_ENOMEM, "out of memory");
    }
    for (size_t i = 0; err == LX_OK && i < raw.n; i++) {
        const char *reason = NULL;
        lx_err e = lx_utxo_decode(&utxos[i], &reason, raw.v[i].bytes, raw.v[i].len);
        if (e == LX_EUNSUPPORTED)
            continue; /* not a transfer output: not channel funds */
        if (e != LX_OK) {
            err = fail(&f, e, "getUTXOs: a UTXO does not decode: %s", reason ? reason : "?");
            break;
        }
        views[nviews] = *lx_utxo_view(utxos[i]);
        if (channel_owned(&views[nviews].out, f.ch))
            err = want_asset(&f, views[nviews].out.asset_id);
        nviews++;
    }
    if (err == LX_OK && (err = lx_audit_set_utxos(a, views, nviews)) != LX_OK)
        fail(&f, err, "%s", lx_strerror(err));
    for (size_t i = 0; err == LX_OK && i < f.nassets; i++)
        err = list_txs(&f, addrs[0], f.assets[i]);
    for (size_t i = 0; utxos != NULL && i < raw.n; i++)
        lx_utxo_free(&utxos[i]);
    free(utxos);
    free(views);
    lx_rpc_utxos_free(&raw);
    free(addrs);
    free(text);
    free(f.assets);
    free(f.seen);
    return err;
}
