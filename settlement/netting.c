/* Net balance changes per (account, asset): the accumulator the batch
 * builder feeds, the net-change leaf encoding and root, and the check that a
 * list of changes conserves value. */
#include <stdlib.h>
#include <string.h>

#include "settlement_int.h"

/* ---- the accumulator ---- */

/* The account alone picks the first slot: an account's assets then sit in
 * neighbouring slots, so the two or three a fill touches share cache lines. */
static size_t slot_of(uint64_t account, uint32_t asset, size_t mask)
{
    (void)asset;
    uint64_t x = account * 0x9e3779b97f4a7c15u;
    x ^= x >> 31;
    x *= 0xbf58476d1ce4e5b9u;
    x ^= x >> 29;
    return (size_t)x & mask;
}

static lx_err rehash(lx__netting *nt, size_t cap)
{
    lx__net_slot *s = calloc(cap, sizeof *s);
    if (!s)
        return LX_ENOMEM;
    for (size_t i = 0; i < nt->cap; i++) {
        const lx__net_slot *o = &nt->slot[i];
        if (!o->used)
            continue;
        size_t j = slot_of(o->account, o->asset, cap - 1);
        while (s[j].used)
            j = (j + 1) & (cap - 1);
        s[j] = *o;
    }
    free(nt->slot);
    nt->slot = s;
    nt->cap = cap;
    return LX_OK;
}

lx_err lx__netting_reserve(lx__netting *nt, size_t more)
{
    /* Keep the load at or below one half so probes stay short. */
    if (nt->n + more <= nt->cap / 2)
        return LX_OK;
    size_t cap = nt->cap ? nt->cap : 1024;
    while (nt->n + more > cap / 2) {
        if (cap > SIZE_MAX / 2 / sizeof(lx__net_slot))
            return LX_ENOMEM;
        cap *= 2;
    }
    return rehash(nt, cap);
}

void lx__netting_add(lx__netting *nt, uint64_t account, uint32_t asset, __int128 d)
{
    LX_ASSERT(nt->n < nt->cap);
    size_t mask = nt->cap - 1, j = slot_of(account, asset, mask);
    for (;;) {
        lx__net_slot *s = &nt->slot[j];
        if (!s->used) {
            LX_ASSERT(nt->n + 1 <= nt->cap / 2);
            s->used = 1;
            s->account = account;
            s->asset = asset;
            s->delta = d;
            nt->n++;
            return;
        }
        if (s->account == account && s->asset == asset) {
            s->delta += d;
            return;
        }
        j = (j + 1) & mask;
    }
}

void lx__netting_add2(lx__netting *nt, uint64_t account, uint32_t asset_a, __int128 da,
                      uint32_t asset_b, __int128 db)
{
    LX_ASSERT(asset_a != asset_b && nt->n + 2 <= nt->cap / 2);
    /* Both keys start at the same slot: one walk finds or places both. */
    size_t mask = nt->cap - 1, j = slot_of(account, asset_a, mask);
    int need_a = 1, need_b = 1;
    while (need_a || need_b) {
        lx__net_slot *s = &nt->slot[j];
        if (!s->used) {
            s->used = 1;
            s->account = account;
            s->asset = need_a ? asset_a : asset_b;
            s->delta = need_a ? da : db;
            nt->n++;
            if (need_a)
                need_a = 0;
            else
                need_b = 0;
        } else if (s->account == account && s->asset == asset_a && need_a) {
            s->delta += da;
            need_a = 0;
        } else if (s->account == account && s->asset == asset_b && need_b) {
            s->delta += db;
            need_b = 0;
        }
        j = (j + 1) & mask;
    }
}

void lx__netting_clear(lx__netting *nt)
{
    if (nt->slot)
        memset(nt->slot, 0, nt->cap * sizeof *nt->slot);
    nt->n = 0;
}

void lx__netting_free(lx__netting *nt)
{
    free(nt->slot);
    memset(nt, 0, sizeof *nt);
}

/* ---- the net-change list ---- */

int lx__net_cmp(const lx_net_change *a, const lx_net_change *b)
{
    if (a->account != b->account)
        return a->account < b->account ? -1 : 1;
    return memcmp(a->asset_id, b->asset_id, LX_ASSET_ID_LEN);
}

lx_err lx_net_change_encode(uint8_t out[LX_NET_LEAF_LEN], const lx_net_change *c)
{
    if (!out || !c)
        return LX_EINVAL;
    lx__put_u64(out, c->account);
    memcpy(out + 8, c->asset_id, LX_ASSET_ID_LEN);
    lx__put_u64(out + 40, (uint64_t)c->delta);
    return LX_OK;
}

static lx_err check_canonical(const lx_net_change *changes, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (changes[i].delta == 0)
            return LX_ECANONICAL;
        if (i > 0 && lx__net_cmp(&changes[i - 1], &changes[i]) >= 0)
            return LX_ECANONICAL;
    }
    return LX_OK;
}

lx_err lx_net_root(uint8_t root[LX_SHA256_LEN], const lx_net_change *changes, size_t n)
{
    if (!root || (!changes && n))
        return LX_EINVAL;
    lx_err err = check_canonical(changes, n);
    if (err != LX_OK)
        return err;
    if (n > SIZE_MAX / LX_SHA256_LEN)
        return LX_ENOMEM;
    uint8_t *leaves = n ? malloc(n * LX_SHA256_LEN) : NULL;
    if (n && !leaves)
        return LX_ENOMEM;
    lx_sha256_ctx *ctx = NULL;
    err = lx_sha256_new(&ctx);
    for (size_t i = 0; err == LX_OK && i < n; i++) {
        uint8_t leaf[LX_NET_LEAF_LEN];
        lx_net_change_encode(leaf, &changes[i]);
        err = lx__merkle_hash(ctx, leaves + i * LX_SHA256_LEN, 0, leaf, sizeof leaf);
    }
    lx_sha256_free(&ctx);
    if (err == LX_OK)
        err = lx_merkle_root(root, leaves, n);
    free(leaves);
    return err;
}

/* One signed amount of one asset, for summing per asset after a sort. */
typedef struct flow {
    const uint8_t *asset_id;
    __int128 amount;
} flow;

static int flow_cmp(const void *a, const void *b)
{
    return memcmp(((const flow *)a)->asset_id, ((const flow *)b)->asset_id, LX_ASSET_ID_LEN);
}

lx_err lx_net_check(uint8_t bad_asset[LX_ASSET_ID_LEN], const lx_net_change *changes, size_t n,
                    const lx_transfer *deposits, size_t ndeposits, const lx_transfer *withdrawals,
                    size_t nwithdrawals)
{
    if ((!changes && n) || (!deposits && ndeposits) || (!withdrawals && nwithdrawals))
        return LX_EINVAL;
    lx_err err = check_canonical(changes, n);
    if (err != LX_OK)
        return err;
    /* Every asset must end at zero: sum(deltas) - deposits + withdrawals. */
    size_t total = n + ndeposits + nwithdrawals;
    if (total == 0)
        return LX_OK;
    if (total < n || total > SIZE_MAX / sizeof(flow))
        return LX_ENOMEM;
    flow *f = malloc(total * sizeof *f);
    if (!f)
        return LX_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        f[k++] = (flow){changes[i].asset_id, changes[i].delta};
    for (size_t i = 0; i < ndeposits; i++)
        f[k++] = (flow){deposits[i].asset_id, -(__int128)deposits[i].amount};
    for (size_t i = 0; i < nwithdrawals; i++)
        f[k++] = (flow){withdrawals[i].asset_id, (__int128)withdrawals[i].amount};
    qsort(f, total, sizeof *f, flow_cmp);
    err = LX_OK;
    for (size_t i = 0; i < total && err == LX_OK;) {
        size_t j = i;
        __int128 sum = 0;
        while (j < total && memcmp(f[j].asset_id, f[i].asset_id, LX_ASSET_ID_LEN) == 0)
            sum += f[j++].amount;
        if (sum != 0) {
            if (bad_asset)
                memcpy(bad_asset, f[i].asset_id, LX_ASSET_ID_LEN);
            err = LX_ECORRUPT;
        }
        i = j;
    }
    free(f);
    return err;
}
