/* The channel: its ID, and the deterministic choice of the settlement tx's
 * inputs from the channel's UTXOs, so every honest node builds the same tx. */
#include <stdlib.h>
#include <string.h>

#include "settlement_int.h"

#define CHANNEL_TAG "lxdex/channel/v1"

lx_err lx__channel_check(const lx_channel *ch)
{
    if (!ch || !ch->owners || ch->nowners == 0 || ch->nowners > LX_OWNERS_MAX ||
        ch->threshold == 0 || ch->threshold > ch->nowners)
        return LX_EINVAL;
    for (size_t i = 1; i < ch->nowners; i++)
        if (memcmp(ch->owners + (i - 1) * LX_XADDR_LEN, ch->owners + i * LX_XADDR_LEN,
                   LX_XADDR_LEN) >= 0)
            return LX_EINVAL;
    return LX_OK;
}

lx_err lx_channel_id(uint8_t out[LX_CHANNEL_ID_LEN], const lx_channel *ch, uint32_t network_id,
                     const uint8_t blockchain_id[32])
{
    if (!out || !blockchain_id)
        return LX_EINVAL;
    lx_err err = lx__channel_check(ch);
    if (err != LX_OK)
        return err;
    uint8_t buf[sizeof CHANNEL_TAG - 1 + 4 + 32 + 4 + 4 + LX_OWNERS_MAX * LX_XADDR_LEN];
    uint8_t *p = buf;
    memcpy(p, CHANNEL_TAG, sizeof CHANNEL_TAG - 1), p += sizeof CHANNEL_TAG - 1;
    lx__put_u32(p, network_id), p += 4;
    memcpy(p, blockchain_id, 32), p += 32;
    lx__put_u32(p, ch->threshold), p += 4;
    lx__put_u32(p, (uint32_t)ch->nowners), p += 4;
    memcpy(p, ch->owners, ch->nowners * LX_XADDR_LEN), p += ch->nowners * LX_XADDR_LEN;
    return lx_sha256(out, buf, (size_t)(p - buf));
}

/* ---- input selection ---- */

static int key_cmp(const lx_channel_utxo *a, const lx_channel_utxo *b)
{
    int c = memcmp(a->tx_id, b->tx_id, 32);
    if (c)
        return c;
    return (a->index > b->index) - (a->index < b->index);
}

static int same_utxo(const lx_channel_utxo *a, const lx_channel_utxo *b)
{
    return memcmp(a->asset_id, b->asset_id, LX_ASSET_ID_LEN) == 0 && a->amount == b->amount &&
           a->locktime == b->locktime && a->threshold == b->threshold && a->nowners == b->nowners &&
           (a->nowners == 0 || memcmp(a->owners, b->owners, a->nowners * LX_XADDR_LEN) == 0);
}

/* The channel can spend u now: exactly its owners and threshold, unlocked. */
static int spendable(const lx_channel *ch, const lx_channel_utxo *u, uint64_t now)
{
    return u->amount > 0 && u->threshold == ch->threshold && u->nowners == ch->nowners &&
           u->owners && memcmp(u->owners, ch->owners, ch->nowners * LX_XADDR_LEN) == 0 &&
           u->locktime <= now;
}

static int ptr_key_cmp(const void *a, const void *b)
{
    return key_cmp(*(const lx_channel_utxo *const *)a, *(const lx_channel_utxo *const *)b);
}

/* Largest first, then (tx_id, index). */
static int ptr_rank_cmp(const void *a, const void *b)
{
    const lx_channel_utxo *x = *(const lx_channel_utxo *const *)a;
    const lx_channel_utxo *y = *(const lx_channel_utxo *const *)b;
    if (x->amount != y->amount)
        return x->amount > y->amount ? -1 : 1;
    return key_cmp(x, y);
}

static int amount_cmp(const void *a, const void *b)
{
    return memcmp(((const lx_asset_amount *)a)->asset_id, ((const lx_asset_amount *)b)->asset_id,
                  LX_ASSET_ID_LEN);
}

static lx_asset_amount *find_asset(lx_asset_amount *v, size_t n, const uint8_t *asset_id)
{
    lx_asset_amount key;
    memcpy(key.asset_id, asset_id, LX_ASSET_ID_LEN);
    return bsearch(&key, v, n, sizeof *v, amount_cmp);
}

/* Sorts p[0..n) by (tx_id, index) and drops repeats; a repeat with other
 * contents is LX_EINVAL. */
static lx_err sort_unique(const lx_channel_utxo **p, size_t *n)
{
    qsort(p, *n, sizeof *p, ptr_key_cmp);
    size_t m = 0;
    for (size_t i = 0; i < *n; i++) {
        if (m > 0 && key_cmp(p[m - 1], p[i]) == 0) {
            if (!same_utxo(p[m - 1], p[i]))
                return LX_EINVAL;
            continue;
        }
        p[m++] = p[i];
    }
    *n = m;
    return LX_OK;
}

void lx_selection_free(lx_selection *s)
{
    if (!s)
        return;
    free(s->inputs);
    free(s->change);
    memset(s, 0, sizeof *s);
}

/* Sums the inputs per asset and subtracts the needs: the change list. */
static lx_err make_change(lx_selection *out, const lx_asset_amount *needs, size_t nneeds)
{
    lx_asset_amount *v = calloc(out->ninputs ? out->ninputs : 1, sizeof *v);
    if (!v)
        return LX_ENOMEM;
    for (size_t i = 0; i < out->ninputs; i++) {
        memcpy(v[i].asset_id, out->inputs[i].asset_id, LX_ASSET_ID_LEN);
        v[i].amount = out->inputs[i].amount;
    }
    qsort(v, out->ninputs, sizeof *v, amount_cmp);
    size_t m = 0;
    for (size_t i = 0; i < out->ninputs; i++) {
        if (m > 0 && memcmp(v[m - 1].asset_id, v[i].asset_id, LX_ASSET_ID_LEN) == 0) {
            if (v[i].amount > UINT64_MAX - v[m - 1].amount) {
                free(v);
                return LX_EOVERFLOW;
            }
            v[m - 1].amount += v[i].amount;
        } else {
            v[m++] = v[i];
        }
    }
    size_t k = 0;
    for (size_t i = 0; i < m; i++) {
        const lx_asset_amount *need = bsearch(&v[i], needs, nneeds, sizeof *needs, amount_cmp);
        uint64_t pay = need ? need->amount : 0;
        LX_ASSERT(v[i].amount >= pay);
        if (v[i].amount > pay) {
            v[k] = v[i];
            v[k++].amount -= pay;
        }
    }
    if (k == 0) {
        free(v);
        v = NULL;
    }
    out->change = v;
    out->nchange = k;
    return LX_OK;
}

lx_err lx_channel_select(lx_selection *out, const lx_channel *ch, const lx_select_options *opt,
                         const lx_channel_utxo *prev, size_t nprev, const lx_channel_utxo *utxos,
                         size_t nutxos, const lx_asset_amount *needs, size_t nneeds)
{
    if (!out)
        return LX_EINVAL;
    memset(out, 0, sizeof *out);
    if ((!prev && nprev) || (!utxos && nutxos) || (!needs && nneeds) || nprev > SIZE_MAX / 64 ||
        nutxos > SIZE_MAX / 64)
        return LX_EINVAL;
    lx_err err = lx__channel_check(ch);
    if (err != LX_OK)
        return err;
    lx_select_options o = {0, 0, 0};
    if (opt)
        o = *opt;
    size_t max_inputs = o.max_inputs ? o.max_inputs : LX_SELECT_INPUTS_MAX;

    /* The needs, sorted, each asset once; covered[i] counts toward need i. */
    lx_asset_amount *need = calloc(nneeds ? nneeds : 1, sizeof *need);
    uint64_t *covered = calloc(nneeds ? nneeds : 1, sizeof *covered);
    const lx_channel_utxo **all = malloc((nprev + nutxos ? nprev + nutxos : 1) * sizeof *all);
    const lx_channel_utxo **picked = malloc((nprev + nutxos ? nprev + nutxos : 1) * sizeof *all);
    if (!need || !covered || !all || !picked) {
        err = LX_ENOMEM;
        goto done;
    }
    if (nneeds)
        memcpy(need, needs, nneeds * sizeof *need);
    qsort(need, nneeds, sizeof *need, amount_cmp);
    for (size_t i = 1; i < nneeds; i++)
        if (memcmp(need[i - 1].asset_id, need[i].asset_id, LX_ASSET_ID_LEN) == 0) {
            err = LX_EINVAL;
            goto done;
        }

    /* (1) The previous settlement's change, always. */
    size_t npicked = 0;
    for (size_t i = 0; i < nprev; i++) {
        if (!spendable(ch, &prev[i], o.now)) {
            err = LX_EINVAL;
            goto done;
        }
        picked[npicked++] = &prev[i];
    }
    if ((err = sort_unique(picked, &npicked)) != LX_OK)
        goto done;

    /* Everything known, once each, to spot repeats with other contents and
     * to keep the rest apart from what is already taken. */
    size_t nall = 0;
    for (size_t i = 0; i < nprev; i++)
        all[nall++] = &prev[i];
    for (size_t i = 0; i < nutxos; i++)
        all[nall++] = &utxos[i];
    if ((err = sort_unique(all, &nall)) != LX_OK)
        goto done;
    size_t nrest = 0;
    for (size_t i = 0, j = 0; i < nall; i++) {
        while (j < npicked && key_cmp(picked[j], all[i]) < 0)
            j++;
        if (j < npicked && key_cmp(picked[j], all[i]) == 0)
            continue;
        if (spendable(ch, all[i], o.now))
            all[nrest++] = all[i];
    }
    /* all[0..nrest) is now the spendable rest in (tx_id, index) order. */
    for (size_t i = 0; i < npicked; i++) {
        lx_asset_amount *n = find_asset(need, nneeds, picked[i]->asset_id);
        if (n) {
            size_t k = (size_t)(n - need);
            covered[k] = picked[i]->amount > UINT64_MAX - covered[k]
                             ? UINT64_MAX
                             : covered[k] + picked[i]->amount;
        }
    }

    /* (2) Largest first, while the asset is short. */
    const lx_channel_utxo **ranked = picked + npicked;
    memcpy(ranked, all, nrest * sizeof *ranked);
    qsort(ranked, nrest, sizeof *ranked, ptr_rank_cmp);
    size_t ntaken = 0;
    for (size_t i = 0; i < nrest; i++) {
        lx_asset_amount *n = find_asset(need, nneeds, ranked[i]->asset_id);
        if (!n)
            continue;
        size_t k = (size_t)(n - need);
        if (covered[k] >= n->amount)
            continue;
        covered[k] = ranked[i]->amount > UINT64_MAX - covered[k] ? UINT64_MAX
                                                                 : covered[k] + ranked[i]->amount;
        picked[npicked + ntaken++] = ranked[i];
    }
    for (size_t k = 0; k < nneeds; k++)
        if (covered[k] < need[k].amount) {
            err = LX_ESTATE;
            goto done;
        }
    npicked += ntaken;
    if (npicked > max_inputs) {
        err = LX_ETOOBIG;
        goto done;
    }

    /* (3) Sweep: fold up to `sweep` more into the change, in key order. */
    qsort(picked, npicked, sizeof *picked, ptr_key_cmp);
    size_t room = max_inputs - npicked, extra = o.sweep < room ? o.sweep : room;
    size_t base = npicked;
    for (size_t i = 0, j = 0; i < nrest && extra; i++) {
        while (j < base && key_cmp(picked[j], all[i]) < 0)
            j++;
        if (j < base && key_cmp(picked[j], all[i]) == 0)
            continue;
        picked[npicked++] = all[i];
        extra--;
    }
    qsort(picked, npicked, sizeof *picked, ptr_key_cmp);

    out->inputs = malloc(npicked * sizeof *out->inputs);
    if (!out->inputs) {
        err = LX_ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < npicked; i++)
        out->inputs[i] = *picked[i];
    out->ninputs = npicked;
    err = make_change(out, need, nneeds);

done:
    if (err != LX_OK)
        lx_selection_free(out);
    free(need);
    free(covered);
    free(all);
    free(picked);
    return err;
}
