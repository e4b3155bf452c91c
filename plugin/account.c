/* Assets and balances: the asset registry, the stable balance array with its
 * (account, asset) index, the owner records that give orders their balance
 * slots, deposits, withdrawals and the balance queries. */
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"

/* True if s is a NUL-terminated, non-empty string within cap bytes. */
static bool symbol_ok(const char *s, size_t cap)
{
    for (size_t i = 0; i < cap; i++)
        if (s[i] == '\0')
            return i > 0;
    return false;
}

uint32_t lx__asset_lookup(const lx_engine *e, const char *symbol)
{
    if (!symbol_ok(symbol, LX_SYMBOL_MAX))
        return LX__NIL;
    for (uint32_t i = 0; i < e->nassets; i++)
        if (strcmp(e->assets[i].symbol, symbol) == 0)
            return i;
    return LX__NIL;
}

lx_err lx__assets_reserve(lx_engine *e, uint32_t extra)
{
    if (e->cap_assets - e->nassets >= extra)
        return LX_OK;
    if (e->cap_assets >= UINT32_MAX / 4)
        return LX_ENOMEM;
    uint32_t cap = e->cap_assets ? e->cap_assets : 8;
    while (cap - e->nassets < extra)
        cap *= 2;
    lx__asset *v = realloc(e->assets, cap * sizeof *v);
    if (!v)
        return LX_ENOMEM;
    e->assets = v;
    e->cap_assets = cap;
    return LX_OK;
}

lx_err lx__asset_intern(lx_engine *e, uint32_t *id, const char *symbol)
{
    uint32_t a = lx__asset_lookup(e, symbol);
    if (a != LX__NIL) {
        *id = a;
        return LX_OK;
    }
    lx_err err = lx__assets_reserve(e, 1);
    if (err)
        return err;
    lx__asset *as = &e->assets[e->nassets];
    memset(as, 0, sizeof *as);
    memcpy(as->symbol, symbol, strlen(symbol) + 1);
    *id = e->nassets++;
    return LX_OK;
}

uint32_t lx__balance_lookup(const lx_engine *e, uint64_t account, uint32_t asset)
{
    return lx__map_get(&e->bal_index, account, asset);
}

lx_err lx__balance_get(lx_engine *e, uint32_t *slot, uint64_t account, uint32_t asset)
{
    uint32_t s = lx__map_get(&e->bal_index, account, asset);
    if (s != LX__NIL) {
        *slot = s;
        return LX_OK;
    }
    if (e->nbals == e->cap_bals) {
        if (e->cap_bals >= UINT32_MAX / 2)
            return LX_ENOMEM;
        uint32_t cap = e->cap_bals ? e->cap_bals * 2 : 64;
        lx__balance *v = realloc(e->bals, cap * sizeof *v);
        if (!v)
            return LX_ENOMEM;
        e->bals = v;
        /* The capacity counts only once both arrays have it. */
        lx__balkey *k = realloc(e->bal_keys, cap * sizeof *k);
        if (!k)
            return LX_ENOMEM;
        e->bal_keys = k;
        e->cap_bals = cap;
    }
    lx_err err = lx__map_reserve(&e->bal_index, (size_t)e->nbals + 1);
    if (err)
        return err;
    s = e->nbals++;
    memset(&e->bals[s], 0, sizeof e->bals[s]);
    lx__balkey *k = &e->bal_keys[s];
    memset(k, 0, sizeof *k);
    k->account = account;
    k->asset = asset;
    lx__map_put(&e->bal_index, account, asset, s);
    *slot = s;
    return LX_OK;
}

lx_err lx__owner_get(lx_engine *e, uint32_t *owner, uint64_t account, uint32_t market)
{
    uint32_t w = lx__map_get(&e->owner_index, account, market);
    if (w != LX__NIL) {
        *owner = w;
        return LX_OK;
    }
    if (e->nowners == e->cap_owners) {
        if (e->cap_owners >= UINT32_MAX / 2)
            return LX_ENOMEM;
        uint32_t cap = e->cap_owners ? e->cap_owners * 2 : 64;
        lx__owner *v = realloc(e->owners, cap * sizeof *v);
        if (!v)
            return LX_ENOMEM;
        e->owners = v;
        e->cap_owners = cap;
    }
    lx_err err = lx__map_reserve(&e->owner_index, (size_t)e->nowners + 1);
    const lx__market *m = &e->markets[market];
    uint32_t bb = 0, bq = 0;
    /* A new balance slot is all zero: if the second one fails, the first
     * changes nothing that can be seen. */
    if (!err)
        err = lx__balance_get(e, &bb, account, m->base);
    if (!err)
        err = lx__balance_get(e, &bq, account, m->quote);
    if (err)
        return err;
    w = e->nowners++;
    lx__owner *o = &e->owners[w];
    o->account = account;
    o->market = market;
    o->bal_base = bb;
    o->bal_quote = bq;
    lx__map_put(&e->owner_index, account, market, w);
    *owner = w;
    return LX_OK;
}

static void transfer_reject(lx_events *evs, uint8_t type, const lx_transfer_cmd *c, uint32_t asset,
                            lx_reason r)
{
    lx_event *ev = lx__event_push(evs, LX_EV_REJECTED, type);
    ev->reason = (uint8_t)r;
    ev->market = asset;
    ev->account = c->account;
}

lx_err lx__transfer(lx_engine *e, lx_events *evs, uint8_t type, const lx_transfer_cmd *c)
{
    lx_err err = lx__events_reserve(evs, 1);
    if (err)
        return err;
    uint32_t asset = lx__asset_lookup(e, c->asset);
    if (asset == LX__NIL) {
        transfer_reject(evs, type, c, LX__NIL, LX_R_UNKNOWN_ASSET);
        return LX_OK;
    }
    if (c->amount == 0) {
        transfer_reject(evs, type, c, asset, LX_R_BAD_AMOUNT);
        return LX_OK;
    }
    lx__asset *as = &e->assets[asset];
    uint32_t slot;
    if (type == LX_CMD_DEPOSIT) {
        /* Bounding each asset's total bounds every balance and every credit
         * a fill can make, so matching never has to check for overflow. */
        if (c->amount > LX__AMOUNT_MAX - as->total) {
            transfer_reject(evs, type, c, asset, LX_R_OVERFLOW);
            return LX_OK;
        }
        err = lx__balance_get(e, &slot, c->account, asset);
        if (err)
            return err;
        e->bals[slot].available += c->amount;
        as->total += c->amount;
    } else {
        slot = lx__balance_lookup(e, c->account, asset);
        if (slot == LX__NIL || e->bals[slot].available < c->amount) {
            transfer_reject(evs, type, c, asset, LX_R_INSUFFICIENT_BALANCE);
            return LX_OK;
        }
        e->bals[slot].available -= c->amount;
        as->total -= c->amount;
    }
    lx_event *ev = lx__event_push(evs, LX_EV_BALANCE, type);
    ev->market = asset;
    ev->account = c->account;
    ev->u.balance.amount = c->amount;
    ev->u.balance.available = e->bals[slot].available;
    ev->u.balance.reserved = e->bals[slot].reserved;
    return LX_OK;
}

void lx__accounts_free(lx_engine *e)
{
    free(e->assets);
    free(e->bals);
    free(e->bal_keys);
    free(e->owners);
    lx__map_free(&e->bal_index);
    lx__map_free(&e->owner_index);
    e->assets = NULL;
    e->bals = NULL;
    e->bal_keys = NULL;
    e->owners = NULL;
    e->nassets = e->cap_assets = e->nbals = e->cap_bals = 0;
    e->nowners = e->cap_owners = 0;
}

static int cmp_bal(const lx__balkey *x, const lx__balkey *y)
{
    if (x->account != y->account)
        return x->account < y->account ? -1 : 1;
    if (x->asset != y->asset)
        return x->asset < y->asset ? -1 : 1;
    return 0;
}

/* Sorts slot indices by their balance's key. Heap sort: qsort would need
 * the balance array through a global. */
static void sift(const lx__balkey *keys, uint32_t *v, size_t i, size_t n)
{
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            return;
        if (c + 1 < n && cmp_bal(&keys[v[c + 1]], &keys[v[c]]) > 0)
            c++;
        if (cmp_bal(&keys[v[c]], &keys[v[i]]) <= 0)
            return;
        uint32_t t = v[c];
        v[c] = v[i];
        v[i] = t;
        i = c;
    }
}

static void sort_slots(const lx__balkey *keys, uint32_t *v, size_t n)
{
    for (size_t i = n / 2; i-- > 0;)
        sift(keys, v, i, n);
    for (size_t end = n; end-- > 1;) {
        uint32_t t = v[0];
        v[0] = v[end];
        v[end] = t;
        sift(keys, v, 0, end);
    }
}

lx_err lx__balances_sorted(const lx_engine *e, uint32_t **out, size_t *n)
{
    uint32_t *v = malloc(((size_t)e->nbals + 1) * sizeof *v);
    if (!v)
        return LX_ENOMEM;
    size_t k = 0;
    for (uint32_t i = 0; i < e->nbals; i++)
        if (e->bals[i].available || e->bals[i].reserved)
            v[k++] = i;
    sort_slots(e->bal_keys, v, k);
    *out = v;
    *n = k;
    return LX_OK;
}

lx_err lx_engine_balance(const lx_engine *e, lx_balance *out, uint64_t account, uint32_t asset)
{
    if (!e || !out)
        return LX_EINVAL;
    memset(out, 0, sizeof *out);
    out->account = account;
    out->asset = asset;
    uint32_t s = lx__balance_lookup(e, account, asset);
    if (s != LX__NIL) {
        out->available = e->bals[s].available;
        out->reserved = e->bals[s].reserved;
    }
    return LX_OK;
}

static int emit(const lx_engine *e, uint32_t slot, lx_balance_fn fn, void *arg)
{
    lx_balance out;
    memset(&out, 0, sizeof out);
    out.account = e->bal_keys[slot].account;
    out.asset = e->bal_keys[slot].asset;
    out.available = e->bals[slot].available;
    out.reserved = e->bals[slot].reserved;
    return fn(arg, &out);
}

int lx_engine_foreach_balance(const lx_engine *e, lx_balance_fn fn, void *arg)
{
    if (!e || !fn)
        return 0;
    uint32_t *v;
    size_t n;
    if (lx__balances_sorted(e, &v, &n) == LX_OK) {
        int rc = 0;
        for (size_t i = 0; i < n && rc == 0; i++)
            rc = emit(e, v[i], fn, arg);
        free(v);
        return rc;
    }
    /* Without memory for the order, find each next key by a scan. */
    uint32_t prev = LX__NIL;
    for (;;) {
        uint32_t next = LX__NIL;
        for (uint32_t i = 0; i < e->nbals; i++) {
            const lx__balkey *k = &e->bal_keys[i];
            if (!e->bals[i].available && !e->bals[i].reserved)
                continue;
            if (prev != LX__NIL && cmp_bal(k, &e->bal_keys[prev]) <= 0)
                continue;
            if (next == LX__NIL || cmp_bal(k, &e->bal_keys[next]) < 0)
                next = i;
        }
        if (next == LX__NIL)
            return 0;
        int rc = emit(e, next, fn, arg);
        if (rc)
            return rc;
        prev = next;
    }
}

size_t lx_engine_asset_count(const lx_engine *e)
{
    return e ? e->nassets : 0;
}

const char *lx_engine_asset_symbol(const lx_engine *e, uint32_t id)
{
    if (!e || id >= e->nassets)
        return NULL;
    return e->assets[id].symbol;
}

lx_err lx_engine_asset_find(const lx_engine *e, uint32_t *id, const char *symbol)
{
    if (!e || !id || !symbol)
        return LX_EINVAL;
    uint32_t a = lx__asset_lookup(e, symbol);
    if (a == LX__NIL)
        return LX_ENOTFOUND;
    *id = a;
    return LX_OK;
}
